//! The names the console completes: what the tenant's past requests named (tag keys and
//! values, buckets, functions, log groups, stacks) and their plan ids; and the phrases it
//! suggests as a request is typed. Both from the index of past requests the console's poll
//! refreshes (no I/O here: they are asked on a keystroke).

use super::Requests;
use crate::knowledge::Outcome;
use crate::view::completion::KnownNames;
use crate::view::phrase::{KNOWN_PHRASES, PhraseBook};

impl Requests<'_> {
    /// Names to complete from, as the index holds them now (empty until a member's refresh).
    pub fn known_names(&self) -> KnownNames {
        let mut known = KnownNames::default();
        let Ok(index) = self.knowledge.read() else {
            return known;
        };
        for past in index.entries() {
            known.add_params(&past.params.to_json());
            if let Some(id) = &past.plan_id {
                known.add_name(id);
            }
        }
        known
    }
}

impl Requests<'_> {
    /// What can be suggested while a request is typed: the tenant's past requests that went
    /// well (applied plans, answered questions) as the index holds them now, and the known
    /// request phrases. Built once per refresh of the index; no I/O.
    pub fn phrase_book(&self) -> PhraseBook {
        let Ok(index) = self.knowledge.read() else {
            return PhraseBook::build(std::iter::empty(), KNOWN_PHRASES);
        };
        let good = index
            .entries()
            .iter()
            .filter(|p| matches!(p.outcome, Outcome::Applied | Outcome::Answered))
            .map(|p| p.text.as_str());
        PhraseBook::build(good, KNOWN_PHRASES)
    }
}
