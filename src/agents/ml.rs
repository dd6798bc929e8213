//! The ml agent: Comprehend (sentiment, key phrases, language, PII) over text in S3, summaries
//! and labels from a Bedrock model, and SageMaker endpoints.
//!
//! Where data goes: text read from S3 is sent to the AWS service the request names, in the
//! tenant's region, and nowhere else — Comprehend for sentiment, key phrases, language and PII;
//! Bedrock only when the request names Bedrock (or a model id), since a summary or a label
//! needs a model; a SageMaker endpoint only receives the input typed in the request. Every
//! report says what was sent where. PII results carry entity types and offsets, and examples
//! are shown masked.

mod bedrock;
mod comprehend;
mod documents;
mod sagemaker;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::insight::{self, clip, progress};
use super::{AgentRequest, DraftFile, Reply, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::{AgentKind, TextModel};
use crate::plan::ArtifactKind;
use comprehend::{Outcome, Task};
use documents::{Corpus, Document};

const AGENT: AgentKind = AgentKind::Ml;

agent_actions! {
    /// What the ml agent can be asked to do.
    pub enum Action for AGENT, "analyses sentiment, key phrases, language and PII of text, summarises or labels text in S3 with a Bedrock model, and lists and invokes SageMaker endpoints" {
        Sentiment = "sentiment",
        KeyPhrases = "key_phrases",
        Language = "language",
        Pii = "pii",
        Summarize = "summarize",
        Classify = "classify",
        ListEndpoints = "list_endpoints",
        Invoke = "invoke",
    }
}

pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    let r = match Action::of(req.intent)? {
        Action::Sentiment => analyse(req, Task::Sentiment, sink)?,
        Action::KeyPhrases => analyse(req, Task::KeyPhrases, sink)?,
        Action::Language => analyse(req, Task::Language, sink)?,
        Action::Pii => analyse(req, Task::Pii, sink)?,
        action @ (Action::Summarize | Action::Classify) => model(req, action, sink)?,
        Action::ListEndpoints => endpoints(req, sink)?,
        Action::Invoke if req.intent.params.endpoint.is_some() => invoke(req, sink)?,
        Action::Invoke => {
            return Err(Error::input(
                "name the SageMaker endpoint and quote the input: e.g. invoke sagemaker endpoint churn-model with '34,2,1,99.5'",
            ));
        }
    };
    Ok(Reply::Report(r))
}

/// The documents a request means: the text it quotes, or a bucket/prefix.
fn documents(req: &AgentRequest<'_>, region: &str, sink: Sink<'_>) -> Result<(String, Corpus)> {
    let i = req.intent;
    if let Some(text) = i.params.text.as_deref()
        && i.params.bucket.is_none()
    {
        return Ok((
            "the quoted text".into(),
            Corpus {
                docs: vec![Document {
                    key: "request".into(),
                    record: None,
                    text: text.to_string(),
                }],
                ..Corpus::default()
            },
        ));
    }
    let Some(bucket) = i.params.bucket.as_deref() else {
        return Err(Error::input(format!(
            "name the text to analyse: a bucket (\"... customer feedback in bucket my-feedback\"), an S3 prefix (s3://my-feedback/2024/), or quoted text; understood {}",
            i.action
        )));
    };
    let prefix = i.params.prefix.as_deref();
    let since = match i.params.window.as_deref() {
        Some(w) => Some(insight::window(Some(w), w, Timestamp::now())?.1.start),
        None => None,
    };
    let conf = insight::config(req.aws, region)?;
    let corpus = documents::load(req.aws, &conf, region, bucket, prefix, since, &|m| {
        progress(sink, AGENT, m)
    })?;
    Ok((format!("s3://{bucket}/{}", prefix.unwrap_or("")), corpus))
}

fn corpus_notes(c: &Corpus, notes: &mut Vec<String>) {
    if c.capped {
        notes.push(format!(
            "analysed the first {} documents (the cap); narrow with a prefix (s3://bucket/prefix/) or a window (\"from the last 7 days\")",
            documents::DOC_CAP
        ));
    }
    if !c.skipped.is_empty() {
        let shown: Vec<String> = c
            .skipped
            .iter()
            .take(5)
            .map(|(k, why)| format!("{k} ({why})"))
            .collect();
        notes.push(format!(
            "{} object(s) skipped: {}{}",
            c.skipped.len(),
            shown.join(", "),
            if c.skipped.len() > 5 { ", ..." } else { "" }
        ));
    }
}

