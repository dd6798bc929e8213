//! `opsdeck runner`: approved plans applied by a runner in its own process and home, never by the
//! operator who asked; the live log followed by `opsdeck apply`; two runners sharing one queue
//! never apply a plan twice; a runner killed mid-apply leaves the plan failed with the reason,
//! never run again; a runner killed before it started leaves the plan to the next; cancellation.
//! On moto (the shared backend) and on the local store.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::shared::SharedBackend;
use common::{Home, Team, quiet, terraform, terraform_data_dir};
use opsdeck::approval::State;
use opsdeck::pipeline::Deck;
use opsdeck::store::{RunClaim, RunLogKind};
use opsdeck::tenant::Role;

const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const OPERATOR: &[Role] = &[Role::Operator];
const VIEWER: &[Role] = &[Role::Viewer];

/// alice admin, bob approver, olga operator, vic viewer, and `runner`, the user runners act as.
/// The team's clock (moved a TOTP step on for each code) starts twenty minutes back, so that
/// runner processes, on the real clock, act after every membership and approval it records.
fn team(home: &Home) -> Team<'_> {
    team_of(home, None)
}

/// [`team`] in `tenant` (None: the default tenant).
fn team_of<'a>(home: &'a Home, tenant: Option<&str>) -> Team<'a> {
    let clock = std::sync::Arc::new(opsdeck::time::ManualClock::at(
        jiff::Timestamp::from_second(common::unix() as i64 - 1200).unwrap(),
    ));
    let secrets = common::enrol(
        home,
        &clock,
        tenant,
        &[
            ("alice", ADMIN),
            ("bob", APPROVER),
            ("olga", OPERATOR),
            ("vic", VIEWER),
            ("runner", OPERATOR),
        ],
    );
    Team {
        home,
        clock,
        secrets,
        tenant: tenant.map(str::to_string),
    }
}

/// The real binary in `home`, as `user`, reaching moto when there is one.
fn bin(home: &Home, moto: Option<&str>, user: &str) -> Command {
    let mut c = home.command();
    if let Some(endpoint) = moto {
        c.env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    }
    c.args(["--user", user]);
    c
}

/// A runner's own machine on the shared backend, holding the runner user's personal key (moved
/// there from where the team enrolled it): with it the runner vouches for its machine's
/// audit-signing key, so every member trusts the records it writes.
fn runner_home(b: &SharedBackend, team_machine: &Home) -> Home {
    let home = b.home();
    let keys = home.identity_dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for ext in ["key", "pub"] {
        let from = team_machine
            .identity_dir()
            .join("keys")
            .join(format!("runner.{ext}"));
        std::fs::copy(&from, keys.join(format!("runner.{ext}"))).unwrap();
    }
    home
}

/// A runner process in its own process group (so a kill reaches the tools it started).
fn spawn_runner(home: &Home, moto: Option<&str>, name: &str, extra: &[&str]) -> Child {
    start_runner(bin(home, moto, "runner"), name, extra)
}

