//! Parameters every agent reads: windows, tags, ids, instance types, regions, packages,
//! services, environments, names after nouns, commands, cost groupings and the instance count.
//! Infrastructure settings are read in `infra`, the security, monitor and ml keys in `insight`.

use super::features::{Features, sized_setting};
use super::names::{FUNCTION_WORDS, name_like, name_near};
use super::shapes::runtime_for_language;
use super::tokens::{Kind, Token};
use super::{infra, insight, stated};
use crate::intent::lexicon::{Cue, LEXICON, Noun, Verb};
use crate::intent::{AgentKind, Environment, IntentError, Params, Tags};

pub(super) fn extract_params(
    tokens: &[Token<'_>],
    f: &Features,
    quoted: Option<&str>,
    agent: AgentKind,
) -> Result<(Params, Option<String>), IntentError> {
    let mut p = Params::default();
    let mut tags = Tags::default();
    let mut ids: Vec<String> = Vec::new();
    let mut volume_ids: Vec<String> = Vec::new();
    let mut packages: Vec<String> = Vec::new();
    let mut window_used = vec![false; tokens.len()];

    // Windows first, so their numbers are not taken for counts.
    if let Some((w, at)) = stated::window(tokens)? {
        p.window = Some(w);
        window_used[at].iter_mut().for_each(|u| *u = true);
    }
    stated::refuse_impossible_times(tokens)?;

    let mut service: Option<&'static str> = None;
    let mut env: Option<Environment> = None;
    for (i, t) in tokens.iter().enumerate() {
        match &t.kind {
            Kind::Tag(k, v) => {
                tags.insert(k, v);
            }
            Kind::InstanceId(id) => ids.push(id.clone()),
            Kind::VolumeId(id) => volume_ids.push(id.clone()),
            Kind::InstanceType(it) => {
                p.instance_type.get_or_insert_with(|| it.clone());
                service.get_or_insert("EC2");
            }
            Kind::Region(code) => {
                p.region.get_or_insert_with(|| code.to_string());
            }
            Kind::UnknownRegion(word) => return Err(crate::intent::regions::unknown(word)),
            Kind::S3Uri { bucket, prefix } => {
                p.bucket.get_or_insert_with(|| bucket.clone());
                if let Some(prefix) = prefix {
                    p.prefix.get_or_insert_with(|| prefix.clone());
                }
                service.get_or_insert("S3");
            }
            Kind::Known { cues, .. } => {
                for c in cues {
                    match c {
                        Cue::Region(code) => {
                            p.region.get_or_insert_with(|| code.to_string());
                        }
                        Cue::Env(e) => {
                            env.get_or_insert(*e);
                        }
                        Cue::Package if f.package_is_setting(t) => {
                            let name = t.corrected.unwrap_or(t.lower.as_str());
                            if let Some(r) = runtime_for_language(name)
                                && f.runtime_context
                            {
                                p.runtime.get_or_insert_with(|| r.to_string());
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
                            if let Some(r) = runtime_for_language("nodejs") {
                                p.runtime.get_or_insert_with(|| r.to_string());
                            }
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
                            p.granularity.get_or_insert(*g);
                        }
                        Cue::Lb(kind) => {
                            p.load_balancer.get_or_insert(*kind);
                        }
                        Cue::Metric(m) if !sized_setting(tokens, i) => {
                            p.metric.get_or_insert_with(|| m.to_string());
                        }
                        Cue::Severity(s)
                            if f.noun(Noun::Findings) || f.noun(Noun::ThreatService) =>
                        {
                            p.severity.get_or_insert_with(|| s.to_string());
                        }
                        Cue::Engine(e) if f.noun(Noun::Database) => {
                            p.engine.get_or_insert(*e);
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
    let stated = find_count(tokens, f, &used);
    let count_at = stated.as_ref().map(|(_, at)| *at);
    let mut impossible_count = None;
    match stated.map(|(count, _)| count) {
        Some(Ok(n)) => p.count = Some(n),
        Some(Err(written)) => impossible_count = Some(written),
        None => {}
    }
    stated::refuse_stray_numbers(tokens, agent, count_at, command)?;
    if !tags.is_empty() {
        if env.is_none() {
            for (k, v) in &tags {
                if matches!(
                    k.to_lowercase().as_str(),
                    "env" | "environment" | "stage" | "tier"
                ) && let Some(cues) = LEXICON.words.get(v.to_lowercase().as_str())
                {
                    env = cues.iter().find_map(|c| match c {
                        Cue::Env(e) => Some(*e),
                        _ => None,
                    });
                }
            }
        }
        p.tags = tags;
    }
    p.environment = env;
    p.instance_ids = ids;
    p.volume_ids = volume_ids;
    p.packages = packages;
    if let Some(s) = service {
        p.service = Some(s.to_string());
    }
    if p.bucket.is_none()
        && let Some(b) = name_near(
            tokens,
            |t| t.noun(Noun::Bucket) && t.lower != "s3",
            "",
            true,
        )
    {
        p.bucket = Some(b.to_lowercase());
    }
    if let Some(func) = name_near(
        tokens,
        |t| t.noun(Noun::Function) || t.lower == "lambda",
        "",
        true,
    ) {
        p.function = Some(func);
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
        p.secret = Some(secret);
    }
    if let Some(stack) = name_near(tokens, |t| t.noun(Noun::Stack), "", false) {
        let stack = stack.to_lowercase();
        if !matches!(stack.as_str(), "auto" | "scaling") {
            p.stack = Some(stack);
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
                p.name = Some(name.orig.to_string());
            }
            if let Some(cmd) = quoted
                .map(str::to_string)
                .or_else(|| unquoted_command(tokens))
            {
                p.command = Some(cmd);
            }
        }
        _ => {
            if agent == AgentKind::Cost
                && let Some(g) = group_by(tokens)
            {
                p.group_by = Some(g);
            }
            if let Some(text) = quoted {
                p.text = Some(text.to_string());
            }
        }
    }
    insight::add(tokens, f, agent, &mut p);
    Ok((p, impossible_count))
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

/// The count a request states and where: a whole number, or as written when no count can be
/// it, so the range check can refuse a negative or endless one rather than it falling back to
/// one.
pub(super) fn find_count(
    tokens: &[Token<'_>],
    f: &Features,
    window_used: &[bool],
) -> Option<(Result<u64, String>, usize)> {
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
                && let Some(n) = tokens.get(i + 1).and_then(Token::stated_count)
            {
                return Some((n, i + 1));
            }
        }
    }
    for (i, t) in tokens.iter().enumerate() {
        if window_used[i] {
            continue;
        }
        let Some(n) = t.stated_count() else { continue };
        // "3 x t3.medium" and "3 t3.medium instances"
        for next in tokens[i + 1..].iter().take(4) {
            if countable(next) || matches!(next.kind, Kind::InstanceType(_)) {
                return Some((n, i));
            }
            // "3 medium instances", "2 more nodes": a size or quantity word between.
            let skippable = next.lower == "x"
                || matches!(
                    next.lower.as_str(),
                    "small" | "medium" | "large" | "xlarge" | "micro" | "nano" | "more" | "extra"
                )
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
