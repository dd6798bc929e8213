//! The cost agent against moto: Cost Explorer spend from queued results, forecasts, AWS Budgets
//! with alerts, savings hints from EC2/ELBv2/CloudWatch, estimates from the price table; with a
//! stub speaking Cost Explorer's protocol for GetCostForecast and GetRightsizingRecommendation,
//! which moto does not implement. Through the Deck and the real binary.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use common::Home;
use common::moto::Moto;
use jiff::ToSpan;
use jiff::civil::Date;
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::events::Output;
use opsdeck::pipeline::{Answer, Deck, OpenOptions, ReportRecord};
use serde_json::{Value, json};
use support::seed;
use support::stub::{Stub, error};

const SPEC: &str = "What is my daily EC2 spend in ap-south-1?";

fn deck(home: &Home, moto: &Moto) -> Deck {
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("alice".into()),
        endpoint_url: Some(moto.endpoint.clone()),
        ..OpenOptions::default()
    })
    .expect("open deck")
}

fn report(home: &Home, moto: &Moto, text: &str) -> ReportRecord {
    match deck(home, moto).requests().request(text, &|_| {}) {
        Ok(Answer::Report(r)) => *r,
        other => panic!("{text}: expected a report, got {other:?}"),
    }
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
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

fn table(r: &ReportRecord) -> (Vec<String>, Vec<Vec<String>>) {
    r.report
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table { columns, rows, .. } => Some((columns.clone(), rows.clone())),
            _ => None,
        })
        .expect("a table")
}

/// The real binary pointed at moto, plus any per-service endpoints.
fn binary(home: &Home, moto: &Moto, extra: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = home.cmd();
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    if args.contains(&"--endpoint-url") {
        c.env_remove("AWS_ENDPOINT_URL");
    }
    c.args(args).output().unwrap()
}

