//! Every Terraform template renders for its parameter edge cases, the output is canonical
//! (`terraform fmt -check`, when terraform is present) and snapshot-tested.

mod common;

use std::collections::BTreeMap;

use common::{Home, quiet};
use opsdeck::agents::{AgentRequest, infra};
use opsdeck::intent::{AgentKind, Intent, region_codes};
use opsdeck::tenant::Tenant;
use serde_json::{Value, json};

fn intent(action: &str, params: Value) -> Intent {
    let params: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    Intent {
        agent: AgentKind::Infra,
        agents: vec![AgentKind::Infra],
        action: action.into(),
        confidence: 1.0,
        low_confidence: false,
        params,
        evidence: vec![],
        notes: vec![],
        source: None,
    }
}

/// Renders through the real agent with a fixed request id, so stack names are stable.
fn render(params: Value) -> Vec<(String, String)> {
    let home = Home::new();
    let deck = home.deck("alice");
    let tenant = Tenant {
        name: "acme".into(),
        ..Tenant::default()
    };
    let i = intent("create", params);
    let draft = infra::plan(
        &AgentRequest {
            request_id: "3f9a0000-0000-4000-8000-000000000000",
            text: "",
            intent: &i,
            tenant: &tenant,
            store: deck.store.as_ref(),
            aws: &opsdeck::aws::AwsAccess::new(None, None),
        },
        &quiet,
    )
    .unwrap();
    draft
        .files
        .into_iter()
        .map(|f| (f.name, String::from_utf8(f.content).unwrap()))
        .collect()
}

fn joined(files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(n, t)| format!("# file: {n}\n{t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `terraform fmt -check` on the rendered files; returns false when terraform is absent.
fn fmt_check(files: &[(String, String)]) -> bool {
    let Some(tf) = opsdeck::exec::find_binary("terraform") else {
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    for (n, t) in files {
        std::fs::write(dir.path().join(n), t).unwrap();
    }
    let out = std::process::Command::new(tf)
        .args(["fmt", "-check", "-diff", "-recursive"])
        .current_dir(dir.path())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform fmt -check failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    true
}

#[test]
fn spec_example_three_instances_behind_an_alb() {
    let files = render(
        json!({"count": 3, "instance_type": "t3.medium", "region": "ap-south-1",
                              "load_balancer": "alb", "service": "EC2"}),
    );
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "main.tf",
            "network.tf",
            "security.tf",
            "instances.tf",
            "load_balancer.tf",
            "outputs.tf"
        ]
    );
    fmt_check(&files);
    insta::assert_snapshot!("alb_3_t3_medium_ap_south_1", joined(&files));
}

#[test]
fn single_instance_without_load_balancer() {
    let files = render(
        json!({"count": 1, "region": "eu-west-1", "environment": "dev",
                              "tags": {"Team": "payments"}}),
    );
    fmt_check(&files);
    insta::assert_snapshot!("ec2_1_default_type", joined(&files));
}

#[test]
fn twenty_instances_behind_an_nlb() {
    let files = render(
        json!({"count": 20, "instance_type": "c5.large", "region": "us-west-2",
                              "load_balancer": "nlb"}),
    );
    fmt_check(&files);
    insta::assert_snapshot!("nlb_20_c5_large", joined(&files));
}

#[test]
fn versioned_encrypted_private_bucket() {
    let files = render(json!({"service": "S3", "bucket": "acme-audit-reports"}));
    let s3 = &files.iter().find(|(n, _)| n == "s3.tf").unwrap().1;
    assert!(s3.contains("block_public_acls       = true"));
    assert!(s3.contains("status = \"Enabled\""));
    assert!(s3.contains("sse_algorithm = \"AES256\""));
    fmt_check(&files);
    insta::assert_snapshot!("s3_bucket", joined(&files));
}

#[test]
fn hostile_tag_values_stay_literal() {
    let files = render(
        json!({"count": 1, "tags": {"Cost Center": "he said \"hi\" ${file(\"/etc/passwd\")}", "a": "%{ if true }x%{ endif }"}}),
    );
    let main = &files[0].1;
    assert!(
        main.contains(r#""$${file(\"/etc/passwd\")}""#) || main.contains("$${file"),
        "{main}"
    );
    assert!(main.contains("%%{ if true }"), "{main}");
    fmt_check(&files);
}

#[test]
fn every_region_and_limit_renders() {
    let mut checked = false;
    for region in region_codes() {
        let files = render(json!({"count": 2, "region": region, "load_balancer": "alb"}));
        assert!(files[0].1.contains(&format!("region = \"{region}\"")));
        checked |= fmt_check(&files[..1]);
    }
    let _ = checked;
    for count in [1, 50] {
        render(json!({"count": count}));
    }
    let home = Home::new();
    let deck = home.deck("alice");
    let err = deck
        .ask("create 51 t3.micro instances", &quiet)
        .unwrap_err();
    assert!(err.to_string().contains("1 to 50"), "{err}");
}

#[test]
fn stacks_can_be_named_and_names_are_checked() {
    let home = Home::new();
    let deck = home.deck("alice");
    let rec = deck
        .ask("create 2 t3.small instances as stack web", &quiet)
        .unwrap();
    assert_eq!(rec.plan.stack.as_deref(), Some("web"));
    let err = deck
        .ask("destroy stack web", &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack not found: web"), "{err}");
}
