//! Amazon Comprehend over documents: sentiment, key phrases and dominant language in batches of
//! 25 (the batch APIs' limit, 5,000 bytes per document), PII entities one document at a time.
//! Only offsets and entity types come back from PII detection; the report masks the text.

use std::collections::BTreeMap;

use aws_sdk_comprehend::types::LanguageCode;
use serde::Serialize;

use super::documents::{Document, fit};
use crate::agents::insight::aws_error;
use crate::error::{Error, Result};

pub const BATCH: usize = 25;
pub const BATCH_DOC_BYTES: usize = 5_000;
pub const PII_DOC_BYTES: usize = 100_000;

/// What Comprehend said about one document.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Sentiment {
        sentiment: String,
        positive: f32,
        negative: f32,
        neutral: f32,
        mixed: f32,
    },
    KeyPhrases {
        phrases: Vec<String>,
    },
    Language {
        language: String,
        score: f32,
    },
    Pii {
        /// (type, begin, end) in characters.
        entities: Vec<(String, i32, i32)>,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Sentiment,
    KeyPhrases,
    Language,
    Pii,
}

impl Task {
    pub fn operation(self) -> &'static str {
        match self {
            Task::Sentiment => "BatchDetectSentiment",
            Task::KeyPhrases => "BatchDetectKeyPhrases",
            Task::Language => "BatchDetectDominantLanguage",
            Task::Pii => "DetectPiiEntities",
        }
    }
    pub fn chunk(self) -> usize {
        match self {
            Task::Pii => 8,
            _ => BATCH,
        }
    }
}

