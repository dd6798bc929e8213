//! The index of a tenant's past requests, built from its audit trail: one entry per request,
//! put together from the events that share its request id (what was asked, how it was read,
//! the plan, its gates, and how it ended). Incremental: it remembers the last record it read,
//! so reading the trail again only adds what is new.

use std::collections::HashMap;

use serde::Serialize;

use super::params::{KeptParams, ParamFeatures};
use super::text::{GramSets, Trigrams};
use crate::audit::{AuditRecord, EventKind, Status};
use crate::intent::{AgentKind, Params};
use crate::plan::{Gate, GateResult};
use crate::time::Stamp;

/// How a past request ended (so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Asked, planned or queued, not decided yet (or refused before a plan).
    Pending,
    /// Approved, not applied yet.
    Approved,
    /// Applied and completed.
    Applied,
    Failed,
    /// Rejected by an approver, denied by policy, or refused for the requester's role.
    Rejected,
    Expired,
    Cancelled,
    /// A question answered with a report.
    Answered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Approved => "approved",
            Outcome::Applied => "applied",
            Outcome::Failed => "failed",
            Outcome::Rejected => "rejected",
            Outcome::Expired => "expired",
            Outcome::Cancelled => "cancelled",
            Outcome::Answered => "answered",
        }
    }
}

/// One past request of the tenant, as its trail tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastRequest {
    pub request_id: String,
    pub plan_id: Option<String>,
    /// The request's words as the trail keeps them (credentials already masked).
    pub text: String,
    pub requester: String,
    pub at: Stamp,
    /// The reading (absent when the request could not be understood).
    pub agent: Option<AgentKind>,
    pub action: Option<String>,
    pub params: KeptParams,
    pub outcome: Outcome,
    /// The plan's estimated monthly cost, USD.
    pub monthly_usd: Option<f64>,
    /// The policy rules that denied the plan.
    pub denied_by: Vec<String>,
    /// Why an approver rejected it.
    pub rejected_because: Option<String>,
    /// Its parameters as compared ([`KnowledgeIndex::features`]): an id into the distinct sets.
    pub(super) features: u32,
}

/// A request's reading as the lookup's first pass reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    pub entry: u32,
    pub features: u32,
    pub action: u32,
}

/// Readings of one agent that score alike before their words count: the same action and the
/// same parameter set.
#[derive(Debug, Clone)]
pub(super) struct ReadingClass {
    pub action: u32,
    pub features: u32,
    /// Positions in the agent's readings, oldest first.
    pub members: Vec<u32>,
}

/// One agent's requests, as a lookup reads them.
#[derive(Debug, Default, Clone)]
pub(super) struct AgentReadings {
    /// Oldest first.
    pub readings: Vec<Reading>,
    pub classes: Vec<ReadingClass>,
    class_ids: HashMap<(u32, u32), u32>,
    /// Each trigram's readings (positions, ascending): counting the query's trigrams through
    /// these gives every reading's shared trigrams at once, without comparing sets one by one.
    pub postings: HashMap<u32, Vec<u32>>,
}

impl AgentReadings {
    fn push(&mut self, reading: Reading, grams: &[u32]) {
        let position = self.readings.len() as u32;
        self.readings.push(reading);
        let next = self.classes.len() as u32;
        let class = *self
            .class_ids
            .entry((reading.action, reading.features))
            .or_insert(next);
        if class == next {
            self.classes.push(ReadingClass {
                action: reading.action,
                features: reading.features,
                members: Vec::new(),
            });
        }
        self.classes[class as usize].members.push(position);
        for &g in grams {
            self.postings.entry(g).or_default().push(position);
        }
    }
}

/// A tenant's past requests, oldest first, and the trail position read up to.
#[derive(Debug, Default, Clone)]
pub struct KnowledgeIndex {
    pub(super) entries: Vec<PastRequest>,
    by_request: HashMap<String, usize>,
    /// Each entry's words as trigram sets, by entry.
    pub(super) words: GramSets,
    /// Per agent, its requests as a lookup reads them: a lookup compares a reading with its
    /// agent's requests only, without touching the entries themselves until it has a few.
    pub(super) by_agent: HashMap<AgentKind, AgentReadings>,
    /// Distinct parameter sets, and actions, by id.
    pub(super) distinct_features: Vec<ParamFeatures>,
    feature_ids: HashMap<ParamFeatures, u32>,
    pub(super) action_ids: HashMap<String, u32>,
    /// The entries whose reading their requester confirmed (or corrected), oldest first.
    pub(super) confirmed: Vec<u32>,
    /// The `seq` of the last record read (0: none yet).
    cursor: u64,
}

impl KnowledgeIndex {
    pub fn new() -> KnowledgeIndex {
        KnowledgeIndex::default()
    }

