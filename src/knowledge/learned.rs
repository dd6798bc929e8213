//! Readings the tenant's requesters confirmed (or corrected), kept as examples: a later
//! request whose words are close enough to a confirmed one's is read the way that one was
//! confirmed, and says so. The examples are the `classified` events of the tenant's own trail
//! whose reading was settled by a confirmation, so they are as immutable as the trail.

use super::index::{KnowledgeIndex, Outcome, PastRequest};
use super::text::{Trigrams, jaccard_of};

/// How alike a request's words must be to a confirmed one's before its confirmation decides
/// the reading: the same request with a number, a name or a word or two changed.
pub const MIN_LIKENESS: f64 = 0.7;

/// The confirmed request a new one is read like, and how alike their words are.
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    pub past: &'a PastRequest,
    pub likeness: f64,
}

impl KnowledgeIndex {
    /// The confirmed request closest to `text` (at least [`MIN_LIKENESS`]), the newest among
    /// equally close ones. Requests refused for their requester's role teach nothing: only
    /// someone whose request went on to a plan or an answer can settle a reading.
    pub fn example_for(&self, text: &str) -> Option<Example<'_>> {
        let words = Trigrams::of(text);
        let mut best: Option<Example<'_>> = None;
        for &n in &self.confirmed {
            let past = &self.entries[n as usize];
            let refused = past.outcome == Outcome::Rejected && past.plan_id.is_none();
            if refused || past.agent.is_none() {
                continue;
            }
            let likeness = jaccard_of(words.as_slice(), self.words_of(n as usize));
            if likeness >= MIN_LIKENESS && best.is_none_or(|b| likeness >= b.likeness) {
                best = Some(Example { past, likeness });
            }
        }
        best
    }

    /// How many confirmed readings the index holds.
    pub fn confirmed_len(&self) -> usize {
        self.confirmed.len()
    }
}
