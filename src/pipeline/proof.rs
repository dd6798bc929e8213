//! Who acts, proven rather than claimed, when a session opens.
//!
//! - Shared backend: the caller's IAM principal (STS GetCallerIdentity) mapped to a registered
//!   user (`tenant::principal`); `--user` / `OPSDECK_USER` only choose among the users that
//!   principal maps to, and naming anyone else is refused.
//! - Local store: the OS account; `--user` / `OPSDECK_USER` naming someone else are honoured
//!   only where the tenant allows it (`allow_claimed_users`, always for a demo tenant or one with
//!   no users yet), and recorded as such in every event (`user_source`).
//!
//! Every refusal is audited in the tenant's trail, under the proven name.

use crate::audit::{EventKind, Signer, Status};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::{Identity, Tenant, UserSource, principal, validate_user};
use crate::time::Clock;

pub(super) fn prove(
    store: &dyn Store,
    tenant: &Tenant,
    claimed: Identity,
    signer: &Signer,
    clock: &dyn Clock,
) -> Result<Identity> {
    let users = store.list_users(&tenant.name)?;
    let named = matches!(claimed.source, UserSource::Flag | UserSource::Env);
    let how = if claimed.source == UserSource::Env {
        format!("OPSDECK_USER={}", claimed.user)
    } else {
        format!("--user {}", claimed.user)
    };
    let refuse = |proven: &Identity, why: String| -> Result<Identity> {
        let mut ev = super::session::audit_event(
            &tenant.name,
            proven,
            clock,
            &uuid::Uuid::new_v4().to_string(),
            EventKind::AccessDenied,
            Status::Rejected,
        );
        ev.message = Some(format!("{how} refused: {why}"));
        store.append_audit(&tenant.name, &[ev], signer)?;
        Err(Error::refused(why))
    };
    let Some((arn, cached)) = store.caller_principal()? else {
        // The local store: the OS account is the principal.
        if claimed.is_claimed() && !(tenant.allow_claimed_users || tenant.demo || users.is_empty())
        {
            let me = Identity {
                user: claimed.os_user.clone(),
                source: UserSource::Os,
                ..claimed.clone()
            };
            return refuse(
                &me,
                format!(
                    "you are OS account {os}, and tenant {t} does not let {how} name someone else on the local store (one OS account is one trust domain). Act as yourself, run opsdeck as {who}'s own OS account, or use the shared backend; an admin may allow it with allow_claimed_users = true (`opsdeck tenants set`), every use then audited",
                    os = claimed.os_user,
                    t = tenant.name,
                    who = claimed.user,
                ),
            );
        }
        return Ok(claimed);
    };
    let mut proven = Identity {
        principal: Some(arn.clone()),
        principal_cached: cached,
        ..claimed.clone()
    };
    if users.is_empty() {
        // Nobody to be impersonated yet: the first admin names themselves, and their record
        // keeps this principal.
        return Ok(proven);
    }
    let mapped = principal::users_for(&arn, &users);
    let short = principal::short_name(&arn)
        .filter(|n| validate_user(n).is_ok())
        .unwrap_or(&claimed.os_user)
        .to_string();
    proven.source = UserSource::Aws;
    let map_hint = |u: &str| {
        format!(
            "an admin of tenant {t} maps it with `opsdeck users principal {u} --aws-principal {arn}`",
            t = tenant.name
        )
    };
    match mapped.as_slice() {
        [] if named && claimed.user != short => {
            proven.user = short;
            refuse(
                &proven,
                format!(
                    "you are AWS principal {arn}, which is not mapped to {u} (nor to any user of tenant {t}); {hint}",
                    u = claimed.user,
                    t = tenant.name,
                    hint = map_hint(&claimed.user)
                ),
            )
        }
        [] => {
            // Unregistered: acts under the principal's own name, which no membership check
            // accepts.
            proven.user = short;
            Ok(proven)
        }
        [only] if !named => {
            proven.user = only.to_string();
            Ok(proven)
        }
        several if named && several.contains(&claimed.user.as_str()) => Ok(proven),
        several if named => {
            let u = claimed.user.clone();
            proven.user = short;
            refuse(
                &proven,
                format!(
                    "you are AWS principal {arn}, which acts as {as_} in tenant {t}, not {u}; {hint}",
                    as_ = several.join(", "),
                    t = tenant.name,
                    hint = map_hint(&u)
                ),
            )
        }
        several => {
            proven.user = short;
            refuse(
                &proven,
                format!(
                    "AWS principal {arn} acts as {} in tenant {}: say which with --user",
                    several.join(", "),
                    tenant.name
                ),
            )
        }
    }
}
