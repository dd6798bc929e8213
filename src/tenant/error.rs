//! What a tenant refuses: names and settings it cannot hold, AWS configurations that do not
//! name what they claim to, TOTP codes that do not confirm anyone.

use crate::error::Kind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TenantError {
    #[error(
        "invalid tenant name '{name}': use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
    )]
    TenantName { name: String },

    #[error("invalid user name '{user}': use letters, digits and . _ @ + - (at most 128)")]
    UserName { user: String },

    #[error("invalid group name '{group}': use letters, digits and . _ - (at most 64)")]
    GroupName { group: String },

    /// A guardrail setting no tenant can work with.
    #[error("{setting} {value} is out of range: {allowed}")]
    OutOfRange {
        setting: String,
        value: String,
        allowed: String,
    },

    // An AWS configuration's fields.
    #[error(
        "invalid configuration name '{name}': use 1-63 lower-case letters, digits, '-' or '_' (not 'none')"
    )]
    ConfigName { name: String },

    #[error("'{arn}' is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")]
    RoleArn { arn: String },

    #[error("external id must be 2-1224 characters: letters, digits and + = , . @ : / - _")]
    ExternalId,

    #[error("'{region}' is not an AWS region name (like eu-west-1)")]
    Region { region: String },

    /// A VPC, subnet or security group id of the wrong shape.
    #[error("'{id}' is not a {what} ({prefix} followed by 8 or 17 hex digits)")]
    ResourceId {
        what: &'static str,
        prefix: &'static str,
        id: String,
    },

    #[error(
        "tag '{key}': keys are 1-128 characters and may not start with aws:, values at most 256"
    )]
    Tag { key: String },

    #[error("budget must be a positive number of USD (0: none)")]
    Budget,

    // TOTP.
    #[error(
        "{user} must confirm with a current TOTP code: --totp CODE from their authenticator app (no app: `opsdeck totp` prints the code of the OS account you are logged in as)"
    )]
    TotpRequired { user: String },

    #[error("a TOTP code is 6 digits")]
    TotpShape,

    #[error("the TOTP code for {user} is wrong or expired")]
    TotpWrong { user: String },

    #[error("that TOTP code for {user} was already used; wait for the next one")]
    TotpReused { user: String },

    #[error("stored TOTP secret is not valid base32: {detail}")]
    TotpSecret { detail: String },

    #[error("TOTP secret rejected: {detail}")]
    TotpRejected { detail: String },
}

impl TenantError {
    pub fn kind(&self) -> Kind {
        match self {
            TenantError::TotpRequired { .. }
            | TenantError::TotpWrong { .. }
            | TenantError::TotpReused { .. } => Kind::Refused,
            _ => Kind::Input,
        }
    }
}
