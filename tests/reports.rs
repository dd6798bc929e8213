//! `opsdeck report operations`: from a trail the real pipeline wrote (plans submitted, approved,
//! rejected, applied with the real terraform, one run failing), on the local store and on moto
//! (the shared backend); JSON and CSV shapes through the binary.

mod common;

use common::shared::SharedBackend;
use common::{Home, Team, quiet, team, terraform, terraform_data_dir};
use opsdeck::pipeline::Deck;

const FAILS: &str = "resource \"terraform_data\" \"broken\" {\n  provisioner \"local-exec\" {\n    command = \"exit 3\"\n  }\n}\n";

fn submit(olga: &Deck, stack: &str, extra: &str) -> String {
    let dir = terraform_data_dir(extra);
    olga.requests()
        .submit_terraform(dir.path(), stack, &quiet)
        .expect("submit")
        .plan
        .plan_id
}

fn apply(deck: &Deck, id: &str) -> opsdeck::pipeline::ApplyReport {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    rt.block_on(deck.runs().apply(id, &quiet, rx))
        .expect("apply ran")
}

/// Three plans: one approved (five minutes after it was queued) and applied, one approved whose
/// run fails, one rejected; and a fourth waiting.
fn seed(t: &Team<'_>, with_applies: bool) {
    let olga = t.deck("olga");
    let good = submit(&olga, "good", "");
    t.clock.advance_secs(300);
    t.approve("bob", &good).unwrap();
    let bad = submit(&olga, "bad", if with_applies { FAILS } else { "" });
    t.approve("bob", &bad).unwrap();
    let no = submit(&olga, "no", "");
    let code = t.code("bob");
    t.deck("bob")
        .approvals()
        .reject(&no, "not this week", Some(&code))
        .unwrap();
    submit(&t.deck("alice"), "later", "");
    if with_applies {
        assert!(apply(&olga, &good).state.as_str() == "succeeded");
        assert!(apply(&olga, &bad).state.as_str() == "failed");
    }
}

#[test]
fn the_operations_report_reads_decisions_latency_and_failures_from_the_trail() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    seed(&t, true);
    let r = t.deck("bob").trail().operations_report(None, None).unwrap();
    assert_eq!(r.plans, 4);
    assert_eq!(
        (
            r.decisions.approved,
            r.decisions.rejected,
            r.decisions.pending
        ),
        (2, 1, 1)
    );
    assert_eq!(r.approval_latency.count, 2);
    // The first plan waited at least the five minutes the clock moved before bob approved.
    assert!(r.approval_latency.p95_secs.unwrap() >= 300, "{r:?}");
    assert!(r.approval_latency.p50_secs <= r.approval_latency.p95_secs);
    assert_eq!((r.applies.succeeded, r.applies.failed), (1, 1));
    assert_eq!(r.applies.change_failure_rate, Some(0.5));
    assert_eq!(r.time_to_apply.count, 2);
    assert_eq!(r.top_requesters[0].name, "olga");
    assert_eq!(r.top_requesters[0].plans, 3);
    assert_eq!(r.top_requesters[1].name, "alice");
    assert_eq!(r.top_agents[0].name, "infra");
    assert_eq!(r.plans_per_day.len(), 31);
    assert_eq!(r.plans_per_day.iter().map(|d| d.plans).sum::<u64>(), 4);

    // The binary (on the real clock, behind the team's, which each code moved on): JSON with
    // the same figures, CSV rows, text tables; a window that excludes
    // everything; a bad bound refused with the forms it accepts.
    let report = |args: &[&str]| {
        home.cmd()
            .args(["--user", "bob", "report", "operations"])
            .args(args)
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| {
        let out = report(&[&["--since", "2026-01-01", "--until", "2030-01-01"], args].concat());
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    assert_eq!(json["plans"], 4);
    assert_eq!(json["applies"]["change_failure_rate"], 0.5);
    assert_eq!(json["decisions"]["rejected"], 1);
    let csv = run(&["--format", "csv"]);
    assert!(csv.starts_with("section,key,value\n"), "{csv}");
    assert!(csv.contains("summary,plans,4\n"), "{csv}");
    assert!(
        csv.contains("summary,change_failure_rate,0.5000\n"),
        "{csv}"
    );
    assert!(csv.contains("top_requesters,olga,3\n"), "{csv}");
    let text = run(&[]);
    assert!(
        text.contains("change failure rate") && text.contains("50.0 %"),
        "{text}"
    );
    assert!(text.contains("top requesters"), "{text}");
    let none = report(&["--json", "--since", "2001-01-01", "--until", "2001-02-01"]);
    let none: serde_json::Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(none["plans"], 0);
    assert!(none["applies"]["change_failure_rate"].is_null());
    // A window of more days than a report lays out is refused, not cut short.
    let long = report(&["--since", "2000-01-01"]);
    assert!(!long.status.success());
    let said = String::from_utf8_lossy(&long.stderr);
    assert!(said.contains("at most 3660 days"), "{said}");
    let bad = report(&["--since", "last tuesday"]);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("since 'last tuesday' is not a time"),
        "{said}"
    );
}

#[test]
fn the_operations_report_reads_the_shared_backend_and_only_its_tenant() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("report_operations") else {
        return;
    };
    let home = b.home();
    let boot = home.deck("root");
    boot.admin().add_tenant("shop").unwrap();
    boot.admin().add_tenant("labs").unwrap();
    let members: &[(&str, &[opsdeck::tenant::Role])] = &[
        ("alice", &[opsdeck::tenant::Role::Admin]),
        ("bob", &[opsdeck::tenant::Role::Approver]),
        ("olga", &[opsdeck::tenant::Role::Operator]),
    ];
    let shop = Team::new(&home, Some("shop"), members);
    let labs = Team::new(&home, Some("labs"), members);
    seed(&shop, false);
    submit(&labs.deck("olga"), "lab", "");
    let r = shop
        .deck("bob")
        .trail()
        .operations_report(None, None)
        .unwrap();
    assert_eq!(r.tenant, "shop");
    assert_eq!(r.plans, 4);
    assert_eq!(
        (
            r.decisions.approved,
            r.decisions.rejected,
            r.decisions.pending
        ),
        (2, 1, 1)
    );
    let r = labs
        .deck("bob")
        .trail()
        .operations_report(None, None)
        .unwrap();
    assert_eq!((r.tenant.as_str(), r.plans), ("labs", 1));
    assert_eq!(r.decisions.pending, 1);
}
