//! Plan cost estimates from the AWS Price List API, served by a local stub that speaks its wire
//! protocol (moto does not serve it): prices and their date in the plan, the per-tenant cache,
//! the bundled table as the said offline fallback, refused price data, and the change against a
//! stack's current cost in the plan, the budget gates and the policy input.

mod common;

use common::price_list::{
    PriceListStub, alb, cloudwatch_metric, ebs_volume, ec2_instance, s3_standard,
};
use common::{Home, NO_AWS, quiet, seed};
use opsdeck::plan::{ArtifactKind, GateResult};
use opsdeck::store::{StackRecord, StackStatus};

const REGION: &str = "eu-central-1";
const WEB: &str = "Create 2 t3.medium instances in eu-central-1 with ALB";

fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// eu-central-1 list prices, as the API states them.
fn stocked() -> PriceListStub {
    let stub = PriceListStub::start();
    stub.add(ec2_instance(REGION, "t3.medium", "0.0480000000"));
    // Same type elsewhere: the regionCode filter must pick the right one.
    stub.add(ec2_instance("us-east-1", "t3.medium", "0.0416000000"));
    stub.add(ebs_volume(REGION, "gp3", "0.0952000000"));
    for p in alb(REGION, "0.0270000000", "0.0080000000") {
        stub.add(p);
    }
    stub.add(cloudwatch_metric(REGION, "0.3000000000"));
    stub.add(s3_standard(REGION, "0.0245000000"));
    stub
}

fn cache_file(home: &Home) -> std::path::PathBuf {
    home.path()
        .join("tenants")
        .join("default")
        .join("prices")
        .join(format!("{REGION}.json"))
}

#[test]
fn plan_prices_come_from_the_price_list_api_with_their_date() {
    let home = Home::new();
    let stub = stocked();
    // One product per page: the client has to follow NextToken to see the ALB's two charges.
    stub.page_size(1);
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let rec = deck.requests().ask(WEB, &quiet).unwrap();
    let cost = &rec.plan.cost;
    assert_eq!(cost.source, "AWS Price List API");
    assert_eq!(cost.price_date, today());
    assert_eq!(
        cost.basis().unwrap(),
        format!("AWS Price List API, prices of {}", today())
    );
    let monthly: Vec<(&str, f64)> = cost
        .lines
        .iter()
        .map(|l| (l.item.as_str(), l.monthly_usd))
        .collect();
    // 2 × 0.048 × 730; 16 GB × 0.0952; 0.027 × 730; 0.008 × 730; 14 metrics × 0.30
    assert_eq!(
        monthly,
        [
            ("EC2 t3.medium", 70.08),
            ("EBS gp3 root volumes (8 GB each)", 1.52),
            ("Application Load Balancer", 19.71),
            ("ALB capacity units (1 assumed)", 5.84),
            (
                "CloudWatch metrics (7 per instance, detailed monitoring)",
                4.2
            ),
        ]
    );
    assert_eq!(cost.monthly_usd, 101.35);
    assert!(
        !cost.notes.iter().any(|n| n.contains("bundled")),
        "{:?}",
        cost.notes
    );
    // What went over the wire: GetProducts per product, with the documented filters.
    let reqs = stub.requests();
    let ec2 = reqs
        .iter()
        .find(|r| {
            r["Filters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["Field"] == "instanceType")
        })
        .expect("an EC2 instance query");
    assert_eq!(ec2["ServiceCode"], "AmazonEC2");
    assert_eq!(ec2["FormatVersion"], "aws_v1");
    for (field, value) in [
        ("regionCode", REGION),
        ("instanceType", "t3.medium"),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
    ] {
        assert!(
            ec2["Filters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["Type"] == "TERM_MATCH" && f["Field"] == field && f["Value"] == value),
            "{field}={value} in {ec2}"
        );
    }
    assert!(
        reqs.iter().any(|r| r["NextToken"].is_string()),
        "the ALB's second page was fetched: {reqs:?}"
    );
    // The prices are cached for the tenant with the time they were fetched.
    let cached: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache_file(&home)).unwrap()).unwrap();
    assert_eq!(cached["region"], REGION);
    assert_eq!(cached["entries"]["ec2/t3.medium"]["usd"], 0.048);
    assert!(
        cached["entries"]["ec2/t3.medium"]["fetched_at"]
            .as_str()
            .unwrap()
            .starts_with(&today())
    );
    // The cost agent's estimates use the same prices, from the cache: no further call.
    let calls = stub.requests().len();
    let report = match deck
        .requests()
        .request("how much would 3 t3.medium in eu-central-1 cost?", &quiet)
        .unwrap()
    {
        opsdeck::pipeline::Answer::Report(r) => r,
        other => panic!("expected a report, got {other:?}"),
    };
    let est = &report.report.data["estimate"];
    assert_eq!(est["source"], "AWS Price List API");
    // 3 × 0.048 × 730 = 105.12; 24 GB × 0.0952 = 2.28
    assert_eq!(est["monthly_usd"], 107.4);
    assert_eq!(stub.requests().len(), calls);
    assert!(
        report.report.notes.iter().any(|n| n
            == &format!(
                "prices: AWS Price List API as of {}; an estimate for review, not a quote",
                today()
            )),
        "{:?}",
        report.report.notes
    );
}

