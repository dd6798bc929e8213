//! Input → [`Action`]: a key goes to the top overlay first (it consumes every key, helix-style
//! layers), then to the prompt while it has the keyboard, then to the focused pane's keymap.
//! The prompt's history lives here too.

use std::sync::atomic::Ordering;
use std::time::Instant;

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui_textarea::TextArea;

use super::state::Overlay;
use super::{App, DEBOUNCE, Msg};
use crate::tui::action::{Action, Pane};
use crate::tui::keymap::{Key, KeyCode2};

impl App {
    /// Folds one message into the state; returns whether the screen must be redrawn.
    pub fn handle_msg(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Term(Event::Key(k)) => {
                if k.kind == KeyEventKind::Release {
                    return false;
                }
                if let Some(a) = self.key_to_action(&k) {
                    self.update(a);
                }
                self.refresh_suggestion();
                true
            }
            Msg::Term(Event::Mouse(m)) => match m.kind {
                MouseEventKind::ScrollUp => {
                    self.update(Action::ScrollLines(-3));
                    true
                }
                MouseEventKind::ScrollDown => {
                    self.update(Action::ScrollLines(3));
                    true
                }
                MouseEventKind::Down(MouseButton::Left) => self.click(m.column, m.row),
                _ => false,
            },
            Msg::Term(Event::Resize(..)) => true,
            Msg::Term(Event::Paste(s)) => {
                self.paste(&s);
                self.refresh_suggestion();
                true
            }
            Msg::Term(_) => false,
            other => {
                self.fold(other);
                true
            }
        }
    }

    /// Overlays first (top of the stack), then the prompt, then the focused pane's keymap.
    pub fn key_to_action(&mut self, k: &KeyEvent) -> Option<Action> {
        self.notice = None;
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            // With something running, the first Ctrl-C cancels it; the next one quits.
            if !self.cancel_asked
                && (self.apply.is_some() || self.running_requests().next().is_some())
            {
                self.cancel_asked = true;
                return Some(Action::CancelApply);
            }
            return Some(Action::Quit);
        }
        self.cancel_asked = false;
        let key = Key::from_event(k);
        let tab = k.code == KeyCode::Tab && k.modifiers.is_empty();
        if tab && matches!(self.overlays.last(), Some(Overlay::Command(_))) {
            self.complete_command_line();
            return None;
        }
        let in_prompt =
            self.overlays.is_empty() && self.prompt_active && self.focus == Pane::Conversation;
        // The suggestion shown after the cursor: Tab, or Right at the end of the line, takes it.
        if in_prompt
            && (tab || (k.code == KeyCode::Right && k.modifiers.is_empty()))
            && self.accept_suggestion()
        {
            return None;
        }
        if tab && self.prompt_active && self.focus == Pane::Conversation && self.complete_prompt() {
            return None;
        }
        if let Some(top) = self.overlays.last_mut() {
            let (close, action) = overlay_key(top, k);
            if let Overlay::Help { scroll } | Overlay::Detail { scroll, .. } = top {
                // Scrolling stops at the end, so the way back up is as long as the way down.
                let max = self.overlay_scroll_max.load(Ordering::Relaxed);
                *scroll = (*scroll).min(max);
            }
            if close {
                self.overlays.pop();
            }
            return action;
        }
        if self.prompt_active && self.focus == Pane::Conversation {
            if let Some(a) = key
                .as_ref()
                .and_then(|key| self.keymap.lookup("prompt", key))
            {
                return Some(a);
            }
            // Esc then a key, arriving together (slow links, pasted input), reads as alt-key:
            // treat it as leaving the prompt and pressing that key.
            if let (KeyCode::Char(_), true) = (k.code, k.modifiers.contains(KeyModifiers::ALT)) {
                self.prompt_active = false;
                let plain = KeyEvent::new(k.code, k.modifiers - KeyModifiers::ALT);
                return Key::from_event(&plain)
                    .and_then(|key| self.keymap.lookup(self.focus.context(), &key));
            }
            // An empty prompt has nothing to lose: a pane's number switches to it, as anywhere.
            if let (KeyCode::Char('1'..='9'), true) = (k.code, k.modifiers.is_empty())
                && self.prompt_text().is_empty()
                && let Some(a) = key
                    .as_ref()
                    .and_then(|key| self.keymap.lookup("global", key))
            {
                return Some(a);
            }
            if self.prompt.input(*k) {
                self.preview.due = Some(Instant::now() + DEBOUNCE);
            }
            return None;
        }
        // Enter on a selected answer row lists its quick actions (`s` selected it); without
        // one, Enter types a request as the keymap says.
        if self.focus == Pane::Conversation
            && self.transcript.selected.is_some()
            && k.code == KeyCode::Enter
            && k.modifiers.is_empty()
            && self.open_row_actions()
        {
            return None;
        }
        let ctx = self.focus.context();
        match key {
            Some(key) => self.keymap.lookup(ctx, &key).or_else(|| {
                // Esc then a key, arriving together, reads as alt-key: in a pane, Esc has
                // nothing to leave, so it is that key.
                (key.alt && matches!(key.code, KeyCode2::Char(_)))
                    .then_some(Key { alt: false, ..key })
                    .and_then(|plain| self.keymap.lookup(ctx, &plain))
            }),
            None => None,
        }
    }

    /// Bracketed paste: the whole text at once (newlines included) into what has the keyboard,
    /// so a long paste is one edit and one Enter submits it. Outside an input, it goes to the
    /// prompt.
    fn paste(&mut self, s: &str) {
        let text = s.replace("\r\n", "\n").replace('\r', "\n");
        match self.overlays.last_mut() {
            Some(Overlay::Command(input)) | Some(Overlay::Filter { input, .. }) => {
                input.text.push_str(&text.replace('\n', " "));
                if let Some(Overlay::Filter { input, .. }) = self.overlays.last() {
                    let f = input.text.clone();
                    self.update(Action::SetFilter(f));
                }
            }
            Some(_) => {}
            None => {
                self.focus_pane(Pane::Conversation);
                self.prompt_active = true;
                self.prompt
                    .insert_str(text.strip_suffix('\n').unwrap_or(&text));
                self.preview.due = Some(Instant::now() + DEBOUNCE);
            }
        }
    }

    pub(super) fn history_step(&mut self, dir: i32) {
        if self.prompt.lines().len() > 1 {
            // Multi-line input: arrows move the cursor, as in any editor.
            self.prompt.move_cursor(if dir < 0 {
                ratatui_textarea::CursorMove::Up
            } else {
                ratatui_textarea::CursorMove::Down
            });
            return;
        }
        if self.history.is_empty() {
            return;
        }
        let pos = match (self.history_pos, dir < 0) {
            (None, true) => Some(self.history.len() - 1),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p + 1 < self.history.len() => Some(p + 1),
            (Some(_), false) => None,
        };
        self.history_pos = pos;
        let text = pos.map(|p| self.history[p].clone()).unwrap_or_default();
        self.set_prompt(&text);
        self.preview.due = Some(Instant::now() + DEBOUNCE);
    }

    /// Keeps a submitted request for Up to recall, once.
    pub(super) fn remember(&mut self, text: &str) {
        if self.history.last().map(String::as_str) != Some(text) {
            self.history.push(text.to_string());
        }
        self.history_pos = None;
    }

    /// Tab in the prompt: the last word completed from the names the tenant's requests used
    /// (tag values after `Key=`); several candidates are listed on the status line. False when
    /// nothing matches (Tab then moves on to the next pane).
    fn complete_prompt(&mut self) -> bool {
        let text = self.prompt_text();
        if text.contains('\n') {
            return false;
        }
        let known = self.deck.requests().known_names();
        let Some(done) = crate::view::completion::complete(&text, &known) else {
            return false;
        };
        if done.text != text {
            self.set_prompt(&done.text);
            self.preview.due = Some(Instant::now() + DEBOUNCE);
        }
        if done.candidates.len() > 1 {
            self.info(candidates_line(&done.candidates));
        }
        true
    }

    /// The suggestion for what the prompt holds now (from the phrase book in memory), made
    /// again only when the text changed.
    pub(super) fn refresh_suggestion(&mut self) {
        let text = self.prompt_text();
        if text == self.suggested_for {
            return;
        }
        self.suggestion = self.phrases.suggest(&text, 1).into_iter().next();
        self.suggested_for = text;
    }

    /// Whether the cursor is at the end of a one-line prompt (where the ghost text shows).
    pub fn cursor_at_end(&self) -> bool {
        let lines = self.prompt.lines();
        let ratatui_textarea::DataCursor(row, col) = self.prompt.cursor();
        lines.len() == 1 && row == 0 && col == lines[0].chars().count()
    }

    /// Takes the suggestion shown: false when none shows (the key then does what it does).
    fn accept_suggestion(&mut self) -> bool {
        let Some(s) = self.suggestion.clone() else {
            return false;
        };
        if !self.cursor_at_end() || self.prompt_text() != self.suggested_for {
            return false;
        }
        self.set_prompt(&s.text);
        self.preview.due = Some(Instant::now() + DEBOUNCE);
        self.refresh_suggestion();
        true
    }

    /// Tab in the `:` line: a command name, or a plan id after it.
    fn complete_command_line(&mut self) {
        let Some(Overlay::Command(input)) = self.overlays.last() else {
            return;
        };
        let names: Vec<&str> = crate::tui::commands::COMMANDS
            .iter()
            .flat_map(|c| c.names.iter().copied())
            .collect();
        let known = self.deck.requests().known_names();
        let Some(done) = crate::view::completion::complete_command(&input.text, &names, &known)
        else {
            return;
        };
        if let Some(Overlay::Command(input)) = self.overlays.last_mut() {
            input.text = done.text;
        }
        if done.candidates.len() > 1 {
            self.info(candidates_line(&done.candidates));
        }
    }

    pub(super) fn set_prompt(&mut self, text: &str) {
        self.prompt = TextArea::new(text.lines().map(str::to_string).collect());
        self.prompt
            .move_cursor(ratatui_textarea::CursorMove::Bottom);
        self.prompt.move_cursor(ratatui_textarea::CursorMove::End);
        self.style_prompt();
    }
}

