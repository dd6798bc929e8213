//! The rule table and the rules a token's shape decides.

use std::sync::LazyLock;

use regex::Regex;

use super::{Finding, Home, Rule, words};

const STARS: &str = "****";

/// Every rule, in the order findings are reported. Ids are stable: tests and audit events use
/// them.
pub static RULES: &[Rule] = &[
    Rule {
        id: "aws-access-key-id",
        kind: "an AWS access key id",
        description: "AKIA/ASIA/ABIA/ACCA followed by 16 upper-case letters or digits",
        home: Home::SecretsManager,
    },
    Rule {
        id: "aws-secret-access-key",
        kind: "an AWS secret access key",
        description: "40 base64 characters next to an access key id or after secret/key words, or random enough on their own",
        home: Home::SecretsManager,
    },
    Rule {
        id: "aws-session-token",
        kind: "an AWS session token",
        description: "a temporary-credential session token (FwoGZXIvYXdz…, IQoJb3JpZ2lu…)",
        home: Home::SecretsManager,
    },
    Rule {
        id: "github-token",
        kind: "a GitHub token",
        description: "ghp_/gho_/ghu_/ghs_/ghr_ tokens and github_pat_ fine-grained tokens",
        home: Home::SecretsManager,
    },
    Rule {
        id: "gitlab-token",
        kind: "a GitLab token",
        description: "glpat-/gldt-/glrt-/glptt-/glcbt-/glsoat- tokens",
        home: Home::SecretsManager,
    },
    Rule {
        id: "slack-token",
        kind: "a Slack token",
        description: "xoxa-/xoxb-/xoxp-/xoxr-/xoxs-/xoxe- tokens and xapp- app tokens",
        home: Home::SecretsManager,
    },
    Rule {
        id: "slack-webhook",
        kind: "a Slack webhook URL",
        description: "https://hooks.slack.com/services|workflows|triggers/…",
        home: Home::ParameterStore,
    },
    Rule {
        id: "stripe-key",
        kind: "a Stripe secret key",
        description: "sk_live_/sk_test_/rk_live_/rk_test_ keys",
        home: Home::SecretsManager,
    },
    Rule {
        id: "google-api-key",
        kind: "a Google API key",
        description: "AIza followed by 35 characters",
        home: Home::ParameterStore,
    },
    Rule {
        id: "private-key",
        kind: "a private key",
        description: "a PEM -----BEGIN … PRIVATE KEY----- block (to its END line, or the end of the text)",
        home: Home::SecretsManager,
    },
    Rule {
        id: "jwt",
        kind: "a JSON Web Token",
        description: "eyJ….eyJ….signature",
        home: Home::SecretsManager,
    },
    Rule {
        id: "url-credentials",
        kind: "a password in a URL",
        description: "scheme://user:password@host",
        home: Home::SecretsManager,
    },
    Rule {
        id: "ai-api-key",
        kind: "an AI provider API key",
        description: "sk-ant-…, sk-proj-…, sk-svcacct-…, sk-admin-… keys and legacy sk- keys of 48 letters and digits",
        home: Home::SecretsManager,
    },
    Rule {
        id: "package-registry-token",
        kind: "a package registry token",
        description: "npm_ and pypi-AgEIcHlwaS5vcmc tokens",
        home: Home::SecretsManager,
    },
    Rule {
        id: "sendgrid-key",
        kind: "a SendGrid API key",
        description: "SG.<22>.<43>",
        home: Home::SecretsManager,
    },
    Rule {
        id: "vault-token",
        kind: "a HashiCorp Vault token",
        description: "hvs./hvb./hvr. tokens",
        home: Home::SecretsManager,
    },
    Rule {
        id: "authorization-header",
        kind: "an Authorization header credential",
        description: "Bearer <token>, Authorization: Basic <base64>",
        home: Home::SecretsManager,
    },
    Rule {
        id: "password",
        kind: "a password",
        description: "the value after password/passwd/pwd/pw/passphrase/passcode, in any phrasing",
        home: Home::SecretsManager,
    },
    Rule {
        id: "secret-value",
        kind: "a secret or token value",
        description: "the value assigned to secret/token/api key/client secret/private key words, or a random token after them",
        home: Home::SecretsManager,
    },
];

pub(super) fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no secrets rule {id}"))
}

