//! The runner's claims and run logs in the embedded store:
//!
//! ```text
//! <root>/tenants/<t>/runs/<plan id>.claim   the plan's claim, linked into place (one holder)
//! <root>/tenants/<t>/runs/<plan id>.log     the run's log, one JSON entry a line, appended
//! ```

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::LocalStore;
use crate::error::Result;
use crate::store::fsutil::FileLock;
use crate::store::runqueue::{RunClaim, RunLogEntry};
use crate::store::{StoreError, valid_id};

impl LocalStore {
    fn runs_path(&self, tenant: &str, plan_id: &str, ext: &str) -> Result<PathBuf> {
        if !valid_id(plan_id) {
            return Err(StoreError::InvalidName {
                what: "plan id",
                name: plan_id.to_string(),
            }
            .into());
        }
        Ok(self
            .tenant_subdir(tenant, "runs")?
            .join(format!("{plan_id}.{ext}")))
    }

    pub(super) fn claim_run(&self, claim: &RunClaim) -> Result<Option<RunClaim>> {
        let path = self.runs_path(&claim.tenant, &claim.plan_id, "claim")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // As for stack locks: written aside, then linked into place; the link fails if a claim
        // is there, and readers never see half a claim.
        let tmp = crate::store::fsutil::tmp_path(&path);
        let bytes = serde_json::to_vec_pretty(claim)
            .map_err(|e| StoreError::io("encoding claim", std::io::Error::other(e)))?;
        crate::store::fsutil::write_new(&tmp, &bytes)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let _ = crate::store::fsutil::sync_dir(dir);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match Self::read_json::<RunClaim>(&path)? {
                    Some(holder) => Ok(Some(holder)),
                    None => self.claim_run(claim),
                }
            }
            Err(e) => Err(StoreError::io(format!("creating claim {}", path.display()), e).into()),
        }
    }

    pub(super) fn read_claim(&self, tenant: &str, plan_id: &str) -> Result<Option<RunClaim>> {
        Ok(Self::read_json(&self.runs_path(tenant, plan_id, "claim")?)?)
    }

    pub(super) fn claims(&self, tenant: &str) -> Result<Vec<RunClaim>> {
        let dir = self.tenant_subdir(tenant, "runs")?;
        let entries = fs::read_dir(&dir)
            .map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".claim")
                && valid_id(id)
                && let Some(c) = Self::read_json::<RunClaim>(&entry.path())?
            {
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.plan_id.cmp(&b.plan_id));
        Ok(out)
    }

    /// Replaces the claim file with `next` when `holds` says the current one may be replaced;
    /// serialised against every other change of the tenant's claims.
    fn replace_claim(&self, next: &RunClaim, holds: impl Fn(&RunClaim) -> bool) -> Result<bool> {
        let path = self.runs_path(&next.tenant, &next.plan_id, "claim")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".claims.lock"))?;
        match Self::read_json::<RunClaim>(&path)? {
            Some(held) if holds(&held) => {
                Self::write_json(&path, next)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) fn renew_claim(&self, claim: &RunClaim) -> Result<bool> {
        self.replace_claim(claim, |held| held.claim_id == claim.claim_id)
    }

    pub(super) fn take_over_claim(&self, stale: &RunClaim, claim: &RunClaim) -> Result<bool> {
        self.replace_claim(claim, |held| {
            held.claim_id == stale.claim_id && held.heartbeat_at == stale.heartbeat_at
        })
    }

    pub(super) fn release_claim(
        &self,
        tenant: &str,
        plan_id: &str,
        claim_id: &str,
    ) -> Result<bool> {
        let path = self.runs_path(tenant, plan_id, "claim")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".claims.lock"))?;
        match Self::read_json::<RunClaim>(&path)? {
            Some(held) if held.claim_id == claim_id => {
                fs::remove_file(&path)
                    .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub(super) fn write_run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        entries: &[RunLogEntry],
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = self.runs_path(tenant, plan_id, "log")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".logs.lock"))?;
        let last = self.read_run_log(tenant, plan_id, 0)?.last().map(|e| e.seq);
        if let Some(taken) = entries.iter().find(|e| last.is_some_and(|l| e.seq <= l)) {
            return Err(crate::error::Error::refused(format!(
                "run log of plan {plan_id}: entry {} is already written",
                taken.seq
            )));
        }
        let mut buf = Vec::new();
        // A line torn by a crash is ended first, so the next entry starts a line of its own.
        if fs::read(&path).is_ok_and(|b| b.last().is_some_and(|c| *c != b'\n')) {
            buf.push(b'\n');
        }
        for e in entries {
            serde_json::to_writer(&mut buf, e)
                .map_err(|e| StoreError::io("encoding run log", std::io::Error::other(e)))?;
            buf.push(b'\n');
        }
        let io = |e| StoreError::io(format!("appending to {}", path.display()), e);
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        f.write_all(&buf).map_err(io)?;
        f.sync_data().map_err(io)?;
        Ok(())
    }

    pub(super) fn read_run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        after: u64,
    ) -> Result<Vec<RunLogEntry>> {
        let path = self.runs_path(tenant, plan_id, "log")?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::io(format!("reading {}", path.display()), e).into());
            }
        };
        // A line torn by a crash mid-append was never acknowledged: it is skipped.
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<RunLogEntry>(l).ok())
            .filter(|e| e.seq > after)
            .collect())
    }
}
