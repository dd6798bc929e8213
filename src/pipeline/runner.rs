//! The runner's side of a run: the queue of approved plans, claims (one per plan, heartbeats,
//! takeover of a silent runner's claim), the run itself through [`Runs::apply`] (which checks
//! everything again), its log streamed through the backend, cancellation; and the operator's
//! side: handing a plan to the runner, following its log, asking it to stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::runs::hostname;
use super::{ApplyReport, Runs};
use crate::approval::{self, CancelRequest, PlanRecord, State};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Kind, Result};
use crate::events::{AgentEvent, Sink};
use crate::redact::redact;
use crate::store::runqueue::{HEARTBEAT_SECS_RANGE, STALE_AFTER_MAX_SECS, STALE_AFTER_MIN_BEATS};
use crate::store::{RunClaim, RunLogEntry, RunLogKind, Store};
use crate::tenant::Role;

/// The longest log line kept; longer ones are cut (the whole output is in the run's artifact).
const MAX_LINE: usize = 4000;
/// How often buffered log lines are written to the backend.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How often a follower reads the run log.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);
/// How many reads after the plan's final state a follower waits for the log's last lines.
const FINAL_LINES_POLLS: u32 = 30;

/// How a runner behaves; see `opsdeck runner --help`.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    pub name: String,
    pub heartbeat_secs: u64,
    pub stale_after_secs: u64,
}

impl RunnerOptions {
    /// Validated options: out-of-range values are refused, never clamped.
    pub fn new(
        name: Option<String>,
        heartbeat_secs: u64,
        stale_after_secs: u64,
    ) -> Result<RunnerOptions> {
        if !HEARTBEAT_SECS_RANGE.contains(&heartbeat_secs) {
            return Err(Error::input(format!(
                "--heartbeat-secs {heartbeat_secs} is out of range: {}..={} seconds",
                HEARTBEAT_SECS_RANGE.start(),
                HEARTBEAT_SECS_RANGE.end()
            )));
        }
        let least = heartbeat_secs * STALE_AFTER_MIN_BEATS;
        if !(least..=STALE_AFTER_MAX_SECS).contains(&stale_after_secs) {
            return Err(Error::input(format!(
                "--stale-after-secs {stale_after_secs} is out of range: {least}..={STALE_AFTER_MAX_SECS} seconds ({STALE_AFTER_MIN_BEATS} heartbeats at least)"
            )));
        }
        let name = name.unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
        if !crate::store::valid_id(&name) {
            return Err(Error::input(format!(
                "runner name '{name}' must be 1 to 64 letters, digits, '-' or '_'"
            )));
        }
        Ok(RunnerOptions {
            name,
            heartbeat_secs,
            stale_after_secs,
        })
    }
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunnerPass {
    /// Plans this runner applied (whatever their outcome).
    pub applied: Vec<ApplyReport>,
    /// Plans a silent runner left executing, now failed with the reason.
    pub abandoned: Vec<String>,
    /// Plans the checks refused, now failed with the reason.
    pub refused: Vec<String>,
}

/// What `apply --follow` reads: the new log entries and where the plan stands.
#[derive(Debug, Clone, Serialize)]
pub struct RunProgress {
    pub plan_id: String,
    pub state: State,
    pub entries: Vec<RunLogEntry>,
    /// The runner applying it, when one holds a claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
}

impl RunProgress {
    /// No more entries will come: the plan has left the queue and its run.
    pub fn finished(&self) -> bool {
        !matches!(self.state, State::Approved | State::Executing)
    }
}

/// Log entries from a run's progress events, numbered, waiting to be written.
struct LogBuffer {
    runner: String,
    next_seq: AtomicU64,
    pending: Mutex<Vec<RunLogEntry>>,
}

impl LogBuffer {
    fn push(&self, kind: RunLogKind, text: &str) {
        let mut text = redact(text);
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" …");
        }
        let entry = RunLogEntry {
            seq: self.next_seq.fetch_add(1, Ordering::SeqCst),
            at: crate::time::Stamp::now(),
            runner: self.runner.clone(),
            kind,
            text,
        };
        if let Ok(mut p) = self.pending.lock() {
            p.push(entry);
        }
    }

    fn take(&self) -> Vec<RunLogEntry> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

