//! Waiting and cancelling (issue 17 part 5), against endpoints on 127.0.0.1 of the test's own:
//! one that answers HTTP 500 with no body (the error names status, service and operation), and
//! one that accepts and never answers (a running request reports the call it waits for and is
//! cancelled: one outcome, "cancelled", audited). Then the real binary in tmux: the console
//! shows the call and its seconds, and `C` cancels it. Dry runs that hang (an Ansible check at
//! an SSH port that never speaks, a tool that never returns) are stopped by a cancel, and an
//! apply's hung AWS call is abandoned at once, said as such.

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

/// A loopback port that accepts connections and never speaks (ssh then waits at the banner
/// exchange), and for each connection accepted, when its peer closed it.
fn silent_port() -> (u16, Arc<Mutex<Vec<Option<Instant>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed: Arc<Mutex<Vec<Option<Instant>>>> = Arc::default();
    let seen = closed.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let k = {
                let mut c = seen.lock().unwrap();
                c.push(None);
                c.len() - 1
            };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                seen.lock().unwrap()[k] = Some(Instant::now());
            });
        }
    });
    (port, closed)
}

/// The request outcomes in the trail (cancelled or failed), with their messages.
fn outcomes(deck: &Deck) -> Vec<(EventKind, String)> {
    let mut out = Vec::new();
    deck.trail()
        .scan_audit(&mut |r| {
            if matches!(r.event.event, EventKind::Cancelled | EventKind::Failed) {
                out.push((r.event.event, r.event.message.clone().unwrap_or_default()));
            }
            true
        })
        .unwrap();
    out
}

/// Plans' workspaces left under the data directory (`workspaces/p-…`).
fn workspaces_left(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut left = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return left;
    };
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "workspaces") {
            left.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|w| w.path())
                    .filter(|w| {
                        w.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("p-"))
                    }),
            );
        } else {
            left.extend(workspaces_left(&path));
        }
    }
    left
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
    one_outcome_cancelled(&deck, &events);
}

/// Nothing said the request failed (no Failed event), and the trail has one outcome for it,
/// cancelled; its message.
fn one_outcome_cancelled(deck: &Deck, events: &Mutex<Vec<AgentEvent>>) -> String {
    assert!(
        !events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, AgentEvent::Failed { .. })),
        "{:?}",
        events.lock()
    );
    let ended = outcomes(deck);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, EventKind::Cancelled, "{ended:?}");
    ended[0].1.clone()
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
    let url = endpoint(Endpoint::Hangs);
    let home = Home::new();
    let mut cmd = home.command();
    cmd.env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["ask", "list instances in us-east-1"]);
    let (status, said, _, _) =
        interrupted_once_it_says(cmd, "waiting for ec2 DescribeInstances… 2 s", |_| {});
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

/// Starts `cmd` (an `opsdeck ask`) and reads its stderr until it says `what`; then, like
/// Ctrl-C at its terminal, interrupts it and reads the rest. Returns its exit status, all it
/// said and how long it took to exit after the interrupt.
fn interrupted_once_it_says(
    mut cmd: std::process::Command,
    what: &str,
    before: impl FnOnce(&str),
) -> (std::process::ExitStatus, String, Duration, Instant) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let mut line = String::new();
    while !said.contains(what) {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stderr ended: {said}"
        );
        said.push_str(&line);
    }
    before(&said);
    let asked = Instant::now();
    // SAFETY: kill sends SIGINT to our own child, as Ctrl-C at its terminal would.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let latency = asked.elapsed();
    println!("SIGINT → ask exited: {:.0} ms", latency.as_secs_f64() * 1e3);
    said.push_str(&rest);
    (status, said, latency, asked)
}

/// Writes an executable script (a stand-in for a tool).
fn executable(path: &std::path::Path, script: &str) {
    std::fs::write(path, script).unwrap();
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(path, perms).unwrap();
}

