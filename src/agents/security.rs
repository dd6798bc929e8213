//! The security agent: scans S3 buckets, security groups and IAM for exposure, reads GuardDuty
//! and Security Hub findings, and turns fixes into approved changes.
//!
//! - `scan`: every finding has a Prowler-style check id, a severity, a 0–100 risk score and a
//!   remediation (with the request that plans it, when opsdeck can make the change). The report
//!   carries the findings as data and as OCSF-like JSON and CSV files.
//! - `findings`: GuardDuty and Security Hub findings above a severity within a window.
//! - `remediate`: a plan of AWS API steps (PutPublicAccessBlock, PutBucketEncryption,
//!   RevokeSecurityGroupIngress) that runs only after approval; see [`remediate`].
//!
//! Everything is read-only until a plan is approved; nothing leaves the account.

pub mod checks;
mod finding;
mod iam;
mod network;
mod remediate;
mod s3;
mod threats;

pub use finding::{Finding, Remediation, Severity, Status};
/// Runs an approved AWS API step this agent planned (a remediation).
pub use remediate::execute;

use aws_config::SdkConfig;
use serde_json::json;

use super::insight::{self, aws_error, progress};
use super::{AgentRequest, Reply};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::{AgentKind, ScanScope};

const AGENT: AgentKind = AgentKind::Security;
/// Buckets or users inspected at once.
const PARALLEL: usize = 16;

agent_actions! {
    /// What the security agent can be asked to do.
    pub enum Action for AGENT, "scans S3, security groups and IAM for exposure, reads GuardDuty and Security Hub findings and plans remediations" {
        Scan = "scan",
        Findings = "findings",
        Remediate = "remediate" [change],
    }
}

pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    match Action::of(req.intent)? {
        Action::Scan => scan(req, sink).map(Reply::Report),
        Action::Findings => findings(req, sink).map(Reply::Report),
        Action::Remediate => remediate::plan(req, sink),
    }
}

/// What a scan read.
#[derive(Default)]
pub(crate) struct Scan {
    account: String,
    account_blocks: Option<s3::Blocks>,
    /// False when the account-level setting could not be read.
    account_blocks_known: bool,
    buckets: Vec<s3::BucketState>,
    groups: Vec<network::GroupRef>,
    open_rules: Vec<network::OpenRule>,
    users: Vec<iam::UserState>,
    root: Option<iam::RootState>,
    notes: Vec<String>,
}

fn account_id(aws: &AwsAccess, conf: &SdkConfig) -> Result<String> {
    let sts = aws_sdk_sts::Client::new(conf);
    aws.block_on(async move {
        sts.get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("STS", "GetCallerIdentity", &e))
            .map(|o| o.account().unwrap_or_default().to_string())
    })?
}

/// Account- and bucket-level exposure of every bucket (or of `only`).
pub(crate) fn scan_s3(
    req: &AgentRequest<'_>,
    conf: &SdkConfig,
    region: &str,
    only: Option<String>,
    sink: Sink<'_>,
) -> Result<Scan> {
    let aws = req.aws;
    let mut scan = Scan {
        account: account_id(aws, conf)?,
        ..Scan::default()
    };
    match aws.block_on(s3::account_blocks(conf.clone(), scan.account.clone()))? {
        Ok(b) => {
            scan.account_blocks = b;
            scan.account_blocks_known = true;
        }
        Err(e) => scan.notes.push(format!(
            "the account-level Block Public Access setting could not be read ({e}); buckets are judged as if it were off"
        )),
    }
    let path_style = insight::path_style(aws, conf);
    let names: Vec<(String, Option<String>)> = match only {
        Some(name) => {
            let s3c = s3::client(conf, region, path_style);
            let exists = aws.block_on(insight::bucket_region(s3c, name.clone()))??;
            match exists {
                Some(r) => vec![(name, r)],
                None => Vec::new(),
            }
        }
        None => aws.block_on(s3::list_buckets(s3::client(conf, region, path_style)))??,
    };
    let total = names.len();
    progress(sink, AGENT, format!("S3: {total} bucket(s) to check"));
    for chunk in names.chunks(PARALLEL * 2) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|(n, r)| {
                s3::inspect(
                    conf.clone(),
                    path_style,
                    n.clone(),
                    r.clone(),
                    region.to_string(),
                )
            })
            .collect();
        let states = aws.block_on(join_all(jobs))?;
        scan.buckets.extend(states);
        if total > PARALLEL * 2 {
            progress(
                sink,
                AGENT,
                format!("S3: checked {}/{total} buckets", scan.buckets.len()),
            );
        }
    }
    let unreadable: Vec<String> = scan
        .buckets
        .iter()
        .filter(|b| !b.errors.is_empty())
        .map(|b| format!("{}: {}", b.name, b.errors.join("; ")))
        .collect();
    if !unreadable.is_empty() {
        scan.notes.push(format!(
            "{} bucket(s) could not be read completely: {}",
            unreadable.len(),
            insight::clip(&unreadable.join(" | "), 400)
        ));
    }
    Ok(scan)
}

