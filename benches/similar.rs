//! `cargo bench --bench similar`: looking up similar past requests (issue 18 part 3) over
//! 100k synthetic past requests of one tenant, one thread, p50/p95/p99 per lookup, wall clock
//! and the thread's CPU time (target: p99 < 10 ms); plus building the index from the trail records (its time, and the memory it
//! took), and reading 100 new ones.
//!
//! The trail is synthetic but shaped like the real one: each request is the events the
//! pipeline writes (requested, classified, planned, queued or answered, an outcome), across
//! the seven agents, with parameters drawn from realistic values and texts in varied words.

use std::time::{Duration, Instant};

use opsdeck::audit::{AuditEvent, AuditRecord, EventKind, Status};
use opsdeck::intent::{AgentKind, Params};
use opsdeck::knowledge::{KnowledgeIndex, Query, SuggestOptions, Suggestion};
use serde_json::{Value, json};

const PAST: usize = 100_000;
const LOOKUPS: usize = 2_000;

/// A small deterministic generator (no crate needed for this).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "ap-south-1",
    "eu-central-1",
    "us-west-2",
];
const TYPES: &[&str] = &["t3.micro", "t3.small", "t3.medium", "m5.large", "c5.xlarge"];
const ENVS: &[&str] = &["staging", "prod", "dev"];
const USERS: &[&str] = &["alice", "bob", "olga"];

/// One synthetic request: agent, action, parameters and words. Names come from 5000 and
/// texts carry ticket numbers, so most readings and nearly all texts are distinct.
fn request(r: &mut Rng) -> (AgentKind, &'static str, Value, String) {
    let region = *r.pick(REGIONS);
    let env = *r.pick(ENVS);
    let ticket = r.next() % 10_000;
    match r.next() % 7 {
        0 => {
            let n = 1 + r.next() % 6;
            let ty = *r.pick(TYPES);
            let name = format!("web-{}", r.next() % 5000);
            (
                AgentKind::Infra,
                "create",
                json!({"count": n, "instance_type": ty, "region": region, "service": "EC2", "name": name}),
                format!("create {n} {ty} instances named {name} in {region} for {env}"),
            )
        }
        1 => {
            let action = *r.pick(&["restart", "stop", "start"]);
            (
                AgentKind::Ops,
                action,
                json!({"action": action, "environment": env, "service": "EC2", "tags": {"Env": env}}),
                format!("{action} the EC2 instances tagged Env={env} for ticket OPS-{ticket}"),
            )
        }
        2 => (
            AgentKind::Cost,
            "query",
            json!({"service": "EC2", "region": region, "window": r.pick(&["7d", "30d", "mtd"])}),
            format!("what did EC2 cost in {region} this month (ticket FIN-{ticket})"),
        ),
        3 => {
            let bucket = format!("logs-{}", r.next() % 5000);
            (
                AgentKind::Security,
                "scan",
                json!({"scope": ["s3"], "action": "scan", "bucket": bucket}),
                format!("scan the S3 bucket {bucket} for public access"),
            )
        }
        4 => {
            let pkgs = r
                .pick(&[vec!["nginx"], vec!["nginx", "git"], vec!["postgresql"]])
                .clone();
            (
                AgentKind::Config,
                "install",
                json!({"packages": pkgs, "environment": env, "tags": {"Role": "web"}}),
                format!(
                    "install {} on the {env} web servers (change {ticket})",
                    pkgs.join(" and ")
                ),
            )
        }
        5 => {
            let threshold = 50 + r.next() % 40;
            (
                AgentKind::Monitor,
                "alarm",
                json!({"metric": "CPUUtilization", "threshold": threshold as f64, "region": region}),
                format!("alert me when CPU is over {threshold}% in {region}"),
            )
        }
        _ => (
            AgentKind::Ml,
            "sentiment",
            json!({"text": format!("the service was slow {ticket}")}),
            format!("what is the sentiment of 'the service was slow {ticket}'"),
        ),
    }
}

