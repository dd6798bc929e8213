//! Decisions signed by the person's own key: signing an approval or rejection, and checking
//! each approval a plan carries (signature under the key registered then, membership and role
//! then, membership now, tenant, content hash) and each decision the trail records.

use super::Deck;
use crate::approval::{Approval, PlanRecord, Signed};
use crate::audit::{AuditRecord, EventKind};
use crate::error::{Error, Result};
use crate::identity::{
    self, DecisionStatement, PersonalKey, PublicKeyLine, Roster, Statement, Verdict, pins,
};
use crate::time::Stamp;

impl Deck {
    /// The store's scope for pinned tenant roots: `<backend>:<location>`.
    pub(super) fn store_scope(&self) -> String {
        format!("{}:{}", self.store.backend(), self.store.location())
    }

    /// The tenant's membership as its signed records say. The tenant root is pinned in the
    /// person's `known_tenants` on first use; a different root, or a pinned root that is gone,
    /// is refused.
    pub(super) fn roster(&self) -> Result<Roster> {
        let users = self.store.list_users(&self.tenant.name)?;
        let roster = Roster::build(&self.tenant.name, &users);
        let scope = self.store_scope();
        match (&roster.root, &roster.root_user) {
            (Some(fp), Some(root_user)) => {
                pins::check_root(
                    &self.paths.identity,
                    &scope,
                    &self.tenant.name,
                    fp,
                    root_user,
                )?;
            }
            _ => {
                if let Some(pinned) =
                    pins::pinned_root(&self.paths.identity, &scope, &self.tenant.name)?
                {
                    return Err(Error::refused(format!(
                        "THE ROOT OF TRUST OF TENANT {t} IS GONE from the store (pinned: {pinned}). Someone who can write the store removed or altered its membership records, or the tenant was set up again; nothing is approved or applied until this is settled. Check with an admin of the tenant over another channel; if they confirm a new setup, remove the line for tenant {t} from {} and run the command again{}",
                        pins::known_tenants_path(&self.paths.identity).display(),
                        roster
                            .problems
                            .first()
                            .map(|p| format!(" (first problem: {p})"))
                            .unwrap_or_default(),
                        t = self.tenant.name,
                    )));
                }
            }
        }
        Ok(roster)
    }

    /// The acting person's private key from their identity directory.
    pub(super) fn personal_key(&self) -> Result<PersonalKey> {
        identity::load_key(&self.paths.identity, &self.identity.user)
    }

    /// Why the acting person cannot sign a decision in this tenant now, or their key: their
    /// membership must be signed, with a registered key, and their private key must be it.
    pub(super) fn decision_key(&self) -> std::result::Result<PersonalKey, String> {
        let me = &self.identity.user;
        let t = &self.tenant.name;
        let roster = self.roster().map_err(|e| e.to_string())?;
        let advice = format!(
            "create your key with `opsdeck --user {me} keys new` (it prints the public line) and send that line to an admin of tenant {t} ({admins}), who registers it with `opsdeck users key {me} --key \"ssh-ed25519 …\" --totp CODE`",
            admins = self.admin_names().join(", ")
        );
        let Some(standing) = roster.member_now(me) else {
            return Err(if roster.root.is_none() {
                format!(
                    "tenant {t} has no signed membership yet (its users were registered before approvals were signed), so nobody can approve: an admin registers their own key first (`opsdeck keys new`, then `opsdeck users key ADMIN --key … --totp CODE`); then {advice}"
                )
            } else {
                format!("{me} has no signed membership in tenant {t}: {advice}")
            });
        };
        let Some(registered) = &standing.key else {
            return Err(format!(
                "{me} has no registered key in tenant {t}, and approvals are signatures by the approver's own key: {advice}"
            ));
        };
        let key = self.personal_key().map_err(|e| e.to_string())?;
        if key.public() != registered {
            return Err(format!(
                "the private key at {} ({}) is not the key registered for {me} in tenant {t} ({}): use the identity directory (--identity-dir) that holds the registered key, or have an admin register this one",
                identity::keys::key_path(&self.paths.identity, me).display(),
                key.public().fingerprint(),
                registered.fingerprint()
            ));
        }
        Ok(key)
    }

    /// Signs the decision on `rec` at `at` with `key`.
    pub(super) fn sign_decision(
        &self,
        key: &PersonalKey,
        rec: &PlanRecord,
        hash: &str,
        verdict: Verdict,
        at: &Stamp,
    ) -> Result<Signed> {
        let st = DecisionStatement {
            tenant: &self.tenant.name,
            plan_id: &rec.plan.plan_id,
            content_hash: hash,
            verdict,
            at,
            user: &self.identity.user,
        };
        Ok(Signed {
            signature: st.sign(key)?,
            key_fingerprint: key.public().fingerprint(),
        })
    }

