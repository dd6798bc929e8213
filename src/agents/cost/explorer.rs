//! Cost Explorer: spend over a window with a granularity, filtered by service, region, tags or
//! environment and optionally grouped (GetCostAndUsage, every page); forecasts
//! (GetCostForecast, with month-to-date actuals beside them).

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{
    DateInterval, Dimension, DimensionValues, Expression, Granularity, GroupDefinition,
    GroupDefinitionType, Metric, TagValues,
};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::json;

use super::{BILLING_REGION, progress, usd};
use crate::agents::{AgentRequest, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink};

const METRIC: &str = "UnblendedCost";
/// Cost Explorer keeps 14 months of daily data, and hourly data for 14 days.
const MAX_DAYS: i64 = 365;
const MAX_HOURLY_DAYS: i64 = 14;
/// Groups shown in the table; the rest are summed into one row.
const TOP_GROUPS: usize = 25;

/// What a request asks about: Cost Explorer's filter and grouping, and how to say it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub filter: Option<Expression>,
    pub group: Option<(GroupDefinition, String)>,
    /// "EC2 in ap-south-1", "all services"
    pub label: String,
    pub filters_text: Vec<String>,
}

/// The services people name, as Cost Explorer's SERVICE dimension spells them.
fn service_names(service: &str) -> Option<&'static [&'static str]> {
    Some(match service {
        "EC2" => &["Amazon Elastic Compute Cloud - Compute"],
        "EBS" => &["EC2 - Other"],
        "S3" => &["Amazon Simple Storage Service"],
        "RDS" => &["Amazon Relational Database Service"],
        "Lambda" => &["AWS Lambda"],
        "DynamoDB" => &["Amazon DynamoDB"],
        "CloudWatch" => &["AmazonCloudWatch"],
        "ELB" => &["Amazon Elastic Load Balancing"],
        "CloudFront" => &["Amazon CloudFront"],
        "ECS" => &["Amazon Elastic Container Service"],
        "EKS" => &["Amazon Elastic Container Service for Kubernetes"],
        "SageMaker" => &["Amazon SageMaker"],
        "Bedrock" => &["Amazon Bedrock"],
        "Comprehend" => &["Amazon Comprehend"],
        "SecretsManager" => &["AWS Secrets Manager"],
        "GuardDuty" => &["Amazon GuardDuty"],
        "SecurityHub" => &["AWS Security Hub"],
        _ => return None,
    })
}

/// Environment tags are read under the keys people use for them.
const ENV_TAG_KEYS: &[&str] = &["Env", "Environment"];

