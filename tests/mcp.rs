//! `opsdeck mcp` driven by a real MCP client that is not ours: the official Python SDK over
//! stdio. Skipped, with the reason printed, when the SDK is not installed (tests/run.sh installs
//! it into target/pyenv).

mod common;

use common::{Home, Team, quiet};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::tenant::Role;

#[test]
fn python_sdk_client_round_trip() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let v: serde_json::Value = common::python_json(
        &python,
        "mcp_client.py",
        &[
            env!("CARGO_BIN_EXE_opsdeck").as_ref(),
            home.path().as_os_str(),
        ],
        |_| {},
    );
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
            "cancel",
            "classify",
            "cost_query",
            "explain",
            "library_diff",
            "library_list",
            "library_search",
            "library_show",
            "list_approvals",
            "log_query",
            "security_scan",
            "show_plan",
            "suggest"
        ]
    );
    assert_eq!(v["schemas_ok"], true);
    assert_eq!(v["classify_error"], false);
    assert_eq!(v["classify"]["agent"], "infra");
    assert_eq!(v["classify"]["params"]["count"], 3);
    assert_eq!(v["ask_error"], false);
    assert_eq!(v["ask"]["state"], "pending");
    assert_eq!(v["ask"]["requester"], "ide-agent");
    // A change read with low confidence: nothing planned until the client names a reading.
    assert_eq!(v["vague"][0], true, "{}", v["vague"]);
    let said = v["vague"][1].as_str().unwrap();
    assert!(
        said.contains("1) infra/create") && said.contains("confirm_reading"),
        "{said}"
    );
    assert_eq!(v["vague_confirmed"][0], false, "{}", v["vague_confirmed"]);
    assert_eq!(v["vague_confirmed"][1]["state"], "pending");
    assert_eq!(
        v["explain"]["parameters"]["region"]["from"][0],
        "ap-south-1"
    );
    // Two plans asked once each: nothing repeated twice, nothing denied or dearer; a pattern
    // of one is refused with the CLI's words.
    assert_eq!(v["suggest"][0], false, "{}", v["suggest"]);
    assert_eq!(v["suggest"][1]["suggestions"], serde_json::json!([]));
    assert_eq!(v["suggest_one"][0], true);
    assert!(
        v["suggest_one"][1].as_str().unwrap().contains("at least 2"),
        "{}",
        v["suggest_one"]
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

/// `opsdeck mcp --listen 127.0.0.1:0` as a child process (OS account alice); the port is read
/// from the line it prints once it listens. Killed when dropped.
struct HttpServer {
    child: std::process::Child,
    url: String,
}

impl HttpServer {
    fn start(home: &Home) -> HttpServer {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
            .args(["mcp", "--listen", "127.0.0.1:0"])
            .env("OPSDECK_HOME", home.path())
            .env("USER", "alice")
            .env_remove("OPSDECK_USER")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("AWS_ENDPOINT_URL", common::NO_AWS)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server printed where it listens")
                .unwrap();
            if let Some(rest) = line.split("serving streamable HTTP on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        HttpServer { child, url }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_client(python: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    common::python_json(python, "mcp_http_client.py", &args, |_| {})
}

/// alice (admin) and olga (operator), and a token alice issued to olga.
fn olga_with_token(home: &Home, rate: Option<u32>) -> (Team<'_>, opsdeck::pipeline::IssuedToken) {
    let t = Team::new(
        home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    let issued = t
        .deck("alice")
        .admin()
        .issue_token("olga", "ide", rate, Some(&t.code("alice")))
        .unwrap();
    (t, issued)
}

fn events_of(deck: &Deck, kind: &str) -> Vec<opsdeck::audit::AuditRecord> {
    deck.trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some(kind.into()),
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn python_sdk_over_http_acts_as_the_tokens_user_until_the_token_is_revoked() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let (t, issued) = olga_with_token(&home, None);
    let server = HttpServer::start(&home);
    let v = http_client(&python, &["session", &server.url, &issued.secret]);

    assert_eq!(v["server"], "opsdeck");
    let tools = v["tools"].as_object().unwrap();
    assert_eq!(tools.len(), 15, "{tools:?}");
    let mut descriptions = std::collections::HashSet::new();
    for (name, t) in tools {
        assert!(t["title"].as_str().is_some_and(|s| !s.is_empty()), "{name}");
        assert!(t["read_only"].is_boolean(), "{name}");
        assert!(t["destructive"].is_boolean(), "{name}");
        assert!(t["idempotent"].is_boolean(), "{name}");
        assert_eq!(t["has_output_schema"], true, "{name}");
        assert!(
            descriptions.insert(t["description"].as_str().unwrap().to_string()),
            "{name}"
        );
    }
    // Only ask (it queues a plan) and cancel (it stops one) change anything, and nothing is
    // destructive.
    let writers: Vec<_> = tools
        .iter()
        .filter(|(_, t)| t["read_only"] == false)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(writers, ["ask", "cancel"]);
    assert!(tools.values().all(|t| t["destructive"] == false));

    assert_eq!(v["classify"][0], false);
    assert_eq!(v["classify"][1]["agent"], "infra");
    assert_eq!(v["ask"][0], false);
    // The structured answer and the text are the same value.
    assert_eq!(v["ask"][1], v["ask"][2]);
    assert_eq!(v["ask"][1]["requester"], "olga");
    assert_eq!(v["ask"][1]["state"], "pending");
    let plan_id = v["ask"][1]["plan_id"].as_str().unwrap();
    assert_eq!(v["show_plan"], serde_json::json!([false, "pending"]));
    assert!(
        v["list_approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == plan_id)
    );
    assert_eq!(v["explain"], "create");
    // The trail names the token's user, proven by the token.
    let planned: Vec<_> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[0] == "planned")
        .collect();
    assert_eq!(
        planned,
        [&serde_json::json!(["planned", "olga", "mcp_token"])]
    );
    // Resources carry their true types.
    assert_eq!(v["resources"]["opsdeck://audit/recent"], "application/json");
    assert_eq!(
        v["resources"][format!("opsdeck://plans/{plan_id}/artifacts/main.tf")],
        "text/x-hcl"
    );
    assert_eq!(v["main_tf"], serde_json::json!(["text/x-hcl", true]));
    assert_eq!(v["recent"], "application/json");
    // Still no way to approve.
    assert_eq!(v["approve"][0], "exception", "{}", v["approve"]);

    println!(
        "MCP over HTTP from the Python SDK, token checked per request: classify {:.2} ms",
        v["classify_ms"].as_f64().unwrap()
    );
    // Refusals: no token, a forged one, a foreign page.
    assert_eq!(v["no_token"][0], 401);
    assert_eq!(v["no_token"][1], "Bearer realm=\"opsdeck\"");
    assert!(
        v["no_token"][2]["error"]
            .as_str()
            .unwrap()
            .contains("opsdeck tokens issue")
    );
    assert_eq!(v["forged"][0], 401);
    assert_eq!(v["bad_origin"], 403);

    // Revoked: the same token is refused from its next request on.
    let admin = t.deck("alice");
    admin
        .admin()
        .revoke_token(&issued.token.id, Some(&t.code("alice")))
        .unwrap();
    let v = http_client(&python, &["refused", &server.url, &issued.secret]);
    assert_eq!(v["initialized"], false, "{v}");
    assert_eq!(v["status"], 401);
    assert!(
        v["body"]["error"].as_str().unwrap().contains("revoked"),
        "{v}"
    );

    // Issued, revoked and every refusal of the known token are in the trail; the secret and
    // its hash are nowhere in it.
    let issued_ev = events_of(&admin, "token_issued");
    assert_eq!(issued_ev.len(), 1);
    assert_eq!(issued_ev[0].event.user_id, "alice");
    assert_eq!(events_of(&admin, "token_revoked").len(), 1);
    let denied: Vec<String> = events_of(&admin, "access_denied")
        .into_iter()
        .filter_map(|r| r.event.message)
        .filter(|m| m.contains(&issued.token.id))
        .collect();
    assert!(denied.iter().any(|m| m.contains("revoked")), "{denied:?}");
    assert!(denied.len() >= 2, "forged and revoked: {denied:?}");
    let trail = std::fs::read_to_string(home.audit_file("default")).unwrap();
    assert!(!trail.contains(&issued.secret));
    assert!(!trail.contains(&issued.token.sha256));
}

#[test]
fn a_token_over_its_rate_limit_is_refused_with_retry_after_and_audited_once() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let (t, issued) = olga_with_token(&home, Some(2));
    let server = HttpServer::start(&home);
    let v = http_client(&python, &["limit", &server.url, &issued.secret, "5"]);
    // Two a minute, all at once: the first two pass, the rest wait (one every 30 s).
    assert_eq!(
        v["statuses"],
        serde_json::json!([200, 200, 429, 429, 429]),
        "{v}"
    );
    let wait: u64 = v["retry_after"].as_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    drop(server);
    let limited: Vec<_> = events_of(&t.deck("alice"), "access_denied")
        .into_iter()
        .filter(|r| {
            r.event
                .message
                .as_deref()
                .is_some_and(|m| m.contains("over its limit"))
        })
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].event.user_id, "olga");
}

#[test]
fn tokens_are_issued_to_members_by_admins_and_listed_without_secrets() {
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    let admin = t.deck("alice");
    // Not a member, out of range, not an admin: refused, nothing stored.
    assert!(matches!(
        admin
            .admin()
            .issue_token("mallory", "", None, Some(&t.code("alice"))),
        Err(Error::NotFound { .. })
    ));
    assert!(
        admin
            .admin()
            .issue_token("olga", "", Some(0), Some(&t.code("alice")))
            .unwrap_err()
            .to_string()
            .contains("out of range")
    );
    assert!(matches!(
        t.deck("olga")
            .admin()
            .issue_token("olga", "", None, Some(&t.code("olga"))),
        Err(Error::Refused(_))
    ));
    assert!(admin.admin().tokens().unwrap().is_empty());
    assert!(matches!(
        t.deck("olga").admin().tokens(),
        Err(Error::Refused(_))
    ));

    let issued = admin
        .admin()
        .issue_token("olga", "laptop", None, Some(&t.code("alice")))
        .unwrap();
    assert!(!format!("{issued:?}").contains(&issued.secret));
    let listed = admin.admin().tokens().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rate_per_minute, 120);
    let public = listed[0].public().to_string();
    assert!(!public.contains(&issued.secret) && !public.contains(&issued.token.sha256));

    // The token opens a session as olga, via MCP; removing olga's membership ends it.
    let open = |secret: &str| {
        Deck::open(OpenOptions {
            home: Some(home.path().to_path_buf()),
            mcp_token: Some(secret.to_string()),
            ..OpenOptions::default()
        })
    };
    let deck = open(&issued.secret).unwrap();
    assert_eq!(deck.identity().user, "olga");
    assert_eq!(deck.identity().source.as_str(), "mcp_token");
    let id = deck
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    assert_eq!(deck.approvals().plan(&id).unwrap().plan.requester, "olga");
    admin
        .admin()
        .remove_user("olga", Some(&t.code("alice")))
        .unwrap();
    assert!(
        matches!(deck.recheck_token(&issued.secret), Err(Error::Refused(m)) if m.contains("no longer a member"))
    );
    assert!(matches!(open(&issued.secret), Err(Error::Refused(_))));
    assert!(matches!(
        open("opsdeck_tok-000000000000_nothing"),
        Err(Error::Refused(_))
    ));
}

