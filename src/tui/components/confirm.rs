//! The confirmation overlay for approve, reject and apply: what is being decided (risk and why,
//! every gate with its reason, the targets or resources, who the apply acts as, the hash), and
//! the second factor (and, to reject, the reason) the core will check.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Confirm, ConfirmKind};
use crate::tui::components::change_meaning;
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
    // As wide as the screen allows (up to 110), as tall as what it shows; the fields and keys
    // always show, the review above them is cut with a count of what did not fit.
    let width = area.width.min(110);
    let footer = footer_lines(app, c);
    let room = (area.height as usize).saturating_sub(footer.len() + 2);
    let mut body = review_lines(app, &v, c, width.saturating_sub(2) as usize, false);
    if body.len() > room {
        // Short of rows: risk reasons and the receipt run on as wrapped lines.
        body = review_lines(app, &v, c, width.saturating_sub(2) as usize, true);
    }
    let height = ((body.len() + footer.len()) as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    let inner = overlay_block(f, app, r, &title);
    let room = (inner.height as usize).saturating_sub(footer.len());
    let mut shown: Vec<Line<'static>> = if body.len() > room {
        let mut b: Vec<Line<'static>> = body[..room.saturating_sub(1)].to_vec();
        b.push(Line::from(styled(
            app,
            Meaning::Muted,
            format!(
                "… {} more lines: esc, then 3 shows the whole plan",
                body.len() - b.len()
            ),
        )));
        b.truncate(room);
        b
    } else {
        body
    };
    shown.extend(footer);
    f.render_widget(Paragraph::new(shown), inner);
}

