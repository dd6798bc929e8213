//! Where a plan stands with its approvals and who may give them, as the preview, the approvals
//! queue, the CLI and MCP state it.

use serde::Serialize;

use crate::approval::{PlanRecord, State};

/// Whether a plan can be approved at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// A policy denied it: nobody can approve it.
    Denied,
    /// Read-only: it runs without approval.
    NotNeeded,
    /// Someone other than the requester must approve it.
    Needed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalView<'a> {
    pub state: State,
    pub need: Need,
    /// Who has approved so far, in order.
    pub given: Vec<&'a str>,
    pub required: u32,
    /// The roles that may approve, `approver/admin` (`approver` when the rule names none).
    pub roles: String,
    pub group: Option<&'a str>,
    /// The approval rule that applied (`default` when unnamed).
    pub rule: &'a str,
    /// Never an approver of their own plan.
    pub requester: &'a str,
}

impl<'a> ApprovalView<'a> {
    pub fn of(rec: &'a PlanRecord) -> ApprovalView<'a> {
        let need = if rec.plan.denied() {
            Need::Denied
        } else if !rec.plan.requires_approval {
            Need::NotNeeded
        } else {
            Need::Needed
        };
        let roles = rec
            .approver_roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join("/");
        ApprovalView {
            state: rec.state,
            need,
            given: rec.approvals.iter().map(|a| a.user.as_str()).collect(),
            required: rec.required_approvals,
            roles: if roles.is_empty() {
                "approver".into()
            } else {
                roles
            },
            group: rec.approver_group.as_deref(),
            rule: if rec.approval_rule.is_empty() {
                "default"
            } else {
                &rec.approval_rule
            },
            requester: &rec.plan.requester,
        }
    }

    /// The whole approval state in one line: `1 of 2 needed (approver/admin, group net) · rule
    /// prod · not by alice`, or why no approval applies.
    pub fn line(&self) -> String {
        match self.need {
            Need::Denied => Blocker::Denied.text().into(),
            Need::NotNeeded => "not needed (read-only)".into(),
            Need::Needed => format!(
                "{} of {} needed ({}{}) · rule {} · not by {}",
                self.given.len(),
                self.required,
                self.roles,
                self.group
                    .map(|g| format!(", group {g}"))
                    .unwrap_or_default(),
                self.rule,
                self.requester
            ),
        }
    }

    /// The approvals given so far and by whom: `1 of 2 (bob) · rule prod`.
    pub fn tally(&self) -> String {
        format!(
            "{} of {}{} · rule {}",
            self.given.len(),
            self.required,
            if self.given.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.given.join(", "))
            },
            self.rule
        )
    }

    /// The state in a few characters for a list: `pending 1/2`, else the state's name.
    pub fn progress(&self) -> String {
        match self.state {
            State::Pending => format!("pending {}/{}", self.given.len(), self.required),
            other => other.as_str().to_string(),
        }
    }

    /// What stops `viewer` from approving, when something does before they try.
    pub fn blocker_for(&self, viewer: &str) -> Option<Blocker> {
        if self.requester == viewer {
            Some(Blocker::OwnPlan)
        } else if self.need == Need::Denied {
            Some(Blocker::Denied)
        } else {
            None
        }
    }
}

/// Why a person cannot approve a plan, known before they try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    OwnPlan,
    Denied,
}

impl Blocker {
    pub fn text(self) -> &'static str {
        match self {
            Blocker::OwnPlan => "your own plan: another person must approve it",
            Blocker::Denied => "denied by policy: nobody can approve it",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::Approval;
    use crate::plan::{Gate, GateResult};
    use crate::view::test_record;

    #[test]
    fn the_line_says_who_may_approve_and_who_may_not() {
        let mut rec = test_record();
        let v = ApprovalView::of(&rec);
        assert_eq!(v.need, Need::Needed);
        assert_eq!(
            v.line(),
            "0 of 1 needed (approver/admin) · rule default · not by alice"
        );
        assert_eq!(v.progress(), "pending 0/1");
        assert_eq!(v.tally(), "0 of 1 · rule default");
        assert_eq!(v.blocker_for("alice"), Some(Blocker::OwnPlan));
        assert_eq!(
            Blocker::OwnPlan.text(),
            "your own plan: another person must approve it"
        );
        assert_eq!(v.blocker_for("bob"), None);

        rec.approval_rule = "prod".into();
        rec.approver_group = Some("net".into());
        rec.required_approvals = 2;
        rec.approvals.push(Approval {
            user: "bob".into(),
            user_source: "os".into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            plan_hash: rec.plan.content_hash.clone(),
            comment: None,
            break_glass: None,
            signed: None,
        });
        let v = ApprovalView::of(&rec);
        assert_eq!(
            v.line(),
            "1 of 2 needed (approver/admin, group net) · rule prod · not by alice"
        );
        assert_eq!(v.tally(), "1 of 2 (bob) · rule prod");
        assert_eq!(v.progress(), "pending 1/2");
    }

    #[test]
    fn denied_and_read_only_plans_need_nobody() {
        let mut rec = test_record();
        rec.plan.gates.push(Gate {
            rule: "deny.public".into(),
            result: GateResult::Deny,
            reason: "public bucket".into(),
        });
        rec.state = State::Rejected;
        let v = ApprovalView::of(&rec);
        assert_eq!(v.line(), "denied by policy: nobody can approve it");
        assert_eq!(v.blocker_for("bob"), Some(Blocker::Denied));
        assert_eq!(v.progress(), "rejected");
        let mut ro = test_record();
        ro.plan.requires_approval = false;
        assert_eq!(ApprovalView::of(&ro).line(), "not needed (read-only)");
    }
}
