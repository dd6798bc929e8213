//! Where state lives. [`Store`] is the contract every backend meets: the embedded local store
//! (default, no AWS) and the shared DynamoDB + S3 backend. Calls block; front ends make them off
//! their UI thread.
//!
//! Guarantees every backend keeps: audit appends are atomic per batch and keep one valid chain
//! per tenant under concurrent writers; plan updates are atomic read-modify-write; artifacts are
//! content-addressed and never overwritten; nothing crosses tenants.

pub mod aws;
pub mod cache;
pub mod error;
pub mod fsutil;
pub mod journal;
pub mod local;
pub mod migrate;
pub mod runqueue;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::approval::PlanRecord;
use crate::audit::witness::RemoteWitness;
use crate::audit::{Anchors, AuditEvent, AuditRecord, Signer, VerifyReport};
use crate::error::Result;
use crate::plan::{ArtifactKind, ArtifactRef};
use crate::tenant::{ApiToken, AwsConfiguration, Tenant, User};
use crate::time::Stamp;

pub use aws::AwsStore;
pub use error::StoreError;
pub use local::LocalStore;
pub use runqueue::{RunClaim, RunLogEntry, RunLogKind};

/// Whether the backend is reachable and what waits to be written, for status lines. Reading it
/// never does I/O.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BackendHealth {
    pub reachable: bool,
    /// When it became unreachable, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Stamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Audit events (and artifacts) written to the local journal, waiting to be flushed.
    pub queued: usize,
    /// Journal entries the backend refused for good, set aside (see `opsdeck backend check`).
    pub dead_letters: usize,
}

impl BackendHealth {
    pub fn up() -> BackendHealth {
        BackendHealth {
            reachable: true,
            ..BackendHealth::default()
        }
    }
}

/// What a flush of the local journal did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Audit events written to the backend.
    pub events: usize,
    /// Events the backend already had (a flush interrupted after it committed).
    pub already_there: usize,
    pub artifacts: usize,
    /// Run outcomes recorded on their plans.
    #[serde(default)]
    pub outcomes: usize,
    /// Entries still queued (the backend is still unreachable).
    pub remaining: usize,
    pub dead_letters: usize,
}

/// A Terraform stack: a named set of resources with its own state, changed by successive plans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackRecord {
    pub name: String,
    pub tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Plan whose configuration is currently applied.
    pub last_applied_plan: String,
    /// The applied configuration, so a later destroy runs against exactly that.
    pub artifacts: Vec<ArtifactRef>,
    pub status: StackStatus,
    pub updated_at: Stamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StackStatus {
    Active,
    Destroyed,
}

/// How often a holder renews its stack lock's heartbeat while it holds it.
pub const LOCK_HEARTBEAT_SECS: u64 = 30;
/// A stack lock whose last heartbeat is older than this is stale: its holder is gone (crashed,
/// killed, its machine lost), and the next plan or apply takes it over, audited with whose lock
/// it was. Ten missed heartbeats: a holder that is merely slow never loses its lock.
pub const LOCK_STALE_AFTER_SECS: i64 = 300;

/// Who holds a stack while a plan's dry run or an apply runs on it. One holder at a time; a
/// second apply fails naming this holder. The holder renews `heartbeat_at` every
/// [`LOCK_HEARTBEAT_SECS`]; a lock not renewed for [`LOCK_STALE_AFTER_SECS`] is stale and is
/// taken over by the next holder (audited). `opsdeck stacks unlock NAME --force --reason ...`
/// (audited) breaks one sooner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackLock {
    pub tenant: String,
    pub stack: String,
    /// Random id of this acquisition: only the holder that took it releases it.
    pub lock_id: String,
    /// `plan` (dry run while planning) or `apply`.
    pub operation: String,
    pub plan_id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: Stamp,
    /// Last renewal by the holder; absent in locks written before heartbeats (then
    /// `acquired_at` counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<Stamp>,
}

