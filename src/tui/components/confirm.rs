//! The confirmation overlay for approve, reject and apply: what is being decided, and the
//! second factor (and, to reject, the reason) the core will check.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Confirm, ConfirmKind};
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, gate_meaning, overlay_block, risk_meaning, styled};

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &Confirm) {
    let p = &c.plan.plan;
    let title = match c.kind {
        ConfirmKind::Approve => format!("Approve {}?", p.plan_id),
        ConfirmKind::BreakGlass => format!("BREAK GLASS: approve {} alone?", p.plan_id),
        ConfirmKind::Reject => format!("Reject {}?", p.plan_id),
        ConfirmKind::Apply => format!("Apply {}?", p.plan_id),
    };
    let r = centered(area, 76, 14);
    let inner = overlay_block(f, app, r, &title);
    let mut lines = vec![
        Line::from(vec![styled(app, Meaning::Text, p.summary.clone())]),
        Line::from(vec![
            styled(app, Meaning::Muted, "requested by "),
            styled(app, Meaning::Text, p.requester.clone()),
            styled(app, Meaning::Muted, "  risk "),
            styled(
                app,
                risk_meaning(p.risk),
                format!(" {} ", p.risk.as_str().to_uppercase()),
            ),
            styled(app, Meaning::Muted, "  cost "),
            styled(
                app,
                Meaning::Text,
                format!("${:.2}/mo", p.cost.monthly_usd + 0.0),
            ),
            styled(app, Meaning::Muted, "  gates "),
            styled(app, gate_meaning(p.worst_gate()), p.worst_gate().as_str()),
        ]),
        Line::from(vec![
            styled(app, Meaning::Muted, "hash "),
            styled(app, Meaning::Text, p.content_hash.clone()),
        ]),
        Line::default(),
    ];
    let field = |label: &str, value: String, active: bool| {
        Line::from(vec![
            styled(
                app,
                if active {
                    Meaning::Prompt
                } else {
                    Meaning::Muted
                },
                format!("{label:<12}"),
            ),
            styled(
                app,
                Meaning::Text,
                format!("{value}{}", if active { "█" } else { "" }),
            ),
        ])
    };
    match c.kind {
        ConfirmKind::Apply => lines.push(Line::from(styled(
            app,
            Meaning::GateWarn,
            "Runs the approved plan now; policy and hash are checked again first. C cancels it.",
        ))),
        ConfirmKind::Reject => {
            lines.push(field("reason", c.reason.text.clone(), c.field == 0));
            lines.push(field("TOTP code", c.totp.text.clone(), c.field == 1));
        }
        ConfirmKind::Approve => {
            lines.push(field("TOTP code", c.totp.text.clone(), true));
        }
        ConfirmKind::BreakGlass => {
            lines.push(Line::from(styled(
                app,
                Meaning::GateDeny,
                "Emergency: your approval stands in for every required one. It is flagged in red in the audit trail and never lifts a policy deny.",
            )));
            lines.push(field("reason", c.reason.text.clone(), c.field == 0));
            lines.push(field("TOTP code", c.totp.text.clone(), c.field == 1));
        }
    }
    lines.push(Line::default());
    if c.busy {
        lines.push(Line::from(styled(
            app,
            Meaning::Progress,
            format!("{} checking…", app.spinner_frame()),
        )));
    } else if let Some(e) = &c.error {
        lines.push(Line::from(styled(app, Meaning::Error, format!("✗ {e}"))));
    }
    let keys = match c.kind {
        ConfirmKind::Reject | ConfirmKind::BreakGlass => {
            "enter confirm · tab next field · esc cancel"
        }
        ConfirmKind::Approve => {
            "type the code from your authenticator · enter confirm · esc cancel"
        }
        ConfirmKind::Apply => "enter apply · esc cancel",
    };
    lines.push(Line::from(styled(app, Meaning::Muted, keys)));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
