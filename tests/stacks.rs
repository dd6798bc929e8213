//! Stacks: one state per tenant and stack, locked while a plan's dry run or an apply runs on it;
//! a second apply fails naming the holder; a stale lock is broken only by the audited command;
//! a plan made against a state that has since changed refuses to apply ("re-plan").
//! Parts that run terraform (on terraform_data, offline) print SKIP where it is missing.

mod common;

use common::team;

use std::sync::Arc;

use common::{Home, quiet, terraform};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::events::AgentEvent;
use opsdeck::plan::{ChangeAction, DryRunStatus};
use opsdeck::store::{LocalStore, StackLock, Store};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn tf_dir(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), body).unwrap();
    dir
}

fn data(input: &str) -> String {
    format!(
        "resource \"terraform_data\" \"app\" {{\n  input = \"{input}\"\n}}\n\noutput \"value\" {{\n  value = terraform_data.app.output\n}}\n"
    )
}

fn lock(tenant: &str, stack: &str, plan: &str, pid: u32) -> StackLock {
    StackLock {
        tenant: tenant.into(),
        stack: stack.into(),
        lock_id: uuid::Uuid::new_v4().to_string(),
        operation: "apply".into(),
        plan_id: plan.into(),
        user: "carol".into(),
        host: "build-7".into(),
        pid,
        acquired_at: "2026-11-24T10:00:00Z".parse().unwrap(),
        heartbeat_at: None,
    }
}