#[test]
fn tokens_cli_writes_the_secret_to_a_private_file_and_never_into_json() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let (alice, _) = common::enrol_cli(&home);
    let refused = home
        .cmd()
        .args(["--json", "--user", "alice", "tokens", "issue", "bob"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--secret-file"));
    let file = home.path().join("bob.token");
    let out = home
        .cmd()
        .args([
            "--json", "--user", "alice", "tokens", "issue", "bob", "--label", "ci",
        ])
        .arg("--secret-file")
        .arg(&file)
        .args(["--totp", &common::code(&alice, 1)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(secret.starts_with(&format!("opsdeck_{}_", v["id"].as_str().unwrap())));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(&secret) && !stdout.contains("sha256"),
        "{stdout}"
    );
    assert_eq!(v["user"], "bob");
    assert_eq!(v["label"], "ci");
    let list = home
        .cmd()
        .args(["--json", "--user", "alice", "tokens", "list"])
        .output()
        .unwrap();
    assert!(list.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed[0]["id"], v["id"]);
    assert!(!String::from_utf8_lossy(&list.stdout).contains(&secret));
    // Over plain HTTP, tokens stay on this machine.
    let out = home
        .cmd()
        .args(["mcp", "--listen", "0.0.0.0:8765"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

/// The same on the shared backend (moto): a token is a hashed `token#<id>` record, checked
/// against the table on every use.
#[test]
fn tokens_on_the_shared_backend_are_hashed_records_checked_on_every_use() {
    let Some(b) = common::shared::SharedBackend::new("mcp tokens on aws") else {
        return;
    };
    let home = b.home();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    let admin = t.deck("alice");
    let issued = admin
        .admin()
        .issue_token("olga", "ci", Some(30), Some(&t.code("alice")))
        .unwrap();
    // What DynamoDB holds: the id and the hash, never the secret.
    let (dynamo, _) = b.clients();
    let items = common::shared::block(dynamo.scan().table_name(b.table("tenants")).send()).unwrap();
    let stored: Vec<String> = items
        .items()
        .iter()
        .map(|i| format!("{i:?}"))
        .filter(|i| i.contains(&issued.token.id))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].contains(&format!("token#{}", issued.token.id)));
    assert!(stored[0].contains(&issued.token.sha256));
    assert!(!stored[0].contains(&issued.secret));

    // The server (run as alice, the test principal's user) opens olga's session by the token.
    let c: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let deck = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        clock: Some(c),
        via_mcp: true,
        mcp_token: Some(issued.secret.clone()),
        ..OpenOptions::default()
    })
    .unwrap();
    assert_eq!(deck.identity().user, "olga");
    assert_eq!(
        deck.recheck_token(&issued.secret).unwrap().rate_per_minute,
        30
    );
    admin
        .admin()
        .revoke_token(&issued.token.id, Some(&t.code("alice")))
        .unwrap();
    assert!(matches!(
        deck.recheck_token(&issued.secret),
        Err(Error::Refused(m)) if m.contains("revoked")
    ));
    let listed = admin.admin().tokens().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].is_revoked());
    assert_eq!(listed[0].revoked_by.as_deref(), Some("alice"));
}

