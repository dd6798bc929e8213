//! Checkpoints of the trail kept where its writers cannot rewrite them, and the keys a member
//! pinned for it (like SSH's known_hosts).
//!
//! After every append this member makes, a [`Checkpoint`] (tenant, seq, hash at that seq, time,
//! scope) is appended to `<identity>/witness/<scope hash>/<tenant>.jsonl`, a directory that is
//! the person's own and never part of the store; on the shared backend it is also written to
//! the audit-logs bucket, whose Object Lock (compliance mode) keeps every version of every
//! object until its retention passes, whoever asks. `audit verify` compares the chain with every
//! checkpoint it can read: a chain shorter than a checkpoint was truncated, a different hash at
//! a checkpointed seq was re-sealed, no chain at all was emptied or deleted.
//!
//! The same directory holds `<tenant>.keys`: the audit-signing keys this member trusts for the
//! tenant, pinned on first use. A record signed by any other key fails verification, naming it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chain::Break;
use super::{AuditRecord, Tamper};
use crate::error::Result;
use crate::store::{Store, StoreError};
use crate::time::Stamp;

/// "Record `seq` of `tenant`'s chain had hash `hash`", as seen by a writer at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tenant: String,
    pub seq: u64,
    pub hash: String,
    pub at: Stamp,
    /// `<backend>:<location>` of the store the chain lives in.
    pub scope: String,
}

/// A witness `audit verify` could read or not, and how many checkpoints it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WitnessSource {
    pub name: String,
    pub checkpoints: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the chain was compared with, and what that showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WitnessReport {
    pub sources: Vec<WitnessSource>,
    /// Checkpoints compared (from every source, duplicates counted once).
    pub checkpoints: usize,
    pub matched: usize,
    /// The newest checkpoint read (highest seq).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<Checkpoint>,
    /// The first checkpoint the chain contradicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Break>,
    /// Audit-signing keys pinned by this verification (first use), by key id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pinned_now: Vec<String>,
}

impl WitnessReport {
    /// One line saying what was checked against what.
    pub fn summary(&self) -> String {
        let from = self
            .sources
            .iter()
            .map(|s| match &s.error {
                Some(e) => format!("{}: unreadable ({e})", s.name),
                None => format!("{}: {}", s.name, s.checkpoints),
            })
            .collect::<Vec<_>>()
            .join("; ");
        match (&self.newest, &self.problem) {
            (None, _) => format!(
                "no checkpoints of this trail yet ({from}): nothing outside the store to compare with"
            ),
            (Some(n), None) => format!(
                "matches {} checkpoint(s), newest seq {} at {} ({from})",
                self.matched, n.seq, n.at
            ),
            (Some(n), Some(_)) => format!(
                "contradicts checkpoints: {} of {} match, newest seq {} at {} ({from})",
                self.matched, self.checkpoints, n.seq, n.at
            ),
        }
    }
}

/// The chain as verification saw it, for comparison with checkpoints.
pub struct ChainView<'a> {
    /// Hash of each record of the intact (linked, readable) prefix, in order (record i+1).
    pub hashes: Vec<&'a str>,
    /// Records stored, intact or not, and the highest seq among them.
    pub records: usize,
    pub last_seq: u64,
    /// Whether the trail exists at all (a file, a head item).
    pub present: bool,
    /// Whether the chain broke before its end (checkpoints past the break are not compared).
    pub broken: bool,
    pub event_id: &'a dyn Fn(usize) -> Option<String>,
}