/// A plan id, stack or policy name as both backends accept it: 1 to 64 ASCII letters, digits, `-`
/// or `_` (it becomes a file name or a key, so nothing else may pass).
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An artifact name: a lowercase hex SHA-256.
pub(crate) fn valid_sha(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl StackLock {
    /// "apply of plan p-x by bob on host h (pid 12) since 2026-…, last heartbeat 2026-…".
    pub fn describe(&self) -> String {
        format!(
            "{} of plan {} by {} on host {} (pid {}) since {}, last heartbeat {}",
            self.operation,
            self.plan_id,
            self.user,
            self.host,
            self.pid,
            self.acquired_at,
            self.last_heartbeat()
        )
    }

    /// When the holder last showed it was alive.
    pub fn last_heartbeat(&self) -> &Stamp {
        self.heartbeat_at.as_ref().unwrap_or(&self.acquired_at)
    }

    /// Whether the holder has missed its heartbeats long enough to count as gone at `now_unix`.
    pub fn is_stale(&self, now_unix: i64) -> bool {
        now_unix - self.last_heartbeat().as_second() > LOCK_STALE_AFTER_SECS
    }
}

/// What a reader of stored audit lines answers for each: the line's sequence number and
/// whether to go on, or why the line cannot be read.
pub type LineReader<'f> =
    dyn FnMut(&[u8]) -> std::result::Result<(u64, bool), crate::audit::AuditError> + 'f;

pub trait Store: Send + Sync {
    /// `local` or `aws`.
    fn backend(&self) -> &'static str;
    /// Where the data is, for status lines and error messages.
    fn location(&self) -> String;

    fn list_tenants(&self) -> Result<Vec<Tenant>>;
    fn get_tenant(&self, name: &str) -> Result<Option<Tenant>>;
    fn put_tenant(&self, tenant: &Tenant) -> Result<()>;

    fn list_users(&self, tenant: &str) -> Result<Vec<User>>;
    fn get_user(&self, tenant: &str, name: &str) -> Result<Option<User>>;
    /// Registers a user; fails if the name is taken.
    fn create_user(&self, tenant: &str, user: &User) -> Result<()>;
    /// Atomic read-modify-write of a user (TOTP replay protection depends on it). Saved only
    /// when `f` succeeds.
    fn update_user(
        &self,
        tenant: &str,
        name: &str,
        f: &mut dyn FnMut(&mut User) -> Result<()>,
    ) -> Result<User>;

    /// The tenant's own Rego files (name, source), evaluated with the starter set.
    fn tenant_policies(&self, tenant: &str) -> Result<Vec<(String, String)>>;
    fn put_tenant_policy(&self, tenant: &str, name: &str, source: &str) -> Result<()>;
    fn delete_tenant_policy(&self, tenant: &str, name: &str) -> Result<bool>;

    /// Appends `events` in order as one atomic batch, sealing each onto the tenant's chain.
    fn append_audit(
        &self,
        tenant: &str,
        events: &[AuditEvent],
        signer: &Signer,
    ) -> Result<Vec<AuditRecord>>;
    fn audit_records(&self, tenant: &str) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        self.scan_audit(tenant, &mut |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }
    /// Streams the tenant's events oldest first, one in memory at a time; `f` returns false to
    /// stop early. What browsers of large trails use.
    fn scan_audit(&self, tenant: &str, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()>;
    /// The tenant's records after `seq`, oldest first: what an incremental reader (the
    /// knowledge index, a SIEM export's cursor) has not seen yet. The shared backend asks
    /// DynamoDB for those records only.
    fn scan_audit_after(
        &self,
        tenant: &str,
        seq: u64,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.scan_audit(tenant, &mut |r| r.seq <= seq || f(r))
    }
    /// The tenant's stored lines after `seq`, oldest first, each handed to `f` as stored: for
    /// readers that parse only the fields they need (the reports). `f` answers the line's
    /// sequence number and whether to go on, or why the line cannot be read (a torn last line
    /// is skipped as the record scans skip it; any other is damage).
    fn scan_audit_lines_after(&self, tenant: &str, seq: u64, f: &mut LineReader<'_>) -> Result<()> {
        let mut failed = None;
        self.scan_audit_after(tenant, seq, &mut |r| {
            let line = match serde_json::to_vec(&r) {
                Ok(l) => l,
                Err(e) => {
                    failed = Some(e.to_string());
                    return false;
                }
            };
            match f(&line) {
                Ok((_, go_on)) => go_on,
                Err(e) => {
                    failed = Some(format!("record {}: {e}", r.seq));
                    false
                }
            }
        })?;
        match failed {
            Some(detail) => Err(StoreError::Corrupt {
                path: format!("audit trail of tenant {tenant}").into(),
                detail,
            }
            .into()),
            None => Ok(()),
        }
    }
    /// Verifies the tenant's chain; `full` checks every signature, not only checkpoints.
    fn verify_audit(&self, tenant: &str, full: bool) -> Result<VerifyReport> {
        self.verify_audit_anchored(tenant, full, &Anchors::default())
    }
    /// The same, and the chain against checkpoints and pinned keys (`audit verify`).
    fn verify_audit_anchored(
        &self,
        tenant: &str,
        full: bool,
        anchors: &Anchors<'_>,
    ) -> Result<VerifyReport>;
    /// The witness this backend keeps outside its writers' reach, if it has one.
    fn remote_witness(&self) -> Option<&dyn RemoteWitness> {
        None
    }

    /// Stores bytes under their SHA-256 (idempotent) and returns the hex digest.
    fn put_artifact(&self, tenant: &str, bytes: &[u8]) -> Result<String>;
    /// The same, saying what the bytes are: the shared backend keeps execution logs in its
    /// audit-logs bucket (Object Lock) and reports in its reports bucket.
    fn put_artifact_as(&self, tenant: &str, kind: ArtifactKind, bytes: &[u8]) -> Result<String> {
        let _ = kind;
        self.put_artifact(tenant, bytes)
    }
    /// Reads an artifact back, checking that its bytes still hash to its name.
    fn get_artifact(&self, tenant: &str, sha256: &str) -> Result<Vec<u8>>;
    fn artifact_uri(&self, tenant: &str, sha256: &str) -> String;

    /// Creates a plan; fails if the id exists.
    fn create_plan(&self, rec: &PlanRecord) -> Result<()>;
    fn get_plan(&self, tenant: &str, id: &str) -> Result<PlanRecord>;
    fn list_plans(&self, tenant: &str) -> Result<Vec<PlanRecord>>;
    /// Atomic read-modify-write. The record is saved if `f` changed it, even when `f` returns
    /// an error (an expiry noticed while refusing is kept), and `f`'s error is then returned.
    fn update_plan(
        &self,
        tenant: &str,
        id: &str,
        f: &mut dyn FnMut(&mut PlanRecord) -> Result<()>,
    ) -> Result<PlanRecord>;

    fn get_stack(&self, tenant: &str, name: &str) -> Result<Option<StackRecord>>;
    fn put_stack(&self, stack: &StackRecord) -> Result<()>;
    fn list_stacks(&self, tenant: &str) -> Result<Vec<StackRecord>>;

    /// Takes `lock` on its stack if nobody holds it: `Ok(None)` when taken, `Ok(Some(holder))`
    /// when someone else holds it (nothing is changed then). Atomic across processes (local:
    /// the lock file is linked into place, O_EXCL-like; DynamoDB: a conditional put on
    /// `attribute_not_exists`). A stale holder is returned like any other: the caller decides.
    fn try_lock_stack(&self, lock: &StackLock) -> Result<Option<StackLock>>;
    /// Releases the lock if `lock_id` still holds it; returns whether it did. A lock broken and
    /// taken by someone else in the meantime is left alone.
    fn unlock_stack(&self, tenant: &str, stack: &str, lock_id: &str) -> Result<bool>;
    /// The current holder, if any.
    fn stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>>;
    /// Every stack lock of the tenant, by stack name: also locks of stacks never applied (a
    /// first dry run) that have no stack record.
    fn list_stack_locks(&self, tenant: &str) -> Result<Vec<StackLock>>;
    /// Renews the holder's heartbeat (`lock.heartbeat_at`) if `lock.lock_id` still holds the
    /// stack; returns whether it did.
    fn renew_stack_lock(&self, lock: &StackLock) -> Result<bool>;
    /// Replaces `stale` by `lock`, atomically, only if `stale` (same id, same heartbeat) still
    /// holds the stack: of two processes taking over one stale lock, one wins. Only the audited
    /// takeover in `Deck::lock_stack` calls this, after checking `stale.is_stale`.
    fn take_over_stack_lock(&self, stale: &StackLock, lock: &StackLock) -> Result<bool>;
    /// Removes the lock whoever holds it and returns what was removed. Only the audited
    /// `Deck::break_stack_lock` calls this.
    fn break_stack_lock(&self, tenant: &str, stack: &str) -> Result<Option<StackLock>>;

    /// Claims a plan for a runner if nobody has: `Ok(None)` when taken, `Ok(Some(holder))` when
    /// another claim exists (nothing changed). Atomic across processes and machines (local: the
    /// claim file linked into place; DynamoDB: a put conditional on `attribute_not_exists`).
    fn try_claim_run(&self, claim: &RunClaim) -> Result<Option<RunClaim>>;
    /// The plan's current claim, if any.
    fn run_claim(&self, tenant: &str, plan_id: &str) -> Result<Option<RunClaim>>;
    /// Every claim of the tenant.
    fn list_run_claims(&self, tenant: &str) -> Result<Vec<RunClaim>>;
    /// Renews the heartbeat if `claim.claim_id` still holds the plan; false once it lost it.
    fn renew_run_claim(&self, claim: &RunClaim) -> Result<bool>;
    /// Replaces `stale` by `claim` only if `stale` (same id, same heartbeat) still holds the plan:
    /// of two runners taking over one stale claim, one wins.
    fn take_over_run_claim(&self, stale: &RunClaim, claim: &RunClaim) -> Result<bool>;
    /// Removes the claim if `claim_id` still holds it.
    fn release_run_claim(&self, tenant: &str, plan_id: &str, claim_id: &str) -> Result<bool>;
    /// Appends entries to a plan's run log; an entry whose `seq` is taken is refused (a
    /// conflict), never overwritten.
    fn append_run_log(&self, tenant: &str, plan_id: &str, entries: &[RunLogEntry]) -> Result<()>;
    /// The plan's run log entries with `seq > after`, in order.
    fn run_log(&self, tenant: &str, plan_id: &str, after: u64) -> Result<Vec<RunLogEntry>>;

    /// Local directory holding a stack's Terraform state.
    fn stack_state_dir(&self, tenant: &str, stack: &str) -> Result<PathBuf>;
    /// Scratch directory in which a plan is executed.
    fn workspace_dir(&self, tenant: &str, plan_id: &str) -> Result<PathBuf>;
    /// Where this machine caches the AWS Price List API prices it fetched for the tenant.
    fn price_cache_dir(&self, tenant: &str) -> Result<PathBuf>;

    /// The tenant's AWS configurations, by name.
    fn list_configs(&self, tenant: &str) -> Result<Vec<AwsConfiguration>>;
    fn get_config(&self, tenant: &str, name: &str) -> Result<Option<AwsConfiguration>>;
    /// Creates (`create`: fails if the name is taken) or replaces (fails if it does not exist).
    fn put_config(&self, config: &AwsConfiguration, create: bool) -> Result<()>;
    fn delete_config(&self, tenant: &str, name: &str) -> Result<bool>;
    /// The configuration a user acts through in a tenant.
    fn selected_config(&self, tenant: &str, user: &str) -> Result<Option<String>>;
    fn select_config(&self, tenant: &str, user: &str, name: Option<&str>) -> Result<()>;

    /// Bearer tokens of `opsdeck mcp --listen` (hashes only), revoked ones included, by id.
    fn list_tokens(&self, tenant: &str) -> Result<Vec<ApiToken>>;
    /// A token's record, read from the backend itself: never from a copy that may predate its
    /// revocation.
    fn get_token(&self, tenant: &str, id: &str) -> Result<Option<ApiToken>>;
    /// Creates (`create`: fails if the id is taken) or replaces (fails if it does not exist).
    fn put_token(&self, token: &ApiToken, create: bool) -> Result<()>;

    /// Keeps a run's outcome in the local journal when the backend cannot take the plan's
    /// final state now; flushed onto the plan when it returns. Backends without a journal
    /// (the local store has no outage) refuse.
    fn journal_outcome(&self, outcome: &journal::RunOutcome) -> Result<()> {
        Err(crate::error::Error::Unavailable(format!(
            "the {} store keeps no journal for the outcome of plan {}",
            self.backend(),
            outcome.plan_id
        )))
    }

    /// The caller's proven principal (an IAM ARN from STS GetCallerIdentity) and whether it is
    /// this machine's last proven one because STS is unreachable; None where the store proves
    /// nothing (the local store: the OS account is the principal).
    fn caller_principal(&self) -> Result<Option<(String, bool)>> {
        Ok(None)
    }

    fn health(&self) -> BackendHealth {
        BackendHealth::up()
    }
    /// Probes the backend and flushes what the local journal holds, in order.
    fn sync(&self, signer: &Signer) -> Result<SyncReport> {
        let _ = signer;
        Ok(SyncReport::default())
    }
}
