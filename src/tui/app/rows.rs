//! Quick actions on a row of an answer's table in the conversation: `s` selects the newest
//! row, the arrows move between rows, Enter lists what can be asked about it
//! ([`crate::view::quick_action`]: remediate a finding, restart an instance, tail a log group),
//! and the one picked goes into the prompt to read and send (it is not run from here).

use super::App;
use super::state::{Overlay, RowActions};
use crate::tui::action::Pane;
use crate::tui::components::conversation::wrap_segments;
use crate::view::quick_action::quick_actions;

impl App {
    /// Whether transcript line `i` is a row of a table (not its header).
    fn is_data_row(&self, i: usize) -> bool {
        self.transcript
            .lines
            .get(i)
            .and_then(|l| l.table.as_ref())
            .is_some_and(|t| !t.header)
    }

    /// `s` in the conversation: the newest table row (again: none).
    pub(super) fn select_row(&mut self) {
        self.prompt_active = false;
        self.focus = Pane::Conversation;
        let newest = (0..self.transcript.lines.len())
            .rev()
            .find(|&i| self.is_data_row(i));
        match newest {
            Some(i) => {
                self.transcript.selected = Some(i);
                self.reveal_selected_row();
                self.info("↑↓ another row · enter: what to ask about it · esc: done");
            }
            None => self.info("no answer with a table to pick a row from yet"),
        }
    }

    /// Moves the selection to the previous (`dir` < 0) or next table row; false without one.
    pub(super) fn move_row(&mut self, dir: i32) -> bool {
        let Some(at) = self.transcript.selected else {
            return false;
        };
        let next = if dir < 0 {
            (0..at).rev().find(|&i| self.is_data_row(i))
        } else {
            (at + 1..self.transcript.lines.len()).find(|&i| self.is_data_row(i))
        };
        if let Some(i) = next {
            self.transcript.selected = Some(i);
        }
        self.reveal_selected_row();
        true
    }

    /// Scrolls the conversation just enough that the selected row is on screen (at the size it
    /// was last drawn): a row above the view comes down to its top, one below up to its bottom.
    fn reveal_selected_row(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(at) = self.transcript.selected else {
            return;
        };
        let w = self.transcript.drawn_width.load(Relaxed);
        let h = self.transcript.drawn_height.load(Relaxed);
        if w == 0 || h == 0 {
            // Never drawn: following the newest output shows it once it is.
            self.transcript.scroll = 0;
            return;
        }
        let rows = |l: &super::state::TLine| wrap_segments(l, w).len();
        // Display rows below the selected line, and its own.
        let below: usize = self.transcript.lines[at + 1..].iter().map(rows).sum();
        let own = rows(&self.transcript.lines[at]).max(1);
        let scroll = &mut self.transcript.scroll;
        if below < *scroll {
            *scroll = below;
        } else if below + own > *scroll + h {
            *scroll = (below + own).saturating_sub(h).min(below);
        }
    }

    /// Enter on a selected row: what can be asked about it, to pick from.
    pub(super) fn open_row_actions(&mut self) -> bool {
        let Some(row) = self
            .transcript
            .selected
            .and_then(|i| self.transcript.lines.get(i))
            .and_then(|l| l.table.as_ref())
        else {
            return false;
        };
        let actions = quick_actions(&row.columns, &row.cells);
        if actions.is_empty() {
            self.info("nothing to ask about this row (no action fits it)");
            return true;
        }
        self.overlays.push(Overlay::RowActions(RowActions {
            actions,
            selected: 0,
        }));
        true
    }

    /// The action picked: its request in the prompt, for the requester to read and send.
    pub(super) fn prefill(&mut self, request: String) {
        self.transcript.selected = None;
        self.focus = Pane::Conversation;
        self.prompt_active = true;
        self.set_prompt(&request);
        self.preview.due = Some(std::time::Instant::now() + super::DEBOUNCE);
        self.info("in the prompt: read it, then enter sends it (through the usual gates)");
    }
}
