//! Metrics of one thing (an instance, a Lambda function, a load balancer) over a window, read
//! with GetMetricData at a period that gives a readable chart, one series per metric.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::agents::insight::{self, Window, aws_error, from_smithy, progress, to_smithy};
use crate::agents::{AgentRequest, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Output, Sink};
use crate::intent::AgentKind;

const AGENT: AgentKind = AgentKind::Monitor;
/// Points per series at most; the period grows with the window to stay under it.
const MAX_POINTS: i64 = 60;

/// What the metrics are about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    Instance(String),
    Function(String),
    /// Name, the `app/name/id` dimension value, and whether it is a network load balancer.
    LoadBalancer {
        name: String,
        dimension: String,
        network: bool,
    },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Instance(i) => format!("instance {i}"),
            Target::Function(f) => format!("Lambda function {f}"),
            Target::LoadBalancer { name, network, .. } => {
                format!("{} {name}", if *network { "NLB" } else { "ALB" })
            }
        }
    }
    pub fn namespace(&self) -> &'static str {
        match self {
            Target::Instance(_) => "AWS/EC2",
            Target::Function(_) => "AWS/Lambda",
            Target::LoadBalancer { network: false, .. } => "AWS/ApplicationELB",
            Target::LoadBalancer { network: true, .. } => "AWS/NetworkELB",
        }
    }
    pub fn dimension(&self) -> (&'static str, &str) {
        match self {
            Target::Instance(i) => ("InstanceId", i),
            Target::Function(f) => ("FunctionName", f),
            Target::LoadBalancer { dimension, .. } => ("LoadBalancer", dimension),
        }
    }
    pub fn short(&self) -> &str {
        match self {
            Target::Instance(i) => i,
            Target::Function(f) => f,
            Target::LoadBalancer { name, .. } => name,
        }
    }
}

/// One CloudWatch metric with the statistic to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    pub name: String,
    /// `Average`, `Sum`, `Maximum`, `Minimum`, `SampleCount` or a percentile `p99`.
    pub stat: String,
    pub unit: String,
    /// What a person calls it ("CPU", "5xx").
    pub label: String,
}

fn spec(name: &str, stat: &str, unit: &str, label: &str) -> MetricSpec {
    MetricSpec {
        name: name.into(),
        stat: stat.into(),
        unit: unit.into(),
        label: label.into(),
    }
}

/// The metrics a word means for a kind of target; `None` for no word gives the usual set.
pub fn metrics_for(target: &Target, word: Option<&str>) -> Result<Vec<MetricSpec>> {
    let v = match (target, word) {
        (Target::Instance(_), None | Some("cpu")) => {
            vec![spec("CPUUtilization", "Average", "%", "CPU")]
        }
        (Target::Instance(_), Some("network")) => vec![
            spec("NetworkIn", "Sum", "bytes", "network in"),
            spec("NetworkOut", "Sum", "bytes", "network out"),
        ],
        (Target::Instance(_), Some("disk" | "iops")) => vec![
            spec("EBSReadOps", "Sum", "ops", "disk reads"),
            spec("EBSWriteOps", "Sum", "ops", "disk writes"),
        ],
        (Target::Function(_), None) => vec![
            spec("Invocations", "Sum", "count", "invocations"),
            spec("Errors", "Sum", "count", "errors"),
            spec("Duration", "p99", "ms", "duration p99"),
        ],
        (Target::Function(_), Some("invocations" | "requests")) => {
            vec![spec("Invocations", "Sum", "count", "invocations")]
        }
        (Target::Function(_), Some("errors" | "5xx")) => {
            vec![spec("Errors", "Sum", "count", "errors")]
        }
        (Target::Function(_), Some("latency" | "duration")) => {
            vec![spec("Duration", "p99", "ms", "duration")]
        }
        (Target::Function(_), Some("throttles")) => {
            vec![spec("Throttles", "Sum", "count", "throttles")]
        }
        (Target::LoadBalancer { network: false, .. }, None) => vec![
            spec("RequestCount", "Sum", "count", "requests"),
            spec("HTTPCode_Target_5XX_Count", "Sum", "count", "target 5xx"),
            spec("TargetResponseTime", "p99", "s", "latency"),
        ],
        (Target::LoadBalancer { network: false, .. }, Some("requests")) => {
            vec![spec("RequestCount", "Sum", "count", "requests")]
        }
        (Target::LoadBalancer { network: false, .. }, Some("5xx" | "errors")) => vec![
            spec("HTTPCode_ELB_5XX_Count", "Sum", "count", "ELB 5xx"),
            spec("HTTPCode_Target_5XX_Count", "Sum", "count", "target 5xx"),
        ],
        (Target::LoadBalancer { network: false, .. }, Some("4xx")) => {
            vec![spec(
                "HTTPCode_Target_4XX_Count",
                "Sum",
                "count",
                "target 4xx",
            )]
        }
        (Target::LoadBalancer { network: false, .. }, Some("latency" | "duration")) => {
            vec![spec("TargetResponseTime", "p99", "s", "latency")]
        }
        (Target::LoadBalancer { network: true, .. }, None | Some("connections" | "requests")) => {
            vec![spec("ActiveFlowCount", "Average", "count", "active flows")]
        }
        (Target::LoadBalancer { network: true, .. }, Some("network")) => {
            vec![spec("ProcessedBytes", "Sum", "bytes", "processed bytes")]
        }
        (t, Some(w)) => {
            return Err(Error::input(format!(
                "'{w}' is not a metric opsdeck reads for a {}: ask for {}",
                t.describe(),
                match t {
                    Target::Instance(_) => "cpu, network or disk",
                    Target::Function(_) => "invocations, errors, duration or throttles",
                    Target::LoadBalancer { network: false, .. } => "requests, 5xx, 4xx or latency",
                    Target::LoadBalancer { network: true, .. } => "connections or network",
                }
            )));
        }
    };
    Ok(v)
}

