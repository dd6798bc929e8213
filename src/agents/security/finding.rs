//! A finding, its risk score, and the report and exports built from a list of them.
//!
//! Check ids follow Prowler's names so findings can be compared with a Prowler run; the export
//! fields follow OCSF's Detection Finding (finding uid, severity, status, resources, remediation).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agents::insight::{clip, see_all};
use crate::agents::{DraftFile, Report};
use crate::error::{Error, Result};
use crate::events::{Output, headings};
use crate::plan::ArtifactKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// OCSF `severity_id`.
    pub fn id(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }

    /// `HIGH`, `high`, `Medium` → the severity (Security Hub labels, request words).
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The floor of each band, before a check's own adjustment.
    pub fn base_score(self) -> u8 {
        match self {
            Severity::Informational => 5,
            Severity::Low => 25,
            Severity::Medium => 45,
            Severity::High => 70,
            Severity::Critical => 90,
        }
    }
}

/// PASS or FAIL for our own checks; external findings (GuardDuty, Security Hub) are FAIL while
/// active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
        }
    }
}

/// How a finding can be fixed through opsdeck: the request that plans it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    /// What to do, in a sentence.
    pub text: String,
    /// A request that plans the fix (`opsdeck ask "<request>"`), when opsdeck can make it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable across scans: the same check on the same resource gives the same uid.
    pub uid: String,
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    /// 0–100: the severity band adjusted by what the check saw (public write > public read).
    pub risk_score: u8,
    pub status: Status,
    /// What was seen, e.g. "bucket policy grants s3:GetObject to Principal *".
    pub detail: String,
    pub resource_uid: String,
    /// `AwsS3Bucket`, `AwsEc2SecurityGroup`, `AwsIamUser`, `AwsAccount`, or the type an
    /// external service reports.
    pub resource_type: String,
    pub resource_name: String,
    pub region: String,
    /// `opsdeck`, `guardduty` or `securityhub`.
    pub source: String,
    pub remediation: Remediation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl Finding {
    /// A finding of one of our checks. `adjust` moves the score within (or above) the band.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        check_id: &str,
        title: &str,
        severity: Severity,
        adjust: i16,
        status: Status,
        detail: String,
        resource: (&str, &str, &str, &str),
        remediation: Remediation,
    ) -> Finding {
        let (resource_uid, resource_type, resource_name, region) = resource;
        let score = (i16::from(severity.base_score()) + adjust).clamp(0, 100) as u8;
        Finding {
            uid: uid(&["opsdeck", check_id, resource_uid]),
            check_id: check_id.to_string(),
            title: title.to_string(),
            severity,
            risk_score: if status == Status::Pass { 0 } else { score },
            status,
            detail,
            resource_uid: resource_uid.to_string(),
            resource_type: resource_type.to_string(),
            resource_name: resource_name.to_string(),
            region: region.to_string(),
            source: "opsdeck".into(),
            remediation,
            updated_at: None,
        }
    }

    /// OCSF-like record (Detection Finding, class 2004) for the JSON export.
    pub fn ocsf(&self) -> Value {
        json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "finding_info": {
                "uid": self.uid,
                "title": self.title,
                "desc": self.detail,
                "types": [self.check_id],
            },
            "metadata": {"product": {"name": self.source}, "event_code": self.check_id},
            "severity": self.severity.as_str(),
            "severity_id": self.severity.id(),
            "risk_score": self.risk_score,
            "status": self.status.as_str(),
            "status_code": self.status.as_str(),
            "status_detail": self.detail,
            "resources": [{
                "uid": self.resource_uid,
                "type": self.resource_type,
                "name": self.resource_name,
                "region": self.region,
            }],
            "remediation": {"desc": self.remediation.text, "request": self.remediation.request},
            "time_dt": self.updated_at,
        })
    }
}

