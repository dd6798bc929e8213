//! The tenant's audit trail for its members: streaming, filtering and verifying it.

use super::Trail;
use crate::audit::chain::Break;
use crate::audit::witness::{self, LocalWitness, WitnessSource};
use crate::audit::{Anchors, AuditFilter, AuditRecord, Tamper, VerifyReport};
use crate::error::{Error, Result};

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

    /// Verifies the chain, then against every checkpoint this member can read (its own, and the
    /// backend's locked bucket) and the audit-signing keys it pinned, then every approved or
    /// rejected event's decision signature against the key its author had registered at that
    /// time. Keys are pinned on first use, and only when everything else verified.
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
        let mut pinned = local.pinned_keys(tenant)?;
        // This machine's own key is trusted by the member who holds it.
        if let Some(p) = pinned.as_mut() {
            p.entry(self.signer.key_id().to_string())
                .or_insert_with(|| hex::encode(self.signer.verifying_key().as_bytes()));
        }
        let anchors = Anchors {
            checkpoints: &checkpoints,
            pinned: pinned.as_ref(),
        };
        let mut report = self.store.verify_audit_anchored(tenant, full, &anchors)?;
        if report.ok
            && let Some(b) = self.first_bad_decision()?
        {
            report.ok = false;
            report.first_break = Some(b);
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

    /// Pins an audit-signing key (by id, as `audit verify` names it) for this tenant, after its
    /// holder confirmed it: what a member does when a new machine of the team starts writing.
    pub fn trust_key(&self, key_id: &str) -> Result<String> {
        self.require_reader("trust an audit-signing key")?;
        let tenant = &self.tenant.name;
        let report = self.store.verify_audit(tenant, false)?;
        let Some(public) = report
            .signing_keys
            .iter()
            .find(|k| k.id == key_id)
            .and_then(|k| k.public.clone())
        else {
            return Err(Error::not_found(
                "audit-signing key",
                key_id,
                "no record of this tenant's chain is signed by it (`opsdeck audit verify` names the keys)",
            ));
        };
        LocalWitness::for_store(&self.paths.identity, self.store.as_ref()).pin_keys(
            tenant,
            &[(key_id.to_string(), public.clone())],
            &format!("trusted-by-{}", self.identity().user),
        )?;
        Ok(public)
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
                    what: Some(Tamper::BadSignature),
                });
                return false;
            }
            true
        })?;
        Ok(found)
    }
}
