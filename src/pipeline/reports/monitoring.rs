//! The monitoring report: what the tenant watches (functions and log groups its monitor
//! requests named, from the trail), alarms in ALARM in the regions involved (the monitor
//! agent's DescribeAlarms), each watched function's errors over invocations (GetMetricData, as
//! the agent's metrics read them) and each watched log group's error events (FilterLogEvents
//! with the agent's error terms). A service that does not answer becomes a note.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::super::Reports;
use super::report_data;
use crate::agents::insight::{Window, short_time};
use crate::agents::monitor::alarms::{comparison_symbol, in_alarm};
use crate::agents::monitor::logs::Filter;
use crate::agents::monitor::metrics::{MetricSpec, Query, Target, read};
use crate::error::Result;
use crate::reports::monitoring::{
    AlarmRow, FunctionRate, LogGroupRate, MonitoringReport, WATCH_CAP, WATCH_DAYS, WINDOW_HOURS,
    Watched, error_rate,
};
use crate::reports::{ReportDoc, ReportName, ReportOptions};

/// Error events read per log group; past it the count is a lower bound.
const LOG_EVENTS_CAP: u64 = 10_000;
const LOG_PAGES_CAP: usize = 50;

impl Reports<'_> {
    pub(super) fn monitoring(&self, _opts: &ReportOptions) -> Result<ReportDoc> {
        self.require_reader("read the monitoring report")?;
        let now = self.clock.now();
        let mut notes = Vec::new();
        let (watched, more) = self.watched(now)?;
        if more > 0 {
            notes.push(format!(
                "{more} more watched item(s) not read: the {WATCH_CAP} most recently asked about are"
            ));
        }
        let mut regions: Vec<String> = vec![self.tenant.default_region.clone()];
        for w in &watched {
            if !regions.contains(&w.region) {
                regions.push(w.region.clone());
            }
        }
        let (mut alarms, mut alarms_unread) = (Vec::new(), Vec::new());
        for region in &regions {
            match self.alarms_in(region) {
                Ok(rows) => alarms.extend(rows),
                Err(why) => {
                    notes.push(format!("CloudWatch alarms in {region} unavailable: {why}"));
                    alarms_unread.push(region.clone());
                }
            }
        }
        let window = Window {
            start: now
                .checked_sub(SignedDuration::from_hours(WINDOW_HOURS))
                .unwrap_or(now),
            end: now,
        };
        let mut functions = Vec::new();
        let mut log_groups = Vec::new();
        for w in &watched {
            if w.kind == "function" {
                match self.function_rate(&w.name, &w.region, window) {
                    Ok(f) => functions.push(f),
                    Err(why) => notes.push(format!(
                        "metrics of function {} in {} unavailable: {why}",
                        w.name, w.region
                    )),
                }
            } else {
                match self.log_group_errors(&w.name, &w.region, window) {
                    Ok(g) => log_groups.push(g),
                    Err(why) => notes.push(format!(
                        "log group {} in {} unavailable: {why}",
                        w.name, w.region
                    )),
                }
            }
        }
        notes.push(format!(
            "watched: the functions and log groups the tenant's monitor requests named in the last {WATCH_DAYS} days; error rates over the last {WINDOW_HOURS}h"
        ));
        let report = MonitoringReport {
            tenant: self.tenant.name.clone(),
            regions,
            alarms_unread,
            window_hours: WINDOW_HOURS,
            alarms,
            watched,
            functions,
            log_groups,
            notes,
        };
        Ok(ReportDoc {
            name: ReportName::Monitoring,
            tenant: report.tenant.clone(),
            title: format!("Monitoring of tenant {}", report.tenant),
            generated_at: crate::time::iso(now),
            summary: report.summary(),
            outputs: report.outputs(),
            notes: report.notes.clone(),
            data: report_data(&report)?,
        })
    }

    /// Functions and log groups named by the tenant's monitor requests within
    /// [`WATCH_DAYS`], most recently asked first, at most [`WATCH_CAP`]; and how many more.
    fn watched(&self, now: Timestamp) -> Result<(Vec<Watched>, usize)> {
        let since = now
            .checked_sub(SignedDuration::from_hours(24 * WATCH_DAYS))
            .unwrap_or(now);
        let default_region = &self.tenant.default_region;
        let asks = self.with_report_trail(|trail, _| {
            Ok(trail
                .monitor_asks
                .iter()
                .filter(|a| a.at >= since)
                .cloned()
                .collect::<Vec<_>>())
        })?;
        let mut seen: BTreeMap<(String, String, String), Watched> = BTreeMap::new();
        for ask in asks {
            let region = ask.region.unwrap_or_else(|| default_region.clone());
            let at = crate::time::iso(ask.at);
            let w = seen
                .entry((ask.kind.to_string(), ask.name.clone(), region.clone()))
                .or_insert_with(|| Watched {
                    kind: ask.kind.into(),
                    name: ask.name,
                    region,
                    requests: 0,
                    last_asked: at.clone(),
                });
            w.requests += 1;
            w.last_asked = at;
        }
        let mut all: Vec<Watched> = seen.into_values().collect();
        all.sort_by(|a, b| b.last_asked.cmp(&a.last_asked).then(a.name.cmp(&b.name)));
        let more = all.len().saturating_sub(WATCH_CAP);
        all.truncate(WATCH_CAP);
        Ok((all, more))
    }

    fn alarms_in(&self, region: &str) -> std::result::Result<Vec<AlarmRow>, String> {
        let conf = self
            .aws
            .config_blocking(region)
            .map_err(|e| e.to_string())?;
        let cw = aws_sdk_cloudwatch::Client::new(&conf);
        let rows = self
            .aws
            .block_on(in_alarm(cw))
            .and_then(|r| r)
            .map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
                AlarmRow {
                    name: s("name"),
                    region: region.to_string(),
                    kind: s("kind"),
                    metric: s("metric"),
                    threshold: match (r["comparison"].as_str(), r["threshold"].as_f64()) {
                        (Some(c), Some(t)) => format!("{} {t}", comparison_symbol(c)),
                        _ => "-".into(),
                    },
                    since: r["since"]
                        .as_str()
                        .and_then(|t| t.parse::<Timestamp>().ok())
                        .map(short_time)
                        .unwrap_or_else(|| "-".into()),
                    reason: s("reason"),
                }
            })
            .collect())
    }

    fn function_rate(
        &self,
        name: &str,
        region: &str,
        window: Window,
    ) -> std::result::Result<FunctionRate, String> {
        let conf = self
            .aws
            .config_blocking(region)
            .map_err(|e| e.to_string())?;
        let cw = aws_sdk_cloudwatch::Client::new(&conf);
        let query = |id: &str, metric: &str| Query {
            id: id.into(),
            target: Target::Function(name.to_string()),
            metric: MetricSpec {
                name: metric.into(),
                stat: "Sum".into(),
                unit: "count".into(),
                label: metric.to_lowercase(),
            },
        };
        let queries = vec![
            query("invocations", "Invocations"),
            query("errors", "Errors"),
        ];
        let points = self
            .aws
            .block_on(read(cw, queries, window, 3600))
            .and_then(|r| r)
            .map_err(|e| e.to_string())?;
        let of = |id: &str| {
            points
                .iter()
                .find(|(q, _)| q == id)
                .map(|(_, p)| p.clone())
                .unwrap_or_default()
        };
        let (invocations, errors) = (of("invocations"), of("errors"));
        let total = |p: &[(Timestamp, f64)]| p.iter().map(|x| x.1).sum::<f64>();
        let (inv, err) = (total(&invocations), total(&errors));
        Ok(FunctionRate {
            name: name.to_string(),
            region: region.to_string(),
            invocations: inv,
            errors: err,
            error_rate: error_rate(err, inv),
            errors_by_hour: errors
                .iter()
                .map(|(t, v)| (crate::time::iso(*t).chars().take(13).collect(), *v))
                .collect(),
        })
    }

    fn log_group_errors(
        &self,
        name: &str,
        region: &str,
        window: Window,
    ) -> std::result::Result<LogGroupRate, String> {
        let conf = self
            .aws
            .config_blocking(region)
            .map_err(|e| e.to_string())?;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
        let filter = Filter::errors();
        let (group, pattern) = (name.to_string(), filter.pattern());
        let (start, end) = (window.start.as_millisecond(), window.end.as_millisecond());
        let (count, capped) = self
            .aws
            .block_on(async move {
                let (mut count, mut pages, mut token) = (0u64, 0usize, None::<String>);
                loop {
                    let page = logs
                        .filter_log_events()
                        .log_group_name(&group)
                        .start_time(start)
                        .end_time(end)
                        .set_filter_pattern(pattern.clone())
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| {
                            crate::agents::insight::aws_error(
                                "CloudWatch Logs",
                                "FilterLogEvents",
                                &e,
                            )
                            .to_string()
                        })?;
                    pages += 1;
                    count += page
                        .events()
                        .iter()
                        .filter(|e| filter.matches(e.message().unwrap_or_default()))
                        .count() as u64;
                    token = page.next_token().map(str::to_string);
                    if token.is_none() {
                        return Ok::<_, String>((count, false));
                    }
                    if count >= LOG_EVENTS_CAP || pages >= LOG_PAGES_CAP {
                        return Ok((count, true));
                    }
                }
            })
            .map_err(|e| e.to_string())
            .and_then(|r| r)?;
        Ok(LogGroupRate {
            name: name.to_string(),
            region: region.to_string(),
            error_events: count,
            per_hour: (count as f64 / WINDOW_HOURS as f64 * 10.0).round() / 10.0,
            capped,
        })
    }
}
