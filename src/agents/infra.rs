//! The infra agent: Terraform. Renders a stack from `templates/terraform/` for what the request
//! asks (EC2 instances, an ALB or NLB with the network it needs, an S3 bucket), destroys a named
//! stack, or takes a hand-written Terraform directory for review (`opsdeck submit`).

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::Value;
use serde_json::json;

use super::{AgentEvent, AgentRequest, Draft, DraftFile, Sink};
use crate::error::{Error, Result};
use crate::intent::{AgentKind, is_region_code};
use crate::plan::pricing::{CostInput, estimate};
use crate::plan::render::render;
use crate::plan::{
    ArtifactKind, ChangeAction, CostEstimate, ResourceChange, Risk, Step, StepKind, TerraformOp,
};
use crate::store::StackStatus;

pub const MAX_INSTANCES: u64 = 50;
const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
const DEFAULT_AMI_NAME: &str = "al2023-ami-2023.*-x86_64";
const ROOT_VOLUME_GB: u32 = 8;

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    match req.intent.action.as_str() {
        "create" => create(req, sink),
        "destroy" => destroy(req, sink),
        other => Err(Error::Unavailable(format!(
            "the infra agent cannot {other} an existing stack yet; today it creates stacks and destroys them (`opsdeck stacks` lists them)"
        ))),
    }
}

fn create(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let i = req.intent;
    let service = i.param_str("service");
    let wants_bucket = service == Some("S3") || i.params.contains_key("bucket");
    let wants_instances = service == Some("EC2")
        || i.params.contains_key("count") && !wants_bucket
        || i.params.contains_key("instance_type")
        || i.params.contains_key("load_balancer");
    if !wants_instances && !wants_bucket {
        let what = service.unwrap_or("that resource");
        return Err(Error::Unavailable(format!(
            "the infra agent has no template for {what} yet; it creates EC2 instances (optionally behind an ALB or NLB, with their VPC) and S3 buckets"
        )));
    }

    let region = i
        .param_str("region")
        .unwrap_or(&req.tenant.default_region)
        .to_string();
    if !is_region_code(&region) {
        return Err(Error::input(format!(
            "'{region}' is not an AWS region code"
        )));
    }
    let count = i.param_u64("count").unwrap_or(1);
    if wants_instances && !(1..=MAX_INSTANCES).contains(&count) {
        return Err(Error::input(format!(
            "{count} instances is outside what one plan may create (1 to {MAX_INSTANCES}); split the request"
        )));
    }
    let instance_type = i
        .param_str("instance_type")
        .unwrap_or(DEFAULT_INSTANCE_TYPE)
        .to_string();
    let lb = if wants_instances {
        i.param_str("load_balancer").map(str::to_string)
    } else {
        None
    };

    let stack = match i.param_str("stack") {
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
            s
        }
        None => {
            let kind = if lb.is_some() {
                "web"
            } else if wants_instances {
                "ec2"
            } else {
                "s3"
            };
            format!("{kind}-{region}-{}", &req.request_id.replace('-', "")[..4])
        }
    };

    let bucket = if wants_bucket {
        let name = match i.param_str("bucket") {
            Some(b) => b.to_lowercase(),
            None => format!("{}-{}", req.tenant.name, stack),
        };
        validate_bucket_name(&name)?;
        Some(name)
    } else {
        None
    };

    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    tags.insert("ManagedBy".into(), "opsdeck".into());
    tags.insert("OpsdeckStack".into(), stack.clone());
    tags.insert("OpsdeckTenant".into(), req.tenant.name.clone());
    if let Some(env) = i.param_str("environment") {
        tags.insert("Environment".into(), env.to_string());
    }
    for (k, v) in i.tags() {
        if k.chars().count() > 128
            || v.chars().count() > 256
            || k.to_lowercase().starts_with("aws:")
        {
            return Err(Error::input(format!(
                "tag {k}={v} is not allowed: keys up to 128 characters, values up to 256, and no aws: prefix"
            )));
        }
        tags.insert(k, v);
    }

    sink(AgentEvent::Progress {
        agent: AgentKind::Infra,
        message: format!("rendering Terraform for stack {stack} in {region}"),
    });
    let ctx = Value::from_serialize(json!({
        "stack": stack,
        "region": region,
        "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "instances": wants_instances.then(|| json!({
            "count": count,
            "instance_type": instance_type,
            "ami_name": DEFAULT_AMI_NAME,
            "ami_owner": "amazon",
            "key_name": null,
        })),
        "load_balancer": lb.as_ref().map(|kind| json!({"kind": kind, "tls": false})),
        "bucket": bucket.as_ref().map(|name| json!({"name": name, "kms": false})),
    }));
    let mut parts = vec!["main"];
    if lb.is_some() {
        parts.extend(["network", "security"]);
    }
    if wants_instances {
        parts.push("instances");
    }
    if lb.is_some() {
        parts.push("load_balancer");
    }
    if bucket.is_some() {
        parts.push("s3");
    }
    parts.push("outputs");
    let mut files = Vec::new();
    for part in parts {
        let text = render(&format!("terraform/{part}.tf.j2"), &ctx)?;
        files.push(DraftFile {
            name: format!("{part}.tf"),
            kind: ArtifactKind::Terraform,
            content: text.into_bytes(),
        });
    }
    let resources = resources_in(&files, ChangeAction::Create);

    let cost = estimate(&CostInput {
        region: &region,
        instances: wants_instances.then_some((count as u32, instance_type.as_str())),
        root_volume_gb: ROOT_VOLUME_GB,
        load_balancer: lb.as_deref(),
        bucket: bucket.is_some(),
    });
    let (risk, risk_reasons) = assess_create(i.param_str("environment"), count, &cost);

    let mut what = Vec::new();
    if wants_instances {
        what.push(format!("{count} × {instance_type}"));
    }
    if let Some(kind) = &lb {
        what.push(format!("behind an {}", kind.to_uppercase()));
    }
    if let Some(b) = &bucket {
        what.push(format!("bucket {b}"));
    }
    let summary = format!("create stack {stack} in {region}: {}", what.join(", "));
    Ok(Draft {
        summary: summary.clone(),
        stack: Some(stack.clone()),
        region: Some(region),
        steps: vec![Step {
            description: format!("terraform apply of stack {stack}"),
            mutates: true,
            kind: StepKind::Terraform {
                stack,
                operation: TerraformOp::Apply,
            },
        }],
        files,
        resources,
        mutates: true,
        risk,
        risk_reasons,
        cost,
    })
}

