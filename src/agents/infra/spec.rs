//! The spec: everything a stack is rendered from, resolved and validated, and the vocabulary
//! the templates accept (Lambda runtimes, log retention periods, database engines).

use serde::{Deserialize, Serialize};

/// The file that keeps a scalable stack's spec, and the marker of its one data line.
pub const RECORD_FILE: &str = "opsdeck.tf";
pub(super) const RECORD_MARK: &str = "# opsdeck-render-v1: ";

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
pub(super) const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// (engine, label, port, default version, versions accepted).
pub(super) const ENGINES: &[(&str, &str, u16, &str, &[&str])] = &[
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
    /// Access for everyone to a resource that exists outside the stack, as a request asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposure>,
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
    /// Readable by anyone, because the request asked for it (the S3 gates deny such a plan).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_read: bool,
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

/// A change to a resource opsdeck did not create that opens it to everyone, planned as the
/// request asked so that the policy gates judge it in the open (they deny it by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// An existing bucket made readable by anyone: public access block off, public-read ACL.
    #[serde(default)]
    pub bucket: Option<String>,
    /// An existing security group, by name or `sg-…` id, that gains `rules`.
    #[serde(default)]
    pub security_group: Option<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}
