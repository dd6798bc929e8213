//! The offline intent parser: tokens → meanings → agent scores → action and parameters.
//!
//! Deterministic and allocation-light: a request is a handful of tokens, each looked up once in
//! the lexicon (phrases first, then words, then inflections, then typo correction).
//!
//! The steps, in the order a request meets them:
//! - `tokens`: split the text, take a quoted command out as data, look every word up once;
//!   `shapes` recognises ids, types, regions, numbers and sizes by their form.
//! - `features`: what the scorer and the extractors ask about, gathered in one pass.
//! - `score` routes to an agent; `action` picks the agent's action.
//! - `extract` reads the parameters every agent uses; `infra` the template settings;
//!   `insight` the security, monitor and ml keys; `names` finds names after nouns and keywords;
//!   `stated` reads numbers and times as written and refuses those no plan can take.
//! - `evidence` keeps each word and its meaning for the approver.

use super::ranges::{Limits, check, impossible_count};
use super::{AgentKind, Evidence, Intent, IntentError, LOW_CONFIDENCE, Params};

mod action;
mod evidence;
mod exposure;
mod extract;
mod features;
mod infra;
mod insight;
mod names;
mod score;
mod shapes;
mod stated;
mod tokens;

use action::choose_action;
use evidence::evidence;
use extract::extract_params;
use features::Features;
use score::score;
use tokens::{classify_tokens, quoted_command, tokenize};

const MAX_LEN: usize = 4000;

/// Classifies one request, holding its values to the ranges any tenant may allow (no tenant
/// is known here; [`parse_with`] takes one's limits). Never touches the network.
pub fn parse(text: &str) -> Result<Intent, IntentError> {
    parse_with(text, &Limits::any_tenant())
}

/// Classifies one request and refuses values out of the ranges `limits` allow.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Intent, IntentError> {
    read(text, limits, None).map(|(intent, _)| intent)
}

/// The request read as `agent` would take it, whatever scored highest: the reading its
/// requester confirmed among the top readings ([`readings`]). Values are held to `limits`.
pub fn parse_as(text: &str, limits: &Limits, agent: AgentKind) -> Result<Intent, IntentError> {
    let (mut intent, _) = read(text, limits, Some(agent))?;
    intent.low_confidence = false;
    intent.notes.retain(|n| !n.starts_with("low confidence"));
    Ok(intent)
}

/// One way a request can be read: an agent, its action and how strongly the words point there.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub agent: AgentKind,
    pub action: String,
    /// The share of the evidence for this reading among the readings listed (0.0 ..= 1.0).
    pub weight: f64,
}

/// The top readings of a request, best first (at most three, each with real evidence): what
/// a requester picks from when a change was understood with low confidence.
pub fn readings(text: &str, limits: &Limits) -> Result<Vec<Reading>, IntentError> {
    read(text, limits, None).map(|(_, r)| r)
}

