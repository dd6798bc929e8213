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

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use minijinja::Value;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::{AgentKind, Intent, is_region_code};
use crate::plan::pricing::{CostInput, DatabaseCost, PriceBook, book_for, estimate};
use crate::plan::render::render;
use crate::plan::{
    ArtifactKind, ChangeAction, CostEstimate, ResourceChange, Risk, Step, StepKind, TerraformOp,
};
use crate::store::{StackRecord, StackStatus};

const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
const DEFAULT_AMI_NAME: &str = "al2023-ami-2023.*-x86_64";
const ROOT_VOLUME_GB: u32 = 8;
const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// Subnets per tier: one per zone, and no region has more than six.
const MAX_SUBNETS: u32 = 6;
/// The file that keeps a scalable stack's spec, and the marker of its one data line.
pub const RECORD_FILE: &str = "opsdeck.tf";
const RECORD_MARK: &str = "# opsdeck-render-v1: ";

/// Lambda runtimes the template accepts (the ones AWS still lets new functions use).
pub const LAMBDA_RUNTIMES: &[&str] = &[
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs20.x",
    "nodejs22.x",
    "java17",
    "java21",
    "ruby3.3",
    "ruby3.4",
    "dotnet8",
    "provided.al2023",
];
/// Retention periods CloudWatch Logs accepts, in days.
const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// (engine, label, port, default version, versions accepted).
const ENGINES: &[(&str, &str, u16, &str, &[&str])] = &[
    (
        "postgres",
        "PostgreSQL",
        5432,
        "17",
        &["13", "14", "15", "16", "17"],
    ),
    ("mysql", "MySQL", 3306, "8.4", &["8.0", "8.4"]),
    (
        "mariadb",
        "MariaDB",
        3306,
        "11.4",
        &["10.5", "10.6", "10.11", "11.4"],
    ),
];

// ---------------------------------------------------------------------------------------------
// The spec: what a stack is rendered from.

/// Everything a stack is rendered from, resolved and validated. Serialised into `opsdeck.tf`
/// for stacks that can be scaled; read back, it renders the same files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackSpec {
    pub stack: String,
    pub region: String,
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub network: Option<Network>,
    #[serde(default)]
    pub instances: Option<Instances>,
    #[serde(default)]
    pub asg: Option<Asg>,
    #[serde(default)]
    pub load_balancer: Option<LoadBalancer>,
    #[serde(default)]
    pub bucket: Option<Bucket>,
    #[serde(default)]
    pub database: Option<Database>,
    #[serde(default)]
    pub function: Option<Function>,
    #[serde(default)]
    pub security_group: Option<SecurityGroup>,
    /// The tenant's costly safe defaults as they were when the stack was created, so that
    /// scaling renders it the same way.
    #[serde(default)]
    pub stack_defaults: crate::tenant::StackDefaults,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The stack's own VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub cidr: String,
    pub public: u32,
    pub private: u32,
    /// NAT gateways: 0, 1, or one per public subnet.
    pub nat: u32,
    /// The VPC is what the stack is for (it then outputs its ids).
    #[serde(default)]
    pub standalone: bool,
}

/// Where instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// The account's default VPC and its default subnets.
    DefaultVpc,
    /// The stack's public subnets.
    Public,
    /// The stack's private subnets (out through NAT).
    Private,
    /// One existing subnet, by id.
    Subnet,
}

/// What every instance of a stack is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machines {
    pub instance_type: String,
    pub ami_name: String,
    pub ami_owner: String,
    pub key_name: Option<String>,
    pub placement: Placement,
    #[serde(default)]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instances {
    pub count: u32,
    #[serde(flatten)]
    pub machines: Machines,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asg {
    pub desired: u32,
    pub min: u32,
    pub max: u32,
    #[serde(flatten)]
    pub machines: Machines,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// `alb` or `nlb`.
    pub kind: String,
    /// HTTPS on 443 (an ALB with a certificate); port 80 then redirects.
    pub tls: bool,
    #[serde(default)]
    pub certificate_arn: Option<String>,
    #[serde(default = "default_port")]
    pub target_port: u16,
    #[serde(default = "default_health_path")]
    pub health_check_path: String,
}

fn default_port() -> u16 {
    80
}

fn default_health_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub kms: bool,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
}

/// Days after which objects move to a cheaper class or expire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub ia_days: Option<u32>,
    pub glacier_days: Option<u32>,
    pub deep_archive_days: Option<u32>,
    pub expire_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub multi_az: bool,
    pub storage_gb: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub log_retention_days: u32,
    /// An existing execution role; without one the stack creates a least-privilege role.
    pub role_arn: Option<String>,
    /// Where the code is; without it the function starts with a placeholder handler.
    pub s3_bucket: Option<String>,
    pub s3_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// None: the default VPC.
    pub vpc_id: Option<String>,
    pub rules: Vec<Rule>,
}

/// One inbound TCP port and where it may come from (None: the VPC's own range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub port: u16,
    pub cidr: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Entry points.

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    // The core checked the request's values already; a plan is never built from one that
    // is out of the tenant's ranges, however the intent got here.
    crate::intent::check(req.intent, &crate::intent::Limits::of(req.tenant))
        .map_err(|e| Error::input(e.to_string()))?;
    match req.intent.action.as_str() {
        "create" => create(req, sink, None),
        "scale" => scale(req, sink),
        "destroy" => destroy(req, sink),
        other => Err(Error::Unavailable(format!(
            "the infra agent cannot {other} an existing stack yet; today it creates stacks, scales auto scaling group stacks and destroys stacks (`opsdeck stacks` lists them)"
        ))),
    }
}

/// What one request creates. A stack holds one of these (instances may come with a bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// EC2 instances, optionally behind a load balancer, optionally with a bucket.
    Machines {
        bucket: bool,
    },
    AutoScaling,
    Bucket,
    Vpc,
    Database,
    Function,
    SecurityGroup,
}