pub(crate) fn scope(req: &AgentRequest<'_>) -> Result<Scope> {
    let i = req.intent;
    let mut parts: Vec<Expression> = Vec::new();
    let mut label = Vec::new();
    let mut text = Vec::new();
    if let Some(s) = i.param_str("service") {
        let names = service_names(s).ok_or_else(|| {
            Error::input(format!(
                "Cost Explorer has no service called {s} in opsdeck's list; ask for EC2, EBS, S3, RDS, Lambda, DynamoDB, CloudWatch, ELB, ... or for all services"
            ))
        })?;
        parts.push(
            Expression::builder()
                .dimensions(
                    DimensionValues::builder()
                        .key(Dimension::Service)
                        .set_values(Some(names.iter().map(|n| n.to_string()).collect()))
                        .build(),
                )
                .build(),
        );
        label.push(s.to_string());
        text.push(format!("SERVICE = {}", names.join(" | ")));
    }
    if let Some(r) = i.param_str("region") {
        parts.push(
            Expression::builder()
                .dimensions(
                    DimensionValues::builder()
                        .key(Dimension::Region)
                        .values(r)
                        .build(),
                )
                .build(),
        );
        label.push(format!("in {r}"));
        text.push(format!("REGION = {r}"));
    }
    for (k, v) in i.tags() {
        parts.push(
            Expression::builder()
                .tags(TagValues::builder().key(&k).values(&v).build())
                .build(),
        );
        label.push(format!("tagged {k}={v}"));
        text.push(format!("tag {k} = {v}"));
    }
    // An environment said in words (not as a tag) reads the usual environment tag keys.
    if let Some(env) = i.param_str("environment")
        && !i
            .tags()
            .keys()
            .any(|k| ENV_TAG_KEYS.iter().any(|e| e.eq_ignore_ascii_case(k)))
    {
        let values: Vec<String> = env_spellings(env);
        let either: Vec<Expression> = ENV_TAG_KEYS
            .iter()
            .map(|k| {
                Expression::builder()
                    .tags(
                        TagValues::builder()
                            .key(*k)
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .build()
            })
            .collect();
        parts.push(Expression::builder().set_or(Some(either)).build());
        label.push(format!("in {env}"));
        text.push(format!(
            "tag {} = {}",
            ENV_TAG_KEYS.join(" or "),
            values.join(" | ")
        ));
    }
    let filter = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Expression::builder().set_and(Some(parts)).build()),
    };
    let group = i.param_str("group_by").map(|g| {
        let (kind, key, shown) = match g {
            "service" => (GroupDefinitionType::Dimension, "SERVICE", "service"),
            "region" => (GroupDefinitionType::Dimension, "REGION", "region"),
            "instance_type" => (
                GroupDefinitionType::Dimension,
                "INSTANCE_TYPE",
                "instance type",
            ),
            "usage_type" => (GroupDefinitionType::Dimension, "USAGE_TYPE", "usage type"),
            "account" => (GroupDefinitionType::Dimension, "LINKED_ACCOUNT", "account"),
            tag => (
                GroupDefinitionType::Tag,
                tag.strip_prefix("tag:").unwrap_or(tag),
                "tag",
            ),
        };
        let shown = if kind == GroupDefinitionType::Tag {
            format!("tag {key}")
        } else {
            shown.to_string()
        };
        (
            GroupDefinition::builder().r#type(kind).key(key).build(),
            shown,
        )
    });
    Ok(Scope {
        filter,
        group,
        label: if label.is_empty() {
            "all services".into()
        } else {
            label.join(" ")
        },
        filters_text: text,
    })
}

/// The values an environment tag may carry for one environment.
fn env_spellings(env: &str) -> Vec<String> {
    let words: &[&str] = match env {
        "prod" => &["prod", "production", "prd", "live"],
        "staging" => &["staging", "stage", "stg"],
        "dev" => &["dev", "development"],
        "test" => &["test", "testing"],
        other => return vec![other.to_string(), capitalised(other)],
    };
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out.extend(words.iter().map(|w| capitalised(w)));
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grain {
    Hourly,
    Daily,
    Monthly,
}

impl Grain {
    fn sdk(self) -> Granularity {
        match self {
            Grain::Hourly => Granularity::Hourly,
            Grain::Daily => Granularity::Daily,
            Grain::Monthly => Granularity::Monthly,
        }
    }
    fn word(self) -> &'static str {
        match self {
            Grain::Hourly => "hourly",
            Grain::Daily => "daily",
            Grain::Monthly => "monthly",
        }
    }
}

/// A time period Cost Explorer answers for: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: Date,
    pub end: Date,
    pub grain: Grain,
    pub label: String,
}

impl Window {
    fn interval(&self) -> std::result::Result<DateInterval, String> {
        let fmt = |d: Date| {
            if self.grain == Grain::Hourly {
                format!("{d}T00:00:00Z")
            } else {
                d.to_string()
            }
        };
        DateInterval::builder()
            .start(fmt(self.start))
            .end(fmt(self.end))
            .build()
            .map_err(|e| e.to_string())
    }
}

