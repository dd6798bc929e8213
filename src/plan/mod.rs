//! Plans: what an agent proposes to do, with the artifacts that will run, the risk, the cost and
//! a content hash over everything executable. Approvals bind to that hash.

pub mod pricing;
pub mod render;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::intent::{AgentKind, Intent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
    pub fn raise(self) -> Risk {
        match self {
            Risk::Low => Risk::Medium,
            Risk::Medium => Risk::High,
            _ => Risk::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    Terraform,
    Ansible,
    Log,
    Report,
}

/// A stored artifact, addressed by the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub name: String,
    pub kind: ArtifactKind,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerraformOp {
    Apply,
    Destroy,
}

/// How a step runs. The executor dispatches on this, not on the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepKind {
    /// `terraform init/plan/apply` over the plan's Terraform artifacts in the stack's state.
    Terraform {
        stack: String,
        operation: TerraformOp,
    },
    /// AWS API calls made through the SDK after approval (reboot these instances, block public
    /// access on this bucket, create this alarm). The agent resolved the exact targets while
    /// planning; they are part of the hash, so the approval covers exactly these.
    Aws {
        /// The agent whose code makes the call.
        agent: AgentKind,
        /// SDK service name, e.g. `ec2`, `ssm`, `s3`, `cloudwatch`.
        service: String,
        /// API operation, e.g. `RebootInstances`, `SendCommand`, `PutPublicAccessBlock`.
        operation: String,
        region: String,
        /// Resource ids or names, in order.
        targets: Vec<String>,
        /// Operation parameters besides the targets.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        input: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub description: String,
    pub mutates: bool,
    #[serde(flatten)]
    pub kind: StepKind,
}

impl Step {
    /// How the step runs, in a few words: `terraform apply · stack web`,
    /// `ec2 RebootInstances · 3 targets in eu-west-1`.
    pub fn tool_line(&self) -> String {
        match &self.kind {
            StepKind::Terraform { stack, operation } => format!(
                "terraform {} · stack {stack}",
                match operation {
                    TerraformOp::Apply => "apply",
                    TerraformOp::Destroy => "destroy",
                }
            ),
            StepKind::Aws {
                service,
                operation,
                region,
                targets,
                ..
            } => format!(
                "{service} {operation} · {} target{} in {region}",
                targets.len(),
                if targets.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
    Replace,
}

/// A resource the plan adds, changes or destroys (from the template, before `terraform plan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: ChangeAction,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    pub hourly_usd: f64,
    pub monthly_usd: f64,
}

/// A cost estimate with its provenance, so nobody mistakes it for a quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CostEstimate {
    pub monthly_usd: f64,
    pub lines: Vec<CostLine>,
    pub source: String,
    pub price_date: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateResult {
    Pass,
    Info,
    Warn,
    Deny,
}

impl GateResult {
    pub fn as_str(self) -> &'static str {
        match self {
            GateResult::Pass => "pass",
            GateResult::Info => "info",
            GateResult::Warn => "warn",
            GateResult::Deny => "deny",
        }
    }
}

/// One policy or security check's verdict on a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub rule: String,
    pub result: GateResult,
    pub reason: String,
}

/// A proposed change, complete enough to review, approve and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan_id: String,
    pub request_id: String,
    pub tenant: String,
    pub requester: String,
    pub requester_source: String,
    pub created_at: String,
    /// The request as typed, with secrets redacted.
    pub request: String,
    pub intent: Intent,
    pub agent: AgentKind,
    pub agents: Vec<AgentKind>,
    pub action: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub steps: Vec<Step>,
    pub artifacts: Vec<ArtifactRef>,
    pub resources: Vec<ResourceChange>,
    pub mutates: bool,
    pub risk: Risk,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_reasons: Vec<String>,
    pub cost: CostEstimate,
    pub gates: Vec<Gate>,
    pub requires_approval: bool,
    /// SHA-256 over everything that will be executed; see [`Plan::compute_hash`].
    pub content_hash: String,
}

impl Plan {
    /// The hash an approval binds to: tenant, agent, action, target, steps and every
    /// artifact's name and content hash. Anything that changes what runs changes this.
    pub fn compute_hash(&self) -> String {
        #[derive(Serialize)]
        struct Executable<'a> {
            tenant: &'a str,
            agent: AgentKind,
            action: &'a str,
            stack: &'a Option<String>,
            region: &'a Option<String>,
            steps: &'a [Step],
            artifacts: Vec<(&'a str, ArtifactKind, &'a str)>,
        }
        let exe = Executable {
            tenant: &self.tenant,
            agent: self.agent,
            action: &self.action,
            stack: &self.stack,
            region: &self.region,
            steps: &self.steps,
            artifacts: self
                .artifacts
                .iter()
                .map(|a| (a.name.as_str(), a.kind, a.sha256.as_str()))
                .collect(),
        };
        // Serialising plain structs and strings cannot fail.
        let bytes = serde_json::to_vec(&exe).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(b"opsdeck-plan-v1\n");
        h.update(&bytes);
        hex::encode(h.finalize())
    }

    pub fn worst_gate(&self) -> GateResult {
        self.gates
            .iter()
            .map(|g| g.result)
            .max()
            .unwrap_or(GateResult::Pass)
    }

    pub fn denied(&self) -> bool {
        self.worst_gate() == GateResult::Deny
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
