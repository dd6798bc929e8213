//! The crate error: one line, actionable, never a Debug dump.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

    #[error(
        "store is damaged at {path}: {detail} (nothing was changed; run `opsdeck audit verify` for the audit trail)"
    )]
    Corrupt { path: PathBuf, detail: String },

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
        let hint = hint.into();
        Error::NotFound {
            what,
            id: id.into(),
            hint: if hint.is_empty() {
                hint
            } else {
                format!(" ({hint})")
            },
        }
    }

    /// Stable, script-friendly code for `--json` output and exit statuses.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Input(_) => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::Refused(_) => "refused",
            Error::Unavailable(_) => "unavailable",
            Error::Corrupt { .. } => "corrupt_store",
            Error::Config { .. } => "bad_config",
            Error::Io { .. } => "io",
            Error::Execution(_) => "execution_failed",
            Error::Cancelled(_) => "cancelled",
        }
    }

    /// Process exit status for the CLI (2 is reserved for usage errors by clap).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Config { .. } => 3,
            Error::NotFound { .. } => 4,
            Error::Refused(_) => 5,
            Error::Unavailable(_) => 6,
            Error::Corrupt { .. } => 7,
            Error::Execution(_) | Error::Cancelled(_) => 8,
            Error::Io { .. } => 1,
        }
    }
}
