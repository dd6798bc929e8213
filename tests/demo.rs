//! `opsdeck demo` as a newcomer runs it, in tmux: the stand-in starts and is seeded, the console
//! opens on the demo tenant, each of the seven example requests is asked and answered with data
//! from the seeded account, the demo approver approves the restart plan from another terminal,
//! and it is applied from the console. Leaving the console stops the stand-in.
//!
//! Needs tmux and a Python with the pinned moto (tests/run.sh's venv); SKIPs otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

/// A Python with the moto the lock pins: the suite's venv.
fn python_with_moto() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("OPSDECK_TEST_PYTHON").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/pyenv/bin/python"
        ))),
    ];
    let want = opsdeck::demo::moto_pin();
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import moto; print(moto.__version__)"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == want)
    });
    if found.is_none() {
        eprintln!(
            "SKIP: no Python with moto {want} (tests/run.sh builds target/pyenv from the lock)"
        );
    }
    found
}

/// The environment the demo runs with: a fresh home, the pinned moto, no AWS of any kind (the
/// demo must not need it), no provider downloads.
fn demo_env(home: &Path, python: &Path) -> Vec<(&'static str, String)> {
    let mirror = home.join("no-providers");
    std::fs::create_dir_all(&mirror).unwrap();
    vec![
        ("OPSDECK_HOME", home.display().to_string()),
        ("OPSDECK_DEMO_PYTHON", python.display().to_string()),
        ("OPSDECK_PROVIDER_MIRROR", mirror.display().to_string()),
        ("USER", "alice".into()),
        ("OPSDECK_USER", String::new()),
        ("TF_CLI_CONFIG_FILE", "/dev/null".into()),
        ("CHECKPOINT_DISABLE", "1".into()),
        ("NO_COLOR", String::new()),
        // Anything the demo leaked to the environment's AWS settings would fail here, loudly.
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".into()),
        ("AWS_ACCESS_KEY_ID", "not-the-demo".into()),
        ("AWS_SECRET_ACCESS_KEY", "not-the-demo".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn opsdeck(env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

/// Each example, what the answer must show from the seeded account, and whether it queues a plan.
fn expectations() -> Vec<(String, Vec<&'static str>)> {
    let examples = opsdeck::demo::examples();
    assert_eq!(examples.len(), 7);
    let wanted: [Vec<&'static str>; 7] = [
        vec!["create stack", "3 × t3.medium", "queued for approval"],
        vec!["2 hosts in environment dev", "queued for approval"],
        vec![
            "Restart 3 instances tagged Env=staging",
            "queued for approval",
        ],
        vec!["EC2 in ap-south-1", "spend"],
        vec!["demo-public-assets", "1 public"],
        vec!["/aws/lambda/checkout-api", "payment provider timeout"],
        vec!["demo-customer-feedback", "12 document"],
    ];
    examples.into_iter().zip(wanted).collect()
}

#[test]
fn the_demo_answers_all_seven_examples_and_runs_an_approved_plan() {
    let Some(python) = python_with_moto() else {
        return;
    };
    let Some(t) = Tmux::new("demo") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let env = demo_env(home.path(), &python);
    t.start(
        "demo",
        (200, 60),
        &env,
        env!("CARGO_BIN_EXE_opsdeck"),
        &["demo"],
    );
    t.wait_for(
        "demo",
        "the demo's welcome",
        Duration::from_secs(120),
        |s| s.contains("Demo tenant demo") && s.contains("tenant demo"),
    );

    for (request, wanted) in expectations() {
        t.text("demo", &request);
        t.keys("demo", &["Enter"]);
        let screen = t.wait_for("demo", &request, Duration::from_secs(120), |s| {
            wanted.iter().all(|w| s.contains(w))
        });
        assert!(!screen.contains("could not reach"), "{request}:\n{screen}");
        // The next request starts once this one is done (the status line says idle).
        t.wait_for("demo", "idle", Duration::from_secs(60), |s| {
            s.contains("idle")
        });
    }

    println!("{}", t.screen("demo"));

    // The restart plan, approved by the demo approver from another terminal.
    let plans = opsdeck(&env, &["--tenant", "demo", "plans", "list", "--json"]);
    let plans: serde_json::Value = serde_json::from_slice(&plans.stdout).unwrap();
    let restart = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan"]["intent"]["agent"] == "ops")
        .expect("the restart plan");
    let id = restart["plan"]["plan_id"].as_str().unwrap().to_string();
    let code = opsdeck(
        &env,
        &[
            "--tenant",
            "demo",
            "--user",
            "demo-approver",
            "totp",
            "--code-only",
        ],
    );
    assert!(code.status.success(), "{code:?}");
    let code = String::from_utf8_lossy(&code.stdout).trim().to_string();
    let approved = opsdeck(
        &env,
        &[
            "--tenant",
            "demo",
            "--user",
            "demo-approver",
            "approve",
            &id,
            "--totp",
            &code,
        ],
    );
    assert!(approved.status.success(), "{approved:?}");

    // Applied from the console: approvals pane, the plan by its id, x, Enter to confirm.
    t.keys("demo", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("demo", &["4"]);
    t.wait_for("demo", "the approved plan", Duration::from_secs(15), |s| {
        s.lines().any(|l| l.contains(&id) && l.contains("approved"))
    });
    t.keys("demo", &["/"]);
    t.text("demo", &id);
    t.keys("demo", &["Enter"]);
    std::thread::sleep(Duration::from_millis(200));
    t.keys("demo", &["x"]);
    // Enter applies once the identity receipt (the stand-in's account) is shown.
    t.wait("demo", "the apply confirmation", |s| {
        s.contains(&id) && s.contains("Apply") && s.contains("runner")
    });
    t.keys("demo", &["Enter"]);
    let end = Instant::now() + Duration::from_secs(120);
    let state = loop {
        let shown = opsdeck(&env, &["--tenant", "demo", "plans", "show", &id, "--json"]);
        let rec: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
        let state = rec["state"].as_str().unwrap_or_default().to_string();
        if state == "succeeded" || state == "failed" || Instant::now() > end {
            break state;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(state, "succeeded", "{}", t.screen("demo"));

    // The trail holds the whole story, in the demo tenant only.
    let trail = opsdeck(&env, &["--tenant", "demo", "audit", "list", "--json"]);
    let events: serde_json::Value = serde_json::from_slice(&trail.stdout).unwrap();
    let about: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["planId"] == id.as_str())
        .map(|e| {
            (
                e["event"]["userId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["event"]["event"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (who, what) in [
        ("alice", "queued"),
        ("demo-approver", "approved"),
        ("alice", "executing"),
        ("alice", "completed"),
    ] {
        assert!(
            about.iter().any(|(u, e)| u == who && e == what),
            "{who} {what} missing: {about:?}"
        );
    }

    // Leaving the console stops the stand-in and removes its record.
    t.keys("demo", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("demo", &["q"]);
    let record = home.path().join("demo").join("standin.json");
    let end = Instant::now() + Duration::from_secs(15);
    while record.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !record.exists(),
        "the stand-in is still recorded as running"
    );
    // A demo tenant without its stand-in reaches nothing: not AWS, not the environment's endpoint.
    let after = opsdeck(
        &env,
        &[
            "--tenant",
            "demo",
            "ask",
            "Scan all S3 buckets for public access",
        ],
    );
    let text = String::from_utf8_lossy(&after.stderr).to_string()
        + &String::from_utf8_lossy(&after.stdout);
    assert!(text.contains("stand-in is not running"), "{text}");
    assert!(text.contains("`opsdeck demo`"), "{text}");
}

#[test]
fn the_demo_never_installs_without_consent_and_says_how() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .env("OPSDECK_HOME", home.path())
        .env_remove("OPSDECK_DEMO_PYTHON")
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("opsdeck demo --install"), "{why}");
    assert!(why.contains(opsdeck::demo::moto_pin()), "{why}");
    assert!(!home.path().join("demo").join("venv").exists());
}

#[test]
fn serve_keeps_the_stand_in_for_other_terminals_and_stop_ends_it() {
    let Some(python) = python_with_moto() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let env = demo_env(home.path(), &python);
    let mut serve = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    for (k, v) in &env {
        serve.env(k, v);
    }
    let mut serve = serve
        .args(["demo", "--serve", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let welcome: serde_json::Value = serde_json::from_str(&first).expect("the welcome as JSON");
    assert_eq!(welcome["tenant"], "demo");
    assert_eq!(welcome["approver"], "demo-approver");
    assert_eq!(welcome["seeded"]["instances"].as_array().unwrap().len(), 9);
    assert!(
        welcome["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    // Another terminal: a second demo is refused with what to do; the tenant answers.
    let second = opsdeck(&env, &["demo", "--serve"]);
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("opsdeck demo --stop"));
    let scan = opsdeck(
        &env,
        &[
            "--tenant",
            "demo",
            "--json",
            "ask",
            "Scan all S3 buckets for public access",
        ],
    );
    assert!(scan.status.success(), "{scan:?}");
    assert!(String::from_utf8_lossy(&scan.stdout).contains("demo-public-assets"));

    let stop = opsdeck(&env, &["demo", "--stop"]);
    assert!(stop.status.success(), "{stop:?}");
    let end = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = serve.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = serve.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "--serve did not end after --stop"
    );
}
