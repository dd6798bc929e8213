//! Finding the past requests closest to a new one: by intent and parameters first (the same
//! agent and action, then the weighted parameter match), then by text (trigram overlap).

use serde::Serialize;

use super::index::{AgentReadings, KnowledgeIndex, Outcome, PastRequest};
use super::params::ParamFeatures;
use super::text::{Trigrams, jaccard, jaccard_bound, jaccard_of, shared};
use crate::intent::{AgentKind, Params};

/// Below this score a past request is not shown as similar.
pub const MIN_SCORE: f64 = 0.5;

/// How much each part counts: the reading (agent and action), its parameters, the words.
const ACTION_WEIGHT: f64 = 0.4;
const PARAMS_WEIGHT: f64 = 0.4;
const TEXT_WEIGHT: f64 = 0.2;

/// What is looked up: a new request's reading and words.
#[derive(Debug, Clone)]
pub struct Query {
    pub agent: AgentKind,
    pub action: String,
    pub features: ParamFeatures,
    pub trigrams: Trigrams,
}

impl Query {
    pub fn new(agent: AgentKind, action: &str, params: &Params, text: &str) -> Query {
        Query {
            agent,
            action: action.to_string(),
            features: ParamFeatures::of(params),
            trigrams: Trigrams::of(text),
        }
    }
}

/// One past request found similar, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Similar {
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// Who asked.
    pub who: String,
    /// When (ISO 8601, UTC).
    pub when: String,
    pub outcome: Outcome,
    pub text: String,
    pub agent: AgentKind,
    pub action: String,
    /// 0.0 ..= 1.0.
    pub score: f64,
    /// Why it matched: the same reading, which parameters agree and differ, how alike the
    /// words are.
    pub why: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

impl KnowledgeIndex {
    /// The `limit` past requests closest to `q`, best first (among equal scores, the newest
    /// first). Only requests of the same agent are compared; a score under [`MIN_SCORE`] is
    /// not similar.
    ///
    /// The score is `ACTION_WEIGHT` for the same action, plus `PARAMS_WEIGHT` times the
    /// parameter match, plus `TEXT_WEIGHT` times the trigram Jaccard overlap of the words. The
    /// first two parts are computed once per class of readings (same action, same parameter
    /// set); the words are compared only while a request could still enter the best `limit`.
    pub fn lookup(&self, q: &Query, limit: usize) -> Vec<Similar> {
        self.lookup_counting(q, limit, Counting::Cheaper)
    }

    /// [`KnowledgeIndex::lookup`], counting shared trigrams as told (both ways count alike).
    pub(super) fn lookup_counting(&self, q: &Query, limit: usize, how: Counting) -> Vec<Similar> {
        let Some(agent) = self.by_agent.get(&q.agent) else {
            return Vec::new();
        };
        if limit == 0 {
            return Vec::new();
        }
        let action = self.action_ids.get(&q.action).copied();
        // First the readings: each class scored once. The words cannot lift a request over
        // the bar on their own, nor past `limit` requests that already score more without them.
        let mut classes: Vec<(f64, u32)> = Vec::new();
        let mut floor = Floor::new(limit);
        for (c, class) in agent.classes.iter().enumerate() {
            let action_part = if Some(class.action) == action {
                ACTION_WEIGHT
            } else {
                0.0
            };
            let features = &self.distinct_features[class.features as usize];
            let s = action_part + PARAMS_WEIGHT * q.features.score(features);
            if s + TEXT_WEIGHT >= MIN_SCORE {
                classes.push((s, c as u32));
                floor.add(s, class.members.len());
            }
        }
        let floor = floor.value().max(MIN_SCORE);
        classes.retain(|(s, _)| s + TEXT_WEIGHT >= floor);
        // Then the words, counting each reading's shared trigrams either through the query's
        // trigram postings (when many readings are left) or set by set, best readings first
        // and the newest first among them, so the bar rises early.
        let q_grams = q.trigrams.as_slice();
        let left: usize = classes
            .iter()
            .map(|(_, c)| agent.classes[*c as usize].members.len())
            .sum();
        let counts = counted_through_postings(agent, q_grams, left, how);
        if counts.is_none() {
            classes.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        }
        let mut best = Best::new(limit, floor);
        for (s, c) in classes {
            if s + TEXT_WEIGHT < best.bar() {
                continue;
            }
            for &position in agent.classes[c as usize].members.iter().rev() {
                let n = agent.readings[position as usize].entry;
                let words = self.words_of(n as usize);
                let score = match &counts {
                    Some(counts) => {
                        let both = counts[position as usize] as usize;
                        s + TEXT_WEIGHT * jaccard(both, q_grams.len(), words.len())
                    }
                    None => {
                        let bound = jaccard_bound(q_grams.len(), words.len());
                        if s + TEXT_WEIGHT * bound < best.bar() {
                            continue;
                        }
                        s + TEXT_WEIGHT
                            * jaccard(shared(q_grams, words), q_grams.len(), words.len())
                    }
                };
                best.offer(score, n);
            }
        }
        best.found
            .into_iter()
            .map(|(score, n)| self.similar(q, n as usize, score))
            .collect()
    }

