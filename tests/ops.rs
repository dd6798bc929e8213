//! The ops agent against moto: finding instances by tag, environment, id and name; restart,
//! stop, start and terminate with an approval by a second user (TOTP) and a health check after;
//! the production guard, maintenance windows, DryRun permission checks (moto with IAM
//! enforcement), SSM commands with the tenant's allow list and per-instance output, secret
//! rotation, snapshots, cancel between targets; through the Deck, the real binary and the
//! console.

mod common;

use common::team;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};

use common::moto::Moto;
use common::{Home, Team};
use opsdeck::Error;
use opsdeck::approval::{PlanRecord, State};
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::events::{AgentEvent, Output};
use opsdeck::pipeline::{Answer, ApplyReport, Deck};
use opsdeck::plan::{ChangeAction, GateResult, Risk, StepKind};
use opsdeck::tenant::MaintenanceWindow;
use serde_json::Value;
use support::seed;

/// The tenant's default region: the spec's requests name none.
const REGION: &str = "us-east-1";
const SPEC_RESTART: &str = "Restart EC2 instances tagged Env=staging";

fn deck(t: &Team<'_>, user: &str, moto: &Moto) -> Deck {
    t.deck_at(user, &moto.endpoint)
}

/// Events an agent reported, kept for the test to read.
#[derive(Default)]
struct Seen(Mutex<Vec<AgentEvent>>);

impl Seen {
    fn push(&self, e: AgentEvent) {
        self.0.lock().unwrap().push(e);
    }
    fn tables(&self) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Result {
                    output:
                        Output::Table {
                            title,
                            columns,
                            rows,
                        },
                    ..
                } => Some((title.clone(), columns.clone(), rows.clone())),
                _ => None,
            })
            .collect()
    }
    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Output { line, .. } => Some(line.clone()),
                AgentEvent::Progress { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

fn ask(t: &Team<'_>, user: &str, moto: &Moto, text: &str) -> (opsdeck::Result<Answer>, Seen) {
    let seen = Seen::default();
    let r = deck(t, user, moto)
        .requests()
        .request(text, &|e| seen.push(e));
    (r, seen)
}

fn plan(t: &Team<'_>, user: &str, moto: &Moto, text: &str) -> (PlanRecord, Seen) {
    match ask(t, user, moto, text) {
        (Ok(Answer::Plan(rec)), seen) => (*rec, seen),
        (other, _) => panic!("{text}: expected a plan, got {other:?}"),
    }
}

fn approve(t: &Team<'_>, user: &str, moto: &Moto, id: &str) -> PlanRecord {
    let code = t.code(user);
    deck(t, user, moto)
        .approvals()
        .approve(id, Some("checked the targets".into()), Some(&code), None)
        .expect("approve")
}

fn apply(t: &Team<'_>, user: &str, moto: &Moto, id: &str) -> (ApplyReport, Seen) {
    let seen = Seen::default();
    let rt = seed::runtime();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let d = deck(t, user, moto);
    let report = rt
        .block_on(d.runs().apply(id, &|e| seen.push(e), rx))
        .expect("apply");
    (report, seen)
}

fn aws_step(rec: &PlanRecord) -> (String, String, String, Vec<String>, Value) {
    match &rec.plan.steps[0].kind {
        StepKind::Aws {
            service,
            operation,
            region,
            targets,
            input,
            ..
        } => (
            service.clone(),
            operation.clone(),
            region.clone(),
            targets.clone(),
            input.clone(),
        ),
        other => panic!("expected an AWS step, got {other:?}"),
    }
}

/// What the diff pane and the approve overlay show of the plan's one AWS call's targets:
/// (id, name, tags, before → after), from the view model the console renders.
fn reviewed(rec: &PlanRecord) -> Vec<(String, Option<String>, Vec<String>, String)> {
    let view = opsdeck::view::AwsChangeView::of(&rec.plan);
    assert_eq!(view.calls.len(), 1, "{:?}", view.calls);
    view.calls[0]
        .targets
        .iter()
        .map(|t| (t.id.clone(), t.name.clone(), t.tags.clone(), t.transition()))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn refusal(r: opsdeck::Result<Answer>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn events(d: &Deck, subject: &str) -> Vec<opsdeck::audit::AuditRecord> {
    d.trail()
        .audit(&AuditFilter {
            subject: Some(subject.to_string()),
            ..AuditFilter::default()
        })
        .unwrap()
}

fn states(moto: &Moto, ids: &[String]) -> Vec<String> {
    seed::runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, REGION));
        let out = ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .unwrap();
        let mut by_id: Vec<(String, String)> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap().to_string(),
                    i.state().unwrap().name().unwrap().as_str().to_string(),
                )
            })
            .collect();
        by_id.sort_by_key(|(id, _)| ids.iter().position(|x| x == id));
        by_id.into_iter().map(|(_, s)| s).collect()
    })
}

