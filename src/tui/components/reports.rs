//! The Reports pane: the five reports (name, state, when stored, summary or error), each
//! stack's latest drift check, and the selected report's tables and series laid out as answers
//! are in the conversation — or, on `w`, what changed since last week's stored run.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::reports::ReportName;
use crate::tui::action::Pane;
use crate::tui::app::{App, TLine};
use crate::tui::components::approvals::{cells, clip, loaded_or_say, row};
use crate::tui::components::conversation::wrap_segments;
use crate::tui::text::{Col, allocate};
use crate::tui::theme::Meaning;
use crate::tui::ui::{pane_block, styled, title_line};
use crate::view::stored_report::{ReportRowView, ReportState, comparison_lines, drift_line};

const HEADERS: [&str; 4] = ["REPORT", "STATE", "STORED", "SUMMARY"];

/// Drift lines shown at most (the rest counted).
fn drift_rows(height: u16) -> usize {
    if height >= 40 { 6 } else { 2 }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.reports;
    let t = &app.theme;
    let minutes = app.deck.tenant().reports.refresh_minutes;
    let extra = vec![styled(
        app,
        Meaning::Muted,
        format!("stored again every {minutes} min · "),
    )]
    .into_iter()
    .chain((!st.building.is_empty()).then(|| {
        styled(
            app,
            Meaning::Spinner,
            format!("building {} · ", st.building.len()),
        )
    }))
    .collect();
    let block = pane_block(app, Pane::Reports, title_line(app, Pane::Reports, extra));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 3 {
        return;
    }
    let reading = "reading the stored reports…";
    if !loaded_or_say(f, app, inner, st.error.as_ref(), st.loaded, reading) {
        return;
    }

    // The list: one row per report.
    let now = app.deck.clock().unix();
    let every = app.deck.tenant().reports.refresh_secs();
    let rows: Vec<ReportRowView> = ReportName::ALL
        .into_iter()
        .map(|n| {
            let error = st.errors.get(&n).map(|e| crate::tui::errors::line("", e).1);
            ReportRowView::of(n, st.runs.get(&n), error.as_deref(), now, every)
        })
        .collect();
    let cols = [
        Col {
            min: 10,
            want: 10,
            priority: 9,
        },
        Col {
            min: 5,
            want: 11,
            priority: 7,
        },
        Col {
            min: 16,
            want: 16,
            priority: 3,
        },
        Col {
            min: 10,
            want: 200,
            priority: 5,
        },
    ];
    let widths = allocate(inner.width, &cols);
    f.render_widget(
        Line::from(cells(
            &widths,
            HEADERS
                .iter()
                .map(|h| (h.to_string(), t.get(Meaning::Muted)))
                .collect(),
        )),
        row(inner, 0),
    );
    let mut y: u16 = 1;
    for (i, r) in rows.iter().enumerate() {
        let building = st.building.contains(&r.name);
        let (state, state_m) = match r.state {
            _ if building => ("building…".to_string(), Meaning::Spinner),
            ReportState::Fresh => (r.state.as_str().to_string(), Meaning::Success),
            ReportState::Stale => (r.state.as_str().to_string(), Meaning::GateWarn),
            ReportState::Error => (r.state.as_str().to_string(), Meaning::Error),
        };
        let summary_m = if r.state == ReportState::Error {
            Meaning::Error
        } else {
            Meaning::Text
        };
        let mut line = Line::from(cells(
            &widths,
            vec![
                (r.name.as_str().to_string(), t.get(Meaning::Title)),
                (state, t.get(state_m)),
                (r.generated_at.clone(), t.get(Meaning::Text)),
                (r.summary.clone(), t.get(summary_m)),
            ],
        ));
        if i == st.selected {
            line = line.patch_style(t.get(Meaning::Selection));
        }
        f.render_widget(line, row(inner, y));
        y += 1;
    }

    // Drift: each stack's latest check.
    if y < inner.height {
        let limit = drift_rows(inner.height);
        let mut lines: Vec<Line<'static>> = Vec::new();
        if st.drift.is_empty() {
            lines.push(Line::from(vec![
                styled(app, Meaning::Title, "drift "),
                styled(
                    app,
                    Meaning::Muted,
                    "no stack checked yet (opsdeck drift, or [drift] enabled)",
                ),
            ]));
        } else {
            let drifted = st
                .drift
                .iter()
                .filter(|s| s.status != crate::pipeline::DriftStatus::Clean)
                .count();
            lines.push(Line::from(vec![
                styled(app, Meaning::Title, "drift "),
                styled(
                    app,
                    if drifted > 0 {
                        Meaning::Error
                    } else {
                        Meaning::Success
                    },
                    format!("{} stack(s) checked, {drifted} need a look", st.drift.len()),
                ),
            ]));
            // Stacks that need a look first.
            let mut order: Vec<_> = st.drift.iter().map(drift_line).collect();
            order.sort_by_key(|(_, bad)| !*bad);
            let more = order.len().saturating_sub(limit);
            for (text, bad) in order.into_iter().take(limit) {
                lines.push(Line::from(vec![
                    Span::raw("  "),
                    styled(app, if bad { Meaning::Error } else { Meaning::Text }, text),
                ]));
            }
            if more > 0 {
                lines.push(Line::styled(
                    format!("  … {more} more (opsdeck drift --json)"),
                    t.get(Meaning::Muted),
                ));
            }
        }
        for l in lines {
            if y >= inner.height {
                break;
            }
            f.render_widget(clip(l, inner.width), row(inner, y));
            y += 1;
        }
    }

    // The selected report, or what changed since last week.
    if y + 1 >= inner.height {
        return;
    }
    let detail = Rect {
        y: inner.y + y,
        height: inner.height - y,
        ..inner
    };
    draw_detail(f, detail, app);
}

