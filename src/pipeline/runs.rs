//! Running an approved plan: every check again right before it runs, the steps in order
//! with live progress, the outcome and its log in the store and the trail; stacks.

use serde_json::{Value, json};
use tokio::sync::watch;

use super::{ApplyReport, Runs};
use crate::agents;
use crate::approval::{self, Execution, PlanRecord, State, rules};
use crate::audit::{AuditEvent, EventKind, Status};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome, Sink};
use crate::plan::{ArtifactKind, ArtifactRef, GateResult, Step, StepKind, TerraformOp};
use crate::redact::redact;
use crate::store::journal::RunOutcome;
use crate::store::{StackRecord, StackStatus};
use crate::tenant::Role;

/// What [`Runs::ready_to_run`] found: the plan as stored, its artifacts (checked against their
/// hashes), the hash they make, and the gates as they stand now.
struct Ready {
    stored: PlanRecord,
    artifacts: Vec<(ArtifactRef, Vec<u8>)>,
    hash: String,
    gates: Vec<crate::plan::Gate>,
}

/// One step of a run, with what it needs from the run around it.
pub(super) struct StepRun<'a> {
    pub rec: &'a PlanRecord,
    /// The step's position in the plan, from 1.
    pub n: usize,
    /// The plan's artifacts, checked against their hashes.
    pub artifacts: &'a [(ArtifactRef, Vec<u8>)],
    /// The outputs of the steps before it (e.g. the instances Terraform created, for a
    /// configuration step that follows).
    pub earlier: &'a serde_json::Map<String, Value>,
    pub sink: Sink<'a>,
    pub cancel: watch::Receiver<bool>,
}

