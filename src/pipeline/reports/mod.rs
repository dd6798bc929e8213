//! The reports facet: builds any named report as one [`ReportDoc`] for `opsdeck report NAME`
//! and the Reports pane. Each report's own builder lives in its module (operations and
//! compliance on the trail facet; cost, security and monitoring here).

mod cost;
pub(crate) mod digest;
mod monitoring;
mod security;
mod store;

pub use store::{CompareWith, ReportComparison, StoredRun};

use super::Reports;
use crate::error::Result;
use crate::reports::{ReportDoc, ReportName, ReportOptions};

impl Reports<'_> {
    /// Builds the report `name` for the session's tenant.
    pub fn build(&self, name: ReportName, opts: &ReportOptions) -> Result<ReportDoc> {
        match name {
            ReportName::Operations => self.operations(opts),
            ReportName::Compliance => self.compliance(opts),
            ReportName::Cost => self.asking_aws(|| self.cost(opts)),
            ReportName::Security => self.security(opts),
            ReportName::Monitoring => self.asking_aws(|| self.monitoring(opts)),
        }
    }

    /// A report that asks AWS, failing fast (`aws/reach.rs`): once an endpoint could not be
    /// reached, the report's other calls to it are not sent (each would retry for seconds), and
    /// the report's first note says which endpoint, which call and why.
    fn asking_aws(&self, build: impl FnOnce() -> Result<ReportDoc>) -> Result<ReportDoc> {
        let (doc, unreached) = crate::aws::reach::fail_fast(build);
        let mut doc = doc?;
        let said: Vec<String> = unreached
            .iter()
            .map(|u| {
                format!(
                    "AWS could not be reached at {}: {} failed to connect ({}); {} later request(s) to it (retries included) were not sent, and what they would give is left out",
                    u.endpoint, u.call, u.detail, u.not_sent
                )
            })
            .collect();
        doc.notes.splice(0..0, said);
        Ok(doc)
    }

    fn operations(&self, opts: &ReportOptions) -> Result<ReportDoc> {
        let report = self
            .trail()
            .operations_report(opts.since.as_deref(), opts.until.as_deref())?;
        let a = &report.applies;
        let summary = format!(
            "{} plan(s); runs: {} succeeded, {} failed, {} cancelled; change failure rate {}",
            report.plans,
            a.succeeded,
            a.failed,
            a.cancelled,
            a.failure_rate_text()
        );
        Ok(ReportDoc {
            name: ReportName::Operations,
            tenant: report.tenant.clone(),
            title: format!(
                "Operations of tenant {}, {} to {}",
                report.tenant, report.from, report.to
            ),
            generated_at: crate::time::iso(self.clock.now()),
            summary,
            outputs: report.outputs(),
            notes: Vec::new(),
            data: report_data(&report)?,
        })
    }

    fn compliance(&self, opts: &ReportOptions) -> Result<ReportDoc> {
        let framework = opts.framework.as_deref().unwrap_or("cis");
        let report = self.trail().compliance_report(framework)?;
        Ok(ReportDoc {
            name: ReportName::Compliance,
            tenant: report.tenant.clone(),
            title: format!(
                "{} {} of tenant {}",
                report.name, report.version, report.tenant
            ),
            generated_at: report.generated_at.clone(),
            summary: format!(
                "{} pass, {} fail, {} not checked ({} scan(s) read)",
                report.counts.pass, report.counts.fail, report.counts.not_checked, report.scans
            ),
            outputs: report.outputs(),
            notes: Vec::new(),
            data: report_data(&report)?,
        })
    }
}

/// The report's own structure, as `--json` prints it.
pub(crate) fn report_data<T: serde::Serialize>(report: &T) -> Result<serde_json::Value> {
    serde_json::to_value(report)
        .map_err(|e| crate::error::Error::input(format!("report data: {e}")))
}
