//! Registered users of a tenant: roles, groups and their TOTP secret.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a user may do, in increasing power. Enforced in the core, never only in a front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role '{s}' (expected viewer, operator, approver or admin)"
            )),
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Base32 TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s).
    pub totp_secret: String,
    /// Last accepted TOTP time step: a code is never accepted twice.
    #[serde(default)]
    pub last_totp_step: u64,
    pub created_at: crate::time::Stamp,
    pub created_by: String,
    /// IAM principals (ARNs) that act as this user on the shared backend, set by an admin
    /// (`opsdeck users principal`); see `tenant::principal` for the mapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_principals: Vec<String>,
    /// The registered public key (`ssh-ed25519 AAAA…`); none for users registered before
    /// signed approvals (they cannot approve until an admin registers one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The user's signed membership history, oldest first (see [`crate::identity::Roster`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub membership: Vec<crate::identity::MembershipRecord>,
    /// Questions only: every session of this user is read-only (set by an admin).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl std::fmt::Debug for User {
    // The TOTP secret stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// The user's record as shown to others: never the secret.
    pub fn public(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "name": self.name,
            "roles": self.roles,
            "groups": self.groups,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "key": self.key,
            "key_fingerprint": self.key.as_deref().and_then(|k| crate::identity::PublicKeyLine::parse(k).ok()).map(|k| k.fingerprint()),
        });
        if !self.aws_principals.is_empty() {
            v["aws_principals"] = serde_json::json!(self.aws_principals);
        }
        if self.read_only {
            v["read_only"] = serde_json::json!(true);
        }
        v
    }
}