impl Runs<'_> {
    /// Runs an approved plan. Everything is checked again right before it runs: state, expiry,
    /// the artifacts' hashes against the approved hash, the signed approval in the audit trail
    /// and the policy gates.
    pub async fn apply(
        &self,
        id: &str,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<ApplyReport> {
        self.apply_with_receipt(id, sink, cancel, None).await
    }

    /// [`Runs::apply`], with the identity receipt established just before (and shown to whoever
    /// started it) recorded in the `executing` event, so the trail says what the change was made
    /// as, not only who approved it.
    pub async fn apply_with_receipt(
        &self,
        id: &str,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
        receipt: Option<&super::IdentityReceipt>,
    ) -> Result<ApplyReport> {
        let id = self.approvals().resolve_plan_id(id)?;
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "apply plans",
        )?;
        self.refuse_if_read_only(&format!("apply plan {id}"), Some(&id))?;
        let ready = self.ready_to_run(&id)?;
        // Held until the run ends: a second apply on these stacks is refused meanwhile.
        let _stack_locks = self.claim_stacks(&ready.stored)?;
        let rec = self.start_execution(&ready, receipt)?;
        let _working = self.aws.calls().work();
        // What each step waits for (a tool phase, an AWS call) is reported as it waits.
        let waits = self.waits(rec.plan.agent, sink);
        let forward = |e: AgentEvent| waits.forward(e);
        let steps = waits.drive(self.run_steps(&rec, &ready.artifacts, &forward, cancel.clone()));
        // A cancel gives up the AWS call a step waits for at once (a hung call would otherwise
        // wait out the SDK's timeout); Terraform and Ansible steps stop through their tools.
        let has_aws = rec
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Aws { .. }));
        let (ran, abandoned) = if has_aws {
            self.abandoning_on_cancel(cancel, steps).await
        } else {
            (steps.await, None)
        };
        let (mut outcome, step_outputs) = ran?;
        let mut said = None;
        if let Some(calls) = abandoned.filter(|_| !outcome.success) {
            // The steps stopped because of the cancel, whatever their last call said.
            outcome.cancelled = true;
            let note = abandoned_note(&rec.plan, &calls);
            outcome
                .log
                .push_str(&format!("opsdeck: cancelled: {note}\n"));
            said = Some(note);
        }
        self.finish_execution(&rec, outcome, step_outputs, sink, said)
    }

    /// Every check an approved plan passes again right before it runs, in the order that gives
    /// the most useful answer; nothing has changed state when one refuses.
    fn ready_to_run(&self, id: &str) -> Result<Ready> {
        let id = id.to_string();
        let tenant = self.tenant.name.clone();
        self.demo_standin_running()?;
        self.reap_interrupted(&id)?;
        let stored = self.store.get_plan(&tenant, &id)?;
        let history = self.plan_history(&id)?;
        self.require_plan_in_trail(&stored, &format!("apply plan {id}"), &history)?;
        let artifacts = self.approvals().checked_artifacts(&stored.plan)?;
        let hash = stored.plan.compute_hash();
        let terraform_texts = super::gates::texts_of(ArtifactKind::Terraform, &artifacts);
        let ansible_texts = super::gates::texts_of(ArtifactKind::Ansible, &artifacts);
        // Approval state first: the most useful answer for a plan that is not ready.
        approval::check_runnable(&mut stored.clone(), &hash, self.clock.as_ref())?;
        // Approval rules may have tightened since the plan was approved.
        let now_req = rules::requirement(&stored.plan, &self.tenant.approvals);
        if !stored.break_glass() && (stored.approvals.len() as u32) < now_req.approvers {
            return Err(Error::refused(format!(
                "plan {id} now needs {} approvals under rule {} and has {}",
                now_req.approvers,
                now_req.rule,
                stored.approvals.len()
            )));
        }
        self.verify_approvals(&stored, &hash)?;
        let gates = self.gates(&stored.plan, &terraform_texts, &ansible_texts)?;
        if let Some(deny) = gates.iter().find(|g| g.result == GateResult::Deny) {
            return Err(Error::refused(format!(
                "plan {id} is now denied by policy ({}: {}); it will not run",
                deny.rule, deny.reason
            )));
        }
        // Pre-flight: say what is missing before anything changes state.
        if stored.plan.steps.is_empty() {
            return Err(Error::input(format!("plan {id} has no steps to run")));
        }
        for step in &stored.plan.steps {
            if let Err(err) = self.preflight(step, &id) {
                let mut ev =
                    self.event(&stored.plan.request_id, EventKind::Failed, Status::Approved);
                ev.plan_id = Some(id.clone());
                ev.message = Some(format!("not started: {err}"));
                self.append(&[ev])?;
                return Err(err);
            }
        }
        self.check_signed_approval(&stored, &hash, &history)?;
        Ok(Ready {
            stored,
            artifacts,
            hash,
            gates,
        })
    }

    /// Marks the plan executing (once more checking it is runnable, atomically) and audits it.
    fn start_execution(
        &self,
        ready: &Ready,
        receipt: Option<&super::IdentityReceipt>,
    ) -> Result<PlanRecord> {
        let Ready {
            stored,
            hash,
            gates,
            ..
        } = ready;
        let id = stored.plan.plan_id.clone();
        let tenant = self.tenant.name.clone();
        let host = hostname();
        let me = self.identity.user.clone();
        let rec = self.store.update_plan(&tenant, &id, &mut |r| {
            approval::check_runnable(r, hash, self.clock.as_ref())?;
            r.state = State::Executing;
            r.executions.push(Execution {
                started_at: self.clock.stamp(),
                started_by: me.clone(),
                host: host.clone(),
                pid: std::process::id(),
                finished_at: None,
                exit_code: None,
                log_uri: None,
                outcome: None,
            });
            r.updated_at = self.clock.stamp();
            Ok(())
        })?;
        let mut ev = self.event(
            &rec.plan.request_id,
            EventKind::Executing,
            Status::Executing,
        );
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.security_gates = serde_json::to_value(gates).ok();
        ev.identity_receipt = receipt.and_then(|r| serde_json::to_value(r).ok());
        ev.message = Some(
            rec.plan
                .steps
                .iter()
                .map(|s| s.description.as_str())
                .collect::<Vec<_>>()
                .join("; then "),
        );
        self.append(&[ev])?;
        Ok(rec)
    }

    /// The plan's steps in order; the first that fails or is cancelled stops the rest. Returns
    /// the combined outcome and each step's outputs.
    async fn run_steps(
        &self,
        rec: &PlanRecord,
        artifacts: &[(ArtifactRef, Vec<u8>)],
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<(Outcome, serde_json::Map<String, Value>)> {
        let id = rec.plan.plan_id.clone();
        let tenant = self.tenant.name.clone();
        let steps = rec.plan.steps.clone();
        let mut outcome = Outcome {
            success: true,
            cancelled: false,
            exit_code: None,
            log: String::new(),
            outputs: None,
        };
        let mut step_outputs = serde_json::Map::new();
        for (n, step) in steps.iter().enumerate() {
            if steps.len() > 1 {
                sink(AgentEvent::Progress {
                    agent: rec.plan.agent,
                    message: format!("step {}/{}: {}", n + 1, steps.len(), step.description),
                });
            }
            let run = StepRun {
                rec,
                n: n + 1,
                artifacts,
                earlier: &step_outputs,
                sink,
                cancel: cancel.clone(),
            };
            let run = self.run_step(&run, step).await;
            let o = match run {
                Ok(o) => o,
                Err(e) => Outcome {
                    success: false,
                    cancelled: false,
                    exit_code: None,
                    log: format!("opsdeck: {e}\n"),
                    outputs: None,
                },
            };
            if steps.len() > 1 {
                outcome.log.push_str(&format!(
                    "=== step {}/{}: {} ===\n",
                    n + 1,
                    steps.len(),
                    step.description
                ));
            }
            outcome.log.push_str(&o.log);
            outcome.exit_code = o.exit_code;
            outcome.cancelled = o.cancelled;
            outcome.success = o.success;
            if let Some(v) = &o.outputs {
                step_outputs.insert(format!("step{}", n + 1), v.clone());
                outcome.outputs = o.outputs.clone();
            }
            if o.success {
                if let StepKind::Terraform { stack, operation } = &step.kind {
                    self.store.put_stack(&StackRecord {
                        name: stack.clone(),
                        tenant: tenant.clone(),
                        region: rec.plan.region.clone(),
                        last_applied_plan: id.clone(),
                        artifacts: rec
                            .plan
                            .artifacts
                            .iter()
                            .filter(|a| a.kind == ArtifactKind::Terraform)
                            .cloned()
                            .collect(),
                        status: if *operation == TerraformOp::Destroy {
                            StackStatus::Destroyed
                        } else {
                            StackStatus::Active
                        },
                        updated_at: self.clock.stamp(),
                    })?;
                }
            } else {
                break;
            }
        }
        Ok((outcome, step_outputs))
    }

    /// Stores the run's log, records the final state on the plan and in the trail (with what
    /// AWS API steps verified afterwards), and tells the sink.
    fn finish_execution(
        &self,
        rec: &PlanRecord,
        mut outcome: Outcome,
        step_outputs: serde_json::Map<String, Value>,
        sink: Sink<'_>,
        abandoned: Option<String>,
    ) -> Result<ApplyReport> {
        let id = rec.plan.plan_id.clone();
        let tenant = self.tenant.name.clone();
        let steps = &rec.plan.steps;
        if steps.len() > 1 && !step_outputs.is_empty() {
            outcome.outputs = Some(Value::Object(step_outputs.clone()));
        }
        let log_sha =
            self.store
                .put_artifact_as(&tenant, ArtifactKind::Log, outcome.log.as_bytes())?;
        let log_uri = self.store.artifact_uri(&tenant, &log_sha);
        let final_state = if outcome.success {
            State::Succeeded
        } else if outcome.cancelled {
            State::Cancelled
        } else {
            State::Failed
        };
        let ended = RunOutcome {
            tenant: tenant.clone(),
            plan_id: id.clone(),
            state: final_state,
            finished_at: self.clock.stamp(),
            exit_code: outcome.exit_code,
            log_uri: Some(log_uri.clone()),
        };
        let rec = self.record_outcome(rec, &ended)?;
        let (kind, status) = match final_state {
            State::Succeeded => (EventKind::Completed, Status::Completed),
            State::Cancelled => (EventKind::Cancelled, Status::Cancelled),
            _ => (EventKind::Failed, Status::Failed),
        };
        let mut ev = self.event(&rec.plan.request_id, kind, status);
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.execution_logs = Some(log_uri.clone());
        ev.cost_impact = Some(rec.plan.cost.monthly_usd);
        ev.artifacts = vec![
            json!({"name": "execution.log", "kind": ArtifactKind::Log, "sha256": log_sha, "uri": log_uri}),
        ];
        // Inventories built during the run (from a Terraform step's outputs).
        ev.artifacts.extend(
            step_outputs
                .values()
                .filter_map(|o| o.get("inventory").cloned()),
        );
        ev.message = Some(match (outcome.exit_code, &abandoned) {
            (_, Some(note)) => format!("{}: {note}", final_state.as_str()),
            (Some(c), None) => format!("{} (exit {c})", final_state.as_str()),
            (None, None) => final_state.as_str().to_string(),
        });
        // What AWS API steps verified afterwards (instance health, command results) is part of
        // the signed record: stored as an artifact, its summary in the message.
        if rec
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Aws { .. }))
            && let Some(results) = &outcome.outputs
        {
            let text = redact(&serde_json::to_string_pretty(results).unwrap_or_default());
            let sha = self.store.put_artifact(&tenant, text.as_bytes())?;
            ev.artifacts
                .push(json!({"name": "results.json", "kind": ArtifactKind::Report,
                "sha256": sha, "uri": self.store.artifact_uri(&tenant, &sha)}));
            if let Some(summary) = results_summary(results)
                && let Some(m) = ev.message.as_mut()
            {
                m.push_str(&format!(": {}", redact(&summary)));
            }
        }
        let message = ev.message.clone().unwrap_or_default();
        self.append(&[ev])?;
        sink(AgentEvent::Finished {
            plan_id: id.clone(),
            success: outcome.success,
            cancelled: final_state == State::Cancelled,
        });
        Ok(ApplyReport {
            plan_id: id,
            state: final_state,
            success: outcome.success,
            cancelled: outcome.cancelled,
            exit_code: outcome.exit_code,
            log_uri: Some(log_uri),
            outputs: outcome.outputs,
            message,
        })
    }

    /// Records how the run ended on the plan. When the backend cannot take it (an outage that
    /// began while the steps ran) the outcome goes to the local journal instead and is recorded
    /// on the plan when the backend returns: what ran is never reported as interrupted.
    fn record_outcome(&self, rec: &PlanRecord, ended: &RunOutcome) -> Result<PlanRecord> {
        let id = &ended.plan_id;
        match self.store.update_plan(&self.tenant.name, id, &mut |r| {
            ended.record(r);
            Ok(())
        }) {
            Ok(rec) => Ok(rec),
            Err(e) if e.kind() == crate::error::Kind::Unavailable => {
                if self.store.journal_outcome(ended).is_err() {
                    return Err(e);
                }
                tracing::warn!(plan = %id, error = %e, "backend unreachable: the run's outcome is journaled locally");
                let mut local = rec.clone();
                ended.record(&mut local);
                Ok(local)
            }
            Err(e) => Err(e),
        }
    }

    /// What a step needs before anything runs (a binary on PATH, ...), said up front.
    pub(super) fn preflight(&self, step: &Step, plan_id: &str) -> Result<()> {
        match &step.kind {
            StepKind::Terraform { .. } | StepKind::Ansible { .. } => {
                self.preflight_iac(step, plan_id)
            }
            StepKind::Aws { .. } => Ok(()),
        }
    }

    /// Runs one step of an approved plan.
    async fn run_step(&self, run: &StepRun<'_>, step: &Step) -> Result<Outcome> {
        match &step.kind {
            StepKind::Terraform { stack, operation } => {
                self.run_terraform_step(run, stack, *operation).await
            }
            StepKind::Ansible {
                playbook,
                inventory,
                vars,
                ..
            } => {
                self.run_ansible_step(run, playbook, inventory, vars.as_deref())
                    .await
            }
            StepKind::Aws { .. } => {
                agents::execute(step, &self.aws, run.sink, run.cancel.clone()).await
            }
        }
    }

    /// The checks apply makes of a plan's approvals (each signature under the key registered
    /// then, membership and role then, member now, tenant, content hash, the approval in the
    /// trail), on their own: nothing runs, a failure is refused and audited as in apply.
    pub fn verify_plan_approvals(&self, id: &str) -> Result<()> {
        let id = self.approvals().resolve_plan_id(id)?;
        self.require_reader("check approvals")?;
        let stored = self.store.get_plan(&self.tenant.name, &id)?;
        let hash = self.approvals().current_hash(&stored.plan)?;
        self.verify_approvals(&stored, &hash)?;
        self.check_signed_approval(&stored, &hash, &self.plan_history(&id)?)
    }

    /// Each approval the plan carries must be its approver's signature, under the key registered
    /// for them when they approved, for this tenant and this content, by a member with an
    /// eligible role then who is still a member now. Refused (and audited) naming the approval.
    fn verify_approvals(&self, rec: &PlanRecord, hash: &str) -> Result<()> {
        let what = format!("apply plan {}", rec.plan.plan_id);
        let roster = match self.roster() {
            Ok(r) => r,
            Err(e) => {
                self.audit_denied(rec, &what, &e.to_string())?;
                return Err(e);
            }
        };
        for a in &rec.approvals {
            if let Some(why) = self.approval_problem(&roster, rec, a, hash) {
                return self.deny(
                    rec,
                    &what,
                    format!(
                        "plan {}: the approval by {} at {} does not count: {why}; it will not run",
                        rec.plan.plan_id, a.user, a.at
                    ),
                );
            }
        }
        Ok(())
    }

    /// The approval must also stand in the signed audit trail, for this exact hash and with the
    /// same signature: editing the plan file to add an approval is not enough.
    pub(super) fn check_signed_approval(
        &self,
        rec: &PlanRecord,
        hash: &str,
        history: &[AuditEvent],
    ) -> Result<()> {
        let mut approvers: Vec<&str> = Vec::new();
        let mut signatures: std::collections::HashSet<&str> = Default::default();
        for e in history {
            let matches = e.event == EventKind::Approved
                && e.approval_metadata
                    .as_ref()
                    .and_then(|m| m.get("planHash"))
                    .and_then(|h| h.as_str())
                    == Some(hash);
            if matches && e.user_id != rec.plan.requester {
                if let Some(sig) = e
                    .approval_metadata
                    .as_ref()
                    .and_then(|m| m.get("signature"))
                    .and_then(|s| s.as_str())
                {
                    signatures.insert(sig);
                }
                approvers.push(&e.user_id);
            }
        }
        if let Some(a) = rec.approvals.iter().find(|a| {
            a.signed
                .as_ref()
                .is_some_and(|s| !signatures.contains(s.signature.as_str()))
        }) {
            return self.deny(
                rec,
                &format!("apply plan {}", rec.plan.plan_id),
                format!(
                    "plan {}: the approval by {} at {} is not in the audit trail (no approved event carries its signature); it will not run",
                    rec.plan.plan_id, a.user, a.at
                ),
            );
        }
        let needed = if rec.break_glass() {
            1
        } else {
            rec.required_approvals
        };
        if (approvers.len() as u32) < needed {
            return Err(Error::refused(format!(
                "plan {} has no matching approval in the audit trail ({} of {} found for hash {}); it will not run",
                rec.plan.plan_id,
                approvers.len(),
                needed,
                approval::short(hash)
            )));
        }
        Ok(())
    }

    /// A plan left `executing` by a process that no longer exists on this host is marked failed.
    pub(super) fn reap_interrupted(&self, id: &str) -> Result<()> {
        let rec = self.store.get_plan(&self.tenant.name, id)?;
        let Some(x) = rec.executions.last() else {
            return Ok(());
        };
        if rec.state != State::Executing || x.host != hostname() || process_alive(x.pid) {
            return Ok(());
        }
        // Its outcome may be waiting in this machine's journal (it finished during an outage):
        // flushed first, it is recorded rather than taken for an interruption.
        if self.store.health().queued > 0 {
            if let Err(e) = self.store.sync(&self.signer) {
                tracing::warn!(error = %e, "could not flush the journal before reaping");
            }
            let now = self.store.get_plan(&self.tenant.name, id)?;
            if now.state != State::Executing {
                return Ok(());
            }
        }
        self.store.update_plan(&self.tenant.name, id, &mut |r| {
            r.state = State::Failed;
            if let Some(x) = r.executions.last_mut() {
                x.outcome = Some("interrupted".into());
                x.finished_at = Some(self.clock.stamp());
            }
            Ok(())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
        ev.plan_id = Some(id.to_string());
        ev.message = Some(format!(
            "interrupted: the applying process (pid {}) exited before finishing",
            x.pid
        ));
        self.append(&[ev])?;
        Ok(())
    }

    pub fn stacks(&self) -> Result<Vec<StackRecord>> {
        self.require_reader("list stacks")?;
        self.store.list_stacks(&self.tenant.name)
    }
}

/// What a cancel that abandoned AWS calls left behind, said honestly: each call given up (its
/// effect at AWS is unknown: the request may have landed), and of the targets of the step it
/// belonged to, those whose calls had returned and those never started.
fn abandoned_note(plan: &crate::plan::Plan, calls: &[crate::aws::calls::CallInFlight]) -> String {
    if calls.is_empty() {
        return "no AWS call was in flight when the cancel came".into();
    }
    let mut parts: Vec<String> = calls
        .iter()
        .map(|c| {
            format!(
                "abandoned {} {}{} after {:.1} s: its effect at AWS is unknown (it may have landed)",
                c.service,
                c.operation,
                if c.targets.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", c.targets.join(", "))
                },
                c.elapsed.as_secs_f64()
            )
        })
        .collect();
    let in_flight: Vec<&String> = calls.iter().flat_map(|c| &c.targets).collect();
    let step_targets = plan.steps.iter().find_map(|s| match &s.kind {
        StepKind::Aws { targets, .. } if targets.iter().any(|t| in_flight.contains(&t)) => {
            Some(targets)
        }
        _ => None,
    });
    if let Some(targets) = step_targets {
        let first = targets
            .iter()
            .position(|t| in_flight.contains(&t))
            .unwrap_or(0);
        let list = |ts: Vec<&String>| {
            if ts.is_empty() {
                "none".to_string()
            } else {
                ts.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        parts.push(format!(
            "done before it: {}; not started: {}",
            list(targets[..first].iter().collect()),
            list(
                targets[first..]
                    .iter()
                    .filter(|t| !in_flight.contains(t))
                    .collect()
            )
        ));
    }
    parts.join("; ")
}

/// The `summary` a step reported in its outputs, or each step's, in order.
pub(super) fn results_summary(v: &Value) -> Option<String> {
    if let Some(s) = v.get("summary").and_then(Value::as_str) {
        return Some(s.to_string());
    }
    let parts: Vec<&str> = v
        .as_object()?
        .values()
        .filter_map(|x| x.get("summary")?.as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).to_string()
}

pub(super) use crate::store::fsutil::process_alive;