/// Compares checkpoints (sorted by seq) with the chain; returns how many match and the first
/// contradiction.
pub fn compare(cps: &[Checkpoint], chain: &ChainView<'_>) -> (usize, Option<Break>) {
    let Some(newest) = cps.last() else {
        return (0, None);
    };
    if chain.records == 0 {
        let (what, how) = if chain.present {
            (Tamper::Emptied, "emptied")
        } else {
            (Tamper::Deleted, "deleted")
        };
        return (
            0,
            Some(Break {
                line: 1,
                seq: Some(1),
                event_id: None,
                problem: format!(
                    "{how}: the trail holds no records, but a checkpoint of {} saw {} (head {})",
                    newest.at,
                    newest.seq,
                    short(&newest.hash)
                ),
                what: Some(what),
            }),
        );
    }
    let mut matched = 0;
    for cp in cps {
        let i = (cp.seq as usize).saturating_sub(1);
        if cp.seq == 0 {
            continue;
        }
        if let Some(h) = chain.hashes.get(i) {
            if *h == cp.hash {
                matched += 1;
                continue;
            }
            return (
                matched,
                Some(Break {
                    line: i + 1,
                    seq: Some(cp.seq),
                    event_id: (chain.event_id)(i),
                    problem: format!(
                        "re-sealed: record {} has hash {} but a checkpoint of {} recorded {}: the chain up to it was rewritten and signed again",
                        cp.seq,
                        short(h),
                        cp.at,
                        short(&cp.hash)
                    ),
                    what: Some(Tamper::Resealed),
                }),
            );
        }
        if !chain.broken && cp.seq > chain.last_seq {
            // Name everything cut off: up to the newest checkpoint.
            return (
                matched,
                Some(Break {
                    line: chain.records + 1,
                    seq: Some(chain.last_seq + 1),
                    event_id: None,
                    problem: format!(
                        "truncated: the trail ends at record {} but a checkpoint of {} saw record {}: record(s) {}..{} were cut off the end",
                        chain.last_seq,
                        newest.at,
                        newest.seq,
                        chain.last_seq + 1,
                        newest.seq
                    ),
                    what: Some(Tamper::Truncated),
                }),
            );
        }
    }
    (matched, None)
}

fn short(h: &str) -> &str {
    &h[..12.min(h.len())]
}

/// Where this member keeps checkpoints and pinned keys for one store.
pub struct LocalWitness {
    dir: PathBuf,
    scope: String,
}

impl LocalWitness {
    pub fn new(identity: &Path, scope: &str) -> LocalWitness {
        let h = hex::encode(&Sha256::digest(scope.as_bytes())[..8]);
        LocalWitness {
            dir: identity.join("witness").join(h),
            scope: scope.to_string(),
        }
    }

    pub fn for_store(identity: &Path, store: &dyn Store) -> LocalWitness {
        LocalWitness::new(
            identity,
            &format!("{}:{}", store.backend(), store.location()),
        )
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn file(&self, tenant: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{tenant}.{ext}"))
    }

    fn ensure_dir(&self) -> Result<()> {
        crate::store::fsutil::ensure_private_dir(&self.dir)?;
        let scope_file = self.dir.join("scope");
        if !scope_file.exists() {
            crate::store::fsutil::write_atomic(&scope_file, self.scope.as_bytes())?;
        }
        Ok(())
    }

    fn append_lines(&self, path: &Path, text: &str) -> Result<()> {
        self.ensure_dir()?;
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| StoreError::io(format!("appending to {}", path.display()), e).into())
    }

    pub fn append(&self, cp: &Checkpoint) -> Result<()> {
        self.append_lines(&self.file(&cp.tenant, "jsonl"), &line(cp))
    }

    /// This member's checkpoints of the tenant's chain, sorted by seq.
    pub fn read(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        read_lines(&self.file(tenant, "jsonl"))
    }

    /// Checkpoints not yet accepted by the remote witness (a write failed).
    fn unsent(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        read_lines(&self.file(tenant, "unsent"))
    }