    fn similar(&self, q: &Query, n: usize, score: f64) -> Similar {
        similar(
            q,
            &self.entries[n],
            self.features(&self.entries[n]),
            self.words_of(n),
            score,
        )
    }
}

/// How a lookup counts the trigrams a reading shares with the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counting {
    /// Whichever reads less.
    Cheaper,
    /// Through the postings of the query's trigrams, every reading at once.
    #[cfg(test)]
    Postings,
    /// Set by set, skipping readings the sets' sizes rule out.
    SetBySet,
}

/// Every reading's count of trigrams shared with the query, through the postings of the
/// query's trigrams, when that reads less than comparing the `left` readings set by set.
fn counted_through_postings(
    agent: &AgentReadings,
    q_grams: &[u32],
    left: usize,
    how: Counting,
) -> Option<Vec<u32>> {
    if how == Counting::SetBySet {
        return None;
    }
    let postings: Vec<&Vec<u32>> = q_grams
        .iter()
        .filter_map(|g| agent.postings.get(g))
        .collect();
    let read: usize = postings.iter().map(|p| p.len()).sum::<usize>() + agent.readings.len();
    if how == Counting::Cheaper && read >= left.saturating_mul(q_grams.len()) {
        return None;
    }
    let mut counts = vec![0u32; agent.readings.len()];
    for p in postings {
        for &position in p {
            counts[position as usize] += 1;
        }
    }
    Some(counts)
}

/// The `limit`-th best reading score, counting each class's readings: every reading scores
/// at least its reading's part, so the answer's last one scores at least this.
struct Floor {
    limit: usize,
    /// The best scores seen, best first, each as often as readings had it (up to `limit`).
    best: Vec<f64>,
}

impl Floor {
    fn new(limit: usize) -> Floor {
        Floor {
            limit,
            best: Vec::with_capacity(limit + 1),
        }
    }

    fn add(&mut self, s: f64, times: usize) {
        for _ in 0..times.min(self.limit) {
            if self.best.len() == self.limit && s <= self.best[self.limit - 1] {
                return;
            }
            let at = self.best.partition_point(|b| *b >= s);
            self.best.insert(at, s);
            self.best.truncate(self.limit);
        }
    }

    /// Nothing is ruled out until `limit` readings are known.
    fn value(&self) -> f64 {
        if self.best.len() == self.limit {
            self.best[self.limit - 1]
        } else {
            f64::NEG_INFINITY
        }
    }
}

/// The best `limit` (score, entry) found so far, best first: higher score, then the newer.
struct Best {
    limit: usize,
    /// What a request must reach to be looked at (the floor, or the last one found when full).
    floor: f64,
    found: Vec<(f64, u32)>,
}

impl Best {
    fn new(limit: usize, floor: f64) -> Best {
        Best {
            limit,
            floor,
            found: Vec::with_capacity(limit + 1),
        }
    }

    /// A request whose score can only be under this cannot enter (equal may, if newer).
    fn bar(&self) -> f64 {
        match self.found.get(self.limit - 1) {
            Some(last) => last.0.max(self.floor),
            None => self.floor,
        }
    }

    fn offer(&mut self, score: f64, n: u32) {
        let ahead = |a: &(f64, u32)| a.0 > score || (a.0 == score && a.1 > n);
        if score < MIN_SCORE
            || (self.found.len() == self.limit && ahead(&self.found[self.limit - 1]))
        {
            return;
        }
        let at = self.found.partition_point(ahead);
        self.found.insert(at, (score, n));
        self.found.truncate(self.limit);
    }
}

fn similar(
    q: &Query,
    e: &PastRequest,
    features: &ParamFeatures,
    words: &[u32],
    score: f64,
) -> Similar {
    let action = e.action.clone().unwrap_or_default();
    let mut why = Vec::new();
    if action == q.action {
        why.push(format!("same request: {}/{action}", q.agent));
    } else {
        why.push(format!("same agent ({}), action {action}", q.agent));
    }
    let m = q.features.compare(features);
    let values = e.params.to_json();
    if !m.same.is_empty() {
        let same: Vec<String> = m
            .same
            .iter()
            .map(|k| match values.get(*k) {
                Some(serde_json::Value::String(s)) => format!("{k}={s}"),
                Some(v) => format!("{k}={v}"),
                None => k.to_string(),
            })
            .collect();
        why.push(format!("same {}", same.join(", ")));
    }
    if !m.differ.is_empty() {
        why.push(format!("differs in {}", m.differ.join(", ")));
    }
    why.push(format!(
        "words {:.0}% alike",
        jaccard_of(q.trigrams.as_slice(), words) * 100.0
    ));
    Similar {
        request_id: e.request_id.clone(),
        plan_id: e.plan_id.clone(),
        who: e.requester.clone(),
        when: e.at.to_string(),
        outcome: e.outcome,
        text: e.text.clone(),
        agent: q.agent,
        action,
        score: (score * 1000.0).round() / 1000.0,
        why,
        monthly_usd: e.monthly_usd,
    }
}
