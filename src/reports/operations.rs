//! The operations report: how a tenant's changes went over a window, from its audit trail alone
//! (no AWS call): plans per day, decisions, approval latency (queued → approved, p50/p95), apply
//! outcomes and the change failure rate, time from approval to the end of the run, and who and
//! which agents asked. One pass over the trail, memory in proportion to the plans it names.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::audit::{AuditEvent, EventKind};
use crate::events::Output;

/// The half-open window `[from, to)` a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Window {
    fn holds(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.to
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationsReport {
    pub tenant: String,
    /// ISO 8601, UTC.
    pub from: String,
    pub to: String,
    /// Plans made in the window.
    pub plans: u64,
    /// Every UTC day of the window, with the plans made that day (zero days included).
    pub plans_per_day: Vec<DayCount>,
    pub decisions: Decisions,
    /// From a plan's entering the queue to the approval that let it run, for plans approved
    /// in the window.
    pub approval_latency: Latency,
    pub applies: Applies,
    /// From that approval to the end of the run, for runs that ended in the window.
    pub time_to_apply: Latency,
    /// Requesters by plans made in the window, most first (ties by name).
    pub top_requesters: Vec<Ranked>,
    /// Agents by plans made in the window, most first.
    pub top_agents: Vec<Ranked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `2026-12-06`
    pub day: String,
    pub plans: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decisions {
    pub approved: u64,
    pub rejected: u64,
    pub expired: u64,
    /// Plans in the queue at the end of the window with no decision yet.
    pub pending: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// How many intervals the figures are over (none: the figures are absent).
    pub count: u64,
    pub p50_secs: Option<i64>,
    pub p95_secs: Option<i64>,
    pub mean_secs: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Applies {
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Failed runs over runs that succeeded or failed (cancelled ones are neither); absent
    /// when no run ended.
    pub change_failure_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked {
    pub name: String,
    pub plans: u64,
}

/// What the report needs to remember of one plan while the trail goes by.
#[derive(Default)]
struct PlanTimes {
    queued: Option<Timestamp>,
    approved: Option<Timestamp>,
    decided: bool,
    started: bool,
}

/// Whether the report reads this event: a plan's step through the queue and its run.
pub fn reads(e: &AuditEvent) -> bool {
    e.plan_id.is_some() && reads_kind(e.event)
}

/// The plan steps of a trail the report reads, compact: plan ids and names are numbered
/// once, so a trail of 100k events is a flat list (what the reports' digest keeps between
/// refreshes, `pipeline/reports/digest.rs`).
#[derive(Debug, Clone, Default)]
pub struct PlanSteps {
    steps: Vec<PlanStep>,
    plans: Names,
    /// Users and agents.
    names: Names,
}

#[derive(Debug, Clone, Copy)]
struct PlanStep {
    kind: EventKind,
    plan: u32,
    at: Timestamp,
    user: u32,
    agent: Option<u32>,
}

/// Strings numbered in the order first seen.
#[derive(Debug, Clone, Default)]
struct Names {
    index: HashMap<Box<str>, u32>,
    all: Vec<Box<str>>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.all.len() as u32;
        self.all.push(name.into());
        self.index.insert(name.into(), i);
        i
    }
}

impl PlanSteps {
    /// Adds one event, if the report reads it (see [`reads_kind`]); trail order.
    pub fn push(
        &mut self,
        kind: EventKind,
        plan_id: Option<&str>,
        at: Timestamp,
        user: &str,
        agent: Option<&str>,
    ) {
        let Some(plan_id) = plan_id else { return };
        if !reads_kind(kind) {
            return;
        }
        let step = PlanStep {
            kind,
            plan: self.plans.id(plan_id),
            at,
            user: self.names.id(user),
            agent: agent.map(|a| self.names.id(a)),
        };
        self.steps.push(step);
    }

    /// [`PlanSteps::push`] for a whole event.
    pub fn push_event(&mut self, e: &AuditEvent) {
        self.push(
            e.event,
            e.plan_id.as_deref(),
            e.timestamp.timestamp(),
            &e.user_id,
            e.agent_type.as_deref(),
        );
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl<'a> FromIterator<&'a AuditEvent> for PlanSteps {
    fn from_iter<I: IntoIterator<Item = &'a AuditEvent>>(events: I) -> PlanSteps {
        let mut steps = PlanSteps::default();
        for e in events {
            steps.push_event(e);
        }
        steps
    }
}

/// Whether the report reads events of this kind (when they name a plan).
pub fn reads_kind(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Planned
            | EventKind::Queued
            | EventKind::Approved
            | EventKind::Rejected
            | EventKind::Expired
            | EventKind::Executing
            | EventKind::Completed
            | EventKind::Failed
            | EventKind::Cancelled
    )
}

/// Builds the report from the tenant's plan steps, in trail order.
pub fn build(tenant: &str, window: Window, steps: &PlanSteps) -> OperationsReport {
    let mut plans: Vec<PlanTimes> = Vec::new();
    plans.resize_with(steps.plans.all.len(), PlanTimes::default);
    // UTC days as whole days since the epoch (Unix time has no leap seconds).
    let mut per_day: HashMap<i64, u64> = HashMap::new();
    let mut requesters: Vec<u64> = vec![0; steps.names.all.len()];
    let mut agents: Vec<u64> = vec![0; steps.names.all.len()];
    let mut decisions = Decisions::default();
    let mut applies = Applies::default();
    let (mut waits, mut runs) = (Vec::new(), Vec::new());
    let mut made = 0;
    for e in &steps.steps {
        let at = e.at;
        if at >= window.to {
            continue;
        }
        let inside = window.holds(at);
        let plan = &mut plans[e.plan as usize];
        match e.kind {
            EventKind::Planned if inside => {
                made += 1;
                *per_day
                    .entry(at.as_second().div_euclid(86_400))
                    .or_default() += 1;
                requesters[e.user as usize] += 1;
                if let Some(agent) = e.agent {
                    agents[agent as usize] += 1;
                }
            }
            EventKind::Queued => {
                plan.queued.get_or_insert(at);
            }
            // A rule asking for several approvers audits each; the last before the run is the
            // one that let it run.
            EventKind::Approved if !plan.started => {
                if !plan.decided && inside {
                    decisions.approved += 1;
                }
                plan.decided = true;
                plan.approved = Some(at);
            }
            EventKind::Rejected | EventKind::Expired if !plan.decided => {
                plan.decided = true;
                if inside {
                    match e.kind {
                        EventKind::Rejected => decisions.rejected += 1,
                        _ => decisions.expired += 1,
                    }
                }
            }
            EventKind::Executing => {
                plan.started = true;
                if let (Some(q), Some(a)) = (plan.queued, plan.approved)
                    && inside
                {
                    waits.push(seconds(q, a));
                }
            }
            EventKind::Completed | EventKind::Failed | EventKind::Cancelled if plan.started => {
                // The end of a run (a failure before it started changed nothing).
                plan.started = false;
                if inside {
                    match e.kind {
                        EventKind::Completed => applies.succeeded += 1,
                        EventKind::Failed => applies.failed += 1,
                        _ => applies.cancelled += 1,
                    }
                    if let Some(a) = plan.approved {
                        runs.push(seconds(a, at));
                    }
                }
                plan.approved = None;
            }
            EventKind::Cancelled if !plan.decided => plan.decided = true,
            _ => {}
        }
    }
    decisions.pending = plans
        .iter()
        .filter(|p| p.queued.is_some() && !p.decided)
        .count() as u64;
    let ended = applies.succeeded + applies.failed;
    applies.change_failure_rate = (ended > 0).then(|| applies.failed as f64 / ended as f64);
    OperationsReport {
        tenant: tenant.to_string(),
        from: crate::time::iso(window.from),
        to: crate::time::iso(window.to),
        plans: made,
        plans_per_day: days(window)
            .map(|d| DayCount {
                day: d.to_string(),
                plans: per_day.get(&epoch_day(d)).copied().unwrap_or(0),
            })
            .collect(),
        decisions,
        approval_latency: latency(waits),
        applies,
        time_to_apply: latency(runs),
        top_requesters: ranked(&steps.names, &requesters),
        top_agents: ranked(&steps.names, &agents),
    }
}

/// Whole days since 1970-01-01 of a UTC date.
fn epoch_day(d: jiff::civil::Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second().div_euclid(86_400))
        .unwrap_or(i64::MIN)
}

fn day_of(at: Timestamp) -> jiff::civil::Date {
    at.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// Every UTC day the window touches, in order.
fn days(window: Window) -> impl Iterator<Item = jiff::civil::Date> {
    let last = day_of(
        window
            .to
            .saturating_sub(jiff::SignedDuration::from_millis(1))
            .unwrap_or(window.to),
    );
    let mut next = Some(day_of(window.from));
    std::iter::from_fn(move || {
        let d = next.filter(|d| *d <= last)?;
        next = d.tomorrow().ok();
        Some(d)
    })
}

fn seconds(from: Timestamp, to: Timestamp) -> i64 {
    (to.as_millisecond() - from.as_millisecond()).max(0) / 1000
}

/// p50 and p95 by nearest rank, and the mean.
fn latency(mut secs: Vec<i64>) -> Latency {
    if secs.is_empty() {
        return Latency::default();
    }
    secs.sort_unstable();
    let rank = |p: f64| secs[((p * secs.len() as f64).ceil() as usize).clamp(1, secs.len()) - 1];
    Latency {
        count: secs.len() as u64,
        p50_secs: Some(rank(0.50)),
        p95_secs: Some(rank(0.95)),
        mean_secs: Some(secs.iter().sum::<i64>() / secs.len() as i64),
    }
}

fn ranked(names: &Names, counts: &[u64]) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = counts
        .iter()
        .zip(&names.all)
        .filter(|(plans, _)| **plans > 0)
        .map(|(plans, name)| Ranked {
            name: name.to_string(),
            plans: *plans,
        })
        .collect();
    out.sort_by(|a, b| b.plans.cmp(&a.plans).then_with(|| a.name.cmp(&b.name)));
    out.truncate(10);
    out
}

/// `3h 05m`, `4m 30s`, `12s`; `-` when absent.
pub fn duration_text(secs: Option<i64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) if s >= 86_400 => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
        Some(s) if s >= 3600 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        Some(s) if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        Some(s) => format!("{s}s"),
    }
}

