//! The tenant's artifact library (issue 18 part 1), end to end on the local store and on the
//! shared backend (moto): an applied plan saved as version 1, a version 2 with a typed parameter
//! added from files, both found, used from requests (`ask --use`, and "deploy our … module")
//! through the same gates, dry runs and approvals, applied, compared; usage shown; deprecation;
//! a tenant policy that uses only approved entries; broken modules and playbooks refused at add
//! time with the tool's own words.

mod common;

use common::library::{artifact_text, run_json};
use common::moto::Moto;
use common::shared::SharedBackend;
use common::{Home, Team, applied_hello, approve_and_apply, quiet, team};
use opsdeck::approval::State;
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::library::{EntryKind, EntryWords, parse_param};
use opsdeck::pipeline::{Deck, NewEntry, UseRequest};
use serde_json::Value;

/// Version 2: the module with a typed parameter.
const MODULE_V2: &str = r#"variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "hello" {
  input = var.greeting
}

output "greeting" {
  value = terraform_data.hello.output
}
"#;

fn module_dir(main_tf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
    dir
}

fn kinds_of(deck: &Deck, kind: EventKind) -> usize {
    deck.trail()
        .audit(&AuditFilter {
            event: Some(kind.as_str().into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .len()
}

/// The whole story on one home (local store, or a machine of the shared backend).
fn library_story(home: &Home, env: &[(&'static str, String)], backend: &str) {
    let t = team(home);
    let olga = t.deck("olga");
    assert_eq!(olga.raw_store().backend(), backend);

    // An applied plan becomes version 1.
    let applied = applied_hello(&t, "olga");
    let v = run_json(
        home,
        env,
        "olga",
        &[
            "library",
            "save",
            &applied.plan.plan_id,
            "web-tier",
            "--description",
            "the web tier",
            "--tag",
            "web",
        ],
    );
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["new"], true);
    assert_eq!(v["added"]["user"], "olga");

    // Version 2 from files, with a typed parameter; checked by terraform before it is added.
    let dir = module_dir(MODULE_V2);
    let v2 = NewEntry {
        name: "web-tier".into(),
        kind: EntryKind::Terraform,
        from: dir.path().to_path_buf(),
        words: EntryWords {
            description: "the web tier, greeting as a parameter".into(),
            tags: vec!["web".into()],
            params: vec![parse_param("greeting:string=hello").unwrap()],
            serves: None,
        },
    };
    let added = olga.library().add(&v2, &quiet).unwrap();
    assert_eq!(added.version.version, 2);
    assert!(added.new);
    assert!(
        added.checks.iter().any(|c| c == "terraform fmt -check"),
        "{:?}",
        added.checks
    );
    assert!(
        added.checks.iter().any(|c| c == "terraform validate"),
        "terraform_data needs no provider, so validate ran: {:?} {:?}",
        added.checks,
        added.notes
    );
    // The same contents again are the same version: nothing added.
    let again = olga.library().add(&v2, &quiet).unwrap();
    assert!(!again.new);
    assert_eq!(again.version.sha256, added.version.sha256);

    // Found: listed, and by search words.
    let list = run_json(home, env, "alice", &["library", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "web-tier");
    assert_eq!(list[0]["latest"], 2);
    assert_eq!(list[0]["versions"], 2);
    assert_eq!(list[0]["owner"], "olga");
    let found = run_json(
        home,
        env,
        "alice",
        &["library", "search", "greeting", "web"],
    );
    assert_eq!(found[0]["name"], "web-tier", "{found}");
    let none = run_json(home, env, "alice", &["library", "search", "database"]);
    assert_eq!(none.as_array().unwrap().len(), 0);

    // Version 1 used from a request: a plan like any other, approved by someone else, applied.
    let p1 = run_json(
        home,
        env,
        "olga",
        &["ask", "--use", "web-tier@1", "--stack", "web1", "apply it"],
    );
    let id1 = p1["plan_id"].as_str().unwrap().to_string();
    assert_eq!(p1["state"], "pending", "{p1}");
    assert!(
        p1["intent"]["notes"]
            .to_string()
            .contains("from library entry web-tier@1"),
        "{p1}"
    );
    assert_eq!(p1["dry_runs"][0]["status"], "planned", "{p1}");
    assert!(
        t.approve("olga", &id1).is_err(),
        "the requester cannot approve"
    );
    approve_and_apply(&t, "bob", &olga, &id1);

    // Version 2 with a value: written as a quoted literal, never as code.
    let rec2 = olga
        .library()
        .plan(
            &UseRequest {
                entry: "web-tier@2".into(),
                text: "roll out the new greeting".into(),
                set: vec!["greeting=hi ${path.cwd}".into()],
                stack: Some("web2".into()),
                inventory: None,
                reading: None,
            },
            &quiet,
        )
        .unwrap();
    let id2 = rec2.plan.plan_id.clone();
    assert_eq!(rec2.state, State::Pending);
    let tfvars = artifact_text(&olga, &id2, opsdeck::library::TFVARS_FILE).expect("tfvars");
    assert!(
        tfvars.contains("greeting = \"hi $${path.cwd}\""),
        "{tfvars}"
    );
    assert!(!rec2.plan.gates.is_empty());
    approve_and_apply(&t, "bob", &olga, &id2);
    assert_eq!(olga.approvals().plan(&id2).unwrap().state, State::Succeeded);
    // A value of the wrong type never reaches an artifact.
    let wrong = olga.library().plan(
        &UseRequest {
            entry: "web-tier@2".into(),
            set: vec!["colour=blue".into()],
            ..UseRequest::default()
        },
        &quiet,
    );
    assert!(
        wrong
            .unwrap_err()
            .to_string()
            .contains("no parameter 'colour'"),
        "unknown parameter refused"
    );

    // Usage: which plans used which version.
    let show1 = run_json(home, env, "alice", &["library", "show", "web-tier@1"]);
    assert_eq!(
        show1["version"]["used_by"][0]["plan_id"],
        id1.as_str(),
        "{show1}"
    );
    assert_eq!(
        show1["version"]["manifest"]["from_plan"],
        applied.plan.plan_id.as_str()
    );
    let show2 = olga.library().show("web-tier@2").unwrap();
    assert_eq!(show2.version.info.used_by.len(), 1);
    assert_eq!(show2.version.info.used_by[0].plan_id, id2);
    assert_eq!(show2.versions.len(), 2);

    // Compared: the manifest's words and the module's diff.
    let diff = run_json(
        home,
        env,
        "alice",
        &["library", "diff", "web-tier@1", "web-tier@2"],
    );
    let text = diff["diff"].as_str().unwrap();
    assert!(
        text.contains("parameters:  -> greeting:string=\"hello\""),
        "{text}"
    );
    assert!(text.contains("+variable \"greeting\" {"), "{text}");
    assert!(text.contains("-  input = \"hello\""), "{text}");
    assert!(text.contains("+  input = var.greeting"), "{text}");

    // Deprecated: no longer picked when no version is named.
    olga.library()
        .deprecate("web-tier@2", "greeting moved to the app")
        .unwrap();
    let latest = olga.library().show("web-tier").unwrap();
    assert_eq!(latest.version.info.version, 1);
    assert!(olga.library().deprecate("web-tier@2", "").is_err(), "once");

    // Named in words: "deploy our web-tier module" plans the latest version not deprecated.
    let by_words = olga
        .requests()
        .ask("deploy our web-tier module", &quiet)
        .unwrap();
    assert!(
        by_words
            .plan
            .intent
            .notes
            .iter()
            .any(|n| n.starts_with("from library entry web-tier@1")),
        "{:?}",
        by_words.plan.intent.notes
    );
    assert_eq!(by_words.plan.stack.as_deref(), Some("web-tier"));

    // Policy: only approved entries. The one who added it cannot approve it; an approver can.
    let mut settings = t.deck("alice").admin().settings().unwrap();
    settings.policy.library_requires_approval = true;
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let olga = t.deck("olga");
    let use1 = UseRequest {
        entry: "web-tier@1".into(),
        stack: Some("web3".into()),
        ..UseRequest::default()
    };
    let refused = olga.library().plan(&use1, &quiet).unwrap_err();
    assert!(
        refused.to_string().contains("library_requires_approval"),
        "{refused}"
    );
    assert!(
        olga.library().approve("web-tier@1").is_err(),
        "operators do not approve"
    );
    t.deck("bob").library().approve("web-tier@1").unwrap();
    let approved = olga.library().plan(&use1, &quiet).unwrap();
    assert_eq!(approved.state, State::Pending);

    // Audited.
    let alice = t.deck("alice");
    assert_eq!(kinds_of(&alice, EventKind::LibraryEntryAdded), 2);
    assert_eq!(kinds_of(&alice, EventKind::LibraryEntryUsed), 4);
    assert_eq!(kinds_of(&alice, EventKind::LibraryEntryDeprecated), 1);
    assert_eq!(kinds_of(&alice, EventKind::LibraryEntryApproved), 1);
    assert!(alice.trail().verify(false).unwrap().ok);

    let vpc_plan = tenant_template(&t);
    builtin_versions(&t, home, env, &vpc_plan);
    playbook_template(&t, home);
}

/// Part 2's built-in catalogue as library versions: each built-in template is a
/// content-addressed version (`builtin/NAME`), listed and shown like an entry; a plan rendered
/// from built-ins records which versions it used (the plan and its `planned` event), and
/// `library show builtin/NAME` lists those plans, read from the trail on either backend.
fn builtin_versions(t: &Team<'_>, home: &Home, env: &[(&'static str, String)], vpc_plan: &str) {
    use opsdeck::library::builtin::builtin_version;
    let listed = run_json(home, env, "alice", &["library", "list", "--built-in"]);
    let network = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["label"] == "builtin/network")
        .expect("builtin/network is listed");
    let current = builtin_version("builtin/network").unwrap();
    assert_eq!(network["sha256"], current.sha256.as_str(), "{network}");
    assert_eq!(network["name"], "network");
    assert_eq!(network["stack_part"], serde_json::json!(["network"]));
    // The plan rendered from built-ins names their versions, in the order of its files.
    let olga = t.deck("olga");
    let rec = olga.approvals().plan(vpc_plan).unwrap();
    let used: Vec<&str> = rec.plan.builtins.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        used,
        [
            "builtin/main",
            "builtin/network",
            "builtin/logs",
            "builtin/outputs"
        ]
    );
    let files: Vec<&str> = rec
        .plan
        .artifacts
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| n.ends_with(".tf"))
        .collect();
    assert_eq!(files, ["main.tf", "network.tf", "logs.tf", "outputs.tf"]);
    for b in &rec.plan.builtins {
        assert_eq!(b.sha256, builtin_version(&b.name).unwrap().sha256);
    }
    // The trail says so: the `planned` event names them as library versions.
    let planned = olga
        .trail()
        .audit(&AuditFilter {
            event: Some("planned".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .into_iter()
        .find(|r| r.event.plan_id.as_deref() == Some(vpc_plan))
        .expect("planned event");
    assert!(
        planned
            .event
            .artifacts
            .iter()
            .any(|a| a["name"] == "builtin/network"
                && a["kind"] == opsdeck::library::REF_KIND
                && a["builtin"] == true
                && a["sha256"] == current.sha256.as_str()),
        "{:?}",
        planned.event.artifacts
    );
    // Shown with its uses, through the binary.
    let shown = run_json(home, env, "alice", &["library", "show", "builtin/network"]);
    assert_eq!(shown["version"]["sha256"], current.sha256.as_str());
    assert_eq!(
        shown["version"]["file_sha256"],
        current.file_sha256.as_str()
    );
    let plans: Vec<&str> = shown["used_by"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["plan_id"].as_str())
        .collect();
    assert!(plans.contains(&vpc_plan), "{shown}");
    // Kept with the tenant's artifacts on this backend: shown again by its SHA.
    assert_eq!(shown["current"], true);
    assert_eq!(shown["versions"][0]["kept"], true, "{shown}");
    let by_sha = format!("builtin/network@{}", &current.sha256[..12]);
    let again = run_json(home, env, "alice", &["library", "show", &by_sha]);
    assert_eq!(again["version"], shown["version"]);
    assert!(
        t.deck("alice")
            .raw_store()
            .get_artifact("default", &current.sha256)
            .is_ok()
    );
    // The tenant template's plan was rendered with the built-in S3 template beside it.
    let s3 = olga.library().show_builtin("builtin/s3").unwrap();
    assert_eq!(s3.used_by.len(), 1, "{s3:?}");
    assert_eq!(s3.used_by[0].user, "olga");
    assert!(olga.library().show_builtin("builtin/nope").is_err());
}

/// A world-writable file: what the starter policy ansible.world_writable denies.
const WORLD_WRITABLE: &str = "- name: Open the drop directory\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: Drop directory\n      ansible.builtin.file:\n        path: /srv/drop\n        state: directory\n        mode: \"0777\"\n";

/// The team's own play, run after the built-in playbook.
const TEAM_MOTD: &str = "- name: Team message of the day\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say the team's greeting\n      ansible.builtin.debug:\n        msg: \"{{ greeting }}\"\n";

/// Part 2's playbook templates: a tenant's Ansible entry serving a config request runs after
/// the built-in playbook, in one run of one combined playbook, with its typed parameters as the
/// extra-vars file; the combination passes `ansible-playbook --syntax-check` and ansible-lint.
/// An entry the policy gates deny is refused when it is added, with the rule and its reason.
fn playbook_template(t: &Team<'_>, home: &Home) {
    let Some(ansible) = common::ansible_playbook() else {
        return;
    };
    home.add_ansible(&ansible);
    let olga = t.deck("olga");
    let dir = tempfile::tempdir().unwrap();
    let inventory = common::local_inventory(dir.path());
    let asked = "install nginx on the hosts in the inventory";
    let reading = olga.requests().preview(asked, None).unwrap();
    let serves = opsdeck::library::template_key(&reading).expect("a config request has a key");
    assert!(serves.starts_with("config/install/"), "{serves}");
    let entry = |name: &str, file: &std::path::Path| NewEntry {
        name: name.into(),
        kind: EntryKind::Ansible,
        from: file.to_path_buf(),
        words: EntryWords {
            description: "the team's play".into(),
            params: vec![parse_param("greeting:string=hello").unwrap()],
            serves: Some(serves.clone()),
            ..EntryWords::default()
        },
    };

    // Denied by a starter policy: refused with the rule and its reason, nothing added.
    let open = write_file(&dir, "open.yml", WORLD_WRITABLE);
    let e = olga
        .library()
        .add(&entry("open-drop", &open), &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the policy gates refuse library entry open-drop"),
        "{e}"
    );
    assert!(
        e.contains("ansible.world_writable") && e.contains("sets mode 0777"),
        "{e}"
    );
    assert!(olga.library().show("open-drop").is_err(), "nothing added");
    // Built-in playbook variables are not a template's parameters.
    let site = write_file(&dir, "site.yml", TEAM_MOTD);
    let mut clash = entry("team-motd", &site);
    clash.words.params = vec![parse_param("opsdeck_packages:string=x").unwrap()];
    let e = olga.library().add(&clash, &quiet).unwrap_err();
    assert!(e.to_string().contains("opsdeck_*"), "{e}");

    let added = olga
        .library()
        .add(&entry("team-motd", &site), &quiet)
        .unwrap();
    assert_eq!(
        added.checks,
        ["ansible-playbook --syntax-check", "policy gates"]
    );
    t.deck("bob").library().approve("team-motd@1").unwrap();

    let rec = common::library::planned_request(&olga, asked, inventory);
    let p = &rec.plan;
    assert_eq!(p.agent.to_string(), "config");
    assert!(
        p.intent.notes.iter().any(|n| n
            .contains("planned with the tenant's template team-motd@1 for config/install/")
            && n.contains("run after the built-in playbook")),
        "{:?}",
        p.intent.notes
    );
    // One step: the combined playbook, the template's values as its extra vars.
    assert_eq!(p.steps.len(), 1, "{:?}", p.steps);
    let combined = opsdeck::pipeline::COMBINED_PLAYBOOK;
    assert!(
        matches!(&p.steps[0].kind, opsdeck::plan::StepKind::Ansible { playbook, vars: Some(v), .. }
            if playbook == combined && v == opsdeck::library::VARS_FILE),
        "{:?}",
        p.steps
    );
    let names: Vec<&str> = p.artifacts.iter().map(|a| a.name.as_str()).collect();
    for want in [
        "packages.yml",
        "site.yml",
        combined,
        opsdeck::library::VARS_FILE,
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let text = artifact_text(&olga, &p.plan_id, combined).unwrap();
    let builtin_at = text.find("import_playbook: packages.yml").expect(&text);
    let template_at = text.find("import_playbook: site.yml").expect(&text);
    assert!(builtin_at < template_at, "built-in first:\n{text}");
    let vars = artifact_text(&olga, &p.plan_id, opsdeck::library::VARS_FILE).unwrap();
    assert!(vars.contains("greeting: \"hello\""), "{vars}");
    let used: Vec<&str> = p.builtins.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(used, ["builtin/_play", "builtin/packages"]);
    assert_eq!(
        olga.library()
            .show("team-motd")
            .unwrap()
            .version
            .info
            .used_by[0]
            .plan_id,
        p.plan_id
    );
    assert!(!p.denied(), "{:?}", p.gates);

    // The combination as the real tools read it: one playbook, the built-in play then the
    // template's.
    let work = tempfile::tempdir().unwrap();
    common::library::write_ansible_files(&olga, &p.plan_id, work.path());
    common::library::plan_playbook(&ansible, work.path(), "--syntax-check", combined);
    let listed = common::library::plan_playbook(&ansible, work.path(), "--list-tasks", combined);
    let first = listed
        .find("Install, upgrade or remove packages")
        .expect(&listed);
    let second = listed.find("Team message of the day").expect(&listed);
    assert!(first < second, "{listed}");
    common::library::ansible_lint(work.path(), &[combined]);
}

/// A bucket made public by its ACL: what the starter policy s3.public_acl denies.
const PUBLIC_BUCKET: &str = r#"variable "bucket" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

resource "aws_s3_bucket_acl" "open" {
  bucket = var.bucket
  acl    = "public-read"
}
"#;

/// The team's own bucket module, standing in for S3 (terraform_data: it plans offline).
const TEAM_BUCKET: &str = r#"variable "bucket" {
  type = string
}

variable "region" {
  type    = string
  default = "us-east-1"
}

resource "terraform_data" "bucket" {
  input = "${var.region}/${var.bucket}"
}
"#;

/// A tenant template (part 2): the infra agent's "create an S3 bucket" requests are planned
/// with the team's module rendered alongside the built-in stack, the request's parameters
/// giving its typed values; other requests keep the built-in templates alone. A template that
/// declares its own provider, or that the policy gates deny, is refused when added. The tenant
/// uses only approved entries by now.
fn tenant_template(t: &Team<'_>) -> String {
    let olga = t.deck("olga");
    let dir = module_dir(TEAM_BUCKET);
    let bucket_entry = |serves: &str| NewEntry {
        name: "team-bucket".into(),
        kind: EntryKind::Terraform,
        from: dir.path().to_path_buf(),
        words: EntryWords {
            description: "our bucket module".into(),
            tags: vec!["s3".into()],
            params: vec![
                parse_param("bucket:string").unwrap(),
                parse_param("region:string=us-east-1").unwrap(),
            ],
            serves: Some(serves.into()),
        },
    };
    let e = olga
        .library()
        .add(&bucket_entry("config/create/s3"), &quiet)
        .unwrap_err();
    assert!(e.to_string().contains("serves infra requests"), "{e}");
    let added = olga
        .library()
        .add(&bucket_entry("infra/create/s3"), &quiet)
        .unwrap();
    assert_eq!(added.version.serves.as_deref(), Some("infra/create/s3"));
    let asked = "create an s3 bucket named team-logs-1 in eu-west-1";
    // Not approved yet: refused like any unapproved entry.
    let refused = olga.requests().ask(asked, &quiet).unwrap_err();
    assert!(refused.to_string().contains("not approved"), "{refused}");
    t.deck("bob").library().approve("team-bucket@1").unwrap();

    let rec = olga.requests().ask(asked, &quiet).unwrap();
    assert_eq!(rec.plan.agent.to_string(), "infra");
    assert_eq!(rec.plan.action, "create");
    assert!(
        rec.plan.intent.notes.iter().any(|n| n.contains(
            "planned with the tenant's template team-bucket@1 for infra/create/s3 requests, its resources alongside the built-in stack"
        )),
        "{:?}",
        rec.plan.intent.notes
    );
    let id = rec.plan.plan_id.clone();
    // Combined with the stack, not replacing it: the built-in bucket and the template's
    // resource in one stack, the template's values typed in their own file.
    let names: Vec<&str> = rec.plan.artifacts.iter().map(|a| a.name.as_str()).collect();
    for want in ["main.tf", "s3.tf", "template-team-bucket-main.tf"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let addresses: Vec<&str> = rec
        .plan
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert!(
        addresses.contains(&"terraform_data.bucket"),
        "{addresses:?}"
    );
    assert!(
        addresses.iter().any(|a| a.starts_with("aws_s3_bucket.")),
        "{addresses:?}"
    );
    let s3 = artifact_text(&olga, &id, "s3.tf").expect("s3.tf");
    assert!(s3.contains("team-logs-1"), "{s3}");
    let tfvars = artifact_text(&olga, &id, opsdeck::library::TFVARS_FILE).expect("tfvars");
    assert!(tfvars.contains("bucket = \"team-logs-1\""), "{tfvars}");
    assert!(tfvars.contains("region = \"eu-west-1\""), "{tfvars}");
    assert!(!rec.plan.denied(), "{:?}", rec.plan.gates);
    assert_eq!(rec.state, State::Pending);
    let shown = olga.library().show("team-bucket").unwrap();
    assert_eq!(shown.version.info.used_by[0].plan_id, id);

    // A template that would declare its own provider clashes with the stack's: refused.
    let own_provider = module_dir(&format!(
        "provider \"aws\" {{\n  region = \"eu-west-1\"\n}}\n\n{TEAM_BUCKET}"
    ));
    let e = olga
        .library()
        .add(
            &NewEntry {
                name: "team-bucket".into(),
                from: own_provider.path().to_path_buf(),
                ..bucket_entry("infra/create/s3")
            },
            &quiet,
        )
        .unwrap_err();
    assert!(e.to_string().contains("declares a provider block"), "{e}");

    // A template the policy gates would deny (a public bucket) is refused at add time with
    // the policy's reason, and nothing is added.
    let public = module_dir(PUBLIC_BUCKET);
    let e = olga
        .library()
        .add(
            &NewEntry {
                name: "open-bucket".into(),
                from: public.path().to_path_buf(),
                ..bucket_entry("infra/create/s3")
            },
            &quiet,
        )
        .unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("the policy gates refuse library entry open-bucket"),
        "{e}"
    );
    assert!(
        e.contains("s3.public_acl") && e.contains("public-read"),
        "{e}"
    );
    assert!(olga.library().show("open-bucket").is_err(), "nothing added");

    // Requests it does not serve keep the built-in templates.
    let vpc = olga
        .requests()
        .ask("create a vpc in eu-west-1", &quiet)
        .unwrap();
    assert!(
        !vpc.plan.intent.notes.iter().any(|n| n.contains("template")),
        "{:?}",
        vpc.plan.intent.notes
    );
    assert!(artifact_text(&olga, &vpc.plan.plan_id, opsdeck::library::TFVARS_FILE).is_none());
    vpc.plan.plan_id
}

#[test]
fn library_on_the_local_store() {
    if common::terraform().is_none() {
        return;
    }
    let home = Home::new();
    library_story(&home, &[], "local");
}

#[test]
fn library_on_the_shared_backend() {
    if common::terraform().is_none() {
        return;
    }
    let Some(moto) = Moto::get("library_aws") else {
        return;
    };
    let Some(b) = SharedBackend::new("library_aws") else {
        return;
    };
    let home = b.home();
    library_story(&home, &moto.env(), "aws");
}

fn add_module(
    t: &Team<'_>,
    name: &str,
    main_tf: &str,
) -> opsdeck::Result<opsdeck::pipeline::Added> {
    let dir = module_dir(main_tf);
    t.deck("olga").library().add(
        &NewEntry {
            name: name.into(),
            kind: EntryKind::Terraform,
            from: dir.path().to_path_buf(),
            words: EntryWords::default(),
        },
        &quiet,
    )
}

#[test]
fn broken_modules_are_refused_at_add_time_with_terraforms_words() {
    if common::terraform().is_none() {
        return;
    }
    let home = Home::new();
    let t = team(&home);
    let e = add_module(
        &t,
        "broken",
        "resource \"terraform_data\" \"x\" {\n  input = \n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("terraform fmt -check refused library entry broken"),
        "{e}"
    );
    assert!(
        e.contains("Invalid expression"),
        "terraform's own words: {e}"
    );
    assert!(e.contains("nothing was added"), "{e}");
    // The same through the binary: refused, with terraform's words, and a failing status.
    let dir = module_dir("resource \"terraform_data\" \"x\" {\n  input = \n");
    let out = home
        .cmd()
        .args([
            "--user",
            "olga",
            "library",
            "add",
            "broken",
            "--kind",
            "terraform",
            "--from",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Invalid expression"), "{stderr}");
    let e = add_module(
        &t,
        "unformatted",
        "resource \"terraform_data\" \"x\" {\ninput=\"a\"\n}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not in canonical format: main.tf"), "{e}");
    let e = add_module(
        &t,
        "undeclared",
        "resource \"terraform_data\" \"x\" {\n  input = var.nowhere\n}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("terraform validate refused"), "{e}");
    assert!(e.contains("Reference to undeclared input variable"), "{e}");
    // A variable without a default must be a declared parameter.
    let e = add_module(
        &t,
        "needs-param",
        "variable \"size\" {\n  type = number\n}\n\nresource \"terraform_data\" \"x\" {\n  input = var.size\n}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("variable size has no default"), "{e}");
    assert!(t.deck("alice").library().list().unwrap().is_empty());
    assert_eq!(kinds_of(&t.deck("alice"), EventKind::LibraryEntryAdded), 0);
    // The built-in catalogue, as data: every template with what it reads and its defaults.
    let out = home
        .cmd()
        .args(["--json", "--user", "alice", "library", "list", "--built-in"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let builtin: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s3 = builtin
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "s3")
        .expect("s3 is described");
    assert_eq!(s3["kind"], "terraform");
    assert!(
        s3["safety"].to_string().contains("public access block"),
        "{s3}"
    );
    assert!(s3["reads"].to_string().contains("bucket"), "{s3}");
    // Someone outside the tenant reads nothing of it.
    let refused = t.deck("nobody").library().list();
    assert!(refused.is_err());
}

/// A home whose ansible-playbook is the tests' (None, skipped, without one).
fn ansible_home() -> Option<Home> {
    let bin = common::ansible_playbook()?;
    let home = Home::new();
    home.use_ansible(&bin, "");
    Some(home)
}

fn write_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn playbooks_are_syntax_checked_at_add_time() {
    let Some(home) = ansible_home() else {
        return;
    };
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    let broken = write_file(
        &dir,
        "broken.yml",
        "- hosts: all\n  tasks:\n    - name: bad\n      no_such_module_here:\n        x: 1\n",
    );
    let add = |from: &std::path::Path, name: &str| {
        t.deck("olga").library().add(
            &NewEntry {
                name: name.into(),
                kind: EntryKind::Ansible,
                from: from.to_path_buf(),
                words: EntryWords {
                    description: "motd".into(),
                    tags: vec!["hosts".into()],
                    ..EntryWords::default()
                },
            },
            &quiet,
        )
    };
    let e = add(&broken, "broken").unwrap_err().to_string();
    assert!(
        e.contains("ansible-playbook --syntax-check refused broken.yml"),
        "{e}"
    );
    assert!(e.contains("no_such_module_here"), "{e}");
    let good = dir.path().join("site.yml");
    std::fs::write(
        &good,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: say hello\n      ansible.builtin.debug:\n        msg: hello\n",
    )
    .unwrap();
    let added = add(&good, "motd").unwrap();
    assert_eq!(added.version.version, 1);
    assert_eq!(
        added.checks,
        ["ansible-playbook --syntax-check", "policy gates"]
    );
    let inventory = common::local_inventory(dir.path());
    let rec = t
        .deck("olga")
        .library()
        .plan(
            &UseRequest {
                entry: "motd@1".into(),
                inventory: Some(inventory),
                ..UseRequest::default()
            },
            &quiet,
        )
        .unwrap();
    assert_eq!(rec.state, State::Pending);
    assert_eq!(rec.plan.agent.to_string(), "config");
    assert_eq!(
        t.deck("alice")
            .library()
            .show("motd")
            .unwrap()
            .version
            .info
            .used_by[0]
            .plan_id,
        rec.plan.plan_id
    );
}

/// Part 2's Ansible entries with parameters: typed, with defaults, checked with
/// `--syntax-check` at add time; given at use they are a file of extra vars (never template
/// text or command-line words) that wins over the play's own vars; a value that looks like a
/// template stays text; names Ansible reserves and values of the wrong type are refused.
#[test]
fn playbook_parameters_are_typed_extra_vars() {
    let Some(home) = ansible_home() else {
        return;
    };
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    let site = write_file(
        &dir,
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars:\n    greeting: from-the-play\n  tasks:\n    - name: greet\n      ansible.builtin.debug:\n        msg: \"greeting={{ greeting }} times={{ times | int + 1 }} loud={{ loud }}\"\n",
    );
    let olga = t.deck("olga");
    let entry = |params: &[&str]| NewEntry {
        name: "greet".into(),
        kind: EntryKind::Ansible,
        from: site.clone(),
        words: EntryWords {
            description: "say something".into(),
            params: params.iter().map(|p| parse_param(p).unwrap()).collect(),
            ..EntryWords::default()
        },
    };
    let e = olga
        .library()
        .add(
            &entry(&["ansible_ssh_common_args:string=-o ProxyCommand=id"]),
            &quiet,
        )
        .unwrap_err();
    assert!(e.to_string().contains("a name Ansible reserves"), "{e}");
    let added = olga
        .library()
        .add(
            &entry(&["greeting:string=hello", "times:number=2", "loud:bool=false"]),
            &quiet,
        )
        .unwrap();
    assert_eq!(
        added.checks,
        ["ansible-playbook --syntax-check", "policy gates"]
    );
    let inventory = common::local_inventory(dir.path());
    let use_with = |set: &[&str]| UseRequest {
        entry: "greet@1".into(),
        inventory: Some(inventory.clone()),
        set: set.iter().map(|s| s.to_string()).collect(),
        ..UseRequest::default()
    };
    let e = olga
        .library()
        .plan(&use_with(&["times=many"]), &quiet)
        .unwrap_err();
    assert!(e.to_string().contains("parameter times is a number"), "{e}");

    let rec = olga
        .library()
        .plan(
            &use_with(&["greeting={{ lookup('pipe', 'id') }}", "times=4"]),
            &quiet,
        )
        .unwrap();
    let id = rec.plan.plan_id.clone();
    let vars = artifact_text(&olga, &id, opsdeck::library::VARS_FILE).expect("vars file");
    assert!(
        vars.contains("greeting: !unsafe \"{{ lookup('pipe', 'id') }}\""),
        "{vars}"
    );
    assert!(
        vars.contains("times: 4") && vars.contains("loud: false"),
        "{vars}"
    );
    assert!(
        rec.plan.steps.iter().any(|s| matches!(
            &s.kind,
            opsdeck::plan::StepKind::Ansible { vars: Some(v), .. } if v == opsdeck::library::VARS_FILE
        )),
        "{:?}",
        rec.plan.steps
    );
    t.approve("bob", &id).unwrap();
    let out = common::library::apply_collecting(&olga, &id);
    assert!(
        out.contains("greeting={{ lookup('pipe', 'id') }} times=5 loud=False"),
        "the extra vars win over the play's, typed, and a template in a value stays text:\n{out}"
    );
    assert!(!out.contains("uid="), "{out}");
}
