//! The cost agent: spend and forecasts from Cost Explorer, budgets and their alerts from AWS
//! Budgets, savings hints (Cost Explorer rightsizing, stopped instances that keep their EBS,
//! unattached volumes, load balancers with no traffic), and estimates from the bundled price
//! table. Everything it answers is a report: it reads and never changes anything, so nothing
//! here needs an approval.

pub(crate) mod budgets;
mod estimate;
pub(crate) mod explorer;
pub(crate) mod optimize;

use super::{AgentRequest, Reply};
use crate::error::Result;
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;

/// Cost Explorer and Budgets are global services answered from us-east-1.
pub(crate) const BILLING_REGION: &str = "us-east-1";

agent_actions! {
    /// What the cost agent can be asked to do.
    pub enum Action for AgentKind::Cost, "answers spend questions, forecasts, budgets, savings hints and estimates" {
        Query = "query",
        Forecast = "forecast",
        Budget = "budget",
        Optimize = "optimize",
        Estimate = "estimate",
    }
}

pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    // Cost Explorer filters by a named region: it has to be one.
    req.region()?;
    let report = match Action::of(req.intent)? {
        Action::Query => explorer::query(req, sink)?,
        Action::Forecast => explorer::forecast(req, sink)?,
        Action::Budget => budgets::report(req, sink)?,
        Action::Optimize => optimize::report(req, sink)?,
        Action::Estimate => estimate::report(req, sink)?,
    };
    Ok(Reply::Report(report))
}

fn progress(sink: Sink<'_>, message: impl Into<String>) {
    sink(AgentEvent::Progress {
        agent: AgentKind::Cost,
        message: message.into(),
    });
}

/// `$1,234.56`
pub(crate) fn usd(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn dollars_are_grouped() {
        assert_eq!(usd(1234.567), "$1,234.57");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(-5.5), "-$5.50");
        assert_eq!(usd(1_000_000.0), "$1,000,000.00");
    }
}
