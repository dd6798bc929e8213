//! Configuration drift of hosts: each playbook opsdeck applied (the newest applied plan per
//! playbook and inventory) runs again with `ansible-playbook --check --diff` on the same
//! inventory, in the same sandbox a run uses; a host where a task would change drifted. The
//! revert is a normal plan that runs the recorded playbook again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Drift, DriftStatus, Queued};
use crate::agents::{Draft, DraftFile};
use crate::approval::{PlanRecord, State};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::exec::{self, ansible};
use crate::intent::AgentKind;
use crate::plan::{ArtifactKind, HostResult, Inventory, Risk, Step, StepKind};
use crate::redact::redact;
use crate::tenant::Role;

/// One applied playbook's check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostsDrift {
    /// The plan that applied the playbook (its files are the recorded configuration).
    pub plan_id: String,
    pub playbook: String,
    pub inventory: String,
    pub status: DriftStatus,
    /// The check's PLAY RECAP per host: `changed` tasks are the drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The check's output (with its diffs), stored as an artifact (sha256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// An applied playbook to check: the plan, the step's position, its playbook and inventory.
struct Applied {
    rec: PlanRecord,
    step: usize,
    playbook: String,
    inventory: String,
    /// The step's extra vars file (a library entry's parameter values).
    vars: Option<String>,
}

impl Applied {
    /// Its report before (or without) a check.
    fn unchecked(&self) -> HostsDrift {
        HostsDrift {
            plan_id: self.rec.plan.plan_id.clone(),
            playbook: self.playbook.clone(),
            inventory: self.inventory.clone(),
            status: DriftStatus::Unchecked,
            hosts: Vec::new(),
            reason: None,
            evidence: None,
        }
    }
}