/// What the decision is about: the plan, its risk and why, every gate with its reason, the
/// targets (AWS API calls) or resources (Terraform), who the apply acts as, the hash.
fn review_lines(
    app: &App,
    v: &PlanView<'_>,
    c: &Confirm,
    width: usize,
    compact: bool,
) -> Vec<Line<'static>> {
    let muted = |s: String| styled(app, Meaning::Muted, s);
    let text = |s: String| styled(app, Meaning::Text, s);
    let mut lines: Vec<Line<'static>> = words(v.summary, width)
        .into_iter()
        .map(|l| Line::from(text(l)))
        .collect();
    lines.extend([
        Line::from(vec![
            muted("requested by ".into()),
            text(v.requester.to_string()),
            muted("  risk ".into()),
            styled(
                app,
                risk_meaning(v.risk),
                format!(" {} ", v.risk.as_str().to_uppercase()),
            ),
            muted("  cost ".into()),
            text(v.cost.compact.clone()),
            muted("  gates ".into()),
            styled(app, gate_meaning(v.worst_gate), v.worst_gate.as_str()),
        ]),
        Line::from(vec![muted("hash ".into()), text(v.hash.to_string())]),
    ]);
    let joined = [v.risk_reasons.join("; ")];
    let reasons: &[String] = if compact && !v.risk_reasons.is_empty() {
        &joined
    } else {
        v.risk_reasons
    };
    for r in reasons {
        for (i, part) in words(r, width.saturating_sub(8)).into_iter().enumerate() {
            lines.push(Line::from(vec![
                muted(if i == 0 { "  risk: " } else { "        " }.into()),
                styled(app, risk_meaning(v.risk), part),
            ]));
        }
    }
    let gates = v.gates_worst_first();
    if !gates.is_empty() {
        lines.push(Line::from(muted("gates".into())));
    }
    let rule_w = gates.iter().map(|g| g.rule.len()).max().unwrap_or(0);
    // The reason beside its rule when it fits, else wrapped under it with a hanging indent.
    let beside = width.saturating_sub(rule_w + 10);
    for g in gates {
        let mut head = vec![
            styled(
                app,
                gate_meaning(g.result),
                format!("  {:<5} ", g.result.as_str()),
            ),
            text(format!("{:<rule_w$}  ", g.rule)),
        ];
        if crate::tui::text::width(&g.reason) <= beside {
            head.push(muted(g.reason.clone()));
            lines.push(Line::from(head));
        } else {
            lines.push(Line::from(head));
            for part in words(&g.reason, width.saturating_sub(8)) {
                lines.push(Line::from(vec![muted(format!("        {part}"))]));
            }
        }
    }
    let calls = &v.calls;
    if calls.is_empty() {
        if !v.resources.is_empty() {
            lines.push(Line::from(muted(format!(
                "resources ({}){}",
                v.changes.tally(),
                if compact { ": 3 shows them" } else { "" }
            ))));
        }
        for r in v.resources.iter().filter(|_| !compact) {
            let count = if r.count > 1 {
                format!(" ×{}", r.count)
            } else {
                String::new()
            };
            lines.push(Line::from(vec![
                styled(app, change_meaning(r.action), format!("  {:<3} ", r.symbol)),
                text(format!("{}{count}", r.address)),
                muted(r.note.map(|n| format!("  {n}")).unwrap_or_default()),
            ]));
        }
    }
    for call in &calls.calls {
        lines.push(Line::from(muted(format!(
            "targets: {} {} in {}",
            call.service, call.operation, call.region
        ))));
        for t in &call.targets {
            lines.push(Line::from(vec![
                styled(
                    app,
                    change_meaning(call.action),
                    format!("  {} ", call.symbol),
                ),
                text(t.line()),
            ]));
        }
    }
    match &c.receipt {
        None if c.kind == ConfirmKind::Reject => {}
        None => lines.push(Line::from(styled(
            app,
            Meaning::Progress,
            format!("{} asking AWS who the apply acts as…", app.spinner_frame()),
        ))),
        Some(Ok(receipt)) if compact => {
            let all: Vec<String> = receipt
                .rows
                .iter()
                .map(|(label, value)| format!("{label} {value}"))
                .chain(receipt.unknown.iter().map(|u| format!("unknown {u}")))
                .collect();
            for (i, part) in words(&all.join(" · "), width.saturating_sub(8))
                .into_iter()
                .enumerate()
            {
                lines.push(Line::from(vec![
                    muted(if i == 0 { "acts as " } else { "        " }.into()),
                    text(part),
                ]));
            }
        }
        Some(Ok(receipt)) => {
            lines.push(Line::from(muted(
                if c.kind == ConfirmKind::Apply {
                    "acts as"
                } else {
                    "acts as (asked with your credentials)"
                }
                .to_string(),
            )));
            for (label, value) in &receipt.rows {
                lines.push(Line::from(vec![
                    muted(format!("  {label:<8} ")),
                    text(value.clone()),
                ]));
            }
            for unknown in &receipt.unknown {
                lines.push(Line::from(vec![
                    muted("  unknown  ".into()),
                    styled(app, Meaning::GateWarn, unknown.clone()),
                ]));
            }
        }
        Some(Err(e)) => {
            let (m, text) = crate::tui::errors::line("identity receipt: ", e);
            lines.push(Line::from(styled(app, m, text)));
        }
    }
    lines
}

/// The fields the decision needs, what went wrong, and the keys: always on screen.
fn footer_lines(app: &App, c: &Confirm) -> Vec<Line<'static>> {
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
    let mut lines = vec![Line::default()];
    match c.kind {
        ConfirmKind::Apply => {
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
    lines
}

/// Greedy word wrap to `w` cells; a word longer than a line is cut by characters.
fn words(s: &str, w: usize) -> Vec<String> {
    let w = w.max(8);
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let need = crate::tui::text::width(word) + usize::from(!cur.is_empty());
        if !cur.is_empty() && crate::tui::text::width(&cur) + need > w {
            out.push(std::mem::take(&mut cur));
        }
        if crate::tui::text::width(word) > w {
            let mut parts = crate::tui::text::wrap(word, w);
            let last = parts.pop().unwrap_or_default();
            out.extend(parts);
            cur = last;
            continue;
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn wraps_at_word_boundaries_and_cuts_only_overlong_words() {
        assert_eq!(
            words("no maintenance window is configured", 16),
            ["no maintenance", "window is", "configured"]
        );
        assert_eq!(
            words("i-0123456789abcdef0 x", 8),
            ["i-012345", "6789abcd", "ef0 x"]
        );
        assert_eq!(words("", 10), [""]);
    }
}
