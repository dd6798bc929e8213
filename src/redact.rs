//! Secrets never reach artifacts, logs or the audit trail: anything that looks like one is masked
//! before it is stored or shown.

use std::sync::LazyLock;

use regex::Regex;

const MASK: &str = "****";

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // AWS access key ids.
        (r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", "${1}****"),
        // key=value and key: value forms of common secret names.
        (
            r#"(?i)\b((?:aws_)?(?:secret_access_key|session_token|password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|client[_-]?secret))(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)"#,
            "${1}${2}****",
        ),
        // Bearer tokens in headers or curl commands.
        (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*", "${1}****"),
        // PEM private keys.
        (
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----****-----END PRIVATE KEY-----",
        ),
    ]
    .into_iter()
    .filter_map(|(re, rep)| Regex::new(re).ok().map(|r| (r, rep)))
    .collect()
});

/// Masks anything that looks like a credential. Idempotent.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (re, rep) in PATTERNS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *rep).into_owned();
        }
    }
    out
}

pub fn mask() -> &'static str {
    MASK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_common_secret_shapes() {
        let r = redact("use AKIAIOSFODNN7EXAMPLE with password=hunter2 and token: abc.def");
        assert!(!r.contains("IOSFODNN7EXAMPLE"), "{r}");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(!r.contains("abc.def"), "{r}");
        assert!(r.contains("password=****"));
        let r = redact("curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x'");
        assert!(!r.contains("eyJhbGci"), "{r}");
        assert_eq!(redact(&r), r);
    }

    #[test]
    fn leaves_ordinary_requests_alone() {
        let t = "Restart EC2 instances tagged Env=staging";
        assert_eq!(redact(t), t);
        assert_eq!(
            redact("rotate the secret db-password"),
            "rotate the secret db-password"
        );
    }
}
