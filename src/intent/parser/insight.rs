//! Parameters the security, monitor and ml agents read: security group ids and ports to close,
//! what a scan covers, key age, log groups and severities, statistics and alarm thresholds,
//! SageMaker endpoints and S3 prefixes. Only keys the general extractor left unset are added.

use super::features::Features;
use super::names::{name_like, name_near};
use super::tokens::{Kind, Token};
use crate::intent::lexicon::{Cue, Noun};
use crate::intent::{AgentKind, Comparison, LogLevel, Params, ScanScope, TextModel};

pub(super) fn add(tokens: &[Token<'_>], f: &Features, agent: AgentKind, p: &mut Params) {
    match agent {
        AgentKind::Security => security(tokens, f, p),
        AgentKind::Monitor => monitor(tokens, f, p),
        AgentKind::Ml => ml(tokens, p),
        _ => {}
    }
}

fn security(tokens: &[Token<'_>], f: &Features, p: &mut Params) {
    let groups: Vec<String> = tokens
        .iter()
        .filter(|t| is_security_group_id(&t.lower))
        .map(|t| t.lower.clone())
        .collect();
    if p.security_groups.is_empty() {
        p.security_groups = groups.clone();
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
        p.cidr.get_or_insert_with(|| c.lower.clone());
    }
    ports.sort_unstable();
    ports.dedup();
    if p.ports.is_empty() {
        p.ports = ports.clone();
    }
    if f.noun(Noun::Encryption) {
        p.encryption.get_or_insert(true);
    }
    // What a scan covers: only what the request names; nothing named means everything.
    let mut scope: Vec<ScanScope> = Vec::new();
    if f.noun(Noun::Bucket) || f.noun(Noun::Encryption) || p.service.as_deref() == Some("S3") {
        scope.push(ScanScope::S3);
    }
    if f.noun(Noun::SecurityGroup)
        || !groups.is_empty()
        || !ports.is_empty()
        || tokens
            .iter()
            .any(|t| t.lower.contains("0.0.0.0/0") || t.lower == "::/0")
    {
        scope.push(ScanScope::Ec2);
    }
    if f.noun(Noun::Iam) || f.noun(Noun::Mfa) || f.noun(Noun::AccessKeys) || f.noun(Noun::Root) {
        scope.push(ScanScope::Iam);
    }
    if p.scope.is_empty() {
        p.scope = scope;
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
        p.older_than_days.get_or_insert(days);
        break;
    }
}

fn monitor(tokens: &[Token<'_>], f: &Features, p: &mut Params) {
    if let Some(group) = tokens
        .iter()
        .find(|t| t.orig.starts_with('/') && t.orig.len() > 1 && !t.orig.contains("//"))
    {
        p.log_group.get_or_insert_with(|| group.orig.to_string());
    }
    if f.noun(Noun::Errors) {
        p.level.get_or_insert(LogLevel::Error);
    }
    // "error rate of my-func", "duration metrics for resize-images": a hyphenated name after
    // "of"/"for" in a question about a function's numbers is the function, when no instance,
    // bucket or load balancer is what is asked about.
    let about_function = p.service.as_deref() == Some("Lambda")
        || (f.noun(Noun::Errors) || f.noun(Noun::Metric))
            && !f.noun(Noun::Instance)
            && !f.noun(Noun::Bucket)
            && !f.noun(Noun::LoadBalancer)
            && !f.noun(Noun::Database)
            && !f.instance_ids;
    if p.function.is_none() && about_function {
        p.function = tokens.windows(2).find_map(|w| {
            (matches!(w[0].lower.as_str(), "of" | "for")
                && matches!(w[1].kind, Kind::Unknown)
                && name_like(&w[1], "")
                && (w[1].lower.contains('-') || w[1].lower.contains('_')))
            .then(|| w[1].orig.to_string())
        });
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
            p.stat.get_or_insert(s);
            break;
        }
    }
    if f.noun(Noun::LoadBalancer)
        && let Some(name) = name_near(tokens, |t| t.noun(Noun::LoadBalancer), "", true)
    {
        p.load_balancer_name.get_or_insert(name);
    }
    if let Some(arn) = tokens.iter().find(|t| t.lower.starts_with("arn:aws:sns:")) {
        p.sns_topic.get_or_insert_with(|| arn.orig.to_string());
    }
    // "above 80%", "over 500 ms", "greater than 5", "below 10"
    for (i, t) in tokens.iter().enumerate() {
        let (comparison, skip) = match t.lower.as_str() {
            "above" | "over" | "exceeds" | "exceed" | "exceeding" | ">" => {
                (Comparison::GreaterThanThreshold, 1)
            }
            ">=" => (Comparison::GreaterThanOrEqualToThreshold, 1),
            "greater" | "more" | "higher" if next_is(tokens, i, "than") => {
                (Comparison::GreaterThanThreshold, 2)
            }
            "below" | "under" | "<" => (Comparison::LessThanThreshold, 1),
            "less" | "lower" | "fewer" if next_is(tokens, i, "than") => {
                (Comparison::LessThanThreshold, 2)
            }
            _ => continue,
        };
        if let Some(v) = tokens.get(i + skip).and_then(|x| threshold(x.orig)) {
            p.threshold.get_or_insert(v);
            p.comparison.get_or_insert(comparison);
            break;
        }
    }
}

fn ml(tokens: &[Token<'_>], p: &mut Params) {
    // Naming Bedrock (or a model id) is what allows text to be sent to a model.
    if tokens
        .iter()
        .any(|t| t.has(|c| matches!(c, Cue::Service("Bedrock"))))
    {
        p.model.get_or_insert(TextModel::Bedrock);
    }
    if let Some(id) = tokens.iter().find(|t| is_model_id(&t.lower)) {
        p.model.get_or_insert(TextModel::Bedrock);
        p.model_id.get_or_insert_with(|| id.orig.to_string());
    }
    if let Some(name) = name_near(
        tokens,
        |t| t.noun(Noun::Endpoint) && t.lower != "sagemaker" && t.lower != "inference",
        "",
        true,
    ) {
        p.endpoint.get_or_insert(name);
    }
    // "under prefix reviews/2024/", "in folder feedback/"
    for (i, t) in tokens.iter().enumerate() {
        if matches!(t.lower.as_str(), "prefix" | "folder" | "path" | "directory")
            && let Some(next) = tokens.get(i + 1)
            && name_like(next, "/=")
            && !matches!(next.kind, Kind::Known { .. })
        {
            p.prefix.get_or_insert_with(|| next.orig.to_string());
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
    use crate::intent::{AgentKind, Comparison, LogLevel, ScanScope, TextModel, parse};

    #[test]
    fn security_targets_and_scope() {
        let i = parse("revoke ssh from 0.0.0.0/0 on sg-0123abcd").unwrap();
        assert_eq!(i.agent, AgentKind::Security);
        assert_eq!(i.action, "remediate");
        assert_eq!(i.params.security_groups, ["sg-0123abcd"]);
        assert_eq!(i.params.ports, [22]);
        let i = parse("Scan all S3 buckets for public access").unwrap();
        assert_eq!(i.params.scope, [ScanScope::S3]);
        let i = parse("list IAM access keys older than 90 days").unwrap();
        assert_eq!(i.params.older_than_days, Some(90));
        assert_eq!(i.params.scope, [ScanScope::Iam]);
    }

    #[test]
    fn monitor_statistics_thresholds_and_groups() {
        let i = parse("create an alarm when CPU of i-0123456789abcdef0 is above 80%").unwrap();
        assert_eq!(i.agent, AgentKind::Monitor);
        assert_eq!(i.action, "create_alarm");
        assert_eq!(i.params.threshold, Some(80.0));
        assert_eq!(i.params.comparison, Some(Comparison::GreaterThanThreshold));
        let i = parse("p99 latency of ALB my-alb last 24h").unwrap();
        assert_eq!(i.params.stat.as_deref(), Some("p99"));
        assert_eq!(i.params.load_balancer_name.as_deref(), Some("my-alb"));
        let i = parse("show error logs in /ecs/checkout for the last 1h").unwrap();
        assert_eq!(i.params.log_group.as_deref(), Some("/ecs/checkout"));
        assert_eq!(i.params.level, Some(LogLevel::Error));
    }

    #[test]
    fn ml_endpoints_and_prefixes() {
        let i = parse("invoke sagemaker endpoint churn-model with '1,2,3'").unwrap();
        assert_eq!(i.params.endpoint.as_deref(), Some("churn-model"));
        let i = parse("summarize the feedback in bucket fb with Bedrock").unwrap();
        assert_eq!(i.params.model, Some(TextModel::Bedrock));
        assert_eq!(i.params.bucket.as_deref(), Some("fb"));
        let i = parse("extract key phrases from bucket reviews-bkt prefix 2024/march/").unwrap();
        assert_eq!(i.params.prefix.as_deref(), Some("2024/march/"));
    }
}