fn draw_detail(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.reports;
    let name = st.selected_name();
    let mut lines: Vec<TLine> = Vec::new();
    let rule = |s: String| TLine::plain(Meaning::Muted, s);
    if st.comparing {
        lines.push(rule(format!(
            "── {name}: what changed since last week (w: the report) ──"
        )));
        match &st.comparison {
            Some((n, Ok(c))) if *n == name => {
                for l in comparison_lines(c, 10) {
                    let m = match l.trim_start().chars().next() {
                        Some('+') => Meaning::DiffAdd,
                        Some('-') => Meaning::DiffRemove,
                        Some('~') => Meaning::GateWarn,
                        _ => Meaning::Text,
                    };
                    lines.push(TLine::plain(m, l));
                }
            }
            Some((n, Err(e))) if *n == name => {
                let (m, text) = crate::tui::errors::line("", e);
                lines.push(TLine::plain(m, text));
            }
            _ => lines.push(TLine::plain(Meaning::Muted, "comparing…")),
        }
    } else {
        lines.push(rule(format!(
            "── {name} (r: build now · w: vs last week) ──"
        )));
        match st.docs.get(&name) {
            Some(doc) => {
                lines.push(TLine::plain(Meaning::Title, doc.title.clone()));
                for o in &doc.outputs {
                    lines.extend(crate::tui::jobs::result_lines(name.as_str(), o));
                }
                for n in &doc.notes {
                    lines.push(TLine::plain(Meaning::Muted, format!("  note: {n}")));
                }
            }
            None => {
                let text = match st.errors.get(&name) {
                    Some(e) => crate::tui::errors::line("", e),
                    None if st.building.contains(&name) => {
                        (Meaning::Muted, format!("building the {name} report…"))
                    }
                    None => (Meaning::Muted, format!("no {name} report stored yet")),
                };
                lines.push(TLine::plain(text.0, text.1));
            }
        }
    }
    // Wrapped at the pane's width, scrolled by the page keys.
    let w = area.width as usize;
    let mut rows: Vec<Vec<(Meaning, String)>> = Vec::new();
    let want = st.scroll + area.height as usize;
    for l in &lines {
        rows.extend(wrap_segments(l, w));
        if rows.len() >= want {
            break;
        }
    }
    let skip = st.scroll.min(rows.len().saturating_sub(1));
    for (i, r) in rows
        .iter()
        .skip(skip)
        .take(area.height as usize)
        .enumerate()
    {
        let spans: Vec<Span> = r
            .iter()
            .map(|(m, s)| Span::styled(s.clone(), app.theme.get(*m)))
            .collect();
        f.render_widget(clip(Line::from(spans), area.width), row(area, i as u16));
    }
}
