//! The action a request asks of the agent it was routed to, from its verbs and nouns.

use super::features::Features;
use super::tokens::Token;
use crate::intent::AgentKind;
use crate::intent::lexicon::{Noun, Verb};

pub(super) fn choose_action(agent: AgentKind, f: &Features, tokens: &[Token<'_>]) -> &'static str {
    let v = |x: Verb| f.verb(x);
    let n = |x: Noun| f.noun(x);
    match agent {
        AgentKind::Infra => {
            if v(Verb::Destroy) || v(Verb::Terminate) {
                "destroy"
            } else if v(Verb::Scale) {
                "scale"
            } else if (v(Verb::Update) && !v(Verb::Create)) || tags_added_to(tokens) {
                "update"
            } else {
                "create"
            }
        }
        AgentKind::Config => {
            let first = f.first_verb(&[
                Verb::Install,
                Verb::Upgrade,
                Verb::Uninstall,
                Verb::Destroy,
                Verb::Patch,
                Verb::Harden,
                Verb::Configure,
                Verb::Update,
                Verb::Create,
            ]);
            match first {
                _ if v(Verb::Harden) => "harden",
                Some(Verb::Patch) => "patch",
                Some(Verb::Update) if n(Noun::Patches) || !f.has_package => "patch",
                _ if n(Noun::Patches) && !f.has_package => "patch",
                Some(Verb::Upgrade | Verb::Update) => "upgrade",
                Some(Verb::Uninstall | Verb::Destroy) => "remove",
                Some(Verb::Install) => "install",
                // "set up logrotate": configured, which installs it where needed.
                Some(Verb::Create)
                    if f.has_package
                        && tokens
                            .iter()
                            .any(|t| matches!(t.lower.as_str(), "set" | "setup")) =>
                {
                    "configure"
                }
                Some(Verb::Create) if f.has_package => "install",
                _ if n(Noun::Ssh) && v(Verb::Configure) => "harden",
                _ => "configure",
            }
        }
        AgentKind::Ops => {
            let first = f.first_verb(&[
                Verb::Restart,
                Verb::Start,
                Verb::Stop,
                Verb::Terminate,
                Verb::Destroy,
                Verb::Uninstall,
                Verb::Rotate,
                Verb::Snapshot,
                Verb::Run,
            ]);
            if f.verb(Verb::Create) && tokens.iter().any(|t| t.lower == "stopped") {
                return "start";
            }
            match first {
                Some(Verb::Restart) => "restart",
                Some(Verb::Start) => "start",
                Some(Verb::Stop) => "stop",
                Some(Verb::Terminate | Verb::Destroy | Verb::Uninstall) => "terminate",
                Some(Verb::Rotate) => "rotate",
                Some(Verb::Snapshot) => "snapshot",
                Some(Verb::Run) => "run",
                _ if f.command => "run",
                // "check disk usage on prod-web-1 via SSM": a command run on the machine.
                _ if n(Noun::Command)
                    && tokens
                        .iter()
                        .any(|t| matches!(t.lower.as_str(), "via" | "through" | "using")) =>
                {
                    "run"
                }
                _ if n(Noun::Secret) && tokens.iter().any(|t| t.lower.starts_with("rotat")) => {
                    "rotate"
                }
                _ => "list",
            }
        }
        AgentKind::Cost => {
            if v(Verb::Forecast) || n(Noun::Forecast) {
                "forecast"
            } else if n(Noun::Budget) {
                "budget"
            } else if v(Verb::Optimize) || n(Noun::Savings) {
                "optimize"
            } else if v(Verb::Estimate)
                || (f.instance_type && (v(Verb::Create) || n(Noun::CostHint)))
                || tokens
                    .iter()
                    .any(|t| t.lower == "would" || t.lower == "will")
            {
                "estimate"
            } else {
                "query"
            }
        }
        AgentKind::Security => {
            let private = tokens.iter().any(|t| t.lower == "private");
            if v(Verb::Remediate) || (v(Verb::Configure) && n(Noun::Encryption)) || private {
                "remediate"
            } else if n(Noun::ThreatService) || (n(Noun::Findings) && !v(Verb::Scan)) {
                "findings"
            } else {
                "scan"
            }
        }
        AgentKind::Monitor => {
            if n(Noun::Alarm) || v(Verb::Alert) {
                if v(Verb::Create) || v(Verb::Alert) || v(Verb::Configure) {
                    "create_alarm"
                } else {
                    "alarms"
                }
            } else if n(Noun::Logs) {
                "logs"
            } else if n(Noun::Metric) {
                "metrics"
            } else {
                "logs"
            }
        }
        AgentKind::Ml => {
            if n(Noun::Sentiment) {
                "sentiment"
            } else if v(Verb::Classify) {
                "classify"
            } else if n(Noun::KeyPhrases) {
                "key_phrases"
            } else if n(Noun::Pii) {
                "pii"
            } else if n(Noun::Language) {
                "language"
            } else if v(Verb::Summarize) {
                "summarize"
            } else if v(Verb::Classify) {
                "classify"
            } else if v(Verb::Invoke)
                && !(n(Noun::Endpoint)
                    && tokens.first().is_some_and(|t| {
                        matches!(t.lower.as_str(), "what" | "which" | "list" | "show")
                    }))
            {
                "invoke"
            } else if n(Noun::Endpoint) {
                "list_endpoints"
            } else if n(Noun::Entities) {
                "key_phrases"
            } else {
                "summarize"
            }
        }
    }
}

/// "add tag Owner=platform to everything in the network stack": tags added to what exists,
/// not something new.
fn tags_added_to(tokens: &[Token<'_>]) -> bool {
    let at = |w: &[&str]| tokens.iter().position(|t| w.contains(&t.lower.as_str()));
    match (
        at(&["add", "apply", "put", "attach"]),
        at(&["tag", "tags", "label", "labels"]),
        at(&["to", "onto"]),
    ) {
        (Some(verb), Some(tag), Some(to)) => verb < tag && tag < to,
        _ => false,
    }
}
