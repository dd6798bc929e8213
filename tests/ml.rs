//! The ml agent against moto (S3 holds the customer feedback; SageMaker endpoints) and the stub
//! (Comprehend batch calls and PII, Bedrock Converse: not in moto, or canned there). In-process
//! the stub is the one endpoint and forwards everything else to moto; the real binary reaches
//! the stub through AWS_ENDPOINT_URL_COMPREHEND / AWS_ENDPOINT_URL_BEDROCK_RUNTIME and moto
//! through AWS_ENDPOINT_URL.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::moto::Moto;
use common::seed::{self, run, unique};
use common::stub::Stub;
use common::{Home, quiet};
use opsdeck::events::Output;
use opsdeck::pipeline::{Answer, Deck, ReportRecord};
use serde_json::{Value, json};

const POSITIVE: &[&str] = &[
    "I love the new checkout, it is fast and easy",
    "Great support team, thanks for the quick help",
    "Excellent quality and the delivery was fast",
];
const NEGATIVE: &[&str] = &[
    "The app crashes every time I open my basket, terrible",
    "Still waiting for my refund after three weeks, awful",
    "Delivery was late and the driver was rude",
];
const NEUTRAL: &[&str] = &[
    "I changed my delivery address last Tuesday",
    "Where can I download the invoice for order 1182?",
];
const MIXED: &str = "Great product, but shipping was slow";

/// 60 feedback documents under `feedback/2024/` in three formats, plus objects that must be
/// skipped (an image, an empty file) or not read (another prefix). Returns the expected counts
/// (positive, negative, neutral, mixed).
fn seed_feedback(moto: &str, bucket: &str) -> (usize, usize, usize, usize) {
    let s3 = seed::s3(moto);
    let mut objects: Vec<(String, String)> = Vec::new();
    let mut expected = (0, 0, 0, 0);
    // 12 text files, one document each.
    for i in 0..12 {
        let text = match i % 4 {
            0 => POSITIVE[i % 3],
            1 => NEGATIVE[i % 3],
            2 => NEUTRAL[i % 2],
            _ => MIXED,
        };
        match i % 4 {
            0 => expected.0 += 1,
            1 => expected.1 += 1,
            2 => expected.2 += 1,
            _ => expected.3 += 1,
        }
        objects.push((
            format!("feedback/2024/ticket-{i:03}.txt"),
            format!("{text}\n"),
        ));
    }
    // 30 JSON Lines records.
    let mut jsonl = String::new();
    for i in 0..30 {
        let (text, slot) = if i % 3 == 0 {
            (NEGATIVE[i % 3], 1)
        } else if i % 3 == 1 {
            (POSITIVE[i % 3], 0)
        } else {
            (NEUTRAL[i % 2], 2)
        };
        match slot {
            0 => expected.0 += 1,
            1 => expected.1 += 1,
            _ => expected.2 += 1,
        }
        jsonl.push_str(&json!({"id": i, "channel": "app", "feedback": text}).to_string());
        jsonl.push('\n');
    }
    objects.push(("feedback/2024/app-reviews.jsonl".into(), jsonl));
    // 18 CSV rows with a review column (commas inside quotes).
    let mut csv = String::from("id,stars,review\n");
    for i in 0..18 {
        let text = if i % 2 == 0 {
            POSITIVE[i % 3]
        } else {
            NEGATIVE[i % 3]
        };
        if i % 2 == 0 {
            expected.0 += 1;
        } else {
            expected.1 += 1;
        }
        csv.push_str(&format!(
            "{i},{},\"{text}\"\n",
            if i % 2 == 0 { 5 } else { 1 }
        ));
    }
    objects.push(("feedback/2024/survey.csv".into(), csv));
    objects.push(("feedback/2024/blank.txt".into(), "   \n".into()));
    objects.push((
        "other/notes.txt".into(),
        "terrible terrible terrible".into(),
    ));
    run(async {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        for (k, v) in objects {
            s3.put_object()
                .bucket(bucket)
                .key(k)
                .body(ByteStream::from(v.into_bytes()))
                .send()
                .await
                .unwrap();
        }
        s3.put_object()
            .bucket(bucket)
            .key("feedback/2024/screenshot.png")
            .body(ByteStream::from(vec![0x89, b'P', b'N', b'G', 0, 1, 2]))
            .send()
            .await
            .unwrap();
    });
    expected
}

fn report(a: Answer) -> ReportRecord {
    match a {
        Answer::Report(r) => *r,
        Answer::Plan(p) => panic!("expected a report, got plan {}", p.plan.summary),
    }
}