fn analyse(req: &AgentRequest<'_>, task: Task, sink: Sink<'_>) -> Result<Report> {
    let region = req.region()?;
    let (source, corpus) = documents(req, &region, sink)?;
    let mut notes = Vec::new();
    corpus_notes(&corpus, &mut notes);
    if corpus.docs.is_empty() {
        return Ok(Report {
            summary: format!(
                "no text documents in {source} ({} object(s) listed)",
                corpus.objects_listed
            ),
            outputs: Vec::new(),
            notes,
            region: Some(region),
            data: json!({"source": source, "documents": 0}),
            files: Vec::new(),
        });
    }
    let conf = insight::config(req.aws, &region)?;
    let client = aws_sdk_comprehend::Client::new(&conf);
    let language = comprehend::language_code("en")?;
    let total = corpus.docs.len();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(total);
    let mut cut = 0;
    for chunk in corpus.docs.chunks(task.chunk()) {
        let (texts, c) = comprehend::texts(task, chunk);
        cut += c;
        let n = texts.len();
        match req.aws.block_on(comprehend::run_batch(
            client.clone(),
            task,
            language.clone(),
            texts,
        ))? {
            Ok(o) => outcomes.extend(o),
            // Nothing worked yet: the service is unreachable or refuses; say so.
            Err(e) if outcomes.is_empty() => return Err(e),
            Err(e) => outcomes.extend((0..n).map(|_| Outcome::Failed {
                error: e.to_string(),
            })),
        }
        if total > task.chunk() {
            progress(
                sink,
                AGENT,
                format!(
                    "Comprehend {}: {}/{total} documents",
                    task.operation(),
                    outcomes.len()
                ),
            );
        }
    }
    if cut > 0 {
        notes.push(format!(
            "{cut} document(s) were longer than Comprehend takes and were analysed on their first {} bytes",
            if task == Task::Pii {
                comprehend::PII_DOC_BYTES
            } else {
                comprehend::BATCH_DOC_BYTES
            }
        ));
    }
    let failed: Vec<(usize, &str)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Outcome::Failed { error } => Some((i, error.as_str())),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        notes.push(format!(
            "{} document(s) could not be analysed, e.g. {}: {}",
            failed.len(),
            corpus.docs[failed[0].0].source(),
            failed[0].1
        ));
    }
    notes.push(format!(
        "the text of {total} document(s) was sent to Amazon Comprehend ({}) in {region}; nothing else left the account",
        task.operation()
    ));
    let ok = total - failed.len();
    let mut report = match task {
        Task::Sentiment => sentiment_report(&source, &corpus.docs, &outcomes, ok),
        Task::KeyPhrases => phrases_report(&source, &outcomes, ok),
        Task::Language => language_report(&source, &outcomes, ok),
        Task::Pii => pii_report(&source, &corpus.docs, &outcomes, ok),
    };
    report.notes.extend(notes);
    report.region = Some(region);
    if let Some(d) = report.data.as_object_mut() {
        d.insert("source".into(), json!(source));
        d.insert("objects_read".into(), json!(corpus.objects_read));
        d.insert("bytes_read".into(), json!(corpus.bytes_read));
        d.insert("capped".into(), json!(corpus.capped));
        d.insert("failed".into(), json!(failed.len()));
    }
    Ok(report)
}

const SENTIMENTS: [&str; 4] = ["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"];

