//! What Terraform's JSON says: per-resource changes from `terraform show -json` and their
//! one-line summary, and every value Terraform marks sensitive masked, in the plan JSON and in
//! `terraform output -json`, before either is stored or shown.

use serde_json::Value;

use super::SENSITIVE;
use crate::plan::{ChangeAction, ResourceChange};

/// Per-resource changes from `terraform show -json`: one entry per resource instance, reads and
/// no-ops left out, delete-and-create (either order) as a replacement.
pub fn changes_in(json: &Value) -> Vec<ResourceChange> {
    let mut out = Vec::new();
    for rc in json
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if rc.get("mode").and_then(Value::as_str) == Some("data") {
            continue;
        }
        let actions: Vec<&str> = rc
            .pointer("/change/actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let action = match actions.as_slice() {
            ["create"] => ChangeAction::Create,
            ["update"] => ChangeAction::Update,
            ["delete"] => ChangeAction::Delete,
            ["delete", "create"] | ["create", "delete"] => ChangeAction::Replace,
            _ => continue,
        };
        out.push(ResourceChange {
            address: rc
                .get("address")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            action,
            count: 1,
        });
    }
    out
}

/// "+2 ~1 -0, 1 replaced" (a replacement counts once, as itself).
pub fn summarize(changes: &[ResourceChange]) -> String {
    let n = |a: ChangeAction| changes.iter().filter(|c| c.action == a).count();
    let mut s = format!(
        "+{} ~{} -{}",
        n(ChangeAction::Create),
        n(ChangeAction::Update),
        n(ChangeAction::Delete)
    );
    let replaced = n(ChangeAction::Replace);
    if replaced > 0 {
        s.push_str(&format!(", {replaced} replaced"));
    }
    if changes.is_empty() {
        s = "no changes".into();
    }
    s
}

