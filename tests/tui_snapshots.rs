//! Every console pane at 80x24 and 160x48, from fixed data (fixed clock, fixed plan ids), with
//! style snapshots where colour carries meaning (risk badges, gate results, diff lines).

mod common;

use std::sync::Arc;

use common::{Home, quiet};
use opsdeck::approval::PlanRecord;
use opsdeck::audit::{EventKind, Status};
use opsdeck::time::{Clock, ManualClock};
use opsdeck::tui::action::Pane;
use opsdeck::tui::app::{App, AppOptions, AuditRow, Msg};
use opsdeck::tui::diff::{DiffDoc, FileInput};
use opsdeck::tui::highlight::Highlighter;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::Theme;
use opsdeck::tui::{jobs, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const WEB: &str = "Create 3 t3.medium instances in ap-south-1 with ALB in stack web-demo";
const BUCKET: &str = "create an s3 bucket called logs-demo in eu-west-1 stack logs-demo";

struct Fixture {
    _home: Home,
    _rt: tokio::runtime::Runtime,
    app: App,
    web: PlanRecord,
}

fn fixed(mut rec: PlanRecord, id: &str) -> PlanRecord {
    rec.plan.plan_id = id.to_string();
    rec
}

fn fixture() -> Fixture {
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut app = App::new(
        Arc::new(alice_deck),
        AppOptions {
            theme: Theme::builtin("dark", false).unwrap(),
            keymap: Keymap::defaults().unwrap(),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    );
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

fn audit_rows() -> Vec<AuditRow> {
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

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    t
}

fn show(app: &mut App, pane: Pane) {
    app.focus = pane;
    app.prompt_active = false;
}

macro_rules! both_sizes {
    ($name:ident, $setup:expr) => {
        #[test]
        fn $name() {
            let mut fx = fixture();
            #[allow(clippy::redundant_closure_call)]
            ($setup)(&mut fx.app);
            for (w, h) in [(80u16, 24u16), (160, 48)] {
                let t = render(&fx.app, w, h);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), t.backend());
            }
        }
    };
}

both_sizes!(conversation, |app: &mut App| {
    app.focus = Pane::Conversation;
    app.prompt_active = true;
});
both_sizes!(preview_plan, |app: &mut App| show(app, Pane::Preview));
both_sizes!(preview_live_intent, |app: &mut App| {
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    app.focus = Pane::Preview;
    app.prompt_active = false;
    app.preview.plan = None;
    app.focus = Pane::Conversation;
    app.prompt_active = true;
    for c in "restart ec2 instances tagged env=staging".chars() {
        app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
    app.on_timers(std::time::Instant::now() + std::time::Duration::from_secs(1));
    app.focus = Pane::Preview;
    app.prompt_active = false;
});
both_sizes!(diff_unified, |app: &mut App| show(app, Pane::Diff));
both_sizes!(diff_side_by_side, |app: &mut App| {
    show(app, Pane::Diff);
    app.update(opsdeck::tui::action::Action::ToggleDiffMode);
    app.update(opsdeck::tui::action::Action::NextHunk);
    app.update(opsdeck::tui::action::Action::NextHunk);
});
// Through the focus action: the preview follows the selected plan.
both_sizes!(approvals, |app: &mut App| app
    .update(opsdeck::tui::action::Action::FocusApprovals));
both_sizes!(audit, |app: &mut App| app
    .update(opsdeck::tui::action::Action::FocusAudit));
both_sizes!(audit_filtered, |app: &mut App| {
    app.update(opsdeck::tui::action::Action::FocusAudit);
    app.update(opsdeck::tui::action::Action::SetFilter(
        "user:olga denied".into(),
    ));
});
both_sizes!(help_overlay, |app: &mut App| {
    show(app, Pane::Approvals);
    app.update(opsdeck::tui::action::Action::Help);
});
both_sizes!(confirm_reject_overlay, |app: &mut App| {
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    show(app, Pane::Approvals);
    app.update(opsdeck::tui::action::Action::Down);
    app.update(opsdeck::tui::action::Action::Reject);
    for c in "wrong region".chars() {
        app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
});

/// Runs of equal style along a row: `text ← fg/bg/modifiers`, so colour changes show in review.
fn style_runs(buf: &Buffer, y: u16) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let mut cur: Option<ratatui::style::Style> = None;
    for x in 0..buf.area.width {
        let cell = &buf[(x, y)];
        let s = cell.style();
        if cur != Some(s) {
            if let Some(c) = cur
                && !run.trim().is_empty()
            {
                out.push_str(&format!(
                    "  {:?} ← fg={:?} bg={:?} {:?}\n",
                    run.trim_end(),
                    c.fg,
                    c.bg,
                    c.add_modifier
                ));
            }
            run.clear();
            cur = Some(s);
        }
        run.push_str(cell.symbol());
    }
    if let Some(c) = cur
        && !run.trim().is_empty()
    {
        out.push_str(&format!(
            "  {:?} ← fg={:?} bg={:?} {:?}\n",
            run.trim_end(),
            c.fg,
            c.bg,
            c.add_modifier
        ));
    }
    out
}

fn find_row(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains(needle)
        })
        .unwrap_or_else(|| panic!("{needle} not on screen"))
}

