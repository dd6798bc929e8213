//! Suggestions as a request is typed: whole requests the tenant's requesters made before and
//! that went well (applied plans, answered questions), then the known request phrases, that
//! start with what is typed. The console shows the best as ghost text after the cursor, and Tab
//! (or Right at the end of the line) takes it. Pure: built once from the knowledge index the
//! console's poll refreshes ([`crate::pipeline::Requests::phrase_book`]), asked on a keystroke.

use std::collections::HashMap;

/// Request phrases the offline parser understands, each with an example of what goes in its
/// slot when it ends with a space (tests read every one, filled, as a request).
pub const KNOWN_PHRASES: &[(&str, &str)] = &[
    ("list instances tagged ", "Env=staging"),
    ("restart instances tagged ", "Env=staging"),
    ("stop instances tagged ", "Env=staging"),
    ("show CPU utilization of instances tagged ", "Env=prod"),
    ("create 2 t3.micro instances in ", "us-east-1"),
    ("create an s3 bucket called ", "my-bucket"),
    ("install nginx on ", "dev servers"),
    ("scan all S3 buckets for public access", ""),
    ("run a security scan of security groups", ""),
    ("show cost by service for last month", ""),
    ("what is my daily EC2 spend", ""),
    ("show last 24h error logs from Lambda ", "my-func"),
    ("tail log group ", "/aws/lambda/my-func"),
    ("list log groups", ""),
    ("show alarms", ""),
];

/// Fewer typed characters than this suggest nothing: two letters match half the book.
pub const MIN_TYPED: usize = 3;

/// Where a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhraseSource {
    /// The tenant's past requests that went well: how often, and how recently (the higher, the
    /// later in the trail).
    Past {
        times: usize,
        latest: usize,
    },
    Known,
}

#[derive(Debug, Clone)]
struct Phrase {
    text: String,
    lower: String,
    source: PhraseSource,
}

/// What can be suggested, deduplicated (case-insensitively) and ranked once.
#[derive(Debug, Clone, Default)]
pub struct PhraseBook {
    phrases: Vec<Phrase>,
}

/// One suggestion for what is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseSuggestion {
    /// The whole request: what is typed, as typed, then the rest.
    pub text: String,
    /// What the suggestion adds (the ghost text).
    pub rest: String,
    pub source: PhraseSource,
}

impl PhraseBook {
    /// From the past requests that went well, oldest first (their words as the trail keeps
    /// them), and the known phrases. A request said several times is one suggestion, ranked
    /// by how often and then how recently; every past request ranks above the known phrases.
    pub fn build<'a>(past: impl IntoIterator<Item = &'a str>, known: &[(&str, &str)]) -> Self {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut phrases: Vec<Phrase> = Vec::new();
        for (n, text) in past.into_iter().enumerate() {
            let text = text.trim();
            // Only what fits the one-line prompt, and nothing a credential was masked in.
            if text.is_empty() || text.contains('\n') || text.contains(crate::redact::mask()) {
                continue;
            }
            let lower = text.to_lowercase();
            match seen.get(&lower) {
                Some(&i) => {
                    if let PhraseSource::Past { times, latest } = &mut phrases[i].source {
                        *times += 1;
                        *latest = n;
                    }
                    // The latest wording of the same request.
                    phrases[i].text = text.to_string();
                }
                None => {
                    seen.insert(lower.clone(), phrases.len());
                    phrases.push(Phrase {
                        text: text.to_string(),
                        lower,
                        source: PhraseSource::Past {
                            times: 1,
                            latest: n,
                        },
                    });
                }
            }
        }
        for (text, _) in known {
            let lower = text.to_lowercase();
            if !seen.contains_key(&lower) {
                seen.insert(lower.clone(), phrases.len());
                phrases.push(Phrase {
                    text: text.to_string(),
                    lower,
                    source: PhraseSource::Known,
                });
            }
        }
        // Stable: the known phrases keep their order.
        phrases.sort_by_key(|p| std::cmp::Reverse(rank(p.source)));
        PhraseBook { phrases }
    }

    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// The best `n` suggestions for `typed` (its case ignored), best first: phrases longer than
    /// it that start with it. Nothing for fewer than [`MIN_TYPED`] characters or several lines.
    pub fn suggest(&self, typed: &str, n: usize) -> Vec<PhraseSuggestion> {
        if typed.chars().count() < MIN_TYPED || typed.contains('\n') || typed.trim().is_empty() {
            return Vec::new();
        }
        let lower = typed.to_lowercase();
        self.phrases
            .iter()
            .filter(|p| p.lower.len() > lower.len() && p.lower.starts_with(&lower))
            // Lower-casing kept the length (checked below), so the rest starts where `typed` ends.
            .filter_map(|p| {
                let rest = p.text.get(typed.len()..)?;
                (p.text.len() == p.lower.len()).then(|| PhraseSuggestion {
                    text: format!("{typed}{rest}"),
                    rest: rest.to_string(),
                    source: p.source,
                })
            })
            .take(n)
            .collect()
    }
}

