//! The tenant's audit trail for its members: streaming, filtering and verifying it.

use super::Trail;
use crate::audit::witness::{self, LocalWitness, WitnessSource};
use crate::audit::{Anchors, AuditFilter, AuditRecord, VerifyReport};
use crate::error::Result;

impl Trail<'_> {
    /// The operations report over `[since, until)` (default: the 30 days up to now), from the
    /// trail alone: plans, decisions, approval latency, run outcomes, who asked.
    pub fn operations_report(
        &self,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<crate::reports::OperationsReport> {
        use crate::audit::query::time_bound;
        let clock = self.clock.as_ref();
        let to = match until {
            Some(t) => time_bound("until", t, clock)?,
            // Up to and including now: the window is half-open.
            None => clock
                .now()
                .checked_add(jiff::SignedDuration::from_millis(1))
                .map_err(|e| crate::error::Error::input(format!("until: {e}")))?,
        };
        let from = match since {
            Some(t) => time_bound("since", t, clock)?,
            None => to
                .checked_sub(jiff::SignedDuration::from_hours(30 * 24))
                .map_err(|e| crate::error::Error::input(format!("since: {e}")))?,
        };
        if from >= to {
            return Err(crate::error::Error::input(format!(
                "since ({}) must be before until ({})",
                crate::time::iso(from),
                crate::time::iso(to)
            )));
        }
        const MAX_DAYS: i64 = 3660;
        if (to.as_second() - from.as_second()) / 86_400 >= MAX_DAYS {
            return Err(crate::error::Error::input(format!(
                "the window {} to {} is longer than a report covers: at most {MAX_DAYS} days; narrow --since/--until",
                crate::time::iso(from),
                crate::time::iso(to)
            )));
        }
        self.require_reader("read the audit trail")?;
        // The plans' steps as the reports' digest of the trail holds them.
        self.with_report_trail(|trail, _| {
            Ok(crate::reports::operations::build(
                &self.tenant.name,
                crate::reports::Window { from, to },
                &trail.steps,
            ))
        })
    }

    /// Streams the tenant's events oldest first (one in memory at a time); `f` returns false to
    /// stop.
    pub fn scan_audit(&self, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.require_reader("read the audit trail")?;
        self.scan_trail(f)
    }

    /// The tenant's events after `seq` only, oldest first (a reader that holds the rest).
    pub fn scan_audit_after(&self, seq: u64, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.require_reader("read the audit trail")?;
        self.scan_trail_after(seq, f)
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

    /// Verifies the chain, then against every checkpoint this member can read (its own, and the
    /// backend's locked bucket) and the audit-signing keys it pinned, then every approved or
    /// rejected event's decision signature and every key certification against the key its
    /// author had registered at that time. Each signing key must be certified by a member,
    /// pinned by this one, or this machine's (see `audit_keys.rs`). Keys are pinned on first
    /// use, and only when everything verified.
    pub fn verify(&self, full: bool) -> Result<VerifyReport> {
        self.require_reader("verify the audit trail")?;
        let tenant = &self.tenant.name;
        let local = LocalWitness::for_store(&self.paths.identity, self.store.as_ref());
        let mut sources = Vec::new();
        let mut all = Vec::new();
        let mine = local.read(tenant)?;
        sources.push(WitnessSource {
            name: "this member's checkpoints".into(),
            checkpoints: mine.len(),
            error: None,
        });
        all.extend(mine);
        if let Some(remote) = self.store.remote_witness() {
            match remote.checkpoints(tenant) {
                Ok(cps) => {
                    sources.push(WitnessSource {
                        name: remote.witness_name(),
                        checkpoints: cps.len(),
                        error: None,
                    });
                    all.extend(cps);
                }
                Err(e) => sources.push(WitnessSource {
                    name: remote.witness_name(),
                    checkpoints: 0,
                    error: Some(e.to_string()),
                }),
            }
        }
        let checkpoints = witness::merge(all);
        let pinned = local.pinned_keys(tenant)?;
        // Which keys count is settled below, against certifications in the trail and pins.
        let anchors = Anchors {
            checkpoints: &checkpoints,
            pinned: None,
        };
        let mut report = self.store.verify_audit_anchored(tenant, full, &anchors)?;
        if report.first_break.is_none() {
            let roster = self.roster()?;
            let facts = self.trail_facts(&roster)?;
            let untrusted =
                self.untrusted_key(&mut report, &facts, pinned.as_ref(), roster.root.is_some());
            let first = match (facts.first_problem, untrusted) {
                (Some(a), Some(b)) => Some(if b.seq < a.seq { b } else { a }),
                (a, b) => a.or(b),
            };
            if let Some(b) = first {
                report.ok = false;
                report.first_break = Some(b);
            }
        }
        let mut w = report.witness.take().unwrap_or_default();
        w.sources = sources;
        let first: Vec<(String, String)> = report
            .signing_keys
            .iter()
            .filter_map(|k| Some((k.id.clone(), k.public.clone()?)))
            .collect();
        if pinned.is_none() && report.ok && !first.is_empty() {
            local.pin_keys(tenant, &first, "first-use")?;
            w.pinned_now = first.into_iter().map(|(id, _)| id).collect();
            for k in &mut report.signing_keys {
                k.pinned = true;
            }
        }
        report.witness = Some(w);
        Ok(report)
    }
}
