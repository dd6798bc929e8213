//! The compliance report: each control of a framework (CIS AWS Foundations v3.0, SOC 2 CC,
//! ISO/IEC 27001:2022 Annex A) judged from the tenant's stored security scans through the
//! mapping in `policies/compliance/`: fail when a mapped check's latest result on some
//! resource failed, pass when mapped checks ran and none failed, not checked when none ran.
//! Every verdict carries its evidence: which finding, on which resource, from which scan, when.
//!
//! The latest result wins per check and resource. A scan of the whole scope (not of named
//! buckets or groups) replaces its checks' earlier results in what it covers — the account for
//! S3 and IAM, its region for security groups — so a resource deleted since no longer counts.

pub mod frameworks;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::agents::security::Finding;
use crate::agents::security::checks;
use crate::error::{Error, Result};
use crate::events::{Output, headings};
use crate::intent::ScanScope;
pub use frameworks::{Framework, Mapping};

/// One stored security scan, as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRecord {
    pub request_id: String,
    /// ISO 8601, UTC: when the answer was recorded.
    pub scanned_at: String,
    pub requested_by: String,
    pub region: String,
    /// Scoped to named buckets or security groups: its results add to earlier ones rather than
    /// replace them.
    pub limited: bool,
    /// Today's ids of the checks that ran (also those that found nothing to judge).
    pub checks_run: Vec<String>,
    /// Our own checks' findings, check ids mapped to today's.
    pub findings: Vec<Finding>,
    /// The stored report's artifact.
    pub report_sha256: String,
}

impl ScanRecord {
    /// Reads a stored scan report (`report.json` of a security scan). Reports written before
    /// scans said which checks ran count the checks their findings name; findings of renamed
    /// checks count under today's id.
    pub fn from_report(
        report: &Value,
        request_id: &str,
        scanned_at: &str,
        requested_by: &str,
        limited: bool,
        report_sha256: &str,
    ) -> Result<ScanRecord> {
        let data = &report["data"];
        let raw = data["findings"].as_array().ok_or_else(|| {
            Error::input(format!(
                "the stored report of request {request_id} holds no findings list"
            ))
        })?;
        let mut findings = Vec::new();
        for f in raw {
            let mut f: Finding = serde_json::from_value(f.clone()).map_err(|e| {
                Error::input(format!(
                    "a finding in the stored report of request {request_id} cannot be read: {e}"
                ))
            })?;
            if f.source != "opsdeck" {
                continue;
            }
            f.check_id = checks::canonical(&f.check_id).to_string();
            findings.push(f);
        }
        let checks_run: BTreeSet<String> = match data["checks_run"].as_array() {
            Some(run) => run
                .iter()
                .filter_map(Value::as_str)
                .map(|c| checks::canonical(c).to_string())
                .collect(),
            None => findings.iter().map(|f| f.check_id.clone()).collect(),
        };
        Ok(ScanRecord {
            request_id: request_id.to_string(),
            scanned_at: scanned_at.to_string(),
            requested_by: requested_by.to_string(),
            region: report["region"].as_str().unwrap_or_default().to_string(),
            limited,
            checks_run: checks_run.into_iter().collect(),
            findings,
            report_sha256: report_sha256.to_string(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    Fail,
    Pass,
    NotChecked,
}

impl ControlStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Fail => "fail",
            ControlStatus::Pass => "pass",
            ControlStatus::NotChecked => "not_checked",
        }
    }
}

/// One finding behind a verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub check_id: String,
    /// `PASS` or `FAIL`.
    pub status: &'static str,
    pub finding_uid: String,
    pub resource_uid: String,
    pub resource_type: String,
    pub resource_name: String,
    pub region: String,
    pub detail: String,
    pub scanned_at: String,
    pub request_id: String,
    pub requested_by: String,
    pub report_sha256: String,
}