pub(crate) fn scan_ec2(
    req: &AgentRequest<'_>,
    conf: &SdkConfig,
    region: &str,
    only: Vec<String>,
    sink: Sink<'_>,
) -> Result<Scan> {
    progress(
        sink,
        AGENT,
        format!("EC2: reading security groups in {region}"),
    );
    let (groups, open_rules) = req
        .aws
        .block_on(network::open_rules(conf.clone(), only))??;
    Ok(Scan {
        groups,
        open_rules,
        ..Scan::default()
    })
}

fn scan_iam(req: &AgentRequest<'_>, conf: &SdkConfig, sink: Sink<'_>) -> Result<Scan> {
    let aws = req.aws;
    let names = aws.block_on(iam::users(conf.clone()))??;
    progress(
        sink,
        AGENT,
        format!("IAM: {} user(s) to check", names.len()),
    );
    let mut scan = Scan::default();
    for chunk in names.chunks(PARALLEL) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|n| iam::inspect(conf.clone(), n.clone()))
            .collect();
        for r in aws.block_on(join_all(jobs))? {
            match r {
                Ok(u) => scan.users.push(u),
                Err(e) => scan.notes.push(e.to_string()),
            }
        }
    }
    match aws.block_on(iam::root(conf.clone()))? {
        Ok(r) => scan.root = Some(r),
        Err(e) => scan.notes.push(e.to_string()),
    }
    Ok(scan)
}

/// Runs futures concurrently on the current runtime and returns their results in order.
async fn join_all<F>(futs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            // A panicking check is a bug; surface it rather than hide a resource.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

fn scan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<super::Report> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let mut scope = i.params.scope.clone();
    if i.params.bucket.is_some() && scope.is_empty() {
        scope.push(ScanScope::S3);
    }
    let all = scope.is_empty();
    let wants = |s: ScanScope| all || scope.contains(&s);
    let max_age = i.params.older_than_days.map(|d| d as i64).unwrap_or(90);
    let now = jiff::Timestamp::now();
    let mut findings: Vec<Finding> = Vec::new();
    let mut notes = Vec::new();
    let mut checked = serde_json::Map::new();
    let mut parts = Vec::new();
    let mut account = String::new();

    if wants(ScanScope::S3) {
        let s = scan_s3(req, &conf, &region, i.params.bucket.clone(), sink)?;
        if let Some(b) = i.params.bucket.as_deref()
            && s.buckets.is_empty()
        {
            return Err(Error::not_found(
                "bucket",
                b,
                "not in this account; `opsdeck ask \"scan all S3 buckets for public access\"` lists them",
            ));
        }
        account = s.account.clone();
        if s.account_blocks_known {
            findings.extend(s3::account_findings(&s.account, s.account_blocks, &region));
        }
        let mut bucket_findings = Vec::new();
        for b in &s.buckets {
            bucket_findings.extend(s3::bucket_findings(b, s.account_blocks));
        }
        let counts = s3::exposure_counts(&bucket_findings);
        let public = counts.get("policy").copied().unwrap_or(0)
            + counts.get("acl").copied().unwrap_or(0)
            + counts.get("policy_and_acl").copied().unwrap_or(0);
        let mut how = Vec::new();
        for (k, label) in [
            ("policy", "a bucket policy with Principal *"),
            ("acl", "an ACL grant to AllUsers/AuthenticatedUsers"),
            ("policy_and_acl", "both"),
        ] {
            if let Some(n) = counts.get(k) {
                how.push(format!("{n} through {label}"));
            }
        }
        parts.push(format!(
            "{} S3 bucket(s): {public} public{}, {} without default encryption; account-level Block Public Access {}",
            s.buckets.len(),
            if how.is_empty() {
                String::new()
            } else {
                format!(" ({})", how.join(", "))
            },
            counts.get("unencrypted").copied().unwrap_or(0),
            match (s.account_blocks_known, s.account_blocks) {
                (false, _) => "unknown",
                (true, Some(b)) if b.all() => "on",
                (true, Some(_)) => "partly on",
                (true, None) => "off",
            }
        ));
        checked.insert("buckets".into(), json!(s.buckets.len()));
        checked.insert("bucket_states".into(), json!(s.buckets));
        findings.extend(bucket_findings);
        notes.extend(s.notes);
    }
    if wants(ScanScope::Ec2) {
        let s = scan_ec2(req, &conf, &region, i.params.security_groups.clone(), sink)?;
        if account.is_empty() {
            account = account_id(req.aws, &conf)?;
        }
        let f = network::findings(&s.groups, &s.open_rules, &region, &account);
        let groups: std::collections::BTreeSet<&str> = f
            .iter()
            .filter(|x| x.status == Status::Fail)
            .map(|x| x.resource_name.as_str())
            .collect();
        parts.push(format!(
            "{} security group(s) in {region}: {} open to the internet on SSH, RDP or all ports",
            s.groups.len(),
            groups.len()
        ));
        checked.insert("security_groups".into(), json!(s.groups.len()));
        checked.insert("internet_open_rules".into(), json!(s.open_rules));
        findings.extend(f);
    }
    if wants(ScanScope::Iam) {
        let s = scan_iam(req, &conf, sink)?;
        if account.is_empty() {
            account = account_id(req.aws, &conf)?;
        }
        let mut f = Vec::new();
        for u in &s.users {
            f.extend(iam::user_findings(u, max_age, now));
        }
        let no_mfa = f
            .iter()
            .filter(|x| {
                x.check_id == "iam_user_mfa_enabled_console_access" && x.status == Status::Fail
            })
            .count();
        let old = f
            .iter()
            .filter(|x| x.check_id == "iam_rotate_access_key_90_days" && x.status == Status::Fail)
            .count();
        let mut line = format!(
            "{} IAM user(s): {no_mfa} console user(s) without MFA, {old} active access key(s) older than {max_age} days",
            s.users.len()
        );
        if let Some(r) = s.root {
            f.extend(iam::root_findings(r, &account));
            line.push_str(if r.mfa_enabled {
                "; root MFA on"
            } else {
                "; root MFA OFF"
            });
        }
        parts.push(line);
        checked.insert("users".into(), json!(s.users.len()));
        findings.extend(f);
        notes.extend(s.notes);
    }
    // Which checks ran, also those that found nothing to judge (no bucket, no group): the
    // compliance report tells "ran over nothing" from "not checked".
    let checks_run: Vec<&str> = checks::CHECKS
        .iter()
        .filter(|c| wants(c.scope))
        .map(|c| c.id)
        .collect();
    let failing: Vec<Finding> = findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .cloned()
        .collect();
    let summary = format!(
        "Security scan of account {account} ({region}): {} failing finding(s) ({}). {}.",
        failing.len(),
        finding::severity_phrase(&failing),
        parts.join(". ")
    );
    if failing.iter().any(|f| f.remediation.request.is_some()) {
        notes.push(
            "fixes opsdeck can make are in the FIX column: ask for them and they are planned for approval (\"fix public buckets\" plans all bucket fixes at once)".into(),
        );
    }
    finding::report(
        findings,
        summary,
        notes,
        &region,
        json!({"account": account, "checked": checked,
               "checks_run": checks_run,
               "scope": if all { json!(["s3", "ec2", "iam"]) } else { json!(scope) }}),
    )
}

