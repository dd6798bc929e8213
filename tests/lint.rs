//! What a platform team's review runs on generated artifacts, run here as a ratchet: checkov
//! (`--framework terraform`) over stacks rendered through the infra agent for every kind and
//! its variants, and `ansible-lint --profile production` over every playbook the config agent
//! renders. A failed check fails the test; so does a skipped one that is not on the documented
//! skip list (docs/templates.md), or a skip without a reason. Both tools are pinned in
//! tests/python-lint-requirements.lock; tests/run.sh installs them into target/pyenv-lint and
//! sets OPSDECK_TEST_LINT_BIN. Without it the test prints SKIP. Neither tool reaches the network:
//! checkov parses HCL offline (`--skip-download`, BC_SKIP_MAPPING), ansible-lint runs `--offline`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Home, quiet};
use opsdeck::agents::config::{self, Task, Tls};
use opsdeck::agents::{AgentRequest, infra};
use opsdeck::intent::{AgentKind, Environment, Intent};
use opsdeck::pipeline::Deck;
use opsdeck::plan::render::TERRAFORM_TEMPLATES;
use opsdeck::tenant::{StackDefaults, Tenant};
use serde_json::{Value, json};

/// The checkov checks a generated stack may skip, one `ID reason` a line, the reason exactly as
/// its `checkov:skip` comment gives it (docs/templates.md, "What checkov is told to skip");
/// `#` lines group them. Anything else that fails or is skipped fails the test.
const ACCEPTED_SKIPS: &str = "\
# Instances
CKV_AWS_126 The tenant turned detailed monitoring off (stack_defaults.detailed_monitoring); 5-minute metrics
CKV_AWS_135 This previous-generation instance family cannot be EBS-optimized
# Network
CKV2_AWS_11 The tenant turned VPC flow logs off (stack_defaults.vpc_flow_logs)
CKV_AWS_130 Public subnets are for what must be reachable from the internet or reach it without NAT; security groups decide what is admitted
# Load balancers
CKV2_AWS_28 A WAF web ACL is priced per ACL and rule and chosen per account; associate the team's own ACL
CKV2_AWS_20 No ACM certificate was given so the ALB serves plain HTTP; ask again with certificate arn:aws:acm:... for HTTPS with port 80 redirecting
CKV_AWS_2 No ACM certificate was given so the ALB serves plain HTTP; ask again with certificate arn:aws:acm:... for HTTPS with port 80 redirecting
CKV_AWS_103 No ACM certificate was given so the ALB serves plain HTTP; ask again with certificate arn:aws:acm:... for HTTPS with port 80 redirecting
CKV_AWS_378 No ACM certificate was given so the ALB serves plain HTTP; ask again with certificate arn:aws:acm:... for HTTPS with port 80 redirecting
CKV_AWS_260 The public load balancer's HTTP listener; with a certificate it only redirects to HTTPS
CKV2_AWS_20 A network load balancer forwards TCP and has no HTTP to redirect (the check is meant for ALBs)
CKV_AWS_91 A network load balancer writes access logs only for TLS listeners and this one forwards TCP
CKV_AWS_91 The tenant turned access logs off (stack_defaults.access_logs)
# Buckets
CKV_AWS_144 Versioning keeps every object; a replica in a second region doubles storage cost and is asked for separately
CKV_AWS_145 SSE-S3 (AES-256) encrypts every object at rest without a KMS key to manage or pay per request for
CKV2_AWS_62 No consumer of bucket events is part of this stack
CKV_AWS_18 The tenant turned access logs off (stack_defaults.access_logs)
# The stack's log bucket
CKV_AWS_18 This is the access-log bucket itself; logging it into itself would log every delivery
CKV_AWS_144 Logs are kept in one region; a replica doubles their storage cost and needs a second bucket and role
CKV_AWS_145 SSE-S3 (AES-256): load balancer access logs are delivered only to such buckets, and no log delivery then needs a KMS key policy
# Databases
CKV_AWS_118 Enhanced monitoring needs a monitoring role that only the pipeline role may create; the standard RDS metrics are on
CKV_AWS_157 Single-AZ as the request or the tenant (stack_defaults.rds_multi_az) asked; a standby doubles the instance price
CKV_AWS_353 Performance Insights is not offered for micro and small instance classes on every engine
CKV_AWS_354 Performance Insights data is encrypted with the account's AWS-managed RDS key
# Log groups (Lambda, RDS)
CKV_AWS_158 CloudWatch Logs encrypts every log group at rest; a customer-managed key would need a key policy only the pipeline role may change
CKV_AWS_338 Kept as long as the request asked (retention_days, 30 by default)
# Lambda
CKV_AWS_115 Reserved concurrency comes out of the account's shared pool (10 in a new account); set it once the load is known
CKV_AWS_116 A dead-letter queue belongs with an asynchronous trigger, which is not part of this stack
CKV_AWS_117 The function reaches only AWS APIs; a VPC would add network interfaces and NAT without a private resource to reach
CKV_AWS_272 Code is deployed later by the team's pipeline (ignore_changes), which holds the signing profile
# Security groups asked for by themselves
CKV2_AWS_5 Asked for as a security group of its own, to attach to resources outside this stack
CKV_AWS_382 Outbound as AWS opens it for every new security group; the request sets inbound rules only
CKV_AWS_260 HTTP from anywhere was asked for explicitly
";

