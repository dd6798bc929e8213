//! The tenant's membership as its signed records say, replayed in order from the tenant root:
//! who was a member with which key and roles at any time. A record that does not verify, or
//! is signed by someone who was not an admin with that key at the time, counts for nothing.

use std::collections::HashMap;

use super::keys::PublicKeyLine;
use super::statement::{MembershipAction, MembershipRecord};
use crate::tenant::{Role, User};
use crate::time::Stamp;

/// A member's standing from one record on.
#[derive(Debug, Clone)]
pub struct Standing {
    pub since: Stamp,
    pub seq: u64,
    pub roles: Vec<Role>,
    pub key: Option<PublicKeyLine>,
    /// Approver groups, as signed.
    pub groups: Vec<String>,
    pub active: bool,
}

/// The verified membership of one tenant.
#[derive(Debug, Default)]
pub struct Roster {
    /// The root record's key fingerprint, when the tenant has a valid root.
    pub root: Option<String>,
    pub root_user: Option<String>,
    history: HashMap<String, Vec<Standing>>,
    /// Records that count for nothing, and why (tampering, or history made before signing).
    pub problems: Vec<String>,
    /// The next free sequence number.
    pub next_seq: u64,
}

impl Roster {
    /// Replays every user's membership records of `tenant`, in sequence order.
    pub fn build(tenant: &str, users: &[User]) -> Roster {
        let mut records: Vec<&MembershipRecord> =
            users.iter().flat_map(|u| u.membership.iter()).collect();
        records.sort_by_key(|r| r.seq);
        let mut roster = Roster {
            next_seq: records.last().map_or(1, |r| r.seq + 1),
            ..Roster::default()
        };
        let mut last_seq = 0;
        for r in records {
            if r.seq == last_seq {
                roster.problems.push(format!(
                    "membership record {} of {} repeats sequence number {}",
                    r.action.as_str(),
                    r.user,
                    r.seq
                ));
                continue;
            }
            last_seq = r.seq;
            if let Err(why) = roster.apply(tenant, users, r) {
                roster.problems.push(format!(
                    "membership record #{} ({} {} at {}, signed by {}) does not count: {why}",
                    r.seq,
                    r.action.as_str(),
                    r.user,
                    r.at,
                    r.signer
                ));
            }
        }
        roster
    }

    fn apply(
        &mut self,
        tenant: &str,
        users: &[User],
        r: &MembershipRecord,
    ) -> std::result::Result<(), String> {
        if r.tenant != tenant {
            return Err(format!("it is for tenant {}", r.tenant));
        }
        // A record lives in its subject's user record: moved elsewhere it is not theirs.
        if !users
            .iter()
            .any(|u| u.name == r.user && u.membership.contains(r))
        {
            return Err("it is not kept in the user's own record".into());
        }
        let bytes = r.bytes().map_err(|e| e.to_string())?;
        let key = match &r.key {
            Some(line) => Some(PublicKeyLine::parse(line).map_err(|e| e.to_string())?),
            None => None,
        };
        let signer_key = if r.action == MembershipAction::Root {
            if self.root.is_some() {
                return Err("the tenant already has a root".into());
            }
            if r.signer != r.user || !r.roles.contains(&Role::Admin) {
                return Err("a root record is an admin's own, self-signed".into());
            }
            key.clone().ok_or("a root record carries the root's key")?
        } else {
            if self.root.is_none() {
                return Err("the tenant has no valid root record before it".into());
            }
            let signer = self
                .now(&r.signer)
                .filter(|s| s.roles.contains(&Role::Admin))
                .ok_or_else(|| format!("{} was not an admin then", r.signer))?;
            signer
                .key
                .clone()
                .ok_or_else(|| format!("{} had no registered key then", r.signer))?
        };
        if signer_key.fingerprint() != r.signer_key {
            return Err(format!(
                "it names key {} but {}'s key was {}",
                r.signer_key,
                r.signer,
                signer_key.fingerprint()
            ));
        }
        signer_key.verify(&bytes, &r.signature)?;
        if r.action == MembershipAction::Root {
            self.root = Some(signer_key.fingerprint());
            self.root_user = Some(r.user.clone());
        }
        let prev = self.now(&r.user).cloned();
        let standing = Standing {
            since: r.at.clone(),
            seq: r.seq,
            roles: r.roles.clone(),
            key: key.or_else(|| prev.and_then(|p| p.key)),
            groups: r.groups.clone(),
            active: r.action != MembershipAction::Remove,
        };
        self.history
            .entry(r.user.clone())
            .or_default()
            .push(standing);
        Ok(())
    }

    /// `user`'s latest standing (active or not).
    fn now(&self, user: &str) -> Option<&Standing> {
        self.history.get(user).and_then(|h| h.last())
    }

    /// `user`'s standing now, when they are an active member.
    pub fn member_now(&self, user: &str) -> Option<&Standing> {
        self.now(user).filter(|s| s.active)
    }

    /// `user`'s standing at `at`, when they were an active member then.
    pub fn member_at(&self, user: &str, at: &Stamp) -> Option<&Standing> {
        self.history
            .get(user)?
            .iter()
            .rev()
            .find(|s| s.since.timestamp() <= at.timestamp())
            .filter(|s| s.active)
    }

    /// `user`'s signed history, oldest first.
    pub fn history(&self, user: &str) -> &[Standing] {
        self.history.get(user).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}
