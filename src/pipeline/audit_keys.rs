//! Certified audit-signing keys. Each machine seals the trail with its own key; a member
//! vouches for that key with their personal key in a signed statement (`opsdeck-audit-key-v1`)
//! stored as an event of the same trail. Every member then trusts the team's machines without
//! pinning each one, a key nobody certified is named by `audit verify`, and every key change
//! (certified, revoked) is itself a signed, audited event.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::Ordering;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Deck, Trail};
use crate::audit::chain::{Break, key_id_of};
use crate::audit::witness::LocalWitness;
use crate::audit::{AuditEvent, AuditRecord, EventKind, Status, Tamper, VerifyReport};
use crate::error::{Error, Result};
use crate::identity::keys::PASSPHRASE_ENV;
use crate::identity::statement::{AuditKeyStatement, KeyAction};
use crate::identity::{PersonalKey, Roster, Statement};
use crate::redact::redact;
use crate::tenant::Role;
use crate::time::Stamp;

/// Next to the machine's signing key: lines `<store scope> <tenant> <key id>` naming where this
/// machine already certified its key, so that the check costs one small read per session.
const CERTIFIED_FILE: &str = "certified";

/// A verified statement about one key.
#[derive(Debug, Clone)]
pub(super) struct KeyWord {
    pub by: String,
    pub at: Stamp,
    pub public: String,
}

/// What one pass over the trail found besides the chain itself.
#[derive(Default)]
pub(super) struct TrailFacts {
    /// The latest valid certification of each key, by key id (a revocation ends it for the
    /// records that follow, see `trail_facts`).
    certified: HashMap<String, KeyWord>,
    /// The first record that does not hold: a decision or key statement whose signature does
    /// not verify, or a record sealed by a key after its revocation.
    pub first_problem: Option<Break>,
}

/// What `audit certify`, `audit trust-key` and `audit revoke-key` did.
#[derive(Debug, Clone, Serialize)]
pub struct KeyDecision {
    pub key_id: String,
    pub public: String,
    /// `certified` or `revoked` (a signed event every member sees), or `pinned` (for this
    /// member only).
    pub outcome: String,
    pub by: String,
    /// The event that carries the signed statement, when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

impl Deck {
    /// This machine's audit-signing key: (id, public hex).
    fn machine_key(&self) -> (String, String) {
        (
            self.signer.key_id().to_string(),
            hex::encode(self.signer.verifying_key().as_bytes()),
        )
    }

    fn certified_marker(&self) -> std::path::PathBuf {
        self.paths.data.join("keys").join(CERTIFIED_FILE)
    }

    fn marker_line(&self) -> String {
        format!(
            "{} {} {}",
            self.store_scope(),
            self.tenant.name,
            self.signer.key_id()
        )
    }

    fn machine_key_certified(&self) -> bool {
        let want = self.marker_line();
        std::fs::read_to_string(self.certified_marker())
            .is_ok_and(|text| text.lines().any(|l| l.trim() == want))
    }

    fn note_machine_key_certified(&self) {
        let path = self.certified_marker();
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{}", self.marker_line()));
        if let Err(e) = written {
            // Costs only a repeated certification next session, never trust.
            tracing::warn!(error = %e, path = %path.display(), "could not note the certification");
        }
    }

    /// The acting person's key without asking for a passphrase: for certifying on the side of
    /// another command, where a prompt would surprise (or break the console's raw mode).
    fn personal_key_quietly(&self) -> Option<PersonalKey> {
        crate::identity::keys::load_key_with(&self.paths.identity, &self.identity.user, &|_| {
            Ok(std::env::var(PASSPHRASE_ENV)
                .ok()
                .map(zeroize::Zeroizing::new))
        })
        .ok()
    }

    /// The certification of this machine's key that goes before the first records it seals in
    /// this tenant (checked once per session), when the acting person is a member whose
    /// registered key is at hand. It never fails an append: without it, `audit verify` names
    /// the key and says how to certify it.
    pub(super) fn certification_due(&self) -> Option<AuditEvent> {
        if self.audit_key_checked.swap(true, Ordering::Relaxed) || self.machine_key_certified() {
            return None;
        }
        let key = self.personal_key_quietly()?;
        let roster = self.roster().ok()?;
        let standing = roster.member_now(&self.identity.user)?;
        if standing.key.as_ref() != Some(key.public()) {
            return None;
        }
        let (id, public) = self.machine_key();
        self.key_statement_event(&key, &id, &public, KeyAction::Certify, None)
            .ok()
    }

