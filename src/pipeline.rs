//! The pipeline every front end drives: request → intent → plan → gates → approval → execution,
//! with every transition written to the audit trail. The CLI, the console and the MCP server hold
//! no business rules of their own; they call [`Deck`].

mod backend;
mod configs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::agents::{self, AgentEvent, AgentRequest, Draft, Reply, Report, Sink};
use crate::approval::{self, Execution, PlanRecord, Requirement, State, rules};
use crate::audit::{AuditEvent, AuditFilter, AuditRecord, EventKind, Signer, Status, VerifyReport};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::exec;
use crate::intent::{self, AgentKind, Intent, IntentError};
use crate::plan::{ArtifactKind, ArtifactRef, GateResult, Plan, Step, StepKind, TerraformOp};
use crate::policy::{self, Committed, PolicySet};
use crate::redact::redact;
use crate::store::{StackRecord, StackStatus, Store};
use crate::tenant::{Identity, Role, Tenant, User, mfa, validate_name};
use crate::time::{Clock, SystemClock};

mod iac;
mod onboarding;
pub use iac::StackDetail;
pub use onboarding::{CodeShown, Setup};

use backend::open_store;
pub use backend::shared_backend;
pub use configs::CallerIdentity;

/// How to open a [`Deck`]; every field has a sensible default.
#[derive(Default)]
pub struct OpenOptions {
    pub home: Option<PathBuf>,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub user_env: Option<String>,
    pub backend: Option<String>,
    pub clock: Option<Arc<dyn Clock>>,
    /// The session is an MCP client: recorded as such, and never allowed to approve.
    pub via_mcp: bool,
    /// Overrides the SDK's endpoint (after `AWS_ENDPOINT_URL[_<SERVICE>]`).
    pub endpoint_url: Option<String>,
    /// The tenant's AWS configuration to act through (`none`: the base credentials); default:
    /// the one the user selected, or the tenant's only one.
    pub aws_config: Option<String>,
}

/// An open session: one store, one tenant, one acting identity.
pub struct Deck {
    pub store: Arc<dyn Store>,
    pub config: Config,
    pub paths: Paths,
    pub identity: Identity,
    pub tenant: Tenant,
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
}

/// What the command line adds to a request's words.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// Ansible inventory to configure instead of looking hosts up by tag (`--inventory`).
    pub inventory: Option<PathBuf>,
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
}

