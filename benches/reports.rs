//! `cargo bench --profile dev --bench reports`: every named report over a tenant with 100k
//! audit events (20k plans: planned, queued, approved, executing, then completed or failed) and
//! a stored security scan of 1,000 findings, on the local store, through the facet the CLI and
//! the Reports pane call (`deck.reports().build`): p50/p95 per report. Then the operations
//! report split in two: the trail's scan plus the report, and the report alone over events in
//! memory; and storing a report (`refresh`) and comparing two runs.
//!
//! Target (issue 19): every report over 100k audit events and 1,000 findings renders in
//! < 200 ms. Printed, never asserted.

use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::reports::{ReportName, ReportOptions, Window, operations};
use opsdeck::store::Store;

const PLANS: usize = 20_000;
const FINDINGS: usize = 1_000;
const RUNS: usize = 7;
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

fn main() {
    // SAFETY: set before any thread starts; the AWS reports reach nothing but a closed port.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "bench");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "bench");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    }
    let home = tempfile::tempdir().unwrap();
    let deck = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("bench".into()),
        ..OpenOptions::default()
    })
    .unwrap();
    let store = deck.raw_store();
    let signer = Signer::load_or_create(&home.path().join("bench-keys")).unwrap();
    let all: Vec<AuditEvent> = (0..PLANS)
        .flat_map(|p| (0..5).map(move |s| event(p, s)))
        .collect();
    for chunk in all.chunks(1000) {
        store.append_audit("default", chunk, &signer).unwrap();
    }
    seed_scan(store, &signer, FINDINGS);
    println!(
        "tenant: {} audit events, a stored scan of {FINDINGS} findings (local store)",
        all.len() + 2
    );

    // Every report through the facet, as `opsdeck report NAME` and the Reports pane build it.
    let opts = ReportOptions {
        since: Some("2026-10-01".into()),
        until: Some("2026-12-31".into()),
        framework: None,
    };
    for name in ReportName::ALL {
        let mut times = Vec::new();
        let mut outcome = String::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let r = deck.reports().build(name, &opts);
            times.push(t.elapsed());
            outcome = match r {
                Ok(doc) => format!("{} output(s): {}", doc.outputs.len(), doc.summary),
                Err(e) => format!("error: {e}"),
            };
        }
        times.sort();
        println!(
            "{:<11} p50 {:>7.1} ms  p95 {:>7.1} ms  ({RUNS} runs) — {}",
            name.as_str(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            outcome.chars().take(90).collect::<String>()
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
        "operations refresh (build + store + audit) {:.0} ms; compare two runs (trail scan + two artifacts) {:.0} ms, {} output(s) compared",
        ms(first),
        ms(t.elapsed()),
        c.outputs.len()
    );

    // The operations report split: reading the trail vs the report itself.
    let window = Window {
        from: jiff::Timestamp::from_second(1_793_000_000).unwrap(),
        to: jiff::Timestamp::from_second(1_793_000_000 + 40 * 86_400).unwrap(),
    };
    let mut scan_and_build = Vec::new();
    let mut build_only = Vec::new();
    let mut plans = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let mut events = Vec::new();
        store
            .scan_audit("default", &mut |r| {
                if operations::reads(&r.event) {
                    events.push(r.event);
                }
                true
            })
            .unwrap();
        let report = operations::build("default", window, &events);
        scan_and_build.push(t.elapsed());
        let t = Instant::now();
        let report2 = operations::build("default", window, &all);
        build_only.push(t.elapsed());
        assert_eq!(report, report2);
        plans = report.plans;
    }
    scan_and_build.sort();
    build_only.sort();
    println!(
        "operations report over {} events ({plans} plans): trail scan + report {:.0} ms (median of 5, best {:.0} ms); report alone {:.1} ms (median)",
        all.len(),
        ms(scan_and_build[2]),
        ms(scan_and_build[0]),
        ms(build_only[2]),
    );
}
