//! The policy input document: the plan, its resources read from the generated Terraform (parsed
//! with hcl-rs), the commands and IAM calls it would make, cost, time and tenant settings.

use serde_json::{Map, Value, json};

use crate::plan::{ChangeAction, Plan};
use crate::tenant::{PolicyConfig, Role};

pub struct InputParts<'a> {
    pub plan: &'a Plan,
    /// Terraform files of the plan (name, text).
    pub terraform: &'a [(String, String)],
    /// Ansible files of the plan (name, text): their tasks are `ansible.tasks`.
    pub ansible: &'a [(String, String)],
    pub requester_roles: &'a [Role],
    pub config: &'a PolicyConfig,
    pub now: jiff::Timestamp,
}

pub fn build(parts: &InputParts<'_>) -> Value {
    let p = parts.plan;
    let destroying = p.action == "destroy";
    let mut resources = Vec::new();
    let mut provider = json!({});
    for (name, text) in parts.terraform {
        let body: Value = match hcl::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                // Unparseable Terraform is reported as a resource the policies cannot read.
                resources.push(
                    json!({"address": format!("(unparsed {name})"), "type": "unparsed",
                    "name": name, "mode": "managed", "change": "create",
                    "attributes": {"error": e.to_string()}}),
                );
                continue;
            }
        };
        if let Some(types) = body.get("resource").and_then(Value::as_object) {
            for (rtype, named) in types {
                for (rname, attrs) in named.as_object().into_iter().flatten() {
                    resources.push(json!({
                        "address": format!("{rtype}.{rname}"),
                        "type": rtype,
                        "name": rname,
                        "mode": "managed",
                        "change": if destroying { "delete" } else { "create" },
                        "attributes": attrs,
                    }));
                }
            }
        }
        if let Some(aws) = body.get("provider").and_then(|p| p.get("aws")) {
            // One provider block per stack in our templates; an aliased list takes the first.
            let aws = aws.as_array().and_then(|a| a.first()).unwrap_or(aws);
            provider = json!({
                "region": aws.get("region").cloned().unwrap_or(Value::Null),
                "default_tags": aws.get("default_tags")
                    .map(|d| d.as_array().and_then(|a| a.first()).unwrap_or(d))
                    .and_then(|d| d.get("tags")).cloned().unwrap_or_else(|| json!({})),
            });
        }
    }
    // Plans without Terraform still describe what they change.
    if parts.terraform.is_empty() {
        for r in &p.resources {
            resources.push(
                json!({"address": r.address, "type": r.address.split('.').next().unwrap_or(""),
                "name": r.address.split('.').nth(1).unwrap_or(""), "mode": "managed",
                "change": if r.action == ChangeAction::Delete { "delete" } else { "create" },
                "attributes": {}}),
            );
        }
    }
    let mut commands: Vec<String> = if p.agent == crate::intent::AgentKind::Ops {
        p.intent.params.command.iter().cloned().collect()
    } else {
        Vec::new()
    };
    // The commands the plan's SSM steps will actually send are judged too, not only the request.
    // A library script is not a command: it is `script` (its lines, shell and version).
    let mut script = Value::Null;
    for step in &p.steps {
        if let crate::plan::StepKind::Aws {
            operation, input, ..
        } = &step.kind
            && operation == "SendCommand"
        {
            if let Some(s) = crate::library::script::policy_input(input) {
                script = s;
                continue;
            }
            for c in input["commands"].as_array().into_iter().flatten() {
                if let Some(c) = c.as_str()
                    && !commands.iter().any(|x| x == c)
                {
                    commands.push(c.to_string());
                }
            }
        }
    }
    let zoned = parts.now.to_zoned(jiff::tz::TimeZone::UTC);
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [zoned.weekday().to_monday_zero_offset() as usize];
    let mut plan = Map::new();
    plan.insert("id".into(), json!(p.plan_id));
    plan.insert("agent".into(), json!(p.agent));
    plan.insert("action".into(), json!(p.action));
    plan.insert("mutates".into(), json!(p.mutates));
    plan.insert("risk".into(), json!(p.risk));
    plan.insert("stack".into(), json!(p.stack));
    plan.insert("region".into(), json!(p.region));
    plan.insert("environment".into(), json!(p.intent.params.environment));
    plan.insert("requester".into(), json!(p.requester));
    plan.insert("requester_roles".into(), json!(parts.requester_roles));
    json!({
        "plan": plan,
        "resources": resources,
        "provider": provider,
        "commands": commands,
        "script": script,
        "iam_actions": [],
        // What the plan's playbooks do, task by task (policy/ansible.rs).
        "ansible": {"tasks": super::ansible::tasks(parts.ansible)},
        // The change against what the stack costs now (null for a new stack), so budget rules
        // can judge the change a plan makes rather than the stack's whole bill.
        "cost": {"monthly_usd": p.cost.monthly_usd, "delta_usd": p.cost.delta_usd(),
            "current_monthly_usd": p.cost.current.as_ref().map(|c| c.monthly_usd),
            "source": p.cost.source, "price_date": p.cost.price_date},
        "context": {"tenant": p.tenant, "now": {"weekday": weekday,
            "hour": zoned.hour(), "minute": zoned.minute()}},
        "config": parts.config,
    })
}
