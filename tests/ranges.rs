//! Out-of-range values are errors, not defaults: through the real binary (`classify`, `ask`)
//! and the core every front end calls, with one wording, and nothing queued.

mod common;

use common::{Home, quiet, team};
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::tenant::MaintenanceWindow;

/// Runs the binary, expects the input-error exit status (3), returns the one-line message.
fn refused(home: &Home, args: &[&str]) -> String {
    let out = home.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
    stderr
        .trim_end()
        .strip_prefix("opsdeck: ")
        .unwrap_or_else(|| panic!("{args:?}: {stderr}"))
        .to_string()
}

const ANY_TENANT: &str = "in any tenant (tenant setting max_instances_per_plan is at most 1000; `opsdeck ask` applies your tenant's own)";
const DEFAULT_TENANT: &str = "in tenant default (tenant setting max_instances_per_plan)";

/// What the attacks sent, and the error each must get instead of one instance in us-east-1.
fn findings(whose: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "create a billion t3.micro instances",
            format!(
                "count 1000000000 is out of range: a plan may create 1 to {} instances {whose}",
                if whose == ANY_TENANT { 1000 } else { 50 }
            ),
        ),
        (
            "create 99999999999 t3.micro instances",
            format!(
                "count 99999999999 is out of range: a plan may create 1 to {} instances {whose}",
                if whose == ANY_TENANT { 1000 } else { 50 }
            ),
        ),
        (
            "create -3 t3.micro instances",
            format!(
                "count -3 is out of range: a plan may create 1 to {} instances {whose}",
                if whose == ANY_TENANT { 1000 } else { 50 }
            ),
        ),
        (
            "create 2 t3.micro instances in us-east-99",
            "us-east-99 is not an AWS region opsdeck knows (did you mean us-east-1 or us-east-2?): name a region by its code (e.g. eu-west-1) or its place (e.g. \"Ireland\"), or leave it out to use the tenant's default region".into(),
        ),
        (
            "create 2 t3.micro instances in eu-west-9",
            "eu-west-9 is not an AWS region opsdeck knows (did you mean eu-west-1, eu-west-2 or eu-west-3?): name a region by its code (e.g. eu-west-1) or its place (e.g. \"Ireland\"), or leave it out to use the tenant's default region".into(),
        ),
        (
            "create 2 t3.micro instances in mars-north-1",
            "mars-north-1 is not an AWS region opsdeck knows (did you mean eu-north-1?): name a region by its code (e.g. eu-west-1) or its place (e.g. \"Ireland\"), or leave it out to use the tenant's default region".into(),
        ),
        (
            "show error logs from lambda checkout for the last 0 days",
            "window \"last 0 days\" is out of range: a time window is 1 minute to 455 days (CloudWatch keeps 15 months), e.g. \"last 15 minutes\", \"last 24 hours\", \"last 30 days\"".into(),
        ),
        (
            "what did EC2 cost in the last 99999 years",
            "window \"last 99999 years\" is out of range: a time window is 1 minute to 455 days (CloudWatch keeps 15 months), e.g. \"last 15 minutes\", \"last 24 hours\", \"last 30 days\"".into(),
        ),
        (
            "restart the web servers in prod at 25:00",
            "time 25:00 is out of range: a time of day is 00:00 to 23:59, or 12am to 11:59pm"
                .into(),
        ),
    ]
}

#[test]
fn classify_refuses_out_of_range_values_with_the_range() {
    let home = Home::new();
    for (text, want) in findings(ANY_TENANT) {
        assert_eq!(refused(&home, &["classify", text]), want, "{text}");
    }
    // A script reads the same message and a stable code.
    let out = home
        .cmd()
        .args(["--json", "classify", "create -3 t3.micro instances"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], "invalid_input");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("count -3 is out of range"),
        "{v}"
    );
    // A batch reports each refusal on its line and fails as a whole.
    let out = home
        .cmd()
        .args(["classify", "--json", "--batch", "-"])
        .write_stdin("create 3 t3.micro instances in eu-west-1\ncreate a billion instances\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["params"]["count"], 3);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("count 1000000000 is out of range")
    );
}

