//! Administration of the tenant: tenants, users, settings and policies; admin actions need
//! the admin role and a TOTP code once the tenant has users.

use serde_json::json;

use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::policy::{self, PolicySet};
use crate::store::Store;
use crate::tenant::{Tenant, User, validate_name};

use super::Admin;
use super::gates::policy_data;

impl Admin<'_> {
    /// The tenants the acting user may see: those they are registered in, and those nobody is
    /// registered in yet. Other tenants' names are not theirs to know.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        let open = tenants_open_to(self.store.as_ref(), &self.identity.user)?;
        Ok(self
            .store
            .list_tenants()?
            .into_iter()
            .filter(|t| open.contains(&t.name))
            .map(|t| t.redacted())
            .collect())
    }

    /// Creates a tenant with default guardrails.
    pub fn add_tenant(&self, name: &str) -> Result<Tenant> {
        validate_name(name)?;
        if self.store.get_tenant(name)?.is_some() {
            return Err(Error::input(format!("tenant {name} already exists")));
        }
        let t = Tenant {
            name: name.to_string(),
            created_at: Some(self.clock.stamp()),
            ..Tenant::default()
        };
        self.store.put_tenant(&t)?;
        Ok(t)
    }

    /// The tenant's users: for its members only (and anyone while it has none).
    pub fn users(&self) -> Result<Vec<User>> {
        self.require_reader("list the users")?;
        self.store.list_users(&self.tenant.name)
    }

    /// The tenant's settings (guardrails, budget, approval rules): for its members only.
    pub fn settings(&self) -> Result<Tenant> {
        self.require_reader("read the tenant settings")?;
        Ok(self.tenant.redacted())
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
        // A webhook URL read back from `tenants show` is masked: it means the stored one.
        settings
            .notifications
            .keep_secret_from(&self.tenant.notifications);
        self.authenticate_admin("change tenant settings", totp)?;
        settings.validate()?;
        settings.retention.change_from(&self.tenant.retention)?;
        self.store.put_tenant(&settings)?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        ev.approval_metadata = serde_json::to_value(settings.redacted()).ok();
        ev.message = Some(format!(
            "tenant settings replaced by {}",
            self.identity.user
        ));
        self.append(&[ev])?;
        Ok(settings.redacted())
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
        self.authenticate_admin(&format!("add policy {name}"), totp)?;
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
        self.authenticate_admin(&format!("remove policy {name}"), totp)?;
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
    pub fn policy_files(&self) -> Result<Vec<String>> {
        self.require_reader("list the policies")?;
        Ok(self.policies().map(|p| p.files.clone()).unwrap_or_default())
    }

    /// Runs the Rego unit tests: the starter set's, and the tenant's `*_test.rego` files.
    pub fn test_policies(&self) -> Result<Vec<policy::rego::TestOutcome>> {
        self.require_reader("test the policies")?;
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
}

/// Names of the tenants `user` is registered in or that have no users yet.
pub(super) fn tenants_open_to(store: &dyn Store, user: &str) -> Result<Vec<String>> {
    let mut open = Vec::new();
    for t in store.list_tenants()? {
        let users = store.list_users(&t.name)?;
        if users.is_empty() || users.iter().any(|u| u.name == user) {
            open.push(t.name);
        }
    }
    Ok(open)
}
