//! Stored reports: `refresh` builds a report and stores it as an artifact of the tenant (both
//! backends, content-addressed like every artifact), audited as `report_generated` with the
//! artifact's SHA-256; `history` lists a report's stored runs from those events (the trail is
//! the index, as the library's is); `compare` reads two runs back and says what changed.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::Reports;
use crate::audit::{AuditRecord, EventKind, Status};
use crate::error::{Error, Result};
use crate::reports::compare::{OutputDiff, compare_outputs};
use crate::reports::{ReportDoc, ReportName, ReportOptions};
use crate::tenant::Role;

const READERS: &[Role] = &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

/// One stored run of a report, as its `report_generated` event tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    /// The event's id: what `report compare --with` names.
    pub run_id: String,
    pub name: ReportName,
    /// When it was stored (the event's time).
    pub stored_at: String,
    /// Unix seconds of `stored_at`.
    pub stored_unix: i64,
    pub by: String,
    pub summary: String,
    pub sha256: String,
    pub uri: String,
    /// The event's place in the chain.
    pub seq: u64,
}

/// Which older run to compare the latest with.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareWith {
    /// The stored run nearest this time (`7d`: a week ago).
    Near(jiff::Timestamp),
    /// A run id (or a unique prefix of one).
    Run(String),
}

impl CompareWith {
    /// `7d`, `24h`, an ISO date or time, or a run id.
    pub fn parse(text: &str, clock: &dyn crate::time::Clock) -> CompareWith {
        match crate::time::parse_since(text, clock) {
            Some(t) => CompareWith::Near(t),
            None => CompareWith::Run(text.to_string()),
        }
    }
}

/// What changed between an older run and the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportComparison {
    pub name: ReportName,
    pub latest: StoredRun,
    pub older: StoredRun,
    pub latest_summary: String,
    pub older_summary: String,
    pub outputs: Vec<OutputDiff>,
}

impl ReportComparison {
    /// Outputs that changed at all.
    pub fn changed(&self) -> impl Iterator<Item = &OutputDiff> {
        self.outputs
            .iter()
            .filter(|o| o.change != crate::reports::compare::OutputChange::Same)
    }
}