/// Keys for the top overlay. Returns whether the overlay closes, and the action to apply after
/// it has.
fn overlay_key(top: &mut Overlay, k: &KeyEvent) -> (bool, Option<Action>) {
    let keep = |a: Option<Action>| (false, a);
    match top {
        Overlay::Help { scroll } | Overlay::Detail { scroll, .. } => match k.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => (true, None),
            KeyCode::Down | KeyCode::Char('j') => {
                *scroll = scroll.saturating_add(1);
                keep(None)
            }
            KeyCode::Up | KeyCode::Char('k') => {
                *scroll = scroll.saturating_sub(1);
                keep(None)
            }
            KeyCode::PageDown => {
                *scroll = scroll.saturating_add(10);
                keep(None)
            }
            KeyCode::PageUp => {
                *scroll = scroll.saturating_sub(10);
                keep(None)
            }
            _ => keep(None),
        },
        Overlay::Command(input) => match k.code {
            KeyCode::Esc => (true, None),
            KeyCode::Enter => (true, Some(Action::Command(input.text.trim().to_string()))),
            _ => {
                input.key(k);
                keep(None)
            }
        },
        Overlay::Filter { input, before, .. } => match k.code {
            KeyCode::Esc => (true, Some(Action::SetFilter(before.clone()))),
            KeyCode::Enter => (true, None),
            _ => keep(input.key(k).then(|| Action::SetFilter(input.text.clone()))),
        },
        Overlay::Readings(pick) => reading_key(pick, k),
        Overlay::RowActions(list) => row_action_key(list, k),
        Overlay::Confirm(c) => {
            if c.busy {
                return keep(None);
            }
            super::confirm::confirm_key(c, k)
        }
    }
}

