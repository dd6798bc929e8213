//! The approvals queue: pending (and approved, ready to apply) plans, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::approval::{PlanRecord, State};
use crate::tui::action::Pane;
use crate::tui::app::App;
use crate::tui::text::{Col, allocate, fit, pad, width};
use crate::tui::theme::Meaning;
use crate::tui::ui::{gate_meaning, pane_block, risk_meaning, styled, title_line};
use crate::view::ApprovalView;
use crate::view::approval::Blocker;

/// "42s", "5m", "3h", "2d": ages in the fewest characters.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

const HEADERS: [&str; 8] = [
    "PLAN",
    "AGE",
    "REQUESTER",
    "RISK",
    "COST/MO",
    "GATES",
    "STATE",
    "SUMMARY",
];

/// Column needs. On a narrow screen the requester gives way first (a name cut to its first
/// letters still tells who), then the age, then the summary (down to a readable width), then
/// the cost; the plan id, the risk, the gates and the approval count ("pending 0 of 1") stay
/// whole.
fn columns(plans: &[&PlanRecord]) -> [Col; 8] {
    let widest = |f: &dyn Fn(&PlanRecord) -> usize, floor: usize| -> u16 {
        plans.iter().map(|r| f(r)).max().unwrap_or(floor).max(floor) as u16
    };
    let id_w = widest(&|r| r.plan.plan_id.len(), 4);
    // Room for " (you)" when there is room at all.
    let req_w = widest(&|r| width(&r.plan.requester), 9).min(20) + 6;
    let risk_w = widest(&|r| r.plan.risk.as_str().len(), 4);
    let cost_w = widest(&|r| cost_text(r).len(), 7);
    let state_w = widest(&|r| width(&ApprovalView::of(r).progress()), 5);
    let summary_w = widest(&|r| width(&r.plan.summary), 16);
    [
        // The id identifies: it is never shortened (priority highest, min = full length).
        Col {
            min: id_w,
            want: id_w,
            priority: 10,
        },
        Col {
            min: 3,
            want: 4,
            priority: 2,
        },
        Col {
            min: widest(&|r| width(&r.plan.requester), 5).min(8),
            want: req_w,
            priority: 1,
        },
        Col {
            min: risk_w,
            want: risk_w,
            priority: 9,
        },
        Col {
            min: 6,
            want: cost_w,
            priority: 4,
        },
        Col {
            min: 4,
            want: 5,
            priority: 8,
        },
        Col {
            min: state_w,
            want: state_w.max(11),
            priority: 7,
        },
        Col {
            min: 16,
            want: summary_w,
            priority: 3,
        },
    ]
}

