//! `opsdeck report compliance`: controls of CIS AWS Foundations v3.0, SOC 2 (CC) and ISO/IEC
//! 27001:2022 Annex A judged from the security scans the real pipeline stored against moto —
//! not checked before a scan ran, failing with the finding, resource and time behind it, and
//! passing once a later scan sees the fix; JSON, CSV and text through the binary. Also: a
//! security-group scan exports a PASS row for every group and check it ran.

mod common;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use aws_sdk_s3::types::BucketCannedAcl;
use common::moto::Moto;
use common::seed::{self, run};
use common::{Home, quiet};
use opsdeck::pipeline::{Answer, Deck, ReportRecord};
use opsdeck::reports::compliance::{ComplianceReport, ControlStatus};
use serde_json::Value;

const SSH: &str = "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22";

struct Seeded {
    ssh_open: String,
    closed: String,
}

fn seed_account(endpoint: &str) -> Seeded {
    let s3 = seed::s3(endpoint);
    let conf = seed::conf(endpoint, "us-east-1");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);
    run(async {
        for b in ["reports-public", "ledger-locked"] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        s3.put_bucket_acl()
            .bucket("reports-public")
            .acl(BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        s3.put_public_access_block()
            .bucket("ledger-locked")
            .public_access_block_configuration(seed::all_blocked())
            .send()
            .await
            .unwrap();
        iam.create_user().user_name("dana").send().await.unwrap();
        iam.create_login_profile()
            .user_name("dana")
            .password("Correct-Horse-9!")
            .send()
            .await
            .unwrap();
    });
    run(async {
        let ids = seed::security_groups(&ec2, &["bastion", "db-internal"]).await;
        for (group, cidr, port) in [(&ids[0], "0.0.0.0/0", 22), (&ids[1], "10.0.0.0/8", 5432)] {
            ec2.authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(ssh_like(port, cidr))
                .send()
                .await
                .unwrap();
        }
        Seeded {
            ssh_open: ids[0].clone(),
            closed: ids[1].clone(),
        }
    })
}

fn ssh_like(port: i32, cidr: &str) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        .build()
}

fn scan(deck: &Deck, request: &str) -> ReportRecord {
    match deck.requests().request(request, &quiet).unwrap() {
        Answer::Report(r) => *r,
        Answer::Plan(p) => panic!("expected a report, got plan {}", p.plan.summary),
    }
}

fn status(r: &ComplianceReport, id: &str) -> ControlStatus {
    r.controls
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no control {id}"))
        .status
}

fn failing<'a>(r: &'a ComplianceReport, id: &str) -> Vec<(&'a str, &'a str)> {
    r.controls
        .iter()
        .find(|c| c.id == id)
        .unwrap()
        .evidence
        .iter()
        .filter(|e| e.status == "FAIL")
        .map(|e| (e.check_id.as_str(), e.resource_name.as_str()))
        .collect()
}

