//! Plans after they are made: `plans list`, `plans show`, `approve`, `reject` and `apply`.

use serde_json::json;

use super::args::{ApproveArgs, PlansCommand, RejectArgs};
use super::print::{plan_lines, print_artifacts, print_json, print_lines};
use crate::approval::State;
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::pipeline::Deck;
use crate::view::PlanView;

pub fn run(deck: &Deck, cmd: PlansCommand, json_out: bool) -> Result<u8> {
    match cmd {
        PlansCommand::List { state } => list(deck, state.as_deref(), json_out),
        PlansCommand::Show { id, artifact } => show(deck, &id, artifact, json_out),
        PlansCommand::Cancel { id, reason } => super::runner::cancel(deck, &id, &reason, json_out),
    }
}

fn list(deck: &Deck, state: Option<&str>, json_out: bool) -> Result<u8> {
    let state = state.map(parse_state).transpose()?;
    let plans = deck.approvals().plans(state)?;
    if json_out {
        print_json(&plans)?;
    } else if plans.is_empty() {
        outln!("no plans in tenant {}", deck.tenant().name);
    } else {
        outln!(
            "{:<13} {:<11} {:<8} {:<10} {:>10}  {:<19} SUMMARY",
            "PLAN",
            "STATE",
            "RISK",
            "REQUESTER",
            "$/MONTH",
            "CREATED"
        );
        for r in &plans {
            let created = r.plan.created_at.to_string();
            outln!(
                "{:<13} {:<11} {:<8} {:<10} {:>10.2}  {:<19} {}",
                r.plan.plan_id,
                r.state.as_str(),
                r.plan.risk.as_str(),
                r.plan.requester,
                r.plan.cost.monthly_usd,
                &created[..19.min(created.len())],
                r.plan.summary
            );
        }
    }
    Ok(0)
}

fn show(deck: &Deck, id: &str, artifact: bool, json_out: bool) -> Result<u8> {
    let rec = deck.approvals().plan(id)?;
    if !artifact {
        if json_out {
            print_json(&rec)?;
        } else {
            print_lines(&plan_lines(&PlanView::of(&rec)));
        }
        return Ok(0);
    }
    let files = deck.approvals().artifacts(&rec.plan)?;
    if json_out {
        let out: Vec<_> = files
            .iter()
            .map(|(a, b)| {
                if a.kind.is_binary() {
                    json!({"name": a.name, "kind": a.kind, "sha256": a.sha256,
                           "size": b.len(), "content": null})
                } else {
                    json!({"name": a.name, "kind": a.kind, "sha256": a.sha256,
                           "content": String::from_utf8_lossy(b)})
                }
            })
            .collect();
        print_json(&out)?;
    } else {
        print_artifacts(&files);
    }
    Ok(0)
}

pub fn approve(deck: &Deck, args: ApproveArgs, json_out: bool) -> Result<u8> {
    let glass = if args.break_glass { args.reason } else { None };
    let rec = deck
        .approvals()
        .approve(&args.id, args.comment, args.totp.as_deref(), glass)?;
    if json_out {
        print_json(&rec)?;
    } else if rec.state == State::Approved {
        outln!(
            "approved plan {} by {} (bound to hash {}); run it with `opsdeck apply {}`",
            rec.plan.plan_id,
            deck.identity().user,
            crate::approval::short(&rec.plan.content_hash),
            rec.plan.plan_id
        );
    } else {
        outln!(
            "approval recorded: {} of {} for plan {}",
            rec.approvals.len(),
            rec.required_approvals,
            rec.plan.plan_id
        );
    }
    Ok(0)
}

pub fn reject(deck: &Deck, args: RejectArgs, json_out: bool) -> Result<u8> {
    let rec = deck
        .approvals()
        .reject(&args.id, &args.reason, args.totp.as_deref())?;
    if json_out {
        print_json(&rec)?;
    } else {
        outln!("rejected plan {}: {}", rec.plan.plan_id, args.reason);
    }
    Ok(0)
}

/// `apply`: runs on a runtime of its own; Ctrl-C cancels the run cleanly. Exit 8 on failure.
pub fn apply(deck: &Deck, id: &str, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    // Who the change is made as, and where, before anything runs.
    let receipt = deck.runs().identity_receipt(id)?;
    if !json_out {
        errln!("identity receipt for plan {}:", receipt.plan_id);
        for line in crate::view::ReceiptView::of(&receipt).lines() {
            errln!("  {line}");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    let report = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        let report = deck
            .runs()
            .apply_with_receipt(id, progress, rx, Some(&receipt))
            .await;
        ctrl_c.abort();
        report
    })?;
    if json_out {
        let mut v =
            serde_json::to_value(&report).map_err(|e| Error::io("encoding output", e.into()))?;
        v["identity_receipt"] =
            serde_json::to_value(&receipt).map_err(|e| Error::io("encoding output", e.into()))?;
        print_json(&v)?;
    } else {
        outln!(
            "plan {} {}{}; log: {}",
            report.plan_id,
            report.state.as_str(),
            report
                .exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            report.log_uri.as_deref().unwrap_or("-")
        );
        // What the trail says of it beyond the state: a cancel's abandoned call, the results.
        if report.message != report.state.as_str() {
            outln!("  {}", report.message);
        }
    }
    Ok(if report.success { 0 } else { 8 })
}

fn parse_state(s: &str) -> Result<State> {
    serde_json::from_value(json!(s.to_lowercase())).map_err(|_| {
        Error::input(format!(
            "unknown state '{s}': pending, approved, rejected, expired, executing, succeeded, failed, cancelled, not_required"
        ))
    })
}
