//! Crash and outage consistency, and membership for every tenant read (issue 16, items 5 and
//! 6): a killed `ask` leaves no approvable plan the trail does not know, no temporary files
//! after the next start, and a stack lock that is listed and expires; an apply that finishes
//! during a backend outage is journaled and flushed as completed; a non-member reads nothing
//! of a tenant. Local store and the shared backend on moto.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::moto::Moto;
use common::proxy::Proxy;
use common::shared::SharedBackend;
use common::{Home, Team, ansible_playbook, local_inventory, quiet, team, terraform};
use opsdeck::approval::State;
use opsdeck::audit::EventKind;
use opsdeck::pipeline::Submission;
use opsdeck::store::{LOCK_STALE_AFTER_SECS, StackLock, Store};
use opsdeck::tenant::Role;
use opsdeck::time::{Clock, ManualClock};
use serde_json::Value;

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";
/// The same in a named stack, so that successive requests plan the same stack.
const SHOP: &str = "Create 3 t3.medium instances in ap-south-1 with ALB in stack shop";
const USERS: &[(&str, &[Role])] = &[
    ("alice", &[Role::Admin]),
    ("bob", &[Role::Approver]),
    ("olga", &[Role::Operator]),
];

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

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// ---------------------------------------------------------------- membership for reads

