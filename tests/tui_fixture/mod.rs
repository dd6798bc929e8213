//! The fixed console the layout and snapshot tests draw: alice's console with olga's web
//! stack plan and her own bucket plan in the queue, a transcript, the audit rows and a diff, on
//! a fixed clock with fixed plan ids.
#![allow(dead_code)]

use std::sync::Arc;

use crate::common::{Home, quiet};
use opsdeck::approval::PlanRecord;
use opsdeck::audit::{EventKind, Status};
use opsdeck::time::{Clock, ManualClock};
use opsdeck::tui::action::Pane;
use opsdeck::tui::app::{App, AuditRow};
use opsdeck::tui::diff::{DiffDoc, FileInput};
use opsdeck::tui::highlight::Highlighter;
use opsdeck::tui::{jobs, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub const WEB: &str = "Create 3 t3.medium instances in ap-south-1 with ALB in stack web-demo";
pub const BUCKET: &str = "create an s3 bucket called logs-demo in eu-west-1 stack logs-demo";

pub struct Fixture {
    pub _home: Home,
    pub _rt: tokio::runtime::Runtime,
    pub app: App,
    pub web: PlanRecord,
}

pub fn fixed(mut rec: PlanRecord, id: &str) -> PlanRecord {
    rec.plan.plan_id = id.to_string();
    rec
}

pub fn fixture() -> Fixture {
    let home = Home::new();
    // The screens are the same whether or not this machine has terraform: no dry run here.
    home.configure("[exec]\nterraform = \"opsdeck-snapshots-have-no-terraform\"\n");
    let clock = Arc::new(ManualClock::at("2026-11-24T10:00:00Z".parse().unwrap()));
    let c: Arc<dyn Clock> = clock.clone();
    let olga = home.deck_with("olga", None, Some(c.clone()));
    let web = fixed(olga.requests().ask(WEB, &quiet).unwrap(), "p-web2demo42");
    clock.advance_secs(60);
    let alice_deck = home.deck_with("alice", None, Some(c.clone()));
    let bucket = fixed(
        alice_deck.requests().ask(BUCKET, &quiet).unwrap(),
        "p-logs7demo3",
    );
    clock.advance_secs(300);
    let files: Vec<(String, String)> = olga
        .approvals()
        .artifacts(&web.plan)
        .unwrap()
        .into_iter()
        .map(|(a, b)| (a.name, String::from_utf8(b).unwrap()))
        .collect();
    let (rt, mut app) = crate::common::console(alice_deck);
    // Conversation: a request and its result.
    app.say(opsdeck::tui::theme::Meaning::Request, format!("› {WEB}"));
    app.say(
        opsdeck::tui::theme::Meaning::Progress,
        "· [infra] infra agent planning: create",
    );
    for l in jobs::plan_transcript(&web, &files, "olga") {
        app.transcript.push(l);
    }
    app.preview.plan = Some(web.clone());
    app.set_plans(vec![bucket.clone(), web.clone()]);
    // alice could approve olga's plan, so the first load put her on the queue with a notice;
    // the screens start from the conversation (tui_layout tests that start).
    app.focus = Pane::Conversation;
    app.notice = None;
    app.set_audit_rows(audit_rows());
    app.audit.verify = Some(Ok(opsdeck::audit::VerifyReport {
        tenant: "default".into(),
        records: 9,
        ok: true,
        head: Some("9f86d081884c".into()),
        first_break: None,
        keys: 1,
        signatures_checked: 2,
        full: false,
        present: true,
        signing_keys: vec![],
        witness: None,
    }));
    // Diff: the web stack against an earlier version of itself, highlighted.
    let inputs: Vec<FileInput> = files
        .iter()
        .map(|(name, text)| FileInput {
            name: name.clone(),
            old: Some(
                text.replace("t3.medium", "t3.small")
                    .replace("ap-south-1", "eu-west-1"),
            ),
            new: Some(text.clone()),
        })
        .collect();
    let hl = Highlighter::new();
    let doc = DiffDoc::build(
        &inputs,
        "stack web-demo as applied by p-old3plan22 (active)",
        Some((&hl, "base16-ocean.dark")),
    );
    app.diff.plan = Some(web.clone());
    app.diff.doc = Some(Arc::new(doc));
    Fixture {
        _home: home,
        _rt: rt,
        app,
        web,
    }
}

pub fn audit_rows() -> Vec<AuditRow> {
    let ev = [
        (EventKind::Requested, Status::Pending, "olga", None, WEB),
        (
            EventKind::Classified,
            Status::Pending,
            "olga",
            Some("infra"),
            "infra/create (confidence 0.91)",
        ),
        (
            EventKind::Planned,
            Status::Pending,
            "olga",
            Some("infra"),
            "create stack web-demo in ap-south-1 (risk medium)",
        ),
        (
            EventKind::PolicyEvaluated,
            Status::Pending,
            "olga",
            Some("infra"),
            "worst gate: pass",
        ),
        (EventKind::Queued, Status::Pending, "olga", None, ""),
        (
            EventKind::AccessDenied,
            Status::Pending,
            "olga",
            None,
            "approve plan p-web2demo42: olga requested plan p-web2demo42 and cannot approve it",
        ),
        (
            EventKind::Approved,
            Status::Approved,
            "bob",
            Some("infra"),
            "",
        ),
        (
            EventKind::Executing,
            Status::Executing,
            "alice",
            Some("infra"),
            "terraform apply of stack web-demo",
        ),
        (
            EventKind::Failed,
            Status::Failed,
            "alice",
            Some("infra"),
            "failed (exit 1)",
        ),
    ];
    let mut names = opsdeck::tui::app::Interner::default();
    ev.iter()
        .enumerate()
        .map(|(i, (kind, status, user, agent, msg))| AuditRow {
            seq: i as u64 + 1,
            timestamp: format!("2026-11-24T10:0{}:00.000Z", i.min(9))
                .parse()
                .unwrap(),
            user: names.get(user),
            event: *kind,
            status: *status,
            agent: agent.map(|a| names.get(a)),
            plan_id: (i >= 2).then(|| "p-web2demo42".into()),
            message: (*msg).into(),
            hash: opsdeck::tui::app::hash_bytes(&format!(
                "{:064x}",
                (i as u128 + 1) * 0x9e37_79b9_7f4a_7c15
            )),
        })
        .collect()
}

pub fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    t
}

