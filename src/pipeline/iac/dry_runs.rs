//! The dry runs made while planning: `terraform plan -out` + `show -json`, and
//! `ansible-playbook --syntax-check` then `--check --diff`, side by side; what they produce
//! becomes artifacts, resource changes, dry-run records and gates of the plan.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::*;
use crate::aws::calls::CallBoard;
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::exec::terraform::{self, PlanResult};
use crate::exec::{self, ansible};
use crate::intent::AgentKind;
use crate::plan::{
    ArtifactKind, ArtifactRef, ChangeAction, DryRun, DryRunStatus, Gate, GateResult, Inventory,
    Plan, Step, StepKind, TerraformOp, inventory,
};
use crate::redact::redact;

/// A person's cancel while dry runs run (`requests().cancel_running()`): each step's tool is
/// stopped (`exec::block_on_until`), and what was stopped — which step, in which phase, how far
/// in — is what the cancelled request says.
struct Stops<'a> {
    board: &'a CallBoard,
    /// Each step's current tool phase (`ansible-playbook --check`) and since when.
    phases: Mutex<BTreeMap<usize, (String, Instant)>>,
    /// The steps whose tool a cancel stopped, with their phase and seconds in.
    stopped: Mutex<BTreeMap<usize, (String, f64)>>,
}

impl Stops<'_> {
    fn noted(&self, step: usize, e: &AgentEvent) {
        if let AgentEvent::ToolPhase { phase, .. } = e {
            self.phases
                .lock()
                .unwrap()
                .insert(step, (phase.clone(), Instant::now()));
        }
    }

    /// Runs a step's read-only tool until it ends, the timeout passes or the request is
    /// cancelled; a cancel is noted against the step.
    fn run<F, T>(
        &self,
        step: usize,
        timeout: Duration,
        fut: impl FnOnce(tokio::sync::watch::Receiver<bool>) -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = T>,
    {
        let ran = exec::block_on_until(timeout, self.board.cancelled(), fut)?;
        if ran.stopped {
            let (phase, secs) = match self.phases.lock().unwrap().get(&step) {
                Some((p, since)) => (p.clone(), since.elapsed().as_secs_f64()),
                None => ("its tool".to_string(), 0.0),
            };
            self.stopped
                .lock()
                .unwrap()
                .entry(step)
                .or_insert((phase, secs));
        }
        Ok(ran.out)
    }

    /// The cancelled request's error, when a cancel came while (or before) the dry runs ran.
    fn cancelled(&self) -> Option<Error> {
        let stopped = self.stopped.lock().unwrap();
        if stopped.is_empty() && !self.board.is_cancelled() {
            return None;
        }
        let what = stopped
            .iter()
            .map(|(step, (phase, secs))| format!("step {step} ({phase}, {secs:.1} s in)"))
            .collect::<Vec<_>>();
        Some(Error::Cancelled(if what.is_empty() {
            "the request was cancelled before its dry runs ended; no plan was stored".to_string()
        } else {
            format!(
                "stopped the dry run of {}; no plan was stored",
                what.join(" and ")
            )
        }))
    }
}

/// One step's dry run, with what it needs from the plan around it.
#[derive(Clone, Copy)]
struct DryRunStep<'a> {
    plan_id: &'a str,
    /// The step's position in the plan, from 1.
    step: usize,
    /// The plan's files (artifacts with their bytes).
    files: &'a [(ArtifactRef, Vec<u8>)],
    /// Whether the tool's output streams to the sink (one step) or only progress does.
    stream: bool,
    /// The files are hand-written: without a sandbox they run only when the tenant allows it.
    handwritten: bool,
    sink: Sink<'a>,
    stops: &'a Stops<'a>,
}

impl Deck {
    /// The dry runs of a plan's steps, run side by side (a hybrid plan's `terraform plan` and
    /// `ansible-playbook --syntax-check` overlap). Adds what they produce to the plan: artifacts,
    /// Terraform's own resource changes, the dry-run records and their gates. A cancel of the
    /// request stops every step's tool and returns [`Error::Cancelled`] naming what it stopped;
    /// the plan's workspace goes with it (nothing was stored).
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
        let stops = Stops {
            board: self.aws.calls(),
            phases: Mutex::default(),
            stopped: Mutex::default(),
        };
        let outcomes: Vec<Result<DryRunOutcome>> = std::thread::scope(|scope| {
            let handles: Vec<_> = runnable
                .iter()
                .map(|(n, step)| {
                    let stops = &stops;
                    let plan_id = &plan_id;
                    scope.spawn(move || {
                        let n = *n;
                        let noting = |e: AgentEvent| {
                            stops.noted(n, &e);
                            sink(e)
                        };
                        let dry = DryRunStep {
                            plan_id,
                            step: n,
                            files,
                            stream,
                            handwritten,
                            sink: &noting,
                            stops,
                        };
                        match &step.kind {
                            StepKind::Terraform { stack, operation } => {
                                self.terraform_dry_run(&dry, stack, *operation)
                            }
                            StepKind::Ansible {
                                playbook,
                                inventory,
                                vars,
                                ..
                            } => self.ansible_dry_run(&dry, playbook, inventory, vars.as_deref()),
                            StepKind::Aws { .. } => {
                                Err(Error::input("no dry run for AWS API steps"))
                            }
                        }
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
        if let Some(cancelled) = stops.cancelled() {
            // Nothing of the plan is kept: its workspace (the tools' files) goes now.
            let dir = self.store.workspace_dir(&self.tenant.name, &plan_id)?;
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(path = %dir.display(), error = %e, "could not remove the cancelled plan's workspace");
            }
            return Err(cancelled);
        }
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

    fn terraform_dry_run(
        &self,
        dry: &DryRunStep<'_>,
        stack: &str,
        operation: TerraformOp,
    ) -> Result<DryRunOutcome> {
        let DryRunStep {
            plan_id,
            step,
            files,
            stream,
            handwritten,
            sink,
            stops,
        } = *dry;
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
        let result = stops.run(step, timeout, |cancel| {
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

    fn ansible_dry_run(
        &self,
        dry: &DryRunStep<'_>,
        playbook: &str,
        inventory: &Inventory,
        vars: Option<&str>,
    ) -> Result<DryRunOutcome> {
        let DryRunStep {
            plan_id,
            step,
            files,
            stream,
            handwritten,
            sink,
            stops,
        } = *dry;
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
                    inventory::render_inventory(
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
            extra_vars: vars,
            stream,
            confinement: &confinement,
        };
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let syntax = stops.run(step, timeout, |cancel| {
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
        if stops.board.is_cancelled() {
            // Cancelled during the syntax check: the check run is not started.
            return Ok(unavailable(vec!["cancelled".into()]));
        }
        let checked = stops.run(step, timeout, |cancel| ansible::check(&ws, sink, cancel))??;
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
}