#[test]
fn spec_restart_staging_is_planned_approved_applied_and_verified() {
    let Some(moto) = Moto::get("spec_restart_staging") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);

    let (rec, seen) = plan(&t, "olga", &moto, SPEC_RESTART);
    assert_eq!(rec.state, State::Pending);
    assert!(rec.plan.mutates && rec.plan.requires_approval);
    assert_eq!(rec.plan.risk, Risk::Medium);
    let (service, op, region, targets, input) = aws_step(&rec);
    assert_eq!(
        (service.as_str(), op.as_str(), region.as_str()),
        ("ec2", "RebootInstances", REGION)
    );
    // Exactly the running staging instances: the stopped batch one is shown and skipped, prod
    // is never among them.
    assert_eq!(sorted(targets.clone()), sorted(fleet.staging_web.clone()));
    assert_eq!(input["health"]["status_checks"], true);
    assert_eq!(rec.plan.resources.len(), 3);
    assert!(
        rec.plan
            .resources
            .iter()
            .all(|r| r.action == ChangeAction::Update && r.address.starts_with("ec2_instance.i-"))
    );
    let tables = seen.tables();
    let (_, columns, rows) = &tables[0];
    assert_eq!(columns.last().unwrap(), "PLAN");
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .any(|r| r[0] == fleet.stopped_batch && r.last().unwrap() == "skip: stopped")
    );
    assert!(seen.lines().iter().any(|l| l.contains("DryRun")));

    // The requester cannot approve; bob can, with a TOTP code.
    let own = t.code("olga");
    assert!(
        deck(&t, "olga", &moto)
            .approvals()
            .approve(&rec.plan.plan_id, None, Some(&own), None)
            .is_err()
    );
    let approved = approve(&t, "bob", &moto, &rec.plan.plan_id);
    assert_eq!(approved.state, State::Approved);

    let (report, seen) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    assert_eq!(report.state, State::Succeeded);
    let out = report.outputs.unwrap();
    assert_eq!(out["targets"].as_array().unwrap().len(), 3);
    assert!(
        out["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["healthy"] == true
                && t["state"] == "running"
                && t["instance_status"] == "ok")
    );
    assert!(
        out["summary"]
            .as_str()
            .unwrap()
            .starts_with("rebooted 3/3 instances in us-east-1; 3 running with status checks ok")
    );
    assert!(seen.lines().iter().any(|l| l.starts_with("restart i-")));
    assert!(
        seen.tables()
            .iter()
            .any(|(title, _, rows)| title.contains("RebootInstances") && rows.len() == 3)
    );

    // The audit records the outcome with the health check, and the chain verifies.
    let d = deck(&t, "alice", &moto);
    let trail = events(&d, &rec.plan.plan_id);
    let done = trail
        .iter()
        .find(|r| r.event.event == EventKind::Completed)
        .expect("completed event");
    let msg = done.event.message.clone().unwrap();
    assert!(
        msg.contains("rebooted 3/3") && msg.contains("status checks ok"),
        "{msg}"
    );
    assert!(
        done.event
            .artifacts
            .iter()
            .any(|a| a["name"] == "results.json")
    );
    assert!(
        trail
            .iter()
            .any(|r| r.event.event == EventKind::Approved && r.event.user_id == "bob")
    );
    assert!(d.trail().verify(true).unwrap().ok);
}