impl Runs<'_> {
    /// Whether `opsdeck apply` hands plans to a runner (the shared backend) or runs them in
    /// this process (the local store).
    pub fn applies_through_runner(&self) -> bool {
        self.store.backend() == "aws"
    }

    /// Approved plans waiting for a runner, longest approved first.
    pub fn queue(&self) -> Result<Vec<PlanRecord>> {
        self.require_reader("list the run queue")?;
        let mut plans: Vec<PlanRecord> = self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .filter(|r| r.state == State::Approved)
            .collect();
        plans.sort_by_key(|r| r.last_approval_second().unwrap_or(i64::MAX));
        Ok(plans)
    }

    /// Hands an approved plan to the runners (the shared backend): the same early answers as
    /// apply for a plan that is not ready, nothing run here. A plan already running or run is
    /// returned as it stands, to follow.
    pub fn hand_over(&self, id: &str) -> Result<PlanRecord> {
        let id = self.approvals().resolve_plan_id(id)?;
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "apply plans",
        )?;
        let rec = self.store.get_plan(&self.tenant.name, &id)?;
        if matches!(
            rec.state,
            State::Executing | State::Succeeded | State::Failed | State::Cancelled
        ) {
            return Ok(rec);
        }
        let hash = rec.plan.compute_hash();
        approval::check_runnable(&mut rec.clone(), &hash, self.clock.as_ref())?;
        Ok(rec)
    }

    /// The run log of a plan after entry `after`, and where the plan stands.
    pub fn progress(&self, id: &str, after: u64) -> Result<RunProgress> {
        let id = self.approvals().resolve_plan_id(id)?;
        self.require_reader("follow a run")?;
        let tenant = &self.tenant.name;
        let entries = self.store.run_log(tenant, &id, after)?;
        let rec = self.store.get_plan(tenant, &id)?;
        let runner = self.store.run_claim(tenant, &id)?.map(|c| c.runner);
        Ok(RunProgress {
            plan_id: id,
            state: rec.state,
            entries,
            runner,
        })
    }

    /// Follows a plan's run: each new log entry to `on_entry` as it is written, until the run
    /// has ended (the plan's final state and the log's end entry; a plan no runner touched has
    /// no log) — the plan as it ended — or until `stop` fires (None; the run goes on).
    pub async fn follow(
        &self,
        id: &str,
        on_entry: &(dyn Fn(&RunLogEntry) + Send + Sync),
        mut stop: watch::Receiver<bool>,
    ) -> Result<Option<PlanRecord>> {
        let id = self.approvals().resolve_plan_id(id)?;
        let (mut after, mut seen_any, mut seen_end, mut ended_polls) = (0, false, false, 0);
        loop {
            let p = self.progress(&id, after)?;
            for e in &p.entries {
                after = after.max(e.seq);
                seen_any = true;
                seen_end = e.kind == RunLogKind::Finished;
                on_entry(e);
            }
            // The plan's state is final a moment before the runner writes the log's last
            // lines; a runner that died before writing them is not waited for forever.
            if p.finished() {
                ended_polls += 1;
                if seen_end || !seen_any || ended_polls > FINAL_LINES_POLLS {
                    return Ok(Some(self.store.get_plan(&self.tenant.name, &id)?));
                }
            }
            if *stop.borrow() {
                return Ok(None);
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        // Nobody can stop us any more: keep following.
                        tokio::time::sleep(FOLLOW_EVERY).await;
                    }
                }
            }
        }
    }

    /// What the console's apply does: in this process on the local store (with the identity
    /// receipt, as `opsdeck apply`); on the shared
    /// backend the plan goes to the runners and its run is followed, each line to `sink`, and
    /// `cancel` asks its runner to stop (audited as the person's request).
    pub async fn apply_or_hand_over(
        &self,
        id: &str,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<ApplyReport> {
        if !self.applies_through_runner() {
            // Who the change is made as, established right before it runs and recorded in the
            // `executing` event, as `opsdeck apply` does.
            let receipt = self.identity_receipt(id)?;
            return self
                .apply_with_receipt(id, sink, cancel, Some(&receipt))
                .await;
        }
        let rec = self.hand_over(id)?;
        let id = rec.plan.plan_id.clone();
        let agent = rec.plan.agent;
        let relay = |e: &RunLogEntry| {
            sink(match e.kind {
                RunLogKind::Output => AgentEvent::Output {
                    agent,
                    line: e.text.clone(),
                },
                _ => AgentEvent::Progress {
                    agent,
                    message: format!("[{}] {}", e.runner, e.text),
                },
            })
        };
        let ended = match self.follow(&id, &relay, cancel).await? {
            Some(rec) => rec,
            None => {
                self.cancel(&id, "cancelled from the console")?;
                let (_keep, never) = watch::channel(false);
                self.follow(&id, &relay, never)
                    .await?
                    .ok_or_else(|| Error::Cancelled(format!("stopped following plan {id}")))?
            }
        };
        let last = ended.executions.last();
        let success = ended.state == State::Succeeded;
        sink(AgentEvent::Finished {
            plan_id: id.clone(),
            success,
            cancelled: ended.state == State::Cancelled,
        });
        Ok(ApplyReport {
            plan_id: id,
            state: ended.state,
            success,
            cancelled: ended.state == State::Cancelled,
            exit_code: last.and_then(|x| x.exit_code),
            log_uri: last.and_then(|x| x.log_uri.clone()),
            outputs: None,
            message: ended.state.as_str().to_string(),
        })
    }

    /// Stops a plan: a queued one is cancelled at once; a running one's runner is asked to stop
    /// (it cancels the step running, Ctrl-C to the tool's process group). Operators, approvers
    /// and admins may; audited.
    pub fn cancel(&self, id: &str, reason: &str) -> Result<PlanRecord> {
        let id = self.approvals().resolve_plan_id(id)?;
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "cancel runs",
        )?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::input("say why the run is cancelled (--reason)"));
        }
        let request = CancelRequest {
            user: self.identity.user.clone(),
            at: self.clock.stamp(),
            reason: reason.to_string(),
        };
        let rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
            match r.state {
                State::Approved => {
                    r.state = State::Cancelled;
                    r.cancel_request = Some(request.clone());
                }
                State::Executing => r.cancel_request = Some(request.clone()),
                s => {
                    return Err(Error::refused(format!(
                        "plan {id} is {}: there is no run to cancel",
                        s.as_str()
                    )));
                }
            }
            r.updated_at = self.clock.stamp();
            Ok(())
        })?;
        let (kind, status) = if rec.state == State::Cancelled {
            (EventKind::Cancelled, Status::Cancelled)
        } else {
            (EventKind::CancelRequested, Status::Executing)
        };
        let mut ev = self.event(&rec.plan.request_id, kind, status);
        ev.plan_id = Some(id);
        ev.message = Some(format!("cancelled by {}: {}", request.user, redact(reason)));
        self.append(&[ev])?;
        Ok(rec)
    }

    /// [`Runs::cancel`] as an MCP client may: the runs of plans its user requested, or any
    /// plan's when its user may approve (approvers and admins, as at the CLI). A refusal is
    /// audited like every other.
    pub fn cancel_own(&self, id: &str, reason: &str) -> Result<PlanRecord> {
        let id = self.approvals().resolve_plan_id(id)?;
        let rec = self.store.get_plan(&self.tenant.name, &id)?;
        let approver = self.my_roles()?.is_none_or(|roles| {
            roles
                .iter()
                .any(|r| matches!(r, Role::Approver | Role::Admin))
        });
        if rec.plan.requester != self.identity.user && !approver {
            return self.deny(
                &rec,
                &format!("cancel plan {id}"),
                format!(
                    "{} may cancel only the runs of plans they requested; plan {id} was requested by {} (approvers and admins may cancel any run)",
                    self.identity.user, rec.plan.requester
                ),
            );
        }
        self.cancel(&id, reason)
    }

    /// One pass over the queue: fails the plans a silent runner left executing, then claims
    /// and applies each approved plan no live runner holds, one after another, until `stop`.
    pub async fn runner_pass(
        &self,
        opts: &RunnerOptions,
        stop: &watch::Receiver<bool>,
    ) -> Result<RunnerPass> {
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "run plans as a runner",
        )?;
        let tenant = self.tenant.name.clone();
        let mut pass = RunnerPass::default();
        for rec in self.store.list_plans(&tenant)? {
            if rec.state != State::Executing {
                continue;
            }
            if let Some(held) = self.store.run_claim(&tenant, &rec.plan.plan_id)?
                && held.is_stale(self.clock.unix())
                && self.fail_abandoned(&rec, &held, opts)?
            {
                pass.abandoned.push(rec.plan.plan_id.clone());
            }
        }
        for rec in self.queue()? {
            if *stop.borrow() {
                break;
            }
            let id = rec.plan.plan_id.clone();
            // A stack busy with another plan's dry run or apply: the plan waits its turn in
            // the queue rather than failing on the lock.
            if self.stacks_busy(&rec)? {
                continue;
            }
            let Some(claim) = self.claim(&id, opts)? else {
                continue;
            };
            match self.run_claimed(&claim, opts).await {
                Ok(report) => pass.applied.push(report),
                Err(e) if matches!(e.kind(), Kind::Unavailable | Kind::Io) => {
                    tracing::warn!(plan = %id, error = %e, "run not started; back in the queue");
                }
                Err(e) => {
                    self.fail_refused(&id, &opts.name, &e)?;
                    pass.refused.push(id.clone());
                }
            }
            self.store
                .release_run_claim(&tenant, &id, &claim.claim_id)?;
        }
        Ok(pass)
    }

    /// Whether a live holder (not stale) has a lock on a stack the plan changes.
    fn stacks_busy(&self, rec: &PlanRecord) -> Result<bool> {
        for step in &rec.plan.steps {
            if let crate::plan::StepKind::Terraform { stack, .. } = &step.kind
                && let Some(holder) = self.store.stack_lock(&self.tenant.name, stack)?
                && !holder.is_stale(self.clock.unix())
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn new_claim(&self, id: &str, opts: &RunnerOptions) -> RunClaim {
        RunClaim {
            tenant: self.tenant.name.clone(),
            plan_id: id.to_string(),
            claim_id: uuid::Uuid::new_v4().simple().to_string(),
            runner: opts.name.clone(),
            user: self.identity.user.clone(),
            host: hostname(),
            pid: std::process::id(),
            claimed_at: self.clock.stamp(),
            heartbeat_at: self.clock.stamp(),
            stale_after_secs: opts.stale_after_secs,
        }
    }

    /// Claims a queued plan: a free one, or one whose runner went silent before starting it (it
    /// is still approved, so nothing ran: taken over, audited, and run). None when a live runner
    /// holds it or it left the queue meanwhile.
    fn claim(&self, id: &str, opts: &RunnerOptions) -> Result<Option<RunClaim>> {
        let tenant = &self.tenant.name;
        let claim = self.new_claim(id, opts);
        let taken_from = match self.store.try_claim_run(&claim)? {
            None => None,
            Some(held) if held.is_stale(self.clock.unix()) => {
                if !self.store.take_over_run_claim(&held, &claim)? {
                    return Ok(None);
                }
                Some(held)
            }
            Some(_) => return Ok(None),
        };
        // Run by someone else between our listing and our claim: not ours to run.
        let rec = self.store.get_plan(tenant, id)?;
        if rec.state != State::Approved {
            self.store.release_run_claim(tenant, id, &claim.claim_id)?;
            return Ok(None);
        }
        let (kind, message) = match &taken_from {
            None => (
                EventKind::RunnerClaimed,
                format!("claimed by runner {} on host {}", claim.runner, claim.host),
            ),
            Some(old) => (
                EventKind::ClaimTakenOver,
                format!(
                    "runner {} took the plan over from {} (silent over {} s, before it started)",
                    claim.runner,
                    old.describe(),
                    old.stale_after_secs
                ),
            ),
        };
        let mut ev = self.event(&rec.plan.request_id, kind, Status::Approved);
        ev.plan_id = Some(id.to_string());
        ev.message = Some(message);
        self.append(&[ev])?;
        Ok(Some(claim))
    }

    /// Applies a claimed plan with every check of apply, its progress written to the run log,
    /// the claim's heartbeat renewed, and a cancel request (or a lost claim) stopping it.
    async fn run_claimed(&self, claim: &RunClaim, opts: &RunnerOptions) -> Result<ApplyReport> {
        let id = claim.plan_id.clone();
        let tenant = self.tenant.name.clone();
        let first = self
            .store
            .run_log(&tenant, &id, 0)?
            .last()
            .map_or(1, |e| e.seq + 1);
        let log = Arc::new(LogBuffer {
            runner: opts.name.clone(),
            next_seq: AtomicU64::new(first),
            pending: Mutex::new(Vec::new()),
        });
        log.push(
            RunLogKind::Progress,
            &format!(
                "runner {} (user {}, host {}) claimed plan {id}",
                claim.runner, claim.user, claim.host
            ),
        );
        // Who the change is made as, asked of AWS with the runner's own credentials: the
        // requester's receipt cannot see the deploy role's account, so followers read it here.
        let receipt = self.identity_receipt(&id).map(|mut r| {
            r.runner = super::receipt::Runner::Claimed {
                name: opts.name.clone(),
                host: claim.host.clone(),
            };
            r
        });
        match &receipt {
            Ok(receipt) => {
                log.push(
                    RunLogKind::Progress,
                    &format!("identity receipt of runner {}:", opts.name),
                );
                for line in crate::view::ReceiptView::of(receipt).lines() {
                    log.push(RunLogKind::Progress, &format!("  {line}"));
                }
            }
            Err(e) => log.push(
                RunLogKind::Progress,
                &format!(
                    "identity receipt of runner {}: not established: {e}",
                    opts.name
                ),
            ),
        }
        // Followers hear of the claim at once, not at the first flush.
        self.store.append_run_log(&tenant, &id, &log.take())?;
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let done = Arc::new(AtomicBool::new(false));
        let beat = std::thread::spawn({
            let store = self.store.clone();
            let clock = self.clock.clone();
            let log = log.clone();
            let done = done.clone();
            let mut claim = claim.clone();
            let every = Duration::from_secs(opts.heartbeat_secs);
            move || {
                heartbeat(
                    store.as_ref(),
                    clock.as_ref(),
                    &mut claim,
                    &log,
                    &done,
                    every,
                    &cancel_tx,
                )
            }
        });
        let sink = |e: AgentEvent| match e {
            AgentEvent::Output { line, .. } => log.push(RunLogKind::Output, &line),
            AgentEvent::Progress { message, .. } => log.push(RunLogKind::Progress, &message),
            AgentEvent::Failed { error, .. } => log.push(RunLogKind::Progress, &error),
            _ => {}
        };
        let result = self
            .apply_with_receipt(&id, &sink, cancel_rx, receipt.as_ref().ok())
            .await;
        let finished = match &result {
            Ok(r) => r.state.as_str().to_string(),
            Err(e) => format!("not run: {e}"),
        };
        log.push(RunLogKind::Finished, &finished);
        done.store(true, Ordering::SeqCst);
        let _ = beat.join();
        // What the beat thread had not written yet.
        if let Err(e) = self.store.append_run_log(&tenant, &id, &log.take()) {
            tracing::warn!(plan = %id, error = %e, "the end of the run log was not written");
        }
        result
    }

    /// A plan the checks refused (not approved any more, changed, denied by policy, a tool
    /// missing) leaves the queue failed with the reason, so no runner retries it forever.
    fn fail_refused(&self, id: &str, runner: &str, why: &Error) -> Result<()> {
        let reason = format!("runner {runner} did not run it: {why}");
        self.fail_queued(id, State::Approved, &reason)
    }

    /// A plan left executing by a runner that stopped heartbeating: what it changed is unknown,
    /// so it is never run again; it fails with the reason, audited. Its claim is taken over
    /// first, so of two runners noticing, one records it. Returns whether this runner did.
    fn fail_abandoned(
        &self,
        rec: &PlanRecord,
        held: &RunClaim,
        opts: &RunnerOptions,
    ) -> Result<bool> {
        let id = &rec.plan.plan_id;
        let claim = self.new_claim(id, opts);
        if !self.store.take_over_run_claim(held, &claim)? {
            return Ok(false);
        }
        let mut ev = self.event(
            &rec.plan.request_id,
            EventKind::ClaimTakenOver,
            Status::Executing,
        );
        ev.plan_id = Some(id.clone());
        ev.message = Some(format!(
            "runner {} took the claim over from {} (silent over {} s, mid-apply)",
            opts.name,
            held.describe(),
            held.stale_after_secs
        ));
        self.append(&[ev])?;
        let reason = format!(
            "interrupted: {} stopped heartbeating mid-apply; not run again (what it changed is unknown): check the stack, then plan again",
            held.describe()
        );
        self.fail_queued(id, State::Executing, &reason)?;
        let mut log = self.store.run_log(&self.tenant.name, id, 0)?;
        let seq = log.pop().map_or(1, |e| e.seq + 1);
        self.store.append_run_log(
            &self.tenant.name,
            id,
            &[RunLogEntry {
                seq,
                at: self.clock.stamp(),
                runner: opts.name.clone(),
                kind: RunLogKind::Finished,
                text: format!("failed: {reason}"),
            }],
        )?;
        self.store
            .release_run_claim(&self.tenant.name, id, &claim.claim_id)?;
        Ok(true)
    }

    /// Marks a plan failed with `reason` if it is still `from`; audited.
    fn fail_queued(&self, id: &str, from: State, reason: &str) -> Result<()> {
        let mut changed = false;
        let rec = self.store.update_plan(&self.tenant.name, id, &mut |r| {
            changed = false;
            if r.state != from {
                return Ok(());
            }
            r.state = State::Failed;
            if let Some(x) = r.executions.last_mut()
                && x.finished_at.is_none()
            {
                x.outcome = Some("interrupted".into());
                x.finished_at = Some(self.clock.stamp());
            }
            r.updated_at = self.clock.stamp();
            changed = true;
            Ok(())
        })?;
        if changed {
            let mut ev = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
            ev.plan_id = Some(id.to_string());
            ev.message = Some(redact(reason));
            self.append(&[ev])?;
        }
        Ok(())
    }
}

/// The runner's companion thread while a plan runs: writes the buffered log every
/// [`FLUSH_EVERY`], renews the claim every `every`, and cancels the run when someone asked
/// for it or the claim was lost (another runner took it over: this one must stop).
fn heartbeat(
    store: &dyn Store,
    clock: &dyn crate::time::Clock,
    claim: &mut RunClaim,
    log: &LogBuffer,
    done: &AtomicBool,
    every: Duration,
    cancel: &watch::Sender<bool>,
) {
    let mut last_beat = std::time::Instant::now();
    let mut cancelled = false;
    while !done.load(Ordering::SeqCst) {
        std::thread::sleep(FLUSH_EVERY);
        let batch = log.take();
        if let Err(e) = store.append_run_log(&claim.tenant, &claim.plan_id, &batch) {
            tracing::warn!(plan = %claim.plan_id, error = %e, "run log not written");
        }
        if last_beat.elapsed() < every {
            continue;
        }
        last_beat = std::time::Instant::now();
        claim.heartbeat_at = clock.stamp();
        // Renewed while a cancelled step winds down too: the claim stays alive until the end.
        let why = match store.renew_run_claim(claim) {
            Ok(false) => Some("this runner's claim was taken over".to_string()),
            Ok(true) if cancelled => None,
            Ok(true) => match store.get_plan(&claim.tenant, &claim.plan_id) {
                Ok(rec) => rec
                    .cancel_request
                    .map(|c| format!("cancelled by {}: {}", c.user, c.reason)),
                Err(_) => None,
            },
            Err(e) => {
                tracing::warn!(plan = %claim.plan_id, error = %e, "heartbeat not written");
                None
            }
        };
        if let Some(why) = why
            && !cancelled
        {
            log.push(RunLogKind::Progress, &format!("stopping: {why}"));
            let _ = cancel.send(true);
            cancelled = true;
        }
    }
}