impl Deck {
    pub fn open(opts: OpenOptions) -> Result<Deck> {
        let paths = Paths::resolve(opts.home.as_deref())?;
        let config = Config::load(&paths.config_file)?;
        let endpoint_url = config.endpoint(opts.endpoint_url.as_deref());
        let clock = opts.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let mut identity = Identity::resolve(opts.user.as_deref(), opts.user_env.as_deref())?;
        if opts.via_mcp {
            identity.source = crate::tenant::UserSource::Mcp;
        }
        let tenant_name = opts.tenant.unwrap_or_else(|| config.default_tenant.clone());
        validate_name(&tenant_name)?;
        let store = open_store(
            opts.backend.as_deref(),
            &config,
            &paths,
            endpoint_url.clone(),
            &tenant_name,
            &identity.user,
        )?;
        let tenant = match store.get_tenant(&tenant_name)? {
            Some(t) => t,
            None if tenant_name == "default" => {
                let t = Tenant {
                    created_at: clock.iso(),
                    ..Tenant::default()
                };
                store.put_tenant(&t)?;
                t
            }
            None => {
                let known = tenants_open_to(store.as_ref(), &identity.user)?;
                return Err(Error::not_found(
                    "tenant",
                    &tenant_name,
                    format!(
                        "known: {}; create it with `opsdeck tenants add {tenant_name}`",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        };
        let signer = Arc::new(Signer::load_or_create(&paths.data.join("keys"))?);
        // Events queued while the shared backend was unreachable go first.
        if store.health().queued > 0
            && let Err(e) = store.sync(&signer)
        {
            tracing::warn!(error = %e, "could not flush the audit journal yet");
        }
        // A demo tenant reaches only the demo's stand-in, with its credentials, whatever the
        // environment or the tenant's configurations say.
        let (endpoint_url, aws_configuration) = if tenant.demo {
            (Some(crate::demo::endpoint(&paths.data)), None)
        } else {
            let chosen = configs::resolve(
                store.as_ref(),
                &tenant_name,
                &identity.user,
                opts.aws_config.as_deref(),
            )?;
            (endpoint_url, chosen)
        };
        let mut aws = crate::aws::AwsAccess::new(
            endpoint_url.clone(),
            aws_configuration.as_ref().map(|c| crate::aws::AssumeRole {
                role_arn: c.role_arn.clone(),
                external_id: c.external_id.clone(),
                session_name: crate::tenant::configs::session_name(&identity.user),
            }),
        );
        if tenant.demo {
            aws = aws.with_fixed_credentials(crate::demo::CREDENTIAL, crate::demo::CREDENTIAL);
        }
        let model = if tenant.llm.model_id.is_empty() {
            None
        } else {
            let target = crate::aws::Target {
                region: if tenant.llm.region.is_empty() {
                    tenant.default_region.clone()
                } else {
                    tenant.llm.region.clone()
                },
                endpoint_url: endpoint_url.clone(),
                timeout: std::time::Duration::from_millis(tenant.llm.timeout_ms.max(100)),
                max_attempts: 1,
            };
            Some(
                crate::intent::llm::Model::new(&tenant.llm.model_id, &target)
                    .map_err(|e| Error::io("starting the model client", e))?,
            )
        };
        Ok(Deck {
            store,
            config,
            paths,
            identity,
            tenant,
            policies: std::sync::OnceLock::new(),
            model,
            signer,
            clock,
            aws,
            aws_configuration,
        })
    }

    /// The tenants the acting user may see: those they are registered in, and those nobody is
    /// registered in yet. Other tenants' names are not theirs to know.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        let open = tenants_open_to(self.store.as_ref(), &self.identity.user)?;
        Ok(self
            .store
            .list_tenants()?
            .into_iter()
            .filter(|t| open.contains(&t.name))
            .collect())
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The AWS endpoint every agent call goes to, when one is set (a demo tenant always has one).
    pub fn aws_endpoint(&self) -> Option<&str> {
        self.aws.endpoint_url()
    }

    /// Creates a tenant with default guardrails.
    pub fn add_tenant(&self, name: &str) -> Result<Tenant> {
        validate_name(name)?;
        if self.store.get_tenant(name)?.is_some() {
            return Err(Error::input(format!("tenant {name} already exists")));
        }
        let t = Tenant {
            name: name.to_string(),
            created_at: self.clock.iso(),
            ..Tenant::default()
        };
        self.store.put_tenant(&t)?;
        Ok(t)
    }

    /// How a request is understood: the offline parser, refined from the user's previous
    /// request for follow-ups, and cross-checked by the tenant's model when one is configured.
    /// Whoever reads it, a value out of range (a count over the tenant's limit, an unknown
    /// region, an impossible window) is an error, never clamped or defaulted.
    /// Text holding a credential is refused before it is parsed or sent to a model.
    pub fn classify(&self, text: &str) -> Result<Intent> {
        crate::secrets::check(text).map_err(|r| Error::refused(r.to_string()))?;
        self.understand(text).map_err(intent_error)
    }

    /// Refuses a request holding a credential before anything of it is stored, planned or
    /// sent to a model. The refusal is audited (for members) with only what was found, masked,
    /// so whoever reads the trail knows a credential was exposed and needs rotating.
    pub fn refuse_credentials(&self, text: &str) -> Result<()> {
        let Err(refusal) = crate::secrets::check(text) else {
            return Ok(());
        };
        let error = Error::refused(refusal.to_string());
        let member = self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "ask",
        );
        if member.is_ok() {
            let request_id = uuid::Uuid::new_v4().to_string();
            let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
            failed.message = Some(format!(
                "refused a request holding a credential: {} (rules {}); the request text was not kept",
                refusal.found(),
                refusal.rule_ids().join(", ")
            ));
            // The refusal stands even when the trail cannot take the event.
            if let Err(e) = self.append(&[failed]) {
                tracing::warn!(error = %e, "could not audit a refused request");
            }
        }
        Err(error)
    }

    /// Why a plan (by id, or a unique prefix such as `p-8r98`) or a request text was routed as
    /// it was. One word starting `p-` is a plan id; anything else is a request. Every front end
    /// asks here, so they agree.
    pub fn explain(&self, what: &str) -> Result<(Intent, Value)> {
        let what = what.trim();
        let intent = if what.starts_with("p-") && !what.contains(char::is_whitespace) {
            self.plan(what)?.plan.intent
        } else {
            self.classify(what)?
        };
        let v = intent::explain(&intent);
        Ok((intent, v))
    }

    /// How a request reads to the offline parser alone, refined from `previous` (the session's
    /// last request) when it is a follow-up: pure and quick, for the live preview on a UI
    /// thread. No model, no store, no network; [`Deck::request`] reads it again in full, with
    /// the tenant's model when one is configured.
    pub fn preview(&self, text: &str, previous: Option<&Intent>) -> Result<Intent> {
        crate::secrets::check(text).map_err(|r| Error::refused(r.to_string()))?;
        let limits = intent::Limits::of(&self.tenant);
        let refined = previous
            .filter(|_| intent::is_follow_up(text))
            .and_then(|p| intent::refine(p, text));
        let mut read = match refined {
            Some(r) => r,
            None => intent::parse_with(text, &limits),
        }
        .map_err(intent_error)?;
        intent::check(&read, &limits).map_err(intent_error)?;
        if let Some(m) = &self.model {
            read.notes.push(format!(
                "offline reading: the tenant's model ({}) reads the request again when it is submitted",
                m.model_id
            ));
        }
        Ok(read)
    }

    fn understand(&self, text: &str) -> std::result::Result<Intent, IntentError> {
        let limits = intent::Limits::of(&self.tenant);
        let previous = if intent::is_follow_up(text) {
            self.previous_intent()
        } else {
            None
        };
        let parsed = match (intent::parse_with(text, &limits), &previous) {
            (Ok(i), None) => i,
            (parsed, Some(prev)) => match intent::refine(prev, text) {
                Some(refined) => refined?,
                None => parsed?,
            },
            (Err(e @ IntentError::Unrecognised(_)), None) => {
                // The model may still understand what the parser could not; its reading then
                // stands alone and always needs confirmation.
                let Some(m) = &self.model else { return Err(e) };
                return match m.classify_alone(text) {
                    Ok(mut i) => {
                        intent::check(&i, &limits)?;
                        i.low_confidence = true;
                        i.notes.push(
                            "only the model understood this request (the offline parser did not): confirm before approving".into(),
                        );
                        Ok(i)
                    }
                    Err(_) => Err(e),
                };
            }
            (Err(e), None) => return Err(e),
        };
        let intent = match &self.model {
            Some(m) => m.understand(text, parsed, previous.as_ref(), &limits),
            None => parsed,
        };
        intent::check(&intent, &limits)?;
        Ok(intent)
    }

    /// The intent of the acting user's last classified request in this tenant.
    fn previous_intent(&self) -> Option<Intent> {
        let mut last = None;
        self.scan_trail(&mut |r| {
            if r.event.event == EventKind::Classified && r.event.user_id == self.identity.user {
                last = r.event.intent;
            }
            true
        })
        .ok()?;
        last.and_then(|v| serde_json::from_value(v).ok())
    }

    fn event(&self, request_id: &str, kind: EventKind, status: Status) -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            request_id: request_id.to_string(),
            tenant_id: self.tenant.name.clone(),
            user_id: self.identity.user.clone(),
            user_source: self.identity.source.as_str().to_string(),
            os_user: self.identity.os_user.clone(),
            timestamp: self.clock.iso(),
            event: kind,
            status,
            plan_id: None,
            intent: None,
            agent_type: None,
            approval_metadata: None,
            execution_logs: None,
            cost_impact: None,
            security_gates: None,
            artifacts: Vec::new(),
            message: None,
        }
    }

    fn append(&self, events: &[AuditEvent]) -> Result<Vec<AuditRecord>> {
        self.store
            .append_audit(&self.tenant.name, events, &self.signer)
    }

    /// Classifies, plans and gates a request that should produce a plan. A question that an
    /// agent answers with a report (no plan) is audited like any request and reported back as
    /// an error here; front ends call [`Deck::request`], which returns either.
    pub fn ask(&self, text: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        match self.request(text, sink)? {
            Answer::Plan(rec) => Ok(*rec),
            Answer::Report(r) => Err(Error::input(format!(
                "'{}' is answered with a report, not a plan ({}); request {}",
                text.trim(),
                r.report.summary,
                r.request_id
            ))),
        }
    }

    /// Classifies a request and hands it to its agent: a plan (mutating plans are queued for
    /// approval; read-only ones are returned ready to run) or a report answering a question.
    pub fn request(&self, text: &str, sink: Sink<'_>) -> Result<Answer> {
        self.request_with(text, &RequestOptions::default(), sink)
    }

    /// [`Deck::request`] with what the command line adds to the words (an inventory file).
    pub fn request_with(
        &self,
        text: &str,
        opts: &RequestOptions,
        sink: Sink<'_>,
    ) -> Result<Answer> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "ask",
        )?;
        self.refuse_credentials(text)?;
        self.demo_standin_running()?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let redacted = redact(text.trim());
        let intent = match self.understand(text) {
            Ok(i) => iac::with_inventory(i, opts)?,
            Err(IntentError::Empty) => return Err(intent_error(IntentError::Empty)),
            Err(e) => {
                let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
                requested.message = Some(redacted.clone());
                let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
                failed.message = Some(redact(&e.to_string()));
                self.append(&[requested, failed])?;
                return Err(intent_error(e));
            }
        };
        let reply = agents::handle(
            &AgentRequest {
                request_id: &request_id,
                text: &redacted,
                intent: &intent,
                tenant: &self.tenant,
                store: self.store.as_ref(),
                aws: &self.aws,
            },
            sink,
        );
        match reply {
            Ok(Reply::Report(report)) => self
                .finish_report(request_id, redacted, intent, report, sink)
                .map(|r| Answer::Report(Box::new(r))),
            Ok(Reply::Plan(draft)) => self
                .finish_plan(request_id, redacted, intent, Ok(draft), sink)
                .map(|r| Answer::Plan(Box::new(r))),
            Err(e) => self
                .finish_plan(request_id, redacted, intent, Err(e), sink)
                .map(|r| Answer::Plan(Box::new(r))),
        }
    }

    /// Audits and stores a read-only answer: the report (and its files) become artifacts, the
    /// trail records who asked what and where the answer is.
    fn finish_report(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        report: Report,
        sink: Sink<'_>,
    ) -> Result<ReportRecord> {
        let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
        requested.message = Some(text.clone());
        let mut classified = self.event(&request_id, EventKind::Classified, Status::Pending);
        classified.intent = serde_json::to_value(redact_intent(&intent)).ok();
        classified.agent_type = Some(intent.agent.to_string());
        classified.message = Some(format!(
            "{}/{} (confidence {:.2}{})",
            intent.agent,
            intent.action,
            intent.confidence,
            if intent.low_confidence { ", low" } else { "" }
        ));
        let body = serde_json::to_vec_pretty(&report)
            .map_err(|e| Error::input(format!("the report cannot be stored: {e}")))?;
        let redacted_body = redact(&String::from_utf8_lossy(&body));
        let sha = self.store.put_artifact_as(
            &self.tenant.name,
            ArtifactKind::Report,
            redacted_body.as_bytes(),
        )?;
        let mut artifacts = vec![ArtifactRef {
            name: "report.json".into(),
            kind: ArtifactKind::Report,
            sha256: sha,
            size: redacted_body.len() as u64,
        }];
        for f in &report.files {
            let text = redact(&String::from_utf8_lossy(&f.content));
            let sha = self
                .store
                .put_artifact_as(&self.tenant.name, f.kind, text.as_bytes())?;
            artifacts.push(ArtifactRef {
                name: f.name.clone(),
                kind: f.kind,
                sha256: sha,
                size: text.len() as u64,
            });
        }
        let mut answered = self.event(&request_id, EventKind::Answered, Status::Completed);
        answered.agent_type = Some(intent.agent.to_string());
        answered.message = Some(redact(&report.summary));
        answered.artifacts = artifacts
            .iter()
            .map(|a| {
                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256, "size": a.size,
                       "uri": self.store.artifact_uri(&self.tenant.name, &a.sha256)})
            })
            .collect();
        self.append(&[requested, classified, answered])?;
        for output in &report.outputs {
            sink(AgentEvent::Result {
                agent: intent.agent,
                output: output.clone(),
            });
        }
        let uri = self
            .store
            .artifact_uri(&self.tenant.name, &artifacts[0].sha256);
        Ok(ReportRecord {
            request_id,
            agent: intent.agent,
            action: intent.action.clone(),
            intent,
            report,
            artifacts,
            uri,
        })
    }

    /// Submits a hand-written Terraform directory for review and apply as stack `stack`.
    pub fn submit_terraform(&self, dir: &Path, stack: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        self.submit(
            &Submission {
                terraform: Some(dir.to_path_buf()),
                stack: Some(stack.to_string()),
                ..Submission::default()
            },
            sink,
        )
    }

    /// Submits hand-written Terraform, a hand-written playbook, or both as one hybrid plan (the
    /// playbook then runs on the hosts the Terraform creates), through the same gates,
    /// approvals and audit as a generated plan.
    pub fn submit(&self, sub: &Submission, sink: Sink<'_>) -> Result<PlanRecord> {
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "submit Terraform or playbooks",
        )?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let (text, intent, draft) = iac::submission(sub)?;
        self.refuse_credentials(&text)?;
        self.finish_plan(request_id, text, intent, draft, sink)
    }

    fn finish_plan(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        draft: Result<Draft>,
        sink: Sink<'_>,
    ) -> Result<PlanRecord> {
        let intent_json = serde_json::to_value(&intent).ok();
        let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
        requested.message = Some(text.clone());
        let mut classified = self.event(&request_id, EventKind::Classified, Status::Pending);
        classified.intent = intent_json.clone();
        classified.agent_type = Some(intent.agent.to_string());
        classified.message = Some(format!(
            "{}/{} (confidence {:.2}{})",
            intent.agent,
            intent.action,
            intent.confidence,
            if intent.low_confidence { ", low" } else { "" }
        ));

        let draft = match draft {
            Ok(d) => d,
            Err(e) => {
                let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
                failed.agent_type = Some(intent.agent.to_string());
                failed.message = Some(redact(&e.to_string()));
                self.append(&[requested, classified, failed])?;
                sink(AgentEvent::Failed {
                    agent: intent.agent,
                    error: e.to_string(),
                });
                return Err(e);
            }
        };

        // A viewer may ask questions, never for changes: refused before any artifact or plan is
        // stored, and the refusal is in the trail.
        if draft.mutates && self.my_roles()?.as_deref() == Some(&[Role::Viewer][..]) {
            let e = Error::refused(format!(
                "{me} is a viewer in tenant {t} and cannot request changes: ask an admin ({admins}) for the operator role; questions (spend, findings, logs) work as a viewer",
                me = self.identity.user,
                t = self.tenant.name,
                admins = self.admin_names().join(", ")
            ));
            let mut denied = self.event(&request_id, EventKind::AccessDenied, Status::Rejected);
            denied.agent_type = Some(intent.agent.to_string());
            denied.message = Some(format!("request a change: {e}"));
            classified.intent = serde_json::to_value(redact_intent(&intent)).ok();
            self.append(&[requested, classified, denied])?;
            return Err(e);
        }

        // Nothing that looks like a credential is ever stored: refuse before any artifact,
        // plan or intent is written (the audit keeps only the redacted request).
        let leaking: Vec<&str> = draft
            .files
            .iter()
            .filter(|f| {
                let text = String::from_utf8_lossy(&f.content);
                redact(&text) != text
            })
            .map(|f| f.name.as_str())
            .collect();
        if !leaking.is_empty() || redact_intent(&intent) != intent {
            let e = Error::refused(format!(
                "the request would put what looks like a credential into {}; pass secrets through a secret store (e.g. Secrets Manager), never in a request",
                if leaking.is_empty() {
                    "the plan".to_string()
                } else {
                    leaking.join(", ")
                }
            ));
            let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
            failed.agent_type = Some(intent.agent.to_string());
            failed.message = Some(e.to_string());
            classified.intent = serde_json::to_value(redact_intent(&intent)).ok();
            self.append(&[requested, classified, failed])?;
            return Err(e);
        }

        let mut artifacts = Vec::new();
        let mut terraform_texts = Vec::new();
        let mut files = Vec::new();
        for f in draft.files {
            let sha = self
                .store
                .put_artifact_as(&self.tenant.name, f.kind, &f.content)?;
            if f.kind == ArtifactKind::Terraform {
                terraform_texts.push((
                    f.name.clone(),
                    String::from_utf8_lossy(&f.content).to_string(),
                ));
            }
            let a = ArtifactRef {
                name: f.name,
                kind: f.kind,
                sha256: sha,
                size: f.content.len() as u64,
            };
            artifacts.push(a.clone());
            files.push((a, f.content));
        }
        let plan_id = new_plan_id();
        let mut cost = draft.cost;
        // A plan that changes or destroys an existing stack is judged by the change it makes:
        // its estimate against the estimate the stack was applied with.
        if let Some(stack) = &draft.stack
            && (!cost.unpriced() || intent.action == "destroy")
        {
            cost.current =
                crate::plan::pricing::current_cost(self.store.as_ref(), &self.tenant.name, stack)?;
        }
        let mut plan = Plan {
            plan_id: plan_id.clone(),
            request_id: request_id.clone(),
            tenant: self.tenant.name.clone(),
            requester: self.identity.user.clone(),
            requester_source: self.identity.source.as_str().to_string(),
            created_at: self.clock.iso(),
            request: text,
            agents: intent.agents.clone(),
            agent: intent.agent,
            action: intent.action.clone(),
            intent,
            summary: draft.summary,
            stack: draft.stack,
            region: draft.region,
            steps: draft.steps,
            artifacts,
            resources: draft.resources,
            mutates: draft.mutates,
            risk: draft.risk,
            risk_reasons: draft.risk_reasons,
            cost,
            gates: Vec::new(),
            dry_runs: Vec::new(),
            requires_approval: draft.mutates,
            content_hash: String::new(),
        };
        plan.gates = self.gates(&plan, &terraform_texts)?;
        // Dry runs (terraform plan, ansible --check) only for plans the policies let through.
        if !plan.denied() {
            self.dry_runs(&mut plan, &files, sink)?;
        }
        plan.content_hash = plan.compute_hash();
        let req = rules::requirement(&plan, &self.tenant.approvals);
        let mut rec = PlanRecord::new(
            plan,
            req,
            self.tenant.approvals.pending_ttl_secs,
            self.tenant.approvals.approved_ttl_secs,
            self.clock.as_ref(),
        );

        let artifacts_json: Vec<Value> = rec
            .plan
            .artifacts
            .iter()
            .map(|a| {
                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256, "size": a.size,
                       "uri": self.store.artifact_uri(&self.tenant.name, &a.sha256)})
            })
            .collect();
        let mut planned = self.event(&request_id, EventKind::Planned, Status::Pending);
        planned.plan_id = Some(plan_id.clone());
        planned.agent_type = Some(rec.plan.agent.to_string());
        planned.intent = intent_json;
        planned.cost_impact = Some(rec.plan.cost.monthly_usd);
        planned.artifacts = artifacts_json;
        planned.message = Some(format!(
            "{} (risk {}, hash {}){}",
            rec.plan.summary,
            rec.plan.risk.as_str(),
            approval::short(&rec.plan.content_hash),
            rec.plan
                .dry_runs
                .iter()
                .map(|d| format!(
                    "; step {} {} dry run {}: {}",
                    d.step,
                    d.tool,
                    d.status.as_str(),
                    d.summary
                ))
                .collect::<String>()
        ));
        let mut gated = self.event(&request_id, EventKind::PolicyEvaluated, Status::Pending);
        gated.plan_id = Some(plan_id.clone());
        gated.agent_type = Some(rec.plan.agent.to_string());
        gated.security_gates = serde_json::to_value(&rec.plan.gates).ok();
        gated.message = Some(format!("worst gate: {}", rec.plan.worst_gate().as_str()));
        let mut events = vec![requested, classified, planned, gated];
        if rec.plan.denied() {
            let reasons: Vec<String> = rec
                .plan
                .gates
                .iter()
                .filter(|g| g.result == GateResult::Deny)
                .map(|g| format!("{}: {}", g.rule, g.reason))
                .collect();
            rec.state = State::Rejected;
            rec.rejection = Some(approval::Rejection {
                user: "policy".into(),
                at: self.clock.iso(),
                reason: reasons.join("; "),
            });
            let mut rejected = self.event(&request_id, EventKind::Rejected, Status::Rejected);
            rejected.plan_id = Some(plan_id.clone());
            rejected.message = Some(format!("denied by policy: {}", reasons.join("; ")));
            events.push(rejected);
        } else if rec.plan.requires_approval {
            let mut queued = self.event(&request_id, EventKind::Queued, Status::Pending);
            queued.plan_id = Some(plan_id.clone());
            queued.approval_metadata = Some(json!({
                "rule": rec.approval_rule,
                "roles": rec.approver_roles,
                "group": rec.approver_group,
                "required": rec.required_approvals,
                "requester": rec.plan.requester,
                "expiresAt": crate::time::iso(
                    jiff::Timestamp::from_second(rec.expires_at).unwrap_or_default()),
                "planHash": rec.plan.content_hash,
            }));
            events.push(queued);
        }
        self.store.create_plan(&rec)?;
        self.append(&events)?;
        sink(AgentEvent::PlanReady {
            plan_id: plan_id.clone(),
        });
        Ok(rec)
    }

    /// Finds a plan by id or unique id prefix.
    pub fn resolve_plan_id(&self, id: &str) -> Result<String> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::input(
                "a plan id is required (`opsdeck plans list` shows them)",
            ));
        }
        match self.store.get_plan(&self.tenant.name, id) {
            Ok(rec) => return Ok(rec.plan.plan_id),
            Err(e @ Error::Corrupt { .. }) => return Err(e),
            Err(_) => {}
        }
        let matches: Vec<String> = self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .map(|r| r.plan.plan_id)
            .filter(|p| p.starts_with(id))
            .collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(Error::not_found(
                "plan",
                id,
                format!(
                    "in tenant {}; `opsdeck plans list` shows them",
                    self.tenant.name
                ),
            )),
            n => Err(Error::input(format!(
                "plan id prefix '{id}' matches {n} plans ({}); type more of it",
                matches.join(", ")
            ))),
        }
    }

    pub fn plan(&self, id: &str) -> Result<PlanRecord> {
        self.require_reader("read plans")?;
        let id = self.resolve_plan_id(id)?;
        let mut rec = self.store.get_plan(&self.tenant.name, &id)?;
        if rec.expire_if_due(self.clock.as_ref()) {
            rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
                r.expire_if_due(self.clock.as_ref());
                Ok(())
            })?;
            let mut ev = self.event(&rec.plan.request_id, EventKind::Expired, Status::Expired);
            ev.plan_id = Some(id);
            ev.message = Some("expired while waiting for approval".into());
            self.append(&[ev])?;
        }
        Ok(rec)
    }

    pub fn plans(&self, state: Option<State>) -> Result<Vec<PlanRecord>> {
        self.require_reader("list plans")?;
        let clock = self.clock.as_ref();
        Ok(self
            .store
            .list_plans(&self.tenant.name)?
            .into_iter()
            .map(|mut r| {
                // Shown as expired; persisted when someone acts on it.
                r.expire_if_due(clock);
                r
            })
            .filter(|r| state.is_none_or(|s| r.state == s))
            .collect())
    }

    /// The plan's artifacts, each checked against its content hash.
    pub fn artifacts(&self, plan: &Plan) -> Result<Vec<(ArtifactRef, Vec<u8>)>> {
        self.require_reader("read artifacts")?;
        plan.artifacts
            .iter()
            .map(|a| {
                self.store
                    .get_artifact(&self.tenant.name, &a.sha256)
                    .map(|b| (a.clone(), b))
            })
            .collect()
    }

    /// The plan's hash recomputed from what is stored now; a changed artifact is reported as such.
    fn current_hash(&self, plan: &Plan) -> Result<String> {
        self.checked_artifacts(plan)?;
        Ok(plan.compute_hash())
    }

    /// The plan's artifacts, read once; one whose bytes no longer match its hash refuses the plan.
    fn checked_artifacts(&self, plan: &Plan) -> Result<Vec<(ArtifactRef, Vec<u8>)>> {
        plan.artifacts
            .iter()
            .map(|a| match self.store.get_artifact(&self.tenant.name, &a.sha256) {
                Ok(bytes) => Ok((a.clone(), bytes)),
                Err(Error::Corrupt { detail, .. }) => Err(Error::refused(format!(
                    "artifact {} of plan {} was modified after it was stored ({detail}); the plan will not be approved or run",
                    a.name, plan.plan_id
                ))),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// Approves someone else's plan. The approver must be a registered user with a role the
    /// plan's approval rule accepts, and confirm with a current TOTP code. `break_glass` (a
    /// reason) lets one approval stand in for the required number; it never lifts a deny.
    pub fn approve(
        &self,
        id: &str,
        comment: Option<String>,
        totp: Option<&str>,
        break_glass: Option<String>,
    ) -> Result<PlanRecord> {
        let id = self.resolve_plan_id(id)?;
        let stored = self.store.get_plan(&self.tenant.name, &id)?;
        let what = format!("approve plan {id}");
        self.refuse_machine(&stored, &what)?;
        let break_glass = match break_glass.map(|r| redact(r.trim())) {
            Some(r) if r.is_empty() => {
                return Err(Error::input(
                    "break-glass needs a reason (--reason \"...\")",
                ));
            }
            Some(_) if !self.tenant.approvals.break_glass => {
                return self.deny(
                    &stored,
                    &what,
                    format!("break-glass is disabled for tenant {}", self.tenant.name),
                );
            }
            other => other,
        };
        let user = self.member(&stored, &what)?;
        // Refuse before a TOTP code is spent on something that can never succeed.
        if user.name == stored.plan.requester {
            return self.deny(
                &stored,
                &what,
                format!(
                    "{} requested plan {id} and cannot approve it: {}",
                    user.name,
                    self.approval_hint(&stored)
                ),
            );
        }
        let req = Requirement {
            rule: stored.approval_rule.clone(),
            approvers: stored.required_approvals,
            roles: if stored.approver_roles.is_empty() {
                self.tenant.approvals.default_roles.clone()
            } else {
                stored.approver_roles.clone()
            },
            group: stored.approver_group.clone(),
        };
        if let Some(why) = rules::disqualified(&user, &req) {
            return self.deny(&stored, &what, why);
        }
        self.second_factor(&stored, &what, totp)?;
        let hash = self.current_hash(&stored.plan)?;
        let me = self.identity.user.clone();
        let source = self.identity.source.as_str().to_string();
        let comment = comment.map(|c| redact(&c));
        let rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
            approval::approve(
                r,
                &me,
                &source,
                comment.clone(),
                break_glass.clone(),
                &hash,
                self.clock.as_ref(),
            )
        });
        let rec = match rec {
            Ok(r) => r,
            Err(e @ Error::Refused(_)) => {
                self.audit_denied(&stored, &what, &e.to_string())?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let status = if rec.state == State::Approved {
            Status::Approved
        } else {
            Status::Pending
        };
        let mut ev = self.event(&rec.plan.request_id, EventKind::Approved, status);
        ev.plan_id = Some(id);
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.approval_metadata = Some(json!({
            "approver": me,
            "approverSource": source,
            "approverRoles": user.roles,
            "mfa": "totp",
            "rule": rec.approval_rule,
            "planHash": hash,
            "approvals": rec.approvals.len(),
            "required": rec.required_approvals,
            "comment": comment,
            "breakGlass": break_glass.is_some(),
            "breakGlassReason": break_glass,
        }));
        if let Some(reason) = &break_glass {
            ev.message = Some(format!("BREAK-GLASS approval by {me}: {reason}"));
        }
        self.append(&[ev])?;
        Ok(rec)
    }

    /// Rejects a plan: approvers, admins, or the requester withdrawing it; with a TOTP code.
    pub fn reject(&self, id: &str, reason: &str, totp: Option<&str>) -> Result<PlanRecord> {
        let id = self.resolve_plan_id(id)?;
        let stored = self.store.get_plan(&self.tenant.name, &id)?;
        let what = format!("reject plan {id}");
        self.refuse_machine(&stored, &what)?;
        if reason.trim().is_empty() {
            return Err(Error::input(
                "a reason is required to reject a plan (--reason \"...\")",
            ));
        }
        let user = self.member(&stored, &what)?;
        if !user.has_any(&[Role::Approver, Role::Admin]) && user.name != stored.plan.requester {
            return self.deny(&stored, &what, format!(
                "{} may not reject plans: that needs the approver or admin role, or being the requester",
                user.name
            ));
        }
        self.second_factor(&stored, &what, totp)?;
        let me = self.identity.user.clone();
        let reason = redact(reason);
        let rec = self.store.update_plan(&self.tenant.name, &id, &mut |r| {
            approval::reject(r, &me, &reason, self.clock.as_ref())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Rejected, Status::Rejected);
        ev.plan_id = Some(id);
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.approval_metadata = Some(json!({"rejectedBy": me, "reason": reason, "mfa": "totp"}));
        self.append(&[ev])?;
        Ok(rec)
    }

    /// Runs an approved plan. Everything is checked again right before it runs: state, expiry,
    /// the artifacts' hashes against the approved hash, the signed approval in the audit trail
    /// and the policy gates.
    pub async fn apply(
        &self,
        id: &str,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<ApplyReport> {
        let id = self.resolve_plan_id(id)?;
        let tenant = self.tenant.name.clone();
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "apply plans",
        )?;
        self.demo_standin_running()?;
        self.reap_interrupted(&id)?;
        let stored = self.store.get_plan(&tenant, &id)?;
        let artifacts = self.checked_artifacts(&stored.plan)?;
        let hash = stored.plan.compute_hash();
        let terraform_texts: Vec<(String, String)> = artifacts
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Terraform)
            .map(|(a, b)| (a.name.clone(), String::from_utf8_lossy(b).to_string()))
            .collect();
        // Approval state first: the most useful answer for a plan that is not ready.
        approval::check_runnable(&mut stored.clone(), &hash, self.clock.as_ref())?;
        // Approval rules may have tightened since the plan was approved.
        let now_req = rules::requirement(&stored.plan, &self.tenant.approvals);
        if !stored.break_glass() && (stored.approvals.len() as u32) < now_req.approvers {
            return Err(Error::refused(format!(
                "plan {id} now needs {} approvals under rule {} and has {}",
                now_req.approvers,
                now_req.rule,
                stored.approvals.len()
            )));
        }
        let gates = self.gates(&stored.plan, &terraform_texts)?;
        if let Some(deny) = gates.iter().find(|g| g.result == GateResult::Deny) {
            return Err(Error::refused(format!(
                "plan {id} is now denied by policy ({}: {}); it will not run",
                deny.rule, deny.reason
            )));
        }
        // Pre-flight: say what is missing before anything changes state.
        if stored.plan.steps.is_empty() {
            return Err(Error::input(format!("plan {id} has no steps to run")));
        }
        for step in &stored.plan.steps {
            if let Err(err) = self.preflight(step, &id) {
                let mut ev =
                    self.event(&stored.plan.request_id, EventKind::Failed, Status::Approved);
                ev.plan_id = Some(id.clone());
                ev.message = Some(format!("not started: {err}"));
                self.append(&[ev])?;
                return Err(err);
            }
        }
        self.check_signed_approval(&stored, &hash)?;
        // Held until the run ends: a second apply on these stacks is refused meanwhile.
        let _stack_locks = self.claim_stacks(&stored)?;

        let host = hostname();
        let me = self.identity.user.clone();
        let rec = self.store.update_plan(&tenant, &id, &mut |r| {
            approval::check_runnable(r, &hash, self.clock.as_ref())?;
            r.state = State::Executing;
            r.executions.push(Execution {
                started_at: self.clock.iso(),
                started_by: me.clone(),
                host: host.clone(),
                pid: std::process::id(),
                finished_at: None,
                exit_code: None,
                log_uri: None,
                outcome: None,
            });
            r.updated_at = self.clock.iso();
            Ok(())
        })?;
        let mut ev = self.event(
            &rec.plan.request_id,
            EventKind::Executing,
            Status::Executing,
        );
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.security_gates = serde_json::to_value(&gates).ok();
        ev.message = Some(
            rec.plan
                .steps
                .iter()
                .map(|s| s.description.as_str())
                .collect::<Vec<_>>()
                .join("; then "),
        );
        self.append(&[ev])?;

        // Steps run in order; the first that fails or is cancelled stops the rest.
        let steps = rec.plan.steps.clone();
        let mut outcome = exec::Outcome {
            success: true,
            cancelled: false,
            exit_code: None,
            log: String::new(),
            outputs: None,
        };
        let mut step_outputs = serde_json::Map::new();
        for (n, step) in steps.iter().enumerate() {
            if steps.len() > 1 {
                sink(AgentEvent::Progress {
                    agent: rec.plan.agent,
                    message: format!("step {}/{}: {}", n + 1, steps.len(), step.description),
                });
            }
            let run = self
                .run_step(
                    &rec,
                    n + 1,
                    step,
                    &artifacts,
                    &step_outputs,
                    sink,
                    cancel.clone(),
                )
                .await;
            let o = match run {
                Ok(o) => o,
                Err(e) => exec::Outcome {
                    success: false,
                    cancelled: false,
                    exit_code: None,
                    log: format!("opsdeck: {e}\n"),
                    outputs: None,
                },
            };
            if steps.len() > 1 {
                outcome.log.push_str(&format!(
                    "=== step {}/{}: {} ===\n",
                    n + 1,
                    steps.len(),
                    step.description
                ));
            }
            outcome.log.push_str(&o.log);
            outcome.exit_code = o.exit_code;
            outcome.cancelled = o.cancelled;
            outcome.success = o.success;
            if let Some(v) = &o.outputs {
                step_outputs.insert(format!("step{}", n + 1), v.clone());
                outcome.outputs = o.outputs.clone();
            }
            if o.success {
                if let StepKind::Terraform { stack, operation } = &step.kind {
                    self.store.put_stack(&StackRecord {
                        name: stack.clone(),
                        tenant: tenant.clone(),
                        region: rec.plan.region.clone(),
                        last_applied_plan: id.clone(),
                        artifacts: rec
                            .plan
                            .artifacts
                            .iter()
                            .filter(|a| a.kind == ArtifactKind::Terraform)
                            .cloned()
                            .collect(),
                        status: if *operation == TerraformOp::Destroy {
                            StackStatus::Destroyed
                        } else {
                            StackStatus::Active
                        },
                        updated_at: self.clock.iso(),
                    })?;
                }
            } else {
                break;
            }
        }
        if steps.len() > 1 && !step_outputs.is_empty() {
            outcome.outputs = Some(Value::Object(step_outputs.clone()));
        }
        let log_sha =
            self.store
                .put_artifact_as(&tenant, ArtifactKind::Log, outcome.log.as_bytes())?;
        let log_uri = self.store.artifact_uri(&tenant, &log_sha);
        let final_state = if outcome.success {
            State::Succeeded
        } else if outcome.cancelled {
            State::Cancelled
        } else {
            State::Failed
        };
        let rec = self.store.update_plan(&tenant, &id, &mut |r| {
            r.state = final_state;
            if let Some(x) = r.executions.last_mut() {
                x.finished_at = Some(self.clock.iso());
                x.exit_code = outcome.exit_code;
                x.log_uri = Some(log_uri.clone());
                x.outcome = Some(final_state.as_str().to_string());
            }
            r.updated_at = self.clock.iso();
            Ok(())
        })?;
        let (kind, status) = match final_state {
            State::Succeeded => (EventKind::Completed, Status::Completed),
            State::Cancelled => (EventKind::Cancelled, Status::Cancelled),
            _ => (EventKind::Failed, Status::Failed),
        };
        let mut ev = self.event(&rec.plan.request_id, kind, status);
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.execution_logs = Some(log_uri.clone());
        ev.cost_impact = Some(rec.plan.cost.monthly_usd);
        ev.artifacts = vec![
            json!({"name": "execution.log", "kind": ArtifactKind::Log, "sha256": log_sha, "uri": log_uri}),
        ];
        // Inventories built during the run (from a Terraform step's outputs).
        ev.artifacts.extend(
            step_outputs
                .values()
                .filter_map(|o| o.get("inventory").cloned()),
        );
        ev.message = Some(match outcome.exit_code {
            Some(c) => format!("{} (exit {c})", final_state.as_str()),
            None => final_state.as_str().to_string(),
        });
        // What AWS API steps verified afterwards (instance health, command results) is part of
        // the signed record: stored as an artifact, its summary in the message.
        if rec
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Aws { .. }))
            && let Some(results) = &outcome.outputs
        {
            let text = redact(&serde_json::to_string_pretty(results).unwrap_or_default());
            let sha = self.store.put_artifact(&tenant, text.as_bytes())?;
            ev.artifacts
                .push(json!({"name": "results.json", "kind": ArtifactKind::Report,
                "sha256": sha, "uri": self.store.artifact_uri(&tenant, &sha)}));
            if let Some(summary) = results_summary(results)
                && let Some(m) = ev.message.as_mut()
            {
                m.push_str(&format!(": {}", redact(&summary)));
            }
        }
        self.append(&[ev])?;
        sink(AgentEvent::Finished {
            plan_id: id.clone(),
            success: outcome.success,
        });
        Ok(ApplyReport {
            plan_id: id,
            state: final_state,
            success: outcome.success,
            cancelled: outcome.cancelled,
            exit_code: outcome.exit_code,
            log_uri: Some(log_uri),
            outputs: outcome.outputs,
        })
    }

    /// What a step needs before anything runs (a binary on PATH, ...), said up front.
    fn preflight(&self, step: &Step, plan_id: &str) -> Result<()> {
        match &step.kind {
            StepKind::Terraform { .. } | StepKind::Ansible { .. } => {
                self.preflight_iac(step, plan_id)
            }
            StepKind::Aws { .. } => Ok(()),
        }
    }

    /// Runs one step of an approved plan. `earlier` holds the outputs of the steps before it
    /// (e.g. the instances Terraform created, for a configuration step that follows).
    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        rec: &PlanRecord,
        n: usize,
        step: &Step,
        artifacts: &[(ArtifactRef, Vec<u8>)],
        earlier: &serde_json::Map<String, Value>,
        sink: Sink<'_>,
        cancel: watch::Receiver<bool>,
    ) -> Result<exec::Outcome> {
        match &step.kind {
            StepKind::Terraform { stack, operation } => {
                self.run_terraform_step(rec, n, stack, *operation, artifacts, sink, cancel)
                    .await
            }
            StepKind::Ansible {
                playbook,
                inventory,
                ..
            } => {
                self.run_ansible_step(
                    rec, n, playbook, inventory, artifacts, earlier, sink, cancel,
                )
                .await
            }
            StepKind::Aws { .. } => agents::execute(step, &self.aws, sink, cancel).await,
        }
    }

    /// The approval must also stand in the signed audit trail, for this exact hash: editing the
    /// plan file to add an approval is not enough.
    fn check_signed_approval(&self, rec: &PlanRecord, hash: &str) -> Result<()> {
        let mut approvers: Vec<String> = Vec::new();
        self.scan_trail(&mut |r| {
            let matches = r.event.event == EventKind::Approved
                && r.event.plan_id.as_deref() == Some(rec.plan.plan_id.as_str())
                && r.event
                    .approval_metadata
                    .as_ref()
                    .and_then(|m| m.get("planHash"))
                    .and_then(|h| h.as_str())
                    == Some(hash);
            if matches && r.event.user_id != rec.plan.requester {
                approvers.push(r.event.user_id);
            }
            true
        })?;
        let needed = if rec.break_glass() {
            1
        } else {
            rec.required_approvals
        };
        if (approvers.len() as u32) < needed {
            return Err(Error::refused(format!(
                "plan {} has no matching approval in the audit trail ({} of {} found for hash {}); it will not run",
                rec.plan.plan_id,
                approvers.len(),
                needed,
                approval::short(hash)
            )));
        }
        Ok(())
    }

    /// A plan left `executing` by a process that no longer exists on this host is marked failed.
    fn reap_interrupted(&self, id: &str) -> Result<()> {
        let rec = self.store.get_plan(&self.tenant.name, id)?;
        let Some(x) = rec.executions.last() else {
            return Ok(());
        };
        if rec.state != State::Executing || x.host != hostname() || process_alive(x.pid) {
            return Ok(());
        }
        self.store.update_plan(&self.tenant.name, id, &mut |r| {
            r.state = State::Failed;
            if let Some(x) = r.executions.last_mut() {
                x.outcome = Some("interrupted".into());
                x.finished_at = Some(self.clock.iso());
            }
            Ok(())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
        ev.plan_id = Some(id.to_string());
        ev.message = Some(format!(
            "interrupted: the applying process (pid {}) exited before finishing",
            x.pid
        ));
        self.append(&[ev])?;
        Ok(())
    }

    /// All gates for a plan, with the tenant's current policies, budget and spend.
    fn gates(&self, plan: &Plan, terraform: &[(String, String)]) -> Result<Vec<crate::plan::Gate>> {
        let committed = self.committed_spend()?;
        // Policies judge the request, so they see the requester's roles even when someone
        // else applies it.
        let roles = self
            .store
            .get_user(&self.tenant.name, &plan.requester)?
            .map(|u| u.roles)
            .unwrap_or_default();
        Ok(policy::evaluate(&policy::Context {
            plan,
            terraform,
            tenant: &self.tenant,
            requester_roles: &roles,
            now: self.clock.now(),
            committed: &committed,
            policies: self.policies()?,
        }))
    }

    /// The tenant's compiled policy set (starter set plus tenant files).
    fn policies(&self) -> Result<&PolicySet> {
        if let Some(p) = self.policies.get() {
            return Ok(p);
        }
        let loaded = load_policies(self.store.as_ref(), &self.tenant)?;
        // Another thread may have won the race; either set is the same.
        let _ = self.policies.set(loaded);
        self.policies
            .get()
            .ok_or_else(|| Error::input("policies could not be loaded"))
    }

    /// Monthly spend the tenant is committed to: the estimates of its active stacks. Actual spend
    /// from Cost Explorer replaces this when the cost agent can reach AWS.
    pub fn committed_spend(&self) -> Result<Committed> {
        let mut total = 0.0;
        let mut n = 0;
        for s in self.store.list_stacks(&self.tenant.name)? {
            if s.status == StackStatus::Active
                && let Ok(rec) = self.store.get_plan(&self.tenant.name, &s.last_applied_plan)
            {
                total += rec.plan.cost.monthly_usd;
                n += 1;
            }
        }
        Ok(Committed {
            monthly_usd: total,
            source: format!("estimates of {n} active stacks; Cost Explorer not configured"),
        })
    }

    /// The acting user's roles, or None while the tenant has no registered users (bootstrap).
    pub fn my_roles(&self) -> Result<Option<Vec<Role>>> {
        if self.store.list_users(&self.tenant.name)?.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.store
                .get_user(&self.tenant.name, &self.identity.user)?
                .map(|u| u.roles)
                .unwrap_or_default(),
        ))
    }

    /// Reading a tenant's plans, artifacts, trail and configurations is for its members: a user
    /// never sees another tenant's data, whatever front end they use.
    fn require_reader(&self, what: &str) -> Result<()> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            what,
        )
    }

    /// The tenant's admins, for refusals that tell a person whom to ask.
    fn admin_names(&self) -> Vec<String> {
        self.store
            .list_users(&self.tenant.name)
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u.roles.contains(&Role::Admin))
            .map(|u| u.name)
            .collect()
    }

    /// Once a tenant has registered users, only they may act, each within their roles.
    fn require_member(&self, allowed: &[Role], what: &str) -> Result<()> {
        match self.my_roles()? {
            None => Ok(()),
            Some(roles) if roles.is_empty() => Err(Error::refused(format!(
                "{me} is not a registered user of tenant {t}: ask an admin of the tenant ({admins}) to add you (they run `opsdeck users add {me} --role operator --totp CODE`); meanwhile `opsdeck demo` lets you try everything on a local AWS stand-in",
                me = self.identity.user,
                t = self.tenant.name,
                admins = self.admin_names().join(", "),
            ))),
            Some(roles) if roles.iter().any(|r| allowed.contains(r)) => Ok(()),
            Some(roles) => Err(Error::refused(format!(
                "{} ({}) may not {what} in tenant {}: ask an admin ({}) for the role it needs; `opsdeck init` shows your roles",
                self.identity.user,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.tenant.name,
                self.admin_names().join(", ")
            ))),
        }
    }

    /// Approval stays with a human at the console or CLI: an MCP session never approves or
    /// rejects, whatever user it runs as.
    fn refuse_machine(&self, rec: &PlanRecord, what: &str) -> Result<()> {
        if self.identity.source == crate::tenant::UserSource::Mcp {
            return self.deny(
                rec,
                what,
                "MCP clients can queue plans but never approve or reject them; a person must, in the console or with `opsdeck approve`".into(),
            );
        }
        Ok(())
    }

    /// The acting user's registration, refusing (and auditing) when there is none.
    fn member(&self, rec: &PlanRecord, what: &str) -> Result<User> {
        match self.store.get_user(&self.tenant.name, &self.identity.user)? {
            Some(u) => Ok(u),
            None => self.deny(rec, what, format!(
                "{me} is not a registered user of tenant {t}; approvals need a registered user with a TOTP authenticator: ask an admin ({admins}) to add you (they run `opsdeck users add {me} --role approver --totp CODE`); meanwhile `opsdeck demo` shows the approval flow with a demo approver",
                me = self.identity.user,
                t = self.tenant.name,
                admins = self.admin_names().join(", "),
            )),
        }
    }

    /// Checks the acting user's TOTP code, once: a replayed code is refused.
    fn second_factor(&self, rec: &PlanRecord, what: &str, totp: Option<&str>) -> Result<()> {
        let now = self.clock.unix().max(0) as u64;
        match self
            .store
            .update_user(&self.tenant.name, &self.identity.user, &mut |u| {
                mfa::verify(u, totp, now)
            }) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.audit_denied(rec, what, &e.to_string())?;
                Err(e)
            }
        }
    }

    fn deny<T>(&self, rec: &PlanRecord, what: &str, why: String) -> Result<T> {
        self.audit_denied(rec, what, &why)?;
        Err(Error::refused(why))
    }

    fn audit_denied(&self, rec: &PlanRecord, what: &str, why: &str) -> Result<()> {
        let mut ev = self.event(
            &rec.plan.request_id,
            EventKind::AccessDenied,
            status_of(rec.state),
        );
        ev.plan_id = Some(rec.plan.plan_id.clone());
        ev.message = Some(format!("{what}: {}", redact(why)));
        self.append(&[ev]).map(|_| ())
    }

    /// Authenticates an administrative action; open only while the tenant has no users.
    fn admin(&self, what: &str, totp: Option<&str>) -> Result<Option<User>> {
        if self.store.list_users(&self.tenant.name)?.is_empty() {
            return Ok(None);
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let refuse = |why: String| -> Result<Option<User>> {
            let mut ev = self.event(&request_id, EventKind::AccessDenied, Status::Rejected);
            ev.message = Some(format!("{what}: {why}"));
            self.append(&[ev])?;
            Err(Error::refused(why))
        };
        let Some(user) = self
            .store
            .get_user(&self.tenant.name, &self.identity.user)?
        else {
            return refuse(format!(
                "{what} needs an admin of tenant {t}, and {me} is not registered in it: ask an admin ({admins}) to do it; meanwhile `opsdeck demo` lets you try everything on a local AWS stand-in",
                me = self.identity.user,
                t = self.tenant.name,
                admins = self.admin_names().join(", "),
            ));
        };
        if !user.has_any(&[Role::Admin]) {
            return refuse(format!(
                "{what} needs the admin role; {} is not an admin",
                user.name
            ));
        }
        let now = self.clock.unix().max(0) as u64;
        if let Err(e) = self
            .store
            .update_user(&self.tenant.name, &user.name, &mut |u| {
                mfa::verify(u, totp, now)
            })
        {
            return refuse(match e {
                Error::Refused(why) => why,
                other => other.to_string(),
            });
        }
        Ok(Some(user))
    }

    /// Registers a user with roles and groups and a fresh TOTP secret. The first user of a
    /// tenant must be an admin and needs no authentication; after that only admins add users.
    pub fn add_user(
        &self,
        name: &str,
        roles: Vec<Role>,
        groups: Vec<String>,
        totp: Option<&str>,
    ) -> Result<Enrolment> {
        crate::tenant::validate_user(name)?;
        if roles.is_empty() {
            return Err(Error::input(
                "give the user at least one --role (viewer, operator, approver, admin)",
            ));
        }
        let bootstrap = self.store.list_users(&self.tenant.name)?.is_empty();
        if bootstrap && !roles.contains(&Role::Admin) {
            return Err(Error::input(format!(
                "tenant {} has no users yet: the first user must be an admin (--role admin)",
                self.tenant.name
            )));
        }
        // Once a tenant has users only they may act: a first admin other than the acting user
        // would lock that user out of the tenant at once.
        if bootstrap && name != self.identity.user {
            let me = &self.identity.user;
            return Err(Error::input(format!(
                "tenant {t} has no users yet and you act as {me}: register yourself first with `opsdeck users add {me} --role admin`, then add {name} (as {me}, with your TOTP code); or, to be {name}, run `opsdeck --user {name} users add {name} --role admin`. Adding {name} alone would leave {me} unable to act in tenant {t}",
                t = self.tenant.name
            )));
        }
        self.admin(&format!("add user {name}"), totp)?;
        let secret = mfa::new_secret()?;
        let user = User {
            name: name.to_string(),
            roles,
            groups,
            totp_secret: secret.clone(),
            last_totp_step: 0,
            created_at: self.clock.iso(),
            created_by: self.identity.user.clone(),
        };
        self.store.create_user(&self.tenant.name, &user)?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::UserAdded,
            Status::Completed,
        );
        ev.approval_metadata = Some(user.public());
        ev.message = Some(format!(
            "user {name} added by {}{}",
            self.identity.user,
            if bootstrap {
                " (first user of the tenant)"
            } else {
                ""
            }
        ));
        self.append(&[ev])?;
        Ok(Enrolment {
            otpauth_uri: mfa::otpauth_uri(&self.tenant.name, name, &secret),
            user,
            secret,
        })
    }

    pub fn users(&self) -> Result<Vec<User>> {
        self.store.list_users(&self.tenant.name)
    }

    /// Replaces the tenant's settings (admins, with TOTP).
    pub fn set_tenant_settings(&self, mut settings: Tenant, totp: Option<&str>) -> Result<Tenant> {
        if settings.name.is_empty() {
            settings.name = self.tenant.name.clone();
        }
        if settings.name != self.tenant.name {
            return Err(Error::input(format!(
                "the settings name tenant {}, but you are acting in tenant {}",
                settings.name, self.tenant.name
            )));
        }
        settings.created_at = self.tenant.created_at.clone();
        settings.demo = self.tenant.demo;
        self.admin("change tenant settings", totp)?;
        settings.validate()?;
        self.store.put_tenant(&settings)?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.approval_metadata = serde_json::to_value(&settings).ok();
        ev.message = Some(format!(
            "tenant settings replaced by {}",
            self.identity.user
        ));
        self.append(&[ev])?;
        Ok(settings)
    }

    /// Adds or replaces a tenant policy file after checking that the whole set still compiles.
    pub fn put_policy(&self, name: &str, source: &str, totp: Option<&str>) -> Result<()> {
        let mut files: Vec<(String, String)> = self
            .store
            .tenant_policies(&self.tenant.name)?
            .into_iter()
            .filter(|(n, _)| n != name && !n.ends_with("_test.rego"))
            .collect();
        if !name.ends_with("_test.rego") {
            files.push((name.to_string(), source.to_string()));
        }
        PolicySet::load(&files, &policy_data(&self.tenant))?;
        self.admin(&format!("add policy {name}"), totp)?;
        self.store
            .put_tenant_policy(&self.tenant.name, name, source)?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.artifacts =
            vec![json!({"name": name, "sha256": crate::plan::sha256_hex(source.as_bytes())})];
        ev.message = Some(format!("policy {name} set by {}", self.identity.user));
        self.append(&[ev])?;
        Ok(())
    }

    pub fn remove_policy(&self, name: &str, totp: Option<&str>) -> Result<bool> {
        self.admin(&format!("remove policy {name}"), totp)?;
        let removed = self.store.delete_tenant_policy(&self.tenant.name, name)?;
        if removed {
            let mut ev = self.event(
                &uuid::Uuid::new_v4().to_string(),
                EventKind::SettingsChanged,
                Status::Completed,
            );
            ev.message = Some(format!("policy {name} removed by {}", self.identity.user));
            self.append(&[ev])?;
        }
        Ok(removed)
    }

    /// Policy files in force: (name, where it comes from).
    pub fn policy_files(&self) -> Vec<String> {
        self.policies().map(|p| p.files.clone()).unwrap_or_default()
    }

    /// Runs the Rego unit tests: the starter set's, and the tenant's `*_test.rego` files.
    pub fn test_policies(&self) -> Result<Vec<policy::rego::TestOutcome>> {
        let tenant_files = self.store.tenant_policies(&self.tenant.name)?;
        let mut policies = policy::rego::starter_sources();
        let mut tests = policy::rego::starter_test_sources();
        for (n, src) in tenant_files {
            if n.ends_with("_test.rego") {
                tests.push((format!("tenant/{n}"), src));
            } else {
                policies.push((format!("tenant/{n}"), src));
            }
        }
        Ok(policy::rego::run_tests(&policies, &tests))
    }

    pub fn stacks(&self) -> Result<Vec<StackRecord>> {
        self.require_reader("list stacks")?;
        self.store.list_stacks(&self.tenant.name)
    }

    /// Streams the tenant's events oldest first (one in memory at a time); `f` returns false to
    /// stop.
    pub fn scan_audit(&self, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.require_reader("read the audit trail")?;
        self.scan_trail(f)
    }

    /// The trail for the pipeline's own checks (the caller's membership is already settled).
    fn scan_trail(&self, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.store.scan_audit(&self.tenant.name, f)
    }

    /// Events matching `filter`, oldest first; filtered as they stream, so memory follows the
    /// matches (the newest `limit` of them), not the size of the trail.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.require_reader("read the audit trail")?;
        let mut out = std::collections::VecDeque::new();
        self.store.scan_audit(&self.tenant.name, &mut |r| {
            if filter.matches(&r) {
                out.push_back(r);
                if filter.limit.is_some_and(|l| out.len() > l) {
                    out.pop_front();
                }
            }
            true
        })?;
        Ok(out.into())
    }

    pub fn verify(&self, full: bool) -> Result<VerifyReport> {
        self.require_reader("verify the audit trail")?;
        self.store.verify_audit(&self.tenant.name, full)
    }
}