    /// Writes the checkpoint of `records` (the last sealed one) locally and to the store's
    /// remote witness, with any left from earlier failures. Never fails the append: the events
    /// are stored already; a checkpoint that could not be written is said in the log, kept in
    /// `<tenant>.unsent` and sent with the next one.
    pub fn after_append(&self, store: &dyn Store, tenant: &str, records: &[AuditRecord]) {
        // Queued events (seq 0) are sealed when the journal flushes; the next append covers them.
        let Some(last) = records.iter().rev().find(|r| r.seq > 0) else {
            return;
        };
        let cp = Checkpoint {
            tenant: tenant.to_string(),
            seq: last.seq,
            hash: last.hash.clone(),
            at: Stamp::now(),
            scope: self.scope.clone(),
        };
        if let Err(e) = self.append(&cp) {
            tracing::warn!(tenant, seq = cp.seq, error = %e, "could not write this member's audit checkpoint; the events are stored, the next append writes a newer one");
        }
        let Some(remote) = store.remote_witness() else {
            return;
        };
        let mut todo = self.unsent(tenant).unwrap_or_default();
        let had_unsent = !todo.is_empty();
        todo.push(cp.clone());
        let sent = todo.iter().try_for_each(|c| remote.put_checkpoint(c));
        match sent {
            Ok(()) if had_unsent => {
                let _ = fs::remove_file(self.file(tenant, "unsent"));
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(tenant, seq = cp.seq, error = %e, "could not write the audit checkpoint to the locked bucket; the events are stored, it is sent with the next append");
                let _ = self.append_lines(&self.file(tenant, "unsent"), &line(&cp));
            }
        }
    }

    /// The audit-signing keys pinned for the tenant (key id → public key hex), or None before
    /// first use.
    pub fn pinned_keys(&self, tenant: &str) -> Result<Option<BTreeMap<String, String>>> {
        let path = self.file(tenant, "keys");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
        };
        let mut keys = BTreeMap::new();
        for (n, l) in text.lines().enumerate() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let mut parts = l.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(id), Some(public)) => {
                    keys.insert(id.to_string(), public.to_string());
                }
                _ => {
                    return Err(StoreError::Corrupt {
                        path,
                        detail: format!("line {}: expected `<key id> <public key hex> ...`", n + 1),
                    }
                    .into());
                }
            }
        }
        Ok(Some(keys))
    }

    /// Pins keys (id, public hex) for the tenant, saying how they came to be trusted.
    pub fn pin_keys(&self, tenant: &str, keys: &[(String, String)], how: &str) -> Result<()> {
        let at = Stamp::now();
        let text: String = keys
            .iter()
            .map(|(id, public)| format!("{id} {public} {at} {how}\n"))
            .collect();
        self.append_lines(&self.file(tenant, "keys"), &text)
    }
}

fn line(cp: &Checkpoint) -> String {
    let mut s = serde_json::to_string(cp).unwrap_or_default();
    s.push('\n');
    s
}

fn read_lines(path: &Path) -> Result<Vec<Checkpoint>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
    };
    let mut out = Vec::new();
    for (n, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Checkpoint>(l) {
            Ok(cp) => out.push(cp),
            // A line torn by a crash at the end is not a checkpoint; anything else is damage.
            Err(_) if n + 1 == text.lines().count() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("line {}: {e}", n + 1),
                }
                .into());
            }
        }
    }
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

/// A witness the store's writers cannot rewrite, kept by the backend itself (the shared
/// backend's audit-logs bucket under Object Lock).
pub trait RemoteWitness {
    /// `locked bucket s3://...`, for reports.
    fn witness_name(&self) -> String;
    fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()>;
    /// Every checkpoint of the tenant ever written, including versions hidden by delete markers.
    fn checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>>;
}

/// Merges checkpoints from several witnesses: sorted by seq, one per (seq, hash).
pub fn merge(mut all: Vec<Checkpoint>) -> Vec<Checkpoint> {
    all.sort_by(|a, b| (a.seq, &a.hash, &a.at).cmp(&(b.seq, &b.hash, &b.at)));
    all.dedup_by(|a, b| a.seq == b.seq && a.hash == b.hash);
    all
}