fn record(seq: u64, request: &str, kind: EventKind, status: Status, user: &str) -> AuditRecord {
    AuditRecord {
        seq,
        prev: String::new(),
        hash: String::new(),
        key: String::new(),
        sig: String::new(),
        event: AuditEvent {
            event_id: format!("e{seq}"),
            request_id: request.to_string(),
            tenant_id: "default".into(),
            user_id: user.into(),
            user_source: "flag".into(),
            os_user: "bench".into(),
            timestamp: "2026-11-24T10:00:00.000Z".parse().unwrap(),
            event: kind,
            status,
            plan_id: None,
            intent: None,
            agent_type: None,
            approval_metadata: None,
            execution_logs: None,
            cost_impact: None,
            security_gates: None,
            artifacts: vec![],
            message: None,
            identity_receipt: None,
        },
    }
}

/// The trail of `n` requests: 4 records each.
fn trail(r: &mut Rng, n: usize, first_seq: u64) -> Vec<AuditRecord> {
    let mut out = Vec::with_capacity(n * 4);
    let mut seq = first_seq;
    for i in 0..n {
        let (agent, action, params, text) = request(r);
        let id = format!("r{first_seq}-{i}");
        let user = *r.pick(USERS);
        let intent = json!({"agent": agent, "agents": [agent], "action": action,
            "confidence": 0.9, "low_confidence": false, "params": params});
        let mut asked = record(seq, &id, EventKind::Requested, Status::Pending, user);
        asked.event.message = Some(text);
        let mut read = record(seq + 1, &id, EventKind::Classified, Status::Pending, user);
        read.event.intent = Some(intent);
        let mut planned = record(seq + 2, &id, EventKind::Planned, Status::Pending, user);
        planned.event.plan_id = Some(format!("p-{i:06}"));
        planned.event.cost_impact = Some((r.next() % 500) as f64);
        let end = *r.pick(&[
            EventKind::Completed,
            EventKind::Failed,
            EventKind::Rejected,
            EventKind::Queued,
        ]);
        let mut ended = record(seq + 3, &id, end, Status::Completed, user);
        ended.event.plan_id = planned.event.plan_id.clone();
        out.extend([asked, read, planned, ended]);
        seq += 4;
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// This process's resident set, from /proc (Linux); None elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "optimised (release or perf)"
    };
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let records = trail(&mut r, PAST, 1);

    let rss_before = resident_bytes();
    let started = Instant::now();
    let mut index = KnowledgeIndex::new();
    for rec in &records {
        index.absorb(rec);
    }
    let build = started.elapsed();
    let index_bytes = resident_bytes()
        .zip(rss_before)
        .map(|(after, before)| after.saturating_sub(before));
    assert_eq!(index.len(), PAST);

    // A refresh: the whole trail streamed again (as a store scan does) plus 100 new requests.
    let newer = trail(&mut r, 100, records.len() as u64 + 1);
    let started = Instant::now();
    for rec in records.iter().chain(&newer) {
        index.absorb(rec);
    }
    let refresh = started.elapsed();
    assert_eq!(index.len(), PAST + 100);

    let queries: Vec<Query> = (0..LOOKUPS)
        .map(|_| {
            let (agent, action, params, text) = request(&mut r);
            let params = Params::from_json(params.as_object().unwrap().clone()).unwrap();
            Query::new(agent, action, &params, &text)
        })
        .collect();
    let mut times = Vec::with_capacity(LOOKUPS);
    let mut cpu_times = Vec::with_capacity(LOOKUPS);
    let mut found = 0usize;
    for q in &queries {
        let cpu_started = thread_cpu();
        let started = Instant::now();
        let hits = index.lookup(q, 5);
        times.push(started.elapsed());
        cpu_times.push(thread_cpu().saturating_sub(cpu_started));
        found += hits.len();
    }
    times.sort();
    cpu_times.sort();
    // A tenant with a thousand past requests, as the console's preview meets it.
    let mut small = KnowledgeIndex::new();
    for rec in &records[..4_000] {
        small.absorb(rec);
    }
    let mut small_times: Vec<Duration> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            let _ = small.lookup(q, 5);
            started.elapsed()
        })
        .collect();
    small_times.sort();
    println!(
        "similar ({profile} build), {} past requests, one thread:",
        index.len()
    );
    println!(
        "  build from {} trail records: {:.0} ms; memory taken (resident set grown while building): {}",
        records.len(),
        ms(build),
        index_bytes.map_or("unknown (no /proc here)".to_string(), |b| format!(
            "{:.1} MB, {:.0} bytes per past request",
            b as f64 / 1e6,
            b as f64 / PAST as f64
        ))
    );
    println!(
        "  refresh (skip {} read records, add 100 requests): {:.1} ms",
        records.len(),
        ms(refresh)
    );
    println!(
        "  lookup x{LOOKUPS}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < 10 ms); {:.1} similar per lookup",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap()),
        found as f64 / LOOKUPS as f64
    );
    println!(
        "  the same lookups' CPU time (this thread's only: not the time spent waiting for a busy core): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&cpu_times, 0.5)),
        ms(percentile(&cpu_times, 0.95)),
        ms(percentile(&cpu_times, 0.99)),
        ms(*cpu_times.last().unwrap())
    );
    println!(
        "  lookup over {} past requests x{LOOKUPS}: p50 {:.3} ms, p99 {:.3} ms",
        small.len(),
        ms(percentile(&small_times, 0.5)),
        ms(percentile(&small_times, 0.99))
    );
    suggestions(&index);
    local_trail_reading(&records[..PAST], &newer);
}

