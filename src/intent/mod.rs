//! Intent: what a request asks for, in a form every agent understands.
//!
//! [`parse`] is the offline floor: deterministic, no network, no model. It copes with synonyms,
//! typos, word numbers and place names, and reports how sure it is rather than hiding doubt.

mod lexicon;
pub mod llm;
mod params;
mod parser;
pub mod ranges;
pub mod rank;
mod regions;
mod typo;
mod words;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use params::{
    Comparison, Engine, Environment, Granularity, LoadBalancer, LogLevel, Params, Resource,
    ScanScope, Tags, TextModel,
};
pub use parser::{Reading, parse, parse_as, parse_with, readings};
use ranges::impossible_count;
pub use ranges::{Limits, check};
pub use regions::{is_region_code, region_codes};

/// Below this confidence an intent is flagged `low_confidence` and front ends ask to confirm.
pub const LOW_CONFIDENCE: f64 = 0.6;

/// The seven specialised agents a request can be routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Infra,
    Config,
    Ops,
    Cost,
    Security,
    Monitor,
    Ml,
}

impl AgentKind {
    pub const ALL: [AgentKind; 7] = [
        AgentKind::Infra,
        AgentKind::Config,
        AgentKind::Ops,
        AgentKind::Cost,
        AgentKind::Security,
        AgentKind::Monitor,
        AgentKind::Ml,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::Infra => "infra",
            AgentKind::Config => "config",
            AgentKind::Ops => "ops",
            AgentKind::Cost => "cost",
            AgentKind::Security => "security",
            AgentKind::Monitor => "monitor",
            AgentKind::Ml => "ml",
        }
    }

    /// What the agent drives, for help text and the preview.
    pub fn tool(self) -> &'static str {
        match self {
            AgentKind::Infra => "Terraform",
            AgentKind::Config => "Ansible",
            AgentKind::Ops => "EC2 / SSM",
            AgentKind::Cost => "Cost Explorer",
            AgentKind::Security => "S3 / IAM / GuardDuty / Security Hub",
            AgentKind::Monitor => "CloudWatch",
            AgentKind::Ml => "Comprehend / Bedrock / SageMaker",
        }
    }
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentKind::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown agent '{s}' (expected one of: infra, config, ops, cost, security, monitor, ml)")
            })
    }
}

/// One piece of evidence: a word of the request and what the parser took it to mean.
/// Kept so an approver can see why a request was routed where it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub word: String,
    pub meaning: String,
}

/// A classified request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The primary agent.
    pub agent: AgentKind,
    /// Every agent the request needs, primary first (hybrid requests list two).
    pub agents: Vec<AgentKind>,
    pub action: String,
    /// 0.0 ..= 1.0; see [`LOW_CONFIDENCE`].
    pub confidence: f64,
    pub low_confidence: bool,
    /// Extracted parameters; keys are documented in `docs/intents.md`.
    pub params: Params,
    /// Words that led to the routing and the parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Doubts worth showing: corrected typos, ignored words, ambiguities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which reading this is when a model was consulted: `bedrock:<model id>` or `parser`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How the reading was settled beyond the words: its requester confirmed it, or an
    /// earlier similar request's confirmation decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<Settled>,
}

/// A reading settled by a person rather than by the words alone. Kept in the `classified`
/// event, so the tenant's trail is where later requests learn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Settled {
    /// The requester picked reading `reading` of `of` (1 is the one understood, so another
    /// number is a correction).
    Confirmation { reading: usize, of: usize },
    /// Read as an earlier, similar request of the tenant was confirmed.
    Example {
        request_id: String,
        /// That request's words, as the trail keeps them.
        text: String,
        /// Who confirmed it, and when.
        who: String,
        when: String,
        /// How alike the two requests' words are (trigram overlap, 0.0 ..= 1.0).
        likeness: f64,
    },
}

impl Intent {
    /// The region the request acts in: the one it names, else `tenant_default`; refused when
    /// it is none AWS has ([`regions::resolve`], the one rule for it).
    pub fn region_or(&self, tenant_default: &str) -> Result<String, IntentError> {
        regions::resolve(self.params.region.as_deref(), tenant_default)
    }
}