pub fn show(app: &mut App, pane: Pane) {
    app.focus = pane;
    app.prompt_active = false;
}

/// A result table wider than 120 columns, with one long error cell.
pub fn wide_table() -> opsdeck::events::Output {
    let row = |f: &str, runtime: &str, state: &str, err: &str| {
        vec![
            f.to_string(),
            runtime.to_string(),
            state.to_string(),
            "2026-11-24T09:58:12Z".to_string(),
            "arn:aws:iam::123456789012:role/service-role/handler-role".to_string(),
            err.to_string(),
        ]
    };
    opsdeck::events::Output::Table {
        title: "functions with errors in the last hour".into(),
        columns: [
            "FUNCTION",
            "RUNTIME",
            "STATE",
            "LAST ERROR AT",
            "ROLE",
            "LAST ERROR",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![
            row(
                "orders-ingest",
                "python3.12",
                "Active",
                "Task timed out after 30.03 seconds while calling DynamoDB PutItem on table \
                 orders-prod (ProvisionedThroughputExceededException: the level of configured \
                 provisioned throughput for the table was exceeded; consider increasing it)",
            ),
            row(
                "thumbnailer",
                "nodejs20.x",
                "Active",
                "Runtime.ImportModuleError",
            ),
            row("billing-export", "python3.12", "Failed", "AccessDenied"),
        ],
    }
}
