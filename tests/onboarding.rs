//! A first-time user: `opsdeck init` on an empty home, `opsdeck totp` for people without a phone,
//! the console's `:init`, and the README's first-approval steps followed literally as a new OS
//! user on a fresh home, where every refusal's suggested command must work.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Home;
use opsdeck::tui::action::Action;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn init_makes_you_the_first_admin_and_totp_prints_only_your_own_code() {
    let home = Home::new();
    let out = home.cmd().args(["init", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let setup = json(&out);
    assert_eq!(setup["user"], "alice");
    assert_eq!(setup["registered_now"], true);
    assert_eq!(setup["roles"], serde_json::json!(["admin"]));
    let secret = setup["totp_secret"].as_str().unwrap().to_string();
    assert!(setup["otpauth_uri"].as_str().unwrap().contains(&secret));
    assert_eq!(setup["data_dir"], home.path().display().to_string());
    let steps = setup["next_steps"].to_string();
    assert!(steps.contains("opsdeck totp"), "{steps}");
    assert!(steps.contains("users add NAME --role approver"), "{steps}");
    assert!(steps.contains("opsdeck demo"), "{steps}");

    // Human output: the QR code, the secret, separation of duties, the next steps.
    let again = home.cmd().arg("init").output().unwrap();
    assert!(again.status.success());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("already set up; you are alice (admin)"),
        "{text}"
    );
    assert!(!text.contains(&secret), "the secret is shown once: {text}");
    assert!(text.contains("someone other than its requester"), "{text}");

    // The code printed is the one an authenticator app shows now (or the next, at a step edge).
    let out = home.cmd().args(["totp", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let shown = json(&out);
    let code = shown["code"].as_str().unwrap();
    assert!(
        [common::code(&secret, 0), common::code(&secret, 1)].contains(&code.to_string()),
        "{shown}"
    );
    assert!(
        shown["risk"]
            .as_str()
            .unwrap()
            .contains("stands in for alice")
    );
    let plain = home.cmd().args(["totp", "--code-only"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim().len(), 6);
    assert!(String::from_utf8_lossy(&plain.stderr).contains("can approve as alice"));

    // `--user` never produces somebody else's code, even a registered one.
    let bob = home
        .cmd()
        .args(["users", "add", "bob", "--role", "approver", "--totp"])
        .arg(common::code(&secret, 1))
        .output()
        .unwrap();
    assert!(bob.status.success(), "{bob:?}");
    let refused = home.cmd().args(["--user", "bob", "totp"]).output().unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    // The tenant does not let alice's OS account act as bob at all.
    assert!(
        why.contains("you are OS account alice") && why.contains("--user bob"),
        "{why}"
    );

    // Each printing is in the trail, never the code itself.
    let trail = home
        .cmd()
        .args(["audit", "list", "--event", "code_shown", "--json"])
        .output()
        .unwrap();
    let events = json(&trail);
    assert_eq!(events.as_array().unwrap().len(), 2, "{events}");
    assert!(!String::from_utf8_lossy(&trail.stdout).contains(code));

    // Somebody not registered is refused with whom to ask and a command they can run.
    let stranger = home
        .cmd()
        .env("USER", "mallory")
        .arg("init")
        .output()
        .unwrap();
    assert!(!stranger.status.success());
    let why = String::from_utf8_lossy(&stranger.stderr);
    assert!(why.contains("ask an admin (alice)"), "{why}");
    assert!(why.contains("`opsdeck demo`"), "{why}");
}

#[test]
fn the_console_says_how_to_start_and_init_enrols_you() {
    let home = Home::new();
    let (rt, mut app) = common::console(home.deck("alice"));
    let transcript = |app: &opsdeck::tui::app::App| {
        app.transcript
            .lines
            .iter()
            .map(|l| l.text())
            .collect::<Vec<_>>()
            .join("\n")
    };
    rt.block_on(async {
        app.start();
        settle(&mut app).await;
        let intro = transcript(&app);
        assert!(intro.contains("has no registered users yet"), "{intro}");
        assert!(intro.contains("Type :init"), "{intro}");
        app.update(Action::Command("init".into()));
        settle(&mut app).await;
    });
    let shown = transcript(&app);
    assert!(
        shown.contains("Tenant default is set up: alice is its first admin"),
        "{shown}"
    );
    assert!(shown.contains("secret: "), "{shown}");
    assert!(
        shown.contains("otpauth://totp/opsdeck:alice@default"),
        "{shown}"
    );
    // The console's own session: alice, named while the tenant had no users.
    let users = app.deck.admin().users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "alice");
}

async fn settle(app: &mut opsdeck::tui::app::App) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = tokio::time::timeout(Duration::from_millis(200), app.step()).await;
        if app.jobs.is_empty() || Instant::now() > end {
            return;
        }
    }
}

/// The README's "Your first approval" block, one command per line, comments dropped.
fn readme_steps() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Your first approval")
        .nth(1)
        .expect("README has a first-approval section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Runs one README line in `sh` as the new OS user, with the binary on PATH and nothing else of
/// ours set: the data directory is the platform default under the fresh HOME.
fn run_as_newcomer(line: &str, home: &Path) -> std::process::Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_opsdeck"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).env_clear();
    cmd.env("PATH", path)
        .env("HOME", home)
        .env("USER", "newcomer")
        .env("LOGNAME", "newcomer")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        // No network: the provider comes from an empty mirror, AWS from a closed port.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let mirror = home.join("no-providers");
    std::fs::create_dir_all(&mirror).unwrap();
    cmd.env("OPSDECK_PROVIDER_MIRROR", &mirror);
    cmd.output().unwrap()
}

#[test]
fn the_readme_first_approval_works_for_a_new_os_user_and_every_refusal_suggests_a_working_command()
{
    let steps = readme_steps();
    assert!(steps.len() >= 6, "{steps:?}");
    assert!(
        steps.iter().take(2).any(|s| s.starts_with("opsdeck init")),
        "{steps:?}"
    );
    let home = tempfile::tempdir().unwrap();
    let mut plan = String::new();
    let mut reviewer_secret = String::new();
    let mut refusals = 0;
    let plan_line = regex::Regex::new(r"plan\s+(p-[a-z2-9]{10})").unwrap();
    let command = regex::Regex::new(r"`(opsdeck [^`]+)`").unwrap();
    for step in &steps {
        let mut line = step.replace("PLAN", &plan);
        if line.contains("--user reviewer") && line.contains("CODE") {
            // The reviewer types the code from their authenticator app: made from their secret.
            line = line.replace("CODE", &common::code(&reviewer_secret, 0));
        }
        let out = run_as_newcomer(&line, home.path());
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if let Some(s) = stdout.lines().find_map(|l| l.strip_prefix("secret: "))
            && line.contains("users add reviewer")
        {
            reviewer_secret = s.trim().to_string();
        }
        if let Some(id) = plan_line.captures(&stdout)
            && plan.is_empty()
        {
            plan = id[1].to_string();
        }
        let refused = stderr.contains("refused");
        if refused {
            refusals += 1;
            // Every command the refusal suggests, with nothing left to fill in, works for the
            // person refused.
            let suggested: Vec<String> = command
                .captures_iter(&stderr)
                .map(|c| c[1].to_string())
                .filter(|c| !c.chars().any(|ch| ch.is_ascii_uppercase()))
                .collect();
            assert!(
                !suggested.is_empty(),
                "{line}: nothing runnable suggested: {stderr}"
            );
            for s in suggested {
                if s == "opsdeck demo" {
                    continue; // Needs the stand-in; tests/demo.rs runs it.
                }
                let tried = run_as_newcomer(&s, home.path());
                assert!(
                    tried.status.success(),
                    "{line}: refusal suggested `{s}`, which failed: {}",
                    String::from_utf8_lossy(&tried.stderr)
                );
            }
            // The one refusal the README announces: approving your own plan.
            assert!(line.starts_with("opsdeck approve"), "{line}: {stderr}");
            assert!(stderr.contains("(reviewer)"), "{stderr}");
            continue;
        }
        if line.starts_with("opsdeck apply") {
            // Without AWS or a provider the apply fails, but it is allowed: never refused.
            continue;
        }
        assert!(
            out.status.success(),
            "README step `{line}` failed:\n{stdout}\n{stderr}"
        );
        if line.starts_with("opsdeck init") {
            let data = home.path().join(".local/share/opsdeck");
            assert!(
                stdout.contains(&data.display().to_string()),
                "init names the data directory: {stdout}"
            );
        }
        if line.starts_with("opsdeck --user reviewer approve") {
            assert!(
                stdout.contains(&format!("approved plan {plan} by reviewer")),
                "{stdout}"
            );
        }
    }
    assert!(!plan.is_empty(), "the README's ask made a plan");
    assert_eq!(refusals, 1, "only the self-approval is refused");
    let audit = run_as_newcomer("opsdeck audit list --json", home.path());
    let events: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["event"].as_str())
        .collect();
    for k in ["user_added", "queued", "access_denied", "approved"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[test]
fn without_aws_credentials_every_agent_says_so_and_points_at_the_demo() {
    let home = Home::new();
    for request in [
        "Restart EC2 instances tagged Env=staging",
        "What is my daily EC2 spend in ap-south-1?",
        "Scan all S3 buckets for public access",
        "Show last 24h error logs from Lambda my-func",
    ] {
        let out = home
            .cmd()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["ask", request])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{request}");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            why.contains("no AWS credentials were found"),
            "{request}: {why}"
        );
        assert!(why.contains("`opsdeck demo`"), "{request}: {why}");
    }
}