/// A loopback endpoint that accepts every connection and never answers.
fn hung_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    url
}

#[test]
fn python_sdk_cancels_a_running_ask_and_the_runs_of_its_own_plans_only() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
        ],
    );
    let plan_of = |user: &str| {
        t.deck(user)
            .requests()
            .ask("create 1 t3.micro instance", &quiet)
            .unwrap()
            .plan
            .plan_id
    };
    let own = plan_of("olga");
    let others = plan_of("alice");
    t.approve("bob", &own).unwrap();
    t.approve("bob", &others).unwrap();
    // From here AWS never answers: the client's ask waits until it cancels it.
    home.use_endpoint(&hung_endpoint());
    let v: serde_json::Value = common::python_json(
        &python,
        "mcp_cancel.py",
        &[
            env!("CARGO_BIN_EXE_opsdeck").as_ref(),
            home.path().as_os_str(),
            "olga".as_ref(),
            own.as_ref(),
            others.as_ref(),
        ],
        |_| {},
    );
    assert_eq!(v["cancel_tool"][0], "cancel", "{v}");
    assert_eq!(v["cancel_running"][0], false, "{v}");
    assert_eq!(v["cancel_running"][1]["cancelled"], "running requests");
    assert_eq!(v["ask"][0], true, "{v}");
    let said = v["ask"][1].as_str().unwrap();
    assert!(
        said.contains("stopped waiting for ec2 DescribeInstances") && said.contains("(cancelled)"),
        "{v}"
    );
    println!(
        "MCP cancel → ask ended: {:.1} ms",
        v["ask_ended_ms"].as_f64().unwrap()
    );
    assert_eq!(v["no_reason"][0], true, "{v}");
    assert_eq!(v["own"][0], false, "{v}");
    assert_eq!(v["own"][1]["state"], "cancelled");
    assert_eq!(v["others"][0], true, "{v}");
    let said = v["others"][1].as_str().unwrap();
    assert!(
        said.contains("olga may cancel only the runs of plans they requested"),
        "{said}"
    );
    // What the store and the trail say: olga's plan cancelled by her via MCP, alice's untouched
    // and the refusal audited.
    let deck = t.deck("alice");
    assert_eq!(deck.approvals().plan(&own).unwrap().state, State::Cancelled);
    assert_eq!(
        deck.approvals().plan(&others).unwrap().state,
        State::Approved
    );
    let cancelled = deck
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            subject: Some(own.clone()),
            event: Some("cancelled".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].event.user_id, "olga");
    assert_eq!(cancelled[0].event.user_source, "mcp");
    let denied = deck
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            subject: Some(others.clone()),
            event: Some("access_denied".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(denied.len(), 1, "{denied:?}");
}