/// Why a request could not be classified at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntentError {
    #[error(
        "the request is empty: type what you want done, e.g. \"Restart EC2 instances tagged Env=staging\""
    )]
    Empty,
    #[error(
        "the request is too long ({0} characters; the limit is 4000): split it into separate requests"
    )]
    TooLong(usize),
    #[error(
        "could not tell what \"{0}\" asks for: name an action and a resource, e.g. \"create 2 t3.small instances\", \"show error logs from Lambda my-func\" or \"what did EC2 cost last week\""
    )]
    Unrecognised(String),
    /// A value the request states that no plan may take (a count over the tenant's limit, a
    /// negative number, an impossible window or time): refused, never clamped.
    #[error("{param} {value} is out of range: {allowed}")]
    OutOfRange {
        param: String,
        value: String,
        allowed: String,
    },
    /// A word written like a region code that names no AWS region: refused, never replaced
    /// by the default region.
    #[error(
        "{word} is not an AWS region opsdeck knows{}: name a region by its code (e.g. eu-west-1) or its place (e.g. \"Ireland\"), or leave it out to use the tenant's default region",
        did_you_mean(suggestions)
    )]
    UnknownRegion {
        word: String,
        suggestions: Vec<String>,
    },
    /// A vague quantity where a number decides what is created ("several instances").
    #[error(
        "\"{word}\" is not a number: say how many {what}, e.g. \"create 3 t3.small instances\""
    )]
    VagueCount { word: String, what: String },
    /// The request holds a credential (the message says which, masked): it is not classified.
    #[error("{0}")]
    Credential(String),
}

/// A change understood with low confidence, and the readings its requester picks from (best
/// first; reading 1 is the one the request would otherwise have been planned as).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    pub confidence: f64,
    pub readings: Vec<Reading>,
}

impl fmt::Display for Confirmation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = self
            .readings
            .iter()
            .enumerate()
            .map(|(n, r)| format!("{}) {}/{}", n + 1, r.agent, r.action))
            .collect();
        write!(
            f,
            "this request would change something, but it was understood with low confidence ({:.2}), so nothing was planned. Its readings: {}. Confirm the one you mean (opsdeck ask --confirm-reading N …) or rephrase",
            self.confidence,
            listed.join(", ")
        )
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        [init @ .., last] => format!(" (did you mean {} or {last}?)", init.join(", ")),
    }
}

/// Why a request was routed as it was: for the agent and for each parameter, the words of the
/// request that led there. What an approver reads before trusting the routing.
pub fn explain(intent: &Intent) -> serde_json::Value {
    let mut routing = Vec::new();
    let mut params = serde_json::Map::new();
    let values = intent.params.to_json();
    for e in &intent.evidence {
        for part in e.meaning.split(", ") {
            let part = part.split(" (typo").next().unwrap_or(part);
            let (kind, value) = part.split_once(':').unwrap_or((part, ""));
            match kind {
                "verb" | "noun" | "package" => routing.push(serde_json::json!({
                    "word": e.word, "means": part
                })),
                _ => {
                    let key = match kind {
                        "number" => "count",
                        "tag" => "tags",
                        "instance_id" => "instance_ids",
                        "volume_id" => "volume_ids",
                        other => other,
                    };
                    if let Some(v) = values.get(key) {
                        let entry = params
                            .entry(key.to_string())
                            .or_insert_with(|| serde_json::json!({"value": v, "from": []}));
                        if let Some(from) = entry.get_mut("from").and_then(|f| f.as_array_mut()) {
                            from.push(serde_json::json!(e.word));
                        }
                    }
                    let _ = value;
                }
            }
        }
    }
    if let Some(Settled::Example {
        text, who, when, ..
    }) = &intent.settled
    {
        routing.push(serde_json::json!({
            "word": "(a confirmed example)",
            "means": format!("agent:{} as {who} confirmed for \"{text}\" at {when}", intent.agent),
        }));
    }
    // Parameters read from where words stand rather than from one word ("bucket X": the name
    // after a noun) have no evidence of their own; they are shown all the same.
    for (key, value) in &values {
        params
            .entry(key.clone())
            .or_insert_with(|| serde_json::json!({"value": value, "from": []}));
    }
    serde_json::json!({
        "agent": intent.agent,
        "agents": intent.agents,
        "action": intent.action,
        "confidence": intent.confidence,
        "low_confidence": intent.low_confidence,
        "routed_by": routing,
        "parameters": params,
        "notes": intent.notes,
        "settled": intent.settled,
    })
}

