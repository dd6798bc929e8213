//! The security agent against moto: public and private buckets (policy with Principal *, ACL
//! AllUsers, Block Public Access on/off, encryption on/off), a wide-open security group, IAM
//! users with and without MFA and access keys, Security Hub findings (moto) and GuardDuty
//! findings (the stub: moto has detectors but no findings); remediation planned, approved by a
//! second user with TOTP, applied, and read back — in-process and through the real binary.
//!
//! Every test that scans takes `Moto::exclusive()`: a scan sees the whole account.

mod common;

use std::sync::Arc;

use aws_sdk_s3::types::{
    BucketCannedAcl, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use common::moto::Moto;
use common::seed::{self, all_blocked, run};
use common::stub::Stub;
use common::{Home, Team, quiet};
use opsdeck::approval::State;
use opsdeck::events::Output;
use opsdeck::pipeline::{Answer, ReportRecord};
use opsdeck::tenant::Role;
use opsdeck::time::Clock;
use serde_json::{Value, json};

struct Seeded {
    open_group: String,
    all_ports_group: String,
    safe_group: String,
}

fn policy(bucket: &str, principal: Value, action: &str, condition: Option<Value>) -> String {
    let mut st = json!({"Sid": "Public", "Effect": "Allow", "Principal": principal,
        "Action": action, "Resource": format!("arn:aws:s3:::{bucket}/*")});
    if let Some(c) = condition {
        st["Condition"] = c;
    }
    json!({"Version": "2012-10-17", "Statement": [st,
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": format!("arn:aws:s3:::{bucket}/*"),
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    .to_string()
}

/// The account every scan test starts from.
fn seed_account(endpoint: &str) -> Seeded {
    let s3 = seed::s3(endpoint);
    let conf = seed::conf(endpoint, "us-east-1");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);
    run(async {
        for b in [
            "web-assets-public",
            "exports-acl-public",
            "dropbox-public-write",
            "vpce-only",
            "ledger-private",
            "scratch-plain",
        ] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        s3.put_bucket_policy()
            .bucket("web-assets-public")
            .policy(policy(
                "web-assets-public",
                json!("*"),
                "s3:GetObject",
                None,
            ))
            .send()
            .await
            .unwrap();
        s3.put_bucket_acl()
            .bucket("exports-acl-public")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        // Explicit grants: moto answers the canned public-read-write ACL with READ alone.
        let all_users = "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"";
        s3.put_bucket_acl()
            .bucket("dropbox-public-write")
            .grant_read(all_users)
            .grant_write(all_users)
            .send()
            .await
            .unwrap();
        s3.put_bucket_policy()
            .bucket("vpce-only")
            .policy(policy(
                "vpce-only",
                json!({"AWS": "*"}),
                "s3:GetObject",
                Some(json!({"StringEquals": {"aws:SourceVpce": "vpce-0abc1234"}})),
            ))
            .send()
            .await
            .unwrap();
        s3.put_bucket_encryption()
            .bucket("ledger-private")
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        s3.put_public_access_block()
            .bucket("ledger-private")
            .public_access_block_configuration(all_blocked())
            .send()
            .await
            .unwrap();
    });
    let (open_group, all_ports_group, safe_group) = run(async {
        use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
        let ids =
            seed::security_groups(&ec2, &["bastion-wide-open", "legacy-any", "internal-ssh"]).await;
        let tcp = |port: i32| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
        };
        let world = IpRange::builder().cidr_ip("0.0.0.0/0").build();
        let world6 = Ipv6Range::builder().cidr_ipv6("::/0").build();
        ec2.authorize_security_group_ingress()
            .group_id(&ids[0])
            .ip_permissions(
                tcp(22)
                    .ip_ranges(world.clone())
                    .ipv6_ranges(world6.clone())
                    .build(),
            )
            .ip_permissions(tcp(3389).ip_ranges(world.clone()).build())
            .ip_permissions(
                tcp(443)
                    .ip_ranges(world.clone())
                    .ipv6_ranges(world6)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&ids[1])
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .ip_ranges(world)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ec2.authorize_security_group_ingress()
            .group_id(&ids[2])
            .ip_permissions(
                tcp(22)
                    .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        (ids[0].clone(), ids[1].clone(), ids[2].clone())
    });
    run(async {
        for u in ["dana-console-nomfa", "erik-console-mfa", "ci-deployer"] {
            iam.create_user().user_name(u).send().await.unwrap();
        }
        for u in ["dana-console-nomfa", "erik-console-mfa"] {
            iam.create_login_profile()
                .user_name(u)
                .password("Correct-Horse-9!")
                .send()
                .await
                .unwrap();
        }
        let device = iam
            .create_virtual_mfa_device()
            .virtual_mfa_device_name("erik")
            .send()
            .await
            .unwrap();
        iam.enable_mfa_device()
            .user_name("erik-console-mfa")
            .serial_number(device.virtual_mfa_device().unwrap().serial_number())
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
        iam.create_access_key()
            .user_name("ci-deployer")
            .send()
            .await
            .unwrap();
    });
    Seeded {
        open_group,
        all_ports_group,
        safe_group,
    }
}

fn report(a: Answer) -> ReportRecord {
    match a {
        Answer::Report(r) => *r,
        Answer::Plan(p) => panic!("expected a report, got plan {}", p.plan.summary),
    }
}

/// (check, resource) → (status, severity, risk)
fn findings(r: &ReportRecord) -> Vec<(String, String, String, String, u64)> {
    r.report.data["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check_id"].as_str().unwrap().to_string(),
                f["resource_name"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["risk_score"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn status_of(r: &ReportRecord, check: &str, resource: &str) -> (String, String, u64) {
    findings(r)
        .into_iter()
        .find(|f| f.0 == check && f.1 == resource)
        .map(|f| (f.2, f.3, f.4))
        .unwrap_or_else(|| panic!("no {check} finding for {resource}"))
}

#[test]
fn scan_all_s3_buckets_for_public_access() {
    let Some(moto) = Moto::get("scan_all_s3_buckets_for_public_access") else {
        return;
    };
    let _moto = moto.exclusive();
    seed_account(&moto.endpoint);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let r = report(
        deck.requests()
            .request("Scan all S3 buckets for public access", &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["scope"], json!(["s3"]));
    assert_eq!(r.report.data["checked"]["buckets"], 6);
    let public = |b: &str| status_of(&r, "s3_bucket_public_access", b);
    assert_eq!(
        public("web-assets-public"),
        ("FAIL".into(), "high".into(), 80)
    );
    assert_eq!(
        public("exports-acl-public"),
        ("FAIL".into(), "high".into(), 80)
    );
    assert_eq!(
        public("dropbox-public-write"),
        ("FAIL".into(), "critical".into(), 95)
    );
    assert_eq!(public("ledger-private").0, "PASS");
    assert_eq!(public("scratch-plain").0, "PASS");
    // Principal * limited to a VPC endpoint is not public: S3's own policy status agrees.
    assert_eq!(public("vpce-only").0, "PASS");
    assert_eq!(
        status_of(&r, "s3_bucket_default_encryption", "scratch-plain").0,
        "FAIL"
    );
    assert_eq!(
        status_of(&r, "s3_bucket_default_encryption", "ledger-private").0,
        "PASS"
    );
    assert_eq!(
        status_of(&r, "s3_bucket_level_public_access_block", "ledger-private").0,
        "PASS"
    );
    assert_eq!(
        status_of(&r, "s3_account_level_public_access_blocks", "123456789012").0,
        "FAIL"
    );
    // Only S3 was asked about.
    assert!(findings(&r).iter().all(|f| f.0.starts_with("s3_")));
    assert!(
        r.report.summary.contains("6 S3 bucket(s): 3 public"),
        "{}",
        r.report.summary
    );
    // The table leads with the riskiest finding and offers the fix as a request.
    let Output::Table { rows, columns, .. } = &r.report.outputs[0] else {
        panic!("a table first")
    };
    assert_eq!(columns[2], "CHECK");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][3].as_str()),
        ("95", "dropbox-public-write")
    );
    assert_eq!(
        rows[0][6],
        "ask \"block public access on bucket dropbox-public-write\""
    );
    // Exports: OCSF-like JSON and CSV, one record per finding.
    let n = r.report.data["findings"].as_array().unwrap().len();
    let json_file = &r
        .report
        .files
        .iter()
        .find(|f| f.name == "findings.json")
        .unwrap()
        .content;
    let ocsf: Vec<Value> = serde_json::from_slice(json_file).unwrap();
    assert_eq!(ocsf.len(), n);
    let first = &ocsf[0];
    for key in [
        "finding_info",
        "severity",
        "severity_id",
        "status",
        "resources",
        "remediation",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(
        first["resources"][0]["uid"],
        "arn:aws:s3:::dropbox-public-write"
    );
    assert_eq!(first["resources"][0]["region"], "us-east-1");
    let csv_file = &r
        .report
        .files
        .iter()
        .find(|f| f.name == "findings.csv")
        .unwrap()
        .content;
    let mut rd = csv::Reader::from_reader(csv_file.as_slice());
    assert_eq!(rd.headers().unwrap().iter().next(), Some("finding_uid"));
    assert_eq!(rd.records().count(), n);

    // With Block Public Access on for the account, nothing is public any more.
    let s3c = control_client(&moto.endpoint);
    run(async {
        s3c.put_public_access_block()
            .account_id("123456789012")
            .public_access_block_configuration(
                aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let r = report(
        deck.requests()
            .request("Scan all S3 buckets for public access", &quiet)
            .unwrap(),
    );
    assert_eq!(
        status_of(&r, "s3_account_level_public_access_blocks", "123456789012").0,
        "PASS"
    );
    for b in [
        "web-assets-public",
        "exports-acl-public",
        "dropbox-public-write",
    ] {
        let (status, ..) = status_of(&r, "s3_bucket_public_access", b);
        assert_eq!(status, "PASS", "{b}");
    }
}

/// S3 Control against moto: the account id cannot prefix an IP host (opsdeck does the same).
fn control_client(endpoint: &str) -> aws_sdk_s3control::Client {
    use aws_sdk_s3control::config::endpoint::{EndpointFuture, Params, ResolveEndpoint};
    #[derive(Debug)]
    struct AsGiven(String);
    impl ResolveEndpoint for AsGiven {
        fn resolve_endpoint<'a>(&'a self, _: &'a Params) -> EndpointFuture<'a> {
            EndpointFuture::ready(Ok(aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build()))
        }
    }
    let conf = seed::conf(endpoint, "us-east-1");
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&conf)
            .endpoint_resolver(AsGiven(endpoint.to_string()))
            .build(),
    )
}

#[test]
fn security_groups_and_iam() {
    let Some(moto) = Moto::get("security_groups_and_iam") else {
        return;
    };
    let _moto = moto.exclusive();
    let s = seed_account(&moto.endpoint);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let r = report(
        deck.requests()
            .request("show security groups open to the internet", &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["scope"], json!(["ec2"]));
    let f = findings(&r);
    let on = |g: &str, status: &str| -> Vec<&str> {
        f.iter()
            .filter(|x| x.1 == g && x.2 == status)
            .map(|x| x.0.as_str())
            .collect()
    };
    assert_eq!(
        on(&s.open_group, "FAIL"),
        vec![
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
        ],
        "SSH over IPv4 and IPv6, RDP (Prowler's ids); 443 is not a finding"
    );
    assert_eq!(
        on(&s.open_group, "PASS"),
        vec!["ec2_securitygroup_allow_ingress_from_internet_to_all_ports"]
    );
    assert_eq!(
        on(&s.all_ports_group, "FAIL"),
        vec![
            "ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
        ],
        "all ports open SSH and RDP too, as Prowler judges it"
    );
    assert!(on(&s.safe_group, "FAIL").is_empty());
    assert_eq!(
        on(&s.safe_group, "PASS").len(),
        3,
        "every check that ran has a row"
    );
    assert_eq!(
        status_of(
            &r,
            "ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
            &s.all_ports_group
        )
        .1,
        "critical"
    );

    let r = report(
        deck.requests()
            .request("list IAM users without MFA", &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["scope"], json!(["iam"]));
    assert_eq!(
        status_of(
            &r,
            "iam_user_mfa_enabled_console_access",
            "dana-console-nomfa"
        )
        .0,
        "FAIL"
    );
    assert_eq!(
        status_of(
            &r,
            "iam_user_mfa_enabled_console_access",
            "erik-console-mfa"
        )
        .0,
        "PASS"
    );
    assert_eq!(
        status_of(&r, "iam_user_mfa_enabled_console_access", "ci-deployer").0,
        "PASS",
        "no console password passes, as Prowler judges it"
    );
    assert_eq!(
        status_of(&r, "iam_rotate_access_key_90_days", "erik-console-mfa").0,
        "PASS",
        "no active key: a PASS row"
    );
    assert_eq!(
        status_of(&r, "iam_root_mfa_enabled", "root"),
        ("FAIL".into(), "critical".into(), 95)
    );
    // Keys just created are younger than 90 days. moto cannot back-date keys, so the age
    // check is exercised with a limit the new key exceeds.
    assert_eq!(
        status_of(&r, "iam_rotate_access_key_90_days", "ci-deployer").0,
        "PASS"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = report(
        deck.requests()
            .request("check for access keys older than 0 days", &quiet)
            .unwrap(),
    );
    assert_eq!(
        status_of(&r, "iam_rotate_access_key_90_days", "ci-deployer").0,
        "FAIL"
    );
    let detail = r.report.data["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check_id"] == "iam_rotate_access_key_90_days")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("…") && detail.contains("(limit 0)"),
        "key ids are masked: {detail}"
    );

    // Everything at once.
    let r = report(
        deck.requests()
            .request("run a security scan", &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["scope"], json!(["s3", "ec2", "iam"]));
    let s3 = findings(&r)
        .iter()
        .filter(|x| x.0.starts_with("s3_"))
        .count();
    assert!(s3 > 0 && findings(&r).iter().any(|x| x.0.starts_with("iam_")));
}

#[test]
fn findings_from_security_hub_and_guardduty() {
    let Some(moto) = Moto::get("findings_from_security_hub_and_guardduty") else {
        return;
    };
    let _moto = moto.exclusive();
    let stub = Stub::start(Some(&moto.endpoint));
    let conf = seed::conf(&moto.endpoint, "us-east-1");
    let now = jiff::Timestamp::now();
    let ago = |days: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let hub = aws_sdk_securityhub::Client::new(&conf);
    let detector = run(async {
        use aws_sdk_securityhub::types::{
            AwsSecurityFinding, Resource, Severity, SeverityLabel, Workflow, WorkflowStatus,
        };
        let mk = |id: &str,
                  label: SeverityLabel,
                  norm: i32,
                  updated: String,
                  status: WorkflowStatus| {
            AwsSecurityFinding::builder()
                .schema_version("2018-10-08")
                .id(id)
                .product_arn("arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default")
                .generator_id("aws-foundational-security-best-practices/v/1.0.0/EC2.19")
                .aws_account_id("123456789012")
                .types("Software and Configuration Checks")
                .created_at(updated.clone())
                .updated_at(updated)
                .severity(Severity::builder().label(label).normalized(norm).build())
                .title(format!("finding {id}"))
                .description("Security groups should not allow unrestricted access to ports with high risk")
                .resources(
                    Resource::builder()
                        .r#type("AwsEc2SecurityGroup")
                        .id("arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0")
                        .region("us-east-1")
                        .build(),
                )
                .workflow(Workflow::builder().status(status).build())
                .build()
        };
        hub.batch_import_findings()
            .findings(mk(
                "sh-high-recent",
                SeverityLabel::High,
                70,
                ago(1),
                WorkflowStatus::New,
            ))
            .findings(mk(
                "sh-low-recent",
                SeverityLabel::Low,
                20,
                ago(1),
                WorkflowStatus::New,
            ))
            .findings(mk(
                "sh-critical-old",
                SeverityLabel::Critical,
                90,
                ago(30),
                WorkflowStatus::New,
            ))
            .findings(mk(
                "sh-high-resolved",
                SeverityLabel::High,
                70,
                ago(1),
                WorkflowStatus::Resolved,
            ))
            .send()
            .await
            .unwrap();
        let gd = aws_sdk_guardduty::Client::new(&conf);
        gd.create_detector()
            .enable(true)
            .send()
            .await
            .unwrap()
            .detector_id()
            .unwrap()
            .to_string()
    });
    let gd = |id: &str, sev: f64, updated: String, kind: &str| {
        json!({"id": id, "arn": format!("arn:aws:guardduty:us-east-1:123456789012:detector/x/finding/{id}"),
            "accountId": "123456789012", "region": "us-east-1", "partition": "aws", "schemaVersion": "2.0",
            "type": kind, "severity": sev, "title": format!("{kind} on i-0abc12345def67890"),
            "description": "EC2 instance is querying a domain associated with Bitcoin mining.",
            "createdAt": updated, "updatedAt": updated,
            "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc12345def67890"}}})
    };
    stub.guardduty_findings(
        &detector,
        vec![
            gd(
                "gd-high",
                8.0,
                ago(2),
                "CryptoCurrency:EC2/BitcoinTool.B!DNS",
            ),
            gd(
                "gd-medium",
                5.0,
                ago(1),
                "Recon:EC2/PortProbeUnprotectedPort",
            ),
            gd(
                "gd-high-old",
                8.0,
                ago(20),
                "UnauthorizedAccess:EC2/SSHBruteForce",
            ),
        ],
    );
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let r = report(
        deck.requests()
            .request("show high severity findings from the last 7 days", &quiet)
            .unwrap(),
    );
    let mut ids: Vec<String> = r.report.data["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uid"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["gd-high", "sh-high-recent"]);
    let f = &r.report.data["findings"][0];
    assert_eq!(f["source"], "guardduty");
    assert_eq!(f["risk_score"], 80);
    assert_eq!(f["resource_name"], "i-0abc12345def67890");
    // The filter went to GuardDuty as criteria, not only applied afterwards.
    let list = stub
        .calls_to("guardduty")
        .into_iter()
        .find(|c| c.operation == "ListFindings")
        .unwrap();
    assert_eq!(
        list.body["findingCriteria"]["criterion"]["severity"]["greaterThanOrEqual"],
        7
    );
    let r = report(
        deck.requests()
            .request("show GuardDuty findings", &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["sources"], json!({"guardduty": 2}));
    assert!(
        r.report.summary.contains("from GuardDuty over the last 7d"),
        "{}",
        r.report.summary
    );
}

fn plan(a: Answer) -> opsdeck::approval::PlanRecord {
    match a {
        Answer::Plan(p) => *p,
        Answer::Report(r) => panic!("expected a plan: {}", r.report.summary),
    }
}

#[test]
fn block_public_access_after_approval() {
    let Some(moto) = Moto::get("block_public_access_after_approval") else {
        return;
    };
    let _moto = moto.exclusive();
    seed_account(&moto.endpoint);
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
        ],
    );
    let clock: Arc<dyn Clock> = t.clock.clone();
    let olga = seed::deck(&home, "olga", Some(clock.clone()), &moto.endpoint);
    let rec = plan(
        olga.requests()
            .request("block public access on bucket web-assets-public", &quiet)
            .unwrap(),
    );
    assert_eq!(rec.state, State::Pending);
    assert!(rec.plan.mutates && rec.plan.requires_approval);
    assert_eq!(
        rec.plan.risk,
        opsdeck::plan::Risk::High,
        "the bucket is public today"
    );
    let opsdeck::plan::StepKind::Aws {
        service,
        operation,
        targets,
        input,
        ..
    } = &rec.plan.steps[0].kind
    else {
        panic!("an AWS step");
    };
    assert_eq!(
        (service.as_str(), operation.as_str()),
        ("s3", "PutPublicAccessBlock")
    );
    assert_eq!(targets, &vec!["web-assets-public".to_string()]);
    assert_eq!(input["RestrictPublicBuckets"], true);
    // The reviewer's change list says what the scan saw: the bucket is public today.
    let change = opsdeck::view::AwsChangeView::of(&rec.plan);
    let target = &change.calls[0].targets[0];
    assert_eq!(target.name.as_deref(), Some("web-assets-public"));
    assert_eq!(target.before.as_deref(), Some("public"), "{target:?}");
    assert!(!rec.plan.denied(), "{:?}", rec.plan.gates);
    let s3 = seed::s3(&moto.endpoint);
    let blocked = || {
        let s3 = s3.clone();
        run(async move {
            s3.get_public_access_block()
                .bucket("web-assets-public")
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.public_access_block_configuration()
                        .and_then(|c| c.restrict_public_buckets())
                })
                == Some(true)
        })
    };
    assert!(!blocked(), "nothing changes before approval");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(
        rt.block_on(olga.runs().apply(&rec.plan.plan_id, &quiet, rx.clone()))
            .is_err(),
        "not approved yet"
    );
    let code = t.code("bob");
    seed::deck(&home, "bob", Some(clock.clone()), &moto.endpoint)
        .approvals()
        .approve(
            &rec.plan.plan_id,
            Some("public assets moved to CloudFront".into()),
            Some(&code),
            None,
        )
        .unwrap();
    let rec_id = rec.plan.plan_id.clone();
    let applied = rt
        .block_on(olga.runs().apply(&rec.plan.plan_id, &quiet, rx))
        .unwrap();
    assert!(applied.success, "{applied:?}");
    assert!(blocked());
    let r = report(
        olga.requests()
            .request("scan bucket web-assets-public", &quiet)
            .unwrap(),
    );
    assert_eq!(
        status_of(&r, "s3_bucket_public_access", "web-assets-public").0,
        "PASS"
    );
    // Already blocked: nothing to plan.
    let again = report(
        olga.requests()
            .request("block public access on bucket web-assets-public", &quiet)
            .unwrap(),
    );
    assert!(
        again.report.summary.starts_with("nothing to remediate"),
        "{}",
        again.report.summary
    );
    // "fix public buckets" plans the rest in one step.
    let rec = plan(
        olga.requests()
            .request("fix public buckets", &quiet)
            .unwrap(),
    );
    let opsdeck::plan::StepKind::Aws { targets, .. } = &rec.plan.steps[0].kind else {
        panic!()
    };
    assert_eq!(
        targets,
        &vec![
            "dropbox-public-write".to_string(),
            "exports-acl-public".to_string()
        ]
    );
    let err = olga
        .requests()
        .request("block public access on bucket no-such-bucket-xyz", &quiet)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bucket not found: no-such-bucket-xyz"),
        "{err}"
    );
    // The run's log (an artifact the trail points to) has the read-back result.
    let log = applied
        .log_uri
        .as_deref()
        .unwrap()
        .trim_start_matches("file://")
        .to_string();
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains(
            "bucket web-assets-public: public access blocked (all four settings on, read back)"
        ),
        "{log}"
    );
    let trail = std::fs::read_to_string(home.audit_file("default")).unwrap();
    assert!(
        trail
            .lines()
            .any(|l| l.contains("\"completed\"") && l.contains(&rec_id)),
        "{trail}"
    );
}

#[test]
fn revoke_open_ssh_and_export_through_the_real_binary() {
    let Some(moto) = Moto::get("revoke_open_ssh_through_the_real_binary") else {
        return;
    };
    let _moto = moto.exclusive();
    let s = seed_account(&moto.endpoint);
    let home = Home::new();
    let (_alice, bob) = common::enrol_cli(&home);
    let run_cli = |args: &[&str]| {
        let out = home
            .cmd()
            .envs(moto.env())
            .args(["--user", "alice"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    // The scan, exported as files.
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(&[
        "--json",
        "ask",
        "--export",
        dir.path().to_str().unwrap(),
        "Scan all S3 buckets for public access",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agent"], "security");
    assert!(
        v["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "findings.csv")
    );
    let csv = std::fs::read_to_string(dir.path().join("findings.csv")).unwrap();
    assert!(csv.lines().any(|l| l.contains("s3_bucket_public_access")
        && l.contains("dropbox-public-write")
        && l.contains("FAIL")));
    let exported: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("findings.json")).unwrap()).unwrap();
    assert_eq!(
        exported.len(),
        v["report"]["data"]["findings"].as_array().unwrap().len()
    );

    // The fix: planned, approved by bob with his code, applied.
    let out = run_cli(&[
        "--json",
        "ask",
        &format!("revoke ssh from 0.0.0.0/0 on {}", s.open_group),
    ]);
    let id = common::plan_id(&out.stdout);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "pending");
    assert_eq!(v["steps"][0]["operation"], "RevokeSecurityGroupIngress");
    // What the agent saw of the group: its name and the open rule, for the change list.
    let seen = &v["steps"][0]["input"]["targets_seen"][0];
    assert_eq!(seen["id"], json!(s.open_group), "{seen}");
    assert_eq!(seen["state"], "open: tcp port 22 from 0.0.0.0/0", "{seen}");
    assert!(
        seen["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{seen}"
    );
    assert_eq!(
        v["steps"][0]["input"]["permissions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = home
        .cmd()
        .envs(moto.env())
        .args([
            "--user",
            "bob",
            "approve",
            &id,
            "--totp",
            &common::code(&bob, 0),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(&["--json", "apply", &id]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["success"], true, "{v}");
    // SSH from 0.0.0.0/0 is gone; SSH over IPv6 and RDP are untouched (not asked).
    let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    let g = s.open_group.clone();
    let perms = run(async move {
        let o = ec2
            .describe_security_groups()
            .group_ids(g)
            .send()
            .await
            .unwrap();
        o.security_groups()[0].ip_permissions().to_vec()
    });
    let open = |port: i32, v6: bool| {
        perms.iter().any(|p| {
            p.from_port() == Some(port)
                && if v6 {
                    p.ipv6_ranges()
                        .iter()
                        .any(|r| r.cidr_ipv6() == Some("::/0"))
                } else {
                    p.ip_ranges()
                        .iter()
                        .any(|r| r.cidr_ip() == Some("0.0.0.0/0"))
                }
        })
    };
    assert!(!open(22, false));
    assert!(open(22, true) && open(3389, false));
    // The audit shows the outcome.
    let out = run_cli(&["audit", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("completed") && text.contains(&id), "{text}");
    let out = run_cli(&["plans", "show", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("RevokeSecurityGroupIngress") && text.contains("succeeded"),
        "{text}"
    );
}
