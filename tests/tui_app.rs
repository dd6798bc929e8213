//! The console driven headless: keys and actions go in, background results come back on the
//! app's channel, and the state is checked. Request → live preview → plan → queue → approval by
//! another registered user in their own console → audit; then apply with live progress.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Home, Team};
use opsdeck::approval::State;
use opsdeck::audit::EventKind;
use opsdeck::pipeline::Deck;
use opsdeck::tenant::Role;
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, AppOptions, Msg, Overlay};
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::Theme;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const WAIT: Duration = Duration::from_secs(20);

fn app(deck: Deck, rt: &tokio::runtime::Runtime) -> App {
    App::new(
        Arc::new(deck),
        AppOptions {
            theme: Theme::builtin("dark", false).unwrap(),
            keymap: Keymap::defaults().unwrap(),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    )
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The apply confirmation applies only once its identity receipt is on screen.
async fn receipt_shown(app: &mut App) -> bool {
    app.run_until(
        WAIT,
        |a| matches!(a.overlays.last(), Some(Overlay::Confirm(c)) if c.receipt.is_some()),
    )
    .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn request_preview_plan_approve_by_another_user_then_audit() {
    let home = Home::new();
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let rt = runtime();
    let mut alice = app(team.deck("alice"), &rt);
    let mut bob = app(team.deck("bob"), &rt);
    rt.block_on(async {
        alice.start();
        bob.start();

        // Typing: the prompt has focus and the preview follows, debounced.
        assert!(alice.prompt_active);
        typ(
            &mut alice,
            "Create 3 t3.medium instances in ap-south-1 with ALB in stack web-tui",
        );
        assert!(
            alice.preview.live.is_none(),
            "debounced: nothing classified per key"
        );
        alice.on_timers(Instant::now() + Duration::from_secs(1));
        let intent = alice.preview.live.clone().unwrap().unwrap();
        assert_eq!(intent.agent.as_str(), "infra");
        assert_eq!(intent.params.instance_type.as_deref(), Some("t3.medium"));

        // Submit: the plan arrives from the background, the UI never waited for it.
        key(&mut alice, KeyCode::Enter);
        assert!(alice.prompt_text().is_empty());
        assert_eq!(alice.history.len(), 1);
        assert!(alice.agents_running(), "planning runs as a background job");
        assert!(alice.run_until(WAIT, |a| a.preview.plan.is_some()).await);
        let rec = alice.preview.plan.clone().unwrap();
        let id = rec.plan.plan_id.clone();
        assert_eq!(rec.state, State::Pending);
        assert!(
            alice
                .transcript
                .lines
                .iter()
                .any(|l| l.text().contains(&id))
        );
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .approvals
                    .plans
                    .iter()
                    .any(|r| r.plan.plan_id == id))
                .await
        );

        // Up recalls the request.
        key(&mut alice, KeyCode::Up);
        assert!(alice.prompt_text().starts_with("Create 3 t3.medium"));
        key(&mut alice, KeyCode::Down);
        assert!(alice.prompt_text().is_empty());

        // Alice cannot approve her own plan, and the console says why before asking for a code.
        key(&mut alice, KeyCode::Esc);
        assert!(!alice.prompt_active);
        key(&mut alice, KeyCode::Char('4'));
        assert_eq!(alice.focus, Pane::Approvals);
        key(&mut alice, KeyCode::Char('a'));
        assert!(alice.overlays.is_empty());
        let why = alice.notice.as_ref().unwrap().text();
        assert!(
            why.contains(&format!("alice requested plan {id} and cannot approve it")),
            "{why}"
        );

        // Bob's console sees it by polling the shared store, opens its diff, approves with TOTP.
        assert!(
            bob.run_until(WAIT, |b| b
                .approvals
                .plans
                .iter()
                .any(|r| r.plan.plan_id == id))
                .await
        );
        bob.update(Action::FocusApprovals);
        let pos = bob
            .approvals
            .visible()
            .iter()
            .position(|r| r.plan.plan_id == id)
            .unwrap();
        bob.approvals.selected = pos;
        key(&mut bob, KeyCode::Enter);
        assert_eq!(bob.focus, Pane::Diff);
        assert!(bob.run_until(WAIT, |b| b.diff.doc.is_some()).await);
        let doc = bob.diff.doc.clone().unwrap();
        assert!(
            doc.added > 0 && doc.removed == 0,
            "a new stack diffs against empty"
        );
        key(&mut bob, KeyCode::Char('n'));
        key(&mut bob, KeyCode::Esc);
        assert_eq!(bob.focus, Pane::Approvals);

        // A wrong code is refused by the core and shown in the overlay, which stays open.
        key(&mut bob, KeyCode::Char('a'));
        assert!(matches!(bob.overlays.last(), Some(Overlay::Confirm(_))));
        typ(&mut bob, "000000");
        key(&mut bob, KeyCode::Enter);
        assert!(
            bob.run_until(
                WAIT,
                |b| matches!(b.overlays.last(), Some(Overlay::Confirm(c)) if c.error.is_some())
            )
            .await
        );
        let code = team.code("bob");
        typ(&mut bob, &code);
        key(&mut bob, KeyCode::Enter);
        assert!(bob.run_until(WAIT, |b| b.overlays.is_empty()).await);
        assert!(
            bob.transcript
                .lines
                .iter()
                .any(|l| l.text().contains("approved by bob"))
        );
        // Approving again is refused before a code is asked, in the core's own words.
        assert!(
            bob.run_until(WAIT, |b| b.approvals.selected_plan().is_some_and(|r| r
                .plan
                .plan_id
                == id
                && r.state == State::Approved))
                .await
        );
        key(&mut bob, KeyCode::Char('a'));
        assert!(bob.overlays.is_empty());
        assert_eq!(
            bob.notice.as_ref().unwrap().text(),
            format!("✗ refused: plan {id} is already approved (by bob)")
        );

        // Alice's queue shows it approved; her audit browser shows bob's approval.
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .approvals
                    .plans
                    .iter()
                    .any(|r| r.plan.plan_id == id && r.state == State::Approved))
                .await
        );
        alice.update(Action::FocusAudit);
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .audit
                    .rows
                    .iter()
                    .any(|r| r.event == EventKind::Approved
                        && &*r.user == "bob"
                        && r.plan_id.as_deref() == Some(id.as_str())))
                .await
        );
        assert!(
            alice
                .audit
                .rows
                .iter()
                .any(|r| r.event == EventKind::AccessDenied && &*r.user == "bob"),
            "the wrong code is audited"
        );
        assert!(
            alice
                .run_until(WAIT, |a| matches!(&a.audit.verify, Some(Ok(r)) if r.ok))
                .await
        );
        alice.update(Action::SetFilter("user:bob event:approved".into()));
        assert_eq!(alice.audit.filtered.len(), 1);

        // Export of the current filter lands in the data dir.
        alice.update(Action::ExportCsv);
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .notice
                    .as_ref()
                    .is_some_and(|n| n.text().contains("exported")))
                .await
        );
        let exported = std::fs::read_dir(home.path().join("exports"))
            .unwrap()
            .count();
        assert_eq!(exported, 1);
    });
}