/// Runs one batch (up to [`BATCH`] documents; PII runs them one call each, concurrently).
/// Returns one outcome per document, in order, and how many were cut to fit.
pub async fn run_batch(
    client: aws_sdk_comprehend::Client,
    task: Task,
    language: LanguageCode,
    texts: Vec<String>,
) -> Result<Vec<Outcome>> {
    let n = texts.len();
    let mut out: Vec<Outcome> = (0..n)
        .map(|_| Outcome::Failed {
            error: "no result".into(),
        })
        .collect();
    match task {
        Task::Sentiment => {
            let r = client
                .batch_detect_sentiment()
                .set_text_list(Some(texts))
                .language_code(language)
                .send()
                .await
                .map_err(|e| aws_error("Comprehend", "BatchDetectSentiment", &e))?;
            for x in r.result_list() {
                let s = x.sentiment_score();
                if let Some(slot) = x.index().and_then(|i| out.get_mut(i as usize)) {
                    *slot = Outcome::Sentiment {
                        sentiment: x
                            .sentiment()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        positive: s.and_then(|s| s.positive()).unwrap_or(0.0),
                        negative: s.and_then(|s| s.negative()).unwrap_or(0.0),
                        neutral: s.and_then(|s| s.neutral()).unwrap_or(0.0),
                        mixed: s.and_then(|s| s.mixed()).unwrap_or(0.0),
                    };
                }
            }
            errors(&mut out, r.error_list());
        }
        Task::KeyPhrases => {
            let r = client
                .batch_detect_key_phrases()
                .set_text_list(Some(texts))
                .language_code(language)
                .send()
                .await
                .map_err(|e| aws_error("Comprehend", "BatchDetectKeyPhrases", &e))?;
            for x in r.result_list() {
                if let Some(slot) = x.index().and_then(|i| out.get_mut(i as usize)) {
                    *slot = Outcome::KeyPhrases {
                        phrases: x
                            .key_phrases()
                            .iter()
                            .filter_map(|k| k.text().map(str::to_string))
                            .collect(),
                    };
                }
            }
            errors(&mut out, r.error_list());
        }
        Task::Language => {
            let r = client
                .batch_detect_dominant_language()
                .set_text_list(Some(texts))
                .send()
                .await
                .map_err(|e| aws_error("Comprehend", "BatchDetectDominantLanguage", &e))?;
            for x in r.result_list() {
                let best = x.languages().iter().max_by(|a, b| {
                    a.score()
                        .unwrap_or(0.0)
                        .total_cmp(&b.score().unwrap_or(0.0))
                });
                if let Some(slot) = x.index().and_then(|i| out.get_mut(i as usize)) {
                    *slot = Outcome::Language {
                        language: best
                            .and_then(|l| l.language_code())
                            .unwrap_or("und")
                            .to_string(),
                        score: best.and_then(|l| l.score()).unwrap_or(0.0),
                    };
                }
            }
            errors(&mut out, r.error_list());
        }
        Task::Pii => {
            let handles: Vec<_> = texts
                .into_iter()
                .map(|t| {
                    let (c, l) = (client.clone(), language.clone());
                    tokio::spawn(async move {
                        c.detect_pii_entities()
                            .text(t)
                            .language_code(l)
                            .send()
                            .await
                            .map_err(|e| aws_error("Comprehend", "DetectPiiEntities", &e))
                    })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                let r = match h.await {
                    Ok(r) => r,
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                };
                out[i] = match r {
                    Ok(o) => Outcome::Pii {
                        entities: o
                            .entities()
                            .iter()
                            .map(|e| {
                                (
                                    e.r#type()
                                        .map(|t| t.as_str().to_string())
                                        .unwrap_or_default(),
                                    e.begin_offset().unwrap_or(0),
                                    e.end_offset().unwrap_or(0),
                                )
                            })
                            .collect(),
                    },
                    Err(e) => Outcome::Failed {
                        error: e.to_string(),
                    },
                };
            }
        }
    }
    Ok(out)
}

fn errors(out: &mut [Outcome], list: &[aws_sdk_comprehend::types::BatchItemError]) {
    for e in list {
        if let Some(slot) = e.index().and_then(|i| out.get_mut(i as usize)) {
            *slot = Outcome::Failed {
                error: format!(
                    "{}: {}",
                    e.error_code().unwrap_or("error"),
                    e.error_message().unwrap_or("no message")
                ),
            };
        }
    }
}

/// The texts of a batch, cut to the task's size limit; how many were cut.
pub fn texts(task: Task, docs: &[Document]) -> (Vec<String>, usize) {
    let max = if task == Task::Pii {
        PII_DOC_BYTES
    } else {
        BATCH_DOC_BYTES
    };
    let mut cut = 0;
    let t = docs
        .iter()
        .map(|d| {
            let (t, c) = fit(&d.text, max);
            cut += usize::from(c);
            t.to_string()
        })
        .collect();
    (t, cut)
}

pub fn language_code(code: &str) -> Result<LanguageCode> {
    if !LanguageCode::values().contains(&code) {
        return Err(Error::input(format!(
            "Comprehend does not analyse language '{code}': use en, es, fr, de, it, pt, ar, hi, ja, ko or zh"
        )));
    }
    Ok(LanguageCode::from(code))
}

/// The text with every PII entity replaced by `[TYPE]` (offsets are in characters).
pub fn mask(text: &str, entities: &[(String, i32, i32)]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut spans: Vec<&(String, i32, i32)> = entities.iter().collect();
    spans.sort_by_key(|e| e.1);
    let mut out = String::new();
    let mut at = 0usize;
    for (kind, b, e) in spans {
        let (b, e) = ((*b).max(0) as usize, (*e).max(0) as usize);
        if b < at || b > chars.len() {
            continue;
        }
        out.extend(&chars[at..b]);
        out.push_str(&format!("[{kind}]"));
        at = e.min(chars.len()).max(b);
    }
    out.extend(&chars[at.min(chars.len())..]);
    out
}

/// Phrases by how many documents mention them (lower-cased), most common first.
pub fn phrase_counts(outcomes: &[Outcome]) -> Vec<(String, usize, usize)> {
    let mut m: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        if let Outcome::KeyPhrases { phrases } = o {
            let mut seen = std::collections::BTreeSet::new();
            for p in phrases {
                let k = p.trim().to_lowercase();
                if k.is_empty() {
                    continue;
                }
                let e = m.entry(k.clone()).or_default();
                e.1 += 1;
                if seen.insert(k) {
                    e.0 += 1;
                }
            }
        }
    }
    let mut v: Vec<(String, usize, usize)> = m.into_iter().map(|(k, (d, n))| (k, d, n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_uses_character_offsets() {
        let t = "Écrivez à jo@example.com ou au +33 6 12 34 56 78.";
        let entities = vec![("EMAIL".to_string(), 10, 24), ("PHONE".to_string(), 31, 48)];
        assert_eq!(mask(t, &entities), "Écrivez à [EMAIL] ou au [PHONE].");
        assert_eq!(mask("abc", &[("X".into(), 5, 9)]), "abc");
    }

    #[test]
    fn phrases_count_documents_once() {
        let o = vec![
            Outcome::KeyPhrases {
                phrases: vec!["Checkout".into(), "checkout".into(), "refund".into()],
            },
            Outcome::KeyPhrases {
                phrases: vec!["checkout".into()],
            },
        ];
        let c = phrase_counts(&o);
        assert_eq!(c[0], ("checkout".into(), 2, 3));
        assert_eq!(c[1], ("refund".into(), 1, 1));
        assert!(language_code("xx").is_err());
    }
}
