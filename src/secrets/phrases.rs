//! Credentials said in words: the value after password, pw, secret, token, api key and the like,
//! however the sentence puts it.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::words::{self, Strength};
use super::{Finding, rules::rule};

/// The words that announce a credential. Group 1: password words; group 2: secret and token
/// words; group 3: `*_pass` names (`DB_PASS`). A `name_` prefix is part of the word
/// (`DB_PASSWORD`, `aws_secret_access_key`).
static KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:[a-z0-9]+_)*(?:(password|passwd|passphrase|passcode|pwd|pw)|(secret[ _-]?access[ _-]?key|secret[ _-]?key|client[ _-]?secret|access[ _-]?token|refresh[ _-]?token|auth[ _-]?token|session[ _-]?token|bearer[ _-]?token|api[ _-]?key|api[ _-]?token|api[ _-]?secret|apikey|private[ _-]?key|account[ _-]?key|shared[ _-]?access[ _-]?key|secret|token)|(pass))\b",
    )
    .expect("keyword regex")
});

/// Words between a connector and the value: "is now X", "should be set to X".
const FILLER: &[&str] = &[
    "now",
    "still",
    "set",
    "to",
    "be",
    "currently",
    "just",
    "actually",
    "simply",
    "always",
    "going",
    "=",
    ":",
];

/// Words between "with" (or "is") and the credential word: "with the db password X",
/// "X is bob's master password".
const MODIFIERS: &[&str] = &[
    "the",
    "a",
    "an",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "new",
    "db",
    "database",
    "master",
    "root",
    "admin",
    "user",
    "account",
    "app",
    "service",
    "default",
    "initial",
    "temporary",
    "temp",
    "current",
    "old",
    "login",
    "sudo",
    "ssh",
    "wifi",
    "vault",
    "api",
    "access",
];

/// Words that, just before the credential word (past modifiers), make the next word its value.
const WITH: &[&str] = &["with", "using", "use", "w/", "via"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Password,
    Secret,
}

impl Class {
    fn accepts(self, v: &str, s: Strength) -> bool {
        match self {
            Class::Password => words::password_value(v, s),
            Class::Secret => words::secret_value(v, s),
        }
    }
    fn rule(self) -> &'static str {
        match self {
            Class::Password => "password",
            Class::Secret => "secret-value",
        }
    }
}

/// A word of the text: its bytes, and its lower-case form without surrounding punctuation.
struct Word {
    range: Range<usize>,
    lower: String,
}

