//! The pipeline every front end drives: request → intent → plan → gates → approval → execution,
//! with every transition written to the audit trail. The CLI, the console and the MCP server hold
//! no business rules of their own; they call [`Deck`].

mod admin;
mod approvals;
mod audit_keys;
mod backend;
mod completion;
mod compliance;
mod configs;
mod evidence;
mod gates;
mod iam;
mod knowledge;
mod library;
mod planning;
mod principals;
mod proof;
mod read_only;
mod receipt;
mod reports;
mod requests;
mod roles;
mod runner;
mod runs;
mod session;
mod siem;
mod tokens;
mod trail;
mod waiting;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::agents::Report;
use crate::approval::{PlanRecord, State};
use crate::audit::Signer;
use crate::config::{Config, Paths};
use crate::intent::{AgentKind, Intent};
use crate::plan::ArtifactRef;
use crate::policy::PolicySet;
use crate::store::Store;
use crate::tenant::{Identity, Tenant, User};
use crate::time::Clock;

mod drift;
mod iac;
mod members;
mod notify;
mod onboarding;
mod signatures;
pub use drift::{
    AttributeDrift, DriftChange, DriftReport, DriftSource, DriftStatus, HostsDrift, ResourceDrift,
    StackDrift, StackDriftStatus,
};
pub use iac::{StackDetail, StackEntry};
pub use onboarding::{CodeShown, Setup};
pub use reports::{CompareWith, ReportComparison, StoredRun};

pub use approvals::Comparison;
pub use audit_keys::KeyDecision;
pub use backend::{BackendCheck, SharedBackend};
pub use configs::CallerIdentity;
pub use evidence::EvidenceSummary;
pub use iam::{PolicyRequest, PolicyRole, iam_policy, policy_document};
pub use library::{
    Added, BuiltinDetail, BuiltinVersionSeen, COMBINED_PLAYBOOK, EntryDetail, EntryOverview,
    NewEntry, UseRequest,
};
pub use members::KeyStatus;
pub use notify::FlushReport;
pub use read_only::ReadOnly;
pub use receipt::{IdentityReceipt, Runner};
pub use runner::{RunProgress, RunnerOptions, RunnerPass};
pub use tokens::IssuedToken;

/// How to open a [`Deck`]; every field has a sensible default.
#[derive(Default, Clone)]
pub struct OpenOptions {
    pub home: Option<PathBuf>,
    /// The person's own directory (keys, pinned tenant roots, checkpoints); see
    /// [`crate::config::Paths::identity`].
    pub identity_dir: Option<PathBuf>,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub user_env: Option<String>,
    pub backend: Option<String>,
    pub clock: Option<Arc<dyn Clock>>,
    /// The session is an MCP client: recorded as such, and never allowed to approve.
    pub via_mcp: bool,
    /// An HTTP MCP client's bearer token: the session acts as the token's user (source
    /// `mcp_token`) once the token checks out (refused, and audited, when it does not).
    pub mcp_token: Option<String>,
    /// Overrides the SDK's endpoint (after `AWS_ENDPOINT_URL[_<SERVICE>]`).
    pub endpoint_url: Option<String>,
    /// The tenant's AWS configuration to act through (`none`: the base credentials); default:
    /// the one the user selected, or the tenant's only one.
    pub aws_config: Option<String>,
    /// Questions only (`--read-only`): anything that would change something is refused.
    pub read_only: bool,
}

/// An open session: one store, one tenant, one acting identity.
pub struct Deck {
    store: Arc<dyn Store>,
    config: Config,
    paths: Paths,
    identity: Identity,
    tenant: Tenant,
    /// Compiled on first use: most commands never evaluate a policy.
    policies: std::sync::OnceLock<PolicySet>,
    /// The tenant's model, when one is configured.
    model: Option<crate::intent::llm::Model>,
    signer: Arc<Signer>,
    clock: Arc<dyn Clock>,
    /// How agents and executors reach AWS for this tenant.
    aws: crate::aws::AwsAccess,
    /// The AWS configuration `aws` acts through, if any.
    aws_configuration: Option<crate::tenant::AwsConfiguration>,
    /// The session's last understood request, what a follow-up ("now in eu-west-1") refines.
    last_intent: std::sync::Mutex<Option<Intent>>,
    /// Whether this session already saw to the certification of its machine's audit-signing
    /// key (see `audit_keys.rs`).
    audit_key_checked: std::sync::atomic::AtomicBool,
    /// Why this session may only ask questions (the flag, the user, the configuration).
    read_only: Option<ReadOnly>,
    /// The tenant's past requests as read from its trail so far (`knowledge.rs`).
    knowledge: std::sync::RwLock<crate::knowledge::KnowledgeIndex>,
    /// The tenant's library as read from its trail so far (`library/mod.rs`): each lookup
    /// reads only the records after the last one it saw.
    library: std::sync::Mutex<crate::library::Catalogue>,
    /// What the reports read of the trail so far (`reports/digest.rs`): each build reads only
    /// the records after the last one it saw.
    report_trail: std::sync::Mutex<reports::digest::ReportTrail>,
}

