//! The security-posture report: open findings by severity and by check, the trend over past
//! scans, the oldest open findings, and remediation plans with their state. From the tenant's
//! stored scans (read as the compliance report reads them) and its plans; no AWS call.
//!
//! A finding is **open** while the latest result of its check on its resource failed: a later
//! scan of the whole scope (the account for S3 and IAM, a region for security groups) replaces
//! its check's earlier results there, a scan of named buckets or groups adds to them (the
//! compliance report's rule). It has been open since the first scan of the unbroken run of
//! scans in which it stayed open.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::compliance::ScanRecord;
use crate::agents::security::checks;
use crate::agents::security::{Finding, Severity, Status};
use crate::events::{Output, headings};
use crate::intent::ScanScope;

/// Oldest open findings listed.
pub const OLDEST: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityCount {
    pub severity: String,
    pub open: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckCount {
    pub check_id: String,
    pub title: String,
    pub severity: String,
    pub open: usize,
    /// Resources whose latest result passed.
    pub passed: usize,
    pub last_scanned: String,
}

/// One scan in the trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanPoint {
    pub scanned_at: String,
    pub request_id: String,
    pub requested_by: String,
    pub region: String,
    /// Failing results the scan itself found.
    pub failed: usize,
    /// Open findings once the scan counted (all scans so far).
    pub open_after: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenFinding {
    pub uid: String,
    pub check_id: String,
    pub title: String,
    pub severity: String,
    pub resource_uid: String,
    pub resource_name: String,
    pub region: String,
    pub detail: String,
    /// The first scan of the run in which it stayed open.
    pub open_since: String,
    pub last_seen: String,
    pub remediation: String,
}

/// A remediation plan and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemediationPlan {
    pub plan_id: String,
    pub created_at: String,
    pub requester: String,
    pub request: String,
    pub summary: String,
    /// `pending`, `approved`, `succeeded`, `failed`, ...
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityReport {
    pub tenant: String,
    pub scans: usize,
    pub last_scan: Option<String>,
    pub open: usize,
    /// Critical first; every severity, zeros included.
    pub by_severity: Vec<SeverityCount>,
    /// Most open first.
    pub by_check: Vec<CheckCount>,
    /// Oldest scan first.
    pub trend: Vec<ScanPoint>,
    /// Longest open first, at most [`OLDEST`].
    pub oldest_open: Vec<OpenFinding>,
    /// Newest first.
    pub remediations: Vec<RemediationPlan>,
    /// Remediation plans per state.
    pub remediation_states: BTreeMap<String, usize>,
}

/// The latest results of one check in one part of what it covers.
#[derive(Default)]
struct Latest<'a> {
    last_scanned: &'a str,
    by_resource: BTreeMap<&'a str, Vec<&'a Finding>>,
}

/// The part of its scope a check's results cover: a region for security groups, the account
/// otherwise.
fn part(check: &str, scan: &ScanRecord) -> String {
    match checks::find(check).map(|c| c.scope) {
        Some(ScanScope::Ec2) => scan.region.clone(),
        _ => String::new(),
    }
}