/// `opsdeck runner` through `command` (the binary, its home and credentials), as above.
fn start_runner(mut command: Command, name: &str, extra: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    command
        .args(["runner", "--name", name, "--poll-secs", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start the runner")
}

fn finish(child: Child) -> std::process::Output {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "runner: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stop(child: &Child) {
    // SAFETY: our own child; SIGTERM asks it to finish its pass and exit.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

/// A stack of its own, approved by bob; returns the plan id.
fn approved_plan(t: &Team<'_>, olga: &Deck, stack: &str, extra: &str) -> String {
    let dir = terraform_data_dir(extra);
    let rec = olga
        .requests()
        .submit_terraform(dir.path(), stack, &quiet)
        .expect("submit");
    let id = rec.plan.plan_id.clone();
    t.approve("bob", &id).expect("approve");
    id
}

const SLOW: &str = "resource \"terraform_data\" \"slow\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 30\"\n  }\n}\n";

/// Waits (bounded) until `ready` holds; panics naming `what` otherwise.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the run is mid-apply: the slow provisioner's line is in its live log.
fn wait_for_provisioner(d: &Deck, id: &str) {
    wait_for("the provisioner in the run log", || {
        d.runs()
            .progress(id, 0)
            .unwrap()
            .entries
            .iter()
            .any(|e| e.text.contains("Provisioning with 'local-exec'"))
    });
}

fn events_of(d: &Deck, id: &str) -> Vec<(String, String)> {
    d.trail()
        .audit(&Default::default())
        .unwrap()
        .iter()
        .filter(|r| r.event.plan_id.as_deref() == Some(id))
        .map(|r| {
            (
                r.event.event.as_str().to_string(),
                r.event.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn count(events: &[(String, String)], kind: &str) -> usize {
    events.iter().filter(|(k, _)| k == kind).count()
}

#[test]
fn operator_asks_runner_in_its_own_home_applies_and_the_operator_follows_the_live_log() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("runner_applies") else {
        return;
    };
    let team_machine = b.home();
    let t = team(&team_machine);
    let runner_machine = runner_home(&b, &team_machine);
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "hello", "");

    // Olga's apply hands the plan over and follows; the runner, elsewhere, applies it.
    let operator = bin(&team_machine, Some(&b.endpoint), "olga")
        .args(["apply", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runner = spawn_runner(&runner_machine, Some(&b.endpoint), "r1", &[]);
    let followed = operator.wait_with_output().unwrap();
    stop(&runner);
    let runner_out = finish(runner);
    let stdout = String::from_utf8_lossy(&followed.stdout);
    let stderr = String::from_utf8_lossy(&followed.stderr);
    assert!(followed.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("goes to a runner"), "{stderr}");
    assert!(stdout.contains("[r1] runner r1 (user runner"), "{stdout}");
    // The runner says who it acts as, asked of AWS with its own credentials.
    assert!(
        stdout.contains("identity receipt of runner r1:")
            && stdout.contains("runner r1 on ")
            && stdout.contains("123456789012"),
        "{stdout}"
    );
    assert!(stdout.contains("Apply complete!"), "{stdout}");
    assert!(stdout.contains(&format!("plan {id} succeeded")), "{stdout}");
    assert!(String::from_utf8_lossy(&runner_out.stdout).contains(&format!("plan {id} succeeded")));

    // Applied by the runner's process as the runner, not by olga's.
    let rec = olga.approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Succeeded);
    assert_eq!(rec.executions.len(), 1);
    assert_eq!(rec.executions[0].started_by, "runner");
    let ev = events_of(&olga, &id);
    let kinds: Vec<&str> = ev.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "planned",
            "policy_evaluated",
            "queued",
            "approved",
            "runner_claimed",
            "executing",
            "completed"
        ]
    );
    // The claim is gone, the log stays readable by any member, the trail verifies.
    assert!(
        olga.raw_store()
            .run_claim("default", &id)
            .unwrap()
            .is_none()
    );
    let log = t.deck("vic").runs().progress(&id, 0).unwrap();
    assert!(log.finished());
    assert_eq!(log.entries.last().unwrap().kind, RunLogKind::Finished);
    let verified = t.deck("bob").trail().verify(true).unwrap();
    assert!(verified.ok, "{verified:?}");
}

#[test]
fn two_runners_share_a_queue_and_never_apply_a_plan_twice() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("two_runners") else {
        return;
    };
    let team_machine = b.home();
    let t = team(&team_machine);
    let machines = [
        runner_home(&b, &team_machine),
        runner_home(&b, &team_machine),
    ];
    let olga = t.deck("olga");
    let ids: Vec<String> = (0..4)
        .map(|n| approved_plan(&t, &olga, &format!("share{n}"), ""))
        .collect();
    let runners: Vec<Child> = machines
        .iter()
        .enumerate()
        .map(|(n, m)| spawn_runner(m, Some(&b.endpoint), &format!("r{n}"), &["--once"]))
        .collect();
    let outs: Vec<String> = runners
        .into_iter()
        .map(|r| String::from_utf8_lossy(&finish(r).stdout).to_string())
        .collect();
    for id in &ids {
        let rec = olga.approvals().plan(id).unwrap();
        assert_eq!(rec.state, State::Succeeded, "{id}");
        assert_eq!(rec.executions.len(), 1, "{id}");
        let ev = events_of(&olga, id);
        assert_eq!(count(&ev, "runner_claimed"), 1, "{id}: {ev:?}");
        assert_eq!(count(&ev, "executing"), 1, "{id}: {ev:?}");
        assert_eq!(count(&ev, "completed"), 1, "{id}: {ev:?}");
        let by: usize = outs
            .iter()
            .filter(|o| o.contains(&format!("plan {id} succeeded")))
            .count();
        assert_eq!(by, 1, "{id} reported by {by} runners");
    }
    assert!(
        olga.raw_store()
            .list_run_claims("default")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_runner_killed_mid_apply_leaves_the_plan_failed_with_the_reason_never_run_again() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("runner_killed") else {
        return;
    };
    let team_machine = b.home();
    let t = team(&team_machine);
    let (first, second) = (
        runner_home(&b, &team_machine),
        runner_home(&b, &team_machine),
    );
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "killed", SLOW);
    let beats = ["--heartbeat-secs", "1", "--stale-after-secs", "3"];
    let dying = spawn_runner(&first, Some(&b.endpoint), "dying", &beats);
    // Mid-apply: the provisioner runs (its line is in the live log).
    wait_for_provisioner(&olga, &id);
    // SAFETY: the runner's own process group (it and the terraform it started).
    unsafe { libc::killpg(dying.id() as i32, libc::SIGKILL) };
    let _ = dying.wait_with_output();
    assert_eq!(olga.approvals().plan(&id).unwrap().state, State::Executing);

    // The next runner, once the claim is stale, fails the plan with the reason; it never reruns it.
    wait_for("the dead runner's claim to go stale", || {
        let c: RunClaim = olga.raw_store().run_claim("default", &id).unwrap().unwrap();
        c.is_stale(jiff::Timestamp::now().as_second())
    });
    let next = finish(spawn_runner(
        &second,
        Some(&b.endpoint),
        "next",
        &["--once"],
    ));
    let said = String::from_utf8_lossy(&next.stdout);
    assert!(
        said.contains(&format!("plan {id} failed: its runner went silent")),
        "{said}"
    );
    let rec = olga.approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Failed);
    assert_eq!(rec.executions.len(), 1);
    assert_eq!(rec.executions[0].outcome.as_deref(), Some("interrupted"));
    let ev = events_of(&olga, &id);
    assert_eq!(count(&ev, "executing"), 1, "{ev:?}");
    assert_eq!(count(&ev, "completed"), 0, "{ev:?}");
    let (_, took) = ev.iter().find(|(k, _)| k == "claim_taken_over").unwrap();
    assert!(
        took.contains("runner next took the claim over from runner dying"),
        "{took}"
    );
    let (_, why) = ev.iter().rfind(|(k, _)| k == "failed").unwrap();
    assert!(
        why.contains("stopped heartbeating mid-apply; not run again"),
        "{why}"
    );
    // A later pass leaves it alone; the log says how it ended.
    finish(spawn_runner(
        &second,
        Some(&b.endpoint),
        "again",
        &["--once"],
    ));
    assert_eq!(count(&events_of(&olga, &id), "executing"), 1);
    let log = olga.runs().progress(&id, 0).unwrap();
    assert!(
        log.entries
            .last()
            .unwrap()
            .text
            .starts_with("failed: interrupted")
    );
    assert!(
        olga.runs()
            .stacks()
            .unwrap()
            .iter()
            .all(|s| s.name != "killed")
    );
}

#[test]
fn a_runner_gone_before_it_started_leaves_the_plan_to_the_next_which_applies_it() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "resumed", "");
    // A claim by a runner that went silent before starting (the plan is still approved).
    let stamp = opsdeck::time::Stamp::from(
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 600).unwrap(),
    );
    let gone = RunClaim {
        tenant: "default".into(),
        plan_id: id.clone(),
        claim_id: "gone".into(),
        runner: "gone".into(),
        user: "runner".into(),
        host: "elsewhere".into(),
        pid: 1,
        claimed_at: stamp.clone(),
        heartbeat_at: stamp,
        stale_after_secs: 60,
    };
    assert!(olga.raw_store().try_claim_run(&gone).unwrap().is_none());
    // A live claim is respected: a second claim of the same plan is refused with the holder.
    let mut live = gone.clone();
    live.claim_id = "live".into();
    assert_eq!(
        olga.raw_store().try_claim_run(&live).unwrap(),
        Some(gone.clone())
    );

    let out = finish(spawn_runner(&home, None, "next", &["--once"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("plan {id} succeeded")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events_of(&olga, &id);
    let (_, took) = ev.iter().find(|(k, _)| k == "claim_taken_over").unwrap();
    assert!(took.contains("before it started"), "{took}");
    assert_eq!(count(&ev, "executing"), 1);
    assert_eq!(olga.approvals().plan(&id).unwrap().state, State::Succeeded);
}

#[test]
fn cancellation_by_an_operator_stops_the_run_and_a_viewer_may_not() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let queued = approved_plan(&t, &olga, "queued", "");
    let slow = approved_plan(&t, &olga, "slowcancel", SLOW);

    // Cancelled while queued: never run.
    let refused = t
        .deck("vic")
        .runs()
        .cancel(&queued, "not today")
        .unwrap_err();
    assert!(
        refused.to_string().contains("may not cancel runs"),
        "{refused}"
    );
    let rec = olga.runs().cancel(&queued, "not today").unwrap();
    assert_eq!(rec.state, State::Cancelled);

    let runner = spawn_runner(
        &home,
        None,
        "r1",
        &["--heartbeat-secs", "1", "--stale-after-secs", "3"],
    );
    wait_for_provisioner(&olga, &slow);
    let out = bin(&home, None, "olga")
        .args(["plans", "cancel", &slow, "--reason", "wrong window"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The follower sees the run end cancelled (exit 8).
    let followed = bin(&home, None, "vic")
        .args(["apply", &slow, "--follow"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&followed.stdout);
    assert_eq!(followed.status.code(), Some(8), "{text}");
    assert!(
        text.contains("stopping: cancelled by olga: wrong window"),
        "{text}"
    );
    assert!(text.contains(&format!("plan {slow} cancelled")), "{text}");
    stop(&runner);
    finish(runner);
    let ev = events_of(&olga, &slow);
    assert_eq!(count(&ev, "cancel_requested"), 1, "{ev:?}");
    assert_eq!(count(&ev, "cancelled"), 1, "{ev:?}");
    assert_eq!(olga.approvals().plan(&queued).unwrap().executions.len(), 0);
}

#[test]
fn the_operators_console_hands_the_plan_to_the_runner_and_shows_its_live_log() {
    use opsdeck::tui::action::Action;
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("runner_console") else {
        return;
    };
    let team_machine = b.home();
    let t = team(&team_machine);
    let runner_machine = runner_home(&b, &team_machine);
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "console", "");
    let runner = spawn_runner(&runner_machine, Some(&b.endpoint), "r1", &[]);
    let (rt, mut app) = common::console(t.deck("olga"));
    let key = |app: &mut opsdeck::tui::app::App, code| {
        app.handle_msg(opsdeck::tui::app::Msg::Term(Event::Key(KeyEvent::new(
            code,
            KeyModifiers::NONE,
        ))))
    };
    rt.block_on(async {
        app.start();
        assert!(
            app.run_until(Duration::from_secs(30), |a| a
                .approvals
                .plans
                .iter()
                .any(|r| r.state == State::Approved))
                .await
        );
        app.update(Action::FocusApprovals);
        key(&mut app, KeyCode::Char('x'));
        // The confirmation applies once its identity receipt is on screen.
        assert!(
            app.run_until(Duration::from_secs(30), |a| matches!(
                a.overlays.last(),
                Some(opsdeck::tui::app::Overlay::Confirm(c)) if c.receipt.is_some()
            ))
            .await
        );
        key(&mut app, KeyCode::Enter);
        assert!(app.apply.is_some());
        assert!(
            app.run_until(Duration::from_secs(120), |a| a.apply.is_none())
                .await
        );
    });
    stop(&runner);
    finish(runner);
    let lines: Vec<String> = app
        .transcript
        .lines
        .iter()
        .map(|l| l.text().to_string())
        .collect();
    let text = lines.join("\n");
    assert!(text.contains("runner r1 (user runner"), "{text}");
    assert!(text.contains("Apply complete!"), "{text}");
    let rec = olga.approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Succeeded);
    assert_eq!(rec.executions[0].started_by, "runner");
}

/// The claim and log rules every backend keeps: one claim per plan, only the holder renews or
/// releases it, a takeover needs the exact stale claim, a log entry is never rewritten.
fn claims_and_logs_follow_the_rules(store: &dyn opsdeck::store::Store) {
    use opsdeck::store::RunLogEntry;
    let at = |s: i64| opsdeck::time::Stamp::from(jiff::Timestamp::from_second(s).unwrap());
    let claim = |id: &str, beat: i64| RunClaim {
        tenant: "default".into(),
        plan_id: "p-rules00001".into(),
        claim_id: id.into(),
        runner: id.into(),
        user: "runner".into(),
        host: "h".into(),
        pid: 7,
        claimed_at: at(1_800_000_000),
        heartbeat_at: at(beat),
        stale_after_secs: 30,
    };
    let a = claim("a", 1_800_000_000);
    assert!(store.try_claim_run(&a).unwrap().is_none());
    assert_eq!(
        store.try_claim_run(&claim("b", 1_800_000_000)).unwrap(),
        Some(a.clone())
    );
    assert!(!store.renew_run_claim(&claim("b", 1_800_000_010)).unwrap());
    assert!(
        !store
            .release_run_claim("default", "p-rules00001", "b")
            .unwrap()
    );
    let renewed = claim("a", 1_800_000_020);
    assert!(store.renew_run_claim(&renewed).unwrap());
    assert!(!renewed.is_stale(1_800_000_050) && renewed.is_stale(1_800_000_051));
    // A takeover judged on the old heartbeat loses to the renewal.
    assert!(
        !store
            .take_over_run_claim(&a, &claim("b", 1_800_000_060))
            .unwrap()
    );
    assert!(
        store
            .take_over_run_claim(&renewed, &claim("b", 1_800_000_060))
            .unwrap()
    );
    assert!(
        !store
            .take_over_run_claim(&renewed, &claim("c", 1_800_000_061))
            .unwrap()
    );
    assert_eq!(store.list_run_claims("default").unwrap().len(), 1);
    assert_eq!(
        store
            .run_claim("default", "p-rules00001")
            .unwrap()
            .unwrap()
            .claim_id,
        "b"
    );
    assert!(
        !store
            .release_run_claim("default", "p-rules00001", "a")
            .unwrap()
    );
    assert!(
        store
            .release_run_claim("default", "p-rules00001", "b")
            .unwrap()
    );
    assert!(
        store
            .run_claim("default", "p-rules00001")
            .unwrap()
            .is_none()
    );

    let entry = |seq: u64| RunLogEntry {
        seq,
        at: at(1_800_000_000),
        runner: "a".into(),
        kind: RunLogKind::Output,
        text: format!("line {seq}"),
    };
    store
        .append_run_log("default", "p-rules00001", &[entry(1), entry(2)])
        .unwrap();
    store
        .append_run_log("default", "p-rules00001", &[entry(3)])
        .unwrap();
    assert!(
        store
            .append_run_log("default", "p-rules00001", &[entry(2)])
            .is_err()
    );
    let after1: Vec<u64> = store
        .run_log("default", "p-rules00001", 1)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(after1, [2, 3]);
    let mut bad = claim("z", 0);
    bad.plan_id = "../escape".into();
    assert!(store.try_claim_run(&bad).is_err());
}

#[test]
fn claims_and_run_logs_keep_their_rules_on_the_local_store() {
    let home = Home::new();
    let deck = home.deck("alice");
    claims_and_logs_follow_the_rules(deck.raw_store());
}

#[test]
fn claims_and_run_logs_keep_their_rules_on_the_shared_backend() {
    let Some(b) = SharedBackend::new("runner_rules") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    claims_and_logs_follow_the_rules(&b.store(dir.path()));
}

#[test]
fn runner_settings_out_of_range_are_refused_not_clamped() {
    let home = Home::new();
    for (args, says) in [
        (
            vec!["--heartbeat-secs", "0"],
            "--heartbeat-secs 0 is out of range",
        ),
        (
            vec!["--heartbeat-secs", "301"],
            "--heartbeat-secs 301 is out of range",
        ),
        (
            vec!["--heartbeat-secs", "10", "--stale-after-secs", "29"],
            "--stale-after-secs 29 is out of range: 30..=3600",
        ),
        (vec!["--poll-secs", "0"], "--poll-secs 0 is out of range"),
        (vec!["--name", "a b"], "runner name 'a b' must be"),
    ] {
        let out = bin(&home, None, "alice")
            .arg("runner")
            .args(&args)
            .arg("--once")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_plan_whose_stack_is_busy_waits_in_the_queue_instead_of_failing() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "busy", "");
    let now = opsdeck::time::Stamp::now();
    let lock = opsdeck::store::StackLock {
        tenant: "default".into(),
        stack: "busy".into(),
        lock_id: "someone-else".into(),
        operation: "plan".into(),
        plan_id: "p-other00001".into(),
        user: "olga".into(),
        host: "h".into(),
        pid: std::process::id(),
        acquired_at: now.clone(),
        heartbeat_at: Some(now),
    };
    assert!(olga.raw_store().try_lock_stack(&lock).unwrap().is_none());
    finish(spawn_runner(&home, None, "r1", &["--once"]));
    assert_eq!(olga.approvals().plan(&id).unwrap().state, State::Approved);
    assert_eq!(count(&events_of(&olga, &id), "failed"), 0);
    assert!(
        olga.raw_store()
            .unlock_stack("default", "busy", "someone-else")
            .unwrap()
    );
    let out = finish(spawn_runner(&home, None, "r1", &["--once"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("plan {id} succeeded")));
}

/// An IAM user with its own access key and an inline policy: (key id, secret, arn).
fn iam_user(endpoint: &str, name: &str, policy: &str) -> (String, String, String) {
    on_moto(endpoint, |conf| async move {
        let iam = aws_sdk_iam::Client::new(&conf);
        let user = iam.create_user().user_name(name).send().await.unwrap();
        iam.put_user_policy()
            .user_name(name)
            .policy_name("opsdeck")
            .policy_document(policy)
            .send()
            .await
            .unwrap();
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        (k.access_key_id, k.secret_access_key, user.user.unwrap().arn)
    })
}

/// Runs an SDK conversation with moto (static test keys) and returns its answer.
fn on_moto<T, F: std::future::Future<Output = T>>(
    endpoint: &str,
    talk: impl FnOnce(aws_config::SdkConfig) -> F,
) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let conf = opsdeck::aws::sdk_config(&opsdeck::aws::Target {
                region: "us-east-1".into(),
                endpoint_url: Some(endpoint.to_string()),
                timeout: Duration::from_secs(10),
                max_attempts: 1,
            })
            .await;
            talk(conf).await
        })
}

