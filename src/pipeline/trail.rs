//! The tenant's audit trail for its members: streaming, filtering and verifying it.

use super::Trail;
use crate::audit::{AuditFilter, AuditRecord, VerifyReport};
use crate::error::Result;

impl Trail<'_> {
    /// Streams the tenant's events oldest first (one in memory at a time); `f` returns false to
    /// stop.
    pub fn scan_audit(&self, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.require_reader("read the audit trail")?;
        self.scan_trail(f)
    }

    /// Events matching `filter`, oldest first; filtered as they stream, so memory follows the
    /// matches (the newest `limit` of them), not the size of the trail.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.require_reader("read the audit trail")?;
        let mut out = std::collections::VecDeque::new();
        self.store.scan_audit(&self.tenant.name, &mut |r| {
            if filter.matches(&r) {
                out.push_back(r);
                if filter.limit.is_some_and(|l| out.len() > l) {
                    out.pop_front();
                }
            }
            true
        })?;
        Ok(out.into())
    }

    pub fn verify(&self, full: bool) -> Result<VerifyReport> {
        self.require_reader("verify the audit trail")?;
        self.store.verify_audit(&self.tenant.name, full)
    }
}
