//! `backend`: the shared backend (DynamoDB + S3) is set up, checked, synced and migrated into
//! before any tenant's deck opens on it.

use serde_json::json;

use super::args::BackendCommand;
use super::print::print_json;
use crate::error::Result;
use crate::pipeline::{OpenOptions, SharedBackend};

pub fn run(cmd: BackendCommand, open: &OpenOptions, json_out: bool) -> Result<u8> {
    use crate::store::aws::provision::Finding;
    let backend = SharedBackend::open(open)?;
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
    // Each tenant's retention settings, whatever their state (drift is listed above them).
    let print_retention = |findings: &[Finding]| {
        for f in findings.iter().filter(|f| f.aspect == "retention") {
            outln!("{:<8} {:<40} {:<24} {}", "", f.resource, f.aspect, f.detail);
        }
    };
    match cmd {
        BackendCommand::Init => {
            let findings = backend.init()?;
            if json_out {
                print_json(&findings)?;
            } else {
                print_findings(&findings);
                print_retention(&findings);
                let changed = findings
                    .iter()
                    .filter(|f| f.status != crate::store::aws::provision::Status::Ok)
                    .count();
                outln!(
                    "shared backend ready at {} ({} aspects of 6 tables and 3 buckets checked, {changed} changed)",
                    backend.location(),
                    findings.len()
                );
            }
            Ok(0)
        }
        BackendCommand::Check => {
            let check = backend.check()?;
            let health = &check.journal;
            let problems = check.problems();
            if json_out {
                print_json(&json!({"findings": check.findings, "journal": health}))?;
            } else {
                print_findings(&check.findings);
                print_retention(&check.findings);
                outln!(
                    "{} · this machine's journal: {} queued, {} refused{}",
                    if problems == 0 {
                        format!(
                            "all {} aspects of 6 tables and 3 buckets are as they should be",
                            check.findings.len()
                        )
                    } else {
                        format!("{problems} problem(s): `opsdeck backend init` fixes them")
                    },
                    health.queued,
                    health.dead_letters,
                    match &check.dead_letter_dir {
                        Some(dir) => format!(" (see {})", dir.display()),
                        None => String::new(),
                    }
                );
            }
            Ok(if problems == 0 { 0 } else { 10 })
        }
        BackendCommand::Sync => {
            let report = backend.sync()?;
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
            let done = backend.migrate(&only, &mut |line| {
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
