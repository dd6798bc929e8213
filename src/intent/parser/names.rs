//! Names as requests write them: the word after (or before) a noun ("bucket logs-archive",
//! "the checkout-api lambda") or after a keyword ("key pair ops-key"), never a function word or
//! a determiner.

use super::tokens::{Kind, Token};
use crate::intent::lexicon::Cue;
use crate::intent::params::NameKey;

/// Words that can stand before a noun without being its name.
pub(super) const NOT_A_NAME: &[&str] = &[
    "the", "a", "an", "this", "that", "my", "our", "whole", "entire", "new", "old", "all", "every",
    "each", "any", "some", "your", "its",
];

/// Words that end a noun phrase rather than name something.
pub(super) const FUNCTION_WORDS: &[&str] = &[
    "in", "on", "for", "to", "with", "from", "and", "or", "of", "at", "by", "that", "this", "the",
    "a", "an", "as", "into", "now", "please", "too", "is", "are", "up", "down", "out", "back",
];

pub(super) fn name_like(t: &Token<'_>, extra: &str) -> bool {
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

pub(super) fn has_punct(t: &Token<'_>) -> bool {
    t.orig
        .chars()
        .any(|c| c.is_ascii_digit() || "-_./".contains(c))
}

/// The name after (or before) a noun such as "bucket", "function", "secret", "stack".
pub(super) fn name_near(
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

/// The value after a keyword such as "key pair" or "handler" (skipping "named"/"called").
pub(super) fn name_after(tokens: &[Token<'_>], i: usize, key: NameKey) -> Option<String> {
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
    if key == NameKey::HealthCheckPath {
        let ok = next.orig.starts_with('/')
            && next
                .orig
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
        return ok.then(|| next.orig.to_string());
    }
    let extra = match key {
        NameKey::Handler => ":$/",
        NameKey::KeyName => "@+=",
        NameKey::HealthCheckPath => "",
    };
    (name_like(next, extra) && !FUNCTION_WORDS.contains(&next.lower.as_str()))
        .then(|| next.orig.to_string())
}
