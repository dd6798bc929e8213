//! Infrastructure and configuration as code inside the pipeline: the dry runs made while
//! planning (`terraform plan -out` + `show -json`, `ansible-playbook --syntax-check` and
//! `--check --diff`), stack locks, the state-version check before apply, the Terraform and
//! Ansible step runners, and breaking a stale lock (audited).
//!
//! What an approval binds to, per step (also in docs/iac.md):
//! - Terraform planned: the configuration files, the saved plan (its bytes are an artifact, so
//!   its hash is in the plan hash) and the state version it was made against.
//! - Terraform unavailable while planning (no binary, providers not installable, stack locked):
//!   the configuration files and the state version; Terraform plans again right before apply.
//! - Ansible: the playbook and the inventory (exactly these hosts), or for a hybrid plan the
//!   rule that takes the hosts from the Terraform step's outputs.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::runs::hostname;
use super::{Deck, RequestOptions, Submission};
use crate::approval::PlanRecord;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::exec::terraform::{self, StateBackend};
use crate::exec::{self};
use crate::plan::{ArtifactKind, DryRun, StateVersion, StepKind};
use crate::redact::redact;
use crate::store::{StackLock, Store};
use crate::tenant::{Role, mfa};

mod dry_runs;
mod steps;
mod submission;
pub(crate) use submission::{submission, with_inventory};

/// A stack lock held by this process: its heartbeat is renewed every
/// [`crate::store::LOCK_HEARTBEAT_SECS`] by a thread of its own while held; released when
/// dropped.
pub(crate) struct StackLockGuard<'a> {
    store: std::sync::Arc<dyn Store>,
    lock: StackLock,
    /// Dropping the sender stops the heartbeat thread.
    stop: Option<std::sync::mpsc::Sender<()>>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
    _deck: std::marker::PhantomData<&'a Deck>,
}

impl StackLockGuard<'_> {
    fn hold(
        store: std::sync::Arc<dyn Store>,
        clock: std::sync::Arc<dyn crate::time::Clock>,
        lock: StackLock,
    ) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let beating = (store.clone(), lock.clone());
        let heartbeat = std::thread::Builder::new()
            .name(format!("lock-{}", lock.stack))
            .spawn(move || {
                let (store, mut lock) = beating;
                let every = std::time::Duration::from_secs(crate::store::LOCK_HEARTBEAT_SECS);
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    lock.heartbeat_at = Some(clock.stamp());
                    match store.renew_stack_lock(&lock) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::error!(stack = %lock.stack, "the stack lock was broken or taken over while held");
                            return;
                        }
                        // An outage: the next beat tries again.
                        Err(e) => {
                            tracing::warn!(stack = %lock.stack, error = %e, "renewing the stack lock failed")
                        }
                    }
                }
            })
            .ok();
        StackLockGuard {
            store,
            lock,
            stop: Some(stop),
            heartbeat,
            _deck: std::marker::PhantomData,
        }
    }
}

impl Drop for StackLockGuard<'_> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
        if let Err(e) =
            self.store
                .unlock_stack(&self.lock.tenant, &self.lock.stack, &self.lock.lock_id)
        {
            tracing::warn!(stack = %self.lock.stack, error = %e, "releasing the stack lock failed");
        }
    }
}

/// A stack with its record (once applied) and its lock (while a plan or apply runs on it, or
/// left by one that died), as `opsdeck stacks` lists them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackEntry {
    pub name: String,
    pub record: Option<crate::store::StackRecord>,
    pub lock: Option<StackLock>,
    /// The lock's holder missed its heartbeats for longer than
    /// [`crate::store::LOCK_STALE_AFTER_SECS`]: the next plan or apply takes it over.
    pub lock_stale: bool,
}

/// One stack in full, for `opsdeck stacks show`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackDetail {
    pub name: String,
    pub record: Option<crate::store::StackRecord>,
    /// `local` or `s3://bucket/key`.
    pub backend: String,
    pub state: Option<StateVersion>,
    /// Resource instances in the state (`aws_instance.this[0]`).
    pub resources: Vec<String>,
    pub lock: Option<StackLock>,
}

/// Resource instance addresses in a Terraform state document.
fn state_resources(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for r in state
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mode = r.get("mode").and_then(Value::as_str).unwrap_or("managed");
        let base = format!(
            "{}{}{}.{}",
            r.get("module")
                .and_then(Value::as_str)
                .map(|m| format!("{m}."))
                .unwrap_or_default(),
            if mode == "data" { "data." } else { "" },
            r.get("type").and_then(Value::as_str).unwrap_or("?"),
            r.get("name").and_then(Value::as_str).unwrap_or("?")
        );
        for inst in r
            .get("instances")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(match inst.get("index_key") {
                Some(Value::Number(n)) => format!("{base}[{n}]"),
                Some(Value::String(k)) => format!("{base}[{}]", Value::String(k.clone())),
                _ => base.clone(),
            });
        }
    }
    out
}