/// The intent with every string that looks like a secret masked, including tag values under
/// secret-sounding keys (`password=...` typed as a tag).
fn redact_intent(intent: &Intent) -> Intent {
    fn walk(v: &mut Value, key: Option<&str>) {
        match v {
            Value::String(s) => {
                let secret_key = key.is_some_and(|k| {
                    let k = k.to_lowercase();
                    [
                        "password",
                        "passwd",
                        "secret",
                        "token",
                        "apikey",
                        "api_key",
                        "api-key",
                        "private_key",
                    ]
                    .iter()
                    .any(|w| k.contains(w))
                });
                *s = if secret_key {
                    crate::redact::mask().to_string()
                } else {
                    redact(s)
                };
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, key)),
            Value::Object(o) => o.iter_mut().for_each(|(k, x)| walk(x, Some(k))),
            _ => {}
        }
    }
    let mut out = intent.clone();
    for (k, v) in out.params.iter_mut() {
        if k != "secret" {
            walk(v, None);
        }
    }
    for e in &mut out.evidence {
        e.word = redact(&e.word);
        e.meaning = redact(&e.meaning);
    }
    out
}

fn load_policies(store: &dyn Store, tenant: &Tenant) -> Result<PolicySet> {
    let files: Vec<(String, String)> = store
        .tenant_policies(&tenant.name)?
        .into_iter()
        .filter(|(n, _)| !n.ends_with("_test.rego"))
        .collect();
    PolicySet::load(&files, &policy_data(tenant))
}

