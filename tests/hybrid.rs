//! Hybrid requests: one plan with a Terraform step and an Ansible step on the hosts it creates,
//! approved once, applied in order (the inventory built from the Terraform outputs), audited as
//! one request with both artifacts. terraform_data stands in for instances; its outputs list
//! loopback addresses, which Ansible reaches through the local connection.

mod common;

use common::team;

use common::{Home, ansible_playbook, quiet, terraform};
use opsdeck::approval::State;
use opsdeck::events::AgentEvent;
use opsdeck::intent::AgentKind;
use opsdeck::pipeline::Submission;
use opsdeck::plan::{ArtifactKind, DryRunStatus, Inventory, StepKind};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Two "instances" whose addresses are this machine, as the infra templates' outputs name them.
const INSTANCES: &str = r#"resource "terraform_data" "web" {
  count = 2
  input = count.index == 0 ? "127.0.0.1" : "localhost"
}

output "instance_ids" {
  value = [for w in terraform_data.web : "i-${substr(replace(w.id, "-", ""), 0, 17)}"]
}

output "public_ips" {
  value = ["", ""]
}

output "private_ips" {
  value = terraform_data.web[*].output
}
"#;

fn playbook(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("web.yml");
    std::fs::write(
        &p,
        format!(
            "- name: configure the new web servers\n  hosts: all\n  gather_facts: false\n  become: false\n  serial: 1\n  tasks:\n    - name: site marker\n      ansible.builtin.copy:\n        dest: \"{}/site-{{{{ ansible_host }}}}.txt\"\n        content: \"served by {{{{ inventory_hostname }}}}\\n\"\n        mode: \"0600\"\n",
            dir.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn one_request_two_steps_one_approval_one_audited_request() {
    let Some(_) = terraform() else { return };
    let Some(ansible) = ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let work = tempfile::tempdir().unwrap();
    // The playbook changes this machine itself: the sandbox must let it write its markers there.
    home.use_ansible(
        &ansible,
        &format!(
            "sandbox_write = [{}]",
            serde_json::Value::String(work.path().display().to_string())
        ),
    );
    let tf = work.path().join("tf");
    std::fs::create_dir(&tf).unwrap();
    std::fs::write(tf.join("main.tf"), INSTANCES).unwrap();
    let pb = playbook(work.path());

    let olga = t.deck("olga");
    let rec = olga
        .requests()
        .submit(
            &Submission {
                terraform: Some(tf.clone()),
                stack: Some("web".into()),
                playbook: Some(pb),
                inventory: None,
            },
            &quiet,
        )
        .unwrap();
    let p = &rec.plan;
    assert_eq!(p.agents, [AgentKind::Infra, AgentKind::Config]);
    assert_eq!(p.steps.len(), 2);
    assert!(matches!(p.steps[0].kind, StepKind::Terraform { ref stack, .. } if stack == "web"));
    assert!(matches!(
        &p.steps[1].kind,
        StepKind::Ansible { playbook, inventory: Inventory::StepOutputs { step: 1, .. }, .. }
            if playbook == "web.yml"
    ));
    // A dry run that did not plan says why in its notes: show them rather than a missing file.
    assert_eq!(
        p.dry_runs[0].status,
        DryRunStatus::Planned,
        "terraform dry run: {:?}",
        p.dry_runs[0]
    );
    let kinds: Vec<(&str, ArtifactKind)> = p
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.kind))
        .collect();
    for want in [
        ("main.tf", ArtifactKind::Terraform),
        ("web.yml", ArtifactKind::Ansible),
        ("opsdeck.tfplan", ArtifactKind::TerraformPlan),
        ("tfplan.json", ArtifactKind::TerraformPlanJson),
    ] {
        assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
    }
    assert_eq!(p.dry_runs[0].status, DryRunStatus::Planned);
    assert_eq!(p.dry_runs[0].summary, "+2 ~0 -0");
    assert_eq!(p.dry_runs[1].status, DryRunStatus::SyntaxChecked);
    assert!(p.dry_runs[1].binds.contains("on the hosts step 1 creates"));

    // One approval covers both steps.
    let rec = t.approve("bob", &p.plan_id).unwrap();
    assert_eq!(rec.state, State::Approved);
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let p2 = progress.clone();
    let sink = move |e: AgentEvent| {
        if let AgentEvent::Progress { message, .. } = e {
            p2.lock().unwrap().push(message);
        }
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = rt()
        .block_on(olga.runs().apply(&p.plan_id, &sink, rx))
        .unwrap();
    assert!(report.success, "{report:?}");
    let steps: Vec<String> = progress
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.starts_with("step "))
        .cloned()
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[0].starts_with("step 1/2: terraform apply"),
        "{steps:?}"
    );
    assert!(
        steps[1].starts_with("step 2/2: ansible-playbook web.yml"),
        "{steps:?}"
    );
    // Ansible ran on the hosts Terraform reported.
    for host in ["127.0.0.1", "localhost"] {
        let f = work.path().join(format!("site-{host}.txt"));
        assert!(f.exists(), "{} missing", f.display());
    }
    let outputs = report.outputs.unwrap();
    assert_eq!(
        outputs["step1"]["private_ips"]["value"],
        serde_json::json!(["127.0.0.1", "localhost"])
    );
    let hosts = &outputs["step2"]["hosts"];
    assert_eq!(hosts.as_object().unwrap().len(), 2, "{hosts}");
    for (_, h) in hosts.as_object().unwrap() {
        assert_eq!(h["changed"], 1, "{hosts}");
    }
    assert!(outputs["step2"]["inventory"]["sha256"].is_string());

    // The audit trail: one request, both artifacts planned, the built inventory recorded.
    let events = olga.trail().audit(&Default::default()).unwrap();
    let mine: Vec<_> = events
        .iter()
        .filter(|r| r.event.request_id == p.request_id)
        .collect();
    let kinds: Vec<&str> = mine.iter().map(|r| r.event.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "requested",
            "classified",
            "planned",
            "policy_evaluated",
            "queued",
            "approved",
            "executing",
            "completed"
        ]
    );
    let planned = mine
        .iter()
        .find(|r| r.event.event.as_str() == "planned")
        .unwrap();
    let names: Vec<&str> = planned
        .event
        .artifacts
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"main.tf") && names.contains(&"web.yml"),
        "{names:?}"
    );
    let done = mine.last().unwrap();
    let names: Vec<&str> = done
        .event
        .artifacts
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["execution.log", "step2-inventory.yml"]);
    let inv_uri = done.event.artifacts[1]["uri"].as_str().unwrap();
    let inv = std::fs::read_to_string(inv_uri.trim_start_matches("file://")).unwrap();
    assert!(inv.contains("ansible_host: \"127.0.0.1\""), "{inv}");
    assert!(inv.contains("ansible_connection: local"), "{inv}");
    assert!(
        inv.contains("Terraform output private_ips of step 1"),
        "{inv}"
    );
    let log = std::fs::read_to_string(
        done.event
            .execution_logs
            .as_ref()
            .unwrap()
            .trim_start_matches("file://"),
    )
    .unwrap();
    assert!(
        log.contains("=== step 1/2: terraform apply of stack web ==="),
        "{log}"
    );
    assert!(
        log.contains("=== step 2/2: ansible-playbook web.yml"),
        "{log}"
    );
    assert!(olga.trail().verify(false).unwrap().ok);
    // The stack records only its Terraform.
    let stack = olga
        .raw_store()
        .get_stack("default", "web")
        .unwrap()
        .unwrap();
    assert!(
        stack
            .artifacts
            .iter()
            .all(|a| a.kind == ArtifactKind::Terraform)
    );
}

