//! The infra agent: Terraform. Renders a stack from `templates/terraform/` for what the request
//! asks (EC2 instances, an auto scaling group, an ALB or NLB, a VPC with public and private
//! subnets and NAT, an S3 bucket, an RDS database, a Lambda function, a security group), scales
//! an auto scaling group stack, destroys a named stack, or takes a hand-written Terraform
//! directory for review (`opsdeck submit`).
//!
//! A request becomes a [`StackSpec`]: every parameter resolved, defaulted and validated here.
//! The templates read only the spec (plus layout values [`context`] derives from it), and which
//! files a stack has follows from which parts of the spec are set. A stack that can be scaled
//! keeps its spec in `opsdeck.tf`, so scaling renders the same spec with a new capacity and the
//! diff is the capacity lines. `docs/templates.md` lists every parameter and default.
//!
//! One file per concern: `spec.rs` (what a stack is rendered from), `builder.rs` (the request
//! → spec: defaults and checks per kind of resource), `render.rs` (spec → Terraform files and
//! the record a scalable stack keeps), `assess.rs` (cost, risk and the summary a reviewer
//! reads), `existing.rs` (scaling and destroying a stack that exists), `intake.rs`
//! (hand-written Terraform), `resources.rs` (reading resources back from Terraform text) and
//! `validate.rs` (names, ids, ARNs, ranges). This file routes the request and creates stacks.

mod assess;
mod builder;
mod existing;
mod intake;
mod render;
mod resources;
mod spec;
mod validate;

pub use intake::{from_directory, from_files};
pub use render::{context, read_record, render_stack};
pub use resources::resources_in;
pub use spec::*;
pub use validate::{
    validate_bucket_name, validate_function_name, validate_key_name, validate_stack_name,
};

use super::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;
use crate::plan::pricing::book_for;
use crate::plan::{ChangeAction, CostEstimate, ResourceChange, Risk, Step, StepKind, TerraformOp};
use crate::store::StackStatus;
use assess::{assess, cost_of, describe};
use builder::{Builder, Shape, shape};
use existing::{destroy, scale};

agent_actions! {
    /// What the infra agent can be asked to do.
    pub enum Action for AgentKind::Infra, "creates stacks, scales auto scaling group stacks and destroys stacks" {
        Create = "create" [change],
        Scale = "scale" [change],
        Destroy = "destroy" [change],
        /// Changing an existing stack in place: not done yet.
        Update = "update" [change],
    }
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    // The core checked the request's values already; a plan is never built from one that
    // is out of the tenant's ranges, however the intent got here.
    crate::intent::check(req.intent, &crate::intent::Limits::of(req.tenant))
        .map_err(|e| Error::input(e.to_string()))?;
    match Action::of(req.intent)? {
        Action::Create => create(req, sink, None),
        Action::Scale => scale(req, sink),
        Action::Destroy => destroy(req, sink),
        // Changing what exists: only opening a bucket or security group as asked (shape()
        // says what else cannot be done).
        Action::Update => create(req, sink, None),
    }
}

