//! Credential detection: one maintained rule set that decides what counts as a credential in
//! text. Requests holding one are refused before anything is stored ([`check`]); logs and other
//! stored text are masked with the same rules ([`crate::redact::redact`]).
//!
//! Three kinds of rule, applied in this order (a later finding never overlaps an earlier one):
//! - shapes: a token whose form alone says what it is (`AKIA…`, `ghp_…`, PEM blocks, JWTs);
//! - a 40-character AWS secret access key, flagged by its context or its randomness;
//! - phrases: the value after a word such as password, pw, passphrase, secret, token or api key,
//!   in any phrasing ("password Hunter3x", "the db password should be X", "pw=X",
//!   "with password X", "X is the password").
//!
//! A [`Finding`] never holds the value it found: only where it is and its masked form.

mod phrases;
mod rules;
mod words;

use std::fmt;
use std::ops::Range;

pub use rules::RULES;

/// Where a credential belongs instead of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// AWS Secrets Manager: passwords, keys and tokens that get rotated.
    SecretsManager,
    /// SSM Parameter Store as a SecureString: static configuration secrets (webhook URLs,
    /// browser API keys).
    ParameterStore,
}

impl Home {
    pub fn name(self) -> &'static str {
        match self {
            Home::SecretsManager => "AWS Secrets Manager",
            Home::ParameterStore => "SSM Parameter Store (SecureString)",
        }
    }

    /// How to put a value there, as a command the user can adapt.
    pub fn how(self) -> &'static str {
        match self {
            Home::SecretsManager => {
                "store it with `aws secretsmanager create-secret --name NAME --secret-string file://FILE` and refer to it by name"
            }
            Home::ParameterStore => {
                "store it with `aws ssm put-parameter --name NAME --type SecureString --value file://FILE` and refer to it by name"
            }
        }
    }
}

/// One rule of the set: what it finds and where that belongs.
#[derive(Debug)]
pub struct Rule {
    /// Stable identifier (`aws-access-key-id`, `password`, ...).
    pub id: &'static str,
    /// What the person is told was found ("an AWS access key id").
    pub kind: &'static str,
    /// What the rule matches.
    pub description: &'static str,
    pub home: Home,
}

/// A credential found in text. Holds no part of the secret beyond a public prefix.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    /// Bytes of the text to replace when masking.
    pub span: Range<usize>,
    /// What replaces `span`.
    pub masked: String,
    /// The finding as shown to the person, with the word that led to it ("pw=****").
    pub shown: String,
}

/// Every credential in `text`, in order of position, none overlapping.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    let add = |f: Finding, found: &mut Vec<Finding>| {
        let already_masked = text[f.span.clone()] == f.masked;
        let overlaps = found
            .iter()
            .any(|g| g.span.start < f.span.end && f.span.start < g.span.end);
        if !already_masked && !overlaps && !f.span.is_empty() {
            found.push(f);
        }
    };
    for f in rules::shapes(text) {
        add(f, &mut found);
    }
    for f in rules::aws_secret_keys(text) {
        add(f, &mut found);
    }
    for f in phrases::scan(text) {
        add(f, &mut found);
    }
    found.sort_by_key(|f| f.span.start);
    found
}

/// `text` with every finding replaced by its masked form. Idempotent.
pub fn mask(text: &str) -> String {
    let findings = scan(text);
    if findings.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in &findings {
        out.push_str(&text[at..f.span.start]);
        out.push_str(&f.masked);
        at = f.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether a single word (a name the parser is about to take, a tag value) is itself a
/// credential: its shape says so, or it is a long random token no one would choose as a name.
pub fn is_credential(word: &str) -> bool {
    !scan(word).is_empty() || words::random_token(word)
}

/// Why a request holding credentials is refused: what was found (masked) and where it belongs.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub findings: Vec<Finding>,
}

impl Refusal {
    /// The masked findings, one phrase each ("an AWS access key id (AKIA****************)").
    pub fn found(&self) -> String {
        let items: Vec<String> = self
            .findings
            .iter()
            .map(|f| format!("{} ({})", f.rule.kind, f.shown))
            .collect();
        items.join(", ")
    }

    /// Rule ids of the findings, without repeats, in order.
    pub fn rule_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for f in &self.findings {
            if !ids.contains(&f.rule.id) {
                ids.push(f.rule.id);
            }
        }
        ids
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request holds a credential: {}. Nothing was stored. Credentials never go in a request: ",
            self.found()
        )?;
        let mut homes: Vec<Home> = Vec::new();
        for finding in &self.findings {
            if !homes.contains(&finding.rule.home) {
                homes.push(finding.rule.home);
            }
        }
        let advice: Vec<String> = homes
            .iter()
            .map(|h| format!("keep it in {}: {}", h.name(), h.how()))
            .collect();
        write!(f, "{}", advice.join("; "))?;
        if self.findings.iter().any(|x| x.rule.id.starts_with("aws-")) {
            write!(
                f,
                "; opsdeck itself acts through the tenant's AWS configurations (`opsdeck configs`), never through keys in a request"
            )?;
        }
        write!(
            f,
            ". Remove it, ask again, and rotate it: it has been exposed"
        )
    }
}

/// `Err` with what was found when `text` holds a credential.
pub fn check(text: &str) -> Result<(), Refusal> {
    let findings = scan(text);
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Refusal { findings })
    }
}

#[cfg(test)]
mod tests;
