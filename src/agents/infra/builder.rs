//! From the intent to the spec: which kind of stack a request asks for ([`Shape`]), then its
//! defaults and checks, one kind of resource at a time ([`Builder`]).

use std::collections::BTreeMap;

use super::render::{is_admin_port, placeholder, port_label};
use super::spec::*;
use super::validate::*;
use crate::agents::AgentRequest;
use crate::error::{Error, Result};
use crate::intent::{Engine, Environment, Intent, LoadBalancer as LbKind, Resource};

const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
const DEFAULT_AMI_NAME: &str = "al2023-ami-2023.*-x86_64";
const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// Subnets per tier: one per zone, and no region has more than six.
const MAX_SUBNETS: u32 = 6;

/// What one request creates. A stack holds one of these (instances may come with a bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
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
    /// Access for everyone to a bucket or security group that exists ("make bucket X public").
    Exposure,
}

pub(super) fn shape(i: &Intent) -> Result<Shape> {
    let p = &i.params;
    let service = p.service.as_deref();
    let resource = p.resource;
    if service == Some("IAM") {
        return Err(Error::Unavailable(
            "not done: opsdeck does not create or change IAM users, roles or policies (no template; IAM changes go through the tenant's pipeline role, and the iam.pipeline_only policy denies them to everyone else). The nearest it can do: \"list IAM users with admin access\" (a read-only IAM scan)".into(),
        ));
    }
    if i.action == "update" {
        if p.public == Some(true) && p.bucket.is_some()
            || !p.ports.is_empty() && !p.security_groups.is_empty()
        {
            return Ok(Shape::Exposure);
        }
        return Err(Error::Unavailable(
            "not done: the infra agent cannot change an existing stack or resource yet, except opening an existing bucket or security group as asked (which the policy gates judge); it creates stacks, scales auto scaling group stacks and destroys stacks (`opsdeck stacks` lists them)".into(),
        ));
    }
    let function = service == Some("Lambda") || p.function.is_some() || p.runtime.is_some();
    let database = service == Some("RDS") || p.engine.is_some();
    let security_group = resource == Some(Resource::SecurityGroup);
    let asg = resource == Some(Resource::AutoscalingGroup);
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
        if p.engine == Some(Engine::AuroraPostgresql) {
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
    let bucket = service == Some("S3") || p.bucket.is_some();
    let machines = service == Some("EC2")
        || p.count.is_some() && !bucket
        || p.instance_type.is_some()
        || p.load_balancer.is_some();
    if machines {
        return Ok(Shape::Machines { bucket });
    }
    if bucket {
        return Ok(Shape::Bucket);
    }
    let vpc = resource == Some(Resource::Vpc)
        || p.private_subnets.is_some()
        || p.public_subnets.is_some()
        || p.nat.is_some()
        || p.cidr.is_some();
    if vpc {
        return Ok(Shape::Vpc);
    }
    let what = service.unwrap_or("that resource");
    Err(Error::Unavailable(format!(
        "the infra agent has no template for {what} yet; it creates EC2 instances (optionally behind an ALB or NLB), auto scaling groups, VPCs with public and private subnets and NAT, S3 buckets, RDS databases (postgres, mysql, mariadb), Lambda functions and security groups"
    )))
}

// From the intent to the spec: defaults and validation, one kind of resource at a time.

pub(super) struct Builder<'a> {
    pub(super) i: &'a Intent,
    /// The tenant's `max_instances_per_plan`.
    pub(super) max_instances: u64,
    pub(super) region: String,
    pub(super) stack: String,
    /// Why the plan is as risky as it is (shown with the risk).
    pub(super) reasons: Vec<String>,
    /// What an approver should know (shown with the cost).
    pub(super) notes: Vec<String>,
}

/// A whole-number parameter as a `u32`; one that does not fit is refused under its key.
macro_rules! u32_param {
    ($builder:expr, $key:ident) => {
        u32_param(stringify!($key), $builder.i.params.$key)
    };
}

