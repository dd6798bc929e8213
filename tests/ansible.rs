//! The config agent and the Ansible runner with the real `ansible-playbook`: every playbook
//! template renders for its edge cases and passes `--syntax-check`; check mode (`--check
//! --diff`) of the real templates on this machine changes nothing; a real run writes files under
//! a temp dir with per-host results; cancellation; routing; hosts found by EC2 tag in moto.
//! Parts that need ansible-playbook or moto print SKIP where they are missing.

mod common;

use common::team;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{Home, ansible_playbook, local_inventory, quiet};
use opsdeck::agents::AgentRequest;
use opsdeck::agents::config::{self, Task, Tls};
use opsdeck::approval::State;
use opsdeck::events::AgentEvent;
use opsdeck::intent::{AgentKind, Environment, Intent, Params};
use opsdeck::pipeline::{Answer, RequestOptions, Submission};
use opsdeck::plan::{ArtifactKind, DryRunStatus, Inventory, StepKind};
use opsdeck::tenant::Tenant;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn intent(action: &str) -> Intent {
    Intent {
        agent: AgentKind::Config,
        agents: vec![AgentKind::Config],
        action: action.into(),
        confidence: 1.0,
        low_confidence: false,
        params: Params::default(),
        evidence: vec![],
        notes: vec![],
        source: None,
        settled: None,
    }
}

/// Renders a task through the agent's renderer, as a plan would.
fn render(home: &Home, task: &Task, text: &str, env: Option<Environment>) -> (String, String) {
    let deck = home.deck("alice");
    let tenant = Tenant::default();
    let i = intent("install");
    let req = AgentRequest {
        request_id: "test",
        text,
        intent: &i,
        tenant: &tenant,
        store: deck.raw_store(),
        aws: &opsdeck::aws::AwsAccess::new(None, None),
    };
    let r = config::render_task(task, &req, env).unwrap();
    (r.file.name, String::from_utf8(r.file.content).unwrap())
}