/// Past requests first (more often, then more recently), then the known phrases in their order.
fn rank(s: PhraseSource) -> (bool, usize, usize) {
    match s {
        PhraseSource::Past { times, latest } => (true, times, latest),
        PhraseSource::Known => (false, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &[PhraseSuggestion]) -> Vec<&str> {
        s.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn past_requests_rank_by_how_often_then_how_recently_and_above_known_phrases() {
        let book = PhraseBook::build(
            [
                "restart instances tagged Env=staging",
                "restart instances tagged Role=web",
                "restart instances tagged Env=staging",
                "restart instances tagged Env=prod",
            ],
            KNOWN_PHRASES,
        );
        let s = book.suggest("restart ins", 4);
        assert_eq!(
            texts(&s),
            vec![
                "restart instances tagged Env=staging",
                "restart instances tagged Env=prod",
                "restart instances tagged Role=web",
                "restart instances tagged ",
            ]
        );
        assert_eq!(
            s[0].source,
            PhraseSource::Past {
                times: 2,
                latest: 2
            }
        );
        assert_eq!(s[0].rest, "tances tagged Env=staging");
        assert_eq!(s[3].source, PhraseSource::Known);
    }

    #[test]
    fn what_is_typed_keeps_its_case_and_the_rest_comes_from_the_phrase() {
        let book = PhraseBook::build(["Restart EC2 instances tagged Env=staging"], &[]);
        let s = book.suggest("restart ec", 1);
        assert_eq!(s[0].text, "restart ec2 instances tagged Env=staging");
        assert_eq!(s[0].rest, "2 instances tagged Env=staging");
    }

    #[test]
    fn too_little_typed_whole_phrases_several_lines_and_masked_requests_suggest_nothing() {
        let book = PhraseBook::build(
            [
                "show alarms",
                "two\nlines please",
                &format!("use key {} now", crate::redact::mask()),
            ],
            KNOWN_PHRASES,
        );
        assert!(book.suggest("sh", 3).is_empty(), "under MIN_TYPED");
        assert!(book.suggest("show alarms", 3).is_empty(), "already whole");
        assert!(book.suggest("two", 3).is_empty());
        assert!(book.suggest("use key", 3).is_empty());
        assert!(book.suggest("nothing like it", 3).is_empty());
        // Said once in the past and also a known phrase: one suggestion, from the past.
        let s = book.suggest("show al", 3);
        assert_eq!(texts(&s), vec!["show alarms"]);
        assert!(matches!(s[0].source, PhraseSource::Past { .. }));
    }

    #[test]
    fn every_known_phrase_is_a_request_the_parser_understands() {
        let limits = crate::intent::Limits::any_tenant();
        for (phrase, slot) in KNOWN_PHRASES {
            assert_eq!(phrase.ends_with(' '), !slot.is_empty(), "{phrase:?}");
            let text = format!("{phrase}{slot}");
            let read = crate::intent::parse_with(&text, &limits)
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(!read.low_confidence, "{text:?} read with low confidence");
        }
    }
}
