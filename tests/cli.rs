//! The headless CLI end to end, as a script would drive it.

mod common;

use common::{Home, code, enrol_cli, plan_id};
use predicates::prelude::*;
use predicates::str::contains;

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

#[test]
fn classify_prints_one_json_object() {
    let home = Home::new();
    let out = home
        .cmd()
        .args(["classify", "--json", SPEC])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["agent"], "infra");
    assert_eq!(v["params"]["count"], 3);
    assert_eq!(v["params"]["region"], "ap-south-1");
    assert_eq!(v["params"]["load_balancer"], "alb");
    // Global flags work before the subcommand too.
    home.cmd()
        .args(["--json", "classify", SPEC])
        .assert()
        .success();
}

#[test]
fn classify_batch_keeps_order_one_line_each() {
    let home = Home::new();
    let input = "Restart EC2 instances tagged Env=staging\n\nScan all S3 buckets for public access\nWhat is my daily EC2 spend in ap-south-1?\n";
    let out = home
        .cmd()
        .args(["classify", "--json", "--batch", "-"])
        .write_stdin(input)
        .assert()
        .code(1); // the empty line is an error object, and the exit status says so
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["agent"], "ops");
    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"].as_str().unwrap().contains("empty"));
    assert_eq!(lines[2]["agent"], "security");
    assert_eq!(lines[3]["agent"], "cost");
}

#[test]
fn full_flow_ask_review_approve_audit() {
    let home = Home::new();
    let (alice_secret, bob) = enrol_cli(&home);
    let out = home.cmd().args(["--json", "ask", SPEC]).assert().success();
    let id = plan_id(&out.get_output().stdout);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["state"], "pending");
    assert_eq!(v["requester"], "alice");
    assert!(v["cost"]["monthly_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(v["content_hash"].as_str().unwrap().len(), 64);

    // The artifact is the Terraform, each file headed by its name.
    home.cmd()
        .args(["plans", "show", &id, "--artifact"])
        .assert()
        .success()
        .stdout(contains("# file: main.tf"))
        .stdout(contains("resource \"aws_lb\" \"this\""))
        .stdout(contains("count = 3"));

    // The requester cannot approve their own plan, even with a valid code.
    home.cmd()
        .args(["approve", &id, "--totp", &code(&alice_secret, 1)])
        .assert()
        .code(5)
        .stderr(contains("alice requested plan").and(contains("cannot approve")));
    // Apply before approval is refused with the reason.
    home.cmd()
        .args(["apply", &id])
        .assert()
        .code(5)
        .stderr(contains("not approved yet"));
    // Someone else can, with their second factor; a prefix of the id is enough.
    home.cmd()
        .args(["--user", "bob", "approve", &id[..6]])
        .assert()
        .code(5)
        .stderr(contains("TOTP code"));
    home.cmd()
        .args([
            "--user",
            "bob",
            "approve",
            &id[..6],
            "--totp",
            &code(&bob, 0),
        ])
        .assert()
        .success()
        .stdout(contains("approved plan"));
    // Approving twice is refused before a code is spent; a code used once is refused the
    // second time, whatever it is offered for.
    home.cmd()
        .args(["--user", "bob", "approve", &id, "--totp", &code(&bob, 1)])
        .assert()
        .code(5)
        .stderr(contains("already approved"));
    home.cmd()
        .args([
            "--user",
            "bob",
            "reject",
            &id,
            "--reason",
            "second thoughts",
            "--totp",
            &code(&bob, 0),
        ])
        .assert()
        .code(5)
        .stderr(contains("already used"));

    let out = home
        .cmd()
        .args(["--json", "audit", "list", "--id", &id])
        .assert()
        .success();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "planned",
            "policy_evaluated",
            "queued",
            "access_denied",
            "access_denied",
            "approved",
            "access_denied",
            "access_denied"
        ]
    );
    let approved = &events[5]["event"];
    assert_eq!(approved["userId"], "bob");
    assert_eq!(approved["userSource"], "flag");
    assert_eq!(approved["osUser"], "alice");
    assert_eq!(approved["approvalMetadata"]["planHash"], v["content_hash"]);
    assert_eq!(approved["approvalMetadata"]["mfa"], "totp");
    for field in [
        "requestId",
        "tenantId",
        "userId",
        "timestamp",
        "agentType",
        "status",
    ] {
        assert!(
            events[0]["event"].get(field).is_some(),
            "planned lacks {field}"
        );
    }
    assert!(events[0]["event"]["costImpact"].as_f64().is_some());
    assert!(events[1]["event"]["securityGates"].is_array());

    // 13 events of the flow, and the certification of this machine's audit-signing key.
    home.cmd()
        .args(["audit", "verify"])
        .assert()
        .success()
        .stdout(contains("14 records"))
        .stdout(contains("certified by alice"));
    home.cmd()
        .args(["audit", "show", &id])
        .assert()
        .success()
        .stdout(contains("\"planned\""));
    let out = home
        .cmd()
        .args([
            "audit", "export", "--format", "csv", "--by", "bob", "--event", "approved",
        ])
        .assert()
        .success();
    let csv = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("seq,hash,prev,key,sig,eventId,requestId")
    );
    assert_eq!(lines.count(), 1);
}