#[test]
fn production_is_refused_unless_named_and_then_gated_by_maintenance_windows() {
    let Some(moto) = Moto::get("production_guard") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);

    // Role=web matches staging and prod machines: refused, naming the prod ones.
    let (r, _) = ask(&t, "olga", &moto, "restart the instances tagged Role=web");
    let why = refusal(r);
    assert!(why.contains("production"), "{why}");
    for id in &fleet.prod_web {
        assert!(why.contains(id.as_str()), "{why}");
    }
    // By id too: a prod machine is not restarted because its id was typed.
    let (r, _) = ask(&t, "olga", &moto, &format!("reboot {}", fleet.prod_web[0]));
    assert!(refusal(r).contains("Env=prod"));
    let d = deck(&t, "alice", &moto);
    let failed = d
        .trail()
        .audit(&AuditFilter {
            event: Some("failed".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 2, "both refusals are audited");

    // Named, it plans, at a higher risk, with the production gates.
    let (rec, _) = plan(
        &t,
        "olga",
        &moto,
        "restart the instances tagged Role=web in prod",
    );
    let (_, _, _, targets, _) = aws_step(&rec);
    assert_eq!(sorted(targets), sorted(fleet.prod_web.clone()));
    assert_eq!(rec.plan.risk, Risk::High);
    assert!(
        rec.plan
            .gates
            .iter()
            .any(|g| g.rule == "maintenance.none_configured" && g.result == GateResult::Warn)
    );

    // With windows configured (Saturday 01:00-02:00 UTC), outside them the plan is denied ...
    let mut settings = d.tenant().clone();
    settings.policy.maintenance_windows = vec![MaintenanceWindow {
        days: vec!["sat".into()],
        start: "01:00".into(),
        end: "02:00".into(),
    }];
    let code = t.code("alice");
    d.admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let wednesday = next_weekday_at(&t, jiff::civil::Weekday::Wednesday, 12, 0);
    *t.clock.0.lock().unwrap() = wednesday;
    let (rec, _) = plan(&t, "olga", &moto, "Restart EC2 instances tagged Env=prod");
    assert_eq!(rec.state, State::Rejected);
    assert!(
        rec.plan
            .gates
            .iter()
            .any(|g| g.rule == "maintenance.outside_window" && g.result == GateResult::Deny)
    );
    // ... staging is not production and is not held to the windows ...
    let (rec, _) = plan(&t, "olga", &moto, SPEC_RESTART);
    assert_eq!(rec.state, State::Pending);

    // ... inside the window it queues; applied after the window closed, it is refused.
    let saturday = next_weekday_at(&t, jiff::civil::Weekday::Saturday, 1, 30);
    *t.clock.0.lock().unwrap() = saturday;
    let (rec, _) = plan(&t, "olga", &moto, "Restart EC2 instances tagged Env=prod");
    assert_eq!(rec.state, State::Pending, "{:?}", rec.plan.gates);
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    t.clock.advance_secs(3600);
    let rt = seed::runtime();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = rt
        .block_on(
            deck(&t, "olga", &moto)
                .runs()
                .apply(&rec.plan.plan_id, &|_| {}, rx),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("maintenance.outside_window"),
        "{err}"
    );
    assert_eq!(states(&moto, &fleet.prod_web), vec!["running", "running"]);
}

/// The next `day` at `hh:mm` UTC after the team clock, at least a day ahead (the clock only
/// moves forward: TOTP codes are accepted once).
fn next_weekday_at(t: &Team<'_>, day: jiff::civil::Weekday, hh: i8, mm: i8) -> jiff::Timestamp {
    use opsdeck::time::Clock;
    let now = t.clock.now().to_zoned(jiff::tz::TimeZone::UTC);
    let mut d = now.date().tomorrow().unwrap();
    while d.weekday() != day {
        d = d.tomorrow().unwrap();
    }
    d.at(hh, mm, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
}

#[test]
fn stop_start_and_terminate_with_health_checks_and_risk() {
    let Some(moto) = Moto::get("stop_start_terminate") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    let one = fleet.staging_web[1].clone();

    let (rec, _) = plan(&t, "olga", &moto, &format!("stop instance {one}"));
    assert_eq!(aws_step(&rec).1, "StopInstances");
    assert!(rec.plan.cost.notes[0].starts_with("stopping saves about $"));
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let (report, _) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    assert_eq!(states(&moto, std::slice::from_ref(&one)), vec!["stopped"]);

    // Starting stopped machines adds their compute to the bill, priced before approval.
    let (rec, _) = plan(&t, "olga", &moto, "start the stopped staging instances");
    let (_, op, _, targets, _) = aws_step(&rec);
    assert_eq!(op, "StartInstances");
    assert_eq!(
        sorted(targets),
        sorted(vec![one.clone(), fleet.stopped_batch.clone()])
    );
    // t3.medium 0.0416 + t3.large 0.0832 per hour, 730 hours
    assert_eq!(rec.plan.cost.monthly_usd, 91.11);
    assert!(rec.plan.cost.price_date.starts_with("20"));
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let (report, _) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    assert_eq!(
        states(&moto, &[one.clone(), fleet.stopped_batch.clone()]),
        vec!["running", "running"]
    );

    // Terminate: always high risk, a delete in the plan, and the destroy warning.
    let (rec, _) = plan(&t, "olga", &moto, &format!("terminate {one}"));
    assert_eq!(rec.plan.risk, Risk::High);
    assert!(rec.plan.risk_reasons[0].contains("cannot be undone"));
    assert_eq!(rec.plan.resources[0].action, ChangeAction::Delete);
    assert!(rec.plan.gates.iter().any(|g| g.rule == "change.destroy"));
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let (report, _) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    assert_eq!(
        states(&moto, std::slice::from_ref(&one)),
        vec!["terminated"]
    );
    // A terminated instance is gone from every later selection.
    let (r, _) = ask(&t, "olga", &moto, &format!("restart {one}"));
    assert!(
        matches!(r, Err(Error::Input(_)) | Err(Error::NotFound { .. })),
        "{r:?}"
    );
}

#[test]
fn read_only_questions_are_reports() {
    let Some(moto) = Moto::get("ops_reports") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    seed::secrets(&moto.endpoint, REGION);
    let _restore = Restore(moto.endpoint.clone());
    let home = Home::new();
    let t = team(&home);

    let report = |text: &str| match ask(&t, "olga", &moto, text).0 {
        Ok(Answer::Report(r)) => r,
        other => panic!("{text}: expected a report, got {other:?}"),
    };
    let r = report("list instances tagged Env=staging");
    assert_eq!(
        r.report.summary,
        "4 instances tagged Env=staging in us-east-1: 3 running, 1 stopped"
    );
    let Output::Table { rows, .. } = &r.report.outputs[0] else {
        panic!("a table")
    };
    assert_eq!(rows.len(), 4);
    assert_eq!(r.report.data["matched"], 4);

    let r = report(&format!("show instance {}", fleet.prod_web[0]));
    assert_eq!(r.report.data["instances"][0]["env_tag"], "Env=prod");
    assert_eq!(r.report.data["instances"][0]["name"], "web-prod-1");

    // An id that does not exist is said to be missing, not an AWS error dump.
    match ask(&t, "olga", &moto, "show instance i-0123456789abcdef0").0 {
        Err(e @ Error::NotFound { .. }) => {
            assert!(e.to_string().contains("i-0123456789abcdef0"), "{e}")
        }
        other => panic!("expected not found, got {other:?}"),
    }
    let r = report("list instances named batch-staging");
    assert_eq!(r.report.data["instances"][0]["state"], "stopped");

    let r = report("list the prod instances");
    assert_eq!(r.report.data["matched"], 2);

    let r = report("list EBS volumes");
    assert!(
        r.report.summary.contains("2 unattached"),
        "{}",
        r.report.summary
    );

    // Secrets are listed by name; their values are never read.
    let r = report("list secrets");
    let text = serde_json::to_string(&r.report).unwrap();
    assert!(text.contains("staging/db-password"));
    assert!(!text.contains("s3cr3t-Staging-Value"));
    assert_eq!(r.report.data["total"], 3);

    let d = deck(&t, "alice", &moto);
    let answered = d
        .trail()
        .audit(&AuditFilter {
            event: Some("answered".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(answered.len(), 6);
}

/// Puts moto's Lambda back into Docker mode when a test that changed it ends.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        seed::restore_lambda_config(&self.0);
    }
}

#[test]
fn ssm_commands_follow_the_allow_list_and_run_on_the_approved_instances() {
    let Some(moto) = Moto::get("ssm_allow_list") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    let d = deck(&t, "alice", &moto);
    let mut settings = d.tenant().clone();
    settings.policy.ssm_allowed_commands = vec!["uptime".into(), "df -h".into()];
    let code = t.code("alice");
    d.admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();

    // Not on the list: the plan is denied, nothing is sent.
    let (rec, _) = plan(
        &t,
        "olga",
        &moto,
        "run `rm -rf /var/log` on instances tagged Env=staging",
    );
    assert_eq!(rec.state, State::Rejected);
    assert!(
        rec.plan
            .gates
            .iter()
            .any(|g| g.rule == "ssm.command_not_allowed" && g.result == GateResult::Deny)
    );
    // Shell syntax never reaches SendCommand: the agent refuses it before any plan (the
    // policy's ssm.shell_metacharacters gate stays as a second line).
    let (answer, _) = ask(
        &t,
        "olga",
        &moto,
        "run `uptime; reboot` on instances tagged Env=staging",
    );
    let Err(err) = answer else {
        panic!("shell syntax was planned")
    };
    let err = err.to_string();
    assert!(
        err.contains("holds ';'") && err.contains("plain words"),
        "{err}"
    );

    // On the list: the running staging instances, approved, sent, each reported.
    let (rec, seen) = plan(
        &t,
        "olga",
        &moto,
        "run `uptime` on instances tagged Env=staging",
    );
    assert_eq!(rec.state, State::Pending);
    let (service, op, _, targets, input) = aws_step(&rec);
    assert_eq!((service.as_str(), op.as_str()), ("ssm", "SendCommand"));
    assert_eq!(sorted(targets.clone()), sorted(fleet.staging_web.clone()));
    assert_eq!(input["commands"], serde_json::json!(["uptime"]));
    assert_eq!(input["document"], "AWS-RunShellScript");
    // The reviewer sees each instance as the agent saw it: name, environment tag, state.
    let shown = reviewed(&rec);
    assert_eq!(shown.len(), fleet.staging_web.len(), "{shown:?}");
    for (id, name, tags, change) in &shown {
        assert!(fleet.staging_web.contains(id), "{shown:?}");
        assert!(name.as_deref().is_some_and(|n| !n.is_empty()), "{shown:?}");
        assert_eq!(tags, &vec!["Env=staging".to_string()], "{shown:?}");
        assert_eq!(change, "running → sent", "{shown:?}");
    }
    // moto (to 5.2.6 at least, the release tests/python-requirements.lock pins) has no
    // DescribeInstanceInformation: said, not hidden. This part of the test needs that gap; the
    // stub test below checks the plan when SSM does say which instances it manages.
    assert!(
        seen.lines()
            .iter()
            .any(|l| l.contains("could not check which instances SSM manages")),
        "a moto with DescribeInstanceInformation? {:?}",
        seen.lines()
    );
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let (report, seen) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    let out = report.outputs.unwrap();
    assert_eq!(out["instances"].as_array().unwrap().len(), 3);
    assert!(out["summary"].as_str().unwrap().contains("3 succeeded"));
    for id in &fleet.staging_web {
        assert!(
            seen.lines()
                .iter()
                .any(|l| l.starts_with(&format!("{id} | "))),
            "{id}"
        );
    }
    // What moto received: one command with the approved instances. (moto adds every instance
    // of the region to a command sent with explicit ids; the stub test checks the exact list.)
    let sent = seed::runtime().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&seed::conf(&moto.endpoint, REGION));
        ssm.list_commands().send().await.unwrap()
    });
    assert_eq!(sent.commands().len(), 1);
    let cmd = &sent.commands()[0];
    assert!(targets.iter().all(|t| cmd.instance_ids().contains(t)));
    assert_eq!(cmd.document_name(), Some("AWS-RunShellScript"));
    assert_eq!(
        cmd.parameters().unwrap()["commands"],
        vec!["uptime".to_string()]
    );
}

