//! The tenant's audit trail for its members: streaming, filtering and verifying it.

use super::Trail;
use crate::audit::chain::Break;
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

    /// The chain and its seals, then every approved/rejected event's decision signature against
    /// the key its author had registered at that time (the first one that fails breaks the
    /// report, named by its record).
    pub fn verify(&self, full: bool) -> Result<VerifyReport> {
        self.require_reader("verify the audit trail")?;
        let mut report = self.store.verify_audit(&self.tenant.name, full)?;
        if report.ok
            && let Some(b) = self.first_bad_decision()?
        {
            report.ok = false;
            report.first_break = Some(b);
        }
        Ok(report)
    }

    /// The first approved/rejected event whose signature does not verify under its author's
    /// key registered at the signing time.
    pub fn first_bad_decision(&self) -> Result<Option<Break>> {
        let roster = self.roster()?;
        let mut found = None;
        let mut line = 0;
        self.store.scan_audit(&self.tenant.name, &mut |r| {
            line += 1;
            if let Some(problem) = self.decision_event_problem(&roster, &r) {
                found = Some(Break {
                    line,
                    seq: Some(r.seq),
                    event_id: Some(r.event.event_id.clone()),
                    problem,
                });
                return false;
            }
            true
        })?;
        Ok(found)
    }
}
