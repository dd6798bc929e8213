//! The spec's example requests (§4.4–4.7, and the mutating follow-up of §4.5) typed into the
//! console, against moto and the stub in front of it: each answer is rendered in its shape in
//! the conversation, the console stays usable at 80x24, and a change waits for approval.
//! (§4.3, the ops restart, has its console test in tests/ops.rs.)

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_s3::primitives::ByteStream;
use common::Home;
use common::moto::Moto;
use common::seed::{self, now_ms, run, unique};
use common::stub::Stub;
use opsdeck::approval::State;
use opsdeck::tui::app::{App, AppOptions, Msg};
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const HOUR: i64 = 3_600_000;

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

/// Types a request, sends it, and waits for its answer; returns the conversation lines it added.
fn ask(rt: &tokio::runtime::Runtime, app: &mut App, text: &str) -> Vec<String> {
    let before = app.transcript.lines.len();
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter);
    let answered = rt.block_on(app.run_until(Duration::from_secs(60), |a| {
        a.preview.planning.is_none()
            && a.transcript.lines[before..]
                .iter()
                .any(|l| l.text().starts_with('✓') || l.text().starts_with('✗'))
    }));
    let lines: Vec<String> = app.transcript.lines[before..]
        .iter()
        .map(|l| l.text())
        .collect();
    assert!(answered, "no answer to {text:?}: {lines:#?}");
    lines
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    term.draw(|f| opsdeck::tui::ui::draw(f, app)).unwrap();
    term.backend().to_string()
}

#[test]
fn spec_examples_answer_in_the_console() {
    let Some(moto) = Moto::get("console_examples") else {
        return;
    };
    let _held = moto.exclusive();
    let stub = Stub::start(Some(&moto.endpoint));

    // §4.4: fourteen days of EC2 spend queued in Cost Explorer.
    let amounts = [
        41.2, 40.8, 43.5, 39.9, 44.1, 52.3, 47.0, 45.6, 44.9, 46.2, 48.8, 51.4, 49.7, 12.3,
    ];
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let start = today.checked_sub(jiff::Span::new().days(14)).unwrap();
    support::seed::queue_cost_results(&moto.endpoint, &[support::seed::daily(start, &amounts)]);

    // §4.5: one bucket readable by anyone, one private and encrypted.
    let public = unique("console-public");
    let private = unique("console-private");
    let s3 = seed::s3(&moto.endpoint);
    // §4.7: customer feedback in a bucket.
    let feedback = unique("console-feedback");
    let documents = [
        "I love the new checkout, it is fast and easy",
        "Great support team, thanks for the quick help",
        "The app crashes every time I open my basket, terrible",
        "Still waiting for my refund after three weeks, awful",
        "Delivery was late and the driver was rude",
    ];
    run(async {
        for b in [&public, &private, &feedback] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        s3.put_public_access_block()
            .bucket(&private)
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{public}/*")}]});
        s3.put_bucket_policy()
            .bucket(&public)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
        for (i, d) in documents.iter().enumerate() {
            s3.put_object()
                .bucket(&feedback)
                .key(format!("feedback/ticket-{i}.txt"))
                .body(ByteStream::from(d.as_bytes().to_vec()))
                .send()
                .await
                .unwrap();
        }
    });

    // §4.6: a Lambda function's log group with errors of two shapes in the last day, and one
    // older than a day that must not count.
    let function = unique("my-func");
    let logs = aws_sdk_cloudwatchlogs::Client::new(&seed::conf(&moto.endpoint, "us-east-1"));
    let now = now_ms();
    let mut events = Vec::new();
    for i in 0..30i64 {
        let ts = now - 30 * HOUR + i * HOUR + 1000;
        let msg = match i % 3 {
            0 => format!("ERROR payment {} failed for order {}", 1000 + i, 40_000 + i),
            1 => format!("Task timed out after {}.01 seconds", 3 + i % 4),
            _ => format!("START RequestId: req-{i} Version: $LATEST"),
        };
        events.push(
            InputLogEvent::builder()
                .timestamp(ts)
                .message(msg)
                .build()
                .unwrap(),
        );
    }
    let group = format!("/aws/lambda/{function}");
    run(async {
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name("2026/11/24/[$LATEST]0001")
            .send()
            .await
            .unwrap();
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name("2026/11/24/[$LATEST]0001")
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    });

    let home = Home::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut app = App::new(
        Arc::new(seed::deck(&home, "alice", None, &stub.url)),
        AppOptions {
            theme: opsdeck::tui::theme::Theme::builtin("dark", false).unwrap(),
            keymap: opsdeck::tui::keymap::Keymap::defaults().unwrap(),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    );
    rt.block_on(async { app.start() });

    // §4.4: a table and a sparkline of the daily spend.
    let cost = ask(&rt, &mut app, "What is my daily EC2 spend in ap-south-1?");
    let all = cost.join("\n");
    assert!(all.contains("▸ [cost]"), "{all}");
    assert!(
        all.contains("min 12.30") && all.contains("max 52.30"),
        "{all}"
    );
    assert!(cost.iter().any(|l| l.starts_with("✓")), "{all}");
    let small = screen(&app, 80, 24);
    assert!(small.contains("✓ EC2 in ap-south-1 spend"), "{small}");

    // §4.5: the public bucket is a failed check; the private one is not.
    let scan = ask(&rt, &mut app, "Scan all S3 buckets for public access");
    let all = scan.join("\n");
    let flagged: Vec<&String> = scan
        .iter()
        .filter(|l| l.contains("s3_bucket_public_access"))
        .collect();
    assert!(flagged.iter().any(|l| l.contains(&public)), "{all}");
    assert!(!flagged.iter().any(|l| l.contains(&private)), "{all}");

    // §4.6: errors of the last 24 hours grouped by shape, with counts and a series over time.
    let errors = ask(
        &rt,
        &mut app,
        &format!("Show last 24h error logs from Lambda {function}"),
    );
    let all = errors.join("\n");
    assert!(all.contains("▸ [monitor]"), "{all}");
    assert!(
        all.contains("payment") && all.contains("timed out"),
        "{all}"
    );
    assert!(all.contains(&group), "{all}");

    // §4.7: sentiment over the bucket's documents, counted.
    let sentiment = ask(
        &rt,
        &mut app,
        &format!("Analyze sentiment of customer feedback in s3://{feedback}/feedback/"),
    );
    let all = sentiment.join("\n");
    assert!(all.contains("▸ [ml]"), "{all}");
    assert!(
        sentiment
            .iter()
            .any(|l| l.contains("positive") && l.contains('2')),
        "{all}"
    );
    assert!(
        sentiment
            .iter()
            .any(|l| l.contains("negative") && l.contains('3')),
        "{all}"
    );

    // A remediation is a change: planned, shown, and queued for someone else's approval.
    let fix = ask(
        &rt,
        &mut app,
        &format!("block public access on bucket {public}"),
    );
    let rec = app.preview.plan.clone().expect("a plan in the preview");
    assert_eq!(rec.state, State::Pending, "{fix:#?}");
    assert!(rec.plan.mutates);
    assert!(
        fix.iter().any(|l| l.contains(&rec.plan.plan_id)),
        "{fix:#?}"
    );
    let small = screen(&app, 80, 24);
    assert!(small.contains("queued for approval (1 needed)"), "{small}");
    // Nothing changed before approval: the bucket is still public.
    let still = run(async {
        s3.get_bucket_policy()
            .bucket(&public)
            .send()
            .await
            .map(|o| o.policy().unwrap_or_default().to_string())
    });
    assert!(still.unwrap().contains("\"*\""));
}
