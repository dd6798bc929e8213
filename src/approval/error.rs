//! Why a plan cannot be approved, rejected or run now: a [`Refusal`] from the state machine's
//! rules, or a plan whose artifacts no longer hash to what was approved, or a rejection without
//! a reason.

use super::{Refusal, short};
use crate::error::Kind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApprovalError {
    /// The plan's state, its approvals or the tenant's settings stand in the way.
    #[error("{0}")]
    Refused(Refusal),

    #[error("a reason is required to reject a plan (--reason \"...\")")]
    ReasonRequired,

    #[error(
        "plan {plan_id} changed after it was created (hash {} is now {}); it cannot be approved, ask again",
        short(.created),
        short(.now)
    )]
    ChangedBeforeApproval {
        plan_id: String,
        created: String,
        now: String,
    },

    #[error(
        "plan {plan_id} no longer matches what was approved (approved {}, now {}): its artifacts were changed after approval; it will not run",
        short(.approved),
        short(.now)
    )]
    ChangedAfterApproval {
        plan_id: String,
        /// The hash the first approval bound to (`-` for none).
        approved: String,
        now: String,
    },
}

impl From<Refusal> for ApprovalError {
    fn from(r: Refusal) -> Self {
        ApprovalError::Refused(r)
    }
}

impl ApprovalError {
    pub fn kind(&self) -> Kind {
        match self {
            ApprovalError::ReasonRequired => Kind::Input,
            _ => Kind::Refused,
        }
    }
}
