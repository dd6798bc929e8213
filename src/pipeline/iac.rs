//! Infrastructure and configuration as code inside the pipeline: the dry runs made while
//! planning (`terraform plan -out` + `show -json`, `ansible-playbook --syntax-check` and
//! `--check --diff`), stack locks, the state-version check before apply, the Terraform and
//! Ansible step runners, and breaking a stale lock (audited).
//!
//! What an approval binds to, per step (also in docs/iac.md):
//! - Terraform planned: the configuration files, the saved plan (its bytes are an artifact, so
//!   its hash is in the plan hash) and the state version it was made against.
//! - Terraform unavailable while planning (no binary, providers not installable, stack locked):
//!   the configuration files and the state version; Terraform plans again right before apply.
//! - Ansible: the playbook and the inventory (exactly these hosts), or for a hybrid plan the
//!   rule that takes the hosts from the Terraform step's outputs.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::runs::hostname;
use super::{Deck, RequestOptions, Submission};
use crate::agents::{AgentEvent, Sink};
use crate::approval::{PlanRecord, State};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::exec::terraform::{self, PlanResult, StateBackend};
use crate::exec::{self, ansible};
use crate::intent::AgentKind;
use crate::plan::{
    ArtifactKind, ArtifactRef, ChangeAction, DryRun, DryRunStatus, Gate, GateResult, Inventory,
    Plan, StateVersion, Step, StepKind, TerraformOp,
};
use crate::redact::redact;
use crate::store::{StackLock, Store};
use crate::tenant::{Role, mfa};

/// A stack lock held by this process; released when dropped.
pub(crate) struct StackLockGuard<'a> {
    store: &'a dyn Store,
    lock: StackLock,
}

impl Drop for StackLockGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) =
            self.store
                .unlock_stack(&self.lock.tenant, &self.lock.stack, &self.lock.lock_id)
        {
            tracing::warn!(stack = %self.lock.stack, error = %e, "releasing the stack lock failed");
        }
    }
}

/// One stack in full, for `opsdeck stacks show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackDetail {
    pub name: String,
    pub record: Option<crate::store::StackRecord>,
    /// `local` or `s3://bucket/key`.
    pub backend: String,
    pub state: Option<StateVersion>,
    /// Resource instances in the state (`aws_instance.this[0]`).
    pub resources: Vec<String>,
    pub lock: Option<StackLock>,
}

/// Resource instance addresses in a Terraform state document.
fn state_resources(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in state
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mode = r.get("mode").and_then(Value::as_str).unwrap_or("managed");
        let base = format!(
            "{}{}{}.{}",
            r.get("module")
                .and_then(Value::as_str)
                .map(|m| format!("{m}."))
                .unwrap_or_default(),
            if mode == "data" { "data." } else { "" },
            r.get("type").and_then(Value::as_str).unwrap_or("?"),
            r.get("name").and_then(Value::as_str).unwrap_or("?")
        );
        for inst in r
            .get("instances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(match inst.get("index_key") {
                Some(Value::Number(n)) => format!("{base}[{n}]"),
                Some(Value::String(k)) => format!("{base}[{}]", Value::String(k.clone())),
                _ => base.clone(),
            });
        }
    }
    out
}

/// A file a dry run adds to the plan.
pub(crate) struct NewArtifact {
    pub name: String,
    pub kind: ArtifactKind,
    pub bytes: Vec<u8>,
}

/// What one step's dry run produced.
pub(crate) struct DryRunOutcome {
    pub dry_run: DryRun,
    pub artifacts: Vec<NewArtifact>,
    /// Terraform's own per-resource changes, replacing the template-derived list.
    pub changes: Option<Vec<crate::plan::ResourceChange>>,
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Artifact names of a step's dry-run files: plain for step 1, prefixed after.
fn step_name(step: usize, name: &str) -> String {
    if step == 1 {
        name.to_string()
    } else {
        format!("step{step}-{name}")
    }
}

impl Deck {
    /// Where a stack's Terraform state lives: the `exec.state` setting (S3 with Terraform's
    /// locking), else a file beside the stack in the store. The seam the shared backend fills.
    pub fn state_backend(&self, stack: &str) -> Result<StateBackend> {
        let s = &self.config.exec.state;
        if s.backend == "s3" {
            let prefix = s.key_prefix.trim_matches('/');
            return Ok(StateBackend::S3 {
                bucket: s.bucket.clone(),
                key: format!(
                    "{}{}/{stack}/terraform.tfstate",
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!("{prefix}/")
                    },
                    self.tenant.name
                ),
                region: s.region.clone(),
                dynamodb_table: (!s.dynamodb_table.is_empty()).then(|| s.dynamodb_table.clone()),
                endpoint: (!s.endpoint.is_empty()).then(|| s.endpoint.clone()),
            });
        }
        Ok(StateBackend::Local {
            path: self
                .store
                .stack_state_dir(&self.tenant.name, stack)?
                .join("terraform.tfstate"),
        })
    }