/// The statistic a request asks for (`p99`, `average`, ...) or the metric's own.
pub fn with_stat(mut specs: Vec<MetricSpec>, stat: Option<&str>) -> Vec<MetricSpec> {
    if let Some(s) = stat {
        for m in &mut specs {
            m.stat = s.to_string();
        }
    }
    specs
}

/// The target a request names: instance ids, a function, or a load balancer by name.
pub fn targets(
    req: &AgentRequest<'_>,
    conf: &aws_config::SdkConfig,
    region: &str,
) -> Result<Vec<Target>> {
    let i = req.intent;
    let ids = &i.params.instance_ids;
    if !ids.is_empty() {
        return Ok(ids.iter().cloned().map(Target::Instance).collect());
    }
    if let Some(f) = i.params.function.as_deref() {
        return Ok(vec![Target::Function(f.to_string())]);
    }
    if let Some(name) = i.params.load_balancer_name.as_deref() {
        return load_balancer(req.aws, conf, name, region).map(|t| vec![t]);
    }
    Err(Error::input(
        "name what to chart: an instance id (i-…), a Lambda function (\"function my-func\") or a load balancer (\"ALB my-alb\")",
    ))
}

fn load_balancer(
    aws: &AwsAccess,
    conf: &aws_config::SdkConfig,
    name: &str,
    region: &str,
) -> Result<Target> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(conf);
    let n = name.to_string();
    let found = aws.block_on(async move {
        match elb.describe_load_balancers().names(&n).send().await {
            Ok(o) => Ok(o.load_balancers().first().map(|lb| {
                (
                    lb.load_balancer_arn().unwrap_or_default().to_string(),
                    lb.r#type().map(|t| t.as_str().to_string()),
                )
            })),
            Err(e) if insight::error_code(&e) == Some("LoadBalancerNotFound") => Ok(None),
            Err(e) => Err(aws_error("ELB", "DescribeLoadBalancers", &e)),
        }
    })??;
    let Some((arn, kind)) = found else {
        return Err(Error::not_found(
            "load balancer",
            name,
            format!(
                "in {region}; check the name with the EC2 console or `aws elbv2 describe-load-balancers`"
            ),
        ));
    };
    // The metric dimension is the ARN's tail: app/<name>/<id> or net/<name>/<id>.
    let dimension = arn
        .split_once(":loadbalancer/")
        .map(|(_, d)| d.to_string())
        .ok_or_else(|| Error::input(format!("unexpected load balancer ARN {arn}")))?;
    Ok(Target::LoadBalancer {
        name: name.to_string(),
        network: kind.as_deref() == Some("network") || dimension.starts_with("net/"),
        dimension,
    })
}

/// The period (seconds) that keeps a window under [`MAX_POINTS`], from CloudWatch's usual steps.
pub fn period_for(window_secs: i64) -> i32 {
    const STEPS: [i32; 9] = [60, 300, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400];
    STEPS
        .iter()
        .copied()
        .find(|p| window_secs / i64::from(*p) <= MAX_POINTS)
        .unwrap_or(86_400)
}

/// One query: a metric of a target.
#[derive(Debug, Clone)]
pub struct Query {
    pub id: String,
    pub target: Target,
    pub metric: MetricSpec,
}

