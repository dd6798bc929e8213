//! Plans for a stack that already exists: scaling an auto scaling group stack by rendering its
//! recorded spec with a new capacity, and destroying a stack with the configuration it was
//! applied with.

use super::assess::cost_of;
use super::render::{read_record, render_stack};
use super::resources::{changed_resources, resources_in};
use super::spec::RECORD_FILE;
use super::validate::validate_stack_name;
use super::{apply_spec, create, known_stacks};
use crate::agents::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;
use crate::plan::pricing::book_for;
use crate::plan::{ChangeAction, CostEstimate, Risk, Step, StepKind, TerraformOp};
use crate::store::{StackRecord, StackStatus};

/// "scale the web tier to 6": renders the stack's recorded spec with the new capacity, or
/// creates the auto scaling group when no such stack exists yet.
pub(super) fn scale(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let i = req.intent;
    let known = known_stacks(req)?;
    let Some(capacity) = i.params.count else {
        return Err(Error::input(
            "say the capacity to scale to, e.g. \"scale the web tier to 6\"",
        ));
    };
    let max = req.tenant.max_instances_per_plan;
    if capacity > max {
        return Err(Error::input(format!(
            "count {capacity} is out of range: a plan may scale a group to 0 to {max} instances in tenant {} (tenant setting max_instances_per_plan)",
            req.tenant.name
        )));
    }
    let capacity = capacity as u32;
    let Some(name) = i.params.stack.as_deref().map(str::to_lowercase) else {
        return Err(Error::input(format!(
            "say which stack to scale, e.g. \"scale the web tier to 6\" ({known})"
        )));
    };
    validate_stack_name(&name)?;
    match req.store.get_stack(&req.tenant.name, &name)? {
        Some(s) if s.status == StackStatus::Active => rescale(req, sink, &s, capacity),
        _ => create(req, sink, Some((name, capacity))),
    }
}

fn rescale(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    stack: &StackRecord,
    capacity: u32,
) -> Result<Draft> {
    let tenant = &req.tenant.name;
    let not_scalable = || {
        Error::refused(format!(
            "stack {} is not an auto scaling group stack created by opsdeck (it has no {RECORD_FILE}), so it cannot be scaled by changing its capacity; create one with \"create an auto scaling group <name> of N <type>\"",
            stack.name
        ))
    };
    let Some(art) = stack.artifacts.iter().find(|a| a.name == RECORD_FILE) else {
        return Err(not_scalable());
    };
    let old_record =
        String::from_utf8_lossy(&req.store.get_artifact(tenant, &art.sha256)?).to_string();
    let mut spec = read_record(&old_record)?;
    if spec.stack != stack.name {
        return Err(Error::refused(format!(
            "{RECORD_FILE} of stack {} describes stack {}; refusing to scale from it",
            stack.name, spec.stack
        )));
    }
    if let Some(r) = req.intent.params.region.as_deref()
        && r != spec.region
    {
        return Err(Error::input(format!(
            "stack {} is in {}, not {r}",
            spec.stack, spec.region
        )));
    }
    let Some(asg) = spec.asg.as_mut() else {
        return Err(not_scalable());
    };
    let from = asg.desired;
    if from == capacity {
        return Err(Error::input(format!(
            "stack {} already runs {capacity} instances: nothing to change",
            stack.name
        )));
    }
    asg.desired = capacity;
    asg.min = asg.min.min(capacity);
    asg.max = asg.max.max(capacity);
    let itype = asg.machines.instance_type.clone();
    sink(AgentEvent::Progress {
        agent: AgentKind::Infra,
        message: format!(
            "rendering stack {} again with capacity {capacity}",
            spec.stack
        ),
    });
    let files = render_stack(&spec)?;
    let mut old = Vec::new();
    for a in &stack.artifacts {
        old.push(DraftFile {
            name: a.name.clone(),
            kind: a.kind,
            content: req.store.get_artifact(tenant, &a.sha256)?,
        });
    }
    let resources = changed_resources(&old, &files);
    let mut reasons = vec![format!(
        "changes the capacity of stack {} from {from} to {capacity}",
        spec.stack
    )];
    let mut risk = Risk::Medium;
    if capacity == 0 {
        risk = risk.raise();
        reasons.push("stops every instance of the group".into());
    } else if capacity < from {
        reasons.push(format!("terminates {} instances", from - capacity));
    }
    if capacity > from && capacity - from > 10 {
        risk = risk.raise();
        reasons.push(format!("{} instances at once", capacity - from));
    }
    if req.names_prod() {
        risk = risk.raise();
        reasons.push("production".into());
    }
    let mut cost = cost_of(&book_for(req.store, tenant, req.aws), &spec);
    cost.notes
        .insert(0, "the stack's estimated cost after scaling".into());
    Ok(apply_spec(
        &spec,
        format!(
            "scale stack {} in {}: {from} → {capacity} × {itype}",
            spec.stack, spec.region
        ),
        files,
        resources,
        (risk, reasons),
        cost,
    ))
}

pub(super) fn destroy(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let tenant = &req.tenant.name;
    let known = known_stacks(req)?;
    let Some(name) = req.intent.params.stack.as_deref().map(str::to_lowercase) else {
        return Err(Error::input(format!(
            "say which stack to destroy, e.g. \"destroy stack <name>\" ({known})"
        )));
    };
    let stack = match req.store.get_stack(tenant, &name)? {
        Some(s) if s.status == StackStatus::Active => s,
        _ => return Err(Error::not_found("stack", name, known)),
    };
    sink(AgentEvent::Progress {
        agent: AgentKind::Infra,
        message: format!("loading the applied configuration of stack {}", stack.name),
    });
    let mut files = Vec::new();
    for a in &stack.artifacts {
        files.push(DraftFile {
            name: a.name.clone(),
            kind: a.kind,
            content: req.store.get_artifact(tenant, &a.sha256)?,
        });
    }
    let resources = resources_in(&files, ChangeAction::Delete);
    let mut risk = Risk::High;
    let mut reasons = vec![format!("destroys every resource of stack {}", stack.name)];
    let protection = regex::Regex::new(r"(?m)^\s*(enable_)?deletion_protection\s*=\s*true")
        .map_err(|e| Error::input(e.to_string()))?;
    let protected: Vec<&str> = files
        .iter()
        .filter(|f| protection.is_match(&String::from_utf8_lossy(&f.content)))
        .map(|f| f.name.as_str())
        .collect();
    if !protected.is_empty() {
        reasons.push(format!(
            "deletion protection is on in {}: terraform destroy stops at the protected database or load balancer until someone allowed to turns it off (RDS: modify the instance; ELB: its attributes), then apply this plan again",
            protected.join(", ")
        ));
    }
    if req.names_prod() {
        risk = risk.raise();
        reasons.push("production".into());
    }
    Ok(Draft {
        builtins: Vec::new(),
        summary: format!(
            "destroy stack {} ({} resources)",
            stack.name,
            resources.iter().map(|r| r.count).sum::<u32>()
        ),
        stack: Some(stack.name.clone()),
        region: stack.region.clone(),
        steps: vec![Step {
            description: format!("terraform destroy of stack {}", stack.name),
            mutates: true,
            kind: StepKind::Terraform {
                stack: stack.name.clone(),
                operation: TerraformOp::Destroy,
            },
        }],
        files,
        resources,
        mutates: true,
        risk,
        risk_reasons: reasons,
        cost: CostEstimate {
            notes: vec!["destroying stops the stack's charges".into()],
            ..CostEstimate::default()
        },
    })
}
