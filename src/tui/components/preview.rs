//! The live preview: how the text being typed is understood, then the submitted plan with its
//! steps, resources, risk, cost, gates and approval needs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::approval::{PlanRecord, State};
use crate::intent::Intent;
use crate::plan::{ChangeAction, DryRunStatus};
use crate::tui::action::Pane;
use crate::tui::app::App;
use crate::tui::theme::Meaning;
use crate::tui::ui::{gate_meaning, pane_block, risk_meaning, styled, title_line};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let block = pane_block(app, Pane::Preview, title_line(app, Pane::Preview, vec![]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = lines(app);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.preview.scroll, 0)),
        inner,
    );
}

fn kv(app: &App, k: &str, v: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![styled(app, Meaning::Muted, format!("  {k:<11}"))];
    spans.extend(v);
    Line::from(spans)
}

pub fn lines(app: &App) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let typing = !app.prompt_text().trim().is_empty();
    match &app.preview.live {
        Some(Ok(intent)) if typing || app.preview.plan.is_none() => {
            out.push(Line::from(styled(app, Meaning::Title, "Understood as")));
            intent_lines(app, intent, &mut out);
        }
        Some(Err(e)) if typing => {
            out.push(Line::from(styled(app, Meaning::Title, "Understood as")));
            out.push(Line::from(styled(app, Meaning::Error, format!("  {e}"))));
        }
        _ => {}
    }
    if let Some(text) = &app.preview.planning {
        if !out.is_empty() {
            out.push(Line::default());
        }
        out.push(Line::from(vec![
            styled(app, Meaning::Spinner, format!("{} ", app.spinner_frame())),
            styled(app, Meaning::Progress, format!("planning \"{text}\"…")),
        ]));
    }
    if let Some(rec) = &app.preview.plan {
        if !out.is_empty() {
            out.push(Line::default());
        }
        plan_lines(app, rec, &mut out);
    }
    if out.is_empty() {
        out.push(Line::from(styled(
            app,
            Meaning::Muted,
            "Start typing: the agent, action, parameters and confidence show here as you type; \
             after Enter, the plan (steps, resources, risk, cost, gates, approval).",
        )));
    }
    out
}

fn intent_lines(app: &App, i: &Intent, out: &mut Vec<Line<'static>>) {
    let agents = i
        .agents
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    out.push(kv(
        app,
        "agent",
        vec![
            styled(app, Meaning::Text, agents),
            styled(app, Meaning::Muted, format!("  ({})", i.agent.tool())),
        ],
    ));
    out.push(kv(
        app,
        "action",
        vec![styled(app, Meaning::Text, i.action.clone())],
    ));
    let filled = (i.confidence.clamp(0.0, 1.0) * 10.0).round() as usize;
    let conf_m = if i.low_confidence {
        Meaning::GateWarn
    } else {
        Meaning::GatePass
    };
    out.push(kv(
        app,
        "confidence",
        vec![
            styled(app, conf_m, "█".repeat(filled)),
            styled(app, Meaning::Muted, "░".repeat(10 - filled)),
            styled(
                app,
                conf_m,
                format!(
                    " {:.2}{}",
                    i.confidence,
                    if i.low_confidence {
                        " low: check it"
                    } else {
                        ""
                    }
                ),
            ),
        ],
    ));
    if i.params.is_empty() {
        out.push(kv(app, "params", vec![styled(app, Meaning::Muted, "none")]));
    }
    for (k, v) in &i.params {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(kv(
            app,
            "",
            vec![
                styled(app, Meaning::Muted, format!("{k} = ")),
                styled(app, Meaning::Text, v),
            ],
        ));
    }
    for n in &i.notes {
        out.push(kv(
            app,
            "note",
            vec![styled(app, Meaning::GateWarn, n.clone())],
        ));
    }
}

