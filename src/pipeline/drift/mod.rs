//! Drift detection (`opsdeck drift`): each applied stack is planned against its saved state
//! with its recorded configuration, under the stack's lock and in the same sandbox an apply
//! uses (`exec::terraform::drift`); nothing is applied and the state is not written. A drifted
//! stack is told resource by resource (attribute, recorded → actual), audited
//! (`drift_checked` for every stack checked, `drift_found` for a drifted one: that event is what
//! notifications send), and can be reverted by a normal plan of its recorded configuration,
//! queued through the same gates and approvals as any plan. Scheduled checks follow the
//! tenant's `[drift]` setting: [`Drift::run_if_due`] is the one call a timer makes.

use std::time::Duration;

mod adopt;
mod dedup;
mod hosts;
mod status;

pub use hosts::HostsDrift;
pub use status::StackDriftStatus;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Drift;
use crate::agents::{Draft, DraftFile};
use crate::approval::PlanRecord;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::exec::terraform::drift::{self as tf_drift, DriftResult};
use crate::exec::{self, terraform};
use crate::intent::{AgentKind, Intent};
use crate::plan::{ArtifactKind, ChangeAction, Risk, StateVersion, Step, StepKind, TerraformOp};
use crate::redact::redact;
use crate::store::{StackRecord, StackStatus};
use crate::tenant::Role;
use crate::time::Stamp;
use crate::view::drift::{change_lines, summary};

/// How one stack came out of a drift check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// What exists matches the recorded configuration and state.
    Clean,
    /// Something changed outside opsdeck.
    Drifted,
    /// The check could not run (no terraform, the stack locked, a failed plan): the reason says.
    Unchecked,
}

impl DriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Clean => "clean",
            DriftStatus::Drifted => "drifted",
            DriftStatus::Unchecked => "unchecked",
        }
    }
}

/// Which plan saw a drifted resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftSource {
    /// The refresh-only plan: the real resource changed since the state was written.
    Refresh,
    /// The plan of the recorded configuration: what exists departs from the recorded spec.
    Spec,
}

/// What happened to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftChange {
    /// Attributes differ from what was recorded.
    Changed,
    /// Recorded, but gone.
    Missing,
    /// Present, but not in the recorded configuration.
    Unrecorded,
}

/// One attribute that differs: the recorded value and the actual one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeDrift {
    pub attribute: String,
    pub recorded: Value,
    pub actual: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub address: String,
    pub change: DriftChange,
    pub source: DriftSource,
    pub attributes: Vec<AttributeDrift>,
}

/// One stack's drift check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackDrift {
    pub stack: String,
    pub status: DriftStatus,
    /// The plan whose configuration is recorded as applied.
    pub last_applied_plan: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceDrift>,
    /// Why the stack was not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The state the check read (local state only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateVersion>,
    /// The two plans' JSON (`{"refresh": …, "spec": …}`), sensitive values masked, stored as an
    /// artifact (sha256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A whole drift check of the tenant (or of the stacks named).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub tenant: String,
    pub checked_at: Stamp,
    pub checked_by: String,
    pub stacks: Vec<StackDrift>,
    /// Applied playbooks' hosts (checked when no stack is named).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostsDrift>,
    /// What the check does not cover, said plainly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl DriftReport {
    /// Stacks and applied playbooks with this status.
    pub fn count(&self, status: DriftStatus) -> usize {
        self.stacks.iter().filter(|s| s.status == status).count()
            + self.hosts.iter().filter(|h| h.status == status).count()
    }
}