/// What is known of one mapped check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckState {
    pub check_id: String,
    pub ran: bool,
    /// The newest scan that ran it.
    pub last_scanned: Option<String>,
    pub pass: usize,
    pub fail: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlResult {
    pub id: String,
    pub title: String,
    pub section: String,
    pub status: ControlStatus,
    pub checks: Vec<CheckState>,
    /// Failing findings first.
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub not_checked: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceReport {
    pub tenant: String,
    pub framework: Framework,
    pub name: String,
    pub version: String,
    pub generated_at: String,
    /// Security scans read from the trail.
    pub scans: usize,
    pub counts: Counts,
    pub controls: Vec<ControlResult>,
    /// Checks this framework has no control for, and why.
    pub not_mapped: Vec<frameworks::NotMapped>,
}

/// The results of one check in one part of what it covers.
#[derive(Default)]
struct Latest {
    last_scanned: String,
    by_resource: BTreeMap<String, Vec<Evidence>>,
}

fn evidence(f: &Finding, scan: &ScanRecord) -> Evidence {
    Evidence {
        check_id: f.check_id.clone(),
        status: f.status.as_str(),
        finding_uid: f.uid.clone(),
        resource_uid: f.resource_uid.clone(),
        resource_type: f.resource_type.clone(),
        resource_name: f.resource_name.clone(),
        region: f.region.clone(),
        detail: f.detail.clone(),
        scanned_at: scan.scanned_at.clone(),
        request_id: scan.request_id.clone(),
        requested_by: scan.requested_by.clone(),
        report_sha256: scan.report_sha256.clone(),
    }
}

/// Builds the report from the tenant's scans, oldest first.
pub fn build(
    tenant: &str,
    mapping: &Mapping,
    scans: &[ScanRecord],
    generated_at: &str,
) -> ComplianceReport {
    // (check, part) → latest results; the part is the scan's region for security groups
    // (a scan reads one region's groups), the whole account otherwise.
    let mut latest: BTreeMap<(String, String), Latest> = BTreeMap::new();
    for scan in scans {
        for check in &scan.checks_run {
            let part = match checks::find(check).map(|c| c.scope) {
                Some(ScanScope::Ec2) => scan.region.clone(),
                _ => String::new(),
            };
            let entry = latest.entry((check.clone(), part)).or_default();
            if !scan.limited {
                entry.by_resource.clear();
            }
            entry.last_scanned = scan.scanned_at.clone();
            let mut fresh: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
            for f in scan.findings.iter().filter(|f| &f.check_id == check) {
                fresh
                    .entry(f.resource_uid.clone())
                    .or_default()
                    .push(evidence(f, scan));
            }
            entry.by_resource.extend(fresh);
        }
    }
    let mut counts = Counts::default();
    let controls = mapping
        .controls
        .iter()
        .map(|c| {
            let mut evidence = Vec::new();
            let mut states = Vec::new();
            for check in &c.checks {
                let parts: Vec<&Latest> = latest
                    .iter()
                    .filter(|((id, _), _)| id == check)
                    .map(|(_, l)| l)
                    .collect();
                let found: Vec<&Evidence> = parts
                    .iter()
                    .flat_map(|l| l.by_resource.values().flatten())
                    .collect();
                let fail = found.iter().filter(|e| e.status == "FAIL").count();
                states.push(CheckState {
                    check_id: check.clone(),
                    ran: !parts.is_empty(),
                    last_scanned: parts.iter().map(|l| l.last_scanned.clone()).max(),
                    pass: found.len() - fail,
                    fail,
                });
                evidence.extend(found.into_iter().cloned());
            }
            evidence.sort_by(|a, b| {
                (a.status != "FAIL")
                    .cmp(&(b.status != "FAIL"))
                    .then(a.check_id.cmp(&b.check_id))
                    .then(a.resource_name.cmp(&b.resource_name))
                    .then(a.finding_uid.cmp(&b.finding_uid))
            });
            let status = if !states.iter().any(|s| s.ran) {
                counts.not_checked += 1;
                ControlStatus::NotChecked
            } else if states.iter().any(|s| s.fail > 0) {
                counts.fail += 1;
                ControlStatus::Fail
            } else {
                counts.pass += 1;
                ControlStatus::Pass
            };
            ControlResult {
                id: c.id.clone(),
                title: c.title.clone(),
                section: c.section.clone(),
                status,
                checks: states,
                evidence,
            }
        })
        .collect();
    ComplianceReport {
        tenant: tenant.to_string(),
        framework: mapping.framework,
        name: mapping.name.clone(),
        version: mapping.version.clone(),
        generated_at: generated_at.to_string(),
        scans: scans.len(),
        counts,
        controls,
        not_mapped: mapping.not_mapped.clone(),
    }
}

/// Failing evidence rows the text shows per control; the rest are in `--json` and CSV.
const FAILING_SHOWN: usize = 5;

pub const CSV_COLUMNS: [&str; 17] = [
    "framework",
    "control_id",
    "control_title",
    "control_status",
    "check_id",
    "finding_status",
    "finding_uid",
    "resource_uid",
    "resource_type",
    "resource_name",
    "region",
    "detail",
    "scanned_at",
    "request_id",
    "requested_by",
    "report_sha256",
    "check_ran",
];

impl ComplianceReport {
    /// The controls table and the failing evidence, as every front end lays answers out.
    pub fn outputs(&self) -> Vec<Output> {
        let mut out = vec![Output::Table {
            title: format!(
                "{} {} — tenant {}: {} pass, {} fail, {} not checked ({} scan(s) read)",
                self.name,
                self.version,
                self.tenant,
                self.counts.pass,
                self.counts.fail,
                self.counts.not_checked,
                self.scans
            ),
            columns: headings(&["CONTROL", "STATUS", "PASS", "FAIL", "LAST SCAN", "TITLE"]),
            rows: self
                .controls
                .iter()
                .map(|c| {
                    let pass: usize = c.checks.iter().map(|s| s.pass).sum();
                    let fail: usize = c.checks.iter().map(|s| s.fail).sum();
                    vec![
                        c.id.clone(),
                        c.status.as_str().replace('_', " "),
                        pass.to_string(),
                        fail.to_string(),
                        c.checks
                            .iter()
                            .filter_map(|s| s.last_scanned.clone())
                            .max()
                            .unwrap_or_else(|| "never".into()),
                        c.title.clone(),
                    ]
                })
                .collect(),
        }];
        let mut rows = Vec::new();
        for c in &self.controls {
            let failing: Vec<&Evidence> =
                c.evidence.iter().filter(|e| e.status == "FAIL").collect();
            for e in failing.iter().take(FAILING_SHOWN) {
                rows.push(vec![
                    c.id.clone(),
                    e.check_id.clone(),
                    e.resource_name.clone(),
                    e.region.clone(),
                    e.scanned_at.clone(),
                    e.detail.clone(),
                ]);
            }
            if failing.len() > FAILING_SHOWN {
                rows.push(vec![
                    c.id.clone(),
                    String::new(),
                    format!(
                        "… {} more (--json, --format csv)",
                        failing.len() - FAILING_SHOWN
                    ),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        if !rows.is_empty() {
            out.push(Output::Table {
                title: "failing evidence".into(),
                columns: headings(&[
                    "CONTROL", "CHECK", "RESOURCE", "REGION", "SCANNED", "DETAIL",
                ]),
                rows,
            });
        }
        let never: Vec<Vec<String>> = self
            .controls
            .iter()
            .filter(|c| c.status == ControlStatus::NotChecked)
            .map(|c| {
                vec![
                    c.id.clone(),
                    c.checks
                        .iter()
                        .map(|s| s.check_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        if !never.is_empty() {
            out.push(Output::Table {
                title: "not checked: no stored scan ran these checks (ask for a security scan)"
                    .into(),
                columns: headings(&["CONTROL", "CHECKS"]),
                rows: never,
            });
        }
        out
    }

    /// One row per control and piece of evidence; a control without evidence gets one row per
    /// mapped check (ran or not), so every control appears.
    pub fn to_csv(&self) -> Result<String> {
        let err = |e: csv::Error| Error::input(format!("the report cannot be written as CSV: {e}"));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_COLUMNS).map_err(err)?;
        for c in &self.controls {
            let ran = |check: &str| {
                c.checks
                    .iter()
                    .any(|s| s.check_id == check && s.ran)
                    .to_string()
            };
            let head = [
                self.framework.as_str().to_string(),
                c.id.clone(),
                c.title.clone(),
                c.status.as_str().to_string(),
            ];
            let mut rows: Vec<Vec<String>> = c
                .evidence
                .iter()
                .map(|e| {
                    let mut r = head.to_vec();
                    r.extend([
                        e.check_id.clone(),
                        e.status.to_string(),
                        e.finding_uid.clone(),
                        e.resource_uid.clone(),
                        e.resource_type.clone(),
                        e.resource_name.clone(),
                        e.region.clone(),
                        e.detail.clone(),
                        e.scanned_at.clone(),
                        e.request_id.clone(),
                        e.requested_by.clone(),
                        e.report_sha256.clone(),
                        ran(&e.check_id),
                    ]);
                    r
                })
                .collect();
            // A check with no finding (never ran, or ran over nothing) still gets its row.
            for s in c.checks.iter().filter(|s| s.pass + s.fail == 0) {
                let mut r = head.to_vec();
                r.push(s.check_id.clone());
                r.extend(std::iter::repeat_n(String::new(), 7));
                r.push(s.last_scanned.clone().unwrap_or_default());
                r.extend(std::iter::repeat_n(String::new(), 3));
                r.push(s.ran.to_string());
                rows.push(r);
            }
            for r in rows {
                let cells: Vec<String> = r
                    .iter()
                    .map(|c| crate::sanitize::csv_cell(c).into_owned())
                    .collect();
                w.write_record(&cells).map_err(err)?;
            }
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::input(format!("the report cannot be written as CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| Error::input(format!("CSV: {e}")))
    }
}

#[cfg(test)]
mod tests;