fn plan_lines(app: &App, rec: &PlanRecord, out: &mut Vec<Line<'static>>) {
    let p = &rec.plan;
    let state_m = match rec.state {
        State::Rejected | State::Failed | State::Expired | State::Cancelled => Meaning::Error,
        State::Approved | State::Succeeded | State::NotRequired => Meaning::Success,
        _ => Meaning::GateWarn,
    };
    out.push(Line::from(vec![
        styled(app, Meaning::Title, "Plan "),
        styled(app, Meaning::Title, p.plan_id.clone()),
        styled(app, Meaning::Muted, "  "),
        styled(
            app,
            state_m,
            format!("[{}]", rec.state.as_str().to_uppercase()),
        ),
    ]));
    out.push(kv(
        app,
        "summary",
        vec![styled(app, Meaning::Text, p.summary.clone())],
    ));
    out.push(kv(
        app,
        "hash",
        vec![styled(app, Meaning::Text, p.content_hash.clone())],
    ));
    for (n, s) in p.steps.iter().enumerate() {
        out.push(kv(
            app,
            if n == 0 { "steps" } else { "" },
            vec![
                styled(app, Meaning::Text, format!("{}. {}", n + 1, s.description)),
                styled(
                    app,
                    Meaning::Muted,
                    format!(
                        "  ({}{})",
                        s.tool_line(),
                        if s.mutates { " · changes things" } else { "" }
                    ),
                ),
            ],
        ));
    }
    // The detail (resources, dry runs) is built here but shown after the decision lines.
    let detail_at = out.len();
    let count = |a: ChangeAction| -> u32 {
        p.resources
            .iter()
            .filter(|r| r.action == a)
            .map(|r| r.count)
            .sum()
    };
    out.push(kv(
        app,
        "resources",
        vec![
            styled(
                app,
                Meaning::DiffAdd,
                format!("+{}", count(ChangeAction::Create)),
            ),
            styled(app, Meaning::Muted, " "),
            styled(
                app,
                Meaning::GateWarn,
                format!("~{}", count(ChangeAction::Update)),
            ),
            styled(app, Meaning::Muted, " "),
            styled(
                app,
                Meaning::DiffRemove,
                format!("-{}", count(ChangeAction::Delete)),
            ),
            styled(
                app,
                Meaning::GateDeny,
                match count(ChangeAction::Replace) {
                    0 => String::new(),
                    n => format!("  {n} replaced"),
                },
            ),
        ],
    ));
    for r in &p.resources {
        let (sign, m) = match r.action {
            ChangeAction::Create => ("+", Meaning::DiffAdd),
            ChangeAction::Update => ("~", Meaning::GateWarn),
            ChangeAction::Delete => ("-", Meaning::DiffRemove),
            // A replacement destroys the resource first: as red as a deletion.
            ChangeAction::Replace => ("-/+", Meaning::GateDeny),
        };
        let mut line = vec![
            styled(app, m, format!("{sign} ")),
            styled(
                app,
                if r.action == ChangeAction::Replace {
                    Meaning::GateDeny
                } else {
                    Meaning::Text
                },
                r.address.clone(),
            ),
            styled(app, Meaning::Muted, format!(" ×{}", r.count)),
        ];
        if r.action == ChangeAction::Replace {
            line.push(styled(app, Meaning::GateDeny, "  REPLACED"));
        }
        out.push(kv(app, "", line));
    }
    // What terraform plan / ansible --check found, and what an approval binds to.
    for d in &p.dry_runs {
        let m = match d.status {
            DryRunStatus::Planned | DryRunStatus::Checked => Meaning::Success,
            DryRunStatus::SyntaxChecked | DryRunStatus::Unavailable => Meaning::GateWarn,
            DryRunStatus::Failed => Meaning::GateDeny,
        };
        out.push(kv(
            app,
            "dry run",
            vec![
                styled(app, Meaning::Text, format!("step {} {} ", d.step, d.tool)),
                styled(app, m, d.status.as_str().to_string()),
                styled(app, Meaning::Text, format!(": {}", d.summary)),
            ],
        ));
        for n in &d.notes {
            out.push(kv(app, "", vec![styled(app, Meaning::GateWarn, n.clone())]));
        }
        for h in &d.hosts {
            out.push(kv(
                app,
                "",
                vec![
                    styled(app, Meaning::Text, h.host.clone()),
                    styled(
                        app,
                        if h.failed + h.unreachable > 0 {
                            Meaning::GateDeny
                        } else {
                            Meaning::Muted
                        },
                        format!(
                            "  ok={} changed={} failed={} unreachable={}",
                            h.ok, h.changed, h.failed, h.unreachable
                        ),
                    ),
                ],
            ));
        }
        out.push(kv(
            app,
            "",
            vec![styled(app, Meaning::Muted, format!("binds: {}", d.binds))],
        ));
    }
    let decision_at = out.len();
    let mut risk = vec![styled(
        app,
        risk_meaning(p.risk),
        format!(" {} ", p.risk.as_str().to_uppercase()),
    )];
    if !p.risk_reasons.is_empty() {
        risk.push(styled(
            app,
            Meaning::Muted,
            format!("  {}", p.risk_reasons.join("; ")),
        ));
    }
    out.push(kv(app, "risk", risk));
    out.push(kv(
        app,
        "cost",
        vec![
            styled(app, Meaning::Text, p.cost.headline()),
            styled(
                app,
                Meaning::Muted,
                p.cost
                    .basis()
                    .map(|b| format!("  ({b})"))
                    .unwrap_or_default(),
            ),
        ],
    ));
    for (n, g) in p.gates.iter().enumerate() {
        out.push(kv(
            app,
            if n == 0 { "gates" } else { "" },
            vec![
                styled(
                    app,
                    gate_meaning(g.result),
                    format!("{:<4}", g.result.as_str().to_uppercase()),
                ),
                styled(app, Meaning::Text, format!(" {}", g.rule)),
                styled(app, Meaning::Muted, format!(": {}", g.reason)),
            ],
        ));
    }
    let approval = if p.denied() {
        styled(
            app,
            Meaning::GateDeny,
            "denied by policy: nobody can approve it",
        )
    } else if !p.requires_approval {
        styled(app, Meaning::Success, "not needed (read-only)")
    } else {
        let roles = rec
            .approver_roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join("/");
        styled(
            app,
            Meaning::GateWarn,
            format!(
                "{} of {} needed ({}{}) · rule {} · not by {}",
                rec.approvals.len(),
                rec.required_approvals,
                if roles.is_empty() { "approver" } else { &roles },
                rec.approver_group
                    .as_deref()
                    .map(|g| format!(", group {g}"))
                    .unwrap_or_default(),
                if rec.approval_rule.is_empty() {
                    "default"
                } else {
                    &rec.approval_rule
                },
                p.requester
            ),
        )
    };
    out.push(kv(app, "approval", vec![approval]));
    // What an approver decides on (risk, cost, gates, approval) comes right after the steps,
    // before the long resource list and dry-run notes, so it is visible on an 80x24 screen.
    let decision_len = out.len() - decision_at;
    out[detail_at..].rotate_right(decision_len);
}
