//! Approval rules, written once for the core and every front end:
//! - [`requirement`], [`disqualified`]: how many approvers a plan needs and who they may be, by
//!   environment, action and risk (rules as data; the first matching rule wins, otherwise the
//!   tenant's default);
//! - [`refusal`]: why a decision (approve, break-glass, reject, apply) cannot be taken on a plan
//!   as it stands. The console asks it before it asks for a TOTP code, the core before it
//!   spends one, and the state machine ([`super::approve`], [`super::reject`],
//!   [`super::check_runnable`]) again inside the store's atomic update; all three say the same.

use serde::{Deserialize, Serialize};

use super::{PlanRecord, State};
use crate::plan::{GateResult, Plan};
use crate::tenant::{ApprovalConfig, Role, Tenant, User};
use crate::time::Clock;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub rule: String,
    pub approvers: u32,
    pub roles: Vec<Role>,
    pub group: Option<String>,
}

pub fn requirement(plan: &Plan, cfg: &ApprovalConfig) -> Requirement {
    let env = plan
        .intent
        .params
        .environment
        .map(crate::intent::Environment::as_str);
    for r in &cfg.rules {
        let env_ok = r.environment.as_deref().is_none_or(|e| Some(e) == env);
        let action_ok = r.action.as_deref().is_none_or(|a| a == plan.action);
        let risk_ok = r.min_risk.is_none_or(|m| plan.risk >= m);
        if env_ok && action_ok && risk_ok {
            return Requirement {
                rule: r.name.clone(),
                approvers: r.approvers.max(1),
                roles: r.roles.clone(),
                group: r.group.clone(),
            };
        }
    }
    Requirement {
        rule: "default".into(),
        approvers: cfg.default_approvers.max(1),
        roles: cfg.default_roles.clone(),
        group: None,
    }
}

/// Why `user` may not approve under `req`, if they may not.
pub fn disqualified(user: &User, req: &Requirement) -> Option<String> {
    if !user.has_any(&req.roles) {
        let want: Vec<&str> = req.roles.iter().map(|r| r.as_str()).collect();
        return Some(format!(
            "{} may not approve under rule {}: it needs the role {} (they have {})",
            user.name,
            req.rule,
            want.join(" or "),
            user.roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(g) = &req.group
        && !user.groups.iter().any(|x| x == g)
    {
        return Some(format!(
            "{} may not approve under rule {}: approvers must be in group {g}",
            user.name, req.rule
        ));
    }
    None
}

/// A decision someone takes on a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    /// An approval with an emergency reason that stands in for the required number.
    BreakGlass,
    Reject,
    Apply,
}

/// Why a decision cannot be taken on a plan as it stands. [`Refusal::why`] says what stands in
/// the way, [`Refusal::next`] what the refused person can do; `Display` joins them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BreakGlassDisabled {
        tenant: String,
    },
    OwnRequest {
        user: String,
        plan_id: String,
    },
    /// A pending plan whose time ran out before enough people approved it.
    Expired {
        plan_id: String,
    },
    AlreadyApproved {
        plan_id: String,
        by: Vec<String>,
    },
    ApprovedTwice {
        user: String,
        plan_id: String,
        missing: u32,
    },
    /// A read-only plan: it ran when it was asked and needs no decision.
    ReadOnly {
        plan_id: String,
        decision: Decision,
    },
    /// Decided already: rejected, running or run.
    Closed {
        plan_id: String,
        state: State,
        decision: Decision,
    },
    Denied {
        plan_id: String,
        rules: Vec<String>,
        decision: Decision,
    },
    NotApproved {
        plan_id: String,
        have: usize,
        need: u32,
        requester: String,
    },
    Rejected {
        plan_id: String,
        by: Option<(String, String)>,
    },
    /// The approval was given but is older than the tenant lets it stand.
    ApprovalLapsed {
        plan_id: String,
        ttl_secs: u64,
    },
    TooFewApprovals {
        plan_id: String,
        have: usize,
        need: u32,
    },
}

