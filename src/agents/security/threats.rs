//! Findings other services already made: GuardDuty (threats) and Security Hub (aggregated
//! findings and standards checks), filtered by minimum severity and a look-back window.
//!
//! Filters are sent to the service and applied again to what comes back, so a service that
//! ignores part of a filter cannot widen the answer.

use aws_config::SdkConfig;
use aws_sdk_securityhub::types::{
    AwsSecurityFindingFilters, DateFilter, DateRange, DateRangeUnit, StringFilter,
    StringFilterComparison,
};
use jiff::Timestamp;

use super::finding::{Finding, Remediation, Severity, Status, uid};
use crate::agents::insight::{Window, aws_error, error_code};
use crate::error::Result;

/// Findings read per source at most; the report says when more exist.
pub const CAP: usize = 500;

#[derive(Debug, Default)]
pub struct Fetched {
    pub findings: Vec<Finding>,
    /// More matched than [`CAP`].
    pub truncated: bool,
    pub notes: Vec<String>,
}

/// GuardDuty severities: 1.0–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10 critical.
pub fn guardduty_severity(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Informational,
    }
}

fn guardduty_floor(min: Severity) -> i64 {
    match min {
        Severity::Informational | Severity::Low => 1,
        Severity::Medium => 4,
        Severity::High => 7,
        Severity::Critical => 9,
    }
}