#[test]
fn ssm_output_per_instance_through_the_binary() {
    let Some(moto) = Moto::get("ssm_output_binary") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let managed = fleet.staging_web[..2].to_vec();
    let failing = managed[1].clone();
    // SSM as the service answers it: two of the three staging machines run the agent; one
    // of them fails the command. (moto implements neither the registration nor the output.)
    let stub = support::stub::Stub::ssm(managed.clone(), "cmd-0001", {
        let failing = failing.clone();
        move |id, n| {
            if n <= 2 {
                return serde_json::json!({"CommandId": "cmd-0001", "InstanceId": id, "Status": "InProgress"});
            }
            if id == failing {
                serde_json::json!({"CommandId": "cmd-0001", "InstanceId": id, "Status": "Failed",
                    "ResponseCode": 1, "StandardOutputContent": "", "StandardErrorContent": "df: /data: No such file or directory\n"})
            } else {
                serde_json::json!({"CommandId": "cmd-0001", "InstanceId": id, "Status": "Success",
                    "ResponseCode": 0, "StandardOutputContent": format!("Filesystem Size Used Avail Use% Mounted on\n/dev/nvme0n1p1 8.0G 2.1G 5.9G 27% / ({id})\n"),
                    "StandardErrorContent": ""})
            }
        }
    });
    let home = Home::new();
    let (alice, bob) = common::enrol_cli(&home);
    let env = |c: &mut assert_cmd::Command| {
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("AWS_ENDPOINT_URL_SSM", &stub.endpoint);
    };
    let mut settings = home.cmd();
    env(&mut settings);
    let toml_file = home.path().join("tenant.toml");
    let shown = settings
        .args(["--user", "alice", "tenants", "show"])
        .output()
        .unwrap();
    let mut toml_text = String::from_utf8(shown.stdout).unwrap();
    toml_text = toml_text.replace(
        "ssm_allowed_commands = []",
        "ssm_allowed_commands = [\"df -h\", \"uptime\"]",
    );
    assert!(toml_text.contains("df -h"), "{toml_text}");
    std::fs::write(&toml_file, toml_text).unwrap();
    let mut set = home.cmd();
    env(&mut set);
    set.args(["--user", "alice", "tenants", "set", "--file"])
        .arg(&toml_file)
        .arg("--totp")
        .arg(common::code(&alice, 1))
        .assert()
        .success();

    let mut ask = home.cmd();
    env(&mut ask);
    let out = ask
        .args([
            "--user",
            "alice",
            "--json",
            "ask",
            "run `df -h` on instances tagged Env=staging",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = plan["plan_id"].as_str().unwrap().to_string();
    // Only the instances SSM manages are targeted.
    assert_eq!(
        sorted(serde_json::from_value(plan["steps"][0]["targets"].clone()).unwrap()),
        sorted(managed.clone())
    );
    let mut approve = home.cmd();
    env(&mut approve);
    approve
        .args(["--user", "bob", "approve", &id, "--totp"])
        .arg(common::code(&bob, 0))
        .assert()
        .success();
    let mut apply = home.cmd();
    env(&mut apply);
    let out = apply
        .args(["--user", "alice", "apply", &id])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One failed instance fails the step (exit 8), and every instance's output is shown.
    assert_eq!(out.status.code(), Some(8), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} | /dev/nvme0n1p1 8.0G 2.1G 5.9G 27% / ({})",
            managed[0], managed[0]
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{failing} | stderr: df: /data: No such file or directory"
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains("INSTANCE") && stdout.contains("Failed"),
        "{stdout}"
    );
    let sent = stub.calls("SendCommand");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["DocumentName"], "AWS-RunShellScript");
    assert_eq!(
        sent[0]["Parameters"]["commands"],
        serde_json::json!(["df -h"])
    );
    assert_eq!(
        sorted(serde_json::from_value(sent[0]["InstanceIds"].clone()).unwrap()),
        sorted(managed.clone())
    );
    // The audit has the per-instance result.
    let mut audit = home.cmd();
    env(&mut audit);
    let out = audit
        .args(["--user", "alice", "--json", "audit", "show", &id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 succeeded, 1 failed"), "{text}");
}

#[test]
fn dry_run_refuses_what_the_credentials_may_not_do() {
    let Some(moto) = Moto::get("dry_run_permissions") else {
        return;
    };
    let _held = moto.exclusive();
    seed::fleet(&moto.endpoint, REGION);
    let (viewer_key, viewer_secret) = seed::iam_user(&moto.endpoint, "looker", &["ec2:Describe*"]);
    let (op_key, op_secret) = seed::iam_user(
        &moto.endpoint,
        "rebooter",
        &["ec2:Describe*", "ec2:RebootInstances"],
    );
    // From here on moto checks every call against IAM, like AWS does.
    seed::post(&moto.endpoint, "/moto-api/reset-auth", "0");
    let _auth = AuthOff(moto.endpoint.clone());
    let home = Home::new();
    let run = |key: &str, secret: &str| {
        let mut c = home.cmd();
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_SESSION_TOKEN")
            .args(["--json", "ask", SPEC_RESTART])
            .output()
            .unwrap()
    };
    let out = run(&viewer_key, &viewer_secret);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("may not call ec2 RebootInstances"),
        "{stderr}"
    );
    // moto answers AccessDenied where AWS answers UnauthorizedOperation; both refuse.
    assert!(
        stderr.contains("AccessDenied") || stderr.contains("UnauthorizedOperation"),
        "{stderr}"
    );
    let out = run(&op_key, &op_secret);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["state"], "pending");
}

