//! `backend`: the shared backend (DynamoDB + S3) is set up, checked, synced and migrated into
//! before any tenant's deck opens on it.

use serde_json::json;

use super::args::BackendCommand;
use super::print::print_json;
use crate::error::Result;
use crate::pipeline::OpenOptions;

pub fn run(cmd: BackendCommand, open: &OpenOptions, json_out: bool) -> Result<u8> {
    use crate::store::aws::provision::Finding;
    let (store, paths) = crate::pipeline::shared_backend(open)?;
    // Only what is not fine is listed; the summary line counts the rest.
    let print_findings = |findings: &[Finding]| {
        for f in findings
            .iter()
            .filter(|f| f.status != crate::store::aws::provision::Status::Ok)
        {
            outln!(
                "{:<8} {:<40} {:<24} {}",
                f.status.as_str(),
                f.resource,
                f.aspect,
                f.detail
            );
        }
    };
    match cmd {
        BackendCommand::Init => {
            let findings = store.init()?;
            if json_out {
                print_json(&findings)?;
            } else {
                print_findings(&findings);
                let changed = findings
                    .iter()
                    .filter(|f| f.status != crate::store::aws::provision::Status::Ok)
                    .count();
                outln!(
                    "shared backend ready at {} ({} aspects of 6 tables and 3 buckets checked, {changed} changed)",
                    crate::store::Store::location(&store),
                    findings.len()
                );
            }
            Ok(0)
        }
        BackendCommand::Check => {
            let findings = store.check()?;
            let health = crate::store::Store::health(&store);
            let problems = findings.iter().filter(|f| f.status.is_problem()).count();
            if json_out {
                print_json(&json!({"findings": findings, "journal": health}))?;
            } else {
                print_findings(&findings);
                outln!(
                    "{} · this machine's journal: {} queued, {} refused{}",
                    if problems == 0 {
                        format!(
                            "all {} aspects of 6 tables and 3 buckets are as they should be",
                            findings.len()
                        )
                    } else {
                        format!("{problems} problem(s): `opsdeck backend init` fixes them")
                    },
                    health.queued,
                    health.dead_letters,
                    if health.dead_letters > 0 {
                        format!(" (see {})", store.journal().dir().display())
                    } else {
                        String::new()
                    }
                );
            }
            Ok(if problems == 0 { 0 } else { 10 })
        }
        BackendCommand::Sync => {
            let signer = crate::audit::Signer::load_or_create(&paths.data.join("keys"))?;
            let report = crate::store::Store::sync(&store, &signer)?;
            if json_out {
                print_json(&report)?;
            } else {
                outln!(
                    "flushed {} audit events and {} artifacts ({} already there); {} still queued, {} refused",
                    report.events,
                    report.artifacts,
                    report.already_there,
                    report.remaining,
                    report.dead_letters
                );
            }
            Ok(if report.remaining == 0 { 0 } else { 6 })
        }
        BackendCommand::Migrate { only, .. } => {
            let local = crate::store::LocalStore::open(&paths.data)?;
            let done = crate::store::migrate::local_to_aws(&local, &store, &only, &mut |line| {
                if !json_out {
                    errln!("· {line}");
                }
            })?;
            if json_out {
                print_json(&done)?;
            } else {
                for m in &done {
                    outln!(
                        "tenant {}: {} audit records ({} copied now), head {}; {} artifacts, {} plans",
                        m.tenant,
                        m.records,
                        m.records_copied,
                        m.head.as_deref().unwrap_or("(empty)"),
                        m.artifacts,
                        m.plans
                    );
                }
            }
            Ok(0)
        }
    }
}
