//! Checks of a Terraform module before it enters a tenant's library: `terraform fmt -check`,
//! then `init -backend=false` and `validate` with the same provider mirror and sandbox as a dry
//! run. A module Terraform refuses is refused with Terraform's own words.

use tokio::sync::watch;

use super::{Workspace, first_error, is_install_failure};
use crate::error::Result;
use crate::events::Sink;

/// What the checks of a module came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleCheck {
    /// Formatted and valid. `notes` say what could not be checked (validate needs the
    /// providers, which an offline host may not have).
    Passed { notes: Vec<String> },
    /// Terraform refused it: which command, and its first error.
    Refused { command: String, error: String },
}

/// `fmt -check` (when `check_format`), `init -backend=false`, `validate`, in the workspace's
/// directory holding exactly the module's files. Providers that cannot be installed (offline, empty mirror) leave
/// `validate` undone, said so; every other failure refuses the module.
pub async fn check_module(
    ws: &Workspace<'_>,
    user_files: &[String],
    check_format: bool,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<ModuleCheck> {
    ws.prepare(None)?;
    let mut log = String::new();
    // Only the module's own files: the backend override is opsdeck's.
    let mut fmt: Vec<&str> = vec!["fmt", "-check", "-list=true", "-no-color"];
    fmt.extend(
        user_files
            .iter()
            .filter(|f| f.ends_with(".tf"))
            .map(String::as_str),
    );
    let exit = if check_format {
        Some(ws.run(&fmt, &mut log, sink, &mut cancel).await?)
    } else {
        None
    };
    if let Some(exit) = exit.filter(|e| e.code != Some(0) || e.cancelled) {
        let error = if exit.output.contains("Error:") {
            first_error(&exit.output)
        } else {
            // `-list=true` names each file not formatted, one a line, among other output.
            let files: Vec<&str> = exit
                .output
                .lines()
                .map(str::trim)
                .filter(|l| user_files.iter().any(|f| f == l))
                .collect();
            format!(
                "not in canonical format: {} (run `terraform fmt` on them)",
                files.join(", ")
            )
        };
        return Ok(ModuleCheck::Refused {
            command: "terraform fmt -check".into(),
            error,
        });
    }
    let init = ws
        .run(
            &["init", "-backend=false", "-input=false", "-no-color"],
            &mut log,
            sink,
            &mut cancel,
        )
        .await?;
    if init.code != Some(0) || init.cancelled {
        if is_install_failure(&init.output) || init.cancelled {
            return Ok(ModuleCheck::Passed {
                notes: vec![format!(
                    "terraform validate was not run: its providers could not be installed here ({})",
                    first_error(&init.output)
                )],
            });
        }
        return Ok(ModuleCheck::Refused {
            command: "terraform init".into(),
            error: first_error(&init.output),
        });
    }
    let validate = ws
        .run(&["validate", "-no-color"], &mut log, sink, &mut cancel)
        .await?;
    if validate.code != Some(0) || validate.cancelled {
        return Ok(ModuleCheck::Refused {
            command: "terraform validate".into(),
            error: first_error(&validate.output),
        });
    }
    Ok(ModuleCheck::Passed { notes: Vec::new() })
}
