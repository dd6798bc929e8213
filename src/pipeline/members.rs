//! The tenant's people and their keys: registering users, key rotation, role changes and
//! removal, each a membership record signed by an admin whose own membership is valid, chaining
//! to the tenant root (the first admin, self-signed).

use serde_json::json;

use super::{Admin, Enrolment};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::identity::{self, MembershipAction, MembershipRecord, PersonalKey, PublicKeyLine};
use crate::tenant::{Role, User, mfa};

/// What `opsdeck keys show` tells the acting person about their key in this tenant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyStatus {
    pub user: String,
    pub tenant: String,
    /// The private key file, when it exists, or the SSH agent that holds the key.
    pub private_key: Option<String>,
    pub public_key: Option<String>,
    pub fingerprint: Option<String>,
    /// The key registered for the user in this tenant's signed membership, if any.
    pub registered_fingerprint: Option<String>,
    pub tenant_root: Option<String>,
}

impl Admin<'_> {
    /// Registers a user without a key (they cannot approve until an admin registers one).
    pub fn add_user(
        &self,
        name: &str,
        roles: Vec<Role>,
        groups: Vec<String>,
        totp: Option<&str>,
    ) -> Result<Enrolment> {
        self.add_member(name, roles, groups, None, totp)
    }

    /// Registers a user with roles, groups, a fresh TOTP secret and (optionally) their public
    /// key, in a membership record signed by the acting admin. The first user of a tenant must
    /// be an admin acting as themself, needs no authentication, and becomes the tenant root:
    /// their key (created in their identity directory if absent) signs their own record.
    pub fn add_member(
        &self,
        name: &str,
        roles: Vec<Role>,
        groups: Vec<String>,
        key: Option<&str>,
        totp: Option<&str>,
    ) -> Result<Enrolment> {
        crate::tenant::validate_user(name)?;
        if roles.is_empty() {
            return Err(Error::input(
                "give the user at least one --role (viewer, operator, approver, admin)",
            ));
        }
        for g in &groups {
            crate::tenant::validate_group(g)?;
        }
        let key = key.map(PublicKeyLine::parse).transpose()?;
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
        self.authenticate_admin(&format!("add user {name}"), totp)?;
        let (key, record) = if bootstrap {
            let own = self.own_key_or_create()?;
            if key.as_ref().is_some_and(|k| k != own.public()) {
                return Err(Error::input(format!(
                    "the key given is not the one in {}: the tenant root registers its own key (leave out --key)",
                    identity::keys::key_path(&self.paths.identity, name).display()
                )));
            }
            let roster = self.roster()?;
            let rec = self
                .membership(
                    &roster,
                    name,
                    MembershipAction::Root,
                    &roles,
                    Some(own.public()),
                    &groups,
                )
                .sign(&own)?;
            (Some(own.public().clone()), Some(rec))
        } else {
            let roster = self.roster()?;
            let rec = self.signed_record(
                &roster,
                name,
                MembershipAction::Add,
                &roles,
                key.as_ref(),
                &groups,
            )?;
            (key, rec)
        };
        let secret = mfa::new_secret()?;
        let user = User {
            name: name.to_string(),
            roles,
            groups,
            totp_secret: secret.clone(),
            last_totp_step: 0,
            created_at: self.clock.stamp(),
            created_by: self.identity.user.clone(),
            // On the shared backend the first admin is the principal STS proved created them.
            aws_principals: match (&self.identity.principal, bootstrap) {
                (Some(arn), true) if !self.identity.principal_cached => vec![arn.clone()],
                _ => vec![],
            },
            key: key.map(|k| k.openssh()),
            membership: record.into_iter().collect(),
            read_only: false,
        };
        self.store.create_user(&self.tenant.name, &user)?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::UserAdded,
            Status::Completed,
        );
        let mut meta = user.public();
        meta["membership"] = json!(user.membership.last());
        ev.approval_metadata = Some(meta);
        ev.message = Some(format!(
            "user {name} added by {}{}",
            self.identity.user,
            if bootstrap {
                " (first user of the tenant: its root of trust)"
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

    /// Registers or rotates `name`'s public key (admins, with TOTP). In a tenant from before
    /// signed membership (no root yet), an admin registering their own key becomes its root.
    pub fn set_user_key(&self, name: &str, key: &str, totp: Option<&str>) -> Result<User> {
        let key = PublicKeyLine::parse(key)?;
        let user = self.existing_user(name)?;
        self.authenticate_admin(&format!("register the key of {name}"), totp)?;
        let roster = self.roster()?;
        let record = if roster.root.is_none() {
            if name != self.identity.user {
                return Err(Error::refused(format!(
                    "tenant {t} has no root of trust yet (its users were registered before signed membership): an admin registers their own key first, and becomes the root (`opsdeck keys new`, then `opsdeck users key {me} --key \"$(opsdeck keys show --public)\" --totp CODE`)",
                    t = self.tenant.name,
                    me = self.identity.user
                )));
            }
            let own = self.personal_key()?;
            if own.public() != &key {
                return Err(Error::input(format!(
                    "the key given ({}) is not your own ({}): the root registers the key it signs with",
                    key.fingerprint(),
                    own.public().fingerprint()
                )));
            }
            Some(
                self.membership(
                    &roster,
                    name,
                    MembershipAction::Root,
                    &user.roles,
                    Some(&key),
                    &user.groups,
                )
                .sign(&own)?,
            )
        } else {
            let action = if roster.member_now(name).is_some() {
                MembershipAction::Key
            } else {
                MembershipAction::Add
            };
            let (roles, groups) = standing_now(&roster, &user);
            self.signed_record(&roster, name, action, &roles, Some(&key), &groups)?
        };
        let line = key.openssh();
        let what = format!("key of {name} set to {}", key.fingerprint());
        self.change_member(name, record, &what, &mut |u| u.key = Some(line.clone()))
    }

    /// Changes `name`'s roles (admins, with TOTP), in a signed membership record.
    pub fn set_user_roles(&self, name: &str, roles: Vec<Role>, totp: Option<&str>) -> Result<User> {
        if roles.is_empty() {
            return Err(Error::input(
                "give at least one --role; `opsdeck users remove` revokes a membership",
            ));
        }
        let user = self.existing_user(name)?;
        self.authenticate_admin(&format!("change the roles of {name}"), totp)?;
        let roster = self.roster()?;
        let (_, groups) = standing_now(&roster, &user);
        let record = self.signed_record(
            &roster,
            name,
            MembershipAction::Roles,
            &roles,
            None,
            &groups,
        )?;
        let what = format!(
            "roles of {name} set to {}",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.change_member(name, record, &what, &mut |u| u.roles = roles.clone())
    }

    /// Sets `name`'s approver groups (admins, with TOTP), in a signed membership record: what
    /// an approval rule naming a group checks, at approve and again at apply.
    pub fn set_user_groups(
        &self,
        name: &str,
        groups: Vec<String>,
        totp: Option<&str>,
    ) -> Result<User> {
        for g in &groups {
            crate::tenant::validate_group(g)?;
        }
        let user = self.existing_user(name)?;
        self.authenticate_admin(&format!("change the groups of {name}"), totp)?;
        let roster = self.roster()?;
        let (roles, _) = standing_now(&roster, &user);
        let record = self.signed_record(
            &roster,
            name,
            MembershipAction::Groups,
            &roles,
            None,
            &groups,
        )?;
        let what = format!(
            "groups of {name} set to {}",
            if groups.is_empty() {
                "none".to_string()
            } else {
                groups.join(", ")
            }
        );
        self.change_member(name, record, &what, &mut |u| u.groups = groups.clone())
    }

    /// Revokes `name`'s membership (admins, with TOTP): the user record stays with a signed
    /// tombstone, so their past decisions can still be checked, and their approvals of plans
    /// not yet applied no longer count.
    pub fn remove_user(&self, name: &str, totp: Option<&str>) -> Result<User> {
        self.existing_user(name)?;
        if name == self.identity.user {
            return Err(Error::input(
                "you cannot remove yourself: another admin does it",
            ));
        }
        self.authenticate_admin(&format!("remove user {name}"), totp)?;
        let roster = self.roster()?;
        let record = self.signed_record(&roster, name, MembershipAction::Remove, &[], None, &[])?;
        let what = format!("membership of {name} revoked");
        self.change_member(name, record, &what, &mut |u| u.roles.clear())
    }

    /// The acting person's key, and what this tenant has registered for them.
    pub fn key_status(&self) -> Result<KeyStatus> {
        let me = &self.identity.user;
        let dir = &self.paths.identity;
        let private = identity::keys::key_path(dir, me);
        let public = match identity::keys::read_public(dir, me)? {
            Some(p) => Some(p),
            // A key installed without its public half (the runner's, from a secret): read from
            // the private key, when that needs no passphrase.
            None if private.exists() => identity::keys::load_key_with(dir, me, &|_| Ok(None))
                .ok()
                .map(|k| k.public().clone()),
            None => None,
        };
        let roster = self.roster()?;
        Ok(KeyStatus {
            user: me.clone(),
            tenant: self.tenant.name.clone(),
            private_key: if private.exists() {
                Some(private.display().to_string())
            } else {
                public
                    .as_ref()
                    .filter(|p| {
                        identity::agent::socket()
                            .and_then(|s| identity::agent::find(&s, p).ok().flatten())
                            .is_some()
                    })
                    .map(|_| "in the SSH agent (SSH_AUTH_SOCK)".to_string())
            },
            public_key: public.as_ref().map(PublicKeyLine::openssh),
            fingerprint: public.as_ref().map(PublicKeyLine::fingerprint),
            registered_fingerprint: roster
                .member_now(me)
                .and_then(|s| s.key.as_ref())
                .map(PublicKeyLine::fingerprint),
            tenant_root: roster.root.clone(),
        })
    }

    /// Creates the acting person's key pair (never overwriting one).
    pub fn new_key(&self) -> Result<PublicKeyLine> {
        let me = &self.identity.user;
        let pass = identity::keys::passphrase(&format!(
            "passphrase for {me}'s new key (empty for none): "
        ))?;
        let key = identity::create_key(
            &self.paths.identity,
            me,
            pass.as_deref().map(|p| p.as_str()),
        )?;
        Ok(key.public().clone())
    }

    /// Makes the acting person's key the one their SSH agent holds (with `fingerprint`, or its
    /// only Ed25519 key): signing then goes through the agent, and the private key never
    /// touches this machine's disk.
    pub fn adopt_agent_key(&self, fingerprint: Option<&str>) -> Result<PublicKeyLine> {
        identity::keys::adopt_agent_key(&self.paths.identity, &self.identity.user, fingerprint)
    }

    fn existing_user(&self, name: &str) -> Result<User> {
        self.store
            .get_user(&self.tenant.name, name)?
            .ok_or_else(|| {
                Error::not_found(
                    "user",
                    name,
                    format!(
                        "in tenant {}; `opsdeck users add {name} --role …` registers them",
                        self.tenant.name
                    ),
                )
            })
    }

    /// The acting person's key, created when there is none yet: encrypted with
    /// `OPSDECK_KEY_PASSPHRASE` if set, never asked for here (this runs inside `init` and the
    /// demo, which may own the terminal); `opsdeck keys new` beforehand asks for one.
    fn own_key_or_create(&self) -> Result<PersonalKey> {
        let me = &self.identity.user;
        if identity::keys::key_path(&self.paths.identity, me).exists() {
            return self.personal_key();
        }
        let pass = std::env::var(identity::keys::PASSPHRASE_ENV).ok();
        identity::create_key(&self.paths.identity, me, pass.as_deref())
    }

    /// An unsigned record of `action` on `user`, next in the tenant's history.
    fn membership(
        &self,
        roster: &identity::Roster,
        user: &str,
        action: MembershipAction,
        roles: &[Role],
        key: Option<&PublicKeyLine>,
        groups: &[String],
    ) -> MembershipRecord {
        MembershipRecord {
            seq: roster.next_seq,
            tenant: self.tenant.name.clone(),
            user: user.to_string(),
            action,
            roles: roles.to_vec(),
            key: key.map(PublicKeyLine::openssh),
            groups: groups.to_vec(),
            at: self.clock.stamp(),
            signer: String::new(),
            signer_key: String::new(),
            signature: String::new(),
        }
    }

    /// A record of `action` on `user` signed by the acting admin, whose own membership must be
    /// valid and whose private key must be the registered one. None in a tenant without a root
    /// (registered before signed membership): the change is made unsigned, and gives no right
    /// to approve.
    fn signed_record(
        &self,
        roster: &identity::Roster,
        user: &str,
        action: MembershipAction,
        roles: &[Role],
        key: Option<&PublicKeyLine>,
        groups: &[String],
    ) -> Result<Option<MembershipRecord>> {
        if roster.root.is_none() {
            return Ok(None);
        }
        let me = &self.identity.user;
        let standing = roster
            .member_now(me)
            .filter(|s| s.roles.contains(&Role::Admin))
            .ok_or_else(|| {
                Error::refused(format!(
                    "{me} has no valid signed admin membership in tenant {}: membership changes are signed by an admin whose own membership chains to the tenant root",
                    self.tenant.name
                ))
            })?;
        let own = self.personal_key()?;
        if standing.key.as_ref() != Some(own.public()) {
            return Err(Error::refused(format!(
                "your private key ({}) is not the key registered for {me} ({}): use the identity directory that holds the registered one",
                own.public().fingerprint(),
                standing
                    .key
                    .as_ref()
                    .map_or_else(|| "none".into(), PublicKeyLine::fingerprint)
            )));
        }
        Ok(Some(
            self.membership(roster, user, action, roles, key, groups)
                .sign(&own)?,
        ))
    }

    /// Stores a change to `name` with its record and audits it.
    fn change_member(
        &self,
        name: &str,
        record: Option<MembershipRecord>,
        what: &str,
        change: &mut dyn FnMut(&mut User),
    ) -> Result<User> {
        let user = self.store.update_user(&self.tenant.name, name, &mut |u| {
            change(u);
            if let Some(r) = &record {
                u.membership.push(r.clone());
            }
            Ok(())
        })?;
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::SettingsChanged,
            Status::Completed,
        );
        let mut meta = user.public();
        meta["membership"] = json!(record);
        ev.approval_metadata = Some(meta);
        ev.message = Some(format!(
            "{what} by {}{}",
            self.identity.user,
            if record.is_none() {
                " (unsigned: the tenant has no root of trust yet)"
            } else {
                ""
            }
        ));
        self.append(&[ev])?;
        Ok(user)
    }
}

/// `user`'s roles and groups as their signed membership says now, else as their user record does
/// (not yet in the signed roster): what a change to one of them, or to the key, keeps.
fn standing_now(roster: &identity::Roster, user: &User) -> (Vec<Role>, Vec<String>) {
    roster.member_now(&user.name).map_or_else(
        || (user.roles.clone(), user.groups.clone()),
        |s| (s.roles.clone(), s.groups.clone()),
    )
}
