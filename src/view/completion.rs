//! Completion of the word being typed from the names the tenant's past requests used: tag keys
//! and their values, buckets, functions, log groups, stacks and plan ids (see
//! `Requests::known_names`). Pure: the console asks on Tab, with no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Names a tenant's requests have used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNames {
    /// Tag keys (case as used: AWS tag keys are case-sensitive) and the values seen for each.
    pub tags: BTreeMap<String, BTreeSet<String>>,
    /// Buckets, functions, log groups, stacks and plan ids.
    pub names: BTreeSet<String>,
}

/// The parameters whose values are names worth completing.
const NAME_KEYS: &[&str] = &["bucket", "function", "log_group", "stack"];

impl KnownNames {
    /// Takes the names in a reading's parameters (`Params::to_json`).
    pub fn add_params(&mut self, params: &Map<String, Value>) {
        for key in NAME_KEYS {
            if let Some(Value::String(v)) = params.get(*key) {
                self.add_name(v);
            }
        }
        if let Some(Value::Object(tags)) = params.get("tags") {
            for (k, v) in tags {
                if let Some(v) = v.as_str()
                    && !k.is_empty()
                {
                    self.tags
                        .entry(k.clone())
                        .or_default()
                        .insert(v.to_string());
                }
            }
        }
    }

    pub fn add_name(&mut self, name: &str) {
        // Only what can be one word on the prompt.
        if !name.is_empty() && !name.chars().any(char::is_whitespace) {
            self.names.insert(name.to_string());
        }
    }
}

/// What completing the last word of a text gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The text with the last word completed as far as the candidates agree.
    pub text: String,
    /// Every candidate for the word, sorted (more than one: the front end lists them).
    pub candidates: Vec<String>,
}

/// Completes the last word of `text` (after its last whitespace): `Key=pre` to the values seen
/// for that tag key, anything else to the known names and tag keys (`Env=`) it starts. A single
/// candidate is taken whole (with a space after it, unless it is a tag key waiting for its
/// value); several are completed to what they share. None when nothing matches.
pub fn complete(text: &str, known: &KnownNames) -> Option<Completion> {
    let start = text
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let word = &text[start..];
    let mut candidates: Vec<String> = match word.split_once('=') {
        Some((key, value)) => tag_values(known, key, value),
        None if word.is_empty() => return None,
        None => known
            .tags
            .keys()
            .filter(|k| k.starts_with(word))
            .map(|k| format!("{k}="))
            .chain(known.names.iter().filter(|n| n.starts_with(word)).cloned())
            .collect(),
    };
    candidates.sort();
    candidates.dedup();
    let shared = shared_prefix(&candidates)?;
    let mut out = text[..start].to_string();
    out.push_str(&shared);
    if candidates.len() == 1 && !shared.ends_with('=') {
        out.push(' ');
    }
    Some(Completion {
        text: out,
        candidates,
    })
}

/// What every candidate starts with; None without candidates.
fn shared_prefix(candidates: &[String]) -> Option<String> {
    let first = candidates.first()?.clone();
    Some(candidates.iter().skip(1).fold(first, |acc, c| {
        acc.chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect()
    }))
}

/// `Key=value` candidates for `key` (the key as typed; if it matches no key exactly but one
/// that differs only in case, that key: tag keys are case-sensitive in AWS).
fn tag_values(known: &KnownNames, key: &str, prefix: &str) -> Vec<String> {
    let keys: Vec<&String> = match known.tags.get_key_value(key) {
        Some((k, _)) => vec![k],
        None => known
            .tags
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(key))
            .collect(),
    };
    keys.into_iter()
        .flat_map(|k| {
            known.tags[k]
                .iter()
                .filter(|v| v.starts_with(prefix))
                .map(move |v| format!("{k}={v}"))
        })
        .collect()
}

/// Completes the first word of a `:` command line from `commands` (their names), and any later
/// word from `known` (a plan id for `:like`).
pub fn complete_command(line: &str, commands: &[&str], known: &KnownNames) -> Option<Completion> {
    if line.contains(char::is_whitespace) {
        return complete(line, known);
    }
    let mut candidates: Vec<String> = commands
        .iter()
        .filter(|c| c.starts_with(line))
        .map(|c| c.to_string())
        .collect();
    candidates.sort();
    candidates.dedup();
    let shared = shared_prefix(&candidates)?;
    let text = if candidates.len() == 1 {
        format!("{shared} ")
    } else {
        shared
    };
    Some(Completion { text, candidates })
}
