//! Approve, break-glass, reject and apply, from the key to the core's answer. Before the
//! overlay asks for a reason or a TOTP code, the approval rules
//! ([`crate::approval::rules::refusal`], the same function the core and the state machine ask)
//! say whether the decision can be taken at all; the core checks everything again (membership,
//! roles, the code, the plan's hash) in a job.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::App;
use super::msg::Done;
use super::state::{Confirm, ConfirmKind, LineInput, Overlay};
use crate::approval::{PlanRecord, rules};
use crate::tui::action::{Action, Pane};
use crate::tui::errors;

impl App {
    /// The plan a decision key acts on: the queue's selection, or the plan in the diff viewer
    /// or the preview, as the queue last read it when it lists it (it is polled; the others are
    /// what was opened).
    fn target_plan(&self) -> Option<PlanRecord> {
        let shown = match self.focus {
            Pane::Approvals => return self.approvals.selected_plan().cloned(),
            Pane::Diff => self.diff.plan.as_ref(),
            _ => self.preview.plan.as_ref(),
        }?;
        let id = &shown.plan.plan_id;
        Some(
            self.approvals
                .plans
                .iter()
                .find(|r| r.plan.plan_id == *id)
                .unwrap_or(shown)
                .clone(),
        )
    }

    pub(super) fn ask_confirm(&mut self, kind: ConfirmKind) {
        let Some(rec) = self.target_plan() else {
            self.info("no plan selected");
            return;
        };
        let deck = &self.deck;
        if let Some(refusal) = rules::refusal(
            kind,
            &rec,
            &deck.identity().user,
            deck.tenant(),
            deck.clock(),
        ) {
            self.fail(errors::shared(refusal.into()));
            return;
        }
        let what = match kind {
            ConfirmKind::Apply => "apply plans",
            ConfirmKind::Reject => "reject plans",
            ConfirmKind::Approve | ConfirmKind::BreakGlass => "approve plans",
        };
        if let Some(refusal) = deck.read_only_preview(what) {
            self.fail(errors::shared(refusal));
            return;
        }
        if kind == ConfirmKind::Apply && self.apply.is_some() {
            // One run at a time per console: its progress owns the conversation.
            self.fail(errors::shared(crate::Error::refused(
                "an apply is already running in this console (C cancels it)",
            )));
            return;
        }
        let plan_id = rec.plan.plan_id.clone();
        self.overlays.push(Overlay::Confirm(Confirm {
            kind,
            plan: Box::new(rec),
            reason: LineInput::default(),
            totp: LineInput::default(),
            field: if matches!(kind, ConfirmKind::Reject | ConfirmKind::BreakGlass) {
                0
            } else {
                1
            },
            busy: false,
            error: None,
            receipt: None,
        }));
        // Who the apply acts as: before it runs, and before anyone approves it.
        if kind != ConfirmKind::Reject {
            let deck = self.deck.clone();
            self.spawn_blocking(
                format!("identity receipt for {plan_id}"),
                false,
                move |_job| Done::Receipt {
                    result: deck
                        .runs()
                        .identity_receipt(&plan_id)
                        .map(|r| crate::view::ReceiptView::of(&r))
                        .map_err(errors::shared),
                    plan_id,
                },
            );
        }
    }

    pub(super) fn send_approval(
        &mut self,
        plan_id: String,
        totp: String,
        comment: Option<String>,
        break_glass: Option<String>,
    ) {
        let deck = self.deck.clone();
        self.spawn_blocking(format!("approving {plan_id}"), false, move |_job| {
            Done::Approved {
                result: deck
                    .approvals()
                    .approve(&plan_id, comment, Some(&totp), break_glass)
                    .map(Box::new)
                    .map_err(errors::shared),
                plan_id,
            }
        });
    }

    pub(super) fn send_rejection(&mut self, plan_id: String, reason: String, totp: String) {
        let deck = self.deck.clone();
        self.spawn_blocking(format!("rejecting {plan_id}"), false, move |_job| {
            Done::Rejected {
                result: deck
                    .approvals()
                    .reject(&plan_id, &reason, Some(&totp))
                    .map(Box::new)
                    .map_err(errors::shared),
                plan_id,
            }
        });
    }
}

/// Keys in the confirm overlay: the reason (reject, break-glass), then the TOTP code; Enter
/// sends the decision once what it needs is typed.
pub(super) fn confirm_key(c: &mut Confirm, k: &KeyEvent) -> (bool, Option<Action>) {
    let missing = |text: &str| Some(errors::shared(crate::Error::input(text)));
    match k.code {
        KeyCode::Esc => (true, None),
        KeyCode::Tab | KeyCode::BackTab
            if matches!(c.kind, ConfirmKind::Reject | ConfirmKind::BreakGlass) =>
        {
            c.field = 1 - c.field;
            (false, None)
        }
        KeyCode::Enter => {
            let id = c.plan.plan.plan_id.clone();
            let a = match c.kind {
                // Nothing runs before the person has seen who it runs as.
                ConfirmKind::Apply if c.receipt.is_none() => {
                    c.error =
                        missing("wait for the identity receipt (account, role, region, runner)");
                    None
                }
                ConfirmKind::Apply => {
                    return (true, Some(Action::ConfirmApply { plan_id: id }));
                }
                ConfirmKind::Reject | ConfirmKind::BreakGlass
                    if c.reason.text.trim().is_empty() =>
                {
                    c.error = if c.kind == ConfirmKind::Reject {
                        missing("a reason is required to reject")
                    } else {
                        missing("breaking glass needs a reason (it is flagged in the audit trail)")
                    };
                    c.field = 0;
                    None
                }
                ConfirmKind::Reject | ConfirmKind::BreakGlass if c.field == 0 => {
                    c.field = 1;
                    None
                }
                _ if c.totp.text.len() != 6 => {
                    c.error = missing("type the 6-digit code from your authenticator");
                    None
                }
                ConfirmKind::Approve | ConfirmKind::BreakGlass => {
                    c.busy = true;
                    c.error = None;
                    Some(Action::ConfirmApprove {
                        plan_id: id,
                        totp: c.totp.text.clone(),
                        comment: None,
                        break_glass: (c.kind == ConfirmKind::BreakGlass)
                            .then(|| c.reason.text.clone()),
                    })
                }
                ConfirmKind::Reject => {
                    c.busy = true;
                    c.error = None;
                    Some(Action::ConfirmReject {
                        plan_id: id,
                        reason: c.reason.text.clone(),
                        totp: c.totp.text.clone(),
                    })
                }
            };
            (false, a)
        }
        _ => {
            if c.field == 0 {
                c.reason.key(k);
            } else if let KeyCode::Char(ch) = k.code {
                if ch.is_ascii_digit() && c.totp.text.len() < 6 {
                    c.totp.text.push(ch);
                }
            } else if k.code == KeyCode::Backspace {
                c.totp.text.pop();
            }
            (false, None)
        }
    }
}