fn read(
    text: &str,
    limits: &Limits,
    forced: Option<AgentKind>,
) -> Result<(Intent, Vec<Reading>), IntentError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(IntentError::Empty);
    }
    if trimmed.chars().count() > MAX_LEN {
        return Err(IntentError::TooLong(trimmed.chars().count()));
    }
    // A credential is never classified: no parameter may carry it onwards.
    if let Err(refusal) = crate::secrets::check(trimmed) {
        return Err(IntentError::Credential(refusal.to_string()));
    }
    let (command, rest) = quoted_command(trimmed);
    let mut tokens = tokenize(&rest);
    let mut notes = Vec::new();
    classify_tokens(&mut tokens, &mut notes);

    let f = Features::collect(&tokens, command.is_some());
    let exposure = exposure::asked(&tokens, &f);
    let mut scores = score(&f, &tokens);
    if exposure.is_some() {
        // Opening something to everyone is a change to plan (and for policy to judge), not a
        // scan of what is open.
        scores[0] += 8.0;
    }
    let mut ranked: Vec<(AgentKind, f64)> = AgentKind::ALL.iter().copied().zip(scores).collect();
    // Stable order on ties: the declaration order of AgentKind.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if ranked[0].1 < 0.75 && forced.is_none() {
        return Err(IntentError::Unrecognised(trimmed.to_string()));
    }
    if let Some(a) = forced
        && let Some(at) = ranked.iter().position(|(x, _)| *x == a)
    {
        let chosen = ranked.remove(at);
        ranked.insert(0, chosen);
    }
    let (agent, top) = ranked[0];
    let second = ranked[1].1;
    let candidates: Vec<(AgentKind, f64)> = ranked
        .iter()
        .take(3)
        .copied()
        .filter(|(_, s)| *s >= 0.75)
        .collect();
    let total: f64 = candidates.iter().map(|(_, s)| s).sum();
    let readings: Vec<Reading> = candidates
        .iter()
        .map(|(a, s)| Reading {
            agent: *a,
            action: reading_action(*a, &f, &tokens, exposure).to_string(),
            weight: ((s / total.max(f64::MIN_POSITIVE)) * 100.0).round() / 100.0,
        })
        .collect();

    let action = reading_action(agent, &f, &tokens, exposure);
    let (mut params, count_as_written) = extract_params(&tokens, &f, command.as_deref(), agent)?;
    if let Some(e) = exposure.filter(|_| agent == AgentKind::Infra) {
        exposure::apply(&e, &tokens, &mut params);
    }
    // "terminate the old jenkins instances": the software names the machines; nothing is
    // installed or removed by an instance action.
    if agent == AgentKind::Ops && matches!(action, "restart" | "start" | "stop" | "terminate") {
        params.packages.clear();
    }
    if agent == AgentKind::Infra && matches!(action, "create" | "scale") {
        stated::refuse_vague_count(&tokens)?;
        infra::size_as_type(&tokens, &mut params, &mut notes);
    }
    notes.extend(stated::unused_times(&tokens));
    match agent {
        AgentKind::Ops => params.action = Some(action.to_string()),
        AgentKind::Security if action == "scan" => params.action = Some("scan".into()),
        _ => {}
    }
    let mut agents = vec![agent];
    if agent == AgentKind::Infra && action == "create" && (f.has_package || f.config_verb) {
        agents.push(AgentKind::Config);
    }

    let margin = top / (top + second);
    let strength = (top / 4.0).min(1.0);
    let mut confidence = margin * (0.5 + 0.5 * strength);
    let corrections = tokens.iter().filter(|t| t.corrected.is_some()).count();
    confidence *= 0.97f64.powi(corrections as i32);
    if !f.any_verb {
        confidence *= 0.92;
    }
    let confidence = (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0;
    let low_confidence = confidence < LOW_CONFIDENCE;
    if low_confidence {
        notes.push(format!(
            "low confidence: {} scored {:.1}, {} scored {:.1}; rephrase or confirm",
            agent, top, ranked[1].0, second
        ));
    }
    let intent = Intent {
        agent,
        agents,
        action: action.to_string(),
        confidence,
        low_confidence,
        params,
        evidence: evidence(&tokens),
        notes,
        source: None,
        settled: None,
    };
    // The count is the range check's first question, whether or not it fits in a parameter.
    if let Some(written) = count_as_written {
        return Err(impossible_count(agent, action, &written, limits));
    }
    check(&intent, limits)?;
    Ok((intent, readings))
}

/// The action `agent` takes on these words; an exposure of something that exists changes it.
fn reading_action(
    agent: AgentKind,
    f: &Features,
    tokens: &[tokens::Token<'_>],
    exposure: Option<exposure::Exposure>,
) -> &'static str {
    let action = choose_action(agent, f, tokens);
    match exposure {
        Some(e) if agent == AgentKind::Infra && e.existing && action == "create" => "update",
        _ => action,
    }
}

