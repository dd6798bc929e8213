//! Finishing a plan: the viewer and credential refusals before anything is stored, the
//! artifacts, the cost against the current stack, gates, dry runs, and the queue entry.

use serde_json::{Value, json};

use crate::agents::Draft;
use crate::approval::{self, PlanRecord, State, rules};
use crate::audit::{AuditEvent, EventKind, Status};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::Intent;
use crate::plan::{ArtifactKind, ArtifactRef, GateResult, Plan};
use crate::redact::redact;
use crate::tenant::Role;

use super::Requests;
use super::requests::redact_intent;

impl Requests<'_> {
    /// The first two events of every request: what was asked (redacted) and how it was read.
    pub(super) fn request_events(
        &self,
        request_id: &str,
        text: &str,
        intent: &Intent,
    ) -> [AuditEvent; 2] {
        let mut requested = self.event(request_id, EventKind::Requested, Status::Pending);
        requested.message = Some(text.to_string());
        let mut classified = self.event(request_id, EventKind::Classified, Status::Pending);
        classified.intent = serde_json::to_value(redact_intent(intent)).ok();
        classified.agent_type = Some(intent.agent.to_string());
        classified.message = Some(format!(
            "{}/{} (confidence {:.2}{})",
            intent.agent,
            intent.action,
            intent.confidence,
            if intent.low_confidence { ", low" } else { "" }
        ));
        [requested, classified]
    }

    /// Turns an agent's draft into a stored, gated plan: refusals first (a viewer asking for a
    /// change, anything that looks like a credential), then the artifacts, the plan with its
    /// gates and dry runs, and the trail's account of it (queued for approval, or denied).
    pub(super) fn finish_plan(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        draft: Result<Draft>,
        sink: Sink<'_>,
    ) -> Result<PlanRecord> {
        self.finish_plan_with(request_id, text, intent, draft, sink, &|_| Vec::new())
    }

    /// [`Self::finish_plan`] with events about the new plan that go into the trail in the same
    /// batch as its own (a library entry's use): `more` makes them from the gated plan.
    pub(super) fn finish_plan_with(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        draft: Result<Draft>,
        sink: Sink<'_>,
        more: &dyn Fn(&PlanRecord) -> Vec<AuditEvent>,
    ) -> Result<PlanRecord> {
        // A cancel until the plan is stored ends the request (its dry runs are stopped).
        let board = self.aws.calls();
        let _working = board.work();
        let asked = self.request_events(&request_id, &text, &intent);
        let agent = intent.agent;
        let ended = |e: Error, asked: [AuditEvent; 2]| -> Result<PlanRecord> {
            // Stopped on request: one outcome, cancelled, never failed as well.
            let stopped = e.kind() == crate::error::Kind::Cancelled;
            let mut failed = if stopped {
                self.event(&request_id, EventKind::Cancelled, Status::Cancelled)
            } else {
                self.event(&request_id, EventKind::Failed, Status::Failed)
            };
            failed.agent_type = Some(agent.to_string());
            failed.message = Some(redact(&e.to_string()));
            let [requested, classified] = asked;
            self.append(&[requested, classified, failed])?;
            if !stopped {
                sink(AgentEvent::Failed {
                    agent,
                    error: e.to_string(),
                });
            }
            Err(e)
        };
        let mut draft = match draft {
            Ok(d) => d,
            Err(e) => return ended(e, asked),
        };
        if let Some(refusal) = self.refusal_before_storing(&request_id, &intent, &draft)? {
            let [requested, classified] = asked;
            self.append(&[requested, classified, refusal.event])?;
            return Err(refusal.error);
        }
        let files = self.store_files(std::mem::take(&mut draft.files))?;
        super::library::keep_builtin_versions(
            self.store.as_ref(),
            &self.tenant.name,
            &draft.builtins,
        )?;
        let gated = self.gated_plan(request_id.clone(), text, intent, draft, &files, sink);
        let mut rec = match gated {
            Ok(_) if board.is_cancelled() => {
                return ended(
                    Error::Cancelled("the request was cancelled before its plan was stored".into()),
                    asked,
                );
            }
            Ok(rec) => rec,
            Err(e) if e.kind() == crate::error::Kind::Cancelled => return ended(e, asked),
            Err(e) => return Err(e),
        };
        let [requested, classified] = asked;
        let mut events = vec![requested, classified];
        events.extend(self.plan_events(&mut rec));
        events.extend(more(&rec));
        self.store_plan_after_its_events(&rec, &events)?;
        sink(AgentEvent::PlanReady {
            plan_id: rec.plan.plan_id.clone(),
        });
        Ok(rec)
    }

    /// The trail's account of a plan goes in before the plan itself: a crash in between leaves
    /// events about a plan that never existed (said so when the store refuses it), never an
    /// approvable plan the trail does not know. A backend known to be unreachable refuses
    /// before anything is written, as creating the plan would.
    fn store_plan_after_its_events(&self, rec: &PlanRecord, events: &[AuditEvent]) -> Result<()> {
        let health = self.store.health();
        if !health.reachable {
            return Err(crate::store::StoreError::ReadOnly {
                action: format!("queue plan {}", rec.plan.plan_id),
                reason: health.reason.unwrap_or_else(|| "unreachable".into()),
            }
            .into());
        }
        self.append(events)?;
        if let Err(e) = self.store.create_plan(rec) {
            let mut failed = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
            failed.plan_id = Some(rec.plan.plan_id.clone());
            failed.message = Some(redact(&format!(
                "plan {} was not stored ({e}); the events above about it do not stand",
                rec.plan.plan_id
            )));
            self.append(&[failed])?;
            return Err(e);
        }
        Ok(())
    }

    /// A viewer may ask questions, never for changes. Asked before the agent runs (from the
    /// action alone) and again for the draft it returns, so no agent work, artifact or plan
    /// comes of it; the refusal goes in the trail.
    pub(super) fn viewer_refusal(
        &self,
        request_id: &str,
        intent: &Intent,
    ) -> Result<Option<Refusal>> {
        if self.my_roles()?.as_deref() != Some(&[Role::Viewer][..]) {
            return Ok(None);
        }
        let e = Error::refused(format!(
            "{me} is a viewer in tenant {t} and cannot request changes: ask an admin ({admins}) for the operator role; questions (spend, findings, logs) work as a viewer",
            me = self.identity.user,
            t = self.tenant.name,
            admins = self.admin_names().join(", ")
        ));
        let mut denied = self.event(request_id, EventKind::AccessDenied, Status::Rejected);
        denied.agent_type = Some(intent.agent.to_string());
        denied.message = Some(format!("request a change: {e}"));
        Ok(Some(Refusal {
            event: denied,
            error: e,
        }))
    }

    /// A change asked in a read-only session or by a viewer: refused before any agent work.
    pub(super) fn change_refusal(
        &self,
        request_id: &str,
        intent: &Intent,
    ) -> Result<Option<Refusal>> {
        match self.read_only_refusal(request_id, intent) {
            Some(r) => Ok(Some(r)),
            None => self.viewer_refusal(request_id, intent),
        }
    }

    /// Refuses, before any artifact or plan is stored, a change asked by a viewer and a plan
    /// that would keep something that looks like a credential. The refusal goes in the trail.
    fn refusal_before_storing(
        &self,
        request_id: &str,
        intent: &Intent,
        draft: &Draft,
    ) -> Result<Option<Refusal>> {
        if draft.mutates
            && let Some(refusal) = self.change_refusal(request_id, intent)?
        {
            return Ok(Some(refusal));
        }

        // Nothing that looks like a credential is ever stored: refuse before any artifact,
        // plan or intent is written (the audit keeps only the redacted request).
        let leaking: Vec<&str> = draft
            .files
            .iter()
            .filter(|f| {
                let text = String::from_utf8_lossy(&f.content);
                redact(&text) != text
            })
            .map(|f| f.name.as_str())
            .collect();
        if !leaking.is_empty() || redact_intent(intent) != *intent {
            let e = Error::refused(format!(
                "the request would put what looks like a credential into {}; pass secrets through a secret store (e.g. Secrets Manager), never in a request",
                if leaking.is_empty() {
                    "the plan".to_string()
                } else {
                    leaking.join(", ")
                }
            ));
            let mut failed = self.event(request_id, EventKind::Failed, Status::Failed);
            failed.agent_type = Some(intent.agent.to_string());
            failed.message = Some(e.to_string());
            return Ok(Some(Refusal {
                event: failed,
                error: e,
            }));
        }

        Ok(None)
    }

    /// Stores the draft's files as artifacts; returns each reference with its bytes.
    fn store_files(
        &self,
        drafted: Vec<crate::agents::DraftFile>,
    ) -> Result<Vec<(ArtifactRef, Vec<u8>)>> {
        let mut files = Vec::new();
        for f in drafted {
            let sha = self
                .store
                .put_artifact_as(&self.tenant.name, f.kind, &f.content)?;
            let a = ArtifactRef {
                name: f.name,
                kind: f.kind,
                sha256: sha,
                size: f.content.len() as u64,
            };
            files.push((a, f.content));
        }
        Ok(files)
    }

    /// The plan as it is queued: the draft with its artifacts, the cost against the stack it
    /// changes, the gates and, for plans the policies let through, the dry runs and hash.
    fn gated_plan(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        draft: Draft,
        files: &[(ArtifactRef, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<PlanRecord> {
        let artifacts = files.iter().map(|(a, _)| a.clone()).collect();
        let terraform_texts = super::gates::texts_of(ArtifactKind::Terraform, files);
        let ansible_texts = super::gates::texts_of(ArtifactKind::Ansible, files);
        let stack = draft.stack.clone();
        let mut plan = self.unsaved_plan(request_id, text, intent, draft, artifacts);
        // A plan that changes or destroys an existing stack is judged by the change it makes:
        // its estimate against the estimate the stack was applied with.
        if let Some(stack) = &stack
            && (!plan.cost.unpriced() || plan.intent.action == "destroy")
        {
            plan.cost.current =
                crate::plan::pricing::current_cost(self.store.as_ref(), &self.tenant.name, stack)?;
        }
        plan.gates = self.gates(&plan, &terraform_texts, &ansible_texts)?;
        // Dry runs (terraform plan, ansible --check) only for plans the policies let through.
        if !plan.denied() {
            let agent = plan.agent;
            self.watching_waits(agent, sink, |sink| self.dry_runs(&mut plan, files, sink))?;
        }
        plan.content_hash = plan.compute_hash();
        let req = rules::requirement(&plan, &self.tenant.approvals);
        let rec = PlanRecord::new(
            plan,
            req,
            self.tenant.approvals.pending_ttl_secs,
            self.tenant.approvals.approved_ttl_secs,
            self.clock.as_ref(),
        );
        Ok(rec)
    }

    /// The plan a draft makes, before its gates, dry runs and hash: also what a library
    /// entry is judged as by the policy gates when it is added.
    pub(super) fn unsaved_plan(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        draft: Draft,
        artifacts: Vec<ArtifactRef>,
    ) -> Plan {
        Plan {
            plan_id: new_plan_id(),
            request_id,
            tenant: self.tenant.name.clone(),
            requester: self.identity.user.clone(),
            requester_source: self.identity.source.as_str().to_string(),
            created_at: self.clock.stamp(),
            request: text,
            agents: intent.agents.clone(),
            agent: intent.agent,
            action: intent.action.clone(),
            intent,
            summary: draft.summary,
            stack: draft.stack,
            region: draft.region,
            steps: draft.steps,
            artifacts,
            resources: draft.resources,
            mutates: draft.mutates,
            risk: draft.risk,
            risk_reasons: draft.risk_reasons,
            cost: draft.cost,
            gates: Vec::new(),
            dry_runs: Vec::new(),
            requires_approval: draft.mutates,
            content_hash: String::new(),
            builtins: draft.builtins,
        }
    }

    /// The trail's account of a new plan: planned, gated, then denied by policy (the record
    /// is marked rejected) or queued for approval.
    fn plan_events(&self, rec: &mut PlanRecord) -> Vec<AuditEvent> {
        let request_id = rec.plan.request_id.clone();
        let plan_id = rec.plan.plan_id.clone();
        let intent_json = serde_json::to_value(&rec.plan.intent).ok();
        let mut artifacts_json: Vec<Value> = rec
            .plan
            .artifacts
            .iter()
            .map(|a| {
                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256, "size": a.size,
                       "uri": self.store.artifact_uri(&self.tenant.name, &a.sha256)})
            })
            .collect();
        // The built-in versions it was rendered from: their use is read back from here.
        artifacts_json.extend(
            rec.plan
                .builtins
                .iter()
                .map(crate::library::builtin_ref_json),
        );
        let mut planned = self.event(&request_id, EventKind::Planned, Status::Pending);
        planned.plan_id = Some(plan_id.clone());
        planned.agent_type = Some(rec.plan.agent.to_string());
        planned.intent = intent_json;
        planned.cost_impact = Some(rec.plan.cost.monthly_usd);
        planned.artifacts = artifacts_json;
        planned.message = Some(format!(
            "{} (risk {}, hash {}){}",
            rec.plan.summary,
            rec.plan.risk.as_str(),
            approval::short(&rec.plan.content_hash),
            rec.plan
                .dry_runs
                .iter()
                .map(|d| format!(
                    "; step {} {} dry run {}: {}",
                    d.step,
                    d.tool,
                    d.status.as_str(),
                    d.summary
                ))
                .collect::<String>()
        ));
        let mut gated = self.event(&request_id, EventKind::PolicyEvaluated, Status::Pending);
        gated.plan_id = Some(plan_id.clone());
        gated.agent_type = Some(rec.plan.agent.to_string());
        gated.security_gates = serde_json::to_value(&rec.plan.gates).ok();
        gated.message = Some(format!("worst gate: {}", rec.plan.worst_gate().as_str()));
        let mut events = vec![planned, gated];
        if rec.plan.denied() {
            let reasons: Vec<String> = rec
                .plan
                .gates
                .iter()
                .filter(|g| g.result == GateResult::Deny)
                .map(|g| format!("{}: {}", g.rule, g.reason))
                .collect();
            rec.state = State::Rejected;
            rec.rejection = Some(approval::Rejection {
                user: "policy".into(),
                at: self.clock.stamp(),
                reason: reasons.join("; "),
                signed: None,
            });
            let mut rejected = self.event(&request_id, EventKind::Rejected, Status::Rejected);
            rejected.plan_id = Some(plan_id.clone());
            rejected.message = Some(format!("denied by policy: {}", reasons.join("; ")));
            events.push(rejected);
        } else if rec.plan.requires_approval {
            let mut queued = self.event(&request_id, EventKind::Queued, Status::Pending);
            queued.plan_id = Some(plan_id.clone());
            queued.approval_metadata = Some(json!({
                "rule": rec.approval_rule,
                "roles": rec.approver_roles,
                "group": rec.approver_group,
                "required": rec.required_approvals,
                "requester": rec.plan.requester,
                "expiresAt": crate::time::iso(
                    jiff::Timestamp::from_second(rec.expires_at).unwrap_or_default()),
                "planHash": rec.plan.content_hash,
            }));
            events.push(queued);
        }
        events
    }
}

