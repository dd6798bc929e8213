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
    draw_tabs(f, rows[0], app);
    draw_main(f, rows[1], app);
    components::status_bar::draw(f, rows[2], app);
    draw_bottom_line(f, rows[3], app);
    for o in &app.overlays {
        match o {
            Overlay::Help { scroll } => components::help::draw(f, rows[1], app, *scroll),
            Overlay::Confirm(c) => components::confirm::draw(f, rows[1], app, c),
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
    let mut spans = vec![Span::styled(" opsdeck ", t.get(Meaning::Title))];
    for p in Pane::ALL {
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
        let style = if p == app.focus {
            t.get(Meaning::TabActive)
        } else {
            t.get(Meaning::Tab)
        };
        spans.push(Span::styled(label, style));
    }
    f.render_widget(Line::from(spans), area);
}

fn draw_main(f: &mut Frame, area: Rect, app: &App) {
    match app.focus {
        Pane::Conversation | Pane::Preview if area.width >= SIDE_BY_SIDE => {
            let cols = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
                .split(area);
            components::conversation::draw(f, cols[0], app);
            components::preview::draw(f, cols[1], app);
        }
        Pane::Conversation => components::conversation::draw(f, area, app),
        Pane::Preview => components::preview::draw(f, area, app),
        Pane::Diff => components::diff_view::draw(f, area, app),
        // Tall enough: the selected plan's preview under the list.
        Pane::Approvals | Pane::Audit
            if area.height >= PREVIEW_UNDER && app.preview.plan.is_some() =>
        {
            let rows = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Percentage(45), Constraint::Percentage(55)])
                .split(area);
            if app.focus == Pane::Approvals {
                components::approvals::draw(f, rows[0], app);
            } else {
                components::audit::draw(f, rows[0], app);
            }
            components::preview::draw(f, rows[1], app);
        }
        Pane::Approvals => components::approvals::draw(f, area, app),
        Pane::Audit => components::audit::draw(f, area, app),
    }
}

/// The hint actions shown per context, in order; their keys come from the keymap.
fn hint_actions(app: &App) -> (&'static str, Vec<Action>) {
    if app.prompt_active && app.focus == Pane::Conversation {
        return (
            "prompt",
            vec![
                Action::SubmitPrompt,
                Action::Newline,
                Action::HistoryPrev,
                Action::LeavePrompt,
                Action::FocusNext,
                Action::Quit,
            ],
        );
    }
    let common = [Action::CommandMode, Action::Help, Action::Quit];
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
    };
    if app.agents_running() {
        v.insert(0, Action::CancelApply);
    }
    v.extend(common);
    (app.focus.context(), v)
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
                    "  approvals · audit · diff · tenant NAME · theme NAME · export json|csv · q",
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
    let (ctx, actions) = hint_actions(app);
    let mut spans = Vec::new();
    let mut used = 0;
    for a in actions {
        let Some(key) = app.keymap.key_for(ctx, &a) else {
            continue;
        };
        let desc = a.describe();
        let need = width(&key) + 1 + width(desc) + 2;
        if used + need > w {
            break;
        }
        used += need;
        spans.push(Span::styled(key, t.get(Meaning::StatusKey)));
        spans.push(Span::styled(format!(" {desc}  "), t.get(Meaning::Muted)));
    }
    f.render_widget(Line::from(spans), area);
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
