//! Ansible roles in the tenant's library, on the local store and on the shared backend (moto):
//! a role added from its directory (tasks, handlers, defaults, a template) through the binary,
//! shown, listed and searched; a broken role refused with ansible-playbook's words; roles the
//! policy gates deny (a world-writable file in a task, a download piped into a shell in a
//! handler) refused; a symlink out of the directory refused and hidden files left out; v1 then
//! v2 used with `--set` on local hosts, the dry run executed by ansible-playbook, approved by
//! another user and applied; the versions compared; the applied plan saved back as a role;
//! the wrapper playbook with the role passes ansible-lint's production profile.

mod common;

use common::library::{artifact_text, run_json};
use common::moto::Moto;
use common::shared::SharedBackend;
use common::{Home, Team, quiet, team};
use opsdeck::library::role::ROLE_PLAYBOOK;
use opsdeck::library::{EntryKind, EntryWords};
use opsdeck::pipeline::{Deck, NewEntry, UseRequest};
use opsdeck::plan::ArtifactKind;

const TASKS_V1: &str = "---
- name: Write the message of the day
  ansible.builtin.template:
    src: motd.j2
    dest: \"{{ playbook_dir }}/{{ web_motd_file }}\"
    mode: \"0644\"
  notify: Announce the new message

- name: Say the greeting
  ansible.builtin.debug:
    msg: \"greeting={{ web_motd_greeting }} times={{ web_motd_times }}\"
";

/// Version 2: one task more.
fn tasks_v2() -> String {
    format!(
        "{TASKS_V1}\n- name: Say goodbye\n  ansible.builtin.debug:\n    msg: \"version two says goodbye\"\n"
    )
}

const HANDLERS: &str = "---
- name: Announce the new message
  ansible.builtin.debug:
    msg: \"web_motd wrote {{ web_motd_file }}\"
";

const DEFAULTS: &str = "---
web_motd_greeting: hello
web_motd_file: motd.txt
";

/// A role directory: its layout's files, and whatever else is named (left out when added).
fn role_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn motd_role(tasks: &str, template: &str) -> tempfile::TempDir {
    role_dir(&[
        ("tasks/main.yml", tasks),
        ("handlers/main.yml", HANDLERS),
        ("defaults/main.yml", DEFAULTS),
        ("templates/motd.j2", template),
        ("README.md", "# web-motd\n"),
        (".git/config", "[core]\n"),
        ("templates/.gitkeep", ""),
    ])
}

fn add_role(
    t: &Team<'_>,
    name: &str,
    dir: &std::path::Path,
) -> opsdeck::Result<opsdeck::pipeline::Added> {
    t.deck("olga").library().add(
        &NewEntry {
            name: name.into(),
            kind: EntryKind::Role,
            from: dir.to_path_buf(),
            words: EntryWords::default(),
        },
        &quiet,
    )
}

/// Approved by bob and applied by olga: the run's output lines.
fn approve_and_apply(t: &Team<'_>, id: &str) -> String {
    t.approve("bob", id).unwrap();
    common::library::apply_collecting(&t.deck("olga"), id)
}

/// The plan's dry run, as ansible-playbook printed it.
fn check_output(deck: &Deck, rec: &opsdeck::approval::PlanRecord) -> String {
    let a = rec
        .plan
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::DryRun && a.name.ends_with("ansible-check.txt"))
        .unwrap_or_else(|| panic!("a check output in {:?}", rec.plan.artifacts));
    artifact_text(deck, &rec.plan.plan_id, &a.name).unwrap()
}

