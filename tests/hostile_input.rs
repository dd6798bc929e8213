//! Hostile input against the artifacts and the tools that run them: request text that YAML reads
//! as line breaks never becomes a play, hand-written Terraform cannot read opsdeck's keys (refused
//! when it names them, confined by the sandbox when it hides them), a check run of a hand-written
//! playbook cannot read them either, and without a sandbox hand-written artifacts do not run.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use common::{Home, ansible_playbook, local_inventory, quiet, terraform};
use opsdeck::pipeline::{Answer, RequestOptions, Submission};
use opsdeck::plan::ArtifactKind;

/// Every file under `dir`, with its bytes (the keys directory left out when `skip_keys`).
fn files_under(dir: &Path, skip_keys: bool) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if skip_keys && p.file_name().is_some_and(|n| n == "keys") && d == dir {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

/// The tenant's audit signing key (any file under the home's keys/), created by opening a deck.
fn signing_key(home: &Home) -> (PathBuf, Vec<u8>) {
    let _ = home.deck("alice");
    files_under(&home.path().join("keys"), false)
        .into_iter()
        .find(|(_, b)| b.len() >= 32)
        .expect("a key under keys/")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// What a key file holds that would identify it in another file: its longest line.
fn key_marker(key: &[u8]) -> Vec<u8> {
    key.split(|b| *b == b'\n')
        .max_by_key(|l| l.len())
        .unwrap_or(key)
        .to_vec()
}

fn assert_key_nowhere_else(home: &Home, key: &[u8]) {
    let marker = key_marker(key);
    for (path, bytes) in files_under(home.path(), true) {
        assert!(
            !contains(&bytes, &marker),
            "the signing key leaked into {}",
            path.display()
        );
    }
}

const BREAKS: &[(&str, &str)] = &[
    ("U+2028", "\u{2028}"),
    ("U+2029", "\u{2029}"),
    ("NEL", "\u{85}"),
    ("CR", "\r"),
    ("LF", "\n"),
];

/// The play the attack tries to add, joined with `brk`.
fn injected(brk: &str, marker: &Path) -> String {
    [
        "",
        "- hosts: localhost",
        "  gather_facts: false",
        "  tasks:",
        &format!("    - command: touch {}", marker.display()),
        "      check_mode: false",
    ]
    .join(brk)
}

#[test]
fn line_breaks_in_a_request_never_become_a_play() {
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let inventory = local_inventory(dir.path());
    if let Some(bin) = ansible_playbook() {
        // The dry run really runs: an injected play would touch the marker.
        home.use_ansible(&bin, "");
    }
    let deck = home.deck("alice");
    let mut planned = 0;
    for (name, brk) in BREAKS {
        let marker = dir.path().join(format!("owned-{}", name.replace('+', "")));
        for base in [
            "install nginx on instances tagged env=staging",
            "restart the nginx service on instances tagged env=staging",
        ] {
            let text = format!("{base}{}", injected(brk, &marker));
            let answer = deck.requests().request_with(
                &text,
                &RequestOptions {
                    inventory: Some(inventory.clone()),
                    ..RequestOptions::default()
                },
                &quiet,
            );
            assert!(
                !marker.exists(),
                "{name}: the injected play ran for '{base}'"
            );
            let Ok(Answer::Plan(rec)) = answer else {
                continue;
            };
            planned += 1;
            for (a, bytes) in deck.approvals().artifacts(&rec.plan).unwrap() {
                if a.kind != ArtifactKind::Ansible || !a.name.ends_with(".yml") {
                    continue;
                }
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    opsdeck::plan::verify::hidden_character(&text).is_none(),
                    "{name}: {} holds a raw line break character:\n{text}",
                    a.name
                );
                assert!(!text.contains("hosts: localhost"), "{name}:\n{text}");
                let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
                if a.name != "inventory.yml" && !a.name.starts_with("hosts") {
                    assert_eq!(doc.as_sequence().map(Vec::len), Some(1), "{text}");
                }
            }
        }
    }
    // The attack words did not stop planning: each break was tried on real plans.
    assert!(planned >= BREAKS.len(), "only {planned} plans were made");

    // The same through the command line, as the attack was first made.
    let marker = dir.path().join("owned-cli");
    let text = format!(
        "install nginx on instances tagged env=staging{}",
        injected("\u{2028}", &marker)
    );
    let out = home
        .cmd()
        .args(["--json", "ask", "--inventory"])
        .arg(&inventory)
        .arg(&text)
        .assert()
        .success();
    assert!(
        !marker.exists(),
        "the injected play ran through `opsdeck ask`"
    );
    let id = common::plan_id(&out.get_output().stdout);
    let shown = home
        .cmd()
        .args(["plans", "show", &id, "--artifact"])
        .assert()
        .success();
    let artifacts = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    assert!(!artifacts.contains('\u{2028}'), "{artifacts}");
    assert!(!artifacts.contains("hosts: localhost"), "{artifacts}");
}

#[test]
fn handwritten_terraform_that_reads_host_files_is_refused_at_submit() {
    let home = Home::new();
    let (key_path, key) = signing_key(&home);
    let deck = home.deck("alice");
    for body in [
        format!(
            "output \"k\" {{\n  value = file({})\n}}\n",
            serde_json::Value::String(key_path.display().to_string())
        ),
        "output \"k\" {\n  value = file(\"../../keys/x\")\n}\n".to_string(),
        "locals {\n  p = \"/etc/hostname\"\n}\noutput \"k\" {\n  value = filebase64(local.p)\n}\n"
            .to_string(),
        "output \"k\" {\n  value = \"${file(\"~/.aws/credentials\")}\"\n}\n".to_string(),
        "data \"external\" \"x\" {\n  program = [\"sh\", \"-c\", \"cat /etc/passwd\"]\n}\n"
            .to_string(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), &body).unwrap();
        let err = deck
            .requests()
            .submit_terraform(dir.path(), "leak", &quiet)
            .expect_err(&body)
            .to_string();
        assert!(err.contains("before anyone approved"), "{body}\n{err}");
        assert!(
            deck.approvals().plans(None).unwrap().is_empty(),
            "{body}: a plan was queued"
        );
    }
    // Relative paths inside the configuration stay allowed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "output \"k\" {\n  value = fileexists(\"${path.module}/files/motd\")\n}\n",
    )
    .unwrap();
    deck.requests()
        .submit_terraform(dir.path(), "fine", &quiet)
        .unwrap();
    assert_key_nowhere_else(&home, &key);
}

