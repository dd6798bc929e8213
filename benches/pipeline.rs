//! `cargo bench --bench pipeline`: prints the core pipeline's figures.
//!
//! - classify throughput on one core (the labelled corpus, repeated)
//! - ask → stored plan latency, p50/p99 (in process, local store, no terraform)
//! - audit append rate (one fsync'd event per append, and batches)
//! - `audit verify` time for 100k events, and `audit verify --full` with the witness check
//!   (the member's checkpoints compared and the pinned keys checked, as `Trail::verify` does)
//! - approve → apply overhead of the signed-approval checks (signing; verifying each approval's
//!   signature, membership and trail entry)
//!
//! Targets (issue 2): classify ≥ 50k requests/s; ask → plan p99 < 20 ms; verify 100k < 1 s.

use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::store::{LocalStore, Store};

fn corpus() -> Vec<String> {
    include_str!("../tests/corpus/requests.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: "default".into(),
        user_id: "bench".into(),
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
        artifacts: vec![
            serde_json::json!({"name": "main.tf", "sha256": "68591d585bac1031a3fd9dc575f3536f130dd82ecd21b5e8df86f4e0b03cc49c"}),
        ],
        message: Some("create stack web-ap-south-1-030b in ap-south-1: 3 × t3.medium".into()),
        identity_receipt: None,
    }
}

