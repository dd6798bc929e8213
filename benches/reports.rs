//! `cargo bench --locked --profile perf --bench reports`: every named report over a tenant with
//! 100k audit events (20k plans: planned, queued, approved, executing, then completed or failed)
//! and a stored security scan of 1,000 findings, on the local store, through the facet the CLI
//! and the Reports pane call (`deck.reports().build`). Printed per report, p50/p95/p99:
//!
//! - cold: the report built first in a fresh session (it reads the whole trail);
//! - refresh: built again after a plan's five events were appended (the session's digest of
//!   the trail reads only the new records), as the Reports pane refreshes;
//! - all three trail reports of a fresh session in a row (one read of the trail shared);
//! - cost and monitoring against moto on loopback (`OPSDECK_TEST_MOTO`, seeded with volumes,
//!   an alarm in ALARM and a watched log group), the AWS calls and the render (JSON, CSV, HTML
//!   of the built report) apart; skipped with the reason when it is unset; and both against a
//!   closed port (the fail-fast path).
//!
//! Then storing a report (`refresh`), comparing two runs, and the operations report split into
//! reading the trail and the report alone.
//!
//! Target (issue 19): every report over 100k audit events and 1,000 findings renders in
//! < 200 ms. Printed, never asserted.

use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::reports::{ReportName, ReportOptions, Window, operations, render};
use opsdeck::store::Store;

const PLANS: usize = 20_000;
const FINDINGS: usize = 1_000;
const RUNS: usize = 25;
const COLD_RUNS: usize = 7;
const TRAIL_REPORTS: [ReportName; 3] = [
    ReportName::Security,
    ReportName::Operations,
    ReportName::Compliance,
];
const KINDS: [EventKind; 5] = [
    EventKind::Planned,
    EventKind::Queued,
    EventKind::Approved,
    EventKind::Executing,
    EventKind::Completed,
];

fn event(plan: usize, step: usize) -> AuditEvent {
    // A plan every two minutes over a month; each step a few minutes after the last.
    let at = jiff::Timestamp::from_second(1_793_000_000 + plan as i64 * 120 + step as i64 * 300)
        .unwrap();
    let kind = if step == 4 && plan.is_multiple_of(9) {
        EventKind::Failed
    } else {
        KINDS[step]
    };
    AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: format!("r-{plan}"),
        tenant_id: "default".into(),
        user_id: format!("user{}", plan % 37),
        user_source: "flag".into(),
        os_user: "bench".into(),
        timestamp: at.into(),
        event: kind,
        status: Status::Pending,
        plan_id: Some(format!("p-bench{plan:06}")),
        intent: None,
        agent_type: Some(["infra", "config", "ops", "ml"][plan % 4].into()),
        approval_metadata: None,
        execution_logs: None,
        cost_impact: None,
        security_gates: None,
        artifacts: vec![],
        message: Some("create stack web: 3 × t3.medium".into()),
        identity_receipt: None,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A stored security scan of `n` findings (a tenth failing), as a scan request's `classified`
/// and `answered` events name it: what the compliance and security reports read.
fn seed_scan(store: &dyn Store, signer: &Signer, n: usize) {
    let checks = [
        "s3_bucket_public_access",
        "s3_bucket_default_encryption",
        "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
        "iam_user_mfa_enabled_console_access",
    ];
    let findings: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let check = checks[i % checks.len()];
            let severity = ["low", "medium", "high", "critical"][i % 4];
            serde_json::json!({
                "uid": format!("opsdeck-{check}-{i}"),
                "check_id": check,
                "title": check,
                "severity": severity,
                "risk_score": 40 + (i % 60) as u8,
                "status": if i % 10 == 0 { "FAIL" } else { "PASS" },
                "detail": "seen by the bench",
                "resource_uid": format!("arn:aws:s3:::bucket-{i}"),
                "resource_type": "AwsS3Bucket",
                "resource_name": format!("bucket-{i}"),
                "region": "us-east-1",
                "source": "opsdeck",
                "remediation": {"text": "block public access"},
                "updated_at": "2026-11-30T10:00:00Z",
            })
        })
        .collect();
    let report = serde_json::json!({
        "summary": format!("{n} findings"),
        "outputs": [],
        "notes": [],
        "data": {"findings": findings, "checks_run": checks},
        "files": [],
    });
    let sha = store
        .put_artifact("default", &serde_json::to_vec(&report).unwrap())
        .unwrap();
    let mut classified = event(0, 0);
    classified.request_id = "r-scan".into();
    classified.plan_id = None;
    classified.event = EventKind::Classified;
    classified.agent_type = Some("security".into());
    classified.intent = Some(serde_json::json!({"action": "scan", "params": {}}));
    let mut answered = classified.clone();
    answered.event_id = uuid::Uuid::now_v7().to_string();
    answered.event = EventKind::Answered;
    answered.status = Status::Completed;
    answered.intent = None;
    answered.artifacts = vec![
        serde_json::json!({"name": "report.json", "kind": "report", "sha256": sha, "size": 0}),
    ];
    store
        .append_audit("default", &[classified, answered], signer)
        .unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn figures(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  ({} runs)",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.95)),
        ms(percentile(times, 0.99)),
        times.len()
    )
}

