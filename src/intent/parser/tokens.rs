//! Tokens and what each turned out to be: the request split into words, a quoted command taken
//! out as data, and every word looked up once (spelled numbers, shapes, region-like words,
//! phrases longest first, words, inflections, then typo correction).

use super::shapes::pattern;
use super::stated;
use crate::intent::lexicon::{Cue, LEXICON, Noun};
use crate::intent::params::IdKey;
use crate::intent::regions;
use crate::intent::typo::{allowed_edits, osa_within};
use crate::intent::words::{Spelled, Unit, spelled_number};

/// What one token turned out to be.
#[derive(Debug, Clone)]
pub(super) enum Kind {
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
    Id(IdKey, String),
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
pub(super) struct Token<'a> {
    pub(super) orig: &'a str,
    pub(super) lower: String,
    pub(super) kind: Kind,
    pub(super) corrected: Option<&'static str>,
}

impl Token<'_> {
    pub(super) fn cues(&self) -> &[Cue] {
        match &self.kind {
            Kind::Known { cues, .. } => cues,
            _ => &[],
        }
    }
    pub(super) fn has(&self, pred: impl Fn(&Cue) -> bool) -> bool {
        self.cues().iter().any(pred)
    }
    pub(super) fn noun(&self, n: Noun) -> bool {
        self.has(|c| *c == Cue::Noun(n))
    }
    pub(super) fn is_stop(&self) -> bool {
        self.has(|c| matches!(c, Cue::Stop))
    }
    pub(super) fn number(&self) -> Option<u64> {
        match &self.kind {
            Kind::Number(n) => Some(*n),
            Kind::Known { cues, .. } => cues.iter().find_map(|c| match c {
                Cue::Number(n) => Some(*n),
                _ => None,
            }),
            _ => None,
        }
    }
    pub(super) fn unit(&self) -> Option<Unit> {
        self.cues().iter().find_map(|c| match c {
            Cue::Unit(u) => Some(*u),
            _ => None,
        })
    }
}

/// Pulls a command written in backticks or quotes out of the text, so its words
/// are never read as instructions to us.
pub(super) fn quoted_command(text: &str) -> (Option<String>, String) {
    for q in ['`', '"', '\''] {
        // An apostrophe inside a word ("team's", "what's") is not a quote: look past it.
        let in_word = |at: usize| {
            q == '\''
                && text[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric())
                && text[at + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric())
        };
        let mut from = 0;
        while let Some(found) = text[from..].find(q) {
            let start = from + found;
            from = start + 1;
            if in_word(start) {
                continue;
            }
            let Some(len) = text[start + 1..].find(q) else {
                break;
            };
            let inner = text[start + 1..start + 1 + len].trim();
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

pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
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

pub(super) fn classify_tokens(tokens: &mut [Token<'_>], notes: &mut Vec<String>) {
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

/// "restarting", "rebooted", "buckets", "creates" → their base word.
pub(super) fn inflected(w: &str) -> Option<Vec<Cue>> {
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

pub(super) fn correct_typo(w: &str) -> Option<(&'static str, Vec<Cue>)> {
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
