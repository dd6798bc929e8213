//! `stacks`: Terraform stacks of the tenant, one in detail, and breaking a stale lock.

use serde_json::json;

use super::args::StacksCommand;
use super::print::print_json;
use crate::error::{Error, Result};
use crate::pipeline::Deck;

pub fn run(deck: &Deck, command: Option<StacksCommand>, json_out: bool) -> Result<u8> {
    match command.unwrap_or(StacksCommand::List) {
        StacksCommand::List => {
            let stacks = deck.stacks_with_locks()?;
            if json_out {
                let v: Vec<_> = stacks
                    .iter()
                    .map(|e| {
                        let mut v = match &e.record {
                            Some(r) => serde_json::to_value(r).unwrap_or_default(),
                            None => json!({"name": e.name, "status": "unapplied"}),
                        };
                        v["lock"] = json!(e.lock);
                        v["lock_stale"] = json!(e.lock_stale);
                        v
                    })
                    .collect();
                print_json(&v)?;
            } else if stacks.is_empty() {
                outln!("no stacks in tenant {}", deck.tenant().name);
            } else {
                for e in stacks {
                    let (status, region, last) = match e.record {
                        Some(r) => (
                            format!("{:?}", r.status).to_lowercase(),
                            r.region.unwrap_or_default(),
                            format!("last plan {}", r.last_applied_plan),
                        ),
                        None => ("unapplied".into(), String::new(), "never applied".into()),
                    };
                    outln!(
                        "{:<26} {:<10} {:<16} {last}{}",
                        e.name,
                        status,
                        region,
                        e.lock
                            .map(|l| format!(
                                "  {}: {}",
                                if e.lock_stale { "STALE LOCK" } else { "LOCKED" },
                                l.describe()
                            ))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        StacksCommand::Show { name } => {
            let d = deck.stack_detail(&name)?;
            if json_out {
                print_json(&d)?;
                return Ok(0);
            }
            outln!("stack     {name}");
            match &d.record {
                Some(r) => {
                    outln!(
                        "status    {}  (last applied by plan {} at {})",
                        format!("{:?}", r.status).to_lowercase(),
                        r.last_applied_plan,
                        r.updated_at
                    );
                    if let Some(region) = &r.region {
                        outln!("region    {region}");
                    }
                }
                None => outln!("status    never applied"),
            }
            outln!(
                "state     {}",
                d.state
                    .as_ref()
                    .map(|s| s.describe())
                    .unwrap_or_else(|| format!(
                        "{} (version not readable without terraform)",
                        d.backend
                    ))
            );
            match &d.lock {
                Some(l) => outln!("lock      held: {}", l.describe()),
                None => outln!("lock      free"),
            }
            if !d.resources.is_empty() {
                outln!("resources");
                for r in &d.resources {
                    outln!("  {r}");
                }
            }
            Ok(0)
        }
        StacksCommand::Unlock {
            name,
            force,
            reason,
            totp,
        } => {
            if !force {
                return Err(Error::input(format!(
                    "breaking the lock of stack {name} lets another apply run on it; if the holder is really gone, repeat with --force"
                )));
            }
            let held = deck.break_stack_lock(&name, &reason, totp.as_deref())?;
            if json_out {
                print_json(&held)?;
            } else {
                outln!(
                    "lock of stack {name} broken (it was held by the {}); recorded in the audit trail",
                    held.describe()
                );
            }
            Ok(0)
        }
    }
}
