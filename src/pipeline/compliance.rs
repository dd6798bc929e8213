//! The compliance report for the trail facet: the tenant's security scans, found through the
//! trail (a `classified` security/scan request, its `answered` event and the stored report it
//! names), judged through a framework's mapping (`reports::compliance`).

use super::Trail;
use crate::error::Result;
use crate::reports::compliance::{self, ComplianceReport, Framework, ScanRecord};

impl Trail<'_> {
    /// Each control of `framework` judged from the tenant's stored security scans: pass, fail
    /// or not checked, with the findings behind it. Any member may read it (viewers included):
    /// it reads the trail and stored reports only, never AWS.
    pub fn compliance_report(&self, framework: &str) -> Result<ComplianceReport> {
        let framework: Framework = framework.parse()?;
        let mapping = compliance::frameworks::load(framework)?;
        self.require_reader("read the compliance report")?;
        let scans = self.stored_scans()?;
        Ok(compliance::build(
            &self.tenant.name,
            &mapping,
            &scans,
            &crate::time::iso(self.clock.now()),
        ))
    }

    /// The tenant's stored security scans, oldest first (the compliance and security
    /// reports read them), from the reports' digest of the trail.
    pub(super) fn stored_scans(&self) -> Result<Vec<ScanRecord>> {
        self.with_report_trail(|trail, store| trail.scan_records(store))
    }
}
