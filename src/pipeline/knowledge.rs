//! The tenant's past, for its members: similar past requests, re-planning a past plan against
//! today's state, and suggestions. The index is read from the session's own tenant's trail
//! (never another's), incrementally: each refresh reads only the records after the last one
//! it saw, and the lock is held only to add them.

use super::requests::{intent_error, redact_intent};
use super::{Answer, RequestOptions, Requests};
use crate::audit::AuditRecord;
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::{self, Intent, rank};
use crate::knowledge::{Query, Similar, SuggestOptions, Suggestion};
use crate::tenant::Role;

/// Trail records read before they are added to the index.
const ABSORB_BATCH: usize = 2_000;

/// How many similar past requests front ends show.
pub const SIMILAR_SHOWN: usize = 5;

impl Requests<'_> {
    /// Reads the trail records written since the last refresh into the index; returns how
    /// many past requests it now holds. For the tenant's members.
    pub fn refresh_knowledge(&self) -> Result<usize> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "read past requests",
        )?;
        let cursor = self.knowledge_cursor();
        // Absorbed a batch at a time: a first reading of a long trail never holds it all in
        // memory, and lookups wait for the lock only while a batch is added.
        let mut new: Vec<AuditRecord> = Vec::with_capacity(ABSORB_BATCH);
        let mut unusable = false;
        let mut absorb = |new: &mut Vec<AuditRecord>| match self.knowledge.write() {
            Ok(mut index) => {
                // Another refresh may have added some of these meanwhile: the index skips them.
                for r in new.drain(..) {
                    index.absorb(&r);
                }
                true
            }
            Err(_) => {
                unusable = true;
                false
            }
        };
        self.scan_trail_after(cursor, &mut |r| {
            new.push(r);
            new.len() < ABSORB_BATCH || absorb(&mut new)
        })?;
        absorb(&mut new);
        if unusable {
            return Err(Error::input("the index of past requests is unusable"));
        }
        self.knowledge
            .read()
            .map(|i| i.len())
            .map_err(|_| Error::input("the index of past requests is unusable"))
    }

    /// The past requests closest to `intent` (read from `text`), best first, the index
    /// refreshed from the trail first. For the tenant's members. With the tenant's model
    /// configured, the closest few found offline are put in the model's order (each says
    /// where each ranking put it); when the model gives no usable order, the offline order
    /// stands and the first says why.
    pub fn similar(&self, intent: &Intent, text: &str) -> Result<Vec<Similar>> {
        self.refresh_knowledge()?;
        let Some(model) = &self.model else {
            return Ok(self.similar_known(intent, text));
        };
        let mut found = self.similar_among(intent, text, rank::MAX_CANDIDATES);
        if found.len() < 2 {
            return Ok(found);
        }
        let candidates: Vec<rank::Candidate> = found
            .iter()
            .map(|s| rank::Candidate {
                text: s.text.clone(),
                reading: format!("{}/{}", s.agent, s.action),
                outcome: s.outcome.as_str().to_string(),
            })
            .collect();
        match model.rank(text, &candidates) {
            Ok(order) => {
                let mut slots: Vec<Option<Similar>> = found.drain(..).map(Some).collect();
                for (place, was) in order.into_iter().enumerate() {
                    if let Some(mut s) = slots[was].take() {
                        s.why.push(format!(
                            "ranked {} by bedrock:{} ({} offline)",
                            place + 1,
                            model.model_id,
                            was + 1
                        ));
                        found.push(s);
                    }
                }
            }
            Err(e) => found[0].why.push(format!("{e}: in the offline order")),
        }
        found.truncate(SIMILAR_SHOWN);
        Ok(found)
    }

    /// [`Requests::similar`] over what the index already holds, offline: no store, no I/O,
    /// quick enough for a keystroke (`cargo bench --bench similar`); the console refreshes the
    /// index in the background. Empty until a refresh by a member.
    pub fn similar_known(&self, intent: &Intent, text: &str) -> Vec<Similar> {
        self.similar_among(intent, text, SIMILAR_SHOWN)
    }

    fn similar_among(&self, intent: &Intent, text: &str, limit: usize) -> Vec<Similar> {
        let q = Query::new(
            intent.agent,
            &intent.action,
            &redact_intent(intent).params,
            &crate::redact::redact(text),
        );
        self.knowledge
            .read()
            .map(|i| i.lookup(&q, limit))
            .unwrap_or_default()
    }

    /// What the tenant's past suggests (repeated requests, repeated denials, dearer choices).
    pub fn suggest(&self, opts: &SuggestOptions) -> Result<Vec<Suggestion>> {
        if opts.min_repeats < 2 || opts.min_denials < 2 {
            return Err(Error::input(
                "a pattern needs at least 2 occurrences: give --min-repeats 2 or more",
            ));
        }
        self.refresh_knowledge()?;
        Ok(self
            .knowledge
            .read()
            .map(|i| i.suggest(opts))
            .unwrap_or_default())
    }

    /// Plans a past plan's request again (`ask --like PLAN_ID`): its reading (agent, action,
    /// typed parameters) goes through today's limits, its agent against today's state, and the
    /// new plan through the same gates, dry runs and approvals as any request. Nothing of the
    /// old plan's artifacts is reused.
    pub fn replan(&self, plan_id: &str, sink: Sink<'_>) -> Result<Answer> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "ask",
        )?;
        let past = self.approvals().plan(plan_id)?;
        if past.plan.is_handwritten() {
            return Err(Error::input(format!(
                "plan {} was submitted as hand-written files, not read from a request: submit the files again with `opsdeck submit`",
                past.plan.plan_id
            )));
        }
        let text = format!("like {}: {}", past.plan.plan_id, past.plan.request);
        self.refuse_credentials(&text)?;
        self.demo_standin_running()?;
        let mut intent = past.plan.intent.clone();
        intent.notes.retain(|n| !n.starts_with("re-planned from"));
        intent.notes.push(format!(
            "re-planned from plan {} ({} by {}) against today's state",
            past.plan.plan_id, past.plan.created_at, past.plan.requester
        ));
        // Today's limits, and an inventory file read again today (if it is still there).
        intent::check(&intent, &intent::Limits::of(&self.tenant)).map_err(intent_error)?;
        let opts = RequestOptions {
            inventory: intent.params.inventory.clone().map(Into::into),
            ..RequestOptions::default()
        };
        let intent = super::iac::with_inventory(intent, &opts)?;
        if let Ok(mut last) = self.last_intent.lock() {
            *last = Some(intent.clone());
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        self.request_read(request_id, crate::redact::redact(&text), intent, sink)
    }

    /// `read` as the confirmed past request closest to `text` reads (the index as held: no
    /// I/O, so the console's preview can call it too). Only a reading in doubt, or one another
    /// agent's than the confirmed one, changes; the note and `settled` say whose confirmation
    /// decided it, so `explain` and the approver see why.
    pub(super) fn read_like_example(
        &self,
        text: &str,
        read: Intent,
        limits: &intent::Limits,
    ) -> Intent {
        let Ok(index) = self.knowledge.read() else {
            return read;
        };
        let Some(example) = index.example_for(&crate::redact::redact(text)) else {
            return read;
        };
        let Some(agent) = example.past.agent else {
            return read;
        };
        if agent == read.agent && !read.low_confidence {
            return read;
        }
        let mut learned = if agent == read.agent {
            let mut same = read.clone();
            same.low_confidence = false;
            same.notes.retain(|n| !n.starts_with("low confidence"));
            same
        } else {
            match intent::parse_as(text, limits, agent) {
                Ok(other) => other,
                // These words cannot be read as that agent's: the example does not apply.
                Err(_) => return read,
            }
        };
        let past = example.past;
        learned.notes.push(format!(
            "read as {}/{} because {} confirmed that reading of a similar request at {} (\"{}\", words {:.0}% alike); to choose another reading, ask again with --confirm-reading N",
            learned.agent,
            learned.action,
            past.requester,
            crate::agents::insight::short_time(past.at.timestamp()),
            crate::agents::insight::clip(&past.text, 80),
            example.likeness * 100.0
        ));
        learned.settled = Some(intent::Settled::Example {
            request_id: past.request_id.clone(),
            text: past.text.clone(),
            who: past.requester.clone(),
            when: past.at.to_string(),
            likeness: (example.likeness * 100.0).round() / 100.0,
        });
        learned
    }

    fn knowledge_cursor(&self) -> u64 {
        self.knowledge.read().map(|i| i.cursor()).unwrap_or(0)
    }
}
