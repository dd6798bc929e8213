//! Requests that ask to open something to everyone ("make bucket X public", "with public read
//! access", "open port 22 to the world on security group web-sg", "ssh open to 0.0.0.0/0").
//! They are read as the change they ask for, so the plan meets the policy that denies it
//! where everyone can see the refusal; they are never narrowed into a private resource or a
//! read-only scan. Questions about exposure ("which buckets are public?") and fixes of it
//! ("make bucket X private", "block public access") are not exposure requests.

use super::features::Features;
use super::names::name_like;
use super::tokens::{Kind, Token};
use crate::intent::lexicon::{Noun, Verb};

/// What a request asks to open to everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Exposure {
    /// A bucket readable by anyone.
    pub(super) bucket: bool,
    /// Inbound ports reachable from anywhere.
    pub(super) ports: bool,
    /// It changes a resource that exists ("make bucket X public") rather than creating one.
    pub(super) existing: bool,
}

const PUBLIC_WORDS: &[&str] = &[
    "public",
    "publicly",
    "public-read",
    "public-read-write",
    "world-readable",
    "anonymous",
];
/// Words that undo exposure or ask about it rather than ask for it.
const NOT_EXPOSING: &[&str] = &[
    "private", "block", "blocked", "blocking", "close", "closing", "revoke", "restrict", "remove",
    "disable", "without", "no", "not", "never", "which", "find", "list", "show", "audit",
];
/// A request starting with one of these is a question ("is bucket X public?").
const QUESTION_STARTS: &[&str] = &[
    "is", "are", "does", "do", "what", "how", "any", "can", "who", "where", "why",
];
const WORLD_WORDS: &[&str] = &["world", "anywhere", "internet", "everyone", "everybody"];
/// Verbs that grant access to something that exists.
const GRANT_WORDS: &[&str] = &["open", "allow", "expose", "permit", "grant", "make", "set"];
/// Words that ask for something new rather than a change to what exists.
const NEW_WORDS: &[&str] = &[
    "create",
    "new",
    "launch",
    "provision",
    "deploy",
    "build",
    "spin",
    "add",
    "setup",
];

/// The exposure a request asks for, or None.
pub(super) fn asked(tokens: &[Token<'_>], f: &Features) -> Option<Exposure> {
    let has = |words: &[&str]| tokens.iter().any(|t| words.contains(&t.lower.as_str()));
    if has(NOT_EXPOSING)
        || tokens
            .first()
            .is_some_and(|t| QUESTION_STARTS.contains(&t.lower.as_str()))
        || f.verb(Verb::Scan)
        || f.verb(Verb::Check)
        || f.verb(Verb::Remediate)
        || f.verb(Verb::List)
        || f.verb(Verb::Query)
    {
        return None;
    }
    let public = has(PUBLIC_WORDS);
    let world = has(WORLD_WORDS)
        || tokens.iter().any(|t| {
            matches!(&t.kind, Kind::Cidr(c) if c == "0.0.0.0/0") || t.lower == "0.0.0.0/0"
        });
    let grants = has(GRANT_WORDS);
    let creates = has(NEW_WORDS);
    let bucket = public
        && (f.noun(Noun::Bucket) || tokens.iter().any(|t| t.lower == "s3"))
        && (grants || creates || has(&["with"]));
    let port_words = tokens.iter().any(|t| {
        matches!(
            t.lower.as_str(),
            "ssh" | "rdp" | "port" | "ports" | "ingress" | "inbound"
        )
    });
    let ports = !bucket && port_words && (world || public) && (grants || creates);
    if !bucket && !ports {
        return None;
    }
    Some(Exposure {
        bucket,
        ports,
        existing: !creates,
    })
}

/// The security group a request names by name ("on security group web-sg", "the web-sg
/// security group"), when it is no `sg-…` id.
pub(super) fn group_name(tokens: &[Token<'_>]) -> Option<String> {
    for (i, t) in tokens.iter().enumerate() {
        if !t.noun(Noun::SecurityGroup) {
            continue;
        }
        // "security group web-sg": the phrase covers "group".
        let mut j = i + 1;
        while tokens
            .get(j)
            .is_some_and(|x| matches!(x.kind, Kind::Covered) || x.lower == "named")
        {
            j += 1;
        }
        if let Some(next) = tokens.get(j)
            && name_like(next, "")
            && (next.lower.contains('-') || next.lower.contains('_'))
        {
            return Some(next.orig.to_string());
        }
        if i > 0 && name_like(&tokens[i - 1], "") && tokens[i - 1].lower.contains('-') {
            return Some(tokens[i - 1].orig.to_string());
        }
    }
    None
}

/// Sets what the exposure asks for on the parameters: `public` for a bucket; the ports and
/// the named group for inbound rules.
pub(super) fn apply(e: &Exposure, tokens: &[Token<'_>], p: &mut crate::intent::Params) {
    if e.bucket {
        p.public = Some(true);
        p.service.get_or_insert_with(|| "S3".into());
    }
    if e.ports {
        p.cidr.get_or_insert_with(|| "0.0.0.0/0".into());
        if p.ports.is_empty() {
            let mut ports = Vec::new();
            for (i, t) in tokens.iter().enumerate() {
                match t.lower.as_str() {
                    "ssh" => ports.push(22),
                    "rdp" => ports.push(3389),
                    "port" | "ports" => ports.extend(
                        tokens[i + 1..]
                            .iter()
                            .take_while(|x| x.number().is_some() || x.lower == "and")
                            .filter_map(Token::number),
                    ),
                    _ => {}
                }
            }
            ports.sort_unstable();
            ports.dedup();
            p.ports = ports;
        }
        if e.existing && p.security_groups.is_empty() {
            p.security_groups = tokens
                .iter()
                .filter(|t| t.lower.starts_with("sg-") && t.lower.len() > 3)
                .map(|t| t.lower.clone())
                .collect();
            if p.security_groups.is_empty()
                && let Some(name) = group_name(tokens)
            {
                p.security_groups = vec![name];
            }
        }
    }
}