/// Replaces every value Terraform marks sensitive with [`SENSITIVE`]: resource changes, planned
/// values, prior state, outputs and sensitive variables. `show -json` prints them in clear.
pub fn mask_sensitive(plan: &mut Value) {
    // Drift (what a refresh found changed outside Terraform) has the same shape as a change.
    for key in ["resource_changes", "resource_drift"] {
        for rc in plan
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(change) = rc.get_mut("change") {
                mask_pair(change, "before", "before_sensitive");
                mask_pair(change, "after", "after_sensitive");
            }
        }
    }
    if let Some(outs) = plan
        .get_mut("output_changes")
        .and_then(Value::as_object_mut)
    {
        for change in outs.values_mut() {
            mask_pair(change, "before", "before_sensitive");
            mask_pair(change, "after", "after_sensitive");
        }
    }
    for root in ["planned_values", "prior_state"] {
        let module = if root == "prior_state" {
            plan.pointer_mut("/prior_state/values")
        } else {
            plan.get_mut(root)
        };
        if let Some(m) = module {
            if let Some(outs) = m.get_mut("outputs").and_then(Value::as_object_mut) {
                for o in outs.values_mut() {
                    if o.get("sensitive") == Some(&Value::Bool(true))
                        && let Some(v) = o.get_mut("value")
                    {
                        *v = Value::String(SENSITIVE.into());
                    }
                }
            }
            if let Some(rm) = m.get_mut("root_module") {
                mask_module(rm);
            }
        }
    }
    let sensitive_vars: Vec<String> = plan
        .pointer("/configuration/root_module/variables")
        .and_then(Value::as_object)
        .map(|vars| {
            vars.iter()
                .filter(|(_, v)| v.get("sensitive") == Some(&Value::Bool(true)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(vars) = plan.get_mut("variables").and_then(Value::as_object_mut) {
        for name in sensitive_vars {
            if let Some(v) = vars.get_mut(&name).and_then(|v| v.get_mut("value")) {
                *v = Value::String(SENSITIVE.into());
            }
        }
    }
}

fn mask_module(module: &mut Value) {
    if let Some(resources) = module.get_mut("resources").and_then(Value::as_array_mut) {
        for r in resources {
            mask_pair(r, "values", "sensitive_values");
        }
    }
    if let Some(children) = module
        .get_mut("child_modules")
        .and_then(Value::as_array_mut)
    {
        for c in children {
            mask_module(c);
        }
    }
}

fn mask_pair(obj: &mut Value, value_key: &str, marks_key: &str) {
    let Some(marks) = obj.get(marks_key).cloned() else {
        return;
    };
    if let Some(v) = obj.get_mut(value_key) {
        mask(v, &marks);
    }
}

fn mask(v: &mut Value, marks: &Value) {
    match (v, marks) {
        (v, Value::Bool(true)) if !v.is_null() => *v = Value::String(SENSITIVE.into()),
        (Value::Object(o), Value::Object(m)) => {
            for (k, mark) in m {
                if let Some(x) = o.get_mut(k) {
                    mask(x, mark);
                }
            }
        }
        (Value::Array(a), Value::Array(m)) => {
            for (x, mark) in a.iter_mut().zip(m) {
                mask(x, mark);
            }
        }
        _ => {}
    }
}

/// `terraform output -json` with sensitive outputs masked (they go to logs and later steps).
pub(super) fn mask_outputs(outputs: &mut Value) {
    if let Some(o) = outputs.as_object_mut() {
        for out in o.values_mut() {
            if out.get("sensitive") == Some(&Value::Bool(true))
                && let Some(v) = out.get_mut("value")
            {
                *v = Value::String(SENSITIVE.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replacements_and_reads_are_told_apart() {
        let plan = json!({"resource_changes": [
            {"address": "aws_instance.web[0]", "mode": "managed", "change": {"actions": ["delete", "create"]}},
            {"address": "aws_instance.web[1]", "mode": "managed", "change": {"actions": ["create", "delete"]}},
            {"address": "aws_s3_bucket.logs", "mode": "managed", "change": {"actions": ["update"]}},
            {"address": "data.aws_ami.this", "mode": "data", "change": {"actions": ["read"]}},
            {"address": "aws_vpc.this", "mode": "managed", "change": {"actions": ["no-op"]}},
            {"address": "aws_eip.old", "mode": "managed", "change": {"actions": ["delete"]}}
        ]});
        let c = changes_in(&plan);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].action, ChangeAction::Replace);
        assert_eq!(c[1].action, ChangeAction::Replace);
        assert_eq!(summarize(&c), "+0 ~1 -1, 2 replaced");
        assert_eq!(summarize(&[]), "no changes");
    }

    #[test]
    fn sensitive_values_never_reach_the_json_artifact() {
        let mut plan = json!({
            "variables": {"db_password": {"value": "hunter2hunter2"}, "region": {"value": "eu-west-1"}},
            "configuration": {"root_module": {"variables": {"db_password": {"sensitive": true}, "region": {}}}},
            "resource_changes": [{"address": "aws_db_instance.this", "mode": "managed", "change": {
                "actions": ["create"],
                "before": null,
                "after": {"password": "hunter2hunter2", "tags": {"a": "b"}, "list": ["x", "secret"]},
                "after_sensitive": {"password": true, "list": [false, true]},
                "before_sensitive": false
            }}],
            "planned_values": {
                "outputs": {"pw": {"sensitive": true, "value": "hunter2hunter2"}},
                "root_module": {"resources": [{"values": {"password": "hunter2hunter2"}, "sensitive_values": {"password": true}}]}
            },
            "output_changes": {"pw": {"after": "hunter2hunter2", "after_sensitive": true}}
        });
        mask_sensitive(&mut plan);
        let text = plan.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(plan["variables"]["region"]["value"], "eu-west-1");
        assert_eq!(
            plan["resource_changes"][0]["change"]["after"]["list"][0],
            "x"
        );
    }
}