/// Turns moto's IAM enforcement back off when the test ends.
struct AuthOff(String);

impl Drop for AuthOff {
    fn drop(&mut self) {
        seed::post(&self.0, "/moto-api/reset-auth", "inf");
    }
}

#[test]
fn rotate_a_secret_and_refuse_what_cannot_rotate() {
    let Some(moto) = Moto::get("rotate_secret") else {
        return;
    };
    let _held = moto.exclusive();
    seed::secrets(&moto.endpoint, REGION);
    let _restore = Restore(moto.endpoint.clone());
    let home = Home::new();
    let t = team(&home);

    let (r, _) = ask(&t, "olga", &moto, "rotate secret staging/plain");
    assert!(refusal(r).contains("has no rotation function"));
    let (r, _) = ask(&t, "olga", &moto, "rotate secret prod/api-key");
    assert!(refusal(r).contains("production"));

    let (rec, _) = plan(&t, "olga", &moto, "rotate secret staging/db-password");
    let (service, op, _, targets, input) = aws_step(&rec);
    assert_eq!(
        (service.as_str(), op.as_str()),
        ("secretsmanager", "RotateSecret")
    );
    assert!(targets[0].starts_with("arn:aws:secretsmanager:us-east-1:"));
    // The reviewer sees the secret by name, ARN, tag and when it last changed; never its value.
    let shown = reviewed(&rec);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let (id, name, tags, change) = &shown[0];
    assert_eq!(id, &targets[0]);
    assert_eq!(name.as_deref(), Some("staging/db-password"));
    assert_eq!(tags, &vec!["Env=staging".to_string()]);
    assert!(change.starts_with("last changed 20"), "{change}");
    assert!(change.ends_with(" → rotated"), "{change}");
    let stored = serde_json::to_string(&rec).unwrap();
    assert!(!stored.contains("s3cr3t-Staging-Value"), "{stored}");
    assert!(
        input["rotation_function"]
            .as_str()
            .unwrap()
            .ends_with(":function:secret-rotator")
    );
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    // moto invokes the configured function without running it; the test plays the function's
    // last step (promote the new version) while apply waits for it.
    let before = seed::pending_version(&moto.endpoint, REGION, "staging/db-password");
    let endpoint = moto.endpoint.clone();
    let rotator = std::thread::spawn(move || {
        seed::runtime().block_on(seed::finish_rotation(
            &endpoint,
            REGION,
            "staging/db-password",
            before,
        ))
    });
    let (report, _) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    rotator.join().unwrap();
    assert!(report.success, "{report:?}");
    let out = report.outputs.unwrap();
    assert!(out["summary"].as_str().unwrap().contains("is AWSCURRENT"));
    assert!(
        !serde_json::to_string(&out)
            .unwrap()
            .contains("Secret-Value")
    );
}

