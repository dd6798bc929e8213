//! Terraform against a stack's state: `init → plan -out → show -json` while planning (the saved
//! plan becomes an artifact the approval binds to), and `init → apply <saved plan>` after
//! approval. Plans made without a saved plan (Terraform or a provider was unavailable while
//! planning) run `init → plan -out → apply` at apply time instead.
//!
//! Where the state lives is a [`StateBackend`]: rendered into an override file
//! (`opsdeck_backend_override.tf`) in the workspace, so it replaces whatever backend block the
//! configuration declares and the store, not the Terraform, decides where state goes.
//! `terraform/show.rs` reads what Terraform answers in JSON (changes, outputs), sensitive
//! values masked.

mod check;
pub mod drift;
mod show;

pub use check::{ModuleCheck, check_module};
pub use show::{changes_in, mask_sensitive, summarize};

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::sync::watch;

use super::{ExecError, Exit, Run, run_streaming};
use crate::error::Result;
use crate::events::{AgentEvent, Outcome, Sink};
use crate::intent::AgentKind;
use crate::plan::render::hcl_string;
use crate::plan::{ResourceChange, StateVersion, TerraformOp};
use crate::store::StoreError;
use show::mask_outputs;

/// The saved plan's name in the workspace and among the plan's artifacts.
pub const SAVED_PLAN: &str = "opsdeck.tfplan";
/// `terraform show -json` of the saved plan, sensitive values masked.
pub const PLAN_JSON: &str = "tfplan.json";
/// What `terraform plan` printed.
pub const PLAN_TEXT: &str = "terraform-plan.txt";
const BACKEND_OVERRIDE: &str = "opsdeck_backend_override.tf";
/// CLI configuration that limits provider installation to a mirror directory.
const MIRROR_RC: &str = "opsdeck-mirror.tfrc";
/// Shown instead of a sensitive value.
pub const SENSITIVE: &str = "(sensitive)";
/// What apply says when the state moved on since the plan.
pub const STALE: &str = "state changed since the plan; re-plan";

/// Where a stack's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateBackend {
    /// A file (Terraform locks it with a lock file of its own).
    Local { path: PathBuf },
    /// An S3 object, locked by Terraform with an S3 lock file or a DynamoDB table.
    S3 {
        bucket: String,
        key: String,
        region: String,
        dynamodb_table: Option<String>,
        endpoint: Option<String>,
    },
}

