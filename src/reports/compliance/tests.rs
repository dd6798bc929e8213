use serde_json::json;

use super::*;

const SSH: &str = "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22";
const OLD_SSH: &str = "ec2_securitygroup_allow_ingress_from_internet_to_port_22";

fn finding(check: &str, resource: &str, region: &str, status: &str) -> Value {
    json!({
        "uid": format!("opsdeck-{check}-{resource}"),
        "check_id": check,
        "title": "t",
        "severity": "high",
        "risk_score": if status == "FAIL" { 80 } else { 0 },
        "status": status,
        "detail": format!("{resource} {status}"),
        "resource_uid": format!("arn:{region}:{resource}"),
        "resource_type": "AwsEc2SecurityGroup",
        "resource_name": resource,
        "region": region,
        "source": "opsdeck",
        "remediation": {"text": "x"},
    })
}

fn scan(n: u32, region: &str, checks_run: Option<&[&str]>, findings: Vec<Value>) -> ScanRecord {
    let mut data = json!({"findings": findings});
    if let Some(c) = checks_run {
        data["checks_run"] = json!(c);
    }
    ScanRecord::from_report(
        &json!({"summary": "s", "outputs": [], "notes": [], "region": region, "data": data}),
        &format!("req-{n}"),
        &format!("2026-12-0{n}T10:00:00.000Z"),
        "alice",
        false,
        &format!("sha-{n}"),
    )
    .unwrap()
}

fn control<'a>(r: &'a ComplianceReport, id: &str) -> &'a ControlResult {
    r.controls.iter().find(|c| c.id == id).unwrap()
}

#[test]
fn a_report_stored_with_the_old_security_group_ids_maps_to_todays_controls() {
    // Written before the rename: no checks_run, `…_port_22`.
    let old = scan(
        1,
        "us-east-1",
        None,
        vec![finding(OLD_SSH, "sg-1", "us-east-1", "FAIL")],
    );
    assert_eq!(old.checks_run, vec![SSH.to_string()]);
    assert_eq!(old.findings[0].check_id, SSH);
    let cis = frameworks::load(Framework::Cis).unwrap();
    let r = build("t", &cis, &[old], "2026-12-09T00:00:00.000Z");
    let c = control(&r, "5.2");
    assert_eq!(c.status, ControlStatus::Fail);
    assert_eq!(c.evidence[0].check_id, SSH);
    assert_eq!(c.evidence[0].resource_name, "sg-1");
    assert_eq!(c.evidence[0].request_id, "req-1");
    assert_eq!(c.evidence[0].scanned_at, "2026-12-01T10:00:00.000Z");
    assert_eq!(control(&r, "1.5").status, ControlStatus::NotChecked);
    assert_eq!(r.counts.not_checked, cis.controls.len() - 2);
}

#[test]
fn the_latest_full_scan_replaces_earlier_results_in_its_region_only() {
    let sg = [SSH];
    let scans = [
        scan(
            1,
            "us-east-1",
            Some(&sg),
            vec![finding(SSH, "sg-1", "us-east-1", "FAIL")],
        ),
        scan(
            2,
            "eu-west-1",
            Some(&sg),
            vec![finding(SSH, "sg-9", "eu-west-1", "PASS")],
        ),
        // The us-east-1 group was fixed: the newer scan passes it.
        scan(
            3,
            "us-east-1",
            Some(&sg),
            vec![finding(SSH, "sg-1", "us-east-1", "PASS")],
        ),
    ];
    let iso = frameworks::load(Framework::Iso27001).unwrap();
    let r = build("t", &iso, &scans, "now");
    let c = control(&r, "A.8.20");
    assert_eq!(c.status, ControlStatus::Pass, "{c:?}");
    let ssh = c.checks.iter().find(|s| s.check_id == SSH).unwrap();
    assert_eq!((ssh.pass, ssh.fail), (2, 0));
    assert_eq!(
        ssh.last_scanned.as_deref(),
        Some("2026-12-03T10:00:00.000Z")
    );
    // Other checks of the control never ran; the control passes on what did.
    assert!(
        c.checks
            .iter()
            .filter(|s| s.check_id != SSH)
            .all(|s| !s.ran)
    );

    // A scan limited to one group adds to what the full scan found.
    let mut limited = scan(
        4,
        "us-east-1",
        Some(&sg),
        vec![finding(SSH, "sg-2", "us-east-1", "FAIL")],
    );
    limited.limited = true;
    let mut more = scans.to_vec();
    more.push(limited);
    let r = build("t", &iso, &more, "now");
    let c = control(&r, "A.8.20");
    assert_eq!(c.status, ControlStatus::Fail);
    assert_eq!(
        c.evidence[0].resource_name, "sg-2",
        "failing evidence first"
    );
    assert_eq!(c.evidence.len(), 3);
}

#[test]
fn a_check_that_ran_over_nothing_is_checked_and_csv_names_every_control() {
    let s = scan(
        1,
        "us-east-1",
        Some(&["iam_root_mfa_enabled", "iam_no_root_access_key"]),
        vec![finding("iam_root_mfa_enabled", "root", "global", "FAIL")],
    );
    let cis = frameworks::load(Framework::Cis).unwrap();
    let r = build("t", &cis, &[s], "now");
    assert_eq!(control(&r, "1.5").status, ControlStatus::Fail);
    let c14 = control(&r, "1.4");
    assert_eq!(c14.status, ControlStatus::Pass, "ran, nothing failed");
    assert!(c14.evidence.is_empty());
    let csv = r.to_csv().unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(rd.headers().unwrap().len(), CSV_COLUMNS.len());
    let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
    for c in &cis.controls {
        assert!(rows.iter().any(|r| r[1] == *c.id), "{}", c.id);
    }
    let row14 = rows.iter().find(|r| &r[1] == "1.4").unwrap();
    assert_eq!(&row14[3], "pass");
    assert_eq!(&row14[12], "2026-12-01T10:00:00.000Z");
    assert_eq!(&row14[16], "true");
    let row15 = rows.iter().find(|r| &r[1] == "1.5").unwrap();
    assert_eq!(
        (&row15[5], &row15[9], &row15[13]),
        ("FAIL", "root", "req-1")
    );
    let row52 = rows.iter().find(|r| &r[1] == "5.2").unwrap();
    assert_eq!((&row52[3], &row52[16]), ("not_checked", "false"));
    // The text says what was never checked.
    let text: Vec<String> = r.outputs().iter().flat_map(|o| o.to_text()).collect();
    assert!(text.iter().any(|l| l.contains("not checked")), "{text:?}");
}

#[test]
fn external_findings_do_not_count_and_bad_reports_are_named() {
    let mut gd = finding("guardduty_recon", "i-1", "us-east-1", "FAIL");
    gd["source"] = "guardduty".into();
    let s = scan(1, "us-east-1", None, vec![gd]);
    assert!(s.findings.is_empty() && s.checks_run.is_empty());
    let e = ScanRecord::from_report(&json!({"data": {}}), "req-x", "t", "u", false, "sha")
        .unwrap_err()
        .to_string();
    assert!(e.contains("req-x"), "{e}");
}