fn open(home: &std::path::Path, endpoint: &str) -> Deck {
    Deck::open(OpenOptions {
        home: Some(home.to_path_buf()),
        user: Some("bench".into()),
        endpoint_url: Some(endpoint.to_string()),
        ..OpenOptions::default()
    })
    .unwrap()
}

fn outcome(r: &opsdeck::error::Result<opsdeck::reports::ReportDoc>) -> String {
    match r {
        Ok(doc) => format!(
            "{} output(s), {} note(s): {}",
            doc.outputs.len(),
            doc.notes.len(),
            doc.summary
        ),
        Err(e) => format!("error: {e}"),
    }
    .chars()
    .take(110)
    .collect()
}

/// Moto seeded for the cost and monitoring reports: unattached volumes (savings hints), an
/// alarm in ALARM, and a log group with error events.
fn seed_moto(endpoint: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "bench",
            ))
            .load()
            .await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        for _ in 0..5 {
            ec2.create_volume()
                .availability_zone("us-east-1a")
                .size(50)
                .send()
                .await
                .unwrap();
        }
        let cw = aws_sdk_cloudwatch::Client::new(&conf);
        cw.put_metric_alarm()
            .alarm_name("bench-cpu-high")
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(300)
            .evaluation_periods(1)
            .threshold(90.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .unwrap();
        cw.set_alarm_state()
            .alarm_name("bench-cpu-high")
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason("bench")
            .send()
            .await
            .unwrap();
        let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
        let _ = logs
            .create_log_group()
            .log_group_name("/bench/web")
            .send()
            .await;
        let _ = logs
            .create_log_stream()
            .log_group_name("/bench/web")
            .log_stream_name("s")
            .send()
            .await;
        let now = jiff::Timestamp::now().as_millisecond();
        let events = (0..200).map(|i| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 3_600_000 + i * 1000)
                .message(if i % 4 == 0 {
                    "ERROR request failed"
                } else {
                    "ok"
                })
                .build()
                .unwrap()
        });
        logs.put_log_events()
            .log_group_name("/bench/web")
            .log_stream_name("s")
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .unwrap();
    });
}

/// A monitor request that named the log group: what makes the monitoring report watch it.
fn seed_watch(store: &dyn Store, signer: &Signer) {
    let mut classified = event(0, 0);
    classified.timestamp = jiff::Timestamp::now().into();
    classified.request_id = "r-watch".into();
    classified.plan_id = None;
    classified.event = EventKind::Classified;
    classified.agent_type = Some("monitor".into());
    classified.intent = Some(
        serde_json::json!({"action": "logs", "params": {"log_group": "/bench/web", "region": "us-east-1"}}),
    );
    store
        .append_audit("default", &[classified], signer)
        .unwrap();
}