impl Drift<'_> {
    /// Checks the applied stacks named (all of the tenant's, and every applied playbook's hosts,
    /// when none is), one after another.
    /// Every stack checked is audited (`drift_checked`), every drifted one also as
    /// `drift_found`; the report is kept as this machine's latest for the status bar.
    pub fn check(&self, only: &[String], sink: Sink<'_>) -> Result<DriftReport> {
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "check stacks for drift",
        )?;
        let applied: Vec<StackRecord> = self
            .store
            .list_stacks(&self.tenant.name)?
            .into_iter()
            .filter(|s| s.status == StackStatus::Active)
            .collect();
        for name in only {
            if !applied.iter().any(|s| &s.name == name) {
                return Err(Error::not_found(
                    "applied stack",
                    name,
                    format!(
                        "tenant {}: drift is checked on stacks opsdeck applied (`opsdeck stacks` lists them)",
                        self.tenant.name
                    ),
                ));
            }
        }
        // What each stack's last check found: the same drift found again is not told again.
        let settled = self.settled()?;
        let mut report = DriftReport {
            tenant: self.tenant.name.clone(),
            checked_at: self.clock.stamp(),
            checked_by: self.identity.user.clone(),
            stacks: Vec::new(),
            hosts: Vec::new(),
            notes: Vec::new(),
        };
        for rec in applied
            .iter()
            .filter(|s| only.is_empty() || only.contains(&s.name))
        {
            sink(AgentEvent::Progress {
                agent: AgentKind::Infra,
                message: format!("drift check of stack {}", rec.name),
            });
            let checked = match self.check_stack(rec, sink) {
                Ok(c) => c,
                // One stack that cannot be read never hides the others.
                Err(e) => unchecked(rec, format!("the check could not run: {e}")),
            };
            self.audit_check(&checked, &settled)?;
            report.stacks.push(checked);
        }
        if only.is_empty() {
            let (hosts, notes) = self.check_hosts(sink, &settled)?;
            report.hosts = hosts;
            report.notes.extend(notes);
        } else {
            report
                .notes
                .push("stacks named: applied playbooks' hosts were not checked (`opsdeck drift` checks them)".into());
        }
        self.keep_latest(&report);
        Ok(report)
    }

    fn check_stack(&self, rec: &StackRecord, sink: Sink<'_>) -> Result<StackDrift> {
        let tenant = &self.tenant.name;
        let files: Vec<(String, Vec<u8>)> = rec
            .artifacts
            .iter()
            .map(|a| Ok((a.name.clone(), self.store.get_artifact(tenant, &a.sha256)?)))
            .collect::<Result<_>>()?;
        let Some(bin) = exec::find_binary(&self.config.exec.terraform) else {
            return Ok(unchecked(
                rec,
                format!(
                    "terraform is not installed (`{}` is not on PATH; set exec.terraform or OPSDECK_TERRAFORM)",
                    self.config.exec.terraform
                ),
            ));
        };
        let run_id = format!("drift-{}", uuid::Uuid::new_v4().simple());
        let _guard = match self.lock_stack(&rec.name, &run_id, "drift")? {
            Ok(g) => g,
            Err(holder) => {
                return Ok(unchecked(
                    rec,
                    format!(
                        "stack {} is locked by the {}; check again once it is released",
                        rec.name,
                        holder.describe()
                    ),
                ));
            }
        };
        let backend = self.state_backend(&rec.name)?;
        let state = backend.read_local_version()?;
        // Hand-written configurations run only sandboxed unless the tenant allows otherwise;
        // a configuration whose plan cannot be read is taken for hand-written.
        let handwritten = self
            .store
            .get_plan(tenant, &rec.last_applied_plan)
            .map(|p| p.plan.is_handwritten())
            .unwrap_or(true);
        let dir = self.store.workspace_dir(tenant, &run_id)?;
        let cache = self.plugin_cache()?;
        let confinement = self.terraform_confinement(handwritten, &backend, &cache);
        let ws = terraform::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            backend: &backend,
            plugin_cache: Some(&cache),
            provider_mirror: self.provider_mirror(),
            stream: false,
            confinement: &confinement,
        };
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let result =
            exec::block_on_with_timeout(timeout, |cancel| tf_drift::check(&ws, sink, cancel));
        let _ = std::fs::remove_dir_all(&dir);
        let (refresh, spec) = match result?? {
            DriftResult::Checked { refresh, spec, .. } => (refresh, spec),
            DriftResult::Unchecked { reason, .. } => return Ok(unchecked(rec, reason)),
        };
        let mut resources = refresh_drift(&refresh);
        resources.extend(spec_drift(&spec));
        let evidence = redact(
            &serde_json::to_string_pretty(&json!({"refresh": refresh, "spec": spec}))
                .unwrap_or_default(),
        );
        let sha = self
            .store
            .put_artifact_as(tenant, ArtifactKind::Report, evidence.as_bytes())?;
        Ok(StackDrift {
            stack: rec.name.clone(),
            status: if resources.is_empty() {
                DriftStatus::Clean
            } else {
                DriftStatus::Drifted
            },
            last_applied_plan: rec.last_applied_plan.clone(),
            resources,
            reason: None,
            state,
            evidence: Some(sha),
        })
    }

    /// `drift_checked` for every stack; `drift_found` too for a drifted one (notifications
    /// send that one, unless the stack's last settled check found the same drift: `repeat`).
    fn audit_check(&self, s: &StackDrift, settled: &dedup::Settled) -> Result<()> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut meta = json!({
            "stack": s.stack,
            "status": s.status,
            "lastAppliedPlan": s.last_applied_plan,
            "resources": s.resources.len(),
            "state": s.state,
            "reason": s.reason,
        });
        if s.status == DriftStatus::Drifted {
            let fp = dedup::fingerprint(&s.resources);
            if dedup::repeats(settled, &format!("stack {}", s.stack), &fp) {
                meta["repeat"] = json!(true);
            }
            meta["fingerprint"] = json!(fp);
        }
        let artifacts: Vec<Value> = s
            .evidence
            .iter()
            .map(|sha| {
                json!({"name": "drift.json", "kind": ArtifactKind::Report, "sha256": sha,
                       "uri": self.store.artifact_uri(&self.tenant.name, sha)})
            })
            .collect();
        let mut checked = self.event(
            &request_id,
            EventKind::DriftChecked,
            if s.status == DriftStatus::Unchecked {
                Status::Failed
            } else {
                Status::Completed
            },
        );
        checked.agent_type = Some(AgentKind::Infra.to_string());
        checked.approval_metadata = Some(meta.clone());
        checked.artifacts = artifacts.clone();
        checked.message = Some(redact(&summary(s)));
        let mut events = vec![checked];
        if s.status == DriftStatus::Drifted {
            let mut found = self.event(&request_id, EventKind::DriftFound, Status::Completed);
            found.agent_type = Some(AgentKind::Infra.to_string());
            let mut meta = meta;
            meta["changes"] = json!(
                s.resources
                    .iter()
                    .flat_map(change_lines)
                    .map(|l| redact(&l))
                    .collect::<Vec<_>>()
            );
            found.approval_metadata = Some(meta);
            found.artifacts = artifacts;
            found.message = Some(redact(&summary(s)));
            events.push(found);
        }
        self.append(&events)?;
        Ok(())
    }

    /// Queues a plan that reverts a drifted stack: a normal apply of the configuration recorded
    /// as applied, planned by Terraform against the state as it is now (so the saved plan
    /// changes back exactly what drifted), through the gates and approvals of any plan.
    pub fn remediate(&self, stack: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        let what = format!("revert the drift of stack {stack}");
        let (rec, files) = self.recorded(stack, &what)?;
        let p = rec.last_applied_plan.clone();
        self.queue(
            &rec,
            files,
            Queued {
                summary: format!(
                    "revert the drift of stack {stack}: apply its recorded configuration (plan {p}) again"
                ),
                note: format!(
                    "drift remediation: stack {stack} back to the configuration plan {p} applied"
                ),
                risk_reasons: vec![
                    "drift remediation: changes back what was changed outside opsdeck; the saved plan shows each change".into(),
                ],
            },
            sink,
        )
    }

    /// Queues a plan that adopts a drifted stack's actual values: a fresh check, then the
    /// recorded configuration with each drifted attribute that it sets literally rewritten to
    /// the actual value, applied like any plan (Terraform then records what exists as
    /// applied). What cannot be rewritten is listed on the plan, never guessed.
    pub fn adopt(&self, stack: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        let what = format!("adopt the drift of stack {stack}");
        let (rec, files) = self.recorded(stack, &what)?;
        let report = self.check(&[stack.to_string()], sink)?;
        let Some(found) = report.stacks.into_iter().find(|s| s.stack == stack) else {
            return Err(Error::not_found(
                "applied stack",
                stack,
                "it was not checked",
            ));
        };
        match found.status {
            DriftStatus::Drifted => {}
            DriftStatus::Clean => {
                return Err(Error::input(format!(
                    "stack {stack} has not drifted: there is nothing to adopt"
                )));
            }
            DriftStatus::Unchecked => {
                return Err(Error::input(format!(
                    "stack {stack} could not be checked ({}); nothing to adopt until it is",
                    found.reason.unwrap_or_default()
                )));
            }
        }
        let bytes: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| (f.name.clone(), f.content.clone()))
            .collect();
        let adopted = adopt::adopt(&bytes, &found.resources);
        if adopted.adopted.is_empty() {
            return Err(Error::input(format!(
                "nothing in stack {stack}'s drift can be adopted automatically: {}",
                adopted.left.join("; ")
            )));
        }
        let files = files
            .into_iter()
            .zip(adopted.files)
            .map(|(f, (_, content))| DraftFile { content, ..f })
            .collect();
        let mut risk_reasons = vec![format!(
            "drift adoption: the recorded configuration takes the actual values ({})",
            adopted.adopted.join(", ")
        )];
        risk_reasons.extend(adopted.left.iter().map(|l| format!("not adopted: {l}")));
        self.queue(
            &rec,
            files,
            Queued {
                summary: format!(
                    "adopt the drift of stack {stack}: record {}",
                    adopted.adopted.join(", ")
                ),
                note: format!(
                    "drift adoption: stack {stack}'s recorded configuration (plan {}) takes the actual values",
                    rec.last_applied_plan
                ),
                risk_reasons,
            },
            sink,
        )
    }

    /// An applied stack and its recorded configuration, for a plan that changes it.
    fn recorded(&self, stack: &str, what: &str) -> Result<(StackRecord, Vec<DraftFile>)> {
        self.require_member(&[Role::Operator, Role::Approver, Role::Admin], what)?;
        self.refuse_if_read_only(what, None)?;
        let tenant = &self.tenant.name;
        let rec = self
            .store
            .get_stack(tenant, stack)?
            .filter(|s| s.status == StackStatus::Active)
            .ok_or_else(|| {
                Error::not_found(
                    "applied stack",
                    stack,
                    format!(
                        "tenant {tenant}: only an applied stack's drift can be reverted or adopted"
                    ),
                )
            })?;
        let files = rec
            .artifacts
            .iter()
            .map(|a| {
                Ok(DraftFile {
                    name: a.name.clone(),
                    kind: a.kind,
                    content: self.store.get_artifact(tenant, &a.sha256)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((rec, files))
    }

    /// A plan of `files` as the stack's one Terraform step, carrying the applied plan's intent
    /// (so a hand-written stack stays hand-written: sandboxed), through the normal gates.
    fn queue(
        &self,
        rec: &StackRecord,
        files: Vec<DraftFile>,
        q: Queued,
        sink: Sink<'_>,
    ) -> Result<PlanRecord> {
        let stack = &rec.name;
        let applied = self
            .store
            .get_plan(&self.tenant.name, &rec.last_applied_plan)
            .ok();
        let mut intent = applied
            .as_ref()
            .map(|p| p.plan.intent.clone())
            .unwrap_or_else(|| recorded_intent(stack));
        intent.action = "apply".into();
        intent.params.stack = Some(stack.to_string());
        intent.notes.push(q.note);
        let draft = Draft {
            builtins: Vec::new(),
            summary: q.summary.clone(),
            stack: Some(stack.to_string()),
            region: rec.region.clone(),
            steps: vec![Step {
                description: format!("terraform apply of stack {stack}"),
                mutates: true,
                kind: StepKind::Terraform {
                    stack: stack.to_string(),
                    operation: TerraformOp::Apply,
                },
            }],
            resources: crate::agents::infra::resources_in(&files, ChangeAction::Update),
            files,
            mutates: true,
            risk: applied
                .as_ref()
                .map(|p| p.plan.risk)
                .unwrap_or(Risk::Medium),
            risk_reasons: q.risk_reasons,
            cost: applied.map(|p| p.plan.cost).unwrap_or_default(),
        };
        self.requests().finish_plan(
            uuid::Uuid::new_v4().to_string(),
            q.summary,
            intent,
            Ok(draft),
            sink,
        )
    }

    /// This machine's latest drift check of the tenant, if any (the console's status bar).
    pub fn latest(&self) -> Option<DriftReport> {
        let bytes = std::fs::read(self.latest_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Seconds until the next scheduled check is due (0: now); None when the tenant has no
    /// schedule.
    pub fn due_in_secs(&self) -> Option<i64> {
        let schedule = &self.tenant.drift;
        if !schedule.enabled {
            return None;
        }
        let Some(last) = self.latest() else {
            return Some(0);
        };
        let next = last.checked_at.as_second() + schedule.interval_secs();
        Some((next - self.clock.unix()).max(0))
    }

    /// The call a timer makes (`opsdeck drift --watch`, the runner's loop): checks every
    /// applied stack when the tenant's schedule says one is due, else does nothing.
    pub fn run_if_due(&self, sink: Sink<'_>) -> Result<Option<DriftReport>> {
        match self.due_in_secs() {
            Some(0) => self.check(&[], sink).map(Some),
            _ => Ok(None),
        }
    }

    fn latest_path(&self) -> std::path::PathBuf {
        self.paths
            .data
            .join("drift")
            .join(format!("{}.json", self.tenant.name))
    }

    fn keep_latest(&self, report: &DriftReport) {
        let path = self.latest_path();
        let kept = path
            .parent()
            .map(crate::store::fsutil::ensure_private_dir)
            .transpose()
            .and_then(|_| {
                crate::store::fsutil::write_atomic(
                    &path,
                    &serde_json::to_vec_pretty(report).unwrap_or_default(),
                )
            });
        if let Err(e) = kept {
            tracing::warn!(error = %e, "the latest drift check could not be kept");
        }
    }
}

/// What a drift plan says about itself.
struct Queued {
    summary: String,
    note: String,
    risk_reasons: Vec<String>,
}

fn unchecked(rec: &StackRecord, reason: String) -> StackDrift {
    StackDrift {
        stack: rec.name.clone(),
        status: DriftStatus::Unchecked,
        last_applied_plan: rec.last_applied_plan.clone(),
        resources: Vec::new(),
        reason: Some(reason),
        state: None,
        evidence: None,
    }
}

/// The intent a remediation carries when the applied plan cannot be read: a submitted
/// configuration's, so it runs only sandboxed.
fn recorded_intent(stack: &str) -> Intent {
    Intent {
        agent: AgentKind::Infra,
        agents: vec![AgentKind::Infra],
        action: "apply".into(),
        confidence: 1.0,
        low_confidence: false,
        params: crate::intent::Params {
            stack: Some(stack.to_string()),
            ..Default::default()
        },
        evidence: Vec::new(),
        notes: vec![crate::plan::SUBMITTED_NOTE.into()],
        source: None,
        settled: None,
    }
}

fn actions(rc: &Value) -> Vec<&str> {
    rc.pointer("/change/actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn managed(rc: &Value) -> bool {
    rc.get("mode").and_then(Value::as_str) != Some("data")
}

fn address(rc: &Value) -> String {
    rc.get("address")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// The refresh-only plan's `resource_drift`: `before` is what the state recorded, `after` what
/// the refresh read.
pub fn refresh_drift(plan: &Value) -> Vec<ResourceDrift> {
    let mut out = Vec::new();
    for rc in plan
        .get("resource_drift")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rc| managed(rc))
    {
        let change = match actions(rc).as_slice() {
            ["delete"] => DriftChange::Missing,
            ["update"] => DriftChange::Changed,
            _ => continue,
        };
        let attributes = if change == DriftChange::Changed {
            differing(
                rc.pointer("/change/before"),
                rc.pointer("/change/after"),
                None,
            )
        } else {
            Vec::new()
        };
        out.push(ResourceDrift {
            address: address(rc),
            change,
            source: DriftSource::Refresh,
            attributes,
        });
    }
    out
}

/// The recorded configuration's plan: `before` is what exists, `after` what the recorded
/// configuration says (unknown until applied where `after_unknown` marks it).
pub fn spec_drift(plan: &Value) -> Vec<ResourceDrift> {
    let mut out = Vec::new();
    for rc in plan
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rc| managed(rc))
    {
        let change = match actions(rc).as_slice() {
            ["create"] => DriftChange::Missing,
            ["delete"] => DriftChange::Unrecorded,
            ["update"] | ["delete", "create"] | ["create", "delete"] => DriftChange::Changed,
            _ => continue,
        };
        let attributes = if change == DriftChange::Changed {
            // recorded = the configuration (after), actual = what exists (before)
            differing(
                rc.pointer("/change/after"),
                rc.pointer("/change/before"),
                rc.pointer("/change/after_unknown"),
            )
        } else {
            Vec::new()
        };
        out.push(ResourceDrift {
            address: address(rc),
            change,
            source: DriftSource::Spec,
            attributes,
        });
    }
    out
}

/// Top-level attributes whose recorded and actual values differ; those the configuration
/// leaves unknown until applied (computed from others) are left out.
fn differing(
    recorded: Option<&Value>,
    actual: Option<&Value>,
    unknown: Option<&Value>,
) -> Vec<AttributeDrift> {
    let empty = serde_json::Map::new();
    let rec = recorded.and_then(Value::as_object).unwrap_or(&empty);
    let act = actual.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = rec.keys().chain(act.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| unknown.and_then(|u| u.get(k.as_str())) != Some(&Value::Bool(true)))
        .filter_map(|k| {
            let r = rec.get(k).cloned().unwrap_or(Value::Null);
            let a = act.get(k).cloned().unwrap_or(Value::Null);
            (r != a).then(|| AttributeDrift {
                attribute: k.clone(),
                recorded: r,
                actual: a,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_input_reads_recorded_then_actual_and_computed_values_stay_out() {
        let plan = json!({"resource_changes": [
            {"address": "terraform_data.hello", "mode": "managed", "change": {
                "actions": ["update"],
                "before": {"id": "x", "input": "tampered", "output": "tampered"},
                "after": {"id": "x", "input": "hello"},
                "after_unknown": {"output": true}}},
            {"address": "terraform_data.same", "mode": "managed", "change": {"actions": ["no-op"]}},
            {"address": "terraform_data.gone", "mode": "managed", "change": {"actions": ["create"]}},
            {"address": "data.x.y", "mode": "data", "change": {"actions": ["read"]}}
        ]});
        let got = spec_drift(&plan);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].change, DriftChange::Changed);
        assert_eq!(
            got[0].attributes,
            vec![AttributeDrift {
                attribute: "input".into(),
                recorded: json!("hello"),
                actual: json!("tampered"),
            }]
        );
        assert_eq!(got[1].change, DriftChange::Missing);
    }

    #[test]
    fn refresh_drift_reads_state_then_refreshed() {
        let plan = json!({"resource_drift": [
            {"address": "aws_s3_bucket.b", "mode": "managed", "change": {
                "actions": ["update"],
                "before": {"tags": {"env": "prod"}},
                "after": {"tags": {"env": "dev"}}}},
            {"address": "aws_instance.web", "mode": "managed", "change": {"actions": ["delete"]}}
        ]});
        let got = refresh_drift(&plan);
        assert_eq!(got[0].attributes[0].recorded, json!({"env": "prod"}));
        assert_eq!(got[0].attributes[0].actual, json!({"env": "dev"}));
        assert_eq!(got[1].change, DriftChange::Missing);
        assert!(spec_drift(&json!({})).is_empty());
    }
}
