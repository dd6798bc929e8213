//! `audit list`, `show`, `verify` and `export`. The filter flags are read by
//! [`crate::audit::query`], the one place audit filters are understood.

use super::args::{AuditCommand, FilterArgs};
use super::print::{audit_table, print_block, print_json, print_lines};
use crate::audit::export;
use crate::audit::{AuditFilter, AuditRecord};
use crate::error::{Error, Result};
use crate::pipeline::Deck;
use crate::view::AuditRowView;

pub fn run(deck: &Deck, cmd: AuditCommand, json_out: bool) -> Result<u8> {
    match cmd {
        AuditCommand::List { filter } => {
            let records = deck.trail().audit(&to_filter(deck, filter)?)?;
            if json_out {
                print_json(&records)?;
            } else {
                let rows: Vec<AuditRowView> = records.iter().map(AuditRowView::of).collect();
                print_lines(&audit_table(&rows));
            }
            Ok(0)
        }
        AuditCommand::Show { id } => show(deck, &id, json_out),
        AuditCommand::Verify { full } => {
            let report = deck.trail().verify(full)?;
            if json_out {
                print_json(&report)?;
            } else {
                print_lines(&crate::view::verify::lines(&report));
            }
            Ok(if report.ok { 0 } else { 9 })
        }
        AuditCommand::TrustKey { key_id } => {
            let done = deck.trail().trust_key(&key_id)?;
            print_key_decision(deck, &done, json_out)
        }
        AuditCommand::Certify => {
            let done = deck.trail().certify_this_machine()?;
            print_key_decision(deck, &done, json_out)
        }
        AuditCommand::RevokeKey { key_id, reason } => {
            let done = deck.trail().revoke_key(&key_id, &reason)?;
            print_key_decision(deck, &done, json_out)
        }
        AuditCommand::Siem {
            to,
            stream,
            region,
            follow,
            interval,
        } => siem(
            deck,
            &to,
            stream.as_deref(),
            region.as_deref(),
            follow,
            interval,
            json_out,
        ),
        AuditCommand::Evidence { from, to, out } => {
            let done = deck.trail().evidence_pack(&from, &to, &out)?;
            if json_out {
                print_json(&done)?;
            } else {
                outln!(
                    "wrote the evidence pack of {} to {} into {}: {} change(s), {} trail record(s), {} file(s); head {}",
                    done.from,
                    done.to,
                    done.dir.display(),
                    done.changes,
                    done.records,
                    done.files,
                    done.head_hash.as_deref().unwrap_or("(no records)")
                );
            }
            Ok(0)
        }
        AuditCommand::Export {
            format,
            output,
            filter,
        } => {
            let records = deck.trail().audit(&to_filter(deck, filter)?)?;
            match output {
                Some(path) => {
                    let mut f = std::fs::File::create(&path)
                        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
                    export::write(&records, format, &mut f)?;
                    if !json_out {
                        errln!("wrote {} events to {}", records.len(), path.display());
                    }
                }
                None => export::write(&records, format, &mut std::io::stdout().lock())?,
            }
            Ok(0)
        }
    }
}

/// `audit siem`: one pass, or one every `interval` seconds with `follow`.
fn siem(
    deck: &Deck,
    to: &str,
    stream: Option<&str>,
    region: Option<&str>,
    follow: bool,
    interval: u64,
    json_out: bool,
) -> Result<u8> {
    if follow && !(5..=86_400).contains(&interval) {
        return Err(Error::input(format!(
            "--interval {interval}: between 5 and 86400 seconds"
        )));
    }
    let dest = crate::siem::Destination::parse(to, stream, &deck.tenant().name)?;
    loop {
        let report = deck.trail().siem_export(&dest, region)?;
        if json_out {
            print_json(&report)?;
        } else if report.exported > 0 || !follow {
            outln!(
                "exported {} record(s) to {} ({} to {}; it held up to {} before)",
                report.exported,
                report.destination,
                if report.exported > 0 {
                    report.resumed_after + 1
                } else {
                    report.last_seq
                },
                report.last_seq,
                report.resumed_after
            );
        }
        if !follow {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_secs(interval));
    }
}

/// One event by id or sequence number, else every event of a plan or request (id prefix).
fn show(deck: &Deck, id: &str, json_out: bool) -> Result<u8> {
    let all = deck.trail().audit(&AuditFilter::default())?;
    let chosen: Vec<&AuditRecord> = match id.parse::<u64>() {
        Ok(seq) => all.iter().filter(|r| r.seq == seq).collect(),
        Err(_) => {
            let exact: Vec<&AuditRecord> = all.iter().filter(|r| r.event.event_id == id).collect();
            if exact.is_empty() {
                let subject = AuditFilter {
                    subject: Some(id.to_string()),
                    ..AuditFilter::default()
                };
                all.iter().filter(|r| subject.matches(r)).collect()
            } else {
                exact
            }
        }
    };
    if chosen.is_empty() {
        return Err(Error::not_found(
            "audit event",
            id,
            "give an event id, a sequence number, a plan id or a request id",
        ));
    }
    if json_out {
        if chosen.len() == 1 {
            print_json(chosen[0])?;
        } else {
            print_json(&chosen)?;
        }
    } else {
        for r in chosen {
            let v = crate::sanitize::to_json_pretty(r).unwrap_or_default();
            print_block(&format!("{v}\n"));
        }
    }
    Ok(0)
}

fn to_filter(deck: &Deck, f: FilterArgs) -> Result<AuditFilter> {
    crate::audit::query::FilterFields {
        user: f.by,
        agent: f.agent,
        status: f.status,
        event: f.event,
        subject: f.id,
        since: f.since,
        until: f.until,
        limit: f.limit,
    }
    .into_filter(deck.clock())
}

fn print_key_decision(
    deck: &Deck,
    done: &crate::pipeline::KeyDecision,
    json_out: bool,
) -> Result<u8> {
    if json_out {
        print_json(done)?;
    } else {
        outln!(
            "{}",
            crate::view::verify::key_decision_line(done, &deck.tenant().name)
        );
    }
    Ok(0)
}
