//! The local durable journal: audit events (and the artifacts they point to) that could not be
//! written to the shared backend while it was unreachable. Each entry is appended with one
//! write and `fdatasync` before the caller is told it is recorded, so a crash loses nothing
//! acknowledged; a torn last line (never acknowledged) is dropped. Entries are flushed in order
//! when the backend returns; flushing is idempotent (events carry ids the backend refuses to
//! store twice), so a flush interrupted after it committed never duplicates anything.
//!
//! ```text
//! <dir>/<tenant>.jsonl        pending entries, oldest first
//! <dir>/<tenant>.lock         held while appending to or flushing the tenant's journal
//! <dir>/<tenant>.dead.jsonl   entries the backend refused for good (with the reason)
//! <dir>/blobs/<sha256>        artifact bytes waiting to be uploaded
//! ```
//!
//! Entries are audit batches, artifacts, and run outcomes: the final state of a plan whose
//! apply finished while the backend was away (recorded on the plan when flushed, before the
//! `completed` event that follows it in the journal).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::fsutil::{FileLock, ensure_private_dir, write_atomic};
use crate::approval::{PlanRecord, State};
use crate::audit::AuditEvent;
use crate::error::Error;

type Result<T, E = StoreError> = std::result::Result<T, E>;
use crate::plan::{ArtifactKind, sha256_hex};
use crate::tenant::validate_name;
use crate::time::Stamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// One batch of events, to be sealed onto the chain together.
    Audit {
        events: Vec<AuditEvent>,
        queued_at: Stamp,
    },
    /// Bytes kept under `blobs/`, to be stored as an artifact of this kind.
    Artifact {
        sha256: String,
        kind: ArtifactKind,
        queued_at: Stamp,
    },
    /// How a run ended, when the backend could not take the plan's final state: recorded on
    /// the plan when flushed, so an apply that worked during an outage is never taken for
    /// one that was interrupted.
    Outcome {
        outcome: RunOutcome,
        queued_at: Stamp,
    },
}

/// The end of a plan's run, as `Runs::apply` records it on the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub tenant: String,
    pub plan_id: String,
    pub state: State,
    pub finished_at: Stamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_uri: Option<String>,
}

impl RunOutcome {
    /// Writes this outcome into the plan's state and its last execution. A journaled outcome
    /// also replaces a `failed: interrupted` that was inferred meanwhile (the process did
    /// finish); any other final state already recorded is left as it is (returns false).
    pub fn record(&self, r: &mut PlanRecord) -> bool {
        let inferred_interrupted = r.state == State::Failed
            && r.executions.last().and_then(|x| x.outcome.as_deref()) == Some("interrupted");
        if r.state != State::Executing && !inferred_interrupted {
            return false;
        }
        r.state = self.state;
        if let Some(x) = r.executions.last_mut() {
            x.finished_at = Some(self.finished_at.clone());
            x.exit_code = self.exit_code;
            x.log_uri = self.log_uri.clone();
            x.outcome = Some(self.state.as_str().to_string());
        }
        r.updated_at = self.finished_at.clone();
        true
    }
}

impl Entry {
    /// How many things this entry stands for, for status lines.
    pub fn weight(&self) -> usize {
        match self {
            Entry::Audit { events, .. } => events.len(),
            Entry::Artifact { .. } | Entry::Outcome { .. } => 1,
        }
    }
}

pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    pub fn open(dir: &Path) -> Result<Journal> {
        ensure_private_dir(dir)?;
        ensure_private_dir(&dir.join("blobs"))?;
        Ok(Journal {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the tenant's journal for appending or flushing (across processes on this host).
    pub fn lock(&self, tenant: &str) -> Result<Guard<'_>, Error> {
        validate_name(tenant)?;
        let lock = FileLock::exclusive(&self.dir.join(format!("{tenant}.lock")))?;
        Ok(Guard {
            journal: self,
            tenant: tenant.to_string(),
            _lock: lock,
        })
    }

    /// Tenants with a journal file (pending or not).
    pub fn tenants(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let t = name.strip_suffix(".jsonl")?;
                (!t.ends_with(".dead") && validate_name(t).is_ok()).then(|| t.to_string())
            })
            .collect();
        out.sort();
        out
    }

    /// Pending entries and dead letters over all tenants, without taking locks (a count for
    /// status lines; a torn line is not counted).
    pub fn counts(&self) -> (usize, usize) {
        let mut pending = 0;
        let mut dead = 0;
        for t in self.tenants() {
            pending += read_entries(&self.path(&t))
                .map(|(e, _)| e.iter().map(Entry::weight).sum::<usize>())
                .unwrap_or(0);
            dead += fs::read(self.dead_path(&t))
                .map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count())
                .unwrap_or(0);
        }
        (pending, dead)
    }

    fn path(&self, tenant: &str) -> PathBuf {
        self.dir.join(format!("{tenant}.jsonl"))
    }

    fn dead_path(&self, tenant: &str) -> PathBuf {
        self.dir.join(format!("{tenant}.dead.jsonl"))
    }

    fn blob_path(&self, sha: &str) -> PathBuf {
        self.dir.join("blobs").join(sha)
    }
}

/// Reads entries, dropping a torn last line; returns them and the length of the intact part.
fn read_entries(path: &Path) -> Result<(Vec<Entry>, u64)> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
    };
    let intact = match data.iter().rposition(|b| *b == b'\n') {
        Some(nl) => nl + 1,
        None => 0,
    };
    let mut out = Vec::new();
    for (n, line) in data[..intact].split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = serde_json::from_slice(line).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("journal line {}: {e}", n + 1),
        })?;
        out.push(entry);
    }
    Ok((out, intact as u64))
}

/// The tenant's journal, held.
pub struct Guard<'a> {
    journal: &'a Journal,
    tenant: String,
    _lock: FileLock,
}

