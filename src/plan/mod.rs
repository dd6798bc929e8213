//! Plans: what an agent proposes to do, with the artifacts that will run, the risk, the cost and
//! a content hash over everything executable. Approvals bind to that hash.

pub mod inventory;
pub mod playbook;
pub mod pricing;
pub mod render;
pub mod verify;

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
    /// A playbook, its inventory or its variables.
    Ansible,
    Log,
    Report,
    /// `terraform plan -out`: the binary saved plan that apply runs (bound by its hash).
    #[serde(rename = "tfplan")]
    TerraformPlan,
    /// `terraform show -json` of the saved plan, sensitive values masked: what reviewers and
    /// tools read.
    #[serde(rename = "tfplan_json")]
    TerraformPlanJson,
    /// What a dry run printed: `terraform plan`, `ansible-playbook --check --diff`.
    #[serde(rename = "dry_run")]
    DryRun,
    /// A shell script as an SSM step sends it (a library script with its preamble).
    Script,
}

impl ArtifactKind {
    /// Bytes that are not text (printed as a note, never dumped to a terminal).
    pub fn is_binary(self) -> bool {
        self == ArtifactKind::TerraformPlan
    }
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
    /// `ansible-playbook` of one of the plan's playbooks against its inventory: a check run
    /// (`--check --diff`) while planning where the hosts exist, the real run after approval.
    Ansible {
        /// Artifact name of the playbook.
        playbook: String,
        /// Where the hosts come from.
        inventory: Inventory,
        /// Hosts per batch (`serial`): a batch finishes before the next starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<String>,
        /// `max_fail_percentage` per batch: above it the run stops before the next batch.
        #[serde(default)]
        max_fail_percentage: u8,
        /// Artifact name of a YAML file of extra vars (`--extra-vars @FILE`): a library
        /// entry's typed parameter values, every string quoted and tagged !unsafe where it
        /// holds a `{`. Absent on every other playbook step (and on plans made before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars: Option<String>,
    },
}

/// The hosts an Ansible step runs against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Inventory {
    /// An inventory artifact of the plan (resolved from EC2 tags while planning, or given with
    /// `--inventory`): the approval covers exactly these hosts.
    File { name: String },
    /// Built at apply time from the outputs of an earlier Terraform step (1-based): the first of
    /// `outputs` that holds a non-empty list of addresses. The approval covers the Terraform
    /// that creates those hosts and this rule, not addresses that do not exist yet.
    StepOutputs { step: usize, outputs: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub description: String,
    pub mutates: bool,
    #[serde(flatten)]
    pub kind: StepKind,
}

/// An AWS API step's parts, borrowed from the step: what the agent that planned it reads to
/// run it.
pub struct AwsCall<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub region: &'a str,
    pub targets: &'a [String],
    pub input: &'a serde_json::Value,
}

impl AwsCall<'_> {
    /// A duration the input gives in seconds under `key`, or `default` seconds.
    pub fn secs(&self, key: &str, default: u64) -> std::time::Duration {
        std::time::Duration::from_secs(self.input[key].as_u64().unwrap_or(default))
    }
}

impl Step {
    /// The step's AWS API call, if it is one.
    pub fn aws_call(&self) -> Option<AwsCall<'_>> {
        match &self.kind {
            StepKind::Aws {
                service,
                operation,
                region,
                targets,
                input,
                ..
            } => Some(AwsCall {
                service,
                operation,
                region,
                targets,
                input,
            }),
            _ => None,
        }
    }

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
            StepKind::Ansible {
                playbook,
                inventory,
                ..
            } => match inventory {
                Inventory::File { name } => {
                    format!("ansible-playbook {playbook} · hosts in {name}")
                }
                Inventory::StepOutputs { step, .. } => {
                    format!("ansible-playbook {playbook} · hosts from step {step} outputs")
                }
            },
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
    /// What the stack costs now, when the plan changes or destroys a stack that exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<CurrentCost>,
}

/// The monthly cost of a stack before the plan: the estimate of the plan that last applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentCost {
    pub monthly_usd: f64,
    pub plan_id: String,
    /// That estimate's source and date.
    #[serde(default)]
    pub basis: String,
}

impl CostEstimate {
    /// Whether nothing was priced (configuration and AWS API plans).
    pub fn unpriced(&self) -> bool {
        self.source.is_empty()
            && self.lines.is_empty()
            && self.monthly_usd == 0.0
            && self.current.is_none()
    }

