//! Cost Explorer: spend over a window with a granularity, filtered by service, region, tags or
//! environment and optionally grouped (GetCostAndUsage, every page); forecasts
//! (GetCostForecast, with month-to-date actuals beside them).
//!
//! `scope.rs` turns a request into Cost Explorer's filter and grouping; `window.rs` into the
//! dates and granularity it answers for. This file calls the API and shapes the answers.

mod scope;
pub(crate) mod window;

use std::collections::BTreeMap;

use aws_sdk_costexplorer::types::{DateInterval, Expression, GroupDefinition, Metric};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::json;

use super::{BILLING_REGION, progress, usd};
use crate::agents::{AgentRequest, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::Granularity;
use scope::scope;
use window::{Grain, Window, forecast_window, label_of, window};

const METRIC: &str = "UnblendedCost";
/// Groups shown in the table; the rest are summed into one row.
const TOP_GROUPS: usize = 25;

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

/// GetCostForecast of unblended cost over `interval`, with an 80% prediction interval.
pub(crate) async fn cost_forecast(
    ce: aws_sdk_costexplorer::Client,
    interval: DateInterval,
    grain: Grain,
    filter: Option<Expression>,
) -> std::result::Result<
    aws_sdk_costexplorer::operation::get_cost_forecast::GetCostForecastOutput,
    String,
> {
    ce.get_cost_forecast()
        .time_period(interval)
        .metric(Metric::UnblendedCost)
        .granularity(grain.sdk())
        .prediction_interval_level(80)
        .set_filter(filter)
        .send()
        .await
        .map_err(|e| crate::aws::describe_error("ce", "GetCostForecast", &e))
}

/// A forecast's total (its mean) and the sums of its 80% bounds (absent when a period has none).
pub(crate) fn forecast_totals(
    f: &aws_sdk_costexplorer::operation::get_cost_forecast::GetCostForecastOutput,
) -> (f64, Option<f64>, Option<f64>) {
    let amount = |s: Option<&str>| s.and_then(|x| x.parse::<f64>().ok());
    let results = f.forecast_results_by_time();
    let total = f
        .total()
        .and_then(|t| amount(t.amount()))
        .unwrap_or_else(|| results.iter().filter_map(|r| amount(r.mean_value())).sum());
    let lower = results
        .iter()
        .map(|r| amount(r.prediction_interval_lower_bound()))
        .sum();
    let upper = results
        .iter()
        .map(|r| amount(r.prediction_interval_upper_bound()))
        .sum();
    (total, lower, upper)
}

fn today() -> Date {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

pub fn query(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let scope = scope(req)?;
    let w = window(i.params.window.as_deref(), i.params.granularity, today())?;
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
        region: req.intent.params.region.clone(),
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

pub fn forecast(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let scope = scope(req)?;
    let today = today();
    let (start, end, label) = forecast_window(req.text, i.params.window.as_deref(), today)?;
    let grain = if i.params.granularity == Some(Granularity::Daily) {
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
        let f = cost_forecast(client.clone(), interval, grain, filter.clone()).await;
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
            let (total, lower, upper) = forecast_totals(f);
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
        columns: headings(&["PERIOD", "FORECAST", "LOWER (80%)", "UPPER (80%)"]),
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
        region: req.intent.params.region.clone(),
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
