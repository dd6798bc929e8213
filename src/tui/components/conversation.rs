//! The conversation: the transcript (requests, agent progress, results) above the prompt.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use unicode_width::UnicodeWidthChar;

use crate::tui::action::Pane;
use crate::tui::app::{App, TLine, TableRow};
use crate::tui::text;
use crate::tui::theme::Meaning;
use crate::tui::ui::{pane_block, title_line};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let inner = Block::bordered().inner(area);
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
    // The title counts the rows actually scrolled (drawn after the transcript knows them).
    let skip = draw_transcript(f, transcript, app);
    let mut extra = Vec::new();
    if skip > 0 {
        extra.push(Span::styled(
            format!("↑ {skip} rows up (G: newest) "),
            t.get(Meaning::StatusKey),
        ));
    }
    f.render_widget(
        pane_block(
            app,
            Pane::Conversation,
            title_line(app, Pane::Conversation, extra),
        ),
        area,
    );
    let active = app.prompt_active && app.focus == Pane::Conversation && app.overlays.is_empty();
    let title = if active && app.suggestion.is_some() && app.cursor_at_end() {
        Span::styled(
            " request · tab takes the suggestion · enter submits ",
            t.get(Meaning::Prompt),
        )
    } else if active {
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
    if active {
        draw_suggestion(f, Block::bordered().inner(prompt), app);
    }
}

/// The suggestion's rest as ghost text after what is typed: its first character under the
/// cursor, the others muted; only on a one-line prompt with the cursor at its end, and only
/// where it starts inside the prompt (a long line scrolls, and then nothing is suggested).
fn draw_suggestion(f: &mut Frame, inner: Rect, app: &App) {
    let Some(s) = &app.suggestion else { return };
    if !app.cursor_at_end() || inner.height == 0 {
        return;
    }
    let typed = text::width(&app.prompt.lines()[0]);
    let room = (inner.width as usize).saturating_sub(typed);
    if room < 2 {
        return;
    }
    let rest = text::safe_owned(s.rest.clone());
    let mut chars = rest.chars();
    let Some(first) = chars.next() else { return };
    let cursor = (inner.x + typed as u16, inner.y);
    if let Some(cell) = f.buffer_mut().cell_mut(cursor) {
        cell.set_char(first);
    }
    let after: String = chars.collect();
    let shown = text::fit(&after, room - 1);
    f.render_widget(
        Span::styled(shown, app.theme.get(Meaning::Muted)),
        Rect {
            x: cursor.0 + 1,
            y: cursor.1,
            width: (room - 1) as u16,
            height: 1,
        },
    );
}

/// A transcript line in rows of `w` cells: wrapped at word boundaries with a hanging indent,
/// or, for a result table's row, laid out in columns that fit `w`.
pub fn wrap_segments(l: &TLine, w: usize) -> Vec<Vec<(Meaning, String)>> {
    if let Some(row) = &l.table {
        return vec![table_row(row, w)];
    }
    let mut cells: Vec<(char, usize)> = Vec::new();
    let mut meanings: Vec<Meaning> = Vec::new();
    for (m, s) in &l.segments {
        for c in text::safe(s).chars() {
            cells.push((c, c.width().unwrap_or(0)));
            meanings.push(*m);
        }
    }
    let head: String = cells.iter().take(16).map(|c| c.0).collect();
    let indent = text::hanging_indent(&head);
    let ranges = text::word_rows(&cells, w, indent);
    let indent = if indent * 2 > w { 0 } else { indent };
    let mut rows = Vec::with_capacity(ranges.len());
    for (n, r) in ranges.into_iter().enumerate() {
        let mut row: Vec<(Meaning, String)> = Vec::new();
        if n > 0 && indent > 0 {
            row.push((Meaning::Text, " ".repeat(indent)));
        }
        for i in r {
            match row.last_mut() {
                Some((m, s)) if *m == meanings[i] => s.push(cells[i].0),
                _ => row.push((meanings[i], cells[i].0.to_string())),
            }
        }
        rows.push(row);
    }
    rows
}