impl Refusal {
    /// What stands in the way, in one sentence.
    pub fn why(&self) -> String {
        match self {
            Refusal::BreakGlassDisabled { tenant } => {
                format!("break-glass is disabled for tenant {tenant}")
            }
            Refusal::OwnRequest { user, plan_id } => {
                format!("{user} requested plan {plan_id} and cannot approve it")
            }
            Refusal::Expired { plan_id } => {
                format!("plan {plan_id} expired while waiting for approval")
            }
            Refusal::AlreadyApproved { plan_id, by } => {
                format!("plan {plan_id} is already approved (by {})", by.join(", "))
            }
            Refusal::ApprovedTwice { user, plan_id, .. } => {
                format!("{user} has already approved plan {plan_id}")
            }
            Refusal::ReadOnly {
                plan_id,
                decision: Decision::Apply,
            } => format!("plan {plan_id} is read-only; it ran when it was asked"),
            Refusal::ReadOnly { plan_id, .. } => {
                format!("plan {plan_id} is read-only and needs no approval")
            }
            Refusal::Closed {
                plan_id,
                state: State::Executing,
                decision: Decision::Apply,
            } => format!("plan {plan_id} is already being applied"),
            Refusal::Closed {
                plan_id,
                state: State::Succeeded,
                decision: Decision::Apply,
            } => format!("plan {plan_id} was already applied successfully"),
            Refusal::Closed {
                plan_id,
                state,
                decision: Decision::Apply,
            } => format!("plan {plan_id} already ran and {}", state.as_str()),
            Refusal::Closed {
                plan_id,
                state,
                decision,
            } => format!(
                "plan {plan_id} is {} and can no longer be {}",
                state.as_str(),
                match decision {
                    Decision::Reject => "rejected",
                    _ => "approved",
                }
            ),
            Refusal::Denied { plan_id, rules, .. } => {
                format!("plan {plan_id} is denied by policy ({})", rules.join(", "))
            }
            Refusal::NotApproved {
                plan_id,
                have,
                need,
                ..
            } => format!("plan {plan_id} is not approved yet ({have} of {need} approvals)"),
            Refusal::Rejected { plan_id, by } => match by {
                Some((user, reason)) => format!("plan {plan_id} was rejected by {user}: {reason}"),
                None => format!("plan {plan_id} was rejected"),
            },
            Refusal::ApprovalLapsed { plan_id, ttl_secs } => {
                format!("the approval of plan {plan_id} expired ({ttl_secs}s after it was given)")
            }
            Refusal::TooFewApprovals {
                plan_id,
                have,
                need,
            } => format!("plan {plan_id} has {have} of {need} required approvals"),
        }
    }

