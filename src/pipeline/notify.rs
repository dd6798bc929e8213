//! Notifications from the trail: the one hook where events are appended ([`Deck::append`])
//! turns the events that concern someone into outbox entries, and a courier delivers them on
//! the process's notification thread. Front ends only read the outbox's state and ask for a
//! flush.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::approval::rules::{Requirement, disqualified};
use crate::audit::{AuditEvent, AuditRecord, EventKind, Signer, Status};
use crate::error::Result;
use crate::notify::outbox::{Claimed, Entry, Outbox, OutboxStatus};
use crate::notify::{Channel, Notification, NotificationKind, backoff, send, worker};
use crate::store::Store;
use crate::tenant::{Identity, Notifications};
use crate::time::Clock;

use super::Deck;
use super::session::audit_event;

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlushReport {
    pub delivered: usize,
    /// Failed this time; tried again after their back-off.
    pub retrying: usize,
    /// Failed their last attempt: audited as `notification_failed`, kept in the outbox.
    pub given_up: usize,
    /// Given-up notifications put back in the queue first (`opsdeck notify flush`).
    #[serde(skip_serializing_if = "is_zero")]
    pub revived: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Deck {
    /// The outbox of this session's tenant, in this machine's data directory.
    fn outbox(&self) -> Outbox {
        Outbox::new(&self.paths.data.join("outbox"), &self.tenant.name)
    }

    fn courier(&self) -> Arc<DeckCourier> {
        Arc::new(DeckCourier {
            store: self.store.clone(),
            signer: self.signer.clone(),
            clock: self.clock.clone(),
            identity: self.identity.clone(),
            tenant: self.tenant.name.clone(),
            identity_dir: self.paths.identity.clone(),
            outbox: self.outbox(),
            endpoint_url: self.aws.endpoint_url().map(str::to_string),
        })
    }

    /// After events are appended: queue the notifications they make and wake the delivery
    /// thread. Never fails and never waits for a receiver; a notification that cannot even be
    /// queued is logged.
    pub(super) fn notify_after_append(&self, records: &[AuditRecord]) {
        let cfg = &self.tenant.notifications;
        if !cfg.enabled() {
            return;
        }
        let batch: Vec<&AuditEvent> = records.iter().map(|r| &r.event).collect();
        let outbox = self.outbox();
        let mut queued = 0;
        for ev in &batch {
            let Some(n) = self.notification_for(ev, &batch) else {
                continue;
            };
            if !cfg.wants(n.kind) {
                continue;
            }
            let entry = Entry {
                notification: n,
                channels: channels(cfg),
                attempts: 0,
                next_attempt_ms: 0,
                last_error: None,
            };
            match outbox.enqueue(&entry) {
                Ok(()) => queued += 1,
                Err(e) => tracing::warn!(error = %e, "a notification could not be queued"),
            }
        }
        if queued > 0 {
            worker::kick(self.courier());
        }
    }

    /// On start: what an earlier process left in the outbox gets delivered in the background.
    pub(super) fn resume_notifications(&self) {
        if self.outbox().status().pending > 0 {
            worker::kick(self.courier());
        }
    }

    /// Delivers everything waiting now, given-up notifications included, and says how it went
    /// (`opsdeck notify flush`).
    pub fn flush_notifications(&self) -> Result<FlushReport> {
        self.require_reader("deliver the tenant's notifications")?;
        let courier = self.courier();
        let outbox = self.outbox();
        let revived = outbox.revive_failed();
        outbox.reclaim_abandoned();
        // Its own thread: delivery runs an async runtime, which may not nest in a caller's.
        let mut report = std::thread::scope(|s| {
            s.spawn(|| courier.deliver(outbox.claim_due(0, true)))
                .join()
                .unwrap_or_default()
        });
        report.revived = revived;
        Ok(report)
    }

    /// What waits in this machine's outbox for the tenant (the console's status bar).
    pub fn notification_status(&self) -> OutboxStatus {
        self.outbox().status()
    }

    /// Every notification waiting or given up, with whether it was given up.
    pub fn notification_entries(&self) -> Result<Vec<(bool, Entry)>> {
        self.require_reader("read the tenant's notifications")?;
        Ok(self.outbox().entries())
    }

    /// The notification `ev` makes, if it concerns someone. `batch` is the events appended with
    /// it (a queued plan's summary is in its `planned` event, before the plan is stored).
    fn notification_for(&self, ev: &AuditEvent, batch: &[&AuditEvent]) -> Option<Notification> {
        let meta = ev.approval_metadata.as_ref().unwrap_or(&Value::Null);
        let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
        let stored = || {
            ev.plan_id
                .as_deref()
                .and_then(|id| self.store.get_plan(&self.tenant.name, id).ok())
        };
        let mut n = Notification {
            id: uuid::Uuid::now_v7().to_string(),
            kind: NotificationKind::Applied,
            tenant: self.tenant.name.clone(),
            event_id: ev.event_id.clone(),
            request_id: ev.request_id.clone(),
            plan_id: ev.plan_id.clone(),
            stack: None,
            actor: ev.user_id.clone(),
            recipients: Vec::new(),
            summary: String::new(),
            detail: None,
            at: ev.timestamp.to_string(),
        };
        match ev.event {
            EventKind::Queued if ev.plan_id.is_some() => {
                n.kind = NotificationKind::PendingApproval;
                n.actor = text("requester").unwrap_or_else(|| ev.user_id.clone());
                n.summary = batch
                    .iter()
                    .find(|e| e.event == EventKind::Planned && e.plan_id == ev.plan_id)
                    .and_then(|e| e.message.clone())
                    .unwrap_or_default();
                let req = Requirement {
                    rule: text("rule").unwrap_or_default(),
                    approvers: meta.get("required").and_then(Value::as_u64).unwrap_or(1) as u32,
                    roles: serde_json::from_value(meta.get("roles").cloned().unwrap_or_default())
                        .unwrap_or_default(),
                    group: text("group"),
                };
                n.recipients = self
                    .store
                    .list_users(&self.tenant.name)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|u| u.name != n.actor && disqualified(u, &req).is_none())
                    .map(|u| u.name)
                    .collect();
                n.detail = Some(format!(
                    "needs {} approval(s) under rule {}",
                    req.approvers, req.rule
                ));
            }
            EventKind::Approved => {
                let rec = stored()?;
                n.kind = NotificationKind::Approved;
                n.recipients = vec![rec.plan.requester.clone()];
                n.summary = rec.plan.summary.clone();
                let mut detail = format!(
                    "approval {} of {}",
                    meta.get("approvals").and_then(Value::as_u64).unwrap_or(0),
                    meta.get("required").and_then(Value::as_u64).unwrap_or(0)
                );
                if ev.status == Status::Approved {
                    detail.push_str(": ready to apply");
                }
                if let Some(reason) = text("breakGlassReason") {
                    detail.push_str(&format!("; break-glass: {reason}"));
                }
                if let Some(c) = text("comment") {
                    detail.push_str(&format!("; comment: {c}"));
                }
                n.detail = Some(detail);
            }
            EventKind::Rejected if ev.plan_id.is_some() => {
                n.kind = NotificationKind::Rejected;
                // A plan denied by policy is not stored yet: its requester is the actor.
                match stored() {
                    Some(rec) => {
                        n.recipients = vec![rec.plan.requester.clone()];
                        n.summary = rec.plan.summary.clone();
                    }
                    None => {
                        n.actor = "policy".into();
                        n.recipients = vec![ev.user_id.clone()];
                    }
                }
                n.detail = text("reason").or_else(|| ev.message.clone());
            }
            EventKind::Completed if ev.plan_id.is_some() => {
                let rec = stored()?;
                n.kind = NotificationKind::Applied;
                n.recipients = vec![rec.plan.requester.clone()];
                n.summary = rec.plan.summary.clone();
            }
            // A failure of a stored plan is its apply's; a plan that was never stored failed
            // while being planned, which its requester already saw.
            EventKind::Failed if ev.plan_id.is_some() => {
                let rec = stored()?;
                n.kind = NotificationKind::ApplyFailed;
                n.recipients = vec![rec.plan.requester.clone()];
                n.summary = rec.plan.summary.clone();
                n.detail = ev.message.clone();
            }
            // The same drift as the subject's last check found: told once already.
            EventKind::DriftFound if meta.get("repeat") == Some(&Value::Bool(true)) => {
                return None;
            }
            EventKind::DriftFound => {
                n.kind = NotificationKind::DriftFound;
                n.stack = text("stack");
                n.detail = ev.message.clone();
                // Those who can have it reverted or approve the revert.
                n.recipients = self
                    .store
                    .list_users(&self.tenant.name)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|u| {
                        u.has_any(&[crate::tenant::Role::Admin, crate::tenant::Role::Approver])
                    })
                    .map(|u| u.name)
                    .collect();
            }
            _ => return None,
        }
        // Reasons and summaries are typed by people: never a credential in a chat channel.
        n.summary = crate::redact::redact(&n.summary);
        n.detail = n.detail.map(|d| crate::redact::redact(&d));
        Some(n)
    }
}

