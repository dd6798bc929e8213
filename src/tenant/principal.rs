//! Which registered user an AWS principal acts as, on the shared backend.
//!
//! STS GetCallerIdentity proves the caller's principal; a user record maps it:
//! 1. explicitly: the principal's ARN is in the user's `aws_principals` (an entry naming an IAM
//!    role, `arn:aws:iam::ACCOUNT:role/NAME`, covers every session of that role);
//! 2. else an IAM user ARN whose user name is the user's name;
//! 3. else an assumed-role ARN whose session name is the user's name.

use super::User;

/// What an ARN says about who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal<'a> {
    /// `arn:aws:iam::ACCOUNT:user/[PATH/]NAME` (moto also answers `arn:aws:sts::…:user/NAME`).
    IamUser { account: &'a str, name: &'a str },
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole {
        account: &'a str,
        role: &'a str,
        session: &'a str,
    },
    /// Anything else (root, federated users): mapped only explicitly.
    Other,
}

/// Reads an STS caller ARN.
pub fn parse(arn: &str) -> Principal<'_> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, account, resource] = parts[..] else {
        return Principal::Other;
    };
    if let Some(rest) = resource.strip_prefix("assumed-role/")
        && service == "sts"
        && let Some((role, session)) = rest.split_once('/')
    {
        return Principal::AssumedRole {
            account,
            role,
            session,
        };
    }
    if let Some(rest) = resource.strip_prefix("user/")
        && (service == "iam" || service == "sts")
    {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        return Principal::IamUser { account, name };
    }
    Principal::Other
}

/// A short name for the principal (IAM user name or role session name), for CloudTrail session
/// names and for acting unregistered.
pub fn short_name(arn: &str) -> Option<&str> {
    match parse(arn) {
        Principal::IamUser { name, .. } => Some(name),
        Principal::AssumedRole { session, .. } => Some(session),
        Principal::Other => None,
    }
}

/// Whether an entry of a user's `aws_principals` covers this caller ARN.
fn listed(entry: &str, arn: &str) -> bool {
    if entry == arn {
        return true;
    }
    // A role ARN covers every session of that role.
    match (parse(arn), entry.split_once(":role/")) {
        (Principal::AssumedRole { account, role, .. }, Some((prefix, name))) => {
            prefix.ends_with(&format!(":iam::{account}")) && name.rsplit('/').next() == Some(role)
        }
        _ => false,
    }
}

/// The users this principal may act as, by the rules above (explicit entries win).
pub fn users_for<'u>(arn: &str, users: &'u [User]) -> Vec<&'u str> {
    let explicit: Vec<&str> = users
        .iter()
        .filter(|u| u.aws_principals.iter().any(|p| listed(p, arn)))
        .map(|u| u.name.as_str())
        .collect();
    if !explicit.is_empty() {
        return explicit;
    }
    let implicit = match parse(arn) {
        Principal::IamUser { name, .. } => Some(name),
        Principal::AssumedRole { session, .. } => Some(session),
        Principal::Other => None,
    };
    users
        .iter()
        .filter(|u| Some(u.name.as_str()) == implicit)
        .map(|u| u.name.as_str())
        .collect()
}

/// Checks an ARN an admin registers: an IAM user, role or assumed-role session ARN.
pub fn validate_arn(arn: &str) -> std::result::Result<(), String> {
    let ok = arn.len() <= 2048
        && arn.starts_with("arn:aws")
        && arn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/+=,.@_-".contains(c))
        && (matches!(
            parse(arn),
            Principal::IamUser { .. } | Principal::AssumedRole { .. }
        ) || arn
            .split(':')
            .nth(5)
            .is_some_and(|r| r.starts_with("role/")));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{arn}' is not an IAM principal ARN: give arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME (any session of it) or arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::Role;

    fn user(name: &str, principals: &[&str]) -> User {
        User {
            name: name.into(),
            roles: vec![Role::Operator],
            groups: vec![],
            totp_secret: String::new(),
            last_totp_step: 0,
            created_at: crate::time::Stamp::now(),
            created_by: "alice".into(),
            aws_principals: principals.iter().map(|p| p.to_string()).collect(),
            key: None,
            membership: Vec::new(),
            read_only: false,
        }
    }

    #[test]
    fn principals_map_explicitly_then_by_user_name_then_by_session_name() {
        let role = "arn:aws:iam::123456789012:role/ops";
        let users = [
            user("alice", &[]),
            user("bob", &["arn:aws:iam::123456789012:user/robert"]),
            user("carol", &[]),
            user("dave", &[role]),
        ];
        let of = |arn: &str| users_for(arn, &users);
        assert_eq!(of("arn:aws:iam::123456789012:user/alice"), ["alice"]);
        assert_eq!(of("arn:aws:iam::123456789012:user/team/alice"), ["alice"]);
        assert_eq!(of("arn:aws:iam::123456789012:user/robert"), ["bob"]);
        assert_eq!(
            of("arn:aws:sts::123456789012:assumed-role/readers/carol"),
            ["carol"]
        );
        // Any session of a listed role is dave, whatever the session is called.
        assert_eq!(
            of("arn:aws:sts::123456789012:assumed-role/ops/carol"),
            ["dave"]
        );
        // The same role name in another account is not the listed role.
        assert_eq!(
            of("arn:aws:sts::999999999999:assumed-role/ops/erin"),
            Vec::<&str>::new()
        );
        assert!(of("arn:aws:iam::123456789012:user/mallory").is_empty());
        assert!(of("arn:aws:iam::123456789012:root").is_empty());
    }

    #[test]
    fn only_principal_arns_are_registered() {
        assert!(validate_arn("arn:aws:iam::123456789012:user/alice").is_ok());
        assert!(validate_arn("arn:aws:iam::123456789012:role/ops").is_ok());
        assert!(validate_arn("arn:aws:sts::123456789012:assumed-role/ops/bob").is_ok());
        assert!(validate_arn("arn:aws:s3:::bucket").is_err());
        assert!(validate_arn("alice").is_err());
        assert!(validate_arn("arn:aws:iam::123456789012:user/a b").is_err());
    }
}
