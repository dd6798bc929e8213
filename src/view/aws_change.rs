//! A plan's AWS API calls as a reviewer reads them: each call (service, operation, region, the
//! agent that makes it), each target with what the agent saw of it while planning (name, tags,
//! state) and the state it is expected in after (`running → terminated`), then the call's other
//! parameters. Built from the plan record alone, so the console's diff pane and approve overlay,
//! `opsdeck plans show` and MCP say the same. Terraform and Ansible plans are shown as file diffs;
//! a plan without AWS API steps has an empty change list.
//!
//! What the agent saw of a target is in the step's input under [`TARGETS_SEEN`] (covered by the
//! plan's hash, like the targets). Steps planned before it was recorded, or by agents that do not
//! record it, show their targets by id with the state unknown.

use serde::Serialize;
use serde_json::Value;

use super::change::symbol;
use crate::plan::{ChangeAction, Plan, StepKind};

/// The step input key under which an agent records what it saw of each target while planning:
/// a list of `{"id", "name", "state", "tags": ["Key=value", …]}` objects.
pub const TARGETS_SEEN: &str = "targets_seen";

/// One entry of [`TARGETS_SEEN`]: what an agent saw of a target while planning.
pub fn target_seen(id: &str, name: &str, state: &str, tags: &[String]) -> Value {
    serde_json::json!({"id": id, "name": name, "state": state, "tags": tags})
}

/// Every AWS API call of a plan, in step order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsChangeView<'a> {
    pub calls: Vec<CallView<'a>>,
}

/// One AWS API step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallView<'a> {
    /// 1-based, as the plan's steps are numbered.
    pub step: usize,
    pub description: &'a str,
    pub agent: &'static str,
    pub service: &'a str,
    pub operation: &'a str,
    pub region: &'a str,
    /// What the call does to its targets, in Terraform's convention.
    pub action: ChangeAction,
    pub symbol: &'static str,
    pub targets: Vec<TargetView>,
    /// The call's other parameters, flattened: (`health.expect`, `running`).
    pub params: Vec<(String, String)>,
}

/// One target of a call and what happens to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetView {
    pub id: String,
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// The state the agent saw while planning; None when it recorded none.
    pub before: Option<String>,
    /// The state the call leaves it in.
    pub after: String,
}

impl TargetView {
    /// `running → terminated`, or `? → terminated` when the state before was not recorded.
    pub fn transition(&self) -> String {
        format!("{} → {}", self.before.as_deref().unwrap_or("?"), self.after)
    }

    /// `i-0abc  web-1  Env=prod  running → terminated`.
    pub fn line(&self) -> String {
        let mut parts = vec![self.id.clone()];
        if let Some(n) = &self.name {
            parts.push(n.clone());
        }
        if !self.tags.is_empty() {
            parts.push(self.tags.join(","));
        }
        parts.push(self.transition());
        parts.join("  ")
    }
}

impl<'a> AwsChangeView<'a> {
    pub fn of(plan: &'a Plan) -> AwsChangeView<'a> {
        let calls = plan
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.kind {
                StepKind::Aws {
                    agent,
                    service,
                    operation,
                    region,
                    targets,
                    input,
                } => Some(CallView::of(
                    i + 1,
                    &s.description,
                    agent.as_str(),
                    (service, operation, region),
                    targets,
                    input,
                )),
                _ => None,
            })
            .collect();
        AwsChangeView { calls }
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// How many targets all calls touch.
    pub fn target_count(&self) -> usize {
        self.calls.iter().map(|c| c.targets.len()).sum()
    }

    /// The change list as text lines (the CLI prints them, tests read them).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.calls {
            out.push(c.header());
            out.push(format!("  {}", c.description));
            for t in &c.targets {
                out.push(format!("  {} {}", c.symbol, t.line()));
            }
            for (k, v) in &c.params {
                out.push(format!("    {k} = {v}"));
            }
        }
        out
    }
}