    /// Appends `events` after the certification of this machine's key when one is due, and
    /// returns the records of `events` alone.
    pub(super) fn append_certified(
        &self,
        events: &[AuditEvent],
        append: &dyn Fn(&[AuditEvent]) -> Result<Vec<AuditRecord>>,
    ) -> Result<Vec<AuditRecord>> {
        let Some(cert) = self.certification_due() else {
            return append(events);
        };
        let mut batch = Vec::with_capacity(events.len() + 1);
        batch.push(cert);
        batch.extend_from_slice(events);
        let mut records = append(&batch)?;
        self.note_machine_key_certified();
        records.remove(0);
        Ok(records)
    }

    /// The event carrying `action` on key `key_id`, signed with `key` now.
    fn key_statement_event(
        &self,
        key: &PersonalKey,
        key_id: &str,
        public: &str,
        action: KeyAction,
        reason: Option<&str>,
    ) -> Result<AuditEvent> {
        let at = self.clock.stamp();
        let me = &self.identity.user;
        let signature = AuditKeyStatement {
            tenant: &self.tenant.name,
            key_id,
            public,
            action,
            at: &at,
            user: me,
        }
        .sign(key)?;
        let (kind, verb) = match action {
            KeyAction::Certify => (EventKind::AuditKeyCertified, "certified"),
            KeyAction::Revoke => (EventKind::AuditKeyRevoked, "revoked"),
        };
        let mut ev = self.event(&uuid::Uuid::now_v7().to_string(), kind, Status::Completed);
        ev.approval_metadata = Some(json!({
            "keyId": key_id,
            "publicKey": public,
            "action": action.as_str(),
            "by": me,
            "signedAt": at.to_string(),
            "keyFingerprint": key.public().fingerprint(),
            "signature": signature,
        }));
        ev.message = Some(match reason {
            Some(r) => format!("{me} {verb} audit-signing key {key_id}: {r}"),
            None => format!("{me} {verb} audit-signing key {key_id}"),
        });
        Ok(ev)
    }

    /// For `audit verify`: the key statement in `r`, checked against the signer's key
    /// registered at its time; None when `r` is not one.
    fn key_statement(
        &self,
        roster: &Roster,
        r: &AuditRecord,
    ) -> Option<std::result::Result<(String, KeyAction, KeyWord), String>> {
        let action = match r.event.event {
            EventKind::AuditKeyCertified => KeyAction::Certify,
            EventKind::AuditKeyRevoked => KeyAction::Revoke,
            _ => return None,
        };
        Some(self.check_key_statement(roster, r, action))
    }

    fn check_key_statement(
        &self,
        roster: &Roster,
        r: &AuditRecord,
        action: KeyAction,
    ) -> std::result::Result<(String, KeyAction, KeyWord), String> {
        let meta = r.event.approval_metadata.as_ref();
        let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        let (Some(key_id), Some(public), Some(by), Some(at), Some(signature)) = (
            text("keyId"),
            text("publicKey"),
            text("by"),
            text("signedAt"),
            text("signature"),
        ) else {
            return Err(
                "its signed fields (keyId, publicKey, by, signedAt, signature) are incomplete"
                    .into(),
            );
        };
        let Ok(at) = at.parse::<Stamp>() else {
            return Err(format!("its signing time {at:?} is not an instant"));
        };
        if key_id_of(public).as_deref() != Some(key_id) {
            return Err(format!("its public key is not the one of key {key_id}"));
        }
        let t = &self.tenant.name;
        let Some(standing) = roster.member_at(by, &at) else {
            return Err(format!("{by} was not a member of tenant {t} at {at}"));
        };
        let Some(registered) = &standing.key else {
            return Err(format!("{by} had no registered key at {at}"));
        };
        if action == KeyAction::Revoke && !standing.roles.contains(&Role::Admin) {
            return Err(format!(
                "{by} was not an admin at {at}, and only admins revoke audit-signing keys"
            ));
        }
        AuditKeyStatement {
            tenant: t,
            key_id,
            public,
            action,
            at: &at,
            user: by,
        }
        .verify(registered, signature)
        .map_err(|why| {
            format!(
                "the {} of audit-signing key {key_id} by {by} does not verify: {why}",
                match action {
                    KeyAction::Certify => "certification",
                    KeyAction::Revoke => "revocation",
                }
            )
        })?;
        Ok((
            key_id.to_string(),
            action,
            KeyWord {
                by: by.to_string(),
                at,
                public: public.to_string(),
            },
        ))
    }

