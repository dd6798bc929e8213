//! The embedded store: plain files under one directory, safe for several processes on one host
//! and for a kill -9 at any point.
//!
//! ```text
//! <root>/keys/                       signing key (0600) and trusted public keys
//! <root>/tenants/<t>/tenant.json
//! <root>/tenants/<t>/audit.jsonl     one sealed record per line, append-only
//! <root>/tenants/<t>/plans/<id>.json replaced atomically under plans.lock
//! <root>/tenants/<t>/artifacts/ab/<sha256>
//! <root>/tenants/<t>/stacks/<name>.json and stacks/<name>/terraform.tfstate
//! <root>/tenants/<t>/stacks/<name>.lock    the stack's holder while a plan or apply runs, with
//!                                          its heartbeat (stale after LOCK_STALE_AFTER_SECS)
//! <root>/tenants/<t>/workspaces/<plan id>/
//! <root>/tenants/<t>/prices/<region>.json  AWS Price List API prices fetched, with their date
//! <root>/tenants/<t>/configs/<name>.json   AWS configurations; selections/<user>.json
//! <root>/tenants/<t>/runs/<plan id>.claim|.log  a runner's claim and the run's log (`local/runs.rs`)
//! <root>/tenants/<t>/tokens/<id>.json       MCP bearer tokens (hashes only)
//! ```
//! Audit appends take `audit.lock`, repair a torn last line left by a crash (it was never
//! acknowledged), seal the batch onto the chain, write it with one `write` and `fdatasync`.
//!
//! Kept whole: one `impl Store` of short methods for plain files (about 800 lines), as for the
//! shared backend in `aws/mod.rs`; the file primitives they share are in `fsutil.rs`.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::StoreError;
use super::fsutil::{FileLock, ensure_private_dir, write_atomic};
use super::runqueue::{RunClaim, RunLogEntry};
use super::{LineReader, StackLock, StackRecord, Store, valid_id, valid_sha};
use crate::approval::PlanRecord;
use crate::audit::chain::{self, GENESIS, KeyRing};
use crate::audit::{Anchors, AuditEvent, AuditRecord, Signer, VerifyReport};
use crate::error::Result;

mod runs;

type StoreResult<T> = std::result::Result<T, StoreError>;
use crate::plan::sha256_hex;
use crate::tenant::configs::validate_config_name;
use crate::tenant::{ApiToken, AwsConfiguration, Tenant, User, validate_name, validate_user};

pub struct LocalStore {
    root: PathBuf,
    /// Per tenant, where this session last read the audit log to (see `scan_audit_lines`).
    audit_read_to: std::sync::Mutex<std::collections::HashMap<String, ReadTo>>,
}

/// The last complete record a scan read, and the byte offset just after it.
#[derive(Debug, Clone, Copy)]
struct ReadTo {
    seq: u64,
    offset: u64,
}

enum Scanned {
    Done,
    Restart,
}

impl LocalStore {
    /// [`LocalStore::scan_audit_lines`] with each line parsed as a whole record.
    fn scan_audit_records(
        &self,
        tenant: &str,
        after: Option<u64>,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scan_audit_lines(tenant, after, &mut |line| {
            let r = chain::parse_line(line)?;
            Ok((r.seq, f(r)))
        })
    }

    /// Streams the tenant's records after `after` (all when `None`), oldest first. Records a
    /// reader has seen are skipped by their sequence number alone, and a session that read the
    /// trail before starts where it stopped: the byte offset of the last record it read is kept,
    /// and trusted only while the record found there continues the sequence.
    fn scan_audit_lines(
        &self,
        tenant: &str,
        after: Option<u64>,
        f: &mut LineReader<'_>,
    ) -> Result<()> {
        let resume = after.and_then(|seq| {
            let known = self.audit_read_to.lock().ok()?.get(tenant).copied()?;
            (known.seq <= seq).then_some(known)
        });
        match self.scan_audit_from(tenant, after, resume, f)? {
            Scanned::Done => Ok(()),
            // The file is not the one the offset was taken from, or is damaged after it: read
            // it from the start (damage is then reported with its line number).
            Scanned::Restart => {
                if let Ok(mut read_to) = self.audit_read_to.lock() {
                    read_to.remove(tenant);
                }
                self.scan_audit_from(tenant, after, None, f).map(|_| ())
            }
        }
    }