pub async fn guardduty(
    conf: SdkConfig,
    region: String,
    min: Severity,
    window: Window,
) -> Result<Fetched> {
    let gd = aws_sdk_guardduty::Client::new(&conf);
    let mut out = Fetched::default();
    let detectors = gd
        .list_detectors()
        .send()
        .await
        .map_err(|e| aws_error("GuardDuty", "ListDetectors", &e))?
        .detector_ids()
        .to_vec();
    if detectors.is_empty() {
        out.notes.push(format!(
            "GuardDuty is not enabled in {region}: no detector (enable it in the GuardDuty console or with CreateDetector)"
        ));
        return Ok(out);
    }
    let since_ms = window.start.as_millisecond();
    for detector in detectors {
        let criteria = aws_sdk_guardduty::types::FindingCriteria::builder()
            .criterion(
                "severity",
                aws_sdk_guardduty::types::Condition::builder()
                    .greater_than_or_equal(guardduty_floor(min))
                    .build(),
            )
            .criterion(
                "updatedAt",
                aws_sdk_guardduty::types::Condition::builder()
                    .greater_than_or_equal(since_ms)
                    .build(),
            )
            .criterion(
                "service.archived",
                aws_sdk_guardduty::types::Condition::builder()
                    .equals("false")
                    .build(),
            )
            .build();
        let mut token: Option<String> = None;
        loop {
            let page = gd
                .list_findings()
                .detector_id(&detector)
                .finding_criteria(criteria.clone())
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| aws_error("GuardDuty", "ListFindings", &e))?;
            let ids = page.finding_ids().to_vec();
            if !ids.is_empty() {
                let got = gd
                    .get_findings()
                    .detector_id(&detector)
                    .set_finding_ids(Some(ids))
                    .send()
                    .await
                    .map_err(|e| aws_error("GuardDuty", "GetFindings", &e))?;
                for f in got.findings() {
                    let score = f.severity().unwrap_or(0.0);
                    let sev = guardduty_severity(score);
                    let updated = f.updated_at().and_then(|t| t.parse::<Timestamp>().ok());
                    if sev < min || updated.is_some_and(|t| t < window.start) {
                        continue;
                    }
                    out.findings.push(from_guardduty(f, sev, score, &region));
                }
            }
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if out.findings.len() >= CAP {
                out.truncated = token.is_some() || out.findings.len() > CAP;
                out.findings.truncate(CAP);
                return Ok(out);
            }
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

fn from_guardduty(
    f: &aws_sdk_guardduty::types::Finding,
    sev: Severity,
    score: f64,
    region: &str,
) -> Finding {
    let r = f.resource();
    let resource_type = r.and_then(|r| r.resource_type()).unwrap_or("Unknown");
    let name = r
        .and_then(|r| r.instance_details())
        .and_then(|i| i.instance_id())
        .or_else(|| {
            r.and_then(|r| r.access_key_details())
                .and_then(|k| k.user_name())
        })
        .or_else(|| {
            r.and_then(|r| r.s3_bucket_details().first())
                .and_then(|b| b.name())
        })
        .unwrap_or_default()
        .to_string();
    let kind = f.r#type().unwrap_or("GuardDuty finding");
    let arn = f.arn().unwrap_or_default();
    Finding {
        uid: f
            .id()
            .map(str::to_string)
            .unwrap_or_else(|| uid(&["guardduty", arn])),
        check_id: format!("guardduty:{kind}"),
        title: f.title().unwrap_or(kind).to_string(),
        severity: sev,
        risk_score: (score * 10.0).round().clamp(0.0, 100.0) as u8,
        status: Status::Fail,
        detail: f.description().or(f.title()).unwrap_or(kind).to_string(),
        resource_uid: if name.is_empty() {
            arn.to_string()
        } else {
            name.clone()
        },
        resource_type: resource_type.to_string(),
        resource_name: if name.is_empty() {
            resource_type.to_string()
        } else {
            name
        },
        region: f.region().unwrap_or(region).to_string(),
        source: "guardduty".into(),
        remediation: Remediation {
            text: format!(
                "investigate in the GuardDuty console (finding type {kind}); see the GuardDuty remediation guide for this type"
            ),
            request: None,
        },
        updated_at: f.updated_at().map(str::to_string),
    }
}

pub async fn security_hub(
    conf: SdkConfig,
    region: String,
    min: Severity,
    window: Window,
) -> Result<Fetched> {
    let hub = aws_sdk_securityhub::Client::new(&conf);
    let mut out = Fetched::default();
    let days = ((window.secs() + 86_399) / 86_400).max(1) as i32;
    let eq = |v: &str| {
        StringFilter::builder()
            .value(v)
            .comparison(StringFilterComparison::Equals)
            .build()
    };
    let mut filters = AwsSecurityFindingFilters::builder()
        .record_state(eq("ACTIVE"))
        .workflow_status(eq("NEW"))
        .workflow_status(eq("NOTIFIED"))
        .updated_at(
            DateFilter::builder()
                .date_range(
                    DateRange::builder()
                        .value(days)
                        .unit(DateRangeUnit::Days)
                        .build(),
                )
                .build(),
        );
    for s in Severity::ALL {
        if s >= min {
            filters = filters.severity_label(eq(&s.as_str().to_ascii_uppercase()));
        }
    }
    let filters = filters.build();
    let mut token: Option<String> = None;
    loop {
        let page = match hub
            .get_findings()
            .filters(filters.clone())
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("InvalidAccessException") => {
                out.notes.push(format!(
                    "Security Hub is not enabled in {region} ({})",
                    crate::aws::describe_error("Security Hub", "GetFindings", &e)
                ));
                return Ok(out);
            }
            Err(e) => return Err(aws_error("Security Hub", "GetFindings", &e)),
        };
        for f in page.findings() {
            let label = f
                .severity()
                .and_then(|s| s.label())
                .map(|l| l.as_str().to_string())
                .unwrap_or_default();
            let sev = Severity::parse(&label).unwrap_or(Severity::Informational);
            let updated = f.updated_at().and_then(|t| t.parse::<Timestamp>().ok());
            let active = f.record_state().is_none_or(|r| r.as_str() == "ACTIVE");
            let open = f
                .workflow()
                .and_then(|w| w.status())
                .is_none_or(|s| matches!(s.as_str(), "NEW" | "NOTIFIED"));
            if sev < min || !active || !open || updated.is_some_and(|t| t < window.start) {
                continue;
            }
            out.findings.push(from_security_hub(f, sev, &region));
        }
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if out.findings.len() >= CAP {
            out.truncated = token.is_some() || out.findings.len() > CAP;
            out.findings.truncate(CAP);
            break;
        }
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

fn from_security_hub(
    f: &aws_sdk_securityhub::types::AwsSecurityFinding,
    sev: Severity,
    region: &str,
) -> Finding {
    let res = f.resources().first();
    let resource_uid = res.and_then(|r| r.id()).unwrap_or_default().to_string();
    let normalized = f.severity().and_then(|s| s.normalized());
    let check = f
        .compliance()
        .and_then(|c| c.security_control_id())
        .or(f.generator_id())
        .unwrap_or("securityhub");
    Finding {
        uid: f
            .id()
            .map(str::to_string)
            .unwrap_or_else(|| uid(&["securityhub", &resource_uid, check])),
        check_id: format!("securityhub:{check}"),
        title: f.title().unwrap_or(check).to_string(),
        severity: sev,
        risk_score: normalized
            .map(|n| n.clamp(0, 100) as u8)
            .unwrap_or_else(|| sev.base_score()),
        status: Status::Fail,
        detail: f.description().or(f.title()).unwrap_or(check).to_string(),
        resource_name: resource_uid
            .rsplit([':', '/'])
            .next()
            .unwrap_or(&resource_uid)
            .to_string(),
        resource_uid,
        resource_type: res.and_then(|r| r.r#type()).unwrap_or("Other").to_string(),
        region: res
            .and_then(|r| r.region())
            .or(f.region())
            .unwrap_or(region)
            .to_string(),
        source: "securityhub".into(),
        remediation: Remediation {
            text: f
                .remediation()
                .and_then(|r| r.recommendation())
                .map(|r| {
                    let text = r.text().unwrap_or("see the recommendation");
                    match r.url() {
                        Some(u) => format!("{text} ({u})"),
                        None => text.to_string(),
                    }
                })
                .unwrap_or_else(|| "see the finding in the Security Hub console".into()),
            request: None,
        },
        updated_at: f.updated_at().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_bands() {
        assert_eq!(guardduty_severity(8.0), Severity::High);
        assert_eq!(guardduty_severity(5.0), Severity::Medium);
        assert_eq!(guardduty_severity(2.0), Severity::Low);
        assert_eq!(guardduty_severity(9.5), Severity::Critical);
        assert_eq!(guardduty_floor(Severity::High), 7);
    }
}