/// alice's session with `bin` as its Terraform, which may read and write `tools` (beside its
/// workspace) in its sandbox.
fn alice_with_terraform(home: &Home, bin: &std::path::Path, tools: &std::path::Path) -> Deck {
    let tools = serde_json::Value::String(tools.display().to_string());
    home.configure(&format!(
        "[exec]\nterraform = {}\nsandbox_read = [{tools}]\nsandbox_write = [{tools}]\n",
        serde_json::Value::String(bin.display().to_string()),
    ));
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        ..OpenOptions::default()
    })
    .unwrap()
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
    executable(
        &bin,
        "#!/bin/sh\nsleep 3\necho 'Error: slow on purpose' >&2\nexit 1\n",
    );
    let deck = alice_with_terraform(&home, &bin, tools.path());
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
    // apply is cancelled once it has waited two. The hung call is abandoned at once (not
    // waited out to the SDK's timeout) and said to be of unknown effect.
    let hung = endpoint(Endpoint::Hangs);
    let deck = open("olga", &hung);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let tx = Mutex::new(Some(tx));
    let cancelled_at: Mutex<Option<Instant>> = Mutex::default();
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
            *cancelled_at.lock().unwrap() = Some(Instant::now());
            tx.send(true).unwrap();
        }
        events.lock().unwrap().push(e);
    };
    let started = Instant::now();
    let report = support::seed::runtime()
        .block_on(deck.runs().apply(&id, &sink, rx))
        .unwrap();
    let latency = cancelled_at.lock().unwrap().unwrap().elapsed();
    println!(
        "apply against a hung endpoint ended after {:.1} s, {:.0} ms after the cancel: {:?}",
        started.elapsed().as_secs_f64(),
        latency.as_secs_f64() * 1e3,
        waited_for(&events)
    );
    assert!(report.cancelled && !report.success, "{report:?}");
    assert_eq!(report.state, opsdeck::approval::State::Cancelled);
    let waited = waited_for(&events);
    let (call, secs) = waited
        .first()
        .unwrap_or_else(|| panic!("no wait reported: {:?}", events.lock()));
    assert_eq!(call, "ec2 RebootInstances", "{waited:?}");
    assert!(*secs >= 2, "{waited:?}");
    // Far under the SDK's own timeout: the call was given up, not waited out.
    assert!(latency < Duration::from_secs(5), "{latency:?}");
    // What it says: the call abandoned, on which instance, its effect unknown; the instances
    // before it done (none: it was the first) and the rest not started.
    let targets = rec.plan.steps[0].aws_call().unwrap().targets.to_vec();
    assert!(targets.len() >= 2, "{targets:?}");
    let expected = format!(
        "cancelled: abandoned ec2 RebootInstances on {} after ",
        targets[0]
    );
    assert!(report.message.starts_with(&expected), "{}", report.message);
    assert!(
        report
            .message
            .contains("its effect at AWS is unknown (it may have landed)"),
        "{}",
        report.message
    );
    assert!(
        report.message.contains(&format!(
            "done before it: none; not started: {}",
            targets[1..].join(", ")
        )),
        "{}",
        report.message
    );
    let summary = report.outputs.as_ref().unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!summary.contains("calls failed"), "{summary}");
    assert!(summary.contains("abandoned: effect unknown"), "{summary}");
    // The trail: the plan's one outcome is cancelled, saying the same.
    let ended: Vec<(EventKind, String)> = outcomes(&deck);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, EventKind::Cancelled, "{ended:?}");
    assert!(ended[0].1.starts_with(&expected), "{ended:?}");
}

