//! Drawing, from `&App` only: the frame layout (tabs, panes, status bar, key hints) and the
//! overlay stack. Each pane draws itself in `components/`; none of them mutates state, and each
//! builds only the rows it can show.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::action::{Action, Pane};
use super::app::{App, Notice, Overlay};
use super::components;
use super::text::{fit, width};
use super::theme::Meaning;
use crate::plan::{GateResult, Risk};

/// Below this the console asks for a bigger terminal instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
/// From this width, conversation and preview sit side by side.
pub const SIDE_BY_SIDE: u16 = 100;
/// Narrower than [`SIDE_BY_SIDE`], from this many rows the conversation has a compact preview
/// of this many rows (borders included) under it.
pub const COMPACT_PREVIEW_FROM: u16 = 16;
pub const COMPACT_PREVIEW_ROWS: u16 = 6;
/// From this many rows the approvals and audit panes show the selected plan's preview under
/// their list.
pub const PREVIEW_UNDER: u16 = 30;

pub fn risk_meaning(r: Risk) -> Meaning {
    match r {
        Risk::Low => Meaning::RiskLow,
        Risk::Medium => Meaning::RiskMedium,
        Risk::High => Meaning::RiskHigh,
        Risk::Critical => Meaning::RiskCritical,
    }
}

pub fn gate_meaning(g: GateResult) -> Meaning {
    match g {
        GateResult::Pass => Meaning::GatePass,
        GateResult::Info => Meaning::GateInfo,
        GateResult::Warn => Meaning::GateWarn,
        GateResult::Deny => Meaning::GateDeny,
    }
}

/// A pane's frame, with the focus shown by the border.
pub fn pane_block<'a>(app: &App, pane: Pane, title: Line<'a>) -> Block<'a> {
    let focused = app.focus == pane && app.overlays.is_empty();
    Block::bordered()
        .border_style(app.theme.border(focused))
        .title(title)
}

pub fn title_line(app: &App, pane: Pane, extra: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" {} {} ", pane.index() + 1, pane.title()),
        app.theme.get(Meaning::Title),
    )];
    spans.extend(extra);
    Line::from(spans)
}

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "opsdeck needs at least {MIN_WIDTH}x{MIN_HEIGHT} (now {}x{}); q quits",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg)
                .style(app.theme.get(Meaning::Text))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    if let Ok(mut clicks) = app.clicks.lock() {
        clicks.clear();
    }
    draw_tabs(f, rows[0], app);
    draw_main(f, rows[1], app);
    components::status_bar::draw(f, rows[2], app);
    draw_bottom_line(f, rows[3], app);
    for o in &app.overlays {
        match o {
            Overlay::Help { scroll } => components::help::draw(f, rows[1], app, *scroll),
            Overlay::Confirm(c) => components::confirm::draw(f, rows[1], app, c),
            Overlay::Readings(pick) => components::readings::draw(f, rows[1], app, pick),
            Overlay::RowActions(list) => components::quick_actions::draw(f, rows[1], app, list),
            Overlay::Detail {
                title,
                lines,
                scroll,
            } => components::audit::draw_detail(f, rows[1], app, title, lines, *scroll),
            Overlay::Command(_) | Overlay::Filter { .. } => {}
        }
    }
    super::text::scrub(f.buffer_mut());
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let tabs: Vec<(Pane, String)> = Pane::ALL
        .into_iter()
        .map(|p| {
            let mut label = format!(" {} {} ", p.index() + 1, p.title());
            if p == Pane::Approvals && app.approvals.loaded {
                let pending = app
                    .approvals
                    .plans
                    .iter()
                    .filter(|r| r.state == crate::approval::State::Pending)
                    .count();
                label = format!(" {} {} ({pending}) ", p.index() + 1, p.title());
            }
            (p, label)
        })
        .collect();
    let name = " opsdeck ";
    let mut tabs_width: usize = tabs.iter().map(|(_, l)| width(l)).sum();
    // Too narrow for the spaced tabs (80 columns and seven panes): one space between them.
    let tabs: Vec<(Pane, String)> = if tabs_width > area.width as usize {
        tabs.into_iter()
            .map(|(p, l)| (p, l.trim_end().to_string()))
            .collect()
    } else {
        tabs
    };
    tabs_width = tabs.iter().map(|(_, l)| width(l)).sum();
    // Too narrow for every pane's tab and the name: the tabs keep their room.
    let mut spans = Vec::new();
    if tabs_width + width(name) <= area.width as usize {
        spans.push(Span::styled(name, t.get(Meaning::Title)));
    }
    for (p, label) in tabs {
        let style = if p == app.focus {
            t.get(Meaning::TabActive)
        } else {
            t.get(Meaning::Tab)
        };
        let x = area.x + spans.iter().map(|s| width(&s.content) as u16).sum::<u16>();
        let w = width(&label) as u16;
        if x < area.x + area.width {
            let r = Rect {
                x,
                width: w.min(area.x + area.width - x),
                ..area
            };
            super::app::mark(&app.clicks, r, super::app::Click::Pane(p));
        }
        spans.push(Span::styled(label, style));
    }
    f.render_widget(Line::from(spans), area);
}

