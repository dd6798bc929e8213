//! One audit record as an OCSF event of class API Activity (6003, category Application
//! Activity): who did what to which plan, when, and how it ended, with the chain fields kept
//! under `unmapped` so a SIEM rule can tie an alert back to the record that proves it.

use serde_json::{Value, json};

use crate::audit::{AuditRecord, EventKind, Status};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.1.0";
const CLASS_UID: u64 = 6003;
const CATEGORY_UID: u64 = 6;

/// The event of one record of `tenant`'s trail.
pub fn event(tenant: &str, r: &AuditRecord) -> Value {
    let e = &r.event;
    let (activity_id, activity_name) = activity(e.event);
    let (severity_id, severity) = severity(e.event, e.status);
    let (status_id, status) = match (e.event, e.status) {
        (EventKind::AccessDenied | EventKind::NotificationFailed, _) | (_, Status::Failed) => {
            (2, "Failure")
        }
        _ => (1, "Success"),
    };
    let mut unmapped = json!({
        "seq": r.seq,
        "hash": r.hash,
        "prev": r.prev,
        "key": r.key,
        "sig": r.sig,
        "event": e.event.as_str(),
        "status": e.status.as_str(),
        "user_source": e.user_source,
    });
    let extra = [
        ("agent_type", e.agent_type.clone().map(Value::String)),
        ("cost_impact_usd", e.cost_impact.map(|c| json!(c))),
        ("approval_metadata", e.approval_metadata.clone()),
        ("security_gates", e.security_gates.clone()),
        ("identity_receipt", e.identity_receipt.clone()),
    ];
    for (k, v) in extra {
        if let Some(v) = v {
            unmapped[k] = v;
        }
    }
    let mut ev = json!({
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": format!("API Activity: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "time": e.timestamp.timestamp().as_millisecond(),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": e.event_id,
            "tenant_uid": tenant,
            "sequence": r.seq,
            "log_name": "audit",
            "original_time": e.timestamp.to_string(),
            "correlation_uid": e.request_id,
            "product": {
                "name": "opsdeck",
                "vendor_name": "opsdeck",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "actor": { "user": { "uid": e.user_id, "name": e.user_id } },
        "api": {
            "operation": e.event.as_str(),
            "service": { "name": "opsdeck" },
            "request": { "uid": e.request_id },
        },
        "unmapped": unmapped,
    });
    if let Some(m) = &e.message {
        ev["message"] = Value::String(m.clone());
    }
    if let Some(p) = &e.plan_id {
        ev["resources"] = json!([{ "uid": p, "type": "plan" }]);
    }
    ev
}

/// OCSF API Activity ids: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
fn activity(kind: EventKind) -> (u64, &'static str) {
    use EventKind::*;
    match kind {
        Requested | Planned | Queued | UserAdded | TokenIssued | AuditKeyCertified
        | LibraryEntryAdded | ReportGenerated => (1, "Create"),
        Classified | PolicyEvaluated | Answered | CodeShown | DriftChecked | LibraryEntryUsed => {
            (2, "Read")
        }
        Approved
        | Rejected
        | Expired
        | Executing
        | Completed
        | Failed
        | Cancelled
        | SettingsChanged
        | RunnerClaimed
        | ClaimTakenOver
        | CancelRequested
        | LockBroken
        | DriftFound
        | LibraryEntryDeprecated
        | LibraryEntryApproved => (3, "Update"),
        TokenRevoked | AuditKeyRevoked => (4, "Delete"),
        AccessDenied | NotificationFailed => (99, "Other"),
    }
}

/// What deserves a look: refusals, broken locks, taken-over claims, drift and revoked keys
/// (Medium); failures and rejections (Low); the rest is Informational.
fn severity(kind: EventKind, status: Status) -> (u64, &'static str) {
    use EventKind::*;
    match kind {
        AccessDenied | LockBroken | ClaimTakenOver | DriftFound | AuditKeyRevoked
        | NotificationFailed => (3, "Medium"),
        Failed | Rejected => (2, "Low"),
        _ if status == Status::Failed => (2, "Low"),
        _ => (1, "Informational"),
    }
}