/// Builds the report from the scans (oldest first) and the remediation plans.
pub fn build(
    tenant: &str,
    scans: &[ScanRecord],
    mut remediations: Vec<RemediationPlan>,
) -> SecurityReport {
    let mut latest: BTreeMap<(&str, String), Latest> = BTreeMap::new();
    // uid → (open since, last seen)
    let mut since: HashMap<&str, (&str, &str)> = HashMap::new();
    let mut trend = Vec::with_capacity(scans.len());
    for scan in scans {
        for check in &scan.checks_run {
            let entry = latest
                .entry((check.as_str(), part(check, scan)))
                .or_default();
            if !scan.limited {
                entry.by_resource.clear();
            }
            entry.last_scanned = &scan.scanned_at;
            let mut fresh: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
            for f in scan.findings.iter().filter(|f| &f.check_id == check) {
                fresh.entry(&f.resource_uid).or_default().push(f);
            }
            entry.by_resource.extend(fresh);
        }
        let open: Vec<&Finding> = open_findings(&latest).collect();
        let in_scan: HashSet<&str> = scan.findings.iter().map(|f| f.uid.as_str()).collect();
        let mut still: HashMap<&str, (&str, &str)> = HashMap::with_capacity(open.len());
        for f in &open {
            // Newly open findings come from this scan; the others keep when they were last
            // seen unless this scan saw them again (a scan of other buckets did not).
            let (first, last) = since
                .remove(f.uid.as_str())
                .unwrap_or((&scan.scanned_at, &scan.scanned_at));
            let last = if in_scan.contains(f.uid.as_str()) {
                &scan.scanned_at
            } else {
                last
            };
            still.insert(&f.uid, (first, last));
        }
        since = still;
        trend.push(ScanPoint {
            scanned_at: scan.scanned_at.clone(),
            request_id: scan.request_id.clone(),
            requested_by: scan.requested_by.clone(),
            region: scan.region.clone(),
            failed: scan
                .findings
                .iter()
                .filter(|f| f.status == Status::Fail)
                .count(),
            open_after: open.len(),
        });
    }

    let open: Vec<&Finding> = open_findings(&latest).collect();
    let by_severity = Severity::ALL
        .iter()
        .rev()
        .map(|s| SeverityCount {
            severity: s.as_str().into(),
            open: open.iter().filter(|f| f.severity == *s).count(),
        })
        .collect();
    let mut per_check: BTreeMap<&str, CheckCount> = BTreeMap::new();
    for ((check, _), l) in &latest {
        let c = per_check.entry(check).or_insert_with(|| CheckCount {
            check_id: check.to_string(),
            title: checks::find(check)
                .map(|c| c.title.to_string())
                .unwrap_or_default(),
            severity: String::new(),
            open: 0,
            passed: 0,
            last_scanned: String::new(),
        });
        if l.last_scanned > c.last_scanned.as_str() {
            c.last_scanned = l.last_scanned.to_string();
        }
        for f in l.by_resource.values().flatten() {
            if c.title.is_empty() {
                c.title = f.title.clone();
            }
            if c.severity.is_empty() || f.status == Status::Fail {
                c.severity = f.severity.as_str().into();
            }
            match f.status {
                Status::Fail => c.open += 1,
                Status::Pass => c.passed += 1,
            }
        }
    }
    let mut by_check: Vec<CheckCount> = per_check.into_values().collect();
    by_check.sort_by(|a, b| b.open.cmp(&a.open).then(a.check_id.cmp(&b.check_id)));

    let mut oldest: Vec<OpenFinding> = open
        .iter()
        .map(|f| {
            let (open_since, last_seen) = since.get(f.uid.as_str()).copied().unwrap_or_default();
            OpenFinding {
                uid: f.uid.clone(),
                check_id: f.check_id.clone(),
                title: f.title.clone(),
                severity: f.severity.as_str().into(),
                resource_uid: f.resource_uid.clone(),
                resource_name: f.resource_name.clone(),
                region: f.region.clone(),
                detail: f.detail.clone(),
                open_since: open_since.to_string(),
                last_seen: last_seen.to_string(),
                remediation: f.remediation.text.clone(),
            }
        })
        .collect();
    oldest.sort_by(|a, b| {
        a.open_since
            .cmp(&b.open_since)
            .then(b.severity_rank().cmp(&a.severity_rank()))
            .then(a.uid.cmp(&b.uid))
    });
    oldest.truncate(OLDEST);

    remediations.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(a.plan_id.cmp(&b.plan_id))
    });
    let mut remediation_states = BTreeMap::new();
    for r in &remediations {
        *remediation_states.entry(r.state.clone()).or_default() += 1;
    }
    SecurityReport {
        tenant: tenant.to_string(),
        scans: scans.len(),
        last_scan: scans.last().map(|s| s.scanned_at.clone()),
        open: open.len(),
        by_severity,
        by_check,
        trend,
        oldest_open: oldest,
        remediations,
        remediation_states,
    }
}

fn open_findings<'a>(
    latest: &BTreeMap<(&'a str, String), Latest<'a>>,
) -> impl Iterator<Item = &'a Finding> {
    latest
        .values()
        .flat_map(|l| l.by_resource.values().flatten().copied())
        .filter(|f| f.status == Status::Fail)
}

impl OpenFinding {
    fn severity_rank(&self) -> u8 {
        Severity::parse(&self.severity).map_or(0, Severity::id)
    }
}