/// A pane's area, for a click to focus it.
fn mark_pane(app: &App, area: Rect, p: Pane) {
    super::app::mark(&app.clicks, area, super::app::Click::Pane(p));
}

fn draw_main(f: &mut Frame, area: Rect, app: &App) {
    match app.focus {
        Pane::Conversation | Pane::Preview if area.width >= SIDE_BY_SIDE => {
            let cols = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
                .split(area);
            mark_pane(app, cols[0], Pane::Conversation);
            components::conversation::draw(f, cols[0], app);
            mark_pane(app, cols[1], Pane::Preview);
            components::preview::draw(f, cols[1], app);
        }
        // Narrow but tall enough (80x24): a compact preview under the conversation, so what is
        // typed shows how it reads.
        Pane::Conversation if area.height >= COMPACT_PREVIEW_FROM => {
            let rows = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Min(8), Constraint::Length(COMPACT_PREVIEW_ROWS)])
                .split(area);
            mark_pane(app, rows[0], Pane::Conversation);
            components::conversation::draw(f, rows[0], app);
            mark_pane(app, rows[1], Pane::Preview);
            components::preview::draw_compact(f, rows[1], app);
        }
        Pane::Conversation => {
            mark_pane(app, area, Pane::Conversation);
            components::conversation::draw(f, area, app)
        }
        Pane::Preview => {
            mark_pane(app, area, Pane::Preview);
            components::preview::draw(f, area, app)
        }
        Pane::Diff => {
            mark_pane(app, area, Pane::Diff);
            components::diff_view::draw(f, area, app)
        }
        // Tall enough: the selected plan's preview under the list.
        Pane::Approvals | Pane::Audit
            if area.height >= PREVIEW_UNDER && app.preview.plan.is_some() =>
        {
            let rows = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Percentage(45), Constraint::Percentage(55)])
                .split(area);
            if app.focus == Pane::Approvals {
                mark_pane(app, rows[0], Pane::Approvals);
                components::approvals::draw(f, rows[0], app);
            } else {
                mark_pane(app, rows[0], Pane::Audit);
                components::audit::draw(f, rows[0], app);
            }
            mark_pane(app, rows[1], Pane::Preview);
            components::preview::draw(f, rows[1], app);
        }
        Pane::Approvals => {
            mark_pane(app, area, Pane::Approvals);
            components::approvals::draw(f, area, app)
        }
        Pane::Audit => {
            mark_pane(app, area, Pane::Audit);
            components::audit::draw(f, area, app)
        }
        Pane::Reports => {
            mark_pane(app, area, Pane::Reports);
            components::reports::draw(f, area, app)
        }
        Pane::Library => {
            mark_pane(app, area, Pane::Library);
            components::library::draw(f, area, app)
        }
    }
}

