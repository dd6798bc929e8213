//! The shared tenant backend: DynamoDB for records, S3 for bytes, so operators on different
//! machines see one approvals queue and one audit trail.
//!
//! How the guarantees of [`Store`] are kept with no server of our own:
//! - audit appends seal onto the chain head read from DynamoDB and commit the records, one
//!   marker per event id and the new head in one transaction conditioned on the old head; a
//!   writer that lost the race re-reads the head and tries again (`audit.rs`);
//! - plans, users and configurations carry a version; read-modify-write is a put conditioned on
//!   the version read, retried on conflict, so two approvers never both count from the same
//!   state;
//! - bytes go to S3 under their SHA-256 with `If-None-Match: *` and DynamoDB keeps where they are;
//! - when the backend cannot be reached (or throttles past the SDK's retries), reads come from
//!   the local cache, audit events and artifacts go to the local journal (fsync'd), writes that
//!   change state are refused, and the journal is flushed in order when it returns.
//!
//! Names and keys: `layout.rs`. Creating and checking the tables and buckets: `provision.rs`.

pub mod audit;
pub mod fault;
pub mod layout;
pub mod provision;
pub mod remote;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use self::fault::Fault;
use self::layout::{Bucket, Layout, TENANT_SK, Table, object_key, state_key};
use self::remote::{Clients, Cond, Item, get_n, get_s, key, n, s};
use super::StoreError;
use super::cache::Cache;
use super::fsutil::ensure_private_dir;
use super::journal::{Entry, Journal};
use super::{BackendHealth, StackLock, StackRecord, Store, SyncReport};
use crate::approval::PlanRecord;
use crate::audit::{AuditEvent, AuditRecord, Signer, VerifyReport};
use crate::aws::{AssumeRole, AwsAccess};
use crate::config::AwsBackendConfig;
use crate::error::Result;
use crate::plan::{ArtifactKind, sha256_hex};
use crate::tenant::configs::validate_config_name;
use crate::tenant::{AwsConfiguration, Tenant, User, validate_name, validate_user};
use crate::time::Stamp;

/// How to reach the shared backend.
pub struct AwsOpen<'a> {
    pub config: &'a AwsBackendConfig,
    /// `--endpoint-url` or the file's `endpoint_url` (the SDK's own variables otherwise).
    pub endpoint_url: Option<String>,
    /// The local data directory: journal, cache, signing keys, Terraform working copies.
    pub data_dir: &'a Path,
    /// The acting tenant: fills `{tenant}` in the backend role, confining the session to it.
    pub tenant: Option<&'a str>,
    /// For the role session name (CloudTrail shows who acted).
    pub user: &'a str,
}

pub struct AwsStore {
    layout: Layout,
    aws: Arc<AwsAccess>,
    clients: OnceLock<Clients>,
    /// Set when the backend role names `{tenant}`: every call for another tenant is refused.
    confined: Option<String>,
    retention_days: u32,
    root: PathBuf,
    keys_dir: PathBuf,
    journal: Journal,
    cache: Cache,
    link: Link,
    /// Chain heads this process wrote last (seq, hash): tried first, re-read on conflict.
    heads: Mutex<HashMap<String, (u64, String)>>,
    /// One appender per tenant in this process; other processes race through the conditions.
    appenders: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    published_keys: Mutex<HashSet<(String, String)>>,
    /// Artifacts known to be stored, and in which bucket.
    known_artifacts: Mutex<HashMap<(String, String), String>>,
    /// Buckets of artifacts queued in the journal (for their URIs).
    queued_buckets: Mutex<HashMap<(String, String), String>>,
}

/// Whether calls go out, and since when they do not.
#[derive(Default)]
struct Link {
    state: Mutex<LinkState>,
}

#[derive(Default)]
struct LinkState {
    down: Option<Down>,
    queued: usize,
    dead: usize,
}

struct Down {
    since: Stamp,
    reason: String,
    retry_at: Instant,
    backoff: Duration,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Link {
    /// While down and before the next probe is due: the reason (calls fail fast).
    fn blocked(&self) -> Option<String> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.down
            .as_ref()
            .filter(|d| Instant::now() < d.retry_at)
            .map(|d| format!("{} (since {})", d.reason, d.since))
    }

    fn failed(&self, reason: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (since, backoff) = match &st.down {
            Some(d) => (d.since.clone(), (d.backoff * 2).min(MAX_BACKOFF)),
            None => {
                tracing::warn!(
                    reason,
                    "shared backend unreachable: working from the local copy"
                );
                (Stamp::now(), FIRST_BACKOFF)
            }
        };
        st.down = Some(Down {
            since,
            reason: reason.to_string(),
            retry_at: Instant::now() + backoff,
            backoff,
        });
    }

    fn ok(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = st.down.take() {
            tracing::info!(since = %d.since, "shared backend reachable again");
        }
    }

    fn set_counts(&self, queued: usize, dead: usize) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.queued = queued;
        st.dead = dead;
    }

    fn add_queued(&self, n: usize) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).queued += n;
    }

    fn health(&self) -> BackendHealth {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        BackendHealth {
            reachable: st.down.is_none(),
            since: st.down.as_ref().map(|d| d.since.clone()),
            reason: st.down.as_ref().map(|d| d.reason.clone()),
            queued: st.queued,
            dead_letters: st.dead,
        }
    }
}

