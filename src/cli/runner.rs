//! `opsdeck runner`, and `opsdeck apply` on the shared backend: the plan goes to the runners and
//! this command follows its run log until the run ends.

use std::time::Duration;

use super::args::{ApplyArgs, RunnerArgs};
use super::print::print_json;
use crate::approval::State;
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::pipeline::{Deck, OpenOptions, RunnerOptions};
use crate::store::{RunLogEntry, RunLogKind};

/// `apply ID`: in this process on the local store; handed to the runners on the shared
/// backend, then followed (unless `--detach`). `apply ID --follow`: only follow.
pub fn apply(deck: &Deck, args: ApplyArgs, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    if args.follow {
        return follow(deck, &args.id, json_out);
    }
    if !deck.runs().applies_through_runner() {
        return super::plans::apply(deck, &args.id, progress, json_out);
    }
    // Who the change is made as, and where, before it is handed over.
    let receipt = deck.runs().identity_receipt(&args.id)?;
    if !json_out {
        errln!("identity receipt for plan {}:", receipt.plan_id);
        for line in crate::view::ReceiptView::of(&receipt).lines() {
            errln!("  {line}");
        }
    }
    let rec = deck.runs().hand_over(&args.id)?;
    let id = rec.plan.plan_id.clone();
    if args.detach {
        if json_out {
            print_json(
                &serde_json::json!({"plan_id": id, "state": rec.state, "handed_to": "runner"}),
            )?;
        } else {
            outln!(
                "plan {id} is {}: a runner applies it; follow with `opsdeck apply {id} --follow`",
                rec.state.as_str()
            );
        }
        return Ok(0);
    }
    if !json_out {
        errln!(
            "plan {id} goes to a runner (the shared backend's runners alone apply); following its log, Ctrl-C stops following, not the run"
        );
    }
    follow(deck, &id, json_out)
}

/// Prints the plan's run log as it grows until the run has ended; exit 0 when it succeeded,
/// 8 otherwise. Ctrl-C stops following, not the run.
fn follow(deck: &Deck, id: &str, json_out: bool) -> Result<u8> {
    let rt = runtime()?;
    let all = std::sync::Mutex::new(Vec::<RunLogEntry>::new());
    let on_entry = |e: &RunLogEntry| {
        if !json_out {
            print_entry(e);
        }
        if let Ok(mut all) = all.lock() {
            all.push(e.clone());
        }
    };
    let ended = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = stop_tx.send(true);
            }
        });
        let ended = deck.runs().follow(id, &on_entry, stop_rx).await;
        ctrl_c.abort();
        ended
    })?;
    let Some(rec) = ended else {
        return Err(Error::Cancelled(format!(
            "stopped following plan {id}; the run goes on (`opsdeck plans cancel {id} --reason ...` stops it)"
        )));
    };
    let id = rec.plan.plan_id.clone();
    if json_out {
        let log = all.into_inner().unwrap_or_default();
        print_json(&serde_json::json!({"plan_id": id, "state": rec.state, "log": log}))?;
    } else {
        outln!("plan {id} {}", rec.state.as_str());
    }
    Ok(if rec.state == State::Succeeded { 0 } else { 8 })
}

fn print_entry(e: &RunLogEntry) {
    match e.kind {
        RunLogKind::Output => outln!("{}", e.text),
        RunLogKind::Progress => outln!("[{}] {}", e.runner, e.text),
        RunLogKind::Finished => outln!("[{}] run ended: {}", e.runner, e.text),
    }
}

/// `plans cancel ID --reason R`.
pub fn cancel(deck: &Deck, id: &str, reason: &str, json_out: bool) -> Result<u8> {
    let rec = deck.runs().cancel(id, reason)?;
    if json_out {
        print_json(&serde_json::json!({"plan_id": rec.plan.plan_id, "state": rec.state}))?;
    } else if rec.state == State::Cancelled {
        outln!("plan {} cancelled before it ran", rec.plan.plan_id);
    } else {
        outln!(
            "plan {} is {}: its runner stops it at its next heartbeat",
            rec.plan.plan_id,
            rec.state.as_str()
        );
    }
    Ok(0)
}