#[test]
fn reject_needs_a_reason_and_blocks_apply() {
    let home = Home::new();
    let (_, bob) = enrol_cli(&home);
    let out = home
        .cmd()
        .args([
            "--json",
            "ask",
            "create an s3 bucket named audit-reports-x1",
        ])
        .assert()
        .success();
    let id = plan_id(&out.get_output().stdout);
    home.cmd()
        .args([
            "--user",
            "bob",
            "reject",
            &id,
            "--reason",
            "  ",
            "--totp",
            &code(&bob, 0),
        ])
        .assert()
        .code(3)
        .stderr(contains("reason is required"));
    home.cmd()
        .args([
            "--user",
            "bob",
            "reject",
            &id,
            "--reason",
            "wrong account",
            "--totp",
            &code(&bob, 0),
        ])
        .assert()
        .success();
    home.cmd()
        .args(["--user", "bob", "approve", &id, "--totp", &code(&bob, 1)])
        .assert()
        .code(5)
        .stderr(contains("rejected"));
    home.cmd()
        .args(["apply", &id])
        .assert()
        .code(5)
        .stderr(contains("was rejected by bob: wrong account"));
}

#[test]
fn bad_input_gets_one_line_and_a_status() {
    let home = Home::new();
    home.cmd()
        .args(["ask", "   "])
        .assert()
        .code(3)
        .stderr(contains("request is empty"));
    home.cmd()
        .args(["plans", "show", "p-doesnotexist"])
        .assert()
        .code(4)
        .stderr(contains("plan not found"));
    home.cmd()
        .args(["--tenant", "nosuch", "plans", "list"])
        .assert()
        .code(4)
        .stderr(contains("tenants add nosuch"));
    home.cmd()
        .args(["--tenant", "../x", "plans", "list"])
        .assert()
        .code(3)
        .stderr(contains("invalid tenant name"));
    home.cmd()
        .args(["audit", "list", "--since", "sometime"])
        .assert()
        .code(3)
        .stderr(contains("since 'sometime' is not a time: use 2026-11-24"));
    // An AWS service that cannot be reached says which call failed and what to check; the
    // request is still audited.
    home.cmd()
        .args(["ask", "What is my daily EC2 spend in ap-south-1?"])
        .assert()
        .code(6)
        .stderr(
            contains("Cost Explorer")
                .and(contains("GetCostAndUsage could not reach the service"))
                .and(contains("--endpoint-url")),
        );
    let out = home
        .cmd()
        .args(["--json", "audit", "list", "--status", "failed"])
        .assert()
        .success();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(events.len(), 1);
    // --json errors are JSON too.
    home.cmd()
        .args(["--json", "plans", "show", "p-nope"])
        .assert()
        .code(4)
        .stderr(contains("\"code\":\"not_found\""));
}

#[test]
fn broken_config_is_named_and_nothing_is_lost() {
    let home = Home::new();
    let out = home.cmd().args(["--json", "ask", SPEC]).assert().success();
    let id = plan_id(&out.get_output().stdout);
    std::fs::write(home.path().join("config.toml"), "backend = [unclosed\n").unwrap();
    home.cmd()
        .args(["plans", "list"])
        .assert()
        .code(3)
        .stderr(contains("config.toml").and(contains("line 1")));
    std::fs::remove_file(home.path().join("config.toml")).unwrap();
    home.cmd().args(["plans", "show", &id]).assert().success();
    home.cmd().args(["audit", "verify"]).assert().success();
}

