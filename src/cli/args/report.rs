//! `report`'s subcommands: one per named report, each with the same output choices.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Month to date against last month, the forecast to month end against the tenant's
    /// budget, top services and regions, the daily trend and the biggest savings hints (Cost
    /// Explorer, AWS Budgets, the cost agent's savings checks).
    Cost {
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Open findings by severity and check, the trend over past scans, the oldest open
    /// findings, and remediation plans with their state (from stored scans; no AWS call).
    Security {
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Alarms in ALARM, and the error rates of the functions and log groups the tenant's
    /// monitor requests named (CloudWatch).
    Monitoring {
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Plans per day, decisions, approval latency (p50/p95), run outcomes and the change
    /// failure rate, time to apply, top requesters and agents: from the audit trail alone.
    Operations {
        /// Start of the window: ISO date/time or a look-back such as 7d (default: 30 days
        /// before --until).
        #[arg(long)]
        since: Option<String>,
        /// End of the window, exclusive (default: now).
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Each control of a framework judged from the tenant's stored security scans: pass,
    /// fail or not checked, with the findings behind it (which finding, which resource, when).
    Compliance {
        /// cis (CIS AWS Foundations v3.0), soc2 (SOC 2 CC series) or iso27001 (ISO/IEC
        /// 27001:2022 Annex A).
        #[arg(long)]
        framework: String,
        #[command(flatten)]
        output: ReportOutput,
    },
    /// Stored runs: refresh, history, compare.
    #[command(flatten)]
    Stored(super::StoredReportCommand),
}

/// How a report is written.
#[derive(Debug, Args)]
pub struct ReportOutput {
    /// text (tables and charts), csv (operations: `section,key,value`; compliance: one row
    /// per control and finding; the others: `section,row,column,value,unit`), or html (one
    /// self-contained page); --json for JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Csv,
    Html,
}
