//! What happens next to a plan, decided once from its state; each front end says it in its own
//! words (the console names its panes, the CLI its commands, MCP what a client may not do).

use serde::Serialize;

use crate::approval::{PlanRecord, State};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum NextStep<'a> {
    /// Waits for `required` approvals by people other than the requester.
    Approval {
        plan_id: &'a str,
        required: u32,
        requester: &'a str,
    },
    /// A policy denied it (`by_policy`) or a person rejected it.
    Refused {
        by_policy: bool,
        by: Option<&'a str>,
        reason: Option<&'a str>,
    },
    /// Read-only: it needed no approval.
    ReadOnly,
    /// Nothing waits on a person: approved, running or over.
    Settled { state: State },
}

impl<'a> NextStep<'a> {
    pub fn of(rec: &'a PlanRecord) -> NextStep<'a> {
        match rec.state {
            State::Pending => NextStep::Approval {
                plan_id: &rec.plan.plan_id,
                required: rec.required_approvals,
                requester: &rec.plan.requester,
            },
            State::Rejected => NextStep::Refused {
                by_policy: rec.plan.denied(),
                by: rec.rejection.as_ref().map(|r| r.user.as_str()),
                reason: rec.rejection.as_ref().map(|r| r.reason.as_str()),
            },
            State::NotRequired => NextStep::ReadOnly,
            state => NextStep::Settled { state },
        }
    }

    /// Whether the plan stops here (refused): the CLI exits non-zero for it.
    pub fn refused(&self) -> bool {
        matches!(self, NextStep::Refused { .. })
    }

    /// The console's line under a plan, for `viewer`: the requester learns how another
    /// person approves it.
    pub fn console_line(&self, viewer: &str) -> String {
        match self {
            NextStep::Approval {
                plan_id,
                required,
                requester,
            } if *requester == viewer => format!(
                "queued for approval ({required} needed): another person approves it in their console (4) or with `opsdeck approve {plan_id}`"
            ),
            NextStep::Approval { required, .. } => {
                format!("queued for approval ({required} needed)")
            }
            NextStep::Refused {
                by: Some(by),
                reason: Some(reason),
                ..
            } => format!("rejected by {by}: {reason}"),
            NextStep::Refused { .. } => "rejected".into(),
            NextStep::ReadOnly => "read-only: needs no approval".into(),
            NextStep::Settled { state } => state.as_str().into(),
        }
    }

    /// The CLI's line after a plan is made; `approvers` says who can approve it and how
    /// (`Deck::approval_hint`). Nothing when nobody has to act.
    pub fn cli_line(&self, plan_id: &str, approvers: impl FnOnce() -> String) -> Option<String> {
        match self {
            NextStep::Approval { .. } => Some(format!(
                "plan {plan_id} queued for approval: {}",
                approvers()
            )),
            NextStep::Refused {
                by_policy: true, ..
            } => Some(format!("plan {plan_id} was denied by policy")),
            NextStep::Refused {
                by: Some(by),
                reason: Some(reason),
                ..
            } => Some(format!("plan {plan_id} was rejected by {by}: {reason}")),
            NextStep::Refused { .. } => Some(format!("plan {plan_id} was rejected")),
            NextStep::ReadOnly | NextStep::Settled { .. } => None,
        }
    }

    /// MCP's `next` field: a client may queue plans, never approve them.
    pub fn mcp_text(&self) -> &'static str {
        match self {
            NextStep::Approval { .. } => {
                "a person must approve this plan in the opsdeck console or CLI (opsdeck approve); MCP clients cannot approve"
            }
            NextStep::Refused { .. } => "denied or rejected: see gates",
            NextStep::ReadOnly | NextStep::Settled { .. } => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::Rejection;
    use crate::view::test_record;

    #[test]
    fn a_pending_plan_waits_for_another_person_in_every_front_end() {
        let rec = test_record();
        let next = NextStep::of(&rec);
        assert_eq!(
            next.console_line("alice"),
            "queued for approval (1 needed): another person approves it in their console (4) or with `opsdeck approve p-test000001`"
        );
        assert_eq!(next.console_line("bob"), "queued for approval (1 needed)");
        assert_eq!(
            next.cli_line("p-test000001", || "bob approves".into())
                .as_deref(),
            Some("plan p-test000001 queued for approval: bob approves")
        );
        assert!(next.mcp_text().contains("MCP clients cannot approve"));
        assert!(!next.refused());
    }

    #[test]
    fn a_refusal_names_who_refused() {
        let mut rec = test_record();
        rec.state = State::Rejected;
        rec.rejection = Some(Rejection {
            user: "bob".into(),
            at: "2026-11-24T10:00:00Z".parse().unwrap(),
            reason: "wrong account".into(),
            signed: None,
        });
        let next = NextStep::of(&rec);
        assert!(next.refused());
        assert_eq!(next.console_line("alice"), "rejected by bob: wrong account");
        assert_eq!(
            next.cli_line("p-test000001", String::new).as_deref(),
            Some("plan p-test000001 was rejected by bob: wrong account")
        );
        assert_eq!(next.mcp_text(), "denied or rejected: see gates");
    }

    #[test]
    fn read_only_and_settled_plans_wait_on_nobody() {
        let mut rec = test_record();
        rec.state = State::NotRequired;
        let next = NextStep::of(&rec);
        assert_eq!(next.console_line("alice"), "read-only: needs no approval");
        assert_eq!(next.cli_line("p", String::new), None);
        assert_eq!(next.mcp_text(), "");
        rec.state = State::Succeeded;
        assert_eq!(NextStep::of(&rec).console_line("alice"), "succeeded");
    }
}
