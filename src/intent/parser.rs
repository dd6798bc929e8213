//! The offline intent parser: tokens → meanings → agent scores → action and parameters.
//!
//! Deterministic and allocation-light: a request is a handful of tokens, each looked up once in
//! the lexicon (phrases first, then words, then inflections, then typo correction).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::lexicon::{Cue, LEXICON, Noun, Verb};
use super::ranges::{Limits, check};
use super::regions;
use super::typo::{allowed_edits, osa_within};
use super::words::{Spelled, Unit, compact_duration, spelled_number};
use super::{AgentKind, Evidence, Intent, IntentError, LOW_CONFIDENCE};

mod insight;
mod stated;

const MAX_LEN: usize = 4000;

/// What one token turned out to be.
#[derive(Debug, Clone)]
enum Kind {
    /// Lexicon cues (a phrase's first token; the rest of the phrase is `Covered`).
    Known {
        cues: Vec<Cue>,
    },
    Tag(String, String),
    InstanceId(String),
    VolumeId(String),
    InstanceType(String),
    Region(&'static str),
    /// A word written like a region code that names no region (`us-east-99`).
    UnknownRegion(String),
    Number(u64),
    /// A negative number (`-3`), by its magnitude: never a count, size or duration.
    Negative(u64),
    /// A number beyond 64 bits, in digits or words, as written.
    TooLarge(String),
    /// `24h`, `2w`, `0h`: a number and its unit, whether or not a window can be that long.
    CompactWindow(u64, Unit),
    /// A time of day as written (`03:00`, `3pm`, `25:00`).
    Clock(String),
    S3Uri {
        bucket: String,
        prefix: Option<String>,
    },
    /// An IPv4 range such as `10.20.0.0/16`.
    Cidr(String),
    /// `subnet-…`, `vpc-…`, or an ARN: the parameter it fills and the value.
    Id(&'static str, String),
    /// A Lambda runtime identifier (`python3.12`, `nodejs22.x`).
    Runtime(String),
    /// A size in MiB written in one token (`512mb`, `100gb`).
    Size(u64),
    /// A duration in seconds written in one token (`30s`).
    Seconds(u64),
    Covered,
    Unknown,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    orig: &'a str,
    lower: String,
    kind: Kind,
    corrected: Option<&'static str>,
}

impl Token<'_> {
    fn cues(&self) -> &[Cue] {
        match &self.kind {
            Kind::Known { cues, .. } => cues,
            _ => &[],
        }
    }
    fn has(&self, pred: impl Fn(&Cue) -> bool) -> bool {
        self.cues().iter().any(pred)
    }
    fn noun(&self, n: Noun) -> bool {
        self.has(|c| *c == Cue::Noun(n))
    }
    fn is_stop(&self) -> bool {
        self.has(|c| matches!(c, Cue::Stop))
    }
    fn number(&self) -> Option<u64> {
        match &self.kind {
            Kind::Number(n) => Some(*n),
            Kind::Known { cues, .. } => cues.iter().find_map(|c| match c {
                Cue::Number(n) => Some(*n),
                _ => None,
            }),
            _ => None,
        }
    }
    fn unit(&self) -> Option<Unit> {
        self.cues().iter().find_map(|c| match c {
            Cue::Unit(u) => Some(*u),
            _ => None,
        })
    }
}

/// Classifies one request, holding its values to the ranges any tenant may allow (no tenant
/// is known here; [`parse_with`] takes one's limits). Never touches the network.
pub fn parse(text: &str) -> Result<Intent, IntentError> {
    parse_with(text, &Limits::any_tenant())
}

/// Classifies one request and refuses values out of the ranges `limits` allow.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Intent, IntentError> {
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
    let scores = score(&f, &tokens);
    let mut ranked: Vec<(AgentKind, f64)> = AgentKind::ALL.iter().copied().zip(scores).collect();
    // Stable order on ties: the declaration order of AgentKind.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (agent, top) = ranked[0];
    let second = ranked[1].1;
    if top < 0.75 {
        return Err(IntentError::Unrecognised(trimmed.to_string()));
    }

    let action = choose_action(agent, &f, &tokens);
    let mut params = extract_params(&tokens, &f, command.as_deref(), agent)?;
    if agent == AgentKind::Infra && matches!(action, "create" | "scale") {
        stated::refuse_vague_count(&tokens)?;
    }
    notes.extend(stated::unused_times(&tokens));
    match agent {
        AgentKind::Ops => {
            params.insert("action".into(), json!(action));
        }
        AgentKind::Security if action == "scan" => {
            params.insert("action".into(), json!("scan"));
        }
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
    };
    check(&intent, limits)?;
    Ok(intent)
}

/// The parameters a text states, read as if for `agent`, without classifying it (follow-ups).
/// An error when a value can be no value at all (an unknown region, an impossible window); the
/// caller checks the refined reading's ranges.
pub fn params_only(
    text: &str,
    agent: AgentKind,
) -> Result<(BTreeMap<String, Value>, Vec<Evidence>), IntentError> {
    let (command, rest) = quoted_command(text.trim());
    let mut tokens = tokenize(&rest);
    let mut notes = Vec::new();
    classify_tokens(&mut tokens, &mut notes);
    let f = Features::collect(&tokens, command.is_some());
    Ok((
        extract_params(&tokens, &f, command.as_deref(), agent)?,
        evidence(&tokens),
    ))
}

/// Pulls a command written in backticks or quotes out of the text, so its words
/// are never read as instructions to us.
fn quoted_command(text: &str) -> (Option<String>, String) {
    for q in ['`', '"', '\''] {
        if let Some(start) = text.find(q)
            && let Some(len) = text[start + 1..].find(q)
        {
            let inner = text[start + 1..start + 1 + len].trim();
            // An apostrophe inside a word ("team's") is not a quote.
            let word_before = text[..start]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric());
            if !(inner.is_empty() || q == '\'' && word_before) {
                let rest = format!("{} __cmd__ {}", &text[..start], &text[start + 2 + len..]);
                return (Some(inner.to_string()), rest);
            }
        }
    }
    (None, text.to_string())
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter_map(|raw| {
            let t = raw.trim_matches(|c: char| "\"'()[]{}<>".contains(c));
            let t = t.trim_end_matches(['.', '?', '!', ':']);
            let t = t.strip_suffix("'s").unwrap_or(t);
            (!t.is_empty()).then(|| Token {
                orig: t,
                lower: t.to_lowercase(),
                kind: Kind::Unknown,
                corrected: None,
            })
        })
        .collect()
}