impl Applies {
    /// The change failure rate as a percentage, `-` when no run ended.
    pub fn failure_rate_text(&self) -> String {
        self.change_failure_rate
            .map_or("-".to_string(), |r| format!("{:.1} %", r * 100.0))
    }
}

impl OperationsReport {
    /// Tables and the daily series, as every front end lays answers out.
    pub fn outputs(&self) -> Vec<Output> {
        let rate = self.applies.failure_rate_text();
        let row = |k: &str, v: String| vec![k.to_string(), v];
        let mut out = vec![Output::Table {
            title: format!(
                "operations of tenant {}, {} to {}",
                self.tenant, self.from, self.to
            ),
            columns: vec!["measure".into(), "value".into()],
            rows: vec![
                row("plans made", self.plans.to_string()),
                row("approved", self.decisions.approved.to_string()),
                row("rejected", self.decisions.rejected.to_string()),
                row("expired", self.decisions.expired.to_string()),
                row("awaiting a decision", self.decisions.pending.to_string()),
                row(
                    "approval latency p50 / p95",
                    format!(
                        "{} / {} (over {})",
                        duration_text(self.approval_latency.p50_secs),
                        duration_text(self.approval_latency.p95_secs),
                        self.approval_latency.count
                    ),
                ),
                row("runs succeeded", self.applies.succeeded.to_string()),
                row("runs failed", self.applies.failed.to_string()),
                row("runs cancelled", self.applies.cancelled.to_string()),
                row("change failure rate", rate),
                row(
                    "mean time to apply (approval → end of run)",
                    duration_text(self.time_to_apply.mean_secs),
                ),
            ],
        }];
        // A long window is read by the week (JSON and CSV keep every day).
        let by_week = self.plans_per_day.len() > 62;
        out.push(Output::Series {
            title: if by_week {
                "plans per week (from the day named)".into()
            } else {
                "plans per day".into()
            },
            unit: "plans".into(),
            points: if by_week {
                self.plans_per_day
                    .chunks(7)
                    .map(|w| (w[0].day.clone(), w.iter().map(|d| d.plans as f64).sum()))
                    .collect()
            } else {
                self.plans_per_day
                    .iter()
                    .map(|d| (d.day.clone(), d.plans as f64))
                    .collect()
            },
        });
        for (title, who, list) in [
            ("top requesters", "user", &self.top_requesters),
            ("top agents", "agent", &self.top_agents),
        ] {
            out.push(Output::Table {
                title: title.into(),
                columns: vec![who.into(), "plans".into()],
                rows: list
                    .iter()
                    .map(|r| vec![r.name.clone(), r.plans.to_string()])
                    .collect(),
            });
        }
        out
    }

