//! Understanding with a Bedrock model, through the real SDK client, against a local HTTP stub that
//! speaks the Converse wire protocol (moto does not implement Converse): agreement, disagreement,
//! timeout, throttling, malformed and out-of-schema output, redaction, follow-ups, and the
//! labelled corpus through the model path.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Home, quiet};
use opsdeck::intent::AgentKind;
use opsdeck::pipeline::{Deck, OpenOptions};
use serde_json::{Value, json};

const MODEL: &str = "anthropic.claude-test-v1";

/// What the stub does with the next requests.
#[derive(Clone)]
enum Mode {
    /// Call record_intent with this input.
    Tool(Value),
    /// Call record_ranking with this input.
    Rank(Value),
    /// Answer from a table keyed by request text (the corpus), else agree with nothing.
    Table(Arc<HashMap<String, Value>>),
    Delay(Duration),
    Throttle,
    Garbage,
}

struct Stub {
    url: String,
    mode: Arc<Mutex<Mode>>,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn request_text(body: &Value) -> String {
    let t = body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    t.strip_prefix("Request: ")
        .unwrap_or(t)
        .split('\n')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn converse_reply(input: &Value) -> String {
    converse_tool_reply("record_intent", input)
}

fn converse_tool_reply(tool: &str, input: &Value) -> String {
    json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": tool, "input": input}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 100, "outputTokens": 40, "totalTokens": 140},
        "metrics": {"latencyMs": 12}
    })
    .to_string()
}

fn start_stub() -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mode = Arc::new(Mutex::new(Mode::Garbage));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (m, b) = (mode.clone(), bodies.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mode = m.lock().unwrap().clone();
            let bodies = b.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                let body = String::from_utf8_lossy(&body).to_string();
                bodies.lock().unwrap().push(format!("{path}\n{body}"));
                let parsed: Value = serde_json::from_str(&body).unwrap_or_default();
                let (status, extra, payload) = match mode {
                    Mode::Tool(input) => ("200 OK", "", converse_reply(&input)),
                    Mode::Rank(input) => {
                        ("200 OK", "", converse_tool_reply("record_ranking", &input))
                    }
                    Mode::Table(table) => match table.get(&request_text(&parsed)) {
                        Some(input) => ("200 OK", "", converse_reply(input)),
                        None => ("200 OK", "", converse_reply(&json!({"agent": "nonsense"}))),
                    },
                    Mode::Delay(d) => {
                        std::thread::sleep(d);
                        ("200 OK", "", converse_reply(&json!({})))
                    }
                    Mode::Throttle => (
                        "429 Too Many Requests",
                        "x-amzn-ErrorType: ThrottlingException\r\n",
                        json!({"message": "Too many requests, please wait before trying again."})
                            .to_string(),
                    ),
                    Mode::Garbage => ("200 OK", "", "{\"output\": {\"message\": ".to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}x-amzn-RequestId: stub-req-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                    payload.len()
                );
            });
        }
    });
    Stub { url, mode, bodies }
}

fn set_creds() {
    // SAFETY: every test in this binary sets the same dummy values before using the SDK.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTESTTEST");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test-secret-key");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("AWS_PROFILE");
    }
}

/// A deck whose tenant has a model configured and whose endpoint is the stub.
fn deck_with_model(home: &Home, stub: &Stub, timeout_ms: u64) -> Deck {
    set_creds();
    let deck = home.deck("alice");
    let mut t = deck.tenant().clone();
    t.llm.model_id = MODEL.into();
    t.llm.region = "us-east-1".into();
    t.llm.timeout_ms = timeout_ms;
    deck.raw_store().put_tenant(&t).unwrap();
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        endpoint_url: Some(stub.url.clone()),
        ..OpenOptions::default()
    })
    .unwrap()
}

fn set(stub: &Stub, mode: Mode) {
    *stub.mode.lock().unwrap() = mode;
}

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

#[test]
fn model_reading_is_used_when_valid_and_agreeing() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.97,
        "params": {"count": 3, "instance_type": "t3.medium", "region": "ap-south-1", "load_balancer": "alb", "service": "EC2"}}),
        ),
    );
    let i = deck.requests().classify(SPEC).unwrap();
    assert_eq!(
        i.source.as_deref(),
        Some("bedrock:anthropic.claude-test-v1")
    );
    assert_eq!(i.confidence, 0.97);
    assert!(!i.low_confidence);
    assert!(
        !i.evidence.is_empty(),
        "the parser's evidence still explains the routing"
    );
    let bodies = stub.bodies.lock().unwrap();
    let (path, body) = bodies[0].split_once('\n').unwrap();
    assert_eq!(path, format!("/model/{MODEL}/converse"));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body["toolConfig"]["toolChoice"]["tool"]["name"],
        "record_intent"
    );
    assert_eq!(
        body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["required"][0],
        "agent"
    );
}