/// The ansible-lint rules a playbook may silence with `# noqa`, each with the reason the
/// comment line above it gives (docs/templates.md). Anything else fails the test.
const ACCEPTED_NOQA: &[(&str, &str)] = &[
    (
        "package-latest",
        "# The request asked to upgrade these packages: their latest version is the point.",
    ),
    (
        "package-latest",
        "# Patching is every package at its latest version.",
    ),
];

/// The directory holding `checkov` and `ansible-lint`, or None with the reason printed.
fn lint_bin() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("OPSDECK_TEST_LINT_BIN").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPSDECK_TEST_LINT_BIN missing under CI; run the suite with tests/run.sh"
        );
        eprintln!(
            "SKIP: checkov and ansible-lint are not installed; tests/run.sh builds target/pyenv-lint from tests/python-lint-requirements.lock and sets OPSDECK_TEST_LINT_BIN"
        );
        return None;
    };
    for tool in ["checkov", "ansible-lint"] {
        assert!(
            dir.join(tool).is_file(),
            "OPSDECK_TEST_LINT_BIN={} has no {tool}",
            dir.display()
        );
    }
    Some(dir)
}

/// A scratch directory for the linters' input, kept (and its path printed) when
/// OPSDECK_TEST_LINT_KEEP is set, to look at what they read.
fn scratch() -> tempfile::TempDir {
    let mut dir = tempfile::tempdir().unwrap();
    if std::env::var_os("OPSDECK_TEST_LINT_KEEP").is_some() {
        dir.disable_cleanup(true);
        println!("kept for inspection: {}", dir.path().display());
    }
    dir
}

/// A command from the lint venv, with its own home and caches and nothing from the machine's.
fn tool(bin: &Path, name: &str, home: &Path) -> Command {
    let mut c = Command::new(bin.join(name));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(paths).unwrap())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("ANSIBLE_HOME", home.join(".ansible"))
        .env("ANSIBLE_LOCAL_TEMP", home.join(".ansible/tmp"))
        .env("ANSIBLE_LINT_SKIP_SCHEMA_UPDATE", "1")
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .env("NO_COLOR", "1")
        .env_remove("BC_API_KEY")
        .env_remove("ANSIBLE_CONFIG");
    c
}

// ---------------------------------------------------------------------------------------------
// Terraform

fn intent(agent: AgentKind, action: &str, params: Value) -> Intent {
    Intent {
        agent,
        agents: vec![agent],
        action: action.into(),
        confidence: 1.0,
        low_confidence: false,
        params: serde_json::from_value(params).unwrap(),
        evidence: vec![],
        notes: vec![],
        source: None,
        settled: None,
    }
}

/// A stack rendered through the infra agent, as a plan would render it.
fn render_stack(deck: &Deck, tenant: &Tenant, params: Value) -> Vec<(String, String)> {
    let i = intent(AgentKind::Infra, "create", params.clone());
    let draft = infra::plan(
        &AgentRequest {
            request_id: "5b1c0000-0000-4000-8000-000000000000",
            text: "",
            intent: &i,
            tenant,
            store: deck.raw_store(),
            aws: &opsdeck::aws::AwsAccess::new(None, None),
        },
        &quiet,
    )
    .unwrap_or_else(|e| panic!("{params} does not render: {e}"));
    draft
        .files
        .into_iter()
        .map(|f| (f.name, String::from_utf8(f.content).unwrap()))
        .collect()
}