#[test]
fn apply_runs_in_the_background_with_live_progress() {
    let Some(_tf) = common::terraform() else {
        return;
    };
    let home = Home::new();
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let dir = common::terraform_data_dir("");
    let rec = team
        .deck("alice")
        .requests()
        .submit_terraform(dir.path(), "hello", &common::quiet)
        .unwrap();
    let id = rec.plan.plan_id.clone();
    team.approve("bob", &id).unwrap();
    let rt = runtime();
    let mut alice = app(team.deck("alice"), &rt);
    rt.block_on(async {
        alice.start();
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .approvals
                    .plans
                    .iter()
                    .any(|r| r.state == State::Approved))
                .await
        );
        alice.update(Action::FocusApprovals);
        key(&mut alice, KeyCode::Char('x'));
        assert!(matches!(alice.overlays.last(), Some(Overlay::Confirm(_))));
        assert!(receipt_shown(&mut alice).await);
        key(&mut alice, KeyCode::Enter);
        assert!(alice.apply.is_some());
        // Input keeps working while the apply runs.
        key(&mut alice, KeyCode::Char('5'));
        assert_eq!(alice.focus, Pane::Audit);
        assert!(
            alice
                .run_until(Duration::from_secs(120), |a| a.apply.is_none())
                .await
        );
        let text: Vec<String> = alice.transcript.lines.iter().map(|l| l.text()).collect();
        assert!(
            text.iter()
                .any(|l| l.contains("terraform") || l.contains("Apply")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains(&id) && l.contains("succeeded")),
            "{text:#?}"
        );
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .audit
                    .rows
                    .iter()
                    .any(|r| r.event == EventKind::Completed
                        && r.plan_id.as_deref() == Some(id.as_str())))
                .await
        );
    });
}

