//! Summaries and labels from a Bedrock model (Converse API). Text goes to Bedrock only when the
//! request says so (it names Bedrock or a model id) or the user typed the text themselves.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};

use super::documents::{Document, fit};
use crate::agents::insight::aws_error;
use crate::error::{Error, Result};

/// Characters of document text per prompt (about 8k tokens), leaving room for the answer.
pub const PROMPT_CHARS: usize = 32_000;
/// Characters of one document in a prompt.
const DOC_CHARS: usize = 2_000;
/// Documents labelled per call.
pub const LABEL_BATCH: usize = 25;

pub const DEFAULT_LABELS: &[&str] = &[
    "praise",
    "complaint",
    "bug report",
    "billing",
    "feature request",
    "question",
    "other",
];

#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub calls: u32,
}

/// `[1] first document\n[2] second ...`, up to the budget; how many fitted.
pub fn numbered(docs: &[Document], budget: usize) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    for (i, d) in docs.iter().enumerate() {
        let (t, _) = fit(&d.text, DOC_CHARS);
        let t = t.replace('\n', " ");
        let entry = format!("\n[{}] {t}", i + 1);
        if out.len() + entry.len() > budget && n > 0 {
            break;
        }
        out.push_str(&entry);
        n += 1;
    }
    (out, n)
}

pub async fn converse(
    client: aws_sdk_bedrockruntime::Client,
    model: String,
    system: String,
    prompt: String,
    max_tokens: i32,
) -> Result<(String, Usage)> {
    let bad = |e: aws_sdk_bedrockruntime::error::BuildError| {
        Error::input(format!("the Bedrock request cannot be built: {e}"))
    };
    let out = client
        .converse()
        .model_id(&model)
        .system(SystemContentBlock::Text(system))
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(prompt))
                .build()
                .map_err(bad)?,
        )
        .inference_config(
            InferenceConfiguration::builder()
                .temperature(0.0)
                .max_tokens(max_tokens)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("Bedrock", "Converse", &e))?;
    let text = out
        .output()
        .and_then(|o| o.as_message().ok())
        .map(|m| {
            m.content()
                .iter()
                .filter_map(|c| c.as_text().ok().cloned())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let usage = out
        .usage()
        .map(|u| Usage {
            input_tokens: i64::from(u.input_tokens()),
            output_tokens: i64::from(u.output_tokens()),
            calls: 1,
        })
        .unwrap_or(Usage {
            calls: 1,
            ..Usage::default()
        });
    Ok((text, usage))
}

pub fn summary_system() -> String {
    "You summarise text for an operations team. Write a short, factual summary: the main themes \
     with how many documents raise each, notable outliers, and anything urgent. Refer to \
     documents by their [number]. Do not invent facts."
        .into()
}

pub fn label_system(labels: &[String]) -> String {
    format!(
        "You label short documents. Allowed labels: {}. Label each document with exactly one \
         allowed label. Answer with one line per document, `<number>: <label>`, and nothing else.",
        labels.join(", ")
    )
}

pub fn label_prompt(body: &str) -> String {
    format!("Label each document below.{body}")
}

/// Reads `<n>: <label>` lines; labels outside the allowed list become `None`.
pub fn parse_labels(answer: &str, n: usize, labels: &[String]) -> Vec<Option<String>> {
    let mut out = vec![None; n];
    for line in answer.lines() {
        let line = line.trim().trim_start_matches(['-', '*', ' ']);
        let Some((num, label)) = line.split_once(':') else {
            continue;
        };
        let Ok(i) = num.trim().trim_matches(['[', ']']).parse::<usize>() else {
            continue;
        };
        let label = label
            .trim()
            .trim_matches(['"', '\'', '.', '`'])
            .to_lowercase();
        if i >= 1
            && i <= n
            && let Some(l) = labels.iter().find(|l| l.to_lowercase() == label)
        {
            out[i - 1] = Some(l.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_parsed_and_checked() {
        let labels: Vec<String> = ["billing", "bug report"].map(String::from).to_vec();
        let got = parse_labels(
            "1: billing\n- 2: Bug Report.\n3: spam\n[4]: billing\n9: billing",
            4,
            &labels,
        );
        assert_eq!(
            got,
            vec![
                Some("billing".into()),
                Some("bug report".into()),
                None,
                Some("billing".into())
            ]
        );
    }

    #[test]
    fn prompts_fit_the_budget() {
        let docs: Vec<Document> = (0..100)
            .map(|i| Document {
                key: format!("k{i}"),
                record: None,
                text: "x".repeat(500),
            })
            .collect();
        let (body, n) = numbered(&docs, 5_000);
        assert!(body.len() <= 5_000 && n == 9, "{n}");
        assert!(body.starts_with("\n[1] xxx"));
    }
}
