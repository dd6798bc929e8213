//! Similar past operations and suggestions (issue 18 parts 3 and 5), end to end: a request like
//! one applied earlier shows it in `classify --json` (`similar`), on the local store and on the
//! shared backend (moto); another tenant's requests never appear; `ask --like` plans a past
//! request again through the gates; `suggest` reads patterns from the trail.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use common::moto::Moto;
use common::shared::SharedBackend;
use common::tmux::Tmux;
use common::{Home, Team, quiet, team};
use opsdeck::approval::State;
use opsdeck::audit::{AuditEvent, AuditFilter, EventKind};
use opsdeck::plan::GateResult;
use opsdeck::tenant::{Role, Tenant};
use serde_json::{Value, json};

/// The tenant's default region: the requests name none.
const REGION: &str = "us-east-1";
const ASKED: &str = "Restart EC2 instances tagged Env=staging";
/// What is typed later: other words, the same reading.
const TYPED: &str = "please restart the ec2 instances tagged Env=staging";

/// `opsdeck --json ARGS` through the binary, which must succeed: its JSON.
fn run_json(home: &Home, moto: &Moto, args: &[&str]) -> Value {
    home.json(moto.env(), args)
}

fn plan_ids(similar: &Value) -> Vec<String> {
    similar
        .as_array()
        .expect("similar is a list")
        .iter()
        .filter_map(|s| s["plan_id"].as_str().map(str::to_string))
        .collect()
}

fn apply(t: &Team<'_>, user: &str, id: &str) {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = support::seed::runtime()
        .block_on(t.deck(user).runs().apply(id, &quiet, rx))
        .expect("apply");
    assert!(report.success, "{report:?}");
}