/// SHA-256 of the parts, shortened: a stable finding id.
pub fn uid(parts: &[&str]) -> String {
    let h = crate::plan::sha256_hex(parts.join("\n").as_bytes());
    format!("opsdeck-{}", &h[..24])
}

pub const CSV_COLUMNS: [&str; 14] = [
    "finding_uid",
    "check_id",
    "title",
    "severity",
    "risk_score",
    "status",
    "status_detail",
    "resource_uid",
    "resource_type",
    "resource_name",
    "resource_region",
    "source",
    "remediation",
    "remediation_request",
];

pub fn to_csv(findings: &[Finding]) -> Result<Vec<u8>> {
    let err = |e: csv::Error| Error::input(format!("the findings cannot be written as CSV: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(err)?;
    for f in findings {
        let score = f.risk_score.to_string();
        // Names and details come from AWS (an IAM user may be called `=cmd|...`): cells a
        // spreadsheet shows as text.
        let row = [
            f.uid.as_str(),
            &f.check_id,
            &f.title,
            f.severity.as_str(),
            &score,
            f.status.as_str(),
            &f.detail,
            &f.resource_uid,
            &f.resource_type,
            &f.resource_name,
            &f.region,
            &f.source,
            &f.remediation.text,
            f.remediation.request.as_deref().unwrap_or(""),
        ]
        .map(crate::sanitize::csv_cell);
        w.write_record(row.iter().map(|c| c.as_bytes()))
            .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::input(format!("the findings cannot be written as CSV: {e}")))
}

/// Rows shown in the table; the rest are in the data and the exports.
const TABLE_ROWS: usize = 50;

/// The report for a list of findings (failing ones first, riskiest first).
pub fn report(
    mut findings: Vec<Finding>,
    summary: String,
    mut notes: Vec<String>,
    region: &str,
    extra: Value,
) -> Result<Report> {
    findings.sort_by(|a, b| {
        (b.status == Status::Fail)
            .cmp(&(a.status == Status::Fail))
            .then(b.risk_score.cmp(&a.risk_score))
            .then(a.check_id.cmp(&b.check_id))
            .then(a.resource_name.cmp(&b.resource_name))
    });
    let failing: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    let mut outputs = Vec::new();
    let sev_counts: Vec<(String, f64)> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            (
                s.as_str().to_string(),
                failing.iter().filter(|f| f.severity == *s).count() as f64,
            )
        })
        .collect();
    if !failing.is_empty() {
        outputs.push(Output::Table {
            title: "security findings".into(),
            columns: headings(&[
                "RISK", "SEVERITY", "CHECK", "RESOURCE", "REGION", "DETAIL", "FIX",
            ]),
            rows: failing
                .iter()
                .take(TABLE_ROWS)
                .map(|f| {
                    vec![
                        f.risk_score.to_string(),
                        f.severity.as_str().to_string(),
                        f.check_id.clone(),
                        clip(&f.resource_name, 40),
                        f.region.clone(),
                        clip(&f.detail, 70),
                        f.remediation
                            .request
                            .as_ref()
                            .map(|r| format!("ask \"{r}\""))
                            .unwrap_or_else(|| clip(&f.remediation.text, 50)),
                    ]
                })
                .collect(),
        });
        outputs.push(Output::Series {
            title: "failing findings by severity".into(),
            unit: "findings".into(),
            points: sev_counts.clone(),
        });
    }
    if failing.len() > TABLE_ROWS {
        notes.push(see_all(&format!(
            "{} more findings than the {TABLE_ROWS} shown",
            failing.len() - TABLE_ROWS
        )));
    }
    let ocsf: Vec<Value> = findings.iter().map(Finding::ocsf).collect();
    let json_file = serde_json::to_vec_pretty(&ocsf)
        .map_err(|e| Error::input(format!("the findings cannot be written as JSON: {e}")))?;
    let csv_file = to_csv(&findings)?;
    let mut data = json!({
        "findings": findings,
        "counts": {
            "fail": failing.len(),
            "pass": findings.len() - failing.len(),
            "by_severity": sev_counts.iter().map(|(k, v)| (k.clone(), json!(*v as u64))).collect::<serde_json::Map<_, _>>(),
        },
    });
    if let (Some(d), Value::Object(extra)) = (data.as_object_mut(), extra) {
        d.extend(extra);
    }
    Ok(Report {
        summary,
        outputs,
        notes,
        region: Some(region.to_string()),
        data,
        files: vec![
            DraftFile {
                name: "findings.json".into(),
                kind: ArtifactKind::Report,
                content: json_file,
            },
            DraftFile {
                name: "findings.csv".into(),
                kind: ArtifactKind::Report,
                content: csv_file,
            },
        ],
    })
}

