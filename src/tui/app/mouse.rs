//! The mouse: a click on a tab or a pane focuses it, on a row of the approvals queue, the audit
//! browser or an answer's table selects that row. Where things are is what the last frame drew
//! ([`ClickMap`], written by the drawing). `m` turns mouse capture off so the terminal's own
//! text selection works (copying a plan id), and on again.

use std::sync::Mutex;

use ratatui::layout::{Position, Rect};

use super::App;
use crate::tui::action::Pane;

/// What a click on a region of the last frame means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    Pane(Pane),
    ApprovalRow(usize),
    AuditRow(usize),
    /// A row of an answer's table (an index into the transcript's lines).
    TranscriptLine(usize),
}

/// The regions of the last frame, the most specific last (a row inside its pane).
#[derive(Debug, Default)]
pub struct ClickMap {
    regions: Vec<(Rect, Click)>,
}

impl ClickMap {
    pub fn clear(&mut self) {
        self.regions.clear();
    }

    pub fn mark(&mut self, area: Rect, click: Click) {
        self.regions.push((area, click));
    }

    /// The most specific region under the cell (`column`, `row`).
    pub fn at(&self, column: u16, row: u16) -> Option<Click> {
        self.regions
            .iter()
            .rev()
            .find(|(r, _)| r.contains(Position::new(column, row)))
            .map(|(_, c)| *c)
    }
}

/// Marks a region from a drawing function (it holds `&App`).
pub fn mark(clicks: &Mutex<ClickMap>, area: Rect, click: Click) {
    if let Ok(mut map) = clicks.lock() {
        map.mark(area, click);
    }
}

impl App {
    /// A left click at (`column`, `row`); overlays take no clicks (their keys decide).
    pub(super) fn click(&mut self, column: u16, row: u16) -> bool {
        if !self.overlays.is_empty() {
            return false;
        }
        let Some(click) = self.clicks.lock().ok().and_then(|m| m.at(column, row)) else {
            return false;
        };
        match click {
            Click::Pane(p) => {
                if p != self.focus {
                    self.focus_pane(p);
                }
            }
            Click::ApprovalRow(i) => {
                self.approvals.selected = i;
                self.focus_pane(Pane::Approvals);
            }
            Click::AuditRow(i) => {
                self.audit.selected = i;
                self.focus_pane(Pane::Audit);
            }
            Click::TranscriptLine(i) => {
                self.focus_pane(Pane::Conversation);
                self.prompt_active = false;
                self.transcript.selected = Some(i);
                self.info("enter: what to ask about this row · esc: done");
            }
        }
        true
    }

    /// `m`: mouse capture off (the terminal selects text) or on (clicks and the wheel work
    /// here). The console's loop applies it to the terminal.
    pub(super) fn toggle_mouse(&mut self) {
        self.mouse_capture = !self.mouse_capture;
        self.info(if self.mouse_capture {
            "mouse on: clicks select panes and rows (m lets the terminal select text)"
        } else {
            "mouse off: select text with the terminal (m turns clicks back on)"
        });
    }
}