fn policy_data(tenant: &Tenant) -> Value {
    serde_json::to_value(&tenant.policy).unwrap_or_default()
}

/// The `summary` a step reported in its outputs, or each step's, in order.
fn results_summary(v: &Value) -> Option<String> {
    if let Some(s) = v.get("summary").and_then(Value::as_str) {
        return Some(s.to_string());
    }
    let parts: Vec<&str> = v
        .as_object()?
        .values()
        .filter_map(|x| x.get("summary")?.as_str())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn status_of(state: State) -> Status {
    match state {
        State::Pending | State::NotRequired => Status::Pending,
        State::Approved => Status::Approved,
        State::Rejected => Status::Rejected,
        State::Expired => Status::Expired,
        State::Executing => Status::Executing,
        State::Succeeded => Status::Completed,
        State::Failed => Status::Failed,
        State::Cancelled => Status::Cancelled,
    }
}

fn intent_error(e: IntentError) -> Error {
    match e {
        IntentError::Credential(_) => Error::Refused(e.to_string()),
        e => Error::Input(e.to_string()),
    }
}

/// `p-` and ten base32 characters (50 random bits): short enough to type, unique per tenant
/// (creation fails rather than overwrite on the rare collision).
fn new_plan_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut id = String::from("p-");
    for b in bytes.iter().take(10) {
        id.push(ALPHABET[(*b as usize) % ALPHABET.len()] as char);
    }
    id
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).to_string()
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

// Front ends run the pipeline on background tasks and threads.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Deck>();
};

/// Names of the tenants `user` is registered in or that have no users yet.
fn tenants_open_to(store: &dyn Store, user: &str) -> Result<Vec<String>> {
    let mut open = Vec::new();
    for t in store.list_tenants()? {
        let users = store.list_users(&t.name)?;
        if users.is_empty() || users.iter().any(|u| u.name == user) {
            open.push(t.name);
        }
    }
    Ok(open)
}
