//! `opsdeck mcp` driven by a real MCP client that is not ours: the official Python SDK over
//! stdio. Skipped, with the reason printed, when the SDK is not installed (tests/run.sh installs
//! it into target/pyenv).

mod common;

use common::{Home, Team, quiet};
use opsdeck::Error;
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::tenant::Role;

#[test]
fn python_sdk_client_round_trip() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let out = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py"))
        .arg(env!("CARGO_BIN_EXE_opsdeck"))
        .arg(home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["server"], "opsdeck");
    let tools: Vec<&str> = v["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "ask",
            "audit_search",
            "classify",
            "cost_query",
            "explain",
            "list_approvals",
            "log_query",
            "security_scan",
            "show_plan"
        ]
    );
    assert_eq!(v["schemas_ok"], true);
    assert_eq!(v["classify_error"], false);
    assert_eq!(v["classify"]["agent"], "infra");
    assert_eq!(v["classify"]["params"]["count"], 3);
    assert_eq!(v["ask_error"], false);
    assert_eq!(v["ask"]["state"], "pending");
    assert_eq!(v["ask"]["requester"], "ide-agent");
    assert_eq!(
        v["explain"]["parameters"]["region"]["from"][0],
        "ap-south-1"
    );
    let plan_id = v["ask"]["plan_id"].as_str().unwrap();
    assert!(
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "opsdeck://audit/recent")
    );
    assert!(v["main_tf"].as_str().unwrap().contains("provider \"aws\""));
    assert!(v["recent_audit"].as_array().unwrap().len() >= 5);
    // Errors are tool errors carrying the CLI's message.
    assert_eq!(v["empty_error"][0], true);
    assert!(
        v["empty_error"][1]
            .as_str()
            .unwrap()
            .contains("the request is empty")
    );
    assert_eq!(v["cost_error"][0], true);
    // (No AWS here: the cost agent's call fails as an outage would, and says which call.)
    assert!(
        v["cost_error"][1]
            .as_str()
            .unwrap()
            .contains("GetCostAndUsage could not reach the service"),
        "{}",
        v["cost_error"]
    );
    // There is no way to approve over MCP.
    assert_eq!(v["approve"][1], true, "{}", v["approve"]);
    // The audit trail records the MCP identity as the requester, via MCP.
    let deck = home.deck("auditor");
    let planned = deck
        .audit(&opsdeck::audit::AuditFilter {
            subject: Some(plan_id.to_string()),
            event: Some("planned".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(planned[0].event.user_id, "ide-agent");
    assert_eq!(planned[0].event.user_source, "mcp");
    assert_eq!(deck.plan(plan_id).unwrap().plan.requester_source, "mcp");
    println!(
        "MCP round trip from the Python SDK: classify {:.2} ms, ask {:.2} ms",
        v["classify_ms"].as_f64().unwrap(),
        v["ask_ms"].as_f64().unwrap()
    );
}

#[test]
fn an_mcp_identity_can_never_approve_even_as_a_registered_approver() {
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let id = t
        .deck("alice")
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    let code = t.code("bob");
    let c: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let bob_via_mcp = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("bob".into()),
        clock: Some(c),
        via_mcp: true,
        ..OpenOptions::default()
    })
    .unwrap();
    match bob_via_mcp.approve(&id, None, Some(&code), None) {
        Err(Error::Refused(m)) => assert!(m.contains("MCP clients"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        bob_via_mcp.reject(&id, "no", Some(&code)),
        Err(Error::Refused(_))
    ));
    // The same person at the CLI can.
    t.approve("bob", &id).unwrap();
}