/// `ansible-playbook` with its own home and config, isolated from the machine's.
fn ansible(bin: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    std::fs::write(
        dir.join("ansible.cfg"),
        "[defaults]\nretry_files_enabled = False\nnocolor = True\n",
    )
    .unwrap();
    std::process::Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
        .env("ANSIBLE_HOME", dir.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible/tmp"))
        .output()
        .unwrap()
}

fn cases() -> Vec<(&'static str, Task, &'static str, Option<Environment>)> {
    let users = |names: &[&str], present, sudo| Task::Users {
        users: names.iter().map(|s| s.to_string()).collect(),
        present,
        sudo,
    };
    vec![
        (
            "one package",
            Task::Packages {
                packages: vec!["nginx".into()],
                state: "present",
            },
            "install nginx on env=dev",
            Some(Environment::Dev),
        ),
        (
            "many packages, odd but valid names, latest",
            Task::Packages {
                packages: vec![
                    "python3.11".into(),
                    "libstdc++6".into(),
                    "g++".into(),
                    "openssl".into(),
                ],
                state: "latest",
            },
            "upgrade python3.11, libstdc++6, g++ and openssl on env=prod",
            Some(Environment::Prod),
        ),
        (
            "remove",
            Task::Packages {
                packages: vec!["telnet".into()],
                state: "absent",
            },
            "remove telnet from the staging servers",
            Some(Environment::Staging),
        ),
        (
            "service started",
            Task::Service {
                name: "nginx".into(),
                enabled: true,
                state: "started",
            },
            "enable the nginx service on env=dev",
            Some(Environment::Dev),
        ),
        (
            "service stopped and disabled",
            Task::Service {
                name: "apache2".into(),
                enabled: false,
                state: "stopped",
            },
            "disable apache2 on env=dev",
            None,
        ),
        (
            "nginx self-signed, any name",
            Task::NginxTls {
                server_name: "_".into(),
                tls: Tls::SelfSigned,
            },
            "install nginx with tls on env=dev",
            Some(Environment::Dev),
        ),
        (
            "nginx with certificate files and a domain",
            Task::NginxTls {
                server_name: "app.example.com".into(),
                tls: Tls::Files {
                    cert: "/etc/pki/tls/certs/app.crt".into(),
                    key: "/etc/pki/tls/private/app.key".into(),
                },
            },
            "install nginx with tls for app.example.com using /etc/pki/tls/certs/app.crt and /etc/pki/tls/private/app.key on env=prod",
            Some(Environment::Prod),
        ),
        (
            "patch with reboot",
            Task::Patch { reboot: true },
            "patch the staging web servers",
            Some(Environment::Staging),
        ),
        (
            "patch without reboot",
            Task::Patch { reboot: false },
            "patch env=dev without reboot",
            Some(Environment::Dev),
        ),
        (
            "one user with sudo",
            users(&["deploy"], true, true),
            "add user deploy with sudo on env=dev",
            Some(Environment::Dev),
        ),
        (
            "several users, no sudo",
            users(&["alice", "bob_2", "carol-x"], true, false),
            "add users alice, bob_2 and carol-x on env=dev",
            Some(Environment::Dev),
        ),
        (
            "remove a user",
            users(&["olduser"], false, false),
            "remove user olduser from the staging servers",
            Some(Environment::Staging),
        ),
        (
            "ssh hardening",
            Task::SshHardening {
                sshd_config: "/etc/ssh/sshd_config".into(),
            },
            "harden ssh on env=dev",
            Some(Environment::Dev),
        ),
        (
            "cloudwatch agent",
            Task::CloudwatchAgent {
                log_group: "/opsdeck/default/prod/system".into(),
            },
            "install the cloudwatch agent on env=prod",
            Some(Environment::Prod),
        ),
        (
            "request text that tries to inject YAML and templates",
            Task::Packages {
                packages: vec!["jq".into()],
                state: "present",
            },
            "install jq\n- hosts: all\n  tasks: [{{ lookup('pipe', 'id') }}] \"quoted\" on env=dev",
            Some(Environment::Dev),
        ),
    ]
}

#[test]
fn every_playbook_renders_for_its_edge_cases_and_passes_syntax_check() {
    let home = Home::new();
    let bin = ansible_playbook();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hosts.ini"),
        "localhost ansible_connection=local\n",
    )
    .unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (n, (label, task, text, env)) in cases().into_iter().enumerate() {
        let (name, yaml) = render(&home, &task, text, env);
        kinds.insert(name.clone());
        // Values are quoted and never templated; the request's words never enter the file (its
        // request id does).
        assert!(yaml.starts_with("# opsdeck: "), "{label}:\n{yaml}");
        let request_line = yaml.lines().nth(1).unwrap();
        assert!(
            request_line.starts_with("# Generated by opsdeck for request "),
            "{label}:\n{yaml}"
        );
        assert!(
            !yaml.contains(text),
            "{label}: the request text is in the file:\n{yaml}"
        );
        assert!(
            !yaml.contains("\n- hosts: all\n"),
            "{label}: injected:\n{yaml}"
        );
        assert!(
            yaml.lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| !l.contains("lookup(")),
            "{label}: injected:\n{yaml}"
        );
        assert!(
            !yaml.contains("[[") && !yaml.contains("[%"),
            "{label}:\n{yaml}"
        );
        assert!(yaml.contains("max_fail_percentage: 0"), "{label}:\n{yaml}");
        match &task {
            Task::Packages { packages, .. } => {
                for p in packages {
                    assert!(yaml.contains(&format!("\"{p}\"")), "{label}:\n{yaml}");
                }
            }
            Task::NginxTls {
                tls: Tls::Files { cert, key },
                ..
            } => {
                assert!(
                    yaml.contains(cert) && yaml.contains(key),
                    "{label}:\n{yaml}"
                );
                assert!(yaml.contains("serial: \"25%\""), "{label}:\n{yaml}");
                assert!(!yaml.contains("openssl"), "{label}:\n{yaml}");
            }
            Task::NginxTls { .. } => assert!(yaml.contains("openssl"), "{label}:\n{yaml}"),
            Task::Patch { reboot } => {
                assert_eq!(yaml.contains("ansible.builtin.reboot"), *reboot, "{label}")
            }
            Task::Users { users, .. } => {
                for u in users {
                    assert!(yaml.contains(&format!("name: \"{u}\"")), "{label}:\n{yaml}");
                }
            }
            _ => {}
        }
        let Some(bin) = &bin else { continue };
        let file = format!("{n:02}-{name}");
        std::fs::write(dir.path().join(&file), &yaml).unwrap();
        let out = ansible(
            bin,
            dir.path(),
            &["--syntax-check", "-i", "hosts.ini", &file],
        );
        assert!(
            out.status.success(),
            "{label}: --syntax-check failed:\n{}\n{}\n{yaml}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every template under templates/ansible was exercised.
    let shipped: std::collections::BTreeSet<String> = opsdeck::plan::playbook::ANSIBLE_TEMPLATES
        .iter()
        .map(|(n, _)| n.trim_start_matches("ansible/").replace(".j2", ""))
        .filter(|n| !n.starts_with('_'))
        .collect();
    assert_eq!(kinds, shipped);
}

#[test]
fn check_mode_of_the_users_playbook_previews_and_changes_nothing() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    home.use_ansible(&bin, "");
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    let inventory = local_inventory(dir.path());
    let user = format!("odk{}", std::process::id() % 100000);
    let answer = t
        .deck("olga")
        .requests()
        .request_with(
            &format!("add user {user} with sudo on the staging servers"),
            &RequestOptions {
                inventory: Some(inventory.clone()),
                ..RequestOptions::default()
            },
            &quiet,
        )
        .unwrap();
    let Answer::Plan(rec) = answer else {
        panic!("expected a plan")
    };
    let p = &rec.plan;
    assert_eq!(p.agent, AgentKind::Config);
    assert_eq!(rec.state, State::Pending);
    let names: Vec<&str> = p.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["users.yml", "inventory.yml", "ansible-check.txt"]);
    let d = &p.dry_runs[0];
    assert_eq!(d.status, DryRunStatus::Checked, "{d:?}");
    assert_eq!(d.hosts.len(), 1);
    assert_eq!(d.hosts[0].host, "localhost");
    assert!(d.hosts[0].changed >= 1, "{d:?}");
    assert_eq!(d.hosts[0].failed, 0, "{d:?}");
    assert!(d.summary.contains("would change"), "{}", d.summary);
    assert!(d.binds.contains("exactly these hosts"), "{}", d.binds);
    // The approval covers exactly the given inventory.
    let inv = home
        .deck("olga")
        .approvals()
        .artifacts(p)
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.name == "inventory.yml")
        .unwrap()
        .1;
    assert_eq!(inv, std::fs::read(&inventory).unwrap());
    assert!(matches!(
        &p.steps[0].kind,
        StepKind::Ansible { inventory: Inventory::File { name }, .. } if name == "inventory.yml"
    ));
    // Check mode changed nothing.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(
        !passwd.contains(&format!("\n{user}:")),
        "check mode created {user}"
    );
    assert!(!Path::new(&format!("/etc/sudoers.d/opsdeck-{user}")).exists());
}