    /// Why `a`, an approval of `rec`, does not count for running it with content `hash` now.
    pub(super) fn approval_problem(
        &self,
        roster: &Roster,
        rec: &PlanRecord,
        a: &Approval,
        hash: &str,
    ) -> Option<String> {
        let t = &self.tenant.name;
        let Some(signed) = &a.signed else {
            return Some(
                "it is unsigned (made before approvals were signatures by the approver's own key); request the change again and have it approved with a registered key".into(),
            );
        };
        if rec.plan.tenant != *t {
            return Some(format!(
                "the plan belongs to tenant {}, not {t}",
                rec.plan.tenant
            ));
        }
        if a.plan_hash != hash || rec.plan.content_hash != hash {
            return Some(format!(
                "it covers content {} and the plan is now {}",
                crate::approval::short(&a.plan_hash),
                crate::approval::short(hash)
            ));
        }
        let Some(then) = roster.member_at(&a.user, &a.at) else {
            return Some(format!(
                "{} had no signed membership in tenant {t} at {}",
                a.user, a.at
            ));
        };
        let Some(key) = &then.key else {
            return Some(format!("{} had no registered key at {}", a.user, a.at));
        };
        let verdict = if a.break_glass.is_some() {
            Verdict::BreakGlass
        } else {
            Verdict::Approve
        };
        if let Err(why) = check_decision(t, &rec.plan.plan_id, hash, verdict, a, key, signed) {
            return Some(why);
        }
        let eligible = if rec.approver_roles.is_empty() {
            &self.tenant.approvals.default_roles
        } else {
            &rec.approver_roles
        };
        if !then.roles.iter().any(|r| eligible.contains(r)) {
            return Some(format!(
                "{} held no eligible role ({}) at {}",
                a.user,
                eligible
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                a.at
            ));
        }
        if let Some(g) = &rec.approver_group
            && !then.groups.contains(g)
        {
            return Some(format!(
                "{} was not in group {g} at {} as their signed membership says, and rule {} needs it",
                a.user, a.at, rec.approval_rule
            ));
        }
        if roster.member_now(&a.user).is_none() {
            return Some(format!(
                "{} is no longer a member of tenant {t} (revoked or deleted), so their approval no longer counts for a plan not yet applied",
                a.user
            ));
        }
        None
    }

    /// Why the acting person may not approve under `req`'s group: the group must be in their
    /// signed membership, not only in the user record a store writer could edit.
    pub(super) fn unsigned_group(
        &self,
        req: &crate::approval::rules::Requirement,
    ) -> Option<String> {
        let g = req.group.as_ref()?;
        let me = &self.identity.user;
        let roster = match self.roster() {
            Ok(r) => r,
            Err(e) => return Some(e.to_string()),
        };
        let signed = roster.member_now(me).is_some_and(|s| s.groups.contains(g));
        (!signed).then(|| {
            format!(
                "{me} is in group {g} only in their user record, not in their signed membership: an admin confirms it with `opsdeck users groups {me} --group {g} --totp CODE`"
            )
        })
    }

    /// For `audit verify`: why the approved/rejected event `r` does not carry a decision signed
    /// by its author's key registered at that time, if it does not. Events from before signed
    /// decisions (no signature) are not flagged.
    pub(super) fn decision_event_problem(
        &self,
        roster: &Roster,
        r: &AuditRecord,
    ) -> Option<String> {
        let e = &r.event;
        let verdict = match e.event {
            EventKind::Approved => Verdict::Approve,
            EventKind::Rejected => Verdict::Reject,
            _ => return None,
        };
        let meta = e.approval_metadata.as_ref()?;
        let text = |k: &str| meta.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let signature = text("signature")?;
        let verdict = if meta.get("breakGlass").and_then(|v| v.as_bool()) == Some(true) {
            Verdict::BreakGlass
        } else {
            verdict
        };
        let user = text("approver")
            .or_else(|| text("rejectedBy"))
            .unwrap_or_else(|| e.user_id.clone());
        let (Some(hash), Some(at), Some(plan_id)) =
            (text("planHash"), text("signedAt"), e.plan_id.clone())
        else {
            return Some("its signed fields (planHash, signedAt, plan) are incomplete".into());
        };
        let Ok(at) = at.parse::<Stamp>() else {
            return Some(format!("its signing time {at:?} is not an instant"));
        };
        let Some(key) = roster.member_at(&user, &at).and_then(|s| s.key.clone()) else {
            return Some(format!("{user} had no registered key at {at}"));
        };
        let st = DecisionStatement {
            tenant: &self.tenant.name,
            plan_id: &plan_id,
            content_hash: &hash,
            verdict,
            at: &at,
            user: &user,
        };
        st.verify(&key, &signature)
            .err()
            .map(|why| format!("the {} by {user} does not verify: {why}", verdict.as_str()))
    }
}

/// Checks `signed` as `a.user`'s decision on plan `plan_id` with content `hash` in `tenant`.
fn check_decision(
    tenant: &str,
    plan_id: &str,
    hash: &str,
    verdict: Verdict,
    a: &Approval,
    key: &PublicKeyLine,
    signed: &Signed,
) -> std::result::Result<(), String> {
    if signed.key_fingerprint != key.fingerprint() {
        return Err(format!(
            "it is signed with key {} but {}'s key registered at {} was {}",
            signed.key_fingerprint,
            a.user,
            a.at,
            key.fingerprint()
        ));
    }
    DecisionStatement {
        tenant,
        plan_id,
        content_hash: hash,
        verdict,
        at: &a.at,
        user: &a.user,
    }
    .verify(key, &signed.signature)
    .map_err(|why| {
        format!(
            "its signature is not {}'s for this plan in tenant {tenant}: {why}",
            a.user
        )
    })
}