#[test]
fn snapshots_of_the_volumes_of_tagged_instances() {
    let Some(moto) = Moto::get("snapshots") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);

    let (rec, _) = plan(
        &t,
        "olga",
        &moto,
        "snapshot the volumes of instances tagged Env=staging",
    );
    let (_, op, _, targets, input) = aws_step(&rec);
    assert_eq!(op, "CreateSnapshot");
    // Four root volumes and the attached data volume; unattached ones are not among them.
    assert_eq!(targets.len(), 5);
    assert!(targets.contains(&fleet.attached_data));
    assert!(!targets.iter().any(|v| fleet.unattached.contains(v)));
    assert_eq!(rec.plan.risk, Risk::Low);
    assert!(
        rec.plan
            .cost
            .lines
            .iter()
            .any(|l| l.item.contains(&fleet.attached_data))
    );
    assert!(rec.plan.cost.monthly_usd > 0.0);
    assert_eq!(input["tags"]["CreatedBy"], "opsdeck");
    // The reviewer sees each volume as the agent saw it: the data volume by its name and tag.
    let shown = reviewed(&rec);
    assert_eq!(
        sorted(shown.iter().map(|t| t.0.clone()).collect()),
        sorted(targets.clone())
    );
    assert!(shown.iter().all(|t| t.3 == "in-use → created"), "{shown:?}");
    let data = shown.iter().find(|t| t.0 == fleet.attached_data).unwrap();
    assert_eq!(data.1.as_deref(), Some("web-data"), "{shown:?}");
    assert_eq!(data.2, vec!["Env=staging".to_string()], "{shown:?}");
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let (report, _) = apply(&t, "olga", &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    let taken = seed::runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, REGION));
        ec2.describe_snapshots()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:CreatedBy")
                    .values("opsdeck")
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    assert_eq!(taken.snapshots().len(), 5);

    let (rec, _) = plan(
        &t,
        "olga",
        &moto,
        &format!("snapshot volume {}", fleet.unattached[0]),
    );
    assert_eq!(aws_step(&rec).3, vec![fleet.unattached[0].clone()]);
}