#[test]
fn corrupt_plan_file_is_reported_and_others_survive() {
    let home = Home::new();
    let a = plan_id(
        &home
            .cmd()
            .args(["--json", "ask", SPEC])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let b = plan_id(
        &home
            .cmd()
            .args(["--json", "ask", "create 2 t3.small instances in Sydney"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let path = home
        .path()
        .join("tenants/default/plans")
        .join(format!("{a}.json"));
    std::fs::write(&path, "{ not json").unwrap();
    home.cmd()
        .args(["plans", "show", &a])
        .assert()
        .code(7)
        .stderr(contains("store is damaged").and(contains(&a)));
    home.cmd().args(["plans", "show", &b]).assert().success();
    home.cmd()
        .args(["plans", "list"])
        .assert()
        .success()
        .stdout(contains(&b));
}

#[test]
fn tenants_are_isolated() {
    let home = Home::new();
    let (_, bob) = enrol_cli(&home);
    home.cmd()
        .args(["tenants", "add", "team-b"])
        .assert()
        .success();
    let id = plan_id(
        &home
            .cmd()
            .args(["--json", "ask", SPEC])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    home.cmd()
        .args(["--tenant", "team-b", "plans", "show", &id])
        .assert()
        .code(4);
    home.cmd()
        .args([
            "--tenant",
            "team-b",
            "--user",
            "bob",
            "approve",
            &id,
            "--totp",
            &code(&bob, 0),
        ])
        .assert()
        .code(4);
    let out = home
        .cmd()
        .args(["--tenant", "team-b", "--json", "audit", "list"])
        .assert()
        .success();
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(events.is_empty());
    // Users are per tenant too: bob is nobody in team-b.
    home.cmd()
        .args(["--tenant", "team-b", "--json", "users", "list"])
        .assert()
        .success()
        .stdout(contains("[]"));
}

#[test]
fn missing_terraform_is_explained_and_plan_stays_approved() {
    let home = Home::new();
    let (_, bob) = enrol_cli(&home);
    let id = plan_id(
        &home
            .cmd()
            .args(["--json", "ask", SPEC])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    home.cmd()
        .args(["--user", "bob", "approve", &id, "--totp", &code(&bob, 0)])
        .assert()
        .success();
    home.cmd()
        .env("OPSDECK_TERRAFORM", "terraform-not-installed-here")
        .args(["apply", &id])
        .assert()
        .code(6)
        .stderr(contains("Terraform is not installed").and(contains("plans show")));
    home.cmd()
        .args(["--json", "plans", "show", &id])
        .assert()
        .success()
        .stdout(contains("\"state\": \"approved\""));
}

#[test]
fn explain_takes_one_word_starting_p_as_a_plan_and_anything_else_as_a_request() {
    let home = Home::new();
    let deck = home.deck("alice");
    let rec = deck
        .requests()
        .ask(
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            &common::quiet,
        )
        .unwrap();
    let id = rec.plan.plan_id.clone();
    // The plan, by its id and by a unique prefix: its stored reading.
    for what in [id.as_str(), &id[..6]] {
        let (intent, v) = deck.requests().explain(what).unwrap();
        assert_eq!(intent, rec.plan.intent, "{what}");
        assert_eq!(v["action"], "create");
    }
    // Several words are a request, even when the first looks like a plan id.
    let (intent, _) = deck
        .requests()
        .explain("p-ops restart the staging web servers")
        .unwrap();
    assert_eq!(intent.action, "restart");
    // The CLI and the MCP server go through the same rule (Deck::explain).
    let out = home
        .cmd()
        .args(["--json", "explain", &id[..6]])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "create");
}

#[test]
fn the_audit_is_narrowed_the_same_way_from_the_cli_and_the_console() {
    use opsdeck::audit::query::{AuditQuery, FilterFields};
    let home = Home::new();
    let deck = home.deck("alice");
    deck.requests()
        .ask(
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            &common::quiet,
        )
        .unwrap();
    deck.requests()
        .ask("create 1 t3.micro instance in eu-west-1", &common::quiet)
        .unwrap();
    let records = deck.trail().audit(&Default::default()).unwrap();
    let cli = FilterFields {
        user: Some("ALICE".into()),
        event: Some("queued".into()),
        since: Some("1h".into()),
        ..FilterFields::default()
    }
    .into_filter(deck.clock())
    .unwrap();
    let console = AuditQuery::parse("user:alice event:queued since:1h", deck.clock()).unwrap();
    let by_cli: Vec<u64> = records
        .iter()
        .filter(|r| cli.matches(r))
        .map(|r| r.seq)
        .collect();
    let by_console: Vec<u64> = records
        .iter()
        .filter(|r| console.matches(&r.fields()))
        .map(|r| r.seq)
        .collect();
    assert_eq!(by_cli.len(), 2, "{by_cli:?}");
    assert_eq!(by_cli, by_console);
    // One time syntax, one message, wherever it is typed.
    let cli_err = FilterFields {
        since: Some("sometime".into()),
        ..FilterFields::default()
    }
    .into_filter(deck.clock())
    .unwrap_err()
    .to_string();
    let console_err = AuditQuery::parse("since:sometime", deck.clock())
        .unwrap_err()
        .to_string();
    assert_eq!(cli_err, console_err);
}
