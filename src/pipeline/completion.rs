//! The names the console completes: what the tenant's past requests named (tag keys and
//! values, buckets, functions, log groups, stacks) and their plan ids, from the index of past
//! requests the console's poll refreshes (no I/O here: it is asked on a keystroke).

use super::Requests;
use crate::view::completion::KnownNames;

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
