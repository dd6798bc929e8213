//! Parameters the security, monitor and ml agents read: security group ids and ports to close,
//! what a scan covers, key age, log groups and severities, statistics and alarm thresholds,
//! SageMaker endpoints and S3 prefixes. Only keys the general extractor left unset are added.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::features::Features;
use super::names::{name_like, name_near};
use super::tokens::{Kind, Token};
use crate::intent::AgentKind;
use crate::intent::lexicon::{Cue, Noun};

pub(super) fn add(
    tokens: &[Token<'_>],
    f: &Features,
    agent: AgentKind,
    p: &mut BTreeMap<String, Value>,
) {
    match agent {
        AgentKind::Security => security(tokens, f, p),
        AgentKind::Monitor => monitor(tokens, f, p),
        AgentKind::Ml => ml(tokens, p),
        _ => {}
    }
}

fn security(tokens: &[Token<'_>], f: &Features, p: &mut BTreeMap<String, Value>) {
    let groups: Vec<String> = tokens
        .iter()
        .filter(|t| is_security_group_id(&t.lower))
        .map(|t| t.lower.clone())
        .collect();
    if !groups.is_empty() {
        p.entry("security_groups".into()).or_insert(json!(groups));
    }
    let mut ports: Vec<u64> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.lower.as_str() {
            "ssh" => ports.push(22),
            "rdp" => ports.push(3389),
            "port" | "ports" => {
                for next in &tokens[i + 1..] {
                    // Every number named as a port, so the range check refuses port 70000
                    // rather than it being dropped.
                    match next.number() {
                        Some(n) => ports.push(n),
                        _ if next.lower == "and" => {}
                        _ => break,
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(c) = tokens
        .iter()
        .find(|t| matches!(t.lower.as_str(), "0.0.0.0/0" | "::/0"))
    {
        p.entry("cidr".into()).or_insert(json!(c.lower));
    }
    ports.sort_unstable();
    ports.dedup();
    if !ports.is_empty() {
        p.entry("ports".into()).or_insert(json!(ports));
    }
    if f.noun(Noun::Encryption) {
        p.entry("encryption".into()).or_insert(json!(true));
    }
    // What a scan covers: only what the request names; nothing named means everything.
    let mut scope: Vec<&str> = Vec::new();
    let service = p.get("service").and_then(Value::as_str).unwrap_or_default();
    if f.noun(Noun::Bucket) || f.noun(Noun::Encryption) || service == "S3" {
        scope.push("s3");
    }
    if f.noun(Noun::SecurityGroup)
        || !groups.is_empty()
        || !ports.is_empty()
        || tokens
            .iter()
            .any(|t| t.lower.contains("0.0.0.0/0") || t.lower == "::/0")
    {
        scope.push("ec2");
    }
    if f.noun(Noun::Iam) || f.noun(Noun::Mfa) || f.noun(Noun::AccessKeys) || f.noun(Noun::Root) {
        scope.push("iam");
    }
    if !scope.is_empty() {
        p.entry("scope".into()).or_insert(json!(scope));
    }
    // "access keys older than 90 days"
    for (i, t) in tokens.iter().enumerate() {
        if t.lower != "than"
            || !matches!(tokens.get(i.wrapping_sub(1)), Some(x) if x.lower == "older")
        {
            continue;
        }
        let (n, unit) = match (&tokens.get(i + 1).map(|x| &x.kind), tokens.get(i + 1)) {
            (Some(Kind::CompactWindow(n, unit)), _) => (*n, Some(*unit)),
            (_, Some(x)) => match x.number() {
                Some(n) => (n, tokens.get(i + 2).and_then(Token::unit)),
                None => continue,
            },
            _ => continue,
        };
        // Days, as keys age; an absurd number stays absurd (and out of range), never wraps.
        let days = match unit {
            Some(u) => n.saturating_mul(u.secs()) / 86_400,
            None => n,
        };
        p.entry("older_than_days".into()).or_insert(json!(days));
        break;
    }
}

fn monitor(tokens: &[Token<'_>], f: &Features, p: &mut BTreeMap<String, Value>) {
    if let Some(group) = tokens
        .iter()
        .find(|t| t.orig.starts_with('/') && t.orig.len() > 1 && !t.orig.contains("//"))
    {
        p.entry("log_group".into()).or_insert(json!(group.orig));
    }
    if f.noun(Noun::Errors) {
        p.entry("level".into()).or_insert(json!("error"));
    }
    for t in tokens {
        let stat = match t.lower.as_str() {
            s if is_percentile(s) => Some(s.to_string()),
            "average" | "avg" | "mean" => Some("Average".into()),
            "max" | "maximum" | "peak" => Some("Maximum".into()),
            "min" | "minimum" => Some("Minimum".into()),
            "sum" | "total" => Some("Sum".into()),
            _ => None,
        };
        if let Some(s) = stat {
            p.entry("stat".into()).or_insert(json!(s));
            break;
        }
    }
    if f.noun(Noun::LoadBalancer)
        && let Some(name) = name_near(tokens, |t| t.noun(Noun::LoadBalancer), "", true)
    {
        p.entry("load_balancer_name".into()).or_insert(json!(name));
    }
    if let Some(arn) = tokens.iter().find(|t| t.lower.starts_with("arn:aws:sns:")) {
        p.entry("sns_topic".into()).or_insert(json!(arn.orig));
    }
    // "above 80%", "over 500 ms", "greater than 5", "below 10"
    for (i, t) in tokens.iter().enumerate() {
        let (comparison, skip) = match t.lower.as_str() {
            "above" | "over" | "exceeds" | "exceed" | "exceeding" | ">" => {
                ("GreaterThanThreshold", 1)
            }
            ">=" => ("GreaterThanOrEqualToThreshold", 1),
            "greater" | "more" | "higher" if next_is(tokens, i, "than") => {
                ("GreaterThanThreshold", 2)
            }
            "below" | "under" | "<" => ("LessThanThreshold", 1),
            "less" | "lower" | "fewer" if next_is(tokens, i, "than") => ("LessThanThreshold", 2),
            _ => continue,
        };
        if let Some(v) = tokens.get(i + skip).and_then(|x| threshold(x.orig)) {
            p.entry("threshold".into()).or_insert(json!(v));
            p.entry("comparison".into()).or_insert(json!(comparison));
            break;
        }
    }
}

fn ml(tokens: &[Token<'_>], p: &mut BTreeMap<String, Value>) {
    // Naming Bedrock (or a model id) is what allows text to be sent to a model.
    if tokens
        .iter()
        .any(|t| t.has(|c| matches!(c, Cue::Service("Bedrock"))))
    {
        p.entry("model".into()).or_insert(json!("bedrock"));
    }
    if let Some(id) = tokens.iter().find(|t| is_model_id(&t.lower)) {
        p.entry("model".into()).or_insert(json!("bedrock"));
        p.entry("model_id".into()).or_insert(json!(id.orig));
    }
    if let Some(name) = name_near(
        tokens,
        |t| t.noun(Noun::Endpoint) && t.lower != "sagemaker" && t.lower != "inference",
        "",
        true,
    ) {
        p.entry("endpoint".into()).or_insert(json!(name));
    }
    // "under prefix reviews/2024/", "in folder feedback/"
    for (i, t) in tokens.iter().enumerate() {
        if matches!(t.lower.as_str(), "prefix" | "folder" | "path" | "directory")
            && let Some(next) = tokens.get(i + 1)
            && name_like(next, "/=")
            && !matches!(next.kind, Kind::Known { .. })
        {
            p.entry("prefix".into()).or_insert(json!(next.orig));
            break;
        }
    }
}

fn next_is(tokens: &[Token<'_>], i: usize, word: &str) -> bool {
    tokens.get(i + 1).is_some_and(|t| t.lower == word)
}

/// `80`, `80%`, `0.5`, `500ms` → the number.
fn threshold(s: &str) -> Option<f64> {
    let s = s.trim_end_matches('%');
    let s = s
        .strip_suffix("ms")
        .or_else(|| s.strip_suffix('s'))
        .unwrap_or(s);
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn is_percentile(s: &str) -> bool {
    s.strip_prefix('p').is_some_and(|n| {
        !n.is_empty()
            && n.len() <= 5
            && n.parse::<f64>().is_ok_and(|v| v > 0.0 && v < 100.0)
            && n.bytes().next().is_some_and(|b| b.is_ascii_digit())
    })
}

/// `anthropic.claude-3-haiku-20240307-v1:0`, `amazon.titan-text-express-v1`,
/// `us.anthropic.claude-...` (inference profiles).
fn is_model_id(s: &str) -> bool {
    let s = ["us.", "eu.", "apac.", "global."]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    [
        "anthropic.",
        "amazon.",
        "meta.",
        "mistral.",
        "cohere.",
        "ai21.",
        "deepseek.",
    ]
    .iter()
    .any(|p| s.strip_prefix(p).is_some_and(|rest| rest.len() > 2))
}

pub(super) fn is_security_group_id(s: &str) -> bool {
    s.strip_prefix("sg-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use crate::intent::{AgentKind, parse};
    use serde_json::json;

    #[test]
    fn security_targets_and_scope() {
        let i = parse("revoke ssh from 0.0.0.0/0 on sg-0123abcd").unwrap();
        assert_eq!(i.agent, AgentKind::Security);
        assert_eq!(i.action, "remediate");
        assert_eq!(i.params["security_groups"], json!(["sg-0123abcd"]));
        assert_eq!(i.params["ports"], json!([22]));
        let i = parse("Scan all S3 buckets for public access").unwrap();
        assert_eq!(i.params["scope"], json!(["s3"]));
        let i = parse("list IAM access keys older than 90 days").unwrap();
        assert_eq!(i.params["older_than_days"], json!(90));
        assert_eq!(i.params["scope"], json!(["iam"]));
    }

    #[test]
    fn monitor_statistics_thresholds_and_groups() {
        let i = parse("create an alarm when CPU of i-0123456789abcdef0 is above 80%").unwrap();
        assert_eq!(i.agent, AgentKind::Monitor);
        assert_eq!(i.action, "create_alarm");
        assert_eq!(i.params["threshold"], json!(80.0));
        assert_eq!(i.params["comparison"], json!("GreaterThanThreshold"));
        let i = parse("p99 latency of ALB my-alb last 24h").unwrap();
        assert_eq!(i.params["stat"], json!("p99"));
        assert_eq!(i.params["load_balancer_name"], json!("my-alb"));
        let i = parse("show error logs in /ecs/checkout for the last 1h").unwrap();
        assert_eq!(i.params["log_group"], json!("/ecs/checkout"));
        assert_eq!(i.params["level"], json!("error"));
    }

    #[test]
    fn ml_endpoints_and_prefixes() {
        let i = parse("invoke sagemaker endpoint churn-model with '1,2,3'").unwrap();
        assert_eq!(i.params["endpoint"], json!("churn-model"));
        let i = parse("summarize the feedback in bucket fb with Bedrock").unwrap();
        assert_eq!(i.params["model"], json!("bedrock"));
        assert_eq!(i.params["bucket"], json!("fb"));
        let i = parse("extract key phrases from bucket reviews-bkt prefix 2024/march/").unwrap();
        assert_eq!(i.params["prefix"], json!("2024/march/"));
    }
}