#[test]
fn disagreement_on_a_mutating_action_needs_confirmation() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    // The model reads a create as a terminate, less confidently than the parser.
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "ops", "agents": ["ops"], "action": "terminate", "confidence": 0.55,
        "params": {"action": "terminate"}}),
        ),
    );
    let i = deck.requests().classify(SPEC).unwrap();
    assert_eq!(i.agent, AgentKind::Infra);
    assert_eq!(i.source.as_deref(), Some("parser"));
    assert!(i.low_confidence);
    assert!(
        i.notes
            .iter()
            .any(|n| n.contains("disagree") && n.contains("ops/terminate")),
        "{:?}",
        i.notes
    );
    // Nothing is planned until the requester confirms the reading they mean.
    let err = deck.requests().ask(SPEC, &quiet).unwrap_err();
    let opsdeck::error::Error::NeedsConfirmation(c) = &err else {
        panic!("planned without confirmation: {err}");
    };
    assert_eq!(c.readings[0].agent, AgentKind::Infra);
    let opts = opsdeck::pipeline::RequestOptions {
        confirm_reading: Some(1),
        ..Default::default()
    };
    let Ok(opsdeck::pipeline::Answer::Plan(rec)) =
        deck.requests().request_with(SPEC, &opts, &quiet)
    else {
        panic!("the confirmed reading was not planned");
    };
    assert_eq!(rec.plan.agent, AgentKind::Infra);
    assert!(
        rec.plan
            .intent
            .notes
            .iter()
            .any(|n| n.contains("confirmed reading 1"))
    );
}

#[test]
fn timeouts_throttling_and_bad_output_fall_back_to_the_parser() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 800);
    let parser = opsdeck::intent::parse(SPEC).unwrap();
    let cases = [
        (Mode::Delay(Duration::from_secs(3)), "timed out"),
        (Mode::Throttle, "ThrottlingException"),
        (Mode::Garbage, "model"),
        (
            Mode::Tool(
                json!({"agent": "infra", "agents": ["infra"], "action": "rm -rf", "confidence": 0.99, "params": {}}),
            ),
            "model output rejected",
        ),
        (
            Mode::Tool(
                json!({"agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.99, "params": {"region": "us-east-1; reboot"}}),
            ),
            "invalid value",
        ),
    ];
    for (mode, expect) in cases {
        set(&stub, mode);
        let started = std::time::Instant::now();
        let i = deck.requests().classify(SPEC).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{expect}: no fallback in time"
        );
        assert_eq!(i.agent, parser.agent);
        assert_eq!(i.params, parser.params);
        assert_eq!(i.source.as_deref(), Some("parser"));
        let note = i.notes.last().unwrap();
        assert!(
            note.contains(expect) && note.contains("used the offline parser"),
            "{expect}: {note}"
        );
    }
}

#[test]
fn prompts_never_carry_secrets() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    set(&stub, Mode::Garbage);
    // A request holding a credential is refused before the model sees any of it.
    let err = deck
        .requests()
        .classify(
            "rotate the secret db-pass, the current password=hunter2 and key AKIAIOSFODNN7EXAMPLE",
        )
        .unwrap_err();
    assert!(
        matches!(err, opsdeck::Error::Refused(_)) && err.to_string().contains("password=****"),
        "{err}"
    );
    assert!(stub.bodies.lock().unwrap().is_empty());
    let _ = deck.requests().classify("rotate the secret db-pass");
    let bodies = stub.bodies.lock().unwrap().join("\n");
    assert!(bodies.contains("rotate the secret db-pass"), "{bodies}");
}

#[test]
fn without_a_model_it_is_exactly_the_offline_parser() {
    let home = Home::new();
    let deck = home.deck("alice");
    for text in [
        SPEC,
        "Restart EC2 instances tagged Env=staging",
        "What is my daily EC2 spend in ap-south-1?",
    ] {
        assert_eq!(
            deck.requests().classify(text).unwrap(),
            opsdeck::intent::parse(text).unwrap()
        );
    }
}