fn create(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    scale_to: Option<(String, u32)>,
) -> Result<Draft> {
    let i = req.intent;
    let shape = match scale_to {
        Some(_) => Shape::AutoScaling,
        None => shape(i)?,
    };
    let region = req.region()?;
    let prefix = match shape {
        Shape::Machines { .. } if i.params.load_balancer.is_some() => "web",
        Shape::Machines { .. } => "ec2",
        Shape::AutoScaling => "asg",
        Shape::Bucket => "s3",
        Shape::Vpc => "vpc",
        Shape::Database => "rds",
        Shape::Function => "fn",
        Shape::SecurityGroup => "sec",
        Shape::Exposure => "open",
    };
    let scaling = scale_to.is_some();
    let (stack, capacity) = match scale_to {
        Some((name, n)) => (name, Some(n)),
        None => (new_stack_name(req, prefix, &region)?, None),
    };
    let mut b = Builder {
        i,
        max_instances: req.tenant.max_instances_per_plan,
        region,
        stack,
        reasons: Vec::new(),
        notes: Vec::new(),
    };
    let tags = b.tags(req)?;
    let mut spec = StackSpec {
        stack: b.stack.clone(),
        region: b.region.clone(),
        tags,
        network: None,
        instances: None,
        asg: None,
        load_balancer: None,
        bucket: None,
        database: None,
        function: None,
        security_group: None,
        exposure: None,
        stack_defaults: req.tenant.stack_defaults.clone(),
    };
    match shape {
        Shape::Machines { bucket } => {
            b.machines(&mut spec)?;
            if bucket {
                spec.bucket = Some(b.bucket(req)?);
            }
        }
        Shape::AutoScaling => b.autoscaling(&mut spec, capacity)?,
        Shape::Bucket => spec.bucket = Some(b.bucket(req)?),
        Shape::Vpc => spec.network = Some(b.vpc()?),
        Shape::Database => b.database(&mut spec)?,
        Shape::Function => spec.function = Some(b.function()?),
        Shape::SecurityGroup => spec.security_group = Some(b.security_group()?),
        Shape::Exposure => spec.exposure = Some(b.exposure()?),
    }
    if scaling {
        let known = known_stacks(req)?;
        b.reasons.push(format!(
            "stack {} does not exist yet: this plan creates it ({known})",
            spec.stack
        ));
    }
    sink(AgentEvent::Progress {
        agent: AgentKind::Infra,
        message: format!(
            "rendering Terraform for stack {} in {}",
            spec.stack, spec.region
        ),
    });
    let files = render_stack(&spec)?;
    let resources = resources_in(&files, ChangeAction::Create);
    let mut cost = cost_of(&book_for(req.store, &req.tenant.name, req.aws), &spec);
    cost.notes.extend(b.notes);
    let (risk, risk_reasons) = assess(&spec, i.params.environment, &cost, b.reasons);
    let verb = if spec.exposure.is_some() {
        "change"
    } else {
        "create"
    };
    let summary = format!(
        "{verb} stack {} in {}: {}",
        spec.stack,
        spec.region,
        describe(&spec).join(", ")
    );
    Ok(apply_spec(
        &spec,
        summary,
        files,
        resources,
        (risk, risk_reasons),
        cost,
    ))
}

/// A plan that applies a spec's rendered files to its stack.
fn apply_spec(
    spec: &StackSpec,
    summary: String,
    files: Vec<DraftFile>,
    resources: Vec<ResourceChange>,
    (risk, risk_reasons): (Risk, Vec<String>),
    cost: CostEstimate,
) -> Draft {
    Draft {
        builtins: render::stack_builtins(&files),
        summary,
        stack: Some(spec.stack.clone()),
        region: Some(spec.region.clone()),
        steps: vec![apply_step(&spec.stack)],
        files,
        resources,
        mutates: true,
        risk,
        risk_reasons,
        cost,
    }
}

/// `terraform apply` of a stack, the one step of a plan that creates or changes it.
fn apply_step(stack: &str) -> Step {
    Step {
        description: format!("terraform apply of stack {stack}"),
        mutates: true,
        kind: StepKind::Terraform {
            stack: stack.to_string(),
            operation: TerraformOp::Apply,
        },
    }
}

fn known_stacks(req: &AgentRequest<'_>) -> Result<String> {
    let active: Vec<String> = req
        .store
        .list_stacks(&req.tenant.name)?
        .into_iter()
        .filter(|s| s.status == StackStatus::Active)
        .map(|s| s.name)
        .collect();
    Ok(if active.is_empty() {
        "tenant has no active stacks".to_string()
    } else {
        format!("active stacks: {}", active.join(", "))
    })
}

/// The stack named in the request (refused when it is already active), or a new name.
fn new_stack_name(req: &AgentRequest<'_>, prefix: &str, region: &str) -> Result<String> {
    match req.intent.params.stack.as_deref() {
        Some(s) => {
            let s = s.to_lowercase();
            validate_stack_name(&s)?;
            if let Some(existing) = req.store.get_stack(&req.tenant.name, &s)?
                && existing.status == StackStatus::Active
            {
                return Err(Error::refused(format!(
                    "stack {s} already exists (applied by plan {}); pick another name or destroy it first",
                    existing.last_applied_plan
                )));
            }
            Ok(s)
        }
        None => Ok(format!(
            "{prefix}-{region}-{}",
            &req.request_id.replace('-', "")[..4]
        )),
    }
}