#[test]
fn cancel_stops_between_targets() {
    let Some(moto) = Moto::get("cancel_between_targets") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    let (rec, _) = plan(
        &t,
        "olga",
        &moto,
        "stop the staging instances tagged Role=web",
    );
    approve(&t, "bob", &moto, &rec.plan.plan_id);
    let rt = seed::runtime();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Mutex::new(Some(tx));
    // Cancel once the first instance was stopped, as the second is about to be: no call is in
    // flight, so nothing is abandoned and what AWS did is known.
    let sink = |e: AgentEvent| {
        if let AgentEvent::Progress { message, .. } = &e
            && message.starts_with("stop i-")
            && message.ends_with("(2/3)")
            && let Some(tx) = tx.lock().unwrap().take()
        {
            tx.send(true).unwrap();
        }
    };
    let report = rt
        .block_on(
            deck(&t, "olga", &moto)
                .runs()
                .apply(&rec.plan.plan_id, &sink, rx),
        )
        .unwrap();
    assert!(report.cancelled && !report.success, "{report:?}");
    assert_eq!(report.state, State::Cancelled);
    let summary = report.outputs.unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        summary.contains("stopped 1/3") && summary.contains("2 not acted on"),
        "{summary}"
    );
    let (_, _, _, targets, _) = aws_step(&rec);
    let now = states(&moto, &targets);
    assert_eq!(now.iter().filter(|s| *s == "stopped").count(), 1, "{now:?}");
    assert_eq!(now.iter().filter(|s| *s == "running").count(), 2, "{now:?}");
    let _ = fleet;
    let d = deck(&t, "alice", &moto);
    assert!(
        events(&d, &rec.plan.plan_id)
            .iter()
            .any(|r| r.event.event == EventKind::Cancelled)
    );
}

#[test]
fn spec_restart_through_the_binary_with_approval_and_apply() {
    let Some(moto) = Moto::get("spec_restart_binary") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let (_alice, bob) = common::enrol_cli(&home);
    let cmd = |args: &[&str]| {
        let mut c = home.cmd();
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        // The flag, not the environment, points the binary at moto here.
        c.env_remove("AWS_ENDPOINT_URL")
            .args(["--endpoint-url", &moto.endpoint])
            .args(args);
        c
    };
    let out = cmd(&["--user", "alice", "--json", "ask", SPEC_RESTART])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["state"], "pending");
    assert_eq!(plan["steps"][0]["type"], "aws");
    assert_eq!(plan["steps"][0]["operation"], "RebootInstances");
    assert_eq!(
        sorted(serde_json::from_value(plan["steps"][0]["targets"].clone()).unwrap()),
        sorted(fleet.staging_web.clone())
    );
    let id = plan["plan_id"].as_str().unwrap();
    // Not approved yet: apply refuses.
    assert_eq!(
        cmd(&["--user", "alice", "apply", id])
            .output()
            .unwrap()
            .status
            .code(),
        Some(5)
    );
    cmd(&["--user", "bob", "approve", id, "--totp"])
        .arg(common::code(&bob, 0))
        .assert()
        .success();
    let out = cmd(&["--user", "alice", "--json", "apply", id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "succeeded");
    assert_eq!(report["outputs"]["targets"].as_array().unwrap().len(), 3);
    let out = cmd(&["--user", "alice", "--json", "audit", "show", id])
        .output()
        .unwrap();
    let trail: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["event"]["event"].as_str())
        .collect();
    for k in ["planned", "queued", "approved", "executing", "completed"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    // The report of a question comes back as a report.
    let out = cmd(&[
        "--user",
        "alice",
        "--json",
        "ask",
        "list instances tagged Env=staging",
    ])
    .output()
    .unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["report"]["outputs"][0]["shape"], "table");
    assert_eq!(answer["report"]["data"]["matched"], 4);
}