/// `path` as seen from `base` (both absolute): `..` up to their common ancestor, then down.
/// Unrelated paths (nothing in common but the root) stay absolute.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    use std::path::Component;
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common <= 1 || !path.is_absolute() || !base.is_absolute() {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

impl StateBackend {
    /// `local` or `s3://bucket/key`: recorded with each plan's state version.
    pub fn describe(&self) -> String {
        match self {
            StateBackend::Local { .. } => "local".into(),
            StateBackend::S3 { bucket, key, .. } => format!("s3://{bucket}/{key}"),
        }
    }

    /// The backend block, as an override file that replaces the configuration's own, for a
    /// workspace at `workspace`. A local state path is written relative to the workspace: a
    /// saved plan keeps its backend, and the machine that applies it (a runner, its own data
    /// directory) must find the state where its own layout puts it, not the planner's.
    pub fn override_hcl(&self, workspace: &Path) -> String {
        let mut out =
            String::from("# Written by opsdeck: where this stack's state lives.\nterraform {\n");
        match self {
            StateBackend::Local { path } => {
                out.push_str("  backend \"local\" {\n");
                out.push_str(&format!(
                    "    path = {}\n",
                    hcl_string(&relative_to(path, workspace).display().to_string())
                ));
            }
            StateBackend::S3 {
                bucket,
                key,
                region,
                dynamodb_table,
                endpoint,
            } => {
                out.push_str("  backend \"s3\" {\n");
                out.push_str(&format!("    bucket  = {}\n", hcl_string(bucket)));
                out.push_str(&format!("    key     = {}\n", hcl_string(key)));
                out.push_str(&format!("    region  = {}\n", hcl_string(region)));
                out.push_str("    encrypt = true\n");
                match dynamodb_table {
                    Some(t) => out.push_str(&format!("    dynamodb_table = {}\n", hcl_string(t))),
                    None => out.push_str("    use_lockfile = true\n"),
                }
                if let Some(e) = endpoint {
                    out.push_str(&format!(
                        "    endpoints = {{\n      s3 = {}\n    }}\n",
                        hcl_string(e)
                    ));
                    out.push_str("    use_path_style              = true\n");
                    out.push_str("    skip_credentials_validation = true\n");
                    out.push_str("    skip_requesting_account_id  = true\n");
                    out.push_str("    skip_metadata_api_check     = true\n");
                    out.push_str("    skip_region_validation      = true\n");
                    out.push_str("    skip_s3_checksum            = true\n");
                }
            }
        }
        out.push_str("  }\n}\n");
        out
    }

    /// The state's version as stored now, read without Terraform (local state only; an S3
    /// state is read with `terraform state pull` in an initialised workspace).
    pub fn read_local_version(&self) -> Result<Option<StateVersion>> {
        let StateBackend::Local { path } = self else {
            return Ok(None);
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(self.version_of(None)));
            }
            Err(e) => return Err(ExecError::io(format!("reading {}", path.display()), e).into()),
        };
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: format!("Terraform state is not JSON: {e}"),
        })?;
        Ok(Some(self.version_of(Some(&v))))
    }

    fn version_of(&self, state: Option<&Value>) -> StateVersion {
        StateVersion {
            backend: self.describe(),
            lineage: state
                .and_then(|s| s.get("lineage"))
                .and_then(Value::as_str)
                .map(str::to_string),
            serial: state.and_then(|s| s.get("serial")).and_then(Value::as_u64),
        }
    }
}

/// A per-plan working directory holding exactly the plan's files and the backend override.
pub struct Workspace<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    /// Artifact (name, bytes) pairs written into the workspace.
    pub files: &'a [(String, Vec<u8>)],
    pub backend: &'a StateBackend,
    /// Shared provider cache (providers are downloaded once per tenant, not once per plan).
    pub plugin_cache: Option<&'a Path>,
    /// Install providers only from this directory, never from a registry (air-gapped hosts).
    pub provider_mirror: Option<&'a Path>,
    /// Forward tool output to the sink line by line.
    pub stream: bool,
    /// What Terraform may touch beyond the workspace (its filesystem sandbox).
    pub confinement: &'a super::sandbox::Confinement,
}

