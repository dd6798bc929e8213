//! The monitor agent against moto: error logs of a Lambda function (grouping, time series,
//! pagination cap), metrics as charts, alarms in ALARM state, and an alarm created as an
//! approved change — in-process through `Deck::request` and through the real binary.
//!
//! CloudWatch metrics and alarms go through the stub (tests/common/stub.rs): the Rust SDK
//! speaks Smithy RPC v2 CBOR to CloudWatch, which moto answers only from 5.2.6 on; the stub
//! translates to moto's JSON protocol, so moto still holds the data whatever its release. Logs
//! go to moto directly.

mod common;

use std::sync::Arc;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StateValue};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use common::moto::Moto;
use common::seed::{self, now_ms, run, unique};
use common::stub::{Stub, cbor};
use common::{Home, Team, quiet};
use opsdeck::approval::State;
use opsdeck::events::Output;
use opsdeck::pipeline::{Answer, ReportRecord};
use opsdeck::tenant::Role;
use opsdeck::time::Clock;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

/// Seeds a Lambda log group over the last 30 hours: errors of three shapes spread over time,
/// ordinary lines in between, and errors older than 24 hours that must not count. Returns the
/// number of error events inside the last 24 hours.
fn seed_lambda_logs(endpoint: &str, function: &str) -> usize {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&seed::conf(endpoint, "us-east-1"));
    let group = format!("/aws/lambda/{function}");
    let now = now_ms();
    let mut events = Vec::new();
    let mut errors = 0;
    for i in 0..180i64 {
        // One line every 10 minutes, 30 hours back.
        let ts = now - 30 * HOUR + i * 10 * 60_000 + 1000;
        let request = format!("6f1c1b52-8a0e-4c57-9d0a-{:012x}", i * 7919);
        let (msg, is_error) = match i % 6 {
            0 => (
                format!(
                    "2026-11-24T10:00:{:02}.000Z\t{request}\tERROR\tpayment {} failed for order {}",
                    i % 60,
                    1000 + i,
                    40_000 + i * 3
                ),
                true,
            ),
            1 => (
                format!(
                    "2026-11-24T10:00:00.000Z {request} Task timed out after {}.01 seconds",
                    3 + i % 4
                ),
                true,
            ),
            2 if i % 4 == 2 => (
                format!("[ERROR] KeyError: 'customer_{}' in handler", i),
                true,
            ),
            _ => (
                format!("START RequestId: {request} Version: $LATEST"),
                false,
            ),
        };
        if is_error && ts >= now - 24 * HOUR {
            errors += 1;
        }
        events.push(
            InputLogEvent::builder()
                .timestamp(ts)
                .message(msg)
                .build()
                .unwrap(),
        );
    }
    run(async {
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        for stream in ["2026/11/24/[$LATEST]a1", "2026/11/24/[$LATEST]b2"] {
            logs.create_log_stream()
                .log_group_name(&group)
                .log_stream_name(stream)
                .send()
                .await
                .unwrap();
        }
        // Two streams, as concurrent executions write.
        let (a, b): (Vec<_>, Vec<_>) = events
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        for (stream, evs) in [("2026/11/24/[$LATEST]a1", a), ("2026/11/24/[$LATEST]b2", b)] {
            logs.put_log_events()
                .log_group_name(&group)
                .log_stream_name(stream)
                .set_log_events(Some(evs.into_iter().map(|(_, e)| e).collect()))
                .send()
                .await
                .unwrap();
        }
    });
    errors
}

fn report(a: Answer) -> ReportRecord {
    match a {
        Answer::Report(r) => *r,
        Answer::Plan(p) => panic!("expected a report, got plan {}", p.plan.summary),
    }
}

fn series(r: &ReportRecord) -> Vec<(String, f64)> {
    r.report
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Series { points, .. } => Some(points.clone()),
            _ => None,
        })
        .expect("a series")
}