fn channels(cfg: &Notifications) -> Vec<Channel> {
    let mut c = Vec::new();
    if !cfg.webhook_url.is_empty() {
        c.push(Channel::Webhook);
    }
    if !cfg.sns_topic_arn.is_empty() {
        c.push(Channel::Sns);
    }
    c
}

/// Delivers one tenant's outbox with the session's store (for the tenant's current targets and
/// to audit what is given up) on the notification thread.
struct DeckCourier {
    store: Arc<dyn Store>,
    signer: Arc<Signer>,
    clock: Arc<dyn Clock>,
    identity: Identity,
    tenant: String,
    identity_dir: PathBuf,
    outbox: Outbox,
    endpoint_url: Option<String>,
}

impl worker::Courier for DeckCourier {
    fn key(&self) -> String {
        format!("{:?}", self.outbox)
    }

    fn pass(&self) -> Option<i64> {
        self.outbox.reclaim_abandoned();
        let now = jiff::Timestamp::now().as_millisecond();
        let due = self.outbox.claim_due(now, false);
        if !due.is_empty() {
            self.deliver(due);
        }
        self.outbox.next_due_ms()
    }
}

/// When the tenant's settings cannot be read (the backend is out of reach), the next try.
const SETTINGS_RETRY_MS: i64 = 30_000;