fn classify_tokens(tokens: &mut [Token<'_>], notes: &mut Vec<String>) {
    let lex = &*LEXICON;
    let mut i = 0;
    while i < tokens.len() {
        // Numbers spelled over several words ("a billion", "three hundred", "2 million").
        let words: Vec<&str> = tokens[i..(i + 8).min(tokens.len())]
            .iter()
            .map(|t| t.lower.as_str())
            .collect();
        if let Some((value, n)) = spelled_number(&words) {
            tokens[i].kind = match value {
                Spelled::Value(v) => Kind::Known {
                    cues: vec![Cue::Number(v)],
                },
                Spelled::TooLarge => Kind::TooLarge(
                    tokens[i..i + n]
                        .iter()
                        .map(|t| t.orig)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            for t in &mut tokens[i + 1..i + n] {
                t.kind = Kind::Covered;
            }
            i += n;
            continue;
        }
        if let Some(kind) = pattern(&tokens[i]) {
            tokens[i].kind = kind;
            i += 1;
            continue;
        }
        let previous = i.checked_sub(1).map(|j| tokens[j].lower.as_str());
        if regions::looks_like_region(&tokens[i].lower, previous) {
            tokens[i].kind = Kind::UnknownRegion(tokens[i].orig.to_string());
            i += 1;
            continue;
        }
        // Phrases, longest first.
        let mut matched = false;
        for n in (2..=lex.max_phrase.min(tokens.len() - i)).rev() {
            let key = tokens[i..i + n]
                .iter()
                .map(|t| t.lower.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(cues) = lex.phrases.get(key.as_str()) {
                tokens[i].kind = Kind::Known { cues: cues.clone() };
                for t in &mut tokens[i + 1..i + n] {
                    t.kind = Kind::Covered;
                }
                i += n;
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        let lower = tokens[i].lower.clone();
        if let Some(cues) = lex.words.get(lower.as_str()) {
            tokens[i].kind = Kind::Known { cues: cues.clone() };
        } else if stated::is_vague(&lower) {
            // "hundreds" is no number, and must not be corrected into "hundred".
        } else if let Some(cues) = inflected(&lower) {
            tokens[i].kind = Kind::Known { cues };
        } else if let Some((word, cues)) = correct_typo(&lower) {
            notes.push(format!("read \"{}\" as \"{}\"", tokens[i].orig, word));
            tokens[i].corrected = Some(word);
            tokens[i].kind = Kind::Known { cues };
        }
        i += 1;
    }
}

/// Tokens recognised by shape rather than by vocabulary.
fn pattern(t: &Token<'_>) -> Option<Kind> {
    let l = t.lower.as_str();
    if let Some(rest) = l.strip_prefix("s3://") {
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) if !p.is_empty() => (b, Some(p.to_string())),
            Some((b, _)) => (b, None),
            None => (rest, None),
        };
        return Some(Kind::S3Uri {
            bucket: bucket.to_string(),
            prefix,
        });
    }
    if let Some((k, v)) = t.orig.split_once('=') {
        let k = k
            .strip_prefix("tag:")
            .or_else(|| k.strip_prefix("Tag:"))
            .unwrap_or(k);
        if !k.is_empty()
            && !v.is_empty()
            && k.chars()
                .all(|c| c.is_alphanumeric() || "_.:/+-@ ".contains(c))
        {
            return Some(Kind::Tag(k.to_string(), v.to_string()));
        }
    }
    if is_instance_id(l) {
        return Some(Kind::InstanceId(l.to_string()));
    }
    if let Some(kind) = infra_pattern(l) {
        return Some(kind);
    }
    if is_volume_id(l) {
        return Some(Kind::VolumeId(l.to_string()));
    }
    if let Some(code) = regions::code(l) {
        return Some(Kind::Region(code));
    }
    if is_instance_type(l) {
        return Some(Kind::InstanceType(l.to_string()));
    }
    // "3", "3x" as in "3x t3.medium", "-3"
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if let Some(n) = Some(l)
        .filter(|l| digits(l))
        .or_else(|| l.strip_suffix('x').filter(|n| digits(n)))
    {
        return Some(
            n.parse()
                .map_or_else(|_| Kind::TooLarge(n.to_string()), Kind::Number),
        );
    }
    if let Some(n) = l.strip_prefix('-').or_else(|| l.strip_prefix('\u{2212}'))
        && digits(n)
    {
        return Some(
            n.parse()
                .map_or_else(|_| Kind::TooLarge(l.to_string()), Kind::Negative),
        );
    }
    if let Some((n, unit)) = compact_duration(l) {
        return Some(Kind::CompactWindow(n, unit));
    }
    if stated::is_clock(l) {
        return Some(Kind::Clock(t.orig.to_string()));
    }
    None
}

/// Shapes only infrastructure requests use: ranges, resource ids, ARNs, runtimes, sizes.
fn infra_pattern(l: &str) -> Option<Kind> {
    if let Some((ip, bits)) = l.split_once('/')
        && ip.parse::<std::net::Ipv4Addr>().is_ok()
        && bits.parse::<u8>().is_ok_and(|b| b <= 32)
    {
        // The whole world keeps its lexicon meaning (public exposure) as well.
        return (l != "0.0.0.0/0").then(|| Kind::Cidr(l.to_string()));
    }
    for (prefix, key) in [("subnet-", "subnet_id"), ("vpc-", "vpc_id")] {
        if let Some(h) = l.strip_prefix(prefix)
            && (h.len() == 8 || h.len() == 17)
            && h.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(Kind::Id(key, l.to_string()));
        }
    }
    if l.starts_with("arn:aws:acm:") {
        return Some(Kind::Id("certificate_arn", l.to_string()));
    }
    if l.starts_with("arn:aws:iam::") && l.contains(":role/") {
        return Some(Kind::Id("role_arn", l.to_string()));
    }
    if let Some(r) = lambda_runtime(l) {
        return Some(Kind::Runtime(r));
    }
    if LEXICON.words.contains_key(l) {
        return None;
    }
    let split = l.find(|c: char| !c.is_ascii_digit()).filter(|i| *i > 0)?;
    let mult = match &l[split..] {
        "mb" | "mib" | "s" | "sec" | "secs" => 1,
        "gb" | "gib" => 1024,
        "tb" | "tib" => 1024 * 1024,
        _ => return None,
    };
    let Some(n) = l[..split]
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
    else {
        return Some(Kind::TooLarge(l.to_string()));
    };
    Some(if l[split..].starts_with('s') {
        Kind::Seconds(n)
    } else {
        Kind::Size(n)
    })
}

/// A Lambda runtime identifier in the forms operators type: `python3.12`, `nodejs22.x`,
/// `node22`, `java21`, `ruby3.3`, `dotnet8`, `provided.al2023`. Whether AWS still offers it
/// is the infra agent's call.
pub(crate) fn lambda_runtime(l: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(v) = l.strip_prefix("python")
        && let Some((major, minor)) = v.split_once('.')
        && major == "3"
        && digits(minor)
    {
        return Some(format!("python3.{minor}"));
    }
    if let Some(v) = l.strip_prefix("nodejs").or_else(|| l.strip_prefix("node")) {
        let v = v.strip_suffix(".x").unwrap_or(v);
        return digits(v).then(|| format!("nodejs{v}.x"));
    }
    if let Some(v) = l.strip_prefix("java") {
        return digits(v).then(|| l.to_string());
    }
    if let Some(v) = l.strip_prefix("ruby")
        && let Some((major, minor)) = v.split_once('.')
        && digits(major)
        && digits(minor)
    {
        return Some(l.to_string());
    }
    if let Some(v) = l.strip_prefix("dotnet") {
        return digits(v).then(|| l.to_string());
    }
    matches!(l, "provided.al2023" | "provided.al2").then(|| l.to_string())
}

/// The runtime a language name stands for when a Lambda function is being created.
fn runtime_for_language(word: &str) -> Option<&'static str> {
    Some(match word {
        "python" | "python3" => "python3.12",
        "nodejs" | "node.js" | "nodejs18" => "nodejs22.x",
        "java" | "openjdk" => "java21",
        "ruby" => "ruby3.3",
        "golang" => "provided.al2023",
        _ => return None,
    })
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_volume_id(s: &str) -> bool {
    s.strip_prefix("vol-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `t3.medium`, `m5.2xlarge`, `c6gn.metal`, `r7i.large`.
fn is_instance_type(s: &str) -> bool {
    let s = s.strip_prefix("db.").unwrap_or(s);
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    let fam_ok = family.len() >= 2
        && family.len() <= 6
        && family.as_bytes()[0].is_ascii_lowercase()
        && family.bytes().any(|b| b.is_ascii_digit())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let size_ok = matches!(
        size,
        "nano" | "micro" | "small" | "medium" | "large" | "xlarge" | "metal"
    ) || size
        .strip_suffix("xlarge")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || size.starts_with("metal-");
    fam_ok && size_ok
}

/// "restarting", "rebooted", "buckets", "creates" → their base word.
fn inflected(w: &str) -> Option<Vec<Cue>> {
    let lex = &*LEXICON;
    let mut candidates: Vec<String> = Vec::new();
    for suffix in ["ing", "ed", "es", "s", "d"] {
        if let Some(stem) = w.strip_suffix(suffix)
            && stem.len() >= 3
        {
            candidates.push(stem.to_string());
            candidates.push(format!("{stem}e"));
            // "stopped" → "stop", "running" → "run"
            let b = stem.as_bytes();
            if b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] {
                candidates.push(stem[..stem.len() - 1].to_string());
            }
        }
    }
    candidates
        .iter()
        .find_map(|c| lex.words.get(c.as_str()))
        .filter(|cues| !cues.iter().all(|c| matches!(c, Cue::Stop)))
        .cloned()
}

fn correct_typo(w: &str) -> Option<(&'static str, Vec<Cue>)> {
    let max = allowed_edits(w.len());
    if max == 0 || !w.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let lex = &*LEXICON;
    let mut best: Option<(usize, &'static str)> = None;
    for cand in lex.typo_targets.get(&w.as_bytes()[0])? {
        // The target must be long enough to deserve the same tolerance.
        let budget = max.min(allowed_edits(cand.len()));
        if let Some(d) = osa_within(w.as_bytes(), cand.as_bytes(), budget)
            && best.is_none_or(|(bd, _)| d < bd)
        {
            best = Some((d, cand));
        }
    }
    let (_, word) = best?;
    lex.words.get(word).map(|c| (word, c.clone()))
}

/// "512 MB of memory" sets a size: it does not ask about the memory metric.
fn sized_setting(tokens: &[Token<'_>], i: usize) -> bool {
    tokens[i].has(|c| matches!(c, Cue::Setting(_)))
        && (i.saturating_sub(2)..(i + 3).min(tokens.len()))
            .filter(|j| *j != i)
            .any(|j| {
                let x = &tokens[j];
                matches!(x.kind, Kind::Size(_) | Kind::Seconds(_))
                    || x.has(|c| matches!(c, Cue::SizeUnit(_) | Cue::Seconds))
                    || (x.number().is_some() && !x.is_stop())
            })
}

/// Everything the scorer and the extractors ask about, gathered in one pass.
#[derive(Default)]
struct Features {
    verbs: Vec<(usize, Verb)>,
    nouns: Vec<(usize, Noun)>,
    has_package: bool,
    /// "postgres" names the engine of a database being created, not a package to install.
    engine_context: bool,
    /// "python" names the runtime of a function being created, not a package to install.
    runtime_context: bool,
    config_verb: bool,
    any_verb: bool,
    instance_type: bool,
    instance_ids: bool,
    volume_ids: bool,
    tags: bool,
    command: bool,
    window: bool,
    granularity: bool,
}

impl Features {
    fn collect(tokens: &[Token<'_>], command: bool) -> Features {
        let mut f = Features {
            command,
            ..Features::default()
        };
        let mut package_tokens = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            match &t.kind {
                Kind::InstanceType(_) => f.instance_type = true,
                Kind::InstanceId(_) => f.instance_ids = true,
                Kind::VolumeId(_) => f.volume_ids = true,
                Kind::Tag(..) => f.tags = true,
                Kind::CompactWindow(..) => f.window = true,
                Kind::Known { cues, .. } => {
                    let sized = sized_setting(tokens, i);
                    for c in cues {
                        match c {
                            Cue::Verb(v) => f.verbs.push((i, *v)),
                            Cue::Noun(_) if sized => {}
                            Cue::Noun(n) => f.nouns.push((i, *n)),
                            Cue::Package => package_tokens.push(i),
                            Cue::Window(_) | Cue::WindowMark => f.window = true,
                            Cue::Granularity(_) => f.granularity = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            if t.lower == "__cmd__" {
                f.command = true;
            }
        }
        f.any_verb = !f.verbs.is_empty();
        f.config_verb = f.verbs.iter().any(|(_, v)| {
            matches!(
                v,
                Verb::Install | Verb::Upgrade | Verb::Uninstall | Verb::Configure | Verb::Harden
            )
        });
        let creates = f.verb(Verb::Create) && !f.config_verb;
        f.engine_context = creates && f.noun(Noun::Database) && !f.noun(Noun::Instance);
        f.runtime_context = creates && f.noun(Noun::Function);
        f.has_package = package_tokens
            .iter()
            .any(|i| !f.package_is_setting(&tokens[*i]));
        f
    }
    /// Whether a package word is really an engine or runtime setting in this request.
    fn package_is_setting(&self, t: &Token<'_>) -> bool {
        let name = t.corrected.unwrap_or(t.lower.as_str());
        (self.engine_context && t.has(|c| matches!(c, Cue::Engine(_))))
            || (self.runtime_context && runtime_for_language(name).is_some())
    }
    fn verb(&self, v: Verb) -> bool {
        self.verbs.iter().any(|(_, x)| *x == v)
    }
    fn noun(&self, n: Noun) -> bool {
        self.nouns.iter().any(|(_, x)| *x == n)
    }
    fn first_verb(&self, among: &[Verb]) -> Option<Verb> {
        self.verbs
            .iter()
            .find(|(_, v)| among.contains(v))
            .map(|(_, v)| *v)
    }
}

// Index of each agent in score arrays: the order of AgentKind::ALL.
const INFRA: usize = 0;
const CONFIG: usize = 1;
const OPS: usize = 2;
const COST: usize = 3;
const SEC: usize = 4;
const MON: usize = 5;
const ML: usize = 6;

fn verb_weights(v: Verb) -> [f64; 7] {
    let mut w = [0.0; 7];
    match v {
        Verb::Create => w[INFRA] = 2.5,
        Verb::Destroy => w[INFRA] = 2.5,
        Verb::Terminate => w[OPS] = 3.0,
        Verb::Scale => w[INFRA] = 3.0,
        Verb::Update => {
            w[INFRA] = 1.0;
            w[CONFIG] = 1.0;
        }
        Verb::Install | Verb::Uninstall | Verb::Harden => w[CONFIG] = 3.0,
        Verb::Upgrade => w[CONFIG] = 2.5,
        Verb::Patch => w[CONFIG] = 3.0,
        Verb::Configure => w[CONFIG] = 2.0,
        Verb::Restart | Verb::Start | Verb::Stop => w[OPS] = 3.0,
        Verb::Rotate | Verb::Snapshot => w[OPS] = 3.0,
        Verb::Run => w[OPS] = 2.0,
        Verb::List => {
            w[OPS] = 0.5;
            w[MON] = 0.4;
            w[SEC] = 0.2;
        }
        Verb::Query => w[COST] = 0.4,
        Verb::Forecast => w[COST] = 3.5,
        Verb::Estimate => w[COST] = 3.0,
        Verb::Optimize => w[COST] = 2.5,
        Verb::Scan => w[SEC] = 3.0,
        Verb::Check => {
            w[SEC] = 1.0;
            w[MON] = 0.5;
        }
        Verb::Remediate => w[SEC] = 2.5,
        Verb::Analyze => {
            w[ML] = 1.5;
            w[MON] = 0.5;
        }
        Verb::Detect => w[ML] = 2.0,
        Verb::Summarize => w[ML] = 3.0,
        Verb::Classify => w[ML] = 2.5,
        Verb::Invoke => w[ML] = 2.5,
        Verb::Alert => w[MON] = 2.5,
    }
    w
}

fn noun_weights(n: Noun) -> [f64; 7] {
    let mut w = [0.0; 7];
    match n {
        Noun::Instance => {
            w[INFRA] = 0.8;
            w[OPS] = 1.2;
            w[CONFIG] = 0.4;
        }
        Noun::Bucket => {
            w[INFRA] = 0.8;
            w[SEC] = 0.8;
            w[ML] = 0.3;
        }
        Noun::LoadBalancer | Noun::Network => w[INFRA] = 2.5,
        Noun::SecurityGroup => {
            w[SEC] = 2.0;
            w[INFRA] = 0.8;
        }
        Noun::Database => w[INFRA] = 1.5,
        Noun::Function => {
            w[MON] = 1.0;
            w[INFRA] = 0.5;
        }
        Noun::Stack => w[INFRA] = 2.0,
        Noun::Volume => {
            w[OPS] = 1.5;
            w[COST] = 0.3;
        }
        Noun::Secret => w[OPS] = 2.0,
        Noun::Command => w[OPS] = 2.0,
        Noun::Logs => w[MON] = 3.0,
        Noun::Errors => w[MON] = 2.5,
        Noun::Metric => w[MON] = 2.5,
        Noun::Alarm => w[MON] = 3.0,
        Noun::Cost => w[COST] = 3.5,
        Noun::CostHint => w[COST] = 1.5,
        Noun::Budget => w[COST] = 3.0,
        Noun::Forecast => w[COST] = 1.0,
        Noun::Savings => w[COST] = 2.0,
        Noun::Findings | Noun::ThreatService => w[SEC] = 3.0,
        Noun::Iam | Noun::Mfa | Noun::AccessKeys | Noun::Root => w[SEC] = 2.5,
        Noun::Public => w[SEC] = 2.0,
        Noun::Encryption => {
            w[SEC] = 1.8;
            w[INFRA] = 0.4;
        }
        Noun::Sentiment | Noun::KeyPhrases | Noun::Pii | Noun::Entities => w[ML] = 3.5,
        Noun::Language => w[ML] = 2.5,
        Noun::Endpoint | Noun::Model => w[ML] = 3.0,
        Noun::Text => w[ML] = 1.5,
        Noun::Tls => w[CONFIG] = 1.5,
        Noun::Ssh => {
            w[CONFIG] = 1.0;
            w[SEC] = 0.5;
        }
        Noun::Patches => w[CONFIG] = 2.0,
        Noun::Users => {
            w[CONFIG] = 0.6;
            w[SEC] = 0.6;
        }
        Noun::MonitoringAgent => w[CONFIG] = 2.0,
        Noun::Software => w[CONFIG] = 1.5,
    }
    w
}

fn score(f: &Features, tokens: &[Token<'_>]) -> [f64; 7] {
    let mut s = [0.0f64; 7];
    let add = |s: &mut [f64; 7], w: [f64; 7]| {
        for (a, b) in s.iter_mut().zip(w) {
            *a += b;
        }
    };
    // A verb repeated ("stop ... then start") counts once per kind.
    let mut seen_verbs: Vec<Verb> = Vec::new();
    for (_, v) in &f.verbs {
        if !seen_verbs.contains(v) {
            seen_verbs.push(*v);
            add(&mut s, verb_weights(*v));
        }
    }
    let mut seen_nouns: Vec<Noun> = Vec::new();
    for (_, n) in &f.nouns {
        if !seen_nouns.contains(n) {
            seen_nouns.push(*n);
            add(&mut s, noun_weights(*n));
        }
    }
    if f.has_package {
        s[CONFIG] += 2.0;
    }
    if f.instance_type {
        s[INFRA] += 1.0;
        s[COST] += 0.2;
    }
    if f.instance_ids || f.volume_ids {
        s[OPS] += 1.5;
    }
    // A quoted string is a command only when something asks to run it; otherwise it is text.
    if f.command && (f.verb(Verb::Run) || f.noun(Noun::Command)) {
        s[OPS] += 2.0;
    }
    if f.granularity {
        s[COST] += 1.5;
    }
    if f.window {
        s[MON] += 0.4;
        s[COST] += 0.4;
    }
    if f.tags {
        s[OPS] += 0.3;
    }
    let count_before_resource = tokens.iter().enumerate().any(|(i, t)| {
        t.number().is_some()
            && tokens[i + 1..]
                .iter()
                .take(3)
                .any(|n| n.noun(Noun::Instance) || n.noun(Noun::Bucket))
    });

    let v = |x: Verb| f.verb(x);
    let n = |x: Noun| f.noun(x);
    let word = |w: &str| tokens.iter().any(|t| t.lower == w);
    // "fire up the stopped boxes" revives machines rather than creating them.
    if v(Verb::Create) && word("stopped") && n(Noun::Instance) {
        s[OPS] += 5.0;
    }
    // "make bucket X private" fixes exposure.
    if word("make") && word("private") {
        s[SEC] += 5.0;
    }
    let infra_noun = n(Noun::LoadBalancer)
        || n(Noun::Network)
        || n(Noun::Stack)
        || n(Noun::Database)
        || n(Noun::SecurityGroup);
    let creates = v(Verb::Create);
    // Local users and sudo on hosts ("add user deploy with sudo on env=dev") are configuration,
    // not IAM and not a new instance.
    let host_users = n(Noun::Users)
        && !n(Noun::Iam)
        && (word("sudo") || word("sudoers") || n(Noun::Instance) || f.tags);
    if host_users {
        s[CONFIG] += 2.5;
    }
    // "patch ... and reboot": the reboot is part of patching.
    if v(Verb::Patch) && v(Verb::Restart) {
        s[CONFIG] += 2.0;
        s[OPS] -= 1.0;
    }

    // Verb–noun pairs: the combination says more than either word alone.
    if creates {
        if n(Noun::Alarm) {
            s[MON] += 3.0;
        } else if n(Noun::Budget) {
            s[COST] += 2.0;
        } else if host_users {
            s[CONFIG] += 2.5;
        } else if n(Noun::Instance)
            || n(Noun::Bucket)
            || infra_noun
            || n(Noun::Function)
            || f.instance_type
        {
            s[INFRA] += 2.5;
        }
    }
    if count_before_resource && !v(Verb::Terminate) && !v(Verb::Restart) {
        s[INFRA] += 1.0;
    }
    if v(Verb::Destroy) {
        if n(Noun::Instance) && !infra_noun && !n(Noun::Bucket) {
            s[OPS] += 3.0;
        } else if n(Noun::Software) || f.has_package {
            s[CONFIG] += 2.5;
        } else {
            s[INFRA] += 1.5;
        }
    }
    if (v(Verb::Restart) || v(Verb::Start) || v(Verb::Stop)) && f.has_package {
        // "restart nginx on the web servers" is a service, managed by Ansible.
        s[CONFIG] += 2.5;
        s[OPS] -= 1.0;
    }
    if v(Verb::Uninstall) && (n(Noun::Instance) && !f.has_package && !n(Noun::Software)) {
        s[OPS] += 2.0;
    }
    if v(Verb::Update) && (f.has_package || n(Noun::Patches)) {
        s[CONFIG] += 2.0;
    }
    if (v(Verb::List) || v(Verb::Query)) && (n(Noun::Instance) || f.tags || f.instance_ids) {
        s[OPS] += 1.0;
    }
    if v(Verb::Scan) || v(Verb::Check) || v(Verb::Remediate) {
        if n(Noun::Bucket)
            || n(Noun::SecurityGroup)
            || n(Noun::Public)
            || n(Noun::Encryption)
            || n(Noun::Iam)
            || n(Noun::Mfa)
            || n(Noun::AccessKeys)
            || n(Noun::Root)
        {
            s[SEC] += 2.0;
        }
        if v(Verb::Check) && (n(Noun::Metric) || n(Noun::Logs)) {
            s[MON] += 1.0;
        }
    }
    if v(Verb::Configure) && n(Noun::Encryption) && n(Noun::Bucket) {
        s[SEC] += 2.0;
    }
    if v(Verb::Analyze) && (n(Noun::Logs) || n(Noun::Errors)) && !n(Noun::Text) {
        s[MON] += 2.0;
    }
    if v(Verb::Estimate) || (n(Noun::CostHint) && (f.instance_type || creates)) {
        s[COST] += 1.5;
    }
    if n(Noun::Errors) && n(Noun::Function) {
        s[MON] += 1.0;
    }
    if n(Noun::Savings) && n(Noun::Volume) {
        s[COST] += 1.5;
    }
    // "CPU of i-0abc over the last 6 hours" asks about a metric, not for the instance.
    if n(Noun::Metric)
        && !n(Noun::SecurityGroup)
        && f.first_verb(&[
            Verb::Create,
            Verb::Destroy,
            Verb::Restart,
            Verb::Start,
            Verb::Stop,
            Verb::Terminate,
            Verb::Run,
            Verb::Rotate,
            Verb::Snapshot,
            Verb::Scale,
        ])
        .is_none()
    {
        s[MON] += 2.0;
        if f.instance_ids || n(Noun::Instance) {
            s[OPS] -= 1.0;
        }
    }
    // "idle load balancers", "unused instances": waste to find, not things to build.
    if n(Noun::Savings) && (n(Noun::LoadBalancer) || n(Noun::Instance)) && !creates {
        s[COST] += 2.0;
    }
    s
}

fn choose_action(agent: AgentKind, f: &Features, tokens: &[Token<'_>]) -> &'static str {
    let v = |x: Verb| f.verb(x);
    let n = |x: Noun| f.noun(x);
    match agent {
        AgentKind::Infra => {
            if v(Verb::Destroy) || v(Verb::Terminate) {
                "destroy"
            } else if v(Verb::Scale) {
                "scale"
            } else if v(Verb::Update) && !v(Verb::Create) {
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
            } else if v(Verb::Invoke) {
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

/// Words that can stand before a noun without being its name.
const NOT_A_NAME: &[&str] = &[
    "the", "a", "an", "this", "that", "my", "our", "whole", "entire", "new", "old", "all", "every",
    "each", "any", "some", "your", "its",
];

/// Words that end a noun phrase rather than name something.
const FUNCTION_WORDS: &[&str] = &[
    "in", "on", "for", "to", "with", "from", "and", "or", "of", "at", "by", "that", "this", "the",
    "a", "an", "as", "into", "now", "please", "too", "is", "are", "up", "down", "out", "back",
];

fn name_like(t: &Token<'_>, extra: &str) -> bool {
    let ok_chars = t
        .orig
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || extra.contains(c));
    let first_ok = t
        .orig
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    ok_chars && first_ok && !NOT_A_NAME.contains(&t.lower.as_str()) && t.lower != "__cmd__"
}

fn has_punct(t: &Token<'_>) -> bool {
    t.orig
        .chars()
        .any(|c| c.is_ascii_digit() || "-_./".contains(c))
}

/// The name after (or before) a noun such as "bucket", "function", "secret", "stack".
fn name_near(
    tokens: &[Token<'_>],
    is_noun: impl Fn(&Token<'_>) -> bool,
    extra_chars: &str,
    strict_before: bool,
) -> Option<String> {
    for (i, t) in tokens.iter().enumerate() {
        if !is_noun(t) {
            continue;
        }
        // After: skip "named"/"called" and repeated nouns ("lambda function my-func").
        let mut j = i + 1;
        while j < tokens.len()
            && (matches!(tokens[j].lower.as_str(), "named" | "called" | "name" | "id")
                || is_noun(&tokens[j])
                || matches!(tokens[j].kind, Kind::Covered))
        {
            j += 1;
        }
        if let Some(next) = tokens.get(j) {
            // Stack names are often ordinary words ("stack web"); other names must not be.
            let plain_word_ok = matches!(next.kind, Kind::Unknown)
                || has_punct(next)
                || (!strict_before && !FUNCTION_WORDS.contains(&next.lower.as_str()));
            let stop_ok = !next.is_stop() || !strict_before;
            if name_like(next, extra_chars)
                && plain_word_ok
                && stop_ok
                && !FUNCTION_WORDS.contains(&next.lower.as_str())
            {
                return Some(next.orig.to_string());
            }
        }
        // Before: "the checkout-api lambda", "the web stack".
        if i > 0 {
            let prev = &tokens[i - 1];
            let ok = if strict_before {
                matches!(prev.kind, Kind::Unknown)
            } else {
                !prev.has(|c| matches!(c, Cue::Verb(_) | Cue::Noun(_) | Cue::Number(_)))
            };
            if ok && name_like(prev, extra_chars) && prev.number().is_none() {
                return Some(prev.orig.to_string());
            }
        }
    }
    None
}

fn extract_params(
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
            Kind::UnknownRegion(word) => return Err(super::ranges::unknown_region(word)),
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
        infra_params(tokens, f, &mut p, &mut used);
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
fn group_by(tokens: &[Token<'_>]) -> Option<String> {
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
fn unquoted_command(tokens: &[Token<'_>]) -> Option<String> {
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
fn command_span(tokens: &[Token<'_>]) -> Option<std::ops::Range<usize>> {
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
fn find_count(tokens: &[Token<'_>], f: &Features, window_used: &[bool]) -> Option<(Value, usize)> {
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

/// Parameters only infrastructure templates use: flags (multi-AZ, NAT), subnets, address ranges,
/// ports, sizes, durations, lifecycle days, engine versions, names after their keyword. Numbers
/// taken here are marked `used`, so they are never read as an instance count.
fn infra_params(
    tokens: &[Token<'_>],
    f: &Features,
    p: &mut BTreeMap<String, Value>,
    used: &mut [bool],
) {
    let negated = |i: usize| {
        i > 0
            && matches!(
                tokens[i - 1].lower.as_str(),
                "no" | "without" | "not" | "disable"
            )
    };
    // Ports are security group rules only when no machines are being created ("behind an
    // ALB on port 8080" is the targets' port).
    let port_words = tokens
        .iter()
        .any(|t| matches!(t.lower.as_str(), "port" | "ports" | "ingress" | "inbound"));
    let sg_context = f.noun(Noun::SecurityGroup)
        || (port_words
            && !p.contains_key("load_balancer")
            && !f.noun(Noun::Instance)
            && !f.instance_type);
    for (i, t) in tokens.iter().enumerate() {
        match &t.kind {
            Kind::Cidr(c) => {
                p.entry("cidr".into()).or_insert(json!(c));
            }
            Kind::Id(k, v) => {
                p.entry((*k).into()).or_insert(json!(v));
            }
            Kind::Runtime(r) => {
                p.insert("runtime".into(), json!(r));
            }
            _ => {}
        }
        for c in t.cues() {
            match c {
                Cue::Flag(k) => {
                    p.insert((*k).into(), json!(!negated(i)));
                }
                Cue::Resource(r) => {
                    p.entry("resource".into()).or_insert(json!(r));
                }
                Cue::Cidr(c) => {
                    p.entry("cidr".into()).or_insert(json!(c));
                }
                Cue::Names(k) => {
                    if let Some(v) = name_after(tokens, i, k) {
                        p.entry((*k).into()).or_insert(json!(v));
                    }
                }
                Cue::Engine(_) if f.noun(Noun::Database) => {
                    // "postgres 16", "mysql 8.0"
                    if let Some(next) = tokens.get(i + 1)
                        && next.lower.split_once('.').map_or(
                            next.number().is_some()
                                && next.lower.bytes().all(|b| b.is_ascii_digit()),
                            |(a, b)| {
                                !a.is_empty()
                                    && !b.is_empty()
                                    && a.bytes().chain(b.bytes()).all(|x| x.is_ascii_digit())
                            },
                        )
                    {
                        p.entry("engine_version".into())
                            .or_insert(json!(next.lower));
                        used[i + 1] = true;
                    }
                }
                Cue::Noun(Noun::Tls) if p.contains_key("load_balancer") => {
                    p.insert("tls".into(), json!(true));
                }
                _ => {}
            }
        }
    }
    subnet_tiers(tokens, p, used);
    settings(tokens, f, p, used);
    lifecycle(tokens, p, used);
    if sg_context {
        let mut ports: Vec<u64> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if let Some(port) = t.cues().iter().find_map(|c| match c {
                Cue::Port(n) => Some(u64::from(*n)),
                _ => None,
            }) {
                ports.push(port);
            }
            let Some(n) = t.number() else { continue };
            // "2 security groups" counts groups; "443" alone is a port.
            let counts_next = tokens.get(i + 1).is_some_and(|x| {
                matches!(x.kind, Kind::InstanceType(_))
                    || x.has(|c| {
                        matches!(
                            c,
                            Cue::Noun(_) | Cue::Unit(_) | Cue::SizeUnit(_) | Cue::Seconds
                        )
                    })
            });
            // A number named as a port is one even out of range ("port 70000"), so the range
            // check refuses it rather than it being dropped.
            let named_port = i > 0 && matches!(tokens[i - 1].lower.as_str(), "port" | "ports");
            if !used[i]
                && !counts_next
                && ((1..=65535).contains(&n) || named_port)
                && matches!(t.kind, Kind::Number(_))
            {
                ports.push(n);
                used[i] = true;
            }
        }
        ports.sort_unstable();
        ports.dedup();
        if !ports.is_empty() {
            p.insert("ports".into(), json!(ports));
        }
    } else {
        // "behind an ALB on port 8080"
        for (i, t) in tokens.iter().enumerate() {
            if t.lower == "port"
                && let Some(n) = tokens.get(i + 1).and_then(Token::number)
                && !used[i + 1]
            {
                p.entry("port".into()).or_insert(json!(n));
                used[i + 1] = true;
            }
        }
    }
}

/// The value after a keyword such as "key pair" or "handler" (skipping "named"/"called").
fn name_after(tokens: &[Token<'_>], i: usize, key: &str) -> Option<String> {
    let mut j = i + 1;
    while j < tokens.len()
        && (matches!(tokens[j].kind, Kind::Covered)
            || matches!(
                tokens[j].lower.as_str(),
                "named" | "called" | "name" | "is" | "path" | "on" | "at"
            ))
    {
        j += 1;
    }
    let next = tokens.get(j)?;
    if key == "health_check_path" {
        let ok = next.orig.starts_with('/')
            && next
                .orig
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
        return ok.then(|| next.orig.to_string());
    }
    let extra = match key {
        "handler" => ":$/",
        "key_name" => "@+=",
        _ => "",
    };
    (name_like(next, extra) && !FUNCTION_WORDS.contains(&next.lower.as_str()))
        .then(|| next.orig.to_string())
}

/// "with 2 private subnets", "public and private subnets", "in a private subnet".
fn subnet_tiers(tokens: &[Token<'_>], p: &mut BTreeMap<String, Value>, used: &mut [bool]) {
    for (i, t) in tokens.iter().enumerate() {
        if !matches!(t.lower.as_str(), "subnet" | "subnets") {
            continue;
        }
        let plural = t.lower.ends_with('s');
        let mut j = i;
        while j > 0 {
            let adj = &tokens[j - 1];
            match adj.lower.as_str() {
                tier @ ("private" | "public") => {
                    let number = j >= 2 && !used[j - 2] && tokens[j - 2].number().is_some();
                    let count = if number {
                        used[j - 2] = true;
                        tokens[j - 2].number().unwrap_or(1)
                    } else if plural {
                        2
                    } else {
                        1
                    };
                    p.entry(format!("{tier}_subnets")).or_insert(json!(count));
                    j -= if number { 2 } else { 1 };
                }
                "and" | "or" | "&" => j -= 1,
                _ => break,
            }
        }
    }
}

/// A duration starting at token `i`, in seconds: `30s`, `15m`, "30 seconds", "5 minutes",
/// "14 days". A bare number is returned with `None` as its unit, for the caller to read.
fn duration_at(tokens: &[Token<'_>], i: usize) -> Option<(u64, Option<u64>, usize)> {
    let t = tokens.get(i)?;
    match &t.kind {
        Kind::Seconds(n) => return Some((*n, Some(1), i)),
        // An absurd duration saturates rather than wraps, and the range check refuses it.
        Kind::CompactWindow(n, unit) => {
            return Some((n.saturating_mul(unit.secs()), Some(unit.secs()), i));
        }
        _ => {}
    }
    let n = t.number()?;
    let next = tokens.get(i + 1);
    let mult = next.and_then(|x| {
        if x.has(|c| matches!(c, Cue::Seconds)) {
            return Some(1);
        }
        x.unit().map(Unit::secs)
    });
    match mult {
        Some(m) => Some((n.saturating_mul(m), Some(m), i + 1)),
        None => Some((n, None, i)),
    }
}

/// Values after (or just before) a setting word: "timeout 30 seconds", "512 MB memory",
/// "retention 14 days", "min 2 max 10", "100 GB storage".
fn settings(
    tokens: &[Token<'_>],
    f: &Features,
    p: &mut BTreeMap<String, Value>,
    used: &mut [bool],
) {
    let setting_of = |t: &Token<'_>| {
        t.cues().iter().find_map(|c| match c {
            Cue::Setting(k) => Some(*k),
            _ => None,
        })
    };
    // Sizes first: "512 MB", "100gb".
    for i in 0..tokens.len() {
        let (mb, end) = match &tokens[i].kind {
            Kind::Size(mb) => (*mb, i),
            _ => {
                let unit = tokens.get(i + 1).and_then(|x| {
                    x.cues().iter().find_map(|c| match c {
                        Cue::SizeUnit(u) => Some(u64::from(*u)),
                        _ => None,
                    })
                });
                match (tokens[i].number(), unit) {
                    // Saturating: an absurd size stays absurd and the range check refuses it.
                    (Some(n), Some(u)) if !used[i] => (n.saturating_mul(u), i + 1),
                    _ => continue,
                }
            }
        };
        let near = (i.saturating_sub(2)..(end + 3).min(tokens.len())).find_map(|j| {
            setting_of(&tokens[j]).filter(|k| matches!(*k, "memory_mb" | "storage_gb"))
        });
        let key = near.or(if f.noun(Noun::Function) {
            Some("memory_mb")
        } else if f.noun(Noun::Database) {
            Some("storage_gb")
        } else {
            None
        });
        match key {
            Some("memory_mb") => {
                p.entry("memory_mb".into()).or_insert(json!(mb));
            }
            Some(_) => {
                p.entry("storage_gb".into())
                    .or_insert(json!(mb.div_ceil(1024)));
            }
            None => continue,
        }
        used[i..=end].iter_mut().for_each(|u| *u = true);
    }
    for (k, t) in tokens.iter().enumerate() {
        let Some(key) = setting_of(t) else { continue };
        match key {
            "timeout_s" | "retention_days" => {
                let unit_default = if key == "timeout_s" { 1 } else { 86_400 };
                // After the word ("timeout of 30 seconds"), else before it ("30 second timeout").
                let after = (k + 1..(k + 4).min(tokens.len())).find(|j| {
                    tokens[*j].number().is_some()
                        || matches!(tokens[*j].kind, Kind::Seconds(_) | Kind::CompactWindow(..))
                });
                let before = (k.saturating_sub(3)..k).rev().find(|j| {
                    duration_at(tokens, *j)
                        .is_some_and(|(_, unit, end)| unit.is_some() && end + 1 == k)
                });
                let Some(start) = after.or(before) else {
                    continue;
                };
                let Some((n, unit, end)) = duration_at(tokens, start) else {
                    continue;
                };
                let secs = if unit.is_some() { n } else { n * unit_default };
                let value = if key == "timeout_s" {
                    secs
                } else {
                    secs / 86_400
                };
                p.entry(key.into()).or_insert(json!(value));
                used[start..=end].iter_mut().for_each(|u| *u = true);
            }
            "min_size" | "max_size" => {
                if let Some(j) =
                    (k + 1..(k + 3).min(tokens.len())).find(|j| tokens[*j].number().is_some())
                {
                    p.entry(key.into()).or_insert(json!(tokens[j].number()));
                    used[j] = true;
                }
            }
            _ => {}
        }
    }
}

/// "expire after 90 days", "move to Glacier after 30 days", "infrequent access after 1 month".
fn lifecycle(tokens: &[Token<'_>], p: &mut BTreeMap<String, Value>, used: &mut [bool]) {
    for i in 0..tokens.len() {
        let Some((secs, Some(unit), end)) = duration_at(tokens, i) else {
            continue;
        };
        if unit < 86_400 {
            continue;
        }
        // The nearest lifecycle word before the number names the step.
        let step = (i.saturating_sub(6)..i).rev().find_map(|j| {
            tokens[j].cues().iter().find_map(|c| match c {
                Cue::Lifecycle(l) => Some(*l),
                _ => None,
            })
        });
        if let Some(step) = step {
            p.entry(format!("{step}_days"))
                .or_insert(json!(secs / 86_400));
            used[i..=end].iter_mut().for_each(|u| *u = true);
        }
    }
}

fn evidence(tokens: &[Token<'_>]) -> Vec<Evidence> {
    let mut out = Vec::new();
    for t in tokens {
        let meaning = match &t.kind {
            Kind::Known { cues, .. } => {
                let parts: Vec<String> = cues
                    .iter()
                    .filter_map(|c| match c {
                        Cue::Verb(v) => Some(format!("verb:{v:?}").to_lowercase()),
                        Cue::Noun(n) => Some(format!("noun:{n:?}").to_lowercase()),
                        Cue::Package => Some("package".into()),
                        Cue::Service(s) => Some(format!("service:{s}")),
                        Cue::Env(e) => Some(format!("environment:{e}")),
                        Cue::Region(r) => Some(format!("region:{r}")),
                        Cue::Number(n) => Some(format!("number:{n}")),
                        Cue::Window(w) => Some(format!("window:{w}")),
                        Cue::Granularity(g) => Some(format!("granularity:{g}")),
                        Cue::Lb(l) => Some(format!("load_balancer:{l}")),
                        Cue::Metric(m) => Some(format!("metric:{m}")),
                        Cue::Flag(k) => Some(format!("{k}:true")),
                        Cue::Resource(r) => Some(format!("resource:{r}")),
                        Cue::Names(k) => Some(format!("names:{k}")),
                        Cue::Cidr(c) => Some(format!("cidr:{c}")),
                        Cue::Port(p) => Some(format!("port:{p}")),
                        Cue::Lifecycle(l) => Some(format!("lifecycle:{l}")),
                        Cue::Setting(k) => Some(format!("setting:{k}")),
                        Cue::Unit(_)
                        | Cue::WindowMark
                        | Cue::Stop
                        | Cue::Seconds
                        | Cue::SizeUnit(_) => None,
                        Cue::Severity(s) => Some(format!("severity:{s}")),
                        Cue::Engine(e) => Some(format!("engine:{e}")),
                    })
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                let mut m = parts.join(", ");
                if let Some(c) = t.corrected {
                    m = format!("{m} (typo for \"{c}\")");
                }
                m
            }
            Kind::Tag(k, v) => format!("tag:{k}={v}"),
            Kind::InstanceId(id) => format!("instance_id:{id}"),
            Kind::VolumeId(id) => format!("volume_id:{id}"),
            Kind::InstanceType(it) => format!("instance_type:{it}"),
            Kind::Region(r) => format!("region:{r}"),
            Kind::Number(n) => format!("number:{n}"),
            Kind::CompactWindow(n, unit) => match unit.window(*n) {
                Some(w) => format!("window:{w}"),
                None => format!("duration:{n} {unit:?}").to_lowercase(),
            },
            Kind::UnknownRegion(w) => format!("unknown region:{w}"),
            Kind::Negative(n) => format!("number:-{n}"),
            Kind::TooLarge(w) => format!("number:{w} (too large)"),
            Kind::Clock(t) => format!("time:{t}"),
            Kind::S3Uri { bucket, .. } => format!("bucket:{bucket}"),
            Kind::Cidr(c) => format!("cidr:{c}"),
            Kind::Id(k, v) => format!("{k}:{v}"),
            Kind::Runtime(r) => format!("runtime:{r}"),
            Kind::Size(mb) => format!("size:{mb}MiB"),
            Kind::Seconds(n) => format!("seconds:{n}"),
            Kind::Covered | Kind::Unknown => continue,
        };
        out.push(Evidence {
            word: t.orig.to_string(),
            meaning,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Intent {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn spec_example_infra() {
        let i = p("Create 3 t3.medium instances in ap-south-1 with ALB");
        assert_eq!(i.agent, AgentKind::Infra);
        assert_eq!(i.action, "create");
        assert_eq!(i.param_u64("count"), Some(3));
        assert_eq!(i.param_str("instance_type"), Some("t3.medium"));
        assert_eq!(i.param_str("region"), Some("ap-south-1"));
        assert_eq!(i.param_str("load_balancer"), Some("alb"));
        assert!(!i.low_confidence);
    }

    #[test]
    fn hybrid_infra_and_config() {
        let i = p("Create 3 EC2 instances with NGINX");
        assert_eq!(i.agents, vec![AgentKind::Infra, AgentKind::Config]);
        assert_eq!(i.param_list("packages"), vec!["nginx"]);
    }

    #[test]
    fn synonyms_typos_words_and_places() {
        let i = p("fire up five t3.small boxes in Sydney");
        assert_eq!(i.agent, AgentKind::Infra);
        assert_eq!(i.param_u64("count"), Some(5));
        assert_eq!(i.param_str("region"), Some("ap-southeast-2"));
        let i = p("rebot the staging instnaces");
        assert_eq!(i.agent, AgentKind::Ops);
        assert_eq!(i.action, "restart");
        assert_eq!(i.param_str("environment"), Some("staging"));
        assert!(i.notes.iter().any(|n| n.contains("reboot")));
        let i = p("DECOMMISSION I-0ABC12345DEF67890");
        assert_eq!(i.action, "terminate");
        assert_eq!(i.params["instance_ids"], json!(["i-0abc12345def67890"]));
        let i = p("cycle the web boxes tagged Env=staging");
        assert_eq!(i.action, "restart");
        assert_eq!(i.params["tags"], json!({"Env": "staging"}));
    }

    #[test]
    fn windows_and_names() {
        let i = p("Show last 24h error logs from Lambda my-func");
        assert_eq!(i.agent, AgentKind::Monitor);
        assert_eq!(i.action, "logs");
        assert_eq!(i.param_str("window"), Some("24h"));
        assert_eq!(i.param_str("function"), Some("my-func"));
        let i = p("What is my daily EC2 spend in ap-south-1?");
        assert_eq!(i.agent, AgentKind::Cost);
        assert_eq!(i.param_str("granularity"), Some("daily"));
        assert_eq!(i.param_str("service"), Some("EC2"));
        let i = p("errors for the past 2 weeks in prod");
        assert_eq!(i.param_str("window"), Some("14d"));
    }

    #[test]
    fn no_false_counts_from_windows_or_ages() {
        let i = p("list IAM access keys older than 90 days");
        assert_eq!(i.agent, AgentKind::Security);
        assert!(!i.params.contains_key("count"));
        assert!(!i.params.contains_key("window"));
    }

    #[test]
    fn quoted_commands_are_data() {
        let i = p("run `rm -rf / ; reboot` on instances tagged Role=web");
        assert_eq!(i.agent, AgentKind::Ops);
        assert_eq!(i.action, "run");
        assert_eq!(i.param_str("command"), Some("rm -rf / ; reboot"));
    }

    #[test]
    fn ops_and_cost_parameters() {
        let i = p("snapshot volume vol-0123456789abcdef0");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Ops, "snapshot"));
        assert_eq!(i.params["volume_ids"], json!(["vol-0123456789abcdef0"]));
        let i = p("list instances named web-prod-1");
        assert_eq!(i.param_str("name"), Some("web-prod-1"));
        let i = p("show my AWS spend by service for last month");
        assert_eq!(i.param_str("group_by"), Some("service"));
        let i = p("EC2 cost by tag Team this month");
        assert_eq!(i.param_str("group_by"), Some("tag:Team"));
        let i = p("daily spend per region");
        assert_eq!(i.param_str("group_by"), Some("region"));
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

    #[test]
    fn infrastructure_settings() {
        let i = p("create an RDS postgres db.t3.medium multi-az in eu-west-1");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Infra, "create"));
        assert_eq!(
            i.agents,
            vec![AgentKind::Infra],
            "postgres is the engine here"
        );
        assert_eq!(i.param_str("engine"), Some("postgres"));
        assert_eq!(i.params["multi_az"], json!(true));
        let i = p("create a mysql 8.0 database db.t3.small with 100 GB storage");
        assert_eq!(i.param_str("engine_version"), Some("8.0"));
        assert_eq!(i.param_u64("storage_gb"), Some(100));
        assert!(!i.params.contains_key("count"));

        let i = p("create a lambda function my-func with python3.12 and 512 MB");
        assert_eq!(i.param_str("function"), Some("my-func"));
        assert_eq!(i.param_str("runtime"), Some("python3.12"));
        assert_eq!(i.param_u64("memory_mb"), Some(512));
        let i = p(
            "create a lambda image-thumbs in python with 256 MB of memory and a 30 second timeout",
        );
        assert_eq!(
            i.agents,
            vec![AgentKind::Infra],
            "python is the runtime here"
        );
        assert_eq!(i.param_str("runtime"), Some("python3.12"));
        assert_eq!(i.param_u64("timeout_s"), Some(30));
        assert!(!i.params.contains_key("metric"));
        let i = p(
            "create lambda resize-api with nodejs22.x, 1gb memory, timeout 2 minutes, log retention 14 days",
        );
        assert_eq!(i.param_str("runtime"), Some("nodejs22.x"));
        assert_eq!(i.param_u64("memory_mb"), Some(1024));
        // "node", as docs/templates.md promises, is Node.js for a function, not a host.
        for text in [
            "create a lambda function my-func with node",
            "create a lambda function my-func with nodejs",
        ] {
            let n = p(text);
            assert_eq!(n.param_str("runtime"), Some("nodejs22.x"), "{text}");
            assert_eq!(n.param_str("service"), Some("Lambda"), "{text}");
        }
        assert_eq!(i.param_u64("timeout_s"), Some(120));
        assert_eq!(i.param_u64("retention_days"), Some(14));

        let i = p("create a VPC with public and private subnets and NAT in ap-south-1");
        assert_eq!(i.param_str("resource"), Some("vpc"));
        assert_eq!(i.param_u64("public_subnets"), Some(2));
        assert_eq!(i.param_u64("private_subnets"), Some(2));
        assert_eq!(i.params["nat"], json!(true));
        let i = p(
            "create a vpc 10.20.0.0/16 with 3 private subnets and one nat gateway per az without public ips",
        );
        assert_eq!(i.param_str("cidr"), Some("10.20.0.0/16"));
        assert_eq!(i.param_u64("private_subnets"), Some(3));
        assert_eq!(i.params["nat_per_az"], json!(true));
        assert!(!i.params.contains_key("count"));
        assert_eq!(p("create a vpc without NAT").params["nat"], json!(false));

        let i = p("create an S3 bucket logs-archive with lifecycle expire after 90 days");
        assert_eq!(i.param_str("bucket"), Some("logs-archive"));
        assert_eq!(i.param_u64("expire_days"), Some(90));
        let i = p(
            "create bucket media-store, move objects to Glacier after 30 days and expire them after 1 year",
        );
        assert_eq!(i.param_u64("glacier_days"), Some(30));
        assert_eq!(i.param_u64("expire_days"), Some(365));

        let i = p("create 2 t3.small instances with key pair ops-key in a private subnet");
        assert_eq!(i.param_u64("count"), Some(2));
        assert_eq!(i.param_str("key_name"), Some("ops-key"));
        assert_eq!(i.param_u64("private_subnets"), Some(1));
        let i = p("launch a t3.micro in subnet-0123456789abcdef0");
        assert_eq!(i.param_str("subnet_id"), Some("subnet-0123456789abcdef0"));

        let i = p("create a security group allowing 443 from anywhere");
        assert_eq!((i.agent, i.action.as_str()), (AgentKind::Infra, "create"));
        assert_eq!(i.param_str("resource"), Some("security_group"));
        assert_eq!(i.params["ports"], json!([443]));
        assert_eq!(i.param_str("cidr"), Some("0.0.0.0/0"));
        let i = p("create a security group allowing ssh and ports 80, 8080 from 10.0.0.0/8");
        assert_eq!(i.params["ports"], json!([22, 80, 8080]));
        assert_eq!(i.param_str("cidr"), Some("10.0.0.0/8"));
        assert!(
            !p("create a security group allowing 443")
                .params
                .contains_key("cidr")
        );

        let i =
            p("create 3 t3.medium instances behind an alb on port 8080 with health check /healthz");
        assert_eq!(i.param_u64("count"), Some(3));
        assert_eq!(i.param_u64("port"), Some(8080));
        assert_eq!(i.param_str("health_check_path"), Some("/healthz"));
        assert!(!i.params.contains_key("ports"));
        let i = p(
            "create lambda orders with java21 code in s3://acme-builds/orders.zip handler example.Handler::handleRequest",
        );
        assert_eq!(
            i.param_str("handler"),
            Some("example.Handler::handleRequest")
        );
        assert_eq!(i.param_str("prefix"), Some("orders.zip"));
        let i = p("create an auto scaling group web of 4 t3.small behind an ALB min 2 max 10");
        assert_eq!(i.param_str("resource"), Some("autoscaling_group"));
        assert_eq!(i.param_str("stack"), Some("web"));
        assert_eq!(i.param_u64("count"), Some(4));
        assert_eq!(
            (i.param_u64("min_size"), i.param_u64("max_size")),
            (Some(2), Some(10))
        );
        let i = p("scale the web tier to 6");
        assert_eq!(
            (i.action.as_str(), i.param_u64("count")),
            ("scale", Some(6))
        );
        assert_eq!(i.param_str("stack"), Some("web"));
        let i = p("scale the web tier down to 2");
        assert_eq!(i.param_str("stack"), Some("web"), "not a stack named down");
    }

    #[test]
    fn runtimes() {
        for (typed, runtime) in [
            ("python3.12", "python3.12"),
            ("nodejs20.x", "nodejs20.x"),
            ("node22", "nodejs22.x"),
            ("java21", "java21"),
            ("ruby3.3", "ruby3.3"),
            ("provided.al2023", "provided.al2023"),
        ] {
            assert_eq!(lambda_runtime(typed).as_deref(), Some(runtime));
        }
        for not_one in ["python", "nodes", "node.js", "javascript", "t3.medium"] {
            assert_eq!(lambda_runtime(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn instance_types() {
        assert!(is_instance_type("t3.medium"));
        assert!(is_instance_type("m5.2xlarge"));
        assert!(is_instance_type("c6gn.metal"));
        assert!(!is_instance_type("node.js"));
        assert!(!is_instance_type("v1.2"));
    }
}