fn u32_param(key: &str, value: Option<u64>) -> Result<Option<u32>> {
    value
        .map(|n| {
            u32::try_from(n).map_err(|_| {
                Error::input(format!(
                    "{key} {n} is out of range: a whole number from 0 to {}",
                    u32::MAX
                ))
            })
        })
        .transpose()
}

impl Builder<'_> {
    pub(super) fn tags(&self, req: &AgentRequest<'_>) -> Result<Vec<Tag>> {
        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        tags.insert("ManagedBy".into(), "opsdeck".into());
        tags.insert("OpsdeckStack".into(), self.stack.clone());
        tags.insert("OpsdeckTenant".into(), req.tenant.name.clone());
        if let Some(env) = self.i.params.environment {
            tags.insert("Environment".into(), env.to_string());
        }
        for (k, v) in self.i.params.tags.by_key() {
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
    pub(super) fn machine_parts(
        &mut self,
        load_balancer: bool,
    ) -> Result<(Machines, Option<Network>)> {
        let instance_type = self
            .i
            .params
            .instance_type
            .as_deref()
            .unwrap_or(DEFAULT_INSTANCE_TYPE)
            .to_string();
        if let Some(ec2) = instance_type.strip_prefix("db.") {
            return Err(Error::input(format!(
                "{instance_type} is an RDS instance class; EC2 instances take types such as {ec2}"
            )));
        }
        let key_name = match self.i.params.key_name.as_deref() {
            Some(k) => {
                validate_key_name(k)?;
                Some(k.to_string())
            }
            None => None,
        };
        let public = u32_param!(self, public_subnets)?;
        let private = u32_param!(self, private_subnets)?;
        let subnet_id = self.i.params.subnet_id.as_deref();
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
                let nat = self.i.params.nat != Some(false);
                let public = if load_balancer {
                    public.unwrap_or(2).max(2)
                } else if nat {
                    public.unwrap_or(1).max(1)
                } else {
                    public.unwrap_or(0)
                };
                let gateways = match (nat, self.i.params.nat_per_az == Some(true)) {
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
        if placement == Placement::DefaultVpc
            && self.i.params.cidr.is_some()
            && self.i.params.ports.is_empty()
        {
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

    pub(super) fn load_balancer(&mut self) -> Result<Option<LoadBalancer>> {
        let Some(kind) = self.i.params.load_balancer else {
            return Ok(None);
        };
        let target_port = match u32_param!(self, port)? {
            None => 80,
            Some(p) => u16::try_from(p)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| Error::input(format!("port {p} is not a TCP port (1-65535)")))?,
        };
        let health_check_path = self
            .i
            .params
            .health_check_path
            .as_deref()
            .unwrap_or("/")
            .to_string();
        if !health_check_path.starts_with('/') || health_check_path.len() > 1024 {
            return Err(Error::input(format!(
                "health check path '{health_check_path}' must start with / (at most 1024 characters)"
            )));
        }
        let certificate_arn = self.i.params.certificate_arn.clone();
        if let Some(arn) = &certificate_arn {
            validate_arn(arn, "arn:aws:acm:", ":certificate/")?;
        }
        let tls = kind == LbKind::Alb && certificate_arn.is_some();
        if kind == LbKind::Nlb && certificate_arn.is_some() {
            self.notes.push(
                "the NLB template forwards TCP on port 80; the certificate was not used".into(),
            );
        } else if !tls && self.i.params.tls == Some(true) {
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

    pub(super) fn machines(&mut self, spec: &mut StackSpec) -> Result<()> {
        // One instance when the request names none; a stated count is never replaced.
        let count = u32_param!(self, count)?.map_or(1, u64::from);
        let max = self.max_instances;
        if !(1..=max).contains(&count) {
            return Err(Error::input(format!(
                "count {count} is out of range: a plan may create 1 to {max} instances (tenant setting max_instances_per_plan); split the request"
            )));
        }
        let lb = self.load_balancer()?;
        let (machines, network) = self.machine_parts(lb.is_some())?;
        if !self.i.params.ports.is_empty() {
            // "with ssh open to 0.0.0.0/0": the instances get a security group with exactly
            // those rules, so the gates judge what was asked rather than it being dropped.
            if machines.placement != Placement::DefaultVpc || lb.is_some() {
                return Err(Error::Unavailable(
                    "not done: inbound ports on instances are set here only for instances in the default VPC without a load balancer; ask for the instances and a security group separately (\"create a security group allowing ssh from 10.0.0.0/8\")".into(),
                ));
            }
            spec.security_group = Some(self.security_group()?);
        }
        spec.instances = Some(Instances {
            count: count as u32,
            machines,
        });
        spec.network = network;
        spec.load_balancer = lb;
        Ok(())
    }

    pub(super) fn autoscaling(
        &mut self,
        spec: &mut StackSpec,
        capacity: Option<u32>,
    ) -> Result<()> {
        let desired = match capacity {
            Some(c) => c,
            None => u32_param!(self, count)?.unwrap_or(2),
        };
        let max_cap = u32::try_from(self.max_instances).unwrap_or(u32::MAX);
        let min = u32_param!(self, min_size)?;
        let max = u32_param!(self, max_size)?;
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

    pub(super) fn bucket(&mut self, req: &AgentRequest<'_>) -> Result<Bucket> {
        let name = match self.i.params.bucket.as_deref() {
            Some(b) => b.to_lowercase(),
            None => format!("{}-{}", req.tenant.name, self.stack),
        };
        validate_bucket_name(&name)?;
        let lc = Lifecycle {
            ia_days: u32_param!(self, ia_days)?,
            glacier_days: u32_param!(self, glacier_days)?,
            deep_archive_days: u32_param!(self, deep_archive_days)?,
            expire_days: u32_param!(self, expire_days)?,
        };
        let lifecycle = if lc == Lifecycle::default() {
            None
        } else {
            validate_lifecycle(&lc)?;
            Some(lc)
        };
        let public_read = self.i.params.public == Some(true);
        if public_read {
            self.reasons.push(format!(
                "bucket {name} readable by anyone because the request asked for it: the s3.public_acl and s3.public_access_block gates deny this plan"
            ));
        }
        Ok(Bucket {
            name,
            kms: false,
            public_read,
            lifecycle,
        })
    }

    pub(super) fn network(
        &mut self,
        public: u32,
        private: u32,
        nat: u32,
        standalone: bool,
    ) -> Result<Network> {
        // With ports asked for, the range is where traffic may come from, not the VPC's.
        let cidr = self
            .i
            .params
            .cidr
            .as_deref()
            .filter(|_| self.i.params.ports.is_empty())
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

    pub(super) fn vpc(&mut self) -> Result<Network> {
        let public = u32_param!(self, public_subnets)?;
        let private = u32_param!(self, private_subnets)?;
        let nat = self.i.params.nat == Some(true);
        let per_az = self.i.params.nat_per_az == Some(true);
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

    pub(super) fn database(&mut self, spec: &mut StackSpec) -> Result<()> {
        let engine = self
            .i
            .params
            .engine
            .map(Engine::as_str)
            .unwrap_or("postgres");
        let Some((engine, label, _, default_version, versions)) =
            ENGINES.iter().find(|e| e.0 == engine)
        else {
            return Err(Error::Unavailable(format!(
                "the database template runs postgres, mysql or mariadb, not {engine}"
            )));
        };
        let engine_version = self
            .i
            .params
            .engine_version
            .as_deref()
            .unwrap_or(default_version)
            .to_string();
        if !versions.contains(&engine_version.as_str()) {
            return Err(Error::input(format!(
                "{label} {engine_version} is not a version the template offers: {}",
                versions.join(", ")
            )));
        }
        let class = self
            .i
            .params
            .instance_type
            .as_deref()
            .unwrap_or("db.t3.micro");
        let instance_class = if class.starts_with("db.") {
            class.to_string()
        } else {
            self.notes.push(format!(
                "read instance type {class} as RDS class db.{class}"
            ));
            format!("db.{class}")
        };
        validate_db_class(&instance_class)?;
        let multi_az = match self.i.params.multi_az {
            Some(m) => m,
            None if self.i.params.environment == Some(Environment::Prod) => {
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
        let storage_gb = u32_param!(self, storage_gb)?.unwrap_or(20);
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
        let private = u32_param!(self, private_subnets)?.unwrap_or(2);
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

    pub(super) fn function(&mut self) -> Result<Function> {
        let Some(name) = self.i.params.function.as_deref() else {
            return Err(Error::input(
                "name the function, e.g. \"create a lambda function my-func with python3.12\"",
            ));
        };
        validate_function_name(name)?;
        let runtime = self.i.params.runtime.as_deref().unwrap_or("python3.12");
        if !LAMBDA_RUNTIMES.contains(&runtime) {
            return Err(Error::input(format!(
                "runtime {runtime} is not one new Lambda functions can use here: {}",
                LAMBDA_RUNTIMES.join(", ")
            )));
        }
        let (s3_bucket, s3_key) = match (
            self.i.params.bucket.as_deref(),
            self.i.params.prefix.as_deref(),
        ) {
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
        let handler = match self.i.params.handler.as_deref() {
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
        let memory_mb = u32_param!(self, memory_mb)?.unwrap_or(128);
        if !(128..=10_240).contains(&memory_mb) {
            return Err(Error::input(format!(
                "{memory_mb} MB is outside what Lambda takes (128 to 10240 MB)"
            )));
        }
        let timeout_s = u32_param!(self, timeout_s)?.unwrap_or(30);
        if !(1..=900).contains(&timeout_s) {
            return Err(Error::input(format!(
                "a Lambda timeout of {timeout_s} s is outside 1 to 900 seconds"
            )));
        }
        let log_retention_days = u32_param!(self, retention_days)?.unwrap_or(30);
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
        let role_arn = self.i.params.role_arn.clone();
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

    pub(super) fn security_group(&mut self) -> Result<SecurityGroup> {
        if self.stack.starts_with("sg-") {
            return Err(Error::input(format!(
                "security group names cannot start with sg-: pick another stack name than {}",
                self.stack
            )));
        }
        let ports: Vec<u16> = self
            .i
            .params
            .ports
            .iter()
            .map(|p| {
                u16::try_from(*p)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::input(format!("{p} is not a TCP port (1-65535)")))
            })
            .collect::<Result<_>>()?;
        if ports.is_empty() {
            return Err(Error::input(
                "say which ports the security group allows, e.g. \"allowing 443 from anywhere\" or \"allowing ssh from 10.0.0.0/8\"",
            ));
        }
        if ports.len() > 20 {
            return Err(Error::input("at most 20 ports per security group here"));
        }
        let cidr = match self.i.params.cidr.as_deref() {
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
        let vpc_id = match self.i.params.vpc_id.as_deref() {
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

    /// Access for everyone to a bucket or security group that exists, as the request asked.
    pub(super) fn exposure(&mut self) -> Result<Exposure> {
        let p = &self.i.params;
        if p.public == Some(true)
            && let Some(b) = p.bucket.as_deref()
        {
            let name = b.to_lowercase();
            validate_bucket_name(&name)?;
            self.reasons.push(format!(
                "existing bucket {name} made readable by anyone because the request asked for it: the s3.public_acl and s3.public_access_block gates deny this plan"
            ));
            return Ok(Exposure {
                bucket: Some(name),
                security_group: None,
                rules: Vec::new(),
            });
        }
        let [group] = p.security_groups.as_slice() else {
            return Err(Error::input(
                "name one security group to open, e.g. \"open port 443 to the world on security group web-sg\"",
            ));
        };
        validate_group_ref(group)?;
        let sg = self.security_group()?;
        self.notes.retain(|n| !n.starts_with("no source given"));
        Ok(Exposure {
            bucket: None,
            security_group: Some(group.clone()),
            rules: sg.rules,
        })
    }
}
