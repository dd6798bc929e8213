//! Savings hints: Cost Explorer rightsizing recommendations, stopped instances that still pay
//! for their EBS volumes, unattached volumes, and load balancers that served nothing for a week
//! (ELBv2 plus CloudWatch request counts). Storage and load balancer savings are priced from the
//! bundled table; rightsizing savings are Cost Explorer's own.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::Filter;
use serde::Serialize;
use serde_json::json;

use super::{BILLING_REGION, progress, usd};
use crate::agents::{AgentRequest, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::is_region_code;
use crate::plan::pricing::{PRICES, PriceBook, Priced, itemised};

/// Hints of each kind shown; the count says how many more there were.
const MAX_PER_KIND: usize = 100;
/// A load balancer is idle when it served nothing over this many days.
const IDLE_DAYS: u64 = 7;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hint {
    pub kind: &'static str,
    pub resource: String,
    pub detail: String,
    pub monthly_savings: f64,
    pub action: String,
}

/// One kind of check: its hints, or why it could not run.
struct Found {
    hints: Vec<Hint>,
    more: usize,
}

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let region = req.region()?;
    let service = i.params.service.as_deref();
    const ALL: &[&str] = ALL_KINDS;
    let kinds: &[&str] = if i.params.load_balancer.is_some() || service == Some("ELB") {
        &["idle load balancer"]
    } else {
        match service {
            None => ALL,
            Some("EC2") => &ALL[..3],
            Some("EBS") => &ALL[1..3],
            Some(other) => {
                return Err(Error::Unavailable(format!(
                    "the cost agent has no savings checks for {other} yet; it looks at EC2 rightsizing, stopped instances with EBS, unattached volumes and idle load balancers"
                )));
            }
        }
    };
    let Hints {
        hints,
        mut notes,
        checked,
    } = find_hints(req.aws, &region, kinds, sink)?;
    if checked.is_empty() {
        return Err(Error::Unavailable(format!(
            "no savings check could run: {}",
            notes.join("; ")
        )));
    }
    let total: f64 = hints.iter().map(|h| h.monthly_savings).sum();
    let mut by_kind: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for h in &hints {
        let e = by_kind.entry(h.kind).or_default();
        e.0 += 1;
        e.1 += h.monthly_savings;
    }
    if let Ok(t) = &*PRICES {
        notes.push(format!(
            "storage and load balancer savings from the bundled price table ({}, {}); rightsizing savings are Cost Explorer's",
            t.source, t.price_date
        ));
    }
    let summary = if hints.is_empty() {
        format!(
            "no savings hints in {region} (checked: {})",
            checked.join(", ")
        )
    } else {
        format!(
            "{} savings hints in {region}, about {}/month: {}",
            hints.len(),
            usd(total),
            by_kind
                .iter()
                .map(|(k, (n, s))| format!("{n} {k} ({})", usd(*s)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let outputs = vec![
        Output::Table {
            title: format!("savings hints in {region}"),
            columns: headings(&["HINT", "RESOURCE", "DETAIL", "SAVES/MONTH", "ACTION"]),
            rows: hints
                .iter()
                .map(|h| {
                    vec![
                        h.kind.to_string(),
                        h.resource.clone(),
                        h.detail.clone(),
                        usd(h.monthly_savings),
                        h.action.clone(),
                    ]
                })
                .collect(),
        },
        Output::Series {
            title: "monthly savings by hint".into(),
            unit: "USD".into(),
            points: by_kind
                .iter()
                .map(|(k, (_, s))| (k.to_string(), (s * 100.0).round() / 100.0))
                .collect(),
        },
    ];
    Ok(Report {
        summary,
        outputs,
        notes,
        region: Some(region),
        data: json!({"hints": hints, "total_monthly_savings": (total * 100.0).round() / 100.0, "checked": checked}),
        files: Vec::new(),
    })
}

/// Every savings check of the cost agent.
pub(crate) const ALL_KINDS: &[&str] = &[
    "rightsizing",
    "stopped instance",
    "unattached volume",
    "idle load balancer",
];

/// What the savings checks found: hints ranked by savings, notes on checks that could not run
/// (or found more than is shown), and the checks that ran.
pub(crate) struct Hints {
    pub hints: Vec<Hint>,
    pub notes: Vec<String>,
    pub checked: Vec<&'static str>,
}

/// Runs the savings checks `kinds` in `region` (the cost agent's `optimize` and the cost
/// report): a check that cannot run is a note, not an error.
pub(crate) fn find_hints(
    aws: &AwsAccess,
    region: &str,
    kinds: &[&str],
    sink: Sink<'_>,
) -> Result<Hints> {
    let want = |kind: &str| kinds.contains(&kind);
    let region = region.to_string();
    let mut notes = Vec::new();
    let mut sections: Vec<(&'static str, std::result::Result<Found, String>)> = Vec::new();
    let conf = aws.config_blocking(&region)?;

    if want("rightsizing") {
        progress(sink, "Cost Explorer: rightsizing recommendations for EC2");
        let ce = aws_sdk_costexplorer::Client::new(&aws.config_blocking(BILLING_REGION)?);
        let r = aws.block_on(rightsizing(ce, region.clone()))?;
        sections.push(("rightsizing", r));
    }
    if want("stopped instance") {
        progress(
            sink,
            format!("EC2: stopped instances with EBS volumes in {region}"),
        );
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let r = aws.block_on(stopped_with_ebs(ec2, region.clone()))?;
        sections.push(("stopped instance", r));
    }
    if want("unattached volume") {
        progress(sink, format!("EC2: unattached EBS volumes in {region}"));
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let r = aws.block_on(unattached(ec2, region.clone()))?;
        sections.push(("unattached volume", r));
    }
    if want("idle load balancer") {
        progress(
            sink,
            format!(
                "ELBv2 + CloudWatch: load balancers with no traffic for {IDLE_DAYS} days in {region}"
            ),
        );
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&conf);
        let cw = aws_sdk_cloudwatch::Client::new(&conf);
        let r = aws.block_on(idle_load_balancers(elb, cw, region.clone()))?;
        sections.push(("idle load balancer", r));
    }

    let mut hints: Vec<Hint> = Vec::new();
    let mut checked = Vec::new();
    for (kind, r) in sections {
        match r {
            Ok(found) => {
                checked.push(kind);
                if found.more > 0 {
                    notes.push(format!("{} more {kind} hints not shown", found.more));
                }
                hints.extend(found.hints);
            }
            Err(why) => notes.push(format!("{kind} check unavailable: {why}")),
        }
    }
    hints.sort_by(|a, b| {
        b.monthly_savings
            .total_cmp(&a.monthly_savings)
            .then(a.resource.cmp(&b.resource))
    });
    Ok(Hints {
        hints,
        notes,
        checked,
    })
}

fn storage_price(region: &str, volume_type: &str, gb: i32) -> f64 {
    itemised(
        &PriceBook::bundled_only(),
        region,
        &[Priced::Storage {
            item: String::new(),
            key: volume_type,
            gb: f64::from(gb),
        }],
    )
    .monthly_usd
}

async fn rightsizing(
    ce: aws_sdk_costexplorer::Client,
    region: String,
) -> std::result::Result<Found, String> {
    use aws_sdk_costexplorer::types::{
        RecommendationTarget, RightsizingRecommendationConfiguration,
    };
    let config = RightsizingRecommendationConfiguration::builder()
        .recommendation_target(RecommendationTarget::SameInstanceFamily)
        .benefits_considered(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut found = Found {
        hints: Vec::new(),
        more: 0,
    };
    let mut token: Option<String> = None;
    loop {
        let page = ce
            .get_rightsizing_recommendation()
            .service("AmazonEC2")
            .configuration(config.clone())
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| crate::aws::describe_error("ce", "GetRightsizingRecommendation", &e))?;
        for r in page.rightsizing_recommendations() {
            let Some(current) = r.current_instance() else {
                continue;
            };
            let details = current
                .resource_details()
                .and_then(|d| d.ec2_resource_details());
            // Recommendations cover the whole account; keep the asked region's.
            if let Some(r) = details.and_then(|d| d.region())
                && !region_matches(r, &region)
            {
                continue;
            }
            let from = details.and_then(|d| d.instance_type()).unwrap_or("?");
            let amount = |s: Option<&str>| s.and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            let (detail, savings, action) = match r.rightsizing_type().map(|t| t.as_str()) {
                Some("TERMINATE") => (
                    format!("{from}, idle"),
                    amount(
                        r.terminate_recommendation_detail()
                            .and_then(|t| t.estimated_monthly_savings()),
                    ),
                    "terminate (Cost Explorer finds it idle)".to_string(),
                ),
                _ => {
                    let target = r
                        .modify_recommendation_detail()
                        .and_then(|m| m.target_instances().first());
                    let to = target
                        .and_then(|t| t.resource_details())
                        .and_then(|d| d.ec2_resource_details())
                        .and_then(|d| d.instance_type())
                        .unwrap_or("?");
                    (
                        format!("{from} → {to}"),
                        amount(target.and_then(|t| t.estimated_monthly_savings())),
                        format!("resize to {to}"),
                    )
                }
            };
            if found.hints.len() >= MAX_PER_KIND {
                found.more += 1;
                continue;
            }
            let name = current.instance_name().unwrap_or_default();
            found.hints.push(Hint {
                kind: "rightsizing",
                resource: format!(
                    "{}{}",
                    current.resource_id().unwrap_or_default(),
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({name})")
                    }
                ),
                detail,
                monthly_savings: savings,
                action,
            });
        }
        token = page.next_page_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Cost Explorer names regions by code in resource details ("us-east-1") or, in older answers,
/// by name ("US East (N. Virginia)"); only codes are compared, names always match.
fn region_matches(reported: &str, asked: &str) -> bool {
    !is_region_code(reported) || reported == asked
}

async fn stopped_with_ebs(
    ec2: aws_sdk_ec2::Client,
    region: String,
) -> std::result::Result<Found, String> {
    let mut stopped: Vec<(String, String, String, Vec<String>)> = Vec::new();
    let mut more = 0;
    let mut pages = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("stopped")
                .build(),
        )
        .into_paginator()
        .page_size(crate::agents::ops::PAGE_SIZE)
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::aws::describe_error("ec2", "DescribeInstances", &e))?;
        for r in page.reservations() {
            for i in r.instances() {
                let vols: Vec<String> = i
                    .block_device_mappings()
                    .iter()
                    .filter_map(|b| b.ebs().and_then(|e| e.volume_id()).map(str::to_string))
                    .collect();
                if vols.is_empty() {
                    continue;
                }
                if stopped.len() >= MAX_PER_KIND {
                    more += 1;
                    continue;
                }
                let name = i
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("Name"))
                    .and_then(|t| t.value())
                    .unwrap_or_default()
                    .to_string();
                stopped.push((
                    i.instance_id().unwrap_or_default().to_string(),
                    name,
                    i.state_transition_reason().unwrap_or_default().to_string(),
                    vols,
                ));
            }
        }
    }
    let ids: Vec<String> = stopped.iter().flat_map(|s| s.3.clone()).collect();
    let mut sizes: BTreeMap<String, (i32, String)> = BTreeMap::new();
    for chunk in ids.chunks(200) {
        let out = ec2
            .describe_volumes()
            .set_volume_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| crate::aws::describe_error("ec2", "DescribeVolumes", &e))?;
        for v in out.volumes() {
            sizes.insert(
                v.volume_id().unwrap_or_default().to_string(),
                (
                    v.size().unwrap_or(0),
                    v.volume_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_else(|| "gp3".into()),
                ),
            );
        }
    }
    let hints = stopped
        .into_iter()
        .map(|(id, name, reason, vols)| {
            let mut gb = 0;
            let mut cost = 0.0;
            let mut types: Vec<String> = Vec::new();
            for v in &vols {
                if let Some((size, t)) = sizes.get(v) {
                    gb += size;
                    cost += storage_price(&region, t, *size);
                    if !types.contains(t) {
                        types.push(t.clone());
                    }
                }
            }
            Hint {
                kind: "stopped instance",
                resource: if name.is_empty() {
                    id
                } else {
                    format!("{id} ({name})")
                },
                detail: format!(
                    "{} EBS volume{}, {gb} GB {}{}",
                    vols.len(),
                    if vols.len() == 1 { "" } else { "s" },
                    types.join("/"),
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!("; {reason}")
                    }
                ),
                monthly_savings: cost,
                action: "snapshot the volumes and terminate it, if it is not coming back".into(),
            }
        })
        .collect();
    Ok(Found { hints, more })
}

