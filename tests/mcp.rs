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
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            subject: Some(plan_id.to_string()),
            event: Some("planned".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(planned[0].event.user_id, "ide-agent");
    assert_eq!(planned[0].event.user_source, "mcp");
    assert_eq!(
        deck.approvals()
            .plan(plan_id)
            .unwrap()
            .plan
            .requester_source,
        "mcp"
    );
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
        .requests()
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
    match bob_via_mcp
        .approvals()
        .approve(&id, None, Some(&code), None)
    {
        Err(Error::Refused(m)) => assert!(m.contains("MCP clients"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        bob_via_mcp.approvals().reject(&id, "no", Some(&code)),
        Err(Error::Refused(_))
    ));
    // The same person at the CLI can.
    t.approve("bob", &id).unwrap();
}

/// Closing the client's end after calls that built AWS clients and a model used to panic the
/// server ("Cannot drop a runtime in a context where blocking is not allowed", exit 101). The
/// session ends inside the server's runtime; it must exit 0, with no panic on stderr.
#[test]
fn the_server_exits_cleanly_when_the_client_disconnects_after_aws_and_model_calls() {
    use std::io::Write;
    let home = Home::new();
    {
        let deck = home.deck("ide-agent");
        let mut t = deck.tenant().clone();
        t.llm.model_id = "anthropic.claude-test-v1".into();
        t.llm.region = "us-east-1".into();
        t.llm.timeout_ms = 500;
        deck.raw_store().put_tenant(&t).unwrap();
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("mcp")
        .env("OPSDECK_HOME", home.path())
        .env("OPSDECK_USER", "ide-agent")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", common::NO_AWS)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let messages = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "disconnect-test", "version": "1"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "classify", "arguments": {"text": "restart the staging web servers"}}}),
        serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "security_scan", "arguments": {"text": "scan all S3 buckets for public access"}}}),
    ];
    {
        let mut stdin = child.stdin.take().unwrap();
        for m in &messages {
            writeln!(stdin, "{m}").unwrap();
        }
        // Give the calls time to reach AWS (a closed port) before the client goes away.
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"id\":3"),
        "the scan was answered: {stdout}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
