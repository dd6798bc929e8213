//! What the trail-based reports read of the trail, gathered in one pass and kept for the
//! session: the plans' steps (operations), the security scans' requests and answers
//! (security, compliance), the monitor requests that named a function or log group
//! (monitoring) and the stored reports (history, compare). Each line is parsed for those
//! fields only (the rest is skipped unread), and a later build reads only the records written
//! since (`scan_audit_lines_after` from the digest's cursor), so every report of a refresh
//! shares one read of the trail.
//!
//! What it trusts: the trail as the store holds it, as `audit list` reads it. It checks that
//! each batch of new records continues the one it read last (sequence and `prev` hash) and
//! reads the trail again from the start when it does not (a store replaced or restored); it
//! does not recompute hashes or signatures — `opsdeck audit verify` and the evidence pack do.
//! Stored scans are read back by SHA-256, which `get_artifact` checks.

use std::borrow::Cow;
use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::store::{StoredRun, stored_run_of};
use crate::audit::{AuditError, EventKind};
use crate::error::{Error, Result};
use crate::reports::compliance::ScanRecord;
use crate::reports::operations::PlanSteps;
use crate::store::Store;
use crate::time::Stamp;

/// A stored line as the reports read it: the chain's place and the event's fields they use.
#[derive(Deserialize)]
struct ReportLine<'a> {
    seq: u64,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(borrow)]
    event: ReportEvent<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportEvent<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    request_id: Cow<'a, str>,
    #[serde(borrow)]
    user_id: Cow<'a, str>,
    timestamp: Stamp,
    event: EventKind,
    #[serde(default, borrow)]
    plan_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    agent_type: Option<Cow<'a, str>>,
    /// Read only for the requests the reports look into.
    #[serde(default, borrow)]
    intent: Option<&'a RawValue>,
    #[serde(default, borrow)]
    artifacts: Option<&'a RawValue>,
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

/// A security scan request and its stored answer.
#[derive(Debug, Clone)]
pub(crate) struct AnsweredScan {
    pub request_id: String,
    pub at: String,
    pub user: String,
    pub sha256: String,
    pub limited: bool,
}

/// A monitor request that named a function or a log group.
#[derive(Debug, Clone)]
pub(crate) struct MonitorAsk {
    pub at: Timestamp,
    /// `function` or `log_group`
    pub kind: &'static str,
    pub name: String,
    /// None: the tenant's default region.
    pub region: Option<String>,
}

/// The digest of one tenant's trail up to `seq`.
#[derive(Debug, Default)]
pub(crate) struct ReportTrail {
    tenant: String,
    /// The last record read, and its hash (what the next one's `prev` must be).
    seq: u64,
    hash: String,
    pub steps: PlanSteps,
    /// Scan requests waiting for their answer: request id → named buckets or groups.
    asked: HashMap<String, bool>,
    pub scans: Vec<AnsweredScan>,
    /// The stored scans read so far, in the order of `scans` (artifacts never change).
    scan_records: Vec<ScanRecord>,
    pub monitor_asks: Vec<MonitorAsk>,
    pub runs: Vec<StoredRun>,
}

/// How reading the new records went.
enum CaughtUp {
    Yes,
    /// The records found do not continue the ones read: read everything again.
    NotContinued,
}

impl ReportTrail {
    fn new(tenant: &str) -> ReportTrail {
        ReportTrail {
            tenant: tenant.to_string(),
            ..ReportTrail::default()
        }
    }

    /// Brings the digest up to the end of `tenant`'s trail.
    pub fn catch_up(&mut self, store: &dyn Store, tenant: &str) -> Result<()> {
        if self.tenant != tenant {
            *self = ReportTrail::new(tenant);
        }
        if let CaughtUp::NotContinued = self.read_new(store)? {
            *self = ReportTrail::new(tenant);
            self.read_new(store)?;
        }
        Ok(())
    }

    fn read_new(&mut self, store: &dyn Store) -> Result<CaughtUp> {
        let from = self.seq;
        let mut outcome = CaughtUp::Yes;
        let mut folded: Result<()> = Ok(());
        let tenant = self.tenant.clone();
        store.scan_audit_lines_after(&tenant, from, &mut |bytes| {
            let line: ReportLine<'_> =
                serde_json::from_slice(bytes).map_err(|e| AuditError::Unreadable {
                    detail: e.to_string(),
                })?;
            if line.seq <= self.seq {
                return Ok((line.seq, true));
            }
            if from > 0 && self.seq == from && (line.seq != from + 1 || line.prev != self.hash) {
                outcome = CaughtUp::NotContinued;
                return Ok((line.seq, false));
            }
            if let Err(e) = self.fold(&line) {
                folded = Err(e);
                return Ok((line.seq, false));
            }
            self.seq = line.seq;
            self.hash = line.hash.into_owned();
            Ok((self.seq, true))
        })?;
        folded?;
        Ok(outcome)
    }

