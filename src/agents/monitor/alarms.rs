//! Alarms: the ones in ALARM state, and new metric alarms as approved changes.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::metrics::{MetricSpec, Target, metrics_for, targets, with_stat};
use crate::agents::insight::{self, aws_error, clip, from_smithy, progress, short_time};
use crate::agents::{AgentRequest, Draft, Reply, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Outcome, Output, Sink, headings};
use crate::intent::{AgentKind, Comparison};
use crate::plan::AwsCall;
use crate::plan::{ChangeAction, CostEstimate, CostLine, ResourceChange, Risk, Step, StepKind};

const AGENT: AgentKind = AgentKind::Monitor;
/// The longest breach an alarm waits for: 100 evaluation periods of 5 minutes.
const MAX_ALARM_SECS: i64 = 100 * 300;

/// A standard-resolution metric alarm, per month (us-east-1 list price).
const ALARM_USD_MONTH: f64 = 0.10;

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    progress(
        sink,
        AGENT,
        format!("reading alarms in ALARM state in {region}"),
    );
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let rows: Vec<Value> = req.aws.block_on(in_alarm(cw))??;
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
            vec![
                s("name"),
                clip(&s("metric"), 50),
                match (r["comparison"].as_str(), r["threshold"].as_f64()) {
                    (Some(c), Some(t)) => format!("{} {t}", comparison_symbol(c)),
                    _ => "-".into(),
                },
                r["since"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .map(short_time)
                    .unwrap_or_else(|| "-".into()),
                clip(&s("reason"), 80),
            ]
        })
        .collect();
    let summary = if rows.is_empty() {
        format!("no alarm is in ALARM state in {region}")
    } else {
        format!(
            "{} alarm(s) in ALARM state in {region}: {}",
            rows.len(),
            rows.iter()
                .take(5)
                .filter_map(|r| r["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(Report {
        summary,
        outputs: if rows.is_empty() {
            Vec::new()
        } else {
            vec![Output::Table {
                title: "alarms in ALARM state".into(),
                columns: headings(&["ALARM", "METRIC", "THRESHOLD", "SINCE", "REASON"]),
                rows: table_rows,
            }]
        },
        notes: vec!["only alarms in ALARM state are listed".into()],
        region: Some(region),
        data: json!({"alarms": rows}),
        files: Vec::new(),
    })
}

/// Every metric and composite alarm in ALARM state (DescribeAlarms, every page), one JSON row
/// each: the monitor agent's `alarms` answer and the monitoring report.
pub(crate) async fn in_alarm(cw: aws_sdk_cloudwatch::Client) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    let mut pages = cw
        .describe_alarms()
        .state_value(StateValue::Alarm)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("CloudWatch", "DescribeAlarms", &e))?;
        for a in page.metric_alarms() {
            rows.push(json!({
                "name": a.alarm_name(),
                "kind": "metric",
                "metric": format!("{}/{}", a.namespace().unwrap_or("-"), a.metric_name().unwrap_or("-")),
                "dimensions": a.dimensions().iter().map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or(""))).collect::<Vec<_>>(),
                "threshold": a.threshold(),
                "comparison": a.comparison_operator().map(|c| c.as_str().to_string()),
                "since": a.state_updated_timestamp().and_then(from_smithy).map(|t| t.to_string()),
                "reason": a.state_reason(),
                "actions": a.alarm_actions(),
            }));
        }
        for a in page.composite_alarms() {
            rows.push(json!({
                "name": a.alarm_name(),
                "kind": "composite",
                "metric": a.alarm_rule(),
                "since": a.state_updated_timestamp().and_then(from_smithy).map(|t| t.to_string()),
                "reason": a.state_reason(),
                "actions": a.alarm_actions(),
            }));
        }
    }
    Ok(rows)
}

pub(crate) fn comparison_symbol(c: &str) -> &str {
    match c {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => ">=",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "<=",
        other => other,
    }
}