impl SecurityReport {
    pub fn summary(&self) -> String {
        if self.scans == 0 {
            return "no security scan stored yet: ask \"run a security scan\" to make one".into();
        }
        let sev: Vec<String> = self
            .by_severity
            .iter()
            .filter(|s| s.open > 0)
            .map(|s| format!("{} {}", s.open, s.severity))
            .collect();
        let mut s = format!(
            "{} open finding(s){} after {} scan(s), the last {}",
            self.open,
            if sev.is_empty() {
                String::new()
            } else {
                format!(" ({})", sev.join(", "))
            },
            self.scans,
            self.last_scan.as_deref().unwrap_or("-")
        );
        if !self.remediations.is_empty() {
            s.push_str(&format!(
                "; remediation plans: {}",
                self.remediation_states
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s
    }

    pub fn outputs(&self) -> Vec<Output> {
        let mut out = vec![Output::Table {
            title: format!("open findings of tenant {} by severity", self.tenant),
            columns: headings(&["SEVERITY", "OPEN"]),
            rows: self
                .by_severity
                .iter()
                .map(|s| vec![s.severity.clone(), s.open.to_string()])
                .collect(),
        }];
        if !self.by_check.is_empty() {
            out.push(Output::Table {
                title: "findings by check (latest result per resource)".into(),
                columns: headings(&[
                    "CHECK",
                    "TITLE",
                    "SEVERITY",
                    "OPEN",
                    "PASSED",
                    "LAST SCANNED",
                ]),
                rows: self
                    .by_check
                    .iter()
                    .map(|c| {
                        vec![
                            c.check_id.clone(),
                            c.title.clone(),
                            c.severity.clone(),
                            c.open.to_string(),
                            c.passed.to_string(),
                            c.last_scanned.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        if !self.trend.is_empty() {
            out.push(Output::Series {
                title: "open findings after each scan".into(),
                unit: "findings".into(),
                points: self
                    .trend
                    .iter()
                    .map(|p| (p.scanned_at.clone(), p.open_after as f64))
                    .collect(),
            });
        }
        if !self.oldest_open.is_empty() {
            out.push(Output::Table {
                title: "oldest open findings".into(),
                columns: headings(&[
                    "OPEN SINCE",
                    "SEVERITY",
                    "CHECK",
                    "RESOURCE",
                    "REGION",
                    "DETAIL",
                ]),
                rows: self
                    .oldest_open
                    .iter()
                    .map(|f| {
                        vec![
                            f.open_since.clone(),
                            f.severity.clone(),
                            f.check_id.clone(),
                            f.resource_name.clone(),
                            f.region.clone(),
                            f.detail.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        if !self.remediations.is_empty() {
            out.push(Output::Table {
                title: "remediation plans".into(),
                columns: headings(&["PLAN", "STATE", "CREATED", "BY", "SUMMARY"]),
                rows: self
                    .remediations
                    .iter()
                    .map(|r| {
                        vec![
                            r.plan_id.clone(),
                            r.state.clone(),
                            r.created_at.clone(),
                            r.requester.clone(),
                            r.summary.clone(),
                        ]
                    })
                    .collect(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::security::Remediation;

    const S3: &str = "s3_bucket_public_access";

    fn finding(check: &str, resource: &str, status: Status, severity: Severity) -> Finding {
        Finding::check(
            check,
            "title",
            severity,
            0,
            status,
            format!("seen on {resource}"),
            (resource, "AwsS3Bucket", resource, "us-east-1"),
            Remediation {
                text: "block it".into(),
                request: None,
            },
        )
    }

    fn scan(at: &str, limited: bool, findings: Vec<Finding>) -> ScanRecord {
        ScanRecord {
            request_id: format!("req-{at}"),
            scanned_at: at.into(),
            requested_by: "alice".into(),
            region: "us-east-1".into(),
            limited,
            checks_run: vec![S3.into()],
            findings,
            report_sha256: String::new(),
        }
    }

    #[test]
    fn open_since_the_start_of_an_unbroken_run() {
        let a = || finding(S3, "a", Status::Fail, Severity::High);
        let b = |s| finding(S3, "b", s, Severity::Medium);
        let scans = vec![
            scan("2026-12-01T00:00:00Z", false, vec![a(), b(Status::Fail)]),
            scan("2026-12-02T00:00:00Z", false, vec![a(), b(Status::Pass)]),
            scan("2026-12-03T00:00:00Z", false, vec![a(), b(Status::Fail)]),
            // A scan of named buckets adds to the full scan's results.
            scan(
                "2026-12-04T00:00:00Z",
                true,
                vec![finding(S3, "c", Status::Pass, Severity::Low)],
            ),
        ];
        let r = build("shop", &scans, Vec::new());
        assert_eq!(r.open, 2);
        assert_eq!(
            r.trend.iter().map(|p| p.open_after).collect::<Vec<_>>(),
            vec![2, 1, 2, 2]
        );
        assert_eq!(r.oldest_open[0].resource_name, "a");
        assert_eq!(r.oldest_open[0].open_since, "2026-12-01T00:00:00Z");
        // The scan of named buckets did not look at it again.
        assert_eq!(r.oldest_open[0].last_seen, "2026-12-03T00:00:00Z");
        assert_eq!(r.oldest_open[1].open_since, "2026-12-03T00:00:00Z");
        assert_eq!(
            r.by_severity[1],
            SeverityCount {
                severity: "high".into(),
                open: 1
            }
        );
        assert_eq!((r.by_check[0].open, r.by_check[0].passed), (2, 1));
        assert!(
            r.summary()
                .starts_with("2 open finding(s) (1 high, 1 medium) after 4 scan(s)")
        );
    }

    #[test]
    fn a_full_scan_that_no_longer_sees_it_closes_it() {
        let scans = vec![
            scan(
                "2026-12-01T00:00:00Z",
                false,
                vec![finding(S3, "a", Status::Fail, Severity::High)],
            ),
            scan("2026-12-02T00:00:00Z", false, Vec::new()),
        ];
        let r = build("shop", &scans, Vec::new());
        assert_eq!(r.open, 0);
        assert!(r.oldest_open.is_empty());
    }
}
