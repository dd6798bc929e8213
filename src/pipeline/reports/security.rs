//! The security-posture report: the tenant's stored scans (found through the trail, as the
//! compliance report finds them) and its remediation plans (the security agent's `remediate`
//! plans in the store, with their state). No AWS call.

use super::super::Reports;
use super::report_data;
use crate::error::Result;
use crate::intent::AgentKind;
use crate::reports::security::{RemediationPlan, build};
use crate::reports::{ReportDoc, ReportName, ReportOptions};

impl Reports<'_> {
    pub(super) fn security(&self, _opts: &ReportOptions) -> Result<ReportDoc> {
        self.require_reader("read the security report")?;
        let scans = self.trail().stored_scans()?;
        let remediations = self
            .approvals()
            .plans(None)?
            .into_iter()
            .filter(|r| r.plan.agent == AgentKind::Security && r.plan.action == "remediate")
            .map(|r| RemediationPlan {
                plan_id: r.plan.plan_id.clone(),
                created_at: r.plan.created_at.to_string(),
                requester: r.plan.requester.clone(),
                request: r.plan.request.clone(),
                summary: r.plan.summary.clone(),
                state: r.state.as_str().to_string(),
            })
            .collect();
        let report = build(&self.tenant.name, &scans, remediations);
        let mut notes = vec![
            "from the security scans stored in the trail (opsdeck's own checks; GuardDuty and Security Hub findings are not counted) and the tenant's remediation plans".to_string(),
        ];
        if report.scans == 0 {
            notes.push("no scan stored yet: ask \"run a security scan\"".into());
        }
        Ok(ReportDoc {
            name: ReportName::Security,
            tenant: report.tenant.clone(),
            title: format!("Security posture of tenant {}", report.tenant),
            generated_at: crate::time::iso(self.clock.now()),
            summary: report.summary(),
            outputs: report.outputs(),
            notes,
            data: report_data(&report)?,
        })
    }
}
