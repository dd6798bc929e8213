//! Waiting and cancelling (issue 17 part 5), against endpoints on 127.0.0.1 of the test's own:
//! one that answers HTTP 500 with no body (the error names status, service and operation), and
//! one that accepts and never answers (a running request reports the call it waits for and is
//! cancelled: one outcome, "cancelled", audited). Then the real binary in tmux: the console
//! shows the call and its seconds, and `C` cancels it.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Home;
use common::tmux::Tmux;
use opsdeck::audit::EventKind;
use opsdeck::aws::{AwsAccess, AwsError};
use opsdeck::events::AgentEvent;
use opsdeck::pipeline::{Deck, OpenOptions};

/// What the test's endpoint does with each connection.
#[derive(Clone, Copy)]
enum Endpoint {
    /// `HTTP/1.1 500` with an empty body, to every request.
    Fails500,
    /// Accepts, reads, and never answers (the connection is held until the test ends).
    Hangs,
}

/// Starts `kind` on a free loopback port; its URL.
fn endpoint(kind: Endpoint) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let held = held.clone();
            std::thread::spawn(move || {
                read_request(&mut conn);
                match kind {
                    Endpoint::Fails500 => {
                        let _ = conn.write_all(
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    Endpoint::Hangs => held.lock().unwrap().push(conn),
                }
            });
        }
    });
    url
}

/// Reads one request's head and body (by its Content-Length).
fn read_request(conn: &mut TcpStream) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let Ok(n) = conn.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return;
            }
        }
    }
}

fn deck(home: &Home, url: &str) -> Deck {
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        endpoint_url: Some(url.to_string()),
        ..OpenOptions::default()
    })
    .expect("open deck")
}

#[test]
fn an_http_500_with_no_body_names_the_status_the_service_and_the_operation() {
    let url = endpoint(Endpoint::Fails500);
    let access = AwsAccess::new(Some(url.clone()), None)
        .with_fixed_credentials("testing", "testing")
        .with_limits(Duration::from_secs(10), 1);
    let conf = access.config_blocking("us-east-1").unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let err = access
        .block_on(async move { ec2.describe_instances().send().await })
        .unwrap()
        .unwrap_err();
    let said = AwsError::from_sdk("ec2", "DescribeInstances", &err).to_string();
    assert!(
        said.starts_with("HTTP 500 from ec2 DescribeInstances: the service failed"),
        "{said}"
    );
    assert!(!said.contains("unknown error"), "{said}");

    // Through the pipeline, as a person asking sees it.
    let home = Home::new();
    let err = deck(&home, &url)
        .requests()
        .request("list instances in us-east-1", &|_| {})
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("HTTP 500 from ec2 DescribeInstances"),
        "{err}"
    );
}

#[test]
fn a_hung_call_is_reported_while_it_waits_and_cancelled_with_one_outcome() {
    let url = endpoint(Endpoint::Hangs);
    let home = Home::new();
    let deck = deck(&home, &url);
    let events: Mutex<Vec<AgentEvent>> = Mutex::default();
    let waiting_for = |events: &Mutex<Vec<AgentEvent>>| {
        events.lock().unwrap().iter().find_map(|e| match e {
            AgentEvent::Waiting {
                call: Some(call),
                elapsed_secs,
                ..
            } => Some((call.clone(), *elapsed_secs)),
            _ => None,
        })
    };
    let (result, latency) = std::thread::scope(|s| {
        let asking = s.spawn(|| {
            let sink = |e: AgentEvent| events.lock().unwrap().push(e);
            deck.requests()
                .request("list instances in us-east-1", &sink)
                .map(|_| ())
        });
        let end = Instant::now() + Duration::from_secs(20);
        while waiting_for(&events).is_none() {
            assert!(
                Instant::now() < end,
                "no Waiting event: {:?}",
                events.lock()
            );
            assert!(
                !asking.is_finished(),
                "the request ended: {:?}",
                events.lock()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let asked = Instant::now();
        deck.requests().cancel_running();
        let result = asking.join().unwrap();
        (result, asked.elapsed())
    });
    println!(
        "cancel → request ended: {:.1} ms",
        latency.as_secs_f64() * 1e3
    );
    let (call, secs) = waiting_for(&events).unwrap();
    assert_eq!(call, "ec2 DescribeInstances");
    assert!(secs >= 1, "reported from its first second: {secs}");
    let err = result.unwrap_err();
    assert_eq!(err.code(), "cancelled", "{err}");
    assert!(
        err.to_string()
            .starts_with("cancelled: stopped waiting for ec2 DescribeInstances after "),
        "{err}"
    );
    // Nothing said it failed: no Failed event, and the trail has one outcome, cancelled.
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, AgentEvent::Failed { .. })),
        "{:?}",
        events.lock()
    );
    let mut outcomes = Vec::new();
    deck.trail()
        .scan_audit(&mut |r| {
            if matches!(r.event.event, EventKind::Cancelled | EventKind::Failed) {
                outcomes.push((r.event.event, r.event.message.clone()));
            }
            true
        })
        .unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].0, EventKind::Cancelled, "{outcomes:?}");
}

