//! `cargo bench --bench backend`: the shared backend's figures, against moto (OPSDECK_TEST_MOTO,
//! as for the tests; prints SKIP without one).
//!
//! - audit append throughput and latency (p50, p99) for 1, 10 and 100 concurrent writers, as
//!   separate operators (each its own store and signing key: every append races the others on
//!   the chain head) and as threads of one process (one store: appends queue in process);
//! - listing a tenant's 10k audit events page by page, and verifying them.
//!
//! moto is one Python process running one DynamoDB call at a time (tests/moto_server.py), so
//! these figures measure opsdeck's protocol against a slow, serial server: DynamoDB runs calls on
//! different items in parallel at single-digit milliseconds.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::config::AwsBackendConfig;
use opsdeck::store::Store;
use opsdeck::store::aws::{AwsOpen, AwsStore};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn event(tenant: &str, writer: usize, i: usize) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant.into(),
        user_id: format!("writer{writer}"),
        user_source: "flag".into(),
        os_user: "bench".into(),
        timestamp: "2026-11-24T10:00:00.000Z".parse().unwrap(),
        event: EventKind::Planned,
        status: Status::Pending,
        plan_id: Some(format!("p-bench{i:06}")),
        intent: Some(serde_json::json!({"agent": "infra", "action": "create",
            "params": {"count": 3, "instance_type": "t3.medium", "region": "ap-south-1"}})),
        agent_type: Some("infra".into()),
        approval_metadata: None,
        execution_logs: None,
        cost_impact: Some(124.51),
        security_gates: Some(serde_json::json!([{"rule": "region.allowed", "result": "pass"}])),
        artifacts: vec![],
        message: Some("create stack web-ap-south-1-030b in ap-south-1: 3 × t3.medium".into()),
        identity_receipt: None,
    }
}

struct Backend {
    endpoint: String,
    settings: AwsBackendConfig,
}

impl Backend {
    fn store(&self, dir: &std::path::Path) -> AwsStore {
        AwsStore::open(AwsOpen {
            config: &self.settings,
            endpoint_url: Some(self.endpoint.clone()),
            data_dir: dir,
            tenant: None,
            user: "bench",
        })
        .expect("open the shared backend")
    }
}

/// `writers` writers append `per_writer` events each to `tenant`; returns (wall, latencies).
fn run(
    b: &Backend,
    tenant: &str,
    writers: usize,
    per_writer: usize,
    shared: bool,
) -> (Duration, Vec<Duration>) {
    let dirs: Vec<tempfile::TempDir> = (0..if shared { 1 } else { writers })
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let stores: Vec<(AwsStore, Signer)> = dirs
        .iter()
        .map(|d| {
            (
                b.store(d.path()),
                Signer::load_or_create(&d.path().join("keys")).unwrap(),
            )
        })
        .collect();
    // Warm each store (SDK clients, keys published) outside the measurement.
    for (s, signer) in &stores {
        s.append_audit(tenant, &[event(tenant, 0, 0)], signer)
            .unwrap();
    }
    let gate = Barrier::new(writers);
    let started = Instant::now();
    let mut lat: Vec<Duration> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (store, signer) = &stores[if shared { 0 } else { w }];
                let gate = &gate;
                sc.spawn(move || {
                    gate.wait();
                    (0..per_writer)
                        .map(|i| {
                            let t = Instant::now();
                            let r = store
                                .append_audit(tenant, &[event(tenant, w, i)], signer)
                                .unwrap();
                            assert!(r[0].seq > 0, "queued: the backend did not keep up");
                            t.elapsed()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = started.elapsed();
    lat.sort();
    (wall, lat)
}

fn main() {
    let Some(endpoint) = std::env::var("OPSDECK_TEST_MOTO")
        .ok()
        .filter(|e| e.starts_with("http://127.0.0.1:"))
    else {
        println!(
            "SKIP backend bench: no moto (start tests/moto_server.py and export OPSDECK_TEST_MOTO)"
        );
        return;
    };
    let prefix = format!("b{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let b = Backend {
        endpoint,
        settings: AwsBackendConfig {
            prefix,
            max_attempts: 3,
            timeout_secs: 30,
            ..AwsBackendConfig::default()
        },
    };
    let dir = tempfile::tempdir().unwrap();
    b.store(dir.path()).init().expect("backend init");

    println!("audit appends (one event each), moto at {}", b.endpoint);
    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>10}",
        "writers", "events", "events/s", "p50 ms", "p99 ms"
    );
    for (writers, per) in [(1usize, 200usize), (10, 20), (100, 3)] {
        for shared in [false, true] {
            if writers == 1 && shared {
                continue;
            }
            let tenant = format!("w{writers}{}", if shared { "p" } else { "o" });
            let (wall, lat) = run(&b, &tenant, writers, per, shared);
            println!(
                "{:<28} {:>8} {:>10.1} {:>10.1} {:>10.1}",
                if shared {
                    format!("{writers} threads, one store")
                } else if writers == 1 {
                    "1 operator".to_string()
                } else {
                    format!("{writers} operators, own stores")
                },
                lat.len(),
                lat.len() as f64 / wall.as_secs_f64(),
                ms(percentile(&lat, 0.50)),
                ms(percentile(&lat, 0.99)),
            );
        }
    }

    // 10k events in one tenant, then read back page by page from another machine.
    let tenant = "tenk";
    let dir = tempfile::tempdir().unwrap();
    let writer = b.store(dir.path());
    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
    let seeded = Instant::now();
    let mut n = 0;
    while n < 10_000 {
        let batch: Vec<AuditEvent> = (n..(n + 49).min(10_000))
            .map(|i| event(tenant, 0, i))
            .collect();
        n += batch.len();
        writer.append_audit(tenant, &batch, &signer).unwrap();
    }
    let seed_time = seeded.elapsed();
    let reader_dir = tempfile::tempdir().unwrap();
    let reader = b.store(reader_dir.path());
    let started = Instant::now();
    let mut count = 0usize;
    reader
        .scan_audit(tenant, &mut |_| {
            count += 1;
            true
        })
        .unwrap();
    let list_time = started.elapsed();
    let started = Instant::now();
    let report = reader.verify_audit(tenant, false).unwrap();
    let verify_time = started.elapsed();
    assert!(report.ok && report.records == 10_000, "{report:?}");
    println!(
        "seed 10k events in batches of 49: {:.1} s ({:.0} events/s)",
        seed_time.as_secs_f64(),
        10_000.0 / seed_time.as_secs_f64()
    );
    println!(
        "list 10k events page by page ({} per page, {} pages): {:.2} s ({:.0} events/s)",
        opsdeck::store::aws::audit::PAGE,
        count.div_ceil(opsdeck::store::aws::audit::PAGE as usize),
        list_time.as_secs_f64(),
        count as f64 / list_time.as_secs_f64()
    );
    println!(
        "verify 10k events (checkpoint signatures): {:.2} s",
        verify_time.as_secs_f64()
    );
}