impl Workspace<'_> {
    /// A quiet Terraform command (`state pull`, `show -json`, `output -json`), sandboxed like
    /// every other run; its output is read whole.
    async fn output(&self, args: &[&str]) -> Result<std::process::Output> {
        let (mut cmd, sandbox) =
            super::tool_command(self.binary, self.dir, &self.env(), self.confinement)?;
        let child = cmd
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ExecError::io(format!("running terraform {}", args.join(" ")), e))?;
        drop(sandbox);
        child
            .wait_with_output()
            .await
            .map_err(|e| ExecError::io(format!("running terraform {}", args.join(" ")), e).into())
    }

    /// Starts from a clean directory holding exactly these files.
    fn prepare(&self, saved_plan: Option<&[u8]>) -> Result<()> {
        if let Ok(entries) = std::fs::read_dir(self.dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_file() && p.extension().is_some_and(|x| x == "tf" || x == "tfplan") {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        for (name, bytes) in self.files {
            if name.contains('/') || name.starts_with('.') || name == BACKEND_OVERRIDE {
                return Err(ExecError::ArtifactName { name: name.clone() }.into());
            }
            crate::store::fsutil::write_atomic(&self.dir.join(name), bytes)?;
        }
        crate::store::fsutil::write_atomic(
            &self.dir.join(BACKEND_OVERRIDE),
            self.backend.override_hcl(self.dir).as_bytes(),
        )?;
        if let Some(bytes) = saved_plan {
            crate::store::fsutil::write_atomic(&self.dir.join(SAVED_PLAN), bytes)?;
        }
        if let Some(cache) = self.plugin_cache {
            crate::store::fsutil::ensure_private_dir(cache)?;
        }
        if let Some(mirror) = self.provider_mirror {
            crate::store::fsutil::write_atomic(
                &self.dir.join(MIRROR_RC),
                format!(
                    "# Written by opsdeck: providers come from this directory only.\nprovider_installation {{\n  filesystem_mirror {{\n    path    = {}\n    include = [\"*/*/*\"]\n  }}\n}}\n",
                    hcl_string(&mirror.display().to_string())
                )
                .as_bytes(),
            )?;
        }
        Ok(())
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("TF_IN_AUTOMATION", "1"),
            ("TF_INPUT", "0"),
            ("CHECKPOINT_DISABLE", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if self.provider_mirror.is_some() {
            env.push((
                "TF_CLI_CONFIG_FILE".into(),
                self.dir.join(MIRROR_RC).display().to_string(),
            ));
        }
        if let Some(cache) = self.plugin_cache
            && std::env::var_os("TF_PLUGIN_CACHE_DIR").is_none()
        {
            env.push(("TF_PLUGIN_CACHE_DIR".into(), cache.display().to_string()));
        }
        env
    }

    async fn run(
        &self,
        args: &[&str],
        log: &mut String,
        sink: Sink<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Exit> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        log.push_str(&format!("$ terraform {}\n", args.join(" ")));
        let env = self.env();
        let exit = run_streaming(
            Run {
                bin: self.binary,
                args: &args,
                dir: self.dir,
                env: &env,
                agent: AgentKind::Infra,
                stream: self.stream,
                confinement: self.confinement,
            },
            sink,
            cancel,
        )
        .await?;
        log.push_str(&exit.output);
        Ok(exit)
    }

    async fn init(
        &self,
        log: &mut String,
        sink: Sink<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Exit> {
        progress(sink, "terraform init");
        self.run(
            &["init", "-input=false", "-no-color", "-reconfigure"],
            log,
            sink,
            cancel,
        )
        .await
    }

    /// `terraform plan -out`: the plan (or the destroy plan) saved for apply.
    async fn plan_to_file(
        &self,
        operation: TerraformOp,
        log: &mut String,
        sink: Sink<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Exit> {
        progress(sink, "terraform plan");
        let out = format!("-out={SAVED_PLAN}");
        let mut args = vec![
            "plan",
            "-input=false",
            "-no-color",
            "-lock-timeout=30s",
            &out,
        ];
        if operation == TerraformOp::Destroy {
            args.push("-destroy");
        }
        self.run(&args, log, sink, cancel).await
    }

    /// `terraform state pull`: the state's version as the backend holds it now.
    async fn pulled_version(&self) -> Option<StateVersion> {
        let out = self
            .output(&["state", "pull"])
            .await
            .ok()
            .filter(|o| o.status.success())?;
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Some(self.backend.version_of(None));
        }
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(self.backend.version_of(Some(&v)))
    }
}

/// What a dry run while planning came to.
#[derive(Debug)]
pub enum PlanResult {
    /// The saved plan (what apply will run), its JSON and text, the changes per resource and the
    /// state it was made against.
    Planned {
        saved_plan: Vec<u8>,
        json: Value,
        text: String,
        changes: Vec<ResourceChange>,
        state: Option<StateVersion>,
        log: String,
    },
    /// Terraform could not plan for reasons outside the configuration (providers could not be
    /// installed, the run was stopped): the plan falls back to the template's resource list.
    Unavailable { reason: String, log: String },
    /// Terraform rejected the configuration or the plan failed.
    Failed { error: String, log: String },
}

/// `init → plan -out → show -json`, while planning.
pub async fn plan(
    ws: &Workspace<'_>,
    operation: TerraformOp,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<PlanResult> {
    ws.prepare(None)?;
    let mut log = String::new();
    let init = ws.init(&mut log, sink, &mut cancel).await?;
    if init.cancelled {
        return Ok(PlanResult::Unavailable {
            reason: ExecError::TimedOut {
                command: "terraform init".into(),
            }
            .to_string(),
            log,
        });
    }
    if init.code != Some(0) {
        let why = first_error(&init.output);
        return Ok(if is_install_failure(&init.output) {
            PlanResult::Unavailable {
                reason: format!("terraform init could not install the providers: {why}"),
                log,
            }
        } else {
            PlanResult::Failed {
                error: ExecError::ToolFailed {
                    command: "terraform init".into(),
                    status: init.code,
                    detail: why,
                }
                .to_string(),
                log,
            }
        });
    }
    let state = match ws.backend.read_local_version()? {
        Some(v) => Some(v),
        None => ws.pulled_version().await,
    };
    let planned = ws
        .plan_to_file(operation, &mut log, sink, &mut cancel)
        .await?;
    if planned.cancelled {
        return Ok(PlanResult::Unavailable {
            reason: ExecError::TimedOut {
                command: "terraform plan".into(),
            }
            .to_string(),
            log,
        });
    }
    if planned.code != Some(0) {
        return Ok(PlanResult::Failed {
            error: ExecError::ToolFailed {
                command: "terraform plan".into(),
                status: planned.code,
                detail: first_error(&planned.output),
            }
            .to_string(),
            log,
        });
    }
    let saved_plan = std::fs::read(ws.dir.join(SAVED_PLAN))
        .map_err(|e| ExecError::io("reading the saved plan", e))?;
    let shown = ws.output(&["show", "-json", SAVED_PLAN]).await?;
    if !shown.status.success() {
        return Ok(PlanResult::Failed {
            error: ExecError::ToolFailed {
                command: "terraform show -json".into(),
                status: shown.status.code(),
                detail: first_error(&String::from_utf8_lossy(&shown.stderr)),
            }
            .to_string(),
            log,
        });
    }
    let mut json: Value =
        serde_json::from_slice(&shown.stdout).map_err(|e| ExecError::NotJson {
            command: "terraform show -json",
            detail: e.to_string(),
        })?;
    mask_sensitive(&mut json);
    let changes = changes_in(&json);
    Ok(PlanResult::Planned {
        saved_plan,
        json,
        text: planned.output,
        changes,
        state,
        log,
    })
}

/// An approved Terraform step.
pub struct ApplyJob<'a> {
    pub plan_id: &'a str,
    pub operation: TerraformOp,
    /// The saved plan the approval covers; None for plans made without one (then Terraform
    /// plans again right before applying).
    pub saved_plan: Option<&'a [u8]>,
    /// The state version the plan was made against. Local state is checked before apply
    /// starts (under the stack lock); remote state is checked here, once the backend is
    /// initialised.
    pub expected_state: Option<&'a StateVersion>,
}

/// `init → apply <saved plan>` (or `init → plan -out → apply` without one), then outputs.
pub async fn apply(
    ws: &Workspace<'_>,
    job: ApplyJob<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    ws.prepare(job.saved_plan)?;
    let mut log = String::new();
    let init = ws.init(&mut log, sink, &mut cancel).await?;
    if init.cancelled || init.code != Some(0) {
        return Ok(Outcome::failed(log, init.code, init.cancelled));
    }
    if let (StateBackend::S3 { .. }, Some(expected)) = (ws.backend, job.expected_state)
        && let Some(now) = ws.pulled_version().await
        && &now != expected
    {
        log.push_str(&format!(
            "opsdeck: {STALE}: plan {} was made against {} and the state is now at {}; nothing was applied\n",
            job.plan_id,
            expected.describe(),
            now.describe()
        ));
        return Ok(Outcome::failed(log, None, false));
    }
    if job.saved_plan.is_none() {
        let planned = ws
            .plan_to_file(job.operation, &mut log, sink, &mut cancel)
            .await?;
        if planned.cancelled || planned.code != Some(0) {
            return Ok(Outcome::failed(log, planned.code, planned.cancelled));
        }
    }
    progress(sink, "terraform apply");
    let applied = ws
        .run(
            &[
                "apply",
                "-input=false",
                "-no-color",
                "-lock-timeout=30s",
                SAVED_PLAN,
            ],
            &mut log,
            sink,
            &mut cancel,
        )
        .await?;
    if applied.output.contains("Saved plan is stale") {
        log.push_str(&format!(
            "opsdeck: {STALE} (plan {}: the stack's state was changed by another apply after this plan was made)\n",
            job.plan_id
        ));
    }
    if applied.cancelled || applied.code != Some(0) {
        return Ok(Outcome::failed(log, applied.code, applied.cancelled));
    }
    let outputs = ws
        .output(&["output", "-json", "-no-color"])
        .await
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .map(|mut v| {
            mask_outputs(&mut v);
            v
        });
    Ok(Outcome {
        success: true,
        cancelled: false,
        exit_code: Some(0),
        log,
        outputs,
    })
}

/// Says a phase begins: as progress, and as the phase what a watcher reports waiting for.
fn progress(sink: Sink<'_>, message: &str) {
    sink(AgentEvent::Progress {
        agent: AgentKind::Infra,
        message: message.to_string(),
    });
    sink(AgentEvent::ToolPhase {
        agent: AgentKind::Infra,
        phase: message.to_string(),
    });
}

/// Output that means Terraform could not get a provider (offline, registry unreachable, no
/// mirror), as opposed to a broken configuration.
fn is_install_failure(output: &str) -> bool {
    [
        "Failed to query available provider packages",
        "Failed to install provider",
        "could not connect to registry",
        "Failed to resolve provider packages",
        "Incompatible provider version",
        "Inconsistent dependency lock file",
    ]
    .iter()
    .any(|m| output.contains(m))
}

/// The first `Error: ...` line and the sentence that follows it, in one line.
pub fn first_error(output: &str) -> String {
    let mut lines = output.lines().map(str::trim);
    let Some(head) = lines.find(|l| l.starts_with("Error:")) else {
        return output
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no output")
            .to_string();
    };
    let detail: Vec<&str> = lines
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .take(3)
        .collect();
    let mut msg = head.trim_start_matches("Error:").trim().to_string();
    if !detail.is_empty() {
        msg.push_str(": ");
        msg.push_str(&detail.join(" "));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_block_is_rendered_from_the_setting() {
        let local = StateBackend::Local {
            path: "/data/stacks/web/terraform.tfstate".into(),
        };
        let hcl = local.override_hcl(Path::new("/data/workspaces/p-1/step1"));
        assert!(hcl.contains("backend \"local\""), "{hcl}");
        assert!(
            hcl.contains("path = \"../../../stacks/web/terraform.tfstate\""),
            "{hcl}"
        );
        assert_eq!(local.describe(), "local");
        let s3 = StateBackend::S3 {
            bucket: "acme-state".into(),
            key: "opsdeck/state/acme/web/terraform.tfstate".into(),
            region: "eu-west-1".into(),
            dynamodb_table: None,
            endpoint: None,
        };
        let hcl = s3.override_hcl(Path::new("/data/workspaces/p-1/step1"));
        assert!(hcl.contains("backend \"s3\""), "{hcl}");
        assert!(hcl.contains("use_lockfile = true"), "{hcl}");
        assert!(!hcl.contains("endpoints"), "{hcl}");
        assert_eq!(
            s3.describe(),
            "s3://acme-state/opsdeck/state/acme/web/terraform.tfstate"
        );
    }

    #[test]
    fn first_error_is_one_line() {
        let out = "Initializing...\n\nError: Failed to query available provider packages\n\nCould not retrieve the list of available versions for provider hashicorp/aws:\ncould not connect to registry.terraform.io\n\nmore\n";
        let e = first_error(out);
        assert!(
            e.starts_with("Failed to query available provider packages: Could not retrieve"),
            "{e}"
        );
        assert!(is_install_failure(out));
    }
}