fn role_story(home: &Home, env: &[(&'static str, String)]) {
    let Some(ansible) = common::ansible_playbook() else {
        return;
    };
    home.add_ansible(&ansible);
    let t = team(home);
    let olga = t.deck("olga");

    // Added through the binary: the layout kept, everything else left out and said so; the
    // typed parameter without a default takes the role's.
    let v1_dir = motd_role(TASKS_V1, "{{ web_motd_greeting }} from opsdeck\n");
    let added = run_json(
        home,
        env,
        "olga",
        &[
            "library",
            "add",
            "web-motd",
            "--kind",
            "role",
            "--from",
            v1_dir.path().to_str().unwrap(),
            "--description",
            "the message of the day",
            "--tag",
            "motd",
            "--param",
            "web_motd_greeting:string",
            "--param",
            "web_motd_times:number=2",
        ],
    );
    assert_eq!(added["version"], 1, "{added}");
    assert_eq!(
        added["checks"],
        serde_json::json!(["ansible-playbook --syntax-check", "policy gates"])
    );
    let notes = added["notes"].to_string();
    for left in ["README.md", ".git/", "templates/.gitkeep"] {
        assert!(notes.contains(left), "{left} in {notes}");
    }
    assert!(notes.contains("web_motd_greeting=\\\"hello\\\""), "{notes}");

    let shown = run_json(home, env, "alice", &["library", "show", "web-motd@1"]);
    let m = &shown["version"]["manifest"];
    assert_eq!(m["kind"], "role", "{shown}");
    let files: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "defaults/main.yml",
            "handlers/main.yml",
            "tasks/main.yml",
            "templates/motd.j2"
        ]
    );
    assert_eq!(m["params"][0]["default"], "hello", "{m}");
    let listed = run_json(home, env, "alice", &["library", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "web-motd" && e["kind"] == "role"),
        "{listed}"
    );
    let found = run_json(home, env, "alice", &["library", "search", "role", "motd"]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let text = home
        .cmd()
        .envs(env.iter().cloned())
        .args(["--user", "alice", "library", "show", "web-motd"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("web-motd@1 (role)"), "{text}");
    assert!(text.contains("    templates/motd.j2 ("), "{text}");

    // Refused: a broken role, in ansible-playbook's words.
    let broken = role_dir(&[(
        "tasks/main.yml",
        "- name: Bad\n  no_such_module_here:\n    x: 1\n",
    )]);
    let e = add_role(&t, "broken-role", broken.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ansible-playbook --syntax-check refused role broken-role"),
        "{e}"
    );
    assert!(e.contains("no_such_module_here"), "{e}");
    // Refused by the policy gates: a task's world-writable file, a handler's piped download.
    let open = role_dir(&[(
        "tasks/main.yml",
        "- name: Drop directory\n  ansible.builtin.file:\n    path: /srv/drop\n    state: directory\n    mode: \"0777\"\n",
    )]);
    let e = add_role(&t, "open-role", open.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the policy gates refuse library entry open-role")
            && e.contains("ansible.world_writable")
            && e.contains("roles/open_role/tasks/main.yml"),
        "{e}"
    );
    let piped = role_dir(&[
        (
            "tasks/main.yml",
            "- name: Nothing\n  ansible.builtin.debug:\n    msg: hi\n  notify: Install\n",
        ),
        (
            "handlers/main.yml",
            "- name: Install\n  ansible.builtin.shell: curl -s https://example.com/i.sh | sh\n",
        ),
    ]);
    let e = add_role(&t, "piped-role", piped.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ansible.remote_script") && e.contains("roles/piped_role/handlers/main.yml"),
        "{e}"
    );
    // A symlink out of the directory refuses the role; nothing of it is read.
    let escape = role_dir(&[(
        "tasks/main.yml",
        "- name: Hi\n  ansible.builtin.debug:\n    msg: hi\n",
    )]);
    std::fs::create_dir(escape.path().join("templates")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", escape.path().join("templates/host.j2")).unwrap();
    let e = add_role(&t, "escape-role", escape.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("templates/host.j2 is a symlink") && e.contains("nothing was added"),
        "{e}"
    );
    // Without tasks/main.yml there is no role.
    let empty = role_dir(&[("handlers/main.yml", HANDLERS)]);
    let e = add_role(&t, "empty-role", empty.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs tasks/main.yml"), "{e}");
    for name in [
        "broken-role",
        "open-role",
        "piped-role",
        "escape-role",
        "empty-role",
    ] {
        assert!(olga.library().show(name).is_err(), "{name}: nothing added");
    }

    // Version 1 used on local hosts: the wrapper and the role's files under roles/web_motd/,
    // the dry run executed by ansible-playbook, approved by bob, applied.
    let hosts = tempfile::tempdir().unwrap();
    let inventory = common::local_inventory(hosts.path());
    let rec = olga
        .library()
        .plan(
            &UseRequest {
                entry: "web-motd@1".into(),
                inventory: Some(inventory.clone()),
                ..UseRequest::default()
            },
            &quiet,
        )
        .unwrap();
    let p = &rec.plan;
    assert_eq!(p.agent.to_string(), "config");
    assert!(
        p.summary.starts_with(
            "apply role web-motd@1 (ansible-playbook opsdeck_role.yml on the hosts in"
        ),
        "{}",
        p.summary
    );
    assert!(!p.denied(), "{:?}", p.gates);
    let names: Vec<&str> = p
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Ansible)
        .map(|a| a.name.as_str())
        .collect();
    for want in [
        ROLE_PLAYBOOK,
        "roles/web_motd/tasks/main.yml",
        "roles/web_motd/handlers/main.yml",
        "roles/web_motd/defaults/main.yml",
        "roles/web_motd/templates/motd.j2",
        "inventory.yml",
        opsdeck::library::VARS_FILE,
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let wrapper = artifact_text(&olga, &p.plan_id, ROLE_PLAYBOOK).unwrap();
    assert!(
        wrapper.contains("  roles:\n    - role: web_motd\n"),
        "{wrapper}"
    );
    assert_eq!(
        p.dry_runs[0].status,
        opsdeck::plan::DryRunStatus::Checked,
        "{:?}",
        p.dry_runs
    );
    let check = check_output(&olga, &rec);
    assert!(
        check.contains("TASK [web_motd : Write the message of the day]")
            && check.contains("+hello from opsdeck")
            && check.contains("RUNNING HANDLER [web_motd : Announce the new message]"),
        "{check}"
    );
    let vars = artifact_text(&olga, &p.plan_id, opsdeck::library::VARS_FILE).unwrap();
    assert!(
        vars.contains("web_motd_greeting: \"hello\"") && vars.contains("web_motd_times: 2"),
        "{vars}"
    );
    let out = approve_and_apply(&t, &p.plan_id);
    assert!(
        out.contains("greeting=hello times=2") && out.contains("web_motd wrote motd.txt"),
        "{out}"
    );

    // Version 2, named by a request's words ("… our web-motd role …"), then with --set.
    let v2_dir = motd_role(&tasks_v2(), "{{ web_motd_greeting }} from opsdeck, twice\n");
    // Parameters are a version's words: v2 declares them again.
    let v2 = t
        .deck("olga")
        .library()
        .add(
            &NewEntry {
                name: "web-motd".into(),
                kind: EntryKind::Role,
                from: v2_dir.path().to_path_buf(),
                words: EntryWords {
                    description: "the message of the day".into(),
                    tags: vec!["motd".into()],
                    params: vec![
                        opsdeck::library::parse_param("web_motd_greeting:string").unwrap(),
                        opsdeck::library::parse_param("web_motd_times:number=2").unwrap(),
                    ],
                    ..EntryWords::default()
                },
            },
            &quiet,
        )
        .unwrap();
    assert_eq!(v2.version.version, 2, "{v2:?}");
    let named = common::library::planned_request(
        &olga,
        "apply our web-motd role to the hosts in the inventory",
        inventory.clone(),
    );
    assert!(
        named
            .plan
            .intent
            .notes
            .iter()
            .any(|n| n.contains("from library entry web-motd@2")),
        "{:?}",
        named.plan.intent.notes
    );
    let rec = olga
        .library()
        .plan(
            &UseRequest {
                entry: "web-motd@2".into(),
                inventory: Some(inventory),
                set: vec![
                    "web_motd_greeting=hi {{ lookup('pipe', 'id') }}".into(),
                    "web_motd_times=5".into(),
                ],
                ..UseRequest::default()
            },
            &quiet,
        )
        .unwrap();
    let check = check_output(&olga, &rec);
    assert!(check.contains("TASK [web_motd : Say goodbye]"), "{check}");
    let out = approve_and_apply(&t, &rec.plan.plan_id);
    assert!(
        out.contains("greeting=hi {{ lookup('pipe', 'id') }} times=5")
            && out.contains("version two says goodbye"),
        "a value stays text:\n{out}"
    );
    assert!(!out.contains("uid="), "{out}");
    let v2_plan = rec.plan.plan_id.clone();

    // The versions compared, file by file with their paths.
    let diff = run_json(
        home,
        env,
        "alice",
        &["library", "diff", "web-motd@1", "web-motd@2"],
    );
    let diff = diff["diff"].as_str().unwrap();
    assert!(
        diff.contains("+++ web-motd@2/tasks/main.yml")
            && diff.contains("+    msg: \"version two says goodbye\""),
        "{diff}"
    );
    assert!(
        diff.contains("--- web-motd@1/templates/motd.j2")
            && diff.contains("+{{ web_motd_greeting }} from opsdeck, twice"),
        "{diff}"
    );
    assert!(!diff.contains("handlers/main.yml"), "unchanged: {diff}");

    // The applied plan saved back: a role again, its files under their own names.
    let saved = run_json(
        home,
        env,
        "olga",
        &["library", "save", &v2_plan, "motd-saved"],
    );
    assert_eq!(saved["version"], 1, "{saved}");
    let shown = olga.library().show("motd-saved").unwrap();
    let m = &shown.version.manifest;
    assert_eq!(m.kind, EntryKind::Role);
    assert_eq!(m.from_plan.as_deref(), Some(v2_plan.as_str()));
    let saved_files: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        saved_files,
        [
            "defaults/main.yml",
            "handlers/main.yml",
            "tasks/main.yml",
            "templates/motd.j2"
        ]
    );
    let v3 = olga.library().show("web-motd@2").unwrap();
    let shas = |m: &opsdeck::library::Manifest| -> Vec<String> {
        m.files.iter().map(|f| f.sha256.clone()).collect()
    };
    assert_eq!(shas(m), shas(&v3.version.manifest), "the same files");

    lint(&olga, &v2_plan);
}

/// The wrapper playbook with the role, as the plan holds them, through ansible-lint's
/// production profile.
fn lint(deck: &Deck, plan_id: &str) {
    let work = tempfile::tempdir().unwrap();
    common::library::write_ansible_files(deck, plan_id, work.path());
    common::library::ansible_lint(work.path(), &[ROLE_PLAYBOOK, "roles/web_motd"]);
}

#[test]
fn roles_on_the_local_store() {
    let home = Home::new();
    role_story(&home, &[]);
}

#[test]
fn roles_on_the_shared_backend() {
    let Some(moto) = Moto::get("library_roles_aws") else {
        return;
    };
    let Some(b) = SharedBackend::new("library_roles_aws") else {
        return;
    };
    let home = b.home();
    role_story(&home, &moto.env());
}

/// A role serving config requests (`--serves config/…`) runs after the built-in playbook, in
/// one run of the combined playbook: the built-in play, then the wrapper applying the role.
#[test]
fn a_role_serving_requests_runs_after_the_built_in_playbook() {
    let Some(ansible) = common::ansible_playbook() else {
        return;
    };
    let home = Home::new();
    home.use_ansible(&ansible, "");
    let t = team(&home);
    let olga = t.deck("olga");
    let hosts = tempfile::tempdir().unwrap();
    let inventory = common::local_inventory(hosts.path());
    let asked = "install nginx on the hosts in the inventory";
    let serves = opsdeck::library::template_key(&olga.requests().preview(asked, None).unwrap())
        .expect("a config request has a key");
    let dir = motd_role(TASKS_V1, "{{ web_motd_greeting }} from opsdeck\n");
    olga.library()
        .add(
            &NewEntry {
                name: "team-motd".into(),
                kind: EntryKind::Role,
                from: dir.path().to_path_buf(),
                words: EntryWords {
                    params: vec![opsdeck::library::parse_param("web_motd_times:number=1").unwrap()],
                    serves: Some(serves),
                    ..EntryWords::default()
                },
            },
            &quiet,
        )
        .unwrap();
    let rec = common::library::planned_request(&olga, asked, inventory);
    let p = &rec.plan;
    let combined = opsdeck::pipeline::COMBINED_PLAYBOOK;
    let names: Vec<&str> = p.artifacts.iter().map(|a| a.name.as_str()).collect();
    for want in [
        "packages.yml",
        combined,
        ROLE_PLAYBOOK,
        "roles/team_motd/tasks/main.yml",
        "roles/team_motd/templates/motd.j2",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let text = artifact_text(&olga, &p.plan_id, combined).unwrap();
    let builtin_at = text.find("import_playbook: packages.yml").expect(&text);
    let role_at = text
        .find(&format!("import_playbook: {ROLE_PLAYBOOK}"))
        .expect(&text);
    assert!(builtin_at < role_at, "built-in first:\n{text}");
    // The combination as ansible-playbook reads it: the built-in play's tasks, then the role's.
    let work = tempfile::tempdir().unwrap();
    common::library::write_ansible_files(&olga, &p.plan_id, work.path());
    let listed = common::library::plan_playbook(&ansible, work.path(), "--list-tasks", combined);
    let first = listed
        .find("Install, upgrade or remove packages")
        .expect(&listed);
    let second = listed
        .find("team_motd : Write the message of the day")
        .expect(&listed);
    assert!(first < second, "{listed}");
}
