//! What can go wrong keeping state, in the local store and the shared backend alike.

use std::path::PathBuf;

use crate::error::Kind;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record, file or object that no longer reads back as it was written.
    #[error(
        "store is damaged at {path}: {detail} (nothing was changed; run `opsdeck audit verify` for the audit trail)"
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error("{what} not found: {id}{hint}")]
    NotFound {
        what: &'static str,
        id: String,
        /// Where it was looked for, in parentheses (empty for nowhere in particular).
        hint: String,
    },

    #[error("user {user} is already registered in tenant {tenant}")]
    UserExists { tenant: String, user: String },

    #[error("plan {plan_id} already exists")]
    PlanExists { plan_id: String },

    #[error(
        "configuration {name} already exists in tenant {tenant}; change it with `opsdeck configs update`"
    )]
    ConfigExists { tenant: String, name: String },

    /// A name that cannot be a file or key name (`stack name`, `plan id`, `name`).
    #[error("invalid {what} '{name}'")]
    InvalidName { what: &'static str, name: String },

    #[error("policy file name '{name}' must be letters, digits, '-' or '_' ending in .rego")]
    PolicyFileName { name: String },

    #[error("every audit event of a batch needs its own, non-empty event id")]
    BatchEventIds,

    #[error("{what} cannot be encoded: {detail}")]
    Encode { what: &'static str, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    // The shared backend's settings.
    #[error("aws_backend.role_arn names {{tenant}}, but no tenant was given")]
    RoleNeedsTenant,

    #[error(
        "aws_backend.{setting} '{value}' must be 3-32 lower-case letters, digits or '-', starting with a letter (it names tables and buckets)"
    )]
    BadPrefix {
        setting: &'static str,
        value: String,
    },

    #[error("aws_backend.region is empty")]
    NoRegion,

    /// A session whose role is per tenant asked for another tenant.
    #[error(
        "this backend session is confined to tenant {confined} (aws_backend.role_arn names {{tenant}}); it cannot reach tenant {tenant}"
    )]
    Confined { confined: String, tenant: String },

    // The shared backend's answers. `reason` and `detail` are the service's own words
    // (service, operation, message, code, request id).
    #[error(
        "the shared backend is unreachable ({reason}); opsdeck works read-only from its local copy and queues audit events until it returns"
    )]
    Unreachable { reason: String },

    #[error("the shared backend is unreachable ({reason}) and this machine has no copy of {what}")]
    NoLocalCopy { what: String, reason: String },

    #[error(
        "cannot {action}: the shared backend is unreachable ({reason}); opsdeck is read-only until it returns, nothing was changed"
    )]
    ReadOnly { action: String, reason: String },

    #[error("cannot read {what}: the shared backend is unreachable ({reason})")]
    CannotRead { what: String, reason: String },

    /// A table, bucket or object the backend should have.
    #[error(
        "{detail}; create the shared backend with `opsdeck backend init` (and check it with `opsdeck backend check`)"
    )]
    Missing { detail: String },

    /// The backend said this caller may not.
    #[error("{detail}")]
    Denied { detail: String },

    /// Anything else the backend answered, as it said it.
    #[error("{detail}")]
    Backend { detail: String },

    /// Lost the race for a stack lock to others too often in a row.
    #[error("stack {stack} is being locked and released by others as we try; try again")]
    LockContended { stack: String },

    // Importing a trail into the shared backend.
    #[error("cannot import an audit record: {detail}")]
    ImportUnreadable { detail: String },

    #[error(
        "the audit trail of tenant {tenant} changed while it was being imported; run the migration again"
    )]
    ImportRaced { tenant: String },

    #[error(
        "tenant {tenant} already has a different record {seq} in the shared backend; a trail is only imported into an empty or identical one"
    )]
    ImportDiffers { tenant: String, seq: u64 },

    #[error(
        "record {seq} does not continue the chain of tenant {tenant} (expected record {expected} after {after})"
    )]
    ImportGap {
        tenant: String,
        seq: u64,
        expected: u64,
        /// The first 12 hex digits of the hash it should follow.
        after: String,
    },

    // Migrating a local store into the shared backend.
    #[error(
        "the local audit trail of tenant {tenant} does not verify (line {line}: {problem}); nothing was migrated"
    )]
    SourceUnverified {
        tenant: String,
        line: usize,
        problem: String,
    },

    #[error(
        "tenant {tenant} already has a different policy {name} in the shared backend; remove one of them first"
    )]
    PolicyDiffers { tenant: String, name: String },

    #[error(
        "plan {plan_id} exists in the shared backend with other content; nothing more was migrated for tenant {tenant}"
    )]
    PlanDiffers { tenant: String, plan_id: String },

    #[error(
        "after copying, the shared audit trail of tenant {tenant} does not match the local one ({records} records, head {} vs {local_records} records, head {}){}",
        .head.as_deref().unwrap_or("-"),
        .local_head.as_deref().unwrap_or("-"),
        .first_break.as_ref().map(|b| format!("; first break: {b}")).unwrap_or_default()
    )]
    MigrationMismatch {
        tenant: String,
        records: usize,
        head: Option<String>,
        local_records: usize,
        local_head: Option<String>,
        first_break: Option<String>,
    },
}

impl StoreError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn not_found(
        what: &'static str,
        id: impl Into<String>,
        hint: impl Into<String>,
    ) -> StoreError {
        StoreError::NotFound {
            what,
            id: id.into(),
            hint: crate::error::parenthesised(hint.into()),
        }
    }

    pub fn kind(&self) -> Kind {
        use StoreError::*;
        match self {
            Corrupt { .. } => Kind::Corrupt,
            NotFound { .. } => Kind::NotFound,
            UserExists { .. }
            | PlanExists { .. }
            | ConfigExists { .. }
            | InvalidName { .. }
            | PolicyFileName { .. }
            | BatchEventIds
            | Encode { .. }
            | RoleNeedsTenant
            | BadPrefix { .. }
            | NoRegion
            | ImportUnreadable { .. } => Kind::Input,
            Io { .. } => Kind::Io,
            Confined { .. }
            | Denied { .. }
            | ImportRaced { .. }
            | ImportDiffers { .. }
            | ImportGap { .. }
            | SourceUnverified { .. }
            | PolicyDiffers { .. }
            | PlanDiffers { .. }
            | MigrationMismatch { .. } => Kind::Refused,
            Unreachable { .. }
            | NoLocalCopy { .. }
            | ReadOnly { .. }
            | CannotRead { .. }
            | Missing { .. }
            | Backend { .. }
            | LockContended { .. } => Kind::Unavailable,
        }
    }
}