    /// One pass over the trail, oldest first: every decision and key statement checked against
    /// the signed membership, and every record's key against the revocations before it.
    pub(super) fn trail_facts(&self, roster: &Roster) -> Result<TrailFacts> {
        let mut facts = TrailFacts::default();
        let mut revoked: HashMap<String, u64> = HashMap::new();
        let mut line = 0;
        self.scan_trail(&mut |r| {
            line += 1;
            let mut problem = revoked.get(&r.key).map(|at| {
                (
                    format!(
                        "sealed by audit-signing key {} after it was revoked at record {at}",
                        r.key
                    ),
                    Tamper::UntrustedKey,
                )
            });
            if problem.is_none() {
                problem = self
                    .decision_event_problem(roster, &r)
                    .map(|p| (p, Tamper::BadSignature));
            }
            if problem.is_none() {
                match self.key_statement(roster, &r) {
                    None => {}
                    Some(Err(p)) => problem = Some((p, Tamper::BadSignature)),
                    Some(Ok((id, KeyAction::Certify, word))) => {
                        revoked.remove(&id);
                        facts.certified.insert(id, word);
                    }
                    Some(Ok((id, KeyAction::Revoke, _))) => {
                        // What it sealed before stays certified; what follows is checked above.
                        revoked.insert(id, r.seq);
                    }
                }
            }
            if let Some((problem, what)) = problem {
                facts.first_problem = Some(Break {
                    line,
                    seq: Some(r.seq),
                    event_id: Some(r.event.event_id.clone()),
                    problem,
                    what: Some(what),
                });
                return false;
            }
            true
        })?;
        Ok(facts)
    }

    /// Marks why each signing key of `report` is trusted, and returns the first record sealed
    /// by one that is not: a key is trusted when a member certified it, when it is this
    /// machine's, or when this member pinned it. First-use pinning alone is left only for
    /// tenants without signed membership (nobody could certify there).
    pub(super) fn untrusted_key(
        &self,
        report: &mut VerifyReport,
        facts: &TrailFacts,
        pinned: Option<&BTreeMap<String, String>>,
        rooted: bool,
    ) -> Option<Break> {
        let own = self.signer.key_id();
        let mut first: Option<Break> = None;
        for k in &mut report.signing_keys {
            let public = k.public.as_deref();
            k.pinned = pinned
                .and_then(|p| p.get(&k.id))
                .is_some_and(|p| Some(p.as_str()) == public);
            let certified = facts
                .certified
                .get(&k.id)
                .filter(|w| Some(w.public.as_str()) == public);
            k.trust = if let Some(w) = certified {
                Some(format!("certified by {} at {}", w.by, w.at))
            } else if k.id == own {
                Some("this machine's key".into())
            } else if k.pinned {
                Some("pinned".into())
            } else if pinned.is_none() && !rooted {
                Some("first use".into())
            } else {
                None
            };
            if k.trust.is_none() && first.as_ref().is_none_or(|b| b.seq > Some(k.first_seq)) {
                first = Some(Break {
                    line: k.first_seq as usize,
                    seq: Some(k.first_seq),
                    event_id: None,
                    problem: crate::audit::AuditError::UntrustedKey { key: k.id.clone() }
                        .to_string(),
                    what: Some(Tamper::UntrustedKey),
                });
            }
        }
        first
    }
}

impl Trail<'_> {
    /// Certifies this machine's audit-signing key with the acting member's personal key (asks
    /// for its passphrase when needed): what happens on the side of the first append, done by
    /// hand when the key could not be read then.
    pub fn certify_this_machine(&self) -> Result<KeyDecision> {
        self.require_reader("certify an audit-signing key")?;
        let key = self.decision_key().map_err(Error::refused)?;
        let (id, public) = self.machine_key();
        self.state_on_key(&key, &id, &public, KeyAction::Certify, None)
    }

