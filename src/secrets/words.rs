//! What a candidate value looks like: an ordinary word, a reference to where a secret is kept,
//! a name, or a random token.

/// Words that follow "password", "secret", "token" and the like in ordinary requests and
/// configuration ("reset the password policy", "secret in secrets manager", `= true`). Never a
/// credential after those words.
#[rustfmt::skip]
const ORDINARY: &[&str] = &[
    // Function words.
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "my", "our", "your", "their",
    "his", "her", "for", "of", "in", "on", "at", "to", "from", "by", "with", "without", "into",
    "onto", "and", "or", "but", "not", "no", "nor", "is", "are", "was", "were", "be", "been",
    "as", "if", "then", "than", "so", "do", "does", "did", "has", "have", "had", "will", "would",
    "should", "can", "could", "may", "might", "must", "here", "there", "where", "when", "what",
    "which", "who", "whose", "why", "how", "all", "any", "each", "every", "some", "none", "both",
    "either", "only", "also", "just", "now", "again", "still", "yet", "ever", "never", "very",
    "more", "most", "less", "least", "same", "other", "per", "via", "please", "pls", "too",
    // About passwords and secrets rather than one.
    "policy", "policies", "rotation", "rotate", "length", "minimum", "maximum", "min", "max",
    "age", "expiry", "expiration", "expire", "expires", "reset", "resets", "change", "changes",
    "update", "complexity", "requirement", "requirements", "require", "requires", "rule", "rules",
    "strength", "strong", "weak", "login", "logins", "auth", "authentication", "authorization",
    "based", "protected", "protection", "manager", "managers", "store", "stores", "storage",
    "vault", "vaults", "name", "names", "id", "ids", "arn", "arns", "value", "values", "field",
    "fields", "file", "files", "key", "keys", "pair", "pairs", "keypair", "secret", "secrets",
    "token", "tokens", "password", "passwords", "credential", "credentials", "creds", "scan",
    "check", "checks", "audit", "leak", "leaks", "usage", "use", "set", "setting", "settings",
    "config", "configuration", "enabled", "disabled", "enable", "disable", "off", "true", "false",
    "yes", "null", "nil", "empty", "blank", "missing", "invalid", "valid", "wrong", "correct",
    "new", "old", "current", "previous", "last", "first", "next", "different", "default",
    "defaults", "random", "manual", "managed", "automatic", "hygiene", "reuse", "history",
    "prompt", "entry", "entries", "list", "show", "get", "describe", "create", "delete", "remove",
    "add", "sensitive", "hidden", "masked", "redacted", "unknown", "access", "ssh", "sudo",
    "root", "admin", "user", "users", "account", "accounts", "db", "database", "master",
    "service", "services", "app", "application", "iam", "mfa", "totp", "otp", "kms", "ssm",
    "parameter", "parameters", "secretsmanager", "securestring", "lifetime", "ttl", "days", "day",
    "hours", "weeks", "months", "chars", "characters", "digits", "symbols", "everywhere",
    "whatever", "something", "required", "optional", "free",
    // Irregular participles: "with the password kept in secrets manager".
    "kept", "held", "sent", "given", "made", "known", "shown", "written", "taken", "chosen",
    "built", "put", "left", "lost", "found", "read", "provided", "supplied", "saved", "stored",
    // Adjectives: "the password is incorrect".
    "incorrect", "right", "ok", "okay", "fine", "bad", "good", "long", "short", "simple",
    "complex", "unique", "common", "public", "private", "secure", "insecure", "temporary",
    "permanent", "expired", "rotated", "compromised", "leaked", "exposed", "shared",
];

pub fn ordinary(v: &str) -> bool {
    let v = v.to_ascii_lowercase();
    ORDINARY.contains(&v.as_str())
}

/// A value that names where a secret is kept instead of holding it: `var.db_password`,
/// `${DB_PASSWORD}`, `{{ vault_pw }}`, `<password>`, an ARN.
pub fn is_reference(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    v.starts_with('$')
        || v.starts_with("{{")
        || (v.starts_with('<') && v.ends_with('>'))
        || (v.starts_with('%') && v.ends_with('%') && v.len() > 2)
        || lower.starts_with("arn:")
        || ["var.", "local.", "data.", "module.", "each.", "self."]
            .iter()
            .any(|p| lower.starts_with(p))
        || (lower.starts_with("aws_") && lower.contains('.'))
}