fn table<'a>(r: &'a ReportRecord, title: &str) -> &'a Vec<Vec<String>> {
    r.report
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table { title: t, rows, .. } if t == title => Some(rows),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no table {title}: {:?}", r.report.outputs))
}

#[test]
fn error_logs_of_a_lambda_function_grouped_and_charted() {
    let Some(moto) = Moto::get("error_logs_of_a_lambda_function_grouped_and_charted") else {
        return;
    };
    let function = unique("checkout");
    let expected = seed_lambda_logs(&moto.endpoint, &function);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let r = report(
        deck.requests()
            .request(
                &format!("Show last 24h error logs from Lambda {function}"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(
        r.report.data["log_group"],
        format!("/aws/lambda/{function}")
    );
    assert_eq!(
        r.report.data["events_read"], expected as u64,
        "{}",
        r.report.summary
    );
    assert_eq!(r.report.data["complete"], true);
    // Three message shapes, whatever the ids, numbers and timestamps in them.
    let groups = r.report.data["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{groups:#?}");
    let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(total, expected as u64);
    assert!(
        groups[0]["signature"]
            .as_str()
            .unwrap()
            .contains("ERROR payment <n> failed for order <n>")
    );
    // The chart covers the window hour by hour and adds up to the same count.
    let points = series(&r);
    assert!((24..=25).contains(&points.len()), "{}", points.len());
    assert_eq!(points.iter().map(|p| p.1).sum::<f64>(), expected as f64);
    assert_eq!(table(&r, "repeated messages").len(), 3);
    assert!(r.report.summary.starts_with(&format!(
        "{expected} error events in /aws/lambda/{function}"
    )));
    // Ordinary lines never appear; the events file keeps them verbatim.
    let file = &r
        .report
        .files
        .iter()
        .find(|f| f.name == "events.jsonl")
        .unwrap()
        .content;
    let text = String::from_utf8_lossy(file);
    assert_eq!(text.lines().count(), expected);
    assert!(!text.contains("START RequestId"));
    // The answer is audited with the report as an artifact.
    let trail = std::fs::read_to_string(home.audit_file("default")).unwrap();
    assert!(trail.contains("\"answered\"") && trail.contains("events.jsonl"));
}

#[test]
fn unknown_log_groups_get_suggestions_and_all_logs_without_a_filter() {
    let Some(moto) = Moto::get("unknown_log_groups_get_suggestions") else {
        return;
    };
    let function = unique("billing-worker");
    seed_lambda_logs(&moto.endpoint, &function);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let typo = &function[..function.len() - 1];
    let err = deck
        .requests()
        .request(&format!("show error logs from lambda {typo}"), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("log group not found"), "{err}");
    assert!(
        err.contains(&format!("did you mean /aws/lambda/{function}")),
        "{err}"
    );
    // Without "error", every line of the window (24 hours by default: 144 lines).
    let r = report(
        deck.requests()
            .request(&format!("show logs from lambda {function}"), &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["events_read"], 144);
    assert_eq!(r.report.data["filter_pattern"], Value::Null);
    // A quoted term is the filter.
    let r = report(
        deck.requests()
            .request(
                &format!("show logs from lambda {function} matching 'KeyError'"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.report.data["filter_pattern"], "\"KeyError\"");
    assert!(
        r.report.data["groups"][0]["signature"]
            .as_str()
            .unwrap()
            .contains("KeyError")
    );
}

#[test]
fn pagination_stops_at_the_cap_and_says_what_is_left() {
    let Some(moto) = Moto::get("pagination_stops_at_the_cap") else {
        return;
    };
    let function = unique("firehose");
    let group = format!("/aws/lambda/{function}");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    let now = now_ms();
    let n = 25_000i64;
    run(async {
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("s")
            .send()
            .await
            .unwrap();
        let events: Vec<InputLogEvent> = (0..n)
            .map(|i| {
                InputLogEvent::builder()
                    .timestamp(now - 20 * HOUR + i * (20 * HOUR / n))
                    .message(format!("ERROR upstream 503 on attempt {i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        for chunk in events.chunks(10_000) {
            logs.put_log_events()
                .log_group_name(&group)
                .log_stream_name("s")
                .set_log_events(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    });
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let r = report(
        deck.requests()
            .request(
                &format!("show error logs from lambda {function} for the last 24h"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.report.data["events_read"], 20_000);
    assert_eq!(r.report.data["complete"], false);
    assert!(
        r.report.summary.starts_with("20000+ error events"),
        "{}",
        r.report.summary
    );
    let note = r
        .report
        .notes
        .iter()
        .find(|n| n.contains("the cap"))
        .expect("a cap note");
    // 5,000 events were not read: the estimate from the rate so far says about that.
    let estimate: u64 = note
        .split("about ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!((4_500..=5_500).contains(&estimate), "{note}");
    assert!(
        note.contains("aws logs filter-log-events") && note.contains(&group),
        "{note}"
    );
    // One message shape, counted in full; the file keeps a bounded sample.
    assert_eq!(r.report.data["groups"].as_array().unwrap().len(), 1);
    let file = &r
        .report
        .files
        .iter()
        .find(|f| f.name == "events.jsonl")
        .unwrap()
        .content;
    assert_eq!(String::from_utf8_lossy(file).lines().count(), 2_000);
}

/// CPU datapoints every 5 minutes over the last 6 hours, climbing from 10% to 95%.
fn seed_cpu(stub: &Stub, instance: &str) -> Vec<f64> {
    let cw = aws_sdk_cloudwatch::Client::new(&seed::conf(&stub.url, "us-east-1"));
    let now = jiff::Timestamp::now().as_second();
    let values: Vec<f64> = (0..72).map(|i| 10.0 + (i as f64) * 85.0 / 71.0).collect();
    let data: Vec<MetricDatum> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            MetricDatum::builder()
                .metric_name("CPUUtilization")
                .dimensions(
                    Dimension::builder()
                        .name("InstanceId")
                        .value(instance)
                        .build(),
                )
                .timestamp(aws_smithy_types::DateTime::from_secs(
                    now - 6 * 3600 + 60 + i as i64 * 300,
                ))
                .value(*v)
                .build()
        })
        .collect();
    run(async {
        for chunk in data.chunks(20) {
            cw.put_metric_data()
                .namespace("AWS/EC2")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    });
    values
}

fn instance_id() -> String {
    format!("i-{}", &uuid::Uuid::new_v4().simple().to_string()[..17])
}

#[test]
fn cpu_of_an_instance_as_a_chart() {
    let Some(moto) = Moto::get("cpu_of_an_instance_as_a_chart") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let instance = instance_id();
    let values = seed_cpu(&stub, &instance);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let r = report(
        deck.requests()
            .request(
                &format!("show CPU of instance {instance} over the last 6 hours"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.intent.agent, opsdeck::intent::AgentKind::Monitor);
    let points = series(&r);
    // 6 hours at 15-minute periods (three datapoints each): 24 points.
    assert_eq!(r.report.data["period"], 900);
    assert!((23..=25).contains(&points.len()), "{points:?}");
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    assert!(max > 90.0 && max <= 95.0 + 1e-9, "{max}");
    let mean_in = values.iter().sum::<f64>() / values.len() as f64;
    let mean_out = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    assert!((mean_in - mean_out).abs() < 3.0, "{mean_in} vs {mean_out}");
    assert!(
        r.report.summary.contains(&format!("CPU {instance}: avg")),
        "{}",
        r.report.summary
    );
    // The SDK spoke CBOR to CloudWatch; the stub translated it for moto.
    let calls = stub.calls_to("monitoring");
    let gmd = calls
        .iter()
        .find(|c| c.operation == "GetMetricData")
        .expect("GetMetricData");
    assert_eq!(
        gmd.body["MetricDataQueries"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"],
        json!(instance)
    );
    // Nothing for an instance that reports no data: said, not invented.
    let other = instance_id();
    let r = report(
        deck.requests()
            .request(
                &format!("show CPU of instance {other} for the last 1h"),
                &quiet,
            )
            .unwrap(),
    );
    assert!(
        r.report.summary.starts_with("no datapoints"),
        "{}",
        r.report.summary
    );
}

#[test]
fn lambda_metrics_and_load_balancer_by_name() {
    let Some(moto) = Moto::get("lambda_metrics_and_load_balancer_by_name") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let function = unique("api");
    let cw = aws_sdk_cloudwatch::Client::new(&seed::conf(&stub.url, "us-east-1"));
    let now = jiff::Timestamp::now().as_second();
    seed::lambda_metrics(&cw, &function, &[("Invocations", 120.0), ("Errors", 6.0)]);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let r = report(
        deck.requests()
            .request(
                &format!("show invocations of lambda {function} for the last 1h"),
                &quiet,
            )
            .unwrap(),
    );
    let total: f64 = series(&r).iter().map(|p| p.1).sum();
    assert_eq!(total, 12.0 * 120.0);
    let r = report(
        deck.requests()
            .request(
                &format!("show 5xx errors for function {function} in the last 1h"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.report.data["series"][0]["metric"]["name"], "Errors");
    assert_eq!(series(&r).iter().map(|p| p.1).sum::<f64>(), 72.0);

    // An ALB is found by name; its metrics use the app/<name>/<id> dimension.
    let conf = seed::conf(&moto.endpoint, "us-east-1");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
    let name = unique("web").chars().take(20).collect::<String>();
    let arn = run(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.1.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (cidr, az) in [("10.1.1.0/24", "us-east-1a"), ("10.1.2.0/24", "us-east-1b")] {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        let lb = elb
            .create_load_balancer()
            .name(&name)
            .set_subnets(Some(subnets))
            .send()
            .await
            .unwrap();
        lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string()
    });
    let dimension = arn.split_once(":loadbalancer/").unwrap().1.to_string();
    run(async {
        let data: Vec<MetricDatum> = (0..6)
            .map(|i| {
                MetricDatum::builder()
                    .metric_name("TargetResponseTime")
                    .dimensions(
                        Dimension::builder()
                            .name("LoadBalancer")
                            .value(&dimension)
                            .build(),
                    )
                    .timestamp(aws_smithy_types::DateTime::from_secs(now - 3000 + i * 300))
                    .value(0.2 + i as f64 * 0.1)
                    .build()
            })
            .collect();
        cw.put_metric_data()
            .namespace("AWS/ApplicationELB")
            .set_metric_data(Some(data))
            .send()
            .await
            .unwrap();
    });
    let r = report(
        deck.requests()
            .request(
                &format!("average latency of ALB {name} over the last 1h"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(
        r.report.data["series"][0]["target"]["LoadBalancer"]["dimension"],
        json!(dimension)
    );
    let points = series(&r);
    assert!(
        (points.iter().map(|p| p.1).fold(0.0, f64::max) - 0.7).abs() < 1e-9,
        "{points:?}"
    );
    let err = deck
        .requests()
        .request(
            "average latency of ALB no-such-alb over the last 1h",
            &quiet,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("load balancer not found: no-such-alb"),
        "{err}"
    );
}

#[test]
fn alarm_created_after_approval_then_listed_in_alarm_state() {
    let Some(moto) = Moto::get("alarm_created_after_approval") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let conf = seed::conf(&moto.endpoint, "us-east-1");
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let instance = run(async {
        let img = ec2.describe_images().send().await.unwrap();
        let ami = img.images()[0].image_id().unwrap().to_string();
        let r = ec2
            .run_instances()
            .image_id(ami)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        r.instances()[0].instance_id().unwrap().to_string()
    });
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
    let olga = seed::deck(&home, "olga", Some(clock.clone()), &stub.url);
    let rec = match olga
        .requests()
        .request(
            &format!("create an alarm when CPU of {instance} is above 80% for 10 minutes"),
            &quiet,
        )
        .unwrap()
    {
        Answer::Plan(p) => *p,
        Answer::Report(r) => panic!("expected a plan: {}", r.report.summary),
    };
    assert_eq!(rec.state, State::Pending);
    let p = &rec.plan;
    let name = format!("opsdeck-cpuutilization-{instance}-gt-80");
    let opsdeck::plan::StepKind::Aws {
        service,
        operation,
        targets,
        input,
        ..
    } = &p.steps[0].kind
    else {
        panic!("not an AWS step");
    };
    assert_eq!(
        (service.as_str(), operation.as_str()),
        ("cloudwatch", "PutMetricAlarm")
    );
    assert_eq!(targets, &vec![name.clone()]);
    assert_eq!(input["Threshold"], 80.0);
    assert_eq!(input["Period"], 300);
    assert_eq!(input["EvaluationPeriods"], 2);
    assert_eq!(input["Dimensions"][0]["Value"], json!(instance));
    // The reviewer's change list names the alarm, what it watches and that none exists yet.
    let change = opsdeck::view::AwsChangeView::of(p);
    let target = &change.calls[0].targets[0];
    assert_eq!(target.name.as_deref(), Some(name.as_str()));
    assert_eq!(target.tags, [format!("InstanceId={instance}")]);
    assert_eq!(target.transition(), "absent → set");
    assert!((p.cost.monthly_usd - 0.10).abs() < 1e-9);
    // Nothing exists before approval; the requester cannot approve their own plan.
    let cw = aws_sdk_cloudwatch::Client::new(&seed::conf(&stub.url, "us-east-1"));
    let exists = |n: String| {
        let cw = cw.clone();
        run(async move {
            !cw.describe_alarms()
                .alarm_names(n)
                .send()
                .await
                .unwrap()
                .metric_alarms()
                .is_empty()
        })
    };
    assert!(!exists(name.clone()));
    let code = t.code("olga");
    assert!(
        olga.approvals()
            .approve(&p.plan_id, None, Some(&code), None)
            .is_err()
    );
    let code = t.code("bob");
    seed::deck(&home, "bob", Some(clock.clone()), &stub.url)
        .approvals()
        .approve(&p.plan_id, None, Some(&code), None)
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let applied = rt
        .block_on(olga.runs().apply(&p.plan_id, &quiet, rx))
        .unwrap();
    assert!(applied.success, "{applied:?}");
    assert!(exists(name.clone()));
    // Once it fires, it is listed.
    run(async {
        cw.set_alarm_state()
            .alarm_name(&name)
            .state_value(StateValue::Alarm)
            .state_reason("Threshold Crossed: 2 datapoints were greater than the threshold (80.0)")
            .send()
            .await
            .unwrap();
    });
    let r = report(
        olga.requests()
            .request("show alarms in ALARM state", &quiet)
            .unwrap(),
    );
    let rows = table(&r, "alarms in ALARM state");
    let row = rows.iter().find(|r| r[0] == name).expect("the alarm");
    assert_eq!(row[2], "> 80");
    assert!(row[4].starts_with("Threshold Crossed"));
    // The trail shows the request, the approval and the outcome.
    let trail = std::fs::read_to_string(home.audit_file("default")).unwrap();
    for ev in [
        "\"queued\"",
        "\"approved\"",
        "\"executing\"",
        "\"completed\"",
    ] {
        assert!(trail.contains(ev), "{ev}");
    }
    // A threshold is needed for a CPU alarm; errors alarms default to "any".
    let err = olga
        .requests()
        .request(&format!("create an alarm on CPU of {instance}"), &quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("say when the alarm fires"), "{err}");
}

#[test]
fn through_the_real_binary_with_the_stub_for_cloudwatch() {
    let Some(moto) = Moto::get("through_the_real_binary") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let function = unique("orders");
    let expected = seed_lambda_logs(&moto.endpoint, &function);
    let home = Home::new();
    let out = home
        .cmd()
        .envs(moto.env())
        .envs(stub.env())
        .args([
            "--json",
            "ask",
            &format!("Show last 24h error logs from Lambda {function}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agent"], "monitor");
    assert_eq!(v["report"]["data"]["events_read"], expected as u64);
    assert_eq!(v["report"]["outputs"][0]["shape"], "series");
    // Without --json: the chart and the table print, then the summary.
    let out = home
        .cmd()
        .envs(moto.env())
        .envs(stub.env())
        .args([
            "ask",
            &format!("Show last 24h error logs from Lambda {function}"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("repeated messages (3 rows)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.chars().all(|c| "▁▂▃▄▅▆▇█".contains(c)) && l.chars().count() >= 24),
        "{text}"
    );

    // CloudWatch through the per-service endpoint (AWS_ENDPOINT_URL_CLOUDWATCH).
    let instance = instance_id();
    seed_cpu(&stub, &instance);
    stub.clear_calls();
    let out = home
        .cmd()
        .envs(moto.env())
        .envs(stub.env())
        .args([
            "--json",
            "ask",
            &format!("show CPU of instance {instance} over the last 6 hours"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["outputs"][0]["shape"], "series");
    assert!(
        stub.calls_to("monitoring")
            .iter()
            .any(|c| c.operation == "GetMetricData")
    );
    assert!(
        stub.calls().iter().all(|c| c.service == "monitoring"),
        "only CloudWatch goes to the stub"
    );
}

#[test]
fn cbor_codec_round_trips() {
    let v = json!({"a": [1, -2, 3.5, "x", true], "Timestamps": [1700000000.5], "Values": [2]});
    let bytes = cbor::encode(&v, &["Timestamps"], &["Values"]);
    let back = cbor::decode(&bytes).unwrap();
    assert_eq!(back["a"], v["a"]);
    assert_eq!(back["Timestamps"][0], 1700000000.5);
    assert_eq!(back["Values"][0], 2.0);
}

#[test]
fn alarm_through_the_real_binary_with_approval() {
    let Some(moto) = Moto::get("alarm_through_the_real_binary_with_approval") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let function = unique("payments");
    let home = Home::new();
    let (_alice, bob) = common::enrol_cli(&home);
    let cli = |user: &str, args: &[&str]| {
        let out = home
            .cmd()
            .envs(moto.env())
            .envs(stub.env())
            .args(["--user", user])
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
    let topic = "arn:aws:sns:us-east-1:123456789012:oncall";
    let out = cli(
        "alice",
        &[
            "--json",
            "ask",
            &format!("alert me when errors of lambda {function} exceed 5, notify {topic}"),
        ],
    );
    let id = common::plan_id(&out.stdout);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "create_alarm");
    let input = &v["steps"][0]["input"];
    assert_eq!(input["MetricName"], "Errors");
    assert_eq!(input["Statistic"], "Sum");
    assert_eq!(input["Threshold"], 5.0);
    assert_eq!(input["AlarmActions"], json!([topic]));
    // The plan as a person reads it names the API call.
    let out = cli("alice", &["plans", "show", &id]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("cloudwatch PutMetricAlarm · 1 target in us-east-1")
    );
    cli("bob", &["approve", &id, "--totp", &common::code(&bob, 0)]);
    let out = cli("alice", &["--json", "apply", &id]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(
        v["outputs"]["alarm"],
        format!("opsdeck-errors-{function}-gt-5")
    );
    let cw = aws_sdk_cloudwatch::Client::new(&seed::conf(&stub.url, "us-east-1"));
    let name = format!("opsdeck-errors-{function}-gt-5");
    let alarm = run(async move {
        cw.describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap()
            .metric_alarms()[0]
            .clone()
    });
    assert_eq!(alarm.namespace(), Some("AWS/Lambda"));
    assert_eq!(alarm.dimensions()[0].value(), Some(function.as_str()));
    assert_eq!(alarm.alarm_actions(), &[topic.to_string()]);
}