#[test]
fn ask_refuses_the_same_way_and_queues_nothing() {
    let home = Home::new();
    for (text, want) in findings(DEFAULT_TENANT) {
        assert_eq!(refused(&home, &["ask", text]), want, "{text}");
        // The core says the same words to the console and MCP.
        let deck = home.deck("alice");
        assert_eq!(
            deck.requests().classify(text).unwrap_err().to_string(),
            want
        );
        assert_eq!(
            deck.requests()
                .request(text, &quiet)
                .unwrap_err()
                .to_string(),
            want
        );
    }
    let deck = home.deck("alice");
    assert!(deck.approvals().plans(None).unwrap().is_empty());
    let events = deck.trail().audit(&AuditFilter::default()).unwrap();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|r| matches!(r.event.event, EventKind::Requested | EventKind::Failed)),
        "{:?}",
        events.iter().map(|r| r.event.event).collect::<Vec<_>>()
    );
    let failed: Vec<String> = events
        .iter()
        .filter(|r| r.event.event == EventKind::Failed)
        .filter_map(|r| r.event.message.clone())
        .collect();
    assert!(
        failed
            .iter()
            .any(|m| m.starts_with("count 99999999999 is out of range")),
        "{failed:?}"
    );
    // Stated values in range, and unstated ones, are read as before.
    let out = home
        .cmd()
        .args(["--json", "classify", "create a dozen t3.micro instances"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["params"]["count"], 12);
    assert!(v["params"].get("region").is_none());
}

#[test]
fn the_instance_limit_is_a_tenant_setting() {
    let home = Home::new();
    let t = team(&home);
    let shown = home
        .cmd()
        .args(["--user", "alice", "tenants", "show"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(shown.stdout)
            .unwrap()
            .contains("max_instances_per_plan = 50")
    );
    let over = "create 60 t3.micro instances";
    let e = t
        .deck("olga")
        .requests()
        .ask(over, &quiet)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("count 60 is out of range: a plan may create 1 to 50 instances {DEFAULT_TENANT}")
    );

    // Settings out of range are refused, naming the setting and what it may be.
    let set = |f: &dyn Fn(&mut opsdeck::tenant::Tenant)| {
        let mut s = t.deck("alice").tenant().clone();
        f(&mut s);
        let code = t.code("alice");
        t.deck("alice")
            .admin()
            .set_tenant_settings(s, Some(&code))
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        set(&|s| s.max_instances_per_plan = 0).unwrap_err(),
        "max_instances_per_plan 0 is out of range: 1 to 1000"
    );
    assert_eq!(
        set(&|s| {
            s.policy.maintenance_windows = vec![MaintenanceWindow {
                days: vec!["sat".into()],
                start: "25:00".into(),
                end: "05:00".into(),
            }]
        })
        .unwrap_err(),
        "policy.maintenance_windows start \"25:00\" is out of range: HH:MM from 00:00 to 23:59 (UTC)"
    );
    assert!(set(&|s| s.default_region = "us-east-99".into()).is_err());
    assert_eq!(t.deck("alice").tenant().max_instances_per_plan, 50);

    set(&|s| s.max_instances_per_plan = 100).unwrap();
    let rec = t.deck("olga").requests().ask(over, &quiet).unwrap();
    assert_eq!(rec.plan.intent.params.count, Some(60));
    let out = home
        .cmd()
        .args(["--user", "olga", "ask", "create 101 t3.micro instances"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8(out.stderr).unwrap().contains(
        "count 101 is out of range: a plan may create 1 to 100 instances in tenant default"
    ));
    assert_eq!(t.deck("alice").approvals().plans(None).unwrap().len(), 1);
}
