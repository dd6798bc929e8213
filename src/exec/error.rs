//! What can go wrong running Terraform and Ansible: a tool that is not there, a sandbox that
//! cannot be had, a run that failed or did not finish, output that cannot be used.

use std::path::PathBuf;

use crate::error::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(
        "{tool} is not installed: `{configured}` was not found on PATH. Install {tool} and retry, or point opsdeck at it with {setting}; plan {plan_id} stays approved and can be reviewed with `opsdeck plans show {plan_id} --artifact`"
    )]
    ToolMissing {
        tool: &'static str,
        /// The name or path opsdeck looked for.
        configured: String,
        /// Where to point opsdeck at another binary.
        setting: &'static str,
        plan_id: String,
    },

    /// A step of a tool's run failed: `command` is what ran (`terraform init`), `detail` the
    /// tool's first error from its redacted output.
    #[error("{command} failed: {detail}")]
    ToolFailed {
        command: String,
        status: Option<i32>,
        detail: String,
    },

    /// A run stopped by its time limit.
    #[error("{command} did not finish in time")]
    TimedOut { command: String },

    /// Hand-written artifacts run only sandboxed, and this kernel has no Landlock.
    #[error(
        "hand-written Terraform or playbooks run only in a filesystem sandbox, and this kernel has no Landlock (Linux 5.13 or later with Landlock enabled): nothing was run. Run opsdeck on such a host, or let this tenant run hand-written artifacts unsandboxed with `opsdeck tenants set allow_unsandboxed_runs true` (an admin's choice: the artifact can then read every file this account can)"
    )]
    SandboxRequired,

    #[error("building the filesystem sandbox: {detail}")]
    SandboxBuild { detail: String },

    #[error("the filesystem sandbox could not be created although the kernel reports Landlock")]
    SandboxNotCreated,

    /// opsdeck's data directory lies where the sandboxed tools may read.
    #[error(
        "opsdeck's data directory {} lies beneath {}, which Terraform and Ansible may read: move the data elsewhere (OPSDECK_HOME) so that their sandbox cannot reach it",
        .data.display(),
        .readable.display()
    )]
    DataDirExposed { data: PathBuf, readable: PathBuf },

    /// An artifact name that would escape the workspace or replace opsdeck's own file.
    #[error("refusing artifact name {name}")]
    ArtifactName { name: String },

    #[error("could not capture {tool} output")]
    NoOutput { tool: String },

    #[error("{command} printed no JSON: {detail}")]
    NotJson {
        command: &'static str,
        detail: String,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> ExecError {
        ExecError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            ExecError::ToolMissing { .. } | ExecError::SandboxRequired => Kind::Unavailable,
            ExecError::DataDirExposed { .. } | ExecError::ArtifactName { .. } => Kind::Input,
            ExecError::Io { .. } => Kind::Io,
            ExecError::TimedOut { .. } => Kind::Cancelled,
            ExecError::ToolFailed { .. }
            | ExecError::SandboxBuild { .. }
            | ExecError::SandboxNotCreated
            | ExecError::NoOutput { .. }
            | ExecError::NotJson { .. } => Kind::Execution,
        }
    }
}