/// Terraform run by opsdeck's executor with a configuration that reads the signing key through
/// a path no static check can see (built from pieces at plan time): the sandbox refuses the read.
#[test]
fn the_sandbox_keeps_terraform_out_of_the_data_directory() {
    let Some(bin) = terraform() else { return };
    if !opsdeck::exec::sandbox::available() {
        eprintln!("SKIP: this kernel has no Landlock");
        return;
    }
    let home = Home::new();
    let (key_path, key) = signing_key(&home);
    let key_path = key_path.display().to_string();
    let (head, tail) = key_path.split_at(key_path.len() / 2);
    let main = format!(
        "locals {{\n  p = join(\"\", [{}, {}])\n}}\nresource \"terraform_data\" \"k\" {{\n  input = file(local.p)\n}}\noutput \"k\" {{\n  value = terraform_data.k.input\n}}\n",
        serde_json::Value::String(head.into()),
        serde_json::Value::String(tail.into())
    );
    let ws_dir = home.path().join("tenants/default/workspaces/attack/step1");
    std::fs::create_dir_all(&ws_dir).unwrap();
    let state = home.path().join("tenants/default/stacks/attack");
    std::fs::create_dir_all(&state).unwrap();
    let backend = opsdeck::exec::terraform::StateBackend::Local {
        path: state.join("terraform.tfstate"),
    };
    let confinement = opsdeck::exec::sandbox::Confinement {
        writable: vec![state.clone()],
        protected: vec![home.path().to_path_buf()],
        handwritten: true,
        ..Default::default()
    };
    let files = vec![("main.tf".to_string(), main.into_bytes())];
    let ws = opsdeck::exec::terraform::Workspace {
        binary: &bin,
        dir: &ws_dir,
        files: &files,
        backend: &backend,
        plugin_cache: None,
        provider_mirror: None,
        stream: false,
        confinement: &confinement,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt
        .block_on(opsdeck::exec::terraform::plan(
            &ws,
            opsdeck::plan::TerraformOp::Apply,
            &quiet,
            rx,
        ))
        .unwrap();
    let log = match &result {
        opsdeck::exec::terraform::PlanResult::Failed { error, log } => format!("{error}\n{log}"),
        other => panic!("terraform read the key: {other:?}"),
    };
    assert!(log.to_lowercase().contains("permission denied"), "{log}");
    assert!(log.contains("filesystem sandbox (Landlock)"), "{log}");
    assert_key_nowhere_else(&home, &key);
}

/// A hand-written playbook whose check run (made while planning, before any approval) reads the
/// signing key with `slurp` and with a `file` lookup on the controller: both are denied.
#[test]
fn the_sandbox_keeps_a_playbook_check_out_of_the_data_directory() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    if !opsdeck::exec::sandbox::available() {
        eprintln!("SKIP: this kernel has no Landlock");
        return;
    }
    let home = Home::new();
    home.use_ansible(&bin, "");
    let (key_path, key) = signing_key(&home);
    let dir = tempfile::tempdir().unwrap();
    let inventory = local_inventory(dir.path());
    let playbook = dir.path().join("steal.yml");
    std::fs::write(
        &playbook,
        format!(
            "- name: Steal\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: Read it\n      ansible.builtin.slurp:\n        src: {p}\n      register: k\n    - name: Show it\n      ansible.builtin.debug:\n        msg: \"{{{{ k.content | b64decode }}}} {{{{ lookup('file', '{p}') }}}}\"\n",
            p = key_path.display()
        ),
    )
    .unwrap();
    let deck = home.deck("alice");
    let rec = deck
        .requests()
        .submit(
            &Submission {
                playbook: Some(playbook),
                inventory: Some(inventory),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap();
    let d = &rec.plan.dry_runs[0];
    let notes = format!("{d:?}");
    assert!(
        d.hosts.iter().any(|h| h.failed > 0) || notes.to_lowercase().contains("permission denied"),
        "the check read the key: {notes}"
    );
    assert_key_nowhere_else(&home, &key);
}

/// Without Landlock (as on an old kernel), a hand-written configuration is not dry-run and the
/// note says why and how to allow it; the tenant setting lets it run.
#[test]
fn without_a_sandbox_handwritten_terraform_is_refused_unless_the_tenant_allows_it() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let dir = common::terraform_data_dir("");
    let out = home
        .cmd()
        .env("OPSDECK_SANDBOX", "unavailable")
        .args(["--json", "submit"])
        .arg(dir.path())
        .args(["--stack", "nosandbox"])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let text = plan.to_string();
    assert!(text.contains("no Landlock"), "{text}");
    assert!(text.contains("allow_unsandboxed_runs"), "{text}");

    // The tenant allows it: the dry run happens, with the note in its log.
    let mut t = home.deck("alice").tenant().clone();
    t.policy.allow_unsandboxed_runs = true;
    let store = home.deck("alice");
    store.raw_store().put_tenant(&t).unwrap();
    let out = home
        .cmd()
        .env("OPSDECK_SANDBOX", "unavailable")
        .args(["--json", "submit"])
        .arg(dir.path())
        .args(["--stack", "nosandbox2"])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(plan["dry_runs"][0]["status"], "planned", "{plan}");
}

#[test]
fn generated_artifacts_are_checked_against_their_template() {
    use opsdeck::plan::verify::{check_generated_terraform, check_playbook};
    let template = "- name: [[ name | yaml ]]\n  hosts: all\n  tasks:\n    - name: x\n      ansible.builtin.package:\n        name: \"{{ opsdeck_packages }}\"\n";
    let ok = "- name: \"a\"\n  hosts: all\n  tasks:\n    - name: x\n      ansible.builtin.package:\n        name: \"{{ opsdeck_packages }}\"\n";
    let modules = ["ansible.builtin.package"];
    check_playbook("p.yml", ok, template, &modules).unwrap();
    for bad in [
        // A second play.
        format!("{ok}- hosts: localhost\n  tasks: []\n"),
        // A raw U+2028 (YAML 1.1 reads a line break).
        ok.replace("\"a\"", "\"a\u{2028}b\""),
        // Another host pattern.
        ok.replace("hosts: all", "hosts: localhost"),
        // A module the template never calls.
        ok.replace("ansible.builtin.package", "ansible.builtin.shell"),
        // An expression the template never writes.
        ok.replace("{{ opsdeck_packages }}", "{{ lookup('pipe', 'id') }}"),
        // A task keyword that runs elsewhere.
        ok.replace(
            "    - name: x\n",
            "    - name: x\n      delegate_to: localhost\n",
        ),
    ] {
        assert!(
            check_playbook("p.yml", &bad, template, &modules).is_err(),
            "accepted:\n{bad}"
        );
    }
    check_generated_terraform(
        "main.tf",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n",
    )
    .unwrap();
    for bad in [
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = file(\"/etc/passwd\")\n}\n",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"${file(\"/etc/passwd\")}\"\n}\n",
        "resource \"null_resource\" \"b\" {\n}\n",
        "resource \"aws_instance\" \"b\" {\n  provisioner \"local-exec\" {\n    command = \"id\"\n  }\n}\n",
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\u{202e}y\"\n}\n",
    ] {
        assert!(
            check_generated_terraform("main.tf", bad).is_err(),
            "accepted:\n{bad}"
        );
    }
}

/// The attack through the MCP `ask` tool on hosts found by EC2 tag (moto): the playbook stays one
/// play on the inventory's hosts, with no raw line break. (No check run: moto's addresses answer
/// nothing, and tests never aim at them.)
#[test]
fn mcp_ask_on_ec2_tagged_hosts_never_gets_an_injected_play() {
    use common::moto::Moto;
    let Some(moto) = Moto::get("mcp_ask_on_ec2_tagged_hosts_never_gets_an_injected_play") else {
        return;
    };
    let _x = moto.exclusive();
    let env = format!("hostile{}", std::process::id());
    support::seed::runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&support::seed::conf(&moto.endpoint, "us-east-1"));
        let ami = support::seed::image(&ec2).await;
        support::seed::launch(&ec2, &ami, 1, 1, "t3.micro", &[("Env", &env)]).await;
    });
    let home = Home::new();
    home.configure("[exec]\nansible_check_at_plan = false\n");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("owned-mcp");
    let text = format!(
        "install nginx on instances tagged Env={env} in us-east-1{}",
        injected("\u{2028}", &marker)
    );
    let messages = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "hostile-input-test", "version": "1"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                           "params": {"name": "ask", "arguments": {"text": text}}}),
    ];
    let input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    let mut cmd = home.cmd();
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    let out = cmd.arg("mcp").write_stdin(input).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!marker.exists());
    let deck = home.deck("alice");
    let plans = deck.approvals().plans(None).unwrap();
    assert_eq!(plans.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
    for (a, bytes) in deck.approvals().artifacts(&plans[0].plan).unwrap() {
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            opsdeck::plan::verify::hidden_character(&text).is_none(),
            "{}:\n{text}",
            a.name
        );
        assert!(!text.contains("hosts: localhost"), "{}:\n{text}", a.name);
        if a.name.ends_with(".yml") && a.name != "inventory.yml" {
            let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
            assert_eq!(doc.as_sequence().map(Vec::len), Some(1), "{text}");
        }
    }
}