/// The window a request means. Whole days: `Nd` is the last N complete days (today's data is
/// never complete), `mtd` runs to the end of today, hours and minutes round up to days.
pub(crate) fn window(w: Option<&str>, granularity: Option<&str>, today: Date) -> Result<Window> {
    let grain_asked = match granularity {
        Some("hourly") => Some(Grain::Hourly),
        Some("daily") => Some(Grain::Daily),
        Some("monthly") => Some(Grain::Monthly),
        _ => None,
    };
    let tomorrow = today.tomorrow().map_err(|e| Error::input(e.to_string()))?;
    let days_back = |n: i64| -> Result<Date> {
        today
            .checked_sub(n.days())
            .map_err(|e| Error::input(format!("window of {n} days: {e}")))
    };
    let (start, end, label) = match w {
        Some("mtd") => (
            today.first_of_month(),
            tomorrow,
            "month to date".to_string(),
        ),
        Some(w) => {
            let split = w
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| Error::input(format!("cannot read the time window '{w}'")))?;
            let n: i64 = w[..split]
                .parse()
                .map_err(|_| Error::input(format!("cannot read the time window '{w}'")))?;
            let days = match &w[split..] {
                "d" => n,
                "h" => (n + 23) / 24,
                "m" => 1,
                _ => return Err(Error::input(format!("cannot read the time window '{w}'"))),
            }
            .max(1);
            if days > MAX_DAYS {
                return Err(Error::input(format!(
                    "Cost Explorer answers for the last {MAX_DAYS} days at most; ask for a shorter window"
                )));
            }
            if days == 1 {
                (days_back(1)?, today, "yesterday".to_string())
            } else {
                (days_back(days)?, today, format!("the last {days} days"))
            }
        }
        None => match grain_asked {
            Some(Grain::Monthly) => {
                let start = today
                    .first_of_month()
                    .checked_sub(5.months())
                    .map_err(|e| Error::input(e.to_string()))?;
                (start, tomorrow, "the last 6 months".to_string())
            }
            Some(Grain::Hourly) => (days_back(1)?, today, "yesterday".to_string()),
            _ => (days_back(14)?, today, "the last 14 days".to_string()),
        },
    };
    let span = (end - start).get_days() as i64;
    let grain = grain_asked.unwrap_or(if span > 62 {
        Grain::Monthly
    } else {
        Grain::Daily
    });
    if grain == Grain::Hourly && span > MAX_HOURLY_DAYS {
        return Err(Error::input(format!(
            "Cost Explorer keeps hourly data for {MAX_HOURLY_DAYS} days; ask for daily spend over {label}, or hourly over a shorter window"
        )));
    }
    Ok(Window {
        start,
        end,
        grain,
        label,
    })
}

/// One period's spend.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Period {
    pub start: String,
    pub amount: f64,
    pub estimated: bool,
}

/// GetCostAndUsage over every page: totals per period and, when grouped, per group.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Spend {
    pub periods: Vec<Period>,
    pub groups: BTreeMap<String, f64>,
    pub unit: String,
    pub pages: usize,
}

