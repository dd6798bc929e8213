//! The audit browser: every event of the tenant, newest first, filterable; the chain status in
//! the title; a detail overlay with every spec field and the chain link.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::audit::Status;
use crate::tui::action::Pane;
use crate::tui::app::App;
use crate::tui::components::approvals::{cells, row};
use crate::tui::text::{Col, allocate, fit};
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, overlay_block, pane_block, styled, title_line};
use crate::view::AuditRowView;
use crate::view::audit_row::COLUMNS;

pub fn status_meaning(s: Status) -> Meaning {
    match s {
        Status::Completed | Status::Approved => Meaning::Success,
        Status::Failed | Status::Rejected => Meaning::Error,
        Status::Expired | Status::Cancelled => Meaning::GateWarn,
        Status::Executing => Meaning::Spinner,
        Status::Pending => Meaning::Text,
    }
}

fn verify_span(app: &App) -> Span<'static> {
    match &app.audit.verify {
        None => styled(app, Meaning::Muted, "chain: checking… "),
        Some(Ok(r)) if r.ok => styled(
            app,
            Meaning::Success,
            format!(
                "chain ✓ {} records, {} signatures checked{}{} ",
                r.records,
                r.signatures_checked,
                if r.full { " (full)" } else { "" },
                r.witness
                    .as_ref()
                    .map(|_| format!(" · {}", crate::view::verify::witness_line(r)))
                    .unwrap_or_default()
            ),
        ),
        Some(Ok(r)) => styled(
            app,
            Meaning::GateDeny,
            format!(
                "chain ✗ BROKEN{} ",
                r.first_break
                    .as_ref()
                    .or(r.witness_problem())
                    .map(|b| format!(" at line {}: {}", b.line, b.problem))
                    .unwrap_or_default()
            ),
        ),
        Some(Err(e)) => {
            let (m, text) = crate::tui::errors::line("chain", e);
            styled(app, m, format!("{text} "))
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.audit;
    let t = &app.theme;
    let mut extra = vec![
        styled(
            app,
            Meaning::Muted,
            format!("{} of {} · ", st.filtered.len(), st.rows.len()),
        ),
        verify_span(app),
    ];
    if !st.filter.is_empty() {
        extra.push(styled(app, Meaning::StatusKey, format!("/{} ", st.filter)));
    }
    if st.new_above > 0 {
        extra.push(styled(
            app,
            Meaning::StatusKey,
            format!("↑ {} new above (g: top) ", st.new_above),
        ));
    }
    let block = pane_block(app, Pane::Audit, title_line(app, Pane::Audit, extra));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let msg = if let Some(e) = &st.error {
        Some(crate::tui::errors::line("", e))
    } else if let Some(e) = &st.filter_error {
        Some(crate::tui::errors::line("filter", e))
    } else if !st.loaded {
        Some((Meaning::Muted, "loading the audit trail…".to_string()))
    } else {
        None
    };
    if let Some((m, text)) = msg {
        f.render_widget(
            Line::styled(fit(&text, inner.width as usize), t.get(m)),
            row(inner, 0),
        );
        if !st.loaded {
            return;
        }
    }
    let top: u16 = if msg_shown(app) { 1 } else { 0 };
    let seq_w = st
        .rows
        .last()
        .map(|r| r.seq.to_string().len() as u16)
        .unwrap_or(3)
        .max(3);
    let plan_w = 12;
    // Time shortens to the clock when space is short: dates are in the detail view.
    let wide_time = inner.width >= 110;
    let cols = [
        Col {
            min: seq_w,
            want: seq_w,
            priority: 9,
        },
        Col {
            min: if wide_time { 23 } else { 8 },
            want: if wide_time { 23 } else { 8 },
            priority: 8,
        },
        Col {
            min: 5,
            want: 10,
            priority: 6,
        },
        Col {
            min: 8,
            want: 16,
            priority: 7,
        },
        Col {
            min: 6,
            want: 9,
            priority: 5,
        },
        Col {
            min: 5,
            want: 7,
            priority: 2,
        },
        Col {
            min: plan_w,
            want: plan_w,
            priority: 4,
        },
        Col {
            min: 8,
            want: 80,
            priority: 1,
        },
    ];
    let widths = allocate(inner.width, &cols);
    f.render_widget(
        Line::from(cells(
            &widths,
            COLUMNS
                .iter()
                .map(|h| (h.to_string(), t.get(Meaning::Muted)))
                .collect(),
        )),
        row(inner, top),
    );
    let list_h = inner.height.saturating_sub(1 + top) as usize;
    if st.filtered.is_empty() {
        let m = if st.rows.is_empty() {
            "no events yet"
        } else {
            "no event matches the filter (ctrl-l clears it)"
        };
        f.render_widget(Line::styled(m, t.get(Meaning::Muted)), row(inner, top + 1));
        return;
    }
    let first = st.selected.saturating_sub(list_h.saturating_sub(1));
    for (i, idx) in st.filtered.iter().enumerate().skip(first).take(list_h) {
        let Some(r) = st.rows.get(*idx) else { continue };
        let stamp = r.timestamp.to_string();
        let time = if wide_time {
            stamp.get(..19).unwrap_or(&stamp).replace('T', " ")
        } else {
            stamp.get(11..19).unwrap_or(&stamp).to_string()
        };
        let view = AuditRowView {
            seq: r.seq,
            time,
            user: &r.user,
            event: r.event,
            status: r.status,
            agent: r.agent.as_deref(),
            plan_id: r.plan_id.as_deref(),
            message: &r.message,
        };
        let text = t.get(Meaning::Text);
        let styles = [
            t.get(Meaning::Muted),
            text,
            text,
            text,
            t.get(status_meaning(r.status)),
            text,
            t.get(Meaning::Title),
            t.get(Meaning::Muted),
        ];
        let mut line = Line::from(cells(
            &widths,
            view.cells("").into_iter().zip(styles).collect(),
        ));
        if i == st.selected {
            line = line.patch_style(t.get(Meaning::Selection));
        }
        let at = row(inner, top + 1 + (i - first) as u16);
        crate::tui::app::mark(&app.clicks, at, crate::tui::app::Click::AuditRow(i));
        f.render_widget(line, at);
    }
}

fn msg_shown(app: &App) -> bool {
    app.audit.error.is_some() || app.audit.filter_error.is_some()
}

pub fn draw_detail(
    f: &mut Frame,
    area: Rect,
    app: &App,
    title: &str,
    lines: &[String],
    scroll: u16,
) {
    let r = centered(
        area,
        area.width.saturating_sub(4).max(20),
        area.height.saturating_sub(2).max(5),
    );
    let inner = overlay_block(f, app, r, title);
    let text: Vec<Line> = lines
        .iter()
        .map(|l| {
            let m = if l.contains('✗') {
                Meaning::Error
            } else if l.starts_with("chain") {
                Meaning::Success
            } else {
                Meaning::Text
            };
            Line::styled(crate::tui::text::safe_owned(l.clone()), app.theme.get(m))
        })
        .collect();
    let rows: usize = lines
        .iter()
        .map(|l| crate::tui::text::wrapped_rows(l, inner.width as usize))
        .sum();
    let scroll = crate::tui::ui::overlay_scroll(f, app, r, rows, inner.height, scroll);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}