async fn unattached(
    ec2: aws_sdk_ec2::Client,
    region: String,
) -> std::result::Result<Found, String> {
    let mut found = Found {
        hints: Vec::new(),
        more: 0,
    };
    let mut pages = ec2
        .describe_volumes()
        .filters(Filter::builder().name("status").values("available").build())
        .into_paginator()
        .page_size(crate::agents::ops::PAGE_SIZE)
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::aws::describe_error("ec2", "DescribeVolumes", &e))?;
        for v in page.volumes() {
            if found.hints.len() >= MAX_PER_KIND {
                found.more += 1;
                continue;
            }
            let size = v.size().unwrap_or(0);
            let t = v
                .volume_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(|| "gp3".into());
            let name = v
                .tags()
                .iter()
                .find(|t| t.key() == Some("Name"))
                .and_then(|t| t.value())
                .unwrap_or_default();
            found.hints.push(Hint {
                kind: "unattached volume",
                resource: format!(
                    "{}{}",
                    v.volume_id().unwrap_or_default(),
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({name})")
                    }
                ),
                detail: format!(
                    "{size} GB {t}, created {}",
                    v.create_time()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "?".into())
                ),
                monthly_savings: storage_price(&region, &t, size),
                action: "snapshot it if it matters, then delete it".into(),
            });
        }
    }
    Ok(found)
}