/// The environment a word names (`production` → `prod`, `stg` → `staging`), as the parser reads
/// it; agents use it to read `Env=` tags on resources the same way.
pub fn environment_of(word: &str) -> Option<Environment> {
    lexicon::LEXICON
        .words
        .get(word.trim().to_lowercase().as_str())?
        .iter()
        .find_map(|c| match c {
            lexicon::Cue::Env(e) => Some(*e),
            _ => None,
        })
}

/// Whether a request reads as a follow-up to the previous one rather than a request of its own.
pub fn is_follow_up(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    [
        "now ",
        "same ",
        "also ",
        "only ",
        "instead",
        "and ",
        "but ",
        "what about",
        "then ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
        || t.contains("the same")
        || t.contains("those")
}

/// Refines the previous intent with a follow-up ("now do the same in eu-west-1", "only the first
/// two", "make it five instead"): the previous request's agent and action, with the parameters the
/// follow-up states replacing the old ones. None when `text` is not a follow-up; an error when
/// it states a value no request may (an unknown region, an impossible window, a count no count
/// can be, refused with the range `limits` allow). The caller checks the refined reading's
/// ranges.
pub fn refine(
    previous: &Intent,
    text: &str,
    limits: &Limits,
) -> Option<Result<Intent, IntentError>> {
    if !is_follow_up(text) {
        return None;
    }
    let stated = match parser::params_only(text, previous.agent) {
        Ok(read) => read,
        Err(e) => return Some(Err(e)),
    };
    let mut out = previous.clone();
    let mut stated_params = stated.params;
    // A follow-up's service or action words restate the request; its values refine it.
    stated_params.service = None;
    stated_params.action = None;
    let mut changed: Vec<String> = out
        .params
        .overlay(stated_params)
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut count_as_written = stated.count_as_written;
    // "only the first two"
    let lower = text.to_lowercase();
    if let Some(rest) = lower.split("first ").nth(1)
        && let Some(word) = rest.split_whitespace().next()
        && let Some(n) = word
            .parse::<u64>()
            .ok()
            .or_else(|| words::word_number(word))
    {
        if out.params.instance_ids.is_empty() {
            out.params.count = Some(previous.params.count.map_or(n, |c| c.min(n)));
            count_as_written = None;
        } else {
            out.params
                .instance_ids
                .truncate(usize::try_from(n).unwrap_or(usize::MAX));
        }
        changed.push("first N".into());
    }
    if let Some(written) = count_as_written {
        return Some(Err(impossible_count(
            out.agent,
            &out.action,
            &written,
            limits,
        )));
    }
    out.evidence = stated.evidence;
    out.notes = vec![format!(
        "follow-up of the previous request ({}/{}): changed {}",
        previous.agent,
        previous.action,
        if changed.is_empty() {
            "nothing".to_string()
        } else {
            changed.join(", ")
        }
    )];
    Some(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_shows_every_parameter_with_the_words_behind_it() {
        let i = parser::parse(
            "Analyze sentiment of recent customer feedback in S3 bucket customer-feedback",
        )
        .unwrap();
        let e = explain(&i);
        // The bucket is read from where its name stands, not from a word of its own.
        assert_eq!(e["parameters"]["bucket"]["value"], "customer-feedback");
        assert_eq!(e["parameters"]["bucket"]["from"], serde_json::json!([]));
        assert_eq!(e["parameters"]["service"]["from"][0], "S3");
        assert_eq!(
            e["parameters"].as_object().unwrap().len(),
            i.params.to_json().len(),
            "{e:#}"
        );
    }
}