/// What the command line adds to a request's words.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Ansible inventory to configure instead of looking hosts up by tag (`--inventory`).
    pub inventory: Option<PathBuf>,
    /// Which reading (1-based, as [`crate::intent::Confirmation`] lists them) the requester
    /// confirmed for a change understood with low confidence (`--confirm-reading N`).
    pub confirm_reading: Option<usize>,
}

/// What `opsdeck submit` hands in: hand-written Terraform (a directory, applied as `stack`), a
/// playbook, or both.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub terraform: Option<PathBuf>,
    pub stack: Option<String>,
    pub playbook: Option<PathBuf>,
    /// The playbook's hosts when there is no Terraform to create them.
    pub inventory: Option<PathBuf>,
}

/// What a request comes back as.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Plan(Box<PlanRecord>),
    Report(Box<ReportRecord>),
}

/// A stored, audited report: the answer to a read-only request.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRecord {
    pub request_id: String,
    pub agent: AgentKind,
    pub action: String,
    pub intent: Intent,
    pub report: Report,
    pub artifacts: Vec<ArtifactRef>,
    /// Where the report is stored.
    pub uri: String,
}

/// What `users add` returns: the record and, once only, the secret to enrol.
pub struct Enrolment {
    pub user: User,
    pub secret: String,
    pub otpauth_uri: String,
}

impl std::fmt::Debug for Enrolment {
    // Never print the secret by accident (logs, panics).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("user", &self.user.name)
            .field("roles", &self.user.roles)
            .finish_non_exhaustive()
    }
}

/// What `apply` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub plan_id: String,
    pub state: State,
    pub success: bool,
    pub cancelled: bool,
    pub exit_code: Option<i32>,
    pub log_uri: Option<String>,
    pub outputs: Option<Value>,
    /// How it ended, as the trail's outcome event says it (`cancelled: abandoned ec2
    /// RebootInstances on i-0abc after 2.0 s: its effect at AWS is unknown …`).
    pub message: String,
}

/// Declares a view of the session for one stage of a request's life; it reads the session's
/// state through `Deref`, so each stage's code says `self.store`, `self.tenant` as the session does.
macro_rules! facet {
    ($(#[$doc:meta])* $name:ident, $accessor:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'d> {
            deck: &'d Deck,
        }

        impl std::ops::Deref for $name<'_> {
            type Target = Deck;
            fn deref(&self) -> &Deck {
                self.deck
            }
        }

        impl Deck {
            $(#[$doc])*
            pub fn $accessor(&self) -> $name<'_> {
                $name { deck: self }
            }
        }
    };
}

facet!(
    /// Reading requests and turning them into answers and plans.
    Requests,
    requests
);
facet!(
    /// Queued plans, their artifacts, and decisions on them.
    Approvals,
    approvals
);
facet!(
    /// Applying approved plans, and the stacks they leave.
    Runs,
    runs
);
facet!(
    /// Tenants, users, settings and policies.
    Admin,
    admin
);
facet!(
    /// Reading and verifying the audit trail.
    Trail,
    trail
);
facet!(
    /// The tenant's artifact library: entries, their versions, and plans made from them.
    Library,
    library
);
facet!(
    /// Named reports (cost, security, monitoring, operations, compliance) as one shape.
    Reports,
    reports
);
facet!(
    /// Drift of applied stacks: checks, their schedule, and plans that revert them.
    Drift,
    drift
);

// Front ends run the pipeline on background tasks and threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Deck>();
};
