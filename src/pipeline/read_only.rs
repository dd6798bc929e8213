//! Read-only sessions: questions only. A session is read-only when the person asked for it
//! (`--read-only`), when an admin marked the user read-only, or when the AWS configuration it
//! acts through is read-only (a production account people may only look at). Anything that
//! would change something (a change request, a submission, a decision, an apply, an admin
//! change) is refused before any planning, with the reason in the trail; every front end gets
//! the same refusal because the core gives it.

use serde::Serialize;

use super::Deck;
use super::planning::Refusal;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::intent::Intent;
use crate::store::Store;
use crate::tenant::{AwsConfiguration, Identity};

/// Why a session is read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum ReadOnly {
    /// `--read-only` (or `OPSDECK_READ_ONLY`), for this session.
    Flag,
    /// An admin marked the user read-only (`opsdeck users read-only NAME on`).
    User { user: String },
    /// The AWS configuration the session acts through is read-only.
    Configuration { name: String },
}

impl ReadOnly {
    /// The session's reason, the first that applies: the flag, the user, the configuration.
    pub(super) fn of(
        flag: bool,
        store: &dyn Store,
        tenant: &str,
        identity: &Identity,
        configuration: Option<&AwsConfiguration>,
    ) -> Result<Option<ReadOnly>> {
        if flag {
            return Ok(Some(ReadOnly::Flag));
        }
        if store
            .get_user(tenant, &identity.user)?
            .is_some_and(|u| u.read_only)
        {
            return Ok(Some(ReadOnly::User {
                user: identity.user.clone(),
            }));
        }
        Ok(configuration
            .filter(|c| c.read_only)
            .map(|c| ReadOnly::Configuration {
                name: c.name.clone(),
            }))
    }

    /// Short, for a status bar: `READ-ONLY (--read-only)`.
    pub fn label(&self) -> String {
        match self {
            ReadOnly::Flag => "READ-ONLY (--read-only)".into(),
            ReadOnly::User { .. } => "READ-ONLY (your user)".into(),
            ReadOnly::Configuration { name } => format!("READ-ONLY (configuration {name})"),
        }
    }

    /// Why, and how to act otherwise.
    fn explain(&self, what: &str) -> String {
        let why = match self {
            ReadOnly::Flag => {
                "this session is read-only (--read-only): drop the flag to request changes"
                    .to_string()
            }
            ReadOnly::User { user } => format!(
                "{user} is read-only in this tenant: an admin lifts it with `opsdeck users read-only {user} off`"
            ),
            ReadOnly::Configuration { name } => format!(
                "AWS configuration {name} is read-only: act through another with --aws-config NAME (or `opsdeck configs use NAME`), or an admin lifts it with `opsdeck configs update {name} --read-only false`"
            ),
        };
        format!(
            "cannot {what}: {why}; questions (spend, findings, logs, plans, the trail) still work"
        )
    }
}

impl Deck {
    /// Why this session may only ask questions, if it may.
    pub fn read_only(&self) -> Option<&ReadOnly> {
        self.read_only.as_ref()
    }

    /// What the core will answer to `what` in this session, said before a front end asks for a
    /// reason or a TOTP code (the core refuses again, audited, if it is sent anyway).
    pub fn read_only_preview(&self, what: &str) -> Option<Error> {
        self.read_only
            .as_ref()
            .map(|r| Error::refused(r.explain(what)))
    }

    /// The refusal of a change request in a read-only session, before the agent runs.
    pub(super) fn read_only_refusal(&self, request_id: &str, intent: &Intent) -> Option<Refusal> {
        let reason = self.read_only.as_ref()?;
        let e = Error::refused(reason.explain("request a change"));
        let mut denied = self.event(request_id, EventKind::AccessDenied, Status::Rejected);
        denied.agent_type = Some(intent.agent.to_string());
        denied.message = Some(format!("request a change: {e}"));
        Some(Refusal {
            event: denied,
            error: e,
        })
    }

    /// Refuses (audited) anything but a question in a read-only session; `plan` names the plan
    /// it concerns.
    pub(super) fn refuse_if_read_only(&self, what: &str, plan: Option<&str>) -> Result<()> {
        let Some(reason) = &self.read_only else {
            return Ok(());
        };
        let why = reason.explain(what);
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::AccessDenied,
            Status::Rejected,
        );
        ev.plan_id = plan.map(str::to_string);
        ev.message = Some(format!("{what}: {why}"));
        self.append(&[ev])?;
        Err(Error::refused(why))
    }
}

impl super::Admin<'_> {
    /// Marks a user read-only, or lifts it (admins, with TOTP), audited.
    pub fn set_user_read_only(
        &self,
        name: &str,
        read_only: bool,
        totp: Option<&str>,
    ) -> Result<crate::tenant::User> {
        if self.store.get_user(&self.tenant.name, name)?.is_none() {
            return Err(Error::not_found(
                "user",
                name,
                format!("in tenant {}; `opsdeck users list`", self.tenant.name),
            ));
        }
        let what = format!(
            "{} read-only for {name}",
            if read_only { "set" } else { "lift" }
        );
        self.authenticate_admin(&what, totp)?;
        let user = self.store.update_user(&self.tenant.name, name, &mut |u| {
            u.read_only = read_only;
            Ok(())
        })?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.approval_metadata = Some(user.public());
        ev.message = Some(format!(
            "{name} is {} by {}",
            if read_only {
                "read-only (questions only)"
            } else {
                "no longer read-only"
            },
            self.identity.user
        ));
        self.append(&[ev])?;
        Ok(user)
    }
}