impl DeckCourier {
    fn deliver(&self, claimed: Vec<Claimed>) -> FlushReport {
        let mut report = FlushReport::default();
        if claimed.is_empty() {
            return report;
        }
        let now = || jiff::Timestamp::now().as_millisecond();
        // The targets as they are now: a changed or removed webhook applies to what waits.
        let cfg = match self.store.get_tenant(&self.tenant) {
            Ok(Some(t)) => t.notifications,
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    _ => format!("tenant {} is gone", self.tenant),
                };
                for c in claimed {
                    let mut e = c.entry.clone();
                    e.next_attempt_ms = now() + SETTINGS_RETRY_MS;
                    e.last_error = Some(crate::redact::redact(&format!(
                        "cannot read the tenant's notification settings: {why}"
                    )));
                    let _ = self.outbox.release(c, &e);
                    report.retrying += 1;
                }
                return report;
            }
        };
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!(error = %e, "no runtime for notifications");
                return report;
            }
        };
        let client = reqwest::Client::new();
        for c in claimed {
            let mut e = c.entry.clone();
            let mut errors = Vec::new();
            for ch in e.channels.clone() {
                let sent = match ch {
                    Channel::Webhook if !cfg.webhook_url.is_empty() => {
                        rt.block_on(send::webhook(&client, &cfg.webhook_url, &e.notification))
                    }
                    Channel::Sns if !cfg.sns_topic_arn.is_empty() => rt.block_on(send::sns(
                        &cfg.sns_topic_arn,
                        self.endpoint_url.as_deref(),
                        &e.notification,
                    )),
                    // The target was removed since: nowhere to send it.
                    _ => Ok(()),
                };
                match sent {
                    Ok(()) => e.channels.retain(|x| *x != ch),
                    Err(msg) => errors.push(crate::redact::redact(&msg)),
                }
            }
            if e.channels.is_empty() {
                self.outbox.done(c);
                report.delivered += 1;
                continue;
            }
            e.attempts += 1;
            e.last_error = Some(errors.join("; "));
            if e.attempts >= cfg.max_attempts {
                if let Err(err) = self.outbox.give_up(c, &e) {
                    tracing::warn!(error = %err, "a given-up notification could not be kept");
                }
                self.audit_given_up(&e, &cfg);
                report.given_up += 1;
            } else {
                e.next_attempt_ms =
                    now() + backoff(cfg.retry_base_ms, e.attempts).as_millis() as i64;
                if let Err(err) = self.outbox.release(c, &e) {
                    tracing::warn!(error = %err, "a notification could not be put back");
                }
                report.retrying += 1;
            }
        }
        report
    }

    /// `notification_failed` in the tenant's trail: which notification, where (the webhook
    /// redacted), how many attempts, the last error.
    fn audit_given_up(&self, e: &Entry, cfg: &Notifications) {
        let n = &e.notification;
        let targets: Vec<String> = e
            .channels
            .iter()
            .map(|c| match c {
                Channel::Webhook => format!("webhook {}", cfg.redacted().webhook_url),
                Channel::Sns => format!("sns {}", cfg.sns_topic_arn),
            })
            .collect();
        let mut ev = audit_event(
            &self.tenant,
            &self.identity,
            self.clock.as_ref(),
            &n.request_id,
            EventKind::NotificationFailed,
            Status::Failed,
        );
        ev.plan_id = n.plan_id.clone();
        ev.approval_metadata = Some(json!({
            "notification": n.id,
            "kind": n.kind,
            "recipients": n.recipients,
            "channels": e.channels,
            "attempts": e.attempts,
            "fromEvent": n.event_id,
        }));
        ev.message = Some(crate::redact::redact(&format!(
            "{} notification given up after {} attempt(s) to {}: {}",
            n.kind.as_str(),
            e.attempts,
            targets.join(" and "),
            e.last_error.as_deref().unwrap_or("unknown error")
        )));
        // Straight to the store: this machine's key was certified (where it can be) by the
        // append that made the notification, and this event must not notify again.
        match self
            .store
            .append_audit(&self.tenant, std::slice::from_ref(&ev), &self.signer)
        {
            Ok(records) => {
                crate::audit::witness::LocalWitness::for_store(
                    &self.identity_dir,
                    self.store.as_ref(),
                )
                .after_append(self.store.as_ref(), &self.tenant, &records);
            }
            Err(err) => tracing::warn!(error = %err, "notification_failed could not be audited"),
        }
    }
}