    /// `section,key,value` rows (a header first), for spreadsheets and BI tools.
    pub fn to_csv(&self) -> String {
        let mut rows: Vec<(String, String, String)> = Vec::new();
        let mut put = |s: &str, k: &str, v: String| rows.push((s.into(), k.into(), v));
        let opt = |v: Option<i64>| v.map(|s| s.to_string()).unwrap_or_default();
        put("window", "from", self.from.clone());
        put("window", "to", self.to.clone());
        put("summary", "plans", self.plans.to_string());
        put("summary", "approved", self.decisions.approved.to_string());
        put("summary", "rejected", self.decisions.rejected.to_string());
        put("summary", "expired", self.decisions.expired.to_string());
        put("summary", "pending", self.decisions.pending.to_string());
        put(
            "summary",
            "approval_latency_p50_secs",
            opt(self.approval_latency.p50_secs),
        );
        put(
            "summary",
            "approval_latency_p95_secs",
            opt(self.approval_latency.p95_secs),
        );
        put(
            "summary",
            "runs_succeeded",
            self.applies.succeeded.to_string(),
        );
        put("summary", "runs_failed", self.applies.failed.to_string());
        put(
            "summary",
            "runs_cancelled",
            self.applies.cancelled.to_string(),
        );
        put(
            "summary",
            "change_failure_rate",
            self.applies
                .change_failure_rate
                .map(|r| format!("{r:.4}"))
                .unwrap_or_default(),
        );
        put(
            "summary",
            "time_to_apply_mean_secs",
            opt(self.time_to_apply.mean_secs),
        );
        for d in &self.plans_per_day {
            put("plans_per_day", &d.day, d.plans.to_string());
        }
        for r in &self.top_requesters {
            put("top_requesters", &r.name, r.plans.to_string());
        }
        for r in &self.top_agents {
            put("top_agents", &r.name, r.plans.to_string());
        }
        let mut out = String::from("section,key,value\n");
        for (s, k, v) in rows {
            out.push_str(&format!(
                "{},{},{}\n",
                csv_cell(&s),
                csv_cell(&k),
                csv_cell(&v)
            ));
        }
        out
    }
}