impl<'a> CallView<'a> {
    fn of(
        step: usize,
        description: &'a str,
        agent: &'static str,
        (service, operation, region): (&'a str, &'a str, &'a str),
        targets: &[String],
        input: &Value,
    ) -> CallView<'a> {
        let action = action_of(operation);
        let after = after_of(operation, input);
        let seen = input[TARGETS_SEEN].as_array();
        let targets = targets
            .iter()
            .map(|id| {
                let s = seen
                    .and_then(|all| all.iter().find(|t| t["id"].as_str() == Some(id)))
                    .unwrap_or(&Value::Null);
                let text = |k: &str| s[k].as_str().filter(|v| !v.is_empty()).map(str::to_string);
                TargetView {
                    id: id.clone(),
                    name: text("name"),
                    tags: s["tags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                    before: text("state"),
                    after: after.clone(),
                }
            })
            .collect();
        let mut params = Vec::new();
        if let Value::Object(m) = input {
            for (k, v) in m {
                if k != TARGETS_SEEN {
                    flatten(k, v, &mut params);
                }
            }
        }
        CallView {
            step,
            description,
            agent,
            service,
            operation,
            region,
            action,
            symbol: symbol(action),
            targets,
            params,
        }
    }

    /// `step 1  ec2 TerminateInstances in eu-west-1 · 2 targets · by the ops agent`.
    pub fn header(&self) -> String {
        format!(
            "step {}  {} {} in {} · {} target{} · by the {} agent",
            self.step,
            self.service,
            self.operation,
            self.region,
            self.targets.len(),
            if self.targets.len() == 1 { "" } else { "s" },
            self.agent
        )
    }
}

/// What an operation does to its targets, read from its verb.
fn action_of(operation: &str) -> ChangeAction {
    const DESTROY: [&str; 4] = ["Terminate", "Delete", "Remove", "Deregister"];
    const CREATE: [&str; 3] = ["Create", "Run", "Allocate"];
    if DESTROY.iter().any(|v| operation.starts_with(v)) {
        ChangeAction::Delete
    } else if CREATE.iter().any(|v| operation.starts_with(v)) {
        ChangeAction::Create
    } else {
        ChangeAction::Update
    }
}

/// The state a target is left in: what the step waits for (`health.expect`) when it says,
/// else what the operation's verb means.
fn after_of(operation: &str, input: &Value) -> String {
    let expect: Vec<&str> = input["health"]["expect"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !expect.is_empty() {
        let mut s = expect.join("/");
        if operation.starts_with("Reboot") {
            s = format!("rebooted, {s}");
        }
        return s;
    }
    const VERBS: [(&str, &str); 12] = [
        ("Terminate", "terminated"),
        ("Stop", "stopped"),
        ("Start", "running"),
        ("Reboot", "rebooted"),
        ("Delete", "deleted"),
        ("Remove", "removed"),
        ("Create", "created"),
        ("Put", "set"),
        ("Send", "sent"),
        ("Rotate", "rotated"),
        ("Update", "updated"),
        ("Modify", "modified"),
    ];
    VERBS
        .iter()
        .find(|(v, _)| operation.starts_with(v))
        .map_or_else(|| format!("after {operation}"), |(_, s)| s.to_string())
}

/// `{"health": {"expect": ["running"]}}` → (`health.expect`, `running`).
fn flatten(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
        Value::Array(a) => out.push((
            key.to_string(),
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        )),
        Value::String(s) => out.push((key.to_string(), s.clone())),
        Value::Null => {}
        other => out.push((key.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::test_record;

    fn terminate_plan() -> Plan {
        let mut rec = test_record();
        rec.plan.steps = vec![
            serde_json::from_value(serde_json::json!({
                "description": "Terminate 2 instances tagged Env=prod in eu-west-1",
                "mutates": true, "type": "aws", "agent": "ops", "service": "ec2",
                "operation": "TerminateInstances", "region": "eu-west-1",
                "targets": ["i-0aaa", "i-0bbb"],
                "input": {"health": {"expect": ["terminated"], "status_checks": false},
                          "wait_secs": 300,
                          "targets_seen": [{"id": "i-0aaa", "name": "web-1", "state": "running",
                                            "tags": ["Env=prod", "Role=web"]}]},
            }))
            .unwrap(),
        ];
        rec.plan
    }

    #[test]
    fn each_target_with_what_was_seen_and_what_it_becomes() {
        let p = terminate_plan();
        let v = AwsChangeView::of(&p);
        assert_eq!(v.calls.len(), 1);
        let c = &v.calls[0];
        assert_eq!((c.symbol, c.action), ("-", ChangeAction::Delete));
        assert_eq!(
            c.targets[0].line(),
            "i-0aaa  web-1  Env=prod,Role=web  running → terminated"
        );
        // Not recorded: said as unknown, never guessed.
        assert_eq!(c.targets[1].line(), "i-0bbb  ? → terminated");
        assert_eq!(v.target_count(), 2);
        let lines = v.lines();
        assert_eq!(
            lines[0],
            "step 1  ec2 TerminateInstances in eu-west-1 · 2 targets · by the ops agent"
        );
        assert!(
            lines.contains(&"    health.expect = terminated".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"    wait_secs = 300".to_string()),
            "{lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("targets_seen")),
            "{lines:?}"
        );
    }

    #[test]
    fn operations_read_by_their_verb() {
        assert_eq!(action_of("PutPublicAccessBlock"), ChangeAction::Update);
        assert_eq!(action_of("CreateSnapshot"), ChangeAction::Create);
        assert_eq!(action_of("DeleteAlarms"), ChangeAction::Delete);
        let restart = serde_json::json!({"health": {"expect": ["running"]}});
        assert_eq!(after_of("RebootInstances", &restart), "rebooted, running");
        assert_eq!(after_of("PutMetricAlarm", &Value::Null), "set");
        assert_eq!(after_of("Frobnicate", &Value::Null), "after Frobnicate");
    }

    #[test]
    fn a_terraform_plan_has_no_calls() {
        let rec = test_record();
        assert!(AwsChangeView::of(&rec.plan).is_empty());
    }
}