/// `runner`: a deck per tenant, passes over each queue until Ctrl-C or SIGTERM (the run in
/// progress is cancelled cleanly, its outcome recorded).
pub fn run(args: RunnerArgs, open: &OpenOptions, json_out: bool) -> Result<u8> {
    let opts = RunnerOptions::new(args.name, args.heartbeat_secs, args.stale_after_secs)?;
    if !(1..=300).contains(&args.poll_secs) {
        return Err(Error::input(format!(
            "--poll-secs {} is out of range: 1..=300 seconds",
            args.poll_secs
        )));
    }
    let tenants = if args.tenants.is_empty() {
        vec![open.tenant.clone()]
    } else {
        args.tenants.into_iter().map(Some).collect()
    };
    let decks = tenants
        .into_iter()
        .map(|tenant| Deck::open(options_for(open, tenant)))
        .collect::<Result<Vec<_>>>()?;
    let rt = runtime()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        let stop_tx = std::sync::Arc::new(stop_tx);
        let signals = tokio::spawn({
            let stop_tx = stop_tx.clone();
            async move {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let term = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term => {}
                }
                let _ = stop_tx.send(true);
            }
        });
        if !json_out {
            errln!(
                "runner {} serving {} (heartbeat {} s, stale after {} s)",
                opts.name,
                decks
                    .iter()
                    .map(|d| d.tenant().name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                opts.heartbeat_secs,
                opts.stale_after_secs
            );
        }
        let result = loop {
            let mut failed = None;
            for deck in &decks {
                match deck.runs().runner_pass(&opts, &stop_rx).await {
                    Ok(pass) => report_pass(deck, &pass, json_out)?,
                    Err(e) if args.once => {
                        failed = Some(e);
                        break;
                    }
                    Err(e) => errln!("runner: tenant {}: {e}", deck.tenant().name),
                }
                // The tenant's scheduled drift check, when one is due (docs/drift.md): it only
                // reads and plans, so it runs between passes, off the runtime's workers.
                match tokio::task::block_in_place(|| deck.drift().run_if_due(&crate::events::quiet))
                {
                    Ok(Some(report)) if !json_out => errln!(
                        "runner: tenant {}: {}",
                        deck.tenant().name,
                        crate::view::DriftView::of(&report).headline
                    ),
                    Ok(_) => {}
                    Err(e) => errln!("runner: tenant {}: drift check: {e}", deck.tenant().name),
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
            if args.once || *stop_rx.borrow() {
                break Ok(0);
            }
            let mut stop = stop_rx.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(args.poll_secs)) => {}
                _ = stop.changed() => {}
            }
            if *stop_rx.borrow() {
                break Ok(0);
            }
        };
        signals.abort();
        result
    })
}

fn report_pass(deck: &Deck, pass: &crate::pipeline::RunnerPass, json_out: bool) -> Result<()> {
    if pass.applied.is_empty() && pass.abandoned.is_empty() && pass.refused.is_empty() {
        return Ok(());
    }
    if json_out {
        let line = serde_json::to_string(&serde_json::json!({
            "tenant": deck.tenant().name, "pass": pass,
        }))
        .map_err(|e| Error::input(format!("encoding the pass: {e}")))?;
        println!("{}", crate::sanitize::json(&line));
        return Ok(());
    }
    for r in &pass.applied {
        outln!("plan {} {}", r.plan_id, r.state.as_str());
    }
    for id in &pass.abandoned {
        outln!("plan {id} failed: its runner went silent mid-apply");
    }
    for id in &pass.refused {
        outln!("plan {id} failed: the runner's checks refused it");
    }
    Ok(())
}

fn options_for(open: &OpenOptions, tenant: Option<String>) -> OpenOptions {
    // A runner acts as itself, never through an MCP token.
    OpenOptions {
        tenant,
        mcp_token: None,
        ..open.clone()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))
}