/// The whole story on one home (local store, or a machine of the shared backend).
fn similar_story(home: &Home, moto: &Moto, backend: &str) {
    let t = team(home);
    assert_eq!(t.deck("alice").raw_store().backend(), backend);
    let asked = t.deck("olga").requests().ask(ASKED, &quiet).unwrap();
    let id = asked.plan.plan_id.clone();
    t.approve("bob", &id).unwrap();
    apply(&t, "olga", &id);

    // Another tenant asks the same; bob is its admin.
    t.deck("alice").admin().add_tenant("other").unwrap();
    let other = Team::new(home, Some("other"), &[("bob", &[Role::Admin])]);
    let other_id = other
        .deck("bob")
        .requests()
        .ask(ASKED, &quiet)
        .unwrap()
        .plan
        .plan_id;

    // alice types something like it: the applied plan, with who, when, how it ended, why.
    let v = run_json(home, moto, &["--user", "alice", "classify", TYPED]);
    assert_eq!(v["agent"], "ops");
    let similar = &v["similar"];
    assert_eq!(plan_ids(similar), [id.as_str()], "{similar}");
    let first = &similar[0];
    assert_eq!(first["outcome"], "applied");
    assert_eq!(first["who"], "olga");
    assert_eq!(first["text"], ASKED);
    assert!(first["when"].as_str().unwrap().ends_with('Z'), "{first}");
    assert!(first["score"].as_f64().unwrap() >= 0.8, "{first}");
    let why = first["why"].to_string();
    assert!(why.contains("same request: ops/"), "{why}");
    assert!(why.contains("tags={"), "{why}");
    assert!(v.get("similar_unavailable").is_none(), "{v}");

    // The other tenant sees its own request, never this one's; and this one never its.
    let theirs = run_json(
        home,
        moto,
        &["--user", "bob", "--tenant", "other", "classify", TYPED],
    );
    assert_eq!(plan_ids(&theirs["similar"]), [other_id.as_str()]);
    assert_eq!(theirs["similar"][0]["outcome"], "pending");

    // The plain form says it briefly, with how to reuse it.
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "alice", "classify", TYPED])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("similar past requests:"), "{text}");
    assert!(text.contains(&id) && text.contains("applied"), "{text}");
    assert!(text.contains(&format!("opsdeck ask --like {id}")), "{text}");
    assert!(!text.contains(&other_id), "{text}");

    if backend == "local" {
        console_shows_and_reuses(home, moto, &id);
    }

    // Reuse: planned again against today's state, through the gates, waiting for approval.
    let again = run_json(home, moto, &["--user", "olga", "ask", "--like", &id]);
    let new_id = again["plan_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(again["state"], "pending");
    assert_eq!(again["action"], asked.plan.action);
    let deck = t.deck("alice");
    let new = deck.approvals().plan(&new_id).unwrap();
    assert!(new.plan.requires_approval && new.approvals.is_empty());
    assert!(
        new.plan
            .intent
            .notes
            .iter()
            .any(|n| n.contains(&format!("re-planned from plan {id}"))),
        "{:?}",
        new.plan.intent.notes
    );
    let events = deck
        .trail()
        .audit(&AuditFilter {
            subject: Some(new.plan.request_id.clone()),
            ..AuditFilter::default()
        })
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|r| r.event.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "requested",
            "classified",
            "planned",
            "policy_evaluated",
            "queued"
        ]
    );
    assert_eq!(
        events[0].event.message.as_deref(),
        Some(format!("like {id}: {ASKED}").as_str())
    );
    // Its own dry run and gates, its own approval: nothing of the old plan is carried over.
    assert!(!new.plan.gates.is_empty());
    assert!(
        t.approve("olga", &new_id).is_err(),
        "the requester cannot approve"
    );

    // Another tenant's plan id is not found from here.
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "olga", "ask", "--like", &other_id])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found")
            || String::from_utf8_lossy(&out.stderr).contains("no plan"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The console as alice, in tmux: typing something like the applied request shows it under
/// "Done before"; `:like ID` plans it again, waiting for approval.
fn console_shows_and_reuses(home: &Home, moto: &Moto, id: &str) {
    let Some(t) = Tmux::new("similar") else {
        return;
    };
    let mut env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("TF_CLI_CONFIG_FILE", "/dev/null".to_string()),
        ("CHECKPOINT_DISABLE", "1".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
    ];
    env.extend(moto.env());
    t.start("alice", (120, 40), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));
    t.text("alice", TYPED);
    let s = t.wait("alice", "similar past requests in the preview", |s| {
        s.contains("Done before") && s.contains(id) && s.contains("applied")
    });
    assert!(s.contains(&format!(":like {id}")), "{s}");
    t.keys("alice", &["Escape"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    t.text("alice", &format!(":like {id}"));
    t.keys("alice", &["Enter"]);
    let new_plan = regex::Regex::new(r"Plan (p-[a-z2-9]{10})").unwrap();
    let s = t.wait("alice", "the plan made again", |s| {
        s.contains("[PENDING]") && new_plan.captures(s).is_some_and(|c| &c[1] != id)
    });
    assert!(s.contains("like "), "{s}");
    t.run(&["kill-session", "-t", "alice"]);
}

#[test]
fn similar_past_requests_on_the_local_store() {
    let Some(moto) = Moto::get("similar_local") else {
        return;
    };
    let _held = moto.exclusive();
    support::seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    similar_story(&home, &moto, "local");
}

#[test]
fn similar_past_requests_on_the_shared_backend() {
    let Some(moto) = Moto::get("similar_aws") else {
        return;
    };
    let _held = moto.exclusive();
    let Some(b) = SharedBackend::new("similar_aws") else {
        return;
    };
    support::seed::fleet(&moto.endpoint, REGION);
    let home = b.home();
    similar_story(&home, &moto, "aws");
}

#[test]
fn classify_without_a_data_directory_stores_nothing_and_finds_nothing() {
    let home = Home::new();
    let missing = home.path().join("nowhere");
    let out = home
        .cmd()
        .env("OPSDECK_HOME", &missing)
        .args(["--json", "classify", ASKED])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["similar"], json!([]));
    for made in ["tenants", "keys"] {
        assert!(!missing.join(made).exists(), "classify made {made}");
    }
}

fn settings(t: &Team<'_>, f: impl FnOnce(&mut Tenant)) {
    let mut s = t.deck("alice").tenant().clone();
    f(&mut s);
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(s, Some(&code))
        .unwrap();
}

fn suggest(home: &Home, extra: &[&str]) -> std::process::Output {
    home.cmd()
        .args(["--json", "--user", "olga", "suggest"])
        .args(extra)
        .output()
        .unwrap()
}

/// An event of `request` by olga with nothing more said yet.
fn blank_event(request: &str) -> AuditEvent {
    common::blank_event(request, "olga", EventKind::Requested)
}

/// One request's events as the pipeline writes them, for a trail seeded by hand.
fn seeded(
    request: &str,
    plan: &str,
    instance_type: &str,
    monthly_usd: f64,
    end: EventKind,
) -> Vec<AuditEvent> {
    let intent = json!({"agent": "infra", "agents": ["infra"], "action": "create",
        "confidence": 0.9, "low_confidence": false,
        "params": {"count": 2, "instance_type": instance_type, "region": "eu-west-1"}});
    common::past_request(
        &format!("r-{plan}"),
        request,
        plan,
        intent,
        Some(monthly_usd),
        end,
    )
}

#[test]
fn suggestions_from_the_trail() {
    let home = Home::new();
    let t = team(&home);
    // The same change three times, two plans denied by the same gate.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let rec = t
            .deck("olga")
            .requests()
            .ask(
                "Create 3 t3.medium instances in ap-south-1 with ALB",
                &quiet,
            )
            .unwrap();
        ids.push(rec.plan.plan_id);
    }
    settings(&t, |s| s.policy.allowed_regions = vec!["eu-west-1".into()]);
    let mut denied = Vec::new();
    for _ in 0..2 {
        let rec = t
            .deck("olga")
            .requests()
            .ask("create 2 t3.small instances in Mumbai", &quiet)
            .unwrap();
        assert_eq!(rec.state, State::Rejected);
        assert!(
            rec.plan
                .gates
                .iter()
                .any(|g| g.rule == "regions.allowed" && g.result == GateResult::Deny)
        );
        denied.push(rec.plan.plan_id);
    }
    // A dearer choice than one applied before, seeded as the trail would hold it (applying
    // needs Terraform providers this machine does not have).
    // Rejected plans without a gate's reason (no pattern of their own) ahead of them: more
    // records than the index takes in one batch when a session first reads the trail.
    let mut events: Vec<AuditEvent> = (0..600)
        .flat_map(|n| {
            seeded(
                "create 2 t3.nano instances in Ireland",
                &format!("p-nope{n:04}"),
                "t3.nano",
                3.0,
                EventKind::Rejected,
            )
        })
        .collect();
    events.extend(seeded(
        "create 2 t3.small instances in Ireland",
        "p-cheap01",
        "t3.small",
        30.37,
        EventKind::Completed,
    ));
    events.extend(seeded(
        "create 2 m5.xlarge instances in Ireland",
        "p-dear001",
        "m5.xlarge",
        280.32,
        EventKind::Queued,
    ));
    common::append_signed(&home, &t.deck("alice"), &events);

    let out = suggest(&home, &[]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = v["suggestions"].as_array().unwrap();
    let of = |kind: &str| -> Vec<&Value> { all.iter().filter(|s| s["kind"] == kind).collect() };
    let repeated = of("repeated");
    assert_eq!(repeated.len(), 1, "{v}");
    assert_eq!(repeated[0]["times"], 3);
    assert_eq!(repeated[0]["action"], "create");
    assert_eq!(repeated[0]["latest_plan"], ids[2].as_str());
    assert_eq!(repeated[0]["requesters"], json!(["olga"]));
    let gate = of("denied_by_gate");
    assert_eq!(gate.len(), 1, "{v}");
    assert_eq!(gate[0]["rule"], "regions.allowed");
    assert_eq!(gate[0]["plans"], json!(denied));
    let costlier = of("costlier");
    assert_eq!(costlier.len(), 1, "{v}");
    assert_eq!(costlier[0]["plan_id"], "p-dear001");
    assert_eq!(costlier[0]["cheaper_plan"], "p-cheap01");
    assert_eq!(costlier[0]["differs_in"], json!(["instance_type"]));

    // Fewer repeats asked for: still one pattern per request; under two is refused.
    let two = suggest(&home, &["--min-repeats", "2"]);
    assert!(two.status.success());
    let bad = suggest(&home, &["--min-repeats", "1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at least 2"));

    // People read one line each.
    let plain = home
        .cmd()
        .args(["--user", "olga", "suggest"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.contains("asked 3 times"), "{text}");
    assert!(text.contains("denied 2 times by regions.allowed"), "{text}");
    assert!(text.contains("costlier: plan p-dear001"), "{text}");
}

/// The lookup against a plain reference scorer written from the documented formula: over a
/// generated trail (varied agents, actions, parameters, lists, tags and words, read into the
/// index in chunks as a session reads on from its cursor), every query's ranked answer is the
/// reference's: the same requests in the same order, with the same scores. Only requests whose
/// reference scores differ by float rounding alone (under 1e-9) may swap places.
mod reference {
    use std::collections::{BTreeMap, BTreeSet};

    use opsdeck::audit::{AuditEvent, AuditRecord, EventKind};
    use opsdeck::intent::{AgentKind, Params};
    use opsdeck::knowledge::{KnowledgeIndex, MIN_SCORE, Query, params::weight, text::normalise};
    use serde_json::{Map, Value, json};

    /// A past request as the reference knows it.
    struct Past {
        id: String,
        agent: Option<AgentKind>,
        action: String,
        params: Map<String, Value>,
        grams: BTreeSet<Vec<char>>,
    }

    /// xorshift: deterministic, no crate needed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
            &xs[self.below(xs.len() as u64) as usize]
        }
        fn some<T: Clone>(&mut self, xs: &[T]) -> Vec<T> {
            xs.iter().filter(|_| self.below(2) == 0).cloned().collect()
        }
    }

    const WORDS: &[&str] = &[
        "restart",
        "the",
        "web",
        "servers",
        "in",
        "staging",
        "please",
        "now",
        "EC2",
        "tagged",
        "Env=prod",
        "create",
        "instances",
        "t3.medium",
        "eu-west-1",
        "bucket",
        "logs",
        "scan",
        "public",
        "access",
        "install",
        "nginx",
        "git",
        "on",
        "alarm",
        "CPU",
        "over",
        "80%",
        "what",
        "did",
        "we",
        "spend",
        "last",
        "month",
        "stagin",
        "resatrt",
        "db-7",
        "api",
    ];

    /// One generated request: agent, action, parameters (from small pools, so that equal,
    /// partly equal and different values all occur) and words.
    fn request(r: &mut Rng) -> (AgentKind, String, Map<String, Value>, String) {
        let (agent, actions): (AgentKind, &[&str]) = match r.below(4) {
            0 => (AgentKind::Ops, &["restart", "stop", "start"]),
            1 => (AgentKind::Infra, &["create", "delete"]),
            2 => (AgentKind::Config, &["install", "remove"]),
            _ => (AgentKind::Cost, &["query"]),
        };
        let action = r.pick(actions).to_string();
        let mut p = Map::new();
        let region = *r.pick(&["us-east-1", "eu-west-1", "ap-south-1"]);
        let env = *r.pick(&["staging", "prod", "dev"]);
        if r.below(4) != 0 {
            p.insert("region".into(), json!(region));
        }
        if r.below(3) != 0 {
            p.insert("environment".into(), json!(env));
        }
        match agent {
            AgentKind::Ops => {
                if r.below(2) == 0 {
                    p.insert(
                        "tags".into(),
                        json!({"Env": env, "Team": r.pick(&["a", "b"])}),
                    );
                }
                let ids = r.some(&["i-01", "i-02", "i-03", "i-04"]);
                if !ids.is_empty() {
                    p.insert("instance_ids".into(), json!(ids));
                }
            }
            AgentKind::Infra => {
                p.insert("count".into(), json!(1 + r.below(3)));
                p.insert(
                    "instance_type".into(),
                    json!(r.pick(&["t3.small", "t3.medium"])),
                );
                if r.below(2) == 0 {
                    p.insert("name".into(), json!(format!("web-{}", r.below(6))));
                }
            }
            AgentKind::Config => {
                let pkgs = r.some(&["nginx", "git", "curl", "postgresql"]);
                if !pkgs.is_empty() {
                    p.insert("packages".into(), json!(pkgs));
                }
            }
            _ => {
                p.insert("window".into(), json!(r.pick(&["7d", "30d"])));
            }
        }
        let n = r.below(9) as usize;
        let words: Vec<&str> = (0..n).map(|_| *r.pick(WORDS)).collect();
        let text = match r.below(10) {
            // Whole texts repeated, and empty ones, both happen.
            0 => "restart the web servers in staging".to_string(),
            1 => String::new(),
            _ => format!("{action} {} {region}", words.join(" ")),
        };
        (agent, action, p, text)
    }

    fn record(seq: u64, id: &str, kind: EventKind) -> AuditRecord {
        AuditRecord {
            seq,
            prev: String::new(),
            hash: String::new(),
            key: String::new(),
            sig: String::new(),
            event: AuditEvent {
                event_id: format!("e{seq}"),
                event: kind,
                ..super::blank_event(id)
            },
        }
    }

    fn grams(text: &str) -> BTreeSet<Vec<char>> {
        let chars: Vec<char> = normalise(text).chars().collect();
        chars.windows(3).map(<[char]>::to_vec).collect()
    }

    fn jaccard<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
        if a.is_empty() || b.is_empty() {
            return 0.0;
        }
        let both = a.intersection(b).count();
        both as f64 / (a.len() + b.len() - both) as f64
    }

    /// A value's items: a list's elements, a map's `key=value` pairs, or the value itself.
    fn items(v: &Value) -> BTreeSet<String> {
        match v {
            Value::Array(a) => a.iter().map(Value::to_string).collect(),
            Value::Object(o) => o.iter().map(|(k, x)| format!("{k}={x}")).collect(),
            other => BTreeSet::from([other.to_string()]),
        }
    }

    /// The weighted share of keys (either side sets) set alike; 1 when neither sets any.
    fn params_match(a: &Map<String, Value>, b: &Map<String, Value>) -> f64 {
        let (mut hit, mut total) = (0.0, 0.0);
        for key in Params::KEYS {
            let (x, y) = (a.get(*key), b.get(*key));
            if x.is_none() && y.is_none() {
                continue;
            }
            let w = weight(key);
            total += w;
            if let (Some(x), Some(y)) = (x, y) {
                let (x, y) = (items(x), items(y));
                hit += w * if x == y { 1.0 } else { jaccard(&x, &y) };
            }
        }
        if total == 0.0 { 1.0 } else { hit / total }
    }

    /// The documented score: 0.4 for the same action, 0.4 × the parameter match, 0.2 × the
    /// words' trigram overlap; only the same agent's requests.
    fn score(
        p: &Past,
        agent: AgentKind,
        action: &str,
        params: &Map<String, Value>,
        words: &BTreeSet<Vec<char>>,
    ) -> Option<f64> {
        if p.agent != Some(agent) {
            return None;
        }
        let same = if p.action == action { 0.4 } else { 0.0 };
        Some(same + 0.4 * params_match(&p.params, params) + 0.2 * jaccard(&p.grams, words))
    }

    /// Parameters as the index keeps them (typed, then as JSON again).
    fn typed(p: Map<String, Value>) -> (Params, Map<String, Value>) {
        let params = Params::from_json(p).expect("generated parameters are valid");
        let json = params.to_json();
        (params, json)
    }

    #[test]
    fn lookup_ranks_exactly_as_the_reference_scorer() {
        const TOLERANCE: f64 = 1e-9;
        let mut r = Rng(0x2545_f491_4f6c_dd1d);
        let mut index = KnowledgeIndex::new();
        let mut past: Vec<Past> = Vec::new();
        let mut seq = 0u64;
        let (mut compared, mut found, mut full, mut swapped_ties) =
            (0usize, 0usize, 0usize, 0usize);
        for _chunk in 0..6 {
            // Read on: 700 more requests, some never read (refused before a reading).
            let mut records = Vec::new();
            for _ in 0..700 {
                let (agent, action, p, text) = request(&mut r);
                let id = format!("r{}", past.len());
                let (_, params) = typed(p);
                seq += 1;
                let mut asked = record(seq, &id, EventKind::Requested);
                asked.event.message = Some(text.clone());
                records.push(asked);
                let read = r.below(12) != 0;
                if read {
                    seq += 1;
                    let mut classified = record(seq, &id, EventKind::Classified);
                    classified.event.intent = Some(json!({"agent": agent, "agents": [agent],
                        "action": action, "confidence": 0.9, "low_confidence": false,
                        "params": params}));
                    records.push(classified);
                }
                past.push(Past {
                    id,
                    agent: read.then_some(agent),
                    action,
                    params,
                    grams: grams(&text),
                });
            }
            for rec in &records {
                index.absorb(rec);
            }
            assert_eq!(index.len(), past.len());
            for _ in 0..60 {
                let (agent, mut action, p, text) = request(&mut r);
                if r.below(15) == 0 {
                    action = "never-asked".into();
                }
                let (params, json) = typed(p);
                let words = grams(&text);
                let limit = *r.pick(&[1usize, 3, 5, 5, 5, 12]);
                let got = index.lookup(&Query::new(agent, &action, &params, &text), limit);
                let scored: BTreeMap<&str, f64> = past
                    .iter()
                    .filter_map(|p| Some((p.id.as_str(), score(p, agent, &action, &json, &words)?)))
                    .collect();
                let mut want: Vec<(usize, f64)> = past
                    .iter()
                    .enumerate()
                    .filter_map(|(n, p)| Some((n, scored.get(p.id.as_str()).copied()?)))
                    .filter(|(_, s)| *s >= MIN_SCORE - TOLERANCE)
                    .collect();
                want.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
                let sure = want
                    .iter()
                    .filter(|(_, s)| *s >= MIN_SCORE + TOLERANCE)
                    .count();
                assert!(
                    got.len() >= sure.min(limit) && got.len() <= want.len().min(limit),
                    "{} found, {sure} certain of {} for limit {limit}",
                    got.len(),
                    want.len()
                );
                let mut seen = BTreeSet::new();
                for (i, s) in got.iter().enumerate() {
                    assert!(seen.insert(&s.request_id), "{} twice", s.request_id);
                    let reference = scored[s.request_id.as_str()];
                    let (n, expected) = want[i];
                    if past[n].id != s.request_id {
                        // Only a tie in the reference's arithmetic may take another's place.
                        assert!(
                            (reference - expected).abs() < TOLERANCE,
                            "rank {i}: {} ({reference}) where the reference has {} ({expected})",
                            s.request_id,
                            past[n].id
                        );
                        swapped_ties += 1;
                    }
                    assert!(
                        (s.score - reference).abs() <= 0.0005 + TOLERANCE,
                        "{}: {} vs {reference}",
                        s.request_id,
                        s.score
                    );
                }
                compared += 1;
                found += got.len();
                full += usize::from(got.len() == limit);
            }
        }
        eprintln!(
            "{compared} lookups, {found} found, {full} full, {swapped_ties} tie(s) in another order"
        );
        // The corpus must exercise the lookup: many answers, full and short ones.
        assert_eq!(compared, 360);
        assert!(found > 800, "{found} found");
        assert!(full > 100 && full < compared, "{full} of {compared} full");
        assert!(
            swapped_ties * 20 < found,
            "{swapped_ties} ties swapped of {found}"
        );
    }
}
