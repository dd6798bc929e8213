//! Closing the loop in the console, from the store alone: alice's console hears bob's approval
//! and his rejection with its reason (made by another session, on the local store and on the
//! shared DynamoDB + S3 backend on moto); the rejected plan stays findable among the closed
//! plans and can be planned again; the audit browser picks up events that touch no plan and
//! counts new rows above the view.

mod common;

use std::time::Duration;

use common::shared::SharedBackend;
use common::{Home, Team, quiet, terraform_data_dir};
use opsdeck::approval::State;
use opsdeck::pipeline::Deck;
use opsdeck::tenant::Role;
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::App;

/// Generous: the console polls every 2 s; nothing here measures time.
const WAIT: Duration = Duration::from_secs(60);

fn said(app: &App, text: &str) -> bool {
    app.transcript.lines.iter().any(|l| l.text().contains(text))
}

/// alice's console on `alice`'s deck; bob decides through `bob` (another session: on the
/// shared backend, another machine).
fn the_requester_hears_back(t: &Team<'_>, alice: Deck, bob: Deck) {
    let plans = t.deck("alice");
    let dir = terraform_data_dir("");
    let first = plans
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap();
    let (rt, mut app) = common::console(alice);
    rt.block_on(async {
        app.start();
        assert!(app.run_until(WAIT, |a| a.approvals.loaded).await);
    });

    let id = first.plan.plan_id.clone();
    let code = t.code("bob");
    bob.approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
    let heard = rt.block_on(app.run_until(WAIT, |a| said(a, &format!("{id} approved by bob"))));
    assert!(heard, "{:#?}", texts(&app));
    assert!(
        app.notice
            .as_ref()
            .is_some_and(|n| n.text().contains("approved")),
        "the status bar says it too: {:?}",
        app.notice
    );

    let second = plans
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap();
    let id2 = second.plan.plan_id.clone();
    // Seen pending first, so the rejection is a change the console notices.
    assert!(rt.block_on(app.run_until(WAIT, |a| a.approvals.find(&id2).is_some())));
    let code = t.code("bob");
    bob.approvals()
        .reject(&id2, "wrong stack, use web-2", Some(&code))
        .unwrap();
    let heard = rt.block_on(app.run_until(WAIT, |a| {
        said(a, &format!("{id2} rejected by bob: wrong stack, use web-2"))
    }));
    assert!(heard, "{:#?}", texts(&app));

    // Rejected, it left the queue but not the console: listed among the closed plans.
    assert!(
        app.approvals
            .visible()
            .iter()
            .all(|r| r.plan.plan_id != id2)
    );
    app.update(Action::FocusApprovals);
    app.update(Action::ToggleClosed);
    let closed: Vec<_> = app.approvals.visible().iter().map(|r| r.state).collect();
    assert_eq!(closed, [State::Rejected]);
    assert_eq!(
        app.preview.plan.as_ref().map(|r| r.plan.plan_id.clone()),
        Some(id2.clone()),
        "the preview follows the selection"
    );
    drop(rt);
}

fn texts(app: &App) -> Vec<String> {
    app.transcript.lines.iter().map(|l| l.text()).collect()
}

#[test]
fn the_requester_hears_decisions_from_the_local_store() {
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    the_requester_hears_back(&t, t.deck("alice"), t.deck("bob"));
}

#[test]
fn the_requester_hears_decisions_from_the_shared_backend() {
    let Some(b) = SharedBackend::new("tui_loop_shared") else {
        return;
    };
    let alice_machine = b.home();
    let bob_machine = b.home();
    let t = Team::new(
        &alice_machine,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    assert_eq!(t.deck("alice").raw_store().backend(), "aws");
    // bob's key lives on his own machine.
    let keys = bob_machine.identity_dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for ext in ["key", "pub"] {
        let from = alice_machine
            .identity_dir()
            .join("keys")
            .join(format!("bob.{ext}"));
        if from.exists() {
            std::fs::copy(&from, keys.join(format!("bob.{ext}"))).unwrap();
        }
    }
    let clock: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let bob = bob_machine.deck_with("bob", None, Some(clock));
    the_requester_hears_back(&t, t.deck("alice"), bob);
}

#[test]
fn a_closed_plan_is_planned_again_from_the_closed_list() {
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let rec = t
        .deck("alice")
        .requests()
        .ask(
            "create an s3 bucket called logs-replan in eu-west-1 stack logs-replan",
            &quiet,
        )
        .unwrap();
    let code = t.code("bob");
    t.deck("bob")
        .approvals()
        .reject(&rec.plan.plan_id, "needs versioning", Some(&code))
        .unwrap();
    let (rt, mut app) = common::console(t.deck("alice"));
    rt.block_on(async {
        app.start();
        assert!(app.run_until(WAIT, |a| a.approvals.loaded).await);
    });
    app.update(Action::FocusApprovals);
    app.update(Action::ToggleClosed);
    assert_eq!(
        app.approvals
            .selected_plan()
            .map(|r| r.plan.plan_id.clone()),
        Some(rec.plan.plan_id.clone())
    );
    app.update(Action::Replan);
    assert_eq!(app.focus, Pane::Conversation);
    let planned = rt.block_on(app.run_until(WAIT, |a| {
        a.preview
            .plan
            .as_ref()
            .is_some_and(|p| p.plan.plan_id != rec.plan.plan_id && p.state == State::Pending)
    }));
    assert!(planned, "{:#?}", texts(&app));
    let again = app.preview.plan.as_ref().unwrap();
    assert_eq!(again.plan.request, rec.plan.request);
    drop(rt);
}

#[test]
fn the_audit_pane_picks_up_events_that_touch_no_plan() {
    let home = Home::new();
    let t = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    );
    let (rt, mut app) = common::console(t.deck("alice"));
    rt.block_on(async {
        app.start();
        assert!(
            app.run_until(WAIT, |a| a.audit.loaded && a.approvals.loaded)
                .await
        );
    });
    app.update(Action::FocusAudit);
    let before = app.audit.rows.len();
    assert!(before >= 2, "enrolment is audited: {before}");
    // Not at the top: new rows arrive above the view.
    app.update(Action::Down);
    let selected = app.audit.selected;
    assert!(selected > 0);
    // bob, in another session, does something audited that touches no plan.
    let _ = t
        .deck("bob")
        .requests()
        .refuse_credentials("deploy with password hunter2hunter2hunter2");
    let seen = rt.block_on(app.run_until(WAIT, |a| a.audit.rows.len() > before));
    assert!(seen, "the audit pane did not re-read the trail");
    let newest = app.audit.rows.last().unwrap();
    assert!(newest.plan_id.is_none());
    // Read on from the newest row: nothing twice, nothing missed.
    let seqs: Vec<u64> = app.audit.rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=newest.seq).collect::<Vec<_>>());
    assert_eq!(&*newest.user, "bob");
    assert!(
        app.audit.new_above > 0,
        "the new rows above the view are counted"
    );
    assert_eq!(
        app.audit.selected,
        selected + app.audit.new_above,
        "the selection stays on its row"
    );
    app.update(Action::Top);
    assert_eq!(app.audit.new_above, 0);
    drop(rt);
}
