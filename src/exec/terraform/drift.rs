//! Drift checks of an applied stack, with its recorded configuration and its state: nothing is
//! applied and the state is not written.
//!
//! Two plans, because neither alone sees every kind of drift:
//! - `plan -refresh-only -detailed-exitcode`: what changed in the real infrastructure since the
//!   state was written (`resource_drift`), Terraform's own notion of drift;
//! - `plan -detailed-exitcode` of the recorded configuration: where what exists departs from
//!   the recorded spec (`resource_changes`). A refresh cannot see everything: a resource whose
//!   refresh returns its state as is (`terraform_data`), a state written by someone's own
//!   `terraform apply`, a resource deleted behind Terraform's back.

use serde_json::Value;
use tokio::sync::watch;

use super::{ExecError, Workspace, first_error, is_install_failure, mask_sensitive};
use crate::error::Result;
use crate::events::Sink;

/// The refresh-only plan, saved in the workspace.
pub const REFRESH_PLAN: &str = "drift-refresh.tfplan";
/// The plan of the recorded configuration, saved in the workspace.
pub const SPEC_PLAN: &str = "drift-spec.tfplan";

/// What the two plans answered, `show -json` of each with sensitive values masked.
#[derive(Debug)]
pub enum DriftResult {
    Checked {
        refresh: Value,
        spec: Value,
        log: String,
    },
    /// Terraform could not check (providers not installable, timed out, a broken configuration):
    /// why, in one line.
    Unchecked { reason: String, log: String },
}

/// `init`, then both plans and their JSON.
pub async fn check(
    ws: &Workspace<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<DriftResult> {
    ws.prepare(None)?;
    let mut log = String::new();
    let init = ws.init(&mut log, sink, &mut cancel).await?;
    if init.cancelled || init.code != Some(0) {
        let why = if init.cancelled {
            "terraform init did not finish in time".to_string()
        } else if is_install_failure(&init.output) {
            format!(
                "terraform init could not install the providers: {}",
                first_error(&init.output)
            )
        } else {
            format!("terraform init failed: {}", first_error(&init.output))
        };
        return Ok(DriftResult::Unchecked { reason: why, log });
    }
    let mut shown = Vec::new();
    for (file, refresh_only) in [(REFRESH_PLAN, true), (SPEC_PLAN, false)] {
        super::progress(
            sink,
            if refresh_only {
                "terraform plan -refresh-only"
            } else {
                "terraform plan of the recorded configuration"
            },
        );
        let out = format!("-out={file}");
        let mut args = vec![
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            "-lock-timeout=30s",
            &out,
        ];
        if refresh_only {
            args.insert(1, "-refresh-only");
        }
        let planned = ws.run(&args, &mut log, sink, &mut cancel).await?;
        // -detailed-exitcode: 0 no changes, 2 changes, anything else an error.
        if planned.cancelled || !matches!(planned.code, Some(0) | Some(2)) {
            let reason = if planned.cancelled {
                "terraform plan did not finish in time".to_string()
            } else {
                format!("terraform plan failed: {}", first_error(&planned.output))
            };
            return Ok(DriftResult::Unchecked { reason, log });
        }
        let json = ws.output(&["show", "-json", file]).await?;
        if !json.status.success() {
            return Ok(DriftResult::Unchecked {
                reason: format!(
                    "terraform show -json failed: {}",
                    first_error(&String::from_utf8_lossy(&json.stderr))
                ),
                log,
            });
        }
        let mut v: Value =
            serde_json::from_slice(&json.stdout).map_err(|e| ExecError::NotJson {
                command: "terraform show -json",
                detail: e.to_string(),
            })?;
        mask_sensitive(&mut v);
        shown.push(v);
    }
    let spec = shown.pop().unwrap_or_default();
    let refresh = shown.pop().unwrap_or_default();
    Ok(DriftResult::Checked { refresh, spec, log })
}