fn table<'a>(r: &'a ReportRecord, title: &str) -> &'a Vec<Vec<String>> {
    r.report
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table { title: t, rows, .. } if t == title => Some(rows),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no table {title}: {:?}", r.report.outputs))
}

#[test]
fn sentiment_of_customer_feedback_in_a_bucket() {
    let Some(moto) = Moto::get("sentiment_of_customer_feedback_in_a_bucket") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let bucket = unique("feedback");
    let (pos, neg, neu, mix) = seed_feedback(&moto.endpoint, &bucket);
    assert_eq!(pos + neg + neu + mix, 60);
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let events = std::sync::Mutex::new(Vec::new());
    let sink = |e: opsdeck::events::AgentEvent| events.lock().unwrap().push(e);
    let r = report(
        deck.requests()
            .request(
                &format!("Analyze sentiment of customer feedback in s3://{bucket}/feedback/2024/"),
                &sink,
            )
            .unwrap(),
    );
    let counts = &r.report.data["counts"];
    assert_eq!(
        (
            counts["positive"].as_u64(),
            counts["negative"].as_u64(),
            counts["neutral"].as_u64(),
            counts["mixed"].as_u64()
        ),
        (
            Some(pos as u64),
            Some(neg as u64),
            Some(neu as u64),
            Some(mix as u64)
        ),
        "{}",
        r.report.summary
    );
    assert_eq!(r.report.data["documents"], 60);
    assert_eq!(
        r.report.data["objects_read"], 15,
        "12 texts, the JSON Lines, the CSV, the blank file"
    );
    // Batches of at most 25: 60 documents make three calls.
    let batches: Vec<usize> = stub
        .calls_to("comprehend")
        .iter()
        .filter(|c| c.operation == "BatchDetectSentiment")
        .map(|c| c.body["TextList"].as_array().unwrap().len())
        .collect();
    assert_eq!(batches, vec![25, 25, 10]);
    // Progress went through the sink as the batches ran.
    let progress: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            opsdeck::events::AgentEvent::Progress { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        progress.iter().any(|m| m.contains("50/60 documents")),
        "{progress:?}"
    );
    // A summary with counts, a chart, and examples of the strongest opinions.
    let rows = table(&r, "sentiment");
    assert_eq!(rows[1][0], "negative");
    assert_eq!(rows[1][1], neg.to_string());
    let examples = table(&r, "examples");
    assert!(
        examples
            .iter()
            .any(|e| e[0] == "negative" && NEGATIVE.iter().any(|n| e[3].starts_with(&n[..20])))
    );
    assert!(
        r.report.summary.contains(&format!("{neg})")),
        "{}",
        r.report.summary
    );
    // Skipped and unread objects are said, and where the text went.
    let notes = r.report.notes.join("\n");
    assert!(
        notes.contains("screenshot.png (not a text file)"),
        "{notes}"
    );
    assert!(notes.contains("sent to Amazon Comprehend"), "{notes}");
    assert!(
        stub.calls_to("bedrock").is_empty(),
        "nothing goes to Bedrock unless asked"
    );
    let csv = &r
        .report
        .files
        .iter()
        .find(|f| f.name == "sentiment.csv")
        .unwrap()
        .content;
    assert_eq!(String::from_utf8_lossy(csv).lines().count(), 61);
    // The whole bucket (no prefix) also reads other/notes.txt.
    let r = report(
        deck.requests()
            .request(
                &format!("Analyze sentiment of customer feedback in bucket {bucket}"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.report.data["documents"], 61);
}

#[test]
fn key_phrases_language_and_pii() {
    let Some(moto) = Moto::get("key_phrases_language_and_pii") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let bucket = unique("tickets");
    let s3 = seed::s3(&moto.endpoint);
    let docs = [
        (
            "t1.txt",
            "The checkout crashes when I apply a voucher. Contact me at jo.smith@example.com",
        ),
        (
            "t2.txt",
            "Checkout is slow on mobile, call me on +44 20 7946 0958",
        ),
        (
            "t3.txt",
            "El producto es muy bueno pero la entrega fue lenta",
        ),
        (
            "t4.txt",
            "Le produit est très bien et le service est rapide",
        ),
        (
            "t5.txt",
            "Refund requested for card 4111 1111 1111 1111 please",
        ),
    ];
    run(async {
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        for (k, v) in docs {
            s3.put_object()
                .bucket(&bucket)
                .key(k)
                .body(ByteStream::from(v.as_bytes().to_vec()))
                .send()
                .await
                .unwrap();
        }
    });
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let r = report(
        deck.requests()
            .request(&format!("extract key phrases from bucket {bucket}"), &quiet)
            .unwrap(),
    );
    let rows = table(&r, "key phrases");
    assert_eq!(rows[0][0], "checkout");
    assert_eq!(rows[0][1], "2");
    let r = report(
        deck.requests()
            .request(
                &format!("detect the language of reviews in bucket {bucket}"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(
        r.report.data["languages"],
        json!({"en": 3, "es": 1, "fr": 1})
    );

    let r = report(
        deck.requests()
            .request(&format!("detect PII in s3://{bucket}/"), &quiet)
            .unwrap(),
    );
    assert_eq!(r.report.data["with_pii"], 3);
    assert_eq!(
        r.report.data["types"],
        json!({"CREDIT_DEBIT_NUMBER": 1, "EMAIL": 1, "PHONE": 1})
    );
    let masked = table(&r, "documents with PII (masked)");
    assert!(
        masked
            .iter()
            .any(|m| m[2].contains("Contact me at [EMAIL]")),
        "{masked:?}"
    );
    // The personal data itself appears nowhere: not in the report, not in what was stored.
    let all = serde_json::to_string(&r).unwrap();
    for secret in ["jo.smith@example.com", "7946 0958", "4111 1111"] {
        assert!(!all.contains(secret), "{secret} leaked into the report");
    }
    let stored = std::fs::read_dir(home.path().join("tenants/default/artifacts"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!stored.contains("jo.smith@example.com"));
    // PII detection runs one document per call (there is no batch API for it).
    assert_eq!(
        stub.calls_to("comprehend")
            .iter()
            .filter(|c| c.operation == "DetectPiiEntities")
            .count(),
        5
    );
    // A bucket that does not exist is said as such.
    let err = deck
        .requests()
        .request(
            "Analyze sentiment of customer feedback in bucket no-such-bucket-here",
            &quiet,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bucket not found: no-such-bucket-here"),
        "{err}"
    );
}

fn deck_with_model(home: &Home, stub: &Stub) -> Deck {
    let deck = seed::deck(home, "alice", None, &stub.url);
    let mut t = deck.tenant().clone();
    t.llm.model_id = "anthropic.claude-3-haiku-20240307-v1:0".into();
    t.llm.region = "us-east-1".into();
    deck.raw_store().put_tenant(&t).unwrap();
    seed::deck(home, "alice", None, &stub.url)
}

#[test]
fn summaries_and_labels_go_to_bedrock_only_when_asked() {
    let Some(moto) = Moto::get("summaries_and_labels_go_to_bedrock_only_when_asked") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let bucket = unique("voice");
    seed_feedback(&moto.endpoint, &bucket);
    let home = Home::new();

    // No model configured: said, with how to configure one.
    let deck = seed::deck(&home, "alice", None, &stub.url);
    let err = deck
        .requests()
        .request(
            &format!("summarize the customer feedback in bucket {bucket} with Bedrock"),
            &quiet,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("no Bedrock model is configured"), "{err}");

    let deck = deck_with_model(&home, &stub);
    stub.clear_calls();
    // Not named: refused before any S3 text is read or sent.
    let err = deck
        .requests()
        .request(
            &format!("summarize the customer feedback in bucket {bucket}"),
            &quiet,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sends the documents to Amazon Bedrock") && err.contains("with Bedrock"),
        "{err}"
    );
    let sent_text = |stub: &Stub| {
        stub.calls_to("bedrock")
            .into_iter()
            .filter(|c| c.body.get("toolConfig").is_none())
            .collect::<Vec<_>>()
    };
    assert!(sent_text(&stub).is_empty());
    assert!(
        stub.calls_to("s3")
            .iter()
            .all(|c| !c.path.contains("ticket-")),
        "no object was read"
    );

    let r = report(
        deck.requests()
            .request(
                &format!(
                    "summarize the customer feedback in s3://{bucket}/feedback/2024/ with Bedrock"
                ),
                &quiet,
            )
            .unwrap(),
    );
    assert!(
        r.report.summary.contains("Summary of 60 documents"),
        "{}",
        r.report.summary
    );
    let calls = sent_text(&stub);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].path.replace("%3A", ":"),
        "/model/anthropic.claude-3-haiku-20240307-v1:0/converse"
    );
    let prompt = calls[0].body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(prompt.contains("[60] "), "all 60 documents fit the prompt");
    assert!(
        r.report
            .notes
            .iter()
            .any(|n| n.contains("sent to Amazon Bedrock"))
    );
    assert_eq!(r.report.files[0].name, "summary.md");

    // Labels, in batches of 25, from the labels the request quotes.
    let r = report(
        deck.requests().request(
            &format!("classify the feedback in s3://{bucket}/feedback/2024/ with bedrock into 'billing, bug report, praise, other'"),
            &quiet,
        )
        .unwrap(),
    );
    let counts = &r.report.data["counts"];
    assert_eq!(
        r.report.data["labels"],
        json!(["billing", "bug report", "praise", "other"])
    );
    let total: u64 = counts
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 60);
    assert!(
        counts["bug report"].as_u64().unwrap() > 0 && counts["praise"].as_u64().unwrap() > 0,
        "{counts}"
    );
    assert_eq!(sent_text(&stub).len(), 1 + 3);
}

#[test]
fn sagemaker_endpoints_listed_and_invoked() {
    let Some(moto) = Moto::get("sagemaker_endpoints_listed_and_invoked") else {
        return;
    };
    let name = unique("churn");
    let conf = seed::conf(&moto.endpoint, "us-east-1");
    let sm = aws_sdk_sagemaker::Client::new(&conf);
    run(async {
        sm.create_model()
            .model_name(&name)
            .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
            .primary_container(
                aws_sdk_sagemaker::types::ContainerDefinition::builder()
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        sm.create_endpoint_config()
            .endpoint_config_name(&name)
            .production_variants(
                aws_sdk_sagemaker::types::ProductionVariant::builder()
                    .variant_name("primary")
                    .model_name(&name)
                    .initial_instance_count(1)
                    .instance_type(
                        aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlT2Medium,
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        sm.create_endpoint()
            .endpoint_name(&name)
            .endpoint_config_name(&name)
            .send()
            .await
            .unwrap();
    });
    moto.post(
        "/moto-api/static/sagemaker/endpoint-results",
        &json!({"results": [{"Body": "{\"churn_probability\": 0.82}", "ContentType": "application/json",
            "InvokedProductionVariant": "primary", "CustomAttributes": ""}]})
        .to_string(),
    );
    let home = Home::new();
    let deck = seed::deck(&home, "alice", None, &moto.endpoint);
    let r = report(
        deck.requests()
            .request("list sagemaker endpoints", &quiet)
            .unwrap(),
    );
    let rows = table(&r, "SageMaker endpoints");
    assert!(
        rows.iter()
            .any(|row| row[0] == name && row[1] == "InService"),
        "{rows:?}"
    );
    let r = report(
        deck.requests()
            .request(
                &format!("invoke sagemaker endpoint {name} with '34,2,1,99.5'"),
                &quiet,
            )
            .unwrap(),
    );
    assert_eq!(r.report.data["json"]["churn_probability"], 0.82);
    assert_eq!(r.report.data["variant"], "primary");
    assert!(r.report.notes[0].contains("text/csv"));
    let err = deck
        .requests()
        .request("invoke sagemaker endpoint nope-endpoint with '1'", &quiet)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SageMaker endpoint not found: nope-endpoint"),
        "{err}"
    );
}

#[test]
fn sentiment_through_the_real_binary() {
    let Some(moto) = Moto::get("sentiment_through_the_real_binary") else {
        return;
    };
    let stub = Stub::start(Some(&moto.endpoint));
    let bucket = unique("nps");
    let (pos, neg, _, _) = seed_feedback(&moto.endpoint, &bucket);
    let home = Home::new();
    let out = home
        .cmd()
        .envs(moto.env())
        .envs(stub.env())
        .args([
            "--json",
            "ask",
            &format!("Analyze sentiment of customer feedback in s3://{bucket}/feedback/"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agent"], "ml");
    assert_eq!(v["report"]["data"]["counts"]["positive"], pos as u64);
    assert_eq!(v["report"]["data"]["counts"]["negative"], neg as u64);
    // Only Comprehend went to the stub; S3 went straight to moto.
    assert!(
        stub.calls().iter().all(|c| c.service == "comprehend"),
        "{:?}",
        stub.calls().iter().map(|c| &c.service).collect::<Vec<_>>()
    );
    // Plain output: progress on stderr as the batches run, then the table and the bars.
    let out = home
        .cmd()
        .envs(moto.env())
        .envs(stub.env())
        .args([
            "ask",
            &format!("Analyze sentiment of customer feedback in s3://{bucket}/feedback/"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sentiment (4 rows)") && text.contains("documents by sentiment (documents)"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Comprehend BatchDetectSentiment: 50/60 documents"),
        "{stderr}"
    );
}