fn refused<T: std::fmt::Debug>(r: opsdeck::Result<T>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn store_locks_have_one_holder_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path()).unwrap());
    store
        .put_tenant(&opsdeck::tenant::Tenant::default())
        .unwrap();
    // Eight threads race for the lock: exactly one wins, the others see who holds it.
    let winners: Vec<Option<StackLock>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    let l = lock("default", "web", &format!("p-{i}"), 100 + i);
                    match store.try_lock_stack(&l).unwrap() {
                        None => Some(l),
                        Some(holder) => {
                            assert_ne!(holder.lock_id, l.lock_id);
                            None
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<&StackLock> = winners.iter().flatten().collect();
    assert_eq!(won.len(), 1);
    let holder = store.stack_lock("default", "web").unwrap().unwrap();
    assert_eq!(&holder, won[0]);
    // Only the holder's id releases it; another stack is independent.
    assert!(!store.unlock_stack("default", "web", "not-the-id").unwrap());
    assert!(
        store
            .try_lock_stack(&lock("default", "db", "p-x", 1))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .unlock_stack("default", "web", &holder.lock_id)
            .unwrap()
    );
    assert!(store.stack_lock("default", "web").unwrap().is_none());
    // Breaking removes whatever is there and says what it was.
    let broken = store.break_stack_lock("default", "db").unwrap().unwrap();
    assert_eq!(broken.plan_id, "p-x");
    assert!(store.break_stack_lock("default", "db").unwrap().is_none());
    // Lock files are not stacks.
    assert!(store.list_stacks("default").unwrap().is_empty());
}

#[test]
fn a_stale_lock_is_broken_only_by_the_audited_command() {
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    // A lock left behind by an apply whose process is gone.
    assert!(
        alice
            .raw_store()
            .try_lock_stack(&lock("default", "web", "p-crashed001", 999_999))
            .unwrap()
            .is_none()
    );
    let show = home
        .cmd()
        .args(["--user", "olga", "stacks", "show", "web"])
        .assert()
        .success();
    let text = String::from_utf8(show.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains(
            "lock      held: apply of plan p-crashed001 by carol on host build-7 (pid 999999)"
        ),
        "{text}"
    );

    // Operators cannot break it; the attempt is audited.
    let code = t.code("olga");
    let why = refused(t.deck("olga").break_stack_lock("web", "stuck", Some(&code)));
    assert!(why.contains("needs the admin or approver role"), "{why}");
    // A reason is required, and a valid code.
    let code = t.code("bob");
    assert!(matches!(
        t.deck("bob").break_stack_lock("web", "  ", Some(&code)),
        Err(Error::Input(_))
    ));
    assert!(
        refused(
            t.deck("bob")
                .break_stack_lock("web", "stuck", Some("000000"))
        )
        .contains("TOTP")
    );
    // The CLI asks for --force before anything else.
    home.cmd()
        .args(["--user", "bob", "stacks", "unlock", "web", "--reason", "x"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains("--force"));
    assert!(alice.stack_lock("web").unwrap().is_some());

    let code = t.code("bob");
    let held = t
        .deck("bob")
        .break_stack_lock("web", "apply p-crashed001 died with its host", Some(&code))
        .unwrap();
    assert_eq!(held.plan_id, "p-crashed001");
    assert!(alice.stack_lock("web").unwrap().is_none());
    let events = alice.trail().audit(&Default::default()).unwrap();
    let broke = events
        .iter()
        .find(|r| r.event.event.as_str() == "lock_broken")
        .expect("lock_broken event");
    assert_eq!(broke.event.user_id, "bob");
    let meta = broke.event.approval_metadata.as_ref().unwrap();
    assert_eq!(meta["holder"]["plan_id"], "p-crashed001");
    assert_eq!(meta["reason"], "apply p-crashed001 died with its host");
    assert!(
        events
            .iter()
            .any(|r| r.event.event.as_str() == "access_denied" && r.event.user_id == "olga")
    );
    // Nothing left to break.
    let code = t.code("bob");
    assert!(matches!(
        t.deck("bob").break_stack_lock("web", "again", Some(&code)),
        Err(Error::NotFound { .. })
    ));
    assert!(alice.trail().verify(false).unwrap().ok);
}

#[test]
fn apply_refuses_a_plan_whose_state_changed_since_it_was_made() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let a_dir = tf_dir(&data("a"));
    let b_dir = tf_dir(&data("b"));
    let a = olga
        .requests()
        .submit_terraform(a_dir.path(), "shared", &quiet)
        .unwrap();
    let b = olga
        .requests()
        .submit_terraform(b_dir.path(), "shared", &quiet)
        .unwrap();
    for rec in [&a, &b] {
        let d = &rec.plan.dry_runs[0];
        assert_eq!(d.status, DryRunStatus::Planned, "{d:?}");
        assert!(d.binds.contains("local state: none yet"), "{}", d.binds);
    }
    t.approve("bob", &a.plan.plan_id).unwrap();
    t.approve("bob", &b.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(olga.runs().apply(&a.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success, "{report:?}");

    let (_tx, rx) = tokio::sync::watch::channel(false);
    let why = refused(rt().block_on(olga.runs().apply(&b.plan.plan_id, &quiet, rx)));
    assert!(
        why.contains("state changed since the plan; re-plan"),
        "{why}"
    );
    assert!(
        why.contains("planned against local state: none yet"),
        "{why}"
    );
    let b_now = olga.approvals().plan(&b.plan.plan_id).unwrap();
    assert_eq!(b_now.state, State::Failed);
    let events = olga.trail().audit(&Default::default()).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event.plan_id.as_deref(), Some(b.plan.plan_id.as_str()));
    assert!(
        last.event
            .message
            .as_deref()
            .unwrap()
            .contains("not started: state changed since the plan; re-plan"),
        "{:?}",
        last.event.message
    );
    // Nothing of B reached the state.
    let state = home
        .path()
        .join("tenants/default/stacks/shared/terraform.tfstate");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"a\"") && !text.contains("\"b\""), "{text}");

    // Planned again, B is bound to the new state and shows what changes against it.
    let b2 = olga
        .requests()
        .submit_terraform(b_dir.path(), "shared", &quiet)
        .unwrap();
    let d = &b2.plan.dry_runs[0];
    assert!(d.binds.contains("local state serial"), "{}", d.binds);
    assert_eq!(b2.plan.resources[0].address, "terraform_data.app");
    assert_eq!(b2.plan.resources[0].action, ChangeAction::Update);
    t.approve("bob", &b2.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(olga.runs().apply(&b2.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(report.outputs.unwrap()["value"]["value"], "b");
}

#[test]
fn a_second_apply_on_a_locked_stack_fails_naming_the_holder() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let slow = tf_dir(&format!(
        "{}\nresource \"terraform_data\" \"slow\" {{\n  provisioner \"local-exec\" {{\n    command = \"sleep 60\"\n  }}\n}}\n",
        data("a")
    ));
    let other = tf_dir(&data("b"));
    let alice = t.deck("alice");
    let a = alice
        .requests()
        .submit_terraform(slow.path(), "busy", &quiet)
        .unwrap();
    let b = alice
        .requests()
        .submit_terraform(other.path(), "busy", &quiet)
        .unwrap();
    t.approve("bob", &a.plan.plan_id).unwrap();
    t.approve("bob", &b.plan.plan_id).unwrap();

    let (tx, rx) = tokio::sync::watch::channel(false);
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = std::sync::Mutex::new(Some(started_tx));
    let a_id = a.plan.plan_id.clone();
    let handle = std::thread::spawn({
        let deck = t.deck("alice");
        move || {
            let sink = move |e: AgentEvent| {
                if let AgentEvent::Output { line, .. } = &e
                    && line.contains("Provisioning with 'local-exec'")
                    && let Some(tx) = started_tx.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            };
            rt().block_on(deck.runs().apply(&a_id, &sink, rx))
        }
    });
    started_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("apply A started");

    // While A runs: B is refused, naming A's apply, and stays approved.
    let (_tx2, rx2) = tokio::sync::watch::channel(false);
    let why = refused(rt().block_on(alice.runs().apply(&b.plan.plan_id, &quiet, rx2)));
    assert!(
        why.contains(&format!(
            "stack busy is locked by the apply of plan {} by alice on host",
            a.plan.plan_id
        )),
        "{why}"
    );
    assert!(why.contains("opsdeck stacks unlock busy --force"), "{why}");
    assert_eq!(
        alice.approvals().plan(&b.plan.plan_id).unwrap().state,
        State::Approved
    );
    // A new plan's dry run does not wait for the lock: it says who holds it.
    let c = alice
        .requests()
        .submit_terraform(other.path(), "busy", &quiet)
        .unwrap();
    let d = &c.plan.dry_runs[0];
    assert_eq!(d.status, DryRunStatus::Unavailable, "{d:?}");
    assert!(
        d.notes[0].contains("is locked by the apply of plan"),
        "{d:?}"
    );
    // The CLI shows the holder too.
    home.cmd()
        .args(["stacks", "show", "busy"])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "lock      held: apply of plan {}",
            a.plan.plan_id
        )));

    tx.send(true).unwrap();
    let report = handle.join().unwrap().unwrap();
    assert!(report.cancelled, "{report:?}");
    // Released when A ended, cancelled or not.
    assert!(alice.stack_lock("busy").unwrap().is_none());
}