#[test]
fn controls_follow_the_stored_scans_with_their_evidence() {
    let Some(moto) = Moto::get("compliance_controls_follow_the_stored_scans") else {
        return;
    };
    let _moto = moto.exclusive();
    let s = seed_account(&moto.endpoint);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let cis = |deck: &Deck| deck.trail().compliance_report("cis").unwrap();

    // Nothing scanned yet: every control is not checked.
    let r = cis(&deck);
    assert_eq!(r.scans, 0);
    assert_eq!(r.counts.not_checked, r.controls.len());

    // S3 only: the Block Public Access control is judged, the rest stays not checked.
    let s3 = scan(&deck, "scan all S3 buckets for public access");
    let r = cis(&deck);
    assert_eq!(status(&r, "2.1.4"), ControlStatus::Fail);
    let c = r.controls.iter().find(|c| c.id == "2.1.4").unwrap();
    let public = c
        .evidence
        .iter()
        .find(|e| e.resource_name == "reports-public" && e.status == "FAIL")
        .expect("the public bucket is evidence");
    assert_eq!(public.check_id, "s3_bucket_level_public_access_block");
    assert_eq!(public.request_id, s3.request_id);
    assert_eq!(public.requested_by, "alice");
    assert_eq!(public.report_sha256, s3.artifacts[0].sha256);
    assert!(public.scanned_at.ends_with('Z'), "{}", public.scanned_at);
    assert!(
        c.evidence
            .iter()
            .any(|e| e.resource_name == "ledger-locked" && e.status == "PASS"),
        "passing buckets are evidence too"
    );
    for id in ["5.2", "5.3", "1.4", "1.5", "1.10", "1.14"] {
        assert_eq!(status(&r, id), ControlStatus::NotChecked, "{id}");
    }

    // Security groups: PASS rows for every group and check, in the report and its exports.
    let sg = scan(&deck, "show security groups open to the internet");
    let rows = |status: &str, group: &str| -> Vec<String> {
        sg.report.data["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == status && f["resource_name"] == group)
            .map(|f| f["check_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rows("FAIL", &s.ssh_open), vec![SSH]);
    assert_eq!(rows("PASS", &s.ssh_open).len(), 2);
    assert_eq!(rows("PASS", &s.closed).len(), 3);
    let csv = sg
        .report
        .files
        .iter()
        .find(|f| f.name == "findings.csv")
        .unwrap();
    let csv = String::from_utf8_lossy(&csv.content);
    assert_eq!(
        csv.lines()
            .filter(|l| l.contains(&s.closed) && l.contains(",PASS,"))
            .count(),
        3,
        "{csv}"
    );
    assert_eq!(
        sg.report.data["checks_run"].as_array().unwrap().len(),
        3,
        "{}",
        sg.report.data["checks_run"]
    );
    let r = cis(&deck);
    assert_eq!(status(&r, "5.2"), ControlStatus::Fail);
    assert_eq!(failing(&r, "5.2"), vec![(SSH, s.ssh_open.as_str())]);
    assert_eq!(
        status(&r, "2.1.4"),
        ControlStatus::Fail,
        "the S3 scan still counts"
    );

    // IAM: the console user without MFA and moto's root without MFA fail; no root keys pass.
    scan(&deck, "list IAM users without MFA");
    let r = cis(&deck);
    assert_eq!(
        failing(&r, "1.10"),
        vec![("iam_user_mfa_enabled_console_access", "dana")]
    );
    assert_eq!(status(&r, "1.5"), ControlStatus::Fail);
    assert_eq!(status(&r, "1.4"), ControlStatus::Pass);
    assert_eq!(r.scans, 3);

    // SSH closed out of band; the next scan of the region passes the control.
    let conf = seed::conf(&moto.endpoint, "us-east-1");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let g = s.ssh_open.clone();
    run(async move {
        ec2.revoke_security_group_ingress()
            .group_id(g)
            .ip_permissions(ssh_like(22, "0.0.0.0/0"))
            .send()
            .await
            .unwrap();
    });
    scan(&deck, "show security groups open to the internet");
    let r = cis(&deck);
    assert_eq!(
        status(&r, "5.2"),
        ControlStatus::Pass,
        "{:?}",
        failing(&r, "5.2")
    );
    let soc2 = deck.trail().compliance_report("soc2").unwrap();
    assert_eq!(
        status(&soc2, "CC6.6"),
        ControlStatus::Fail,
        "the public bucket"
    );
    let iso = deck.trail().compliance_report("iso27001").unwrap();
    assert_eq!(status(&iso, "A.8.20"), ControlStatus::Pass);
    assert_eq!(
        status(&iso, "A.8.24"),
        ControlStatus::Fail,
        "no default encryption"
    );

    // The binary: JSON, CSV and text for each framework; an unknown one refused with the
    // frameworks it knows.
    let report = |args: &[&str]| {
        home.cmd()
            .envs(moto.env())
            .args(["--user", "alice", "report", "compliance"])
            .args(args)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = report(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for (framework, failing_control) in [("cis", "1.10"), ("soc2", "CC6.1"), ("iso27001", "A.8.5")]
    {
        let json: Value = serde_json::from_str(&ok(&["--framework", framework, "--json"])).unwrap();
        assert_eq!(json["framework"], framework);
        let control = json["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == failing_control)
            .unwrap_or_else(|| panic!("{framework} {failing_control}"));
        assert_eq!(control["status"], "fail", "{control}");
        let e = &control["evidence"][0];
        for field in [
            "finding_uid",
            "resource_uid",
            "scanned_at",
            "request_id",
            "report_sha256",
        ] {
            assert!(
                e[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}: {e}"
            );
        }
        let csv = ok(&["--framework", framework, "--format", "csv"]);
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(&rd.headers().unwrap()[1], "control_id");
        let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        for c in json["controls"].as_array().unwrap() {
            assert!(rows.iter().any(|r| r[1] == *c["id"].as_str().unwrap()));
        }
        assert!(
            rows.iter()
                .any(|r| &r[1] == failing_control && &r[5] == "FAIL" && &r[3] == "fail")
        );
        let text = ok(&["--framework", framework]);
        assert!(
            text.contains(failing_control) && text.contains("failing evidence"),
            "{text}"
        );
    }
    let bad = report(&["--framework", "pci"]);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("unknown framework 'pci'") && said.contains("iso27001"),
        "{said}"
    );
}
