//! The shared tenant backend (DynamoDB + S3) on moto, through the same SDK clients opsdeck uses
//! against AWS: provisioning, the whole request → approve → apply → audit flow across two
//! machines, many writers on one chain, racing approvals, an outage in the middle of a run,
//! tenant isolation, Object Lock, and migration from a local store.
//!
//! Every test gets its own tables and buckets (a unique prefix), so none resets moto.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::moto::Moto;
use common::proxy::Proxy;
use common::shared::{SharedBackend, block};
use common::{Home, Team, quiet, terraform, terraform_data_dir};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::error::Kind;
use opsdeck::store::{Store, StoreError};
use opsdeck::tenant::Role;
use opsdeck::time::Clock;
use serde_json::Value;

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";
const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const OPERATOR: &[Role] = &[Role::Operator];

fn event(user: &str, message: String) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        tenant_id: "default".into(),
        user_id: user.into(),
        user_source: "flag".into(),
        os_user: user.into(),
        timestamp: opsdeck::time::Stamp::now(),
        event: EventKind::Answered,
        status: Status::Completed,
        plan_id: None,
        intent: None,
        agent_type: Some("ops".into()),
        approval_metadata: None,
        execution_logs: None,
        cost_impact: None,
        security_gates: None,
        identity_receipt: None,
        artifacts: vec![],
        message: Some(message),
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn refused<T: std::fmt::Debug>(r: opsdeck::Result<T>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A team member's deck on another machine (its own home, store and signing key), sharing the
/// team's clock.
fn deck_on(home: &Home, t: &Team<'_>, user: &str) -> opsdeck::pipeline::Deck {
    // The person's key lives on their own machine: moved there from where the team enrolled.
    let keys = home.identity_dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for ext in ["key", "pub"] {
        let from = t
            .home
            .identity_dir()
            .join("keys")
            .join(format!("{user}.{ext}"));
        if from.exists() && !keys.join(format!("{user}.{ext}")).exists() {
            std::fs::copy(&from, keys.join(format!("{user}.{ext}"))).unwrap();
        }
    }
    let clock: Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    home.deck_with(user, t.tenant.as_deref(), Some(clock))
}

/// The code `user`'s authenticator shows at the team clock's time (no step taken).
fn code_now(t: &Team<'_>, user: &str) -> String {
    opsdeck::tenant::mfa::code_at(&t.secrets[user], t.clock.unix() as u64).unwrap()
}

#[test]
fn init_is_idempotent_and_check_names_what_is_missing_or_wrong() {
    let Some(moto) = Moto::get("init_is_idempotent") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    let home = b.home();
    let run = |args: &[&str]| {
        home.cmd()
            .envs(moto.env())
            .args(["--json", "backend"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(10), "{out:?}");
    let v = json(&out);
    let missing: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "missing")
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 9, "6 tables and 3 buckets: {missing:?}");

    let out = run(&["init"]);
    assert!(out.status.success(), "{out:?}");
    let created: Vec<Value> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "created")
        .cloned()
        .collect();
    let names: HashSet<&str> = created
        .iter()
        .map(|f| f["resource"].as_str().unwrap())
        .collect();
    for t in [
        "audit_runs",
        "artifacts",
        "approvals",
        "cost_tracking",
        "tenants",
        "locks",
    ] {
        assert!(
            names.contains(format!("table {}", b.table(t)).as_str()),
            "{t}"
        );
    }
    for bucket in ["audit-logs", "artifacts", "reports"] {
        assert!(
            names.contains(format!("bucket {}", b.bucket(bucket)).as_str()),
            "{bucket}"
        );
    }

    // Again: nothing to do.
    let out = run(&["init"]);
    assert!(out.status.success());
    let changed: Vec<Value> = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "ok")
        .cloned()
        .collect();
    assert!(changed.is_empty(), "second init changed {changed:?}");
    assert_eq!(run(&["check"]).status.code(), Some(0));

    // What is there, as init left it.
    let (ddb, s3) = b.clients();
    let table = b.table("audit_runs");
    let logs = b.bucket("audit-logs");
    block(async {
        let t = ddb
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert_eq!(
            t.billing_mode_summary().unwrap().billing_mode().unwrap(),
            &aws_sdk_dynamodb::types::BillingMode::PayPerRequest
        );
        assert_eq!(
            t.sse_description().unwrap().status().unwrap(),
            &aws_sdk_dynamodb::types::SseStatus::Enabled
        );
        let lock = s3
            .get_object_lock_configuration()
            .bucket(&logs)
            .send()
            .await
            .unwrap()
            .object_lock_configuration
            .unwrap();
        let retention = lock.rule().unwrap().default_retention().unwrap();
        assert_eq!(
            retention.mode(),
            Some(&aws_sdk_s3::types::ObjectLockRetentionMode::Compliance)
        );
        assert_eq!(retention.days(), Some(365));
        // Someone turns things off behind opsdeck's back.
        ddb.update_continuous_backups()
            .table_name(&table)
            .point_in_time_recovery_specification(
                aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(false)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        s3.delete_public_access_block()
            .bucket(b.bucket("reports"))
            .send()
            .await
            .unwrap();
    });
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(10));
    let wrong: Vec<(String, String)> = json(&out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "wrong")
        .map(|f| {
            (
                f["resource"].as_str().unwrap().to_string(),
                f["aspect"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        wrong,
        [
            (
                format!("table {table}"),
                "point-in-time recovery".to_string()
            ),
            (
                format!("bucket {}", b.bucket("reports")),
                "public access block".to_string()
            ),
        ]
    );
    let out = run(&["init"]);
    let fixed = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fixed")
        .count();
    assert_eq!(fixed, 2);
    assert_eq!(run(&["check"]).status.code(), Some(0));

    // The SDK's own endpoint variable is honoured when the file names none.
    let bare = Home::new();
    std::fs::write(
        bare.path().join("config.toml"),
        format!(
            "[aws_backend]\nprefix = \"{}\"\nmax_attempts = 1\n",
            b.prefix
        ),
    )
    .unwrap();
    let out = bare
        .cmd()
        .envs(moto.env())
        .args(["backend", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn request_approve_apply_and_audit_across_two_machines() {
    let Some(b) = SharedBackend::new("request_approve_apply") else {
        return;
    };
    let alice_machine = b.home();
    let bob_machine = b.home();
    let t = Team::new(&alice_machine, None, &[("alice", ADMIN), ("bob", APPROVER)]);
    let alice = t.deck("alice");
    assert_eq!(alice.raw_store().backend(), "aws");
    let dir = terraform_data_dir("");
    let rec = alice
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap();
    let id = rec.plan.plan_id.clone();
    assert_eq!(rec.state, State::Pending);

    // Bob, on his own machine, sees the same queue and approves.
    let bob = deck_on(&bob_machine, &t, "bob");
    let pending = bob.approvals().plans(Some(State::Pending)).unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|r| r.plan.plan_id.as_str())
            .collect::<Vec<_>>(),
        [id.as_str()]
    );
    let code = t.code("bob");
    let approved = bob
        .approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
    assert_eq!(approved.state, State::Approved);
    assert_eq!(alice.approvals().plan(&id).unwrap().state, State::Approved);

    let Some(_) = terraform() else {
        eprintln!("SKIP apply part of request_approve_apply_and_audit_across_two_machines");
        return;
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt().block_on(alice.runs().apply(&id, &quiet, rx)).unwrap();
    assert!(report.success, "{report:?}");
    let log_uri = report.log_uri.clone().unwrap();
    assert!(
        log_uri.starts_with(&format!("s3://{}/default/", b.bucket("audit-logs"))),
        "{log_uri}"
    );

    // Bob's machine verifies the whole trail, signed by two machines' keys.
    let v = bob.trail().verify(true).unwrap();
    assert!(v.ok, "{v:?}");
    let kinds: Vec<&str> = bob
        .trail()
        .audit(&Default::default())
        .unwrap()
        .iter()
        .filter(|r| r.event.plan_id.as_deref() == Some(id.as_str()))
        .map(|r| r.event.event.as_str())
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        kinds,
        [
            "planned",
            "policy_evaluated",
            "queued",
            "approved",
            "executing",
            "completed"
        ]
    );
    let stacks = bob.runs().stacks().unwrap();
    assert_eq!(stacks[0].last_applied_plan, id);

    // What the backend holds: the log in the locked bucket, the Terraform state, the cost row.
    let (ddb, s3) = b.clients();
    let key = log_uri
        .trim_start_matches(&format!("s3://{}/", b.bucket("audit-logs")))
        .to_string();
    block(async {
        let head = s3
            .head_object()
            .bucket(b.bucket("audit-logs"))
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.object_lock_mode(),
            Some(&aws_sdk_s3::types::ObjectLockMode::Compliance)
        );
        let stack = ddb
            .get_item()
            .table_name(b.table("tenants"))
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("default".into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("stack#hello".into()),
            )
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        let state_uri = stack["state_uri"].as_s().unwrap();
        assert!(
            state_uri.starts_with(&format!(
                "s3://{}/default/state/hello/",
                b.bucket("artifacts")
            )),
            "{state_uri}"
        );
        let cost = ddb
            .get_item()
            .table_name(b.table("cost_tracking"))
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("default".into()),
            )
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(id.clone()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(cost["state"].as_s().unwrap(), "succeeded");
    });

    // Bob destroys it from his machine: the state comes from the backend, not his disk.
    let did = bob
        .requests()
        .ask("destroy stack hello", &quiet)
        .unwrap()
        .plan
        .plan_id;
    let code = t.code("alice");
    alice
        .approvals()
        .approve(&did, None, Some(&code), None)
        .unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = rt().block_on(bob.runs().apply(&did, &quiet, rx)).unwrap();
    assert!(r.success, "{r:?}");
    assert_eq!(
        alice.runs().stacks().unwrap()[0].status,
        opsdeck::store::StackStatus::Destroyed
    );
}

#[test]
fn fifty_concurrent_appenders_keep_one_valid_chain() {
    let Some(b) = SharedBackend::new("fifty_appenders") else {
        return;
    };
    let moto_env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ];
    // 25 processes, each a machine of its own (own home, own signing key), asking at once.
    let machines: Vec<Home> = (0..25).map(|_| b.home()).collect();
    let bin = assert_cmd::cargo::cargo_bin("opsdeck");
    let children: Vec<_> = machines
        .iter()
        .enumerate()
        .map(|(i, home)| {
            std::process::Command::new(&bin)
                .env("OPSDECK_HOME", home.path())
                .envs(moto_env)
                .args(["--user", &format!("proc{i}"), "--json", "ask"])
                .arg("create an s3 bucket")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // 25 tasks of this process, each an operator with its own store and key, appending one
    // event at a time.
    const PER_TASK: usize = 2;
    let tasks: Vec<Vec<(String, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..25)
            .map(|k| {
                let b = &b;
                s.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let store = b.store(dir.path());
                    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
                    let done: Vec<(String, u64)> = (0..PER_TASK)
                        .map(|i| {
                            let ev = event(&format!("task{k}"), format!("task {k} event {i}"));
                            let recs = store
                                .append_audit("default", std::slice::from_ref(&ev), &signer)
                                .unwrap();
                            (ev.event_id, recs[0].seq)
                        })
                        .collect();
                    // Anything the backend could not take at once was queued: it goes now.
                    assert_eq!(store.sync(&signer).unwrap().remaining, 0);
                    done
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut queued = tasks.iter().flatten().filter(|(_, s)| *s == 0).count();
    for home in &machines {
        let out = std::process::Command::new(&bin)
            .env("OPSDECK_HOME", home.path())
            .envs(moto_env)
            .args(["--json", "backend", "sync"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        queued += json(&out)["events"].as_u64().unwrap() as usize;
    }
    eprintln!("{queued} events were queued and flushed after a transient failure");

    // A fresh machine reads and verifies the one chain.
    let dir = tempfile::tempdir().unwrap();
    let store = b.store(dir.path());
    let report = store.verify_audit("default", true).unwrap();
    assert!(report.ok, "{report:?}");
    let records = store.audit_records("default").unwrap();
    assert_eq!(report.records, records.len());
    let ids: HashSet<&str> = records.iter().map(|r| r.event.event_id.as_str()).collect();
    assert_eq!(ids.len(), records.len(), "an event was stored twice");
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    // Every task's events are there, once, in its order, at the seq it was told.
    let by_id: HashMap<&str, u64> = records
        .iter()
        .map(|r| (r.event.event_id.as_str(), r.seq))
        .collect();
    for task in &tasks {
        assert_eq!(task.len(), PER_TASK);
        let stored: Vec<u64> = task
            .iter()
            .map(|(id, told)| {
                let seq = by_id[id.as_str()];
                assert!(*told == 0 || *told == seq, "told {told}, stored at {seq}");
                seq
            })
            .collect();
        assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
    }
    // Every process's request is there whole, its batch contiguous on the chain.
    let mut requests: HashMap<&str, Vec<u64>> = HashMap::new();
    for r in &records {
        if r.event.user_id.starts_with("proc") {
            requests
                .entry(r.event.request_id.as_str())
                .or_default()
                .push(r.seq);
        }
    }
    assert_eq!(requests.len(), 25);
    for seqs in requests.values() {
        assert!(seqs.len() >= 4, "{seqs:?}");
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    }
    assert_eq!(
        records.len(),
        25 * PER_TASK + requests.values().map(Vec::len).sum::<usize>()
    );
}

#[test]
fn racing_approvers_on_separate_machines_count_once() {
    let Some(b) = SharedBackend::new("racing_approvers") else {
        return;
    };
    let home = b.home();
    let t = Team::new(
        &home,
        None,
        &[
            ("alice", ADMIN),
            ("olga", OPERATOR),
            ("bob", APPROVER),
            ("carol", APPROVER),
            ("dave", APPROVER),
            ("erin", APPROVER),
        ],
    );
    // Two approvals for every plan.
    let mut settings = t.deck("alice").tenant().clone();
    settings.approvals.rules.clear();
    settings.approvals.default_approvers = 2;
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let approvers = ["bob", "carol", "dave", "erin"];
    let machines: Vec<Home> = approvers.iter().map(|_| b.home()).collect();
    for _round in 0..3 {
        let id = t
            .deck("olga")
            .requests()
            .ask(SPEC, &quiet)
            .unwrap()
            .plan
            .plan_id;
        t.clock.advance_secs(30);
        let gate = Barrier::new(approvers.len());
        let winners: Vec<&str> = std::thread::scope(|s| {
            let handles: Vec<_> = approvers
                .iter()
                .zip(&machines)
                .map(|(user, machine)| {
                    let deck = deck_on(machine, &t, user);
                    let code = code_now(&t, user);
                    let (id, gate) = (id.clone(), &gate);
                    s.spawn(move || {
                        gate.wait();
                        match deck
                            .approvals()
                            .approve(&id, None, Some(&code), None)
                            .map_err(|e| e.refusal().ok_or(e))
                        {
                            Ok(_) => Some(*user),
                            Err(Ok(m)) => {
                                assert!(m.contains("already approved"), "{m}");
                                None
                            }
                            Err(Err(e)) => panic!("{user}: {e}"),
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(winners.len(), 2, "{winners:?}");
        for (user, machine) in approvers.iter().zip(&machines) {
            deck_on(machine, &t, user).sync_backend().unwrap();
        }
        let rec = t.deck("olga").approvals().plan(&id).unwrap();
        assert_eq!(rec.state, State::Approved);
        let mut recorded: Vec<&str> = rec.approvals.iter().map(|a| a.user.as_str()).collect();
        recorded.sort();
        let mut expected = winners.clone();
        expected.sort();
        assert_eq!(recorded, expected);
        let mut audited: Vec<String> = t
            .deck("olga")
            .trail()
            .audit(&opsdeck::audit::AuditFilter {
                event: Some("approved".into()),
                subject: Some(id.clone()),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.event.user_id)
            .collect();
        audited.sort();
        assert_eq!(audited, expected);
    }
}

#[test]
fn approve_racing_reject_has_one_outcome() {
    let Some(b) = SharedBackend::new("approve_vs_reject") else {
        return;
    };
    let home = b.home();
    let t = Team::new(
        &home,
        None,
        &[
            ("alice", ADMIN),
            ("olga", OPERATOR),
            ("bob", APPROVER),
            ("carol", APPROVER),
        ],
    );
    let (bob_machine, carol_machine) = (b.home(), b.home());
    let mut approve_won = 0;
    for _round in 0..4 {
        let id = t
            .deck("olga")
            .requests()
            .ask(SPEC, &quiet)
            .unwrap()
            .plan
            .plan_id;
        t.clock.advance_secs(30);
        let bob = deck_on(&bob_machine, &t, "bob");
        let carol = deck_on(&carol_machine, &t, "carol");
        let (bc, cc) = (code_now(&t, "bob"), code_now(&t, "carol"));
        let gate = Barrier::new(2);
        let (approved, rejected) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                gate.wait();
                bob.approvals().approve(&id, None, Some(&bc), None)
            });
            let r = s.spawn(|| {
                gate.wait();
                carol.approvals().reject(&id, "not now", Some(&cc))
            });
            (a.join().unwrap(), r.join().unwrap())
        });
        // Rejecting an approved plan is allowed, approving a rejected one is not: either order
        // ends rejected, and the record says exactly what happened.
        rejected.unwrap();
        let rec = t.deck("olga").approvals().plan(&id).unwrap();
        assert_eq!(rec.state, State::Rejected);
        assert_eq!(rec.rejection.as_ref().unwrap().user, "carol");
        let approvals_audited = t
            .deck("olga")
            .trail()
            .audit(&opsdeck::audit::AuditFilter {
                event: Some("approved".into()),
                subject: Some(id.clone()),
                ..Default::default()
            })
            .unwrap()
            .len();
        match approved.map_err(|e| e.refusal().ok_or(e)) {
            Ok(_) => {
                approve_won += 1;
                assert_eq!(rec.approvals.len(), 1);
                assert_eq!(approvals_audited, 1);
            }
            Err(Ok(m)) => {
                assert!(m.contains("rejected"), "{m}");
                assert!(rec.approvals.is_empty());
                assert_eq!(approvals_audited, 0);
            }
            Err(Err(e)) => panic!("{e}"),
        }
    }
    eprintln!("approve committed first in {approve_won} of 4 rounds");
}

#[test]
fn two_operators_applying_one_plan_run_it_once() {
    let Some(b) = SharedBackend::new("apply_once") else {
        return;
    };
    let Some(_) = terraform() else { return };
    let home = b.home();
    let t = Team::new(
        &home,
        None,
        &[("alice", ADMIN), ("bob", APPROVER), ("olga", OPERATOR)],
    );
    let dir = terraform_data_dir("");
    let id = t
        .deck("alice")
        .requests()
        .submit_terraform(dir.path(), "once", &quiet)
        .unwrap()
        .plan
        .plan_id;
    t.approve("bob", &id).unwrap();
    let other = b.home();
    let (alice, olga) = (t.deck("alice"), deck_on(&other, &t, "olga"));
    let gate = Barrier::new(2);
    let results: Vec<opsdeck::Result<opsdeck::pipeline::ApplyReport>> = std::thread::scope(|s| {
        let hs: Vec<_> = [&alice, &olga]
            .into_iter()
            .map(|d| {
                let (gate, id) = (&gate, id.clone());
                s.spawn(move || {
                    gate.wait();
                    let (_tx, rx) = tokio::sync::watch::channel(false);
                    rt().block_on(d.runs().apply(&id, &quiet, rx))
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ran: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(ran.len(), 1, "{results:?}");
    let refusal = results.into_iter().find(|r| r.is_err()).unwrap();
    let msg = refused(refusal);
    assert!(
        msg.contains("already being applied") || msg.contains("already applied"),
        "{msg}"
    );
    let executing = t
        .deck("alice")
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some("executing".into()),
            subject: Some(id),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(executing.len(), 1);
}

#[test]
fn backend_outage_mid_run_queues_then_flushes_in_order() {
    let Some(moto) = Moto::get("backend_outage") else {
        return;
    };
    let proxy = Proxy::start(&moto.endpoint);
    let mut b = SharedBackend::at(&proxy.url());
    b.attempts = 1;
    b.init();
    let home = b.home();
    let t = Team::new(
        &home,
        None,
        &[("alice", ADMIN), ("bob", APPROVER), ("olga", OPERATOR)],
    );
    let alice = t.deck("alice");
    let plan = alice.requests().ask(SPEC, &quiet).unwrap();
    let id = plan.plan.plan_id.clone();
    // What alice's machine has read: this is what it can show while the backend is away.
    assert_eq!(alice.approvals().plans(None).unwrap().len(), 1);
    let trail_before = alice.trail().audit(&Default::default()).unwrap().len();
    alice.approvals().artifacts(&plan.plan).unwrap();

    // Four operators' machines append continuously.
    let stop = AtomicBool::new(false);
    let writers: Vec<(tempfile::TempDir, opsdeck::store::AwsStore, Signer)> = (0..4)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let store = b.store(dir.path());
            let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
            (dir, store, signer)
        })
        .collect();
    let results: Vec<Vec<(String, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(k, (_, store, signer))| {
                let stop = &stop;
                s.spawn(move || {
                    let mut out = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let ev = event(&format!("writer{k}"), format!("writer {k} event {i}"));
                        let recs = store
                            .append_audit("default", std::slice::from_ref(&ev), signer)
                            .expect("an append never fails for an outage");
                        out.push((ev.event_id, recs[0].seq));
                        i += 1;
                        std::thread::sleep(Duration::from_millis(15));
                    }
                    out
                })
            })
            .collect();

        std::thread::sleep(Duration::from_millis(400));
        proxy.kill();
        std::thread::sleep(Duration::from_millis(700));
        // Offline: reads from what this machine has, writes refused, own events queued.
        let offline = t.deck("alice");
        let h = writers[0].1.health();
        assert!(!h.reachable && h.queued > 0, "{h:?}");
        assert_eq!(offline.approvals().plans(None).unwrap().len(), 1);
        assert_eq!(offline.approvals().plan(&id).unwrap().plan.plan_id, id);
        assert_eq!(
            offline.trail().audit(&Default::default()).unwrap().len(),
            trail_before
        );
        assert_eq!(
            offline.approvals().artifacts(&plan.plan).unwrap().len(),
            plan.plan.artifacts.len()
        );
        match offline.requests().ask(SPEC, &quiet) {
            Err(e) if e.kind() == Kind::Unavailable => {
                assert!(e.to_string().contains("read-only"), "{e}")
            }
            other => panic!("a new plan while offline: {other:?}"),
        }
        // Alice tries to approve her own plan: refused, and that refusal is audited (queued).
        let code = t.code("alice");
        assert!(matches!(
            offline.approvals().approve(&id, None, Some(&code), None),
            Err(e) if matches!(e.kind(), Kind::Refused | Kind::Unavailable)
        ));
        // The console says so in its status bar.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = opsdeck::tui::app::App::new(
            Arc::new(offline),
            opsdeck::tui::app::AppOptions {
                theme: opsdeck::tui::theme::Theme::builtin("dark", false).unwrap(),
                keymap: opsdeck::tui::keymap::Keymap::defaults().unwrap(),
                config_dir: None,
                handle: rt.handle().clone(),
                reopen: None,
            },
        );
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 30)).unwrap();
        term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
        let screen = term.backend().to_string();
        assert!(
            screen.contains("aws OFFLINE, read-only") && screen.contains("queued"),
            "{screen}"
        );
        // Another process on this machine works from the same copy.
        let out = home
            .cmd()
            .envs(moto.env())
            .args(["--user", "alice", "--json", "audit", "list"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json(&out).as_array().unwrap().len(), trail_before);

        proxy.restart();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::SeqCst);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Whatever is still queued goes now (a process of its own for alice's machine).
    for (_, store, signer) in &writers {
        let r = store.sync(signer).unwrap();
        assert_eq!(r.remaining, 0, "{r:?}");
        assert_eq!(store.health().queued, 0);
    }
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--json", "backend", "sync"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let queued: usize = results
        .iter()
        .flatten()
        .filter(|(_, seq)| *seq == 0)
        .count();
    let direct: usize = results.iter().flatten().filter(|(_, seq)| *seq > 0).count();
    assert!(queued > 0, "the outage queued nothing");
    assert!(direct > 0);

    let dir = tempfile::tempdir().unwrap();
    let reader = b.store(dir.path());
    let v = reader.verify_audit("default", true).unwrap();
    assert!(v.ok, "{v:?}");
    let records = reader.audit_records("default").unwrap();
    let seq_of: HashMap<&str, u64> = records
        .iter()
        .map(|r| (r.event.event_id.as_str(), r.seq))
        .collect();
    assert_eq!(seq_of.len(), records.len(), "an event was stored twice");
    for (k, writer) in results.iter().enumerate() {
        let seqs: Vec<u64> = writer
            .iter()
            .map(|(id, _)| {
                *seq_of
                    .get(id.as_str())
                    .unwrap_or_else(|| panic!("writer {k} lost event {id}"))
            })
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "writer {k} out of order: {seqs:?}"
        );
    }
    let denied = records
        .iter()
        .filter(|r| {
            r.event.event == EventKind::AccessDenied
                && r.event.plan_id.as_deref() == Some(id.as_str())
        })
        .count();
    assert_eq!(denied, 1, "the offline refusal was flushed once");
    let writer_events: usize = results.iter().map(Vec::len).sum();
    assert_eq!(records.len(), trail_before + writer_events + denied);
}

#[test]
fn tenant_a_cannot_reach_tenant_b_by_any_command() {
    let Some(moto) = Moto::get("tenant_isolation") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let boot = home.deck("root");
    boot.admin().add_tenant("a").unwrap();
    boot.admin().add_tenant("b").unwrap();
    let ta = Team::new(&home, Some("a"), &[("alice", ADMIN), ("ann", OPERATOR)]);
    let tb = Team::new(&home, Some("b"), &[("bob", ADMIN), ("ben", OPERATOR)]);
    let config = |name: &str, account: &str| {
        common::aws_configuration(
            name,
            &format!("arn:aws:iam::{account}:role/opsdeck"),
            "eu-west-1",
        )
    };
    let code = ta.code("alice");
    ta.deck("alice")
        .add_config(config("prod-a", "111111111111"), Some(&code))
        .unwrap();
    let code = tb.code("bob");
    tb.deck("bob")
        .add_config(config("prod-b", "222222222222"), Some(&code))
        .unwrap();
    let plan_a = ta.deck("ann").requests().ask(SPEC, &quiet).unwrap();
    let plan_b = tb.deck("ben").requests().ask(SPEC, &quiet).unwrap();
    let b_id = plan_b.plan.plan_id.clone();
    let b_event = tb.deck("ben").trail().audit(&Default::default()).unwrap()[0]
        .event
        .event_id
        .clone();
    let b_sha = plan_b.plan.artifacts[0].sha256.clone();

    let cli = |user: &str, tenant: &str, args: &[&str]| {
        home.cmd()
            .envs(moto.env())
            .args(["--user", user, "--tenant", tenant])
            .args(args)
            .output()
            .unwrap()
    };
    // Alice (tenant a) pointing at tenant b: refused, for every reading command.
    for args in [
        vec!["plans", "list"],
        vec!["plans", "show", b_id.as_str()],
        vec!["plans", "show", b_id.as_str(), "--artifact"],
        vec!["audit", "list"],
        vec!["audit", "show", b_event.as_str()],
        vec!["audit", "export", "--format", "csv"],
        vec!["audit", "verify"],
        vec!["stacks"],
        vec!["configs", "list"],
        vec!["configs", "show", "prod-b"],
        vec!["configs", "use", "prod-b"],
        vec!["configs", "check", "prod-b"],
        vec!["--aws-config", "prod-b", "configs", "check"],
        vec!["explain", b_id.as_str()],
        vec!["approve", b_id.as_str(), "--totp", "123456"],
        vec!["reject", b_id.as_str(), "--reason", "x", "--totp", "123456"],
        vec!["apply", b_id.as_str()],
    ] {
        let out = cli("alice", "b", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && (out.status.code() == Some(5) || out.status.code() == Some(4)),
            "{args:?}: {:?} {err}",
            out.status
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&b_id),
            "{args:?} leaked tenant b's plan"
        );
    }
    // From inside tenant a, tenant b's ids do not exist.
    for args in [
        vec!["plans", "show", b_id.as_str()],
        vec!["audit", "show", b_event.as_str()],
        vec!["configs", "show", "prod-b"],
    ] {
        let out = cli("alice", "a", &args);
        assert_eq!(out.status.code(), Some(4), "{args:?}");
    }
    let a_deck = ta.deck("alice");
    assert!(
        matches!(
            a_deck.raw_store().get_artifact("a", &b_sha),
            Err(Error::Store(StoreError::NotFound { .. }))
        ) || plan_a.plan.artifacts.iter().any(|x| x.sha256 == b_sha)
    );

    // Each tenant's configuration acts in its own account (moto keeps accounts apart).
    assert_eq!(
        ta.deck("ann").check_config(None).unwrap().account,
        "111111111111"
    );
    assert_eq!(
        tb.deck("ben").check_config(None).unwrap().account,
        "222222222222"
    );
    let access = |account: &str| {
        Arc::new(
            opsdeck::aws::AwsAccess::new(
                Some(moto.endpoint.clone()),
                Some(opsdeck::aws::AssumeRole {
                    role_arn: format!("arn:aws:iam::{account}:role/opsdeck"),
                    external_id: None,
                    session_name: "opsdeck-test".into(),
                }),
            )
            .with_limits(Duration::from_secs(5), 1),
        )
    };
    let (in_a, in_b) = (access("111111111111"), access("222222222222"));
    let bucket = format!("{}-only-a", b.prefix);
    let a = in_a.clone();
    let bk = bucket.clone();
    in_a.block_on(async move {
        a.s3("eu-west-1")
            .await
            .create_bucket()
            .bucket(&bk)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    })
    .unwrap();
    let listed = |acc: Arc<opsdeck::aws::AwsAccess>| {
        let a = acc.clone();
        acc.block_on(async move {
            a.s3("eu-west-1")
                .await
                .list_buckets()
                .send()
                .await
                .unwrap()
                .buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap()
    };
    assert!(listed(in_a).contains(&bucket));
    assert!(!listed(in_b).contains(&bucket));

    // A backend session confined to tenant a (role per tenant) refuses tenant b outright.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = b.settings();
    settings.role_arn = "arn:aws:iam::123456789012:role/opsdeck-{tenant}".into();
    let confined = opsdeck::store::aws::AwsStore::open(opsdeck::store::aws::AwsOpen {
        config: &settings,
        endpoint_url: Some(moto.endpoint.clone()),
        data_dir: dir.path(),
        tenant: Some("a"),
        user: "alice",
    })
    .unwrap();
    assert_eq!(
        confined
            .list_tenants()
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect::<Vec<_>>(),
        ["a"]
    );
    assert!(confined.get_plan("a", &plan_a.plan.plan_id).is_ok());
    assert!(matches!(
        confined.get_plan("b", &b_id),
        Err(e) if e.kind() == Kind::Refused
    ));
    assert!(matches!(
        confined.scan_audit("b", &mut |_| true),
        Err(e) if e.kind() == Kind::Refused
    ));
}

#[test]
fn object_lock_keeps_audit_logs_and_nothing_is_overwritten() {
    let Some(b) = SharedBackend::new("object_lock") else {
        return;
    };
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let log = b"terraform apply\nApply complete! Resources: 1 added\n".to_vec();
    let sha = b
        .store(one.path())
        .put_artifact_as("default", opsdeck::plan::ArtifactKind::Log, &log)
        .unwrap();
    // Another machine stores the same bytes: no second version appears.
    assert_eq!(
        b.store(two.path())
            .put_artifact_as("default", opsdeck::plan::ArtifactKind::Log, &log)
            .unwrap(),
        sha
    );
    let uri = b.store(two.path()).artifact_uri("default", &sha);
    let bucket = b.bucket("audit-logs");
    assert_eq!(uri, format!("s3://{bucket}/default/{}/{sha}", &sha[..2]));
    let key = format!("default/{}/{sha}", &sha[..2]);
    let (_, s3) = b.clients();
    block(async {
        let versions = s3
            .list_object_versions()
            .bucket(&bucket)
            .prefix(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(versions.versions().len(), 1);
        let version = versions.versions()[0].version_id().unwrap().to_string();
        // Deleting the locked version is refused, by anyone.
        let err = s3
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .version_id(&version)
            .send()
            .await
            .unwrap_err();
        let msg = format!("{:?}", err.raw_response().map(|r| r.status().as_u16()));
        assert!(msg.contains("403"), "{msg}");
        // A second write of that key is refused too when it asks not to overwrite.
        let again = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .if_none_match("*")
            .body(b"forged".to_vec().into())
            .send()
            .await;
        assert!(again.is_err());
        let body = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .version_id(&version)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(body.as_ref(), log.as_slice());
    });
    let fresh = tempfile::tempdir().unwrap();
    assert_eq!(
        b.store(fresh.path()).get_artifact("default", &sha).unwrap(),
        log
    );
}

#[test]
fn migrate_a_local_store_with_its_chain_verified_before_and_after() {
    let Some(moto) = Moto::get("migrate") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    // History made on the embedded store.
    let home = Home::new();
    let t = Team::new(&home, None, &[("alice", ADMIN), ("bob", APPROVER)]);
    let id = t
        .deck("alice")
        .requests()
        .ask(SPEC, &quiet)
        .unwrap()
        .plan
        .plan_id;
    t.approve("bob", &id).unwrap();
    // Who acts on the shared backend is the IAM principal: bob's (here the test credentials')
    // is mapped to him before the move, and travels with his record.
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .map_aws_principals(
            "bob",
            &["arn:aws:sts::123456789012:user/moto".to_string()],
            &[],
            Some(&code),
        )
        .unwrap();
    let local = t.deck("alice").trail().verify(true).unwrap();
    assert!(local.ok);
    b.attach(&home);
    let migrate = || {
        home.cmd()
            .envs(moto.env())
            .args([
                "--json", "backend", "migrate", "--from", "local", "--to", "aws",
            ])
            .output()
            .unwrap()
    };
    let out = migrate();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v[0]["tenant"], "default");
    assert_eq!(v[0]["records"], local.records);
    assert_eq!(v[0]["records_copied"], local.records);
    assert_eq!(v[0]["head"], local.head.clone().unwrap());
    assert_eq!(v[0]["plans"], 1);

    // The shared backend now serves the same history, to any machine.
    let elsewhere = b.home();
    let bob = {
        let clock: Arc<dyn opsdeck::time::Clock> = t.clock.clone();
        elsewhere.deck_with("bob", None, Some(clock))
    };
    let shared = bob.trail().verify(true).unwrap();
    assert!(shared.ok, "{shared:?}");
    assert_eq!(shared.head, local.head);
    assert_eq!(bob.approvals().plan(&id).unwrap().state, State::Approved);
    assert_eq!(bob.admin().users().unwrap().len(), 2);

    // Again: nothing to copy.
    let out = migrate();
    assert!(out.status.success());
    assert_eq!(json(&out)[0]["records_copied"], 0);

    // A local chain that does not verify is never migrated.
    let lines = std::fs::read_to_string(home.audit_file("default")).unwrap();
    std::fs::write(
        home.audit_file("default"),
        lines.replacen("\"approved\"", "\"rejected\"", 1),
    )
    .unwrap();
    let out = migrate();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
}

#[test]
fn ids_never_collide_and_a_replayed_event_is_stored_once() {
    let Some(b) = SharedBackend::new("ids_never_collide") else {
        return;
    };
    let home = b.home();
    let alice = home.deck("alice");
    let rec = alice.requests().ask(SPEC, &quiet).unwrap();
    // Creating a plan under an id that exists fails; the stored plan is untouched.
    let mut forged = rec.clone();
    forged.plan.summary = "something else".into();
    let err = alice
        .raw_store()
        .create_plan(&forged)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        alice
            .approvals()
            .plan(&rec.plan.plan_id)
            .unwrap()
            .plan
            .summary,
        rec.plan.summary
    );

    // An event appended again (a reply lost after the commit, a journal flushed twice) comes
    // back as stored, once; another event under a used id is refused.
    let dir = tempfile::tempdir().unwrap();
    let store = b.store(dir.path());
    let signer = Signer::load_or_create(&dir.path().join("keys")).unwrap();
    let ev = event("alice", "once".into());
    let first = store
        .append_audit("default", std::slice::from_ref(&ev), &signer)
        .unwrap();
    let other = event("alice", "another".into());
    let again = store
        .append_audit("default", &[ev.clone(), other.clone()], &signer)
        .unwrap();
    assert_eq!(again[0], first[0]);
    assert_eq!(again[1].seq, first[0].seq + 1);
    let mut clash = event("mallory", "different content".into());
    clash.event_id = ev.event_id.clone();
    let err = store
        .append_audit("default", &[clash], &signer)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already used by a different audit event"),
        "{err}"
    );
    let records = store.audit_records("default").unwrap();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event.event_id == ev.event_id)
            .count(),
        1
    );
    assert!(store.verify_audit("default", true).unwrap().ok);
}