fn word_at(text: &str, from: usize) -> Option<Word> {
    let rest = &text[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    if start >= text.len() {
        return None;
    }
    let end = text[start..]
        .find(char::is_whitespace)
        .map_or(text.len(), |n| start + n);
    let lower = text[start..end]
        .trim_matches(|c: char| ".,;:!?()[]{}\"'`".contains(c))
        .to_ascii_lowercase();
    Some(Word {
        range: start..end,
        lower,
    })
}

/// The words before `at`, nearest first.
fn words_before(text: &str, at: usize) -> Vec<Word> {
    let mut out = Vec::new();
    let mut end = at;
    for _ in 0..6 {
        let before = text[..end].trim_end();
        if before.is_empty() {
            break;
        }
        let start = before.rfind(char::is_whitespace).map_or(0, |n| {
            n + before[n..].chars().next().map_or(1, char::len_utf8)
        });
        out.push(Word {
            range: start..before.len(),
            lower: before[start..]
                .trim_matches(|c: char| ".,;:!?()[]{}\"'`".contains(c))
                .to_ascii_lowercase(),
        });
        end = start;
    }
    out
}

/// The value starting at (or after whitespace from) `from`: a quoted string's inside, or a
/// run of characters up to whitespace, a comma or a semicolon, without surrounding punctuation.
fn value_at(text: &str, from: usize) -> Option<Range<usize>> {
    let rest = &text[from..];
    let start = from + (rest.len() - rest.trim_start().len());
    let first = text[start..].chars().next()?;
    if "\"'`".contains(first) {
        let inner = start + 1;
        let end = text[inner..].find(first).map_or(text.len(), |n| inner + n);
        return (end > inner).then_some(inner..end);
    }
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map_or(text.len(), |n| start + n);
    let raw = &text[start..end];
    let lead = raw.len() - raw.trim_start_matches(['(', '[', '{']).len();
    let trimmed = raw.trim_end_matches(['.', ')', ']', '}', '>', '"', '\'', '`', ':']);
    let (s, e) = (start + lead, start + trimmed.len());
    (e > s).then_some(s..e)
}

pub(super) fn scan(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in KEYWORD.captures_iter(text) {
        let kw = c.get(0).expect("group 0");
        let class = if c.get(1).is_some() || c.get(3).is_some() {
            Class::Password
        } else {
            Class::Secret
        };
        if let Some((value, _)) = value_for(text, kw.range(), class) {
            out.push(finding(text, kw.range(), value, class));
        }
    }
    out
}

fn finding(text: &str, kw: Range<usize>, value: Range<usize>, class: Class) -> Finding {
    let shown = if value.start >= kw.end {
        let between = text[kw.end..value.start].trim_end_matches(['"', '\'', '`']);
        if between.len() <= 24 && !between.contains('\n') {
            // The words between may hold another credential: shown masked too.
            format!("{}{}****", &text[kw.clone()], super::mask(between))
        } else {
            format!("{} … ****", &text[kw.clone()])
        }
    } else {
        format!("**** … {}", &text[kw.clone()])
    };
    Finding {
        rule: rule(class.rule()),
        span: value,
        masked: "****".into(),
        shown,
    }
}

/// Where the credential announced by the word at `kw` is, and how strongly the phrasing says
/// so; the first reading that yields a credential wins.
fn value_for(text: &str, kw: Range<usize>, class: Class) -> Option<(Range<usize>, Strength)> {
    let mut candidates: Vec<(Range<usize>, Strength)> = Vec::new();

    // `pw=X`, `password: X`, `"password": "X"`.
    let mut at = kw.end;
    if text[at..].starts_with(['"', '\'']) {
        at += 1;
    }
    let after = &text[at..];
    let op_at = at + (after.len() - after.trim_start_matches([' ', '\t']).len());
    let op = ["=>", ":=", "==", "=", ":"]
        .into_iter()
        .find(|op| text[op_at..].starts_with(op) && !text[op_at..].starts_with("://"));
    if let Some(op) = op {
        // An assignment says what the value is: no other reading applies.
        return value_at(text, op_at + op.len())
            .filter(|v| class.accepts(&text[v.clone()], Strength::Assigned))
            .map(|v| (v, Strength::Assigned));
    }

    // The word right after must be separated by a space ("password's" is not "password X").
    let separated = text[kw.end..].starts_with(char::is_whitespace);
    if separated && let Some(w1) = word_at(text, kw.end) {
        match w1.lower.as_str() {
            "is" | "was" | "are" | "equals" | "be" | "to" | "should" | "must" | "will"
            | "would" | "shall" | "needs" | "could" | "can" => {
                // "password must contain a digit" describes; "password must be X" states.
                let modal = !matches!(
                    w1.lower.as_str(),
                    "is" | "was" | "are" | "equals" | "be" | "to"
                );
                let mut strength = if w1.lower == "to" {
                    Strength::Near
                } else {
                    Strength::Stated
                };
                let mut saw_be = false;
                let mut pos = w1.range.end;
                while let Some(w) = word_at(text, pos) {
                    if w.lower == "be" {
                        saw_be = true;
                        strength = Strength::Stated;
                    }
                    if !FILLER.contains(&w.lower.as_str()) {
                        break;
                    }
                    pos = w.range.end;
                }
                if (!modal || saw_be)
                    && let Some(v) = value_at(text, pos)
                {
                    // "the password is incorrect for bob": a plain word mid-sentence describes.
                    let plain = text[v.clone()].chars().all(|c| c.is_ascii_lowercase());
                    if strength == Strength::Stated && plain && !clause_ends(text, v.end) {
                        strength = Strength::Near;
                    }
                    candidates.push((v, strength));
                }
            }
            _ => {
                let with = preceded_by(text, kw.start, WITH);
                if let Some(v) = value_at(text, kw.end) {
                    candidates.push((
                        v,
                        if with {
                            Strength::Stated
                        } else {
                            Strength::Adjacent
                        },
                    ));
                }
            }
        }
    }

    // "reset the password for bob to X": a connector a few words on.
    let mut pos = kw.end;
    for _ in 0..6 {
        let Some(w) = word_at(text, pos) else { break };
        let raw = &text[w.range.clone()];
        if ["to", "is", "="].contains(&w.lower.as_str()) && pos > kw.end {
            if let Some(v) = value_at(text, w.range.end) {
                candidates.push((v, Strength::Near));
            }
            break;
        }
        if raw.ends_with(['.', ';', '?', '!']) {
            break;
        }
        pos = w.range.end;
    }

    // "use X as the password", "X is bob's master password".
    let before = words_before(text, kw.start);
    let past_modifiers = before
        .iter()
        .position(|w| !MODIFIERS.contains(&w.lower.as_str()) && !w.lower.ends_with("'s"));
    if let Some(i) = past_modifiers
        && ["is", "as", "was"].contains(&before[i].lower.as_str())
        && let Some(v) = before.get(i + 1)
        && let Some(v) = value_at(text, v.range.start)
    {
        candidates.push((v, Strength::Near));
    }

    candidates
        .into_iter()
        .find(|(v, s)| class.accepts(&text[v.clone()], *s))
}

/// Whether the sentence or clause ends at `at` ("is swordfish, create ..." / "is swordfish").
fn clause_ends(text: &str, at: usize) -> bool {
    let rest = text[at..].trim_start_matches([' ', '\t']);
    rest.is_empty()
        || rest.starts_with([',', '.', ';', '!', '?', ')', '\n'])
        || word_at(text, at).is_some_and(|w| {
            ["and", "then", "please", "pls", "thanks", "so"].contains(&w.lower.as_str())
        })
}

/// Whether the word before `at`, past modifiers ("the", "db", "master"), is one of `words`.
fn preceded_by(text: &str, at: usize, words: &[&str]) -> bool {
    words_before(text, at)
        .iter()
        .find(|w| !MODIFIERS.contains(&w.lower.as_str()) && !w.lower.ends_with("'s"))
        .is_some_and(|w| words.contains(&w.lower.as_str()))
}
