//! Output schemas of the MCP tools (`outputSchema`), and the MIME types of the resources.
//!
//! Each schema names the fields a client may rely on (the contract of [`super::plan_summary`],
//! the intent, the plan record, the trail's records) and leaves room for more: clients such as
//! the official SDKs validate every `structuredContent` against them.

use std::sync::Arc;

use rmcp::model::JsonObject;
use serde_json::{Value, json};

fn object(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("schemas are JSON objects"),
    }
}

fn agent() -> Value {
    json!({"type": "string", "enum": ["infra", "config", "ops", "cost", "security", "monitor", "ml"]})
}

fn plan_summary() -> Value {
    json!({
        "type": "object",
        "required": ["plan_id", "state", "summary", "agent", "action", "risk", "requires_approval", "requester", "content_hash", "next"],
        "properties": {
            "plan_id": {"type": "string"},
            "state": {"type": "string"},
            "summary": {"type": "string"},
            "agent": agent(),
            "agents": {"type": "array", "items": agent()},
            "action": {"type": "string"},
            "risk": {"type": "string"},
            "cost_monthly_usd": {"type": ["number", "null"]},
            "cost_delta_usd": {"type": ["number", "null"]},
            "cost": {"type": "string"},
            "gates": {"type": "array"},
            "resources": {"type": "array"},
            "requires_approval": {"type": "boolean"},
            "required_approvals": {"type": "integer"},
            "requester": {"type": "string"},
            "content_hash": {"type": "string"},
            "next": {"type": "string"}
        }
    })
}

/// `classify`: the intent.
pub fn intent() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["agent", "agents", "action", "confidence", "low_confidence", "params"],
        "properties": {
            "agent": agent(),
            "agents": {"type": "array", "items": agent()},
            "action": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "low_confidence": {"type": "boolean"},
            "params": {"type": "object"},
            "evidence": {"type": "array"},
            "notes": {"type": "array", "items": {"type": "string"}},
            "source": {"type": "string"}
        }
    }))
}

/// `ask` and the agent-specific questions: a queued plan, or a report (read-only answers).
pub fn answer() -> Arc<JsonObject> {
    let mut report = json!({
        "type": "object",
        "required": ["request_id", "agent", "action", "summary", "report_uri"],
        "properties": {
            "request_id": {"type": "string"},
            "agent": agent(),
            "action": {"type": "string"},
            "summary": {"type": "string"},
            "outputs": {},
            "notes": {"type": "array"},
            "data": {},
            "report_uri": {"type": "string"}
        }
    });
    report["title"] = json!("report");
    let mut plan = plan_summary();
    plan["title"] = json!("plan");
    object(json!({"type": "object", "anyOf": [plan, report]}))
}

/// `show_plan`: the stored plan record.
/// What `cancel` stopped: the session's running requests, or a plan (its state after).
pub fn cancelled() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["cancelled"],
        "properties": {
            "cancelled": {"type": "string", "enum": ["running requests", "plan"]},
            "plan_id": {"type": "string"},
            "state": {"type": "string"},
        }
    }))
}

pub fn plan_record() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["plan", "state", "required_approvals", "approvals", "updated_at"],
        "properties": {
            "plan": {
                "type": "object",
                "required": ["plan_id", "request_id", "agent", "action", "summary", "content_hash"],
                "properties": {
                    "plan_id": {"type": "string"},
                    "request_id": {"type": "string"},
                    "agent": agent(),
                    "action": {"type": "string"},
                    "summary": {"type": "string"},
                    "content_hash": {"type": "string"},
                    "artifacts": {"type": "array"}
                }
            },
            "state": {"type": "string"},
            "required_approvals": {"type": "integer"},
            "approvals": {"type": "array"},
            "executions": {"type": "array"},
            "updated_at": {"type": "string"},
            "artifact_contents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "sha256", "content"],
                    "properties": {
                        "name": {"type": "string"},
                        "sha256": {"type": "string"},
                        "content": {"type": "string"}
                    }
                }
            }
        }
    }))
}

/// `list_approvals`: pending plans, newest first.
pub fn pending_plans() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["plans"],
        "properties": {"plans": {"type": "array", "items": plan_summary()}}
    }))
}

