//! `opsdeck report cost|security|monitoring` from seeded data: Cost Explorer results queued in
//! moto, AWS Budgets and an EC2 fleet (cost); security scans the real pipeline stored against
//! moto and a remediation plan (security); an alarm in ALARM and the metrics and logs of a
//! function and a log group the tenant's past requests named (monitoring, CloudWatch through
//! the stub of tests/common as the monitor tests reach it). JSON, CSV and HTML through the
//! binary, a hostile alarm name escaped in HTML, and a refusing endpoint said in the notes.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_s3::types::BucketCannedAcl;
use common::moto::Moto;
use common::seed::{self, run, unique};
use common::stub::Stub;
use common::{Home, quiet};
use jiff::civil::Date;
use opsdeck::pipeline::{Answer, Deck};
use opsdeck::reports::{ReportDoc, ReportName, ReportOptions};
use serde_json::{Value, json};

fn build(deck: &Deck, name: ReportName) -> ReportDoc {
    deck.reports()
        .build(name, &ReportOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

fn days_between(a: Date, b: Date) -> usize {
    (b - a).get_days() as usize
}

/// The real binary reaching AWS through `endpoint`.
fn binary(home: &Home, endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut c = home.cmd();
    let target = Moto {
        endpoint: endpoint.to_string(),
    };
    for (k, v) in target.env() {
        c.env(k, v);
    }
    let out = c.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn set_budget(deck: &Deck, monthly_usd: f64) {
    let mut settings = deck.tenant().clone();
    settings.budget.monthly_usd = monthly_usd;
    deck.admin()
        .set_tenant_settings(settings, None)
        .expect("set the tenant's budget");
}

#[test]
fn cost_report_from_cost_explorer_budgets_and_savings_hints() {
    let Some(moto) = Moto::get("cost_report") else {
        return;
    };
    let _held = moto.exclusive();
    let today = today();
    let month_start = today.first_of_month();
    let last_start = month_start.yesterday().unwrap().first_of_month();
    // Last month at $10 a day, this month at $20 a day (today included).
    let last_days = days_between(last_start, month_start);
    let this_days = days_between(month_start, today) + 1;
    let mut amounts = vec![10.0; last_days];
    amounts.extend(vec![20.0; this_days]);
    let daily = support::seed::daily(last_start, &amounts);
    // The three Cost Explorer reads in the report's order: daily, by service, by region.
    support::seed::queue_cost_results(
        &moto.endpoint,
        &[
            daily,
            support::seed::grouped(
                month_start,
                this_days,
                &[
                    ("Amazon Elastic Compute Cloud - Compute", 12.0),
                    ("Amazon Simple Storage Service", 3.0),
                    ("AmazonCloudWatch", 5.0),
                ],
            ),
            support::seed::grouped(
                month_start,
                this_days,
                &[("us-east-1", 15.0), ("eu-west-1", 5.0)],
            ),
        ],
    );
    support::seed::budgets(&moto.endpoint);
    let fleet = support::seed::fleet(&moto.endpoint, "us-east-1");
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    set_budget(&deck, 400.0);
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);

    let doc = build(&deck, ReportName::Cost);
    let d = &doc.data;
    let mtd = 20.0 * this_days as f64;
    assert_eq!(d["month_to_date"], json!(mtd));
    assert_eq!(d["last_month_total"], json!(10.0 * last_days as f64));
    // Last month up to the same day (or its end when shorter).
    let same = this_days.min(last_days) as f64 * 10.0;
    assert_eq!(d["last_month_same_days"], json!(same));
    assert_eq!(
        d["change_percent"],
        json!(((mtd - same) / same * 1000.0).round() / 10.0)
    );
    assert_eq!(d["daily"].as_array().unwrap().len(), last_days + this_days);
    // moto has no GetCostForecast: the run rate projects the month, and the notes say so.
    let month_days = days_between(
        month_start,
        month_start
            .checked_add(jiff::Span::new().months(1))
            .unwrap(),
    );
    assert_eq!(d["forecast"]["source"], "run_rate");
    assert_eq!(
        d["forecast"]["month_total"],
        json!(20.0 * month_days as f64)
    );
    assert!(
        doc.notes
            .iter()
            .any(|n| n.starts_with("the Cost Explorer forecast was unavailable")),
        "{:?}",
        doc.notes
    );
    let verdict = if 20.0 * month_days as f64 > 400.0 {
        "over"
    } else {
        "within"
    };
    assert_eq!(d["budget"]["verdict"], verdict);
    assert_eq!(
        d["top_services"][0]["name"],
        "Amazon Elastic Compute Cloud - Compute"
    );
    assert_eq!(d["top_services"][0]["percent"], 60.0);
    assert_eq!(d["top_regions"][1]["name"], "eu-west-1");
    let prod = d["aws_budgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "prod-monthly")
        .expect("the prod budget");
    assert_eq!(prod["alarms"], json!(["actual > 80%"]));
    // The cost agent's savings checks: the unattached volumes and the stopped instance.
    let hints = d["savings"].as_array().unwrap();
    let resources: Vec<&str> = hints
        .iter()
        .map(|h| h["resource"].as_str().unwrap())
        .collect();
    assert!(
        resources
            .iter()
            .any(|r| r.starts_with(&fleet.unattached[0])),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .any(|r| r.starts_with(&fleet.stopped_batch))
    );
    assert!(
        doc.notes
            .iter()
            .any(|n| n.starts_with("rightsizing check unavailable")),
        "{:?}",
        doc.notes
    );
    assert!(
        doc.summary.starts_with(&format!("${mtd:.2} month to date")),
        "{}",
        doc.summary
    );
    assert!(doc.outputs.iter().any(|o| matches!(o, opsdeck::events::Output::Series { points, .. } if points.len() == last_days + this_days)));

    // JSON through the binary: the whole report.
    let out = binary(&home, &moto.endpoint, &["--json", "report", "cost"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "cost");
    assert_eq!(v["data"]["month_to_date"], json!(mtd));
    assert!(v["notes"].as_array().unwrap().len() >= 2);
    // CSV through the binary: the long form every new report shares. Cost Explorer answered
    // these requests already: moto serves the same answer to the same request.
    let out = binary(
        &home,
        &moto.endpoint,
        &["report", "cost", "--format", "csv"],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("section,row,column,value,unit"));
    assert!(
        csv.contains(
            "\"top services, month to date\",Amazon Elastic Compute Cloud - Compute,SHARE,60.0%,"
        ),
        "{csv}"
    );
}

#[test]
fn security_report_from_stored_scans_and_remediation_plans() {
    let Some(moto) = Moto::get("security_report") else {
        return;
    };
    let _held = moto.exclusive();
    let s3 = seed::s3(&moto.endpoint);
    run(async {
        for b in ["reports-public", "media-public"] {
            s3.create_bucket().bucket(b).send().await.unwrap();
            s3.put_bucket_acl()
                .bucket(b)
                .acl(BucketCannedAcl::PublicRead)
                .send()
                .await
                .unwrap();
        }
    });
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let scan = |deck: &Deck| match deck
        .requests()
        .request("scan all S3 buckets for public access", &quiet)
        .unwrap()
    {
        Answer::Report(r) => *r,
        Answer::Plan(p) => panic!("a scan is a report, got {}", p.plan.summary),
    };
    let empty = build(&deck, ReportName::Security);
    assert_eq!(empty.data["scans"], 0);
    assert!(empty.summary.starts_with("no security scan stored yet"));

    scan(&deck);
    let first = build(&deck, ReportName::Security);
    let open_first = first.data["open"].as_u64().unwrap();
    assert!(open_first >= 2, "{}", first.summary);
    // One bucket fixed out of band, then scanned again.
    run(async {
        s3.put_bucket_acl()
            .bucket("media-public")
            .acl(BucketCannedAcl::Private)
            .send()
            .await
            .unwrap();
        s3.put_public_access_block()
            .bucket("media-public")
            .public_access_block_configuration(seed::all_blocked())
            .send()
            .await
            .unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(1100));
    scan(&deck);
    let plan = match deck
        .requests()
        .request("block public access on bucket reports-public", &quiet)
        .unwrap()
    {
        Answer::Plan(p) => *p,
        Answer::Report(r) => panic!("expected a remediation plan, got {}", r.report.summary),
    };
    let doc = build(&deck, ReportName::Security);
    let d = &doc.data;
    assert_eq!(d["scans"], 2);
    let trend: Vec<u64> = d["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open_after"].as_u64().unwrap())
        .collect();
    assert_eq!(trend[0], open_first);
    assert!(trend[1] < trend[0], "{trend:?}");
    let oldest = d["oldest_open"].as_array().unwrap();
    assert!(!oldest.is_empty());
    assert!(
        oldest.iter().all(|f| f["resource_name"] != "media-public"
            || !f["check_id"].as_str().unwrap().contains("public_access")),
        "{oldest:#?}"
    );
    assert!(
        oldest
            .iter()
            .any(|f| f["resource_name"] == "reports-public")
    );
    // Open since the first scan, still seen by the second.
    assert_eq!(oldest[0]["open_since"], d["trend"][0]["scanned_at"]);
    assert_eq!(oldest[0]["last_seen"], d["trend"][1]["scanned_at"]);
    let by_sev: u64 = d["by_severity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["open"].as_u64().unwrap())
        .sum();
    assert_eq!(by_sev, d["open"].as_u64().unwrap());
    assert!(d["by_check"][0]["open"].as_u64().unwrap() > 0);
    assert_eq!(d["remediations"][0]["plan_id"], plan.plan.plan_id.as_str());
    assert_eq!(d["remediations"][0]["state"], "pending");
    assert_eq!(d["remediation_states"]["pending"], 1);

    // JSON and CSV through the binary (no AWS call: the trail and the store alone).
    let out = binary(
        &home,
        "http://127.0.0.1:1",
        &["--json", "report", "security"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "security");
    assert_eq!(v["data"]["open"], d["open"]);
    assert_eq!(v["outputs"][0]["shape"], "table");
    let out = binary(
        &home,
        "http://127.0.0.1:1",
        &["report", "security", "--format", "csv"],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.starts_with("section,row,column,value,unit\nsummary,,,"),
        "{csv}"
    );
    assert!(csv.contains("\nremediation plans,"), "{csv}");
}

#[test]
fn monitoring_report_alarms_and_watched_error_rates() {
    let Some(moto) = Moto::get("monitoring_report") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let cw = aws_sdk_cloudwatch::Client::new(&seed::conf(&stub.url, "us-east-1"));
    let logs = aws_sdk_cloudwatchlogs::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    let function = unique("orders");
    seed::lambda_metrics(&cw, &function, &[("Invocations", 120.0), ("Errors", 6.0)]);
    let group = format!("/ecs/{}", unique("web"));
    let now = seed::now_ms();
    run(async {
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("web-1")
            .send()
            .await
            .unwrap();
        let events: Vec<InputLogEvent> = (0..10i64)
            .map(|i| {
                let msg = if i % 2 == 0 {
                    format!("ERROR upstream timed out after {i}s")
                } else {
                    format!("GET /health 200 {i}ms")
                };
                InputLogEvent::builder()
                    .timestamp(now - 3_600_000 + i * 60_000)
                    .message(msg)
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name("web-1")
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    });
    // An alarm whose name is markup: the HTML page must show it, not run it.
    let hostile = format!("<script>alert('{}')</script>", unique("x"));
    run(async {
        cw.put_metric_alarm()
            .alarm_name(&hostile)
            .namespace("AWS/Lambda")
            .metric_name("Errors")
            .dimensions(
                Dimension::builder()
                    .name("FunctionName")
                    .value(&function)
                    .build(),
            )
            .statistic(Statistic::Sum)
            .period(300)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .send()
            .await
            .unwrap();
        cw.set_alarm_state()
            .alarm_name(&hostile)
            .state_value(StateValue::Alarm)
            .state_reason("Threshold Crossed: <b>6 errors</b>")
            .send()
            .await
            .unwrap();
    });
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let before = build(&deck, ReportName::Monitoring);
    assert!(before.data["watched"].as_array().unwrap().is_empty());
    assert!(
        before.summary.contains("nothing watched yet"),
        "{}",
        before.summary
    );
    // Asking about them is watching them.
    for ask in [
        format!("show invocations of lambda {function} for the last 1h"),
        format!("show error logs in {group} for the last 1h"),
    ] {
        deck.requests().request(&ask, &quiet).unwrap();
    }
    let doc = build(&deck, ReportName::Monitoring);
    let d = &doc.data;
    let alarm = d["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == hostile.as_str())
        .expect("the alarm in ALARM");
    assert_eq!(alarm["metric"], "AWS/Lambda/Errors");
    assert_eq!(alarm["region"], "us-east-1");
    let watched: Vec<(&str, &str)> = d["watched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["kind"].as_str().unwrap(), w["name"].as_str().unwrap()))
        .collect();
    assert!(
        watched.contains(&("function", function.as_str())),
        "{watched:?}"
    );
    assert!(
        watched.contains(&("log_group", group.as_str())),
        "{watched:?}"
    );
    let f = &d["functions"][0];
    assert_eq!(f["name"], function.as_str());
    assert_eq!(f["invocations"], 12.0 * 120.0);
    assert_eq!(f["errors"], 72.0);
    assert_eq!(f["error_rate"], 5.0);
    let g = &d["log_groups"][0];
    assert_eq!(g["name"], group.as_str());
    assert_eq!(g["error_events"], 5);
    assert_eq!(g["capped"], false);
    assert!(
        doc.summary
            .contains(&format!("highest error rate {function} 5.0%")),
        "{}",
        doc.summary
    );

    // HTML through the binary: one page, the markup escaped, no script anywhere.
    let page_path = home.path().join("monitoring.html");
    let out = binary(
        &home,
        &stub.url,
        &[
            "report",
            "monitoring",
            "--format",
            "html",
            "--out",
            page_path.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("monitoring report written to"));
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.to_lowercase().contains("<script"), "{page}");
    assert!(!page.contains("<b>"));
    assert!(
        page.contains(
            &hostile
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('\'', "&#39;")
        )
    );
    assert!(page.contains("Threshold Crossed: &lt;b&gt;6 errors&lt;/b&gt;"));
    // CSV: the alarm's row, its name a plain cell.
    let out = binary(
        &home,
        &stub.url,
        &["report", "monitoring", "--format", "csv"],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains(&hostile) && l.contains(",REGION,us-east-1,")),
        "{csv}"
    );
    // JSON: the whole report.
    let out = binary(&home, &stub.url, &["--json", "report", "monitoring"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "monitoring");
    assert_eq!(v["data"]["functions"][0]["error_rate"], 5.0);
    // Every report takes --format html, operations and compliance too.
    for name in ["operations", "compliance"] {
        let mut args = vec!["report", name, "--format", "html"];
        if name == "compliance" {
            args.extend(["--framework", "cis"]);
        }
        let out = binary(&home, &stub.url, &args);
        let page = String::from_utf8(out.stdout).unwrap();
        assert!(
            page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"),
            "{name}"
        );
    }
}

#[test]
fn a_service_that_is_down_is_said_in_the_notes() {
    // Nothing listens on port 1: every AWS call is refused.
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, "http://127.0.0.1:1");
    deck.requests()
        .request(
            "show error logs from lambda checkout for the last 1h",
            &quiet,
        )
        .ok();
    let cost = build(&deck, ReportName::Cost);
    assert_eq!(cost.data["month_to_date"], Value::Null);
    assert!(
        cost.summary.starts_with("no spend data"),
        "{}",
        cost.summary
    );
    for source in [
        "daily spend unavailable",
        "AWS Budgets unavailable",
        "spend by service unavailable",
    ] {
        assert!(
            cost.notes.iter().any(|n| n.starts_with(source)),
            "{source}: {:?}",
            cost.notes
        );
    }
    let monitoring = build(&deck, ReportName::Monitoring);
    assert!(
        monitoring
            .notes
            .iter()
            .any(|n| n.starts_with("CloudWatch alarms in us-east-1 unavailable")),
        "{:?}",
        monitoring.notes
    );
    // Not "no alarm": nobody knows.
    assert!(
        monitoring
            .summary
            .starts_with("alarms unknown: CloudWatch did not answer in us-east-1"),
        "{}",
        monitoring.summary
    );
    assert_eq!(monitoring.data["alarms_unread"], json!(["us-east-1"]));
}

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn aws_reports_fail_fast_through_the_binary_against_a_closed_port() {
    // The binary with its own SDK settings (3 attempts, backoff between them): without failing
    // fast each of the cost report's calls retried for seconds, ~15 s a report.
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, "http://127.0.0.1:1");
    deck.requests()
        .request("show error logs in /ecs/web for the last 1h", &quiet)
        .ok();
    drop(deck);
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    for (name, first_call) in [
        ("cost", "GetCostAndUsage"),
        ("monitoring", "DescribeAlarms"),
    ] {
        let started = std::time::Instant::now();
        let out = binary(&home, &endpoint, &["--json", "report", name]);
        let took = started.elapsed();
        println!("report {name} against a closed port: {took:.2?}");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let notes: Vec<&str> = doc["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // The first note names the endpoint, the call that found it down and why.
        let first = notes[0];
        assert!(
            first.starts_with(&format!("AWS could not be reached at {endpoint}:"))
                && first.contains(first_call)
                && first.contains("failed to connect")
                && first.contains("were not sent"),
            "{notes:#?}"
        );
        // The later calls say they were not sent, naming the endpoint, rather than each
        // retrying.
        assert!(
            notes
                .iter()
                .any(|n| n.contains(&format!("was not sent: {endpoint} could not be reached ("))),
            "{notes:#?}"
        );
        // Generous for a loaded machine; one backoff of the first call is at most a second.
        assert!(
            took < std::time::Duration::from_secs(8),
            "report {name} took {took:?} against a closed port"
        );
    }
}
