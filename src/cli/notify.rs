//! `notify status` and `notify flush`: the notification outbox of this machine.

use serde_json::json;

use super::args::NotifyCommand;
use super::print::print_json;
use crate::error::Result;
use crate::pipeline::Deck;

pub fn run(deck: &Deck, cmd: NotifyCommand, json_out: bool) -> Result<u8> {
    match cmd {
        NotifyCommand::Status => {
            let entries = deck.notification_entries()?;
            let status = deck.notification_status();
            if json_out {
                let list: Vec<_> = entries
                    .iter()
                    .map(|(given_up, e)| json!({"given_up": given_up, "entry": e}))
                    .collect();
                print_json(&json!({"status": status, "notifications": list}))?;
                return Ok(0);
            }
            outln!("{} waiting, {} given up", status.pending, status.failed);
            for (given_up, e) in &entries {
                let n = &e.notification;
                outln!(
                    "{} {} {} attempts {}{}",
                    if *given_up { "given up" } else { "waiting " },
                    n.kind.as_str(),
                    n.plan_id.as_deref().unwrap_or("-"),
                    e.attempts,
                    e.last_error
                        .as_deref()
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                );
            }
            Ok(if status.failed > 0 { 1 } else { 0 })
        }
        NotifyCommand::Flush => {
            let r = deck.flush_notifications()?;
            if json_out {
                print_json(&r)?;
            } else {
                outln!(
                    "{} delivered, {} to retry, {} given up{}",
                    r.delivered,
                    r.retrying,
                    r.given_up,
                    if r.revived > 0 {
                        format!(" ({} given up before were tried again)", r.revived)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(if r.retrying + r.given_up > 0 { 1 } else { 0 })
        }
    }
}