#[test]
fn a_second_plan_uses_the_cache_and_an_expired_cache_is_fetched_again() {
    let home = Home::new();
    let stub = stocked();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let first = deck.requests().ask(WEB, &quiet).unwrap();
    let calls = stub.requests().len();
    assert_eq!(
        calls, 6,
        "EC2, EBS, ALB hours, ALB LCU, CloudWatch metrics, S3 storage (the log bucket's note)"
    );
    let second = deck.requests().ask(WEB, &quiet).unwrap();
    assert_eq!(stub.requests().len(), calls, "no call for cached prices");
    assert_eq!(second.plan.cost.monthly_usd, first.plan.cost.monthly_usd);
    assert_eq!(second.plan.cost.source, "AWS Price List API");

    // Older than the maximum age: fetched again.
    let path = cache_file(&home);
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 30);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cached: serde_json::Value = serde_json::from_str(&text).unwrap();
    for e in cached["entries"].as_object_mut().unwrap().values_mut() {
        e["fetched_at"] = serde_json::json!(old.to_string());
    }
    std::fs::write(&path, cached.to_string()).unwrap();
    let third = deck.requests().ask(WEB, &quiet).unwrap();
    assert_eq!(stub.requests().len(), calls * 2);
    assert_eq!(third.plan.cost.price_date, today());

    // Expired and the API unreachable: the old API price, with its date, beats the table.
    std::fs::write(&path, cached.to_string()).unwrap();
    let offline = seed::deck(&home, "alice", None, NO_AWS);
    let rec = offline.requests().ask(WEB, &quiet).unwrap();
    let old_date = old.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    assert_eq!(rec.plan.cost.source, "AWS Price List API");
    assert_eq!(rec.plan.cost.price_date, old_date);
    assert_eq!(rec.plan.cost.monthly_usd, 101.35);
    assert!(
        rec.plan.cost.notes.iter().any(|n| n.contains(&format!(
            "a cached AWS Price List API price of {old_date}, older than 7 days"
        ))),
        "{:?}",
        rec.plan.cost.notes
    );
}

#[test]
fn offline_plans_use_the_bundled_table_and_say_so_with_its_date() {
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, NO_AWS);
    let rec = deck.requests().ask(WEB, &quiet).unwrap();
    let cost = &rec.plan.cost;
    assert_eq!(cost.source, "bundled price table, offline");
    assert_eq!(cost.price_date, "2025-01-15");
    assert_eq!(
        cost.basis().unwrap(),
        "bundled price table, offline, prices of 2025-01-15"
    );
    // us-east-1 list prices × 1.15 for eu-central-1.
    assert_eq!(cost.monthly_usd, 101.76);
    assert!(
        cost.notes[0].starts_with(
            "the AWS Price List API was not used (pricing GetProducts could not reach the service"
        ) && cost.notes[0].contains("prices from the bundled table of 2025-01-15"),
        "{:?}",
        cost.notes
    );
    // Nothing was cached from a failed call.
    assert!(!cache_file(&home).exists());
}