impl Drift<'_> {
    /// The newest applied plan per playbook and inventory whose hosts are listed in an
    /// inventory file, and a note for each applied playbook whose hosts came from a Terraform
    /// step (those follow the stack, checked as such).
    fn applied_playbooks(&self) -> Result<(Vec<Applied>, Vec<String>)> {
        let mut plans: Vec<PlanRecord> = self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .filter(|r| r.state == State::Succeeded)
            .collect();
        plans.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        let mut seen = std::collections::HashSet::new();
        let (mut out, mut notes) = (Vec::new(), Vec::new());
        for rec in plans {
            for (i, step) in rec.plan.steps.iter().enumerate() {
                let StepKind::Ansible {
                    playbook,
                    inventory,
                    vars,
                    ..
                } = &step.kind
                else {
                    continue;
                };
                let Inventory::File { name } = inventory else {
                    notes.push(format!(
                        "playbook {playbook} of plan {} runs on the hosts its Terraform step creates: not checked on its own",
                        rec.plan.plan_id
                    ));
                    continue;
                };
                let sha = |n: &str| {
                    rec.plan
                        .artifacts
                        .iter()
                        .find(|a| a.name == n)
                        .map(|a| a.sha256.clone())
                };
                if seen.insert((playbook.clone(), sha(name))) {
                    out.push(Applied {
                        rec: rec.clone(),
                        step: i + 1,
                        playbook: playbook.clone(),
                        inventory: name.clone(),
                        vars: vars.clone(),
                    });
                }
            }
        }
        Ok((out, notes))
    }

    /// Checks every applied playbook's hosts; each check audited.
    pub(super) fn check_hosts(
        &self,
        sink: Sink<'_>,
        settled: &super::dedup::Settled,
    ) -> Result<(Vec<HostsDrift>, Vec<String>)> {
        let (applied, notes) = self.applied_playbooks()?;
        let mut out = Vec::new();
        for a in applied {
            let checked = self
                .check_playbook(&a, sink)
                .unwrap_or_else(|e| HostsDrift {
                    reason: Some(format!("the check could not run: {e}")),
                    ..a.unchecked()
                });
            self.audit_hosts(&checked, settled)?;
            out.push(checked);
        }
        Ok((out, notes))
    }

    fn check_playbook(&self, a: &Applied, sink: Sink<'_>) -> Result<HostsDrift> {
        let mut d = a.unchecked();
        let Some(bin) = exec::find_binary(&self.config.exec.ansible_playbook) else {
            d.reason = Some(format!(
                "ansible-playbook is not installed (`{}` is not on PATH; set exec.ansible_playbook or OPSDECK_ANSIBLE_PLAYBOOK)",
                self.config.exec.ansible_playbook
            ));
            return Ok(d);
        };
        let files: Vec<(String, Vec<u8>)> = self
            .approvals()
            .checked_artifacts(&a.rec.plan)?
            .into_iter()
            .filter(|(r, _)| r.kind == ArtifactKind::Ansible)
            .map(|(r, b)| (r.name, b))
            .collect();
        let run_id = format!("drift-{}", uuid::Uuid::new_v4().simple());
        let dir = self.store.workspace_dir(&self.tenant.name, &run_id)?;
        let confinement = self.confinement(a.rec.plan.is_handwritten());
        let ws = ansible::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            playbook: &a.playbook,
            inventory: &a.inventory,
            extra_vars: a.vars.as_deref(),
            stream: false,
            confinement: &confinement,
        };
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let result = exec::block_on_with_timeout(timeout, |c| ansible::check(&ws, sink, c));
        let _ = std::fs::remove_dir_all(&dir);
        let checked = result??;
        let output = redact(&checked.output);
        d.evidence = Some(self.store.put_artifact_as(
            &self.tenant.name,
            ArtifactKind::DryRun,
            output.as_bytes(),
        )?);
        let names = |f: &dyn Fn(&HostResult) -> bool| {
            checked
                .hosts
                .iter()
                .filter(|h| f(h))
                .map(|h| h.host.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unreachable = names(&|h| h.unreachable > 0);
        let failed = names(&|h| h.failed > 0);
        d.status = if checked.cancelled {
            d.reason = Some("the check did not finish in time".into());
            DriftStatus::Unchecked
        } else if checked.hosts.is_empty() {
            d.reason = Some("the check gave no host results".into());
            DriftStatus::Unchecked
        } else if !unreachable.is_empty() || !failed.is_empty() {
            d.reason = Some(
                [("unreachable", unreachable), ("failed on", failed)]
                    .into_iter()
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(w, h)| format!("{w} {h}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            DriftStatus::Unchecked
        } else if checked.hosts.iter().any(|h| h.changed > 0) {
            DriftStatus::Drifted
        } else {
            DriftStatus::Clean
        };
        d.hosts = checked.hosts;
        Ok(d)
    }

    fn audit_hosts(&self, d: &HostsDrift, settled: &super::dedup::Settled) -> Result<()> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let message = redact(&crate::view::drift::hosts_summary(d));
        let mut meta = json!({
            "playbook": d.playbook,
            "inventory": d.inventory,
            "appliedPlan": d.plan_id,
            "status": d.status,
            "hosts": d.hosts,
            "reason": d.reason,
        });
        if d.status == DriftStatus::Drifted {
            let fp = super::dedup::fingerprint(&d.hosts);
            let subject = super::dedup::subject(&meta).unwrap_or_default();
            if super::dedup::repeats(settled, &subject, &fp) {
                meta["repeat"] = json!(true);
            }
            meta["fingerprint"] = json!(fp);
        }
        let artifacts: Vec<serde_json::Value> = d
            .evidence
            .iter()
            .map(|sha| {
                json!({"name": "ansible-check.txt", "kind": ArtifactKind::DryRun, "sha256": sha,
                       "uri": self.store.artifact_uri(&self.tenant.name, sha)})
            })
            .collect();
        let mut events = Vec::new();
        for kind in [EventKind::DriftChecked, EventKind::DriftFound] {
            if kind == EventKind::DriftFound && d.status != DriftStatus::Drifted {
                continue;
            }
            let status = if d.status == DriftStatus::Unchecked {
                Status::Failed
            } else {
                Status::Completed
            };
            let mut ev = self.event(&request_id, kind, status);
            ev.agent_type = Some(AgentKind::Config.to_string());
            ev.approval_metadata = Some(meta.clone());
            ev.artifacts = artifacts.clone();
            ev.message = Some(message.clone());
            events.push(ev);
        }
        self.append(&events)?;
        Ok(())
    }

    /// Queues a plan that runs an applied playbook again on its inventory: the hosts get the
    /// recorded configuration back. `plan_id` is the plan that applied it (the check names it).
    pub fn remediate_hosts(&self, plan_id: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        let what = format!("re-apply the playbook of plan {plan_id}");
        self.require_member(&[Role::Operator, Role::Approver, Role::Admin], &what)?;
        self.refuse_if_read_only(&what, None)?;
        let plan_id = self.approvals().resolve_plan_id(plan_id)?;
        let (applied, _) = self.applied_playbooks()?;
        let Some(a) = applied.into_iter().find(|a| a.rec.plan.plan_id == plan_id) else {
            return Err(Error::not_found(
                "applied playbook",
                &plan_id,
                "the plan applied no playbook on an inventory file, or a newer plan applied the same playbook there (`opsdeck drift` names the plan to use)",
            ));
        };
        let files: Vec<DraftFile> = self
            .approvals()
            .checked_artifacts(&a.rec.plan)?
            .into_iter()
            .filter(|(r, _)| r.kind == ArtifactKind::Ansible)
            .map(|(r, content)| DraftFile {
                name: r.name,
                kind: r.kind,
                content,
            })
            .collect();
        let step: Step = a.rec.plan.steps[a.step - 1].clone();
        let q = Queued {
            summary: format!(
                "revert the configuration drift of the hosts in {}: run playbook {} of plan {plan_id} again",
                a.inventory, a.playbook
            ),
            note: format!(
                "drift remediation: playbook {} of plan {plan_id} again",
                a.playbook
            ),
            risk_reasons: vec![
                "drift remediation: the recorded playbook runs again; its check run shows each change".into(),
            ],
        };
        let mut intent = a.rec.plan.intent.clone();
        intent.notes.push(q.note);
        let draft = Draft {
            builtins: Vec::new(),
            summary: q.summary.clone(),
            stack: None,
            region: a.rec.plan.region.clone(),
            steps: vec![step],
            files,
            resources: Vec::new(),
            mutates: true,
            risk: a.rec.plan.risk.max(Risk::Medium),
            risk_reasons: q.risk_reasons,
            cost: Default::default(),
        };
        self.requests().finish_plan(
            uuid::Uuid::new_v4().to_string(),
            q.summary,
            intent,
            Ok(draft),
            sink,
        )
    }
}
