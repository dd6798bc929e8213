//! Opening a session (store, tenant, identity, the tenant's AWS access and model) and the
//! audit events every stage writes.

use std::sync::Arc;

use crate::audit::{AuditEvent, AuditRecord, EventKind, Signer, Status};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::tenant::{Identity, Tenant, validate_name};
use crate::time::{Clock, SystemClock};

use super::admin::tenants_open_to;
use super::backend::open_store;
use super::{Deck, OpenOptions, configs};

impl Deck {
    pub fn open(opts: OpenOptions) -> Result<Deck> {
        let paths = Paths::resolve(opts.home.as_deref(), opts.identity_dir.as_deref())?;
        let config = Config::load(&paths.config_file)?;
        let endpoint_url = config.endpoint(opts.endpoint_url.as_deref());
        let clock = opts.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let identity = Identity::resolve(opts.user.as_deref(), opts.user_env.as_deref())?;
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
                    created_at: Some(clock.stamp()),
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
        let mut identity =
            super::proof::prove(store.as_ref(), &tenant, identity, &signer, clock.as_ref())?;
        if opts.via_mcp {
            identity.source = crate::tenant::UserSource::Mcp;
        }
        if let Some(secret) = opts.mcp_token.as_deref() {
            identity = super::tokens::authenticate(
                store.as_ref(),
                &tenant,
                &identity,
                secret,
                &signer,
                clock.as_ref(),
            )?
            .1;
        }
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
        let read_only = super::ReadOnly::of(
            opts.read_only,
            store.as_ref(),
            &tenant_name,
            &identity,
            aws_configuration.as_ref(),
        )?;
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
        let deck = Deck {
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
            last_intent: std::sync::Mutex::new(None),
            audit_key_checked: std::sync::atomic::AtomicBool::new(false),
            read_only,
            knowledge: std::sync::RwLock::default(),
            library: std::sync::Mutex::default(),
            report_trail: std::sync::Mutex::default(),
        };
        // What an earlier process left undelivered goes out in the background.
        deck.resume_notifications();
        Ok(deck)
    }

    /// The tenant this session acts in, with its settings as they were when it opened.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The store itself, bypassing every check: only for tests that play someone with direct
    /// access to the files or tables (tampering, forged records, settings written by hand).
    /// Front ends never call it; `tests/architecture.rs` holds them to that.
    #[doc(hidden)]
    pub fn raw_store(&self) -> &dyn crate::store::Store {
        self.store.as_ref()
    }

    /// Who acts, and how they were identified.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Where this session's settings and local data live.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The AWS endpoint every agent call goes to, when one is set (a demo tenant always has one).
    pub fn aws_endpoint(&self) -> Option<&str> {
        self.aws.endpoint_url()
    }

    pub(super) fn event(&self, request_id: &str, kind: EventKind, status: Status) -> AuditEvent {
        audit_event(
            &self.tenant.name,
            &self.identity,
            self.clock.as_ref(),
            request_id,
            kind,
            status,
        )
    }

    pub(super) fn append(&self, events: &[AuditEvent]) -> Result<Vec<AuditRecord>> {
        let records = self.append_certified(events, &|batch| {
            let records = self
                .store
                .append_audit(&self.tenant.name, batch, &self.signer)?;
            // A checkpoint where the store's writers cannot rewrite it; never fails the append.
            crate::audit::witness::LocalWitness::for_store(
                &self.paths.identity,
                self.store.as_ref(),
            )
            .after_append(self.store.as_ref(), &self.tenant.name, &records);
            Ok(records)
        })?;
        // The one place notifications come from: what was just recorded.
        self.notify_after_append(&records);
        Ok(records)
    }

    /// The trail for the pipeline's own checks (the caller's membership is already settled).
    pub(super) fn scan_trail(&self, f: &mut dyn FnMut(AuditRecord) -> bool) -> Result<()> {
        self.store.scan_audit(&self.tenant.name, f)
    }

    /// The records after `seq` only (an incremental reader's cursor).
    pub(super) fn scan_trail_after(
        &self,
        seq: u64,
        f: &mut dyn FnMut(AuditRecord) -> bool,
    ) -> Result<()> {
        self.store.scan_audit_after(&self.tenant.name, seq, f)
    }
}

/// An event of `identity` in `tenant`, before the details of what happened.
pub(super) fn audit_event(
    tenant: &str,
    identity: &Identity,
    clock: &dyn Clock,
    request_id: &str,
    kind: EventKind,
    status: Status,
) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: request_id.to_string(),
        tenant_id: tenant.to_string(),
        user_id: identity.user.clone(),
        user_source: identity.source.as_str().to_string(),
        os_user: identity.os_user.clone(),
        timestamp: clock.stamp(),
        event: kind,
        status,
        plan_id: None,
        intent: None,
        agent_type: None,
        approval_metadata: None,
        execution_logs: None,
        cost_impact: None,
        security_gates: None,
        identity_receipt: None,
        artifacts: Vec::new(),
        message: None,
    }
}
