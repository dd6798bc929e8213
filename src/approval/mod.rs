//! The approval state machine. Pure functions over a [`PlanRecord`]: the store makes each
//! transition atomic, this module decides whether it is allowed.
//!
//! ```text
//! Pending ─► Approved ─► Executing ─► Succeeded | Failed | Cancelled
//!    │           │
//!    ├─► Rejected ◄┘
//!    └─► Expired
//! NotRequired (read-only plans run at once)
//! ```

use serde::{Deserialize, Serialize};

pub mod error;
pub mod rules;

use crate::error::Result;
use crate::plan::Plan;
use crate::tenant::Role;
use crate::time::{Clock, Stamp};

pub use error::ApprovalError;
pub use rules::{Decision, Refusal, Requirement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Rejected,
    Expired,
    Executing,
    Succeeded,
    Failed,
    Cancelled,
    NotRequired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Expired => "expired",
            State::Executing => "executing",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::NotRequired => "not_required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub user: String,
    pub user_source: String,
    pub at: Stamp,
    /// The plan hash this approval covers.
    pub plan_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Set when this approval stood in for the required number: the emergency reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<String>,
    /// The approver's signature over the decision (see [`crate::identity::DecisionStatement`]);
    /// none on approvals made before signed approvals, which no longer count for apply.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Signed>,
}

/// A decision's signature by the person's own key, and that key's fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signed {
    pub signature: String,
    pub key_fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub user: String,
    pub at: Stamp,
    pub reason: String,
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub signed: Option<Signed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub started_at: Stamp,
    pub started_by: String,
    pub host: String,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Stamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// A plan and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRecord {
    pub plan: Plan,
    pub state: State,
    pub required_approvals: u32,
    /// The approval rule that applied, and who may approve under it.
    #[serde(default)]
    pub approval_rule: String,
    #[serde(default)]
    pub approver_roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_group: Option<String>,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
    /// Unix seconds after which a pending plan expires.
    pub expires_at: i64,
    /// Seconds an approval stays valid for apply.
    pub approved_ttl_secs: u64,
    #[serde(default)]
    pub executions: Vec<Execution>,
    /// Someone asked for this plan's run to stop; the runner applying it cancels at its next
    /// heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_request: Option<CancelRequest>,
    pub updated_at: Stamp,
}

/// Who asked for a run to stop, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub user: String,
    pub at: Stamp,
    pub reason: String,
}

impl PlanRecord {
    pub fn new(
        plan: Plan,
        req: Requirement,
        pending_ttl: u64,
        approved_ttl: u64,
        clock: &dyn Clock,
    ) -> Self {
        let state = if plan.requires_approval {
            State::Pending
        } else {
            State::NotRequired
        };
        PlanRecord {
            plan,
            state,
            required_approvals: req.approvers.max(1),
            approval_rule: req.rule,
            approver_roles: req.roles,
            approver_group: req.group,
            approvals: Vec::new(),
            rejection: None,
            expires_at: clock.unix() + pending_ttl as i64,
            approved_ttl_secs: approved_ttl,
            executions: Vec::new(),
            cancel_request: None,
            updated_at: clock.stamp(),
        }
    }

    /// Whether a pending plan's time to be approved is up (it is then expired, stored or not).
    pub fn pending_is_due(&self, clock: &dyn Clock) -> bool {
        self.state == State::Pending && clock.unix() > self.expires_at
    }

    /// Whether the last approval is older than an approval may stand before apply.
    pub fn approval_lapsed(&self, clock: &dyn Clock) -> bool {
        self.last_approval_second().is_some_and(|at| {
            clock.unix()
                > at.saturating_add(i64::try_from(self.approved_ttl_secs).unwrap_or(i64::MAX))
        })
    }

    /// Marks a pending plan expired when its time is up. Returns whether it changed.
    pub fn expire_if_due(&mut self, clock: &dyn Clock) -> bool {
        if self.pending_is_due(clock) {
            self.state = State::Expired;
            self.updated_at = clock.stamp();
            return true;
        }
        false
    }

