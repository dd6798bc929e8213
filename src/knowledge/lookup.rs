//! Finding the past requests closest to a new one: by intent and parameters first (the same
//! agent and action, then the weighted parameter match), then by text (trigram overlap).

use serde::Serialize;

use super::index::{KnowledgeIndex, Outcome, PastRequest};
use super::params::ParamFeatures;
use super::text::Trigrams;
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
    /// The `limit` past requests closest to `q`, best first (among equal readings, the newest
    /// first). Only requests of the same agent are compared; a score under [`MIN_SCORE`] is
    /// not similar.
    pub fn lookup(&self, q: &Query, limit: usize) -> Vec<Similar> {
        let Some(readings) = self.by_agent.get(&q.agent) else {
            return Vec::new();
        };
        if limit == 0 {
            return Vec::new();
        }
        let action = self.action_ids.get(&q.action).copied();
        // First the readings: each distinct parameter set scored once (-1: not yet).
        let mut params = vec![-1.0f64; self.distinct_features.len()];
        let mut structured: Vec<(f64, u32)> = Vec::with_capacity(readings.len());
        for r in readings {
            let fid = r.features as usize;
            if params[fid] < 0.0 {
                params[fid] = q.features.score(&self.distinct_features[fid]);
            }
            let action_part = if Some(r.action) == action {
                ACTION_WEIGHT
            } else {
                0.0
            };
            let s = action_part + PARAMS_WEIGHT * params[fid];
            // The words cannot lift a request over the bar on their own.
            if s + TEXT_WEIGHT >= MIN_SCORE {
                structured.push((s, r.entry));
            }
        }
        // The `limit`-th best reading bounds the answer from below: a request whose reading
        // plus identical words cannot beat it is never compared by its words.
        let order = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1));
        if structured.len() > limit {
            let (_, kth, _) = structured.select_nth_unstable_by(limit - 1, order);
            let floor = kth.0;
            structured.retain(|(s, _)| s + TEXT_WEIGHT > floor);
        }
        // Then the words, for what is left.
        let mut scored: Vec<(f64, u32)> = structured
            .into_iter()
            .map(|(s, n)| {
                let e = &self.entries[n as usize];
                (s + TEXT_WEIGHT * q.trigrams.jaccard(&e.trigrams), n)
            })
            .filter(|(score, _)| *score >= MIN_SCORE)
            .collect();
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, order);
            scored.truncate(limit);
        }
        scored.sort_unstable_by(order);
        scored
            .into_iter()
            .map(|(score, n)| similar(q, &self.entries[n as usize], score))
            .collect()
    }
}

fn similar(q: &Query, e: &PastRequest, score: f64) -> Similar {
    let action = e.action.clone().unwrap_or_default();
    let mut why = Vec::new();
    if action == q.action {
        why.push(format!("same request: {}/{action}", q.agent));
    } else {
        why.push(format!("same agent ({}), action {action}", q.agent));
    }
    let m = q.features.compare(&e.features);
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
        q.trigrams.jaccard(&e.trigrams) * 100.0
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
