//! The person behind an action: personal Ed25519 keys (kept in the person's own directory,
//! never in the store), statements signed over canonical bytes, the tenant's signed
//! membership records replayed from its root of trust, and pinned tenant roots.

pub mod agent;
pub mod keys;
pub mod pins;
pub mod roster;
pub mod statement;

pub use keys::{PersonalKey, PublicKeyLine, create_key, load_key};
pub use roster::{Roster, Standing};
pub use statement::{
    DecisionStatement, MembershipAction, MembershipRecord, Statement, Verdict, canonical,
};
