//! Parameters every agent reads: windows, tags, ids, instance types, regions, packages,
//! services, environments, names after nouns, commands, cost groupings and the instance count.
//! Infrastructure settings are read in `infra`, the security, monitor and ml keys in `insight`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::features::{Features, sized_setting};
use super::names::{FUNCTION_WORDS, name_like, name_near};
use super::shapes::runtime_for_language;
use super::tokens::{Kind, Token};
use super::{infra, insight, stated};
use crate::intent::lexicon::{Cue, LEXICON, Noun, Verb};
use crate::intent::{AgentKind, IntentError};

pub(super) fn extract_params(
    tokens: &[Token<'_>],
    f: &Features,
    quoted: Option<&str>,
    agent: AgentKind,
) -> Result<BTreeMap<String, Value>, IntentError> {
    let mut p: BTreeMap<String, Value> = BTreeMap::new();
    let mut tags = serde_json::Map::new();
    let mut ids = Vec::new();
    let mut volume_ids = Vec::new();
    let mut packages: Vec<String> = Vec::new();
    let mut window_used = vec![false; tokens.len()];

    // Windows first, so their numbers are not taken for counts.
    if let Some((w, at)) = stated::window(tokens)? {
        p.insert("window".into(), json!(w));
        window_used[at].iter_mut().for_each(|u| *u = true);
    }
    stated::refuse_impossible_times(tokens)?;

    let mut service: Option<&'static str> = None;
    let mut env: Option<&'static str> = None;
    for (i, t) in tokens.iter().enumerate() {
        match &t.kind {
            Kind::Tag(k, v) => {
                tags.insert(k.clone(), json!(v));
            }
            Kind::InstanceId(id) => ids.push(json!(id)),
            Kind::VolumeId(id) => volume_ids.push(json!(id)),
            Kind::InstanceType(it) => {
                p.entry("instance_type".into()).or_insert(json!(it));
                service.get_or_insert("EC2");
            }
            Kind::Region(code) => {
                p.entry("region".into()).or_insert(json!(code));
            }
            Kind::UnknownRegion(word) => return Err(crate::intent::ranges::unknown_region(word)),
            Kind::S3Uri { bucket, prefix } => {
                p.entry("bucket".into()).or_insert(json!(bucket));
                if let Some(prefix) = prefix {
                    p.entry("prefix".into()).or_insert(json!(prefix));
                }
                service.get_or_insert("S3");
            }
            Kind::Known { cues, .. } => {
                for c in cues {
                    match c {
                        Cue::Region(code) => {
                            p.entry("region".into()).or_insert(json!(code));
                        }
                        Cue::Env(e) => {
                            env.get_or_insert(e);
                        }
                        Cue::Package if f.package_is_setting(t) => {
                            let name = t.corrected.unwrap_or(t.lower.as_str());
                            if let Some(r) = runtime_for_language(name)
                                && f.runtime_context
                            {
                                p.entry("runtime".into()).or_insert(json!(r));
                            }
                        }
                        Cue::Package => {
                            let name = t.corrected.unwrap_or(t.lower.as_str());
                            let name = if name == "cloudwatch" {
                                "amazon-cloudwatch-agent"
                            } else {
                                name
                            };
                            if !packages.iter().any(|p| p == name) {
                                packages.push(name.to_string());
                            }
                        }
                        Cue::Service(s) => {
                            service.get_or_insert(s);
                        }
                        // "with node" in a function being created is its runtime, not a host.
                        Cue::Noun(Noun::Instance)
                            if f.runtime_context
                                && t.corrected.unwrap_or(t.lower.as_str()) == "node" =>
                        {
                            p.entry("runtime".into())
                                .or_insert(json!(runtime_for_language("nodejs")));
                        }
                        Cue::Noun(n) => {
                            let implied = match n {
                                Noun::Instance => Some("EC2"),
                                Noun::Bucket => Some("S3"),
                                Noun::Database => Some("RDS"),
                                Noun::Function => Some("Lambda"),
                                Noun::Volume => Some("EBS"),
                                Noun::Secret => Some("SecretsManager"),
                                _ => None,
                            };
                            if let Some(s) = implied {
                                service.get_or_insert(s);
                            }
                        }
                        Cue::Granularity(g) => {
                            p.entry("granularity".into()).or_insert(json!(g));
                        }
                        Cue::Lb(kind) => {
                            p.entry("load_balancer".into()).or_insert(json!(kind));
                        }
                        Cue::Metric(m) if !sized_setting(tokens, i) => {
                            p.entry("metric".into()).or_insert(json!(m));
                        }
                        Cue::Severity(s)
                            if f.noun(Noun::Findings) || f.noun(Noun::ThreatService) =>
                        {
                            p.entry("severity".into()).or_insert(json!(s));
                        }
                        Cue::Engine(e) if f.noun(Noun::Database) => {
                            p.entry("engine".into()).or_insert(json!(e));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        let _ = i;
    }
    // Packages named right after an install-like verb even when we do not know them.
    for (i, t) in tokens.iter().enumerate() {
        let install_like = t.has(|c| {
            matches!(
                c,
                Cue::Verb(Verb::Install | Verb::Uninstall | Verb::Upgrade)
            )
        });
        if !install_like {
            continue;
        }
        for next in &tokens[i + 1..] {
            if matches!(
                next.lower.as_str(),
                "and" | "the" | "latest" | "package" | "packages"
            ) {
                continue;
            }
            if matches!(next.kind, Kind::Unknown)
                && name_like(next, "+")
                && next.lower.len() >= 2
                && !next.lower.contains('.')
            {
                if !packages.contains(&next.lower) {
                    packages.push(next.lower.clone());
                }
                continue;
            }
            if next.has(|c| matches!(c, Cue::Package)) {
                continue;
            }
            break;
        }
    }

    let mut used = window_used.clone();
    if agent == AgentKind::Infra {
        infra::params(tokens, f, &mut p, &mut used);
    }
    // The words of a command are data: none of its numbers is a count.
    let command = (agent == AgentKind::Ops && quoted.is_none())
        .then(|| command_span(tokens))
        .flatten();
    if let Some(c) = command.clone() {
        used[c].iter_mut().for_each(|u| *u = true);
    }
    let count_at = find_count(tokens, f, &used).map(|(count, at)| {
        p.insert("count".into(), count);
        at
    });
    stated::refuse_stray_numbers(tokens, agent, count_at, command)?;
    if !tags.is_empty() {
        if env.is_none() {
            for (k, v) in &tags {
                if matches!(
                    k.to_lowercase().as_str(),
                    "env" | "environment" | "stage" | "tier"
                ) && let Some(v) = v.as_str()
                    && let Some(cues) = LEXICON.words.get(v.to_lowercase().as_str())
                {
                    env = cues.iter().find_map(|c| match c {
                        Cue::Env(e) => Some(*e),
                        _ => None,
                    });
                }
            }
        }
        p.insert("tags".into(), Value::Object(tags));
    }
    if let Some(e) = env {
        p.insert("environment".into(), json!(e));
    }
    if !ids.is_empty() {
        p.insert("instance_ids".into(), Value::Array(ids));
    }
    if !volume_ids.is_empty() {
        p.insert("volume_ids".into(), Value::Array(volume_ids));
    }
    if !packages.is_empty() {
        p.insert("packages".into(), json!(packages));
    }
    if let Some(s) = service {
        p.insert("service".into(), json!(s));
    }
    if !p.contains_key("bucket")
        && let Some(b) = name_near(
            tokens,
            |t| t.noun(Noun::Bucket) && t.lower != "s3",
            "",
            true,
        )
    {
        p.insert("bucket".into(), json!(b.to_lowercase()));
    }
    if let Some(func) = name_near(
        tokens,
        |t| t.noun(Noun::Function) || t.lower == "lambda",
        "",
        true,
    ) {
        p.insert("function".into(), json!(func));
    }
    // The name of a secret, never a secret's value ("secret wJalrXUtnFEMI/K7MDENG/...").
    if let Some(secret) = name_near(
        tokens,
        |t| t.lower.starts_with("secret") && t.noun(Noun::Secret),
        "/+=@",
        true,
    )
    .filter(|name| !crate::secrets::is_credential(name))
    {
        p.insert("secret".into(), json!(secret));
    }
    if let Some(stack) = name_near(tokens, |t| t.noun(Noun::Stack), "", false) {
        let stack = stack.to_lowercase();
        if !matches!(stack.as_str(), "auto" | "scaling") {
            p.insert("stack".into(), json!(stack));
        }
    }
    match agent {
        AgentKind::Ops => {
            // "instances named web-1": the Name tag.
            if let Some(name) = tokens
                .windows(2)
                .find(|w| matches!(w[0].lower.as_str(), "named" | "called"))
                .map(|w| &w[1])
                .filter(|t| name_like(t, "") && !FUNCTION_WORDS.contains(&t.lower.as_str()))
            {
                p.insert("name".into(), json!(name.orig));
            }
            if let Some(cmd) = quoted
                .map(str::to_string)
                .or_else(|| unquoted_command(tokens))
            {
                p.insert("command".into(), json!(cmd));
            }
        }
        _ => {
            if agent == AgentKind::Cost
                && let Some(g) = group_by(tokens)
            {
                p.insert("group_by".into(), json!(g));
            }
            if let Some(text) = quoted {
                p.insert("text".into(), json!(text));
            }
        }
    }
    insight::add(tokens, f, agent, &mut p);
    Ok(p)
}

/// "by service", "per region", "by tag Team", "by the Team tag", "by instance type": how a cost
/// query is broken down (`service`, `region`, `instance_type`, `usage_type`, `account`,
/// `tag:<Key>`).
pub(super) fn group_by(tokens: &[Token<'_>]) -> Option<String> {
    for (i, t) in tokens.iter().enumerate() {
        if !matches!(t.lower.as_str(), "by" | "per") {
            continue;
        }
        let mut rest = tokens[i + 1..].iter().filter(|t| t.lower != "the");
        let Some(next) = rest.next() else { continue };
        let after = rest.next();
        let word = next.lower.trim_end_matches('s');
        match word {
            "service" => return Some("service".into()),
            "region" => return Some("region".into()),
            "account" => return Some("account".into()),
            "instance" if after.is_some_and(|a| a.lower == "type" || a.lower == "types") => {
                return Some("instance_type".into());
            }
            "usage" if after.is_some_and(|a| a.lower == "type" || a.lower == "types") => {
                return Some("usage_type".into());
            }
            "tag" => {
                if let Some(key) = after.filter(|a| name_like(a, ":/+@=")) {
                    return Some(format!("tag:{}", key.orig));
                }
            }
            _ => {
                // "by Team tag"
                if after.is_some_and(|a| a.lower == "tag") && name_like(next, ":/+@") {
                    return Some(format!("tag:{}", next.orig));
                }
            }
        }
    }
    None
}

/// "run df -h on the web servers" → "df -h".
pub(super) fn unquoted_command(tokens: &[Token<'_>]) -> Option<String> {
    let words: Vec<&str> = tokens[command_span(tokens)?]
        .iter()
        .map(|t| t.orig)
        .collect();
    let cmd = words.join(" ");
    let cmd = cmd.trim_start_matches("the command").trim();
    let cmd = cmd.strip_prefix("command").unwrap_or(cmd).trim();
    (!cmd.is_empty()
        && words
            .iter()
            .any(|w| !matches!(w.to_lowercase().as_str(), "ssm" | "shell" | "script" | "a")))
    .then(|| cmd.to_string())
}

/// The tokens after "run" up to where the targets start: a command, not words to read.
pub(super) fn command_span(tokens: &[Token<'_>]) -> Option<std::ops::Range<usize>> {
    let start = tokens
        .iter()
        .position(|t| t.has(|c| matches!(c, Cue::Verb(Verb::Run))))?
        + 1;
    let len = tokens[start..]
        .iter()
        .take_while(|t| !matches!(t.lower.as_str(), "on" | "across" | "against" | "in" | "for"))
        .count();
    Some(start..start + len)
}

/// The count a request states and where: as written, so the range check can refuse a
/// negative or endless one rather than it falling back to one.
pub(super) fn find_count(
    tokens: &[Token<'_>],
    f: &Features,
    window_used: &[bool],
) -> Option<(Value, usize)> {
    let countable = |t: &Token<'_>| {
        t.noun(Noun::Instance)
            || t.noun(Noun::Bucket)
            || t.noun(Noun::Volume)
            || t.noun(Noun::Database)
            || t.noun(Noun::Function)
            || t.noun(Noun::LoadBalancer)
    };
    // "scale the web tier to 6"
    if f.verb(Verb::Scale) {
        for (i, t) in tokens.iter().enumerate() {
            if t.lower == "to"
                && let Some(n) = tokens.get(i + 1).and_then(Token::stated_value)
            {
                return Some((n, i + 1));
            }
        }
    }
    for (i, t) in tokens.iter().enumerate() {
        if window_used[i] {
            continue;
        }
        let Some(n) = t.stated_value() else { continue };
        // "3 x t3.medium" and "3 t3.medium instances"
        for next in tokens[i + 1..].iter().take(4) {
            if countable(next) || matches!(next.kind, Kind::InstanceType(_)) {
                return Some((n, i));
            }
            let skippable = next.lower == "x"
                || next.is_stop()
                || matches!(next.kind, Kind::Covered | Kind::Unknown)
                || next.has(|c| {
                    matches!(
                        c,
                        Cue::Env(_) | Cue::Service(_) | Cue::Package | Cue::Verb(Verb::Create)
                    )
                });
            if !skippable || next.stated().is_some() || next.unit().is_some() {
                break;
            }
        }
    }
    None
}
