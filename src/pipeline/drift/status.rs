//! The latest drift check of each stack, as the trail has it (`drift_checked` events): what the
//! Reports pane shows, whoever ran the check and whichever stacks it named.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::Drift;
use super::DriftStatus;
use crate::audit::{AuditRecord, EventKind};
use crate::error::Result;
use crate::tenant::Role;

/// One stack's latest check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackDriftStatus {
    pub stack: String,
    pub status: DriftStatus,
    /// Resources that differ (drifted stacks).
    pub resources: u64,
    /// Why the stack was not checked.
    pub reason: Option<String>,
    pub checked_at: String,
    pub checked_by: String,
}

impl Drift<'_> {
    /// The latest check of every stack ever checked, by stack name.
    pub fn latest_by_stack(&self) -> Result<Vec<StackDriftStatus>> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "read drift checks",
        )?;
        let mut by_stack: std::collections::BTreeMap<String, StackDriftStatus> = Default::default();
        self.scan_trail(&mut |r| {
            if let Some(s) = stack_status(&r) {
                by_stack.insert(s.stack.clone(), s);
            }
            true
        })?;
        Ok(by_stack.into_values().collect())
    }
}

fn stack_status(r: &AuditRecord) -> Option<StackDriftStatus> {
    if r.event.event != EventKind::DriftChecked {
        return None;
    }
    let meta = r.event.approval_metadata.as_ref()?;
    let stack = meta.get("stack").and_then(Value::as_str)?.to_string();
    let status: DriftStatus = serde_json::from_value(meta.get("status")?.clone()).ok()?;
    Some(StackDriftStatus {
        stack,
        status,
        resources: meta.get("resources").and_then(Value::as_u64).unwrap_or(0),
        reason: meta
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        checked_at: r.event.timestamp.to_string(),
        checked_by: r.event.user_id.clone(),
    })
}