#[test]
fn spec_daily_ec2_spend_as_table_and_series() {
    let Some(moto) = Moto::get("spec_daily_spend") else {
        return;
    };
    let _held = moto.exclusive();
    let amounts = [
        41.2, 40.8, 43.5, 39.9, 44.1, 52.3, 47.0, 45.6, 44.9, 46.2, 48.8, 51.4, 49.7, 12.3,
    ];
    let start = today().checked_sub(14.days()).unwrap();
    seed::queue_cost_results(&moto.endpoint, &[seed::daily(start, &amounts)]);
    let home = Home::new();

    let r = report(&home, &moto, SPEC);
    let points = series(&r);
    assert_eq!(points.len(), 14);
    assert_eq!(
        points[5],
        (
            start.checked_add(5.days()).unwrap().to_string()[5..].to_string(),
            52.3
        )
    );
    let (columns, rows) = table(&r);
    assert_eq!(columns, vec!["PERIOD", "USD", "ESTIMATED"]);
    assert_eq!(rows.len(), 14);
    assert_eq!(rows[13][2], "yes");
    let total: f64 = amounts.iter().sum();
    assert!(
        r.report.summary.starts_with(&format!(
            "EC2 in ap-south-1 spend over the last 14 days: ${:.2} total",
            total
        )),
        "{}",
        r.report.summary
    );
    assert!(
        r.report.notes[0]
            .contains("SERVICE = Amazon Elastic Compute Cloud - Compute; REGION = ap-south-1")
    );
    assert_eq!(r.report.data["window"]["granularity"], "daily");
    assert_eq!(r.report.data["window"]["start"], start.to_string());

    // Stored and audited like every answer.
    let d = deck(&home, &moto);
    let answered = d
        .trail()
        .audit(&AuditFilter {
            event: Some("answered".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].event.agent_type.as_deref(), Some("cost"));
    let stored = d
        .raw_store()
        .get_artifact("default", &r.artifacts[0].sha256)
        .unwrap();
    assert!(String::from_utf8_lossy(&stored).contains("52.3"));

    // The real binary, same question, pointed at moto with --endpoint-url: moto answers the
    // identical request identically.
    let out = binary(
        &home,
        &moto,
        &[],
        &["--endpoint-url", &moto.endpoint, "--json", "ask", SPEC],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agent"], "cost");
    assert_eq!(v["action"], "query");
    assert_eq!(v["report"]["outputs"][0]["shape"], "series");
    assert_eq!(v["report"]["outputs"][1]["shape"], "table");
    assert_eq!(
        v["report"]["data"]["total"],
        (total * 100.0).round() / 100.0
    );
    // Without --json, the chart is drawn in the terminal.
    let out = binary(&home, &moto, &[], &["ask", SPEC]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("EC2 in ap-south-1 daily spend, the last 14 days (USD)"),
        "{text}"
    );
    assert!(text.contains('█'), "{text}");
}

#[test]
fn spend_by_service_is_ranked_with_shares() {
    let Some(moto) = Moto::get("spend_by_service") else {
        return;
    };
    let _held = moto.exclusive();
    let start = today().checked_sub(30.days()).unwrap();
    seed::queue_cost_results(
        &moto.endpoint,
        &[seed::grouped(
            start,
            30,
            &[
                ("Amazon Simple Storage Service", 2.5),
                ("Amazon Elastic Compute Cloud - Compute", 30.0),
                ("AWS Lambda", 0.5),
            ],
        )],
    );
    let home = Home::new();
    let r = report(&home, &moto, "show my AWS spend by service for last month");
    let (columns, rows) = table(&r);
    assert_eq!(columns, vec!["SERVICE", "USD", "SHARE"]);
    assert_eq!(
        rows[0],
        vec!["Amazon Elastic Compute Cloud - Compute", "$900.00", "90.9%"]
    );
    assert_eq!(rows[2][0], "AWS Lambda");
    assert_eq!(series(&r).len(), 30);
    assert_eq!(r.report.data["group_by"], "service");
}

#[test]
fn bad_cost_questions_say_what_to_ask() {
    let Some(moto) = Moto::get("bad_cost_questions") else {
        return;
    };
    let home = Home::new();
    let d = deck(&home, &moto);
    let e = d
        .requests()
        .request("show hourly EC2 spend for the last 30 days", &|_| {})
        .unwrap_err();
    assert!(e.to_string().contains("hourly data for 14 days"), "{e}");
    let e = d
        .requests()
        .request("how much would a NAT gateway in Sydney cost", &|_| {})
        .unwrap_err();
    assert!(e.to_string().contains("say what to price"), "{e}");
    let e = d
        .requests()
        .request("how much would 3 x9.large instances cost", &|_| {})
        .unwrap_err();
    assert!(
        e.to_string().contains("not in the bundled price table"),
        "{e}"
    );
}

#[test]
fn forecast_from_cost_explorer_with_month_to_date() {
    let Some(moto) = Moto::get("forecast_stub") else {
        return;
    };
    let today = today();
    let month_start = today.first_of_month();
    let days_so_far = (today - month_start).get_days() as usize + 1;
    let mtd = seed::daily(month_start, &vec![30.0; days_so_far]);
    let stub = Stub::start(move |op, body| match op {
        "GetCostForecast" => (
            200,
            json!({"Total": {"Amount": "812.4", "Unit": "USD"},
                   "ForecastResultsByTime": [{"TimePeriod": body["TimePeriod"],
                       "MeanValue": "812.4", "PredictionIntervalLowerBound": "700.1",
                       "PredictionIntervalUpperBound": "910.75"}]}),
        ),
        "GetCostAndUsage" => (200, mtd.clone()),
        other => error(400, "UnknownOperationException", other),
    });
    let home = Home::new();
    let out = binary(
        &home,
        &moto,
        &[("AWS_ENDPOINT_URL_COST_EXPLORER", &stub.endpoint)],
        &["--json", "ask", "forecast our EC2 spend"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = v["report"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("EC2 spend forecast for the rest of this month: $812.40 (80% between $700.10 and $910.75)"),
        "{summary}"
    );
    let so_far = 30.0 * days_so_far as f64;
    assert!(
        summary.contains(&format!("{} so far this month", dollars(so_far))),
        "{summary}"
    );
    let asked = &stub.calls("GetCostForecast")[0];
    assert_eq!(asked["Metric"], "UNBLENDED_COST");
    assert_eq!(asked["Granularity"], "MONTHLY");
    assert_eq!(asked["PredictionIntervalLevel"], 80);
    assert_eq!(asked["TimePeriod"]["Start"], today.to_string());
    assert_eq!(
        asked["Filter"]["Dimensions"]["Values"],
        json!(["Amazon Elastic Compute Cloud - Compute"])
    );
    assert_eq!(v["report"]["outputs"][0]["shape"], "series");
}

fn dollars(x: f64) -> String {
    let s = format!("{x:.2}");
    let (whole, cents) = s.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}.{cents}")
}

#[test]
fn forecast_without_the_service_projects_the_run_rate_and_says_so() {
    let Some(moto) = Moto::get("forecast_fallback") else {
        return;
    };
    let _held = moto.exclusive();
    let today = today();
    let month_start = today.first_of_month();
    let days_so_far = (today - month_start).get_days() as usize + 1;
    seed::queue_cost_results(
        &moto.endpoint,
        &[seed::daily(month_start, &vec![20.0; days_so_far])],
    );
    let home = Home::new();
    let r = report(&home, &moto, "forecast our AWS spend");
    assert!(
        r.report
            .notes
            .iter()
            .any(|n| n.contains("projected from the month-to-date average of $20.00 per day")),
        "{:?}",
        r.report.notes
    );
    let rest = (today.first_of_month().checked_add(1.month()).unwrap() - today).get_days();
    assert_eq!(r.report.data["forecast"], 20.0 * f64::from(rest));
    assert_eq!(
        r.report.data["source"],
        "month-to-date run rate (Cost Explorer forecast unavailable)"
    );
}

#[test]
fn budgets_with_their_alerts() {
    let Some(moto) = Moto::get("budgets") else {
        return;
    };
    let _held = moto.exclusive();
    seed::budgets(&moto.endpoint);
    let home = Home::new();
    let r = report(&home, &moto, "show all budgets and their status");
    assert_eq!(
        r.report.summary,
        "2 budgets, 1 over the limit: prod-monthly (112%); 1 alert in ALARM: prod-monthly actual > 80%"
    );
    let (columns, rows) = table(&r);
    assert_eq!(columns[6], "USED");
    let prod = rows.iter().find(|r| r[0] == "prod-monthly").unwrap();
    assert_eq!(
        &prod[3..7],
        &["$1,000.00", "$1,120.50", "$1,400.00", "112%"]
    );
    assert_eq!(prod[7], "actual > 80% ALARM");
    let mut used = series(&r);
    used.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        used,
        vec![
            ("dev-monthly".to_string(), 25.0),
            ("prod-monthly".to_string(), 112.1)
        ]
    );
    // Creating budgets is not something this agent does; it says so and what works.
    let e = deck(&home, &moto)
        .requests()
        .request("create a budget of $5,000 for the dev account", &|_| {})
        .unwrap_err();
    assert!(e.to_string().contains("not available yet"), "{e}");
}

#[test]
fn savings_hints_from_ec2_elb_and_cloudwatch() {
    let Some(moto) = Moto::get("savings_hints") else {
        return;
    };
    let _held = moto.exclusive();
    let region = "eu-west-1";
    let fleet = seed::fleet(&moto.endpoint, region);
    let albs = seed::load_balancers(&moto.endpoint, region);
    // busy-alb served requests this week, if moto takes CloudWatch data (see request_count).
    let counted = seed::request_count(&moto.endpoint, region, &albs[0], 1500.0);
    let home = Home::new();

    // In-process against moto: no rightsizing there, said; the other checks answer.
    let r = report(&home, &moto, "how can we cut costs in eu-west-1?");
    let hints = r.report.data["hints"].as_array().unwrap().clone();
    let kinds: Vec<&str> = hints.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert!(r.report.notes.iter().any(|n| {
        // moto answers the call it lacks with an error that carries no code: its HTTP status.
        n.starts_with("rightsizing check unavailable: HTTP ")
            && n.contains(" from ce GetRightsizingRecommendation: ")
    }));
    let unattached: Vec<&Value> = hints
        .iter()
        .filter(|h| h["kind"] == "unattached volume")
        .collect();
    assert_eq!(unattached.len(), 2);
    // 100 GB gp3 at $0.08 and 20 GB gp2 at $0.10, eu-west-1 factor 1.09
    assert!(unattached.iter().any(|h| {
        h["resource"]
            .as_str()
            .unwrap()
            .starts_with(&fleet.unattached[0])
            && h["monthly_savings"] == 8.72
    }));
    assert!(unattached.iter().any(|h| h["monthly_savings"] == 2.18));
    let stopped: Vec<&Value> = hints
        .iter()
        .filter(|h| h["kind"] == "stopped instance")
        .collect();
    assert_eq!(stopped.len(), 1);
    assert!(
        stopped[0]["resource"]
            .as_str()
            .unwrap()
            .starts_with(&fleet.stopped_batch)
    );
    // Idle load balancers: the check asks CloudWatch for each ALB's request count. Where moto
    // took busy-alb's count it answers the check, and only idle-alb is idle; where it cannot
    // speak CloudWatch's protocol (before 5.2.6), the report says the check could not run and
    // names no load balancer. Either way, never a guess.
    let idle: Vec<&Value> = hints
        .iter()
        .filter(|h| h["kind"] == "idle load balancer")
        .collect();
    let cloudwatch_note = r.report.notes.iter().find(|n| {
        n.starts_with("idle load balancer check unavailable: cloudwatch GetMetricStatistics")
    });
    match &counted {
        Ok(()) => {
            assert!(cloudwatch_note.is_none(), "{:?}", r.report.notes);
            assert_eq!(idle.len(), 1, "{kinds:?}");
            assert_eq!(idle[0]["resource"], "idle-alb (ALB)");
            assert_eq!(idle[0]["detail"], "no RequestCount in 7 days");
            // One ALB-hour at $0.0225 in us-east-1, × 730 hours × the eu-west-1 factor 1.09.
            assert_eq!(idle[0]["monthly_savings"], 17.9, "{:?}", idle[0]);
        }
        Err(why) => {
            assert!(idle.is_empty(), "{kinds:?}");
            assert!(cloudwatch_note.is_some(), "{why}\n{:?}", r.report.notes);
        }
    }

    // Through the binary, with Cost Explorer's rightsizing and CloudWatch's request counts
    // answered by stubs speaking their protocols.
    let cloudwatch = Stub::cbor(|op, body| {
        use support::stub::cbor::{V, encode, mentions};
        assert_eq!(op, "GetMetricStatistics");
        let points = if mentions(body, "busy-alb") {
            vec![V::Map(vec![
                ("Timestamp".into(), V::Time(1.7e9)),
                ("Sum".into(), V::F64(1500.0)),
                ("Unit".into(), V::Text("Count".into())),
            ])]
        } else {
            Vec::new()
        };
        (
            200,
            encode(&V::Map(vec![
                ("Label".into(), V::Text("RequestCount".into())),
                ("Datapoints".into(), V::Array(points)),
            ])),
        )
    });
    let stub = Stub::start(|op, _| match op {
        "GetRightsizingRecommendation" => (
            200,
            json!({"RightsizingRecommendations": [
                {"AccountId": seed::ACCOUNT, "RightsizingType": "MODIFY",
                 "CurrentInstance": {"ResourceId": "i-0aaaabbbbccccdddd", "InstanceName": "reports",
                    "MonthlyCost": "121.47",
                    "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": "m5.xlarge", "Region": "eu-west-1"}}},
                 "ModifyRecommendationDetail": {"TargetInstances": [
                    {"EstimatedMonthlySavings": "60.74",
                     "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": "m5.large"}}}]}},
                {"AccountId": seed::ACCOUNT, "RightsizingType": "TERMINATE",
                 "CurrentInstance": {"ResourceId": "i-0eeeeffff00001111",
                    "ResourceDetails": {"EC2ResourceDetails": {"InstanceType": "t3.large", "Region": "us-east-1"}}},
                 "TerminateRecommendationDetail": {"EstimatedMonthlySavings": "60.74"}}
            ]}),
        ),
        other => error(400, "UnknownOperationException", other),
    });
    let out = binary(
        &home,
        &moto,
        &[
            ("AWS_ENDPOINT_URL_COST_EXPLORER", &stub.endpoint),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &cloudwatch.endpoint),
        ],
        &["--json", "ask", "how can we cut costs in eu-west-1?"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hints = v["report"]["data"]["hints"].as_array().unwrap();
    let idle: Vec<&Value> = hints
        .iter()
        .filter(|h| h["kind"] == "idle load balancer")
        .collect();
    assert_eq!(idle.len(), 1, "{hints:?}");
    assert_eq!(idle[0]["resource"], "idle-alb (ALB)");
    // Ranked by savings: rightsizing ($60.74) before the idle ALB ($17.90).
    assert_eq!(hints[0]["kind"], "rightsizing");
    assert_eq!(cloudwatch.raw_calls("GetMetricStatistics").len(), 2);
    let rs: Vec<&Value> = hints
        .iter()
        .filter(|h| h["kind"] == "rightsizing")
        .collect();
    // Only the asked region's recommendation.
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["detail"], "m5.xlarge → m5.large");
    assert_eq!(rs[0]["resource"], "i-0aaaabbbbccccdddd (reports)");
    let asked = &stub.calls("GetRightsizingRecommendation")[0];
    assert_eq!(asked["Service"], "AmazonEC2");
}

