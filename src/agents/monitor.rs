//! The monitor agent: CloudWatch Logs, metrics and alarms.
//!
//! - `logs`: the log group of a function (or one named), filtered for errors, paged with a cap,
//!   repeated messages grouped with counts, and errors over time as a series.
//! - `metrics`: CPU, latency percentiles, 5xx, invocations of an instance, function or load
//!   balancer over a window (GetMetricData), one series per metric.
//! - `alarms`: alarms in ALARM state. `create_alarm`: a PutMetricAlarm step that runs after
//!   approval ([`execute`]).

pub(crate) mod alarms;
pub(crate) mod logs;
pub(crate) mod metrics;

/// Runs an approved AWS API step this agent planned (a PutMetricAlarm).
pub use alarms::execute;

use super::{AgentRequest, Reply};
use crate::error::Result;
use crate::events::Sink;
use crate::intent::AgentKind;

agent_actions! {
    /// What the monitor agent can be asked to do.
    pub enum Action for AgentKind::Monitor, "reads logs, metrics and alarms and creates alarms" {
        Logs = "logs",
        Metrics = "metrics",
        Alarms = "alarms",
        CreateAlarm = "create_alarm" [change],
    }
}

pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    match Action::of(req.intent)? {
        Action::Logs => logs::report(req, sink).map(Reply::Report),
        Action::Metrics => metrics::report(req, sink).map(Reply::Report),
        Action::Alarms => alarms::report(req, sink).map(Reply::Report),
        Action::CreateAlarm => alarms::plan(req, sink),
    }
}