fn main() {
    const CLOSED: &str = "http://127.0.0.1:1";
    // SAFETY: set before any thread starts.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "bench");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "bench");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    }
    let moto = std::env::var("OPSDECK_TEST_MOTO")
        .ok()
        .filter(|m| m.starts_with("http://127.0.0.1:") || m.starts_with("http://localhost:"));
    let home = tempfile::tempdir().unwrap();
    let deck = open(home.path(), moto.as_deref().unwrap_or(CLOSED));
    let store = deck.raw_store();
    let signer = Signer::load_or_create(&home.path().join("bench-keys")).unwrap();
    let all: Vec<AuditEvent> = (0..PLANS)
        .flat_map(|p| (0..5).map(move |s| event(p, s)))
        .collect();
    for chunk in all.chunks(1000) {
        store.append_audit("default", chunk, &signer).unwrap();
    }
    seed_scan(store, &signer, FINDINGS);
    seed_watch(store, &signer);
    println!(
        "tenant: {} audit events, a stored scan of {FINDINGS} findings (local store)",
        all.len() + 3
    );
    let opts = ReportOptions {
        since: Some("2026-10-01".into()),
        until: Some("2026-12-31".into()),
        framework: None,
    };

    // Cold: the report built first in a fresh session, which reads the whole trail.
    for name in TRAIL_REPORTS {
        let mut times = Vec::new();
        let mut said = String::new();
        for _ in 0..COLD_RUNS {
            let fresh = open(home.path(), CLOSED);
            let t = Instant::now();
            let r = fresh.reports().build(name, &opts);
            times.push(t.elapsed());
            said = outcome(&r);
        }
        println!(
            "cold     {:<11} {} — {said}",
            name.as_str(),
            figures(&mut times)
        );
    }

    // Refresh: a plan's five events appended, then the report again (the digest reads only
    // the new records).
    let mut next_plan = PLANS;
    for name in TRAIL_REPORTS {
        let mut times = Vec::new();
        let mut said = String::new();
        deck.reports().build(name, &opts).unwrap();
        for _ in 0..RUNS {
            let batch: Vec<AuditEvent> = (0..5).map(|s| event(next_plan, s)).collect();
            next_plan += 1;
            store.append_audit("default", &batch, &signer).unwrap();
            let t = Instant::now();
            let r = deck.reports().build(name, &opts);
            times.push(t.elapsed());
            said = outcome(&r);
        }
        println!(
            "refresh  {:<11} {} — {said}",
            name.as_str(),
            figures(&mut times)
        );
    }

    // The three trail reports of a fresh session in a row: one read of the trail between them.
    let mut times = Vec::new();
    for _ in 0..COLD_RUNS {
        let fresh = open(home.path(), CLOSED);
        let t = Instant::now();
        for name in TRAIL_REPORTS {
            fresh.reports().build(name, &opts).unwrap();
        }
        times.push(t.elapsed());
    }
    println!(
        "all three trail reports, fresh session: {}",
        figures(&mut times)
    );

    // The reports that ask AWS.
    let aws_reports = [ReportName::Cost, ReportName::Monitoring];
    match &moto {
        Some(endpoint) => {
            seed_moto(endpoint);
            for name in aws_reports {
                let (mut calls, mut renders) = (Vec::new(), Vec::new());
                let mut said = String::new();
                for _ in 0..7 {
                    let t = Instant::now();
                    let r = deck.reports().build(name, &opts);
                    calls.push(t.elapsed());
                    said = outcome(&r);
                    let doc = r.unwrap();
                    let t = Instant::now();
                    let sizes = serde_json::to_string(&doc).unwrap().len()
                        + render::to_csv(&doc).len()
                        + render::to_html(&doc).len();
                    renders.push(t.elapsed());
                    assert!(sizes > 0);
                }
                println!(
                    "moto     {:<11} built (AWS calls + report) {} — {said}",
                    name.as_str(),
                    figures(&mut calls)
                );
                println!(
                    "moto     {:<11} render (JSON + CSV + HTML) {}",
                    name.as_str(),
                    figures(&mut renders)
                );
            }
        }
        None => println!(
            "cost, monitoring against moto: skipped — OPSDECK_TEST_MOTO is unset (start tests/moto_server.py on loopback and export its address, as tests/run.sh does)"
        ),
    }
    let closed = open(home.path(), CLOSED);
    for name in aws_reports {
        let mut times = Vec::new();
        let mut said = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            let r = closed.reports().build(name, &opts);
            times.push(t.elapsed());
            said = outcome(&r);
        }
        println!(
            "closed port {:<11} {} — {said}",
            name.as_str(),
            figures(&mut times)
        );
    }

    // Storing a run, and comparing two.
    let t = Instant::now();
    deck.reports()
        .refresh(ReportName::Operations, &opts)
        .unwrap();
    let first = t.elapsed();
    deck.reports()
        .refresh(ReportName::Operations, &opts)
        .unwrap();
    let t = Instant::now();
    let c = deck
        .reports()
        .compare(
            ReportName::Operations,
            &opsdeck::pipeline::CompareWith::parse("7d", deck.clock()),
        )
        .unwrap();
    println!(
        "operations refresh (build + store + audit) {:.0} ms; compare two runs (two artifacts) {:.0} ms, {} output(s) compared",
        ms(first),
        ms(t.elapsed()),
        c.outputs.len()
    );

    // The operations report split: reading the whole trail (full events) vs the report itself.
    let window = Window {
        from: jiff::Timestamp::from_second(1_793_000_000).unwrap(),
        to: jiff::Timestamp::from_second(1_793_000_000 + 40 * 86_400).unwrap(),
    };
    let mut full_scan = Vec::new();
    let mut build_only = Vec::new();
    let steps: operations::PlanSteps = all.iter().collect();
    let mut plans = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut n = 0;
        store
            .scan_audit("default", &mut |r| {
                n += usize::from(operations::reads(&r.event));
                true
            })
            .unwrap();
        full_scan.push(t.elapsed());
        let t = Instant::now();
        let report = operations::build("default", window, &steps);
        build_only.push(t.elapsed());
        plans = report.plans;
        assert!(n >= all.len());
    }
    println!(
        "operations over {} events ({plans} plans): the whole trail parsed as full events {} ; the report alone over its steps in memory {}",
        all.len(),
        figures(&mut full_scan),
        figures(&mut build_only),
    );
}