fn sentiment_report(source: &str, docs: &[Document], outcomes: &[Outcome], ok: usize) -> Report {
    let mut counts: BTreeMap<&str, (usize, f32)> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let _ = csv.write_record([
        "source",
        "sentiment",
        "positive",
        "negative",
        "neutral",
        "mixed",
    ]);
    for (d, o) in docs.iter().zip(outcomes) {
        if let Outcome::Sentiment {
            sentiment,
            positive,
            negative,
            neutral,
            mixed,
        } = o
        {
            let label = SENTIMENTS
                .iter()
                .find(|s| **s == sentiment.as_str())
                .copied()
                .unwrap_or("NEUTRAL");
            let score = match label {
                "POSITIVE" => *positive,
                "NEGATIVE" => *negative,
                "MIXED" => *mixed,
                _ => *neutral,
            };
            let e = counts.entry(label).or_default();
            e.0 += 1;
            e.1 += score;
            rows.push(
                json!({"source": d.source(), "sentiment": label, "positive": positive,
                "negative": negative, "neutral": neutral, "mixed": mixed}),
            );
            // The source is a document name from S3: a cell a spreadsheet shows as text.
            let _ = csv.write_record([
                crate::sanitize::csv_cell(&d.source()).into_owned(),
                label.to_string(),
                positive.to_string(),
                negative.to_string(),
                neutral.to_string(),
                mixed.to_string(),
            ]);
        }
    }
    let pct = |n: usize| {
        if ok == 0 {
            0.0
        } else {
            100.0 * n as f64 / ok as f64
        }
    };
    let table: Vec<Vec<String>> = SENTIMENTS
        .iter()
        .map(|s| {
            let (n, sum) = counts.get(s).copied().unwrap_or((0, 0.0));
            vec![
                s.to_lowercase(),
                n.to_string(),
                format!("{:.0}%", pct(n)),
                if n == 0 {
                    "-".into()
                } else {
                    format!("{:.2}", sum / n as f32)
                },
            ]
        })
        .collect();
    // The strongest examples either way, so a reader sees what the numbers mean.
    let mut idx: Vec<usize> = (0..outcomes.len()).collect();
    let score = |i: usize, neg: bool| match &outcomes[i] {
        Outcome::Sentiment {
            negative, positive, ..
        } => {
            if neg {
                *negative
            } else {
                *positive
            }
        }
        _ => -1.0,
    };
    let mut examples = Vec::new();
    for (neg, label, take) in [(true, "negative", 3), (false, "positive", 2)] {
        idx.sort_by(|a, b| score(*b, neg).total_cmp(&score(*a, neg)));
        for i in idx.iter().take(take) {
            if score(*i, neg) > 0.5 {
                examples.push(vec![
                    label.to_string(),
                    format!("{:.2}", score(*i, neg)),
                    clip(&docs[*i].source(), 40),
                    clip(&docs[*i].text, 90),
                ]);
            }
        }
    }
    let order: Vec<String> = SENTIMENTS
        .iter()
        .filter_map(|s| {
            let n = counts.get(s).map(|c| c.0).unwrap_or(0);
            (n > 0).then(|| format!("{:.0}% {} ({n})", pct(n), s.to_lowercase()))
        })
        .collect();
    let mut outputs = vec![
        Output::Table {
            title: "sentiment".into(),
            columns: headings(&["SENTIMENT", "DOCUMENTS", "SHARE", "AVG SCORE"]),
            rows: table,
        },
        Output::Series {
            title: "documents by sentiment".into(),
            unit: "documents".into(),
            points: SENTIMENTS
                .iter()
                .map(|s| {
                    (
                        s.to_lowercase(),
                        counts.get(s).map(|c| c.0).unwrap_or(0) as f64,
                    )
                })
                .collect(),
        },
    ];
    if !examples.is_empty() {
        outputs.push(Output::Table {
            title: "examples".into(),
            columns: headings(&["SENTIMENT", "SCORE", "SOURCE", "TEXT"]),
            rows: examples,
        });
    }
    Report {
        summary: format!(
            "Sentiment of {ok} document(s) in {source} (Amazon Comprehend, en): {}",
            order.join(", ")
        ),
        outputs,
        notes: Vec::new(),
        region: None,
        data: json!({
            "documents": ok,
            "counts": SENTIMENTS.iter().map(|s| (s.to_lowercase(), json!(counts.get(s).map(|c| c.0).unwrap_or(0)))).collect::<serde_json::Map<_, _>>(),
            "results": rows,
        }),
        files: vec![DraftFile {
            name: "sentiment.csv".into(),
            kind: ArtifactKind::Report,
            content: csv.into_inner().unwrap_or_default(),
        }],
    }
}