/// A request refused before anything of it was stored: its audit event and the error.
pub(super) struct Refusal {
    pub(super) event: AuditEvent,
    pub(super) error: Error,
}

/// `p-` and ten base32 characters (50 random bits): short enough to type, unique per tenant
/// (creation fails rather than overwrite on the rare collision).
pub(super) fn new_plan_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut id = String::from("p-");
    for b in bytes.iter().take(10) {
        id.push(ALPHABET[(*b as usize) % ALPHABET.len()] as char);
    }
    id
}

impl super::Deck {
    /// The trail's events about one plan, oldest first, read in one pass: approve and apply
    /// check several things in them.
    pub(super) fn plan_history(&self, plan_id: &str) -> Result<Vec<AuditEvent>> {
        let mut history = Vec::new();
        self.scan_trail(&mut |r| {
            if r.event.plan_id.as_deref() == Some(plan_id) {
                history.push(r.event);
            }
            true
        })?;
        Ok(history)
    }

    /// A plan counts only if the trail tells of it: its `planned` event and, when it needs
    /// approval (and policy did not deny it), its `queued` event. A plan record without them (left by a crash of an older
    /// version between storing the plan and writing its events, or put there by hand) is
    /// refused for approval and apply, and the refusal is audited.
    pub(super) fn require_plan_in_trail(
        &self,
        rec: &PlanRecord,
        what: &str,
        history: &[AuditEvent],
    ) -> Result<()> {
        let id = rec.plan.plan_id.as_str();
        let planned = history.iter().any(|e| e.event == EventKind::Planned);
        let queued = history.iter().any(|e| e.event == EventKind::Queued);
        // A plan denied by policy was never queued (its `rejected` event says why).
        let queue_expected = rec.plan.requires_approval && !rec.plan.denied();
        let missing = match (planned, queued || !queue_expected) {
            (true, true) => return Ok(()),
            (false, _) => "planned",
            (true, false) => "queued",
        };
        self.deny(
            rec,
            what,
            format!(
                "plan {id} has no `{missing}` event in the audit trail of tenant {t}: it was not queued through opsdeck (a crash while it was stored, or a record written by hand); ask again for a new plan",
                t = self.tenant.name
            ),
        )
    }
}
