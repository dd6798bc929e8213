//! A tenant's AWS configurations (spec §6.2): create, list, show, update, delete, select, and
//! which one a deck acts through. Members see them; admins (with TOTP) change them; every user
//! selects their own. Every change is audited.

use serde::Serialize;
use serde_json::json;

use super::Deck;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::AwsConfiguration;

/// Which configuration a session acts through: `flag` (`none` for the base credentials), else
/// the user's selection, else the tenant's only configuration.
pub(super) fn resolve(
    store: &dyn Store,
    tenant: &str,
    user: &str,
    flag: Option<&str>,
) -> Result<Option<AwsConfiguration>> {
    let (name, chosen_by) = match flag {
        Some("none") => return Ok(None),
        Some(n) => (n.to_string(), "--aws-config"),
        None => match store.selected_config(tenant, user)? {
            Some(n) => (n, "your selection"),
            None => {
                let mut all = store.list_configs(tenant)?;
                return Ok(if all.len() == 1 { all.pop() } else { None });
            }
        },
    };
    match store.get_config(tenant, &name)? {
        Some(c) => Ok(Some(c)),
        None => {
            let known: Vec<String> = store
                .list_configs(tenant)?
                .into_iter()
                .map(|c| c.name)
                .collect();
            Err(Error::not_found(
                "configuration",
                &name,
                format!(
                    "named by {chosen_by} in tenant {tenant}; known: {}; select one with `opsdeck configs use NAME` or act without with --aws-config none",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ))
        }
    }
}

/// Who a configuration's credentials turn out to be.
#[derive(Debug, Clone, Serialize)]
pub struct CallerIdentity {
    pub configuration: Option<String>,
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// What the audit trail keeps of a configuration: everything but the external id.
fn audited(c: &AwsConfiguration) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = v.as_object_mut()
        && o.contains_key("external_id")
    {
        o.insert("external_id".into(), json!(crate::redact::mask()));
    }
    v
}

impl Deck {
    /// The configuration the acting user selected in this tenant, if any.
    pub fn selected_config_name(&self) -> Result<Option<String>> {
        self.store
            .selected_config(&self.tenant.name, &self.identity.user)
    }

    /// The configuration this session acts through.
    pub fn aws_configuration(&self) -> Option<&AwsConfiguration> {
        self.aws_configuration.as_ref()
    }

    pub fn configs(&self) -> Result<Vec<AwsConfiguration>> {
        self.require_reader("list AWS configurations")?;
        self.store.list_configs(&self.tenant.name)
    }

    pub fn config(&self, name: &str) -> Result<AwsConfiguration> {
        self.require_reader("read AWS configurations")?;
        self.store
            .get_config(&self.tenant.name, name)?
            .ok_or_else(|| {
                Error::not_found(
                    "configuration",
                    name,
                    format!(
                        "in tenant {}; `opsdeck configs list` shows them",
                        self.tenant.name
                    ),
                )
            })
    }

    fn audit_config(&self, message: String, config: Option<&AwsConfiguration>) -> Result<()> {
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.approval_metadata = config.map(audited);
        ev.message = Some(message);
        self.append(&[ev]).map(|_| ())
    }

    /// Adds a configuration (admins, with TOTP). Tenant and timestamps are filled in here.
    pub fn add_config(
        &self,
        mut config: AwsConfiguration,
        totp: Option<&str>,
    ) -> Result<AwsConfiguration> {
        config.tenant = self.tenant.name.clone();
        config.created_at = Some(self.clock.stamp());
        config.created_by = self.identity.user.clone();
        config.updated_at = config.created_at.clone();
        config.updated_by = config.created_by.clone();
        config.validate()?;
        self.authenticate_admin(&format!("add AWS configuration {}", config.name), totp)?;
        self.store.put_config(&config, true)?;
        self.audit_config(
            format!(
                "AWS configuration {} (account {}) added by {}",
                config.name,
                config.account(),
                self.identity.user
            ),
            Some(&config),
        )?;
        Ok(config)
    }

    /// Changes a configuration (admins, with TOTP); `change` edits a copy, which must still be
    /// valid and keep its name.
    pub fn update_config(
        &self,
        name: &str,
        change: &mut dyn FnMut(&mut AwsConfiguration),
        totp: Option<&str>,
    ) -> Result<AwsConfiguration> {
        let mut config = self.config(name)?;
        change(&mut config);
        if config.name != name || config.tenant != self.tenant.name {
            return Err(Error::input(
                "a configuration keeps its name and tenant; add a new one instead",
            ));
        }
        config.updated_at = Some(self.clock.stamp());
        config.updated_by = self.identity.user.clone();
        config.validate()?;
        self.authenticate_admin(&format!("change AWS configuration {name}"), totp)?;
        self.store.put_config(&config, false)?;
        self.audit_config(
            format!("AWS configuration {name} changed by {}", self.identity.user),
            Some(&config),
        )?;
        Ok(config)
    }

    /// Removes a configuration (admins, with TOTP).
    pub fn remove_config(&self, name: &str, totp: Option<&str>) -> Result<()> {
        let config = self.config(name)?;
        self.authenticate_admin(&format!("remove AWS configuration {name}"), totp)?;
        if !self.store.delete_config(&self.tenant.name, name)? {
            return Err(Error::not_found(
                "configuration",
                name,
                format!("in tenant {}", self.tenant.name),
            ));
        }
        if self
            .store
            .selected_config(&self.tenant.name, &self.identity.user)?
            .as_deref()
            == Some(name)
        {
            self.store
                .select_config(&self.tenant.name, &self.identity.user, None)?;
        }
        self.audit_config(
            format!(
                "AWS configuration {name} (account {}) removed by {}",
                config.account(),
                self.identity.user
            ),
            None,
        )
    }

    /// Selects the configuration the acting user works through from now on (`None`: the base
    /// credentials). Takes effect for sessions opened after it.
    pub fn select_config(&self, name: Option<&str>) -> Result<Option<AwsConfiguration>> {
        let chosen = match name {
            Some(n) => Some(self.config(n)?),
            None => {
                self.require_reader("select an AWS configuration")?;
                None
            }
        };
        self.store.select_config(
            &self.tenant.name,
            &self.identity.user,
            chosen.as_ref().map(|c| c.name.as_str()),
        )?;
        self.audit_config(
            match &chosen {
                Some(c) => format!(
                    "{} selected AWS configuration {} (account {})",
                    self.identity.user,
                    c.name,
                    c.account()
                ),
                None => format!(
                    "{} cleared their AWS configuration (base credentials)",
                    self.identity.user
                ),
            },
            None,
        )?;
        Ok(chosen)
    }

    /// Assumes a configuration's role (default: the active one) and asks STS who that is:
    /// proof the role, its trust policy and the external id work, before anything runs.
    pub fn check_config(&self, name: Option<&str>) -> Result<CallerIdentity> {
        self.require_reader("check AWS configurations")?;
        let config = match name {
            Some(n) => Some(self.config(n)?),
            None => self.aws_configuration.clone(),
        };
        let access = crate::aws::AwsAccess::new(
            self.aws.endpoint_url().map(str::to_string),
            config.as_ref().map(|c| crate::aws::AssumeRole {
                role_arn: c.role_arn.clone(),
                external_id: c.external_id.clone(),
                session_name: crate::tenant::configs::session_name(&self.identity.user),
            }),
        )
        .with_limits(std::time::Duration::from_secs(15), 2);
        let region = config
            .as_ref()
            .and_then(|c| c.regions.first().cloned())
            .unwrap_or_else(|| self.tenant.default_region.clone());
        let shared = std::sync::Arc::new(access);
        let a = shared.clone();
        let out = shared.block_on(async move {
            let conf = a.config(&region).await;
            aws_sdk_sts::Client::new(&conf)
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| crate::aws::describe_error("STS", "GetCallerIdentity", &e))
        })?;
        let who = out.map_err(|e| {
            Error::Unavailable(format!(
                "{e}{}",
                config
                    .as_ref()
                    .map(|c| format!(" (assuming {} for configuration {})", c.role_arn, c.name))
                    .unwrap_or_default()
            ))
        })?;
        Ok(CallerIdentity {
            configuration: config.map(|c| c.name),
            account: who.account().unwrap_or_default().to_string(),
            arn: who.arn().unwrap_or_default().to_string(),
            user_id: who.user_id().unwrap_or_default().to_string(),
        })
    }
}