fn main() {
    // cargo passes --bench; `approvals` runs only the signed-approval figures.
    if std::env::args().any(|a| a == "approvals") {
        approval_checks();
        return;
    }
    let texts = corpus();

    // 1. classify throughput, one thread.
    for t in &texts {
        let _ = opsdeck::intent::parse(t);
    }
    let rounds = 400;
    let start = Instant::now();
    let mut n = 0usize;
    for _ in 0..rounds {
        for t in &texts {
            std::hint::black_box(opsdeck::intent::parse(std::hint::black_box(t)).ok());
            n += 1;
        }
    }
    let el = start.elapsed();
    println!(
        "classify: {n} requests in {:.1} ms on one thread = {:.0} requests/s ({:.2} µs each)",
        ms(el),
        n as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1e6 / n as f64
    );

    // 2. ask → stored plan. The core pipeline alone: no terraform dry run (benches/iac.rs
    // measures plans with their dry runs).
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[exec]\nterraform = \"/nonexistent/terraform\"\n",
    )
    .unwrap();
    let deck = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("bench".into()),
        ..OpenOptions::default()
    })
    .unwrap();
    let asks = [
        "Create 3 t3.medium instances in ap-south-1 with ALB",
        "create an s3 bucket",
        "spin up 5 t3.small boxes in Sydney behind a network load balancer",
        "create 1 t3.micro instance in Oregon tagged Team=web",
    ];
    for a in asks {
        deck.requests().ask(a, &|_| {}).unwrap();
    }
    let mut lat = Vec::new();
    for i in 0..500 {
        let t = Instant::now();
        deck.requests().ask(asks[i % asks.len()], &|_| {}).unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "ask → stored plan (500 asks, 5 fsync'd audit events + artifacts + plan each): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );

    // 2b. policy evaluation per plan, whole starter set loaded, on a realistic plan.
    let rec = deck
        .requests()
        .ask(
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            &|_| {},
        )
        .unwrap();
    let tf: Vec<(String, String)> = deck
        .approvals()
        .artifacts(&rec.plan)
        .unwrap()
        .into_iter()
        .map(|(a, b)| (a.name, String::from_utf8(b).unwrap()))
        .collect();
    let policies = opsdeck::policy::PolicySet::load(
        &[],
        &serde_json::to_value(&deck.tenant().policy).unwrap(),
    )
    .unwrap();
    let committed = opsdeck::policy::Committed {
        monthly_usd: 0.0,
        source: "bench".into(),
    };
    let eval = || {
        opsdeck::policy::evaluate(&opsdeck::policy::Context {
            plan: &rec.plan,
            terraform: &tf,
            ansible: &[],
            tenant: deck.tenant(),
            requester_roles: &[],
            now: jiff::Timestamp::now(),
            committed: &committed,
            policies: &policies,
        })
    };
    for _ in 0..50 {
        std::hint::black_box(eval());
    }
    let mut lat = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        std::hint::black_box(eval());
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "policy evaluation ({} Rego files + budget + secrets checks, {} resources): p50 {:.3} ms, p99 {:.3} ms",
        policies.files.len(),
        rec.plan.resources.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
    // Where the time goes: the input document (HCL parsing) versus Rego itself.
    let parts = opsdeck::policy::input::InputParts {
        plan: &rec.plan,
        terraform: &tf,
        ansible: &[],
        requester_roles: &[],
        config: &deck.tenant().policy,
        now: jiff::Timestamp::now(),
    };
    let t = Instant::now();
    for _ in 0..500 {
        std::hint::black_box(opsdeck::policy::input::build(&parts));
    }
    let build_ms = ms(t.elapsed()) / 500.0;
    let input = opsdeck::policy::input::build(&parts);
    let t = Instant::now();
    for _ in 0..500 {
        std::hint::black_box(policies.evaluate(&input).unwrap());
    }
    let mean_rego = ms(t.elapsed()) / 500.0;
    let mut rego_lat = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        std::hint::black_box(policies.evaluate(&input).unwrap());
        rego_lat.push(t.elapsed());
    }
    rego_lat.sort();
    println!(
        "  of which: input document (HCL parsing) {:.3} ms mean; Rego on the {} VM {:.3} ms mean, p99 {:.3} ms",
        build_ms,
        if policies.uses_vm() {
            "bytecode"
        } else {
            "interpreter"
        },
        mean_rego,
        ms(percentile(&rego_lat, 0.99))
    );
    let t = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(
            opsdeck::policy::PolicySet::load(&[], &serde_json::json!({})).unwrap(),
        );
    }
    println!(
        "policy set compile (once per command): {:.2} ms",
        ms(t.elapsed()) / 20.0
    );

    // 2c. approve → apply: what the signed-approval checks add (issue 16).
    approval_checks();

    // 3. audit append rate.
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).unwrap();
    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
    store
        .put_tenant(&opsdeck::tenant::Tenant::default())
        .unwrap();
    let single = 2000;
    // The member's checkpoints go where `Deck::append` writes them, one per append.
    let identity = dir.path().join("identity");
    let witness = opsdeck::audit::witness::LocalWitness::for_store(&identity, &store);
    let t = Instant::now();
    for i in 0..single {
        let records = store.append_audit("default", &[event(i)], &signer).unwrap();
        witness.after_append(&store, "default", &records);
    }
    let el = t.elapsed();
    println!(
        "audit append, one event per fsync'd append: {single} in {:.0} ms = {:.0} events/s",
        ms(el),
        single as f64 / el.as_secs_f64()
    );
    let target = 100_000usize;
    let batch = 1000;
    let t = Instant::now();
    let mut i = single;
    while i < target {
        let events: Vec<AuditEvent> = (i..(i + batch).min(target)).map(event).collect();
        let records = store.append_audit("default", &events, &signer).unwrap();
        witness.after_append(&store, "default", &records);
        i += batch;
    }
    let el = t.elapsed();
    println!(
        "audit append, batches of {batch}: {} events in {:.0} ms = {:.0} events/s",
        target - single,
        ms(el),
        (target - single) as f64 / el.as_secs_f64()
    );

    // 4. verify 100k.
    let size = std::fs::metadata(dir.path().join("tenants/default/audit.jsonl"))
        .unwrap()
        .len();
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = store.verify_audit("default", false).unwrap();
        times.push(t.elapsed());
        assert!(r.ok && r.records == target, "{r:?}");
    }
    times.sort();
    println!(
        "audit verify: {target} events ({:.1} MB) in {:.0} ms (best of 3; median {:.0} ms) on {} threads",
        size as f64 / 1e6,
        ms(times[0]),
        ms(times[1]),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let t = Instant::now();
    let r = store.verify_audit("default", true).unwrap();
    assert!(r.ok);
    println!(
        "audit verify --full (every one of {} signatures): {:.0} ms",
        r.signatures_checked,
        ms(t.elapsed())
    );
    // 5. `audit verify --full` with the witness check, the steps `Trail::verify` takes: read the
    // member's checkpoints, the pinned keys, then verify the chain against both. Worst case: a
    // checkpoint for every record (every event appended on its own).
    for cp in store.audit_records("default").unwrap().iter().skip(single) {
        witness
            .append(&opsdeck::audit::witness::Checkpoint {
                tenant: "default".into(),
                seq: cp.seq,
                hash: cp.hash.clone(),
                at: opsdeck::time::Stamp::now(),
                scope: witness.scope().to_string(),
            })
            .unwrap();
    }
    witness
        .pin_keys(
            "default",
            &[(
                signer.key_id().to_string(),
                hex::encode(signer.verifying_key().as_bytes()),
            )],
            "bench",
        )
        .unwrap();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let cps = opsdeck::audit::witness::merge(witness.read("default").unwrap());
        let pinned = witness.pinned_keys("default").unwrap();
        let anchors = opsdeck::audit::Anchors {
            checkpoints: &cps,
            pinned: pinned.as_ref(),
        };
        let r = store
            .verify_audit_anchored("default", true, &anchors)
            .unwrap();
        times.push(t.elapsed());
        assert!(r.ok, "{r:?}");
        last = Some(r);
    }
    times.sort();
    let r = last.unwrap();
    let w = r.witness.as_ref().unwrap();
    println!(
        "audit verify --full with the witness check: {target} events, {} checkpoints matched, keys pinned: {:.0} ms (best of 3; median {:.0} ms; target < 1 s)",
        w.matched,
        ms(times[0]),
        ms(times[1])
    );

    let t = Instant::now();
    let all = store.audit_records("default").unwrap();
    println!(
        "audit read: {} events parsed in {:.0} ms",
        all.len(),
        ms(t.elapsed())
    );
}