/// A result table's row in columns that fit `w` cells (after a two-cell indent, two cells
/// between columns): the widest columns give way first, cut with an ellipsis.
fn table_row(row: &TableRow, w: usize) -> Vec<(Meaning, String)> {
    let n = row.cols.len().max(1) as u16;
    let avail = (w as u16).saturating_sub(2).saturating_sub(n - 1);
    let widths = text::allocate(avail, &row.cols);
    let mut out = String::from("  ");
    let mut first = true;
    for (i, cw) in widths.iter().enumerate() {
        if *cw == 0 {
            continue;
        }
        if !first {
            out.push_str("  ");
        }
        first = false;
        let cell = row.cells.get(i).map(String::as_str).unwrap_or("");
        out.push_str(&text::pad(cell, *cw as usize));
    }
    let m = if row.header {
        Meaning::Muted
    } else {
        Meaning::Text
    };
    vec![(m, out.trim_end().to_string())]
}

/// Draws the rows that fit, newest at the bottom; returns how many rows are scrolled up.
fn draw_transcript(f: &mut Frame, area: Rect, app: &App) -> usize {
    let h = area.height as usize;
    let w = area.width as usize;
    app.transcript
        .drawn_width
        .store(w, std::sync::atomic::Ordering::Relaxed);
    app.transcript
        .drawn_height
        .store(h, std::sync::atomic::Ordering::Relaxed);
    if h == 0 || w == 0 {
        return 0;
    }
    // Walk back from the newest line, wrapping only what can be seen.
    let want = h + app.transcript.scroll;
    let mut rows: Vec<Vec<(Meaning, String)>> = Vec::with_capacity(want);
    // The transcript line of each row, for clicks on a table row.
    let mut row_lines: Vec<usize> = Vec::with_capacity(want);
    let count = app.transcript.lines.len();
    let mut wrapped_all = true;
    let selected = app
        .transcript
        .selected
        .map(|i| app.transcript.lines.len().saturating_sub(1 + i));
    for (n, l) in app.transcript.lines.iter().rev().enumerate() {
        let mut wrapped = wrap_segments(l, w);
        if Some(n) == selected {
            // The row picked for its quick actions, marked as every list marks its selection.
            for row in &mut wrapped {
                for (m, _) in row.iter_mut() {
                    *m = Meaning::Selection;
                }
            }
        }
        wrapped.reverse();
        row_lines.extend(std::iter::repeat_n(count - 1 - n, wrapped.len()));
        rows.extend(wrapped);
        if rows.len() >= want {
            wrapped_all = n + 1 == app.transcript.lines.len();
            break;
        }
    }
    let mut max = rows.len().saturating_sub(h);
    if !wrapped_all {
        // Older lines were not wrapped: there is at least a page more above.
        max = max.max(app.transcript.scroll + h);
    }
    app.transcript
        .max_scroll
        .store(max, std::sync::atomic::Ordering::Relaxed);
    let skip = app.transcript.scroll.min(rows.len().saturating_sub(h));
    let visible: Vec<_> = rows.iter().zip(&row_lines).skip(skip).take(h).collect();
    let top_pad = h - visible.len();
    for (i, (row, line)) in visible.iter().rev().enumerate() {
        let spans: Vec<Span> = row
            .iter()
            .map(|(m, s)| Span::styled(s.clone(), app.theme.get(*m)))
            .collect();
        let r = Rect {
            y: area.y + (top_pad + i) as u16,
            height: 1,
            ..area
        };
        if app.transcript.lines[**line]
            .table
            .as_ref()
            .is_some_and(|t| !t.header)
        {
            crate::tui::app::mark(
                &app.clicks,
                r,
                crate::tui::app::Click::TranscriptLine(**line),
            );
        }
        f.render_widget(Line::from(spans), r);
    }
    skip
}