fn shape(i: &Intent) -> Result<Shape> {
    let service = i.param_str("service");
    let resource = i.param_str("resource");
    let has = |k: &str| i.params.contains_key(k);
    let function = service == Some("Lambda") || has("function") || has("runtime");
    let database = service == Some("RDS") || has("engine");
    let security_group = resource == Some("security_group");
    let asg = resource == Some("autoscaling_group");
    let exclusive = [
        (function, "a Lambda function"),
        (database, "a database"),
        (security_group, "a security group"),
        (asg, "an auto scaling group"),
    ];
    let asked: Vec<&str> = exclusive
        .iter()
        .filter(|(yes, _)| *yes)
        .map(|(_, what)| *what)
        .collect();
    if asked.len() > 1 {
        return Err(Error::input(format!(
            "one stack per request: ask for {} separately",
            asked.join(" and ")
        )));
    }
    if function {
        return Ok(Shape::Function);
    }
    if database {
        if let Some(e) = i.param_str("engine")
            && e.starts_with("aurora")
        {
            return Err(Error::Unavailable(
                "Aurora clusters have no template yet; the infra agent creates RDS instances of postgres, mysql or mariadb".into(),
            ));
        }
        return Ok(Shape::Database);
    }
    if security_group {
        return Ok(Shape::SecurityGroup);
    }
    if asg {
        return Ok(Shape::AutoScaling);
    }
    let bucket = service == Some("S3") || has("bucket");
    let machines = service == Some("EC2")
        || has("count") && !bucket
        || has("instance_type")
        || has("load_balancer");
    if machines {
        return Ok(Shape::Machines { bucket });
    }
    if bucket {
        return Ok(Shape::Bucket);
    }
    let vpc = resource == Some("vpc")
        || ["private_subnets", "public_subnets", "nat", "cidr"]
            .iter()
            .any(|k| has(k));
    if vpc {
        return Ok(Shape::Vpc);
    }
    let what = service.unwrap_or("that resource");
    Err(Error::Unavailable(format!(
        "the infra agent has no template for {what} yet; it creates EC2 instances (optionally behind an ALB or NLB), auto scaling groups, VPCs with public and private subnets and NAT, S3 buckets, RDS databases (postgres, mysql, mariadb), Lambda functions and security groups"
    )))
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
    let region = region_of(req)?;
    let prefix = match shape {
        Shape::Machines { .. } if i.params.contains_key("load_balancer") => "web",
        Shape::Machines { .. } => "ec2",
        Shape::AutoScaling => "asg",
        Shape::Bucket => "s3",
        Shape::Vpc => "vpc",
        Shape::Database => "rds",
        Shape::Function => "fn",
        Shape::SecurityGroup => "sec",
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
    let (risk, risk_reasons) = assess(&spec, i.param_str("environment"), &cost, b.reasons);
    let summary = format!(
        "create stack {} in {}: {}",
        spec.stack,
        spec.region,
        describe(&spec).join(", ")
    );
    Ok(Draft {
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
    })
}

/// "scale the web tier to 6": renders the stack's recorded spec with the new capacity, or
/// creates the auto scaling group when no such stack exists yet.
fn scale(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let i = req.intent;
    let known = known_stacks(req)?;
    let Some(capacity) = i.param_u64("count") else {
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
    let Some(name) = i.param_str("stack").map(str::to_lowercase) else {
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
    if let Some(r) = req.intent.param_str("region")
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
    if req.intent.param_str("environment") == Some("prod") {
        risk = risk.raise();
        reasons.push("production".into());
    }
    let mut cost = cost_of(&book_for(req.store, tenant, req.aws), &spec);
    cost.notes
        .insert(0, "the stack's estimated cost after scaling".into());
    Ok(Draft {
        summary: format!(
            "scale stack {} in {}: {from} → {capacity} × {itype}",
            spec.stack, spec.region
        ),
        stack: Some(spec.stack.clone()),
        region: Some(spec.region.clone()),
        steps: vec![apply_step(&spec.stack)],
        files,
        resources,
        mutates: true,
        risk,
        risk_reasons: reasons,
        cost,
    })
}

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

fn region_of(req: &AgentRequest<'_>) -> Result<String> {
    let region = req
        .intent
        .param_str("region")
        .unwrap_or(&req.tenant.default_region)
        .to_string();
    if !is_region_code(&region) {
        return Err(Error::input(format!(
            "'{region}' is not an AWS region code"
        )));
    }
    Ok(region)
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
    match req.intent.param_str("stack") {
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

// ---------------------------------------------------------------------------------------------
// From the intent to the spec: defaults and validation, one kind of resource at a time.

struct Builder<'a> {
    i: &'a Intent,
    /// The tenant's `max_instances_per_plan`.
    max_instances: u64,
    region: String,
    stack: String,
    /// Why the plan is as risky as it is (shown with the risk).
    reasons: Vec<String>,
    /// What an approver should know (shown with the cost).
    notes: Vec<String>,
}

impl Builder<'_> {
    fn u32_param(&self, key: &str) -> Result<Option<u32>> {
        match self.i.params.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    Error::input(format!(
                        "{key} {v} is out of range: a whole number from 0 to {}",
                        u32::MAX
                    ))
                }),
        }
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.i.params.get(key).and_then(|v| v.as_bool())
    }

    fn tags(&self, req: &AgentRequest<'_>) -> Result<Vec<Tag>> {
        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        tags.insert("ManagedBy".into(), "opsdeck".into());
        tags.insert("OpsdeckStack".into(), self.stack.clone());
        tags.insert("OpsdeckTenant".into(), req.tenant.name.clone());
        if let Some(env) = self.i.param_str("environment") {
            tags.insert("Environment".into(), env.to_string());
        }
        for (k, v) in self.i.tags() {
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
        Ok(tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect())
    }

    /// Instance type, AMI, key pair and placement, shared by instances and auto scaling groups.
    fn machine_parts(&mut self, load_balancer: bool) -> Result<(Machines, Option<Network>)> {
        let instance_type = self
            .i
            .param_str("instance_type")
            .unwrap_or(DEFAULT_INSTANCE_TYPE)
            .to_string();
        if let Some(ec2) = instance_type.strip_prefix("db.") {
            return Err(Error::input(format!(
                "{instance_type} is an RDS instance class; EC2 instances take types such as {ec2}"
            )));
        }
        let key_name = match self.i.param_str("key_name") {
            Some(k) => {
                validate_key_name(k)?;
                Some(k.to_string())
            }
            None => None,
        };
        let public = self.u32_param("public_subnets")?;
        let private = self.u32_param("private_subnets")?;
        let subnet_id = self.i.param_str("subnet_id");
        let placement = if let Some(id) = subnet_id {
            validate_resource_id(id, "subnet-")?;
            if load_balancer {
                return Err(Error::input(format!(
                    "a load balancer needs the stack's own VPC, so its targets cannot go into {id}; leave the subnet out"
                )));
            }
            Placement::Subnet
        } else if private.is_some() {
            Placement::Private
        } else if public.is_some() || load_balancer {
            Placement::Public
        } else {
            Placement::DefaultVpc
        };
        let network = match placement {
            Placement::Public => Some(self.network(public.unwrap_or(2).max(2), 0, 0, false)?),
            Placement::Private => {
                let private = private.unwrap_or(2);
                let nat = self.flag("nat") != Some(false);
                let public = if load_balancer {
                    public.unwrap_or(2).max(2)
                } else if nat {
                    public.unwrap_or(1).max(1)
                } else {
                    public.unwrap_or(0)
                };
                let gateways = match (nat, self.flag("nat_per_az") == Some(true)) {
                    (false, _) => 0,
                    (true, true) => public,
                    (true, false) => 1,
                };
                if !nat {
                    self.notes.push(
                        "no NAT gateway: instances in the private subnets cannot reach the internet or SSM unless you add VPC endpoints".into(),
                    );
                }
                Some(self.network(public, private, gateways, false)?)
            }
            _ => None,
        };
        if placement == Placement::DefaultVpc && self.i.params.contains_key("cidr") {
            self.notes.push(
                "the address range was not used: instances without a subnet choice run in the default VPC (say \"in a private subnet\" for a VPC of their own)".into(),
            );
        }
        Ok((
            Machines {
                instance_type,
                ami_name: DEFAULT_AMI_NAME.into(),
                ami_owner: "amazon".into(),
                key_name,
                placement,
                subnet_id: subnet_id.map(str::to_string),
            },
            network,
        ))
    }

    fn load_balancer(&mut self) -> Result<Option<LoadBalancer>> {
        let Some(kind) = self.i.param_str("load_balancer") else {
            return Ok(None);
        };
        if !matches!(kind, "alb" | "nlb") {
            return Err(Error::input(format!(
                "load balancer '{kind}' is not one the template knows: alb or nlb"
            )));
        }
        let target_port = match self.u32_param("port")? {
            None => 80,
            Some(p) => u16::try_from(p)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| Error::input(format!("port {p} is not a TCP port (1-65535)")))?,
        };
        let health_check_path = self
            .i
            .param_str("health_check_path")
            .unwrap_or("/")
            .to_string();
        if !health_check_path.starts_with('/') || health_check_path.len() > 1024 {
            return Err(Error::input(format!(
                "health check path '{health_check_path}' must start with / (at most 1024 characters)"
            )));
        }
        let certificate_arn = self.i.param_str("certificate_arn").map(str::to_string);
        if let Some(arn) = &certificate_arn {
            validate_arn(arn, "arn:aws:acm:", ":certificate/")?;
        }
        let tls = kind == "alb" && certificate_arn.is_some();
        if kind == "nlb" && certificate_arn.is_some() {
            self.notes.push(
                "the NLB template forwards TCP on port 80; the certificate was not used".into(),
            );
        } else if !tls && self.flag("tls") == Some(true) {
            self.notes.push(
                "HTTPS needs an ACM certificate: ask again with \"certificate arn:aws:acm:…\"; this plan serves HTTP on port 80".into(),
            );
        }
        Ok(Some(LoadBalancer {
            kind: kind.to_string(),
            tls,
            certificate_arn: certificate_arn.filter(|_| tls),
            target_port,
            health_check_path,
        }))
    }

    fn machines(&mut self, spec: &mut StackSpec) -> Result<()> {
        // One instance when the request names none; a stated count is never replaced.
        let count = self.u32_param("count")?.map_or(1, u64::from);
        let max = self.max_instances;
        if !(1..=max).contains(&count) {
            return Err(Error::input(format!(
                "count {count} is out of range: a plan may create 1 to {max} instances (tenant setting max_instances_per_plan); split the request"
            )));
        }
        let lb = self.load_balancer()?;
        let (machines, network) = self.machine_parts(lb.is_some())?;
        spec.instances = Some(Instances {
            count: count as u32,
            machines,
        });
        spec.network = network;
        spec.load_balancer = lb;
        Ok(())
    }

    fn autoscaling(&mut self, spec: &mut StackSpec, capacity: Option<u32>) -> Result<()> {
        let desired = match capacity {
            Some(c) => c,
            None => self.u32_param("count")?.unwrap_or(2),
        };
        let max_cap = u32::try_from(self.max_instances).unwrap_or(u32::MAX);
        let min = self.u32_param("min_size")?;
        let max = self.u32_param("max_size")?;
        let min = min.unwrap_or(desired.min(max.unwrap_or(desired)));
        let max = max.unwrap_or(desired.max(min));
        if !(min <= desired && desired <= max && max <= max_cap) {
            return Err(Error::input(format!(
                "an auto scaling group needs min ≤ desired ≤ max ≤ {max_cap}; got min {min}, desired {desired}, max {max}"
            )));
        }
        let lb = self.load_balancer()?;
        let (machines, network) = self.machine_parts(lb.is_some())?;
        spec.asg = Some(Asg {
            desired,
            min,
            max,
            machines,
        });
        spec.network = network;
        spec.load_balancer = lb;
        Ok(())
    }

    fn bucket(&mut self, req: &AgentRequest<'_>) -> Result<Bucket> {
        let name = match self.i.param_str("bucket") {
            Some(b) => b.to_lowercase(),
            None => format!("{}-{}", req.tenant.name, self.stack),
        };
        validate_bucket_name(&name)?;
        let lc = Lifecycle {
            ia_days: self.u32_param("ia_days")?,
            glacier_days: self.u32_param("glacier_days")?,
            deep_archive_days: self.u32_param("deep_archive_days")?,
            expire_days: self.u32_param("expire_days")?,
        };
        let lifecycle = if lc == Lifecycle::default() {
            None
        } else {
            validate_lifecycle(&lc)?;
            Some(lc)
        };
        Ok(Bucket {
            name,
            kms: false,
            lifecycle,
        })
    }

    fn network(
        &mut self,
        public: u32,
        private: u32,
        nat: u32,
        standalone: bool,
    ) -> Result<Network> {
        let cidr = self
            .i
            .param_str("cidr")
            .unwrap_or(DEFAULT_VPC_CIDR)
            .to_string();
        let (addr, prefix) = parse_cidr(&cidr)?;
        if !(16..=24).contains(&prefix) {
            return Err(Error::input(format!(
                "a VPC range must be between /16 and /24 here, not /{prefix} ({cidr})"
            )));
        }
        if !is_private_range(addr) {
            self.notes.push(format!(
                "{cidr} is not a private (RFC 1918) range: addresses in it cannot be reached on the internet from this VPC"
            ));
        }
        for (n, tier) in [(public, "public"), (private, "private")] {
            if n > MAX_SUBNETS {
                return Err(Error::input(format!(
                    "{n} {tier} subnets is more than one per zone allows here (at most {MAX_SUBNETS})"
                )));
            }
        }
        if public + private == 0 {
            return Err(Error::input("a VPC needs at least one subnet"));
        }
        if nat > 0 && public == 0 {
            return Err(Error::input(
                "NAT gateways live in public subnets: ask for at least one public subnet",
            ));
        }
        Ok(Network {
            cidr,
            public,
            private,
            nat,
            standalone,
        })
    }

    fn vpc(&mut self) -> Result<Network> {
        let public = self.u32_param("public_subnets")?;
        let private = self.u32_param("private_subnets")?;
        let nat = self.flag("nat") == Some(true);
        let per_az = self.flag("nat_per_az") == Some(true);
        let (public, private) = match (public, private) {
            (None, None) => (2, 2),
            (Some(p), None) => (p, 0),
            (None, Some(q)) if nat && per_az => (q, q),
            (None, Some(q)) if nat => (1, q),
            (None, Some(q)) => (0, q),
            (Some(p), Some(q)) => (p, q),
        };
        if nat && private == 0 {
            return Err(Error::input(
                "NAT gives private subnets a way out: ask for private subnets too",
            ));
        }
        let gateways = match (nat, per_az) {
            (false, _) => 0,
            (true, true) => public,
            (true, false) => 1,
        };
        if !nat && private > 0 {
            self.notes.push(
                "no NAT gateway: the private subnets have no route to the internet (ask for \"NAT\" to add one)".into(),
            );
        }
        self.network(public, private, gateways, true)
    }

    fn database(&mut self, spec: &mut StackSpec) -> Result<()> {
        let engine = self.i.param_str("engine").unwrap_or("postgres");
        let Some((engine, label, _, default_version, versions)) =
            ENGINES.iter().find(|e| e.0 == engine)
        else {
            return Err(Error::Unavailable(format!(
                "the database template runs postgres, mysql or mariadb, not {engine}"
            )));
        };
        let engine_version = self
            .i
            .param_str("engine_version")
            .unwrap_or(default_version)
            .to_string();
        if !versions.contains(&engine_version.as_str()) {
            return Err(Error::input(format!(
                "{label} {engine_version} is not a version the template offers: {}",
                versions.join(", ")
            )));
        }
        let class = self.i.param_str("instance_type").unwrap_or("db.t3.micro");
        let instance_class = if class.starts_with("db.") {
            class.to_string()
        } else {
            self.notes.push(format!(
                "read instance type {class} as RDS class db.{class}"
            ));
            format!("db.{class}")
        };
        validate_db_class(&instance_class)?;
        let multi_az = match self.flag("multi_az") {
            Some(m) => m,
            None if self.i.param_str("environment") == Some("prod") => {
                self.notes.push(
                    "production database: Multi-AZ by default (say \"without multi-az\" to opt out)"
                        .into(),
                );
                true
            }
            None if spec.stack_defaults.rds_multi_az => {
                self.notes.push(
                    "Multi-AZ by default (tenant setting stack_defaults.rds_multi_az; say \"without multi-az\" to opt out)"
                        .into(),
                );
                true
            }
            None => false,
        };
        let storage_gb = self.u32_param("storage_gb")?.unwrap_or(20);
        if !(20..=65_536).contains(&storage_gb) {
            return Err(Error::input(format!(
                "{storage_gb} GB of database storage is outside what RDS gp3 takes (20 to 65536 GB)"
            )));
        }
        if self.stack.contains("--") {
            return Err(Error::input(format!(
                "stack name {} cannot name a database: RDS identifiers have no double hyphens",
                self.stack
            )));
        }
        let private = self.u32_param("private_subnets")?.unwrap_or(2);
        if private < 2 {
            return Err(Error::input(
                "an RDS subnet group needs private subnets in at least two zones",
            ));
        }
        spec.network = Some(self.network(0, private, 0, false)?);
        spec.database = Some(Database {
            engine: engine.to_string(),
            engine_version,
            instance_class,
            multi_az,
            storage_gb,
        });
        self.reasons.push(format!(
            "creates a {label} database: destroying the stack keeps a final snapshot ({}-final)",
            self.stack
        ));
        Ok(())
    }

    fn function(&mut self) -> Result<Function> {
        let Some(name) = self.i.param_str("function") else {
            return Err(Error::input(
                "name the function, e.g. \"create a lambda function my-func with python3.12\"",
            ));
        };
        validate_function_name(name)?;
        let runtime = self.i.param_str("runtime").unwrap_or("python3.12");
        if !LAMBDA_RUNTIMES.contains(&runtime) {
            return Err(Error::input(format!(
                "runtime {runtime} is not one new Lambda functions can use here: {}",
                LAMBDA_RUNTIMES.join(", ")
            )));
        }
        let (s3_bucket, s3_key) = match (self.i.param_str("bucket"), self.i.param_str("prefix")) {
            (Some(b), Some(k)) => {
                validate_bucket_name(b)?;
                (Some(b.to_string()), Some(k.to_string()))
            }
            (Some(b), None) => {
                return Err(Error::input(format!(
                    "say which object in {b} holds the code, e.g. s3://{b}/{name}.zip"
                )));
            }
            _ => (None, None),
        };
        if s3_bucket.is_none() && placeholder(runtime).is_none() {
            return Err(Error::input(format!(
                "runtime {runtime} needs a built package: say where it is, e.g. \"code in s3://my-artifacts/{name}.zip\""
            )));
        }
        let handler = match self.i.param_str("handler") {
            Some(h) => h.to_string(),
            None if runtime.starts_with("provided") => "bootstrap".into(),
            None if s3_bucket.is_some()
                && (runtime.starts_with("java") || runtime.starts_with("dotnet")) =>
            {
                return Err(Error::input(format!(
                    "say the handler of the {runtime} function, e.g. \"handler example.Handler::handleRequest\""
                )));
            }
            None => "index.handler".into(),
        };
        if handler.is_empty()
            || handler.len() > 128
            || !handler
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:/$".contains(c))
        {
            return Err(Error::input(format!(
                "handler '{handler}' is not a Lambda handler (letters, digits and . _ - : / $, up to 128)"
            )));
        }
        let memory_mb = self.u32_param("memory_mb")?.unwrap_or(128);
        if !(128..=10_240).contains(&memory_mb) {
            return Err(Error::input(format!(
                "{memory_mb} MB is outside what Lambda takes (128 to 10240 MB)"
            )));
        }
        let timeout_s = self.u32_param("timeout_s")?.unwrap_or(30);
        if !(1..=900).contains(&timeout_s) {
            return Err(Error::input(format!(
                "a Lambda timeout of {timeout_s} s is outside 1 to 900 seconds"
            )));
        }
        let log_retention_days = self.u32_param("retention_days")?.unwrap_or(30);
        if !LOG_RETENTION_DAYS.contains(&log_retention_days) {
            return Err(Error::input(format!(
                "CloudWatch keeps logs for one of these numbers of days, not {log_retention_days}: {}",
                LOG_RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let role_arn = self.i.param_str("role_arn").map(str::to_string);
        match &role_arn {
            Some(arn) => validate_arn(arn, "arn:aws:iam::", ":role/")?,
            None => self.reasons.push(format!(
                "creates IAM role {}-lambda, allowed only to write the function's own logs; the iam.pipeline_only gate lets only the tenant's pipeline role change IAM (or name an existing role: \"with role arn:aws:iam::…\")",
                self.stack
            )),
        }
        if s3_bucket.is_none() {
            self.notes.push(format!(
                "{name} starts with a placeholder handler; deploy its code with your pipeline (Terraform leaves deployed code alone)"
            ));
        }
        Ok(Function {
            name: name.to_string(),
            runtime: runtime.to_string(),
            handler,
            memory_mb,
            timeout_s,
            log_retention_days,
            role_arn,
            s3_bucket,
            s3_key,
        })
    }

    fn security_group(&mut self) -> Result<SecurityGroup> {
        if self.stack.starts_with("sg-") {
            return Err(Error::input(format!(
                "security group names cannot start with sg-: pick another stack name than {}",
                self.stack
            )));
        }
        let ports: Vec<u16> = match self.i.params.get("ports").and_then(|v| v.as_array()) {
            Some(list) => list
                .iter()
                .map(|p| {
                    p.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Error::input(format!("{p} is not a TCP port (1-65535)")))
                })
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        if ports.is_empty() {
            return Err(Error::input(
                "say which ports the security group allows, e.g. \"allowing 443 from anywhere\" or \"allowing ssh from 10.0.0.0/8\"",
            ));
        }
        if ports.len() > 20 {
            return Err(Error::input("at most 20 ports per security group here"));
        }
        let cidr = match self.i.param_str("cidr") {
            Some(c) => {
                let (addr, prefix) = parse_cidr(c)?;
                if u32::from(addr) & !mask(prefix) != 0 {
                    return Err(Error::input(format!(
                        "{c} is not a network address (its host bits are set)"
                    )));
                }
                Some(c.to_string())
            }
            None => None,
        };
        let vpc_id = match self.i.param_str("vpc_id") {
            Some(id) => {
                validate_resource_id(id, "vpc-")?;
                Some(id.to_string())
            }
            None => None,
        };
        let world = cidr.as_deref() == Some("0.0.0.0/0");
        for p in &ports {
            let label = port_label(*p);
            if world && is_admin_port(*p) {
                self.reasons.push(format!(
                    "{label} open to the whole internet (0.0.0.0/0) because the request asked for it: the network.admin_ports_open gate denies this plan"
                ));
            } else if world {
                self.reasons
                    .push(format!("{label} open to the internet (0.0.0.0/0)"));
            }
        }
        if cidr.is_none() {
            self.notes.push(
                "no source given: the ports are open to the VPC's own address range only (say \"from anywhere\" or \"from 10.0.0.0/8\")".into(),
            );
        }
        let mut ports = ports;
        ports.sort_unstable();
        ports.dedup();
        Ok(SecurityGroup {
            vpc_id,
            rules: ports
                .into_iter()
                .map(|port| Rule {
                    port,
                    cidr: cidr.clone(),
                })
                .collect(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// From the spec to files, resources, cost and risk.

/// The template context: the spec, plus layout values derived from it. Display strings are
/// derived here rather than stored, so a spec read back from `opsdeck.tf` holds only values
/// the templates escape or that serde has typed.
pub fn context(spec: &StackSpec) -> Result<serde_json::Value> {
    validate_stack_name(&spec.stack)?;
    let mut ctx =
        serde_json::to_value(spec).map_err(|e| Error::input(format!("stack parameters: {e}")))?;
    if let Some(n) = &spec.network {
        ctx["network"] = network_layout(n)?;
    }
    if let Some(db) = &spec.database {
        let (_, label, port, _, _) = ENGINES
            .iter()
            .find(|e| e.0 == db.engine)
            .ok_or_else(|| Error::input(format!("unknown database engine {}", db.engine)))?;
        ctx["database"]["engine_label"] = json!(label);
        ctx["database"]["port"] = json!(port);
        ctx["database"]["username"] = json!("dbadmin");
    }
    if let Some(f) = &spec.function {
        ctx["function"]["placeholder"] = match f.s3_bucket {
            Some(_) => serde_json::Value::Null,
            None => {
                let (filename, source) = placeholder(&f.runtime).ok_or_else(|| {
                    Error::input(format!("runtime {} needs a built package", f.runtime))
                })?;
                json!({"filename": filename, "source": source})
            }
        };
    }
    if let Some(sg) = &spec.security_group {
        let rules: Vec<serde_json::Value> = sg
            .rules
            .iter()
            .map(|r| {
                let label = port_label(r.port);
                let from = match r.cidr.as_deref() {
                    Some("0.0.0.0/0") => "anywhere".to_string(),
                    Some(c) => c.to_string(),
                    None => "inside the VPC".to_string(),
                };
                json!({"port": r.port, "cidr": r.cidr, "label": label,
                       "description": format!("{label} from {from}"),
                       "world": r.cidr.as_deref() == Some("0.0.0.0/0"),
                       "admin": is_admin_port(r.port)})
            })
            .collect();
        ctx["security_group"]["rules"] = json!(rules);
    }
    if let Some(b) = &spec.bucket {
        ctx["bucket"]["lifecycle"] = match &b.lifecycle {
            None => serde_json::Value::Null,
            Some(lc) => {
                let transitions: Vec<serde_json::Value> = [
                    (lc.ia_days, "STANDARD_IA"),
                    (lc.glacier_days, "GLACIER"),
                    (lc.deep_archive_days, "DEEP_ARCHIVE"),
                ]
                .into_iter()
                .filter_map(|(d, class)| d.map(|d| json!({"days": d, "storage_class": class})))
                .collect();
                json!({"transitions": transitions, "expire_days": lc.expire_days})
            }
        };
    }
    if let Some(logs) = log_bucket(spec) {
        ctx["log_bucket"] = logs;
    }
    if spec.asg.is_some() {
        let record = crate::sanitize::to_json_line(spec)
            .map_err(|e| Error::input(format!("stack parameters: {e}")))?;
        ctx["record"] = json!(record);
    }
    Ok(ctx)
}

/// What the stack's log bucket (logs.tf) receives, or None when nothing is logged to one:
/// flow logs of the stack's VPC, access logs of its load balancer (an ALB: a network load
/// balancer logs only TLS listeners) and of its bucket, as the tenant's stack_defaults say.
fn log_bucket(spec: &StackSpec) -> Option<serde_json::Value> {
    let d = &spec.stack_defaults;
    let flow_logs = d.vpc_flow_logs && spec.network.is_some();
    let lb = d.access_logs && spec.load_balancer.as_ref().is_some_and(|l| l.kind == "alb");
    let s3 = d.access_logs && spec.bucket.is_some();
    (flow_logs || lb || s3).then(|| json!({"flow_logs": flow_logs, "lb": lb, "s3": s3}))
}

/// The files of a stack, in the order they are shown.
pub fn render_stack(spec: &StackSpec) -> Result<Vec<DraftFile>> {
    let ctx = Value::from_serialize(context(spec)?);
    let own_vpc = |m: &Machines| matches!(m.placement, Placement::Public | Placement::Private);
    let mut parts = vec!["main"];
    if spec.network.is_some() {
        parts.push("network");
    }
    if spec
        .instances
        .as_ref()
        .is_some_and(|i| own_vpc(&i.machines))
        || spec.asg.as_ref().is_some_and(|a| own_vpc(&a.machines))
    {
        parts.push("security");
    }
    for (set, part) in [
        (spec.instances.is_some(), "instances"),
        (spec.asg.is_some(), "asg"),
        (
            spec.instances.is_some() || spec.asg.is_some(),
            "instance_profile",
        ),
        (spec.load_balancer.is_some(), "load_balancer"),
        (spec.bucket.is_some(), "s3"),
        (spec.database.is_some(), "rds"),
        (spec.function.is_some(), "lambda"),
        (spec.security_group.is_some(), "security_group"),
        (log_bucket(spec).is_some(), "logs"),
        (true, "outputs"),
        (spec.asg.is_some(), "opsdeck"),
    ] {
        if set {
            parts.push(part);
        }
    }
    let mut files = Vec::new();
    for part in parts {
        let text = render(&format!("terraform/{part}.tf.j2"), &ctx)?;
        crate::plan::verify::check_generated_terraform(&format!("{part}.tf"), &text)?;
        files.push(DraftFile {
            name: format!("{part}.tf"),
            kind: ArtifactKind::Terraform,
            content: text.into_bytes(),
        });
    }
    Ok(files)
}

/// The spec kept in a stack's `opsdeck.tf`.
pub fn read_record(text: &str) -> Result<StackSpec> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(RECORD_MARK))
        .ok_or_else(|| Error::input(format!("{RECORD_FILE} holds no stack parameters")))?;
    let spec: StackSpec = serde_json::from_str(line)
        .map_err(|e| Error::input(format!("{RECORD_FILE}: unreadable stack parameters: {e}")))?;
    if let Some(a) = &spec.asg {
        if let Some(k) = &a.machines.key_name {
            validate_key_name(k)?;
        }
        if let Some(s) = &a.machines.subnet_id {
            validate_resource_id(s, "subnet-")?;
        }
    }
    if !is_region_code(&spec.region) {
        return Err(Error::input(format!(
            "{RECORD_FILE}: '{}' is not an AWS region code",
            spec.region
        )));
    }
    Ok(spec)
}

fn network_layout(n: &Network) -> Result<serde_json::Value> {
    let (addr, prefix) = parse_cidr(&n.cidr)?;
    if u32::from(addr) & !mask(prefix) != 0 {
        return Err(Error::input(format!(
            "{} is not a network address (its host bits are set)",
            n.cidr
        )));
    }
    // /24 subnets where the range allows, else 16 subnets; public from the bottom of the
    // range, private from its middle.
    let newbits = if prefix <= 20 { 24 - prefix } else { 4 };
    let offset = (1u32 << newbits) / 2;
    let sub = |i: u32| {
        let size = 1u32 << (32 - u32::from(prefix + newbits));
        format!(
            "{}/{}",
            Ipv4Addr::from(u32::from(addr) + i * size),
            prefix + newbits
        )
    };
    let zone = |count: u32| {
        if count <= 2 {
            "data.aws_availability_zones.available.names[count.index]"
        } else {
            "element(data.aws_availability_zones.available.names, count.index)"
        }
    };
    let comment = |count: u32, first: u32, tier: &str| {
        const WORDS: [&str; 6] = ["One", "Two", "Three", "Four", "Five", "Six"];
        let ranges: Vec<String> = (first..first + count).map(sub).collect();
        let list = match ranges.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => ranges.join(""),
        };
        let word = WORDS.get(count as usize - 1).copied().unwrap_or("Several");
        if count == 1 {
            format!("{word} {tier} subnet, {list}, in the first zone.")
        } else if count == 2 {
            format!(
                "{word} {tier} subnets, {list}, in the first {} zones.",
                word.to_lowercase()
            )
        } else {
            format!(
                "{word} {tier} subnets, {list}, one per zone (round robin where the region has fewer)."
            )
        }
    };
    let mut v = serde_json::to_value(n).map_err(|e| Error::input(e.to_string()))?;
    v["newbits"] = json!(newbits);
    v["private_offset"] = json!(offset);
    v["public_zone"] = json!(zone(n.public));
    v["private_zone"] = json!(zone(n.private));
    v["private_tables"] = json!(if n.nat > 1 { n.private } else { 1 });
    if n.public > 0 {
        v["public_comment"] = json!(comment(n.public, 0, "public"));
    }
    if n.private > 0 {
        v["private_comment"] = json!(comment(n.private, offset, "private"));
    }
    Ok(v)
}

/// A placeholder handler for runtimes that run source as it is: (file name, source).
fn placeholder(runtime: &str) -> Option<(&'static str, &'static str)> {
    if runtime.starts_with("python") {
        Some((
            "index.py",
            "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": \"placeholder: deploy the real code\"}\n",
        ))
    } else if runtime.starts_with("nodejs") {
        Some((
            "index.js",
            "exports.handler = async () => ({ statusCode: 200, body: \"placeholder: deploy the real code\" });\n",
        ))
    } else if runtime.starts_with("ruby") {
        Some((
            "index.rb",
            "def handler(event:, context:)\n  { statusCode: 200, body: \"placeholder: deploy the real code\" }\nend\n",
        ))
    } else {
        None
    }
}

fn port_label(port: u16) -> String {
    match port {
        22 => "SSH (22)".into(),
        80 => "HTTP (80)".into(),
        443 => "HTTPS (443)".into(),
        3306 => "MySQL (3306)".into(),
        3389 => "RDP (3389)".into(),
        5432 => "PostgreSQL (5432)".into(),
        p => format!("port {p}"),
    }
}

fn is_admin_port(port: u16) -> bool {
    matches!(port, 22 | 3389)
}

fn cost_of(book: &PriceBook<'_>, spec: &StackSpec) -> CostEstimate {
    let machines = spec
        .instances
        .as_ref()
        .map(|i| (i.count, i.machines.instance_type.as_str()))
        .or_else(|| {
            spec.asg
                .as_ref()
                .map(|a| (a.desired, a.machines.instance_type.as_str()))
        });
    let mut cost = estimate(
        book,
        &CostInput {
            region: &spec.region,
            instances: machines,
            root_volume_gb: ROOT_VOLUME_GB,
            load_balancer: spec.load_balancer.as_ref().map(|l| l.kind.as_str()),
            bucket: spec.bucket.is_some(),
            nat_gateways: spec.network.as_ref().map_or(0, |n| n.nat),
            database: spec.database.as_ref().map(|d| DatabaseCost {
                engine: &d.engine,
                class: &d.instance_class,
                multi_az: d.multi_az,
                storage_gb: d.storage_gb,
            }),
            function_memory_mb: spec.function.as_ref().map(|f| f.memory_mb),
            monitored_instances: if spec.stack_defaults.detailed_monitoring {
                machines.map_or(0, |(count, _)| count)
            } else {
                0
            },
            flow_logs: log_bucket(spec).is_some_and(|l| l["flow_logs"] == true),
            access_logs: log_bucket(spec).is_some_and(|l| l["lb"] == true || l["s3"] == true),
        },
    );
    if spec.security_group.is_some() {
        cost.notes.push("security groups cost nothing".into());
    }
    if spec
        .network
        .as_ref()
        .is_some_and(|n| n.standalone && n.nat == 0)
    {
        cost.notes.push(
            "a VPC, its subnets, route tables and internet gateway cost nothing by themselves"
                .into(),
        );
    }
    cost
}

fn assess(
    spec: &StackSpec,
    env: Option<&str>,
    cost: &CostEstimate,
    extra: Vec<String>,
) -> (Risk, Vec<String>) {
    let free = cost.monthly_usd == 0.0
        && spec.bucket.is_none()
        && spec.function.is_none()
        && spec.instances.is_none()
        && spec.asg.is_none();
    let (mut risk, mut reasons) = if free {
        (
            Risk::Low,
            vec!["creates resources that cost nothing by themselves".to_string()],
        )
    } else {
        (Risk::Medium, vec!["creates billable resources".to_string()])
    };
    let count = spec
        .instances
        .as_ref()
        .map(|i| i.count)
        .or(spec.asg.as_ref().map(|a| a.desired))
        .unwrap_or(0);
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
    if let Some(sg) = &spec.security_group {
        let world = sg
            .rules
            .iter()
            .filter(|r| r.cidr.as_deref() == Some("0.0.0.0/0"));
        if world.clone().any(|r| is_admin_port(r.port)) {
            // SSH or RDP to the world: two steps up, whatever else the plan does.
            risk = risk.raise().raise();
        } else if world.count() > 0 {
            risk = risk.raise();
        }
    }
    if spec.function.as_ref().is_some_and(|f| f.role_arn.is_none()) {
        risk = risk.max(Risk::Medium);
    }
    reasons.extend(extra);
    (risk, reasons)
}

/// What the stack holds, for the plan summary.
fn describe(spec: &StackSpec) -> Vec<String> {
    let mut what = Vec::new();
    let placed = |m: &Machines, lb: bool| -> String {
        let mut s = String::new();
        match m.placement {
            Placement::Private => s.push_str(" in private subnets"),
            Placement::Public if !lb => s.push_str(" in public subnets"),
            Placement::Subnet => {
                s.push_str(&format!(" in {}", m.subnet_id.as_deref().unwrap_or("?")))
            }
            _ => {}
        }
        if let Some(k) = &m.key_name {
            s.push_str(&format!(" with key pair {k}"));
        }
        s
    };
    let lb = spec.load_balancer.is_some();
    if let Some(i) = &spec.instances {
        what.push(format!(
            "{} × {}{}",
            i.count,
            i.machines.instance_type,
            placed(&i.machines, lb)
        ));
    }
    if let Some(a) = &spec.asg {
        what.push(format!(
            "auto scaling group of {} × {} (min {}, max {}){}",
            a.desired,
            a.machines.instance_type,
            a.min,
            a.max,
            placed(&a.machines, lb)
        ));
    }
    if let Some(l) = &spec.load_balancer {
        what.push(format!(
            "behind an {}{}",
            l.kind.to_uppercase(),
            if l.tls { " with HTTPS" } else { "" }
        ));
    }
    if let Some(b) = &spec.bucket {
        let mut s = format!("bucket {}", b.name);
        if let Some(lc) = &b.lifecycle {
            let mut steps = Vec::new();
            for (d, class) in [
                (lc.ia_days, "Standard-IA"),
                (lc.glacier_days, "Glacier"),
                (lc.deep_archive_days, "Deep Archive"),
            ] {
                if let Some(d) = d {
                    steps.push(format!("{class} after {d} days"));
                }
            }
            if let Some(d) = lc.expire_days {
                steps.push(format!("expire after {d} days"));
            }
            s.push_str(&format!(" ({})", steps.join(", ")));
        }
        what.push(s);
    }
    if let Some(d) = &spec.database {
        what.push(format!(
            "RDS {} {} {}{}, {} GB encrypted",
            d.engine,
            d.engine_version,
            d.instance_class,
            if d.multi_az { " Multi-AZ" } else { "" },
            d.storage_gb
        ));
    }
    if let Some(f) = &spec.function {
        what.push(format!(
            "Lambda function {} ({}, {} MB, {} s)",
            f.name, f.runtime, f.memory_mb, f.timeout_s
        ));
    }
    if let Some(sg) = &spec.security_group {
        let rules: Vec<String> = sg
            .rules
            .iter()
            .map(|r| {
                let from = match r.cidr.as_deref() {
                    Some("0.0.0.0/0") => "anywhere",
                    Some(c) => c,
                    None => "the VPC",
                };
                format!("{} from {from}", port_label(r.port))
            })
            .collect();
        what.push(format!("security group allowing {}", rules.join(", ")));
    }
    if let Some(n) = spec.network.as_ref().filter(|n| n.standalone) {
        let mut s = format!(
            "VPC {} with {} public and {} private subnets",
            n.cidr, n.public, n.private
        );
        if n.nat > 0 {
            s.push_str(&format!(
                ", {} NAT gateway{}",
                n.nat,
                if n.nat > 1 { "s" } else { "" }
            ));
        }
        what.push(s);
    }
    what
}

// ---------------------------------------------------------------------------------------------
// Destroy and hand-written Terraform.

fn destroy(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let tenant = &req.tenant.name;
    let known = known_stacks(req)?;
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
    let problems: Vec<String> = files
        .iter()
        .flat_map(|f| {
            crate::plan::verify::handwritten_terraform_problems(
                &f.name,
                &String::from_utf8_lossy(&f.content),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(Error::refused(format!(
            "this Terraform would act before anyone approved it, while opsdeck plans it: {}. nothing was queued or run; change the configuration and submit again",
            problems.join("; ")
        )));
    }
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

// ---------------------------------------------------------------------------------------------
// Reading rendered Terraform back.

/// Resources declared in Terraform files, with their literal `count` where there is one (or
/// the count of the resource a `length(...)` names).
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
                let counted = v
                    .strip_prefix("length(")
                    .and_then(|r| r.strip_suffix(')'))
                    .and_then(|addr| out.iter().find(|r| r.address == addr))
                    .map(|r| r.count);
                out[idx].count = v.parse().ok().or(counted).unwrap_or(1);
            }
        }
    }
    out
}

/// Top-level resource blocks by address, as text.
fn resource_blocks(files: &[DraftFile]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in files.iter().filter(|f| f.kind == ArtifactKind::Terraform) {
        let text = String::from_utf8_lossy(&f.content);
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("resource \"") {
                let mut parts = rest.split('"');
                let rtype = parts.next().unwrap_or_default();
                let name = parts.nth(1).unwrap_or_default();
                current = Some((format!("{rtype}.{name}"), String::new()));
            }
            if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
            if line.starts_with('}')
                && let Some((addr, body)) = current.take()
            {
                out.insert(addr, body);
            }
        }
    }
    out
}

/// What re-rendering a stack changes, resource by resource.
fn changed_resources(old: &[DraftFile], new: &[DraftFile]) -> Vec<ResourceChange> {
    let (before, after) = (resource_blocks(old), resource_blocks(new));
    let counts: BTreeMap<String, u32> = resources_in(new, ChangeAction::Update)
        .into_iter()
        .map(|r| (r.address, r.count))
        .collect();
    let mut out = Vec::new();
    for (addr, body) in &after {
        let action = match before.get(addr) {
            None => ChangeAction::Create,
            Some(b) if b != body => ChangeAction::Update,
            Some(_) => continue,
        };
        out.push(ResourceChange {
            address: addr.clone(),
            action,
            count: counts.get(addr).copied().unwrap_or(1),
        });
    }
    for addr in before.keys().filter(|a| !after.contains_key(*a)) {
        out.push(ResourceChange {
            address: addr.clone(),
            action: ChangeAction::Delete,
            count: 1,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Validation.

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

/// An existing EC2 key pair's name (opsdeck never creates key pairs or handles private keys).
pub fn validate_key_name(s: &str) -> Result<()> {
    let ok = (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid key pair name '{s}': up to 255 letters, digits and . _ - @ + ="
        )))
    }
}

/// Lambda function names: 1-64 letters, digits, hyphens and underscores.
pub fn validate_function_name(s: &str) -> Result<()> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid function name '{s}': 1-64 letters, digits, '-' and '_'"
        )))
    }
}

