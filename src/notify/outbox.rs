//! The outbox: one file per notification, so nothing is lost when a process exits or dies.
//!
//! `<root>/<tenant>/pending/<id>.json` waits (with its next attempt's time);
//! `sending/<id>.<pid>.json` is being delivered by process `pid` — taken by a rename, so two
//! processes never send the same file, and put back when that process died mid-send;
//! `failed/<id>.json` was given up after its last attempt (`opsdeck notify flush` retries it).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Channel, Notification};
use crate::error::{Error, Result};
use crate::store::fsutil;

/// A notification and where it still has to go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub notification: Notification,
    /// The targets it has not reached yet.
    pub channels: Vec<Channel>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this (Unix milliseconds).
    #[serde(default)]
    pub next_attempt_ms: i64,
    /// The last attempt's error, without the target's secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One tenant's outbox in one data directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

/// An entry this process took for delivery.
#[derive(Debug)]
pub struct Claimed {
    pub entry: Entry,
    path: PathBuf,
}

/// What waits, for the status bar and `opsdeck notify status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutboxStatus {
    /// Waiting for an attempt, or being delivered.
    pub pending: usize,
    /// Given up after their last attempt.
    pub failed: usize,
    /// The most recent error of a pending or failed notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

const PENDING: &str = "pending";
const SENDING: &str = "sending";
const FAILED: &str = "failed";

impl Outbox {
    pub fn new(root: &Path, tenant: &str) -> Outbox {
        Outbox {
            dir: root.join(tenant),
        }
    }

    pub fn enqueue(&self, entry: &Entry) -> Result<()> {
        self.write(PENDING, entry)
    }