/// A CSV cell; a user name cannot hold a comma or quote today, but the writer does not rely on
/// it, and a leading `=+-@` is defused so a spreadsheet never reads a cell as a formula.
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ev(kind: &str, plan: &str, user: &str, when: &str) -> AuditEvent {
        serde_json::from_value(serde_json::json!({
            "eventId": format!("e-{plan}-{kind}-{when}"), "requestId": "r", "tenantId": "t",
            "userId": user, "userSource": "os", "osUser": user, "timestamp": when,
            "event": kind, "status": "pending", "planId": plan, "agentType": "infra",
        }))
        .unwrap()
    }

    fn window() -> Window {
        Window {
            from: at("2026-12-01T00:00:00Z"),
            to: at("2026-12-04T00:00:00Z"),
        }
    }

    #[test]
    fn decisions_latencies_and_the_failure_rate_come_from_the_events() {
        let events = [
            // p1: queued, approved 10 min later, ran 2 min, succeeded.
            ev("planned", "p1", "olga", "2026-12-01T10:00:00Z"),
            ev("queued", "p1", "olga", "2026-12-01T10:00:00Z"),
            ev("approved", "p1", "bob", "2026-12-01T10:10:00Z"),
            ev("executing", "p1", "olga", "2026-12-01T10:11:00Z"),
            ev("completed", "p1", "olga", "2026-12-01T10:12:00Z"),
            // p2: two approvals (the second lets it run at 30 min), then it fails.
            ev("planned", "p2", "olga", "2026-12-02T09:00:00Z"),
            ev("queued", "p2", "olga", "2026-12-02T09:00:00Z"),
            ev("approved", "p2", "bob", "2026-12-02T09:20:00Z"),
            ev("approved", "p2", "carol", "2026-12-02T09:30:00Z"),
            ev("executing", "p2", "olga", "2026-12-02T09:31:00Z"),
            ev("failed", "p2", "olga", "2026-12-02T09:35:00Z"),
            // p3: rejected; p4: still waiting; p5: failed before it started (not a change).
            ev("planned", "p3", "ann", "2026-12-03T08:00:00Z"),
            ev("queued", "p3", "ann", "2026-12-03T08:00:00Z"),
            ev("rejected", "p3", "bob", "2026-12-03T08:05:00Z"),
            ev("planned", "p4", "ann", "2026-12-03T09:00:00Z"),
            ev("queued", "p4", "ann", "2026-12-03T09:00:00Z"),
            ev("planned", "p5", "olga", "2026-12-03T10:00:00Z"),
            ev("queued", "p5", "olga", "2026-12-03T10:00:00Z"),
            ev("approved", "p5", "bob", "2026-12-03T10:01:00Z"),
            ev("failed", "p5", "olga", "2026-12-03T10:02:00Z"),
            // After the window: not counted.
            ev("planned", "p6", "olga", "2026-12-04T00:00:00Z"),
        ];
        let r = build("t", window(), &events.iter().collect());
        assert_eq!(r.plans, 5);
        assert_eq!(
            r.plans_per_day.iter().map(|d| d.plans).collect::<Vec<_>>(),
            [1, 1, 3]
        );
        assert_eq!(r.plans_per_day[0].day, "2026-12-01");
        assert_eq!(
            r.decisions,
            Decisions {
                approved: 3,
                rejected: 1,
                expired: 0,
                pending: 1
            }
        );
        assert_eq!(r.approval_latency.count, 2);
        assert_eq!(r.approval_latency.p50_secs, Some(600));
        assert_eq!(r.approval_latency.p95_secs, Some(1800));
        assert_eq!((r.applies.succeeded, r.applies.failed), (1, 1));
        assert_eq!(r.applies.change_failure_rate, Some(0.5));
        // 2 min after approval for p1, 5 min for p2.
        assert_eq!(r.time_to_apply.mean_secs, Some(210));
        assert_eq!(
            r.top_requesters,
            [
                Ranked {
                    name: "olga".into(),
                    plans: 3
                },
                Ranked {
                    name: "ann".into(),
                    plans: 2
                }
            ]
        );
        let csv = r.to_csv();
        assert!(csv.starts_with("section,key,value\n"));
        assert!(csv.contains("summary,change_failure_rate,0.5000\n"));
        assert!(csv.contains("plans_per_day,2026-12-03,3\n"));
    }

    #[test]
    fn an_empty_window_has_zero_days_and_no_figures() {
        let r = build("t", window(), &PlanSteps::default());
        assert_eq!(r.plans_per_day.len(), 3);
        assert_eq!(r.approval_latency, Latency::default());
        assert_eq!(r.applies.change_failure_rate, None);
        assert_eq!(duration_text(None), "-");
    }

    #[test]
    fn cells_never_become_formulas_or_break_rows() {
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("-12"), "-12");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(duration_text(Some(3725)), "1h 02m");
        assert_eq!(duration_text(Some(90)), "1m 30s");
    }
}
