//! Knowledge from a tenant's past: its earlier requests as its audit trail tells them, the ones
//! closest to a new request (offline: the reading and its typed parameters first, then the
//! words' character trigrams), and what the past suggests doing better.
//!
//! - [`index`]: [`KnowledgeIndex`], one [`PastRequest`] per request, read incrementally from
//!   the trail (a cursor over `seq`).
//! - [`lookup`]: [`KnowledgeIndex::lookup`], ranked [`Similar`] requests with why they matched.
//! - [`suggest`]: [`KnowledgeIndex::suggest`], [`Suggestion`]s.
//! - [`learned`]: [`KnowledgeIndex::example_for`], the confirmed reading a new request is
//!   read like.
//! - [`params`], [`text`]: the two likenesses.
//!
//! The index never reads a store: the pipeline streams the tenant's own trail into it
//! (`Deck::requests().similar`), so no other tenant's request can be in it.

pub mod index;
pub mod learned;
pub mod lookup;
pub mod params;
pub mod suggest;
pub mod text;

pub use index::{KnowledgeIndex, Outcome, PastRequest};
pub use learned::{Example, MIN_LIKENESS};
pub use lookup::{MIN_SCORE, Query, Similar};
pub use suggest::{SuggestOptions, Suggestion};

#[cfg(test)]
mod tests;
