//! Signed statements: canonical bytes (a domain line `opsdeck-<what>-v1`, then fixed fields in
//! a fixed order, each `\n`-terminated) and the statements opsdeck signs with personal keys.

use serde::{Deserialize, Serialize};

use super::keys::{PersonalKey, PublicKeyLine};
use crate::error::{Error, Result};
use crate::tenant::Role;
use crate::time::Stamp;

/// `opsdeck-<what>-v1\n` then each field and `\n`. A field holding a line break is refused:
/// every field is a validated id, hash, stamp or key line, so none can shift another.
pub fn canonical(what: &str, fields: &[&str]) -> Result<Vec<u8>> {
    canonical_version(what, 1, fields)
}

/// [`canonical`] for version `version` of a statement (`opsdeck-<what>-v<version>`).
pub fn canonical_version(what: &str, version: u32, fields: &[&str]) -> Result<Vec<u8>> {
    let mut out = format!("opsdeck-{what}-v{version}\n").into_bytes();
    for f in fields {
        if f.contains(['\n', '\r']) {
            return Err(Error::input(format!(
                "a signed {what} statement cannot hold a line break in a field"
            )));
        }
        out.extend_from_slice(f.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// A statement a person signs with their personal key: its canonical bytes, then signing and
/// checking them are the same for every kind.
pub trait Statement {
    fn bytes(&self) -> Result<Vec<u8>>;

    fn sign(&self, key: &PersonalKey) -> Result<String> {
        key.sign(&self.bytes()?)
    }

    fn verify(&self, key: &PublicKeyLine, signature: &str) -> std::result::Result<(), String> {
        let bytes = self.bytes().map_err(|e| e.to_string())?;
        key.verify(&bytes, signature)
    }
}

/// What a person decided about a plan: the decision and the fields it is signed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    BreakGlass,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::BreakGlass => "break-glass",
            Verdict::Reject => "reject",
        }
    }
}

/// An approval, break-glass approval or rejection, as signed:
/// `opsdeck-decision-v1`, tenant, plan id, content hash, decision, time, user.
pub struct DecisionStatement<'a> {
    pub tenant: &'a str,
    pub plan_id: &'a str,
    pub content_hash: &'a str,
    pub verdict: Verdict,
    pub at: &'a Stamp,
    pub user: &'a str,
}

impl Statement for DecisionStatement<'_> {
    fn bytes(&self) -> Result<Vec<u8>> {
        canonical(
            "decision",
            &[
                self.tenant,
                self.plan_id,
                self.content_hash,
                self.verdict.as_str(),
                &self.at.to_string(),
                self.user,
            ],
        )
    }
}

/// What a member says about an audit-signing key: trust the records it signs, or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAction {
    Certify,
    Revoke,
}

impl KeyAction {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAction::Certify => "certify",
            KeyAction::Revoke => "revoke",
        }
    }
}

/// A member's word, signed with their personal key, on one machine's audit-signing key:
/// `opsdeck-audit-key-v1`, tenant, key id, public key (hex), action, time, user. It is stored
/// as an event of the trail it is about, so every key change is itself audited.
pub struct AuditKeyStatement<'a> {
    pub tenant: &'a str,
    pub key_id: &'a str,
    pub public: &'a str,
    pub action: KeyAction,
    pub at: &'a Stamp,
    pub user: &'a str,
}

impl Statement for AuditKeyStatement<'_> {
    fn bytes(&self) -> Result<Vec<u8>> {
        canonical(
            "audit-key",
            &[
                self.tenant,
                self.key_id,
                self.public,
                self.action.as_str(),
                &self.at.to_string(),
                self.user,
            ],
        )
    }
}

/// What a membership record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MembershipAction {
    /// The tenant's first admin, self-signed: the tenant root of trust.
    Root,
    Add,
    /// Roles changed.
    Roles,
    /// Key registered or rotated.
    Key,
    /// Approver groups changed.
    Groups,
    /// Membership revoked (the record stays, as a tombstone).
    Remove,
}

impl MembershipAction {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipAction::Root => "root",
            MembershipAction::Add => "add",
            MembershipAction::Roles => "roles",
            MembershipAction::Key => "key",
            MembershipAction::Groups => "groups",
            MembershipAction::Remove => "remove",
        }
    }
}

