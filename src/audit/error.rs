//! What can be wrong with an audit record or key. The chain variants say where verification
//! stops trusting a trail; `VerifyReport` keeps their text (its JSON shape is what scripts and
//! older trails read).

use crate::error::Kind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    // A stored line that cannot be read.
    #[error("unreadable: {detail}")]
    Unreadable { detail: String },

    #[error(
        "unreadable event (record {seq}{}): {detail}",
        .event_id.as_ref().map(|id| format!(", event {id:?}")).unwrap_or_default()
    )]
    UnreadableEvent {
        seq: u64,
        event_id: Option<String>,
        detail: String,
    },

    #[error("unreadable record: {detail}")]
    UnreadableRecord { detail: String },

    // The chain broken.
    #[error("content does not match its hash (the record was edited)")]
    Edited,

    #[error(
        "removed: expected record {expected} but found {found}: record(s) {expected}..{} were deleted",
        .found - 1
    )]
    Deleted { expected: u64, found: u64 },

    #[error(
        "reordered: expected record {expected} but found {found}{}",
        .expected_at.map(|l| format!(" (record {expected} is at line {l})")).unwrap_or_else(|| ": records were duplicated or moved".into())
    )]
    Reordered {
        expected: u64,
        found: u64,
        /// The line record `expected` was found at, when it is further on.
        expected_at: Option<usize>,
    },

    #[error("does not link to the record before it (prev hash mismatch)")]
    Unlinked,

    // Signatures.
    #[error("signed by unknown key {key}")]
    UnknownKey { key: String },

    #[error(
        "signed by key {key}, which this member has not pinned and nobody certified; if a new machine of your team writes with it, check its id with them and run `opsdeck audit trust-key {key}`"
    )]
    UntrustedKey { key: String },

    #[error("signature is malformed")]
    MalformedSignature,

    #[error("signature does not verify (the record was re-hashed or forged)")]
    BadSignature,

    // Keys.
    #[error("{which} key is not hex: {detail}")]
    KeyNotHex { which: KeyHalf, detail: String },

    #[error("{which} key must be 32 bytes")]
    KeyLength { which: KeyHalf },

    #[error("bad public key: {detail}")]
    BadPublicKey { detail: String },

    #[error("audit event cannot be encoded: {detail}")]
    Encode { detail: String },
}

/// Which half of a key pair a key problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHalf {
    Signing,
    Public,
}

impl std::fmt::Display for KeyHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyHalf::Signing => "signing",
            KeyHalf::Public => "public",
        })
    }
}

impl AuditError {
    /// What happened, for a chain problem.
    pub fn tamper(&self) -> Option<super::Tamper> {
        use super::Tamper as T;
        Some(match self {
            AuditError::Unreadable { .. }
            | AuditError::UnreadableEvent { .. }
            | AuditError::UnreadableRecord { .. } => T::Unreadable,
            AuditError::Edited => T::Edited,
            AuditError::Deleted { .. } => T::Removed,
            AuditError::Reordered { .. } => T::Reordered,
            AuditError::Unlinked => T::Unlinked,
            AuditError::UnknownKey { .. } | AuditError::UntrustedKey { .. } => T::UntrustedKey,
            AuditError::MalformedSignature | AuditError::BadSignature => T::BadSignature,
            _ => return None,
        })
    }

    /// A broken record is damage to the store; a key or event that cannot be used is bad input.
    pub fn kind(&self) -> Kind {
        match self {
            AuditError::KeyNotHex { .. }
            | AuditError::KeyLength { .. }
            | AuditError::BadPublicKey { .. }
            | AuditError::Encode { .. } => Kind::Input,
            _ => Kind::Corrupt,
        }
    }
}