    /// The change in monthly cost the plan makes: against the stack's current cost when it
    /// exists, the whole estimate for a new stack, nothing for an unpriced plan.
    pub fn delta_usd(&self) -> f64 {
        let now = self.current.as_ref().map_or(0.0, |c| c.monthly_usd);
        // Rounded like every figure shown; `+ 0.0` turns -0.0 into 0.0.
        ((self.monthly_usd - now) * 100.0).round() / 100.0 + 0.0
    }

    /// The cost as every front end states it: a monthly amount with the change against what
    /// the stack costs now, or "no cost change" for a plan nothing was priced for
    /// (configuration and AWS API plans).
    pub fn headline(&self) -> String {
        if self.unpriced() {
            return "no cost change".into();
        }
        let monthly = format!("${:.2}/month", self.monthly_usd + 0.0);
        match &self.current {
            Some(c) => {
                let d = self.delta_usd();
                let sign = if d < 0.0 { "-" } else { "+" };
                format!(
                    "{monthly} ({sign}${:.2}/month against ${:.2}/month now)",
                    d.abs(),
                    c.monthly_usd + 0.0
                )
            }
            None => monthly,
        }
    }

    /// Where the prices came from and their date, when anything was priced.
    pub fn basis(&self) -> Option<String> {
        match (self.source.is_empty(), self.price_date.is_empty()) {
            (true, _) => None,
            (false, true) => Some(self.source.clone()),
            (false, false) => Some(format!("{}, prices of {}", self.source, self.price_date)),
        }
    }
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

/// A Terraform state's version: apply refuses a plan made against another one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateVersion {
    /// Where the state lives: `local` or `s3://bucket/key`.
    pub backend: String,
    /// None while the stack has no state yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u64>,
}

impl StateVersion {
    pub fn describe(&self) -> String {
        match (&self.lineage, self.serial) {
            (Some(l), Some(s)) => format!(
                "{} state serial {s} (lineage {})",
                self.backend,
                &l[..l.len().min(8)]
            ),
            _ => format!("{} state: none yet", self.backend),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DryRunStatus {
    /// `terraform plan -out` ran: the saved plan is what apply runs.
    Planned,
    /// `ansible-playbook --syntax-check` and `--check --diff` ran.
    Checked,
    /// Only `--syntax-check` ran (the hosts do not exist yet, or none were reachable).
    SyntaxChecked,
    /// The tool, a provider or the hosts were unavailable: see the notes.
    Unavailable,
    /// The tool ran and reported an error: the plan cannot be applied as it stands.
    Failed,
}

impl DryRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DryRunStatus::Planned => "planned",
            DryRunStatus::Checked => "checked",
            DryRunStatus::SyntaxChecked => "syntax checked",
            DryRunStatus::Unavailable => "unavailable",
            DryRunStatus::Failed => "failed",
        }
    }
}

/// One host's counts from an Ansible run (the PLAY RECAP line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostResult {
    pub host: String,
    pub ok: u32,
    pub changed: u32,
    pub failed: u32,
    pub unreachable: u32,
    #[serde(default)]
    pub skipped: u32,
    #[serde(default)]
    pub rescued: u32,
}

/// What a step's dry run found while planning, and what an approval of that step binds to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRun {
    /// The step it previews (1-based, as shown).
    pub step: usize,
    /// `terraform` or `ansible-playbook`.
    pub tool: String,
    pub status: DryRunStatus,
    /// One line: "+2 ~0 -0 (1 replaced)", "3 hosts: 2 would change, 1 unreachable".
    pub summary: String,
    /// What the reviewer must know (a provider that could not be downloaded, unreachable hosts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the approval of this step covers, in words.
    pub binds: String,
    /// Terraform: the state the plan was made against (bound: apply refuses if it changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateVersion>,
    /// Ansible: per-host results of the check run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostResult>,
}

/// A proposed change, complete enough to review, approve and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan_id: String,
    pub request_id: String,
    pub tenant: String,
    pub requester: String,
    pub requester_source: String,
    pub created_at: crate::time::Stamp,
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
    /// Dry runs made while planning (terraform plan, ansible --check), one per step that has
    /// one; see [`DryRun`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_runs: Vec<DryRun>,
    pub requires_approval: bool,
    /// SHA-256 over everything that will be executed; see [`Plan::compute_hash`].
    pub content_hash: String,
    /// The built-in catalogue's versions its files were rendered from (`builtin/NAME` and the
    /// version's manifest SHA-256), also in its `planned` event. Not hashed: the artifacts the
    /// hash binds are what they rendered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builtins: Vec<crate::library::builtin::BuiltinRef>,
}

