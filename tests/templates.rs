//! Every Terraform template renders for its parameter edge cases (counts 1 and 20, every region
//! the intent module knows, missing optional parameters), the output parses with hcl-rs and is
//! canonical (`terraform fmt -check`, when terraform is present), one representative rendering of
//! each is snapshot-tested, bad input gets a clear error, scaling changes only the capacity, and
//! the requests operators type most reach a stored plan through the real binary.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Home, quiet};
use opsdeck::agents::{AgentRequest, infra};
use opsdeck::approval::State;
use opsdeck::intent::{AgentKind, Intent, Params, region_codes};
use opsdeck::pipeline::Deck;
use opsdeck::plan::render::TERRAFORM_TEMPLATES;
use opsdeck::plan::{ArtifactKind, ChangeAction, GateResult, Risk};
use opsdeck::store::{StackRecord, StackStatus};
use opsdeck::tenant::Tenant;
use serde_json::{Value, json};

type Files = Vec<(String, String)>;

fn intent(action: &str, params: Value) -> Intent {
    let params: Params = serde_json::from_value(params).unwrap();
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
        settled: None,
    }
}

/// Renders through the real agent with a fixed request id, so stack names are stable.
fn plan_with(deck: &Deck, params: Value) -> opsdeck::Result<opsdeck::agents::Draft> {
    let tenant = Tenant {
        name: "acme".into(),
        ..Tenant::default()
    };
    // An infra action other than create rides along as "action" ("update": an exposure).
    let action = params["action"].as_str().unwrap_or("create").to_string();
    let i = intent(&action, params);
    infra::plan(
        &AgentRequest {
            request_id: "3f9a0000-0000-4000-8000-000000000000",
            text: "",
            intent: &i,
            tenant: &tenant,
            store: deck.raw_store(),
            aws: &opsdeck::aws::AwsAccess::new(None, None),
        },
        &quiet,
    )
}

fn files_of(draft: opsdeck::agents::Draft) -> Files {
    draft
        .files
        .into_iter()
        .map(|f| (f.name, String::from_utf8(f.content).unwrap()))
        .collect()
}

fn render(params: Value) -> Files {
    let home = Home::new();
    let deck = home.deck("alice");
    files_of(plan_with(&deck, params).unwrap())
}

fn render_err(params: Value) -> String {
    let home = Home::new();
    let deck = home.deck("alice");
    match plan_with(&deck, params.clone()) {
        Ok(_) => panic!("{params} rendered, expected an error"),
        Err(e) => e.to_string(),
    }
}