/// How a shape's match is masked.
enum Keep {
    /// Keep capture group 1 (a public prefix), then `****`.
    Prefix,
    /// Keep capture group 1 and replace the rest by as many stars (an access key id keeps its
    /// length: `AKIA****************`).
    PrefixSameLength,
    /// Replace capture group 1 only (the password of `user:password@`); show the whole match.
    GroupOnly,
    /// Replace the whole match by this text.
    Fixed(&'static str),
}

struct Shape {
    rule: &'static str,
    re: Regex,
    keep: Keep,
}

static SHAPES: LazyLock<Vec<Shape>> = LazyLock::new(|| {
    let shape = |rule, re: &str, keep| Shape {
        rule,
        re: Regex::new(re).expect("secrets shape regex"),
        keep,
    };
    vec![
        shape(
            "private-key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)",
            Keep::Fixed("-----BEGIN PRIVATE KEY-----****-----END PRIVATE KEY-----"),
        ),
        shape(
            "aws-access-key-id",
            r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
            Keep::PrefixSameLength,
        ),
        shape(
            "aws-session-token",
            r"\b(FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9/+=]{20,}",
            Keep::Fixed(STARS),
        ),
        shape(
            "github-token",
            r"\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}",
            Keep::Prefix,
        ),
        shape(
            "gitlab-token",
            r"\b(glpat-|gldt-|glrt-|glptt-|glcbt-|glsoat-)[A-Za-z0-9_\-]{20,}",
            Keep::Prefix,
        ),
        shape(
            "slack-token",
            r"\b(xox[abprse]-|xapp-)[A-Za-z0-9\-]{10,}",
            Keep::Prefix,
        ),
        shape(
            "slack-webhook",
            r"(?i)(https?://hooks\.slack\.com/)(?:services|workflows|triggers)/[A-Za-z0-9_/\-]+",
            Keep::Prefix,
        ),
        shape(
            "stripe-key",
            r"\b([sr]k_(?:live|test)_)[A-Za-z0-9]{16,}",
            Keep::Prefix,
        ),
        shape(
            "google-api-key",
            r"\b(AIza)[0-9A-Za-z_\-]{35}",
            Keep::Prefix,
        ),
        shape(
            "jwt",
            r"\b(eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
            Keep::Prefix,
        ),
        shape(
            "ai-api-key",
            r"\b(sk-ant-|sk-proj-|sk-svcacct-|sk-admin-)[A-Za-z0-9_\-]{32,}|\b(sk-)[A-Za-z0-9]{48}\b",
            Keep::Prefix,
        ),
        shape(
            "package-registry-token",
            r"\b(npm_|pypi-)(?:[A-Za-z0-9]{36}\b|AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{20,})",
            Keep::Prefix,
        ),
        shape(
            "sendgrid-key",
            r"\b(SG\.)[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}",
            Keep::Prefix,
        ),
        shape(
            "vault-token",
            r"\b(hv[sbr]\.)[A-Za-z0-9_\-]{24,}",
            Keep::Prefix,
        ),
        shape(
            "authorization-header",
            r"(?i)\b(bearer\s+|authorization:\s*basic\s+)[A-Za-z0-9\-._~+/]{12,}=*",
            Keep::Prefix,
        ),
        // scheme://user:password@host; the password part is group 1.
        shape(
            "url-credentials",
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@]+:([^\s/@]+)@",
            Keep::GroupOnly,
        ),
    ]
});

/// Findings decided by a token's shape alone.
pub(super) fn shapes(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in SHAPES.iter() {
        for c in s.re.captures_iter(text) {
            let whole = c.get(0).expect("group 0");
            let rule = rule(s.rule);
            // The first group that took part (a shape may offer prefixes in alternatives).
            let group = c.iter().skip(1).flatten().next();
            let (span, masked, shown) = match (&s.keep, group) {
                (Keep::Prefix, Some(g)) => {
                    let m = format!("{}{STARS}", g.as_str());
                    (whole.range(), m.clone(), m)
                }
                (Keep::PrefixSameLength, Some(g)) => {
                    let m = format!("{}{}", g.as_str(), "*".repeat(whole.len() - g.len()));
                    (whole.range(), m.clone(), m)
                }
                (Keep::GroupOnly, Some(g)) => {
                    // `user:password@host` in documentation, `user:$PASS@host` in scripts.
                    if words::is_reference(g.as_str())
                        || words::all_stars(g.as_str())
                        || words::ordinary(g.as_str())
                        || g.as_str().chars().all(|c| c.is_ascii_digit() || c == '.')
                    {
                        continue;
                    }
                    let shown = format!(
                        "{}{STARS}{}",
                        &text[whole.start()..g.start()],
                        &text[g.end()..whole.end()]
                    );
                    (g.range(), STARS.to_string(), shown)
                }
                (Keep::Fixed(m), _) => (whole.range(), m.to_string(), m.to_string()),
                (_, None) => (whole.range(), STARS.to_string(), STARS.to_string()),
            };
            out.push(Finding {
                rule,
                span,
                masked,
                shown,
            });
        }
    }
    out
}

static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9/+]+=*").expect("base64 run regex"));
static KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b").expect("key id regex"));
/// Words that, just before a 40-character string, say it is a secret key.
static SECRET_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(secret|key|aws_secret_access_key|credential|creds)\W{0,6}(\w+\W{1,6}){0,2}$")
        .expect("secret context regex")
});

/// 40-character AWS secret access keys: flagged next to an access key id or after a secret or
/// key word when they mix character classes, and on their own when they look random.
pub(super) fn aws_secret_keys(text: &str) -> Vec<Finding> {
    let has_key_id = KEY_ID.is_match(text);
    let mut out = Vec::new();
    for m in BASE64_RUN.find_iter(text) {
        let run = m.as_str().trim_end_matches('=');
        if run.len() != 40 {
            continue;
        }
        let mut from = m.start().saturating_sub(48);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let context = has_key_id || SECRET_CONTEXT.is_match(&text[from..m.start()]);
        let flagged = if context {
            words::classes(run) >= 2 && !words::is_hex(run) && !words::name_like(run)
        } else {
            words::random_mix(run)
        };
        if flagged {
            out.push(Finding {
                rule: rule("aws-secret-access-key"),
                span: m.start()..m.start() + run.len(),
                masked: STARS.into(),
                shown: STARS.into(),
            });
        }
    }
    out
}