impl Reports<'_> {
    /// Builds the report and stores it as an artifact of the tenant, audited as
    /// `report_generated`. A report that fails to build stores nothing and says why.
    pub fn refresh(
        &self,
        name: ReportName,
        opts: &ReportOptions,
    ) -> Result<(ReportDoc, StoredRun)> {
        self.require_member(READERS, "store reports")?;
        let doc = self.build(name, opts)?;
        let body = serde_json::to_vec(&doc)
            .map_err(|e| Error::input(format!("report {name} as JSON: {e}")))?;
        let sha = self.store.put_artifact(&self.tenant.name, &body)?;
        let uri = self.store.artifact_uri(&self.tenant.name, &sha);
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::ReportGenerated,
            Status::Completed,
        );
        ev.artifacts = vec![json!({
            "name": format!("report-{name}.json"),
            "report": name.as_str(),
            "sha256": sha,
            "size": body.len(),
            "uri": uri,
        })];
        ev.message = Some(crate::redact::redact(&format!(
            "{name} report stored: {}",
            doc.summary
        )));
        let records = self.append(&[ev])?;
        let run = records
            .iter()
            .find_map(stored_run)
            .ok_or_else(|| Error::Unavailable("the stored report is not in the trail".into()))?;
        Ok((doc, run))
    }

    /// The stored runs of a report, oldest first.
    pub fn history(&self, name: ReportName) -> Result<Vec<StoredRun>> {
        Ok(self
            .all_runs()?
            .into_iter()
            .filter(|r| r.name == name)
            .collect())
    }

    /// Every report's stored runs, oldest first (one read of the trail for the Reports pane).
    pub fn all_runs(&self) -> Result<Vec<StoredRun>> {
        self.require_member(READERS, "read stored reports")?;
        self.with_report_trail(|trail, _| Ok(trail.runs.clone()))
    }

    /// A stored run's report, checked against the name its event gave it.
    pub fn stored(&self, run: &StoredRun) -> Result<ReportDoc> {
        self.require_member(READERS, "read stored reports")?;
        let bytes = self.store.get_artifact(&self.tenant.name, &run.sha256)?;
        let doc: ReportDoc = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "stored report {} ({}) does not read as a report: {e}",
                run.run_id, run.sha256
            ))
        })?;
        if doc.name != run.name {
            return Err(Error::refused(format!(
                "stored run {} is a {} report but its event says {}: the trail and the artifact disagree",
                run.run_id, doc.name, run.name
            )));
        }
        Ok(doc)
    }

    /// What changed between the latest stored run of `name` and an older one.
    pub fn compare(&self, name: ReportName, with: &CompareWith) -> Result<ReportComparison> {
        let runs = self.history(name)?;
        let Some(latest) = runs.last().cloned() else {
            return Err(Error::not_found(
                "stored report",
                format!("{name} in tenant {}", self.tenant.name),
                format!("store one with `opsdeck report refresh {name}`, or open the Reports pane"),
            ));
        };
        let earlier = &runs[..runs.len() - 1];
        let older = match with {
            CompareWith::Run(id) => {
                let found: Vec<&StoredRun> = runs
                    .iter()
                    .filter(|r| r.run_id.starts_with(id.as_str()))
                    .collect();
                match found.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(Error::not_found(
                            "stored report run",
                            format!("{name} {}", crate::sanitize::line(id)),
                            format!(
                                "`opsdeck report history {name}` lists them; or give a time such as 7d"
                            ),
                        ));
                    }
                    _ => {
                        return Err(Error::input(format!(
                            "{:?} names {} stored {name} runs: give more of the run id",
                            crate::sanitize::line(id),
                            found.len()
                        )));
                    }
                }
            }
            CompareWith::Near(t) => {
                let at = t.as_second();
                earlier
                    .iter()
                    .min_by_key(|r| (r.stored_unix - at).abs())
                    .cloned()
                    .ok_or_else(|| {
                        Error::not_found(
                            "older stored report",
                            name.as_str(),
                            "only one is stored: there is nothing to compare it with yet",
                        )
                    })?
            }
        };
        let (new_doc, old_doc) = (self.stored(&latest)?, self.stored(&older)?);
        Ok(ReportComparison {
            name,
            outputs: compare_outputs(&old_doc.outputs, &new_doc.outputs),
            latest_summary: new_doc.summary,
            older_summary: old_doc.summary,
            latest,
            older,
        })
    }
}

/// The run a `report_generated` record describes (None for other records or a malformed one).
fn stored_run(r: &AuditRecord) -> Option<StoredRun> {
    if r.event.event != EventKind::ReportGenerated {
        return None;
    }
    stored_run_of(
        r.seq,
        &r.event.event_id,
        &r.event.timestamp,
        &r.event.user_id,
        &r.event.artifacts,
        r.event.message.as_deref(),
    )
}

/// The run a `report_generated` event's fields describe (None when malformed).
pub(super) fn stored_run_of(
    seq: u64,
    event_id: &str,
    at: &crate::time::Stamp,
    user: &str,
    artifacts: &[Value],
    message: Option<&str>,
) -> Option<StoredRun> {
    let a = artifacts.first()?;
    let name: ReportName = a.get("report").and_then(Value::as_str)?.parse().ok()?;
    let sha256 = a.get("sha256").and_then(Value::as_str)?.to_string();
    let message = message.unwrap_or_default();
    let summary = message
        .split_once(" report stored: ")
        .map_or(message, |(_, s)| s)
        .to_string();
    Some(StoredRun {
        run_id: event_id.to_string(),
        name,
        stored_at: at.to_string(),
        stored_unix: at.as_second(),
        by: user.to_string(),
        summary,
        sha256,
        uri: a
            .get("uri")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        seq,
    })
}