/// What a key does in a numbered list overlay (the reading pick, a row's quick actions).
enum ListKey {
    Close,
    /// The item at this index (0-based) is picked.
    Pick(usize),
    Stay,
}

/// A numbered list's keys: an item's number picks it at once; arrows (and j/k) move the
/// selection, Enter picks it; Esc (and q) closes.
fn list_key(selected: &mut usize, count: usize, k: &KeyEvent) -> ListKey {
    match k.code {
        KeyCode::Esc | KeyCode::Char('q') => ListKey::Close,
        KeyCode::Up | KeyCode::Char('k') => {
            *selected = selected.saturating_sub(1);
            ListKey::Stay
        }
        KeyCode::Down | KeyCode::Char('j') => {
            *selected = (*selected + 1).min(count.saturating_sub(1));
            ListKey::Stay
        }
        KeyCode::Enter if count > 0 => ListKey::Pick(*selected),
        KeyCode::Char(c) => match c.to_digit(10).map(|d| d as usize) {
            Some(n) if (1..=count).contains(&n) => ListKey::Pick(n - 1),
            _ => ListKey::Stay,
        },
        _ => ListKey::Stay,
    }
}

/// Keys in the reading pick: the reading picked is planned as `--confirm-reading N` plans it;
/// Esc plans nothing.
fn reading_key(pick: &mut super::state::ReadingPick, k: &KeyEvent) -> (bool, Option<Action>) {
    match list_key(&mut pick.selected, pick.choice.rows.len(), k) {
        ListKey::Close => (true, None),
        ListKey::Pick(i) => (
            true,
            Some(Action::ConfirmReading {
                text: pick.text.clone(),
                reading: i + 1,
            }),
        ),
        ListKey::Stay => (false, None),
    }
}

/// Keys in a row's quick actions: the action picked puts its request in the prompt; Esc puts
/// nothing.
fn row_action_key(list: &mut super::state::RowActions, k: &KeyEvent) -> (bool, Option<Action>) {
    match list_key(&mut list.selected, list.actions.len(), k) {
        ListKey::Close => (true, None),
        ListKey::Pick(i) => (true, Some(Action::Prefill(list.actions[i].request.clone()))),
        ListKey::Stay => (false, None),
    }
}

/// Candidates on the status line: the first few, and how many more.
fn candidates_line(candidates: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut line = candidates
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("  ");
    if candidates.len() > SHOWN {
        line.push_str(&format!("  (+{} more)", candidates.len() - SHOWN));
    }
    line
}