/// Signing an approval, and the checks apply makes of it (each approval's signature under the
/// key registered then, the signed membership replayed from the tenant root, the approval's
/// signature in the trail), on a tenant of four members with one approval.
fn approval_checks() {
    use opsdeck::tenant::{Role, mfa};
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[exec]\nterraform = \"/nonexistent/terraform\"\n",
    )
    .unwrap();
    // One clock for every deck, moved a TOTP step on before each code (a code is used once).
    let clock = std::sync::Arc::new(opsdeck::time::ManualClock::at(jiff::Timestamp::now()));
    let open = |user: &str| {
        let c: std::sync::Arc<dyn opsdeck::time::Clock> = clock.clone();
        Deck::open(OpenOptions {
            home: Some(home.path().to_path_buf()),
            user: Some(user.into()),
            clock: Some(c),
            ..OpenOptions::default()
        })
        .unwrap()
    };
    let now = || {
        use opsdeck::time::Clock;
        clock.advance_secs(30);
        clock.unix() as u64
    };
    // One OS account plays four people here: the tenant, still without users, lets `--user`
    // name them (as the tests' fixture does).
    let first = open("alice");
    let settings = opsdeck::tenant::Tenant {
        allow_claimed_users: true,
        ..first.tenant().clone()
    };
    first.admin().set_tenant_settings(settings, None).unwrap();
    let alice = open("alice")
        .admin()
        .add_user("alice", vec![Role::Admin], vec![], None)
        .unwrap()
        .secret;
    let mut secrets = Vec::new();
    for (name, role) in [
        ("bob", Role::Approver),
        ("carol", Role::Approver),
        ("olga", Role::Operator),
    ] {
        let key = opsdeck::identity::create_key(&home.path().join("identity"), name, None)
            .unwrap()
            .public()
            .openssh();
        let code = mfa::code_at(&alice, now()).unwrap();
        let e = open("alice")
            .admin()
            .add_member(name, vec![role], vec![], Some(&key), Some(&code))
            .unwrap();
        secrets.push(e.secret);
    }
    let olga = open("olga");
    let id = olga
        .requests()
        .ask("create an s3 bucket", &|_| {})
        .unwrap()
        .plan
        .plan_id;
    let code = mfa::code_at(&secrets[0], now()).unwrap();
    let t = Instant::now();
    open("bob")
        .approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
    let approve_ms = ms(t.elapsed());
    let bob = open("bob");
    let key = opsdeck::identity::load_key(&home.path().join("identity"), "bob").unwrap();
    let t = Instant::now();
    for i in 0..2000u32 {
        std::hint::black_box(key.sign(&i.to_le_bytes()).unwrap());
    }
    let sign_us = t.elapsed().as_secs_f64() * 1e6 / 2000.0;
    drop(bob);
    for _ in 0..20 {
        olga.runs().verify_plan_approvals(&id).unwrap();
    }
    let mut lat = Vec::new();
    for _ in 0..1000 {
        let t = Instant::now();
        olga.runs().verify_plan_approvals(&id).unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "approve → apply, signed approvals: approve (TOTP + key load + Ed25519 signature + stores) {approve_ms:.2} ms once; Ed25519 signing {sign_us:.1} µs; apply's approval checks (4 members' signed membership replayed, 1 signature verified, trail scanned for it) p50 {:.3} ms, p99 {:.3} ms",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
}
