//! The status bar: tenant, AWS configuration, who you are proven to be and how, whether the
//! session is read-only, backend (and whether it is reachable), notifications waiting or given
//! up, the latest drift check, running agents.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::app::App;
use crate::tui::text::{fit, safe_owned};
use crate::tui::theme::Meaning;

/// Tenants whose name says production get the production colour everywhere it shows.
pub fn is_production(name: &str) -> bool {
    let n = name.to_lowercase();
    n == "prod" || n == "production" || n.starts_with("prod-") || n.ends_with("-prod")
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let bar = t.get(Meaning::StatusBar);
    let deck = &app.deck;
    let key = bar.patch(t.get(Meaning::StatusKey));
    let mut spans = vec![];
    let tenant = &deck.tenant().name;
    if is_production(tenant) {
        spans.push(Span::styled(
            safe_owned(format!(" PRODUCTION {tenant} ")),
            t.get(Meaning::Production),
        ));
    } else {
        spans.push(Span::styled(" tenant ", bar));
        spans.push(Span::styled(safe_owned(tenant.clone()), key));
    }
    spans.push(Span::styled(" │ ", bar));
    spans.push(Span::styled(
        safe_owned(deck.tenant().default_region.clone()),
        key,
    ));
    match deck.aws_configuration() {
        Some(c) => {
            spans.push(Span::styled(" · config ", bar));
            spans.push(Span::styled(safe_owned(c.name.clone()), key));
            spans.push(Span::styled(" │ ", bar));
        }
        None if deck.tenant().demo => {
            spans.push(Span::styled(" · ", bar));
            spans.push(Span::styled("demo stand-in", key));
            spans.push(Span::styled(" │ ", bar));
        }
        None => spans.push(Span::styled(" · no AWS configuration │ ", bar)),
    }
    // Who you are proven to be, and how (`view::identity`).
    let me = crate::view::IdentityView::of(deck.identity());
    spans.push(Span::styled(safe_owned(me.user.clone()), key));
    spans.push(Span::styled(
        safe_owned(me.short().split_off(me.user.len())),
        bar,
    ));
    // Questions only, and why (`--read-only`, the user, the configuration).
    if let Some(ro) = deck.read_only() {
        spans.push(Span::styled(" │ ", bar));
        spans.push(Span::styled(
            safe_owned(format!(" {} ", ro.label())),
            bar.patch(t.get(Meaning::GateWarn)),
        ));
    }
    spans.push(Span::styled(" │ ", bar));
    spans.push(Span::styled(deck.backend_name(), key));
    // The shared backend says when it is out of reach and what waits to be written.
    let health = deck.backend_health();
    if !health.reachable {
        spans.push(Span::styled(
            format!(" OFFLINE, read-only · {} queued", health.queued),
            bar.patch(t.get(Meaning::Error)),
        ));
    } else if health.queued > 0 {
        spans.push(Span::styled(format!(" · {} queued", health.queued), bar));
    }
    if health.dead_letters > 0 {
        spans.push(Span::styled(
            format!(" · {} refused (opsdeck backend check)", health.dead_letters),
            bar.patch(t.get(Meaning::Error)),
        ));
    }
    // Notifications that wait for a retry or were given up (`view::notify`).
    if let Some(badge) = crate::view::NotifyBadge::of(&deck.notification_status()) {
        let style = if badge.failed {
            bar.patch(t.get(Meaning::Error))
        } else {
            bar
        };
        spans.push(Span::styled(format!(" · {}", badge.text), style));
    }
    // This machine's latest drift check (`view::drift`).
    if let Some(badge) = crate::view::DriftBadge::of(deck.drift().latest().as_ref()) {
        let style = if badge.drifted {
            bar.patch(t.get(Meaning::Error))
        } else {
            bar
        };
        spans.push(Span::styled(format!(" · {}", badge.text), style));
    }
    spans.push(Span::styled(" │ ", bar));
    let now = std::time::Instant::now();
    let agents: Vec<String> = app
        .jobs
        .values()
        .filter(|j| j.agent)
        .map(|j| j.status(now))
        .collect();
    if agents.is_empty() {
        spans.push(Span::styled("idle", bar.patch(t.get(Meaning::Muted))));
    } else {
        spans.push(Span::styled(
            format!("{} ", app.spinner_frame()),
            bar.patch(t.get(Meaning::Spinner)),
        ));
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let room = (area.width as usize).saturating_sub(used + 1);
        let text = if agents.len() == 1 {
            agents[0].to_string()
        } else {
            format!("{} agents: {}", agents.len(), agents.join(", "))
        };
        spans.push(Span::styled(fit(&text, room), bar));
    }
    f.render_widget(Line::from(spans).style(bar), area);
}
