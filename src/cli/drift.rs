//! `drift [STACK…] [--watch]`: drift checks of applied stacks, once or on the tenant's
//! schedule; `drift revert STACK` / `drift adopt STACK`: the plan that changes a drifted stack
//! back, or the one that records its actual values.

use super::args::{DriftArgs, DriftCommand};
use super::print::{print_json, print_lines};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::pipeline::{Deck, DriftReport, DriftStatus};
use crate::view::DriftView;

pub fn run(deck: &Deck, args: DriftArgs, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    match args.command {
        Some(DriftCommand::Revert { name, hosts }) => {
            let rec = if hosts {
                deck.drift().remediate_hosts(&name, progress)?
            } else {
                deck.drift().remediate(&name, progress)?
            };
            return super::requests::plan_outcome(deck, &rec, json_out);
        }
        Some(DriftCommand::Adopt { stack }) => {
            let rec = deck.drift().adopt(&stack, progress)?;
            return super::requests::plan_outcome(deck, &rec, json_out);
        }
        None => {}
    }
    if !args.watch {
        let report = deck.drift().check(&args.stacks, progress)?;
        return show(&report, json_out);
    }
    if !args.stacks.is_empty() {
        return Err(Error::input(
            "--watch checks every applied stack on the tenant's schedule; leave out the stack names",
        ));
    }
    let Some(_) = deck.drift().due_in_secs() else {
        return Err(Error::input(format!(
            "tenant {} has no drift schedule: an admin turns it on with `[drift] enabled = true` and `interval_minutes` in `opsdeck tenants set`",
            deck.tenant().name
        )));
    };
    loop {
        if let Some(report) = deck.drift().run_if_due(progress)? {
            show(&report, json_out)?;
        }
        let wait = deck.drift().due_in_secs().unwrap_or(60).clamp(1, 60);
        std::thread::sleep(std::time::Duration::from_secs(wait as u64));
    }
}

/// The report: JSON, or the view's lines.
/// Exit 1 when a stack drifted or could not be checked.
fn show(report: &DriftReport, json_out: bool) -> Result<u8> {
    if json_out {
        print_json(report)?;
    } else {
        let v = DriftView::of(report);
        let mut lines = vec![v.headline.clone()];
        for s in v.stacks.iter().chain(&v.hosts) {
            lines.push(String::new());
            lines.push(format!("{:<12} {}", s.label, s.headline));
            lines.extend(s.changes.iter().map(|c| format!("  {c}")));
            lines.extend(s.next.iter().map(|n| format!("  → {n}")));
        }
        for n in &v.notes {
            lines.push(String::new());
            lines.push(format!("note: {n}"));
        }
        print_lines(&lines);
    }
    Ok(
        if report.count(DriftStatus::Drifted) + report.count(DriftStatus::Unchecked) > 0 {
            1
        } else {
            0
        },
    )
}