#[test]
fn replaced_resources_are_flagged_and_the_saved_plan_reads_as_json() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let body = |v: &str| {
        format!(
            "resource \"terraform_data\" \"web\" {{\n  input            = \"web\"\n  triggers_replace = \"{v}\"\n}}\n\nresource \"terraform_data\" \"db\" {{\n  input = \"db\"\n}}\n"
        )
    };
    let v1 = tf_dir(&body("v1"));
    let rec = olga
        .requests()
        .submit_terraform(v1.path(), "apps", &quiet)
        .unwrap();
    t.approve("bob", &rec.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(
        rt().block_on(olga.runs().apply(&rec.plan.plan_id, &quiet, rx))
            .unwrap()
            .success
    );

    let v2 = tf_dir(&body("v2"));
    let rec = olga
        .requests()
        .submit_terraform(v2.path(), "apps", &quiet)
        .unwrap();
    let p = &rec.plan;
    assert_eq!(p.resources.len(), 1, "{:?}", p.resources);
    assert_eq!(p.resources[0].address, "terraform_data.web");
    assert_eq!(p.resources[0].action, ChangeAction::Replace);
    let d = &p.dry_runs[0];
    assert_eq!(d.summary, "+0 ~0 -0, 1 replaced");
    assert!(
        d.notes[0].contains("terraform_data.web will be REPLACED"),
        "{d:?}"
    );

    let show = home
        .cmd()
        .args(["--user", "olga", "plans", "show", &p.plan_id])
        .assert()
        .success();
    let text = String::from_utf8(show.get_output().stdout.clone()).unwrap();
    assert!(text.contains("-/+ terraform_data.web  (REPLACED"), "{text}");
    let out = home
        .cmd()
        .args(["--user", "olga", "plans", "show", &p.plan_id, "--artifact"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("# file: main.tf\n"), "{text}");
    assert!(
        text.contains("# file: opsdeck.tfplan (binary saved plan"),
        "{text}"
    );
    // The JSON section is the saved plan as `terraform show -json` reads it.
    let json_part = text
        .split("# file: tfplan.json\n")
        .nth(1)
        .unwrap()
        .split("# file: ")
        .next()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(json_part).unwrap();
    let web = v["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rc| rc["address"] == "terraform_data.web")
        .unwrap();
    assert_eq!(
        web["change"]["actions"],
        serde_json::json!(["delete", "create"])
    );
    assert!(text.contains("# file: terraform-plan.txt\n"), "{text}");
    assert!(text.contains("must be replaced"), "{text}");
}

#[test]
fn stacks_show_tells_the_state_version_and_resources() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let dir = tf_dir(&data("x"));
    let rec = olga
        .requests()
        .submit_terraform(dir.path(), "shown", &quiet)
        .unwrap();
    t.approve("bob", &rec.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(
        rt().block_on(olga.runs().apply(&rec.plan.plan_id, &quiet, rx))
            .unwrap()
            .success
    );
    let d = olga.stack_detail("shown").unwrap();
    assert_eq!(d.backend, "local");
    assert!(d.state.as_ref().unwrap().serial.is_some());
    assert_eq!(d.resources, ["terraform_data.app"]);
    assert!(d.lock.is_none());
    assert_eq!(d.record.unwrap().last_applied_plan, rec.plan.plan_id);
    assert!(matches!(
        olga.stack_detail("nope"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn two_processes_one_stack_the_second_apply_names_the_first() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let (_, bob) = common::enrol_cli(&home);
    let slow = tf_dir(&format!(
        "{}\nresource \"terraform_data\" \"slow\" {{\n  provisioner \"local-exec\" {{\n    command = \"sleep 60\"\n  }}\n}}\n",
        data("a")
    ));
    let other = tf_dir(&data("b"));
    let submit = |dir: &std::path::Path| {
        let out = home
            .cmd()
            .args(["--json", "submit"])
            .arg(dir)
            .args(["--stack", "twoproc"])
            .assert()
            .success();
        common::plan_id(&out.get_output().stdout)
    };
    let a = submit(slow.path());
    let b = submit(other.path());
    for (id, step) in [(&a, 0), (&b, 1)] {
        home.cmd()
            .args([
                "--user",
                "bob",
                "approve",
                id,
                "--totp",
                &common::code(&bob, step),
            ])
            .assert()
            .success();
    }
    // Apply A in its own process; wait until its provisioner runs (the lock is then held).
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsdeck"));
    first
        .env("OPSDECK_HOME", home.path())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("USER", "alice")
        .env_remove("OPSDECK_USER")
        .args(["apply", &a])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = first.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Provisioning with 'local-exec'")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("first apply started");
    home.cmd()
        .args(["apply", &b])
        .assert()
        .code(5)
        .stderr(predicates::str::contains(format!(
            "stack twoproc is locked by the apply of plan {a} by alice on host"
        )));
    // Ctrl-C for the first: it stops, records the cancellation and releases the lock.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(8));
    assert!(
        !home
            .path()
            .join("tenants/default/stacks/twoproc.lock")
            .exists()
    );
    home.cmd()
        .args(["plans", "show", &a])
        .assert()
        .success()
        .stdout(predicates::str::contains("state     cancelled"));
}