/// Every kind of stack and the variants that change what is rendered.
fn stacks() -> Vec<(&'static str, Value)> {
    vec![
        ("ec2_default_vpc", json!({"count": 1})),
        (
            "ec2_previous_generation",
            json!({"count": 1, "instance_type": "t2.micro"}),
        ),
        (
            "ec2_private_nat",
            json!({"count": 3, "instance_type": "m5.large", "key_name": "ops-key",
                   "private_subnets": 3, "nat": true, "nat_per_az": true, "public_subnets": 3,
                   "environment": "staging", "tags": {"Team": "web"}}),
        ),
        ("ec2_public", json!({"count": 2, "public_subnets": 2})),
        (
            "ec2_subnet",
            json!({"count": 2, "subnet_id": "subnet-0123456789abcdef0", "key_name": "k"}),
        ),
        (
            "ec2_with_bucket",
            json!({"service": "EC2", "count": 1, "bucket": "acme-ec2-data"}),
        ),
        ("alb_http", json!({"count": 3, "load_balancer": "alb"})),
        (
            "alb_https_private",
            json!({"count": 2, "load_balancer": "alb", "private_subnets": 2, "port": 8080,
                   "health_check_path": "/healthz",
                   "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}),
        ),
        // A region opened after August 2022: access logs come from the log delivery service.
        (
            "alb_newer_region",
            json!({"count": 1, "load_balancer": "alb", "region": "il-central-1"}),
        ),
        ("nlb", json!({"count": 4, "load_balancer": "nlb"})),
        ("asg_default_vpc", json!({"resource": "autoscaling_group"})),
        (
            "asg_alb",
            json!({"resource": "autoscaling_group", "count": 4, "min_size": 2, "max_size": 10,
                   "instance_type": "t3.small", "load_balancer": "alb", "key_name": "ops-key",
                   "tags": {"Team": "web"}}),
        ),
        (
            "asg_alb_https",
            json!({"resource": "autoscaling_group", "load_balancer": "alb",
                   "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"}),
        ),
        (
            "asg_nlb_private",
            json!({"resource": "autoscaling_group", "load_balancer": "nlb",
                   "private_subnets": 3, "nat": true}),
        ),
        (
            "asg_subnet",
            json!({"resource": "autoscaling_group", "subnet_id": "subnet-0123abcd"}),
        ),
        ("s3", json!({"service": "S3"})),
        (
            "s3_lifecycle",
            json!({"service": "S3", "bucket": "acme-archive", "ia_days": 30, "glacier_days": 90,
                   "deep_archive_days": 180, "expire_days": 3650}),
        ),
        ("vpc", json!({"resource": "vpc"})),
        (
            "vpc_nat_per_az",
            json!({"resource": "vpc", "cidr": "172.16.0.0/20", "public_subnets": 3,
                   "private_subnets": 3, "nat": true, "nat_per_az": true}),
        ),
        (
            "vpc_isolated",
            json!({"resource": "vpc", "private_subnets": 2, "cidr": "192.168.8.0/24"}),
        ),
        ("rds_postgres", json!({"service": "RDS"})),
        (
            "rds_postgres_13",
            json!({"service": "RDS", "engine": "postgres", "engine_version": "13",
                   "multi_az": false}),
        ),
        (
            "rds_mysql_prod",
            json!({"service": "RDS", "engine": "mysql", "engine_version": "8.0",
                   "instance_type": "db.r6g.large", "multi_az": true, "storage_gb": 500,
                   "private_subnets": 3, "environment": "prod"}),
        ),
        (
            "rds_mariadb",
            json!({"service": "RDS", "engine": "mariadb"}),
        ),
        ("lambda_python", json!({"function": "my-func"})),
        (
            "lambda_node",
            json!({"function": "thumbs", "runtime": "nodejs22.x", "memory_mb": 1024,
                   "timeout_s": 60, "retention_days": 14}),
        ),
        (
            "lambda_s3_role",
            json!({"function": "orders_api", "runtime": "java21",
                   "handler": "example.Handler::handleRequest", "bucket": "acme-builds",
                   "prefix": "orders/api.zip",
                   "role_arn": "arn:aws:iam::123456789012:role/orders-api"}),
        ),
        (
            "security_group_vpc_range",
            json!({"resource": "security_group", "ports": [443]}),
        ),
        (
            "security_group_https_anywhere",
            json!({"resource": "security_group", "ports": [80, 443], "cidr": "0.0.0.0/0"}),
        ),
        (
            "security_group_many",
            json!({"resource": "security_group", "ports": [22, 80, 443, 5432, 3389],
                   "cidr": "10.0.0.0/8", "vpc_id": "vpc-0123456789abcdef0"}),
        ),
    ]
}

/// One checkov result: (check id, stack directory, file, resource, skip reason).
#[derive(Debug)]
struct Finding {
    id: String,
    stack: String,
    file: String,
    resource: String,
    reason: String,
}

fn findings(report: &Value, key: &str) -> Vec<Finding> {
    report["results"][key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let path = c["file_path"].as_str().unwrap_or_default();
                    let mut parts = path.trim_start_matches('/').splitn(2, '/');
                    let stack = parts.next().unwrap_or_default().to_string();
                    let file = parts.next().unwrap_or_default().to_string();
                    Finding {
                        id: c["check_id"].as_str().unwrap_or_default().to_string(),
                        stack,
                        file,
                        resource: c["resource"].as_str().unwrap_or_default().to_string(),
                        reason: c["check_result"]["suppress_comment"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// [`ACCEPTED_SKIPS`] as (check id, reason) pairs.
fn accepted_skips() -> Vec<(&'static str, &'static str)> {
    ACCEPTED_SKIPS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once(' ').expect("ID reason"))
        .collect()
}

/// Writes each rendering to its own directory under `root`.
fn write_stacks(root: &Path, stacks: &[(String, Vec<(String, String)>)]) {
    for (label, files) in stacks {
        let dir = root.join(label);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
}

#[test]
fn checkov_passes_every_stack_with_only_the_documented_skips() {
    let Some(bin) = lint_bin() else { return };
    let home = Home::new();
    let deck = home.deck("alice");
    let tenant = Tenant {
        name: "acme".into(),
        ..Tenant::default()
    };
    // A tenant that turned every costly default off and names no instance profile: each
    // missing default is a documented skip, and the stack creates its own SSM role.
    let frugal = Tenant {
        name: "frugal".into(),
        stack_defaults: StackDefaults {
            vpc_flow_logs: false,
            access_logs: false,
            rds_multi_az: false,
            detailed_monitoring: false,
            instance_profile: String::new(),
        },
        ..Tenant::default()
    };
    let frugal_kinds = [
        "ec2_private_nat",
        "alb_http",
        "asg_alb",
        "s3",
        "vpc",
        "rds_postgres",
    ];
    let mut rendered: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (label, params) in stacks() {
        if frugal_kinds.contains(&label) {
            let files = render_stack(&deck, &frugal, params.clone());
            rendered.push((format!("frugal_{label}"), files));
        }
        rendered.push((label.to_string(), render_stack(&deck, &tenant, params)));
    }
    // Every template is rendered by some stack above.
    let files: BTreeSet<&str> = rendered
        .iter()
        .flat_map(|(_, files)| files.iter().map(|(n, _)| n.as_str()))
        .collect();
    for (template, _) in TERRAFORM_TEMPLATES {
        // exposure.tf exists to be denied (a public bucket or a port open to the world, as a
        // request asked): checkov fails it as the policy gates do (tests/faithful.rs).
        if template.starts_with("terraform/_") || *template == "terraform/exposure.tf.j2" {
            continue;
        }
        let file = template
            .trim_start_matches("terraform/")
            .trim_end_matches(".j2");
        assert!(files.contains(file), "no stack renders {template}");
    }

    let work = scratch();
    let root = work.path().join("stacks");
    write_stacks(&root, &rendered);
    // What a reviewer reads is canonical too, skipped resources and tenant variants included.
    if let Some(tf) = common::terraform() {
        let out = Command::new(tf)
            .args(["fmt", "-check", "-diff", "-recursive"])
            .current_dir(&root)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform fmt -check failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = tool(&bin, "checkov", work.path())
        .args([
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ])
        .arg("--directory")
        .arg(&root)
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}), status {}:\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report = match report {
        Value::Array(mut reports) if reports.len() == 1 => reports.remove(0),
        r => r,
    };
    assert_eq!(
        report["check_type"], "terraform",
        "unexpected report:\n{stdout}"
    );
    let summary = &report["summary"];
    assert_eq!(
        summary["parsing_errors"], 0,
        "checkov could not parse a stack:\n{summary}"
    );
    assert!(
        summary["resource_count"].as_u64().unwrap_or(0) > 100,
        "checkov saw too few resources:\n{summary}"
    );
    let failed = findings(&report, "failed_checks");
    let skipped = findings(&report, "skipped_checks");

    let mut problems = Vec::new();
    for f in &failed {
        problems.push(format!(
            "FAILED {} {}/{} {}",
            f.id, f.stack, f.file, f.resource
        ));
    }
    let accepted = accepted_skips();
    // Each accepted skip: the stacks and resources that used it.
    let mut used: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
    for s in &skipped {
        match accepted
            .iter()
            .find(|(id, reason)| *id == s.id && *reason == s.reason)
        {
            Some(&key) => {
                used.entry(key)
                    .or_default()
                    .insert(format!("{}/{}", s.stack, s.resource));
            }
            None => problems.push(format!(
                "SKIPPED with a reason not on the documented skip list: {} {}/{} {} ({:?})",
                s.id, s.stack, s.file, s.resource, s.reason
            )),
        }
    }
    // The list holds what the templates write and nothing more.
    for key in &accepted {
        if !used.contains_key(key) {
            problems.push(format!(
                "{} ({}) is on the skip list but no stack here skips it: remove it from the list and docs/templates.md, or render a stack that needs it",
                key.0, key.1
            ));
        }
    }
    let mut report = vec![
        format!(
            "checkov over {} stacks: {} passed, {} failed, {} skipped",
            rendered.len(),
            summary["passed"],
            failed.len(),
            skipped.len()
        ),
        format!("accepted skip list ({} entries):", accepted.len()),
    ];
    for key in &accepted {
        report.push(format!(
            "  {} on {} resources: {}",
            key.0,
            used.get(key).map_or(0, |s| s.len()),
            key.1
        ));
    }
    publish("checkov", &report);
    assert!(
        problems.is_empty(),
        "checkov found {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Playbooks

/// Every playbook the config agent renders, with the variants that change what is rendered.
fn playbooks() -> Vec<(&'static str, Task, &'static str, Option<Environment>)> {
    let users = |names: &[&str], present, sudo| Task::Users {
        users: names.iter().map(|s| s.to_string()).collect(),
        present,
        sudo,
    };
    let packages = |names: &[&str], state| Task::Packages {
        packages: names.iter().map(|s| s.to_string()).collect(),
        state,
    };
    vec![
        (
            "packages_install",
            packages(&["nginx", "jq"], "present"),
            "install nginx and jq on env=dev",
            Some(Environment::Dev),
        ),
        (
            "packages_latest",
            packages(&["openssl"], "latest"),
            "upgrade openssl on env=prod",
            Some(Environment::Prod),
        ),
        (
            "packages_remove",
            packages(&["telnet"], "absent"),
            "remove telnet",
            None,
        ),
        (
            "service_started",
            Task::Service {
                name: "nginx".into(),
                enabled: true,
                state: "started",
            },
            "enable the nginx service on env=dev",
            Some(Environment::Dev),
        ),
        (
            "service_stopped",
            Task::Service {
                name: "apache2".into(),
                enabled: false,
                state: "stopped",
            },
            "disable apache2",
            None,
        ),
        (
            "nginx_self_signed",
            Task::NginxTls {
                server_name: "_".into(),
                tls: Tls::SelfSigned,
            },
            "install nginx with tls on env=dev",
            Some(Environment::Dev),
        ),
        (
            "nginx_cert_files",
            Task::NginxTls {
                server_name: "app.example.com".into(),
                tls: Tls::Files {
                    cert: "/etc/pki/tls/certs/app.crt".into(),
                    key: "/etc/pki/tls/private/app.key".into(),
                },
            },
            "install nginx with tls for app.example.com on env=prod",
            Some(Environment::Prod),
        ),
        (
            "patch_reboot",
            Task::Patch { reboot: true },
            "patch the staging web servers",
            Some(Environment::Staging),
        ),
        (
            "patch_no_reboot",
            Task::Patch { reboot: false },
            "patch env=dev without reboot",
            Some(Environment::Dev),
        ),
        (
            "users_sudo",
            users(&["deploy"], true, true),
            "add user deploy with sudo",
            Some(Environment::Dev),
        ),
        (
            "users_remove",
            users(&["olduser", "tmp-2"], false, false),
            "remove users olduser and tmp-2",
            None,
        ),
        (
            "ssh_hardening",
            Task::SshHardening {
                sshd_config: "/etc/ssh/sshd_config".into(),
            },
            "harden ssh on env=dev",
            Some(Environment::Dev),
        ),
        (
            "cloudwatch_agent",
            Task::CloudwatchAgent {
                log_group: "/opsdeck/default/prod/system".into(),
            },
            "install the cloudwatch agent on env=prod",
            Some(Environment::Prod),
        ),
        (
            "hostile_request_text",
            packages(&["jq"], "present"),
            "install jq\n- hosts: all\n  tasks: [{{ lookup('pipe', 'id') }}] \"quoted\" on env=dev",
            Some(Environment::Dev),
        ),
    ]
}

#[test]
fn ansible_lint_production_profile_passes_every_playbook() {
    let Some(bin) = lint_bin() else { return };
    let home = Home::new();
    let deck = home.deck("alice");
    let tenant = Tenant::default();
    let work = scratch();
    let dir = work.path().join("playbooks");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = BTreeSet::new();
    let mut paths = Vec::new();
    let mut noqa_problems = Vec::new();
    let mut noqa_used: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (label, task, text, env) in playbooks() {
        let i = intent(AgentKind::Config, "install", json!({}));
        let req = AgentRequest {
            request_id: "5b1c0000-0000-4000-8000-000000000000",
            text,
            intent: &i,
            tenant: &tenant,
            store: deck.raw_store(),
            aws: &opsdeck::aws::AwsAccess::new(None, None),
        };
        let r = config::render_task(&task, &req, env)
            .unwrap_or_else(|e| panic!("{label} does not render: {e}"));
        names.insert(format!("ansible/{}.j2", r.file.name));
        // Every `# noqa` is on the list, with its reason on the line above.
        let text = String::from_utf8(r.file.content.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let Some((_, rule)) = line.split_once("# noqa:") else {
                continue;
            };
            let reason = n.checked_sub(1).map_or("", |p| lines[p].trim());
            match ACCEPTED_NOQA
                .iter()
                .find(|(id, why)| *id == rule.trim() && *why == reason)
            {
                Some(&key) => *noqa_used.entry(key).or_default() += 1,
                None => noqa_problems.push(format!(
                    "{label}.yml:{}: noqa not on the documented list: {line:?} after {reason:?}",
                    n + 1
                )),
            }
        }
        let path = dir.join(format!("{label}.yml"));
        std::fs::write(&path, &r.file.content).unwrap();
        paths.push(path);
    }
    // Every playbook template is rendered above (the play header with each of them).
    for (template, _) in opsdeck::plan::playbook::ANSIBLE_TEMPLATES {
        assert!(
            template.starts_with("ansible/_") || names.contains(*template),
            "no playbook renders {template}"
        );
    }
    let out = tool(&bin, "ansible-lint", work.path())
        .args([
            "--offline",
            "--profile",
            "production",
            "--format",
            "codeclimate",
            "--nocolor",
        ])
        .args(["--project-dir"])
        .arg(work.path())
        .args(&paths)
        .current_dir(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let violations: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "ansible-lint printed no report ({e}), status {}:\n{stdout}\n{stderr}",
            out.status
        )
    });
    let problems: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "{} {}:{} {}",
                v["check_name"].as_str().unwrap_or_default(),
                v["location"]["path"].as_str().unwrap_or_default(),
                v["location"]["lines"]["begin"],
                v["description"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let mut report = vec![
        format!(
            "ansible-lint --profile production over {} playbooks: {} violations",
            paths.len(),
            problems.len()
        ),
        format!("accepted noqa list ({} entries):", ACCEPTED_NOQA.len()),
    ];
    for key in ACCEPTED_NOQA {
        let n = noqa_used.get(key).copied().unwrap_or(0);
        report.push(format!("  {} on {n} tasks: {}", key.0, key.1));
        if n == 0 {
            noqa_problems.push(format!(
                "{} ({}) is on the noqa list but no playbook uses it",
                key.0, key.1
            ));
        }
    }
    publish("ansible-lint", &report);
    assert!(noqa_problems.is_empty(), "{}", noqa_problems.join("\n"));
    assert!(
        problems.is_empty() && out.status.success(),
        "ansible-lint found {} problems (status {}):\n{}\n{stderr}",
        problems.len(),
        out.status,
        problems.join("\n")
    );
}

/// Prints a linter's figures and accepted exceptions, and leaves them in
/// `target/lint-<tool>.txt`, which tests/run.sh shows after the per-binary summary (the test
/// harness hides a passing test's output).
fn publish(tool: &str, report: &[String]) {
    let text = report.join("\n");
    println!("{text}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("lint-{tool}.txt"));
    let _ = std::fs::write(path, format!("{text}\n"));
}