/// A file a dry run adds to the plan.
pub(crate) struct NewArtifact {
    pub name: String,
    pub kind: ArtifactKind,
    pub bytes: Vec<u8>,
}

/// What one step's dry run produced.
pub(crate) struct DryRunOutcome {
    pub dry_run: DryRun,
    pub artifacts: Vec<NewArtifact>,
    /// Terraform's own per-resource changes, replacing the template-derived list.
    pub changes: Option<Vec<crate::plan::ResourceChange>>,
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// Artifact names of a step's dry-run files: plain for step 1, prefixed after.
fn step_name(step: usize, name: &str) -> String {
    if step == 1 {
        name.to_string()
    } else {
        format!("step{step}-{name}")
    }
}

impl Deck {
    /// Where a stack's Terraform state lives: the `exec.state` setting (S3 with Terraform's
    /// locking), else a file beside the stack in the store. The seam the shared backend fills.
    pub fn state_backend(&self, stack: &str) -> Result<StateBackend> {
        let s = &self.config.exec.state;
        if s.backend == "s3" {
            let prefix = s.key_prefix.trim_matches('/');
            return Ok(StateBackend::S3 {
                bucket: s.bucket.clone(),
                key: format!(
                    "{}{}/{stack}/terraform.tfstate",
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!("{prefix}/")
                    },
                    self.tenant.name
                ),
                region: s.region.clone(),
                dynamodb_table: (!s.dynamodb_table.is_empty()).then(|| s.dynamodb_table.clone()),
                endpoint: (!s.endpoint.is_empty()).then(|| s.endpoint.clone()),
            });
        }
        Ok(StateBackend::Local {
            path: self
                .store
                .stack_state_dir(&self.tenant.name, stack)?
                .join("terraform.tfstate"),
        })
    }