/// One signed change to a user's membership; a user's records are their history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipRecord {
    /// Position in the tenant's membership history (all users), from 1.
    pub seq: u64,
    pub tenant: String,
    pub user: String,
    pub action: MembershipAction,
    /// The user's roles from this record on (empty once removed).
    pub roles: Vec<Role>,
    /// The user's registered key from this record on (`ssh-ed25519 AAAA…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The user's approver groups from this record on (records before groups were signed have
    /// none, and keep their `v1` bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub at: Stamp,
    /// The admin who signed it (the user themself for the root record).
    pub signer: String,
    /// The fingerprint of the key it is signed with.
    pub signer_key: String,
    pub signature: String,
}

impl MembershipRecord {
    /// `opsdeck-membership-v1`, tenant, seq, user, action, roles (comma-separated), key (`-`
    /// for none), time, signer, signer's key fingerprint; with groups, `opsdeck-membership-v2`
    /// and the groups (comma-separated) last, so that adding or stripping groups breaks the
    /// signature either way.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        let roles = self
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let seq = self.seq.to_string();
        let at = self.at.to_string();
        let groups = self.groups.join(",");
        if self.groups.iter().any(|g| g.is_empty() || g.contains(',')) {
            return Err(Error::input(
                "a group name in a signed membership record cannot be empty or hold a comma",
            ));
        }
        let mut fields = vec![
            self.tenant.as_str(),
            &seq,
            &self.user,
            self.action.as_str(),
            &roles,
            self.key.as_deref().unwrap_or("-"),
            &at,
            &self.signer,
            &self.signer_key,
        ];
        if self.groups.is_empty() {
            return canonical("membership", &fields);
        }
        fields.push(&groups);
        canonical_version("membership", 2, &fields)
    }

    /// Fills in the signer and signature with `key`.
    pub fn sign(mut self, key: &PersonalKey) -> Result<MembershipRecord> {
        self.signer = key.user().to_string();
        self.signer_key = key.public().fingerprint();
        self.signature = key.sign(&self.bytes()?)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_with_a_line_break_is_refused() {
        assert!(canonical("decision", &["acme", "p1\nacme"]).is_err());
        assert_eq!(
            canonical("decision", &["acme", "p1"]).unwrap(),
            b"opsdeck-decision-v1\nacme\np1\n"
        );
    }

    #[test]
    fn a_decision_verifies_only_with_the_same_fields() {
        let dir = tempfile::tempdir().unwrap();
        let k = super::super::keys::create_key(dir.path(), "bob", None).unwrap();
        let at = Stamp::now();
        let st = DecisionStatement {
            tenant: "acme",
            plan_id: "p1",
            content_hash: "abc",
            verdict: Verdict::Approve,
            at: &at,
            user: "bob",
        };
        let sig = st.sign(&k).unwrap();
        assert!(st.verify(k.public(), &sig).is_ok());
        let beta = DecisionStatement {
            tenant: "beta",
            ..st
        };
        assert!(beta.verify(k.public(), &sig).is_err());
    }

    #[test]
    fn a_key_certification_is_bound_to_its_tenant_key_and_action() {
        let dir = tempfile::tempdir().unwrap();
        let k = super::super::keys::create_key(dir.path(), "alice", None).unwrap();
        let at = Stamp::now();
        let st = AuditKeyStatement {
            tenant: "acme",
            key_id: "0011223344556677",
            public: "ab",
            action: KeyAction::Certify,
            at: &at,
            user: "alice",
        };
        let sig = st.sign(&k).unwrap();
        assert!(st.verify(k.public(), &sig).is_ok());
        for other in [
            AuditKeyStatement {
                tenant: "beta",
                ..st
            },
            AuditKeyStatement {
                key_id: "8899aabbccddeeff",
                ..st
            },
            AuditKeyStatement {
                action: KeyAction::Revoke,
                ..st
            },
            AuditKeyStatement { user: "bob", ..st },
        ] {
            assert!(other.verify(k.public(), &sig).is_err());
        }
    }
}