/// `opsdeck-cpuutilization-i-0abc-gt-80`: readable, unique per metric, target and threshold.
fn alarm_name(metric: &MetricSpec, target: &Target, comparison: &str, threshold: f64) -> String {
    let raw = format!(
        "opsdeck-{}-{}-{}-{}",
        metric.name.to_lowercase(),
        target.short(),
        if comparison.starts_with("Greater") {
            "gt"
        } else {
            "lt"
        },
        threshold
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(200)
        .collect()
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let targets = targets(req, &conf, &region)?;
    if targets.len() != 1 {
        return Err(Error::input(format!(
            "one alarm watches one thing; the request names {} ({}): ask once per target",
            targets.len(),
            targets
                .iter()
                .map(Target::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let target = &targets[0];
    // "alert on errors of lambda my-func": the level word picks the errors metric.
    let word = i
        .params
        .metric
        .as_deref()
        .or(i.params.level.map(|_| "errors"));
    let metric = with_stat(metrics_for(target, word)?, i.params.stat.as_deref())
        .into_iter()
        .next()
        .ok_or_else(|| Error::input("no metric to watch"))?;
    let counts = metric.stat == "Sum";
    let (threshold, comparison) = match (i.params.threshold, i.params.comparison) {
        (Some(t), c) => (t, c.unwrap_or(Comparison::GreaterThanThreshold)),
        // Any error at all is a usual alarm; other metrics need a number.
        (None, _) if counts && word == Some("errors") => (0.0, Comparison::GreaterThanThreshold),
        (None, _) => {
            return Err(Error::input(format!(
                "say when the alarm fires: e.g. \"create an alarm when {} of {} is above 80\"",
                metric.label,
                target.short()
            )));
        }
    };
    let comparison = comparison.as_str();
    if let Target::Instance(id) = target {
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let id2 = id.clone();
        let found = req.aws.block_on(async move {
            match ec2.describe_instances().instance_ids(&id2).send().await {
                Ok(o) => Ok(o.reservations().iter().any(|r| !r.instances().is_empty())),
                Err(e)
                    if insight::error_code(&e)
                        .is_some_and(|c| c.starts_with("InvalidInstanceID")) =>
                {
                    Ok(false)
                }
                Err(e) => Err(aws_error("EC2", "DescribeInstances", &e)),
            }
        })??;
        if !found {
            return Err(Error::not_found("instance", id, format!("in {region}")));
        }
    }
    // "for 10 minutes": that long above the threshold, in 5-minute periods (1-minute ones for
    // shorter spans).
    // A stated span longer than 100 periods is refused, never cut to fit.
    let span = match i.params.window.as_deref() {
        None => {
            if counts {
                300
            } else {
                600
            }
        }
        Some(w) => insight::window_secs(w)
            .filter(|s| (60..=MAX_ALARM_SECS).contains(s))
            .ok_or_else(|| {
                Error::input(format!(
                    "alarm duration {w} is out of range: an alarm watches 1 to {} minutes of breaching (100 periods of 5 minutes), e.g. \"for 10 minutes\"",
                    MAX_ALARM_SECS / 60
                ))
            })?,
    };
    let period: i64 = if span < 300 { 60 } else { 300 };
    let periods = span / period;
    let name = alarm_name(&metric, target, comparison, threshold);
    let (dn, dv) = target.dimension();
    let topic = i.params.sns_topic.as_deref();
    let mut input = json!({
        "AlarmName": name,
        "AlarmDescription": format!("{} {} {threshold} {} for {} min (created by opsdeck)", metric.label, comparison_symbol(comparison), metric.unit, period * periods / 60),
        "Namespace": target.namespace(),
        "MetricName": metric.name,
        "Dimensions": [{"Name": dn, "Value": dv}],
        "Period": period,
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "Threshold": threshold,
        "ComparisonOperator": comparison,
        "TreatMissingData": if counts { "notBreaching" } else { "missing" },
        "AlarmActions": topic.map(|t| vec![t.to_string()]).unwrap_or_default(),
    });
    if metric.stat.starts_with('p') {
        input["ExtendedStatistic"] = json!(metric.stat);
    } else {
        input["Statistic"] = json!(metric.stat);
    }
    // Replacing an alarm of the same name is an update; say so.
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let n = name.clone();
    // The state of the alarm it replaces, if one exists (what the approver sees before).
    let existing_state = req.aws.block_on(async move {
        cw.describe_alarms()
            .alarm_names(n)
            .send()
            .await
            .map(|o| {
                o.metric_alarms()
                    .first()
                    .map(|a| a.state_value().map_or("exists", |s| s.as_str()).to_string())
            })
            .map_err(|e| aws_error("CloudWatch", "DescribeAlarms", &e))
    })??;
    let existing = existing_state.is_some();
    input[crate::view::aws_change::TARGETS_SEEN] = json!([crate::view::aws_change::target_seen(
        &name,
        &name,
        existing_state.as_deref().unwrap_or("absent"),
        &[format!("{dn}={dv}")],
    )]);
    progress(sink, AGENT, format!("alarm {name} planned"));
    let mut reasons = vec![format!(
        "creates alarm {name}: {} {} {threshold} {} over {} × {}s",
        metric.label,
        comparison_symbol(comparison),
        metric.unit,
        periods,
        period
    )];
    if existing {
        reasons.push(format!("an alarm named {name} exists and will be replaced"));
    }
    if topic.is_none() {
        reasons.push(
            "no notification target: the alarm changes state but notifies nobody (add \"notify arn:aws:sns:…\")"
                .into(),
        );
    }
    Ok(Reply::Plan(Draft {
        builtins: Vec::new(),
        summary: format!(
            "create CloudWatch alarm {name} on {} ({} {} {threshold} {})",
            target.describe(),
            metric.label,
            comparison_symbol(comparison),
            metric.unit
        ),
        stack: None,
        region: Some(region.clone()),
        steps: vec![Step {
            description: format!("CloudWatch PutMetricAlarm {name}"),
            mutates: true,
            kind: StepKind::Aws {
                agent: AGENT,
                service: "cloudwatch".into(),
                operation: "PutMetricAlarm".into(),
                region,
                targets: vec![name.clone()],
                input,
            },
        }],
        files: Vec::new(),
        resources: vec![ResourceChange {
            address: format!("cloudwatch_metric_alarm.{name}"),
            action: if existing {
                ChangeAction::Update
            } else {
                ChangeAction::Create
            },
            count: 1,
        }],
        mutates: true,
        risk: if existing { Risk::Medium } else { Risk::Low },
        risk_reasons: reasons,
        cost: CostEstimate {
            monthly_usd: ALARM_USD_MONTH,
            lines: vec![CostLine {
                item: "CloudWatch metric alarm (standard resolution)".into(),
                quantity: 1.0,
                unit: "alarm".into(),
                hourly_usd: ALARM_USD_MONTH / 730.0,
                monthly_usd: ALARM_USD_MONTH,
            }],
            source: "CloudWatch list price, us-east-1".into(),
            price_date: "2025-01".into(),
            notes: Vec::new(),
            current: None,
        },
    }))
}

pub async fn execute(
    step: &Step,
    call: &AwsCall<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let AwsCall {
        service,
        operation,
        region,
        targets,
        input,
    } = *call;
    if (service, operation) != ("cloudwatch", "PutMetricAlarm") {
        return Err(Error::Unavailable(format!(
            "the monitor agent does not run {service} {operation}; step '{}' cannot run",
            step.description
        )));
    }
    if *cancel.borrow() {
        return Ok(Outcome::failed(
            "cancelled before the alarm was created\n".into(),
            None,
            true,
        ));
    }
    let name = targets
        .first()
        .ok_or_else(|| Error::input("the step names no alarm"))?;
    if input["AlarmName"].as_str() != Some(name.as_str()) {
        return Err(Error::input(format!(
            "step input names alarm {} but the target is {name}",
            input["AlarmName"]
        )));
    }
    let cw = aws_sdk_cloudwatch::Client::new(&aws.config(region).await);
    let s = |k: &str| input[k].as_str().map(str::to_string);
    let dims: Vec<Dimension> = input["Dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            Dimension::builder()
                .name(d["Name"].as_str().unwrap_or_default())
                .value(d["Value"].as_str().unwrap_or_default())
                .build()
        })
        .collect();
    let actions: Vec<String> = input["AlarmActions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let put = cw
        .put_metric_alarm()
        .alarm_name(name)
        .set_alarm_description(s("AlarmDescription"))
        .set_namespace(s("Namespace"))
        .set_metric_name(s("MetricName"))
        .set_dimensions(Some(dims))
        .set_statistic(s("Statistic").map(|x| Statistic::from(x.as_str())))
        .set_extended_statistic(s("ExtendedStatistic"))
        .set_period(input["Period"].as_i64().map(|p| p as i32))
        .set_evaluation_periods(input["EvaluationPeriods"].as_i64().map(|p| p as i32))
        .set_datapoints_to_alarm(input["DatapointsToAlarm"].as_i64().map(|p| p as i32))
        .set_threshold(input["Threshold"].as_f64())
        .set_comparison_operator(
            s("ComparisonOperator").map(|c| ComparisonOperator::from(c.as_str())),
        )
        .set_treat_missing_data(s("TreatMissingData"))
        .set_alarm_actions((!actions.is_empty()).then_some(actions))
        .send();
    // Noted with its target: a cancel that abandons it says which alarm it was for.
    crate::aws::calls::on_targets(std::slice::from_ref(name), put)
        .await
        .map_err(|e| aws_error("CloudWatch", "PutMetricAlarm", &e))?;
    let back = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| aws_error("CloudWatch", "DescribeAlarms", &e))?;
    let Some(a) = back.metric_alarms().first() else {
        return Err(Error::Execution(format!(
            "PutMetricAlarm succeeded but alarm {name} does not read back"
        )));
    };
    let line = format!(
        "alarm {name} created: {} {} {}, state {}",
        a.metric_name().unwrap_or("-"),
        a.comparison_operator()
            .map(|c| comparison_symbol(c.as_str()).to_string())
            .unwrap_or_default(),
        a.threshold().unwrap_or_default(),
        a.state_value()
            .map(|s| s.as_str())
            .unwrap_or("INSUFFICIENT_DATA")
    );
    progress(sink, AGENT, line.clone());
    Ok(Outcome {
        success: true,
        cancelled: false,
        exit_code: None,
        log: format!("{line}\n"),
        outputs: Some(json!({"alarm": name, "arn": a.alarm_arn()})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_names_are_safe() {
        let m = MetricSpec {
            name: "CPUUtilization".into(),
            stat: "Average".into(),
            unit: "%".into(),
            label: "CPU".into(),
        };
        let n = alarm_name(
            &m,
            &Target::Instance("i-0123456789abcdef0".into()),
            "GreaterThanThreshold",
            80.0,
        );
        assert_eq!(n, "opsdeck-cpuutilization-i-0123456789abcdef0-gt-80");
        let n = alarm_name(
            &m,
            &Target::Function("a b/c".into()),
            "LessThanThreshold",
            0.5,
        );
        assert_eq!(n, "opsdeck-cpuutilization-a-b-c-lt-0.5");
    }
}