/// The hint actions shown per context, in order, and the ones always shown at the end (how to
/// get help, give a command and quit): their room is kept first, so a narrow screen drops the
/// pane's own hints, never these. Keys come from the keymap.
fn hint_actions(app: &App) -> (&'static str, Vec<Action>, Vec<Action>) {
    if app.prompt_active && app.focus == Pane::Conversation {
        return (
            "prompt",
            vec![
                Action::SubmitPrompt,
                Action::Newline,
                Action::HistoryPrev,
                Action::FocusNext,
            ],
            vec![Action::LeavePrompt, Action::Quit],
        );
    }
    let always = vec![Action::CommandMode, Action::Help, Action::Quit];
    let mut v = match app.focus {
        Pane::Conversation => vec![Action::EnterPrompt, Action::Up, Action::FocusNext],
        Pane::Preview => vec![Action::Open, Action::Approve, Action::FocusNext],
        Pane::Diff => vec![
            Action::NextHunk,
            Action::PrevHunk,
            Action::FilterMode,
            Action::ToggleDiffMode,
            Action::NextFile,
            Action::Approve,
            Action::Reject,
            Action::Back,
        ],
        Pane::Approvals => vec![
            Action::Open,
            Action::Approve,
            Action::Reject,
            Action::Apply,
            Action::ToggleClosed,
            Action::FilterMode,
            Action::Refresh,
        ],
        Pane::Audit => vec![
            Action::Open,
            Action::FilterMode,
            Action::ExportJson,
            Action::ExportCsv,
            Action::Verify,
        ],
        Pane::Reports => vec![
            Action::Down,
            Action::Refresh,
            Action::CompareReport,
            Action::PageDown,
        ],
        Pane::Library if app.library.open.is_some() => vec![
            Action::MarkVersion,
            Action::CompareVersions,
            Action::UseVersion,
            Action::ApproveVersion,
            Action::DeprecateVersion,
            Action::Back,
        ],
        Pane::Library => vec![
            Action::Open,
            Action::FilterMode,
            Action::UseVersion,
            Action::ApproveVersion,
            Action::DeprecateVersion,
            Action::Refresh,
        ],
    };
    if app.agents_running() {
        v.insert(0, Action::CancelApply);
    }
    (app.focus.context(), v, always)
}

/// The hint line's spans for `w` cells: the pane's hints that fit, then the ones always shown.
pub fn hint_spans(app: &App, w: usize) -> Vec<Span<'static>> {
    let t = &app.theme;
    let (ctx, actions, always) = hint_actions(app);
    let hint = |a: &Action| -> Option<(String, &'static str)> {
        app.keymap.key_for(ctx, a).map(|k| (k, a.describe()))
    };
    let need = |(k, d): &(String, &'static str)| width(k) + 1 + width(d) + 2;
    let tail: Vec<_> = always.iter().filter_map(hint).collect();
    let reserved: usize = tail.iter().map(need).sum();
    let mut shown = Vec::new();
    let mut used = reserved;
    for h in actions.iter().filter_map(hint) {
        if used + need(&h) > w {
            break;
        }
        used += need(&h);
        shown.push(h);
    }
    let mut spans = Vec::new();
    for (key, desc) in shown.into_iter().chain(tail) {
        spans.push(Span::styled(key, t.get(Meaning::StatusKey)));
        spans.push(Span::styled(format!(" {desc}  "), t.get(Meaning::Muted)));
    }
    spans
}

fn draw_bottom_line(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let w = area.width as usize;
    match app.overlays.last() {
        Some(Overlay::Command(input)) => {
            let line = Line::from(vec![
                Span::styled(":", t.get(Meaning::Prompt)),
                styled(app, Meaning::Text, format!("{}█", input.text)),
                Span::styled(
                    "  approvals · audit · library · diff · tenant NAME · theme NAME · export json|csv · q",
                    t.get(Meaning::Muted),
                ),
            ]);
            f.render_widget(line, area);
            return;
        }
        Some(Overlay::Filter { pane, input, .. }) => {
            let help = match pane {
                Pane::Audit => "  user: agent: status: event: plan: since:1h until: words",
                Pane::Diff => "  enter keeps the search · n/N next/previous match · esc restores",
                _ => "  matches id, requester, summary, state, risk",
            };
            let line = Line::from(vec![
                Span::styled("/", t.get(Meaning::Prompt)),
                styled(app, Meaning::Text, format!("{}█", input.text)),
                Span::styled(help, t.get(Meaning::Muted)),
            ]);
            f.render_widget(line, area);
            return;
        }
        _ => {}
    }
    if let Some(notice) = &app.notice {
        let (m, text) = match notice {
            Notice::Info(text) => (Meaning::Text, text.clone()),
            Notice::Success(text) => (Meaning::Success, text.clone()),
            Notice::Bad(text) => (Meaning::Error, text.clone()),
            Notice::Failed(e) => super::errors::line("", e),
        };
        f.render_widget(Line::styled(fit(&text, w), t.get(m)), area);
        return;
    }
    f.render_widget(Line::from(hint_spans(app, w)), area);
}