pub fn all_stars(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c == '*')
}

/// How many of lower case, upper case, digits and other characters `v` mixes.
pub fn classes(v: &str) -> usize {
    let lower = v.chars().any(|c| c.is_ascii_lowercase());
    let upper = v.chars().any(|c| c.is_ascii_uppercase());
    let digit = v.chars().any(|c| c.is_ascii_digit());
    let other = v.chars().any(|c| !c.is_ascii_alphanumeric());
    [lower, upper, digit, other].iter().filter(|x| **x).count()
}

pub fn is_hex(v: &str) -> bool {
    v.chars().all(|c| c.is_ascii_hexdigit())
        && (v.chars().all(|c| !c.is_ascii_uppercase())
            || v.chars().all(|c| !c.is_ascii_lowercase()))
}

/// Made of words and numbers (`db-password-2024`, `prod/db/Main`, `MFA`): how people name
/// things, unlike `Hunter3x` or `P@ssw0rd`, which mix letters with digits or symbols inside a
/// part.
pub fn name_like(v: &str) -> bool {
    v.split(['-', '_', '.', '/', ':']).all(|part| {
        part.is_empty()
            || part.chars().all(|c| c.is_ascii_digit())
            || part.chars().all(|c| c.is_ascii_lowercase())
            || part.chars().all(|c| c.is_ascii_uppercase())
            || (part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && part.chars().skip(1).all(|c| c.is_ascii_lowercase()))
    })
}

/// Shannon entropy in bits per character.
pub fn entropy(v: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in v.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = v.chars().count() as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Random-looking: mixes upper case, lower case and digits inside its parts, with high entropy.
pub fn random_mix(v: &str) -> bool {
    v.chars().any(|c| c.is_ascii_uppercase())
        && v.chars().any(|c| c.is_ascii_lowercase())
        && v.chars().any(|c| c.is_ascii_digit())
        && !name_like(v)
        && entropy(v) >= 3.5
}

/// A long token no one would choose as a name: 20 characters or more, random-looking, and no
/// path separators (secret names such as `prod/db/MainPassword2024` are paths).
pub fn random_token(v: &str) -> bool {
    v.chars().count() >= 20 && !v.contains('/') && random_mix(v)
}

/// A lower-case English word by its ending ("expired", "rotating", "automatically"), as in
/// "the password is expired".
fn english(v: &str) -> bool {
    v.chars().all(|c| c.is_ascii_lowercase())
        && [
            "ed", "ing", "ly", "tion", "sion", "ment", "ness", "ity", "able", "ible", "ful",
            "less", "ous", "ive", "ize", "ise", "ies",
        ]
        .iter()
        .any(|s| v.len() > s.len() + 2 && v.ends_with(s))
}

/// How strongly the words around a value say it is the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// `pw=X`, `password: X`.
    Assigned,
    /// "password is X", "with password X", "the password should be X".
    Stated,
    /// "password for bob to X", "X is the password": said, but further away.
    Near,
    /// "password X".
    Adjacent,
}

/// Whether `v`, found after a password word with this strength, is a password.
pub fn password_value(v: &str, s: Strength) -> bool {
    if !candidate(v) {
        return false;
    }
    match s {
        Strength::Assigned => true,
        Strength::Stated => !english(v),
        // Said further away or without a verb: only what looks like a password (not "v2",
        // "1h" or "t3.micro").
        Strength::Near => v.len() >= 6 && !name_like(v),
        Strength::Adjacent => {
            v.len() >= 6 && (!name_like(v) || v.chars().all(|c| c.is_ascii_digit()))
        }
    }
}

/// Whether `v`, found after a secret or token word with this strength, is the secret (not a
/// secret's name, which those words are usually followed by).
pub fn secret_value(v: &str, s: Strength) -> bool {
    if !candidate(v) {
        return false;
    }
    match s {
        // `"secret": "staging/db-password"` names a secret; `secret=letmein` is one.
        Strength::Assigned => !(name_like(v) && v.contains(['/', '-', '_'])),
        Strength::Stated => !name_like(v),
        Strength::Near => v.len() >= 6 && !name_like(v),
        Strength::Adjacent => random_token(v),
    }
}

fn candidate(v: &str) -> bool {
    // Text masked before holds `****`: never a credential again.
    v.chars().count() >= 3 && !ordinary(v) && !is_reference(v) && !v.contains("****")
}
