//! Secrets never reach artifacts, logs or the audit trail: anything that looks like one is masked
//! before it is stored or shown. What counts as a credential is the rule set in
//! [`crate::secrets`]; requests holding one are refused outright, this masks everything else
//! (tool output, reports, comments and reasons).

const MASK: &str = "****";

/// Masks anything that looks like a credential. Idempotent.
pub fn redact(text: &str) -> String {
    crate::secrets::mask(text)
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
    fn masks_log_lines_and_leaves_their_words() {
        let line = "export DB_PASSWORD=Tr0ub4dor3 && psql postgres://app:Sup3rS3cret@db:5432/app";
        let r = redact(line);
        assert_eq!(
            r,
            "export DB_PASSWORD=**** && psql postgres://app:****@db:5432/app"
        );
        assert_eq!(redact(&r), r);
        let tf = "  + password = (sensitive value)\n  manage_master_user_password = true";
        assert_eq!(redact(tf), tf);
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