    /// Takes a stack's lock for `operation` (`plan` or `apply`) of a plan: the guard, or who
    /// holds it.
    pub(crate) fn lock_stack(
        &self,
        stack: &str,
        plan_id: &str,
        operation: &str,
    ) -> Result<std::result::Result<StackLockGuard<'_>, StackLock>> {
        let lock = StackLock {
            tenant: self.tenant.name.clone(),
            stack: stack.to_string(),
            lock_id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            plan_id: plan_id.to_string(),
            user: self.identity.user.clone(),
            host: hostname(),
            pid: std::process::id(),
            acquired_at: self.clock.iso(),
        };
        Ok(match self.store.try_lock_stack(&lock)? {
            None => Ok(StackLockGuard {
                store: self.store.as_ref(),
                lock,
            }),
            Some(holder) => Err(holder),
        })
    }

    /// A stack as `opsdeck stacks show` tells it: the record, where its state is and which
    /// version, the resources in the state, and who holds its lock.
    pub fn stack_detail(&self, stack: &str) -> Result<StackDetail> {
        crate::agents::infra::validate_stack_name(stack).or_else(|e| {
            // Hand-submitted stacks may have other names the store accepts; unknown ones are
            // reported as not found below.
            if self.store.get_stack(&self.tenant.name, stack)?.is_some() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let record = self.store.get_stack(&self.tenant.name, stack)?;
        let lock = self.stack_lock(stack)?;
        let backend = self.state_backend(stack)?;
        let state = backend.read_local_version()?;
        let resources = match &backend {
            StateBackend::Local { path } => std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .map(|v| state_resources(&v))
                .unwrap_or_default(),
            StateBackend::S3 { .. } => Vec::new(),
        };
        if record.is_none() && lock.is_none() && state.as_ref().is_none_or(|s| s.serial.is_none()) {
            return Err(Error::not_found(
                "stack",
                stack,
                format!("tenant {}; `opsdeck stacks` lists them", self.tenant.name),
            ));
        }
        Ok(StackDetail {
            name: stack.to_string(),
            record,
            backend: backend.describe(),
            state,
            resources,
            lock,
        })
    }

    /// Who holds a stack now, if anyone.
    pub fn stack_lock(&self, stack: &str) -> Result<Option<StackLock>> {
        self.store.stack_lock(&self.tenant.name, stack)
    }

    /// Breaks a stack's lock (a stale one left by a process that crashed): registered admins
    /// and approvers only, with a reason and a TOTP code; audited with who held it.
    pub fn break_stack_lock(
        &self,
        stack: &str,
        reason: &str,
        totp: Option<&str>,
    ) -> Result<StackLock> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let what = format!("break the lock of stack {stack}");
        let refuse = |why: String| -> Result<StackLock> {
            let mut ev = self.event(&request_id, EventKind::AccessDenied, Status::Rejected);
            ev.message = Some(format!("{what}: {}", redact(&why)));
            self.append(&[ev])?;
            Err(Error::refused(why))
        };
        let reason = redact(reason.trim());
        if reason.is_empty() {
            return Err(Error::input(
                "breaking a lock needs a reason (--reason \"...\"): it is kept in the audit trail",
            ));
        }
        let Some(user) = self
            .store
            .get_user(&self.tenant.name, &self.identity.user)?
        else {
            return refuse(format!(
                "{} is not a registered user of tenant {}; only admins and approvers break stack locks",
                self.identity.user, self.tenant.name
            ));
        };
        if !user.has_any(&[Role::Admin, Role::Approver]) {
            return refuse(format!(
                "{what} needs the admin or approver role; {} has neither",
                user.name
            ));
        }
        let Some(held) = self.stack_lock(stack)? else {
            return Err(Error::not_found(
                "lock",
                stack,
                format!("stack {stack} is not locked; nothing to break"),
            ));
        };
        let now = self.clock.unix().max(0) as u64;
        if let Err(e) = self
            .store
            .update_user(&self.tenant.name, &user.name, &mut |u| {
                mfa::verify(u, totp, now)
            })
        {
            return refuse(e.to_string());
        }
        let removed = self
            .store
            .break_stack_lock(&self.tenant.name, stack)?
            .unwrap_or(held);
        let mut ev = self.event(&request_id, EventKind::LockBroken, Status::Completed);
        ev.plan_id = Some(removed.plan_id.clone());
        ev.approval_metadata = Some(json!({
            "stack": stack,
            "brokenBy": user.name,
            "roles": user.roles,
            "mfa": "totp",
            "reason": reason,
            "holder": removed,
        }));
        ev.message = Some(format!(
            "lock of stack {stack} broken by {}: {reason} (it was held by {})",
            user.name,
            removed.describe()
        ));
        self.append(&[ev])?;
        Ok(removed)
    }

    /// The dry runs of a plan's steps, run side by side (a hybrid plan's `terraform plan` and
    /// `ansible-playbook --syntax-check` overlap). Adds what they produce to the plan: artifacts,
    /// Terraform's own resource changes, the dry-run records and their gates.
    pub(crate) fn dry_runs(
        &self,
        plan: &mut Plan,
        files: &[(ArtifactRef, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<()> {
        let runnable: Vec<(usize, &Step)> = plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s.kind, StepKind::Aws { .. }))
            .map(|(i, s)| (i + 1, s))
            .collect();
        if runnable.is_empty() {
            return Ok(());
        }
        // One step streams its tool's output; several would interleave, so they report progress.
        let stream = runnable.len() == 1;
        let plan_id = plan.plan_id.clone();
        let handwritten = plan.is_handwritten();
        let outcomes: Vec<Result<DryRunOutcome>> = std::thread::scope(|scope| {
            let handles: Vec<_> = runnable
                .iter()
                .map(|(n, step)| {
                    let plan_id = &plan_id;
                    scope.spawn(move || match &step.kind {
                        StepKind::Terraform { stack, operation } => self.terraform_dry_run(
                            plan_id,
                            *n,
                            stack,
                            *operation,
                            files,
                            (stream, handwritten),
                            sink,
                        ),
                        StepKind::Ansible {
                            playbook,
                            inventory,
                            ..
                        } => self.ansible_dry_run(
                            plan_id,
                            *n,
                            playbook,
                            inventory,
                            files,
                            (stream, handwritten),
                            sink,
                        ),
                        StepKind::Aws { .. } => Err(Error::input("no dry run for AWS API steps")),
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Execution("a dry run panicked".into())))
                })
                .collect()
        });
        for ((n, step), outcome) in runnable.iter().zip(outcomes) {
            // A dry run that could not even start (a workspace that cannot be written, ...) is
            // reported on the plan like a missing tool; the request is never lost over it.
            let o = outcome.unwrap_or_else(|e| DryRunOutcome {
                dry_run: DryRun {
                    step: *n,
                    tool: match step.kind {
                        StepKind::Terraform { .. } => "terraform".into(),
                        _ => "ansible-playbook".into(),
                    },
                    status: DryRunStatus::Unavailable,
                    summary: "no dry run".into(),
                    notes: vec![format!("the dry run could not run: {e}")],
                    binds: "the plan's files as listed (their hashes)".into(),
                    state: None,
                    hosts: Vec::new(),
                },
                artifacts: Vec::new(),
                changes: None,
            });
            for a in o.artifacts {
                let sha = self.store.put_artifact(&self.tenant.name, &a.bytes)?;
                plan.artifacts.push(ArtifactRef {
                    name: a.name,
                    kind: a.kind,
                    sha256: sha,
                    size: a.bytes.len() as u64,
                });
            }
            if let Some(changes) = o.changes {
                plan.resources = changes;
            }
            let d = &o.dry_run;
            plan.gates.push(Gate {
                rule: format!(
                    "dry_run.{}",
                    if d.tool == "terraform" {
                        "terraform"
                    } else {
                        "ansible"
                    }
                ),
                result: match d.status {
                    // A check run that failed somewhere will likely fail there for real.
                    DryRunStatus::Checked if d.hosts.iter().any(|h| h.failed > 0) => {
                        GateResult::Warn
                    }
                    DryRunStatus::Planned | DryRunStatus::Checked => GateResult::Pass,
                    DryRunStatus::SyntaxChecked | DryRunStatus::Unavailable => GateResult::Info,
                    DryRunStatus::Failed => GateResult::Deny,
                },
                reason: match d.notes.first() {
                    Some(n)
                        if d.status != DryRunStatus::Planned
                            && d.status != DryRunStatus::Checked
                            || d.hosts.iter().any(|h| h.failed > 0) =>
                    {
                        format!("step {}: {}: {n}", d.step, d.summary)
                    }
                    _ => format!("step {}: {}", d.step, d.summary),
                },
            });
            plan.dry_runs.push(o.dry_run);
        }
        plan.dry_runs.sort_by_key(|d| d.step);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn terraform_dry_run(
        &self,
        plan_id: &str,
        step: usize,
        stack: &str,
        operation: TerraformOp,
        files: &[(ArtifactRef, Vec<u8>)],
        (stream, handwritten): (bool, bool),
        sink: Sink<'_>,
    ) -> Result<DryRunOutcome> {
        let backend = self.state_backend(stack)?;
        let tf_files: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Terraform)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let config_hash = crate::plan::sha256_hex(
            &serde_json::to_vec(
                &files
                    .iter()
                    .filter(|(a, _)| a.kind == ArtifactKind::Terraform)
                    .map(|(a, _)| (&a.name, &a.sha256))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
        );
        let fallback = |status: DryRunStatus, notes: Vec<String>, log: Option<String>| {
            let state = backend.read_local_version().ok().flatten();
            let binds = format!(
                "the Terraform configuration (files hash {}){}; Terraform plans again right before applying",
                short(&config_hash),
                state
                    .as_ref()
                    .map(|s| format!(" and {}", s.describe()))
                    .unwrap_or_default()
            );
            DryRunOutcome {
                dry_run: DryRun {
                    step,
                    tool: "terraform".into(),
                    status,
                    summary: if status == DryRunStatus::Failed {
                        "terraform could not plan this configuration".into()
                    } else {
                        "no terraform plan: resources as the configuration declares them".into()
                    },
                    notes,
                    binds,
                    state,
                    hosts: Vec::new(),
                },
                artifacts: log
                    .map(|l| NewArtifact {
                        name: step_name(step, terraform::PLAN_TEXT),
                        kind: ArtifactKind::DryRun,
                        bytes: redact(&l).into_bytes(),
                    })
                    .into_iter()
                    .collect(),
                changes: None,
            }
        };
        let Some(bin) = exec::find_binary(&self.config.exec.terraform) else {
            return Ok(fallback(
                DryRunStatus::Unavailable,
                vec![format!(
                    "terraform is not installed (`{}` is not on PATH; set exec.terraform or OPSDECK_TERRAFORM)",
                    self.config.exec.terraform
                )],
                None,
            ));
        };
        let _guard = match self.lock_stack(stack, plan_id, "plan")? {
            Ok(g) => g,
            Err(holder) => {
                return Ok(fallback(
                    DryRunStatus::Unavailable,
                    vec![format!(
                        "stack {stack} is locked by the {}; no terraform plan was made (ask again once it is released)",
                        holder.describe()
                    )],
                    None,
                ));
            }
        };
        let dir = self.step_workspace(plan_id, step)?;
        let cache = self.plugin_cache()?;
        let confinement = self.terraform_confinement(handwritten, &backend, &cache);
        let ws = terraform::Workspace {
            binary: &bin,
            dir: &dir,
            files: &tf_files,
            backend: &backend,
            plugin_cache: Some(&cache),
            provider_mirror: self.provider_mirror(),
            stream,
            confinement: &confinement,
        };
        sink(AgentEvent::Progress {
            agent: AgentKind::Infra,
            message: format!("terraform plan of stack {stack} (dry run)"),
        });
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let result = exec::block_on_with_timeout(timeout, |cancel| {
            terraform::plan(&ws, operation, sink, cancel)
        })??;
        Ok(match result {
            PlanResult::Planned {
                saved_plan,
                json,
                text,
                changes,
                state,
                log: _,
            } => {
                let sha = crate::plan::sha256_hex(&saved_plan);
                let mut notes: Vec<String> = changes
                    .iter()
                    .filter(|c| c.action == ChangeAction::Replace)
                    .map(|c| format!("{} will be REPLACED (destroyed and created again)", c.address))
                    .collect();
                if changes.iter().any(|c| c.action == ChangeAction::Delete) {
                    notes.push(format!(
                        "destroys {} resource(s)",
                        changes.iter().filter(|c| c.action == ChangeAction::Delete).count()
                    ));
                }
                let binds = format!(
                    "the saved plan {} (sha256 {}) made against {}",
                    terraform::SAVED_PLAN,
                    short(&sha),
                    state
                        .as_ref()
                        .map(|s| s.describe())
                        .unwrap_or_else(|| format!("{} state", backend.describe()))
                );
                DryRunOutcome {
                    dry_run: DryRun {
                        step,
                        tool: "terraform".into(),
                        status: DryRunStatus::Planned,
                        summary: terraform::summarize(&changes),
                        notes,
                        binds,
                        state,
                        hosts: Vec::new(),
                    },
                    artifacts: vec![
                        NewArtifact {
                            name: step_name(step, terraform::SAVED_PLAN),
                            kind: ArtifactKind::TerraformPlan,
                            bytes: saved_plan,
                        },
                        NewArtifact {
                            name: step_name(step, terraform::PLAN_JSON),
                            kind: ArtifactKind::TerraformPlanJson,
                            bytes: redact(
                                &serde_json::to_string_pretty(&json).unwrap_or_default(),
                            )
                            .into_bytes(),
                        },
                        NewArtifact {
                            name: step_name(step, terraform::PLAN_TEXT),
                            kind: ArtifactKind::DryRun,
                            bytes: redact(&text).into_bytes(),
                        },
                    ],
                    changes: Some(changes),
                }
            }
            PlanResult::Unavailable { reason, log } => fallback(
                DryRunStatus::Unavailable,
                vec![
                    reason,
                    "the resources shown are those the configuration declares; approval binds to the configuration and the state version, and Terraform plans again right before applying".into(),
                ],
                Some(log),
            ),
            PlanResult::Failed { error, log } => {
                fallback(DryRunStatus::Failed, vec![error], Some(log))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn ansible_dry_run(
        &self,
        plan_id: &str,
        step: usize,
        playbook: &str,
        inventory: &Inventory,
        files: &[(ArtifactRef, Vec<u8>)],
        (stream, handwritten): (bool, bool),
        sink: Sink<'_>,
    ) -> Result<DryRunOutcome> {
        let find = |name: &str| files.iter().find(|(a, _)| a.name == name);
        let Some((pb, _)) = find(playbook) else {
            return Err(Error::input(format!(
                "step {step} runs playbook {playbook}, which is not among the plan's files"
            )));
        };
        let mut ws_files: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Ansible)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let (inventory_name, binds) = match inventory {
            Inventory::File { name } => {
                let Some((inv, _)) = find(name) else {
                    return Err(Error::input(format!(
                        "step {step} runs on inventory {name}, which is not among the plan's files"
                    )));
                };
                (
                    name.clone(),
                    format!(
                        "playbook {playbook} (sha256 {}) and inventory {name} (sha256 {}): exactly these hosts",
                        short(&pb.sha256),
                        short(&inv.sha256)
                    ),
                )
            }
            Inventory::StepOutputs {
                step: from,
                outputs,
            } => {
                let name = format!("step{step}-hosts.yml");
                ws_files.push((
                    name.clone(),
                    ansible::render_inventory(
                        "placeholder for the syntax check: the hosts come from a Terraform step",
                        &[],
                    )
                    .into_bytes(),
                ));
                (
                    name,
                    format!(
                        "playbook {playbook} (sha256 {}) on the hosts step {from} creates (the first non-empty of its outputs {})",
                        short(&pb.sha256),
                        outputs.join(", ")
                    ),
                )
            }
        };
        let unavailable = |notes: Vec<String>| DryRunOutcome {
            dry_run: DryRun {
                step,
                tool: "ansible-playbook".into(),
                status: DryRunStatus::Unavailable,
                summary: "not checked".into(),
                notes,
                binds: binds.clone(),
                state: None,
                hosts: Vec::new(),
            },
            artifacts: Vec::new(),
            changes: None,
        };
        let Some(bin) = exec::find_binary(&self.config.exec.ansible_playbook) else {
            return Ok(unavailable(vec![format!(
                "ansible-playbook is not installed (`{}` is not on PATH; set exec.ansible_playbook or OPSDECK_ANSIBLE_PLAYBOOK): the playbook was not syntax-checked",
                self.config.exec.ansible_playbook
            )]));
        };
        let dir = self.step_workspace(plan_id, step)?;
        let confinement = self.confinement(handwritten);
        let ws = ansible::Workspace {
            binary: &bin,
            dir: &dir,
            files: &ws_files,
            playbook,
            inventory: &inventory_name,
            stream,
            confinement: &confinement,
        };
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let syntax = exec::block_on_with_timeout(timeout, |cancel| {
            ansible::syntax_check(&ws, sink, cancel)
        })??;
        if let Err(error) = syntax {
            return Ok(DryRunOutcome {
                dry_run: DryRun {
                    step,
                    tool: "ansible-playbook".into(),
                    status: DryRunStatus::Failed,
                    summary: "the playbook does not pass --syntax-check".into(),
                    notes: vec![error],
                    binds,
                    state: None,
                    hosts: Vec::new(),
                },
                artifacts: Vec::new(),
                changes: None,
            });
        }
        let Inventory::File { .. } = inventory else {
            return Ok(DryRunOutcome {
                dry_run: DryRun {
                    step,
                    tool: "ansible-playbook".into(),
                    status: DryRunStatus::SyntaxChecked,
                    summary: "syntax checked; hosts come from the Terraform step".into(),
                    notes: vec![
                        "the hosts do not exist before the Terraform step runs, so there is no --check run while planning".into(),
                    ],
                    binds,
                    state: None,
                    hosts: Vec::new(),
                },
                artifacts: Vec::new(),
                changes: None,
            });
        };
        if !self.config.exec.ansible_check_at_plan {
            return Ok(DryRunOutcome {
                dry_run: DryRun {
                    step,
                    tool: "ansible-playbook".into(),
                    status: DryRunStatus::SyntaxChecked,
                    summary: "syntax checked".into(),
                    notes: vec![
                        "check runs while planning are turned off (exec.ansible_check_at_plan)"
                            .into(),
                    ],
                    binds,
                    state: None,
                    hosts: Vec::new(),
                },
                artifacts: Vec::new(),
                changes: None,
            });
        }
        let checked =
            exec::block_on_with_timeout(timeout, |cancel| ansible::check(&ws, sink, cancel))??;
        let mut notes = Vec::new();
        let unreachable: Vec<&str> = checked
            .hosts
            .iter()
            .filter(|h| h.unreachable > 0)
            .map(|h| h.host.as_str())
            .collect();
        if !unreachable.is_empty() {
            notes.push(format!(
                "unreachable while planning: {} (the check could not run there)",
                unreachable.join(", ")
            ));
        }
        let failed: Vec<&str> = checked
            .hosts
            .iter()
            .filter(|h| h.failed > 0)
            .map(|h| h.host.as_str())
            .collect();
        if !failed.is_empty() {
            notes.push(format!(
                "the check failed on {} (see {})",
                failed.join(", "),
                step_name(step, ansible::CHECK_OUTPUT)
            ));
        }
        if checked.cancelled {
            notes.push("the check did not finish in time".into());
        }
        let summary = if checked.hosts.is_empty() {
            "check run gave no host results".to_string()
        } else {
            ansible::describe_hosts(&checked.hosts).replace(" changed", " would change")
        };
        Ok(DryRunOutcome {
            dry_run: DryRun {
                step,
                tool: "ansible-playbook".into(),
                status: DryRunStatus::Checked,
                summary,
                notes,
                binds,
                state: None,
                hosts: checked.hosts,
            },
            artifacts: vec![NewArtifact {
                name: step_name(step, ansible::CHECK_OUTPUT),
                kind: ArtifactKind::DryRun,
                bytes: redact(&checked.output).into_bytes(),
            }],
            changes: None,
        })
    }

    /// A step's own working directory inside the plan's workspace.
    fn step_workspace(&self, plan_id: &str, step: usize) -> Result<PathBuf> {
        let dir = self
            .store
            .workspace_dir(&self.tenant.name, plan_id)?
            .join(format!("step{step}"));
        crate::store::fsutil::ensure_private_dir(&dir)?;
        Ok(dir)
    }

    /// What a tool run may reach besides its workspace (see `exec::sandbox`): nothing else of
    /// opsdeck's data.
    fn confinement(&self, handwritten: bool) -> exec::sandbox::Confinement {
        let mut protected = vec![self.paths.data.clone()];
        if let Some(dir) = self.paths.config_file.parent() {
            protected.push(dir.to_path_buf());
        }
        let paths = |list: &[String]| list.iter().map(PathBuf::from).collect::<Vec<_>>();
        exec::sandbox::Confinement {
            writable: paths(&self.config.exec.sandbox_write),
            readable: paths(&self.config.exec.sandbox_read),
            protected,
            handwritten,
            allow_unsandboxed: self.tenant.policy.allow_unsandboxed_runs,
            aws_environment: self.tenant.demo.then(|| {
                crate::demo::tool_environment(
                    self.aws.endpoint_url().unwrap_or(crate::demo::NOWHERE),
                    &self.tenant.default_region,
                )
            }),
        }
    }

    /// Terraform also writes the stack's local state and the tenant's provider cache, and reads
    /// the provider mirror.
    fn terraform_confinement(
        &self,
        handwritten: bool,
        backend: &StateBackend,
        cache: &std::path::Path,
    ) -> exec::sandbox::Confinement {
        let mut c = self.confinement(handwritten);
        if let StateBackend::Local { path } = backend
            && let Some(dir) = path.parent()
        {
            c.writable.push(dir.to_path_buf());
        }
        c.writable.push(cache.to_path_buf());
        c.readable
            .extend(self.provider_mirror().map(std::path::Path::to_path_buf));
        c
    }

    fn provider_mirror(&self) -> Option<&std::path::Path> {
        let m = &self.config.exec.provider_mirror;
        (!m.is_empty()).then(|| std::path::Path::new(m.as_str()))
    }

    /// Providers are downloaded once per tenant, not once per plan.
    fn plugin_cache(&self) -> Result<PathBuf> {
        let ws = self
            .store
            .workspace_dir(&self.tenant.name, "plugin-cache")?;
        Ok(ws)
    }

    /// Before an apply starts: takes the lock of every stack its Terraform steps change, and
    /// checks each state is still the version the plan was made against. Refusals are audited;
    /// a plan whose state moved on is marked failed (it can never run: re-plan).
    pub(crate) fn claim_stacks(&self, rec: &PlanRecord) -> Result<Vec<StackLockGuard<'_>>> {
        let id = &rec.plan.plan_id;
        let mut guards = Vec::new();
        for step in &rec.plan.steps {
            let StepKind::Terraform { stack, .. } = &step.kind else {
                continue;
            };
            if guards
                .iter()
                .any(|g: &StackLockGuard<'_>| &g.lock.stack == stack)
            {
                continue;
            }
            match self.lock_stack(stack, id, "apply")? {
                Ok(g) => guards.push(g),
                Err(holder) => {
                    // The same plan applied twice at once: say that, not just "locked".
                    let why = if &holder.plan_id == id && holder.operation == "apply" {
                        format!(
                            "plan {id} is already being applied by {} on host {} (pid {}) since {}",
                            holder.user, holder.host, holder.pid, holder.acquired_at
                        )
                    } else {
                        format!(
                            "stack {stack} is locked by the {}: wait for it to finish; if that process is gone, an admin or approver breaks the lock with `opsdeck stacks unlock {stack} --force --reason \"...\"`",
                            holder.describe()
                        )
                    };
                    let mut ev =
                        self.event(&rec.plan.request_id, EventKind::Failed, Status::Approved);
                    ev.plan_id = Some(id.clone());
                    ev.message = Some(format!("not started: {why}"));
                    self.append(&[ev])?;
                    return Err(Error::refused(why));
                }
            }
        }
        for (n, bound) in rec.plan.bound_states() {
            let Some(StepKind::Terraform { stack, .. }) =
                rec.plan.steps.get(n.saturating_sub(1)).map(|s| &s.kind)
            else {
                continue;
            };
            let backend = self.state_backend(stack)?;
            let Some(now) = backend.read_local_version()? else {
                // Remote state: Terraform's own saved-plan check refuses a stale plan.
                continue;
            };
            if &now != bound {
                self.mark_stale(rec, stack, bound, &now)?;
                return Err(Error::refused(format!(
                    "{} for plan {id}: stack {stack} was planned against {} and is now at {}; ask again for a new plan",
                    terraform::STALE,
                    bound.describe(),
                    now.describe()
                )));
            }
        }
        Ok(guards)
    }

    fn mark_stale(
        &self,
        rec: &PlanRecord,
        stack: &str,
        bound: &StateVersion,
        now: &StateVersion,
    ) -> Result<()> {
        let id = &rec.plan.plan_id;
        self.store.update_plan(&self.tenant.name, id, &mut |r| {
            if r.state == State::Approved {
                r.state = State::Failed;
                r.updated_at = self.clock.iso();
            }
            Ok(())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.message = Some(format!(
            "not started: {} (stack {stack}: planned against {}, now {})",
            terraform::STALE,
            bound.describe(),
            now.describe()
        ));
        self.append(&[ev])?;
        Ok(())
    }

    /// Runs an approved Terraform step: the saved plan when there is one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_terraform_step(
        &self,
        rec: &PlanRecord,
        n: usize,
        stack: &str,
        operation: TerraformOp,
        artifacts: &[(ArtifactRef, Vec<u8>)],
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<exec::Outcome> {
        let id = &rec.plan.plan_id;
        let Some(bin) = exec::find_binary(&self.config.exec.terraform) else {
            return Err(exec::missing_tool(
                "Terraform",
                &self.config.exec.terraform,
                "exec.terraform in config.toml or OPSDECK_TERRAFORM",
                id,
            ));
        };
        let backend = self.state_backend(stack)?;
        let files: Vec<(String, Vec<u8>)> = artifacts
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Terraform)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let saved_name = step_name(n, terraform::SAVED_PLAN);
        let saved = artifacts
            .iter()
            .find(|(a, _)| a.kind == ArtifactKind::TerraformPlan && a.name == saved_name)
            .map(|(_, b)| b.as_slice());
        let dir = self.step_workspace(id, n)?;
        let cache = self.plugin_cache()?;
        let confinement = self.terraform_confinement(rec.plan.is_handwritten(), &backend, &cache);
        let ws = terraform::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            backend: &backend,
            plugin_cache: Some(&cache),
            provider_mirror: self.provider_mirror(),
            stream: true,
            confinement: &confinement,
        };
        terraform::apply(
            &ws,
            terraform::ApplyJob {
                plan_id: id,
                operation,
                saved_plan: saved,
                expected_state: rec
                    .plan
                    .bound_states()
                    .into_iter()
                    .find(|(step, _)| *step == n)
                    .map(|(_, s)| s),
            },
            sink,
            cancel,
        )
        .await
    }

    /// Runs an approved Ansible step, on the plan's inventory or on the hosts an earlier
    /// Terraform step created (that inventory is stored and recorded with the run).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_ansible_step(
        &self,
        rec: &PlanRecord,
        n: usize,
        playbook: &str,
        inventory: &Inventory,
        artifacts: &[(ArtifactRef, Vec<u8>)],
        earlier: &serde_json::Map<String, Value>,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<exec::Outcome> {
        let id = &rec.plan.plan_id;
        let Some(bin) = exec::find_binary(&self.config.exec.ansible_playbook) else {
            return Err(exec::missing_tool(
                "ansible-playbook",
                &self.config.exec.ansible_playbook,
                "exec.ansible_playbook in config.toml or OPSDECK_ANSIBLE_PLAYBOOK",
                id,
            ));
        };
        let mut files: Vec<(String, Vec<u8>)> = artifacts
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Ansible)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let mut preface = String::new();
        let mut generated: Option<Value> = None;
        let inventory_name = match inventory {
            Inventory::File { name } => name.clone(),
            Inventory::StepOutputs { step, outputs } => {
                let Some(out) = earlier.get(&format!("step{step}")) else {
                    return Err(Error::Execution(format!(
                        "step {n} takes its hosts from step {step}, which produced no outputs"
                    )));
                };
                let (from, hosts) = ansible::hosts_from_outputs(out, outputs)?;
                let text = ansible::render_inventory(
                    &format!(
                        "Hosts for plan {id}, step {n}: Terraform output {from} of step {step}, read after it applied."
                    ),
                    &hosts,
                );
                let sha = self
                    .store
                    .put_artifact(&self.tenant.name, text.as_bytes())?;
                let name = format!("step{n}-inventory.yml");
                generated = Some(
                    json!({"name": name, "kind": ArtifactKind::Ansible, "sha256": sha,
                    "size": text.len(), "uri": self.store.artifact_uri(&self.tenant.name, &sha)}),
                );
                preface = format!(
                    "opsdeck: inventory {name} (sha256 {sha}, {}): {} host(s) from output {from} of step {step}\n{text}",
                    self.store.artifact_uri(&self.tenant.name, &sha),
                    hosts.len()
                );
                sink(AgentEvent::Progress {
                    agent: AgentKind::Config,
                    message: format!(
                        "{} host(s) from Terraform output {from}: {}",
                        hosts.len(),
                        hosts
                            .iter()
                            .map(|h| h.address.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                files.push((name.clone(), text.into_bytes()));
                name
            }
        };
        let dir = self.step_workspace(id, n)?;
        let confinement = self.confinement(rec.plan.is_handwritten());
        let ws = ansible::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            playbook,
            inventory: &inventory_name,
            stream: true,
            confinement: &confinement,
        };
        let mut outcome = ansible::run(&ws, sink, cancel).await?;
        outcome.log = format!("{preface}{}", outcome.log);
        if let (Some(inv), Some(Value::Object(o))) = (generated, outcome.outputs.as_mut()) {
            o.insert("inventory".into(), inv);
        }
        Ok(outcome)
    }

    /// What a step needs before anything runs, said up front.
    pub(crate) fn preflight_iac(&self, step: &Step, plan_id: &str) -> Result<()> {
        let (tool, configured, setting) = match &step.kind {
            StepKind::Terraform { .. } => (
                "Terraform",
                &self.config.exec.terraform,
                "exec.terraform in config.toml or OPSDECK_TERRAFORM",
            ),
            StepKind::Ansible { .. } => (
                "ansible-playbook",
                &self.config.exec.ansible_playbook,
                "exec.ansible_playbook in config.toml or OPSDECK_ANSIBLE_PLAYBOOK",
            ),
            StepKind::Aws { .. } => return Ok(()),
        };
        if exec::find_binary(configured).is_none() {
            return Err(exec::missing_tool(tool, configured, setting, plan_id));
        }
        Ok(())
    }
}

/// Adds `--inventory` to a classified request: only configuration requests take one, and a
/// hybrid request's hosts come from its Terraform.
pub(crate) fn with_inventory(
    mut intent: crate::intent::Intent,
    opts: &RequestOptions,
) -> Result<crate::intent::Intent> {
    // Only this request's flag names an inventory: never one carried over from an earlier
    // request's intent (follow-ups refine the previous intent).
    intent.params.remove("inventory");
    let Some(path) = &opts.inventory else {
        return Ok(intent);
    };
    if intent.agent != AgentKind::Config {
        return Err(Error::input(format!(
            "--inventory is for configuration requests (Ansible); this request goes to the {} agent{}",
            intent.agent,
            if intent.agents.contains(&AgentKind::Config) {
                ", and its hosts come from the Terraform it creates"
            } else {
                ""
            }
        )));
    }
    let abs = std::path::absolute(path)
        .map_err(|e| Error::io(format!("reading inventory {}", path.display()), e))?;
    if !abs.is_file() {
        return Err(Error::input(format!(
            "inventory {} is not a file",
            path.display()
        )));
    }
    intent
        .params
        .insert("inventory".into(), json!(abs.display().to_string()));
    intent.notes.push(format!(
        "hosts from the inventory given with --inventory ({})",
        path.display()
    ));
    Ok(intent)
}

/// The plan a submission makes: Terraform as a stack, a playbook on an inventory, or both (the
/// playbook on the hosts the Terraform creates).
pub(crate) fn submission(
    sub: &Submission,
) -> Result<(String, crate::intent::Intent, Result<crate::agents::Draft>)> {
    use crate::agents::{Draft, config, infra};
    let mut params = serde_json::Map::new();
    let (agent, agents, text) = match (&sub.terraform, &sub.playbook) {
        (Some(dir), pb) => {
            let Some(stack) = &sub.stack else {
                return Err(Error::input(
                    "give the stack name the Terraform is applied as (--stack NAME)",
                ));
            };
            params.insert("stack".into(), json!(stack));
            let mut text = format!("submit Terraform from {} as stack {stack}", dir.display());
            if let Some(pb) = pb {
                text.push_str(&format!(
                    ", then playbook {} on the hosts it creates",
                    pb.display()
                ));
            }
            let agents = if pb.is_some() {
                vec![AgentKind::Infra, AgentKind::Config]
            } else {
                vec![AgentKind::Infra]
            };
            (AgentKind::Infra, agents, text)
        }
        (None, Some(pb)) => (
            AgentKind::Config,
            vec![AgentKind::Config],
            format!(
                "submit playbook {} on the hosts in {}",
                pb.display(),
                sub.inventory
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(no inventory)".into())
            ),
        ),
        (None, None) => {
            return Err(Error::input(
                "submit a Terraform directory (with --stack NAME), a playbook (--playbook FILE --inventory FILE), or both",
            ));
        }
    };
    let intent = crate::intent::Intent {
        agent,
        agents,
        action: "apply".into(),
        confidence: 1.0,
        low_confidence: false,
        params: params.into_iter().collect(),
        evidence: Vec::new(),
        notes: vec![crate::plan::SUBMITTED_NOTE.into()],
        source: None,
    };
    let draft = (|| -> Result<Draft> {
        match (&sub.terraform, &sub.playbook) {
            (Some(dir), None) => infra::from_directory(dir, sub.stack.as_deref().unwrap_or("")),
            (Some(dir), Some(pb)) => {
                if sub.inventory.is_some() {
                    return Err(Error::input(
                        "the playbook runs on the hosts the Terraform creates; leave out --inventory",
                    ));
                }
                let mut d = infra::from_directory(dir, sub.stack.as_deref().unwrap_or(""))?;
                let (files, step) = config::from_playbook(pb, None, Some(1))?;
                if let Some(clash) = files
                    .iter()
                    .find(|f| d.files.iter().any(|t| t.name == f.name))
                {
                    return Err(Error::input(format!(
                        "{} is both a Terraform file and the playbook",
                        clash.name
                    )));
                }
                d.summary = format!("{}; then {}", d.summary, step.description);
                d.files.extend(files);
                d.steps.push(step);
                d.risk_reasons
                    .push("hand-written playbook: review every task".into());
                Ok(d)
            }
            (None, Some(pb)) => {
                let (files, step) = config::from_playbook(pb, sub.inventory.as_deref(), None)?;
                Ok(Draft {
                    summary: format!("run submitted {}", step.description),
                    stack: None,
                    region: None,
                    steps: vec![step],
                    files,
                    resources: Vec::new(),
                    mutates: true,
                    risk: crate::plan::Risk::Medium,
                    risk_reasons: vec!["hand-written playbook: review every task".into()],
                    cost: crate::plan::CostEstimate {
                        notes: vec!["no estimate for a hand-written playbook".into()],
                        ..crate::plan::CostEstimate::default()
                    },
                })
            }
            (None, None) => Err(Error::input("nothing to submit")),
        }
    })();
    Ok((text, intent, draft))
}