/// Reads the queries (paging through GetMetricData) and returns points per query id, oldest
/// first.
pub async fn read(
    cw: aws_sdk_cloudwatch::Client,
    queries: Vec<Query>,
    window: Window,
    period: i32,
) -> Result<Vec<(String, Vec<(Timestamp, f64)>)>> {
    let mqs: Vec<MetricDataQuery> = queries
        .iter()
        .map(|q| {
            let (dn, dv) = q.target.dimension();
            MetricDataQuery::builder()
                .id(&q.id)
                .label(format!("{} {}", q.target.short(), q.metric.label))
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(q.target.namespace())
                                .metric_name(&q.metric.name)
                                .dimensions(Dimension::builder().name(dn).value(dv).build())
                                .build(),
                        )
                        .period(period)
                        .stat(&q.metric.stat)
                        .build(),
                )
                .return_data(true)
                .build()
        })
        .collect();
    let mut points: Vec<(String, Vec<(Timestamp, f64)>)> =
        queries.iter().map(|q| (q.id.clone(), Vec::new())).collect();
    let mut token: Option<String> = None;
    loop {
        let out = cw
            .get_metric_data()
            .set_metric_data_queries(Some(mqs.clone()))
            .start_time(to_smithy(window.start))
            .end_time(to_smithy(window.end))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error("CloudWatch", "GetMetricData", &e))?;
        for r in out.metric_data_results() {
            let Some(slot) = points
                .iter_mut()
                .find(|(id, _)| Some(id.as_str()) == r.id())
            else {
                continue;
            };
            for (t, v) in r.timestamps().iter().zip(r.values()) {
                if let Some(ts) = from_smithy(t) {
                    slot.1.push((ts, *v));
                }
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for (_, p) in &mut points {
        p.sort_by_key(|a| a.0);
        p.dedup_by(|a, b| a.0 == b.0);
    }
    Ok(points)
}

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let (label, window) = insight::window(i.params.window.as_deref(), "3h", Timestamp::now())?;
    let targets = targets(req, &conf, &region)?;
    let mut queries = Vec::new();
    for t in &targets {
        let specs = with_stat(
            metrics_for(t, i.params.metric.as_deref())?,
            i.params.stat.as_deref(),
        );
        for m in specs {
            queries.push(Query {
                id: format!("m{}", queries.len()),
                target: t.clone(),
                metric: m,
            });
        }
    }
    if queries.len() > 100 {
        return Err(Error::input(format!(
            "{} series is more than a chart can show; ask about fewer instances (at most 100 series)",
            queries.len()
        )));
    }
    let period = period_for(window.secs());
    progress(
        sink,
        AGENT,
        format!(
            "reading {} series over the last {label} at {}s resolution",
            queries.len(),
            period
        ),
    );
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let results = req
        .aws
        .block_on(read(cw, queries.clone(), window, period))??;
    let long = window.secs() > 2 * 86_400;
    let mut outputs = Vec::new();
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut data = Vec::new();
    for (q, (_, pts)) in queries.iter().zip(&results) {
        let title = format!(
            "{} ({} {}) of {}",
            q.metric.label,
            q.metric.name,
            q.metric.stat,
            q.target.describe()
        );
        data.push(json!({
            "target": q.target, "metric": q.metric, "period": period,
            "points": pts.iter().map(|(t, v)| json!([t.to_string(), v])).collect::<Vec<_>>(),
        }));
        if pts.is_empty() {
            notes.push(format!(
                "no datapoints for {title} in the last {label}{}",
                match &q.target {
                    Target::Instance(_) => " (is the instance running in this region?)",
                    Target::Function(_) => " (was the function invoked in this region?)",
                    Target::LoadBalancer { .. } => " (did it receive traffic?)",
                }
            ));
            continue;
        }
        let (max_t, max_v) = pts
            .iter()
            .copied()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((window.start, 0.0));
        let avg = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
        lines.push(format!(
            "{} {}: avg {:.2} {unit}, max {:.2} {unit} at {} UTC",
            q.metric.label,
            q.target.short(),
            avg,
            max_v,
            max_t.strftime("%m-%d %H:%M"),
            unit = q.metric.unit
        ));
        outputs.push(Output::Series {
            title,
            unit: q.metric.unit.clone(),
            points: pts
                .iter()
                .map(|(t, v)| {
                    (
                        if long {
                            t.strftime("%m-%d %H:%M").to_string()
                        } else {
                            t.strftime("%H:%M").to_string()
                        },
                        *v,
                    )
                })
                .collect(),
        });
    }
    let what: Vec<String> = targets.iter().map(Target::describe).collect();
    let summary = if lines.is_empty() {
        format!(
            "no datapoints for {} over the last {label} in {region}",
            what.join(", ")
        )
    } else {
        format!(
            "{} over the last {label} ({}s periods): {}",
            what.join(", "),
            period,
            lines.join("; ")
        )
    };
    Ok(Report {
        summary,
        outputs,
        notes,
        region: Some(region),
        data: json!({"window": label, "start": window.start.to_string(), "end": window.end.to_string(), "period": period, "series": data}),
        files: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_metric_words() {
        assert_eq!(period_for(3600), 60);
        assert_eq!(period_for(6 * 3600), 900);
        assert_eq!(period_for(24 * 3600), 1800);
        assert_eq!(period_for(30 * 86_400), 43_200);
        let alb = Target::LoadBalancer {
            name: "web".into(),
            dimension: "app/web/50dc6c495c0c9188".into(),
            network: false,
        };
        let m = with_stat(metrics_for(&alb, Some("latency")).unwrap(), Some("p95"));
        assert_eq!(
            (m[0].name.as_str(), m[0].stat.as_str()),
            ("TargetResponseTime", "p95")
        );
        assert_eq!(metrics_for(&alb, Some("5xx")).unwrap().len(), 2);
        let f = Target::Function("my-func".into());
        assert_eq!(metrics_for(&f, None).unwrap().len(), 3);
        let e = metrics_for(&Target::Instance("i-1".into()), Some("latency")).unwrap_err();
        assert!(e.to_string().contains("cpu, network or disk"), "{e}");
        assert_eq!(alb.namespace(), "AWS/ApplicationELB");
    }
}
