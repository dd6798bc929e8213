//! `audit export`: JSON or CSV with the chain fields, for external audit tools.
//!
//! Both go through [`crate::sanitize`]: JSON keeps every value exactly (what serde leaves raw,
//! such as U+2028 or a bidi override, is written as a `\uXXXX` escape); CSV cells are made
//! safe for a spreadsheet and a terminal (visible escapes, a `'` before a would-be formula), so
//! the JSON export is the one to recompute hashes from.

use std::io::Write;

use super::AuditRecord;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

pub fn write(records: &[AuditRecord], format: Format, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error::io("writing the export", e);
    match format {
        Format::Json => {
            let text = crate::sanitize::to_json_pretty(records)
                .map_err(|e| Error::io("writing the export", e.into()))?;
            writeln!(out, "{text}").map_err(io)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let header = [
                "seq",
                "hash",
                "prev",
                "key",
                "sig",
                "eventId",
                "requestId",
                "tenantId",
                "userId",
                "userSource",
                "osUser",
                "timestamp",
                "event",
                "status",
                "planId",
                "agentType",
                "intent",
                "approvalMetadata",
                "executionLogs",
                "costImpact",
                "securityGates",
                "artifacts",
                "message",
            ];
            w.write_record(header)
                .map_err(|e| Error::io("writing the export", e.into()))?;
            let j = |v: &Option<serde_json::Value>| {
                v.as_ref().map(|v| v.to_string()).unwrap_or_default()
            };
            for r in records {
                let e = &r.event;
                let row = [
                    r.seq.to_string(),
                    r.hash.clone(),
                    r.prev.clone(),
                    r.key.clone(),
                    r.sig.clone(),
                    e.event_id.clone(),
                    e.request_id.clone(),
                    e.tenant_id.clone(),
                    e.user_id.clone(),
                    e.user_source.clone(),
                    e.os_user.clone(),
                    e.timestamp.to_string(),
                    e.event.as_str().to_string(),
                    e.status.as_str().to_string(),
                    e.plan_id.clone().unwrap_or_default(),
                    e.agent_type.clone().unwrap_or_default(),
                    j(&e.intent),
                    j(&e.approval_metadata),
                    e.execution_logs.clone().unwrap_or_default(),
                    e.cost_impact.map(|c| format!("{c:.2}")).unwrap_or_default(),
                    j(&e.security_gates),
                    serde_json::Value::Array(e.artifacts.clone()).to_string(),
                    e.message.clone().unwrap_or_default(),
                ];
                let safe: Vec<_> = row.iter().map(|c| crate::sanitize::csv_cell(c)).collect();
                w.write_record(safe.iter().map(|c| c.as_bytes()))
                    .map_err(|e| Error::io("writing the export", e.into()))?;
            }
            w.flush().map_err(io)?;
        }
    }
    Ok(())
}
