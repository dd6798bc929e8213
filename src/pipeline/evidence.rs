//! `audit evidence` for the trail facet: gathers a window's changes — trail records, plans,
//! artifacts, the keys that verify them — and writes the evidence pack (`reports::evidence`)
//! into a new directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::Trail;
use crate::audit::EventKind;
use crate::audit::query::time_bound;
use crate::error::{Error, Result};
use crate::reports::evidence::{self, MemberKey};
use crate::store::fsutil;
use crate::time::Stamp;

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSummary {
    pub dir: PathBuf,
    pub from: String,
    pub to: String,
    pub changes: usize,
    pub records: usize,
    pub files: usize,
    pub head_hash: Option<String>,
}

impl Trail<'_> {
    /// Writes the change-management evidence pack of `[from, to)` into `out`, which must not
    /// exist or be empty. Refused while the trail does not verify: a pack is evidence only of
    /// an intact trail (`audit verify` names what happened).
    pub fn evidence_pack(&self, from: &str, to: &str, out: &Path) -> Result<EvidenceSummary> {
        self.require_reader("export audit evidence")?;
        let clock = self.clock.as_ref();
        let from = time_bound("from", from, clock)?;
        let to = time_bound("to", to, clock)?;
        if from >= to {
            return Err(Error::input(format!(
                "--from ({}) must be before --to ({})",
                crate::time::iso(from),
                crate::time::iso(to)
            )));
        }
        if out.exists()
            && std::fs::read_dir(out)
                .map_err(|e| Error::io(format!("reading {}", out.display()), e))?
                .next()
                .is_some()
        {
            return Err(Error::input(format!(
                "{} is not empty: give a new directory for the evidence pack (nothing is overwritten)",
                out.display()
            )));
        }
        let verified = self.verify(false)?;
        if !verified.ok {
            let what = verified
                .first_break
                .as_ref()
                .map(|b| format!("line {}: {}", b.line, b.problem))
                .unwrap_or_else(|| "it does not verify".into());
            return Err(Error::refused(format!(
                "the audit trail of tenant {} does not verify ({what}); an evidence pack would attest to a broken trail. `opsdeck audit verify` says what happened",
                self.tenant.name
            )));
        }
        // The chain from its first record to the window's last: every record before `to`.
        let mut records = Vec::new();
        self.scan_trail(&mut |r| {
            records.push(r);
            true
        })?;
        if let Some(last) = records
            .iter()
            .rposition(|r| r.event.timestamp.timestamp() < to)
        {
            records.truncate(last + 1);
        } else {
            records.clear();
        }
        let ids = evidence::plans_in_window(&records, from, to);
        let mut plans = Vec::new();
        let mut artifacts = BTreeMap::new();
        for id in &ids {
            // A plan the store lost is named in the pack, not a reason to withhold the rest.
            let Ok(p) = self.store.get_plan(&self.tenant.name, id) else {
                continue;
            };
            for a in &p.plan.artifacts {
                if let Ok(bytes) = self.store.get_artifact(&self.tenant.name, &a.sha256) {
                    artifacts.insert(a.sha256.clone(), bytes);
                }
            }
            plans.push(p);
        }
        let used: BTreeSet<&str> = records.iter().map(|r| r.key.as_str()).collect();
        let audit_keys: BTreeMap<String, String> = verified
            .signing_keys
            .iter()
            .filter(|k| used.contains(k.id.as_str()))
            .filter_map(|k| k.public.clone().map(|p| (k.id.clone(), p)))
            .collect();
        let roster = self.roster()?;
        let mut member_keys = BTreeSet::new();
        for r in records.iter().filter(|r| {
            matches!(r.event.event, EventKind::Approved | EventKind::Rejected)
                && r.event.plan_id.as_ref().is_some_and(|p| ids.contains(p))
        }) {
            let m = r.event.approval_metadata.as_ref();
            let user = m
                .and_then(|m| m["approver"].as_str().or(m["rejectedBy"].as_str()))
                .unwrap_or_default();
            let Some(at) = m
                .and_then(|m| m["signedAt"].as_str())
                .and_then(|s| s.parse::<Stamp>().ok())
            else {
                continue;
            };
            if let Some(key) = roster.member_at(user, &at).and_then(|s| s.key.as_ref()) {
                member_keys.insert(MemberKey {
                    user: user.to_string(),
                    key: key.openssh(),
                    fingerprint: key.fingerprint(),
                });
            }
        }
        let pack = evidence::build(&evidence::Input {
            tenant: &self.tenant.name,
            from,
            to,
            generated_at: crate::time::iso(clock.now()),
            generated_by: self.identity.user.clone(),
            records: &records,
            plans: &plans,
            artifacts: &artifacts,
            audit_keys: &audit_keys,
            member_keys: &member_keys,
            verified: json!({"ok": verified.ok, "records": verified.records,
                             "head": verified.head, "full": verified.full}),
        })?;
        fsutil::ensure_private_dir(out)?;
        for (path, bytes) in &pack.files {
            let file = out.join(path);
            if let Some(dir) = file.parent() {
                fsutil::ensure_private_dir(dir)?;
            }
            fsutil::write_new(&file, bytes)?;
        }
        Ok(EvidenceSummary {
            dir: out.to_path_buf(),
            from: crate::time::iso(from),
            to: crate::time::iso(to),
            changes: pack.changes,
            records: pack.records,
            files: pack.files.len(),
            head_hash: records.last().map(|r| r.hash.clone()),
        })
    }
}