    /// Trusts an audit-signing key (by id, as `audit verify` names it) after its holder
    /// confirmed it. An admin certifies it for every member, with a signed event; anyone else
    /// pins it for themself only.
    pub fn trust_key(&self, key_id: &str) -> Result<KeyDecision> {
        self.require_reader("trust an audit-signing key")?;
        let public = self.key_in_chain(key_id)?;
        if key_id == self.signer.key_id() {
            return self.certify_this_machine();
        }
        let admin = self
            .my_roles()?
            .is_some_and(|roles| roles.contains(&Role::Admin));
        let me = self.identity.user.clone();
        if admin && let Ok(key) = self.decision_key() {
            return self.state_on_key(&key, key_id, &public, KeyAction::Certify, None);
        }
        LocalWitness::for_store(&self.paths.identity, self.store.as_ref()).pin_keys(
            &self.tenant.name,
            &[(key_id.to_string(), public.clone())],
            &format!("trusted-by-{me}"),
        )?;
        Ok(KeyDecision {
            key_id: key_id.to_string(),
            public,
            outcome: "pinned".into(),
            by: me,
            event_id: None,
        })
    }

    /// Revokes an audit-signing key (an admin, with their personal key): records it seals
    /// after this event are not trusted by anyone.
    pub fn revoke_key(&self, key_id: &str, reason: &str) -> Result<KeyDecision> {
        self.require_member(&[Role::Admin], "revoke an audit-signing key")?;
        if reason.trim().is_empty() {
            return Err(Error::input(
                "a reason is required to revoke an audit-signing key (--reason \"...\")",
            ));
        }
        if key_id == self.signer.key_id() {
            return Err(Error::refused(format!(
                "{key_id} is the key this machine seals the trail with: revoke it from another machine (this one would go on sealing with it), or move {} away first so that this machine starts a new key",
                self.paths.data.join("keys").display()
            )));
        }
        let public = self.key_in_chain(key_id)?;
        let key = self.decision_key().map_err(Error::refused)?;
        self.state_on_key(
            &key,
            key_id,
            &public,
            KeyAction::Revoke,
            Some(&redact(reason)),
        )
    }

    /// The public half of a key that sealed records of this tenant's chain.
    fn key_in_chain(&self, key_id: &str) -> Result<String> {
        let report = self.store.verify_audit(&self.tenant.name, false)?;
        report
            .signing_keys
            .iter()
            .find(|k| k.id == key_id)
            .and_then(|k| k.public.clone())
            .ok_or_else(|| {
                Error::not_found(
                    "audit-signing key",
                    key_id,
                    "no record of this tenant's chain is sealed by it (`opsdeck audit verify` names the keys)",
                )
            })
    }

    fn state_on_key(
        &self,
        key: &PersonalKey,
        key_id: &str,
        public: &str,
        action: KeyAction,
        reason: Option<&str>,
    ) -> Result<KeyDecision> {
        let ev = self.key_statement_event(key, key_id, public, action, reason)?;
        // This append carries the statement itself: no second certification before it.
        self.audit_key_checked.store(true, Ordering::Relaxed);
        let records = self.append(std::slice::from_ref(&ev))?;
        if action == KeyAction::Certify && key_id == self.signer.key_id() {
            self.note_machine_key_certified();
        }
        if action == KeyAction::Certify {
            LocalWitness::for_store(&self.paths.identity, self.store.as_ref()).pin_keys(
                &self.tenant.name,
                &[(key_id.to_string(), public.to_string())],
                &format!("certified-by-{}", self.identity.user),
            )?;
        }
        Ok(KeyDecision {
            key_id: key_id.to_string(),
            public: public.to_string(),
            outcome: match action {
                KeyAction::Certify => "certified",
                KeyAction::Revoke => "revoked",
            }
            .into(),
            by: self.identity.user.clone(),
            event_id: records.first().map(|r| r.event.event_id.clone()),
        })
    }
}