fn assess_create(env: Option<&str>, count: u64, cost: &CostEstimate) -> (Risk, Vec<String>) {
    let mut risk = Risk::Medium;
    let mut reasons = vec!["creates billable resources".to_string()];
    if count > 10 {
        risk = risk.raise();
        reasons.push(format!("{count} instances at once"));
    }
    if cost.monthly_usd > 1000.0 {
        risk = risk.raise();
        reasons.push(format!("estimated ${:.2}/month", cost.monthly_usd));
    }
    if env == Some("prod") {
        risk = risk.raise();
        reasons.push("production".into());
    }
    (risk, reasons)
}

fn destroy(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let tenant = &req.tenant.name;
    let active: Vec<String> = req
        .store
        .list_stacks(tenant)?
        .into_iter()
        .filter(|s| s.status == StackStatus::Active)
        .map(|s| s.name)
        .collect();
    let known = if active.is_empty() {
        "tenant has no active stacks".to_string()
    } else {
        format!("active stacks: {}", active.join(", "))
    };
    let Some(name) = req.intent.param_str("stack").map(str::to_lowercase) else {
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
    if req.intent.param_str("environment") == Some("prod") {
        risk = risk.raise();
        reasons.push("production".into());
    }
    Ok(Draft {
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

/// A hand-written Terraform directory (top-level `*.tf` files) submitted for review and apply
/// through the same gates as a generated one.
pub fn from_directory(dir: &Path, stack: &str) -> Result<Draft> {
    validate_stack_name(stack)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("reading Terraform directory {}", dir.display()), e))?;
    let mut files = Vec::new();
    let mut total = 0usize;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_file() && name.ends_with(".tf") {
            let content = std::fs::read(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            total += content.len();
            files.push(DraftFile {
                name,
                kind: ArtifactKind::Terraform,
                content,
            });
        }
    }
    if files.is_empty() {
        return Err(Error::input(format!(
            "{} has no .tf files to submit",
            dir.display()
        )));
    }
    if total > 4 * 1024 * 1024 {
        return Err(Error::input(
            "the Terraform files exceed 4 MiB; submit a smaller stack",
        ));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let declares_backend = files
        .iter()
        .any(|f| String::from_utf8_lossy(&f.content).contains("backend \""));
    if !declares_backend {
        // State lives in the stack's directory, given at `terraform init`.
        files.push(DraftFile {
            name: "_opsdeck_backend.tf".into(),
            kind: ArtifactKind::Terraform,
            content: b"terraform {\n  backend \"local\" {}\n}\n".to_vec(),
        });
    }
    let resources = resources_in(&files, ChangeAction::Create);
    Ok(Draft {
        summary: format!(
            "apply submitted Terraform ({} files) to stack {stack}",
            files.len()
        ),
        stack: Some(stack.to_string()),
        region: None,
        steps: vec![Step {
            description: format!("terraform apply of stack {stack}"),
            mutates: true,
            kind: StepKind::Terraform {
                stack: stack.to_string(),
                operation: TerraformOp::Apply,
            },
        }],
        files,
        resources,
        mutates: true,
        risk: Risk::Medium,
        risk_reasons: vec!["hand-written Terraform: review every resource".into()],
        cost: CostEstimate {
            notes: vec!["no estimate for hand-written Terraform".into()],
            ..CostEstimate::default()
        },
    })
}

/// Resources declared in Terraform files, with their literal `count` where there is one.
pub fn resources_in(files: &[DraftFile], action: ChangeAction) -> Vec<ResourceChange> {
    let mut out: Vec<ResourceChange> = Vec::new();
    for f in files.iter().filter(|f| f.kind == ArtifactKind::Terraform) {
        let text = String::from_utf8_lossy(&f.content);
        let mut current: Option<usize> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("resource \"") {
                let mut parts = rest.split('"');
                let rtype = parts.next().unwrap_or_default();
                let name = parts.nth(1).unwrap_or_default();
                out.push(ResourceChange {
                    address: format!("{rtype}.{name}"),
                    action,
                    count: 1,
                });
                current = Some(out.len() - 1);
            } else if line.starts_with('}') {
                current = None;
            } else if let Some(idx) = current
                && let Some((k, v)) = line.split_once('=')
                && k.trim() == "count"
            {
                let v = v.trim();
                out[idx].count = v.parse().unwrap_or(if v.starts_with("length(aws_subnet") {
                    2
                } else {
                    1
                });
            }
        }
    }
    out
}

pub fn validate_stack_name(s: &str) -> Result<()> {
    let ok = (1..=24).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid stack name '{s}': 1-24 lower-case letters, digits and '-', starting with a letter (it becomes part of AWS resource names)"
        )))
    }
}

/// S3 bucket naming rules (the subset that matters for new general-purpose buckets).
pub fn validate_bucket_name(s: &str) -> Result<()> {
    let ok = (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
        && !s.contains("..")
        && !s.starts_with("xn--")
        && s.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid bucket name '{s}': 3-63 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
        )))
    }
}
