//! Bearer tokens for MCP over HTTP (`opsdeck mcp --listen`): admins issue them to registered
//! users and revoke them, each audited; the server proves every request's user with one.
//!
//! A token acts as its user with the user's roles, as an MCP client: it may ask and queue plans,
//! never approve or reject them ([`Deck::refuse_machine`]). It stops working when it is revoked
//! or its user's membership is, checked against the store on every request.

use super::{Admin, Deck};
use crate::audit::{EventKind, Signer, Status};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tenant::tokens::{self, DEFAULT_RATE_PER_MINUTE, id_of, validate_label, validate_rate};
use crate::tenant::{ApiToken, Identity, Role, Tenant, UserSource};
use crate::time::Clock;

/// What `opsdeck tokens issue` returns: the record and, once only, the secret.
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

impl std::fmt::Debug for IssuedToken {
    // The secret never reaches a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Admin<'_> {
    /// Issues a token bound to registered user `user` (admins, with TOTP); the secret is in the
    /// answer only, the store keeps its hash.
    pub fn issue_token(
        &self,
        user: &str,
        label: &str,
        rate_per_minute: Option<u32>,
        totp: Option<&str>,
    ) -> Result<IssuedToken> {
        let rate = rate_per_minute.unwrap_or(DEFAULT_RATE_PER_MINUTE);
        validate_rate(rate)?;
        validate_label(label)?;
        match self.store.get_user(&self.tenant.name, user)? {
            Some(u) if !u.roles.is_empty() => {}
            Some(_) => {
                return Err(Error::input(format!(
                    "{user}'s membership of tenant {} is revoked: a token acts as a member",
                    self.tenant.name
                )));
            }
            None => {
                return Err(Error::not_found(
                    "user",
                    user,
                    format!(
                        "in tenant {}; a token is bound to a registered user (`opsdeck users add {user} --role …`)",
                        self.tenant.name
                    ),
                ));
            }
        }
        self.authenticate_admin(&format!("issue a token for {user}"), totp)?;
        let (id, secret) = tokens::generate()?;
        let token = ApiToken {
            tenant: self.tenant.name.clone(),
            id,
            user: user.to_string(),
            label: label.to_string(),
            sha256: tokens::hash(&secret),
            rate_per_minute: rate,
            created_at: self.clock.stamp(),
            created_by: self.identity.user.clone(),
            revoked_at: None,
            revoked_by: None,
        };
        self.store.put_token(&token, true)?;
        self.token_event(
            EventKind::TokenIssued,
            &token,
            format!(
                "MCP token {} for {user} issued by {}, {rate} requests a minute",
                token.id, self.identity.user
            ),
        )?;
        Ok(IssuedToken { token, secret })
    }

    /// Revokes a token (admins, with TOTP): every request presenting it is refused from then on.
    pub fn revoke_token(&self, id: &str, totp: Option<&str>) -> Result<ApiToken> {
        tokens::validate_id(id)?;
        let Some(mut token) = self.store.get_token(&self.tenant.name, id)? else {
            return Err(Error::not_found(
                "token",
                id,
                format!("in tenant {}; `opsdeck tokens list`", self.tenant.name),
            ));
        };
        if token.is_revoked() {
            return Ok(token);
        }
        self.authenticate_admin(&format!("revoke token {id}"), totp)?;
        token.revoked_at = Some(self.clock.stamp());
        token.revoked_by = Some(self.identity.user.clone());
        self.store.put_token(&token, false)?;
        self.token_event(
            EventKind::TokenRevoked,
            &token,
            format!(
                "MCP token {id} of {} revoked by {}",
                token.user, self.identity.user
            ),
        )?;
        Ok(token)
    }

    /// The tenant's tokens, revoked ones included (admins).
    pub fn tokens(&self) -> Result<Vec<ApiToken>> {
        self.require_member(&[Role::Admin], "list tokens")?;
        self.store.list_tokens(&self.tenant.name)
    }

    fn token_event(&self, kind: EventKind, token: &ApiToken, message: String) -> Result<()> {
        let mut ev = self.event(&uuid::Uuid::new_v4().to_string(), kind, Status::Completed);
        ev.approval_metadata = Some(token.public());
        ev.message = Some(message);
        self.append(&[ev]).map(|_| ())
    }
}

impl Deck {
    /// Checks, again, the token this session was opened with: the HTTP server calls it on every
    /// request, so a revocation or a removed membership takes effect at once.
    pub fn recheck_token(&self, secret: &str) -> Result<ApiToken> {
        let Some(id) = &self.identity.token else {
            return Err(Error::refused("this session was not opened with a token"));
        };
        if id_of(secret) != Some(id.as_str()) {
            return Err(Error::refused("the token is not this session's"));
        }
        let server = Identity {
            token: None,
            ..self.identity.clone()
        };
        authenticate(
            self.store.as_ref(),
            &self.tenant,
            &server,
            secret,
            &self.signer,
            self.clock.as_ref(),
        )
        .map(|(token, _)| token)
    }

    /// Writes that a token's holder went over its rate limit (the server calls it once per
    /// minute of refusals, not per refused request).
    pub fn audit_rate_limited(&self, token: &ApiToken) -> Result<()> {
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::AccessDenied,
            Status::Rejected,
        );
        ev.message = Some(format!(
            "MCP token {} refused: over its limit of {} requests a minute",
            token.id, token.rate_per_minute
        ));
        self.append(&[ev]).map(|_| ())
    }
}

/// Proves a request's user from its bearer token: the record must exist, match, not be revoked,
/// and its user must still be a member. Refusals of a known token are audited (under its user,
/// source `mcp_token`); an unknown one is refused without a trail entry, so guessing cannot
/// flood the trail.
pub(super) fn authenticate(
    store: &dyn Store,
    tenant: &Tenant,
    server: &Identity,
    secret: &str,
    signer: &Signer,
    clock: &dyn Clock,
) -> Result<(ApiToken, Identity)> {
    const UNKNOWN: &str = "the bearer token is not one of this tenant's: ask an admin for one (`opsdeck tokens issue USER`)";
    let id = id_of(secret).ok_or_else(|| Error::refused(UNKNOWN))?;
    let token = store
        .get_token(&tenant.name, id)?
        .ok_or_else(|| Error::refused(UNKNOWN))?;
    let identity = Identity {
        user: token.user.clone(),
        source: UserSource::McpToken,
        os_user: server.os_user.clone(),
        principal: None,
        principal_cached: false,
        token: Some(token.id.clone()),
    };
    let why = if !token.matches(secret) {
        Some(UNKNOWN.to_string())
    } else if let Some(at) = &token.revoked_at {
        Some(format!(
            "token {} was revoked at {at} by {}",
            token.id,
            token.revoked_by.as_deref().unwrap_or("an admin")
        ))
    } else {
        match store.get_user(&tenant.name, &token.user)? {
            Some(u) if !u.roles.is_empty() => None,
            _ => Some(format!(
                "token {} acts as {}, who is no longer a member of tenant {}",
                token.id, token.user, tenant.name
            )),
        }
    };
    if let Some(why) = why {
        let mut ev = super::session::audit_event(
            &tenant.name,
            &identity,
            clock,
            &uuid::Uuid::new_v4().to_string(),
            EventKind::AccessDenied,
            Status::Rejected,
        );
        ev.message = Some(format!("MCP token {} refused: {why}", token.id));
        store.append_audit(&tenant.name, &[ev], signer)?;
        return Err(Error::refused(why));
    }
    Ok((token, identity))
}