#[test]
fn estimates_before_anything_exists() {
    let Some(moto) = Moto::get("estimates") else {
        return;
    };
    let home = Home::new();
    let r = report(
        &home,
        &moto,
        "how much would 3 t3.medium in ap-south-1 with an ALB cost?",
    );
    // 3 × 0.0416 × 730 × 1.08 = 98.39; 24 GB gp3 × 0.08 × 1.08 = 2.07; ALB 24.05
    assert_eq!(r.report.data["estimate"]["monthly_usd"], 124.51);
    assert!(
        r.report
            .summary
            .starts_with("3 × t3.medium with an ALB in ap-south-1: about $124.51/month"),
        "{}",
        r.report.summary
    );
    assert!(
        r.report
            .notes
            .iter()
            .any(|n| n.contains("as of 2025-01-15"))
    );
    let (_, rows) = table(&r);
    assert_eq!(rows.last().unwrap()[0], "total");
    // An estimate creates nothing: more instances than a plan may create are priced, and a
    // count beyond what it prices is refused, never cut to fit.
    let r = report(
        &home,
        &moto,
        "how much would 200 t3.medium in ap-south-1 cost?",
    );
    assert!(
        r.report.summary.starts_with("200 × t3.medium"),
        "{}",
        r.report.summary
    );
    let e = deck(&home, &moto)
        .requests()
        .request(
            "how much would 20000 t3.medium in ap-south-1 cost?",
            &|_| {},
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "count 20000 is out of range: a cost estimate prices 1 to 10000 instances"
    );

    // A queued plan's estimate, by its id.
    let d = deck(&home, &moto);
    let rec = d
        .requests()
        .ask("Create 2 t3.small instances in eu-west-1", &|_| {})
        .unwrap();
    let r = report(
        &home,
        &moto,
        &format!("estimate the cost of plan {}", rec.plan.plan_id),
    );
    assert_eq!(
        r.report.data["estimate"]["monthly_usd"],
        rec.plan.cost.monthly_usd
    );
    assert!(r.report.summary.contains(&rec.plan.plan_id));
    let audit = d.trail().audit(&AuditFilter::default()).unwrap();
    assert!(audit.iter().any(|e| e.event.event == EventKind::Answered));
}