    /// Takes a stack's lock for `operation` (`plan` or `apply`) of a plan: the guard, or who
    /// holds it.
    pub(crate) fn lock_stack(
        &self,
        stack: &str,
        plan_id: &str,
        operation: &str,
    ) -> Result<std::result::Result<StackLockGuard<'_>, StackLock>> {
        let lock = StackLock {
            tenant: self.tenant.name.clone(),
            stack: stack.to_string(),
            lock_id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_string(),
            plan_id: plan_id.to_string(),
            user: self.identity.user.clone(),
            host: hostname(),
            pid: std::process::id(),
            acquired_at: self.clock.stamp(),
            heartbeat_at: Some(self.clock.stamp()),
        };
        let taken = match self.store.try_lock_stack(&lock)? {
            None => true,
            Some(holder) if holder.is_stale(self.clock.unix()) => {
                self.take_over_stale_lock(&holder, &lock)?
            }
            Some(holder) => return Ok(Err(holder)),
        };
        if !taken {
            // Another process took the stale lock over first: it is the holder now.
            return Ok(Err(self.stack_lock(stack)?.unwrap_or(lock)));
        }
        Ok(Ok(StackLockGuard::hold(
            self.store.clone(),
            self.clock.clone(),
            lock,
        )))
    }

    /// Takes over a lock whose holder stopped renewing it, and says so in the trail: whose lock
    /// it was and when it last showed a sign of life. False when another process took it first.
    fn take_over_stale_lock(&self, stale: &StackLock, lock: &StackLock) -> Result<bool> {
        if !self.store.take_over_stack_lock(stale, lock)? {
            return Ok(false);
        }
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::LockBroken,
            Status::Completed,
        );
        ev.plan_id = Some(lock.plan_id.clone());
        ev.approval_metadata = Some(json!({
            "stack": lock.stack,
            "takenOverBy": lock.user,
            "stale": true,
            "staleAfterSecs": crate::store::LOCK_STALE_AFTER_SECS,
            "holder": stale,
        }));
        ev.message = Some(format!(
            "stale lock of stack {} taken over by {} for the {} of plan {}: it was held by the {} (no heartbeat for over {} s)",
            lock.stack,
            lock.user,
            lock.operation,
            lock.plan_id,
            stale.describe(),
            crate::store::LOCK_STALE_AFTER_SECS
        ));
        self.append(&[ev])?;
        Ok(true)
    }

    /// Every stack of the tenant with its lock: applied stacks, and stacks only locked (a first
    /// dry run, or a lock a dead process left), by name. For members.
    pub fn stacks_with_locks(&self) -> Result<Vec<StackEntry>> {
        self.require_reader("list stacks")?;
        let now = self.clock.unix();
        let mut entries: std::collections::BTreeMap<String, StackEntry> = self
            .store
            .list_stacks(&self.tenant.name)?
            .into_iter()
            .map(|r| {
                (
                    r.name.clone(),
                    StackEntry {
                        name: r.name.clone(),
                        record: Some(r),
                        lock: None,
                        lock_stale: false,
                    },
                )
            })
            .collect();
        for lock in self.store.list_stack_locks(&self.tenant.name)? {
            let e = entries
                .entry(lock.stack.clone())
                .or_insert_with(|| StackEntry {
                    name: lock.stack.clone(),
                    record: None,
                    lock: None,
                    lock_stale: false,
                });
            e.lock_stale = lock.is_stale(now);
            e.lock = Some(lock);
        }
        Ok(entries.into_values().collect())
    }

    /// A stack as `opsdeck stacks show` tells it: the record, where its state is and which
    /// version, the resources in the state, and who holds its lock.
    pub fn stack_detail(&self, stack: &str) -> Result<StackDetail> {
        self.require_reader("read stacks")?;
        crate::agents::infra::validate_stack_name(stack).or_else(|e| {
            // Hand-submitted stacks may have other names the store accepts; unknown ones are
            // reported as not found below.
            if self.store.get_stack(&self.tenant.name, stack)?.is_some() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        let record = self.store.get_stack(&self.tenant.name, stack)?;
        let lock = self.stack_lock(stack)?;
        let backend = self.state_backend(stack)?;
        let state = backend.read_local_version()?;
        let resources = match &backend {
            StateBackend::Local { path } => std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .map(|v| state_resources(&v))
                .unwrap_or_default(),
            StateBackend::S3 { .. } => Vec::new(),
        };
        if record.is_none() && lock.is_none() && state.as_ref().is_none_or(|s| s.serial.is_none()) {
            return Err(Error::not_found(
                "stack",
                stack,
                format!("tenant {}; `opsdeck stacks` lists them", self.tenant.name),
            ));
        }
        Ok(StackDetail {
            name: stack.to_string(),
            record,
            backend: backend.describe(),
            state,
            resources,
            lock,
        })
    }

    /// Who holds a stack now, if anyone.
    pub fn stack_lock(&self, stack: &str) -> Result<Option<StackLock>> {
        self.store.stack_lock(&self.tenant.name, stack)
    }

    /// Breaks a stack's lock (a stale one left by a process that crashed): registered admins
    /// and approvers only, with a reason and a TOTP code; audited with who held it.
    pub fn break_stack_lock(
        &self,
        stack: &str,
        reason: &str,
        totp: Option<&str>,
    ) -> Result<StackLock> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let what = format!("break the lock of stack {stack}");
        let refuse = |why: String| -> Result<StackLock> {
            let mut ev = self.event(&request_id, EventKind::AccessDenied, Status::Rejected);
            ev.message = Some(format!("{what}: {}", redact(&why)));
            self.append(&[ev])?;
            Err(Error::refused(why))
        };
        self.refuse_if_read_only(&what, None)?;
        let reason = redact(reason.trim());
        if reason.is_empty() {
            return Err(Error::input(
                "breaking a lock needs a reason (--reason \"...\"): it is kept in the audit trail",
            ));
        }
        let Some(user) = self
            .store
            .get_user(&self.tenant.name, &self.identity.user)?
        else {
            return refuse(format!(
                "{} is not a registered user of tenant {}; only admins and approvers break stack locks",
                self.identity.user, self.tenant.name
            ));
        };
        if !user.has_any(&[Role::Admin, Role::Approver]) {
            return refuse(format!(
                "{what} needs the admin or approver role; {} has neither",
                user.name
            ));
        }
        let Some(held) = self.stack_lock(stack)? else {
            return Err(Error::not_found(
                "lock",
                stack,
                format!("stack {stack} is not locked; nothing to break"),
            ));
        };
        let now = self.clock.unix().max(0) as u64;
        if let Err(e) = self
            .store
            .update_user(&self.tenant.name, &user.name, &mut |u| {
                mfa::verify(u, totp, now)
            })
        {
            return refuse(e.to_string());
        }
        let removed = self
            .store
            .break_stack_lock(&self.tenant.name, stack)?
            .unwrap_or(held);
        let mut ev = self.event(&request_id, EventKind::LockBroken, Status::Completed);
        ev.plan_id = Some(removed.plan_id.clone());
        ev.approval_metadata = Some(json!({
            "stack": stack,
            "brokenBy": user.name,
            "roles": user.roles,
            "mfa": "totp",
            "reason": reason,
            "holder": removed,
        }));
        ev.message = Some(format!(
            "lock of stack {stack} broken by {}: {reason} (it was held by {})",
            user.name,
            removed.describe()
        ));
        self.append(&[ev])?;
        Ok(removed)
    }

    /// A step's own working directory inside the plan's workspace.
    fn step_workspace(&self, plan_id: &str, step: usize) -> Result<PathBuf> {
        let dir = self
            .store
            .workspace_dir(&self.tenant.name, plan_id)?
            .join(format!("step{step}"));
        crate::store::fsutil::ensure_private_dir(&dir)?;
        Ok(dir)
    }

    /// What a tool run may reach besides its workspace (see `exec::sandbox`): nothing else of
    /// opsdeck's data.
    pub(crate) fn confinement(&self, handwritten: bool) -> exec::sandbox::Confinement {
        let mut protected = vec![self.paths.data.clone()];
        if let Some(dir) = self.paths.config_file.parent() {
            protected.push(dir.to_path_buf());
        }
        let paths = |list: &[String]| list.iter().map(PathBuf::from).collect::<Vec<_>>();
        exec::sandbox::Confinement {
            writable: paths(&self.config.exec.sandbox_write),
            readable: paths(&self.config.exec.sandbox_read),
            protected,
            handwritten,
            allow_unsandboxed: self.tenant.policy.allow_unsandboxed_runs,
            aws_environment: self.tenant.demo.then(|| {
                crate::demo::tool_environment(
                    self.aws.endpoint_url().unwrap_or(crate::demo::NOWHERE),
                    &self.tenant.default_region,
                )
            }),
        }
    }

    /// Terraform also writes the stack's local state and the tenant's provider cache, and reads
    /// the provider mirror.
    pub(crate) fn terraform_confinement(
        &self,
        handwritten: bool,
        backend: &StateBackend,
        cache: &std::path::Path,
    ) -> exec::sandbox::Confinement {
        let mut c = self.confinement(handwritten);
        if let StateBackend::Local { path } = backend
            && let Some(dir) = path.parent()
        {
            c.writable.push(dir.to_path_buf());
        }
        c.writable.push(cache.to_path_buf());
        c.readable
            .extend(self.provider_mirror().map(std::path::Path::to_path_buf));
        c
    }

    pub(crate) fn provider_mirror(&self) -> Option<&std::path::Path> {
        let m = &self.config.exec.provider_mirror;
        (!m.is_empty()).then(|| std::path::Path::new(m.as_str()))
    }

    /// Providers are downloaded once per tenant, not once per plan.
    pub(crate) fn plugin_cache(&self) -> Result<PathBuf> {
        let ws = self
            .store
            .workspace_dir(&self.tenant.name, "plugin-cache")?;
        Ok(ws)
    }

    /// Before an apply starts: takes the lock of every stack its Terraform steps change, and
    /// checks each state is still the version the plan was made against. Refusals are audited;
    /// a plan whose state moved on is marked failed (it can never run: re-plan).
    pub(crate) fn claim_stacks(&self, rec: &PlanRecord) -> Result<Vec<StackLockGuard<'_>>> {
        let id = &rec.plan.plan_id;
        let mut guards = Vec::new();
        for step in &rec.plan.steps {
            let StepKind::Terraform { stack, .. } = &step.kind else {
                continue;
            };
            if guards
                .iter()
                .any(|g: &StackLockGuard<'_>| &g.lock.stack == stack)
            {
                continue;
            }
            match self.lock_stack(stack, id, "apply")? {
                Ok(g) => guards.push(g),
                Err(holder) => {
                    // The same plan applied twice at once: say that, not just "locked".
                    let why = if &holder.plan_id == id && holder.operation == "apply" {
                        format!(
                            "plan {id} is already being applied by {} on host {} (pid {}) since {}",
                            holder.user, holder.host, holder.pid, holder.acquired_at
                        )
                    } else {
                        format!(
                            "stack {stack} is locked by the {}: wait for it to finish; if that process is gone, an admin or approver breaks the lock with `opsdeck stacks unlock {stack} --force --reason \"...\"`",
                            holder.describe()
                        )
                    };
                    let mut ev =
                        self.event(&rec.plan.request_id, EventKind::Failed, Status::Approved);
                    ev.plan_id = Some(id.clone());
                    ev.message = Some(format!("not started: {why}"));
                    self.append(&[ev])?;
                    return Err(Error::refused(why));
                }
            }
        }
        for (n, bound) in rec.plan.bound_states() {
            let Some(StepKind::Terraform { stack, .. }) =
                rec.plan.steps.get(n.saturating_sub(1)).map(|s| &s.kind)
            else {
                continue;
            };
            let backend = self.state_backend(stack)?;
            let Some(now) = backend.read_local_version()? else {
                // Remote state: Terraform's own saved-plan check refuses a stale plan.
                continue;
            };
            if &now != bound {
                self.mark_stale(rec, stack, bound, &now)?;
                return Err(Error::refused(format!(
                    "{} for plan {id}: stack {stack} was planned against {} and is now at {}; ask again for a new plan",
                    terraform::STALE,
                    bound.describe(),
                    now.describe()
                )));
            }
        }
        Ok(guards)
    }
}
