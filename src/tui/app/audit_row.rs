//! An audit event as the console's browser keeps it: compact enough for 100k rows in memory.
//! The detail view reloads the full record.

use std::sync::Arc;

use crate::audit::{AuditRecord, EventKind, Status};

pub use crate::audit::query::AuditQuery;

/// An audit event as the browser lists it: users and agents shared, the hash as bytes, the
/// message capped.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: u64,
    pub timestamp: crate::time::Stamp,
    pub user: Arc<str>,
    pub event: EventKind,
    pub status: Status,
    pub agent: Option<Arc<str>>,
    pub plan_id: Option<Box<str>>,
    pub message: Box<str>,
    pub hash: [u8; 32],
}

/// Shares the few distinct user and agent names among all rows.
#[derive(Default)]
pub struct Interner(std::collections::HashMap<String, Arc<str>>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

/// Longest message kept per row; the detail view shows all of it.
const ROW_MESSAGE: usize = 160;

impl AuditRow {
    pub fn from_record(r: &AuditRecord, names: &mut Interner) -> AuditRow {
        let e = &r.event;
        let message = e.message.as_deref().unwrap_or_default();
        let message = if message.len() > ROW_MESSAGE {
            crate::tui::text::fit(message, ROW_MESSAGE - 1)
        } else {
            message.to_string()
        };
        AuditRow {
            seq: r.seq,
            timestamp: e.timestamp.clone(),
            user: names.get(&e.user_id),
            event: e.event,
            status: e.status,
            agent: e.agent_type.as_deref().map(|a| names.get(a)),
            plan_id: e.plan_id.as_deref().map(Box::from),
            message: message.into(),
            hash: hash_bytes(&r.hash),
        }
    }

    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The fields an audit filter compares (a row keeps no request or event id).
    pub fn fields(&self) -> crate::audit::query::Fields<'_> {
        crate::audit::query::Fields {
            user: &self.user,
            agent: self.agent.as_deref(),
            status: self.status.as_str(),
            event: self.event.as_str(),
            plan_id: self.plan_id.as_deref(),
            request_id: None,
            event_id: None,
            timestamp: self.timestamp.timestamp(),
            message: &self.message,
        }
    }
}

/// A chain hash as bytes (zeros when it is not 64 hex digits: verify reports that record).
pub fn hash_bytes(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let _ = hex::decode_to_slice(h, &mut out);
    out
}