fn joined(files: &[(String, String)]) -> String {
    files
        .iter()
        .map(|(n, t)| format!("# file: {n}\n{t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn file<'a>(files: &'a Files, name: &str) -> &'a str {
    &files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", names(files)))
        .1
}

fn names(files: &Files) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

/// Every file parses as HCL in process (hcl-rs), both as a body and the way the policy input
/// reads it.
fn parses(files: &Files) {
    for (n, t) in files {
        if let Err(e) = hcl::parse(t) {
            panic!("{n} does not parse as HCL: {e}\n{t}");
        }
        if let Err(e) = hcl::from_str::<Value>(t) {
            panic!("{n} does not convert for the policy input: {e}\n{t}");
        }
    }
}

/// `terraform fmt -check` over many renderings at once (one directory each); false when
/// terraform is absent (the reason is printed).
fn fmt_check_all(renderings: &[(String, Files)]) -> bool {
    let Some(tf) = common::terraform() else {
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    for (label, files) in renderings {
        let sub = dir.path().join(label);
        std::fs::create_dir_all(&sub).unwrap();
        for (n, t) in files {
            std::fs::write(sub.join(n), t).unwrap();
        }
    }
    let out = Command::new(tf)
        .args(["fmt", "-check", "-diff", "-recursive"])
        .current_dir(dir.path())
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
    true
}

fn fmt_check(files: &Files) -> bool {
    fmt_check_all(&[("stack".to_string(), files.clone())])
}

/// One minimal request per kind of stack: only what it cannot do without.
fn minimal_kinds() -> Vec<(&'static str, Value)> {
    vec![
        ("ec2", json!({"count": 1})),
        ("alb", json!({"load_balancer": "alb"})),
        ("nlb", json!({"load_balancer": "nlb"})),
        ("asg", json!({"resource": "autoscaling_group"})),
        ("s3", json!({"service": "S3"})),
        ("vpc", json!({"resource": "vpc"})),
        ("rds", json!({"service": "RDS"})),
        ("lambda", json!({"function": "my-func"})),
        (
            "security_group",
            json!({"resource": "security_group", "ports": [443]}),
        ),
    ]
}

/// Requests with every optional parameter of their kind set.
fn full_kinds() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ec2_private",
            json!({"count": 3, "instance_type": "m5.large", "key_name": "ops-key",
                   "private_subnets": 3, "nat": true, "nat_per_az": true, "public_subnets": 3,
                   "cidr": "10.42.0.0/16", "environment": "staging", "tags": {"Team": "web"}}),
        ),
        (
            "ec2_subnet",
            json!({"count": 2, "subnet_id": "subnet-0123456789abcdef0", "key_name": "k"}),
        ),
        (
            "alb_https_private",
            json!({"count": 2, "load_balancer": "alb", "private_subnets": 2, "port": 8080,
                   "health_check_path": "/healthz",
                   "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}),
        ),
        (
            "asg_full",
            json!({"resource": "autoscaling_group", "count": 4, "min_size": 2, "max_size": 10,
                   "instance_type": "t3.small", "load_balancer": "alb", "key_name": "ops-key",
                   "tags": {"Name": "ignored-for-asg", "Team": "web"}}),
        ),
        (
            "asg_private",
            json!({"resource": "autoscaling_group", "count": 3, "private_subnets": 3,
                   "nat": true, "nat_per_az": true}),
        ),
        (
            "asg_subnet",
            json!({"resource": "autoscaling_group", "subnet_id": "subnet-0123abcd"}),
        ),
        (
            "s3_lifecycle",
            json!({"service": "S3", "bucket": "acme-archive", "ia_days": 30, "glacier_days": 90,
                   "deep_archive_days": 180, "expire_days": 3650}),
        ),
        (
            "vpc_full",
            json!({"resource": "vpc", "cidr": "172.16.0.0/20", "public_subnets": 3,
                   "private_subnets": 3, "nat": true, "nat_per_az": true}),
        ),
        (
            "vpc_isolated",
            json!({"resource": "vpc", "private_subnets": 2, "cidr": "192.168.8.0/24"}),
        ),
        (
            "rds_mysql",
            json!({"service": "RDS", "engine": "mysql", "engine_version": "8.0",
                   "instance_type": "db.r6g.large", "multi_az": true, "storage_gb": 500,
                   "private_subnets": 3, "cidr": "10.9.0.0/16", "environment": "prod"}),
        ),
        (
            "lambda_s3_role",
            json!({"function": "orders_api", "runtime": "java21",
                   "handler": "example.Handler::handleRequest", "memory_mb": 10240,
                   "timeout_s": 900, "retention_days": 3653, "bucket": "acme-builds",
                   "prefix": "orders/api.zip",
                   "role_arn": "arn:aws:iam::123456789012:role/orders-api"}),
        ),
        (
            "lambda_node",
            json!({"function": "thumbs", "runtime": "nodejs22.x", "memory_mb": 1024,
                   "timeout_s": 60, "retention_days": 14}),
        ),
        (
            "security_group_many",
            json!({"resource": "security_group", "ports": [22, 80, 443, 5432, 3389],
                   "cidr": "10.0.0.0/8", "vpc_id": "vpc-0123456789abcdef0"}),
        ),
        (
            "security_group_world_ssh",
            json!({"resource": "security_group", "ports": [22], "cidr": "0.0.0.0/0"}),
        ),
        (
            "s3_public_read",
            json!({"bucket": "acme-site", "public": true, "service": "S3"}),
        ),
        (
            "exposure_bucket",
            json!({"action": "update", "bucket": "acme-public", "public": true, "service": "S3"}),
        ),
        (
            "exposure_security_group",
            json!({"action": "update", "ports": [22, 443], "cidr": "0.0.0.0/0",
                   "security_groups": ["web-sg"]}),
        ),
    ]
}

#[test]
fn every_kind_renders_in_every_region_and_parses() {
    let home = Home::new();
    let deck = home.deck("alice");
    let mut renderings = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    let regions: Vec<&str> = region_codes().collect();
    assert!(regions.len() >= 30, "{regions:?}");
    for region in &regions {
        for (kind, params) in minimal_kinds().into_iter().chain(full_kinds()) {
            let mut params = params;
            params["region"] = json!(region);
            let draft = plan_with(&deck, params.clone())
                .unwrap_or_else(|e| panic!("{kind} in {region}: {e}"));
            assert!(draft.mutates && !draft.resources.is_empty(), "{kind}");
            assert!(draft.summary.contains(region), "{}", draft.summary);
            let files = files_of(draft);
            assert!(
                file(&files, "main.tf").contains(&format!("region = \"{region}\"")),
                "{kind} {region}"
            );
            parses(&files);
            for (n, _) in &files {
                used.insert(format!("terraform/{n}.j2"));
            }
            renderings.push((format!("{kind}-{region}"), files));
        }
    }
    for (name, _) in TERRAFORM_TEMPLATES {
        assert!(used.contains(*name), "{name} is never rendered by a test");
    }
    if fmt_check_all(&renderings) {
        eprintln!(
            "terraform fmt -check: {} renderings canonical",
            renderings.len()
        );
    }
}

#[test]
fn counts_from_one_to_the_limit() {
    let mut renderings = Vec::new();
    for count in [1, 20, 50] {
        let files = render(json!({"count": count, "instance_type": "t3.small"}));
        assert!(file(&files, "instances.tf").contains(&format!("count = {count}\n")));
        renderings.push((format!("ec2-{count}"), files));
        let files = render(json!({"resource": "autoscaling_group", "count": count}));
        let asg = file(&files, "asg.tf");
        assert!(asg.contains(&format!("desired_capacity          = {count}\n")));
        renderings.push((format!("asg-{count}"), files));
        let files = render(json!({"count": count, "load_balancer": "nlb"}));
        assert!(file(&files, "load_balancer.tf").contains(&format!("count = {count}\n")));
        renderings.push((format!("nlb-{count}"), files));
    }
    for files in renderings.iter().map(|(_, f)| f) {
        parses(files);
    }
    fmt_check_all(&renderings);
    for count in [0, 51] {
        assert!(render_err(json!({"count": count})).contains("1 to 50"));
    }
    // The count is held to the tenant's limit before the group's own bounds are read.
    assert!(
        render_err(json!({"resource": "autoscaling_group", "count": 51}))
            .contains("a plan may create 1 to 50 instances in tenant acme")
    );
    assert!(
        render_err(json!({"resource": "autoscaling_group", "count": 5, "max_size": 51}))
            .contains("min ≤ desired ≤ max ≤ 50")
    );
}

#[test]
fn missing_optional_parameters_get_defaults() {
    let files = render(json!({"resource": "autoscaling_group"}));
    let asg = file(&files, "asg.tf");
    assert!(asg.contains("desired_capacity          = 2"));
    assert!(asg.contains("instance_type          = \"t3.micro\""));
    assert!(asg.contains("data.aws_subnets.default.ids"), "default VPC");
    assert!(!asg.contains("key_name"));

    let files = render(json!({"service": "RDS"}));
    let rds = file(&files, "rds.tf");
    for line in [
        "engine         = \"postgres\"",
        "engine_version = \"17\"",
        "instance_class = \"db.t3.micro\"",
        "multi_az       = true",
        "allocated_storage = 20",
        "storage_encrypted = true",
        "publicly_accessible    = false",
        "manage_master_user_password         = true",
        "deletion_protection        = true",
    ] {
        assert!(rds.contains(line), "{line}\n{rds}");
    }
    assert_eq!(
        names(&files),
        ["main.tf", "network.tf", "rds.tf", "logs.tf", "outputs.tf"]
    );
    let net = file(&files, "network.tf");
    assert!(
        !net.contains("aws_internet_gateway"),
        "a database VPC has no way in"
    );
    assert!(net.contains("count = 2"));

    let files = render(json!({"function": "my-func"}));
    let lambda = file(&files, "lambda.tf");
    for line in [
        "runtime       = \"python3.12\"",
        "handler       = \"index.handler\"",
        "memory_size   = 128",
        "timeout       = 30",
        "retention_in_days = 30",
        "filename         = data.archive_file.placeholder.output_path",
    ] {
        assert!(lambda.contains(line), "{line}\n{lambda}");
    }
    assert!(file(&files, "main.tf").contains("hashicorp/archive"));

    let files = render(json!({"resource": "vpc"}));
    let net = file(&files, "network.tf");
    assert!(net.contains("cidr_block           = \"10.0.0.0/16\""));
    assert!(net.contains("# Two public subnets, 10.0.0.0/24 and 10.0.1.0/24"));
    assert!(net.contains("# Two private subnets, 10.0.128.0/24 and 10.0.129.0/24"));
    assert!(!net.contains("aws_nat_gateway"), "NAT only when asked for");

    let files = render(json!({"resource": "security_group", "ports": [5432]}));
    let sg = file(&files, "security_group.tf");
    assert!(sg.contains("cidr_blocks = [data.aws_vpc.this.cidr_block]"));
    assert!(sg.contains("default = true"));
    assert_eq!(
        sg.matches("0.0.0.0/0").count(),
        1,
        "only the egress rule: {sg}"
    );
}

#[test]
fn nothing_opens_admin_ports_to_the_world_unless_asked() {
    for (kind, params) in minimal_kinds().into_iter().chain(full_kinds()) {
        if kind == "security_group_world_ssh" {
            continue;
        }
        let files = render(params);
        for (n, t) in &files {
            let body: Value = hcl::from_str(t).unwrap();
            let mut rules = Vec::new();
            port_rules(&body, &mut rules);
            for r in rules {
                let world = r["cidr_blocks"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c == "0.0.0.0/0"));
                let (from, to) = (r["from_port"].as_u64(), r["to_port"].as_u64());
                for admin in [22, 3389] {
                    let covers = match (from, to) {
                        (Some(f), Some(t)) => f <= admin && admin <= t && !(f == 0 && t == 0),
                        _ => false,
                    };
                    assert!(
                        !(world && covers),
                        "{kind} {n} opens {admin} to the world:\n{t}"
                    );
                }
            }
        }
    }
    // Asked for explicitly: rendered, marked in the file, and the plan says so.
    let home = Home::new();
    let deck = home.deck("alice");
    let draft = plan_with(
        &deck,
        json!({"resource": "security_group", "ports": [22], "cidr": "0.0.0.0/0"}),
    )
    .unwrap();
    assert!(draft.risk >= Risk::High, "{:?}", draft.risk);
    assert!(
        draft
            .risk_reasons
            .iter()
            .any(|r| r.contains("SSH (22) open to the whole internet")),
        "{:?}",
        draft.risk_reasons
    );
    let sg = String::from_utf8(draft.files[1].content.clone()).unwrap();
    assert!(
        sg.contains("# Asked for explicitly: SSH (22) from anywhere"),
        "{sg}"
    );
}

/// Every object with a port range (ingress and egress rules), wherever it sits.
fn port_rules<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if o.contains_key("from_port") && o.contains_key("cidr_blocks") {
                out.push(v);
            }
            o.values().for_each(|x| port_rules(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| port_rules(x, out)),
        _ => {}
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"count": 2, "region": "mars-1"}),
            "not an AWS region opsdeck knows",
        ),
        (
            json!({"count": 2, "instance_type": "db.t3.small"}),
            "is an RDS instance class",
        ),
        (
            json!({"count": 1, "key_name": "bad key\""}),
            "invalid key pair name",
        ),
        (
            json!({"count": 1, "subnet_id": "subnet-nothex!"}),
            "not a subnet-",
        ),
        (
            json!({"count": 1, "subnet_id": "subnet-0123abcd", "load_balancer": "alb"}),
            "needs the stack's own VPC",
        ),
        (
            json!({"count": 1, "stack": "Bad_Name"}),
            "invalid stack name",
        ),
        (
            json!({"service": "S3", "bucket": "Not_A_Bucket"}),
            "invalid bucket name",
        ),
        (
            json!({"service": "S3", "ia_days": 10}),
            "30 days at the earliest",
        ),
        (
            json!({"service": "S3", "glacier_days": 90, "expire_days": 30}),
            "must expire after their last move",
        ),
        (
            json!({"resource": "vpc", "cidr": "10.0.0.0/8"}),
            "between /16 and /24",
        ),
        (
            json!({"resource": "vpc", "cidr": "10.0.1.0/16"}),
            "host bits are set",
        ),
        (
            json!({"resource": "vpc", "cidr": "banana"}),
            "not an IPv4 range",
        ),
        (
            json!({"resource": "vpc", "private_subnets": 9}),
            "at most 6",
        ),
        (
            json!({"resource": "vpc", "public_subnets": 2, "nat": true}),
            "ask for private subnets too",
        ),
        (
            json!({"service": "RDS", "engine": "aurora-postgresql"}),
            "Aurora",
        ),
        (
            json!({"service": "RDS", "engine": "postgres", "engine_version": "9.6"}),
            "13, 14, 15, 16, 17",
        ),
        (json!({"service": "RDS", "storage_gb": 5}), "20 to 65536 GB"),
        (
            json!({"service": "RDS", "private_subnets": 1}),
            "at least two zones",
        ),
        (
            json!({"service": "RDS", "instance_type": "db.bogus"}),
            "not an RDS instance class",
        ),
        (json!({"service": "Lambda"}), "name the function"),
        (json!({"function": "bad name"}), "invalid function name"),
        (
            json!({"function": "f", "runtime": "python2.7"}),
            "not one new Lambda functions",
        ),
        (json!({"function": "f", "memory_mb": 64}), "128 to 10240 MB"),
        (
            json!({"function": "f", "timeout_s": 901}),
            "1 to 900 seconds",
        ),
        (json!({"function": "f", "retention_days": 10}), "3653"),
        (
            json!({"function": "f", "runtime": "java21"}),
            "needs a built package",
        ),
        (
            json!({"function": "f", "bucket": "acme-builds"}),
            "say which object in acme-builds",
        ),
        (
            json!({"function": "f", "role_arn": "arn:aws:iam::123456789012:user/x"}),
            "not an ARN of the kind expected",
        ),
        (json!({"resource": "security_group"}), "say which ports"),
        (
            json!({"resource": "security_group", "ports": [22], "cidr": "::/0"}),
            "not an IPv4 range",
        ),
        (
            json!({"resource": "security_group", "ports": [443], "cidr": "10.0.0.1/8"}),
            "host bits are set",
        ),
        (
            json!({"resource": "security_group", "ports": [443], "stack": "sg-web"}),
            "cannot start with sg-",
        ),
        (
            json!({"resource": "autoscaling_group", "count": 5, "max_size": 3}),
            "min ≤ desired ≤ max",
        ),
        (
            json!({"function": "f", "service": "RDS"}),
            "one stack per request",
        ),
        (json!({"service": "DynamoDB"}), "no template for DynamoDB"),
        (
            json!({"count": 1, "load_balancer": "alb", "health_check_path": "healthz"}),
            "must start with /",
        ),
        (
            // Refused by the range check every reading passes, before the template's own.
            json!({"count": 1, "load_balancer": "alb", "port": 70000}),
            "port 70000 is out of range: port takes 1 to 65535",
        ),
    ];
    for (params, expected) in cases {
        let err = render_err(params.clone());
        assert!(err.contains(expected), "{params}: {err}");
    }
    // An engine outside the closed set never reaches the agent: the parameters refuse it and
    // name the engines there are.
    let err = serde_json::from_value::<Params>(json!({"service": "RDS", "engine": "oracle-ee"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("oracle-ee") && err.contains("`postgres`, `mysql`, `mariadb`"),
        "{err}"
    );
}

#[test]
fn spec_example_three_instances_behind_an_alb() {
    let files = render(
        json!({"count": 3, "instance_type": "t3.medium", "region": "ap-south-1",
                              "load_balancer": "alb", "service": "EC2"}),
    );
    assert_eq!(
        names(&files),
        [
            "main.tf",
            "network.tf",
            "security.tf",
            "instances.tf",
            "instance_profile.tf",
            "load_balancer.tf",
            "logs.tf",
            "outputs.tf"
        ]
    );
    parses(&files);
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
    let s3 = file(&files, "s3.tf");
    assert!(s3.contains("block_public_acls       = true"));
    assert!(s3.contains("status = \"Enabled\""));
    assert!(s3.contains("sse_algorithm = \"AES256\""));
    // No lifecycle was asked for: the one rule only aborts incomplete uploads.
    assert!(s3.contains("id     = \"abort-incomplete-uploads\""));
    assert!(!s3.contains("expiration {") && !s3.contains("transition {"));
    fmt_check(&files);
    insta::assert_snapshot!("s3_bucket", joined(&files));
}

#[test]
fn bucket_with_lifecycle() {
    let files = render(
        json!({"service": "S3", "bucket": "logs-archive", "glacier_days": 30, "expire_days": 90}),
    );
    let s3 = file(&files, "s3.tf");
    assert!(s3.contains("storage_class = \"GLACIER\""));
    assert!(s3.contains("noncurrent_days = 90"));
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("s3_lifecycle_glacier_30_expire_90", joined(&files));
}

#[test]
fn instances_in_a_private_subnet_with_a_key_pair() {
    let files = render(
        json!({"count": 2, "instance_type": "t3.small", "key_name": "ops-key",
               "private_subnets": 1, "region": "eu-central-1"}),
    );
    let inst = file(&files, "instances.tf");
    assert!(inst.contains("key_name             = \"ops-key\""));
    assert!(inst.contains("element(aws_subnet.private[*].id, count.index)"));
    let net = file(&files, "network.tf");
    assert!(
        net.contains("aws_nat_gateway"),
        "private instances get a way out"
    );
    let sec = file(&files, "security.tf");
    assert!(!sec.contains("ingress"), "outbound only");
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("ec2_2_private_key_pair", joined(&files));
}

#[test]
fn vpc_with_public_and_private_subnets_and_nat() {
    let files = render(
        json!({"resource": "vpc", "public_subnets": 2, "private_subnets": 2, "nat": true,
               "region": "ap-south-1"}),
    );
    assert_eq!(
        names(&files),
        ["main.tf", "network.tf", "logs.tf", "outputs.tf"]
    );
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("vpc_public_private_nat", joined(&files));
}

#[test]
fn rds_postgres_multi_az() {
    let files = render(
        json!({"service": "RDS", "engine": "postgres", "instance_type": "db.t3.medium",
               "multi_az": true, "region": "eu-west-1"}),
    );
    let rds = file(&files, "rds.tf");
    assert!(rds.contains("multi_az       = true"));
    assert!(
        !rds.lines().any(|l| l.trim_start().starts_with("password")),
        "never a password in the artifact"
    );
    assert_eq!(
        opsdeck::redact::redact(rds),
        rds,
        "nothing that looks like a secret"
    );
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("rds_postgres_db_t3_medium_multi_az", joined(&files));
}

#[test]
fn lambda_with_its_role_and_log_group() {
    let files = render(
        json!({"function": "my-func", "runtime": "python3.12", "memory_mb": 512,
               "service": "Lambda"}),
    );
    let lambda = file(&files, "lambda.tf");
    assert!(lambda.contains("actions   = [\"logs:CreateLogStream\", \"logs:PutLogEvents\"]"));
    assert!(lambda.contains("resources = [\"${aws_cloudwatch_log_group.this.arn}:*\"]"));
    assert!(
        !lambda.contains("policy_arn"),
        "no managed policy: only its own logs"
    );
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("lambda_my_func_python312_512mb", joined(&files));

    let files =
        render(json!({"function": "my-func", "role_arn": "arn:aws:iam::123456789012:role/app"}));
    let lambda = file(&files, "lambda.tf");
    assert!(
        !lambda.contains("aws_iam_role\""),
        "an existing role: no IAM resources"
    );
    assert!(lambda.contains("role          = \"arn:aws:iam::123456789012:role/app\""));
}

#[test]
fn autoscaling_group_behind_an_alb() {
    let files = render(
        json!({"resource": "autoscaling_group", "stack": "web", "count": 6, "min_size": 2,
               "max_size": 12, "instance_type": "t3.small", "load_balancer": "alb"}),
    );
    assert_eq!(
        names(&files),
        [
            "main.tf",
            "network.tf",
            "security.tf",
            "asg.tf",
            "instance_profile.tf",
            "load_balancer.tf",
            "logs.tf",
            "outputs.tf",
            "opsdeck.tf"
        ]
    );
    let lb = file(&files, "load_balancer.tf");
    assert!(
        !lb.contains("aws_lb_target_group_attachment"),
        "the group registers itself"
    );
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("asg_web_6_behind_alb", joined(&files));
}

#[test]
fn security_group_https_from_anywhere() {
    let files = render(json!({"resource": "security_group", "ports": [443], "cidr": "0.0.0.0/0"}));
    parses(&files);
    fmt_check(&files);
    insta::assert_snapshot!("security_group_443_anywhere", joined(&files));
}

#[test]
fn hostile_tag_values_stay_literal() {
    let hostile = json!({"Cost Center": "he said \"hi\" ${file(\"/etc/passwd\")}",
                         "a": "%{ if true }x%{ endif }"});
    for params in [
        json!({"count": 1, "tags": hostile}),
        json!({"resource": "autoscaling_group", "tags": hostile}),
    ] {
        let files = render(params);
        let all = joined(&files);
        assert!(all.contains("$${file"), "{all}");
        assert!(all.contains("%%{ if true }"), "{all}");
        assert!(!all.contains("\"${file"), "{all}");
        parses(&files);
        fmt_check(&files);
    }
}

#[test]
fn stacks_can_be_named_and_names_are_checked() {
    let home = Home::new();
    let deck = home.deck("alice");
    let rec = deck
        .requests()
        .ask("create 2 t3.small instances as stack web", &quiet)
        .unwrap();
    assert_eq!(rec.plan.stack.as_deref(), Some("web"));
    let err = deck
        .requests()
        .ask("destroy stack web", &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack not found: web"), "{err}");
}

/// What `apply` records when it succeeds: the plan's Terraform as the stack's configuration.
fn applied(deck: &Deck, rec: &opsdeck::approval::PlanRecord) {
    deck.raw_store()
        .put_stack(&StackRecord {
            name: rec.plan.stack.clone().unwrap(),
            tenant: rec.plan.tenant.clone(),
            region: rec.plan.region.clone(),
            last_applied_plan: rec.plan.plan_id.clone(),
            artifacts: rec
                .plan
                .artifacts
                .iter()
                .filter(|a| a.kind == ArtifactKind::Terraform)
                .cloned()
                .collect(),
            status: StackStatus::Active,
            updated_at: "2026-11-24T10:00:00Z".parse().unwrap(),
        })
        .unwrap();
}

fn plan_files(deck: &Deck, rec: &opsdeck::approval::PlanRecord) -> BTreeMap<String, String> {
    deck.approvals()
        .artifacts(&rec.plan)
        .unwrap()
        .into_iter()
        // The rendered Terraform; a dry run's log (present where terraform is installed) is
        // not part of the template.
        .filter(|(a, _)| a.name.ends_with(".tf"))
        .map(|(a, b)| (a.name, String::from_utf8(b).unwrap()))
        .collect()
}

#[test]
fn scaling_an_existing_stack_changes_only_its_capacity() {
    let home = Home::new();
    let deck = home.deck("alice");
    // Nothing to scale yet: the plan creates the group.
    let first = deck
        .requests()
        .ask("scale the web tier to 6", &quiet)
        .unwrap();
    assert_eq!(first.plan.stack.as_deref(), Some("web"));
    assert!(
        first.plan.summary.starts_with("create stack web"),
        "{}",
        first.plan.summary
    );
    assert!(
        first
            .plan
            .risk_reasons
            .iter()
            .any(|r| r.contains("does not exist yet")),
        "{:?}",
        first.plan.risk_reasons
    );
    let before = plan_files(&deck, &first);
    assert!(before["asg.tf"].contains("desired_capacity          = 6"));
    applied(&deck, &first);

    let second = deck
        .requests()
        .ask("scale the web tier to 8", &quiet)
        .unwrap();
    assert_eq!(second.state, State::Pending);
    assert_eq!(second.plan.action, "scale");
    assert_eq!(
        second.plan.summary,
        "scale stack web in us-east-1: 6 → 8 × t3.micro"
    );
    let after = plan_files(&deck, &second);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let mut changed = Vec::new();
    for (name, old) in &before {
        let diff = similar::TextDiff::from_lines(old.as_str(), after[name].as_str());
        for c in diff.iter_all_changes() {
            if c.tag() != similar::ChangeTag::Equal {
                changed.push(format!("{name} {}{}", c.tag(), c.value().trim_end()));
            }
        }
    }
    let summary: Vec<&str> = changed
        .iter()
        .filter(|l| !l.starts_with("opsdeck.tf"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary,
        [
            "asg.tf -  desired_capacity          = 6",
            "asg.tf +  desired_capacity          = 8",
            "asg.tf -  max_size                  = 6",
            "asg.tf +  max_size                  = 8",
        ],
        "{changed:#?}"
    );
    assert_eq!(
        changed
            .iter()
            .filter(|l| l.starts_with("opsdeck.tf"))
            .count(),
        2,
        "the recorded parameters: one line out, one in"
    );
    assert_eq!(
        second.plan.resources.len(),
        1,
        "{:?}",
        second.plan.resources
    );
    assert_eq!(
        second.plan.resources[0].address,
        "aws_autoscaling_group.this"
    );
    assert_eq!(second.plan.resources[0].action, ChangeAction::Update);

    // Scaling in keeps max and lowers min only as far as needed.
    applied(&deck, &second);
    let third = deck
        .requests()
        .ask("scale the web tier down to 2", &quiet)
        .unwrap();
    let asg = &plan_files(&deck, &third)["asg.tf"];
    assert!(asg.contains("desired_capacity          = 2"), "{asg}");
    assert!(asg.contains("min_size                  = 2"));
    assert!(asg.contains("max_size                  = 8"), "{asg}");
    assert!(
        third
            .plan
            .risk_reasons
            .iter()
            .any(|r| r.contains("terminates 6"))
    );

    let same = deck
        .requests()
        .ask("scale the web tier to 8", &quiet)
        .unwrap_err();
    assert!(same.to_string().contains("already runs 8"), "{same}");
}

#[test]
fn only_auto_scaling_stacks_scale() {
    let home = Home::new();
    let deck = home.deck("alice");
    let rec = deck
        .requests()
        .ask("create 2 t3.small instances as stack api", &quiet)
        .unwrap();
    applied(&deck, &rec);
    let err = deck
        .requests()
        .ask("scale the api stack to 4", &quiet)
        .unwrap_err();
    assert!(
        err.to_string().contains("not an auto scaling group"),
        "{err}"
    );
    let err = deck
        .requests()
        .ask("scale prod api down to two servers", &quiet)
        .unwrap_err();
    assert!(
        err.to_string().contains("say which stack to scale"),
        "{err}"
    );
    assert!(err.to_string().contains("active stacks: api"), "{err}");
    let err = deck
        .requests()
        .ask("scale the web tier to 60", &quiet)
        .unwrap_err();
    assert!(err.to_string().contains("0 to 50"), "{err}");
}

#[test]
fn destroying_a_scaled_stack_still_works() {
    let home = Home::new();
    let deck = home.deck("alice");
    let rec = deck
        .requests()
        .ask(
            "create an auto scaling group web of 3 t3.small behind an ALB",
            &quiet,
        )
        .unwrap();
    applied(&deck, &rec);
    let gone = deck.requests().ask("destroy stack web", &quiet).unwrap();
    assert_eq!(gone.plan.action, "destroy");
    assert!(
        gone.plan
            .resources
            .iter()
            .all(|r| r.action == ChangeAction::Delete)
    );
    assert!(
        gone.plan
            .resources
            .iter()
            .any(|r| r.address == "aws_autoscaling_group.this")
    );
    assert_eq!(plan_files(&deck, &gone), plan_files(&deck, &rec));
}

/// `terraform validate` needs the providers the templates name (hashicorp/aws and
/// hashicorp/archive), and no test downloads anything. It runs from a local provider directory
/// made by `terraform providers mirror`: `OPSDECK_TF_PLUGIN_DIR`, or else the mirror opsdeck's
/// own dry runs install from (`OPSDECK_PROVIDER_MIRROR`, an empty directory under
/// tests/run.sh). Without one holding both providers it prints SKIP.
#[test]
fn terraform_validate_with_a_local_provider_mirror() {
    let Some(tf) = common::terraform() else {
        return;
    };
    const PROVIDERS: [&str; 2] = [
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/archive",
    ];
    let set = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    let dedicated = set("OPSDECK_TF_PLUGIN_DIR");
    let holds_providers = |dir: &String| PROVIDERS.iter().all(|p| Path::new(dir).join(p).is_dir());
    let Some(plugin_dir) = dedicated
        .clone()
        .or_else(|| set("OPSDECK_PROVIDER_MIRROR"))
        .filter(holds_providers)
    else {
        assert!(
            dedicated.is_none(),
            "OPSDECK_TF_PLUGIN_DIR={} lacks {PROVIDERS:?}: make it with `terraform providers mirror`",
            dedicated.unwrap_or_default()
        );
        eprintln!(
            "SKIP: terraform validate needs {PROVIDERS:?} from a local mirror and no test downloads them; set OPSDECK_TF_PLUGIN_DIR (or OPSDECK_PROVIDER_MIRROR) to a directory made by `terraform providers mirror`. HCL parsing and terraform fmt are checked by the other tests."
        );
        return;
    };
    let run = |dir: &Path, args: &[&str]| {
        Command::new(&tf)
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .unwrap()
    };
    let plugin_arg = format!("-plugin-dir={plugin_dir}");
    let mut checked = 0;
    for (kind, params) in minimal_kinds().into_iter().chain(full_kinds()) {
        let files = render(params);
        let dir = tempfile::tempdir().unwrap();
        for (n, t) in &files {
            std::fs::write(dir.path().join(n), t).unwrap();
        }
        // -plugin-dir: providers from the mirror only, never from a registry.
        let out = run(
            dir.path(),
            &[
                "init",
                "-backend=false",
                "-input=false",
                "-no-color",
                &plugin_arg,
            ],
        );
        assert!(
            out.status.success(),
            "terraform init from {plugin_dir} failed for {kind}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(dir.path(), &["validate", "-no-color"]);
        assert!(
            out.status.success(),
            "terraform validate failed for {kind}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    eprintln!("terraform validate: {checked} stacks valid");
}

/// The requests operators type most, through the real binary into stored plans.
#[test]
fn common_requests_reach_a_stored_plan_through_the_cli() {
    struct Want {
        text: &'static str,
        state: &'static str,
        files: &'static [&'static str],
        resources: &'static [&'static str],
        artifact_has: &'static [&'static str],
        denied_by: Option<&'static str>,
    }
    let wants = [
        Want {
            text: "create an RDS postgres db.t3.medium multi-az in eu-west-1",
            state: "pending",
            files: &["main.tf", "network.tf", "rds.tf", "logs.tf", "outputs.tf"],
            resources: &[
                "aws_db_instance.this",
                "aws_db_subnet_group.this",
                "aws_subnet.private",
            ],
            artifact_has: &[
                "engine         = \"postgres\"",
                "instance_class = \"db.t3.medium\"",
                "multi_az       = true",
                "storage_encrypted = true",
                "manage_master_user_password         = true",
                "region = \"eu-west-1\"",
            ],
            denied_by: None,
        },
        Want {
            text: "create a lambda function my-func with python3.12 and 512 MB",
            state: "rejected",
            files: &["main.tf", "lambda.tf", "outputs.tf"],
            resources: &[
                "aws_lambda_function.this",
                "aws_iam_role.this",
                "aws_cloudwatch_log_group.this",
            ],
            artifact_has: &[
                "function_name = \"my-func\"",
                "runtime       = \"python3.12\"",
                "memory_size   = 512",
            ],
            // The default tenant has no pipeline role, so nobody may create IAM roles.
            denied_by: Some("iam.pipeline_only"),
        },
        Want {
            text: "create a lambda function my-func with python3.12 and 512 MB with role arn:aws:iam::123456789012:role/my-func",
            state: "pending",
            files: &["main.tf", "lambda.tf", "outputs.tf"],
            resources: &["aws_lambda_function.this", "aws_cloudwatch_log_group.this"],
            artifact_has: &["role          = \"arn:aws:iam::123456789012:role/my-func\""],
            denied_by: None,
        },
        Want {
            text: "scale the web tier to 6",
            state: "pending",
            files: &[
                "main.tf",
                "asg.tf",
                "instance_profile.tf",
                "outputs.tf",
                "opsdeck.tf",
            ],
            resources: &["aws_launch_template.this", "aws_autoscaling_group.this"],
            artifact_has: &[
                "desired_capacity          = 6",
                "name                      = \"web\"",
            ],
            denied_by: None,
        },
        Want {
            text: "create a VPC with public and private subnets and NAT in ap-south-1",
            state: "pending",
            files: &["main.tf", "network.tf", "logs.tf", "outputs.tf"],
            resources: &[
                "aws_vpc.this",
                "aws_subnet.public",
                "aws_subnet.private",
                "aws_nat_gateway.this",
            ],
            artifact_has: &[
                "region = \"ap-south-1\"",
                "nat_gateway_id = aws_nat_gateway.this[0].id",
            ],
            denied_by: None,
        },
        Want {
            text: "create an S3 bucket logs-archive with lifecycle expire after 90 days",
            state: "pending",
            files: &["main.tf", "s3.tf", "logs.tf", "outputs.tf"],
            resources: &[
                "aws_s3_bucket.this",
                "aws_s3_bucket_lifecycle_configuration.this",
            ],
            artifact_has: &["bucket        = \"logs-archive\"", "days = 90"],
            denied_by: None,
        },
        Want {
            text: "create 2 t3.small instances with key pair ops-key in a private subnet",
            state: "pending",
            files: &[
                "main.tf",
                "network.tf",
                "security.tf",
                "instances.tf",
                "instance_profile.tf",
                "logs.tf",
                "outputs.tf",
            ],
            resources: &[
                "aws_instance.this",
                "aws_subnet.private",
                "aws_nat_gateway.this",
            ],
            artifact_has: &[
                "count = 2",
                "instance_type        = \"t3.small\"",
                "key_name             = \"ops-key\"",
                "element(aws_subnet.private[*].id, count.index)",
            ],
            denied_by: None,
        },
        Want {
            text: "create a security group allowing 443 from anywhere",
            state: "pending",
            files: &["main.tf", "security_group.tf", "outputs.tf"],
            resources: &["aws_security_group.this"],
            artifact_has: &["from_port   = 443", "cidr_blocks = [\"0.0.0.0/0\"]"],
            denied_by: None,
        },
        Want {
            text: "create a security group allowing ssh from anywhere",
            state: "rejected",
            files: &["main.tf", "security_group.tf", "outputs.tf"],
            resources: &["aws_security_group.this"],
            artifact_has: &[
                "from_port   = 22",
                "# Asked for explicitly: SSH (22) from anywhere",
            ],
            denied_by: Some("network.admin_ports_open"),
        },
    ];
    let home = Home::new();
    for w in &wants {
        let out = home.cmd().args(["--json", "ask", w.text]).output().unwrap();
        let expected_exit = if w.denied_by.is_some() { 5 } else { 0 };
        assert_eq!(
            out.status.code(),
            Some(expected_exit),
            "{}: {}",
            w.text,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["agent"], "infra", "{}", w.text);
        assert_eq!(v["state"], w.state, "{}: {v:#}", w.text);
        let artifacts: Vec<&str> = v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .filter(|n| n.ends_with(".tf"))
            .collect();
        assert_eq!(artifacts, w.files, "{}", w.text);
        let resources: Vec<&str> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["address"].as_str().unwrap())
            .collect();
        for r in w.resources {
            assert!(
                resources.contains(r),
                "{}: {r} not in {resources:?}",
                w.text
            );
        }
        let gates = v["gates"].as_array().unwrap();
        let denied: Vec<&str> = gates
            .iter()
            .filter(|g| g["result"] == "deny")
            .map(|g| g["rule"].as_str().unwrap())
            .collect();
        match w.denied_by {
            Some(rule) => assert!(denied.contains(&rule), "{}: {denied:?}", w.text),
            None => assert!(denied.is_empty(), "{}: {denied:?}", w.text),
        }
        let id = v["plan_id"].as_str().unwrap();
        let shown = home
            .cmd()
            .args(["plans", "show", id, "--artifact"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        for needle in w.artifact_has {
            assert!(
                text.contains(needle),
                "{}: no {needle:?} in\n{text}",
                w.text
            );
        }
        // Stored: the plan can be read back by id.
        home.cmd().args(["plans", "show", id]).assert().success();
    }
    // The SSH plan is refused visibly, with the reason, not silently narrowed.
    let out = home
        .cmd()
        .args(["ask", "create a security group allowing ssh from anywhere"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("network.admin_ports_open"), "{text}");
    assert!(text.contains("denied by policy"), "{text}");
    // The starter policies' own tests still pass.
    home.cmd().args(["policy", "test"]).assert().success();
}

#[test]
fn gates_pass_every_default_stack() {
    let home = Home::new();
    let deck = home.deck("alice");
    for text in [
        "create 3 t3.medium instances in ap-south-1 with ALB",
        "create an auto scaling group web of 4 t3.small behind an ALB min 2 max 10",
        "create a mysql 8.0 database db.t3.small with 100 GB storage in eu-west-2",
        "create a vpc 10.20.0.0/16 with 3 private subnets and one nat gateway per az",
        "create bucket media-store, move objects to Glacier after 30 days and expire them after 1 year",
        "create a security group allowing ports 80 and 443 from 10.0.0.0/8",
    ] {
        let rec = deck.requests().ask(text, &quiet).unwrap();
        let bad: Vec<_> = rec
            .plan
            .gates
            .iter()
            .filter(|g| g.result >= GateResult::Warn)
            .collect();
        assert!(bad.is_empty(), "{text}: {bad:?}");
        assert_eq!(rec.state, State::Pending, "{text}");
        assert!(rec.plan.cost.monthly_usd >= 0.0);
    }
}
