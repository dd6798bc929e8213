//! The confirmation overlay for approve, reject and apply: what is being decided, and the
//! second factor (and, to reject, the reason) the core will check.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::{App, Confirm, ConfirmKind};
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, gate_meaning, overlay_block, risk_meaning, styled};
use crate::view::PlanView;

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &Confirm) {
    let v = PlanView::of(&c.plan);
    let title = match c.kind {
        ConfirmKind::Approve => format!("Approve {}?", v.id),
        ConfirmKind::BreakGlass => format!("BREAK GLASS: approve {} alone?", v.id),
        ConfirmKind::Reject => format!("Reject {}?", v.id),
        ConfirmKind::Apply => format!("Apply {}?", v.id),
    };
    // The apply confirmation carries the identity receipt (up to six more lines).
    let (width, height) = if c.kind == ConfirmKind::Apply {
        (96, 21)
    } else {
        (76, 14)
    };
    let r = centered(area, width, height);
    let inner = overlay_block(f, app, r, &title);
    let mut lines = vec![
        Line::from(vec![styled(app, Meaning::Text, v.summary.to_string())]),
        Line::from(vec![
            styled(app, Meaning::Muted, "requested by "),
            styled(app, Meaning::Text, v.requester.to_string()),
            styled(app, Meaning::Muted, "  risk "),
            styled(
                app,
                risk_meaning(v.risk),
                format!(" {} ", v.risk.as_str().to_uppercase()),
            ),
            styled(app, Meaning::Muted, "  cost "),
            styled(app, Meaning::Text, v.cost.compact.clone()),
            styled(app, Meaning::Muted, "  gates "),
            styled(app, gate_meaning(v.worst_gate), v.worst_gate.as_str()),
        ]),
        Line::from(vec![
            styled(app, Meaning::Muted, "hash "),
            styled(app, Meaning::Text, v.hash.to_string()),
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
        ConfirmKind::Apply => {
            // The identity receipt: who this apply acts as, and where.
            match &c.receipt {
                None => lines.push(Line::from(styled(
                    app,
                    Meaning::Progress,
                    format!("{} asking AWS who this apply acts as…", app.spinner_frame()),
                ))),
                Some(Ok(receipt)) => {
                    for (label, value) in &receipt.rows {
                        lines.push(Line::from(vec![
                            styled(app, Meaning::Muted, format!("{label:<8} ")),
                            styled(app, Meaning::Text, value.clone()),
                        ]));
                    }
                    for unknown in &receipt.unknown {
                        lines.push(Line::from(vec![
                            styled(app, Meaning::Muted, "unknown  "),
                            styled(app, Meaning::GateWarn, unknown.clone()),
                        ]));
                    }
                }
                Some(Err(e)) => {
                    let (m, text) = crate::tui::errors::line("identity receipt: ", e);
                    lines.push(Line::from(styled(app, m, text)));
                }
            }
            lines.push(Line::from(styled(
                app,
                Meaning::GateWarn,
                "Runs the approved plan now; policy and hash are checked again first. C cancels it.",
            )));
        }
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
        let (m, text) = crate::tui::errors::line("", e);
        lines.push(Line::from(styled(app, m, text)));
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