pub(crate) async fn spend(
    ce: aws_sdk_costexplorer::Client,
    window: Window,
    filter: Option<Expression>,
    group: Option<GroupDefinition>,
) -> std::result::Result<Spend, String> {
    let mut out = Spend::default();
    let mut token: Option<String> = None;
    let interval = window.interval()?;
    loop {
        let page = ce
            .get_cost_and_usage()
            .time_period(interval.clone())
            .granularity(window.grain.sdk())
            .metrics(METRIC)
            .set_filter(filter.clone())
            .set_group_by(group.clone().map(|g| vec![g]))
            .set_next_page_token(token.take())
            .send()
            .await
            .map_err(|e| crate::aws::describe_error("ce", "GetCostAndUsage", &e))?;
        out.pages += 1;
        for r in page.results_by_time() {
            let start = r
                .time_period()
                .map(|t| t.start().to_string())
                .unwrap_or_default();
            let mut amount = 0.0;
            if let Some(total) = r.total().and_then(|t| t.get(METRIC)) {
                amount = total.amount().and_then(|a| a.parse().ok()).unwrap_or(0.0);
                if out.unit.is_empty() {
                    out.unit = total.unit().unwrap_or_default().to_string();
                }
            }
            // Grouped results carry their amounts in the groups; the total is then empty.
            let mut grouped = 0.0;
            for g in r.groups() {
                let Some(m) = g.metrics().and_then(|m| m.get(METRIC)) else {
                    continue;
                };
                let a: f64 = m.amount().and_then(|a| a.parse().ok()).unwrap_or(0.0);
                if out.unit.is_empty() {
                    out.unit = m.unit().unwrap_or_default().to_string();
                }
                grouped += a;
                let key = g.keys().join(" / ");
                // Tag groups come back as "Key$value"; an empty value means untagged.
                let key = match key.split_once('$') {
                    Some((_, "")) => "(untagged)".to_string(),
                    Some((_, v)) => v.to_string(),
                    None => key,
                };
                *out.groups.entry(key).or_default() += a;
            }
            if !r.groups().is_empty() {
                amount = grouped;
            }
            out.periods.push(Period {
                start,
                amount,
                estimated: r.estimated(),
            });
        }
        token = page.next_page_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    if out.unit.is_empty() {
        out.unit = "USD".into();
    }
    Ok(out)
}

fn label_of(start: &str, grain: Grain) -> String {
    match grain {
        Grain::Monthly => start.get(..7).unwrap_or(start).to_string(),
        Grain::Daily => start.get(5..10).unwrap_or(start).to_string(),
        Grain::Hourly => start
            .get(5..13)
            .map(|s| s.replace('T', " ") + ":00")
            .unwrap_or_else(|| start.to_string()),
    }
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

pub fn query(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let scope = scope(req)?;
    let w = window(i.param_str("window"), i.param_str("granularity"), today())?;
    progress(
        sink,
        format!(
            "Cost Explorer: {} {} spend, {} ({} to {})",
            scope.label,
            w.grain.word(),
            w.label,
            w.start,
            w.end
        ),
    );
    let ce = aws_sdk_costexplorer::Client::new(&req.aws.config_blocking(BILLING_REGION)?);
    let spent = req
        .aws
        .block_on(spend(
            ce,
            w.clone(),
            scope.filter.clone(),
            scope.group.as_ref().map(|g| g.0.clone()),
        ))?
        .map_err(Error::Unavailable)?;
    let unit = spent.unit.clone();
    let total: f64 = spent.periods.iter().map(|p| p.amount).sum();
    let points: Vec<(String, f64)> = spent
        .periods
        .iter()
        .map(|p| (label_of(&p.start, w.grain), round2(p.amount)))
        .collect();
    let title = format!("{} {} spend, {}", scope.label, w.grain.word(), w.label);
    let mut outputs = vec![Output::Series {
        title: title.clone(),
        unit: unit.clone(),
        points: points.clone(),
    }];
    if let Some((_, by)) = &scope.group {
        let mut groups: Vec<(&String, &f64)> = spent.groups.iter().collect();
        groups.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let mut rows: Vec<Vec<String>> = groups
            .iter()
            .take(TOP_GROUPS)
            .map(|(k, v)| vec![k.to_string(), usd(**v), share(**v, total)])
            .collect();
        if groups.len() > TOP_GROUPS {
            let rest: f64 = groups.iter().skip(TOP_GROUPS).map(|(_, v)| **v).sum();
            rows.push(vec![
                format!("({} more)", groups.len() - TOP_GROUPS),
                usd(rest),
                share(rest, total),
            ]);
        }
        outputs.push(Output::Table {
            title: format!("{} spend by {by}, {}", scope.label, w.label),
            columns: vec![by.to_uppercase(), unit.clone(), "SHARE".into()],
            rows,
        });
    } else {
        outputs.push(Output::Table {
            title,
            columns: vec!["PERIOD".into(), unit.clone(), "ESTIMATED".into()],
            rows: spent
                .periods
                .iter()
                .map(|p| {
                    vec![
                        p.start.clone(),
                        usd(p.amount),
                        if p.estimated { "yes" } else { "" }.into(),
                    ]
                })
                .collect(),
        });
    }
    let mut notes = Vec::new();
    if !scope.filters_text.is_empty() {
        notes.push(format!(
            "Cost Explorer filter: {}",
            scope.filters_text.join("; ")
        ));
    }
    if spent.periods.is_empty() {
        notes.push("Cost Explorer returned no data for this window".into());
    }
    if spent.periods.iter().any(|p| p.estimated) {
        notes.push("periods marked estimated are not final yet".into());
    }
    notes.push(format!(
        "{METRIC}, {} to {} (end exclusive); Cost Explorer data lags by up to a day",
        w.start, w.end
    ));
    let summary = if spent.periods.is_empty() {
        format!(
            "no {} spend data {} ({})",
            scope.label,
            during(&w.label),
            w.grain.word()
        )
    } else {
        let peak = spent
            .periods
            .iter()
            .max_by(|a, b| a.amount.total_cmp(&b.amount))
            .map(|p| format!("; highest {} ({})", p.start, usd(p.amount)))
            .unwrap_or_default();
        format!(
            "{} spend {}: {}{} total, {} per {} on average{peak}",
            scope.label,
            during(&w.label),
            usd(total),
            if unit == "USD" {
                String::new()
            } else {
                format!(" {unit}")
            },
            usd(total / spent.periods.len() as f64),
            match w.grain {
                Grain::Hourly => "hour",
                Grain::Daily => "day",
                Grain::Monthly => "month",
            }
        )
    };
    Ok(Report {
        summary,
        outputs,
        notes,
        region: req.intent.param_str("region").map(str::to_string),
        data: json!({
            "scope": scope.label,
            "filter": scope.filters_text,
            "group_by": scope.group.as_ref().map(|g| g.1.clone()),
            "window": {"start": w.start.to_string(), "end": w.end.to_string(), "granularity": w.grain.word(), "label": w.label},
            "metric": METRIC,
            "unit": unit,
            "total": round2(total),
            "periods": spent.periods,
            "groups": spent.groups,
        }),
        files: Vec::new(),
    })
}

/// The forecast's window: the rest of this month unless the request says otherwise.
fn forecast_window(text: &str, w: Option<&str>, today: Date) -> Result<(Date, Date, String)> {
    let lower = text.to_lowercase();
    let next_month = today
        .first_of_month()
        .checked_add(1.month())
        .map_err(|e| Error::input(e.to_string()))?;
    if lower.contains("next month") {
        let after = next_month
            .checked_add(1.month())
            .map_err(|e| Error::input(e.to_string()))?;
        return Ok((next_month, after, "next month".into()));
    }
    let days = match w {
        Some(w) if w.ends_with('d') => w.trim_end_matches('d').parse::<i64>().ok(),
        _ if lower.contains("quarter") => Some(90),
        _ => None,
    };
    if let Some(days) = days {
        // Cost Explorer forecasts at most a year ahead; a longer horizon is refused, not cut.
        if !(1..=365).contains(&days) {
            return Err(Error::input(format!(
                "forecast of {days} days is out of range: Cost Explorer forecasts 1 to 365 days ahead"
            )));
        }
        let end = today
            .checked_add(days.days())
            .map_err(|e| Error::input(e.to_string()))?;
        return Ok((today, end, format!("the next {days} days")));
    }
    Ok((today, next_month, "the rest of this month".into()))
}

pub fn forecast(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let scope = scope(req)?;
    let today = today();
    let (start, end, label) = forecast_window(req.text, i.param_str("window"), today)?;
    let grain = if i.param_str("granularity") == Some("daily") {
        Grain::Daily
    } else {
        Grain::Monthly
    };
    progress(
        sink,
        format!(
            "Cost Explorer: forecast of {} spend for {label} ({start} to {end})",
            scope.label
        ),
    );
    let ce = aws_sdk_costexplorer::Client::new(&req.aws.config_blocking(BILLING_REGION)?);
    let mtd = Window {
        start: today.first_of_month(),
        end: today.tomorrow().map_err(|e| Error::input(e.to_string()))?,
        grain: Grain::Daily,
        label: "month to date".into(),
    };
    let filter = scope.filter.clone();
    let client = ce.clone();
    let interval = DateInterval::builder()
        .start(start.to_string())
        .end(end.to_string())
        .build()
        .map_err(|e| Error::input(e.to_string()))?;
    let (forecast, actual) = req.aws.block_on(async move {
        let f = client
            .get_cost_forecast()
            .time_period(interval)
            .metric(Metric::UnblendedCost)
            .granularity(grain.sdk())
            .prediction_interval_level(80)
            .set_filter(filter.clone())
            .send()
            .await
            .map_err(|e| crate::aws::describe_error("ce", "GetCostForecast", &e));
        let a = spend(client, mtd, filter, None).await;
        (f, a)
    })?;
    let mut notes = Vec::new();
    if !scope.filters_text.is_empty() {
        notes.push(format!(
            "Cost Explorer filter: {}",
            scope.filters_text.join("; ")
        ));
    }
    let so_far: Option<f64> = actual
        .as_ref()
        .ok()
        .map(|s| s.periods.iter().map(|p| p.amount).sum());
    let mut outputs = Vec::new();
    if let Ok(a) = &actual
        && !a.periods.is_empty()
    {
        outputs.push(Output::Series {
            title: format!("{} daily spend, month to date", scope.label),
            unit: a.unit.clone(),
            points: a
                .periods
                .iter()
                .map(|p| (label_of(&p.start, Grain::Daily), round2(p.amount)))
                .collect(),
        });
    }
    let (total, lower, upper, rows, source) = match &forecast {
        Ok(f) => {
            let amount = |s: Option<&str>| s.and_then(|x| x.parse::<f64>().ok());
            let total = f
                .total()
                .and_then(|t| amount(t.amount()))
                .unwrap_or_else(|| {
                    f.forecast_results_by_time()
                        .iter()
                        .filter_map(|r| amount(r.mean_value()))
                        .sum()
                });
            let lower: Option<f64> = f
                .forecast_results_by_time()
                .iter()
                .map(|r| amount(r.prediction_interval_lower_bound()))
                .sum();
            let upper: Option<f64> = f
                .forecast_results_by_time()
                .iter()
                .map(|r| amount(r.prediction_interval_upper_bound()))
                .sum();
            let rows: Vec<Vec<String>> = f
                .forecast_results_by_time()
                .iter()
                .map(|r| {
                    vec![
                        r.time_period()
                            .map(|t| format!("{} to {}", t.start(), t.end()))
                            .unwrap_or_default(),
                        amount(r.mean_value()).map(usd).unwrap_or_default(),
                        amount(r.prediction_interval_lower_bound())
                            .map(usd)
                            .unwrap_or_default(),
                        amount(r.prediction_interval_upper_bound())
                            .map(usd)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            (
                total,
                lower,
                upper,
                rows,
                "Cost Explorer GetCostForecast, 80% prediction interval".to_string(),
            )
        }
        Err(why) => {
            // Without the service's forecast, the month-to-date run rate still answers.
            let Some(so_far) =
                so_far.filter(|_| actual.as_ref().is_ok_and(|a| !a.periods.is_empty()))
            else {
                return Err(Error::Unavailable(format!(
                    "{why}; and no month-to-date spend to project from ({})",
                    actual
                        .as_ref()
                        .err()
                        .cloned()
                        .unwrap_or_else(|| "no data".into())
                )));
            };
            let days_so_far = actual.as_ref().map(|a| a.periods.len()).unwrap_or(1).max(1) as f64;
            let days = (end - start).get_days().max(0) as f64;
            let projected = so_far / days_so_far * days;
            notes.push(format!(
                "the Cost Explorer forecast was unavailable ({why}): projected from the month-to-date average of {} per day instead",
                usd(so_far / days_so_far)
            ));
            (
                projected,
                None,
                None,
                vec![vec![
                    format!("{start} to {end}"),
                    usd(projected),
                    String::new(),
                    String::new(),
                ]],
                "month-to-date run rate (Cost Explorer forecast unavailable)".to_string(),
            )
        }
    };
    outputs.push(Output::Table {
        title: format!("{} spend forecast, {label}", scope.label),
        columns: ["PERIOD", "FORECAST", "LOWER (80%)", "UPPER (80%)"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows,
    });
    if let Err(e) = &actual {
        notes.push(format!("month-to-date spend unavailable: {e}"));
    }
    let mut summary = format!("{} spend forecast for {label}: {}", scope.label, usd(total));
    if let (Some(l), Some(u)) = (lower, upper) {
        summary.push_str(&format!(" (80% between {} and {})", usd(l), usd(u)));
    }
    if let Some(s) = so_far
        && start == today
        && end == today.first_of_month().checked_add(1.month()).unwrap_or(end)
    {
        summary.push_str(&format!(
            "; {} so far this month, about {} for the month",
            usd(s),
            usd(s + total)
        ));
    }
    notes.push(format!("source: {source}"));
    Ok(Report {
        summary,
        outputs,
        notes,
        region: req.intent.param_str("region").map(str::to_string),
        data: json!({
            "scope": scope.label,
            "filter": scope.filters_text,
            "window": {"start": start.to_string(), "end": end.to_string(), "label": label},
            "forecast": round2(total),
            "lower": lower.map(round2),
            "upper": upper.map(round2),
            "month_to_date": so_far.map(round2),
            "source": source,
        }),
        files: Vec::new(),
    })
}

/// "over the last 14 days", "yesterday", "month to date".
fn during(label: &str) -> String {
    if label.starts_with("the ") {
        format!("over {label}")
    } else {
        label.to_string()
    }
}

fn share(v: f64, total: f64) -> String {
    if total > 0.0 {
        format!("{:.1}%", 100.0 * v / total)
    } else {
        "-".into()
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn windows_are_whole_days() {
        let today = d("2025-03-10");
        let w = window(Some("7d"), None, today).unwrap();
        assert_eq!(
            (w.start, w.end, w.grain),
            (d("2025-03-03"), today, Grain::Daily)
        );
        let w = window(Some("mtd"), Some("daily"), today).unwrap();
        assert_eq!((w.start, w.end), (d("2025-03-01"), d("2025-03-11")));
        let w = window(Some("24h"), Some("hourly"), today).unwrap();
        assert_eq!(
            (w.start, w.end, w.grain),
            (d("2025-03-09"), today, Grain::Hourly)
        );
        assert_eq!(w.interval().unwrap().start(), "2025-03-09T00:00:00Z");
        let w = window(None, Some("monthly"), today).unwrap();
        assert_eq!(w.start, d("2024-10-01"));
        let w = window(Some("90d"), None, today).unwrap();
        assert_eq!(w.grain, Grain::Monthly);
        assert!(window(Some("30d"), Some("hourly"), today).is_err());
        assert!(window(Some("400d"), None, today).is_err());
    }

    #[test]
    fn forecast_windows() {
        let today = d("2025-03-10");
        assert_eq!(
            forecast_window("forecast our spend", None, today)
                .unwrap()
                .1,
            d("2025-04-01")
        );
        let (s, e, _) = forecast_window("forecast for next month", None, today).unwrap();
        assert_eq!((s, e), (d("2025-04-01"), d("2025-05-01")));
        let (_, e, _) = forecast_window("projected spend this quarter", None, today).unwrap();
        assert_eq!(e, d("2025-06-08"));
        assert!(
            forecast_window("forecast the next 400 days", Some("400d"), today)
                .unwrap_err()
                .to_string()
                .contains("forecast of 400 days is out of range")
        );
    }

    #[test]
    fn labels_and_spellings() {
        assert_eq!(label_of("2025-03-09", Grain::Daily), "03-09");
        assert_eq!(label_of("2025-03-01", Grain::Monthly), "2025-03");
        assert_eq!(env_spellings("prod")[1], "production");
    }
}
