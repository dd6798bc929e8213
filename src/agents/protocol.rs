//! The agent protocol: a request goes in, a [`Draft`] plan comes out, and
//! [`crate::events::AgentEvent`]s report along the way. Agents never store anything themselves:
//! the pipeline stores artifacts, hashes the plan, runs the gates and writes the audit trail,
//! the same way for every agent.

use serde::Serialize;

use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::Output;
use crate::intent::{Environment, Intent};
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
    /// The tenant's active AWS configuration (credentials, endpoint); agents read through it.
    pub aws: &'a AwsAccess,
}

impl AgentRequest<'_> {
    /// The region the request acts in: the one it names, else the tenant's default; refused
    /// when it is none AWS has, in the words the parser uses ([`Intent::region_or`]).
    pub fn region(&self) -> Result<String> {
        self.intent
            .region_or(&self.tenant.default_region)
            .map_err(|e| Error::input(e.to_string()))
    }

    /// Whether the request names production ("... in prod"): production is touched only then.
    pub fn names_prod(&self) -> bool {
        self.intent.params.environment == Some(Environment::Prod)
    }
}

/// What an agent answers: a plan to review (and approve, when it changes anything), or a report
/// for a question that changes nothing ("what is my daily EC2 spend?").
#[derive(Debug, Clone)]
pub enum Reply {
    Plan(Draft),
    Report(Report),
}

/// A read-only answer. The pipeline audits it and stores it (with `files`) as a report artifact.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Report {
    pub summary: String,
    /// Shaped results, rendered as tables and charts by every front end.
    pub outputs: Vec<Output>,
    /// Caveats a reader must see (truncation, a service that was unreachable, data sources).
    pub notes: Vec<String>,
    pub region: Option<String>,
    /// The whole machine-readable result (findings, log events, ...) for `--json` and export.
    pub data: serde_json::Value,
    /// Extra files stored with the report (e.g. a findings CSV).
    #[serde(skip)]
    pub files: Vec<DraftFile>,
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
    /// The built-in catalogue's versions its files were rendered from (none for hand-written
    /// files, library entries and API plans): recorded with the plan, so their use is tracked.
    pub builtins: Vec<crate::library::builtin::BuiltinRef>,
}
