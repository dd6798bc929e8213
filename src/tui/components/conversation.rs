//! The conversation: the transcript (requests, agent progress, results) above the prompt.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use unicode_width::UnicodeWidthChar;

use crate::tui::action::Pane;
use crate::tui::app::{App, TLine};
use crate::tui::theme::Meaning;
use crate::tui::ui::{pane_block, title_line};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut extra = Vec::new();
    if app.transcript.scroll > 0 {
        extra.push(Span::styled(
            format!("↑{} ", app.transcript.scroll),
            t.get(Meaning::Muted),
        ));
    }
    let block = pane_block(
        app,
        Pane::Conversation,
        title_line(app, Pane::Conversation, extra),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = app.prompt.lines().len().clamp(1, 5) as u16;
    let prompt_h = (lines + 2).min(inner.height.saturating_sub(1));
    let transcript = Rect {
        height: inner.height.saturating_sub(prompt_h),
        ..inner
    };
    let prompt = Rect {
        y: inner.y + transcript.height,
        height: prompt_h,
        ..inner
    };
    draw_transcript(f, transcript, app);
    let active = app.prompt_active && app.focus == Pane::Conversation && app.overlays.is_empty();
    let title = if active {
        Span::styled(" request · enter submits ", t.get(Meaning::Prompt))
    } else {
        Span::styled(" request · i to type ", t.get(Meaning::Muted))
    };
    let mut ta = app.prompt.clone();
    ta.set_block(
        Block::bordered()
            .border_style(t.border(active))
            .title(title),
    );
    if !active {
        // No blinking cursor in a prompt that does not have the keyboard.
        ta.set_cursor_style(t.get(Meaning::Text));
    }
    f.render_widget(&ta, prompt);
}

/// Wraps styled segments to `w` cells.
pub fn wrap_segments(l: &TLine, w: usize) -> Vec<Vec<(Meaning, String)>> {
    let mut rows: Vec<Vec<(Meaning, String)>> = vec![Vec::new()];
    let mut used = 0;
    for (m, s) in &l.segments {
        let mut cur = String::new();
        for c in crate::tui::text::safe(s).chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > w && w > 0 {
                if let Some(row) = rows.last_mut() {
                    row.push((*m, std::mem::take(&mut cur)));
                }
                rows.push(Vec::new());
                used = 0;
            }
            cur.push(c);
            used += cw;
        }
        if let Some(row) = rows.last_mut() {
            row.push((*m, cur));
        }
    }
    rows
}

fn draw_transcript(f: &mut Frame, area: Rect, app: &App) {
    let h = area.height as usize;
    let w = area.width as usize;
    if h == 0 || w == 0 {
        return;
    }
    // Walk back from the newest line, wrapping only what can be seen.
    let want = h + app.transcript.scroll;
    let mut rows: Vec<Vec<(Meaning, String)>> = Vec::with_capacity(want);
    for l in app.transcript.lines.iter().rev() {
        let mut wrapped = wrap_segments(l, w);
        wrapped.reverse();
        rows.extend(wrapped);
        if rows.len() >= want {
            break;
        }
    }
    let skip = app.transcript.scroll.min(rows.len().saturating_sub(h));
    let visible: Vec<_> = rows.iter().skip(skip).take(h).collect();
    let top_pad = h - visible.len();
    for (i, row) in visible.iter().rev().enumerate() {
        let spans: Vec<Span> = row
            .iter()
            .map(|(m, s)| Span::styled(s.clone(), app.theme.get(*m)))
            .collect();
        let r = Rect {
            y: area.y + (top_pad + i) as u16,
            height: 1,
            ..area
        };
        f.render_widget(Line::from(spans), r);
    }
}
