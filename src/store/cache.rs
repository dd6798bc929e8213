//! What this machine last read from or wrote to the shared backend, so opsdeck keeps working
//! read-only while the backend is unreachable. Written on every successful call, read only when
//! the backend cannot be reached. A cache is never the truth: nothing is ever written back from
//! it. Writes are not fsync'd (a lost cache file is only a cache miss) and never fail a call.
//!
//! ```text
//! <root>/tenants.json
//! <root>/<t>/<kind>/<key>.json     one record (plan, user without its secret, stack, ...)
//! <root>/<t>/<kind>.all.json       the last full listing of a kind
//! <root>/<t>/blobs/<sha256>        artifact bytes (checked against their digest on read)
//! <root>/<t>/audit.jsonl           the trail as last read in full
//! ```

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::fsutil::ensure_private_dir;
use crate::plan::sha256_hex;

pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: &Path) -> Cache {
        Cache {
            root: root.to_path_buf(),
        }
    }

    fn dir(&self, tenant: &str, kind: &str) -> PathBuf {
        self.root.join(tenant).join(kind)
    }

    /// Keys are tenant, user, plan and stack names (already validated) or digests; anything
    /// else is not cached rather than turned into a path.
    fn safe(key: &str) -> bool {
        !key.is_empty()
            && key.len() <= 128
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.@+".contains(&b))
            && !key.starts_with('.')
    }

    fn write(path: &Path, bytes: &[u8]) {
        let res = (|| -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            ensure_private_dir(dir).map_err(std::io::Error::other)?;
            let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(bytes)?;
            fs::rename(&tmp, path).inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })
        })();
        if let Err(e) = res {
            tracing::debug!(path = %path.display(), error = %e, "cache write skipped");
        }
    }

    fn read<T: DeserializeOwned>(path: &Path) -> Option<T> {
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn put<T: Serialize>(&self, tenant: &str, kind: &str, key: &str, value: &T) {
        if !Self::safe(tenant) || !Self::safe(key) {
            return;
        }
        if let Ok(bytes) = serde_json::to_vec(value) {
            Self::write(&self.dir(tenant, kind).join(format!("{key}.json")), &bytes);
        }
    }

    pub fn get<T: DeserializeOwned>(&self, tenant: &str, kind: &str, key: &str) -> Option<T> {
        if !Self::safe(tenant) || !Self::safe(key) {
            return None;
        }
        Self::read(&self.dir(tenant, kind).join(format!("{key}.json")))
    }

    pub fn remove(&self, tenant: &str, kind: &str, key: &str) {
        if Self::safe(tenant) && Self::safe(key) {
            let _ = fs::remove_file(self.dir(tenant, kind).join(format!("{key}.json")));
        }
    }

    pub fn put_list<T: Serialize>(&self, tenant: &str, kind: &str, items: &[T]) {
        if !Self::safe(tenant) {
            return;
        }
        if let Ok(bytes) = serde_json::to_vec(items) {
            Self::write(
                &self.root.join(tenant).join(format!("{kind}.all.json")),
                &bytes,
            );
        }
    }

    /// The last full listing, else whatever single records are cached.
    pub fn list<T: DeserializeOwned>(&self, tenant: &str, kind: &str) -> Option<Vec<T>> {
        if !Self::safe(tenant) {
            return None;
        }
        if let Some(all) = Self::read(&self.root.join(tenant).join(format!("{kind}.all.json"))) {
            return Some(all);
        }
        let entries = fs::read_dir(self.dir(tenant, kind)).ok()?;
        Some(
            entries
                .flatten()
                .filter(|e| e.path().extension().and_then(|x| x.to_str()) == Some("json"))
                .filter_map(|e| Self::read(&e.path()))
                .collect(),
        )
    }

    pub fn put_tenants<T: Serialize>(&self, tenants: &[T]) {
        if let Ok(bytes) = serde_json::to_vec(tenants) {
            Self::write(&self.root.join("tenants.json"), &bytes);
        }
    }

    pub fn tenants<T: DeserializeOwned>(&self) -> Option<Vec<T>> {
        Self::read(&self.root.join("tenants.json"))
    }

    pub fn put_blob(&self, tenant: &str, sha: &str, bytes: &[u8]) {
        if Self::safe(tenant) && Self::safe(sha) {
            let path = self.dir(tenant, "blobs").join(sha);
            if !path.exists() {
                Self::write(&path, bytes);
            }
        }
    }

    /// Bytes whose digest still matches their name, or nothing.
    pub fn blob(&self, tenant: &str, sha: &str) -> Option<Vec<u8>> {
        if !Self::safe(tenant) || !Self::safe(sha) {
            return None;
        }
        let bytes = fs::read(self.dir(tenant, "blobs").join(sha)).ok()?;
        (sha256_hex(&bytes) == sha).then_some(bytes)
    }

    pub fn put_audit(&self, tenant: &str, lines: &[u8]) {
        if Self::safe(tenant) {
            Self::write(&self.root.join(tenant).join("audit.jsonl"), lines);
        }
    }

    pub fn audit(&self, tenant: &str) -> Option<Vec<u8>> {
        if !Self::safe(tenant) {
            return None;
        }
        fs::read(self.root.join(tenant).join("audit.jsonl")).ok()
    }
}