/// The binary as `user` with an IAM user's own keys (no session token).
fn with_keys(home: &Home, endpoint: &str, user: &str, keys: &(String, String, String)) -> Command {
    let mut c = bin(home, Some(endpoint), user);
    c.env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1)
        .env_remove("AWS_SESSION_TOKEN");
    c
}

/// The issue's first promise, with moto enforcing IAM (signatures, identity policies, and the
/// deploy role's trust policy on AssumeRole): the operator's own credentials cannot assume the
/// tenant's deploy role, so she cannot make the change herself; she asks, bob approves, and the
/// runner — whose principal alone the role trusts — assumes it and applies.
#[test]
fn an_operator_who_cannot_assume_the_deploy_role_gets_her_change_applied_by_the_runner() {
    let Some(_) = terraform() else { return };
    let Some(moto) = common::moto::OwnMoto::start("deploy_role_trust") else {
        return;
    };
    let endpoint = moto.moto.endpoint.clone();
    let b = SharedBackend::at(&endpoint);
    b.init();
    let team_machine = b.home();
    let t = team(&team_machine);
    let runner_machine = runner_home(&b, &team_machine);

    // Both may use opsdeck's shared backend (narrower in production: `opsdeck iam policy`);
    // what tells them apart is the deploy role's trust policy, which names the runner alone.
    let use_anything =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let olga_keys = iam_user(&endpoint, "olga", use_anything);
    let runner_keys = iam_user(&endpoint, "runner", use_anything);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        runner_keys.2
    );
    let role_arn = on_moto(&endpoint, |conf| async move {
        let iam = aws_sdk_iam::Client::new(&conf);
        let role = iam
            .create_role()
            .role_name("opsdeck-deploy")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        iam.put_role_policy()
            .role_name("opsdeck-deploy")
            .policy_name("deploy")
            .policy_document(use_anything)
            .send()
            .await
            .unwrap();
        role.arn
    });
    let config = common::aws_configuration("deploy", &role_arn, "us-east-1");
    let code = t.code("alice");
    t.deck("alice").add_config(config, Some(&code)).unwrap();
    let olga = t.deck("olga");
    let id = approved_plan(&t, &olga, "guarded", "");

    moto.enforce_iam();
    // Olga's own keys: the role refuses her.
    let check = with_keys(&team_machine, &endpoint, "olga", &olga_keys)
        .args(["configs", "check", "deploy"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{said}");
    assert!(
        said.contains("AssumeRole") && said.contains("AccessDenied"),
        "{said}"
    );

    // She hands the plan over and follows; the runner, with its own keys, assumes and applies.
    let operator = with_keys(&team_machine, &endpoint, "olga", &olga_keys)
        .args(["apply", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runner = start_runner(
        with_keys(&runner_machine, &endpoint, "runner", &runner_keys),
        "r1",
        &[],
    );
    let followed = operator.wait_with_output().unwrap();
    stop(&runner);
    let runner_out = finish(runner);
    let stdout = String::from_utf8_lossy(&followed.stdout);
    let stderr = String::from_utf8_lossy(&followed.stderr);
    assert!(followed.status.success(), "{stdout}\n{stderr}");
    // Olga's receipt cannot see the deploy account, and says why.
    assert!(
        stderr.contains("identity receipt for plan")
            && stderr.contains("your credentials cannot assume the deploy role")
            && stderr.contains("user/olga is not authorized to perform: sts:AssumeRole"),
        "{stderr}"
    );
    // The runner's receipt: the deploy role's session, asked with the runner's credentials.
    assert!(
        stdout.contains("identity receipt of runner r1:")
            && stdout.contains("assumed-role/opsdeck-deploy/"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&runner_out.stderr)
    );
    assert!(stdout.contains("Apply complete!"), "{stdout}");
    assert!(stdout.contains(&format!("plan {id} succeeded")), "{stdout}");

    moto.stop_enforcing_iam();
    let rec = olga.approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Succeeded);
    assert_eq!(rec.executions[0].started_by, "runner");
    // The trail records what the change was made as: the deploy role's session, via runner r1.
    let trail = olga.trail().audit(&Default::default()).unwrap();
    let executing = trail
        .iter()
        .find(|r| {
            r.event.plan_id.as_deref() == Some(id.as_str()) && r.event.event.as_str() == "executing"
        })
        .expect("the executing event");
    let receipt = executing.event.identity_receipt.as_ref().expect("receipt");
    assert!(
        receipt["caller_arn"]
            .as_str()
            .is_some_and(|a| a.contains("assumed-role/opsdeck-deploy/")),
        "{receipt}"
    );
    assert_eq!(receipt["role"], role_arn.as_str());
    assert_eq!(receipt["runner"]["name"], "r1");
    let verified = t.deck("bob").trail().verify(true).unwrap();
    assert!(verified.ok, "{verified:?}");
}

/// `runner --tenants a,b`: one runner serves two tenants' queues, acting in each as its member;
/// each tenant's trail holds its own run and nothing of the other's.
#[test]
fn one_runner_serves_two_tenants_and_each_trail_holds_only_its_own_run() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("runner_two_tenants") else {
        return;
    };
    let team_machine = b.home();
    let boot = team_machine.deck("root");
    boot.admin().add_tenant("shop").unwrap();
    boot.admin().add_tenant("labs").unwrap();
    let shop = team_of(&team_machine, Some("shop"));
    let labs = team_of(&team_machine, Some("labs"));
    let runner_machine = runner_home(&b, &team_machine);
    let (shop_olga, labs_olga) = (shop.deck("olga"), labs.deck("olga"));
    let shop_plan = approved_plan(&shop, &shop_olga, "web", "");
    let labs_plan = approved_plan(&labs, &labs_olga, "lab", "");

    let runner = spawn_runner(
        &runner_machine,
        Some(&b.endpoint),
        "r1",
        &["--tenants", "shop,labs"],
    );
    wait_for("both plans applied", || {
        shop_olga.approvals().plan(&shop_plan).unwrap().state == State::Succeeded
            && labs_olga.approvals().plan(&labs_plan).unwrap().state == State::Succeeded
    });
    stop(&runner);
    let out = finish(runner);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("runner r1 serving shop, labs"), "{said}");

    for (t, deck, own, other) in [
        (&shop, &shop_olga, &shop_plan, &labs_plan),
        (&labs, &labs_olga, &labs_plan, &shop_plan),
    ] {
        let ev = events_of(deck, own);
        assert_eq!(count(&ev, "runner_claimed"), 1, "{ev:?}");
        assert_eq!(count(&ev, "completed"), 1, "{ev:?}");
        assert!(events_of(deck, other).is_empty());
        // The other tenant's plan and run log are not this tenant's to read.
        assert!(deck.approvals().plan(other).is_err());
        assert!(deck.runs().progress(other, 0).is_err());
        let verified = t.deck("bob").trail().verify(true).unwrap();
        assert!(verified.ok, "{verified:?}");
    }
}
