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

/// A request asked with an inventory, which must make a plan.
pub fn planned_request(
    deck: &opsdeck::pipeline::Deck,
    text: &str,
    inventory: std::path::PathBuf,
) -> opsdeck::approval::PlanRecord {
    let answer = deck
        .requests()
        .request_with(
            text,
            &opsdeck::pipeline::RequestOptions {
                inventory: Some(inventory),
                confirm_reading: None,
            },
            &super::quiet,
        )
        .unwrap();
    let opsdeck::pipeline::Answer::Plan(rec) = answer else {
        panic!("{text}: a plan");
    };
    *rec
}

/// A plan's Ansible files written into `dir` under their names (a role's in its directories).
pub fn write_ansible_files(deck: &opsdeck::pipeline::Deck, plan_id: &str, dir: &std::path::Path) {
    let rec = deck.approvals().plan(plan_id).unwrap();
    for (a, bytes) in deck.approvals().artifacts(&rec.plan).unwrap() {
        if a.kind == opsdeck::plan::ArtifactKind::Ansible {
            let path = dir.join(&a.name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
}

/// `ansible-playbook CHECK -i inventory.yml --extra-vars @opsdeck_library_vars.yml PLAYBOOK` in
/// `dir`, which must succeed: what it printed.
pub fn plan_playbook(
    ansible: &std::path::Path,
    dir: &std::path::Path,
    check: &str,
    playbook: &str,
) -> String {
    let out = std::process::Command::new(ansible)
        .args([check, "-i", "inventory.yml"])
        .args(["--extra-vars", &format!("@{}", opsdeck::library::VARS_FILE)])
        .arg(playbook)
        .current_dir(dir)
        .env("HOME", dir)
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{check}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
