//! How the store talks to DynamoDB and S3: clients and calls on its runtime, reads that fall
//! back to the local cache, writes that refuse when the backend is away, versioned records,
//! artifacts, the journal's flush, stack locks and work directories.

use super::fault::Fault;
use super::layout::{Bucket, Table, object_key};
use super::remote::{Clients, Cond, Item, get_n, get_s, key, n, s};
use super::*;
use crate::approval::PlanRecord;
use crate::audit::Signer;
use crate::error::Result;
use crate::plan::{ArtifactKind, sha256_hex};
use crate::store::StoreError;
use crate::store::SyncReport;
use crate::store::fsutil::ensure_private_dir;
use crate::store::journal::Entry;
use crate::tenant::validate_name;
use std::path::PathBuf;
use std::time::Duration;

impl AwsStore {
    pub(super) fn table(&self, t: Table) -> String {
        self.layout.table(t)
    }

    pub(super) fn clients(&self) -> std::result::Result<Clients, Fault> {
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
                let kms = aws_sdk_kms::Client::new(&conf);
                Clients { ddb, s3, kms }
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
    pub(super) fn call<T, Fut>(
        &self,
        op: impl FnOnce(Clients) -> Fut,
    ) -> std::result::Result<T, Fault>
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
    pub(super) fn call_now<T, Fut>(
        &self,
        op: impl FnOnce(Clients) -> Fut,
    ) -> std::result::Result<T, Fault>
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
    pub(super) fn scope(&self, tenant: &str) -> Result<()> {
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
    pub(super) fn read<T>(
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
    pub(super) fn write<T>(&self, what: &str, remote: std::result::Result<T, Fault>) -> Result<T> {
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

    pub(super) fn get(
        &self,
        t: Table,
        pk: String,
        sk: String,
    ) -> std::result::Result<Option<Item>, Fault> {
        let table = self.table(t);
        self.call(move |c| remote::get_item(c, table, key(pk, sk)))
    }

    pub(super) fn put(
        &self,
        t: Table,
        item: Item,
        cond: Option<Cond>,
    ) -> std::result::Result<(), Fault> {
        let table = self.table(t);
        self.call(move |c| remote::put_item(c, table, item, cond))
    }

    pub(super) fn query(
        &self,
        t: Table,
        pk: String,
        prefix: Option<&str>,
    ) -> std::result::Result<Vec<Item>, Fault> {
        let table = self.table(t);
        let prefix = prefix.map(str::to_string);
        self.call(move |c| remote::query_all(c, table, pk, prefix))
    }

    /// The records under `pk` whose sort key starts with `prefix`, read back as `T` (`what`
    /// names them when one cannot be read).
    pub(super) fn query_records<T: serde::de::DeserializeOwned>(
        &self,
        t: Table,
        pk: String,
        prefix: &str,
        what: &str,
    ) -> std::result::Result<Vec<T>, Fault> {
        self.query(t, pk, Some(prefix))?
            .iter()
            .map(|i| super::from_item(i, what))
            .collect()
    }

    /// A record item of the tenants table: `{pk, sk, rec, version}`.
    pub(super) fn record_item(tenant: &str, sk: &str, rec: String, version: u64) -> Item {
        let mut item = key(tenant, sk);
        item.insert("rec".into(), s(rec));
        item.insert("version".into(), n(version));
        item
    }

    // ------------------------------------------------------------------ artifacts

    /// Uploads bytes (if not there yet) and records where they are.
    pub(super) fn put_artifact_remote(
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
            // Bytes the tenant's lifecycle rule may have expired are written again (the
            // conditional put is a no-op while they are still there).
            if !self.may_have_expired(tenant, &bucket, get_s(&item, "created_at")) {
                self.known_artifacts.lock().unwrap().insert(known, bucket);
                return Ok(());
            }
        }
        let bucket = self.layout.bucket(Bucket::for_kind(kind));
        let object = object_key(tenant, sha);
        let (b, k, body) = (bucket.clone(), object.clone(), bytes.to_vec());
        let keep = self.object_retention(tenant, Bucket::for_kind(kind));
        self.call(move |c| remote::s3_put_new(c, b, k, body, keep))?;
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
    pub(super) fn flush(
        &self,
        tenant: &str,
        guard: &crate::store::journal::Guard<'_>,
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
                Entry::Outcome { outcome, .. } => self
                    .update_plan(tenant, &outcome.plan_id, &mut |r| {
                        outcome.record(r);
                        Ok(())
                    })
                    .map(|_| report.outcomes += 1)
                    .map_err(|e| match e.kind() {
                        crate::error::Kind::Unavailable => Fault::Transient(e.to_string()),
                        _ => Fault::Fatal(e.to_string()),
                    }),
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

    pub(super) fn refresh_counts(&self) {
        let (q, d) = self.journal.counts();
        self.link.set_counts(q, d);
    }

    // ------------------------------------------------------------------ locks

    /// Writes `lock` as its stack's lock item if `cond` holds; false if it did not.
    pub(super) fn put_stack_lock(&self, lock: &StackLock, cond: Cond, what: &str) -> Result<bool> {
        let name = format!("stack#{}", lock.stack);
        let json = to_json(lock).map_err(Fault::into_error)?;
        let mut item = key(&lock.tenant, &name);
        item.insert("owner".into(), s(&lock.lock_id));
        item.insert("rec".into(), s(json));
        item.insert("acquired_at".into(), s(lock.acquired_at.to_string()));
        item.insert("heartbeat_at".into(), s(lock.last_heartbeat().to_string()));
        match self.put(Table::Locks, item, Some(cond)) {
            Ok(()) => Ok(true),
            Err(Fault::Condition(_)) => Ok(false),
            Err(f) => self.write(&format!("{what} the lock of stack {}", lock.stack), Err(f)),
        }
    }

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

    pub(super) fn work_dir(&self, tenant: &str, sub: &str, name: &str) -> Result<PathBuf> {
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

impl AwsStore {
    /// The plan item (versioned) and its cost-tracking item, for one transaction.
    pub(super) fn plan_items(
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