    fn fold(&mut self, line: &ReportLine<'_>) -> Result<()> {
        let e = &line.event;
        let at = e.timestamp.timestamp();
        self.steps.push(
            e.event,
            e.plan_id.as_deref(),
            at,
            &e.user_id,
            e.agent_type.as_deref(),
        );
        match (e.event, e.agent_type.as_deref()) {
            (EventKind::Classified, Some("security")) => {
                let intent = raw_value(e.intent)?;
                if intent["action"] == "scan" {
                    let params = &intent["params"];
                    let named = |k: &str| match &params[k] {
                        Value::String(s) => !s.is_empty(),
                        Value::Array(a) => !a.is_empty(),
                        _ => false,
                    };
                    let limited = named("bucket") || named("security_groups");
                    self.asked.insert(e.request_id.to_string(), limited);
                }
            }
            (EventKind::Answered, Some("security")) => {
                if let Some(limited) = self.asked.remove(&*e.request_id) {
                    let artifacts = raw_value(e.artifacts)?;
                    let sha = artifacts.as_array().and_then(|a| {
                        a.iter()
                            .find(|x| x["name"] == "report.json")
                            .and_then(|x| x["sha256"].as_str())
                    });
                    if let Some(sha) = sha {
                        self.scans.push(AnsweredScan {
                            request_id: e.request_id.to_string(),
                            at: crate::time::iso(at),
                            user: e.user_id.to_string(),
                            sha256: sha.to_string(),
                            limited,
                        });
                    }
                }
            }
            (EventKind::Classified, Some("monitor")) => {
                let intent = raw_value(e.intent)?;
                let params = &intent["params"];
                let text = |k: &str| match &params[k] {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    _ => None,
                };
                let named = match (text("log_group"), text("function")) {
                    (Some(g), _) => Some(("log_group", g)),
                    (None, Some(f)) => Some(("function", f)),
                    _ => None,
                };
                if let Some((kind, name)) = named {
                    self.monitor_asks.push(MonitorAsk {
                        at,
                        kind,
                        name,
                        region: text("region"),
                    });
                }
            }
            (EventKind::ReportGenerated, _) => {
                let artifacts: Vec<Value> = match e.artifacts {
                    Some(raw) => {
                        serde_json::from_str(raw.get()).map_err(|x| unreadable(line, x))?
                    }
                    None => Vec::new(),
                };
                if let Some(run) = stored_run_of(
                    line.seq,
                    &e.event_id,
                    &e.timestamp,
                    &e.user_id,
                    &artifacts,
                    e.message.as_deref(),
                ) {
                    self.runs.push(run);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The stored scans, oldest first, each artifact read once per session.
    pub fn scan_records(&mut self, store: &dyn Store) -> Result<Vec<ScanRecord>> {
        for scan in &self.scans[self.scan_records.len()..] {
            let bytes = store.get_artifact(&self.tenant, &scan.sha256)?;
            let report: Value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::input(format!(
                    "the stored report {} of request {} is not JSON: {e}",
                    scan.sha256, scan.request_id
                ))
            })?;
            self.scan_records.push(ScanRecord::from_report(
                &report,
                &scan.request_id,
                &scan.at,
                &scan.user,
                scan.limited,
                &scan.sha256,
            )?);
        }
        Ok(self.scan_records.clone())
    }
}

fn raw_value(raw: Option<&RawValue>) -> Result<Value> {
    match raw {
        Some(r) => serde_json::from_str(r.get())
            .map_err(|e| Error::input(format!("an audit event's field cannot be read: {e}"))),
        None => Ok(Value::Null),
    }
}

fn unreadable(line: &ReportLine<'_>, e: serde_json::Error) -> Error {
    Error::input(format!(
        "audit record {} (event {}) cannot be read: {e}",
        line.seq, line.event.event_id
    ))
}

impl super::super::Deck {
    /// Runs `f` over the session's digest of its tenant's trail, brought up to date first.
    /// The caller has settled that the member may read the trail.
    pub(crate) fn with_report_trail<T>(
        &self,
        f: impl FnOnce(&mut ReportTrail, &dyn Store) -> Result<T>,
    ) -> Result<T> {
        let mut trail = self
            .report_trail
            .lock()
            .map_err(|_| Error::input("the reports' reading of the trail is unusable"))?;
        let store = self.store.as_ref();
        if let Err(e) = trail.catch_up(store, &self.tenant.name) {
            // Half read: the next build starts over.
            *trail = ReportTrail::default();
            return Err(e);
        }
        f(&mut trail, store)
    }
}
