//! Closing the loop: what happened to this user's plans, told in the conversation and the status
//! bar as the queue's poll reads it from the store (so a decision or a run in another console,
//! on another machine or by the runner reaches the requester within a poll), and the preview
//! following the plan selected in the approvals queue or the audit browser.

use super::App;
use super::state::{Notice, TLine};
use crate::approval::PlanRecord;
use crate::tui::action::Pane;
use crate::tui::theme::Meaning;
use crate::view::decision::{Tone, news};

impl App {
    /// Tells the requester what changed on their plans since the last poll. The first read only
    /// remembers: what happened before the console opened is in the queue and the trail.
    pub(super) fn tell_requester(&mut self, plans: &[PlanRecord]) {
        let me = self.deck.identity().user.clone();
        let first = !self.approvals.loaded;
        for rec in plans.iter().filter(|r| r.plan.requester == me) {
            let id = rec.plan.plan_id.clone();
            let before = self.approvals.mine.get(&id);
            if first
                || before.is_some_and(|b| b.updated_at == rec.updated_at && b.state == rec.state)
            {
                self.approvals.mine.insert(id, rec.clone());
                continue;
            }
            // This console's own apply reports in the conversation as it runs.
            let ran_here = self.approvals.applied_here.contains(&id);
            for h in news(before, rec) {
                if ran_here && h.text.starts_with("apply") {
                    continue;
                }
                let m = match h.tone {
                    Tone::Good => Meaning::Success,
                    Tone::Bad => Meaning::Error,
                    Tone::Neutral => Meaning::Progress,
                };
                let text = format!("{id} {}", h.text);
                self.transcript.push(TLine {
                    table: None,
                    segments: vec![(Meaning::Muted, "● ".into()), (m, text.clone())],
                });
                self.notice = Some(match h.tone {
                    Tone::Bad => Notice::Bad(text),
                    _ => Notice::Success(text),
                });
            }
            if self
                .preview
                .plan
                .as_ref()
                .is_some_and(|p| p.plan.plan_id == id)
            {
                self.preview.plan = Some(rec.clone());
            }
            self.approvals.mine.insert(id, rec.clone());
        }
    }

    /// The preview shows the plan selected in the approvals queue or the audit browser (the
    /// audit row's plan, when the queue's last read has it).
    pub(super) fn follow_selection(&mut self) {
        let rec = match self.focus {
            Pane::Approvals => self.approvals.selected_plan(),
            Pane::Audit => self
                .audit
                .filtered
                .get(self.audit.selected)
                .and_then(|i| self.audit.rows.get(*i))
                .and_then(|r| r.plan_id.as_deref())
                .and_then(|id| self.approvals.find(id)),
            _ => return,
        };
        let Some(rec) = rec else { return };
        let same = self
            .preview
            .plan
            .as_ref()
            .is_some_and(|p| p.plan.plan_id == rec.plan.plan_id);
        if !same || self.preview.plan.as_ref() != Some(rec) {
            let rec = rec.clone();
            if !same {
                self.preview.scroll = 0;
            }
            self.preview.plan = Some(rec);
        }
    }
}