    /// What the refused person can do next, when there is something.
    pub fn next(&self) -> Option<String> {
        match self {
            Refusal::BreakGlassDisabled { .. } => Some(
                "it needs its regular approvals; an admin can allow break-glass in the tenant's approval settings"
                    .into(),
            ),
            Refusal::OwnRequest { plan_id, .. } => Some(format!(
                "another registered approver must; `opsdeck plans show {plan_id}` follows it"
            )),
            Refusal::Expired { .. } => Some("ask again to create a new plan".into()),
            Refusal::ApprovedTwice { missing, .. } => Some(format!(
                "it waits for {missing} more approval{} by someone else",
                if *missing == 1 { "" } else { "s" }
            )),
            Refusal::Denied {
                decision: Decision::Apply,
                ..
            } => Some("it will not run".into()),
            Refusal::Denied { .. } => Some("nobody can approve it".into()),
            Refusal::NotApproved {
                plan_id, requester, ..
            } => Some(format!(
                "someone other than {requester} approves it first, as themselves, with `opsdeck approve {plan_id} --totp CODE`; `opsdeck plans show {plan_id}` shows where it stands"
            )),
            Refusal::Closed {
                state: State::Failed | State::Cancelled,
                decision: Decision::Apply,
                ..
            } => Some("ask again for a fresh plan against the current state".into()),
            Refusal::ApprovalLapsed { .. } => Some("ask again for a fresh plan".into()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.next() {
            Some(next) => write!(f, "{}; {next}", self.why()),
            None => f.write_str(&self.why()),
        }
    }
}

impl From<Refusal> for crate::Error {
    fn from(r: Refusal) -> Self {
        super::ApprovalError::from(r).into()
    }
}

/// Why `acting_user` cannot take `decision` on the plan as it stands, or None when nothing in
/// the record, the tenant's settings or the time stands in the way. Membership, roles, the TOTP
/// code and the artifacts' hash are the core's to check: they need the store.
pub fn refusal(
    decision: Decision,
    rec: &PlanRecord,
    acting_user: &str,
    tenant: &Tenant,
    clock: &dyn Clock,
) -> Option<Refusal> {
    if decision == Decision::BreakGlass && !tenant.approvals.break_glass {
        return Some(Refusal::BreakGlassDisabled {
            tenant: tenant.name.clone(),
        });
    }
    record_refusal(decision, rec, acting_user, clock)
}

/// [`refusal`] from the record alone: what the state machine checks inside the store's update.
pub(crate) fn record_refusal(
    decision: Decision,
    rec: &PlanRecord,
    acting_user: &str,
    clock: &dyn Clock,
) -> Option<Refusal> {
    let plan_id = rec.plan.plan_id.clone();
    let state = if rec.pending_is_due(clock) {
        State::Expired
    } else {
        rec.state
    };
    let approved = rec.break_glass() || rec.approvals.len() as u32 >= rec.required_approvals;
    let denied = || Refusal::Denied {
        plan_id: plan_id.clone(),
        rules: rec
            .plan
            .gates
            .iter()
            .filter(|g| g.result == GateResult::Deny)
            .map(|g| g.rule.clone())
            .collect(),
        decision,
    };
    let closed = || Refusal::Closed {
        plan_id: plan_id.clone(),
        state,
        decision,
    };
    // Expired with its approvals complete: apply found them lapsed and marked it so.
    let expired = || {
        if approved {
            Refusal::ApprovalLapsed {
                plan_id: plan_id.clone(),
                ttl_secs: rec.approved_ttl_secs,
            }
        } else {
            Refusal::Expired {
                plan_id: plan_id.clone(),
            }
        }
    };
    match decision {
        Decision::Approve | Decision::BreakGlass => {
            if acting_user == rec.plan.requester {
                return Some(Refusal::OwnRequest {
                    user: acting_user.to_string(),
                    plan_id,
                });
            }
            match state {
                State::Pending => {}
                State::Expired => return Some(expired()),
                State::Approved => {
                    return Some(Refusal::AlreadyApproved {
                        by: rec.approvals.iter().map(|a| a.user.clone()).collect(),
                        plan_id,
                    });
                }
                State::NotRequired => return Some(Refusal::ReadOnly { plan_id, decision }),
                _ => return Some(closed()),
            }
            if rec.plan.denied() {
                return Some(denied());
            }
            if rec.approvals.iter().any(|a| a.user == acting_user) {
                return Some(Refusal::ApprovedTwice {
                    user: acting_user.to_string(),
                    plan_id,
                    missing: rec
                        .required_approvals
                        .saturating_sub(rec.approvals.len() as u32),
                });
            }
            None
        }
        Decision::Reject => match state {
            State::Pending | State::Approved => None,
            State::Expired => Some(expired()),
            State::NotRequired => Some(Refusal::ReadOnly { plan_id, decision }),
            _ => Some(closed()),
        },
        Decision::Apply => {
            match state {
                State::Approved => {}
                State::Pending => {
                    return Some(Refusal::NotApproved {
                        plan_id,
                        have: rec.approvals.len(),
                        need: rec.required_approvals,
                        requester: rec.plan.requester.clone(),
                    });
                }
                State::Rejected => {
                    return Some(Refusal::Rejected {
                        plan_id,
                        by: rec
                            .rejection
                            .as_ref()
                            .map(|r| (r.user.clone(), r.reason.clone())),
                    });
                }
                State::Expired => return Some(expired()),
                State::NotRequired => return Some(Refusal::ReadOnly { plan_id, decision }),
                State::Executing | State::Succeeded | State::Failed | State::Cancelled => {
                    return Some(closed());
                }
            }
            if rec.plan.denied() {
                return Some(denied());
            }
            if rec.approval_lapsed(clock) {
                return Some(Refusal::ApprovalLapsed {
                    plan_id,
                    ttl_secs: rec.approved_ttl_secs,
                });
            }
            if !approved {
                return Some(Refusal::TooFewApprovals {
                    plan_id,
                    have: rec.approvals.len(),
                    need: rec.required_approvals,
                });
            }
            None
        }
    }
}
