//! Bearer tokens for `opsdeck mcp --listen`: each is bound to one registered user, issued and
//! revoked by an admin, and stored only as a SHA-256 hash (the secret is shown once, at issue).
//!
//! A secret reads `opsdeck_<id>_<43 characters>`: the id finds the record without scanning, the
//! rest is 256 random bits, so a plain hash is enough (nothing to brute-force).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TenantError;
use crate::error::{Error, Result};
use crate::time::Stamp;

const PREFIX: &str = "opsdeck_";
const ID_CHARS: usize = 12;
const SECRET_BYTES: usize = 32;
/// Requests per minute a token may make unless the admin says otherwise.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 120;
/// The range an admin may choose from (`opsdeck tokens issue --rate-per-minute`).
pub const RATE_PER_MINUTE_RANGE: std::ops::RangeInclusive<u32> = 1..=10_000;
const MAX_LABEL: usize = 128;

/// A token's stored record: everything but the secret.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub tenant: String,
    /// `tok-` and 12 lower-case letters or digits; public (it names the token in lists and
    /// the trail).
    pub id: String,
    /// The registered user the token acts as.
    pub user: String,
    /// What it is for, e.g. "ide on alice's laptop".
    #[serde(default)]
    pub label: String,
    /// Hex SHA-256 of the whole secret.
    pub sha256: String,
    pub rate_per_minute: u32,
    pub created_at: Stamp,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Stamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

impl std::fmt::Debug for ApiToken {
    // The hash is not the secret, but it stays out of logs all the same.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("revoked", &self.revoked_at.is_some())
            .finish_non_exhaustive()
    }
}

impl ApiToken {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Whether `secret` is this token's, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        let (given, stored) = (hash(secret), self.sha256.as_bytes());
        given.len() == stored.len()
            && given
                .bytes()
                .zip(stored)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// The record as lists, `--json` and the trail show it: no hash.
    pub fn public(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "user": self.user,
            "label": self.label,
            "rate_per_minute": self.rate_per_minute,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
        })
    }

    pub fn validate(&self) -> Result<()> {
        validate_id(&self.id)?;
        validate_rate(self.rate_per_minute)?;
        validate_label(&self.label)?;
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::input(format!(
                "token {} has no valid SHA-256 hash",
                self.id
            )));
        }
        Ok(())
    }
}

/// A fresh token id and its secret.
pub fn generate() -> Result<(String, String)> {
    let mut bytes = [0u8; SECRET_BYTES + ID_CHARS];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::io(
            "reading randomness for a token",
            std::io::Error::other(e.to_string()),
        )
    })?;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = bytes[SECRET_BYTES..]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    let id = format!("tok-{id}");
    use base64::Engine;
    let rest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..SECRET_BYTES]);
    let secret = format!("{PREFIX}{id}_{rest}");
    Ok((id, secret))
}

/// The id a presented secret names, if it has the shape of one. (The random part is base64url,
/// which may hold `_` itself: the id is read by its length, not by splitting.)
pub fn id_of(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(PREFIX)?;
    let id = rest.get(..4 + ID_CHARS)?;
    let random = rest.get(4 + ID_CHARS..)?.strip_prefix('_')?;
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    (validate_id(id).is_ok() && random.len() == 43 && random.bytes().all(base64url)).then_some(id)
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn validate_id(id: &str) -> Result<()> {
    let ok = id.strip_prefix("tok-").is_some_and(|r| {
        r.len() == ID_CHARS
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{}' is not a token id: they look like tok-0123456789ab; `opsdeck tokens list` shows them",
            crate::sanitize::line(id)
        )))
    }
}

pub fn validate_rate(rate: u32) -> Result<()> {
    if RATE_PER_MINUTE_RANGE.contains(&rate) {
        Ok(())
    } else {
        Err(TenantError::OutOfRange {
            setting: "rate_per_minute".into(),
            value: rate.to_string(),
            allowed: format!(
                "{} to {} requests a minute",
                RATE_PER_MINUTE_RANGE.start(),
                RATE_PER_MINUTE_RANGE.end()
            ),
        }
        .into())
    }
}

pub fn validate_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(Error::input(format!(
            "a token label is at most {MAX_LABEL} characters, without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_name_their_id_whatever_their_random_part_holds() {
        for _ in 0..200 {
            let (id, secret) = generate().unwrap();
            assert_eq!(id_of(&secret), Some(id.as_str()), "{secret}");
        }
        let underscores = format!("opsdeck_tok-abcdefghijkl_{}", "_".repeat(43));
        assert_eq!(id_of(&underscores), Some("tok-abcdefghijkl"));
    }

    #[test]
    fn secrets_name_their_id_and_match_only_their_hash() {
        let (id, secret) = generate().unwrap();
        assert_eq!(id_of(&secret), Some(id.as_str()));
        let rec = ApiToken {
            tenant: "default".into(),
            id: id.clone(),
            user: "alice".into(),
            label: String::new(),
            sha256: hash(&secret),
            rate_per_minute: DEFAULT_RATE_PER_MINUTE,
            created_at: Stamp::now(),
            created_by: "root".into(),
            revoked_at: None,
            revoked_by: None,
        };
        rec.validate().unwrap();
        assert!(rec.matches(&secret));
        let mut other = secret.clone();
        other.pop();
        other.push(if secret.ends_with('A') { 'B' } else { 'A' });
        assert!(!rec.matches(&other));
        assert!(!rec.public().to_string().contains(&rec.sha256));
        assert!(!format!("{rec:?}").contains(&rec.sha256));
    }

    #[test]
    fn malformed_secrets_and_rates_are_refused() {
        for bad in [
            "",
            "opsdeck_",
            "opsdeck_tok-short_x",
            "Bearer x",
            "opsdeck_tok-ABCDEFGHIJKL_",
        ] {
            assert_eq!(id_of(bad), None, "{bad}");
        }
        assert!(validate_rate(0).is_err());
        assert!(validate_rate(10_001).is_err());
        assert!(validate_rate(1).is_ok());
        assert!(validate_label("a\u{1b}[2J").is_err());
    }
}
