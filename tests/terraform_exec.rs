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
use opsdeck::approval::State;
use opsdeck::events::AgentEvent;
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
    let rec = alice
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap();
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
    let report = rt().block_on(alice.runs().apply(&id, &sink, rx)).unwrap();
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
    let events = alice.trail().audit(&Default::default()).unwrap();
    let done = events
        .iter()
        .find(|r| r.event.event.as_str() == "completed")
        .unwrap();
    let uri = done.event.execution_logs.clone().unwrap();
    let log = std::fs::read_to_string(uri.trim_start_matches("file://")).unwrap();
    assert!(log.contains("terraform apply"));
    // Applying twice is refused.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(rt().block_on(alice.runs().apply(&id, &quiet, rx)).is_err());

    // Destroy by name uses the stack's applied configuration and state.
    let rec = alice.requests().ask("destroy stack hello", &quiet).unwrap();
    assert_eq!(rec.plan.action, "destroy");
    t.approve("bob", &rec.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(alice.runs().apply(&rec.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success);
    let stack = alice
        .raw_store()
        .get_stack("default", "hello")
        .unwrap()
        .unwrap();
    assert_eq!(stack.status, StackStatus::Destroyed);
    assert!(alice.trail().verify(false).unwrap().ok);
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
        .requests()
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
    let report = rt().block_on(alice.runs().apply(&id, &sink, rx)).unwrap();
    assert!(report.cancelled, "{report:?}");
    assert_eq!(report.state, State::Cancelled);
    assert!(
        started.elapsed().as_secs() < 45,
        "cancel did not stop terraform"
    );
    let events = alice.trail().audit(&Default::default()).unwrap();
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

#[test]
fn apply_runs_the_saved_plan_the_approval_covers() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    let dir = terraform_data_dir("");
    let rec = alice
        .requests()
        .submit_terraform(dir.path(), "saved", &quiet)
        .unwrap();
    let p = &rec.plan;
    let d = &p.dry_runs[0];
    assert_eq!(d.status, opsdeck::plan::DryRunStatus::Planned, "{d:?}");
    assert_eq!(d.summary, "+1 ~0 -0");
    let saved = p
        .artifacts
        .iter()
        .find(|a| a.name == "opsdeck.tfplan")
        .unwrap();
    assert_eq!(saved.kind, opsdeck::plan::ArtifactKind::TerraformPlan);
    assert!(d.binds.contains(&saved.sha256[..12]), "{}", d.binds);
    // The saved plan is part of what the approval binds: changing it afterwards is refused.
    let path = home
        .path()
        .join("tenants/default/artifacts")
        .join(&saved.sha256[..2])
        .join(&saved.sha256);
    let original = std::fs::read(&path).unwrap();
    std::fs::write(&path, b"not the plan that was reviewed").unwrap();
    let err = t.approve("bob", &p.plan_id).unwrap_err().to_string();
    assert!(err.contains("opsdeck.tfplan of plan"), "{err}");
    std::fs::write(&path, &original).unwrap();
    t.approve("bob", &p.plan_id).unwrap();

    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(alice.runs().apply(&p.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success, "{report:?}");
    let log =
        std::fs::read_to_string(report.log_uri.unwrap().trim_start_matches("file://")).unwrap();
    assert!(
        log.contains("$ terraform apply -input=false -no-color -lock-timeout=30s opsdeck.tfplan"),
        "{log}"
    );
    assert!(
        !log.contains("$ terraform plan"),
        "planned again at apply:\n{log}"
    );
}

#[test]
fn without_terraform_the_plan_says_so_and_binds_the_configuration() {
    let home = Home::new();
    home.configure("[exec]\nterraform = \"/nonexistent/terraform\"\n");
    let t = team(&home);
    let dir = terraform_data_dir("");
    let rec = t
        .deck("alice")
        .requests()
        .submit_terraform(dir.path(), "later", &quiet)
        .unwrap();
    let p = &rec.plan;
    let d = &p.dry_runs[0];
    assert_eq!(d.status, opsdeck::plan::DryRunStatus::Unavailable);
    assert!(d.notes[0].contains("terraform is not installed"), "{d:?}");
    assert!(
        d.binds
            .starts_with("the Terraform configuration (files hash"),
        "{}",
        d.binds
    );
    assert!(d.binds.contains("local state: none yet"), "{}", d.binds);
    assert!(p.artifacts.iter().all(|a| a.name != "opsdeck.tfplan"));
    // The template-derived resource list stands in for Terraform's.
    assert_eq!(p.resources[0].address, "terraform_data.hello");
    let gate = p
        .gates
        .iter()
        .find(|g| g.rule == "dry_run.terraform")
        .unwrap();
    assert_eq!(gate.result.as_str(), "info");
    assert_eq!(rec.state, State::Pending);
}

#[test]
fn state_in_s3_is_shared_and_checked_before_apply() {
    use common::moto::Moto;
    let Some(_) = terraform() else { return };
    let Some(moto) = Moto::get("state_in_s3_is_shared_and_checked_before_apply") else {
        return;
    };
    let rt = rt();
    let bucket = format!("opsdeck-state-{}", std::process::id());
    let conf = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(&moto.endpoint)
            .load(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    rt.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    let home = Home::new();
    home.configure(&format!(
        "[exec.state]\nbackend = \"s3\"\nbucket = \"{bucket}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n",
        moto.endpoint
    ));
    let t = team(&home);
    let alice = t.deck("alice");
    let a_dir = terraform_data_dir("");
    let b_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        b_dir.path().join("main.tf"),
        "resource \"terraform_data\" \"hello\" {\n  input = \"other\"\n}\n",
    )
    .unwrap();
    let a = alice
        .requests()
        .submit_terraform(a_dir.path(), "s3web", &quiet)
        .unwrap();
    let b = alice
        .requests()
        .submit_terraform(b_dir.path(), "s3web", &quiet)
        .unwrap();
    let d = &a.plan.dry_runs[0];
    assert_eq!(d.status, opsdeck::plan::DryRunStatus::Planned, "{d:?}");
    let key = "opsdeck/state/default/s3web/terraform.tfstate";
    assert!(
        d.binds.contains(&format!("s3://{bucket}/{key}")),
        "{}",
        d.binds
    );
    t.approve("bob", &a.plan.plan_id).unwrap();
    t.approve("bob", &b.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt
        .block_on(alice.runs().apply(&a.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(report.success, "{report:?}");
    let state = rt
        .block_on(s3.get_object().bucket(&bucket).key(key).send())
        .unwrap();
    let body = rt.block_on(state.body.collect()).unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&body).contains("\"hello\""));
    // B was planned against the empty state: refused once the backend is read.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt
        .block_on(alice.runs().apply(&b.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(!report.success);
    let log =
        std::fs::read_to_string(report.log_uri.unwrap().trim_start_matches("file://")).unwrap();
    assert!(
        log.contains("state changed since the plan; re-plan"),
        "{log}"
    );
    let detail = alice.stack_detail("s3web").unwrap();
    assert_eq!(detail.backend, format!("s3://{bucket}/{key}"));
}