/// The optimisation suggestions over the whole index (`opsdeck suggest`, the console's
/// suggestions): repeated requests, denials by one gate, and plans dearer than an applied
/// equivalent, which compares every priced plan with the applied ones before it.
fn suggestions(index: &KnowledgeIndex) {
    let mut times = Vec::new();
    let mut found = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        found = index.suggest(&SuggestOptions::default());
        times.push(started.elapsed());
    }
    times.sort();
    let costlier = found
        .iter()
        .filter(|s| matches!(s, Suggestion::Costlier { .. }))
        .count();
    println!(
        "  suggestions over {} past requests x5: median {:.0} ms, max {:.0} ms ({} suggestions, {costlier} of them costlier plans)",
        index.len(),
        ms(times[2]),
        ms(times[4]),
        found.len()
    );
}

/// What refreshing the index costs on the embedded store: reading on from the index's cursor
/// over a local trail of 100k events, in a new session (whose reading skips what the cursor
/// covers by sequence number alone) and in a session that read the trail before (which starts
/// where it stopped).
fn local_trail_reading(records: &[AuditRecord], newer: &[AuditRecord]) {
    use opsdeck::audit::Signer;
    use opsdeck::store::{LocalStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
    let store = LocalStore::open(&dir.path().join("data")).unwrap();
    let events: Vec<AuditEvent> = records.iter().map(|r| r.event.clone()).collect();
    for batch in events.chunks(1_000) {
        store.append_audit("default", batch, &signer).unwrap();
    }
    let last = events.len() as u64;
    let count_after = |store: &LocalStore, seq: u64| {
        let mut n = 0usize;
        store
            .scan_audit_after("default", seq, &mut |_| {
                n += 1;
                true
            })
            .unwrap();
        n
    };
    let started = Instant::now();
    let all = count_after(&store, 0);
    let full = started.elapsed();
    assert_eq!(all, events.len());
    let fresh = LocalStore::open(&dir.path().join("data")).unwrap();
    let started = Instant::now();
    assert_eq!(count_after(&fresh, last), 0);
    let skip = started.elapsed();
    let added: Vec<AuditEvent> = newer[..40].iter().map(|r| r.event.clone()).collect();
    store.append_audit("default", &added, &signer).unwrap();
    let started = Instant::now();
    assert_eq!(count_after(&store, last), 40);
    let resumed = started.elapsed();
    println!(
        "  local trail of {} events: every record read {:.0} ms; a new session reading on from the end {:.0} ms; a session that read before, 40 new records {:.2} ms",
        events.len(),
        ms(full),
        ms(skip),
        ms(resumed)
    );
}
