//! Who may do what in the session's tenant: membership and role checks, the second factor,
//! and refusals, each written to the audit trail before it is returned.

use super::Deck;
use crate::approval::{PlanRecord, State};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::redact::redact;
use crate::tenant::{Role, User, mfa};

impl Deck {
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
    pub(super) fn require_reader(&self, what: &str) -> Result<()> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            what,
        )
    }

    /// The tenant's admins, for refusals that tell a person whom to ask.
    pub(super) fn admin_names(&self) -> Vec<String> {
        self.store
            .list_users(&self.tenant.name)
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u.roles.contains(&Role::Admin))
            .map(|u| u.name)
            .collect()
    }

    /// Once a tenant has registered users, only they may act, each within their roles.
    pub(super) fn require_member(&self, allowed: &[Role], what: &str) -> Result<()> {
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
    pub(super) fn refuse_machine(&self, rec: &PlanRecord, what: &str) -> Result<()> {
        if self.identity.source.is_mcp() {
            return self.deny(
                rec,
                what,
                "MCP clients can queue plans but never approve or reject them; a person must, in the console or with `opsdeck approve`".into(),
            );
        }
        Ok(())
    }

    /// The acting user's registration, refusing (and auditing) when there is none.
    pub(super) fn member(&self, rec: &PlanRecord, what: &str) -> Result<User> {
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
    pub(super) fn second_factor(
        &self,
        rec: &PlanRecord,
        what: &str,
        totp: Option<&str>,
    ) -> Result<()> {
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

    pub(super) fn deny<T>(&self, rec: &PlanRecord, what: &str, why: String) -> Result<T> {
        self.audit_denied(rec, what, &why)?;
        Err(Error::refused(why))
    }

    pub(super) fn audit_denied(&self, rec: &PlanRecord, what: &str, why: &str) -> Result<()> {
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
    pub(super) fn authenticate_admin(
        &self,
        what: &str,
        totp: Option<&str>,
    ) -> Result<Option<User>> {
        self.refuse_if_read_only(what, None)?;
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
            return refuse(e.refusal().unwrap_or_else(|| e.to_string()));
        }
        Ok(Some(user))
    }
}

pub(super) fn status_of(state: State) -> Status {
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
