//! The live preview: how the text being typed is understood, then the submitted plan with its
//! steps, resources, risk, cost, gates and approval needs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::approval::{PlanRecord, State};
use crate::intent::Intent;
use crate::knowledge::{Outcome, Similar};
use crate::plan::{ChangeAction, DryRunStatus};
use crate::tui::action::Pane;
use crate::tui::app::App;
use crate::tui::components::change_meaning;
use crate::tui::text;
use crate::tui::theme::Meaning;
use crate::tui::ui::{gate_meaning, pane_block, risk_meaning, styled, title_line};
use crate::view::PlanView;
use crate::view::approval::Need;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let block = pane_block(app, Pane::Preview, title_line(app, Pane::Preview, vec![]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = wrapped(lines(app), inner.width);
    f.render_widget(Paragraph::new(lines).scroll((app.preview.scroll, 0)), inner);
}

/// Lines wrapped at word boundaries, continued rows under the value of their label.
fn wrapped(lines: Vec<Line<'static>>, w: u16) -> Vec<Line<'static>> {
    lines
        .iter()
        .flat_map(|l| {
            let indent = text::label_indent(&l.to_string());
            text::wrap_line(l, w as usize, indent)
        })
        .collect()
}

/// The preview in a few rows, under the conversation on a narrow screen (80x24): what is typed
/// reads as (agent, action, confidence, parameters, notes), or the last plan's decision lines.
pub fn draw_compact(f: &mut Frame, area: Rect, app: &App) {
    let extra = vec![styled(app, Meaning::Muted, "compact · 2 opens it ")];
    let block = pane_block(app, Pane::Preview, title_line(app, Pane::Preview, extra));
    let inner = block.inner(area);
    f.render_widget(block, area);
    f.render_widget(
        Paragraph::new(wrapped(compact_lines(app), inner.width)),
        inner,
    );
}

/// The compact preview's lines: the most telling facts first, several to a line.
pub fn compact_lines(app: &App) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let typing = !app.prompt_text().trim().is_empty();
    let sep = || styled(app, Meaning::Muted, " · ");
    match &app.preview.live {
        Some(Ok(i)) if typing || app.preview.plan.is_none() => {
            let agents = agents_of(i);
            let mut head = vec![
                styled(app, Meaning::Muted, "understood as "),
                styled(app, Meaning::Text, agents),
                styled(app, Meaning::Muted, format!(" ({})", i.agent.tool())),
                sep(),
                styled(app, Meaning::Text, i.action.clone()),
                sep(),
            ];
            head.extend(confidence(app, i, " low"));
            out.push(Line::from(head));
            let mut params = vec![styled(app, Meaning::Muted, "params ")];
            if i.params.is_empty() {
                params.push(styled(app, Meaning::Muted, "none"));
            }
            for (n, (k, v)) in i.params.to_json().iter().enumerate() {
                if n > 0 {
                    params.push(sep());
                }
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                params.push(styled(app, Meaning::Muted, format!("{k}=")));
                params.push(styled(app, Meaning::Text, v));
            }
            out.push(Line::from(params));
            for n in &i.notes {
                out.push(Line::from(vec![
                    styled(app, Meaning::Muted, "note "),
                    styled(app, Meaning::GateWarn, n.clone()),
                ]));
            }
        }
        Some(Err(e)) if typing => {
            let (m, text) = crate::tui::errors::line("", e);
            out.push(Line::from(styled(app, m, text)));
        }
        _ => {}
    }
    if let Some(text) = &app.preview.planning {
        out.push(Line::from(vec![
            styled(app, Meaning::Spinner, format!("{} ", app.spinner_frame())),
            styled(app, Meaning::Progress, format!("planning \"{text}\"…")),
        ]));
    }
    if let Some(rec) = app.preview.plan.as_ref().filter(|_| !typing) {
        let v = PlanView::of(rec);
        out.push(Line::from(vec![
            styled(app, Meaning::Title, format!("{} ", v.id)),
            styled(
                app,
                Meaning::GateWarn,
                format!("[{}] ", v.state.as_str().to_uppercase()),
            ),
            styled(app, Meaning::Text, v.summary.to_string()),
        ]));
        out.push(Line::from(vec![
            styled(app, Meaning::Muted, "risk "),
            styled(app, risk_meaning(v.risk), v.risk.as_str().to_uppercase()),
            sep(),
            styled(app, Meaning::Muted, "cost "),
            styled(app, Meaning::Text, v.cost.compact.clone()),
            sep(),
            styled(app, Meaning::Muted, "gates "),
            styled(
                app,
                gate_meaning(v.worst_gate),
                v.worst_gate.as_str().to_string(),
            ),
            sep(),
            styled(app, Meaning::Muted, "approval "),
            styled(app, Meaning::Text, v.approval.line()),
        ]));
    }
    if out.is_empty() {
        out.push(Line::from(styled(
            app,
            Meaning::Muted,
            "Start typing: how the request reads shows here as you type; after Enter, the plan.",
        )));
    }
    out
}

/// The confidence as a bar of ten and its figure, in the warning colour when it is low.
fn confidence(app: &App, i: &Intent, low: &str) -> Vec<Span<'static>> {
    let filled = (i.confidence.clamp(0.0, 1.0) * 10.0).round() as usize;
    let m = if i.low_confidence {
        Meaning::GateWarn
    } else {
        Meaning::GatePass
    };
    vec![
        styled(app, m, "█".repeat(filled)),
        styled(app, Meaning::Muted, "░".repeat(10 - filled)),
        styled(
            app,
            m,
            format!(
                " {:.2}{}",
                i.confidence,
                if i.low_confidence { low } else { "" }
            ),
        ),
    ]
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
            if typing {
                similar_lines(app, &app.preview.similar, &mut out);
            }
        }
        Some(Err(e)) if typing => {
            out.push(Line::from(styled(app, Meaning::Title, "Understood as")));
            let (m, text) = crate::tui::errors::line("", e);
            out.push(Line::from(styled(app, m, format!("  {text}"))));
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

/// The agents a reading needs, primary first: "infra + config".
fn agents_of(i: &Intent) -> String {
    i.agents
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn intent_lines(app: &App, i: &Intent, out: &mut Vec<Line<'static>>) {
    let agents = agents_of(i);
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
    out.push(kv(app, "confidence", confidence(app, i, " low: check it")));
    if i.params.is_empty() {
        out.push(kv(app, "params", vec![styled(app, Meaning::Muted, "none")]));
    }
    for (k, v) in &i.params.to_json() {
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

/// The closest past requests of the tenant: who, when, how they ended, and how to reuse one.
fn similar_lines(app: &App, found: &[Similar], out: &mut Vec<Line<'static>>) {
    if found.is_empty() {
        return;
    }
    out.push(Line::default());
    out.push(Line::from(styled(app, Meaning::Title, "Done before")));
    for s in found.iter().take(3) {
        let m = match s.outcome {
            Outcome::Applied | Outcome::Answered => Meaning::Success,
            Outcome::Failed | Outcome::Rejected | Outcome::Expired | Outcome::Cancelled => {
                Meaning::Error
            }
            Outcome::Pending | Outcome::Approved => Meaning::GateWarn,
        };
        out.push(Line::from(vec![
            styled(
                app,
                Meaning::Text,
                format!("  {} ", s.plan_id.as_deref().unwrap_or("(no plan)")),
            ),
            styled(app, m, s.outcome.as_str().to_string()),
            styled(
                app,
                Meaning::Muted,
                format!(
                    "  {} {}  {:.0}%",
                    s.who,
                    s.when.get(..10).unwrap_or(&s.when),
                    s.score * 100.0
                ),
            ),
        ]));
        out.push(kv(
            app,
            "",
            vec![styled(app, Meaning::Text, s.text.clone())],
        ));
    }
    if let Some(p) = found.iter().find_map(|s| s.plan_id.as_deref()) {
        out.push(kv(
            app,
            "",
            vec![styled(
                app,
                Meaning::Muted,
                format!(":like {p} plans it again against today's state"),
            )],
        ));
    }
}

fn plan_lines(app: &App, rec: &PlanRecord, out: &mut Vec<Line<'static>>) {
    let v = PlanView::of(rec);
    let state_m = match v.state {
        State::Rejected | State::Failed | State::Expired | State::Cancelled => Meaning::Error,
        State::Approved | State::Succeeded | State::NotRequired => Meaning::Success,
        _ => Meaning::GateWarn,
    };
    out.push(Line::from(vec![
        styled(app, Meaning::Title, "Plan "),
        styled(app, Meaning::Title, v.id.to_string()),
        styled(app, Meaning::Muted, "  "),
        styled(
            app,
            state_m,
            format!("[{}]", v.state.as_str().to_uppercase()),
        ),
    ]));
    out.push(kv(
        app,
        "summary",
        vec![styled(app, Meaning::Text, v.summary.to_string())],
    ));
    out.push(kv(
        app,
        "hash",
        vec![styled(app, Meaning::Text, v.hash.to_string())],
    ));
    for s in &v.steps {
        out.push(kv(
            app,
            if s.number == 1 { "steps" } else { "" },
            vec![
                styled(
                    app,
                    Meaning::Text,
                    format!("{}. {}", s.number, s.description),
                ),
                styled(
                    app,
                    Meaning::Muted,
                    format!(
                        "  ({}{})",
                        s.runs,
                        if s.mutates { " · changes things" } else { "" }
                    ),
                ),
            ],
        ));
    }
    // The detail (resources, dry runs) is built here but shown after the decision lines.
    let detail_at = out.len();
    let mut tally = Vec::new();
    for (action, part) in v.changes.parts() {
        if !tally.is_empty() {
            tally.push(styled(app, Meaning::Muted, " "));
        }
        tally.push(styled(app, change_meaning(action), part));
    }
    if let Some(replaced) = v.changes.replaced() {
        tally.push(styled(
            app,
            change_meaning(ChangeAction::Replace),
            format!("  {replaced}"),
        ));
    }
    out.push(kv(app, "resources", tally));
    // AWS API plans: each target with what the agent saw and what it becomes, instead of the
    // bare resource addresses.
    let calls = &v.calls;
    for c in &calls.calls {
        out.push(kv(
            app,
            "targets",
            vec![styled(
                app,
                Meaning::Muted,
                format!("{} {} in {}", c.service, c.operation, c.region),
            )],
        ));
        for t in &c.targets {
            out.push(kv(
                app,
                "",
                vec![
                    styled(app, change_meaning(c.action), format!("{} ", c.symbol)),
                    styled(app, Meaning::Text, t.line()),
                ],
            ));
        }
    }
    for r in v.resources.iter().filter(|_| calls.is_empty()) {
        let m = change_meaning(r.action);
        let mut line = vec![
            styled(app, m, format!("{} ", r.symbol)),
            styled(
                app,
                if r.action == ChangeAction::Replace {
                    m
                } else {
                    Meaning::Text
                },
                r.address.to_string(),
            ),
            styled(app, Meaning::Muted, format!(" ×{}", r.count)),
        ];
        if let Some(note) = r.note {
            line.push(styled(app, m, format!("  {note}")));
        }
        out.push(kv(app, "", line));
    }
    // What terraform plan / ansible --check found, and what an approval binds to.
    for d in v.dry_runs {
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
        risk_meaning(v.risk),
        format!(" {} ", v.risk.as_str().to_uppercase()),
    )];
    if !v.risk_reasons.is_empty() {
        risk.push(styled(
            app,
            Meaning::Muted,
            format!("  {}", v.risk_reasons.join("; ")),
        ));
    }
    out.push(kv(app, "risk", risk));
    out.push(kv(
        app,
        "cost",
        vec![
            styled(app, Meaning::Text, v.cost.headline.clone()),
            styled(
                app,
                Meaning::Muted,
                v.cost
                    .basis
                    .as_ref()
                    .map(|b| format!("  ({b})"))
                    .unwrap_or_default(),
            ),
        ],
    ));
    for (n, g) in v.gates.iter().enumerate() {
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
    let approval_m = match v.approval.need {
        Need::Denied => Meaning::GateDeny,
        Need::NotNeeded => Meaning::Success,
        Need::Needed => Meaning::GateWarn,
    };
    out.push(kv(
        app,
        "approval",
        vec![styled(app, approval_m, v.approval.line())],
    ));
    for line in crate::view::decision::DecisionView::of(rec).lines() {
        out.push(kv(app, "", vec![styled(app, state_m, line)]));
    }
    // What an approver decides on (risk, cost, gates, approval) comes right after the steps,
    // before the long resource list and dry-run notes, so it is visible on an 80x24 screen.
    let decision_len = out.len() - decision_at;
    out[detail_at..].rotate_right(decision_len);
}