/// Now, as the backend's bookkeeping attributes store it (the system clock: a deck's clock
/// does not reach the store).
fn now_iso() -> String {
    Stamp::now().to_string()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_sha(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn to_json<T: serde::Serialize>(v: &T) -> std::result::Result<String, Fault> {
    serde_json::to_string(v).map_err(|e| Fault::Fatal(format!("cannot encode a record: {e}")))
}

fn from_item<T: serde::de::DeserializeOwned>(
    item: &Item,
    what: &str,
) -> std::result::Result<T, Fault> {
    let text = get_s(item, "rec")
        .ok_or_else(|| Fault::Fatal(format!("the stored {what} has no record")))?;
    serde_json::from_str(text)
        .map_err(|e| Fault::Fatal(format!("the stored {what} cannot be read: {e}")))
}

/// A user as this machine may keep them: never the TOTP secret.
fn without_secret(u: &User) -> User {
    let mut u = u.clone();
    u.totp_secret = String::new();
    u
}

/// A pause before trying a lost race again: exponential with full jitter (10 ms doubling up to
/// a second), so many writers on one head spread out instead of colliding again.
fn backoff(attempt: u32) {
    let cap = (10u64 << attempt.min(7)).min(1000);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let ms = u16::from_le_bytes(b) as u64 % (cap + 1);
    std::thread::sleep(Duration::from_millis(ms.max(1)));
}

impl AwsStore {
    pub fn open(o: AwsOpen<'_>) -> Result<AwsStore> {
        let layout = Layout::new(o.config)?;
        let (role, confined) = if o.config.role_arn.trim().is_empty() {
            (None, None)
        } else {
            let names_tenant = o.config.role_arn.contains("{tenant}");
            let arn = match (names_tenant, o.tenant) {
                (true, Some(t)) => o.config.role_arn.replace("{tenant}", t),
                (true, None) => {
                    return Err(StoreError::RoleNeedsTenant.into());
                }
                (false, _) => o.config.role_arn.clone(),
            };
            crate::tenant::configs::validate_role_arn(&arn)?;
            (
                Some(AssumeRole {
                    role_arn: arn,
                    external_id: Some(o.config.external_id.clone()).filter(|e| !e.is_empty()),
                    session_name: crate::tenant::configs::session_name(o.user),
                }),
                names_tenant.then(|| o.tenant.unwrap_or_default().to_string()),
            )
        };
        let aws = AwsAccess::new(o.endpoint_url.clone(), role).with_limits(
            Duration::from_secs(o.config.timeout_secs.max(1)),
            o.config.max_attempts.max(1),
        );
        // One local directory per backend: journal and cache never mix two backends.
        let mut id = format!("{}-{}", layout.region, layout.prefix);
        if let Some(url) = &o.endpoint_url {
            id.push('-');
            id.push_str(&sha256_hex(url.as_bytes())[..8]);
        }
        let root = o.data_dir.join("aws").join(id);
        ensure_private_dir(&root)?;
        let journal = Journal::open(&root.join("journal"))?;
        let (queued, dead) = journal.counts();
        let link = Link::default();
        link.set_counts(queued, dead);
        Ok(AwsStore {
            layout,
            aws: Arc::new(aws),
            clients: OnceLock::new(),
            confined,
            retention_days: o.config.audit_log_retention_days,
            cache: Cache::new(&root.join("cache")),
            root,
            keys_dir: o.data_dir.join("keys"),
            journal,
            link,
            heads: Mutex::new(HashMap::new()),
            appenders: Mutex::new(HashMap::new()),
            published_keys: Mutex::new(HashSet::new()),
            known_artifacts: Mutex::new(HashMap::new()),
            queued_buckets: Mutex::new(HashMap::new()),
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn access(&self) -> &AwsAccess {
        &self.aws
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn table(&self, t: Table) -> String {
        self.layout.table(t)
    }

    fn clients(&self) -> std::result::Result<Clients, Fault> {
        if let Some(c) = self.clients.get() {
            return Ok(c.clone());
        }
        let aws = self.aws.clone();
        let region = self.layout.region.clone();
        let built = self
            .aws
            .block_on(async move {
                let conf = aws.config(&region).await;
                let ddb = aws_sdk_dynamodb::Client::new(&conf);
                // Path-style whenever an endpoint is overridden (moto, LocalStack, VPC endpoints
                // by IP); virtual-hosted otherwise.
                let overridden = aws.endpoint_url().is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL").is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
                let s3 = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&conf)
                        .force_path_style(overridden)
                        .build(),
                );
                Clients { ddb, s3 }
            })
            .map_err(|e| Fault::Fatal(e.to_string()))?;
        let _ = self.clients.set(built);
        Ok(self
            .clients
            .get()
            .cloned()
            .unwrap_or_else(|| unreachable!()))
    }

    /// Runs one remote operation, failing fast while the backend is known to be down.
    fn call<T, Fut>(&self, op: impl FnOnce(Clients) -> Fut) -> std::result::Result<T, Fault>
    where
        Fut: std::future::Future<Output = std::result::Result<T, Fault>> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(reason) = self.link.blocked() {
            return Err(Fault::Transient(reason));
        }
        self.call_now(op)
    }

    /// The same, without the fast-fail: probes a backend believed down.
    fn call_now<T, Fut>(&self, op: impl FnOnce(Clients) -> Fut) -> std::result::Result<T, Fault>
    where
        Fut: std::future::Future<Output = std::result::Result<T, Fault>> + Send + 'static,
        T: Send + 'static,
    {
        let clients = self.clients()?;
        let out = self
            .aws
            .block_on(op(clients))
            .map_err(|e| Fault::Transient(e.to_string()))?;
        match &out {
            Err(Fault::Transient(reason)) => self.link.failed(reason),
            _ => self.link.ok(),
        }
        out
    }

    /// Refuses a tenant outside the session's confinement.
    fn scope(&self, tenant: &str) -> Result<()> {
        validate_name(tenant)?;
        match &self.confined {
            Some(t) if t != tenant => Err(StoreError::Confined {
                confined: t.clone(),
                tenant: tenant.to_string(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// A read: the backend's answer, or this machine's copy while it is unreachable.
    fn read<T>(
        &self,
        what: &str,
        remote: std::result::Result<T, Fault>,
        offline: impl FnOnce() -> Option<T>,
    ) -> Result<T> {
        match remote {
            Ok(v) => Ok(v),
            Err(f) if f.is_transient() => offline().ok_or_else(|| {
                StoreError::NoLocalCopy {
                    what: what.to_string(),
                    reason: f.message().to_string(),
                }
                .into()
            }),
            Err(f) => Err(f.into_error().into()),
        }
    }

    /// A write that changes state: refused while the backend is unreachable.
    fn write<T>(&self, what: &str, remote: std::result::Result<T, Fault>) -> Result<T> {
        remote.map_err(|f| {
            if f.is_transient() {
                StoreError::ReadOnly {
                    action: what.to_string(),
                    reason: f.message().to_string(),
                }
                .into()
            } else {
                f.into_error().into()
            }
        })
    }

    fn get(&self, t: Table, pk: String, sk: String) -> std::result::Result<Option<Item>, Fault> {
        let table = self.table(t);
        self.call(move |c| remote::get_item(c, table, key(pk, sk)))
    }

    fn put(&self, t: Table, item: Item, cond: Option<Cond>) -> std::result::Result<(), Fault> {
        let table = self.table(t);
        self.call(move |c| remote::put_item(c, table, item, cond))
    }

    fn query(
        &self,
        t: Table,
        pk: String,
        prefix: Option<&str>,
    ) -> std::result::Result<Vec<Item>, Fault> {
        let table = self.table(t);
        let prefix = prefix.map(str::to_string);
        self.call(move |c| remote::query_all(c, table, pk, prefix))
    }

    /// A record item of the tenants table: `{pk, sk, rec, version}`.
    fn record_item(tenant: &str, sk: &str, rec: String, version: u64) -> Item {
        let mut item = key(tenant, sk);
        item.insert("rec".into(), s(rec));
        item.insert("version".into(), n(version));
        item
    }

    /// Versioned read-modify-write of a record in the tenants table; saved only when `f`
    /// succeeds and changed it.
    fn update_record<T>(
        &self,
        tenant: &str,
        sk: &str,
        what: &str,
        f: &mut dyn FnMut(&mut T) -> Result<()>,
    ) -> Result<Option<T>>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Clone + PartialEq,
    {
        let mut attempt = 0;
        loop {
            let Some(item) = self.write(
                &format!("change {what}"),
                self.get(Table::Tenants, tenant.to_string(), sk.to_string()),
            )?
            else {
                return Ok(None);
            };
            let version = get_n(&item, "version").unwrap_or(0);
            let original: T = from_item(&item, what).map_err(Fault::into_error)?;
            let mut rec = original.clone();
            f(&mut rec)?;
            if rec == original {
                return Ok(Some(rec));
            }
            let json = to_json(&rec).map_err(Fault::into_error)?;
            match self.put(
                Table::Tenants,
                Self::record_item(tenant, sk, json, version + 1),
                Cond::version(version),
            ) {
                Ok(()) => return Ok(Some(rec)),
                Err(Fault::Condition(_)) => {
                    attempt += 1;
                    backoff(attempt);
                }
                Err(other) => return self.write(&format!("change {what}"), Err(other)),
            }
        }
    }

    // ------------------------------------------------------------------ artifacts

    /// Uploads bytes (if not there yet) and records where they are.
    fn put_artifact_remote(
        &self,
        tenant: &str,
        kind: ArtifactKind,
        bytes: &[u8],
        sha: &str,
    ) -> std::result::Result<(), Fault> {
        let known = (tenant.to_string(), sha.to_string());
        if self.known_artifacts.lock().unwrap().contains_key(&known) {
            return Ok(());
        }
        if let Some(item) = self.get(Table::Artifacts, tenant.to_string(), sha.to_string())? {
            let bucket = get_s(&item, "bucket").unwrap_or_default().to_string();
            self.known_artifacts.lock().unwrap().insert(known, bucket);
            return Ok(());
        }
        let bucket = self.layout.bucket(Bucket::for_kind(kind));
        let object = object_key(tenant, sha);
        let (b, k, body) = (bucket.clone(), object.clone(), bytes.to_vec());
        self.call(move |c| remote::s3_put_new(c, b, k, body))?;
        let mut item = key(tenant, sha);
        item.insert("bucket".into(), s(bucket.clone()));
        item.insert("key".into(), s(object));
        item.insert("size".into(), n(bytes.len()));
        item.insert(
            "kind".into(),
            s(serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()),
        );
        item.insert("created_at".into(), s(now_iso()));
        match self.put(Table::Artifacts, item, Cond::absent()) {
            Ok(()) | Err(Fault::Condition(_)) => {}
            Err(f) => return Err(f),
        }
        self.known_artifacts.lock().unwrap().insert(known, bucket);
        Ok(())
    }

    /// Stores an artifact now or fails (no journal): for migrations, which must not report
    /// success for anything that is not in the backend.
    pub fn upload_artifact(
        &self,
        tenant: &str,
        kind: ArtifactKind,
        bytes: &[u8],
    ) -> Result<String> {
        self.scope(tenant)?;
        let sha = sha256_hex(bytes);
        self.write(
            &format!("store artifact {sha}"),
            self.put_artifact_remote(tenant, kind, bytes, &sha),
        )?;
        Ok(sha)
    }

    // ------------------------------------------------------------------ journal

    /// Flushes one tenant's journal in order, with the journal held.
    fn flush(
        &self,
        tenant: &str,
        guard: &super::journal::Guard<'_>,
        signer: &Signer,
        report: &mut SyncReport,
    ) -> Result<()> {
        let entries = guard.entries()?;
        for (i, entry) in entries.iter().enumerate() {
            let outcome = match entry {
                Entry::Artifact { sha256, kind, .. } => match guard.blob(sha256) {
                    Ok(bytes) => self
                        .put_artifact_remote(tenant, *kind, &bytes, sha256)
                        .map(|_| report.artifacts += 1),
                    Err(e) => Err(Fault::Fatal(e.to_string())),
                },
                Entry::Audit { events, .. } => {
                    self.append_remote(tenant, events, signer).map(|(_, dup)| {
                        report.events += events.len() - dup;
                        report.already_there += dup;
                    })
                }
            };
            match outcome {
                Ok(()) => {}
                Err(f) if f.is_transient() => {
                    guard.retain(&entries[i..])?;
                    report.remaining += entries[i..].iter().map(Entry::weight).sum::<usize>();
                    return Ok(());
                }
                Err(f) => {
                    tracing::error!(tenant, error = %f.message(), "journal entry refused by the backend; set aside");
                    guard.bury(entry, f.message())?;
                    report.dead_letters += 1;
                }
            }
        }
        guard.retain(&[]).map_err(Into::into)
    }

    fn refresh_counts(&self) {
        let (q, d) = self.journal.counts();
        self.link.set_counts(q, d);
    }

    // ------------------------------------------------------------------ locks

    /// Takes a named lock of the tenant (a stack's, say) for `owner` until `ttl` passes:
    /// a conditional put that succeeds only if nobody else holds an unexpired lock.
    pub fn try_lock(&self, tenant: &str, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.scope(tenant)?;
        let now = jiff::Timestamp::now().as_second();
        let mut item = key(tenant, name);
        item.insert("owner".into(), s(owner));
        item.insert("acquired_at".into(), s(now_iso()));
        item.insert("expires_at".into(), n(now + ttl.as_secs() as i64));
        let cond = Cond {
            expr: "attribute_not_exists(pk) OR expires_at < :now OR #o = :me".into(),
            names: vec![("#o".into(), "owner".into())],
            values: vec![(":now".into(), n(now)), (":me".into(), s(owner))],
        };
        match self.put(Table::Locks, item, Some(cond)) {
            Ok(()) => Ok(true),
            Err(Fault::Condition(_)) => Ok(false),
            Err(f) => self.write(&format!("lock {name}"), Err(f)),
        }
    }

    /// Releases a lock this owner holds; false if it held none.
    pub fn unlock(&self, tenant: &str, name: &str, owner: &str) -> Result<bool> {
        self.scope(tenant)?;
        let table = self.table(Table::Locks);
        let k = key(tenant, name);
        let cond = Some(Cond {
            expr: "#o = :me".into(),
            names: vec![("#o".into(), "owner".into())],
            values: vec![(":me".into(), s(owner))],
        });
        match self.call(move |c| remote::delete_item(c, table, k, cond)) {
            Ok(old) => Ok(old.is_some()),
            Err(Fault::Condition(_)) => Ok(false),
            Err(f) => self.write(&format!("unlock {name}"), Err(f)),
        }
    }

    /// Who holds a lock, if anyone (expired locks are reported as free).
    pub fn lock_holder(&self, tenant: &str, name: &str) -> Result<Option<String>> {
        self.scope(tenant)?;
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        let item = self.write(
            "read a lock",
            self.get(Table::Locks, tenant.into(), name.into()),
        )?;
        Ok(item
            .filter(|i| get_n(i, "expires_at").is_some_and(|e| e >= now))
            .and_then(|i| get_s(&i, "owner").map(str::to_string)))
    }

    fn work_dir(&self, tenant: &str, sub: &str, name: &str) -> Result<PathBuf> {
        if !valid_id(name) {
            return Err(StoreError::InvalidName {
                what: "name",
                name: name.to_string(),
            }
            .into());
        }
        let dir = self.root.join("work").join(tenant).join(sub).join(name);
        ensure_private_dir(&dir)?;
        Ok(dir)
    }
}

impl Store for AwsStore {
    fn backend(&self) -> &'static str {
        "aws"
    }

    fn location(&self) -> String {
        format!(
            "dynamodb {}_* and s3 {}-* in {}{}",
            self.layout.prefix,
            self.layout.bucket_prefix,
            self.layout.region,
            self.aws
                .endpoint_url()
                .map(|u| format!(" via {u}"))
                .unwrap_or_default()
        )
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        if let Some(t) = &self.confined {
            return Ok(self.get_tenant(t)?.into_iter().collect());
        }
        let table = self.table(Table::Tenants);
        let remote = self
            .call(move |c| remote::scan_sk(c, table, TENANT_SK.to_string()))
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| from_item::<Tenant>(i, "tenant"))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                self.cache.put_tenants(&v);
                v
            });
        self.read("the tenant list", remote, || self.cache.tenants())
    }

    fn get_tenant(&self, name: &str) -> Result<Option<Tenant>> {
        self.scope(name)?;
        let remote = self
            .get(Table::Tenants, name.to_string(), TENANT_SK.to_string())
            .and_then(|i| i.map(|i| from_item::<Tenant>(&i, "tenant")).transpose())
            .inspect(|t| {
                if let Some(t) = t {
                    self.cache.put(name, "tenant", "tenant", t);
                }
            });
        self.read(&format!("tenant {name}"), remote, || {
            self.cache.get(name, "tenant", "tenant").map(Some)
        })
    }

    fn put_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.scope(&tenant.name)?;
        let json = to_json(tenant).map_err(Fault::into_error)?;
        let mut item = Self::record_item(&tenant.name, TENANT_SK, json, 1);
        item.insert("updated_at".into(), s(now_iso()));
        self.write(
            &format!("save tenant {}", tenant.name),
            self.put(Table::Tenants, item, None),
        )?;
        self.cache.put(&tenant.name, "tenant", "tenant", tenant);
        Ok(())
    }

    fn list_users(&self, tenant: &str) -> Result<Vec<User>> {
        self.scope(tenant)?;
        let remote = self
            .query(Table::Tenants, tenant.to_string(), Some("user#"))
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| from_item::<User>(i, "user"))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                let public: Vec<User> = v.iter().map(without_secret).collect();
                self.cache.put_list(tenant, "users", &public);
                v
            });
        self.read(&format!("the users of tenant {tenant}"), remote, || {
            self.cache.list(tenant, "users")
        })
    }

    fn get_user(&self, tenant: &str, name: &str) -> Result<Option<User>> {
        self.scope(tenant)?;
        if validate_user(name).is_err() {
            return Ok(None);
        }
        let remote = self
            .get(Table::Tenants, tenant.to_string(), format!("user#{name}"))
            .and_then(|i| i.map(|i| from_item::<User>(&i, "user")).transpose());
        self.read(&format!("user {name}"), remote, || {
            self.cache
                .list::<User>(tenant, "users")
                .map(|users| users.into_iter().find(|u| u.name == name))
        })
    }

    fn create_user(&self, tenant: &str, user: &User) -> Result<()> {
        self.scope(tenant)?;
        validate_user(&user.name)?;
        let json = to_json(user).map_err(Fault::into_error)?;
        match self.put(
            Table::Tenants,
            Self::record_item(tenant, &format!("user#{}", user.name), json, 1),
            Cond::absent(),
        ) {
            Ok(()) => Ok(()),
            Err(Fault::Condition(_)) => Err(StoreError::UserExists {
                tenant: tenant.to_string(),
                user: user.name.clone(),
            }
            .into()),
            Err(f) => self.write(&format!("register user {}", user.name), Err(f)),
        }
    }

    fn update_user(
        &self,
        tenant: &str,
        name: &str,
        f: &mut dyn FnMut(&mut User) -> Result<()>,
    ) -> Result<User> {
        self.scope(tenant)?;
        validate_user(name)?;
        self.update_record(tenant, &format!("user#{name}"), &format!("user {name}"), f)?
            .ok_or_else(|| {
                StoreError::not_found("user", name, format!("in tenant {tenant}")).into()
            })
    }

    fn tenant_policies(&self, tenant: &str) -> Result<Vec<(String, String)>> {
        self.scope(tenant)?;
        let remote = self
            .query(Table::Tenants, tenant.to_string(), Some("policy#"))
            .map(|items| {
                let mut v: Vec<(String, String)> = items
                    .iter()
                    .filter_map(|i| {
                        let name = get_s(i, "sk")?.strip_prefix("policy#")?.to_string();
                        Some((name, get_s(i, "source").unwrap_or_default().to_string()))
                    })
                    .collect();
                v.sort();
                self.cache.put_list(tenant, "policies", &v);
                v
            });
        self.read(&format!("the policies of tenant {tenant}"), remote, || {
            self.cache.list(tenant, "policies")
        })
    }

    fn put_tenant_policy(&self, tenant: &str, name: &str, source: &str) -> Result<()> {
        self.scope(tenant)?;
        if !name.ends_with(".rego") || !valid_id(name.trim_end_matches(".rego")) {
            return Err(StoreError::PolicyFileName {
                name: name.to_string(),
            }
            .into());
        }
        let mut item = key(tenant, format!("policy#{name}"));
        item.insert("source".into(), s(source));
        item.insert("updated_at".into(), s(now_iso()));
        self.write(
            &format!("save policy {name}"),
            self.put(Table::Tenants, item, None),
        )
    }

    fn delete_tenant_policy(&self, tenant: &str, name: &str) -> Result<bool> {
        self.scope(tenant)?;
        if !valid_id(name.trim_end_matches(".rego")) {
            return Ok(false);
        }
        let table = self.table(Table::Tenants);
        let k = key(tenant, format!("policy#{name}"));
        self.write(
            &format!("remove policy {name}"),
            self.call(move |c| remote::delete_item(c, table, k, None)),
        )
        .map(|old| old.is_some())
    }

    fn append_audit(
        &self,
        tenant: &str,
        events: &[AuditEvent],
        signer: &Signer,
    ) -> Result<Vec<AuditRecord>> {
        self.scope(tenant)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let ids: HashSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        if ids.len() != events.len() || ids.contains("") {
            return Err(StoreError::BatchEventIds.into());
        }
        let guard = self.journal.lock(tenant)?;
        // Older queued events go first: the chain keeps this host's order.
        if !guard.is_empty() && self.link.blocked().is_none() {
            let mut report = SyncReport::default();
            if let Err(e) = self.flush(tenant, &guard, signer, &mut report) {
                tracing::error!(tenant, error = %e, "flushing the journal failed");
            }
            self.refresh_counts();
        }
        if guard.is_empty() {
            match self.append_remote(tenant, events, signer) {
                Ok((records, _)) => return Ok(records),
                Err(f) if f.is_transient() => {}
                Err(f) => return Err(f.into_error().into()),
            }
        }
        guard.push(&Entry::Audit {
            events: events.to_vec(),
            queued_at: Stamp::now(),
        })?;
        self.link.add_queued(events.len());
        // Sealed when flushed: seq 0 and no hash mean "queued on this machine".
        Ok(events
            .iter()
            .map(|e| AuditRecord {
                seq: 0,
                prev: String::new(),
                hash: String::new(),
                key: signer.key_id().to_string(),
                sig: String::new(),
                event: e.clone(),
            })
            .collect())
    }

    fn scan_audit(&self, tenant: &str, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.scope(tenant)?;
        self.scan_audit_remote(tenant, f)
    }

    fn verify_audit(&self, tenant: &str, full: bool) -> Result<VerifyReport> {
        self.scope(tenant)?;
        self.verify_remote(tenant, full)
    }

    fn put_artifact(&self, tenant: &str, bytes: &[u8]) -> Result<String> {
        self.put_artifact_as(tenant, ArtifactKind::Terraform, bytes)
    }

    fn put_artifact_as(&self, tenant: &str, kind: ArtifactKind, bytes: &[u8]) -> Result<String> {
        self.scope(tenant)?;
        let sha = sha256_hex(bytes);
        self.cache.put_blob(tenant, &sha, bytes);
        match self.put_artifact_remote(tenant, kind, bytes, &sha) {
            Ok(()) => Ok(sha),
            Err(f) if f.is_transient() => {
                let guard = self.journal.lock(tenant)?;
                guard.push_artifact(kind, bytes, Stamp::now())?;
                self.link.add_queued(1);
                // Its URI names the bucket it will go to when the journal is flushed.
                self.queued_buckets.lock().unwrap().insert(
                    (tenant.to_string(), sha.clone()),
                    self.layout.bucket(Bucket::for_kind(kind)),
                );
                Ok(sha)
            }
            Err(f) => Err(f.into_error().into()),
        }
    }

    fn get_artifact(&self, tenant: &str, sha256: &str) -> Result<Vec<u8>> {
        self.scope(tenant)?;
        if !valid_sha(sha256) {
            return Err(
                StoreError::not_found("artifact", sha256, "expected a sha256 hex digest").into(),
            );
        }
        // Content-addressed: bytes that hash to their name are the artifact, wherever they are.
        if let Some(b) = self.cache.blob(tenant, sha256) {
            return Ok(b);
        }
        let remote = (|| {
            let Some(item) = self.get(Table::Artifacts, tenant.to_string(), sha256.to_string())?
            else {
                return Ok(None);
            };
            let bucket = get_s(&item, "bucket").unwrap_or_default().to_string();
            let object = get_s(&item, "key").unwrap_or_default().to_string();
            let (b, k) = (bucket.clone(), object.clone());
            let bytes = self.call(move |c| remote::s3_get(c, b, k))?;
            Ok(Some((bytes, format!("s3://{bucket}/{object}"))))
        })();
        let found = self.read(&format!("artifact {sha256}"), remote, || None)?;
        let Some((bytes, uri)) = found else {
            return Err(
                StoreError::not_found("artifact", sha256, format!("tenant {tenant}")).into(),
            );
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::Corrupt {
                path: PathBuf::from(uri),
                detail: format!("artifact content changed: it now hashes to {actual}"),
            }
            .into());
        }
        self.cache.put_blob(tenant, sha256, &bytes);
        Ok(bytes)
    }

    fn artifact_uri(&self, tenant: &str, sha256: &str) -> String {
        let id = (tenant.to_string(), sha256.to_string());
        let known = self
            .known_artifacts
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .filter(|b| !b.is_empty())
            .or_else(|| self.queued_buckets.lock().unwrap().get(&id).cloned());
        let bucket = known
            .or_else(|| {
                self.get(Table::Artifacts, tenant.to_string(), sha256.to_string())
                    .ok()
                    .flatten()
                    .and_then(|i| get_s(&i, "bucket").map(str::to_string))
            })
            .unwrap_or_else(|| self.layout.bucket(Bucket::Artifacts));
        format!("s3://{bucket}/{}", object_key(tenant, sha256))
    }

    fn create_plan(&self, rec: &PlanRecord) -> Result<()> {
        let tenant = &rec.plan.tenant;
        self.scope(tenant)?;
        if !valid_id(&rec.plan.plan_id) {
            return Err(StoreError::InvalidName {
                what: "plan id",
                name: rec.plan.plan_id.clone(),
            }
            .into());
        }
        let items = self.plan_items(rec, None).map_err(Fault::into_error)?;
        match self.call(move |c| remote::transact(c, items)) {
            Ok(()) => {
                self.cache.put(tenant, "plans", &rec.plan.plan_id, rec);
                Ok(())
            }
            Err(Fault::Cancelled { reasons, .. })
                if reasons.first().map(String::as_str) == Some("ConditionalCheckFailed") =>
            {
                Err(StoreError::PlanExists {
                    plan_id: rec.plan.plan_id.clone(),
                }
                .into())
            }
            Err(f) => self.write(&format!("create plan {}", rec.plan.plan_id), Err(f)),
        }
    }

    fn get_plan(&self, tenant: &str, id: &str) -> Result<PlanRecord> {
        self.scope(tenant)?;
        if !valid_id(id) {
            return Err(
                StoreError::not_found("plan", id, "plan ids look like p-xxxxxxxxxx").into(),
            );
        }
        let remote = self
            .get(Table::Approvals, tenant.to_string(), id.to_string())
            .and_then(|i| i.map(|i| from_item::<PlanRecord>(&i, "plan")).transpose());
        let found = self.read(&format!("plan {id}"), remote, || {
            self.cache
                .get::<PlanRecord>(tenant, "plans", id)
                .or_else(|| {
                    self.cache
                        .list::<PlanRecord>(tenant, "plans")
                        .and_then(|l| l.into_iter().find(|r| r.plan.plan_id == id))
                })
                .map(Some)
        })?;
        match found {
            Some(rec) => {
                self.cache.put(tenant, "plans", id, &rec);
                Ok(rec)
            }
            None => Err(StoreError::not_found(
                "plan",
                id,
                format!("in tenant {tenant}; `opsdeck plans list` shows them"),
            )
            .into()),
        }
    }

    fn list_plans(&self, tenant: &str) -> Result<Vec<PlanRecord>> {
        self.scope(tenant)?;
        let remote = self
            .query(Table::Approvals, tenant.to_string(), None)
            .map(|items| {
                let mut out: Vec<PlanRecord> = Vec::with_capacity(items.len());
                for i in &items {
                    match from_item::<PlanRecord>(i, "plan") {
                        Ok(r) => out.push(r),
                        // One damaged plan must not hide the others; it is reported in the log.
                        Err(f) => tracing::error!(error = %f.message(), "skipping unreadable plan"),
                    }
                }
                out.sort_by(|a, b| b.plan.created_at.cmp(&a.plan.created_at));
                self.cache.put_list(tenant, "plans", &out);
                out
            });
        self.read(&format!("the plans of tenant {tenant}"), remote, || {
            self.cache.list(tenant, "plans")
        })
    }

    fn update_plan(
        &self,
        tenant: &str,
        id: &str,
        f: &mut dyn FnMut(&mut PlanRecord) -> Result<()>,
    ) -> Result<PlanRecord> {
        self.scope(tenant)?;
        if !valid_id(id) {
            return Err(StoreError::not_found("plan", id, format!("in tenant {tenant}")).into());
        }
        let what = format!("change plan {id}");
        let mut attempt = 0;
        loop {
            let item = self
                .write(
                    &what,
                    self.get(Table::Approvals, tenant.to_string(), id.to_string()),
                )?
                .ok_or_else(|| StoreError::not_found("plan", id, format!("in tenant {tenant}")))?;
            let version = get_n(&item, "version").unwrap_or(0);
            let original: PlanRecord = from_item(&item, "plan").map_err(Fault::into_error)?;
            let mut rec = original.clone();
            let outcome = f(&mut rec);
            if rec == original {
                return outcome.map(|_| rec);
            }
            let items = self
                .plan_items(&rec, Some(version))
                .map_err(Fault::into_error)?;
            match self.call(move |c| remote::transact(c, items)) {
                Ok(()) => {
                    self.cache.put(tenant, "plans", id, &rec);
                    return outcome.map(|_| rec);
                }
                // Someone else changed the plan since it was read: decide again on theirs.
                Err(fault) if fault.lost_race() => {
                    attempt += 1;
                    backoff(attempt);
                }
                Err(fault) => return self.write(&what, Err(fault)),
            }
        }
    }

    fn try_lock_stack(&self, lock: &StackLock) -> Result<Option<StackLock>> {
        self.scope(&lock.tenant)?;
        let name = format!("stack#{}", lock.stack);
        let json = to_json(lock).map_err(Fault::into_error)?;
        let mut item = key(&lock.tenant, &name);
        item.insert("owner".into(), s(&lock.lock_id));
        item.insert("rec".into(), s(json));
        item.insert("acquired_at".into(), s(lock.acquired_at.to_string()));
        // Stack locks never expire by themselves (only the audited break removes one).
        let cond = || Cond {
            expr: "attribute_not_exists(pk)".into(),
            names: Vec::new(),
            values: Vec::new(),
        };
        // A holder that lets go between our refused put and our read of it: try again.
        for _ in 0..3 {
            match self.put(Table::Locks, item.clone(), Some(cond())) {
                Ok(()) => return Ok(None),
                Err(Fault::Condition(_)) => {
                    if let Some(holder) = self.stack_lock(&lock.tenant, &lock.stack)? {
                        return Ok(Some(holder));
                    }
                }
                Err(f) => return self.write(&format!("lock stack {}", lock.stack), Err(f)),
            }
        }
        Err(StoreError::LockContended {
            stack: lock.stack.clone(),
        }
        .into())
    }

    fn unlock_stack(&self, tenant: &str, stack: &str, lock_id: &str) -> Result<bool> {
        self.unlock(tenant, &format!("stack#{stack}"), lock_id)
    }

    fn stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>> {
        self.scope(tenant)?;
        let item = self.write(
            "read a stack lock",
            self.get(Table::Locks, tenant.into(), format!("stack#{stack}")),
        )?;
        item.map(|i| from_item::<StackLock>(&i, "stack lock").map_err(Fault::into_error))
            .transpose()
            .map_err(Into::into)
    }

    fn break_stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>> {
        self.scope(tenant)?;
        let table = self.table(Table::Locks);
        let k = key(tenant, format!("stack#{stack}"));
        let old = self.write(
            &format!("break the lock of stack {stack}"),
            self.call(move |c| remote::delete_item(c, table, k, None)),
        )?;
        old.map(|i| from_item::<StackLock>(&i, "stack lock").map_err(Fault::into_error))
            .transpose()
            .map_err(Into::into)
    }

    fn get_stack(&self, tenant: &str, name: &str) -> Result<Option<StackRecord>> {
        self.scope(tenant)?;
        if !valid_id(name) {
            return Ok(None);
        }
        let remote = self
            .get(Table::Tenants, tenant.to_string(), format!("stack#{name}"))
            .and_then(|i| i.map(|i| from_item::<StackRecord>(&i, "stack")).transpose());
        self.read(&format!("stack {name}"), remote, || {
            self.cache
                .list::<StackRecord>(tenant, "stacks")
                .map(|l| l.into_iter().find(|s| s.name == name))
        })
    }

    fn put_stack(&self, stack: &StackRecord) -> Result<()> {
        let tenant = &stack.tenant;
        self.scope(tenant)?;
        if !valid_id(&stack.name) {
            return Err(StoreError::InvalidName {
                what: "stack name",
                name: stack.name.clone(),
            }
            .into());
        }
        let json = to_json(stack).map_err(Fault::into_error)?;
        let mut item = Self::record_item(tenant, &format!("stack#{}", stack.name), json, 1);
        // The state Terraform left goes with the record, so the next apply (on any machine)
        // starts from it. Content-addressed: every state ever applied is kept.
        let state = self
            .work_dir(tenant, "stacks", &stack.name)?
            .join("terraform.tfstate");
        if let Ok(bytes) = std::fs::read(&state) {
            let sha = sha256_hex(&bytes);
            let bucket = self.layout.bucket(Bucket::Artifacts);
            let object = state_key(tenant, &stack.name, &sha);
            let (b, k) = (bucket.clone(), object.clone());
            self.write(
                &format!("save the state of stack {}", stack.name),
                self.call(move |c| remote::s3_put_new(c, b, k, bytes)),
            )?;
            item.insert("state_sha".into(), s(sha));
            item.insert("state_uri".into(), s(format!("s3://{bucket}/{object}")));
        }
        self.write(
            &format!("save stack {}", stack.name),
            self.put(Table::Tenants, item, None),
        )
    }

    fn list_stacks(&self, tenant: &str) -> Result<Vec<StackRecord>> {
        self.scope(tenant)?;
        let remote = self
            .query(Table::Tenants, tenant.to_string(), Some("stack#"))
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| from_item::<StackRecord>(i, "stack"))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                self.cache.put_list(tenant, "stacks", &v);
                v
            });
        self.read(&format!("the stacks of tenant {tenant}"), remote, || {
            self.cache.list(tenant, "stacks")
        })
    }

    fn stack_state_dir(&self, tenant: &str, stack: &str) -> Result<PathBuf> {
        self.scope(tenant)?;
        let dir = self.work_dir(tenant, "stacks", stack)?;
        let item = self.write(
            &format!("read the state of stack {stack}"),
            self.get(Table::Tenants, tenant.to_string(), format!("stack#{stack}")),
        )?;
        if let Some(item) = item
            && let Some(sha) = get_s(&item, "state_sha")
        {
            let path = dir.join("terraform.tfstate");
            let local = std::fs::read(&path).ok().map(|b| sha256_hex(&b));
            if local.as_deref() != Some(sha) {
                let bucket = self.layout.bucket(Bucket::Artifacts);
                let (b, k) = (bucket, state_key(tenant, stack, sha));
                let bytes = self.write(
                    &format!("fetch the state of stack {stack}"),
                    self.call(move |c| remote::s3_get(c, b, k)),
                )?;
                if sha256_hex(&bytes) != sha {
                    return Err(StoreError::Corrupt {
                        path: PathBuf::from(get_s(&item, "state_uri").unwrap_or_default()),
                        detail: "the stored Terraform state does not match its digest".into(),
                    }
                    .into());
                }
                super::fsutil::write_atomic(&path, &bytes)?;
            }
        }
        Ok(dir)
    }

    fn price_cache_dir(&self, tenant: &str) -> Result<PathBuf> {
        self.scope(tenant)?;
        self.work_dir(tenant, "cache", "prices")
    }

    fn workspace_dir(&self, tenant: &str, plan_id: &str) -> Result<PathBuf> {
        self.scope(tenant)?;
        self.work_dir(tenant, "workspaces", plan_id)
    }

    fn list_configs(&self, tenant: &str) -> Result<Vec<AwsConfiguration>> {
        self.scope(tenant)?;
        let remote = self
            .query(Table::Tenants, tenant.to_string(), Some("config#"))
            .and_then(|items| {
                items
                    .iter()
                    .map(|i| from_item::<AwsConfiguration>(i, "configuration"))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                self.cache.put_list(tenant, "configs", &v);
                v
            });
        self.read(
            &format!("the configurations of tenant {tenant}"),
            remote,
            || self.cache.list(tenant, "configs"),
        )
    }

    fn get_config(&self, tenant: &str, name: &str) -> Result<Option<AwsConfiguration>> {
        self.scope(tenant)?;
        if validate_config_name(name).is_err() {
            return Ok(None);
        }
        let remote = self
            .get(Table::Tenants, tenant.to_string(), format!("config#{name}"))
            .and_then(|i| {
                i.map(|i| from_item::<AwsConfiguration>(&i, "configuration"))
                    .transpose()
            });
        self.read(&format!("configuration {name}"), remote, || {
            self.cache
                .list::<AwsConfiguration>(tenant, "configs")
                .map(|l| l.into_iter().find(|c| c.name == name))
        })
    }

    fn put_config(&self, config: &AwsConfiguration, create: bool) -> Result<()> {
        self.scope(&config.tenant)?;
        config.validate()?;
        let json = to_json(config).map_err(Fault::into_error)?;
        let item = Self::record_item(&config.tenant, &format!("config#{}", config.name), json, 1);
        let cond = if create {
            Cond::absent()
        } else {
            Cond::present()
        };
        match self.put(Table::Tenants, item, cond) {
            Ok(()) => Ok(()),
            Err(Fault::Condition(_)) if create => Err(StoreError::ConfigExists {
                tenant: config.tenant.clone(),
                name: config.name.clone(),
            }
            .into()),
            Err(Fault::Condition(_)) => Err(StoreError::not_found(
                "configuration",
                &config.name,
                format!("in tenant {}", config.tenant),
            )
            .into()),
            Err(f) => self.write(&format!("save configuration {}", config.name), Err(f)),
        }
    }

    fn delete_config(&self, tenant: &str, name: &str) -> Result<bool> {
        self.scope(tenant)?;
        if validate_config_name(name).is_err() {
            return Ok(false);
        }
        let table = self.table(Table::Tenants);
        let k = key(tenant, format!("config#{name}"));
        self.write(
            &format!("remove configuration {name}"),
            self.call(move |c| remote::delete_item(c, table, k, None)),
        )
        .map(|old| old.is_some())
    }

    fn selected_config(&self, tenant: &str, user: &str) -> Result<Option<String>> {
        self.scope(tenant)?;
        if validate_user(user).is_err() {
            return Ok(None);
        }
        let remote = self
            .get(Table::Tenants, tenant.to_string(), format!("select#{user}"))
            .map(|i| i.and_then(|i| get_s(&i, "config").map(str::to_string)))
            .inspect(|sel| self.cache.put(tenant, "selections", user, sel));
        self.read(
            &format!("the configuration {user} selected"),
            remote,
            || self.cache.get(tenant, "selections", user),
        )
    }

    fn select_config(&self, tenant: &str, user: &str, name: Option<&str>) -> Result<()> {
        self.scope(tenant)?;
        validate_user(user)?;
        let sk = format!("select#{user}");
        match name {
            Some(name) => {
                let mut item = key(tenant, sk);
                item.insert("config".into(), s(name));
                item.insert("selected_at".into(), s(now_iso()));
                self.write(
                    "select a configuration",
                    self.put(Table::Tenants, item, None),
                )?;
            }
            None => {
                let table = self.table(Table::Tenants);
                let k = key(tenant, sk);
                self.write(
                    "clear the selected configuration",
                    self.call(move |c| remote::delete_item(c, table, k, None)),
                )?;
            }
        }
        self.cache
            .put(tenant, "selections", user, &name.map(str::to_string));
        Ok(())
    }

    fn health(&self) -> BackendHealth {
        self.link.health()
    }

    fn sync(&self, signer: &Signer) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        // A probe first: it also brings a backend believed down back into use.
        let table = self.table(Table::AuditRuns);
        let probe = self.call_now(move |c| async move {
            c.ddb
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| fault::classify("DynamoDB", "DescribeTable", &e))
        });
        let tenants: Vec<String> = match &self.confined {
            Some(t) => vec![t.clone()],
            None => self.journal.tenants(),
        };
        match probe {
            Err(f) if f.is_transient() => {
                self.refresh_counts();
                report.remaining = self.link.health().queued;
                return Ok(report);
            }
            Err(f) => return Err(f.into_error().into()),
            Ok(()) => {}
        }
        for t in tenants {
            let guard = self.journal.lock(&t)?;
            if !guard.is_empty() {
                self.flush(&t, &guard, signer, &mut report)?;
            }
        }
        self.refresh_counts();
        Ok(report)
    }
}