/// How long the screen took to show `what` after a key, polled every 20 ms: a figure, printed.
fn shown_after(t: &Tmux, session: &str, what: &str) -> (String, Duration) {
    let start = Instant::now();
    let s = t.wait(session, what, |s| s.contains(what));
    (s, start.elapsed())
}

#[test]
fn the_console_shows_the_call_in_flight_and_cancels_it_in_tmux() {
    let Some(t) = Tmux::new("waiting") else {
        return;
    };
    let url = endpoint(Endpoint::Hangs);
    let home = Home::new();
    common::enrol_cli(&home);
    let env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
        ("AWS_ENDPOINT_URL", url.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];
    t.start("alice", (120, 40), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));

    // Ctrl-C from the prompt cancels the request (and leaves the console open).
    t.text("alice", "list instances in us-east-1");
    t.keys("alice", &["Enter"]);
    let s = t.wait("alice", "the call and its seconds", |s| {
        s.contains("waiting for ec2 DescribeInstances")
            && regex::Regex::new(r"ec2 DescribeInstances… [1-9][0-9]* s")
                .unwrap()
                .is_match(s)
    });
    println!("{s}");
    t.keys("alice", &["C-c"]);
    let (s, took) = shown_after(
        &t,
        "alice",
        "cancelled: stopped waiting for ec2 DescribeInstances",
    );
    println!("{s}");
    println!(
        "Ctrl-C → cancelled on screen: {:.0} ms",
        took.as_secs_f64() * 1e3
    );
    assert!(
        s.contains("1 Conversation"),
        "the console is still open:\n{s}"
    );
    assert!(!s.contains("failed"), "one outcome, cancelled:\n{s}");

    // `C` outside the prompt cancels the next one.
    t.text("alice", "list instances in us-east-1");
    t.keys("alice", &["Enter"]);
    t.wait("alice", "the second call", |s| {
        s.matches("waiting for ec2 DescribeInstances").count() == 2
    });
    t.keys("alice", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    t.keys("alice", &["C"]);
    let s = t.wait("alice", "the second cancel", |s| {
        s.matches("cancelled: stopped waiting for ec2 DescribeInstances")
            .count()
            == 2
    });
    println!(
        "C → cancelled on screen: {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    assert!(!s.contains("failed"), "{s}");
    t.wait("alice", "idle again", |s| s.contains("idle"));
}

#[test]
fn the_cli_names_a_slow_call_on_stderr_and_ctrl_c_cancels_the_request() {
    use std::io::BufRead;
    let url = endpoint(Endpoint::Hangs);
    let home = Home::new();
    let mut child = home
        .command()
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["ask", "list instances in us-east-1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut line = String::new();
    while !said.contains("waiting for ec2 DescribeInstances… 2 s") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stderr ended: {said}"
        );
        said.push_str(&line);
    }
    let asked = Instant::now();
    // SAFETY: kill sends SIGINT to our own child, as Ctrl-C at its terminal would.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    println!(
        "SIGINT → ask exited: {:.0} ms",
        asked.elapsed().as_secs_f64() * 1e3
    );
    said.push_str(&rest);
    assert_eq!(status.code(), Some(8), "{said}");
    assert!(
        said.contains("cancelled: stopped waiting for ec2 DescribeInstances after"),
        "{said}"
    );
    let mut outcomes = Vec::new();
    home.deck("alice")
        .trail()
        .scan_audit(&mut |r| {
            if matches!(r.event.event, EventKind::Cancelled | EventKind::Failed) {
                outcomes.push(r.event.event);
            }
            true
        })
        .unwrap();
    assert_eq!(outcomes, vec![EventKind::Cancelled], "{said}");
}

/// What `events` said the work waited for, in order, with the most seconds said for each.
fn waited_for(events: &Mutex<Vec<AgentEvent>>) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for e in events.lock().unwrap().iter() {
        if let AgentEvent::Waiting {
            call: Some(call),
            elapsed_secs,
            ..
        } = e
        {
            match out.iter_mut().find(|(c, _)| c == call) {
                Some((_, secs)) => *secs = (*secs).max(*elapsed_secs),
                None => out.push((call.clone(), *elapsed_secs)),
            }
        }
    }
    out
}

