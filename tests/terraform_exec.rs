//! Apply, destroy and cancel with the real terraform binary on terraform_data stacks (offline).
//! Skipped, with the reason printed, where no terraform is installed.

mod common;

use std::sync::{Arc, Mutex};

use common::{Home, Team, quiet, terraform, terraform_data_dir};
use opsdeck::tenant::Role;

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    )
}
use opsdeck::agents::AgentEvent;
use opsdeck::approval::State;
use opsdeck::store::StackStatus;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn apply_then_destroy_a_stack_with_progress_and_audit() {
    let Some(_) = terraform() else { return };
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("TF_CLI_CONFIG_FILE", "/dev/null") };
    let home = Home::new();
    let dir = terraform_data_dir("");
    let t = team(&home);
    let alice = t.deck("alice");
    let rec = alice.submit_terraform(dir.path(), "hello", &quiet).unwrap();
    let id = rec.plan.plan_id.clone();
    t.approve("bob", &id).unwrap();

    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink_lines = lines.clone();
    let sink = move |e: AgentEvent| {
        if let AgentEvent::Output { line, .. } = e {
            sink_lines.lock().unwrap().push(line);
        }
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt().block_on(alice.apply(&id, &sink, rx)).unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(report.state, State::Succeeded);
    assert_eq!(
        report.outputs.as_ref().unwrap()["greeting"]["value"],
        "hello"
    );
    let streamed = lines.lock().unwrap().join("\n");
    assert!(
        streamed.contains("Apply complete! Resources: 1 added"),
        "{streamed}"
    );

    // The log is stored and linked from the audit event.
    let events = alice.audit(&Default::default()).unwrap();
    let done = events
        .iter()
        .find(|r| r.event.event.as_str() == "completed")
        .unwrap();
    let uri = done.event.execution_logs.clone().unwrap();
    let log = std::fs::read_to_string(uri.trim_start_matches("file://")).unwrap();
    assert!(log.contains("terraform apply"));
    // Applying twice is refused.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(rt().block_on(alice.apply(&id, &quiet, rx)).is_err());

    // Destroy by name uses the stack's applied configuration and state.
    let rec = alice.ask("destroy stack hello", &quiet).unwrap();
    assert_eq!(rec.plan.action, "destroy");
    t.approve("bob", &rec.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(alice.apply(&rec.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success);
    let stack = alice.store.get_stack("default", "hello").unwrap().unwrap();
    assert_eq!(stack.status, StackStatus::Destroyed);
    assert!(alice.verify(false).unwrap().ok);
}

#[test]
fn cancel_stops_terraform_and_records_it() {
    let Some(_) = terraform() else { return };
    unsafe { std::env::set_var("TF_CLI_CONFIG_FILE", "/dev/null") };
    let home = Home::new();
    let dir = terraform_data_dir(
        "resource \"terraform_data\" \"slow\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 60\"\n  }\n}\n",
    );
    let t = team(&home);
    let alice = t.deck("alice");
    let id = alice
        .submit_terraform(dir.path(), "slow", &quiet)
        .unwrap()
        .plan
        .plan_id;
    t.approve("bob", &id).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let sink = move |e: AgentEvent| {
        // Cancel as soon as the slow provisioner starts.
        if let AgentEvent::Output { line, .. } = &e
            && line.contains("Provisioning with 'local-exec'")
        {
            let _ = tx.send(true);
        }
    };
    let started = std::time::Instant::now();
    let report = rt().block_on(alice.apply(&id, &sink, rx)).unwrap();
    assert!(report.cancelled, "{report:?}");
    assert_eq!(report.state, State::Cancelled);
    assert!(
        started.elapsed().as_secs() < 45,
        "cancel did not stop terraform"
    );
    let events = alice.audit(&Default::default()).unwrap();
    assert_eq!(events.last().unwrap().event.event.as_str(), "cancelled");
}

#[test]
fn cli_apply_runs_terraform() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let (_, bob) = common::enrol_cli(&home);
    let dir = terraform_data_dir("");
    let out = home
        .cmd()
        .args(["--json", "submit"])
        .arg(dir.path())
        .args(["--stack", "cli-demo"])
        .assert()
        .success();
    let id = common::plan_id(&out.get_output().stdout);
    home.cmd()
        .args([
            "--user",
            "bob",
            "approve",
            &id,
            "--totp",
            &common::code(&bob, 0),
        ])
        .assert()
        .success();
    home.cmd()
        .args(["apply", &id])
        .assert()
        .success()
        .stderr(predicates::str::contains("terraform apply"))
        .stdout(predicates::str::contains("succeeded"));
    home.cmd()
        .args(["stacks"])
        .assert()
        .success()
        .stdout(predicates::str::contains("cli-demo"));
}
