//! `cargo bench --bench reports`: the operations report over a tenant with 100k audit events
//! (20k plans: planned, queued, approved, executing, then completed or failed), on the local
//! store: the trail's scan plus the report, as `opsdeck report operations` does after its
//! membership check, and the report alone over events in memory.
//!
//! Target (issue 19): every report over 100k audit events renders in < 200 ms.

use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::reports::{Window, operations};
use opsdeck::store::{LocalStore, Store};

const PLANS: usize = 20_000;
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

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
    store
        .put_tenant(&opsdeck::tenant::Tenant::default())
        .unwrap();
    let all: Vec<AuditEvent> = (0..PLANS)
        .flat_map(|p| (0..5).map(move |s| event(p, s)))
        .collect();
    for chunk in all.chunks(1000) {
        store.append_audit("default", chunk, &signer).unwrap();
    }
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