impl Guard<'_> {
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let path = self.journal.path(&self.tenant);
        let (entries, intact) = read_entries(&path)?;
        // A torn tail was never acknowledged: cut it so the next append starts a clean line.
        if let Ok(meta) = fs::metadata(&path)
            && meta.len() > intact
        {
            tracing::warn!(path = %path.display(), dropped = meta.len() - intact, "repairing torn journal entry");
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
            f.set_len(intact)
                .and_then(|_| f.sync_data())
                .map_err(|e| StoreError::io(format!("repairing {}", path.display()), e))?;
        }
        Ok(entries)
    }

    pub fn is_empty(&self) -> bool {
        fs::metadata(self.journal.path(&self.tenant))
            .map(|m| m.len() == 0)
            .unwrap_or(true)
    }

    /// Appends one entry durably.
    pub fn push(&self, entry: &Entry) -> Result<()> {
        // Start from an intact file: a torn tail must not glue onto this entry.
        if !self.is_empty() {
            self.entries()?;
        }
        let mut line = serde_json::to_vec(entry).map_err(|e| StoreError::Encode {
            what: "a journal entry",
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        let path = self.journal.path(&self.tenant);
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        f.write_all(&line)
            .and_then(|_| f.sync_data())
            .map_err(|e| StoreError::io(format!("appending to {}", path.display()), e))
    }

    /// Keeps the bytes of an artifact until it is uploaded, then queues it.
    pub fn push_artifact(&self, kind: ArtifactKind, bytes: &[u8], now: Stamp) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.journal.blob_path(&sha);
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        self.push(&Entry::Artifact {
            sha256: sha.clone(),
            kind,
            queued_at: now,
        })?;
        Ok(sha)
    }

    pub fn blob(&self, sha: &str) -> Result<Vec<u8>> {
        let path = self.journal.blob_path(sha);
        let bytes = fs::read(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
        if sha256_hex(&bytes) != sha {
            return Err(StoreError::Corrupt {
                path,
                detail: "queued artifact no longer matches its digest".into(),
            });
        }
        Ok(bytes)
    }

    /// Keeps only `remaining` (what is still to be flushed), atomically.
    pub fn retain(&self, remaining: &[Entry]) -> Result<()> {
        let path = self.journal.path(&self.tenant);
        let mut bytes = Vec::new();
        for e in remaining {
            bytes.extend(serde_json::to_vec(e).map_err(|e| StoreError::Encode {
                what: "a journal entry",
                detail: e.to_string(),
            })?);
            bytes.push(b'\n');
        }
        write_atomic(&path, &bytes)?;
        // Blobs no longer referenced by any tenant's journal can go.
        if remaining.is_empty() {
            self.sweep_blobs();
        }
        Ok(())
    }

    /// Sets an entry aside for good, with why.
    pub fn bury(&self, entry: &Entry, reason: &str) -> Result<()> {
        let path = self.journal.dead_path(&self.tenant);
        let mut line = serde_json::to_vec(&serde_json::json!({"reason": reason, "entry": entry}))
            .map_err(|e| StoreError::Encode {
            what: "a journal entry",
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        f.write_all(&line)
            .and_then(|_| f.sync_data())
            .map_err(|e| StoreError::io(format!("appending to {}", path.display()), e))
    }

    fn sweep_blobs(&self) {
        let mut wanted = std::collections::HashSet::new();
        for t in self.journal.tenants() {
            if let Ok((entries, _)) = read_entries(&self.journal.path(&t)) {
                for e in entries {
                    if let Entry::Artifact { sha256, .. } = e {
                        wanted.insert(sha256);
                    }
                }
            }
        }
        if let Ok(blobs) = fs::read_dir(self.journal.dir.join("blobs")) {
            for b in blobs.flatten() {
                let name = b.file_name().to_string_lossy().to_string();
                if !wanted.contains(&name) {
                    let _ = fs::remove_file(b.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{EventKind, Status};

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            event_id: format!("e{n}"),
            request_id: "r".into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
            user_source: "flag".into(),
            os_user: "u".into(),
            timestamp: "2026-11-24T10:00:00Z".parse().unwrap(),
            event: EventKind::AccessDenied,
            status: Status::Rejected,
            plan_id: None,
            intent: None,
            agent_type: None,
            approval_metadata: None,
            execution_logs: None,
            cost_impact: None,
            security_gates: None,
            identity_receipt: None,
            artifacts: vec![],
            message: None,
        }
    }

    #[test]
    fn entries_survive_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        {
            let g = j.lock("team").unwrap();
            for n in 0..3 {
                g.push(&Entry::Audit {
                    events: vec![event(n)],
                    queued_at: Stamp::now(),
                })
                .unwrap();
            }
            g.push_artifact(ArtifactKind::Log, b"log bytes", Stamp::now())
                .unwrap();
        }
        // A crash in the middle of a write leaves half a line.
        let path = dir.path().join("team.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"entry\":\"audit\",\"ev").unwrap();
        assert_eq!(j.counts(), (4, 0));
        let g = j.lock("team").unwrap();
        let entries = g.entries().unwrap();
        assert_eq!(entries.len(), 4);
        assert!(matches!(&entries[0], Entry::Audit { events, .. } if events[0].event_id == "e0"));
        let Entry::Artifact { sha256, .. } = &entries[3] else {
            panic!("artifact last")
        };
        assert_eq!(g.blob(sha256).unwrap(), b"log bytes");
        // Appending after the repair starts a clean line.
        g.push(&Entry::Audit {
            events: vec![event(9)],
            queued_at: Stamp::now(),
        })
        .unwrap();
        assert_eq!(g.entries().unwrap().len(), 5);
        g.bury(&entries[0], "refused").unwrap();
        g.retain(&[]).unwrap();
        assert!(g.is_empty());
        assert_eq!(j.counts(), (0, 1));
        assert!(
            fs::read_dir(dir.path().join("blobs"))
                .unwrap()
                .next()
                .is_none()
        );
    }
}
