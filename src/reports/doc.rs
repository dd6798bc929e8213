//! One report as every front end and the store see it: its name, when it was made, what it says
//! (tables and series), and the report's own data for `--json` and for comparing two runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::Output;

/// The reports `opsdeck report NAME` and the Reports pane know, in the pane's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportName {
    Cost,
    Security,
    Monitoring,
    Operations,
    Compliance,
}

impl ReportName {
    pub const ALL: [ReportName; 5] = [
        ReportName::Cost,
        ReportName::Security,
        ReportName::Monitoring,
        ReportName::Operations,
        ReportName::Compliance,
    ];

    /// Whether building it asks AWS (and so may wait on a slow or unreachable endpoint);
    /// the others read the tenant's trail and store only.
    pub fn asks_aws(self) -> bool {
        matches!(self, ReportName::Cost | ReportName::Monitoring)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportName::Cost => "cost",
            ReportName::Security => "security",
            ReportName::Monitoring => "monitoring",
            ReportName::Operations => "operations",
            ReportName::Compliance => "compliance",
        }
    }
}

impl std::fmt::Display for ReportName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReportName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ReportName::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                Error::input(format!(
                    "no report named {:?}: the reports are {}",
                    crate::sanitize::line(s),
                    ReportName::ALL.map(|n| n.as_str()).join(", ")
                ))
            })
    }
}

/// What a report is asked for: the window (operations, cost trend) and the framework
/// (compliance). Unused fields are ignored by reports that have no such choice.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// ISO date/time or a look-back such as `7d`.
    pub since: Option<String>,
    pub until: Option<String>,
    /// `cis`, `soc2` or `iso27001` (compliance; default cis).
    pub framework: Option<String>,
}

/// A built report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDoc {
    pub name: ReportName,
    pub tenant: String,
    /// `Operations of tenant shop, 2026-11-07 to 2026-12-07`.
    pub title: String,
    /// ISO time the report was built.
    pub generated_at: String,
    /// One line a status bar or a list row can show.
    pub summary: String,
    /// Tables and series, as every front end lays answers out.
    pub outputs: Vec<Output>,
    /// Caveats a reader must see (a service that did not answer, data sources, truncation).
    pub notes: Vec<String>,
    /// The report's own structure (what `--json` prints), kept so two runs can be compared.
    pub data: Value,
}