    pub fn break_glass(&self) -> bool {
        self.approvals.iter().any(|a| a.break_glass.is_some())
    }

    /// Unix second of the last approval (approvals expire in whole seconds, like plans).
    pub fn last_approval_second(&self) -> Option<i64> {
        self.approvals.last().map(|a| a.at.as_second())
    }
}

/// Who decides and how they signed it: `at` is the time in the signed statement.
pub struct Decider<'a> {
    pub user: &'a str,
    pub user_source: &'a str,
    pub at: &'a Stamp,
    pub signed: Option<Signed>,
}

/// Records an approval by `who` for the plan as it is now (`current_hash` is recomputed from
/// the stored artifacts by the caller).
pub fn approve(
    rec: &mut PlanRecord,
    who: &Decider<'_>,
    comment: Option<String>,
    break_glass: Option<String>,
    current_hash: &str,
    clock: &dyn Clock,
) -> Result<()> {
    let user = who.user;
    let id = rec.plan.plan_id.clone();
    rec.expire_if_due(clock);
    let decision = if break_glass.is_some() {
        Decision::BreakGlass
    } else {
        Decision::Approve
    };
    if let Some(refusal) = rules::record_refusal(decision, rec, user, clock) {
        return Err(refusal.into());
    }
    if current_hash != rec.plan.content_hash {
        return Err(ApprovalError::ChangedBeforeApproval {
            plan_id: id,
            created: rec.plan.content_hash.clone(),
            now: current_hash.to_string(),
        }
        .into());
    }
    rec.approvals.push(Approval {
        user: user.to_string(),
        user_source: who.user_source.to_string(),
        at: who.at.clone(),
        plan_hash: current_hash.to_string(),
        comment,
        break_glass: break_glass.clone(),
        signed: who.signed.clone(),
    });
    if break_glass.is_some() || rec.approvals.len() as u32 >= rec.required_approvals {
        rec.state = State::Approved;
    }
    rec.updated_at = clock.stamp();
    Ok(())
}

pub fn reject(
    rec: &mut PlanRecord,
    who: &Decider<'_>,
    reason: &str,
    clock: &dyn Clock,
) -> Result<()> {
    let user = who.user;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApprovalError::ReasonRequired.into());
    }
    rec.expire_if_due(clock);
    if let Some(refusal) = rules::record_refusal(Decision::Reject, rec, user, clock) {
        return Err(refusal.into());
    }
    rec.state = State::Rejected;
    rec.rejection = Some(Rejection {
        user: user.to_string(),
        at: who.at.clone(),
        reason: reason.to_string(),
        signed: who.signed.clone(),
    });
    rec.updated_at = clock.stamp();
    Ok(())
}

/// Everything that must hold right before a plan runs.
pub fn check_runnable(rec: &mut PlanRecord, current_hash: &str, clock: &dyn Clock) -> Result<()> {
    let id = rec.plan.plan_id.clone();
    rec.expire_if_due(clock);
    // Who applies does not change these refusals (the core checks roles).
    if let Some(refusal) = rules::record_refusal(Decision::Apply, rec, "", clock) {
        if rec.state == State::Approved && matches!(refusal, Refusal::ApprovalLapsed { .. }) {
            rec.state = State::Expired;
            rec.updated_at = clock.stamp();
        }
        return Err(refusal.into());
    }
    if current_hash != rec.plan.content_hash
        || rec.approvals.iter().any(|a| a.plan_hash != current_hash)
    {
        return Err(ApprovalError::ChangedAfterApproval {
            plan_id: id,
            approved: rec
                .approvals
                .first()
                .map_or_else(|| "-".to_string(), |a| a.plan_hash.clone()),
            now: current_hash.to_string(),
        }
        .into());
    }
    Ok(())
}

pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}
