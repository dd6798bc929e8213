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
//! Reaching the backend: `link.rs` (up or down, backoff) and `calls.rs` (clients, fallbacks to
//! the cache, versioned records, artifacts, the journal's flush, locks).
//!
//! Kept whole: what is left here is the `Store` trait's implementation for the backend, one
//! `impl` block of short methods (about 800 lines), each calling `calls.rs` and `remote.rs`;
//! splitting it would scatter one contract over several files.

pub mod audit;
mod calls;
pub mod fault;
pub mod layout;
mod link;
mod principal;
mod runs;
pub mod sealed;
use link::{Link, backoff};
pub mod provision;
pub mod remote;
mod retention;
mod retention_objects;
mod tokens;
mod witness;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use self::fault::Fault;
use self::layout::{Bucket, Layout, TENANT_SK, Table, object_key, state_key};
use self::remote::{Clients, Cond, Item, get_n, get_s, key, s};
use super::StoreError;
use super::cache::Cache;
use super::fsutil::ensure_private_dir;
use super::journal::{Entry, Journal};
use super::{BackendHealth, StackLock, StackRecord, Store, SyncReport, valid_id, valid_sha};
use crate::approval::PlanRecord;
use crate::audit::{AuditEvent, AuditRecord, Signer, VerifyReport};
use crate::aws::{AssumeRole, AwsAccess};
use crate::config::AwsBackendConfig;
use crate::error::Result;
use crate::plan::{ArtifactKind, sha256_hex};
use crate::tenant::configs::validate_config_name;
use crate::tenant::{ApiToken, AwsConfiguration, Tenant, User, validate_user};
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
    /// Tenants whose TOTP key this process has made sure of.
    keyed_tenants: Mutex<HashSet<String>>,
    /// Artifacts known to be stored, and in which bucket.
    known_artifacts: Mutex<HashMap<(String, String), String>>,
    /// Buckets of artifacts queued in the journal (for their URIs).
    queued_buckets: Mutex<HashMap<(String, String), String>>,
    /// Tenants' retention settings as last read for a write, and when (`retention.rs`).
    retention_read: Mutex<HashMap<String, (std::time::Instant, crate::tenant::Retention)>>,
}