/// `audit_search`: records of the trail, with their chain fields.
pub fn audit_records() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["seq", "hash", "event"],
                    "properties": {
                        "seq": {"type": "integer"},
                        "event": {
                            "type": "object",
                            "required": ["eventId", "tenantId", "userId", "userSource", "timestamp", "event", "status"],
                            "properties": {
                                "eventId": {"type": "string"},
                                "tenantId": {"type": "string"},
                                "userId": {"type": "string"},
                                "userSource": {"type": "string"},
                                "timestamp": {"type": "string"},
                                "event": {"type": "string"},
                                "status": {"type": "string"}
                            }
                        },
                        "hash": {"type": "string"}
                    }
                }
            }
        }
    }))
}

/// `explain`: which words led to which agent, action and parameters.
pub fn explanation() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["agent", "agents", "action", "confidence", "routed_by", "parameters"],
        "properties": {
            "agent": agent(),
            "agents": {"type": "array", "items": agent()},
            "action": {"type": "string"},
            "confidence": {"type": "number"},
            "low_confidence": {"type": "boolean"},
            "routed_by": {"type": "array"},
            "parameters": {"type": "object"},
            "notes": {"type": "array", "items": {"type": "string"}}
        }
    }))
}

pub fn suggestions() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["suggestions"],
        "properties": {
            "suggestions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["repeated", "denied_by_gate", "costlier"]}
                    }
                }
            }
        }
    }))
}

fn library_version() -> Value {
    json!({
        "type": "object",
        "required": ["name", "version", "sha256", "added"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "sha256": {"type": "string"},
            "added": {"type": "object"},
            "deprecated": {"type": "object"},
            "approvals": {"type": "array"},
            "used_by": {"type": "array"},
            "serves": {"type": "string"}
        }
    })
}

/// `library_list` and `library_search`: entries with their latest version's words.
pub fn library_entries() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["entries"],
        "properties": {
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "kind", "description", "tags", "owner", "latest", "versions", "deprecated", "uses"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string", "enum": ["terraform", "ansible", "role", "script"]},
                        "description": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "owner": {"type": "string"},
                        "latest": {"type": "integer"},
                        "versions": {"type": "integer"},
                        "deprecated": {"type": "boolean"},
                        "uses": {"type": "integer"}
                    }
                }
            },
            "built_in": {"type": "array"}
        }
    }))
}

/// `library_show`: the version asked for (with its manifest) and every version of the entry.
pub fn library_entry() -> Arc<JsonObject> {
    let mut version = library_version();
    version["required"] = json!(["name", "version", "sha256", "added", "manifest"]);
    version["properties"]["manifest"] = json!({
        "type": "object",
        "required": ["name", "kind", "files"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "description": {"type": "string"},
            "tags": {"type": "array"},
            "params": {"type": "array"},
            "files": {"type": "array"}
        }
    });
    object(json!({
        "type": "object",
        "required": ["version", "versions"],
        "properties": {
            "version": version,
            "versions": {"type": "array", "items": library_version()},
            "script": {"type": "string"}
        }
    }))
}

/// `library_diff`: the two versions and `library diff`'s text.
pub fn library_diff() -> Arc<JsonObject> {
    object(json!({
        "type": "object",
        "required": ["a", "b", "diff"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "string"},
            "diff": {"type": "string"}
        }
    }))
}

/// What an artifact is, from its name: the type clients use to render or parse it.
pub fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => "application/json",
        Some("jsonl") => "application/x-ndjson",
        Some("yml" | "yaml") => "application/yaml",
        // HashiCorp configuration language (Terraform files) has no registered type.
        Some("tf" | "tfvars" | "hcl") => "text/x-hcl",
        Some("md") => "text/markdown",
        Some("csv") => "text/csv",
        Some("sh") => "text/x-shellscript",
        Some("py") => "text/x-python",
        Some("rego") => "text/x-rego",
        _ => "text/plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_types_follow_their_names() {
        assert_eq!(mime_of("main.tf"), "text/x-hcl");
        assert_eq!(mime_of("playbook.yml"), "application/yaml");
        assert_eq!(mime_of("report.json"), "application/json");
        assert_eq!(mime_of("inventory.ini"), "text/plain");
        assert_eq!(mime_of("README"), "text/plain");
    }
}