#[test]
fn commands_quit_and_theme() {
    let home = Home::new();
    let rt = runtime();
    let mut a = app(home.deck("alice"), &rt);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char(':'));
    typ(&mut a, "theme light");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.theme.name, "light");
    a.update(Action::Command("theme nope".into()));
    assert!(a.notice.as_ref().unwrap().text().contains("no theme named"));
    a.update(Action::Command("audit".into()));
    assert_eq!(a.focus, Pane::Audit);
    key(&mut a, KeyCode::Char('i'));
    assert!(a.prompt_active && a.focus == Pane::Conversation);
    key(&mut a, KeyCode::Char('q'));
    assert!(!a.should_quit, "q is typing in the prompt");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('q'));
    assert!(a.should_quit);
    let mut b = app(home.deck("alice"), &rt);
    b.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    ))));
    assert!(b.should_quit, "ctrl-c quits even from the prompt");
}

#[test]
fn break_glass_from_the_console_needs_a_reason_and_is_flagged() {
    let home = Home::new();
    let team = Team::new(
        &home,
        None,
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
        ],
    );
    // Two approvers needed: breaking glass lets one stand in.
    let mut settings = team.deck("alice").tenant().clone();
    settings.approvals.default_approvers = 2;
    let code = team.code("alice");
    team.deck("alice")
        .admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let id = team
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &common::quiet)
        .unwrap()
        .plan
        .plan_id;
    let rt = runtime();
    let mut bob = app(team.deck("bob"), &rt);
    rt.block_on(async {
        bob.start();
        assert!(
            bob.run_until(WAIT, |b| b
                .approvals
                .plans
                .iter()
                .any(|r| r.plan.plan_id == id))
                .await
        );
        bob.update(Action::FocusApprovals);
        let pos = bob
            .approvals
            .visible()
            .iter()
            .position(|r| r.plan.plan_id == id)
            .unwrap();
        bob.approvals.selected = pos;
        key(&mut bob, KeyCode::Char('B'));
        assert!(matches!(bob.overlays.last(), Some(Overlay::Confirm(_))));
        // No reason: refused in the overlay, before any code is spent.
        key(&mut bob, KeyCode::Enter);
        assert!(matches!(bob.overlays.last(), Some(Overlay::Confirm(c)) if c.error.is_some()));
        typ(&mut bob, "sev1 checkout down");
        key(&mut bob, KeyCode::Enter);
        let code = team.code("bob");
        typ(&mut bob, &code);
        key(&mut bob, KeyCode::Enter);
        assert!(bob.run_until(WAIT, |b| b.overlays.is_empty()).await);
    });
    let rec = team.deck("alice").approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Approved);
    assert!(rec.break_glass());
    let approved = team
        .deck("alice")
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some("approved".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        approved[0]
            .event
            .message
            .as_deref()
            .unwrap()
            .starts_with("BREAK-GLASS")
    );
}