fn phrases_report(source: &str, outcomes: &[Outcome], ok: usize) -> Report {
    let counts = comprehend::phrase_counts(outcomes);
    let top: Vec<Vec<String>> = counts
        .iter()
        .take(20)
        .map(|(p, d, n)| vec![p.clone(), d.to_string(), n.to_string()])
        .collect();
    Report {
        summary: format!(
            "Key phrases of {ok} document(s) in {source} (Amazon Comprehend, en): {} distinct; most common: {}",
            counts.len(),
            counts
                .iter()
                .take(5)
                .map(|(p, d, _)| format!("{p} ({d})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        outputs: vec![Output::Table {
            title: "key phrases".into(),
            columns: headings(&["PHRASE", "DOCUMENTS", "MENTIONS"]),
            rows: top,
        }],
        notes: if counts.len() > 20 {
            vec![insight::see_all(&format!(
                "{} more phrases than the 20 shown",
                counts.len() - 20
            ))]
        } else {
            Vec::new()
        },
        region: None,
        data: json!({
            "documents": ok,
            "phrases": counts.iter().map(|(p, d, n)| json!({"phrase": p, "documents": d, "mentions": n})).collect::<Vec<_>>(),
        }),
        files: Vec::new(),
    }
}

fn language_report(source: &str, outcomes: &[Outcome], ok: usize) -> Report {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        if let Outcome::Language { language, .. } = o {
            *counts.entry(language.clone()).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Report {
        summary: format!(
            "Dominant language of {ok} document(s) in {source} (Amazon Comprehend): {}",
            v.iter()
                .map(|(l, n)| format!("{l} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        outputs: vec![Output::Series {
            title: "documents by language".into(),
            unit: "documents".into(),
            points: v.iter().map(|(l, n)| (l.clone(), *n as f64)).collect(),
        }],
        notes: Vec::new(),
        region: None,
        data: json!({"documents": ok, "languages": v.iter().map(|(l, n)| (l.clone(), json!(n))).collect::<serde_json::Map<_, _>>()}),
        files: Vec::new(),
    }
}

fn pii_report(source: &str, docs: &[Document], outcomes: &[Outcome], ok: usize) -> Report {
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut with_pii = 0;
    let mut examples = Vec::new();
    let mut results = Vec::new();
    for (d, o) in docs.iter().zip(outcomes) {
        let Outcome::Pii { entities } = o else {
            continue;
        };
        if entities.is_empty() {
            continue;
        }
        with_pii += 1;
        let mut kinds: Vec<String> = entities.iter().map(|e| e.0.clone()).collect();
        for k in &kinds {
            *types.entry(k.clone()).or_default() += 1;
        }
        kinds.sort();
        kinds.dedup();
        let masked = comprehend::mask(&d.text, entities);
        if examples.len() < 10 {
            examples.push(vec![
                clip(&d.source(), 40),
                kinds.join(", "),
                clip(&masked, 90),
            ]);
        }
        results.push(json!({"source": d.source(), "types": kinds,
            "entities": entities.iter().map(|(t, b, e)| json!({"type": t, "begin": b, "end": e})).collect::<Vec<_>>(),
            "masked": clip(&masked, 500)}));
    }
    let mut outputs = vec![Output::Table {
        title: "PII entities".into(),
        columns: headings(&["TYPE", "OCCURRENCES"]),
        rows: types
            .iter()
            .map(|(t, n)| vec![t.clone(), n.to_string()])
            .collect(),
    }];
    if !examples.is_empty() {
        outputs.push(Output::Table {
            title: "documents with PII (masked)".into(),
            columns: headings(&["SOURCE", "TYPES", "TEXT"]),
            rows: examples,
        });
    }
    Report {
        summary: format!(
            "PII in {source} (Amazon Comprehend, en): {with_pii} of {ok} document(s) contain personal data{}",
            if types.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    types
                        .iter()
                        .map(|(t, n)| format!("{n} {t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
        outputs,
        notes: vec![
            "examples are masked: the personal data itself is never shown or stored".into(),
        ],
        region: None,
        data: json!({"documents": ok, "with_pii": with_pii, "types": types, "results": results}),
        files: Vec::new(),
    }
}

/// Summaries and labels from the tenant's Bedrock model (or one the request names).
fn model(req: &AgentRequest<'_>, action: Action, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let region = req.region()?;
    let model = i.params.model_id.as_deref()
        .map(str::to_string)
        .or_else(|| (!req.tenant.llm.model_id.is_empty()).then(|| req.tenant.llm.model_id.clone()))
        .ok_or_else(|| {
            Error::input(format!(
                "no Bedrock model is configured for tenant {}: an admin sets llm.model_id (e.g. anthropic.claude-3-haiku-20240307-v1:0) with `opsdeck tenants set`, or name the model id in the request",
                req.tenant.name
            ))
        })?;
    // Text from S3 goes to Bedrock only when the request says so.
    let named = i.params.model == Some(TextModel::Bedrock) || i.params.model_id.is_some();
    if i.params.bucket.is_some() && !named {
        return Err(Error::input(format!(
            "{} text from S3 needs a model: this sends the documents to Amazon Bedrock ({model}). Say so to go ahead, e.g. \"{} the feedback in bucket {} with Bedrock\"",
            if action == Action::Classify {
                "Labelling"
            } else {
                "Summarising"
            },
            action,
            i.params.bucket.as_deref().unwrap_or_default()
        )));
    }
    let model_region = if req.tenant.llm.region.is_empty() {
        region.clone()
    } else {
        req.tenant.llm.region.clone()
    };
    let (source, corpus) = documents(req, &region, sink)?;
    let mut notes = Vec::new();
    corpus_notes(&corpus, &mut notes);
    if corpus.docs.is_empty() {
        return Err(Error::input(format!(
            "no text documents in {source} ({} object(s) listed)",
            corpus.objects_listed
        )));
    }
    let conf = insight::config(req.aws, &model_region)?;
    let client = aws_sdk_bedrockruntime::Client::new(&conf);
    let mut usage = bedrock::Usage::default();
    let report = if action == Action::Classify {
        let labels: Vec<String> = match i
            .params
            .text
            .as_deref()
            .filter(|_| i.params.bucket.is_some())
        {
            Some(t) => t
                .split([',', ';', '/'])
                .map(|x| x.trim().to_lowercase())
                .filter(|x| !x.is_empty())
                .collect(),
            None => bedrock::DEFAULT_LABELS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        let mut assigned: Vec<Option<String>> = Vec::new();
        let total = corpus.docs.len();
        for chunk in corpus.docs.chunks(bedrock::LABEL_BATCH) {
            let (body, n) = bedrock::numbered(chunk, bedrock::PROMPT_CHARS);
            let (answer, u) = req.aws.block_on(bedrock::converse(
                client.clone(),
                model.clone(),
                bedrock::label_system(&labels),
                bedrock::label_prompt(&body),
                16 * n as i32 + 64,
            ))??;
            usage.input_tokens += u.input_tokens;
            usage.output_tokens += u.output_tokens;
            usage.calls += 1;
            let mut got = bedrock::parse_labels(&answer, chunk.len(), &labels);
            for g in got.iter_mut().skip(n) {
                *g = None;
            }
            assigned.extend(got);
            progress(
                sink,
                AGENT,
                format!("Bedrock labels: {}/{total} documents", assigned.len()),
            );
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for l in assigned.iter().flatten() {
            *counts.entry(l.clone()).or_default() += 1;
        }
        let unlabelled = assigned.iter().filter(|l| l.is_none()).count();
        if unlabelled > 0 {
            notes.push(format!(
                "{unlabelled} document(s) got no valid label from the model"
            ));
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Report {
            summary: format!(
                "Labels for {} document(s) in {source} (Bedrock {model}): {}",
                total - unlabelled,
                v.iter()
                    .map(|(l, n)| format!("{l} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            outputs: vec![Output::Series {
                title: "documents by label".into(),
                unit: "documents".into(),
                points: v.iter().map(|(l, n)| (l.clone(), *n as f64)).collect(),
            }],
            notes: Vec::new(),
            region: Some(model_region.clone()),
            data: json!({
                "labels": labels,
                "counts": v.iter().map(|(l, n)| (l.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "results": corpus.docs.iter().zip(&assigned).map(|(d, l)| json!({"source": d.source(), "label": l})).collect::<Vec<_>>(),
            }),
            files: Vec::new(),
        }
    } else {
        let (body, n) = bedrock::numbered(&corpus.docs, bedrock::PROMPT_CHARS);
        if n < corpus.docs.len() {
            notes.push(format!(
                "the summary covers the first {n} of {} documents (the prompt budget)",
                corpus.docs.len()
            ));
        }
        progress(
            sink,
            AGENT,
            format!("Bedrock: summarising {n} documents with {model}"),
        );
        let (answer, u) = req.aws.block_on(bedrock::converse(
            client.clone(),
            model.clone(),
            bedrock::summary_system(),
            format!("Summarise these {n} documents from {source}:{body}"),
            800,
        ))??;
        usage = u;
        Report {
            summary: format!(
                "Summary of {n} document(s) in {source} (Bedrock {model}): {}",
                clip(&answer, 600)
            ),
            outputs: Vec::new(),
            notes: Vec::new(),
            region: Some(model_region.clone()),
            data: json!({"summary": answer, "documents": n}),
            files: vec![DraftFile {
                name: "summary.md".into(),
                kind: ArtifactKind::Report,
                content: answer.into_bytes(),
            }],
        }
    };
    let mut report = report;
    notes.push(format!(
        "the text of {} document(s) was sent to Amazon Bedrock ({model}) in {model_region}, as the request asked; {} call(s), {} input and {} output tokens",
        corpus.docs.len(),
        usage.calls,
        usage.input_tokens,
        usage.output_tokens
    ));
    report.notes.extend(notes);
    if let Some(d) = report.data.as_object_mut() {
        d.insert("source".into(), json!(source));
        d.insert("model".into(), json!(model));
        d.insert(
            "usage".into(),
            json!({"calls": usage.calls, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}),
        );
    }
    Ok(report)
}

fn endpoints(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    progress(
        sink,
        AGENT,
        format!("listing SageMaker endpoints in {region}"),
    );
    let list = req
        .aws
        .block_on(sagemaker::list(aws_sdk_sagemaker::Client::new(&conf)))??;
    let in_service = list.iter().filter(|e| e["status"] == "InService").count();
    let cell = |v: &Value| v.as_str().unwrap_or("-").to_string();
    Ok(Report {
        summary: format!(
            "{} SageMaker endpoint(s) in {region}, {in_service} in service",
            list.len()
        ),
        outputs: if list.is_empty() {
            Vec::new()
        } else {
            vec![Output::Table {
                title: "SageMaker endpoints".into(),
                columns: headings(&["ENDPOINT", "STATUS", "CREATED", "MODIFIED"]),
                rows: list
                    .iter()
                    .map(|e| {
                        vec![
                            cell(&e["name"]),
                            cell(&e["status"]),
                            cell(&e["created"]),
                            cell(&e["modified"]),
                        ]
                    })
                    .collect(),
            }]
        },
        notes: Vec::new(),
        region: Some(region),
        data: json!({"endpoints": list}),
        files: Vec::new(),
    })
}

fn invoke(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let region = req.region()?;
    let endpoint = i.params.endpoint.as_deref().unwrap_or_default().to_string();
    let input = i.params.text.clone().ok_or_else(|| {
        Error::input(format!(
            "quote the input for {endpoint}: e.g. invoke sagemaker endpoint {endpoint} with '34,2,1,99.5'"
        ))
    })?;
    let conf = insight::config(req.aws, &region)?;
    progress(
        sink,
        AGENT,
        format!("invoking SageMaker endpoint {endpoint}"),
    );
    let content_type = sagemaker::content_type(&input);
    let out = req.aws.block_on(sagemaker::invoke(
        aws_sdk_sagemaker::Client::new(&conf),
        aws_sdk_sagemakerruntime::Client::new(&conf),
        endpoint.clone(),
        input.clone(),
    ))??;
    let body = String::from_utf8_lossy(&out.body).to_string();
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(Report {
        summary: format!(
            "SageMaker endpoint {endpoint} answered{}: {}",
            out.variant
                .as_ref()
                .map(|v| format!(" (variant {v})"))
                .unwrap_or_default(),
            clip(&body, 400)
        ),
        outputs: Vec::new(),
        notes: vec![format!(
            "the input ({} bytes, {content_type}) was sent to SageMaker endpoint {endpoint} in {region}",
            input.len()
        )],
        region: Some(region),
        data: json!({
            "endpoint": endpoint,
            "status": out.status,
            "content_type": out.content_type,
            "variant": out.variant,
            "body": body,
            "json": parsed,
        }),
        files: Vec::new(),
    })
}