fn cost_text(r: &PlanRecord) -> String {
    format!("${:.2}", r.plan.cost.monthly_usd + 0.0)
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.approvals;
    let visible = st.visible();
    let pending = st
        .plans
        .iter()
        .filter(|r| r.state == State::Pending)
        .count();
    let mut extra = vec![styled(
        app,
        Meaning::Muted,
        if st.show_closed {
            format!(
                "closed: failed, cancelled, rejected, expired · {} shown · c: open plans ",
                visible.len()
            )
        } else {
            format!(
                "{pending} pending · {} shown · {} closed (c) ",
                visible.len(),
                st.closed.len()
            )
        },
    )];
    if !st.filter.is_empty() {
        extra.push(styled(app, Meaning::StatusKey, format!("/{} ", st.filter)));
    }
    let block = pane_block(
        app,
        Pane::Approvals,
        title_line(app, Pane::Approvals, extra),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    let t = &app.theme;
    if !loaded_or_say(f, app, inner, st.error.as_ref(), st.loaded, "loading…") {
        return;
    }
    let widths = allocate(inner.width, &columns(&visible));
    let header: Vec<Span> = cells(
        &widths,
        HEADERS
            .iter()
            .map(|h| (h.to_string(), t.get(Meaning::Muted)))
            .collect(),
    );
    f.render_widget(Line::from(header), row(inner, 0));
    // Two lines at the bottom say more about the selected plan.
    let detail_h: u16 = if inner.height >= 8 { 2 } else { 0 };
    let list_h = (inner.height - 1).saturating_sub(detail_h) as usize;
    if visible.is_empty() {
        let msg = if st.show_closed && st.filter.is_empty() {
            "no plan failed, was cancelled, rejected or expired (c lists the open plans)"
        } else if st.filter.is_empty() {
            "nothing waits for approval (plans that change things appear here, from every console of this tenant)"
        } else {
            "no plan matches the filter (ctrl-l clears it)"
        };
        f.render_widget(
            Line::styled(fit(msg, inner.width as usize), t.get(Meaning::Muted)),
            row(inner, 1),
        );
        return;
    }
    let first = st.selected.saturating_sub(list_h.saturating_sub(1));
    let now = app.deck.clock().unix();
    let me = app.deck.identity().user.as_str();
    for (i, rec) in visible.iter().enumerate().skip(first).take(list_h) {
        let p = &rec.plan;
        let created = p.created_at.as_second();
        let mine = p.requester == me;
        let text_m = t.get(Meaning::Text);
        let state_m = match rec.state {
            State::Approved => t.get(Meaning::Success),
            State::Executing => t.get(Meaning::Spinner),
            State::Failed | State::Rejected => t.get(Meaning::Error),
            State::Cancelled | State::Expired => t.get(Meaning::GateWarn),
            _ => text_m,
        };
        let mut line = Line::from(cells(
            &widths,
            vec![
                (p.plan_id.clone(), t.get(Meaning::Title)),
                (age(now - created), text_m),
                (
                    if mine && width(&p.requester) + 6 <= widths[2] as usize {
                        format!("{} (you)", p.requester)
                    } else {
                        p.requester.clone()
                    },
                    if mine { t.get(Meaning::Muted) } else { text_m },
                ),
                (p.risk.as_str().to_uppercase(), t.get(risk_meaning(p.risk))),
                (cost_text(rec), text_m),
                (
                    p.worst_gate().as_str().to_string(),
                    t.get(gate_meaning(p.worst_gate())),
                ),
                (ApprovalView::of(rec).progress(), state_m),
                (p.summary.clone(), text_m),
            ],
        ));
        if i == st.selected {
            line = line.patch_style(t.get(Meaning::Selection));
        }
        let at = row(inner, 1 + (i - first) as u16);
        crate::tui::app::mark(&app.clicks, at, crate::tui::app::Click::ApprovalRow(i));
        f.render_widget(line, at);
    }
    if detail_h > 0
        && let Some(rec) = st.selected_plan()
    {
        let y = inner.height - 2;
        let p = &rec.plan;
        let approval = ApprovalView::of(rec);
        let why = match approval.blocker_for(me) {
            Some(b) => styled(
                app,
                match b {
                    Blocker::OwnPlan => Meaning::GateWarn,
                    Blocker::Denied => Meaning::GateDeny,
                },
                format!("{} · ", b.text()),
            ),
            None => Span::raw(""),
        };
        let l1 = Line::from(vec![
            why,
            styled(app, Meaning::Muted, "hash "),
            styled(app, Meaning::Text, p.content_hash.clone()),
        ]);
        let decided = crate::view::decision::DecisionView::of(rec).lines();
        let l2 = if st.show_closed {
            Line::from(vec![
                styled(
                    app,
                    Meaning::Error,
                    format!("{} · ", decided.last().map_or(rec.state.as_str(), |d| d)),
                ),
                styled(app, Meaning::Muted, "p re-plans "),
                styled(app, Meaning::Text, p.request.clone()),
            ])
        } else {
            Line::from(vec![
                styled(app, Meaning::Muted, "approvals "),
                styled(app, Meaning::Text, format!("{} · ", approval.tally())),
                styled(app, Meaning::Muted, "request "),
                styled(app, Meaning::Text, p.request.clone()),
            ])
        };
        f.render_widget(clip(l1, inner.width), row(inner, y));
        f.render_widget(clip(l2, inner.width), row(inner, y + 1));
    }
}

/// A list pane's first row while it has nothing to list: the error of its last read, or that
/// it is still reading. Returns whether the list is there to draw.
pub fn loaded_or_say(
    f: &mut Frame,
    app: &App,
    inner: Rect,
    error: Option<&crate::tui::errors::SharedError>,
    loaded: bool,
    reading: &str,
) -> bool {
    let said = match error {
        Some(e) => crate::tui::errors::line("", e),
        None if !loaded => (Meaning::Muted, reading.to_string()),
        None => return true,
    };
    f.render_widget(
        Line::styled(fit(&said.1, inner.width as usize), app.theme.get(said.0)),
        row(inner, 0),
    );
    false
}

pub fn row(area: Rect, y: u16) -> Rect {
    Rect {
        y: area.y + y.min(area.height.saturating_sub(1)),
        height: 1,
        ..area
    }
}

/// Cells padded (or visibly cut) to their widths; zero-width columns are dropped.
pub fn cells(widths: &[u16], values: Vec<(String, Style)>) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut first = true;
    for (w, (v, s)) in widths.iter().zip(values) {
        if *w == 0 {
            continue;
        }
        if !first {
            out.push(Span::raw(" "));
        }
        first = false;
        out.push(Span::styled(pad(&v, *w as usize), s));
    }
    out
}

/// A line cut to `w` cells with an ellipsis when it does not fit.
pub fn clip(line: Line<'static>, w: u16) -> Line<'static> {
    let w = w as usize;
    if line.width() <= w {
        return line;
    }
    let mut used = 0;
    let mut spans = Vec::new();
    for s in line.spans {
        let sw = s.width();
        if used + sw < w {
            used += sw;
            spans.push(s);
        } else {
            spans.push(Span::styled(fit(&s.content, w - used), s.style));
            break;
        }
    }
    Line::from(spans)
}