/// Now, as the backend's bookkeeping attributes store it (the system clock: a deck's clock
/// does not reach the store).
fn now_iso() -> String {
    Stamp::now().to_string()
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
        // Temporary files of atomic writes (journal, cache) a crash left; see fsutil.
        super::fsutil::sweep_stale_tmp(&root, &["workspaces", ".terraform"]);
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
            keyed_tenants: Mutex::new(HashSet::new()),
            known_artifacts: Mutex::new(HashMap::new()),
            queued_buckets: Mutex::new(HashMap::new()),
            retention_read: Mutex::new(HashMap::new()),
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
        // Every tenant has its TOTP key from the start (made sure of once per process). A
        // role confined to its tenant may not describe keys: sealing makes a missing key then.
        if self
            .keyed_tenants
            .lock()
            .unwrap()
            .insert(tenant.name.clone())
        {
            match self.totp_key(&tenant.name, true) {
                Ok(_) => {}
                Err(Fault::Denied(detail)) => {
                    tracing::warn!(tenant = %tenant.name, %detail, "cannot check the tenant's TOTP key");
                }
                Err(f) => {
                    self.keyed_tenants.lock().unwrap().remove(&tenant.name);
                    return self.write(
                        &format!("create the TOTP key of tenant {}", tenant.name),
                        Err(f),
                    );
                }
            }
        }
        self.cache.put(&tenant.name, "tenant", "tenant", tenant);
        Ok(())
    }

    fn list_users(&self, tenant: &str) -> Result<Vec<User>> {
        self.scope(tenant)?;
        let remote = self
            .query_records::<User>(Table::Tenants, tenant.to_string(), "user#", "user")
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
        let item = match self.user_item_sealed(tenant, user) {
            Ok(item) => item,
            Err(f) => return self.write(&format!("register user {}", user.name), Err(f)),
        };
        match self.put(Table::Tenants, item, Cond::absent()) {
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
        self.update_user_sealed(tenant, name, f)?.ok_or_else(|| {
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

    fn scan_audit_after(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scope(tenant)?;
        self.scan_audit_after_remote(tenant, seq, f)
    }

    fn scan_audit_lines_after(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut super::LineReader<'_>,
    ) -> Result<()> {
        self.scope(tenant)?;
        self.scan_lines_after_remote(tenant, seq, f)
    }

    fn verify_audit_anchored(
        &self,
        tenant: &str,
        full: bool,
        anchors: &crate::audit::Anchors<'_>,
    ) -> Result<VerifyReport> {
        self.scope(tenant)?;
        self.verify_remote(tenant, full, anchors)
    }

    fn remote_witness(&self) -> Option<&dyn crate::audit::witness::RemoteWitness> {
        Some(self)
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
        // Not a DynamoDB TTL: a stale lock is taken over by the pipeline, audited, never
        // silently dropped.
        let cond = || Cond {
            expr: "attribute_not_exists(pk)".into(),
            names: Vec::new(),
            values: Vec::new(),
        };
        // A holder that lets go between our refused put and our read of it: try again.
        for _ in 0..3 {
            if self.put_stack_lock(lock, cond(), "take")? {
                return Ok(None);
            }
            if let Some(holder) = self.stack_lock(&lock.tenant, &lock.stack)? {
                return Ok(Some(holder));
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

    fn list_stack_locks(&self, tenant: &str) -> Result<Vec<StackLock>> {
        self.scope(tenant)?;
        let items = self.write(
            "list the stack locks",
            self.query(Table::Locks, tenant.to_string(), Some("stack#")),
        )?;
        let mut out = items
            .iter()
            .map(|i| from_item::<StackLock>(i, "stack lock").map_err(Fault::into_error))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.stack.cmp(&b.stack));
        Ok(out)
    }

    fn renew_stack_lock(&self, lock: &StackLock) -> Result<bool> {
        self.scope(&lock.tenant)?;
        let cond = Cond {
            expr: "#o = :me".into(),
            names: vec![("#o".into(), "owner".into())],
            values: vec![(":me".into(), s(&lock.lock_id))],
        };
        self.put_stack_lock(lock, cond, "renew")
    }

    fn take_over_stack_lock(&self, stale: &StackLock, lock: &StackLock) -> Result<bool> {
        self.scope(&lock.tenant)?;
        // Still the stale holder, not renewed since it was judged stale (locks written before
        // heartbeats have only `acquired_at`).
        let cond = Cond {
            expr: "#o = :old AND (#h = :hb OR (attribute_not_exists(#h) AND acquired_at = :hb))"
                .into(),
            names: vec![
                ("#o".into(), "owner".into()),
                ("#h".into(), "heartbeat_at".into()),
            ],
            values: vec![
                (":old".into(), s(&stale.lock_id)),
                (":hb".into(), s(stale.last_heartbeat().to_string())),
            ],
        };
        self.put_stack_lock(lock, cond, "take over")
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
                // State is not an artifact that expires: the next apply starts from it.
                self.call(move |c| {
                    remote::s3_put_new(c, b, k, bytes, retention::ObjectRetention::default())
                }),
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
            .query_records::<StackRecord>(Table::Tenants, tenant.to_string(), "stack#", "stack")
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                self.cache.put_list(tenant, "stacks", &v);
                v
            });
        self.read(&format!("the stacks of tenant {tenant}"), remote, || {
            self.cache.list(tenant, "stacks")
        })
    }

    fn try_claim_run(
        &self,
        claim: &crate::store::RunClaim,
    ) -> Result<Option<crate::store::RunClaim>> {
        self.claim_run(claim)
    }

    fn run_claim(&self, tenant: &str, plan_id: &str) -> Result<Option<crate::store::RunClaim>> {
        self.read_claim(tenant, plan_id)
    }

    fn list_run_claims(&self, tenant: &str) -> Result<Vec<crate::store::RunClaim>> {
        self.claims(tenant)
    }

    fn renew_run_claim(&self, claim: &crate::store::RunClaim) -> Result<bool> {
        self.renew_claim(claim)
    }

    fn take_over_run_claim(
        &self,
        stale: &crate::store::RunClaim,
        claim: &crate::store::RunClaim,
    ) -> Result<bool> {
        self.take_over_claim(stale, claim)
    }

    fn release_run_claim(&self, tenant: &str, plan_id: &str, claim_id: &str) -> Result<bool> {
        self.release_claim(tenant, plan_id, claim_id)
    }

    fn append_run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        entries: &[crate::store::RunLogEntry],
    ) -> Result<()> {
        self.write_run_log(tenant, plan_id, entries)
    }

    fn run_log(
        &self,
        tenant: &str,
        plan_id: &str,
        after: u64,
    ) -> Result<Vec<crate::store::RunLogEntry>> {
        self.read_run_log(tenant, plan_id, after)
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
            .query_records::<AwsConfiguration>(
                Table::Tenants,
                tenant.to_string(),
                "config#",
                "configuration",
            )
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

    fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>> {
        self.tokens_of(tenant)
    }

    fn get_token(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>> {
        self.token(tenant, id)
    }

    fn put_token(&self, token: &ApiToken, create: bool) -> Result<()> {
        self.save_token(token, create)
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

    fn journal_outcome(&self, outcome: &super::journal::RunOutcome) -> Result<()> {
        self.scope(&outcome.tenant)?;
        let guard = self.journal.lock(&outcome.tenant)?;
        guard.push(&Entry::Outcome {
            outcome: outcome.clone(),
            queued_at: Stamp::now(),
        })?;
        self.link.add_queued(1);
        Ok(())
    }

    fn caller_principal(&self) -> Result<Option<(String, bool)>> {
        self.prove_caller().map(Some)
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