/// What a text states, read as if for the agent of the request it follows up.
pub(crate) struct Stated {
    pub params: Params,
    /// A count no count can be (negative, or beyond 64 bits), as written: the caller refuses
    /// it with the range its reading allows.
    pub count_as_written: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// The parameters a text states, read as if for `agent`, without classifying it (follow-ups).
/// An error when a value can be no value at all (an unknown region, an impossible window); the
/// caller checks the refined reading's ranges.
pub(crate) fn params_only(text: &str, agent: AgentKind) -> Result<Stated, IntentError> {
    let (command, rest) = quoted_command(text.trim());
    let mut tokens = tokenize(&rest);
    let mut notes = Vec::new();
    classify_tokens(&mut tokens, &mut notes);
    let f = Features::collect(&tokens, command.is_some());
    let (params, count_as_written) = extract_params(&tokens, &f, command.as_deref(), agent)?;
    Ok(Stated {
        params,
        count_as_written,
        evidence: evidence(&tokens),
    })
}

/// A request the test expects to be read, read.
#[cfg(test)]
fn p(s: &str) -> Intent {
    parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::intent::{Environment, Granularity, LoadBalancer};

    #[test]
    fn spec_example_infra() {
        let i = p("Create 3 t3.medium instances in ap-south-1 with ALB");
        assert_eq!(i.agent, AgentKind::Infra);
        assert_eq!(i.action, "create");
        assert_eq!(i.params.count, Some(3));
        assert_eq!(i.params.instance_type.as_deref(), Some("t3.medium"));
        assert_eq!(i.params.region.as_deref(), Some("ap-south-1"));
        assert_eq!(i.params.load_balancer, Some(LoadBalancer::Alb));
        assert!(!i.low_confidence);
    }

    #[test]
    fn hybrid_infra_and_config() {
        let i = p("Create 3 EC2 instances with NGINX");
        assert_eq!(i.agents, vec![AgentKind::Infra, AgentKind::Config]);
        assert_eq!(i.params.packages, vec!["nginx"]);
    }

    #[test]
    fn synonyms_typos_words_and_places() {
        let i = p("fire up five t3.small boxes in Sydney");
        assert_eq!(i.agent, AgentKind::Infra);
        assert_eq!(i.params.count, Some(5));
        assert_eq!(i.params.region.as_deref(), Some("ap-southeast-2"));
        let i = p("rebot the staging instnaces");
        assert_eq!(i.agent, AgentKind::Ops);
        assert_eq!(i.action, "restart");
        assert_eq!(i.params.environment, Some(Environment::Staging));
        assert!(i.notes.iter().any(|n| n.contains("reboot")));
        let i = p("DECOMMISSION I-0ABC12345DEF67890");
        assert_eq!(i.action, "terminate");
        assert_eq!(i.params.instance_ids, ["i-0abc12345def67890"]);
        let i = p("cycle the web boxes tagged Env=staging");
        assert_eq!(i.action, "restart");
        assert_eq!(json!(i.params.tags), json!({"Env": "staging"}));
    }

    #[test]
    fn windows_and_names() {
        let i = p("Show last 24h error logs from Lambda my-func");
        assert_eq!(i.agent, AgentKind::Monitor);
        assert_eq!(i.action, "logs");
        assert_eq!(i.params.window.as_deref(), Some("24h"));
        assert_eq!(i.params.function.as_deref(), Some("my-func"));
        let i = p("What is my daily EC2 spend in ap-south-1?");
        assert_eq!(i.agent, AgentKind::Cost);
        assert_eq!(i.params.granularity, Some(Granularity::Daily));
        assert_eq!(i.params.service.as_deref(), Some("EC2"));
        let i = p("errors for the past 2 weeks in prod");
        assert_eq!(i.params.window.as_deref(), Some("14d"));
    }

    #[test]
    fn no_false_counts_from_windows_or_ages() {
        let i = p("list IAM access keys older than 90 days");
        assert_eq!(i.agent, AgentKind::Security);
        assert!(i.params.count.is_none());
        assert!(i.params.window.is_none());
    }

    #[test]
    fn quoted_commands_are_data() {
        let i = p("run `rm -rf / ; reboot` on instances tagged Role=web");
        assert_eq!(i.agent, AgentKind::Ops);
        assert_eq!(i.action, "run");
        assert_eq!(i.params.command.as_deref(), Some("rm -rf / ; reboot"));
    }

    #[test]
    fn ops_and_cost_parameters() {
        let i = p("snapshot volume vol-0123456789abcdef0");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Ops, "snapshot"));
        assert_eq!(i.params.volume_ids, ["vol-0123456789abcdef0"]);
        let i = p("list instances named web-prod-1");
        assert_eq!(i.params.name.as_deref(), Some("web-prod-1"));
        let i = p("show my AWS spend by service for last month");
        assert_eq!(i.params.group_by.as_deref(), Some("service"));
        let i = p("EC2 cost by tag Team this month");
        assert_eq!(i.params.group_by.as_deref(), Some("tag:Team"));
        let i = p("daily spend per region");
        assert_eq!(i.params.group_by.as_deref(), Some("region"));
        let i = p("find idle load balancers");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Cost, "optimize"));
    }

    #[test]
    fn empty_and_gibberish_are_errors() {
        assert_eq!(parse("   "), Err(IntentError::Empty));
        assert!(matches!(
            parse("qwzx plorb"),
            Err(IntentError::Unrecognised(_))
        ));
    }
}