async fn idle_load_balancers(
    elb: aws_sdk_elasticloadbalancingv2::Client,
    cw: aws_sdk_cloudwatch::Client,
    region: String,
) -> std::result::Result<Found, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let mut found = Found {
        hints: Vec::new(),
        more: 0,
    };
    let end = SystemTime::now();
    let start = end - Duration::from_secs(IDLE_DAYS * 86_400);
    let mut pages = elb.describe_load_balancers().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| crate::aws::describe_error("elbv2", "DescribeLoadBalancers", &e))?;
        for lb in page.load_balancers() {
            let arn = lb.load_balancer_arn().unwrap_or_default();
            let name = lb.load_balancer_name().unwrap_or_default();
            let kind = lb.r#type().map(|t| t.as_str()).unwrap_or("application");
            let (namespace, metric, price_key, label) = match kind {
                "network" => ("AWS/NetworkELB", "NewFlowCount", "nlb", "NLB"),
                "application" => ("AWS/ApplicationELB", "RequestCount", "alb", "ALB"),
                _ => continue,
            };
            // CloudWatch names a load balancer by the end of its ARN: app/<name>/<id>.
            let Some(dimension) = arn.split_once(":loadbalancer/").map(|(_, s)| s) else {
                continue;
            };
            let stats = cw
                .get_metric_statistics()
                .namespace(namespace)
                .metric_name(metric)
                .dimensions(
                    Dimension::builder()
                        .name("LoadBalancer")
                        .value(dimension)
                        .build(),
                )
                .start_time(start.into())
                .end_time(end.into())
                .period(86_400)
                .statistics(Statistic::Sum)
                .send()
                .await
                .map_err(|e| crate::aws::describe_error("cloudwatch", "GetMetricStatistics", &e))?;
            let served: f64 = stats.datapoints().iter().filter_map(|d| d.sum()).sum();
            if served > 0.0 {
                continue;
            }
            if found.hints.len() >= MAX_PER_KIND {
                found.more += 1;
                continue;
            }
            let cost = itemised(
                &PriceBook::bundled_only(),
                &region,
                &[Priced::Hourly {
                    item: String::new(),
                    key: price_key,
                    quantity: 1.0,
                }],
            )
            .monthly_usd;
            found.hints.push(Hint {
                kind: "idle load balancer",
                resource: format!("{name} ({label})"),
                detail: format!("no {metric} in {IDLE_DAYS} days"),
                monthly_savings: cost,
                action: "delete it (or its stack) if nothing points at it".into(),
            });
        }
    }
    Ok(found)
}