#[test]
fn follow_ups_refine_the_previous_request() {
    let home = Home::new();
    let deck = home.deck("alice");
    deck.requests().ask(SPEC, &quiet).unwrap();
    let again = deck
        .requests()
        .ask("now do the same in eu-west-1", &quiet)
        .unwrap();
    assert_eq!(again.plan.intent.agent, AgentKind::Infra);
    assert_eq!(
        again.plan.intent.params.region.as_deref(),
        Some("eu-west-1")
    );
    assert_eq!(again.plan.intent.params.count, Some(3));
    assert_eq!(
        again.plan.intent.params.load_balancer,
        Some(opsdeck::intent::LoadBalancer::Alb)
    );
    assert!(again.plan.summary.contains("eu-west-1"));
    let fewer = deck.requests().classify("only the first two").unwrap();
    assert_eq!(fewer.params.count, Some(2));
    assert_eq!(fewer.params.region.as_deref(), Some("eu-west-1"));
    // Another user's history is theirs: bob has no previous request to refine.
    assert!(
        home.deck("bob")
            .requests()
            .classify("only the first two")
            .is_err()
    );
}

#[test]
fn follow_ups_give_the_model_the_previous_intent() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    set(&stub, Mode::Garbage);
    deck.requests().ask(SPEC, &quiet).unwrap();
    stub.bodies.lock().unwrap().clear();
    let _ = deck.requests().classify("now do the same in eu-west-1");
    let body = stub.bodies.lock().unwrap().join("\n");
    assert!(
        body.contains("previous request was understood as"),
        "{body}"
    );
    assert!(body.contains("ap-south-1"), "{body}");
}

#[test]
fn corpus_through_the_model_path() {
    #[derive(serde::Deserialize)]
    struct Case {
        text: String,
        agent: AgentKind,
        agents: Vec<AgentKind>,
        action: String,
        params: std::collections::BTreeMap<String, Value>,
    }
    let cases: Vec<Case> = include_str!("corpus/requests.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The stub answers with each request's label: a model that is right, which exercises the
    // Converse round trip, schema validation and reconciliation for every request.
    let table: HashMap<String, Value> = cases
        .iter()
        .map(|c| {
            (
                opsdeck::redact::redact(&c.text),
                json!({"agent": c.agent, "agents": c.agents, "action": c.action, "confidence": 0.95, "params": c.params}),
            )
        })
        .collect();
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 3000);
    set(&stub, Mode::Table(Arc::new(table)));
    let (mut agent, mut exact, mut model_used, mut flagged) = (0, 0, 0, 0);
    for c in &cases {
        let i = deck.requests().classify(&c.text).unwrap();
        agent += usize::from(i.agent == c.agent);
        let scored: std::collections::BTreeMap<String, Value> = i
            .params
            .to_json()
            .into_iter()
            .filter(|(k, _)| {
                c.params.contains_key(k)
                    || !matches!(
                        k.as_str(),
                        "stack" | "command" | "text" | "metric" | "severity" | "engine" | "prefix"
                    )
            })
            .collect();
        exact += usize::from(
            i.agent == c.agent
                && i.agents == c.agents
                && i.action == c.action
                && scored == c.params,
        );
        model_used += usize::from(
            i.source
                .as_deref()
                .is_some_and(|s| s.starts_with("bedrock:")),
        );
        flagged += usize::from(i.notes.iter().any(|n| n.contains("disagree")));
    }
    let n = cases.len() as f64;
    println!(
        "model path on {} requests: agent {:.1}%, fully exact {:.1}%; model reading used {:.1}%; parser disagreement flagged on {:.1}%",
        cases.len(),
        100.0 * agent as f64 / n,
        100.0 * exact as f64 / n,
        100.0 * model_used as f64 / n,
        100.0 * flagged as f64 / n
    );
    assert!(
        model_used as f64 / n > 0.95,
        "valid model output must survive validation"
    );
    assert!(agent as f64 / n > 0.97);
}

