//! The crate error: one line, actionable, never a Debug dump.
//!
//! Modules whose failures have their own shape keep their own enum (`StoreError`, `ExecError`,
//! `PolicyError`, `AwsError`, `AuditError`, `TenantError`, `ApprovalError`), with typed data, and
//! `?` turns it into [`Error`]. Every failure falls in one [`Kind`], which decides the
//! `--json` code, the CLI's exit status and the category word a message starts with
//! (`refused: `, `execution failed: `, `cancelled: `), so a module's error reads and exits
//! exactly as the general variant of its kind does.

use std::path::PathBuf;

pub use crate::approval::ApprovalError;
pub use crate::audit::AuditError;
pub use crate::aws::AwsError;
pub use crate::exec::ExecError;
pub use crate::policy::PolicyError;
pub use crate::store::StoreError;
pub use crate::tenant::TenantError;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What sort of failure an error is: what scripts branch on (`code`, exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Input,
    NotFound,
    Refused,
    Unavailable,
    Corrupt,
    Config,
    Io,
    Execution,
    Cancelled,
}

impl Kind {
    /// Stable, script-friendly code for `--json` output.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Input => "invalid_input",
            Kind::NotFound => "not_found",
            Kind::Refused => "refused",
            Kind::Unavailable => "unavailable",
            Kind::Corrupt => "corrupt_store",
            Kind::Config => "bad_config",
            Kind::Io => "io",
            Kind::Execution => "execution_failed",
            Kind::Cancelled => "cancelled",
        }
    }

    /// Process exit status for the CLI (2 is reserved for usage errors by clap).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Input | Kind::Config => 3,
            Kind::NotFound => 4,
            Kind::Refused => 5,
            Kind::Unavailable => 6,
            Kind::Corrupt => 7,
            Kind::Execution | Kind::Cancelled => 8,
            Kind::Io => 1,
        }
    }

    /// The words a message of this kind starts with.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Refused => "refused: ",
            Kind::Execution => "execution failed: ",
            Kind::Cancelled => "cancelled: ",
            _ => "",
        }
    }
}

/// Everything that can go wrong, phrased for the person at the keyboard.
///
/// Each variant's message says what happened and, where there is one, what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(String),

    #[error("{what} not found: {id}{hint}")]
    NotFound {
        what: &'static str,
        id: String,
        hint: String,
    },

    #[error("refused: {0}")]
    Refused(String),

    #[error("{0}")]
    Unavailable(String),

    #[error("config {path}: {detail}")]
    Config { path: PathBuf, detail: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("execution failed: {0}")]
    Execution(String),

    #[error("cancelled: {0}")]
    Cancelled(String),

    /// A change understood with low confidence: the requester says which reading they mean
    /// before anything is planned.
    #[error("refused: {0}")]
    NeedsConfirmation(Box<crate::intent::Confirmation>),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Store(#[from] StoreError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Exec(#[from] ExecError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Policy(#[from] PolicyError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Aws(#[from] AwsError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Audit(#[from] AuditError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Tenant(#[from] TenantError),

    #[error("{prefix}{0}", prefix = .0.kind().prefix())]
    Approval(#[from] ApprovalError),
}

impl Error {
    /// Wraps an I/O error with what we were doing at the time.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(msg.into())
    }

    pub fn refused(msg: impl Into<String>) -> Self {
        Error::Refused(msg.into())
    }

    pub fn not_found(what: &'static str, id: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
            hint: parenthesised(hint.into()),
        }
    }

    /// What sort of failure this is.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Input(_) => Kind::Input,
            Error::NotFound { .. } => Kind::NotFound,
            Error::Refused(_) => Kind::Refused,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::Config { .. } => Kind::Config,
            Error::Io { .. } => Kind::Io,
            Error::Execution(_) => Kind::Execution,
            Error::Cancelled(_) => Kind::Cancelled,
            Error::NeedsConfirmation(_) => Kind::Refused,
            Error::Store(e) => e.kind(),
            Error::Exec(e) => e.kind(),
            Error::Policy(e) => e.kind(),
            Error::Aws(e) => e.kind(),
            Error::Audit(e) => e.kind(),
            Error::Tenant(e) => e.kind(),
            Error::Approval(e) => e.kind(),
        }
    }

    /// Why a refusal refused, without the `refused: ` its message starts with; None for any
    /// other kind of error.
    pub fn refusal(&self) -> Option<String> {
        if self.kind() != Kind::Refused {
            return None;
        }
        Some(match self {
            Error::Refused(why) => why.clone(),
            Error::NeedsConfirmation(c) => c.to_string(),
            Error::Store(e) => e.to_string(),
            Error::Exec(e) => e.to_string(),
            Error::Policy(e) => e.to_string(),
            Error::Aws(e) => e.to_string(),
            Error::Audit(e) => e.to_string(),
            Error::Tenant(e) => e.to_string(),
            Error::Approval(e) => e.to_string(),
            other => other.to_string(),
        })
    }

    /// Stable, script-friendly code for `--json` output and exit statuses.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// Process exit status for the CLI (2 is reserved for usage errors by clap).
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }
}

/// ` (hint)`, or nothing for no hint: how a not-found message adds where it looked.
pub(crate) fn parenthesised(hint: String) -> String {
    if hint.is_empty() {
        hint
    } else {
        format!(" ({hint})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_error_reads_and_exits_as_its_kind() {
        let refusal = crate::approval::Refusal::Rejected {
            plan_id: "p-1".into(),
            by: None,
        };
        let general = Error::refused(refusal.to_string());
        let typed: Error = refusal.clone().into();
        assert!(matches!(typed, Error::Approval(ApprovalError::Refused(_))));
        assert_eq!(typed.to_string(), general.to_string());
        assert_eq!((typed.code(), typed.exit_code()), ("refused", 5));
        assert_eq!(typed.refusal(), Some(refusal.to_string()));
        assert_eq!(Error::input("x").refusal(), None);
    }

    #[test]
    fn every_kind_keeps_its_code_and_exit_status() {
        let table = [
            (Kind::Input, "invalid_input", 3),
            (Kind::NotFound, "not_found", 4),
            (Kind::Refused, "refused", 5),
            (Kind::Unavailable, "unavailable", 6),
            (Kind::Corrupt, "corrupt_store", 7),
            (Kind::Config, "bad_config", 3),
            (Kind::Io, "io", 1),
            (Kind::Execution, "execution_failed", 8),
            (Kind::Cancelled, "cancelled", 8),
        ];
        for (kind, code, exit) in table {
            assert_eq!((kind.code(), kind.exit_code()), (code, exit), "{kind:?}");
        }
    }
}