fn validate_resource_id(s: &str, prefix: &str) -> Result<()> {
    let ok = s.strip_prefix(prefix).is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not a {prefix}… id (8 or 17 hexadecimal digits)"
        )))
    }
}

fn validate_arn(s: &str, prefix: &str, infix: &str) -> Result<()> {
    let ok = s.starts_with(prefix)
        && s.contains(infix)
        && s.len() <= 2048
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/-_.+=,@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not an ARN of the kind expected here ({prefix}…{infix}…)"
        )))
    }
}

fn validate_db_class(s: &str) -> Result<()> {
    let ok = s.strip_prefix("db.").is_some_and(|rest| {
        rest.split('.').count() == 2
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{s}' is not an RDS instance class such as db.t3.medium"
        )))
    }
}

/// S3's own rules for lifecycle days, checked before AWS rejects them at apply time.
fn validate_lifecycle(lc: &Lifecycle) -> Result<()> {
    let steps = [
        (lc.ia_days, "Standard-IA"),
        (lc.glacier_days, "Glacier"),
        (lc.deep_archive_days, "Deep Archive"),
        (lc.expire_days, "expiry"),
    ];
    for (d, what) in steps {
        if let Some(d) = d
            && !(1..=36_500).contains(&d)
        {
            return Err(Error::input(format!(
                "{what} after {d} days: lifecycle days must be 1 to 36500"
            )));
        }
    }
    if let Some(d) = lc.ia_days
        && d < 30
    {
        return Err(Error::input(format!(
            "objects can move to Standard-IA after 30 days at the earliest, not {d}"
        )));
    }
    if let (Some(ia), Some(g)) = (lc.ia_days, lc.glacier_days)
        && g < ia + 30
    {
        return Err(Error::input(format!(
            "Glacier after {g} days comes too soon after Standard-IA at {ia}: objects stay in Standard-IA at least 30 days"
        )));
    }
    let transitions: Vec<u32> = steps[..3].iter().filter_map(|(d, _)| *d).collect();
    if transitions.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::input(
            "lifecycle steps must come in order: Standard-IA, then Glacier, then Deep Archive",
        ));
    }
    if let (Some(e), Some(last)) = (lc.expire_days, transitions.last())
        && e <= *last
    {
        return Err(Error::input(format!(
            "objects must expire after their last move ({last} days), not at {e}"
        )));
    }
    Ok(())
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8)> {
    let bad = || Error::input(format!("'{s}' is not an IPv4 range such as 10.0.0.0/16"));
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if bits > 32 {
        return Err(bad());
    }
    Ok((ip, bits))
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn is_private_range(a: Ipv4Addr) -> bool {
    a.is_private() || (a.octets()[0] == 100 && (64..128).contains(&a.octets()[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_rules_follow_s3() {
        let ok = Lifecycle {
            ia_days: Some(30),
            glacier_days: Some(90),
            expire_days: Some(365),
            ..Lifecycle::default()
        };
        assert!(validate_lifecycle(&ok).is_ok());
        for bad in [
            Lifecycle {
                ia_days: Some(10),
                ..Lifecycle::default()
            },
            Lifecycle {
                ia_days: Some(30),
                glacier_days: Some(45),
                ..Lifecycle::default()
            },
            Lifecycle {
                glacier_days: Some(90),
                expire_days: Some(30),
                ..Lifecycle::default()
            },
        ] {
            assert!(validate_lifecycle(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subnet_layout_is_fixed_by_position() {
        let n = Network {
            cidr: "10.0.0.0/16".into(),
            public: 2,
            private: 3,
            nat: 1,
            standalone: true,
        };
        let v = network_layout(&n).unwrap();
        assert_eq!(
            v["public_comment"],
            "Two public subnets, 10.0.0.0/24 and 10.0.1.0/24, in the first two zones."
        );
        assert!(
            v["private_comment"].as_str().unwrap().starts_with(
                "Three private subnets, 10.0.128.0/24, 10.0.129.0/24 and 10.0.130.0/24"
            )
        );
        let small = network_layout(&Network {
            cidr: "192.168.4.0/22".into(),
            ..n
        })
        .unwrap();
        assert_eq!(small["newbits"], 4);
        assert!(
            small["public_comment"]
                .as_str()
                .unwrap()
                .contains("192.168.4.0/26 and 192.168.4.64/26")
        );
        assert!(
            network_layout(&Network {
                cidr: "10.0.1.0/16".into(),
                public: 1,
                private: 0,
                nat: 0,
                standalone: true
            })
            .is_err()
        );
    }

    #[test]
    fn names_and_ids() {
        assert!(validate_key_name("ops-key").is_ok());
        assert!(validate_key_name("a\"b").is_err());
        assert!(validate_function_name("my-func").is_ok());
        assert!(validate_function_name("my func").is_err());
        assert!(validate_resource_id("subnet-0123456789abcdef0", "subnet-").is_ok());
        assert!(validate_resource_id("subnet-xyz", "subnet-").is_err());
        assert!(validate_db_class("db.t3.medium").is_ok());
        assert!(validate_db_class("t3.medium").is_err());
        assert!(
            validate_arn(
                "arn:aws:iam::123456789012:role/app",
                "arn:aws:iam::",
                ":role/"
            )
            .is_ok()
        );
        assert!(
            validate_arn(
                "arn:aws:iam::123456789012:user/x",
                "arn:aws:iam::",
                ":role/"
            )
            .is_err()
        );
    }
}