impl AwsStore {
    /// The plan item (versioned) and its cost-tracking item, for one transaction.
    fn plan_items(
        &self,
        rec: &PlanRecord,
        expected_version: Option<u64>,
    ) -> std::result::Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, Fault> {
        let tenant = &rec.plan.tenant;
        let id = &rec.plan.plan_id;
        let version = expected_version.map_or(1, |v| v + 1);
        let mut plan = Self::record_item(tenant, id, to_json(rec)?, version);
        plan.insert("state".into(), s(rec.state.as_str()));
        plan.insert("requester".into(), s(&rec.plan.requester));
        plan.insert("created_at".into(), s(rec.plan.created_at.to_string()));
        plan.insert("updated_at".into(), s(rec.updated_at.to_string()));
        let mut cost = key(tenant, id);
        cost.insert(
            "monthly_usd".into(),
            n(format!("{:.4}", rec.plan.cost.monthly_usd)),
        );
        cost.insert("state".into(), s(rec.state.as_str()));
        cost.insert("agent".into(), s(rec.plan.agent.to_string()));
        cost.insert("requester".into(), s(&rec.plan.requester));
        cost.insert("created_at".into(), s(rec.plan.created_at.to_string()));
        cost.insert("updated_at".into(), s(rec.updated_at.to_string()));
        if let Some(stack) = &rec.plan.stack {
            cost.insert("stack".into(), s(stack));
        }
        if let Some(region) = &rec.plan.region {
            cost.insert("region".into(), s(region));
        }
        let cond = match expected_version {
            None => Cond::absent(),
            Some(v) => Cond::version(v),
        };
        Ok(vec![
            remote::tx_put(&self.table(Table::Approvals), plan, cond)?,
            remote::tx_put(&self.table(Table::CostTracking), cost, None)?,
        ])
    }
}
