//! Stored reports: `reports().refresh` stores a built report as an artifact (audited as
//! `report_generated`), `history` lists the runs, `compare` says what changed between the
//! latest and an older run (the one nearest a week ago, or a named run); on the local store
//! and on moto (the shared backend), and through the binary.

mod common;

use common::shared::SharedBackend;
use common::{Team, quiet, team, terraform, terraform_data_dir};
use opsdeck::audit::EventKind;
use opsdeck::pipeline::{CompareWith, Deck};
use opsdeck::reports::compare::OutputChange;
use opsdeck::reports::{ReportName, ReportOptions};

const DAY: i64 = 86_400;

fn submit(olga: &Deck, stack: &str) {
    let dir = terraform_data_dir("");
    olga.requests()
        .submit_terraform(dir.path(), stack, &quiet)
        .expect("submit");
}

/// Three runs of the operations report: a week apart with a plan in between, then a day later.
/// Returns the runs' ids, oldest first.
fn three_runs(t: &Team<'_>) -> Vec<String> {
    let bob = t.deck("bob");
    let opts = ReportOptions::default();
    let (doc, first) = bob
        .reports()
        .refresh(ReportName::Operations, &opts)
        .unwrap();
    assert_eq!(doc.name, ReportName::Operations);
    assert_eq!(first.summary, doc.summary);
    t.clock.advance_secs(7 * DAY);
    submit(&t.deck("olga"), "web");
    let (_, second) = bob
        .reports()
        .refresh(ReportName::Operations, &opts)
        .unwrap();
    t.clock.advance_secs(DAY);
    let (_, third) = bob
        .reports()
        .refresh(ReportName::Operations, &opts)
        .unwrap();
    vec![first.run_id, second.run_id, third.run_id]
}

fn check_store(t: &Team<'_>) {
    let ids = three_runs(t);
    let bob = t.deck("bob");
    let runs = bob.reports().history(ReportName::Operations).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(),
        ids
    );
    assert!(runs.iter().all(|r| r.by == "bob"));
    assert!(
        bob.reports().history(ReportName::Cost).unwrap().is_empty(),
        "each report has its own runs"
    );
    // Every run is an audited artifact that reads back as the report it was.
    let events = bob
        .trail()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.event.event == EventKind::ReportGenerated)
        .count();
    assert_eq!(events, 3);
    let doc = bob.reports().stored(&runs[0]).unwrap();
    assert_eq!(doc.summary, runs[0].summary);

    // A week ago is nearest the first run (the second is only a day old): the plan made in
    // between moved "plans made" 0 → 1 and added olga to the top requesters.
    let week = CompareWith::parse("7d", bob.clock());
    let c = bob
        .reports()
        .compare(ReportName::Operations, &week)
        .unwrap();
    assert_eq!(c.latest.run_id, ids[2]);
    assert_eq!(c.older.run_id, ids[0]);
    let summary = &c.outputs[0];
    assert_eq!(summary.change, OutputChange::Changed, "{c:#?}");
    let plans = summary
        .moved
        .iter()
        .find(|m| m.row == "plans made")
        .expect("plans made moved");
    assert_eq!((plans.before.as_str(), plans.after.as_str()), ("0", "1"));
    assert_eq!(plans.delta, Some(1.0));
    let requesters = c
        .outputs
        .iter()
        .find(|o| o.title == "top requesters")
        .expect("top requesters");
    assert_eq!(requesters.rows_added, ["olga"], "{c:#?}");
    // The series of plans per day moved on by eight days: days left and came.
    let per_day = c
        .outputs
        .iter()
        .find(|o| o.title == "plans per day")
        .unwrap();
    assert_eq!(per_day.rows_added.len(), 8, "{per_day:?}");
    assert_eq!(per_day.rows_removed.len(), 8);

    // A named run (a prefix of its id): the day-old one, with nothing new since.
    let c = bob
        .reports()
        .compare(
            ReportName::Operations,
            &CompareWith::Run(ids[1][..18].into()),
        )
        .unwrap();
    assert_eq!(c.older.run_id, ids[1]);
    assert!(c.outputs[0].moved.iter().all(|m| m.row != "plans made"));
    let e = bob
        .reports()
        .compare(ReportName::Operations, &CompareWith::Run("nope".into()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("report history operations"), "{e}");
    let e = bob
        .reports()
        .compare(ReportName::Cost, &week)
        .unwrap_err()
        .to_string();
    assert!(e.contains("report refresh cost"), "{e}");
}

#[test]
fn reports_are_stored_listed_and_compared_with_last_week_on_the_local_store() {
    let Some(_) = terraform() else { return };
    let home = common::Home::new();
    let t = team(&home);
    check_store(&t);
    // A report that cannot be built stores nothing and says why.
    let bob = t.deck("bob");
    let e = bob.reports().refresh(
        ReportName::Compliance,
        &ReportOptions {
            framework: Some("pci".into()),
            ..Default::default()
        },
    );
    assert!(e.is_err());
    assert!(
        bob.reports()
            .history(ReportName::Compliance)
            .unwrap()
            .is_empty()
    );

    // The binary: refresh, history and compare as JSON and text (on the real clock, behind
    // the team's, so the runs it stores are compared by id).
    let cmd = |args: &[&str]| {
        let out = home
            .cmd()
            .args(["--user", "bob", "report"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let stored: serde_json::Value =
        serde_json::from_str(&cmd(&["refresh", "compliance", "--json"])).unwrap();
    assert_eq!(stored["report"]["name"], "compliance");
    let run = stored["run"]["run_id"].as_str().unwrap().to_string();
    cmd(&["refresh", "compliance"]);
    let history: serde_json::Value =
        serde_json::from_str(&cmd(&["history", "compliance", "--json"])).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["run_id"], run.as_str());
    let text = cmd(&["history", "operations"]);
    assert_eq!(text.lines().count(), 3, "{text}");
    let c: serde_json::Value =
        serde_json::from_str(&cmd(&["compare", "compliance", "--with", &run, "--json"])).unwrap();
    assert_eq!(c["older"]["run_id"], run.as_str());
    assert!(
        c["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["change"] == "same")
    );
    let text = cmd(&["compare", "compliance", "--with", &run]);
    assert!(text.contains("nothing changed"), "{text}");
    let text = cmd(&["compare", "operations", "--with", "7d"]);
    assert!(text.contains("plans made · value: 0 → 1 (+1)"), "{text}");
    let bad = home
        .cmd()
        .args(["--user", "bob", "report", "history", "costs"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the reports are cost, security"));
}

#[test]
fn reports_are_stored_and_compared_on_the_shared_backend() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("stored_reports") else {
        return;
    };
    let home = b.home();
    home.deck("root").admin().add_tenant("shop").unwrap();
    let members: &[(&str, &[opsdeck::tenant::Role])] = &[
        ("alice", &[opsdeck::tenant::Role::Admin]),
        ("bob", &[opsdeck::tenant::Role::Approver]),
        ("olga", &[opsdeck::tenant::Role::Operator]),
    ];
    let t = Team::new(&home, Some("shop"), members);
    check_store(&t);
}