    fn scan_audit_from(
        &self,
        tenant: &str,
        after: Option<u64>,
        resume: Option<ReadTo>,
        f: &mut LineReader<'_>,
    ) -> Result<Scanned> {
        let path = self.audit_path(tenant)?;
        let read_err = |e| StoreError::io(format!("reading {}", path.display()), e);
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Scanned::Done),
            Err(e) => return Err(read_err(e).into()),
        };
        let mut offset = 0;
        let mut expect = None;
        if let Some(known) = resume {
            let len = file.metadata().map_err(read_err)?.len();
            if len < known.offset {
                return Ok(Scanned::Restart);
            }
            file.seek(SeekFrom::Start(known.offset)).map_err(read_err)?;
            offset = known.offset;
            expect = Some(known.seq + 1);
        }
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
        let mut line = Vec::new();
        let mut n = 0usize;
        let mut last = resume;
        let outcome = loop {
            line.clear();
            let read =
                std::io::BufRead::read_until(&mut reader, b'\n', &mut line).map_err(read_err)?;
            if read == 0 {
                break Ok(Scanned::Done);
            }
            n += 1;
            let complete = line.last() == Some(&b'\n');
            let body = if complete {
                &line[..line.len() - 1]
            } else {
                &line[..]
            };
            offset += read as u64;
            if body.is_empty() {
                continue;
            }
            let seq = chain::line_seq(body).ok();
            if let Some(want) = expect.take()
                && seq != Some(want)
                && complete
            {
                return Ok(Scanned::Restart);
            }
            if let (true, Some(after), Some(seq)) = (complete, after, seq)
                && seq <= after
            {
                last = Some(ReadTo { seq, offset });
                continue;
            }
            match f(body) {
                Ok((seq, go_on)) => {
                    if complete {
                        last = Some(ReadTo { seq, offset });
                    }
                    if !go_on {
                        break Ok(Scanned::Done);
                    }
                }
                // A torn tail from a crash is not an event; anything else is damage.
                Err(_) if !complete => break Ok(Scanned::Done),
                Err(_) if resume.is_some() => return Ok(Scanned::Restart),
                Err(detail) => {
                    break Err(StoreError::Corrupt {
                        path: path.clone(),
                        detail: format!("line {n}: {detail}"),
                    }
                    .into());
                }
            }
        };
        if let (Some(last), Ok(mut read_to)) = (last, self.audit_read_to.lock()) {
            read_to.insert(tenant.to_string(), last);
        }
        outcome
    }

    pub fn open(root: &Path) -> Result<LocalStore> {
        ensure_private_dir(root)?;
        ensure_private_dir(&root.join("tenants"))?;
        let store = LocalStore {
            root: root.to_path_buf(),
            audit_read_to: Default::default(),
        };
        store.recover_interrupted_writes();
        Ok(store)
    }

    /// What a crash or a kill -9 left half done, cleaned on the next start without touching
    /// another live process's files: temporary files of atomic writes
    /// ([`super::fsutil::sweep_stale_tmp`]: writer's pid gone, or older than ten minutes), and
    /// the workspace of a plan that was never stored (its creator's pid, kept in `.owner`, gone).
    /// Torn audit lines are repaired by the next append; nothing else is written in place.
    fn recover_interrupted_writes(&self) {
        super::fsutil::sweep_stale_tmp(&self.root, &["workspaces", ".terraform"]);
        let Ok(tenants) = fs::read_dir(self.root.join("tenants")) else {
            return;
        };
        for t in tenants.flatten() {
            let plans = t.path().join("plans");
            super::fsutil::sweep_abandoned_workspaces(&t.path().join("workspaces"), |id| {
                plans.join(format!("{id}.json")).exists()
            });
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    fn tenant_dir(&self, tenant: &str) -> Result<PathBuf> {
        validate_name(tenant)?;
        Ok(self.root.join("tenants").join(tenant))
    }

    fn tenant_subdir(&self, tenant: &str, sub: &str) -> Result<PathBuf> {
        let dir = self.tenant_dir(tenant)?.join(sub);
        ensure_private_dir(&dir)?;
        Ok(dir)
    }

    fn audit_path(&self, tenant: &str) -> Result<PathBuf> {
        Ok(self.tenant_dir(tenant)?.join("audit.jsonl"))
    }

    /// The tenant's audit log file: sealed records, one per line, exactly as hashed.
    pub fn audit_log(&self, tenant: &str) -> Result<PathBuf> {
        self.audit_path(tenant)
    }

    /// Digests of every artifact the tenant has stored.
    pub fn artifact_digests(&self, tenant: &str) -> Result<Vec<String>> {
        let dir = self.tenant_dir(tenant)?.join("artifacts");
        let mut out = Vec::new();
        let shards = match fs::read_dir(&dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(format!("reading {}", dir.display()), e).into()),
        };
        for shard in shards.flatten() {
            let files = fs::read_dir(shard.path())
                .map_err(|e| StoreError::io(format!("reading {}", shard.path().display()), e))?;
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                if valid_sha(&name) {
                    out.push(name);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn plan_path(&self, tenant: &str, id: &str) -> Result<PathBuf> {
        if !valid_id(id) {
            return Err(
                StoreError::not_found("plan", id, "plan ids look like p-xxxxxxxxxx").into(),
            );
        }
        Ok(self
            .tenant_subdir(tenant, "plans")?
            .join(format!("{id}.json")))
    }

    fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> StoreResult<Option<T>> {
        match fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        path: path.to_path_buf(),
                        detail: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Every `*.json` record directly in `dir`; an unreadable one is an error naming it.
    fn read_json_dir<T: serde::de::DeserializeOwned>(dir: &Path) -> StoreResult<Vec<T>> {
        let entries = fs::read_dir(dir)
            .map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("json")
                && let Some(v) = Self::read_json::<T>(&path)?
            {
                out.push(v);
            }
        }
        Ok(out)
    }

    fn stack_lock_path(&self, tenant: &str, stack: &str) -> Result<PathBuf> {
        if !valid_id(stack) {
            return Err(StoreError::InvalidName {
                what: "stack name",
                name: stack.to_string(),
            }
            .into());
        }
        Ok(self
            .tenant_subdir(tenant, "stacks")?
            .join(format!("{stack}.lock")))
    }

    fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> StoreResult<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| StoreError::io("encoding record", std::io::Error::other(e)))?;
        write_atomic(path, &bytes)
    }
}

/// Reads the chain head (last seq and hash) and cuts a torn last line left by a crash.
fn chain_head(file: &mut fs::File, path: &Path) -> StoreResult<(u64, String)> {
    let io = |e| StoreError::io(format!("reading {}", path.display()), e);
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok((0, GENESIS.to_string()));
    }
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        Read::by_ref(file)
            .take(len - start)
            .read_to_end(&mut buf)
            .map_err(io)?;
        let mut end = buf.len();
        if buf.last() != Some(&b'\n') {
            // A write that never completed: it was not acknowledged, so it is dropped.
            match buf.iter().rposition(|b| *b == b'\n') {
                Some(nl) => end = nl + 1,
                None if start == 0 => end = 0,
                None => {
                    window *= 4;
                    continue;
                }
            }
            let keep = start + end as u64;
            tracing::warn!(path = %path.display(), dropped = len - keep, "repairing torn audit record");
            file.set_len(keep).map_err(io)?;
            file.sync_data().map_err(io)?;
            if keep == 0 {
                return Ok((0, GENESIS.to_string()));
            }
            return chain_head(file, path);
        }
        let body = &buf[..end - 1];
        let line_start = match body.iter().rposition(|b| *b == b'\n') {
            Some(nl) => nl + 1,
            None if start == 0 => 0,
            None => {
                window *= 4;
                continue;
            }
        };
        let rec = chain::parse_line(&body[line_start..]).map_err(|detail| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "last audit record is {detail}; appends are refused until it is examined"
            ),
        })?;
        return Ok((rec.seq, rec.hash));
    }
}

