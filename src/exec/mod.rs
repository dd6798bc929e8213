//! Runners that change the world: real binaries in a per-plan workspace, with progress streamed
//! line by line, logs captured, and cancellation that lets the tool stop cleanly.

pub mod terraform;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    pub cancelled: bool,
    pub exit_code: Option<i32>,
    /// Everything the tool printed, redacted.
    pub log: String,
    pub outputs: Option<serde_json::Value>,
}

/// Finds an executable by name on PATH, or checks an explicit path.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.components().count() > 1 {
        return is_executable(p).then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub(crate) fn missing_tool(tool: &str, configured: &str, setting: &str, plan_id: &str) -> Error {
    Error::Unavailable(format!(
        "{tool} is not installed: `{configured}` was not found on PATH. Install {tool} (or OpenTofu) and retry, or point opsdeck at it with {setting}; plan {plan_id} stays approved and can be reviewed with `opsdeck plans show {plan_id} --artifact`"
    ))
}