fn findings(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<super::Report> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let min = match i.params.severity.as_deref() {
        Some(s) => Severity::parse(s).ok_or_else(|| {
            Error::input(format!(
                "unknown severity '{s}': use low, medium, high or critical"
            ))
        })?,
        None => Severity::Low,
    };
    let (label, window) =
        insight::window(i.params.window.as_deref(), "7d", jiff::Timestamp::now())?;
    let service = i.params.service.as_deref().unwrap_or_default();
    let sources: Vec<&str> = match service {
        "GuardDuty" => vec!["guardduty"],
        "SecurityHub" => vec!["securityhub"],
        _ => vec!["guardduty", "securityhub"],
    };
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut counts = serde_json::Map::new();
    for src in &sources {
        progress(
            sink,
            AGENT,
            format!(
                "{src}: reading findings in {region} ({label}, {} and above)",
                min.as_str()
            ),
        );
        let got = match *src {
            "guardduty" => req.aws.block_on(threats::guardduty(
                conf.clone(),
                region.clone(),
                min,
                window,
            ))?,
            _ => req.aws.block_on(threats::security_hub(
                conf.clone(),
                region.clone(),
                min,
                window,
            ))?,
        };
        match got {
            Ok(f) => {
                if f.truncated {
                    notes.push(format!(
                        "{src}: more than {} findings match; showing the {} read — narrow with a higher severity or a shorter window",
                        threats::CAP,
                        threats::CAP
                    ));
                }
                counts.insert(src.to_string(), json!(f.findings.len()));
                notes.extend(f.notes);
                findings.extend(f.findings);
            }
            Err(e) => {
                notes.push(format!("{src} could not be read: {e}"));
                errors.push(e);
            }
        }
    }
    if errors.len() == sources.len()
        && let Some(e) = errors.pop()
    {
        return Err(e);
    }
    let summary = format!(
        "{} active finding(s) in {region} from {} over the last {label}, {} and above: {}",
        findings.len(),
        sources
            .iter()
            .map(|s| if *s == "guardduty" {
                "GuardDuty"
            } else {
                "Security Hub"
            })
            .collect::<Vec<_>>()
            .join(" and "),
        min.as_str(),
        finding::severity_phrase(&findings)
    );
    finding::report(
        findings,
        summary,
        notes,
        &region,
        json!({"window": label, "min_severity": min, "sources": counts}),
    )
}