#[test]
fn colour_carries_risk_gate_and_diff_meaning() {
    let mut fx = fixture();
    let mut out = String::new();
    show(&mut fx.app, Pane::Approvals);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for id in ["p-web2demo42", "p-logs7demo3"] {
        out.push_str(&format!("approvals row {id}:\n"));
        out.push_str(&style_runs(buf, find_row(buf, id)));
    }
    show(&mut fx.app, Pane::Diff);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for needle in ["region = \"eu-west-1\"", "region = \"ap-south-1\""] {
        out.push_str(&format!("diff row {needle:?}:\n"));
        out.push_str(&style_runs(buf, find_row(buf, needle)));
    }
    show(&mut fx.app, Pane::Preview);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    out.push_str("preview risk:\n");
    out.push_str(&style_runs(buf, find_row(buf, "risk ")));
    insta::assert_snapshot!("colour_meaning", out);
}

#[test]
fn no_color_keeps_meaning_in_modifiers_and_text() {
    let mut fx = fixture();
    fx.app.theme = Theme::builtin("dark", true).unwrap();
    show(&mut fx.app, Pane::Approvals);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for c in buf.content() {
        assert!(
            matches!(c.fg, ratatui::style::Color::Reset)
                && matches!(c.bg, ratatui::style::Color::Reset),
            "colour with NO_COLOR: {c:?}"
        );
    }
    let row = find_row(buf, "p-web2demo42");
    let text: String = (0..80)
        .map(|x| buf[(x, row)].symbol().to_string())
        .collect();
    assert!(text.contains("MEDIUM"), "{text}");
}

#[test]
fn identifiers_are_never_cut_and_cut_text_shows_an_ellipsis() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Approvals);
    for w in [40u16, 50, 64, 80, 100] {
        let t = render(&fx.app, w, 16);
        let screen = t.backend().to_string();
        assert!(screen.contains("p-web2demo42"), "{w}:\n{screen}");
        assert!(screen.contains("p-logs7demo3"), "{w}:\n{screen}");
    }
    let t = render(&fx.app, 80, 24);
    assert!(
        t.backend().to_string().contains('…'),
        "a cut summary shows it was cut"
    );
    // The audit list keeps plan ids whole too, down to narrow widths.
    show(&mut fx.app, Pane::Audit);
    for w in [50u16, 80] {
        let screen = render(&fx.app, w, 16).backend().to_string();
        assert!(screen.contains("p-web2demo42"), "{w}:\n{screen}");
    }
    let _ = &fx.web;
}

#[test]
fn every_pane_survives_any_size() {
    let mut fx = fixture();
    for pane in Pane::ALL {
        show(&mut fx.app, pane);
        for (w, h) in [
            (1u16, 1u16),
            (10, 3),
            (39, 9),
            (40, 10),
            (41, 11),
            (60, 12),
            (80, 24),
            (99, 30),
            (100, 30),
            (200, 60),
            (300, 100),
        ] {
            render(&fx.app, w, h);
        }
    }
    fx.app.update(opsdeck::tui::action::Action::Help);
    for (w, h) in [(40u16, 10u16), (80, 24)] {
        render(&fx.app, w, h);
    }
}