#[test]
fn check_mode_of_ssh_hardening_shows_the_diff_and_leaves_the_file() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let sshd = dir.path().join("sshd_config");
    let original = "Port 22\n#PermitRootLogin prohibit-password\nPasswordAuthentication yes\n";
    std::fs::write(&sshd, original).unwrap();
    let (name, yaml) = render(
        &home,
        &Task::SshHardening {
            sshd_config: sshd.display().to_string(),
        },
        "harden ssh on env=dev",
        Some(Environment::Dev),
    );
    let inv = local_inventory(dir.path());
    let files = vec![
        (name.clone(), yaml.into_bytes()),
        ("hosts.yml".to_string(), std::fs::read(&inv).unwrap()),
    ];
    let ws_dir = dir.path().join("ws");
    // The check reads the sshd_config beside the workspace: the sandbox must allow that path.
    let confinement = opsdeck::exec::sandbox::Confinement {
        readable: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    let ws = opsdeck::exec::ansible::Workspace {
        binary: &bin,
        dir: &ws_dir,
        files: &files,
        playbook: &name,
        inventory: "hosts.yml",
        extra_vars: None,
        stream: false,
        confinement: &confinement,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = rt()
        .block_on(opsdeck::exec::ansible::check(&ws, &quiet, rx))
        .unwrap();
    // The only failure allowed is the handler on a machine that runs no sshd at all.
    assert!(
        r.ok() || (r.hosts[0].failed == 1 && r.output.contains("RUNNING HANDLER [Restart sshd]")),
        "{}",
        r.output
    );
    assert_eq!(r.hosts[0].changed, 1, "{}", r.output);
    assert!(r.output.contains("+PermitRootLogin no"), "{}", r.output);
    assert!(
        r.output.contains("-PasswordAuthentication yes"),
        "{}",
        r.output
    );
    assert_eq!(std::fs::read_to_string(&sshd).unwrap(), original);
}

/// A playbook that writes under a temp dir: a real run without root.
/// The `[exec]` line that lets playbooks run on this machine write beneath `dir`.
fn sandbox_write(dir: &Path) -> String {
    format!(
        "sandbox_write = [{}]",
        serde_json::Value::String(dir.display().to_string())
    )
}

fn marker_playbook(dir: &Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("marker.yml");
    std::fs::write(
        &p,
        format!(
            "- name: marker files\n  hosts: all\n  gather_facts: false\n  become: false\n  serial: 1\n  max_fail_percentage: 0\n  tasks:\n    - name: write the marker\n      ansible.builtin.copy:\n        dest: \"{}/marker-{{{{ inventory_hostname }}}}.txt\"\n        content: \"configured by opsdeck\\n\"\n        mode: \"0600\"\n{extra}",
            dir.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn real_run_after_approval_writes_files_and_reports_each_host() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    // The playbook changes this machine itself: the sandbox must let it write the markers there.
    home.use_ansible(&bin, &sandbox_write(dir.path()));
    let playbook = marker_playbook(dir.path(), "");
    let inventory = local_inventory(dir.path());
    let olga = t.deck("olga");
    let rec = olga
        .requests()
        .submit(
            &Submission {
                playbook: Some(playbook.clone()),
                inventory: Some(inventory),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap();
    let id = rec.plan.plan_id.clone();
    // The dry run said what would change, and changed nothing.
    let d = &rec.plan.dry_runs[0];
    assert_eq!(d.status, DryRunStatus::Checked, "{d:?}");
    assert_eq!(d.hosts[0].changed, 1, "{d:?}");
    let marker = dir.path().join("marker-localhost.txt");
    assert!(!marker.exists());
    // Not before approval, and not by the requester.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(rt().block_on(olga.runs().apply(&id, &quiet, rx)).is_err());
    t.approve("bob", &id).unwrap();

    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let l2 = lines.clone();
    let sink = move |e: AgentEvent| {
        if let AgentEvent::Output { line, .. } = e {
            l2.lock().unwrap().push(line);
        }
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt().block_on(olga.runs().apply(&id, &sink, rx)).unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "configured by opsdeck\n"
    );
    let hosts = &report.outputs.as_ref().unwrap()["hosts"];
    assert_eq!(hosts["localhost"]["changed"], 1, "{hosts}");
    assert_eq!(hosts["localhost"]["failed"], 0, "{hosts}");
    let streamed = lines.lock().unwrap().join("\n");
    assert!(streamed.contains("TASK [write the marker]"), "{streamed}");
    assert!(streamed.contains("PLAY RECAP"), "{streamed}");
    let events = olga.trail().audit(&Default::default()).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event.event.as_str(), "completed");
    let log = std::fs::read_to_string(
        last.event
            .execution_logs
            .as_ref()
            .unwrap()
            .trim_start_matches("file://"),
    )
    .unwrap();
    assert!(log.contains("opsdeck: 1 host: 1 changed"), "{log}");

    // The same playbook again: the check run now says nothing would change.
    let again = olga
        .requests()
        .submit(
            &Submission {
                playbook: Some(playbook),
                inventory: Some(local_inventory(dir.path())),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap();
    assert!(
        again.plan.dry_runs[0].summary.contains("1 unchanged"),
        "{:?}",
        again.plan.dry_runs[0]
    );
}

#[test]
fn a_failing_host_stops_the_run_and_is_reported() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    // The playbook changes this machine itself: the sandbox must let it write the markers there.
    home.use_ansible(&bin, &sandbox_write(dir.path()));
    let playbook = marker_playbook(
        dir.path(),
        "    - name: refuse\n      ansible.builtin.fail:\n        msg: this host is not ready\n    - name: never reached\n      ansible.builtin.copy:\n        dest: \"{{ playbook_dir }}/after.txt\"\n        content: x\n",
    );
    let olga = t.deck("olga");
    let rec = olga
        .requests()
        .submit(
            &Submission {
                playbook: Some(playbook),
                inventory: Some(local_inventory(dir.path())),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap();
    let d = &rec.plan.dry_runs[0];
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("the check failed on localhost")),
        "{d:?}"
    );
    let gate = rec
        .plan
        .gates
        .iter()
        .find(|g| g.rule == "dry_run.ansible")
        .unwrap();
    assert_eq!(gate.result.as_str(), "warn", "{gate:?}");
    t.approve("bob", &rec.plan.plan_id).unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(olga.runs().apply(&rec.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(!report.success);
    assert_eq!(report.state, State::Failed);
    assert_eq!(report.exit_code, Some(2));
    assert_eq!(
        report.outputs.as_ref().unwrap()["hosts"]["localhost"]["failed"],
        1
    );
    assert!(!dir.path().join("after.txt").exists());
}

#[test]
fn cancelling_a_run_interrupts_ansible_and_is_recorded() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    // The playbook changes this machine itself: the sandbox must let it write the markers there.
    home.use_ansible(&bin, &sandbox_write(dir.path()));
    let playbook = marker_playbook(
        dir.path(),
        "    - name: long task\n      ansible.builtin.command: sleep 120\n",
    );
    let olga = t.deck("olga");
    let id = olga
        .requests()
        .submit(
            &Submission {
                playbook: Some(playbook),
                inventory: Some(local_inventory(dir.path())),
                ..Submission::default()
            },
            &quiet,
        )
        .unwrap()
        .plan
        .plan_id;
    t.approve("bob", &id).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let sink = move |e: AgentEvent| {
        if let AgentEvent::Output { line, .. } = &e
            && line.contains("TASK [long task]")
        {
            let _ = tx.send(true);
        }
    };
    let started = std::time::Instant::now();
    let report = rt().block_on(olga.runs().apply(&id, &sink, rx)).unwrap();
    assert!(report.cancelled, "{report:?}");
    assert_eq!(report.state, State::Cancelled);
    assert!(
        started.elapsed().as_secs() < 60,
        "cancel did not stop ansible"
    );
    let events = olga.trail().audit(&Default::default()).unwrap();
    assert_eq!(events.last().unwrap().event.event.as_str(), "cancelled");
}

#[test]
fn requests_route_to_the_config_agent_and_pick_their_playbook() {
    let home = Home::new();
    // No ansible needed: the dry run then says so, and the plan is still made.
    home.configure("[exec]\nansible_playbook = \"/nonexistent/ansible-playbook\"\n");
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    let inv = RequestOptions {
        inventory: Some(local_inventory(dir.path())),
        ..RequestOptions::default()
    };
    let olga = t.deck("olga");
    let plan = |text: &str| match olga.requests().request_with(text, &inv, &quiet) {
        Ok(Answer::Plan(rec)) => rec,
        other => panic!("{text}: {other:?}"),
    };
    for (text, playbook) in [
        (
            "install nginx on instances tagged Env=staging",
            "packages.yml",
        ),
        (
            "patch the staging web servers and reboot if needed",
            "patch.yml",
        ),
        ("harden ssh on env=dev", "ssh_hardening.yml"),
        ("add user deploy with sudo on env=dev", "users.yml"),
        ("enable the nginx service on env=dev", "service.yml"),
        ("install nginx with tls on env=dev", "nginx_tls.yml"),
        (
            "install the cloudwatch agent on env=prod",
            "cloudwatch_agent.yml",
        ),
        ("upgrade openssl on env=staging", "packages.yml"),
    ] {
        let rec = plan(text);
        assert_eq!(rec.plan.agent, AgentKind::Config, "{text}");
        assert_eq!(rec.plan.artifacts[0].name, playbook, "{text}");
        assert_eq!(rec.plan.artifacts[0].kind, ArtifactKind::Ansible, "{text}");
        let d = &rec.plan.dry_runs[0];
        assert_eq!(d.status, DryRunStatus::Unavailable, "{text}");
        assert!(
            d.notes[0].contains("ansible-playbook is not installed"),
            "{d:?}"
        );
    }
    let patch = plan("patch the staging web servers and reboot if needed");
    assert_eq!(patch.plan.risk.as_str(), "high");
    let text = String::from_utf8(
        olga.approvals().artifacts(&patch.plan).unwrap()[0]
            .1
            .clone(),
    )
    .unwrap();
    assert!(text.contains("ansible.builtin.reboot"), "{text}");
    // TLS in production needs a certificate; with paths it uses them.
    let err = olga
        .requests()
        .request_with("install nginx with tls on env=prod", &inv, &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs a certificate"), "{err}");
    let rec = plan(
        "install nginx with tls using certificate /etc/pki/tls/certs/web.crt and key /etc/pki/tls/private/web.key on env=prod",
    );
    let text =
        String::from_utf8(olga.approvals().artifacts(&rec.plan).unwrap()[0].1.clone()).unwrap();
    assert!(text.contains("/etc/pki/tls/certs/web.crt"), "{text}");
    // --inventory belongs to configuration requests only.
    let err = olga
        .requests()
        .request_with("create 2 t3.micro instances", &inv, &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--inventory is for configuration requests"),
        "{err}"
    );
    // A request with no hosts at all says how to name them.
    let err = olga
        .requests()
        .request("install htop", &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("say which hosts"), "{err}");
}

#[test]
fn cli_prints_the_playbook_and_inventory_as_ansible_reads_them() {
    let Some(bin) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    home.use_ansible(&bin, "");
    let dir = tempfile::tempdir().unwrap();
    let inv = local_inventory(dir.path());
    let out = home
        .cmd()
        .args(["--json", "ask", "--inventory"])
        .arg(&inv)
        .args(["add user odcli with sudo on the dev servers"])
        .assert()
        .success();
    let id = common::plan_id(&out.get_output().stdout);
    let out = home
        .cmd()
        .args(["plans", "show", &id, "--artifact"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("# file: ")).collect();
    assert_eq!(
        headers,
        [
            "# file: users.yml",
            "# file: inventory.yml",
            "# file: ansible-check.txt"
        ],
        "{text}"
    );
    assert!(
        text.contains(&std::fs::read_to_string(&inv).unwrap()),
        "{text}"
    );
    // The human plan view says what the dry run found and what approval binds.
    home.cmd()
        .args(["plans", "show", &id])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "dry run   step 1: ansible-playbook checked",
        ))
        .stdout(predicates::str::contains(
            "approval binds: playbook users.yml",
        ));
}

#[test]
fn hosts_are_found_by_tag_and_environment_in_ec2() {
    use common::moto::Moto;
    let Some(moto) = Moto::get("hosts_are_found_by_tag_and_environment_in_ec2") else {
        return;
    };
    let _x = moto.exclusive();
    let rt = rt();
    let conf = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region("us-east-1")
            .endpoint_url(&moto.endpoint)
            .load(),
    );
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let launch = |tags: &[(&str, &str)]| -> String {
        let ec2 = ec2.clone();
        let tags: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        rt.block_on(async move {
            let image = ec2.describe_images().send().await.unwrap().images()[0]
                .image_id()
                .unwrap()
                .to_string();
            let spec = aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build();
            ec2.run_instances()
                .image_id(image)
                .min_count(1)
                .max_count(1)
                .tag_specifications(spec)
                .send()
                .await
                .unwrap()
                .instances()[0]
                .instance_id()
                .unwrap()
                .to_string()
        })
    };
    let staging_a = launch(&[("Env", "staging"), ("Name", "web-1")]);
    let staging_b = launch(&[("Env", "staging")]);
    let prod = launch(&[("Env", "prod")]);
    let stage_other_key = launch(&[("Environment", "stage")]);

    let home = Home::new();
    // Moto's addresses answer nothing: no check run while planning here.
    home.configure("[exec]\nansible_check_at_plan = false\n");
    let t = team(&home);
    let deck = opsdeck::pipeline::Deck::open(opsdeck::pipeline::OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("olga".into()),
        clock: Some(t.clock.clone()),
        endpoint_url: Some(moto.endpoint.clone()),
        ..Default::default()
    })
    .unwrap();
    let inventory_of = |text: &str| -> String {
        let rec = deck.requests().ask(text, &quiet).unwrap();
        let files = deck.approvals().artifacts(&rec.plan).unwrap();
        String::from_utf8(
            files
                .iter()
                .find(|(a, _)| a.name == "inventory.yml")
                .unwrap()
                .1
                .clone(),
        )
        .unwrap()
    };
    let inv = inventory_of("install nginx on instances tagged Env=staging in us-east-1");
    assert!(inv.contains(&format!("\"{staging_a}\":")), "{inv}");
    assert!(inv.contains(&format!("\"{staging_b}\":")), "{inv}");
    assert!(inv.contains("ec2_name: \"web-1\""), "{inv}");
    assert!(
        !inv.contains(&prod) && !inv.contains(&stage_other_key),
        "{inv}"
    );
    assert!(inv.contains("ansible_host: \"10."), "{inv}");
    assert!(
        inv.contains("The approval covers exactly these hosts"),
        "{inv}"
    );
    // "staging" by meaning matches Env=staging and Environment=stage.
    let inv = inventory_of("patch the staging web servers in us-east-1");
    for id in [&staging_a, &staging_b, &stage_other_key] {
        assert!(inv.contains(id.as_str()), "{inv}");
    }
    assert!(!inv.contains(&prod), "{inv}");
    let err = deck
        .requests()
        .ask(
            "install nginx on instances tagged Env=nowhere in us-east-1",
            &quiet,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("tagged Env=nowhere"), "{err}");
}