#[test]
fn a_plain_language_hybrid_request_makes_one_plan_with_both_steps() {
    let home = Home::new();
    let mirror = tempfile::tempdir().unwrap();
    // No provider downloads: the AWS provider is not in the (empty) mirror, so the plan falls
    // back to the template's resources with a note, as on a host without internet.
    home.configure(&format!(
        "[exec]\nprovider_mirror = {}\n{}\n",
        serde_json::Value::String(mirror.path().display().to_string()),
        match ansible_playbook() {
            Some(b) => format!(
                "ansible_playbook = {}",
                serde_json::Value::String(b.display().to_string())
            ),
            None => String::new(),
        }
    ));
    let t = team(&home);
    let rec = t
        .deck("olga")
        .requests()
        .ask("Create 2 EC2 instances with nginx in eu-west-1", &quiet)
        .unwrap();
    let p = &rec.plan;
    assert_eq!(p.agents, [AgentKind::Infra, AgentKind::Config]);
    assert_eq!(p.steps.len(), 2, "{:?}", p.steps);
    assert!(matches!(p.steps[0].kind, StepKind::Terraform { .. }));
    assert!(matches!(
        &p.steps[1].kind,
        StepKind::Ansible { playbook, inventory: Inventory::StepOutputs { step: 1, outputs }, .. }
            if playbook == "packages.yml" && outputs.contains(&"private_ips".to_string())
    ));
    assert!(
        p.summary.contains("then install nginx on them"),
        "{}",
        p.summary
    );
    assert!(
        p.artifacts
            .iter()
            .any(|a| a.kind == ArtifactKind::Terraform)
    );
    assert!(p.artifacts.iter().any(|a| a.name == "packages.yml"));
    let tf = &p.dry_runs[0];
    assert_eq!(tf.status, DryRunStatus::Unavailable, "{tf:?}");
    assert!(
        tf.notes[0].contains("terraform init could not install the providers")
            || tf.notes[0].contains("terraform is not installed"),
        "{tf:?}"
    );
    assert!(
        tf.binds.contains("the Terraform configuration (files hash"),
        "{}",
        tf.binds
    );
    assert!(!p.resources.is_empty());
    if ansible_playbook().is_some() {
        assert_eq!(
            p.dry_runs[1].status,
            DryRunStatus::SyntaxChecked,
            "{:?}",
            p.dry_runs[1]
        );
    }
    assert_eq!(rec.state, State::Pending);
}