#[test]
fn console_shows_the_targets_and_queues_the_plan() {
    use opsdeck::tui::app::{App, AppOptions, Msg};
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let Some(moto) = Moto::get("console_ops") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    let rt = seed::runtime();
    let mut app = App::new(
        Arc::new(deck(&t, "olga", &moto)),
        AppOptions {
            theme: opsdeck::tui::theme::Theme::builtin("dark", false).unwrap(),
            keymap: opsdeck::tui::keymap::Keymap::defaults().unwrap(),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    );
    rt.block_on(async {
        app.start();
        for c in SPEC_RESTART.chars() {
            app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            ))));
        }
        app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        ))));
        assert!(
            app.run_until(std::time::Duration::from_secs(30), |a| a
                .preview
                .plan
                .is_some())
                .await
        );
    });
    let rec = app.preview.plan.clone().unwrap();
    assert_eq!(rec.state, State::Pending);
    assert_eq!(sorted(aws_step(&rec).3), sorted(fleet.staging_web.clone()));
    // The target table was rendered into the conversation, the skipped instance with it.
    let text: Vec<String> = app.transcript.lines.iter().map(|l| l.text()).collect();
    for id in fleet.all_staging() {
        assert!(
            text.iter().any(|l| l.contains(&id)),
            "{id} not shown: {text:#?}"
        );
    }
    assert!(text.iter().any(|l| l.contains("skip: stopped")));
}

#[test]
fn wide_selections_plan_with_counted_resources_and_pass_the_policies() {
    let Some(moto) = Moto::get("wide_selection") else {
        return;
    };
    let _held = moto.exclusive();
    let ids = seed::runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, REGION));
        let ami = seed::image(&ec2).await;
        seed::launch(
            &ec2,
            &ami,
            20,
            20,
            "t3.small",
            &[("Env", "uat"), ("Role", "worker")],
        )
        .await;
        // One reservation each, so that moto (which pages by reservation) pages them too.
        seed::launch(
            &ec2,
            &ami,
            120,
            1,
            "t3.small",
            &[("Env", "qa"), ("Role", "worker")],
        )
        .await
    });
    let home = Home::new();
    let t = team(&home);
    // Twenty targets are listed one by one, and every policy evaluates over them.
    let (rec, _) = plan(&t, "olga", &moto, "restart the uat instances");
    assert_eq!(rec.state, State::Pending, "{:?}", rec.plan.gates);
    assert_eq!(rec.plan.resources.len(), 20);
    let (rec, _) = plan(&t, "olga", &moto, "restart the qa instances");
    assert_eq!(rec.state, State::Pending, "{:?}", rec.plan.gates);
    assert!(
        !rec.plan.gates.iter().any(|g| g.rule == "policy.error"),
        "{:?}",
        rec.plan.gates
    );
    assert_eq!(sorted(aws_step(&rec).3), sorted(ids));
    // Every target is in the step; the resources say how many in one line.
    assert_eq!(rec.plan.resources.len(), 1);
    assert_eq!(rec.plan.resources[0].address, "ec2_instance.*");
    assert_eq!(rec.plan.resources[0].count, 120);
    // More than 50 at once raises the risk.
    assert_eq!(rec.plan.risk, Risk::High);
    // A listing reads them a page at a time.
    match ask(&t, "olga", &moto, "list the qa instances").0 {
        Ok(Answer::Report(r)) => {
            assert_eq!(r.report.data["matched"], 120);
            assert!(
                r.report.data["pages"].as_u64().unwrap() >= 2,
                "{}",
                r.report.data["pages"]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tag_key_in_the_wrong_case_is_named_with_the_key_that_exists() {
    let Some(moto) = Moto::get("tag_key_case") else {
        return;
    };
    let _held = moto.exclusive();
    seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    // The instances carry Env=staging; "env=staging" matches nothing, because AWS tag keys are
    // case-sensitive: the answer says so and offers the key that exists, never a guess.
    let (r, _) = ask(&t, "olga", &moto, "restart instances tagged env=staging");
    let err = match r {
        Err(e) => e.to_string(),
        Ok(other) => panic!("expected a refusal, got {other:?}"),
    };
    assert!(err.contains("case-sensitive"), "{err}");
    assert!(err.contains("\"Env=staging\""), "{err}");
    // With the key as it exists, the same request plans.
    let (rec, _) = plan(&t, "olga", &moto, "restart instances tagged Env=staging");
    assert_eq!(rec.state, State::Pending);
}