#[test]
fn the_model_is_held_to_the_same_ranges() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    let parser = opsdeck::intent::parse(SPEC).unwrap();
    // A count the schema allows but the tenant does not: the model read in a value nobody
    // stated (the parser's reading passed), so the parser's reading is used, with the reason.
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.99,
        "params": {"count": 500, "instance_type": "t3.medium", "region": "ap-south-1", "load_balancer": "alb"}}),
        ),
    );
    let i = deck.requests().classify(SPEC).unwrap();
    assert_eq!(i.source.as_deref(), Some("parser"));
    assert_eq!(i.params, parser.params);
    let note = i.notes.last().unwrap();
    assert!(
        note.contains("model output rejected: count 500 is out of range: a plan may create 1 to 50 instances in tenant default"),
        "{note}"
    );
    // A window the schema's pattern allows but no agent can look back over.
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "monitor", "agents": ["monitor"], "action": "logs", "confidence": 0.99,
        "params": {"function": "checkout", "window": "0d"}}),
        ),
    );
    let i = deck
        .requests()
        .classify("show error logs from lambda checkout for the last day")
        .unwrap();
    assert_eq!(i.source.as_deref(), Some("parser"));
    assert_eq!(i.params.window.as_deref(), Some("1d"));
    // What the user stated out of range is refused before the model is asked.
    stub.bodies.lock().unwrap().clear();
    let e = deck
        .requests()
        .classify("create a billion t3.micro instances")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("count 1000000000 is out of range"),
        "{e}"
    );
    assert!(stub.bodies.lock().unwrap().is_empty());
    // When only the model understood the request, its reading must be in range too.
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.9,
        "params": {"count": 0}}),
        ),
    );
    let e = deck.requests().classify("zorp the blargs").unwrap_err();
    assert!(e.to_string().starts_with("count 0 is out of range"), "{e}");
}

#[test]
fn follow_ups_are_held_to_the_same_ranges() {
    let home = Home::new();
    let deck = home.deck("alice");
    deck.requests().ask(SPEC, &quiet).unwrap();
    let e = deck
        .requests()
        .classify("now do the same in us-east-99")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("us-east-99 is not an AWS region opsdeck knows"),
        "{e}"
    );
    let e = deck
        .requests()
        .classify("now with 99999999999 instances")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("count 99999999999 is out of range"),
        "{e}"
    );
    assert_eq!(deck.approvals().plans(None).unwrap().len(), 1);
}

/// A deck whose tenant has a model configured, reached at `endpoint`.
fn deck_with_model_at(home: &Home, endpoint: &str) -> Deck {
    set_creds();
    let deck = home.deck("alice");
    let mut t = deck.tenant().clone();
    t.llm.model_id = MODEL.into();
    t.llm.region = "us-east-1".into();
    t.llm.timeout_ms = 2000;
    deck.raw_store().put_tenant(&t).unwrap();
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        endpoint_url: Some(endpoint.to_string()),
        ..OpenOptions::default()
    })
    .unwrap()
}

/// The console of a tenant with a model used to panic on the first keystroke (the preview
/// called the model, which blocked on a runtime inside the console's) and again when the
/// session closed. Now the preview is the offline parser's, the model reads the request on
/// submit in a job, and closing inside the runtime is clean: with the model answering, and with
/// the model unreachable (the fallback is said).
#[test]
fn the_console_with_a_model_survives_typing_submitting_and_closing() {
    use opsdeck::tui::app::Msg;
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    use std::time::Instant;

    let stub = start_stub();
    set(
        &stub,
        Mode::Tool(
            json!({"agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.97,
        "params": {"count": 3, "instance_type": "t3.medium", "region": "ap-south-1", "load_balancer": "alb", "service": "EC2"}}),
        ),
    );
    for (endpoint, expect) in [
        (stub.url.clone(), format!("bedrock:{MODEL}")),
        ("http://127.0.0.1:1".to_string(), "parser".to_string()),
    ] {
        let home = Home::new();
        let (rt, app) = common::console(deck_with_model_at(&home, &endpoint));
        let mut app = Some(app);
        rt.block_on(async {
            let a = app.as_mut().unwrap();
            a.start();
            for c in SPEC.chars() {
                a.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                    KeyCode::Char(c),
                    KeyModifiers::NONE,
                ))));
            }
            a.on_timers(Instant::now() + Duration::from_secs(1));
            let live = a.preview.live.clone().unwrap().unwrap();
            assert_eq!(live.agent, AgentKind::Infra);
            assert!(
                live.notes
                    .iter()
                    .any(|n| n.contains("offline reading") && n.contains(MODEL)),
                "{:?}",
                live.notes
            );
            a.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                KeyCode::Enter,
                KeyModifiers::NONE,
            ))));
            let end = Instant::now() + Duration::from_secs(60);
            while !a.jobs.is_empty() && Instant::now() < end {
                let _ = tokio::time::timeout(Duration::from_millis(200), a.step()).await;
            }
            let plan = a.preview.plan.clone().expect("the plan in the preview");
            assert_eq!(plan.plan.intent.source.as_deref(), Some(expect.as_str()));
            if expect == "parser" {
                assert!(
                    plan.plan
                        .intent
                        .notes
                        .iter()
                        .any(|n| n.contains("used the offline parser")),
                    "{:?}",
                    plan.plan.intent.notes
                );
            }
            // The session ends inside the runtime: its model and AWS clients go with it.
            drop(app.take());
        });
    }
}

