//! Plans after they are queued: finding them, reading them and their artifacts (checked
//! against their hashes), approving and rejecting.

use serde_json::json;

use super::Approvals;
use crate::approval::rules::{Decision, Refusal};
use crate::approval::{self, PlanRecord, Requirement, State, rules};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Kind, Result};
use crate::identity::Verdict;
use crate::plan::{ArtifactKind, ArtifactRef, Plan};
use crate::redact::redact;
use crate::store::{StackStatus, StoreError};
use crate::tenant::Role;

/// A plan's files against what its stack was last applied with: see [`Approvals::comparison`].
pub struct Comparison {
    pub plan: PlanRecord,
    /// (file name, text) of the plan's Terraform, Ansible, script and dry-run artifacts.
    pub new: Vec<(String, String)>,
    /// (file name, text) of the stack's last applied files; empty for a new stack.
    pub old: Vec<(String, String)>,
    /// What the plan is compared with, in words.
    pub against: String,
}

impl Approvals<'_> {
    /// What a plan changes, as text: its Terraform/Ansible files and dry-run output, against
    /// the files the stack was last applied with (nothing for a new stack), and what it is
    /// compared with, in words. The diff viewer lays it out.
    pub fn comparison(&self, id: &str) -> Result<Comparison> {
        let plan = self.plan(id)?;
        let new = self
            .artifacts(&plan.plan)?
            .into_iter()
            .filter(|(a, _)| {
                matches!(
                    a.kind,
                    ArtifactKind::Terraform
                        | ArtifactKind::Ansible
                        | ArtifactKind::DryRun
                        | ArtifactKind::Script
                )
            })
            .map(|(a, b)| (a.name, String::from_utf8_lossy(&b).to_string()))
            .collect();
        let tenant = &self.tenant.name;
        let stack = match plan.plan.stack.as_deref() {
            Some(s) => self.store.get_stack(tenant, s)?,
            None => None,
        };
        let mut old = Vec::new();
        let against = match &stack {
            Some(s) if s.last_applied_plan != plan.plan.plan_id => {
                for a in &s.artifacts {
                    let bytes = self.store.get_artifact(tenant, &a.sha256)?;
                    old.push((a.name.clone(), String::from_utf8_lossy(&bytes).to_string()));
                }
                format!(
                    "stack {} as applied by {} ({})",
                    s.name,
                    s.last_applied_plan,
                    match s.status {
                        StackStatus::Active => "active",
                        StackStatus::Destroyed => "destroyed",
                    }
                )
            }
            Some(s) => format!("stack {}: this plan is what is applied", s.name),
            None => match &plan.plan.stack {
                Some(name) => format!("new stack {name} (compared with empty)"),
                None => "nothing (compared with empty)".to_string(),
            },
        };
        Ok(Comparison {
            plan,
            new,
            old,
            against,
        })
    }

    /// Finds a plan by id or unique id prefix.
    pub fn resolve_plan_id(&self, id: &str) -> Result<String> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::input(
                "a plan id is required (`opsdeck plans list` shows them)",
            ));
        }
        match self.store.get_plan(&self.tenant.name, id) {
            Ok(rec) => return Ok(rec.plan.plan_id),
            Err(e @ Error::Store(StoreError::Corrupt { .. })) => return Err(e),
            Err(_) => {}
        }
        let matches: Vec<String> = self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .map(|r| r.plan.plan_id)
            .filter(|p| p.starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(Error::not_found(
                "plan",
                id,
                format!(
                    "in tenant {}; `opsdeck plans list` shows them",
                    self.tenant.name
                ),
            )),
            n => Err(Error::input(format!(
                "plan id prefix '{id}' matches {n} plans ({}); type more of it",
                matches.join(", ")
            ))),
        }
    }

    pub fn plan(&self, id: &str) -> Result<PlanRecord> {
        self.require_reader("read plans")?;
        let id = self.resolve_plan_id(id)?;
        let mut rec = self.store.get_plan(&self.tenant.name, &id)?;
        if rec.expire_if_due(self.clock.as_ref()) {
            rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
                r.expire_if_due(self.clock.as_ref());
                Ok(())
            })?;
            let mut ev = self.event(&rec.plan.request_id, EventKind::Expired, Status::Expired);
            ev.plan_id = Some(id);
            ev.message = Some("expired while waiting for approval".into());
            self.append(&[ev])?;
        }
        Ok(rec)
    }

    pub fn plans(&self, state: Option<State>) -> Result<Vec<PlanRecord>> {
        self.require_reader("list plans")?;
        let clock = self.clock.as_ref();
        Ok(self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .map(|mut r| {
                // Shown as expired; persisted when someone acts on it.
                r.expire_if_due(clock);
                r
            })
            .filter(|r| state.is_none_or(|s| r.state == s))
            .collect())
    }

    /// The plan's artifacts, each checked against its content hash.
    pub fn artifacts(&self, plan: &Plan) -> Result<Vec<(ArtifactRef, Vec<u8>)>> {
        self.require_reader("read artifacts")?;
        plan.artifacts
            .iter()
            .map(|a| {
                self.store
                    .get_artifact(&self.tenant.name, &a.sha256)
                    .map(|b| (a.clone(), b))
            })
            .collect()
    }

    /// The plan's hash recomputed from what is stored now; a changed artifact is reported as such.
    pub(super) fn current_hash(&self, plan: &Plan) -> Result<String> {
        self.checked_artifacts(plan)?;
        Ok(plan.compute_hash())
    }

    /// The plan's artifacts, read once; one whose bytes no longer match its hash refuses the plan.
    pub(super) fn checked_artifacts(&self, plan: &Plan) -> Result<Vec<(ArtifactRef, Vec<u8>)>> {
        plan.artifacts
            .iter()
            .map(|a| match self.store.get_artifact(&self.tenant.name, &a.sha256) {
                Ok(bytes) => Ok((a.clone(), bytes)),
                Err(Error::Store(StoreError::Corrupt { detail, .. })) => Err(Error::refused(format!(
                    "artifact {} of plan {} was modified after it was stored ({detail}); the plan will not be approved or run",
                    a.name, plan.plan_id
                ))),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// Why `decision` cannot be taken on `rec` by the acting user now: the one rule the console
    /// also asks before it opens the confirmation.
    fn refusal(&self, decision: Decision, rec: &PlanRecord) -> Option<Refusal> {
        rules::refusal(
            decision,
            rec,
            &self.identity.user,
            &self.tenant,
            self.clock.as_ref(),
        )
    }

    /// Approves someone else's plan. The approver must be a registered user with a role the
    /// plan's approval rule accepts, and confirm with a current TOTP code. `break_glass` (a
    /// reason) lets one approval stand in for the required number; it never lifts a deny.
    pub fn approve(
        &self,
        id: &str,
        comment: Option<String>,
        totp: Option<&str>,
        break_glass: Option<String>,
    ) -> Result<PlanRecord> {
        let id = self.resolve_plan_id(id)?;
        let stored = self.store.get_plan(&self.tenant.name, &id)?;
        let what = format!("approve plan {id}");
        self.refuse_machine(&stored, &what)?;
        self.refuse_if_read_only(&what, Some(&id))?;
        let break_glass = match break_glass.map(|r| redact(r.trim())) {
            Some(r) if r.is_empty() => {
                return Err(Error::input(
                    "break-glass needs a reason (--reason \"...\")",
                ));
            }
            other => other,
        };
        let decision = if break_glass.is_some() {
            Decision::BreakGlass
        } else {
            Decision::Approve
        };
        // The rule every front end checks first; said before a TOTP code is spent on something
        // that can never succeed. A disabled break-glass is said even to non-members.
        let refusal = self.refusal(decision, &stored);
        if let Some(r @ Refusal::BreakGlassDisabled { .. }) = &refusal {
            return self.deny(&stored, &what, r.to_string());
        }
        let user = self.member(&stored, &what)?;
        self.require_plan_in_trail(&stored, &what, &self.plan_history(&id)?)?;
        match refusal {
            Some(r @ Refusal::OwnRequest { .. }) => {
                let why = format!("{}: {}", r.why(), self.approval_hint(&stored));
                return self.deny(&stored, &what, why);
            }
            Some(r) => return self.deny(&stored, &what, r.to_string()),
            None => {}
        }
        let req = Requirement {
            rule: stored.approval_rule.clone(),
            approvers: stored.required_approvals,
            roles: if stored.approver_roles.is_empty() {
                self.tenant.approvals.default_roles.clone()
            } else {
                stored.approver_roles.clone()
            },
            group: stored.approver_group.clone(),
        };
        if let Some(why) = rules::disqualified(&user, &req) {
            return self.deny(&stored, &what, why);
        }
        if let Some(why) = self.unsigned_group(&req) {
            return self.deny(&stored, &what, why);
        }
        // Before the TOTP code is spent: a code alone (read from the store, say) never approves.
        let key = match self.decision_key() {
            Ok(k) => k,
            Err(why) => return self.deny(&stored, &what, why),
        };
        self.second_factor(&stored, &what, totp)?;
        let hash = self.current_hash(&stored.plan)?;
        let me = self.identity.user.clone();
        let source = self.identity.source.as_str().to_string();
        let comment = comment.map(|c| redact(&c));
        let verdict = if break_glass.is_some() {
            Verdict::BreakGlass
        } else {
            Verdict::Approve
        };
        let at = self.clock.stamp();
        let signed = self.sign_decision(&key, &stored, &hash, verdict, &at)?;
        let who = approval::Decider {
            user: &me,
            user_source: &source,
            at: &at,
            signed: Some(signed.clone()),
        };
        let rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
            approval::approve(
                r,
                &who,
                comment.clone(),
                break_glass.clone(),
                &hash,
                self.clock.as_ref(),
            )
        });
        let rec = match rec {
            Ok(r) => r,
            Err(e) if e.kind() == Kind::Refused => {
                self.audit_denied(&stored, &what, &e.to_string())?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let status = if rec.state == State::Approved {
            Status::Approved
        } else {
            Status::Pending
        };
        let mut ev = self.event(&rec.plan.request_id, EventKind::Approved, status);
        ev.plan_id = Some(id);
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.approval_metadata = Some(json!({
            "approver": me,
            "approverSource": source,
            "approverRoles": user.roles,
            "mfa": "totp",
            "rule": rec.approval_rule,
            "planHash": hash,
            "approvals": rec.approvals.len(),
            "required": rec.required_approvals,
            "comment": comment,
            "breakGlass": break_glass.is_some(),
            "breakGlassReason": break_glass,
            "signedAt": at.to_string(),
            "signature": signed.signature,
            "keyFingerprint": signed.key_fingerprint,
        }));
        if let Some(reason) = &break_glass {
            ev.message = Some(format!("BREAK-GLASS approval by {me}: {reason}"));
        }
        self.append(&[ev])?;
        Ok(rec)
    }

    /// Rejects a plan: approvers, admins, or the requester withdrawing it; with a TOTP code.
    pub fn reject(&self, id: &str, reason: &str, totp: Option<&str>) -> Result<PlanRecord> {
        let id = self.resolve_plan_id(id)?;
        let stored = self.store.get_plan(&self.tenant.name, &id)?;
        let what = format!("reject plan {id}");
        self.refuse_machine(&stored, &what)?;
        self.refuse_if_read_only(&what, Some(&id))?;
        if reason.trim().is_empty() {
            return Err(Error::input(
                "a reason is required to reject a plan (--reason \"...\")",
            ));
        }
        let user = self.member(&stored, &what)?;
        if let Some(r) = self.refusal(Decision::Reject, &stored) {
            return self.deny(&stored, &what, r.to_string());
        }
        if !user.has_any(&[Role::Approver, Role::Admin]) && user.name != stored.plan.requester {
            return self.deny(&stored, &what, format!(
                "{} may not reject plans: that needs the approver or admin role, or being the requester",
                user.name
            ));
        }
        let key = match self.decision_key() {
            Ok(k) => k,
            Err(why) => return self.deny(&stored, &what, why),
        };
        self.second_factor(&stored, &what, totp)?;
        let me = self.identity.user.clone();
        let source = self.identity.source.as_str().to_string();
        let reason = redact(reason);
        let at = self.clock.stamp();
        let signed = self.sign_decision(
            &key,
            &stored,
            &stored.plan.content_hash,
            Verdict::Reject,
            &at,
        )?;
        let who = approval::Decider {
            user: &me,
            user_source: &source,
            at: &at,
            signed: Some(signed.clone()),
        };
        let rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
            approval::reject(r, &who, &reason, self.clock.as_ref())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Rejected, Status::Rejected);
        ev.plan_id = Some(id);
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.approval_metadata = Some(json!({
            "rejectedBy": me,
            "reason": reason,
            "mfa": "totp",
            "planHash": rec.plan.content_hash,
            "signedAt": at.to_string(),
            "signature": signed.signature,
            "keyFingerprint": signed.key_fingerprint,
        }));
        self.append(&[ev])?;
        Ok(rec)
    }
}
