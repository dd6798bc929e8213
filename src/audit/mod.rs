//! The audit trail: every transition of every request, append-only, hash-chained per tenant and
//! signed. Field names follow the spec (§5.2.1) so exports read the same as the PRD's tables.

pub mod chain;
pub mod error;
pub mod export;
pub mod query;
pub mod witness;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::Stamp;

pub use chain::{Anchors, KeyRing, KeyUse, Signer, VerifyReport};
pub use error::AuditError;

/// What happened. One event per transition of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Requested,
    Classified,
    Planned,
    PolicyEvaluated,
    Queued,
    Approved,
    Rejected,
    Expired,
    Executing,
    Completed,
    Failed,
    Cancelled,
    /// Someone tried something they may not do (wrong role, bad or replayed TOTP code, ...).
    AccessDenied,
    UserAdded,
    /// Tenant settings or tenant policies changed.
    SettingsChanged,
    /// A read-only request was answered with a report (no plan, nothing changed).
    Answered,
    /// A stack's lock was broken by hand (`opsdeck stacks unlock --force`), with who held it.
    LockBroken,
    /// `opsdeck totp` printed a user's current code: that user's second factor was this machine.
    CodeShown,
    /// A member certified an audit-signing key with their personal key (signed statement in
    /// `approvalMetadata`): records it signs are trusted by every member.
    AuditKeyCertified,
    /// A member revoked an audit-signing key: records it signs after this one are not trusted.
    AuditKeyRevoked,
    /// A runner claimed an approved plan to apply it.
    RunnerClaimed,
    /// A runner took over the claim of a runner that stopped heartbeating.
    ClaimTakenOver,
    /// Someone asked a running (or queued) plan's runner to stop.
    CancelRequested,
    /// A notification could not be delivered after all its attempts (target redacted).
    NotificationFailed,
    /// A drift check ran on a stack (`opsdeck drift`): clean, drifted or not checked, and why.
    DriftChecked,
    /// A stack was found to differ from what was applied.
    DriftFound,
    /// An admin issued a bearer token for `opsdeck mcp --listen`, bound to a user.
    TokenIssued,
    /// An admin revoked a bearer token: it is refused from then on.
    TokenRevoked,
    /// A version of a library entry was added (`library add`, `library save`); the manifest's
    /// SHA-256 in `artifacts`.
    LibraryEntryAdded,
    /// A version of a library entry was deprecated: no longer used unless named.
    LibraryEntryDeprecated,
    /// An approver approved a version of a library entry for use.
    LibraryEntryApproved,
    /// A plan was made from a version of a library entry (`ask --use`).
    LibraryEntryUsed,
    /// A named report was built and stored (`report refresh`, the Reports pane): the stored
    /// report's SHA-256 in `artifacts`, its summary in `message`.
    ReportGenerated,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Requested => "requested",
            EventKind::Classified => "classified",
            EventKind::Planned => "planned",
            EventKind::PolicyEvaluated => "policy_evaluated",
            EventKind::Queued => "queued",
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Expired => "expired",
            EventKind::Executing => "executing",
            EventKind::Completed => "completed",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::AccessDenied => "access_denied",
            EventKind::UserAdded => "user_added",
            EventKind::SettingsChanged => "settings_changed",
            EventKind::Answered => "answered",
            EventKind::LockBroken => "lock_broken",
            EventKind::CodeShown => "code_shown",
            EventKind::AuditKeyCertified => "audit_key_certified",
            EventKind::AuditKeyRevoked => "audit_key_revoked",
            EventKind::RunnerClaimed => "runner_claimed",
            EventKind::ClaimTakenOver => "claim_taken_over",
            EventKind::CancelRequested => "cancel_requested",
            EventKind::NotificationFailed => "notification_failed",
            EventKind::DriftChecked => "drift_checked",
            EventKind::DriftFound => "drift_found",
            EventKind::TokenIssued => "token_issued",
            EventKind::TokenRevoked => "token_revoked",
            EventKind::LibraryEntryAdded => "library_entry_added",
            EventKind::LibraryEntryDeprecated => "library_entry_deprecated",
            EventKind::LibraryEntryApproved => "library_entry_approved",
            EventKind::LibraryEntryUsed => "library_entry_used",
            EventKind::ReportGenerated => "report_generated",
        }
    }
}

/// What happened to a trail that does not verify, in the words `audit verify` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// A record's content no longer matches its hash.
    Edited,
    /// Records are out of order (swapped, moved, duplicated).
    Reordered,
    /// Records are missing from the middle of the chain.
    Removed,
    /// Records are missing from the end (the chain is shorter than a checkpoint).
    Truncated,
    /// The chain was rewritten and signed again (a checkpointed hash differs).
    Resealed,
    /// The trail exists but holds no records, though checkpoints saw some.
    Emptied,
    /// The trail is gone, though checkpoints saw it.
    Deleted,
    /// A record is signed by a key this member neither pinned nor saw certified.
    UntrustedKey,
    /// A signature is missing, malformed or does not verify.
    BadSignature,
    /// A record does not link to the one before it.
    Unlinked,
    /// A record cannot be read.
    Unreadable,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::Edited => "edited",
            Tamper::Reordered => "reordered",
            Tamper::Removed => "removed",
            Tamper::Truncated => "truncated",
            Tamper::Resealed => "re-sealed",
            Tamper::Emptied => "emptied",
            Tamper::Deleted => "deleted",
            Tamper::UntrustedKey => "untrusted key",
            Tamper::BadSignature => "bad signature",
            Tamper::Unlinked => "unlinked",
            Tamper::Unreadable => "unreadable",
        }
    }
}

/// The request's status after this event (the spec's enum, plus rejected/expired/cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Executing,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Executing => "executing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

/// One audit event as the spec names its fields. Secrets are redacted before it is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub event_id: String,
    pub request_id: String,
    pub tenant_id: String,
    pub user_id: String,
    /// How the user was identified: `os`, `flag`, `env`, `mcp`, `mcp_token`, `aws`.
    pub user_source: String,
    /// The OS account that ran opsdeck, so `--user` impersonation is always visible.
    pub os_user: String,
    /// ISO 8601, UTC (see [`Stamp`]: kept exactly as written, as the hash covers it).
    pub timestamp: Stamp,
    pub event: EventKind,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_metadata: Option<Value>,
    /// URI of the execution log artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_logs: Option<String>,
    /// Estimated monthly cost impact in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_impact: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_gates: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// On `executing`: who the change was made as and where (account, role, region, runner),
    /// as AWS answered the process that ran it just before it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_receipt: Option<Value>,
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
    pub key: String,
    pub sig: String,
    pub event: AuditEvent,
}

/// Narrowing for `audit list`, the console's audit browser and exports.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub agent: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
    /// Plan id, request id or event id.
    pub subject: Option<String>,
    /// Bounds on the event's time, both inclusive.
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    pub limit: Option<usize>,
}

impl AuditFilter {
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.admits(&r.fields())
    }
}

impl AuditRecord {
    /// The fields a filter compares.
    pub fn fields(&self) -> query::Fields<'_> {
        let e = &self.event;
        query::Fields {
            user: &e.user_id,
            agent: e.agent_type.as_deref(),
            status: e.status.as_str(),
            event: e.event.as_str(),
            plan_id: e.plan_id.as_deref(),
            request_id: Some(&e.request_id),
            event_id: Some(&e.event_id),
            timestamp: e.timestamp.timestamp(),
            message: e.message.as_deref().unwrap_or(""),
        }
    }
}
