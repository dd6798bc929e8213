//! The monitoring report: alarms in ALARM, and the error rates of what the tenant watches.
//!
//! **Watched** means named in one of the tenant's monitor requests (`show error logs from
//! Lambda checkout`, `show 5xx errors for function api`, `errors in /ecs/web`) over the last
//! [`WATCH_DAYS`] days, as the trail recorded it: a Lambda function or a log group, in the region
//! the request was for. Nothing else needs configuring; asking once is watching.

use serde::Serialize;

use crate::events::{Output, headings};

/// How far back a request still counts as watching.
pub const WATCH_DAYS: i64 = 90;
/// Most recently named items read; the rest are named in a note.
pub const WATCH_CAP: usize = 20;
/// The window error rates are over.
pub const WINDOW_HOURS: i64 = 24;

/// What a past request named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watched {
    /// `function` or `log_group`
    pub kind: String,
    pub name: String,
    pub region: String,
    /// Requests that named it within [`WATCH_DAYS`].
    pub requests: usize,
    pub last_asked: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    pub name: String,
    pub region: String,
    /// `metric` or `composite`
    pub kind: String,
    pub metric: String,
    pub threshold: String,
    pub since: String,
    pub reason: String,
}

/// A function's errors over invocations (Lambda's own metrics).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionRate {
    pub name: String,
    pub region: String,
    pub invocations: f64,
    pub errors: f64,
    /// Percent; absent with no invocations.
    pub error_rate: Option<f64>,
    /// Errors per hour, oldest first (`2026-12-06T14`).
    pub errors_by_hour: Vec<(String, f64)>,
}

/// Error events in a log group (the monitor agent's error terms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroupRate {
    pub name: String,
    pub region: String,
    pub error_events: u64,
    pub per_hour: f64,
    /// The read stopped at its cap: the count is a lower bound.
    pub capped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitoringReport {
    pub tenant: String,
    /// Where alarms were read: the tenant's default region and every watched item's region.
    pub regions: Vec<String>,
    /// Regions whose alarms could not be read (the notes say why): their alarms are unknown.
    pub alarms_unread: Vec<String>,
    pub window_hours: i64,
    pub alarms: Vec<AlarmRow>,
    pub watched: Vec<Watched>,
    pub functions: Vec<FunctionRate>,
    pub log_groups: Vec<LogGroupRate>,
    pub notes: Vec<String>,
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

impl MonitoringReport {
    pub fn summary(&self) -> String {
        let read: Vec<&str> = self
            .regions
            .iter()
            .filter(|r| !self.alarms_unread.contains(r))
            .map(String::as_str)
            .collect();
        let mut s = if self.alarms.is_empty() && read.is_empty() {
            format!(
                "alarms unknown: CloudWatch did not answer in {}",
                self.alarms_unread.join(", ")
            )
        } else if self.alarms.is_empty() {
            format!("no alarm in ALARM ({})", read.join(", "))
        } else {
            format!(
                "{} alarm(s) in ALARM: {}",
                self.alarms.len(),
                self.alarms
                    .iter()
                    .take(5)
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if !self.alarms_unread.is_empty() && !read.is_empty() {
            s.push_str(&format!(
                " (alarms unknown in {})",
                self.alarms_unread.join(", ")
            ));
        }
        if self.watched.is_empty() {
            s.push_str(
                "; nothing watched yet (ask about a function's or log group's errors to watch it)",
            );
        } else {
            let worst = self
                .functions
                .iter()
                .filter_map(|f| f.error_rate.map(|r| (f, r)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            s.push_str(&format!("; {} watched", self.watched.len()));
            if let Some((f, r)) = worst {
                s.push_str(&format!(", highest error rate {} {r:.1}%", f.name));
            }
            let errors: u64 = self.log_groups.iter().map(|g| g.error_events).sum();
            if !self.log_groups.is_empty() {
                s.push_str(&format!(
                    ", {errors} error event(s) in watched log groups over {}h",
                    self.window_hours
                ));
            }
        }
        s
    }

    pub fn outputs(&self) -> Vec<Output> {
        let mut out = vec![Output::Table {
            title: format!("alarms in ALARM ({})", self.regions.join(", ")),
            columns: headings(&["ALARM", "REGION", "METRIC", "THRESHOLD", "SINCE", "REASON"]),
            rows: self
                .alarms
                .iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.region.clone(),
                        a.metric.clone(),
                        a.threshold.clone(),
                        a.since.clone(),
                        a.reason.clone(),
                    ]
                })
                .collect(),
        }];
        if !self.functions.is_empty() {
            out.push(Output::Table {
                title: format!("watched functions, last {}h", self.window_hours),
                columns: headings(&["FUNCTION", "REGION", "INVOCATIONS", "ERRORS", "ERROR RATE"]),
                rows: self
                    .functions
                    .iter()
                    .map(|f| {
                        vec![
                            f.name.clone(),
                            f.region.clone(),
                            number(f.invocations),
                            number(f.errors),
                            f.error_rate
                                .map(|r| format!("{r:.1}%"))
                                .unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect(),
            });
            for f in self.functions.iter().filter(|f| f.errors > 0.0) {
                out.push(Output::Series {
                    title: format!("{} errors per hour", f.name),
                    unit: "errors".into(),
                    points: f
                        .errors_by_hour
                        .iter()
                        .map(|(h, v)| (h.get(11..).map_or(h.clone(), |t| format!("{t}h")), *v))
                        .collect(),
                });
            }
        }
        if !self.log_groups.is_empty() {
            out.push(Output::Table {
                title: format!("watched log groups, last {}h", self.window_hours),
                columns: headings(&["LOG GROUP", "REGION", "ERROR EVENTS", "PER HOUR"]),
                rows: self
                    .log_groups
                    .iter()
                    .map(|g| {
                        vec![
                            g.name.clone(),
                            g.region.clone(),
                            format!("{}{}", g.error_events, if g.capped { "+" } else { "" }),
                            format!("{:.1}", g.per_hour),
                        ]
                    })
                    .collect(),
            });
        }
        out
    }
}

/// Errors over invocations, percent (one decimal); absent with no invocations.
pub fn error_rate(errors: f64, invocations: f64) -> Option<f64> {
    (invocations > 0.0).then(|| (errors / invocations * 1000.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rates() {
        assert_eq!(error_rate(6.0, 120.0), Some(5.0));
        assert_eq!(error_rate(0.0, 0.0), None);
        assert_eq!(error_rate(1.0, 3.0), Some(33.3));
    }
}