/// Every read of a tenant's people, settings, policies and configurations, by a non-member
/// (refused, naming why: `why`) and by a member (works).
fn reads_need_membership(home: &Home, env: &[(&'static str, String)], why: &str) {
    let cli = |user: &str, args: &[&str]| {
        home.cmd()
            .envs(env.iter().cloned())
            .args(["--user", user])
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        vec!["users", "list"],
        vec!["tenants", "show"],
        vec!["--json", "tenants", "show"],
        vec!["policy", "list"],
        vec!["policy", "test"],
        vec!["configs", "list"],
        vec!["stacks"],
    ] {
        let out = cli("mallory", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed something");
        let out = cli("olga", &args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One stack in detail: refused before whether it exists is said.
    let out = cli("mallory", &["stacks", "show", "web"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        cli("olga", &["stacks", "show", "web"]).status.code(),
        Some(4)
    );
}

#[test]
fn a_non_member_reads_no_users_settings_or_policies_local() {
    let home = Home::new();
    let _t = Team::new(&home, None, USERS);
    reads_need_membership(
        &home,
        &[],
        "mallory is not a registered user of tenant default",
    );
}

#[test]
fn a_non_member_reads_no_users_settings_or_policies_on_the_shared_backend() {
    let Some(moto) = Moto::get("consistency_reads") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let _t = Team::new(&home, None, USERS);
    // Who acts is the IAM principal: the test credentials' one is mapped to the team, so
    // naming mallory is refused before any read (tests/identity.rs).
    reads_need_membership(
        &home,
        &moto.env(),
        "which acts as alice, bob, olga in tenant default, not mallory",
    );
}

// ---------------------------------------------------------------- plans the trail knows

/// A plan record with no `planned`/`queued` events (what a crash between storing a plan and
/// writing its events left before they were ordered, or a record written by hand) is refused
/// for approval and apply, each refusal audited; a plan asked normally is approvable.
fn unknown_plan_is_refused(t: &Team<'_>) {
    let olga = t.deck("olga");
    let asked = olga.requests().ask(SPEC, &quiet).unwrap();
    let id = asked.plan.plan_id.clone();
    // The normal way: its events are in the trail.
    let events: Vec<EventKind> = olga
        .trail()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.event.plan_id.as_deref() == Some(id.as_str()))
        .map(|r| r.event.event)
        .collect();
    assert!(
        events.contains(&EventKind::Planned) && events.contains(&EventKind::Queued),
        "{events:?}"
    );

    let mut orphan = asked.clone();
    orphan.plan.plan_id = "p-orphan0001".into();
    olga.raw_store().create_plan(&orphan).unwrap();
    let why = refused(t.approve("bob", "p-orphan0001"));
    assert!(
        why.contains("plan p-orphan0001 has no `planned` event in the audit trail"),
        "{why}"
    );
    // Even marked approved in the store, it never runs.
    olga.raw_store()
        .update_plan(&orphan.plan.tenant, "p-orphan0001", &mut |r| {
            r.state = State::Approved;
            Ok(())
        })
        .unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let why = refused(rt().block_on(olga.runs().apply("p-orphan0001", &quiet, rx)));
    assert!(why.contains("has no `planned` event"), "{why}");
    let denials: Vec<String> = olga
        .trail()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.event.event == EventKind::AccessDenied
                && r.event.plan_id.as_deref() == Some("p-orphan0001")
        })
        .filter_map(|r| r.event.message)
        .collect();
    assert_eq!(denials.len(), 2, "{denials:?}");
    assert!(denials[0].starts_with("approve plan p-orphan0001:"));
    assert!(denials[1].starts_with("apply plan p-orphan0001:"));
    // The real plan is approvable.
    assert_eq!(t.approve("bob", &id).unwrap().state, State::Approved);
}

#[test]
fn a_plan_the_trail_does_not_know_is_never_approved_or_applied_local() {
    let home = Home::new();
    unknown_plan_is_refused(&team(&home));
}

#[test]
fn a_plan_the_trail_does_not_know_is_never_approved_or_applied_on_the_shared_backend() {
    let Some(b) = SharedBackend::new("consistency_unknown_plan") else {
        return;
    };
    let home = b.home();
    unknown_plan_is_refused(&Team::new(&home, None, USERS));
}

// ---------------------------------------------------------------- a killed ask

/// A terraform that blocks in `init` while `gate` exists, then is the real one: a dry run that
/// takes as long as the test needs, so the kill lands inside it.
fn slow_terraform(dir: &Path, real: &Path, gate: &Path) -> PathBuf {
    let p = dir.join("terraform");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$1\" = init ]; then while [ -e '{}' ]; do sleep 0.1; done; fi\nexec '{}' \"$@\"\n",
            gate.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

fn files_named(root: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_killed_ask_leaves_no_approvable_plan_no_tmp_files_and_a_lock_that_is_listed_and_expires() {
    let Some(real) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let tools = tempfile::tempdir().unwrap();
    let gate = tools.path().join("hold");
    std::fs::write(&gate, b"").unwrap();
    let tf = slow_terraform(tools.path(), &real, &gate);
    home.configure(&format!(
        "[exec]\nterraform = {}\nsandbox_read = [{}]\n",
        Value::String(tf.display().to_string()),
        Value::String(tools.path().display().to_string())
    ));

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsdeck"))
        .env("OPSDECK_HOME", home.path())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .env("AWS_ENDPOINT_URL", common::NO_AWS)
        .env_remove("OPSDECK_TERRAFORM")
        .args(["--user", "olga", "ask", SHOP])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let stacks = home.path().join("tenants/default/stacks");
    let workspaces = home.path().join("tenants/default/workspaces");
    // The dry run is under way once its lock is taken and terraform waits in init.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let lock_file = loop {
        let found = files_named(&stacks, ".lock")
            .into_iter()
            .find(|p| !p.ends_with(".locks.lock"));
        if let Some(f) = found
            && files_named(&workspaces, "main.tf").len() == 1
        {
            break f;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dry run never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ask ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid = child.id();
    // SAFETY: the child's own process group (opsdeck and the terraform it started).
    unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
    child.wait().unwrap();
    std::fs::remove_file(&gate).unwrap();
    // What a kill in the middle of an atomic write leaves (written under the killed pid).
    let plans = home.path().join("tenants/default/plans");
    std::fs::create_dir_all(&plans).unwrap();
    let torn = plans.join(format!(
        ".p-torn000001.json.{pid}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&torn, b"{\"plan\":").unwrap();
    let workspace = files_named(&workspaces, "main.tf")[0]
        .ancestors()
        .find(|a| a.parent() == Some(workspaces.as_path()))
        .unwrap()
        .to_path_buf();
    let stack = lock_file.file_stem().unwrap().to_string_lossy().to_string();
    assert_eq!(stack, "shop");

    // The next start cleans what the kill left, and lists the lock with its owner.
    let out = home
        .cmd()
        .args(["--user", "olga", "--json", "stacks"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(files_named(home.path(), ".tmp").is_empty());
    assert!(!workspace.exists(), "the unstored plan's workspace is left");
    let listed = json(&out);
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == stack.as_str())
        .unwrap_or_else(|| panic!("lock of {stack} not listed: {listed}"));
    assert_eq!(entry["status"], "unapplied");
    assert_eq!(entry["lock"]["pid"], pid);
    assert_eq!(entry["lock"]["user"], "olga");
    assert_eq!(entry["lock"]["operation"], "plan");
    assert_eq!(entry["lock_stale"], false);
    let text = home
        .cmd()
        .args(["--user", "olga", "stacks"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("LOCKED: plan of plan"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // No plan the trail does not know: nothing was stored, and whatever is pending has its
    // queued event.
    let olga = t.deck("olga");
    let trail = olga.trail().audit(&Default::default()).unwrap();
    for rec in olga.approvals().plans(None).unwrap() {
        assert!(trail.iter().any(|r| r.event.event == EventKind::Queued
            && r.event.plan_id.as_deref() == Some(rec.plan.plan_id.as_str())));
    }

    // Before its heartbeat is stale the lock holds: a new plan's dry run says who has it.
    let later = Arc::new(ManualClock::at(jiff::Timestamp::now()));
    let clock: Arc<dyn Clock> = later.clone();
    let olga_later = home.deck_with("olga", None, Some(clock.clone()));
    let again = olga_later.requests().ask(SHOP, &quiet).unwrap();
    assert!(
        again.plan.dry_runs[0].notes[0].contains(&format!("(pid {pid})")),
        "{:?}",
        again.plan.dry_runs[0]
    );
    // Past the limit it is stale: listed so, and the next plan takes it over, audited.
    later.advance_secs(LOCK_STALE_AFTER_SECS + 1);
    let olga_later = home.deck_with("olga", None, Some(clock));
    let entries = olga_later.stacks_with_locks().unwrap();
    assert!(entries.iter().any(|e| e.name == stack && e.lock_stale));
    let taken = olga_later.requests().ask(SHOP, &quiet).unwrap();
    assert!(
        !taken.plan.dry_runs[0]
            .notes
            .iter()
            .any(|n| n.contains("is locked by")),
        "{:?}",
        taken.plan.dry_runs[0]
    );
    let took: Vec<_> = olga_later
        .trail()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.event.event == EventKind::LockBroken)
        .collect();
    assert_eq!(took.len(), 1);
    let meta = took[0].event.approval_metadata.as_ref().unwrap();
    assert_eq!(meta["stale"], true);
    assert_eq!(meta["holder"]["pid"], pid);
    assert!(
        took[0]
            .event
            .message
            .as_deref()
            .unwrap()
            .contains("taken over by olga"),
    );
    // Released when that dry run ended.
    assert!(olga_later.stack_lock(&stack).unwrap().is_none());
    assert!(olga_later.trail().verify(true).unwrap().ok);
}

// ---------------------------------------------------------------- locks on the shared backend

#[test]
fn stack_locks_are_listed_and_a_stale_one_is_taken_over_on_the_shared_backend() {
    let Some(moto) = Moto::get("consistency_locks") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let t = Team::new(&home, None, USERS);
    let olga = t.deck("olga");
    let store = olga.raw_store();
    // What a process killed on another machine leaves: its lock, never released.
    let acquired = t.clock.stamp();
    let dead = StackLock {
        tenant: "default".into(),
        stack: "web".into(),
        lock_id: uuid::Uuid::new_v4().to_string(),
        operation: "apply".into(),
        plan_id: "p-gone000001".into(),
        user: "bob".into(),
        host: "build-7".into(),
        pid: 4242,
        acquired_at: acquired.clone(),
        heartbeat_at: Some(acquired),
    };
    assert!(store.try_lock_stack(&dead).unwrap().is_none());
    // Listed though the stack was never applied, by the CLI too.
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "olga", "--json", "stacks"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = json(&out);
    assert_eq!(listed[0]["name"], "web", "{listed}");
    assert_eq!(listed[0]["lock"]["plan_id"], "p-gone000001");
    assert_eq!(listed[0]["lock"]["host"], "build-7");

    // Fresh: a heartbeat renews it and nobody takes it.
    let mut renewed = dead.clone();
    t.clock.advance_secs(200);
    renewed.heartbeat_at = Some(t.clock.stamp());
    assert!(store.renew_stack_lock(&renewed).unwrap());
    t.clock.advance_secs(200);
    let entries = t.deck("olga").stacks_with_locks().unwrap();
    assert!(!entries[0].lock_stale, "{entries:?}");
    // A takeover judged against the old heartbeat loses: the holder renewed since.
    let mut mine = renewed.clone();
    mine.lock_id = uuid::Uuid::new_v4().to_string();
    assert!(!store.take_over_stack_lock(&dead, &mine).unwrap());

    // Silent past the limit: stale, and taken over by exactly one of two contenders.
    t.clock.advance_secs(LOCK_STALE_AFTER_SECS);
    let entries = t.deck("olga").stacks_with_locks().unwrap();
    assert!(entries[0].lock_stale, "{entries:?}");
    let mut other = renewed.clone();
    other.lock_id = uuid::Uuid::new_v4().to_string();
    assert!(store.take_over_stack_lock(&renewed, &mine).unwrap());
    assert!(!store.take_over_stack_lock(&renewed, &other).unwrap());
    assert_eq!(
        store.stack_lock("default", "web").unwrap().unwrap().lock_id,
        mine.lock_id
    );
    assert!(store.unlock_stack("default", "web", &mine.lock_id).unwrap());
    assert!(store.list_stack_locks("default").unwrap().is_empty());
}

// ---------------------------------------------------------------- outage during apply

fn gated_playbook(dir: &Path) -> PathBuf {
    let p = dir.join("gated.yml");
    std::fs::write(
        &p,
        format!(
            "- name: gated change\n  hosts: all\n  gather_facts: false\n  become: false\n  tasks:\n    - name: wait for the gate\n      ansible.builtin.wait_for:\n        path: \"{d}/gate\"\n        timeout: 120\n      when: not ansible_check_mode\n    - name: write the marker\n      ansible.builtin.copy:\n        dest: \"{d}/done.txt\"\n        content: \"done\\n\"\n        mode: \"0600\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn an_apply_that_finishes_during_an_outage_is_journaled_and_flushed_as_completed() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let Some(moto) = Moto::get("consistency_outage_apply") else {
        return;
    };
    let proxy = Proxy::start(&moto.endpoint);
    let mut b = SharedBackend::at(&proxy.url());
    b.attempts = 1;
    b.init();
    let home = b.home();
    let work = tempfile::tempdir().unwrap();
    home.configure(&format!(
        "{}\n[exec]\nansible_playbook = {}\nsandbox_write = [{}]\n",
        b.config_toml(),
        Value::String(bin.display().to_string()),
        Value::String(work.path().display().to_string())
    ));
    let t = Team::new(&home, None, USERS);
    let olga = t.deck("olga");
    let rec = olga
        .requests()
        .submit(
            &Submission {
                playbook: Some(gated_playbook(work.path())),
                inventory: Some(local_inventory(work.path())),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap();
    let id = rec.plan.plan_id.clone();
    t.approve("bob", &id).unwrap();

    // Straight at moto: what the backend holds, whatever the proxy does.
    let direct = SharedBackend {
        endpoint: moto.endpoint.clone(),
        prefix: b.prefix.clone(),
        attempts: 1,
    };
    let looker = tempfile::tempdir().unwrap();
    let backend = direct.store(looker.path());

    let report = std::thread::scope(|s| {
        let running = s.spawn(|| {
            let (_tx, rx) = tokio::sync::watch::channel(false);
            rt().block_on(olga.runs().apply(&id, &quiet, rx))
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while backend.get_plan("default", &id).unwrap().state != State::Executing {
            assert!(std::time::Instant::now() < deadline, "apply never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The backend goes away while the playbook runs; then the playbook finishes.
        proxy.kill();
        std::fs::write(work.path().join("gate"), b"").unwrap();
        running.join().unwrap()
    });
    let report = report.unwrap();
    assert!(
        report.success && report.state == State::Succeeded,
        "{report:?}"
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("done.txt")).unwrap(),
        "done\n"
    );
    // The backend could not take it: still executing there, the outcome queued here.
    assert_eq!(
        backend.get_plan("default", &id).unwrap().state,
        State::Executing
    );
    assert!(olga.raw_store().health().queued >= 2);
    drop(olga);

    // The backend returns; the next command (any) flushes: completed, never interrupted.
    proxy.restart();
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "olga", "--json", "plans", "show", &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = json(&out);
    assert_eq!(shown["state"], "succeeded", "{shown}");
    let stored = backend.get_plan("default", &id).unwrap();
    assert_eq!(stored.state, State::Succeeded);
    let last = stored.executions.last().unwrap();
    assert_eq!(last.outcome.as_deref(), Some("succeeded"));
    assert!(last.log_uri.is_some());
    let trail = backend.audit_records("default").unwrap();
    let about: Vec<(EventKind, String)> = trail
        .iter()
        .filter(|r| r.event.plan_id.as_deref() == Some(id.as_str()))
        .map(|r| (r.event.event, r.event.message.clone().unwrap_or_default()))
        .collect();
    assert!(
        about.iter().any(|(k, _)| *k == EventKind::Completed),
        "{about:?}"
    );
    assert!(
        !about
            .iter()
            .any(|(k, m)| *k == EventKind::Failed || m.contains("interrupted")),
        "{about:?}"
    );
    // The apply again: refused as already done, not reaped as interrupted.
    let olga = t.deck("olga");
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(rt().block_on(olga.runs().apply(&id, &quiet, rx)).is_err());
    assert_eq!(
        backend.get_plan("default", &id).unwrap().state,
        State::Succeeded
    );
    assert!(backend.verify_audit("default", true).unwrap().ok);
}