    /// The last trail record read: records up to it are already in.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[PastRequest] {
        &self.entries
    }

    /// The entry of a plan id (exact, or a unique prefix such as `p-8r98`).
    pub fn by_plan(&self, plan_id: &str) -> Vec<&PastRequest> {
        self.entries
            .iter()
            .filter(|e| e.plan_id.as_deref().is_some_and(|p| p.starts_with(plan_id)))
            .collect()
    }

    /// Reads one trail record into the index; records at or before the cursor are skipped, so
    /// a whole trail can be streamed through again and only what is new counts.
    pub fn absorb(&mut self, r: &AuditRecord) {
        if r.seq <= self.cursor {
            return;
        }
        self.cursor = r.seq;
        let e = &r.event;
        if e.event == EventKind::Requested {
            if self.by_request.contains_key(&e.request_id) {
                return;
            }
            let text = e.message.clone().unwrap_or_default();
            let no_params = self.feature_id(ParamFeatures::default());
            self.by_request
                .insert(e.request_id.clone(), self.entries.len());
            self.words.push(&Trigrams::of(&text));
            self.entries.push(PastRequest {
                request_id: e.request_id.clone(),
                plan_id: None,
                text,
                requester: e.user_id.clone(),
                at: e.timestamp.clone(),
                agent: None,
                action: None,
                params: KeptParams::default(),
                outcome: Outcome::Pending,
                monthly_usd: None,
                denied_by: Vec::new(),
                rejected_because: None,
                features: no_params,
            });
            return;
        }
        // Events of requests the trail never saw asked (a refused credential) are no request.
        let Some(&n) = self.by_request.get(&e.request_id) else {
            return;
        };
        match e.event {
            EventKind::Classified | EventKind::Planned => {
                if e.event == EventKind::Planned {
                    if let Some(p) = &e.plan_id {
                        self.entries[n].plan_id = Some(p.clone());
                    }
                    self.entries[n].monthly_usd = e.cost_impact;
                }
                if self.entries[n].agent.is_none()
                    && let Some(v) = &e.intent
                {
                    self.read_intent(n, v);
                    let confirmed = v
                        .get("settled")
                        .and_then(|s| s.get("by"))
                        .is_some_and(|by| by == "confirmation");
                    if confirmed && self.entries[n].agent.is_some() {
                        self.confirmed.push(n as u32);
                    }
                }
            }
            EventKind::PolicyEvaluated => {
                let gates: Vec<Gate> = e
                    .security_gates
                    .clone()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default();
                self.entries[n].denied_by = gates
                    .into_iter()
                    .filter(|g| g.result == GateResult::Deny)
                    .map(|g| g.rule)
                    .collect();
            }
            EventKind::Rejected => {
                let entry = &mut self.entries[n];
                entry.outcome = Outcome::Rejected;
                entry.rejected_because = e
                    .approval_metadata
                    .as_ref()
                    .and_then(|m| m.get("reason"))
                    .and_then(|r| r.as_str())
                    .map(str::to_string);
            }
            EventKind::Queued => self.entries[n].outcome = Outcome::Pending,
            EventKind::Approved if e.status == Status::Approved => {
                self.entries[n].outcome = Outcome::Approved;
            }
            EventKind::Completed => self.entries[n].outcome = Outcome::Applied,
            // A run that did not start leaves the plan approved (its status says so).
            EventKind::Failed if e.status == Status::Failed => {
                self.entries[n].outcome = Outcome::Failed;
            }
            EventKind::Cancelled => self.entries[n].outcome = Outcome::Cancelled,
            EventKind::Expired => self.entries[n].outcome = Outcome::Expired,
            EventKind::Answered => self.entries[n].outcome = Outcome::Answered,
            // Refused for the requester's role before any plan; later refusals (someone who
            // may not approve) say nothing about how the request ended.
            EventKind::AccessDenied if self.entries[n].plan_id.is_none() => {
                self.entries[n].outcome = Outcome::Rejected;
            }
            _ => {}
        }
    }

    /// Takes agent, action and the typed parameters from a stored reading. A reading that no
    /// longer parses whole (written by another version) still gives what it can.
    fn read_intent(&mut self, n: usize, v: &serde_json::Value) {
        let agent = v
            .get("agent")
            .and_then(|a| a.as_str())
            .and_then(|a| a.parse::<AgentKind>().ok());
        let Some(agent) = agent else { return };
        let action = v
            .get("action")
            .and_then(|a| a.as_str())
            .unwrap_or_default()
            .to_string();
        let params = v
            .get("params")
            .and_then(|p| p.as_object())
            .map(|p| read_params(p.clone()))
            .unwrap_or_default();
        let features_id = self.feature_id(ParamFeatures::of(&params));
        let next = self.action_ids.len() as u32;
        let action_id = *self.action_ids.entry(action.clone()).or_insert(next);
        let entry = &mut self.entries[n];
        entry.features = features_id;
        entry.params = KeptParams::of(&params);
        entry.agent = Some(agent);
        entry.action = Some(action);
        let reading = Reading {
            entry: n as u32,
            features: features_id,
            action: action_id,
        };
        self.by_agent
            .entry(agent)
            .or_default()
            .push(reading, self.words.get(n));
    }

    /// The id of a parameter set, kept once however many requests share it.
    fn feature_id(&mut self, features: ParamFeatures) -> u32 {
        if let Some(&id) = self.feature_ids.get(&features) {
            return id;
        }
        let id = self.distinct_features.len() as u32;
        self.distinct_features.push(features.clone());
        self.feature_ids.insert(features, id);
        id
    }

    /// An entry's parameters as compared.
    pub(super) fn features(&self, e: &PastRequest) -> &ParamFeatures {
        &self.distinct_features[e.features as usize]
    }

    /// An entry's words as trigrams (by its position in [`KnowledgeIndex::entries`]).
    pub(super) fn words_of(&self, n: usize) -> &[u32] {
        self.words.get(n)
    }
}

/// Parameters from a stored reading, dropping only keys this version does not know (or holds
/// in another shape) rather than the whole reading.
fn read_params(map: serde_json::Map<String, serde_json::Value>) -> Params {
    if let Ok(p) = Params::from_json(map.clone()) {
        return p;
    }
    let mut kept = serde_json::Map::new();
    for (k, v) in map {
        let mut one = kept.clone();
        one.insert(k.clone(), v.clone());
        if Params::from_json(one).is_ok() {
            kept.insert(k, v);
        }
    }
    Params::from_json(kept).unwrap_or_default()
}