#[test]
fn diff_search_and_hunk_jumps() {
    use opsdeck::tui::action::Action;
    let mut fx = fixture();
    show(&mut fx.app, Pane::Diff);
    let doc = fx.app.diff.doc.clone().unwrap();
    assert!(doc.added > 0 && doc.removed > 0);
    fx.app.update(Action::NextHunk);
    let first = fx.app.diff.scroll;
    assert!(doc.hunks.contains(&first));
    fx.app.update(Action::NextHunk);
    assert!(fx.app.diff.scroll > first);
    fx.app.update(Action::PrevHunk);
    assert_eq!(fx.app.diff.scroll, first);
    fx.app.update(Action::SetFilter("instance_type".into()));
    assert!(!fx.app.diff.matches.is_empty());
    let m0 = fx.app.diff.scroll;
    assert!(doc.rows[m0].text.contains("instance_type"));
    fx.app.update(Action::NextHunk);
    assert!(doc.rows[fx.app.diff.scroll].text.contains("instance_type"));
}

both_sizes!(results_as_table_and_sparkline, |app: &mut App| {
    use opsdeck::events::{AgentEvent, Output};
    use opsdeck::intent::AgentKind;
    app.transcript.lines.clear();
    app.handle_msg(Msg::Agent {
        job: 0,
        event: AgentEvent::Result {
            agent: AgentKind::Ops,
            output: Output::Table {
                title: "instances tagged Env=staging".into(),
                columns: vec![
                    "INSTANCE".into(),
                    "TYPE".into(),
                    "STATE".into(),
                    "NAME".into(),
                ],
                rows: vec![
                    vec![
                        "i-0abc12345def67890".into(),
                        "t3.medium".into(),
                        "running".into(),
                        "web-1".into(),
                    ],
                    vec![
                        "i-0fedcba9876543210".into(),
                        "t3.medium".into(),
                        "stopped".into(),
                        "web-2".into(),
                    ],
                ],
            },
        },
    });
    app.handle_msg(Msg::Agent {
        job: 0,
        event: AgentEvent::Result {
            agent: AgentKind::Cost,
            output: Output::Series {
                title: "EC2 daily spend, ap-south-1".into(),
                unit: "USD".into(),
                points: (18..25)
                    .map(|d| {
                        (
                            format!("2026-11-{d}"),
                            [12.1, 13.4, 12.9, 18.2, 25.0, 24.1, 19.7][d as usize - 18],
                        )
                    })
                    .collect(),
            },
        },
    });
    show(app, Pane::Conversation);
});

/// A replaced resource looks the same in the transcript and the preview (and the CLI, see
/// `cli::print`): Terraform's `-/+`, in the colour of a destroy-first change.
#[test]
fn a_replaced_resource_reads_the_same_in_transcript_and_preview() {
    use opsdeck::plan::ChangeAction;
    use opsdeck::tui::theme::Meaning;
    let mut fx = fixture();
    let mut rec = fx.web.clone();
    let address = rec.plan.resources[9].address.clone();
    rec.plan.resources[9].action = ChangeAction::Replace;
    let want = format!("-/+ {address}");

    let transcript = jobs::plan_transcript(&rec, &[], "olga");
    let row = transcript
        .iter()
        .find(|l| l.text().contains(&address))
        .expect("the resource is listed");
    assert!(row.text().contains(&want), "{}", row.text());
    assert!(
        row.segments
            .iter()
            .any(|(m, s)| *m == Meaning::GateDeny && s.trim() == "-/+"),
        "{row:?}"
    );

    fx.app.preview.plan = Some(rec);
    let preview = opsdeck::tui::components::preview::lines(&fx.app);
    let line = preview
        .iter()
        .find(|l| l.to_string().contains(&address))
        .expect("the resource is listed");
    assert!(line.to_string().contains(&want), "{line}");
    let deny = fx.app.theme.get(Meaning::GateDeny);
    assert!(
        line.spans
            .iter()
            .any(|s| s.content.trim() == "-/+" && s.style == deny),
        "{line:?}"
    );
    assert!(
        line.to_string()
            .contains("REPLACED: destroyed, then created again")
    );
}