    fn write(&self, sub: &str, entry: &Entry) -> Result<()> {
        let dir = self.dir.join(sub);
        fsutil::ensure_private_dir(&dir)?;
        let bytes = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::input(format!("cannot encode a notification: {e}")))?;
        fsutil::write_atomic(&dir.join(format!("{}.json", entry.notification.id)), &bytes)?;
        Ok(())
    }

    /// Entry files of `sub` (finished writes only: hidden temporary files are skipped).
    fn files(&self, sub: &str) -> Vec<PathBuf> {
        let Ok(rd) = fs::read_dir(self.dir.join(sub)) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        // Ids are time-ordered (UUID v7): oldest first.
        files.sort();
        files
    }

    fn read(path: &Path) -> Option<Entry> {
        let bytes = fs::read(path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable outbox entry left in place");
                None
            }
        }
    }

    /// Puts back what a process that died mid-send had taken.
    pub fn reclaim_abandoned(&self) {
        for path in self.files(SENDING) {
            let name = path.file_stem().unwrap_or_default().to_string_lossy();
            let Some((id, pid)) = name.rsplit_once('.') else {
                continue;
            };
            let alive = pid
                .parse::<u32>()
                .is_ok_and(|p| p == std::process::id() || fsutil::process_alive(p));
            if !alive {
                let _ = fs::rename(&path, self.dir.join(PENDING).join(format!("{id}.json")));
            }
        }
    }

    /// Takes the entries due at `now_ms` (all of them with `everything`) for this process.
    pub fn claim_due(&self, now_ms: i64, everything: bool) -> Vec<Claimed> {
        let sending = self.dir.join(SENDING);
        if fsutil::ensure_private_dir(&sending).is_err() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for path in self.files(PENDING) {
            let Some(entry) = Self::read(&path) else {
                continue;
            };
            if !everything && entry.next_attempt_ms > now_ms {
                continue;
            }
            let taken = sending.join(format!(
                "{}.{}.json",
                entry.notification.id,
                std::process::id()
            ));
            // Another process took it first: it is theirs.
            if fs::rename(&path, &taken).is_ok() {
                out.push(Claimed {
                    entry: Self::read(&taken).unwrap_or(entry),
                    path: taken,
                });
            }
        }
        out
    }

    /// Delivered everywhere: gone.
    pub fn done(&self, claimed: Claimed) {
        let _ = fs::remove_file(&claimed.path);
    }

    /// Back to wait for its next attempt, as `entry` now stands.
    pub fn release(&self, claimed: Claimed, entry: &Entry) -> Result<()> {
        self.move_claimed(claimed, PENDING, entry)
    }

    /// Given up after its last attempt.
    pub fn give_up(&self, claimed: Claimed, entry: &Entry) -> Result<()> {
        self.move_claimed(claimed, FAILED, entry)
    }

    /// Rewrites the claimed file, then renames it into `sub`: it is counted in one place at
    /// every moment.
    fn move_claimed(&self, claimed: Claimed, sub: &str, entry: &Entry) -> Result<()> {
        let dir = self.dir.join(sub);
        fsutil::ensure_private_dir(&dir)?;
        let bytes = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::input(format!("cannot encode a notification: {e}")))?;
        fsutil::write_atomic(&claimed.path, &bytes)?;
        let to = dir.join(format!("{}.json", entry.notification.id));
        fs::rename(&claimed.path, &to)
            .map_err(|e| Error::io(format!("moving {}", claimed.path.display()), e))
    }

    /// Given-up entries back in the queue with fresh attempts (`opsdeck notify flush`).
    pub fn revive_failed(&self) -> usize {
        let mut n = 0;
        for path in self.files(FAILED) {
            let Some(mut entry) = Self::read(&path) else {
                continue;
            };
            entry.attempts = 0;
            entry.next_attempt_ms = 0;
            if self.write(PENDING, &entry).is_ok() {
                let _ = fs::remove_file(&path);
                n += 1;
            }
        }
        n
    }

    /// When the earliest pending entry is due (Unix milliseconds).
    pub fn next_due_ms(&self) -> Option<i64> {
        self.files(PENDING)
            .iter()
            .filter_map(|p| Self::read(p))
            .map(|e| e.next_attempt_ms)
            .min()
    }

    pub fn status(&self) -> OutboxStatus {
        let pending = self.files(PENDING);
        let failed = self.files(FAILED);
        // Drawn with every frame of the console: at most two small files are read.
        let last_error = [failed.last(), pending.last()]
            .into_iter()
            .flatten()
            .filter_map(|p| Self::read(p))
            .find_map(|e| e.last_error);
        OutboxStatus {
            pending: pending.len() + self.files(SENDING).len(),
            failed: failed.len(),
            last_error,
        }
    }

    /// Every entry waiting or given up, oldest first (`opsdeck notify status`).
    pub fn entries(&self) -> Vec<(bool, Entry)> {
        let mut all: Vec<(bool, Entry)> = [(false, PENDING), (false, SENDING), (true, FAILED)]
            .iter()
            .flat_map(|(failed, sub)| {
                self.files(sub)
                    .into_iter()
                    .filter_map(|p| Self::read(&p))
                    .map(move |e| (*failed, e))
            })
            .collect();
        all.sort_by(|a, b| a.1.notification.id.cmp(&b.1.notification.id));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::NotificationKind;

    fn entry(id: &str, next: i64) -> Entry {
        Entry {
            notification: Notification {
                id: id.into(),
                kind: NotificationKind::Applied,
                tenant: "acme".into(),
                event_id: "e".into(),
                request_id: "r".into(),
                plan_id: None,
                stack: None,
                actor: "olga".into(),
                recipients: vec![],
                summary: String::new(),
                detail: None,
                at: "2026-01-01T00:00:00Z".into(),
            },
            channels: vec![Channel::Webhook],
            attempts: 0,
            next_attempt_ms: next,
            last_error: None,
        }
    }

    #[test]
    fn entries_are_claimed_once_and_survive_a_dead_sender() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::new(dir.path(), "acme");
        ob.enqueue(&entry("a", 0)).unwrap();
        ob.enqueue(&entry("b", 5_000)).unwrap();
        let due = ob.claim_due(1_000, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].entry.notification.id, "a");
        // Claimed already: nobody else gets it.
        assert!(ob.claim_due(1_000, false).is_empty());
        assert_eq!(ob.status().pending, 2);
        assert_eq!(ob.next_due_ms(), Some(5_000));
        // A sender that died (pid 0 is never a live sender of ours) leaves its claim behind.
        let claimed = due.into_iter().next().unwrap();
        let dead = dir.path().join("acme/sending/a.0.json");
        fs::rename(&claimed.path, &dead).unwrap();
        ob.reclaim_abandoned();
        let again = ob.claim_due(1_000, false);
        assert_eq!(again.len(), 1);
        let mut e = again[0].entry.clone();
        e.attempts = 3;
        e.last_error = Some("connection refused".into());
        ob.give_up(again.into_iter().next().unwrap(), &e).unwrap();
        let st = ob.status();
        assert_eq!((st.pending, st.failed), (1, 1));
        assert_eq!(st.last_error.as_deref(), Some("connection refused"));
        assert_eq!(ob.revive_failed(), 1);
        let all = ob.claim_due(0, true);
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|c| c.entry.attempts == 0));
    }
}