#[test]
fn a_running_apply_can_be_cancelled_from_the_console() {
    let Some(_tf) = common::terraform() else {
        return;
    };
    let home = Home::new();
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let dir = common::terraform_data_dir(
        "resource \"terraform_data\" \"slow\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 60\"\n  }\n}\n",
    );
    let id = team
        .deck("alice")
        .requests()
        .submit_terraform(dir.path(), "slow", &common::quiet)
        .unwrap()
        .plan
        .plan_id;
    team.approve("bob", &id).unwrap();
    let rt = runtime();
    let mut alice = app(team.deck("alice"), &rt);
    let started = Instant::now();
    rt.block_on(async {
        alice.start();
        assert!(
            alice
                .run_until(WAIT, |a| a
                    .approvals
                    .plans
                    .iter()
                    .any(|r| r.state == State::Approved))
                .await
        );
        alice.update(Action::FocusApprovals);
        key(&mut alice, KeyCode::Char('x'));
        assert!(receipt_shown(&mut alice).await);
        key(&mut alice, KeyCode::Enter);
        assert!(alice.apply.is_some());
        // Wait until the slow provisioner runs, then cancel.
        assert!(
            alice
                .run_until(Duration::from_secs(60), |a| a
                    .transcript
                    .lines
                    .iter()
                    .any(|l| l.text().contains("local-exec")))
                .await
        );
        let cancelled_at = Instant::now();
        alice.update(Action::CancelApply);
        assert!(
            alice
                .run_until(Duration::from_secs(45), |a| a.apply.is_none())
                .await
        );
        println!(
            "cancel → apply ended: {:.1} s",
            cancelled_at.elapsed().as_secs_f64()
        );
    });
    assert!(
        started.elapsed() < Duration::from_secs(55),
        "cancel did not stop terraform"
    );
    let rec = team.deck("alice").approvals().plan(&id).unwrap();
    assert_eq!(rec.state, State::Cancelled);
    // One outcome, said as such: the console's own lines about the plan never say "failed".
    let ours: Vec<String> = alice
        .transcript
        .lines
        .iter()
        .map(|l| l.text())
        .filter(|t| t.contains(&id) && !t.starts_with("  "))
        .collect();
    assert!(
        ours.iter()
            .any(|t| t.contains(&format!("{id} finished: cancelled"))),
        "{ours:#?}"
    );
    assert!(!ours.iter().any(|t| t.contains("failed")), "{ours:#?}");
}

#[test]
fn answers_to_superseded_requests_are_dropped() {
    let home = Home::new();
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let requests = team.deck("alice");
    let ask = |text: &str| {
        let rec = requests.requests().ask(text, &common::quiet).unwrap();
        rec.plan.plan_id
    };
    let first = ask("create 1 t3.micro instance");
    let second = ask("create 2 t3.small instances");
    let rt = runtime();
    let mut bob = app(team.deck("bob"), &rt);
    rt.block_on(async {
        bob.start();
        assert!(
            bob.run_until(WAIT, |b| b.approvals.plans.len() == 2 && b.jobs.is_empty())
                .await
        );
        // A poll that is not the newest (here: one never asked) changes nothing.
        bob.handle_msg(Msg::Done {
            job: 0,
            answer: opsdeck::tui::app::Done::Plans(Ok(Vec::new())),
        });
        assert_eq!(bob.approvals.plans.len(), 2);
        // Two diffs asked in a row: the second shows, whichever job answers last.
        bob.open_diff(first.clone(), None);
        bob.open_diff(second.clone(), None);
        assert!(bob.run_until(WAIT, |b| b.jobs.is_empty()).await);
        assert_eq!(bob.diff.plan.as_ref().unwrap().plan.plan_id, second);
        assert!(bob.diff.loading.is_none());
    });
}

/// `:suggest` says in the conversation what `opsdeck suggest` says, read off the UI thread.
#[test]
fn suggestions_are_said_in_the_conversation() {
    let home = Home::new();
    let rt = runtime();
    let deck = home.deck("alice");
    // The same VPC asked three times, queued each time, as the pipeline records it.
    let intent = serde_json::json!({"agent": "infra", "agents": ["infra"], "action": "create",
        "confidence": 0.9, "low_confidence": false,
        "params": {"region": "eu-west-1", "resource": "vpc"}});
    let events: Vec<_> = (0..3)
        .flat_map(|n| {
            common::past_request(
                &format!("r-vpc{n}"),
                "a vpc in Ireland",
                &format!("p-vpc{n:05}"),
                intent.clone(),
                None,
                EventKind::Queued,
            )
        })
        .collect();
    common::append_signed(&home, &deck, &events);
    let mut a = app(deck, &rt);
    a.update(Action::Command("suggest".into()));
    let said = |a: &App, text: &str| a.transcript.lines.iter().any(|l| l.text().contains(text));
    let shown = rt.block_on(a.run_until(WAIT, |a| said(a, "repeated: infra/create")));
    let lines: Vec<String> = a.transcript.lines.iter().map(|l| l.text()).collect();
    assert!(shown, "{lines:#?}");
    assert!(
        said(
            &a,
            "asked 3 times (\"a vpc in Ireland\"): reuse plan p-vpc00002"
        ),
        "{lines:#?}"
    );
}
