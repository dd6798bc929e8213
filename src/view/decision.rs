//! What was decided about a plan and what came of it, in the words its requester reads: the
//! approvals, the rejection with its reason, the runs and how they ended. [`DecisionView::of`]
//! states where a plan is; [`news`] says what changed between two reads of it (the console
//! tells the requester as the store shows it, whichever process or machine made the change).

use serde::Serialize;

use crate::approval::{PlanRecord, State};

/// How a piece of news reads: good, bad, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Good,
    Bad,
    Neutral,
}

/// One thing that happened to a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Happened {
    pub tone: Tone,
    /// Who did it (an approver, the person who applied), when someone did.
    pub by: Option<String>,
    /// `approved by bob`, `rejected by bob: not during the freeze`, `apply failed: …`.
    pub text: String,
}

/// Everything decided and run on a plan so far, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionView {
    pub happened: Vec<Happened>,
}

impl DecisionView {
    pub fn of(rec: &PlanRecord) -> DecisionView {
        DecisionView {
            happened: happened(rec, 0, 0, None),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.happened.iter().map(|h| h.text.clone()).collect()
    }
}

/// What happened to a plan between `before` (None: never seen) and `after`.
pub fn news(before: Option<&PlanRecord>, after: &PlanRecord) -> Vec<Happened> {
    let (approvals, runs, state) = match before {
        Some(b) => (b.approvals.len(), b.executions.len(), Some(b)),
        None => (0, 0, None),
    };
    happened(after, approvals, runs, state)
}

fn happened(
    rec: &PlanRecord,
    approvals_seen: usize,
    runs_seen: usize,
    before: Option<&PlanRecord>,
) -> Vec<Happened> {
    let mut out = Vec::new();
    for a in rec.approvals.iter().skip(approvals_seen) {
        let mut text = format!("approved by {}", a.user);
        if let Some(why) = &a.break_glass {
            text.push_str(&format!(" (break glass: {why})"));
        }
        out.push(Happened {
            tone: Tone::Good,
            by: Some(a.user.clone()),
            text,
        });
    }
    let was = |s: State| before.is_some_and(|b| b.state == s);
    if let Some(r) = &rec.rejection
        && before.is_none_or(|b| b.rejection.is_none())
    {
        out.push(Happened {
            tone: Tone::Bad,
            by: Some(r.user.clone()),
            text: format!("rejected by {}: {}", r.user, r.reason),
        });
    }
    if rec.state == State::Approved && !was(State::Approved) && !rec.approvals.is_empty() {
        out.push(Happened {
            tone: Tone::Good,
            by: None,
            text: "approved: ready to apply".into(),
        });
    }
    // A run listed before and finished since is news too, so look at every run from the
    // first one not finished when last seen.
    let first_open = before.map_or(0, |b| {
        b.executions
            .iter()
            .position(|x| x.finished_at.is_none())
            .unwrap_or(runs_seen)
    });
    for (i, x) in rec.executions.iter().enumerate().skip(first_open) {
        if i >= runs_seen {
            out.push(Happened {
                tone: Tone::Neutral,
                by: Some(x.started_by.clone()),
                text: format!("apply started by {} on {}", x.started_by, x.host),
            });
        }
        if x.finished_at.is_some() {
            let outcome = x.outcome.as_deref().unwrap_or("finished");
            let bad = matches!(rec.state, State::Failed | State::Cancelled)
                && i + 1 == rec.executions.len();
            out.push(Happened {
                tone: if bad { Tone::Bad } else { Tone::Good },
                by: Some(x.started_by.clone()),
                text: format!("apply by {}: {outcome}", x.started_by),
            });
        }
    }
    if rec.state == State::Expired && !was(State::Expired) {
        out.push(Happened {
            tone: Tone::Bad,
            by: None,
            text: "expired waiting for approval".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{Approval, Execution, Rejection};
    use crate::view::test_record;

    fn approval(user: &str) -> Approval {
        serde_json::from_value(serde_json::json!({
            "user": user, "user_source": "os", "at": "2026-11-24T10:01:00Z", "plan_hash": "ab",
        }))
        .unwrap()
    }

    #[test]
    fn an_approval_then_a_run_is_news_once_each() {
        let pending = test_record();
        let mut approved = pending.clone();
        approved.approvals.push(approval("bob"));
        approved.state = State::Approved;
        let texts = |v: Vec<Happened>| v.into_iter().map(|h| h.text).collect::<Vec<_>>();
        assert_eq!(
            texts(news(Some(&pending), &approved)),
            ["approved by bob", "approved: ready to apply"]
        );
        assert!(news(Some(&approved), &approved).is_empty(), "nothing new");

        let mut running = approved.clone();
        running.state = State::Executing;
        running.executions.push(Execution {
            started_at: "2026-11-24T10:02:00Z".parse().unwrap(),
            started_by: "alice".into(),
            host: "bastion".into(),
            pid: 1,
            finished_at: None,
            exit_code: None,
            log_uri: None,
            outcome: None,
        });
        assert_eq!(
            texts(news(Some(&approved), &running)),
            ["apply started by alice on bastion"]
        );
        let mut failed = running.clone();
        failed.state = State::Failed;
        failed.executions[0].finished_at = Some("2026-11-24T10:03:00Z".parse().unwrap());
        failed.executions[0].outcome = Some("failed: ec2 TerminateInstances: denied".into());
        let n = news(Some(&running), &failed);
        assert_eq!(n.len(), 1, "{n:?}");
        assert_eq!(n[0].tone, Tone::Bad);
        assert_eq!(
            n[0].text,
            "apply by alice: failed: ec2 TerminateInstances: denied"
        );
        // Seen only at the end (another console did everything): all of it, in order.
        assert_eq!(
            texts(news(Some(&pending), &failed)),
            [
                "approved by bob",
                "apply started by alice on bastion",
                "apply by alice: failed: ec2 TerminateInstances: denied"
            ]
        );
    }

    #[test]
    fn a_rejection_says_who_and_why() {
        let pending = test_record();
        let mut rejected = pending.clone();
        rejected.state = State::Rejected;
        rejected.rejection = Some(Rejection {
            user: "bob".into(),
            at: "2026-11-24T10:01:00Z".parse().unwrap(),
            reason: "not during the freeze".into(),
            signed: None,
        });
        let n = news(Some(&pending), &rejected);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].text, "rejected by bob: not during the freeze");
        assert_eq!((n[0].tone, n[0].by.as_deref()), (Tone::Bad, Some("bob")));
        assert_eq!(
            DecisionView::of(&rejected).lines(),
            ["rejected by bob: not during the freeze"]
        );
    }
}