#[test]
fn a_dry_run_reports_its_tool_phase_and_seconds_while_it_runs() {
    // A Terraform that takes three seconds over `init` and then fails: what matters is what
    // the person is told while it runs.
    let home = Home::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("slow-terraform");
    std::fs::write(
        &bin,
        "#!/bin/sh\nsleep 3\necho 'Error: slow on purpose' >&2\nexit 1\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&bin).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bin, perms).unwrap();
    home.configure(&format!(
        "[exec]\nterraform = \"{}\"\nsandbox_read = [\"{}\"]\n",
        bin.display(),
        tools.path().display()
    ));
    let deck = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        ..OpenOptions::default()
    })
    .unwrap();
    let dir = common::terraform_data_dir("");
    let events: Mutex<Vec<AgentEvent>> = Mutex::default();
    let sink = |e: AgentEvent| events.lock().unwrap().push(e);
    let rec = deck
        .requests()
        .submit_terraform(dir.path(), "hello", &sink)
        .unwrap();
    assert!(
        rec.plan.dry_runs.iter().any(|d| d.tool == "terraform"),
        "{:?}",
        rec.plan.dry_runs
    );
    let waited = waited_for(&events);
    let init = waited
        .iter()
        .find(|(c, _)| c == "terraform init")
        .unwrap_or_else(|| {
            panic!(
                "no wait for terraform init: {waited:?}; {:?}; {:?}",
                rec.plan.dry_runs,
                events.lock()
            )
        });
    assert!(init.1 >= 2, "counted its seconds: {waited:?}");
    // The wait ends when the dry run does: the last word is "nothing in flight".
    let last = events.lock().unwrap().iter().rev().find_map(|e| match e {
        AgentEvent::Waiting { call, .. } => Some(call.clone()),
        _ => None,
    });
    assert_eq!(last, Some(None));
    // The CLI says it on stderr, as it does for an AWS call.
    let out = home
        .cmd()
        .args(["--user", "alice", "submit"])
        .arg(dir.path())
        .args(["--stack", "hello2"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("waiting for terraform init… 2 s"), "{said}");
}

#[test]
fn an_apply_reports_the_aws_call_its_step_waits_for_and_is_cancelled() {
    let Some(moto) = common::moto::Moto::get("apply_waits") else {
        return;
    };
    let _held = moto.exclusive();
    support::seed::fleet(&moto.endpoint, "us-east-1");
    let home = Home::new();
    let t = common::team(&home);
    let open = |user: &str, url: &str| {
        let clock: Arc<dyn opsdeck::time::Clock> = t.clock.clone();
        Deck::open(OpenOptions {
            home: Some(home.path().to_path_buf()),
            user: Some(user.into()),
            clock: Some(clock),
            endpoint_url: Some(url.to_string()),
            ..OpenOptions::default()
        })
        .unwrap()
    };
    let rec = match open("olga", &moto.endpoint)
        .requests()
        .request("Restart EC2 instances tagged Env=staging", &|_| {})
    {
        Ok(opsdeck::pipeline::Answer::Plan(rec)) => rec,
        other => panic!("expected a plan: {other:?}"),
    };
    let id = rec.plan.plan_id.clone();
    let code = t.code("bob");
    open("bob", &moto.endpoint)
        .approvals()
        .approve(&id, Some("checked".into()), Some(&code), None)
        .unwrap();

    // Applied where AWS never answers: the step's call is named with its seconds, and the
    // apply is cancelled once it has waited two.
    let hung = endpoint(Endpoint::Hangs);
    let deck = open("olga", &hung);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Mutex::new(Some(tx));
    let events: Mutex<Vec<AgentEvent>> = Mutex::default();
    let sink = |e: AgentEvent| {
        if let AgentEvent::Waiting {
            call: Some(_),
            elapsed_secs,
            ..
        } = &e
            && *elapsed_secs >= 2
            && let Some(tx) = tx.lock().unwrap().take()
        {
            tx.send(true).unwrap();
        }
        events.lock().unwrap().push(e);
    };
    let started = Instant::now();
    let report = support::seed::runtime()
        .block_on(deck.runs().apply(&id, &sink, rx))
        .unwrap();
    println!(
        "apply against a hung endpoint ended after {:.1} s: {:?}",
        started.elapsed().as_secs_f64(),
        waited_for(&events)
    );
    assert!(report.cancelled && !report.success, "{report:?}");
    let waited = waited_for(&events);
    let (call, secs) = waited
        .first()
        .unwrap_or_else(|| panic!("no wait reported: {:?}", events.lock()));
    assert!(call.starts_with("ec2 "), "{waited:?}");
    assert!(*secs >= 2, "{waited:?}");
}
