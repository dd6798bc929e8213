//! The agent protocol: a request goes in, a [`Draft`] plan comes out, and [`AgentEvent`]s report
//! along the way. Agents never store anything themselves: the pipeline stores artifacts, hashes
//! the plan, runs the gates and writes the audit trail, the same way for every agent.

use serde::Serialize;

use crate::intent::{AgentKind, Intent};
use crate::plan::{ArtifactKind, CostEstimate, ResourceChange, Risk, Step};
use crate::store::Store;
use crate::tenant::Tenant;

/// Everything an agent may read while planning.
pub struct AgentRequest<'a> {
    pub request_id: &'a str,
    pub text: &'a str,
    pub intent: &'a Intent,
    pub tenant: &'a Tenant,
    pub store: &'a dyn Store,
}

/// A file an agent generated, before it is stored content-addressed.
#[derive(Debug, Clone)]
pub struct DraftFile {
    pub name: String,
    pub kind: ArtifactKind,
    pub content: Vec<u8>,
}

/// An agent's proposal. The pipeline turns it into a [`crate::plan::Plan`].
#[derive(Debug, Clone)]
pub struct Draft {
    pub summary: String,
    pub stack: Option<String>,
    pub region: Option<String>,
    pub steps: Vec<Step>,
    pub files: Vec<DraftFile>,
    pub resources: Vec<ResourceChange>,
    pub mutates: bool,
    pub risk: Risk,
    pub risk_reasons: Vec<String>,
    pub cost: CostEstimate,
}

/// What background work reports while it runs. Front ends render these; the console folds them
/// into its state, the CLI prints them to stderr.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    Progress {
        agent: AgentKind,
        message: String,
    },
    /// One line of output from a running tool (terraform, ansible-playbook).
    Output {
        agent: AgentKind,
        line: String,
    },
    PlanReady {
        plan_id: String,
    },
    Finished {
        plan_id: String,
        success: bool,
    },
    Failed {
        agent: AgentKind,
        error: String,
    },
}

/// Where events go. `Send + Sync` so executors can report from their tasks.
pub type Sink<'a> = &'a (dyn Fn(AgentEvent) + Send + Sync);

/// A sink that drops everything (for callers that only want the result).
pub fn quiet(_: AgentEvent) {}
