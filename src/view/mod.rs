//! What every front end shows, as plain data: one view model per thing shown, built from the
//! core's records by pure functions (no I/O), rendered by the CLI as text lines, by the console
//! as styled spans and by MCP as JSON text. A wording or a symbol is decided here once, so a
//! replaced resource or a plan's next step reads the same everywhere.
//!
//! - [`plan`]: a plan (header, reading, steps, resource changes, gates, cost, approval, next).
//! - [`aws_change`]: a plan's AWS API calls as a change list (each target, before → after).
//! - [`change`]: the change symbols (`+ ~ - -/+`, Terraform's) and their counts.
//! - [`approval`]: where a plan stands with its approvals and who may give them.
//! - [`decision`]: what was decided about a plan and what came of it, and what changed since.
//! - [`next_step`]: what happens next to a plan, in each front end's words.
//! - [`report`]: an answer's tables, charts and notes.
//! - [`stored_report`]: stored reports' rows (fresh, stale, error) and what changed between runs.
//! - [`audit_row`]: an audit event as a row of the trail's listing.
//! - [`identity`]: who you are proven to be, and how.
//! - [`notify`]: notifications still to send, or given up, in the status bar.
//! - [`drift`]: a drift check, stack by stack (recorded → actual), and its status-bar badge.
//! - [`phrase`]: suggestions as a request is typed, from the tenant's past requests.
//! - [`quick_action`]: the requests a row of an answer's table offers (remediate, restart, tail).
//! - [`reading`]: a low-confidence change's readings, numbered to pick one.
//! - [`receipt`]: who an apply will act as and where (account, role, region, runner).
//! - [`completion`]: the word being typed completed from the names the tenant's requests used.
//! - [`verify`]: what `audit verify` found and what it compared the chain with.
//! - [`suggestions`]: what the tenant's past suggests, one line each.
//!
//! The `--json` output and MCP's structured results are contracts: they serialise the records
//! themselves, never these views.

pub mod approval;
pub mod audit_row;
pub mod aws_change;
pub mod change;
pub mod completion;
pub mod decision;
pub mod drift;
pub mod identity;
pub mod library;
pub mod next_step;
pub mod notify;
pub mod phrase;
pub mod plan;
pub mod quick_action;
pub mod reading;
pub mod receipt;
pub mod report;
pub mod stored_report;
pub mod suggestions;
pub mod verify;

pub use approval::ApprovalView;
pub use audit_row::AuditRowView;
pub use aws_change::AwsChangeView;
pub use drift::{DriftBadge, DriftView};
pub use identity::IdentityView;
pub use next_step::NextStep;
pub use notify::NotifyBadge;
pub use plan::PlanView;
pub use receipt::ReceiptView;
pub use report::{OutputView, ReportView};

/// A pending plan of alice's with a replacement among its resources, read from the stored
/// record's JSON (the shape old stores hold).
#[cfg(test)]
pub(crate) fn test_record() -> crate::approval::PlanRecord {
    let intent = serde_json::json!({
        "agent": "infra", "agents": ["infra"], "action": "create", "confidence": 0.91,
        "low_confidence": false, "params": {"count": 2, "region": "eu-west-1"},
    });
    serde_json::from_value(serde_json::json!({
        "plan": {
            "plan_id": "p-test000001", "request_id": "r-test000001", "tenant": "default",
            "requester": "alice", "requester_source": "os", "created_at": "2026-11-24T10:00:00Z",
            "request": "create 2 t3.medium in eu-west-1 stack web", "intent": intent,
            "agent": "infra", "agents": ["infra"], "action": "create",
            "summary": "create stack web in eu-west-1: 2 × t3.medium", "stack": "web",
            "region": "eu-west-1",
            "steps": [{"description": "terraform apply of stack web", "mutates": true,
                       "type": "terraform", "stack": "web", "operation": "apply"}],
            "artifacts": [{"name": "main.tf", "kind": "terraform", "sha256": "ab12", "size": 120}],
            "resources": [
                {"address": "aws_instance.this", "action": "create", "count": 2},
                {"address": "aws_security_group.this", "action": "replace", "count": 1},
                {"address": "aws_lb.this", "action": "create", "count": 1},
            ],
            "mutates": true, "risk": "medium", "risk_reasons": ["creates billable resources"],
            "cost": {"monthly_usd": 131.31, "lines": [], "source": "bundled price table",
                     "price_date": "2025-01-15"},
            "gates": [
                {"rule": "policy.summary", "result": "pass", "reason": "no deny or warn"},
                {"rule": "dry_run.terraform", "result": "info", "reason": "no terraform plan"},
            ],
            "requires_approval": true,
            "content_hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        },
        "state": "pending", "required_approvals": 1, "approval_rule": "",
        "approver_roles": ["approver", "admin"], "approvals": [], "expires_at": 0,
        "approved_ttl_secs": 3600, "executions": [], "updated_at": "2026-11-24T10:00:00Z",
    }))
    .expect("the test record is a stored plan record")
}