#[test]
fn ctrl_c_in_ask_stops_an_ansible_check_hung_at_an_ssh_banner() {
    let Some(bin) = common::ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = common::team(&home);
    home.use_ansible(&bin, "");
    // The host's SSH port accepts and never speaks: ssh waits at the banner exchange until
    // Ansible's own connection timeout (15 s in the workspace's ansible.cfg).
    let (port, connections) = silent_port();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    web-1:\n      ansible_host: 127.0.0.1\n      ansible_port: {port}\n      ansible_user: deploy\n"
        ),
    )
    .unwrap();
    let mut cmd = home.command();
    cmd.args([
        "--user",
        "olga",
        "ask",
        "install nginx on env=dev",
        "--inventory",
    ])
    .arg(&inventory);
    let (status, said, latency, asked) =
        interrupted_once_it_says(cmd, "waiting for ansible-playbook --check… 2 s", |said| {
            assert!(
                !connections.lock().unwrap().is_empty(),
                "ssh never reached the port: {said}"
            )
        });
    assert_eq!(status.code(), Some(8), "{said}");
    assert!(
        said.contains("cancelled: stopped the dry run of step 1 (ansible-playbook --check, "),
        "{said}"
    );
    assert!(!said.contains("failed"), "{said}");
    // Well under the hang's own 15 s: the check was stopped, not waited out.
    assert!(latency < Duration::from_secs(10), "{latency:?}: {said}");
    // ssh went with Ansible (its process group was signalled): the connection closed.
    let end = Instant::now() + Duration::from_secs(10);
    while connections.lock().unwrap().iter().any(Option::is_none) {
        assert!(Instant::now() < end, "ssh still holds the connection");
        std::thread::sleep(Duration::from_millis(50));
    }
    let last_closed = connections.lock().unwrap().iter().flatten().max().copied();
    println!(
        "SIGINT → ssh's connection closed: {:.0} ms",
        last_closed.unwrap().duration_since(asked).as_secs_f64() * 1e3
    );
    // One outcome, cancelled, naming the step; no plan and no workspace left.
    let olga = t.deck("olga");
    let ended = outcomes(&olga);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, EventKind::Cancelled, "{ended:?}");
    assert!(
        ended[0].1.contains("step 1 (ansible-playbook --check"),
        "{ended:?}"
    );
    assert!(
        olga.raw_store().list_plans("default").unwrap().is_empty(),
        "a plan was stored"
    );
    assert_eq!(
        workspaces_left(home.path()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn cancelling_a_request_stops_its_hung_terraform_dry_run_and_releases_the_stack() {
    // A stand-in for a Terraform that never returns, with a child of its own: the cancel must
    // reach the whole process group (the child's pid is written where the test can read it).
    let home = Home::new();
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("hung-terraform");
    let pid_file = tools.path().join("child.pid");
    executable(
        &bin,
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > '{}'\nwait\n",
            pid_file.display()
        ),
    );
    let deck = alice_with_terraform(&home, &bin, tools.path());
    let dir = common::terraform_data_dir("");
    let events: Mutex<Vec<AgentEvent>> = Mutex::default();
    let (result, latency, child) = std::thread::scope(|s| {
        let submitting = s.spawn(|| {
            let sink = |e: AgentEvent| events.lock().unwrap().push(e);
            deck.requests()
                .submit_terraform(dir.path(), "hello", &sink)
                .map(|_| ())
        });
        let end = Instant::now() + Duration::from_secs(20);
        while !waited_for(&events)
            .iter()
            .any(|(c, secs)| c == "terraform init" && *secs >= 1)
        {
            assert!(Instant::now() < end, "no wait: {:?}", events.lock());
            assert!(!submitting.is_finished(), "ended: {:?}", events.lock());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            deck.stack_lock("hello").unwrap().is_some(),
            "the dry run holds the stack"
        );
        let child: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let asked = Instant::now();
        deck.requests().cancel_running();
        let result = submitting.join().unwrap();
        (result, asked.elapsed(), child)
    });
    println!(
        "cancel → dry run stopped, request ended: {:.0} ms",
        latency.as_secs_f64() * 1e3
    );
    let err = result.unwrap_err();
    assert_eq!(err.code(), "cancelled", "{err}");
    assert!(
        err.to_string()
            .starts_with("cancelled: stopped the dry run of step 1 (terraform init, "),
        "{err}"
    );
    // SIGTERM, then SIGKILL 5 s later at the latest: well under the dry run's own timeout.
    assert!(latency < Duration::from_secs(8), "{latency:?}");
    // The stand-in's own child is gone too: the group was signalled, not only the leader.
    // SAFETY: kill with signal 0 only asks whether the pid exists.
    let end = Instant::now() + Duration::from_secs(5);
    while unsafe { libc::kill(child, 0) } == 0 {
        assert!(Instant::now() < end, "pid {child} outlived the cancel");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        deck.stack_lock("hello").unwrap().is_none(),
        "stack still locked"
    );
    assert_eq!(
        workspaces_left(home.path()),
        Vec::<std::path::PathBuf>::new()
    );
    let said = one_outcome_cancelled(&deck, &events);
    assert!(said.contains("step 1 (terraform init, "), "{said}");
    // The session works again: the next request is not cancelled by this one's cancel.
    let dir2 = common::terraform_data_dir("");
    std::fs::write(&bin, "#!/bin/sh\necho 'Error: no' >&2\nexit 1\n").unwrap();
    let rec = deck
        .requests()
        .submit_terraform(dir2.path(), "hello2", &|_| {})
        .unwrap();
    assert!(!rec.plan.dry_runs.is_empty());
}