/// A centred rectangle of `w`x`h` cells (clamped to `area`).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Where an overlay of `rows` content rows shown in `view` rows can scroll: the scroll clamped
/// to its end (kept for the keys), and the marks on the overlay's bottom border saying whether
/// more follows.
pub fn overlay_scroll(
    f: &mut Frame,
    app: &App,
    frame: Rect,
    rows: usize,
    view: u16,
    scroll: u16,
) -> u16 {
    let max = rows.saturating_sub(view as usize).min(u16::MAX as usize) as u16;
    app.overlay_scroll_max
        .store(max, std::sync::atomic::Ordering::Relaxed);
    let scroll = scroll.min(max);
    if max > 0 && frame.height > 0 {
        let mark = if scroll < max {
            format!(" ↓ more ({} of {rows} rows) · j/pgdn ", scroll + view)
        } else {
            format!(" end ({rows} rows) · k/pgup ")
        };
        let w = width(&mark) as u16;
        if w + 2 <= frame.width {
            let r = Rect {
                x: frame.x + frame.width - w - 1,
                y: frame.y + frame.height - 1,
                width: w,
                height: 1,
            };
            f.render_widget(Line::styled(mark, app.theme.get(Meaning::StatusKey)), r);
        }
    }
    scroll
}

/// Clears and frames an overlay.
pub fn overlay_block(f: &mut Frame, app: &App, area: Rect, title: &str) -> Rect {
    f.render_widget(Clear, area);
    let block = Block::bordered()
        .border_style(app.theme.get(Meaning::BorderFocused))
        .style(app.theme.get(Meaning::Overlay))
        .title(Span::styled(
            super::text::safe_owned(format!(" {title} ")),
            app.theme.get(Meaning::Title),
        ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    inner
}

/// A span of text in the theme's style for `m`, made safe to show ([`super::text::safe`]).
pub fn styled(app: &App, m: Meaning, s: impl Into<String>) -> Span<'static> {
    Span::styled(super::text::safe_owned(s.into()), app.theme.get(m))
}

/// The frame's shell, drawn before the store is open: tabs, an empty pane, the status bar.
pub fn draw_splash(f: &mut Frame, theme: &super::theme::Theme, tenant: Option<&str>, user: &str) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return;
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    let mut tabs = vec![Span::styled(" opsdeck ", theme.get(Meaning::Title))];
    for p in Pane::ALL {
        tabs.push(Span::styled(
            format!(" {} {} ", p.index() + 1, p.title()),
            theme.get(Meaning::Tab),
        ));
    }
    f.render_widget(Line::from(tabs), rows[0]);
    let block = Block::bordered()
        .border_style(theme.get(Meaning::Border))
        .title(Span::styled(" 1 Conversation ", theme.get(Meaning::Title)));
    let inner = block.inner(rows[1]);
    f.render_widget(block, rows[1]);
    f.render_widget(
        Line::styled(
            "opening the store and compiling the tenant's policies…",
            theme.get(Meaning::Muted),
        ),
        inner,
    );
    let bar = theme.get(Meaning::StatusBar);
    f.render_widget(
        Line::from(vec![Span::styled(
            format!(
                " tenant {} │ user {} │ opening…",
                tenant.unwrap_or("(default)"),
                if user.is_empty() { "(os user)" } else { user }
            ),
            bar,
        )])
        .style(bar),
        rows[2],
    );
}