impl Store for LocalStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let dir = self.root.join("tenants");
        let mut out = Vec::new();
        let entries = fs::read_dir(&dir)
            .map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if validate_name(&name).is_ok()
                && let Some(t) = self.get_tenant(&name)?
            {
                out.push(t);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_tenant(&self, name: &str) -> Result<Option<Tenant>> {
        Ok(Self::read_json(
            &self.tenant_dir(name)?.join("tenant.json"),
        )?)
    }

    fn put_tenant(&self, tenant: &Tenant) -> Result<()> {
        let dir = self.tenant_dir(&tenant.name)?;
        ensure_private_dir(&dir)?;
        Ok(Self::write_json(&dir.join("tenant.json"), tenant)?)
    }

    fn list_users(&self, tenant: &str) -> Result<Vec<User>> {
        let mut out: Vec<User> = Self::read_json_dir(&self.tenant_subdir(tenant, "users")?)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_user(&self, tenant: &str, name: &str) -> Result<Option<User>> {
        if validate_user(name).is_err() {
            return Ok(None);
        }
        Ok(Self::read_json(
            &self
                .tenant_subdir(tenant, "users")?
                .join(format!("{name}.json")),
        )?)
    }

    fn create_user(&self, tenant: &str, user: &User) -> Result<()> {
        validate_user(&user.name)?;
        let dir = self.tenant_subdir(tenant, "users")?;
        let _lock = FileLock::exclusive(&dir.join(".lock"))?;
        let path = dir.join(format!("{}.json", user.name));
        if path.exists() {
            return Err(StoreError::UserExists {
                tenant: tenant.to_string(),
                user: user.name.clone(),
            }
            .into());
        }
        Ok(Self::write_json(&path, user)?)
    }

    fn update_user(
        &self,
        tenant: &str,
        name: &str,
        f: &mut dyn FnMut(&mut User) -> Result<()>,
    ) -> Result<User> {
        validate_user(name)?;
        let dir = self.tenant_subdir(tenant, "users")?;
        let _lock = FileLock::exclusive(&dir.join(".lock"))?;
        let path = dir.join(format!("{name}.json"));
        let mut user: User = Self::read_json(&path)?
            .ok_or_else(|| StoreError::not_found("user", name, format!("in tenant {tenant}")))?;
        f(&mut user)?;
        Self::write_json(&path, &user)?;
        Ok(user)
    }

    fn tenant_policies(&self, tenant: &str) -> Result<Vec<(String, String)>> {
        let dir = self.tenant_dir(tenant)?.join("policies");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(format!("reading {}", dir.display()), e).into()),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("rego") {
                let text = fs::read_to_string(&path)
                    .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
                out.push((entry.file_name().to_string_lossy().to_string(), text));
            }
        }
        out.sort();
        Ok(out)
    }

    fn put_tenant_policy(&self, tenant: &str, name: &str, source: &str) -> Result<()> {
        if !name.ends_with(".rego") || !valid_id(name.trim_end_matches(".rego")) {
            return Err(StoreError::PolicyFileName {
                name: name.to_string(),
            }
            .into());
        }
        let dir = self.tenant_subdir(tenant, "policies")?;
        write_atomic(&dir.join(name), source.as_bytes()).map_err(Into::into)
    }

    fn delete_tenant_policy(&self, tenant: &str, name: &str) -> Result<bool> {
        if !valid_id(name.trim_end_matches(".rego")) {
            return Ok(false);
        }
        let path = self.tenant_dir(tenant)?.join("policies").join(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(format!("removing {}", path.display()), e).into()),
        }
    }

    fn append_audit(
        &self,
        tenant: &str,
        events: &[AuditEvent],
        signer: &Signer,
    ) -> Result<Vec<AuditRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.tenant_dir(tenant)?;
        ensure_private_dir(&dir)?;
        let path = self.audit_path(tenant)?;
        let _lock = FileLock::exclusive(&dir.join("audit.lock"))?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        let (mut seq, mut prev) = chain_head(&mut file, &path)?;
        let mut batch = String::new();
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            seq += 1;
            let (rec, line) = signer.seal(tenant, seq, &prev, event)?;
            prev = rec.hash.clone();
            batch.push_str(&line);
            records.push(rec);
        }
        file.write_all(batch.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| StoreError::io(format!("appending to {}", path.display()), e))?;
        Ok(records)
    }

    fn scan_audit(&self, tenant: &str, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.scan_audit_records(tenant, None, f)
    }

    fn scan_audit_after(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scan_audit_records(tenant, Some(seq), f)
    }

    fn scan_audit_lines_after(&self, tenant: &str, seq: u64, f: &mut LineReader<'_>) -> Result<()> {
        self.scan_audit_lines(tenant, Some(seq), f)
    }

    fn verify_audit_anchored(
        &self,
        tenant: &str,
        full: bool,
        anchors: &Anchors<'_>,
    ) -> Result<VerifyReport> {
        let path = self.audit_path(tenant)?;
        let (data, present) = match fs::read(&path) {
            Ok(d) => (d, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), false),
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
        };
        let ring = KeyRing::load(&self.keys_dir())?;
        Ok(chain::verify_anchored(
            tenant, &data, &ring, full, present, anchors,
        ))
    }

    fn put_artifact(&self, tenant: &str, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let dir = self.tenant_subdir(tenant, "artifacts")?.join(&sha[..2]);
        ensure_private_dir(&dir)?;
        let path = dir.join(&sha);
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(sha)
    }

    fn get_artifact(&self, tenant: &str, sha256: &str) -> Result<Vec<u8>> {
        if !valid_sha(sha256) {
            return Err(
                StoreError::not_found("artifact", sha256, "expected a sha256 hex digest").into(),
            );
        }
        let path = self
            .tenant_dir(tenant)?
            .join("artifacts")
            .join(&sha256[..2])
            .join(sha256);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    StoreError::not_found("artifact", sha256, format!("tenant {tenant}")).into(),
                );
            }
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::Corrupt {
                path,
                detail: format!("artifact content changed: it now hashes to {actual}"),
            }
            .into());
        }
        Ok(bytes)
    }

    fn artifact_uri(&self, tenant: &str, sha256: &str) -> String {
        let prefix = sha256.get(..2).unwrap_or("xx");
        format!(
            "file://{}",
            self.root
                .join("tenants")
                .join(tenant)
                .join("artifacts")
                .join(prefix)
                .join(sha256)
                .display()
        )
    }

    fn create_plan(&self, rec: &PlanRecord) -> Result<()> {
        let path = self.plan_path(&rec.plan.tenant, &rec.plan.plan_id)?;
        let _lock = FileLock::exclusive(&self.tenant_dir(&rec.plan.tenant)?.join("plans.lock"))?;
        if path.exists() {
            return Err(StoreError::PlanExists {
                plan_id: rec.plan.plan_id.clone(),
            }
            .into());
        }
        Ok(Self::write_json(&path, rec)?)
    }

    fn get_plan(&self, tenant: &str, id: &str) -> Result<PlanRecord> {
        let path = self.plan_path(tenant, id)?;
        Self::read_json(&path)?
            .ok_or_else(|| {
                StoreError::not_found(
                    "plan",
                    id,
                    format!("in tenant {tenant}; `opsdeck plans list` shows them"),
                )
            })
            .map_err(Into::into)
    }

    fn list_plans(&self, tenant: &str) -> Result<Vec<PlanRecord>> {
        let dir = self.tenant_subdir(tenant, "plans")?;
        let mut out = Vec::new();
        let entries = fs::read_dir(&dir)
            .map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match Self::read_json::<PlanRecord>(&path) {
                Ok(Some(rec)) => out.push(rec),
                Ok(None) => {}
                // One damaged plan must not hide the others; it is reported in the log.
                Err(e) => tracing::error!(error = %e, "skipping unreadable plan"),
            }
        }
        out.sort_by(|a, b| b.plan.created_at.cmp(&a.plan.created_at));
        Ok(out)
    }

    fn update_plan(
        &self,
        tenant: &str,
        id: &str,
        f: &mut dyn FnMut(&mut PlanRecord) -> Result<()>,
    ) -> Result<PlanRecord> {
        let path = self.plan_path(tenant, id)?;
        let _lock = FileLock::exclusive(&self.tenant_dir(tenant)?.join("plans.lock"))?;
        let original: PlanRecord = Self::read_json(&path)?
            .ok_or_else(|| StoreError::not_found("plan", id, format!("in tenant {tenant}")))?;
        let mut rec = original.clone();
        let outcome = f(&mut rec);
        if rec != original {
            Self::write_json(&path, &rec)?;
        }
        outcome.map(|_| rec)
    }

    fn get_stack(&self, tenant: &str, name: &str) -> Result<Option<StackRecord>> {
        if !valid_id(name) {
            return Ok(None);
        }
        Ok(Self::read_json(
            &self
                .tenant_subdir(tenant, "stacks")?
                .join(format!("{name}.json")),
        )?)
    }

    fn put_stack(&self, stack: &StackRecord) -> Result<()> {
        if !valid_id(&stack.name) {
            return Err(StoreError::InvalidName {
                what: "stack name",
                name: stack.name.clone(),
            }
            .into());
        }
        let path = self
            .tenant_subdir(&stack.tenant, "stacks")?
            .join(format!("{}.json", stack.name));
        Ok(Self::write_json(&path, stack)?)
    }

    fn list_stacks(&self, tenant: &str) -> Result<Vec<StackRecord>> {
        let mut out: Vec<StackRecord> =
            Self::read_json_dir(&self.tenant_subdir(tenant, "stacks")?)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn try_lock_stack(&self, lock: &StackLock) -> Result<Option<StackLock>> {
        let path = self.stack_lock_path(&lock.tenant, &lock.stack)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Write the whole record aside, then link it into place: the link fails if a lock is
        // there, and readers never see a half-written lock.
        let tmp = super::fsutil::tmp_path(&path);
        let bytes = serde_json::to_vec_pretty(lock)
            .map_err(|e| StoreError::io("encoding lock", std::io::Error::other(e)))?;
        super::fsutil::write_new(&tmp, &bytes)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let _ = super::fsutil::sync_dir(dir);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match Self::read_json::<StackLock>(&path)? {
                    Some(holder) => Ok(Some(holder)),
                    // Released between our link and our read: try once more.
                    None => self.try_lock_stack(lock),
                }
            }
            Err(e) => Err(StoreError::io(format!("creating lock {}", path.display()), e).into()),
        }
    }

    fn unlock_stack(&self, tenant: &str, stack: &str, lock_id: &str) -> Result<bool> {
        let path = self.stack_lock_path(tenant, stack)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Serialise check-and-remove against a break-and-retake in another process.
        let _guard = FileLock::exclusive(&dir.join(".locks.lock"))?;
        match Self::read_json::<StackLock>(&path)? {
            Some(l) if l.lock_id == lock_id => {
                fs::remove_file(&path)
                    .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>> {
        Ok(Self::read_json(&self.stack_lock_path(tenant, stack)?)?)
    }

    fn list_stack_locks(&self, tenant: &str) -> Result<Vec<StackLock>> {
        let dir = self.tenant_subdir(tenant, "stacks")?;
        let entries = fs::read_dir(&dir)
            .map_err(|e| StoreError::io(format!("reading {}", dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(stack) = name.strip_suffix(".lock")
                && valid_id(stack)
                && let Some(lock) = Self::read_json::<StackLock>(&entry.path())?
            {
                out.push(lock);
            }
        }
        out.sort_by(|a, b| a.stack.cmp(&b.stack));
        Ok(out)
    }

    fn renew_stack_lock(&self, lock: &StackLock) -> Result<bool> {
        let path = self.stack_lock_path(&lock.tenant, &lock.stack)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".locks.lock"))?;
        match Self::read_json::<StackLock>(&path)? {
            Some(held) if held.lock_id == lock.lock_id => {
                Self::write_json(&path, lock)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn take_over_stack_lock(&self, stale: &StackLock, lock: &StackLock) -> Result<bool> {
        let path = self.stack_lock_path(&lock.tenant, &lock.stack)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".locks.lock"))?;
        match Self::read_json::<StackLock>(&path)? {
            // Replaced in one rename: the lock file never disappears, so a plain `try_lock_stack`
            // meanwhile finds a holder (the stale one or this one), never a free stack.
            Some(held)
                if held.lock_id == stale.lock_id
                    && held.last_heartbeat() == stale.last_heartbeat() =>
            {
                Self::write_json(&path, lock)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn break_stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>> {
        let path = self.stack_lock_path(tenant, stack)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let _guard = FileLock::exclusive(&dir.join(".locks.lock"))?;
        let held = Self::read_json::<StackLock>(&path)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(held),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(format!("removing {}", path.display()), e).into()),
        }
    }

    fn try_claim_run(&self, claim: &RunClaim) -> Result<Option<RunClaim>> {
        self.claim_run(claim)
    }

    fn run_claim(&self, tenant: &str, plan_id: &str) -> Result<Option<RunClaim>> {
        self.read_claim(tenant, plan_id)
    }

    fn list_run_claims(&self, tenant: &str) -> Result<Vec<RunClaim>> {
        self.claims(tenant)
    }

    fn renew_run_claim(&self, claim: &RunClaim) -> Result<bool> {
        self.renew_claim(claim)
    }

    fn take_over_run_claim(&self, stale: &RunClaim, claim: &RunClaim) -> Result<bool> {
        self.take_over_claim(stale, claim)
    }

    fn release_run_claim(&self, tenant: &str, plan_id: &str, claim_id: &str) -> Result<bool> {
        self.release_claim(tenant, plan_id, claim_id)
    }

    fn append_run_log(&self, tenant: &str, plan_id: &str, entries: &[RunLogEntry]) -> Result<()> {
        self.write_run_log(tenant, plan_id, entries)
    }

    fn run_log(&self, tenant: &str, plan_id: &str, after: u64) -> Result<Vec<RunLogEntry>> {
        self.read_run_log(tenant, plan_id, after)
    }

    fn stack_state_dir(&self, tenant: &str, stack: &str) -> Result<PathBuf> {
        if !valid_id(stack) {
            return Err(StoreError::InvalidName {
                what: "stack name",
                name: stack.to_string(),
            }
            .into());
        }
        let dir = self.tenant_subdir(tenant, "stacks")?.join(stack);
        ensure_private_dir(&dir)?;
        Ok(dir)
    }

    fn price_cache_dir(&self, tenant: &str) -> Result<PathBuf> {
        self.tenant_subdir(tenant, "prices")
    }

    fn workspace_dir(&self, tenant: &str, plan_id: &str) -> Result<PathBuf> {
        if !valid_id(plan_id) {
            return Err(StoreError::InvalidName {
                what: "plan id",
                name: plan_id.to_string(),
            }
            .into());
        }
        let dir = self.tenant_subdir(tenant, "workspaces")?.join(plan_id);
        super::fsutil::ensure_owned_workspace(&dir)?;
        Ok(dir)
    }

    fn list_configs(&self, tenant: &str) -> Result<Vec<AwsConfiguration>> {
        let mut out: Vec<AwsConfiguration> =
            Self::read_json_dir(&self.tenant_subdir(tenant, "configs")?)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_config(&self, tenant: &str, name: &str) -> Result<Option<AwsConfiguration>> {
        if validate_config_name(name).is_err() {
            return Ok(None);
        }
        Ok(Self::read_json(
            &self
                .tenant_subdir(tenant, "configs")?
                .join(format!("{name}.json")),
        )?)
    }

    fn put_config(&self, config: &AwsConfiguration, create: bool) -> Result<()> {
        config.validate()?;
        let dir = self.tenant_subdir(&config.tenant, "configs")?;
        let _lock = FileLock::exclusive(&dir.join(".lock"))?;
        let path = dir.join(format!("{}.json", config.name));
        match (create, path.exists()) {
            (true, true) => Err(StoreError::ConfigExists {
                tenant: config.tenant.clone(),
                name: config.name.clone(),
            }
            .into()),
            (false, false) => Err(StoreError::not_found(
                "configuration",
                &config.name,
                format!("in tenant {}", config.tenant),
            )
            .into()),
            _ => Ok(Self::write_json(&path, config)?),
        }
    }

    fn delete_config(&self, tenant: &str, name: &str) -> Result<bool> {
        if validate_config_name(name).is_err() {
            return Ok(false);
        }
        let dir = self.tenant_subdir(tenant, "configs")?;
        let _lock = FileLock::exclusive(&dir.join(".lock"))?;
        let path = dir.join(format!("{name}.json"));
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(format!("removing {}", path.display()), e).into()),
        }
    }

    fn selected_config(&self, tenant: &str, user: &str) -> Result<Option<String>> {
        if validate_user(user).is_err() {
            return Ok(None);
        }
        let path = self
            .tenant_subdir(tenant, "selections")?
            .join(format!("{user}.json"));
        Ok(Self::read_json::<serde_json::Value>(&path)?
            .and_then(|v| v.get("config").and_then(|c| c.as_str()).map(str::to_string)))
    }

    fn select_config(&self, tenant: &str, user: &str, name: Option<&str>) -> Result<()> {
        validate_user(user)?;
        let path = self
            .tenant_subdir(tenant, "selections")?
            .join(format!("{user}.json"));
        match name {
            Some(n) => Ok(Self::write_json(
                &path,
                &serde_json::json!({ "config": n }),
            )?),
            None => match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StoreError::io(format!("removing {}", path.display()), e).into()),
            },
        }
    }

    fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>> {
        let mut out: Vec<ApiToken> = Self::read_json_dir(&self.tenant_subdir(tenant, "tokens")?)?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    fn get_token(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>> {
        if crate::tenant::tokens::validate_id(id).is_err() {
            return Ok(None);
        }
        let dir = self.tenant_subdir(tenant, "tokens")?;
        Ok(Self::read_json(&dir.join(format!("{id}.json")))?)
    }

    fn put_token(&self, token: &ApiToken, create: bool) -> Result<()> {
        token.validate()?;
        let dir = self.tenant_subdir(&token.tenant, "tokens")?;
        let _lock = FileLock::exclusive(&dir.join(".lock"))?;
        let path = dir.join(format!("{}.json", token.id));
        match (create, path.exists()) {
            (true, true) => Err(crate::error::Error::input(format!(
                "token {} already exists",
                token.id
            ))),
            (false, false) => Err(StoreError::not_found(
                "token",
                &token.id,
                format!("in tenant {}", token.tenant),
            )
            .into()),
            _ => Ok(Self::write_json(&path, token)?),
        }
    }
}