/// Past requests seeded as the pipeline writes them (requested, classified, planned, queued).
fn seed_past(home: &Home, deck: &Deck, asked: &[(&str, &str, &str)]) {
    let mut events = Vec::new();
    for (n, (text, instance_type, region)) in asked.iter().enumerate() {
        let intent = json!({"agent": "infra", "agents": ["infra"], "action": "create",
            "confidence": 0.9, "low_confidence": false,
            "params": {"count": 2, "instance_type": instance_type, "region": region}});
        events.extend(common::past_request(
            &format!("r-past{n}"),
            text,
            &format!("p-past{n:04}"),
            intent,
            None,
            opsdeck::audit::EventKind::Queued,
        ));
    }
    common::append_signed(home, deck, &events);
}

#[test]
fn similar_past_requests_are_put_in_the_models_order() {
    let home = Home::new();
    let stub = start_stub();
    let deck = deck_with_model(&home, &stub, 2000);
    seed_past(
        &home,
        &deck,
        &[
            (
                "create 2 t3.small instances in Ireland",
                "t3.small",
                "eu-west-1",
            ),
            (
                "create 2 t3.small instances in Ohio",
                "t3.small",
                "us-east-2",
            ),
            (
                "create 2 m5.large instances in Ireland",
                "m5.large",
                "eu-west-1",
            ),
        ],
    );
    let asked = "create 2 t3.small instances in Ireland please";
    let intent = deck.requests().preview(asked, None).unwrap();
    let plans = |found: &[opsdeck::knowledge::Similar]| -> Vec<String> {
        found.iter().filter_map(|s| s.plan_id.clone()).collect()
    };
    deck.requests().refresh_knowledge().unwrap();
    let offline = deck.requests().similar_known(&intent, asked);
    let offline_order = plans(&offline);
    assert_eq!(offline_order.len(), 3, "{offline:#?}");
    assert_eq!(offline_order[0], "p-past0000");

    // The model puts the offline third first; the others keep their order after it.
    set(&stub, Mode::Rank(json!({"order": [3]})));
    stub.bodies.lock().unwrap().clear();
    let ranked = deck.requests().similar(&intent, asked).unwrap();
    assert_eq!(
        plans(&ranked),
        [
            offline_order[2].clone(),
            offline_order[0].clone(),
            offline_order[1].clone()
        ]
    );
    assert!(
        ranked[0]
            .why
            .contains(&format!("ranked 1 by bedrock:{MODEL} (3 offline)")),
        "{:?}",
        ranked[0].why
    );
    // What was sent: the request and the numbered candidates with their readings, the tool
    // forced.
    let bodies = stub.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let sent = &bodies[0];
    assert!(sent.contains("record_ranking"), "{sent}");
    assert!(
        sent.contains("1. create 2 t3.small instances in Ireland [infra/create; pending]"),
        "{sent}"
    );
    assert!(sent.contains("New request: create 2 t3.small instances in Ireland please"));

    // An order that names something else, and a model that cannot answer: the offline order,
    // and the first says why.
    for (mode, says) in [
        (Mode::Rank(json!({"order": [7]})), "model output rejected"),
        (
            Mode::Rank(json!({"order": [2, 2]})),
            "model output rejected",
        ),
        (Mode::Throttle, "model unavailable"),
        (Mode::Garbage, "model"),
    ] {
        set(&stub, mode);
        let found = deck.requests().similar(&intent, asked).unwrap();
        assert_eq!(plans(&found), offline_order);
        assert!(
            found[0]
                .why
                .iter()
                .any(|w| w.contains(says) && w.ends_with("in the offline order")),
            "{says}: {:?}",
            found[0].why
        );
    }
}
