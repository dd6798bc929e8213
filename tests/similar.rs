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
use opsdeck::audit::{AuditEvent, AuditFilter, EventKind, Signer, Status};
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

/// One request's events as the pipeline writes them, for a trail seeded by hand.
fn seeded(
    request: &str,
    plan: &str,
    instance_type: &str,
    monthly_usd: f64,
    end: EventKind,
) -> Vec<AuditEvent> {
    let base = AuditEvent {
        event_id: String::new(),
        request_id: format!("r-{plan}"),
        tenant_id: "default".into(),
        user_id: "olga".into(),
        user_source: "flag".into(),
        os_user: "alice".into(),
        timestamp: "2026-11-24T10:00:00.000Z".parse().unwrap(),
        event: EventKind::Requested,
        status: Status::Pending,
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
    };
    let intent = json!({"agent": "infra", "agents": ["infra"], "action": "create",
        "confidence": 0.9, "low_confidence": false,
        "params": {"count": 2, "instance_type": instance_type, "region": "eu-west-1"}});
    let ev = |kind: EventKind, status: Status| AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        event: kind,
        status,
        ..base.clone()
    };
    let mut requested = ev(EventKind::Requested, Status::Pending);
    requested.message = Some(request.into());
    let mut classified = ev(EventKind::Classified, Status::Pending);
    classified.intent = Some(intent.clone());
    let mut planned = ev(EventKind::Planned, Status::Pending);
    planned.plan_id = Some(plan.into());
    planned.intent = Some(intent);
    planned.cost_impact = Some(monthly_usd);
    let mut last = ev(
        end,
        if end == EventKind::Completed {
            Status::Completed
        } else {
            Status::Pending
        },
    );
    last.plan_id = Some(plan.into());
    vec![requested, classified, planned, last]
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
    let signer = Signer::load_or_create(&home.path().join("keys")).unwrap();
    let store = t.deck("alice");
    let mut events = seeded(
        "create 2 t3.small instances in Ireland",
        "p-cheap01",
        "t3.small",
        30.37,
        EventKind::Completed,
    );
    events.extend(seeded(
        "create 2 m5.xlarge instances in Ireland",
        "p-dear001",
        "m5.xlarge",
        280.32,
        EventKind::Queued,
    ));
    store
        .raw_store()
        .append_audit("default", &events, &signer)
        .unwrap();

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