#[test]
fn the_cli_shows_the_source_and_date_of_prices() {
    let home = Home::new();
    let stub = stocked();
    let run = |pricing: Option<&str>| {
        let mut c = home.cmd();
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        if let Some(url) = pricing {
            c.env("AWS_ENDPOINT_URL_PRICING", url);
        }
        let out = c.args(["ask", WEB]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // AWS_ENDPOINT_URL points at a closed port; AWS_ENDPOINT_URL_PRICING at the stub.
    let online = run(Some(&stub.url));
    assert!(
        online.contains(&format!(
            "cost      $101.35/month  (AWS Price List API, prices of {})",
            today()
        )),
        "{online}"
    );
    assert_eq!(stub.requests().len(), 6);
    let offline = run(None);
    // The cache answers without the API, so this tenant's plan still has the API's prices.
    assert!(
        offline.contains("$101.35/month  (AWS Price List API"),
        "{offline}"
    );
    let other = Home::new();
    let out = other.cmd().args(["ask", WEB]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "cost      $101.76/month  (bundled price table, offline, prices of 2025-01-15)"
        ),
        "{text}"
    );
}

#[test]
fn malformed_and_out_of_range_prices_are_refused_and_said() {
    let home = Home::new();
    let stub = PriceListStub::start();
    stub.add(ec2_instance(REGION, "t3.medium", "-0.0480000000"));
    stub.add(ebs_volume(REGION, "gp3", "0.0952000000"));
    for p in alb(REGION, "not a price", "0.0080000000") {
        stub.add(p);
    }
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let rec = deck.requests().ask(WEB, &quiet).unwrap();
    let cost = &rec.plan.cost;
    let notes = cost.notes.join("\n");
    assert!(
        notes.contains("refused the AWS Price List API's price for EC2 t3.medium in eu-central-1: product EC2-eu-central-1-t3.medium has USD price -0.0480000000: a price must be above zero; priced from the bundled table"),
        "{notes}"
    );
    assert!(
        notes.contains("refused the AWS Price List API's price for Application Load Balancer in eu-central-1: product ALB-eu-central-1-hours has USD price \"not a price\", not a number"),
        "{notes}"
    );
    // Never a silent zero: the refused items are priced from the table, the rest from the API.
    let line = |item: &str| {
        cost.lines
            .iter()
            .find(|l| l.item == item)
            .unwrap()
            .monthly_usd
    };
    assert_eq!(line("EC2 t3.medium"), 69.85);
    assert_eq!(line("Application Load Balancer"), 18.89);
    assert_eq!(line("EBS gp3 root volumes (8 GB each)"), 1.52);
    assert_eq!(line("ALB capacity units (1 assumed)"), 5.84);
    assert_eq!(cost.source, "AWS Price List API and bundled price table");
    assert_eq!(
        cost.price_date,
        format!("{} (API), 2025-01-15 (bundled table)", today())
    );
    // Refused data is not cached: the next plan asks again.
    let before = stub.requests().len();
    deck.requests().ask(WEB, &quiet).unwrap();
    assert_eq!(stub.requests().len(), before + 2);
}

const DELTA_POLICY: &str = r#"package opsdeck.rules.cost_change

warn contains {"rule": "cost.delta", "reason": reason} if {
	input.cost.delta_usd > 50
	reason := sprintf("adds %v a month to a stack that costs %v now (%v, %v)", [input.cost.delta_usd, input.cost.current_monthly_usd, input.cost.source, input.cost.price_date])
}
"#;

#[test]
fn a_change_to_a_stack_is_priced_against_its_cost_now_in_the_plan_budget_and_policy() {
    let home = Home::new();
    let stub = stocked();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let first = deck
        .requests()
        .ask(
            "create an auto scaling group web of 2 t3.medium in eu-central-1",
            &quiet,
        )
        .unwrap();
    // 2 × 0.048 × 730 + 16 GB × 0.0952 + 14 metrics × 0.30
    assert_eq!(first.plan.cost.monthly_usd, 75.8);
    assert_eq!(first.plan.cost.current, None);
    assert_eq!(first.plan.cost.delta_usd(), 75.8);
    // What `apply` records when it succeeds.
    deck.raw_store()
        .put_stack(&StackRecord {
            name: "web".into(),
            tenant: "default".into(),
            region: first.plan.region.clone(),
            last_applied_plan: first.plan.plan_id.clone(),
            artifacts: first
                .plan
                .artifacts
                .iter()
                .filter(|a| a.kind == ArtifactKind::Terraform)
                .cloned()
                .collect(),
            status: StackStatus::Active,
            updated_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        })
        .unwrap();
    // A budget the whole new estimate would break, and a tenant rule on the delta.
    let mut tenant = deck.raw_store().get_tenant("default").unwrap().unwrap();
    tenant.budget.monthly_usd = 200.0;
    tenant.budget.per_plan_usd = 100.0;
    tenant.budget.hard_stop = true;
    deck.raw_store().put_tenant(&tenant).unwrap();
    deck.raw_store()
        .put_tenant_policy("default", "cost_change.rego", DELTA_POLICY)
        .unwrap();

    let deck = seed::deck(&home, "alice", None, &stub.url);
    let second = deck
        .requests()
        .ask("scale the web tier to 4", &quiet)
        .unwrap();
    let cost = &second.plan.cost;
    // 4 × 0.048 × 730 + 32 GB × 0.0952 + 28 metrics × 0.30
    assert_eq!(cost.monthly_usd, 151.61);
    let now = cost.current.as_ref().expect("the stack's current cost");
    assert_eq!(now.monthly_usd, 75.8);
    assert_eq!(now.plan_id, first.plan.plan_id);
    assert_eq!(cost.delta_usd(), 75.81);
    assert_eq!(
        cost.headline(),
        "$151.61/month (+$75.81/month against $75.80/month now)"
    );
    let gate = |rule: &str| {
        second
            .plan
            .gates
            .iter()
            .find(|g| g.rule == rule)
            .unwrap_or_else(|| panic!("no {rule} in {:?}", second.plan.gates))
    };
    // The policy input carries the delta, the current cost and the prices' basis.
    let g = gate("cost.delta");
    assert_eq!(g.result, GateResult::Warn);
    assert_eq!(
        g.reason,
        format!(
            "adds 75.81 a month to a stack that costs 75.8 now (AWS Price List API, {})",
            today()
        )
    );
    // Budgets judge the change: 75.81 of a 100 per-plan limit, 75.80 + 75.81 of 200.
    let per_plan = gate("budget.per_plan");
    assert_eq!(per_plan.result, GateResult::Pass, "{}", per_plan.reason);
    assert!(
        per_plan
            .reason
            .contains("from $75.80 to $151.61/month (+$75.81/month)")
    );
    let monthly = gate("budget.monthly");
    assert_eq!(monthly.result, GateResult::Pass, "{}", monthly.reason);
    assert!(
        monthly
            .reason
            .contains("$75.80 committed (estimates of 1 active stacks; Cost Explorer not configured) + $75.81 this plan = $151.61 of the $200.00 monthly budget"),
        "{}",
        monthly.reason
    );

    // Destroying it: nothing new to price, the whole current cost saved.
    let gone = deck.requests().ask("destroy stack web", &quiet).unwrap();
    assert_eq!(gone.plan.cost.delta_usd(), -75.8);
    assert_eq!(
        gone.plan.cost.headline(),
        "$0.00/month (-$75.80/month against $75.80/month now)"
    );
    assert!(!gone.plan.gates.iter().any(|g| g.rule == "cost.delta"));
}

#[test]
fn ops_plans_price_from_the_api_and_api_plans_say_no_cost_change() {
    let Some(moto) = common::moto::Moto::get("ops_plans_price_from_the_api") else {
        return;
    };
    let _held = moto.exclusive();
    let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    let ids = seed::run(async move {
        let ami = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .unwrap()
            .images()[0]
            .image_id()
            .unwrap()
            .to_string();
        let tag = aws_sdk_ec2::types::Tag::builder()
            .key("Env")
            .value("staging")
            .build();
        let out = ec2
            .run_instances()
            .image_id(ami)
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Medium)
            .min_count(2)
            .max_count(2)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .tags(tag)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect::<Vec<_>>()
    });
    assert_eq!(ids.len(), 2);
    let stub = PriceListStub::start();
    stub.add(ec2_instance("us-east-1", "t3.medium", "0.0500000000"));
    let home = Home::new();
    let ask = |json: bool, text: &str| {
        let mut c = home.cmd();
        for (k, v) in moto.env().into_iter().chain(stub.env()) {
            c.env(k, v);
        }
        if json {
            c.arg("--json");
        }
        let out = c.args(["ask", text]).output().unwrap();
        assert!(out.status.success(), "{text}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // A restart prices nothing: no cost change, and no call for prices.
    let text = ask(false, "Restart EC2 instances tagged Env=staging");
    assert!(text.contains("\ncost      no cost change\n"), "{text}");
    assert!(stub.requests().is_empty());
    let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    seed::run(async move {
        ec2.stop_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .unwrap()
    });
    // Starting them adds their compute, priced by the API (moto for EC2, the stub for prices).
    let v: serde_json::Value =
        serde_json::from_str(&ask(true, "start the stopped staging instances")).unwrap();
    assert_eq!(v["cost"]["source"], "AWS Price List API", "{v}");
    // 2 × 0.05 × 730
    assert_eq!(v["cost"]["monthly_usd"], 73.0);
    assert_eq!(stub.requests().len(), 1);
}
