//! Terraform modules for library tests: they plan offline (terraform_data, no provider to
//! install), version 2 with a typed parameter.

/// Version 1: no parameter.
pub const MODULE_V1: &str = r#"resource "terraform_data" "hello" {
  input = "hello"
}
"#;

/// Version 2: the greeting as a parameter with a default.
pub const MODULE_V2: &str = r#"variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "hello" {
  input = var.greeting
}
"#;

/// `opsdeck --json ARGS` as `user` through the binary, which must succeed: its JSON.
pub fn run_json(
    home: &super::Home,
    env: &[(&'static str, String)],
    user: &str,
    args: &[&str],
) -> serde_json::Value {
    let out = home
        .cmd()
        .envs(env.iter().cloned())
        .args(["--json", "--user", user])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The text of a plan's artifact, by name.
pub fn artifact_text(deck: &opsdeck::pipeline::Deck, plan_id: &str, name: &str) -> Option<String> {
    let rec = deck.approvals().plan(plan_id).unwrap();
    deck.approvals()
        .artifacts(&rec.plan)
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.name == name)
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
}

/// ansible-lint's production profile over `targets` in `dir`, which must pass (skipped when
/// the tests have no ansible-lint: OPSDECK_TEST_LINT_BIN unset).
pub fn ansible_lint(dir: &std::path::Path, targets: &[&str]) {
    let Some(lint) = std::env::var_os("OPSDECK_TEST_LINT_BIN").map(std::path::PathBuf::from) else {
        eprintln!("SKIP ansible-lint: OPSDECK_TEST_LINT_BIN is not set");
        return;
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![lint.clone()];
    paths.extend(std::env::split_paths(&path));
    let out = std::process::Command::new(lint.join("ansible-lint"))
        .args(["--offline", "--profile", "production", "--nocolor"])
        .args(targets)
        .current_dir(dir)
        .env("HOME", dir)
        .env("PATH", std::env::join_paths(paths).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ansible-lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Applies an approved plan as `by`, which must succeed: the run's output lines.
pub fn apply_collecting(by: &opsdeck::pipeline::Deck, id: &str) -> String {
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let collect = |e: opsdeck::events::AgentEvent| {
        if let opsdeck::events::AgentEvent::Output { line, .. } = e {
            lines.lock().unwrap().push(line);
        }
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = rt.block_on(by.runs().apply(id, &collect, rx)).unwrap();
    let out = lines.lock().unwrap().join("\n");
    assert!(r.success, "{r:?}\n{out}");
    out
}
