//! `report refresh|history|compare`: stored runs of the named reports.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum StoredReportCommand {
    /// Build a report and store it as an artifact of the tenant (audited as report_generated),
    /// so later runs can be compared with it.
    Refresh {
        /// cost, security, monitoring, operations or compliance.
        name: String,
        /// The window's start (operations): ISO date/time or a look-back such as 7d.
        #[arg(long)]
        since: Option<String>,
        /// cis, soc2 or iso27001 (compliance; default cis).
        #[arg(long)]
        framework: Option<String>,
    },
    /// The stored runs of a report, oldest first.
    History {
        /// cost, security, monitoring, operations or compliance.
        name: String,
    },
    /// What changed between the latest stored run of a report and an older one: per table or
    /// series, rows added and removed and numbers that moved.
    Compare {
        /// cost, security, monitoring, operations or compliance.
        name: String,
        /// The older run: the one stored nearest a time (7d, 24h, an ISO date) or a run id
        /// (or its unique prefix) from `report history`.
        #[arg(long = "with", default_value = "7d", value_name = "7d|RUN_ID")]
        with: String,
    },
}