/// The intent note of a plan made from hand-written files (`opsdeck submit`), not rendered by
/// opsdeck from a request.
pub const SUBMITTED_NOTE: &str = "submitted directly, not classified";

/// What a plan's content hash starts with, before [`Plan::hash_input`].
pub const PLAN_HASH_DOMAIN: &[u8] = b"opsdeck-plan-v1\n";

impl Plan {
    /// Made from hand-written Terraform or playbooks (`opsdeck submit`): its files were not
    /// rendered from opsdeck's templates, so only the sandbox confines what they can read.
    pub fn is_handwritten(&self) -> bool {
        self.intent.notes.iter().any(|n| n == SUBMITTED_NOTE)
    }

    /// The hash an approval binds to: tenant, agent, action, target, steps, every artifact's
    /// name and content hash (the saved Terraform plan among them when `terraform plan` ran) and
    /// the Terraform state versions the dry runs saw. Anything that changes what runs changes
    /// this.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(PLAN_HASH_DOMAIN);
        h.update(self.hash_input());
        hex::encode(h.finalize())
    }

    /// The JSON document [`Plan::compute_hash`] hashes after [`PLAN_HASH_DOMAIN`]: what an
    /// auditor recomputes the hash from (the evidence pack holds it byte for byte).
    pub fn hash_input(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Executable<'a> {
            tenant: &'a str,
            agent: AgentKind,
            action: &'a str,
            stack: &'a Option<String>,
            region: &'a Option<String>,
            steps: &'a [Step],
            artifacts: Vec<(&'a str, ArtifactKind, &'a str)>,
            // Absent (so older hashes stay valid) unless a dry run recorded a state version.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            states: Vec<(usize, &'a StateVersion)>,
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
            states: self.bound_states(),
        };
        // Serialising plain structs and strings cannot fail.
        serde_json::to_vec(&exe).unwrap_or_default()
    }

    /// The Terraform state versions the approval binds to, by step (1-based).
    pub fn bound_states(&self) -> Vec<(usize, &StateVersion)> {
        self.dry_runs
            .iter()
            .filter_map(|d| d.state.as_ref().map(|s| (d.step, s)))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::{CostEstimate, CurrentCost};

    #[test]
    fn unpriced_plans_say_no_cost_change_and_priced_ones_their_basis() {
        let none = CostEstimate {
            monthly_usd: 0.0,
            lines: Vec::new(),
            source: String::new(),
            price_date: String::new(),
            notes: vec!["configuration changes add no AWS charges by themselves".into()],
            current: None,
        };
        assert_eq!(none.headline(), "no cost change");
        assert_eq!(none.delta_usd(), 0.0);
        assert_eq!(none.basis(), None);
        let priced = CostEstimate {
            monthly_usd: 8.234,
            source: "AWS on-demand price list".into(),
            price_date: "2025-01-15".into(),
            ..none
        };
        assert_eq!(priced.headline(), "$8.23/month");
        assert_eq!(
            priced.basis().as_deref(),
            Some("AWS on-demand price list, prices of 2025-01-15")
        );
        assert_eq!(priced.delta_usd(), 8.23);
    }

    #[test]
    fn changes_to_a_stack_show_the_delta_against_its_cost_now() {
        let now = |usd: f64| {
            Some(CurrentCost {
                monthly_usd: usd,
                plan_id: "p-abc234defg".into(),
                basis: "AWS Price List API, prices of 2026-12-01".into(),
            })
        };
        let grown = CostEstimate {
            monthly_usd: 122.64,
            source: "AWS Price List API".into(),
            price_date: "2026-12-06".into(),
            current: now(61.32),
            ..CostEstimate::default()
        };
        assert_eq!(grown.delta_usd(), 61.32);
        assert_eq!(
            grown.headline(),
            "$122.64/month (+$61.32/month against $61.32/month now)"
        );
        // A destroy prices nothing new but still changes the cost.
        let destroyed = CostEstimate {
            current: now(61.32),
            ..CostEstimate::default()
        };
        assert_eq!(destroyed.delta_usd(), -61.32);
        assert_eq!(
            destroyed.headline(),
            "$0.00/month (-$61.32/month against $61.32/month now)"
        );
    }
}
