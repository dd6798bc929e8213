//! An audit event as a row of the trail's listing: the same columns in the CLI's `audit list`
//! and the console's audit browser. The full record (chain fields, every spec field) is the
//! detail view, shown as JSON.

use serde::Serialize;

use crate::audit::{AuditRecord, EventKind, Status};

/// The listing's columns, in order.
pub const COLUMNS: [&str; 8] = [
    "SEQ", "TIME", "USER", "EVENT", "STATUS", "AGENT", "PLAN", "MESSAGE",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRowView<'a> {
    pub seq: u64,
    /// ISO 8601, UTC.
    pub time: String,
    pub user: &'a str,
    pub event: EventKind,
    pub status: Status,
    pub agent: Option<&'a str>,
    pub plan_id: Option<&'a str>,
    pub message: &'a str,
}

impl<'a> AuditRowView<'a> {
    pub fn of(r: &'a AuditRecord) -> AuditRowView<'a> {
        let e = &r.event;
        AuditRowView {
            seq: r.seq,
            time: e.timestamp.to_string(),
            user: &e.user_id,
            event: e.event,
            status: e.status,
            agent: e.agent_type.as_deref(),
            plan_id: e.plan_id.as_deref(),
            message: e.message.as_deref().unwrap_or_default(),
        }
    }

    /// The cells under [`COLUMNS`]; `absent` stands for a missing agent or plan.
    pub fn cells(&self, absent: &'a str) -> [String; 8] {
        [
            self.seq.to_string(),
            self.time.clone(),
            self.user.to_string(),
            self.event.as_str().to_string(),
            self.status.as_str().to_string(),
            self.agent.unwrap_or(absent).to_string(),
            self.plan_id.unwrap_or(absent).to_string(),
            self.message.to_string(),
        ]
    }
}