/// "2 critical, 3 high" for summaries.
pub fn severity_phrase(findings: &[Finding]) -> String {
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = findings
                .iter()
                .filter(|f| f.status == Status::Fail && f.severity == *s)
                .count();
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    if parts.is_empty() {
        "none failing".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(check: &str, sev: Severity, adjust: i16, status: Status) -> Finding {
        Finding::check(
            check,
            "title",
            sev,
            adjust,
            status,
            "detail, with a comma".into(),
            ("arn:aws:s3:::b", "AwsS3Bucket", "b", "us-east-1"),
            Remediation {
                text: "block it".into(),
                request: Some("block public access on bucket b".into()),
            },
        )
    }

    #[test]
    fn scores_uids_and_exports() {
        let a = sample(
            "s3_bucket_public_access",
            Severity::Critical,
            20,
            Status::Fail,
        );
        assert_eq!(a.risk_score, 100);
        assert_eq!(
            a.uid,
            sample("s3_bucket_public_access", Severity::Low, 0, Status::Fail).uid
        );
        assert_ne!(
            a.uid,
            sample(
                "s3_bucket_default_encryption",
                Severity::Low,
                0,
                Status::Fail
            )
            .uid
        );
        assert_eq!(sample("x", Severity::High, 0, Status::Pass).risk_score, 0);
        let csv = String::from_utf8(to_csv(std::slice::from_ref(&a)).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(r.headers().unwrap().len(), CSV_COLUMNS.len());
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[6], "detail, with a comma");
        assert_eq!(&row[13], "block public access on bucket b");
        let o = a.ocsf();
        assert_eq!(o["severity_id"], 5);
        assert_eq!(o["resources"][0]["type"], "AwsS3Bucket");
        assert_eq!(o["finding_info"]["types"][0], "s3_bucket_public_access");
    }

    #[test]
    fn csv_cells_from_aws_names_are_text() {
        let mut f = sample("iam_user_mfa", Severity::High, 0, Status::Fail);
        f.resource_name = "=HYPERLINK(\"http://127.0.0.1:1\")".into();
        f.detail = "user \u{1b}[2J\u{202e}x".into();
        let csv = String::from_utf8(to_csv(std::slice::from_ref(&f)).unwrap()).unwrap();
        let row = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&row[9], "'=HYPERLINK(\"http://127.0.0.1:1\")");
        assert_eq!(&row[6], "user \\u{1b}[2J\\u{202e}x");
        assert_eq!(&row[4], f.risk_score.to_string());
    }

    #[test]
    fn report_orders_failing_riskiest_first() {
        let r = report(
            vec![
                sample("a", Severity::Low, 0, Status::Fail),
                sample("b", Severity::High, 0, Status::Pass),
                sample("c", Severity::Critical, 0, Status::Fail),
            ],
            "s".into(),
            vec![],
            "us-east-1",
            json!({"checked": {"buckets": 1}}),
        )
        .unwrap();
        let Output::Table { rows, .. } = &r.outputs[0] else {
            panic!()
        };
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][2], "c");
        assert_eq!(r.data["counts"]["pass"], 1);
        assert_eq!(r.data["checked"]["buckets"], 1);
        assert_eq!(r.files.len(), 2);
    }
}
