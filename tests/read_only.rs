//! Read-only sessions: `--read-only`, a user an admin marked read-only, a read-only AWS
//! configuration. Questions work; anything that would change something is refused before any
//! planning (no agent work, no artifact, no plan), the refusal audited, the same in every front
//! end because the core decides; the console's status bar says so.

mod common;

use std::sync::Arc;

use common::{Home, Team, quiet};
use opsdeck::approval::State;
use opsdeck::audit::EventKind;
use opsdeck::pipeline::{Deck, OpenOptions, ReadOnly};
use opsdeck::tenant::{AwsConfiguration, Role};
use opsdeck::time::Clock;

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
        ],
    )
}

/// `user`'s session with `--read-only`, on the team's clock.
fn read_only_deck(t: &Team<'_>, user: &str) -> Deck {
    let clock: Arc<dyn Clock> = t.clock.clone();
    Deck::open(OpenOptions {
        home: Some(t.home.path().to_path_buf()),
        user: Some(user.into()),
        clock: Some(clock),
        read_only: true,
        ..OpenOptions::default()
    })
    .unwrap()
}

fn refused(r: opsdeck::Result<impl std::fmt::Debug>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The last access_denied message in the trail.
fn last_denial(deck: &Deck) -> String {
    let mut last = None;
    deck.trail()
        .scan_audit(&mut |r| {
            if r.event.event == EventKind::AccessDenied {
                last = r.event.message.clone();
            }
            true
        })
        .unwrap();
    last.expect("an access_denied event")
}

#[test]
fn the_flag_refuses_a_change_before_planning_and_audits_it() {
    let home = Home::new();
    let t = team(&home);
    let olga = read_only_deck(&t, "olga");
    assert_eq!(olga.read_only(), Some(&ReadOnly::Flag));
    let msg = refused(olga.requests().ask(SPEC, &quiet));
    assert!(msg.contains("read-only (--read-only)"), "{msg}");
    assert!(msg.contains("questions"), "{msg}");
    // Nothing was planned or stored.
    assert!(olga.approvals().plans(None).unwrap().is_empty());
    let denial = last_denial(&olga);
    assert!(denial.starts_with("request a change: "), "{denial}");
    assert!(denial.contains("--read-only"), "{denial}");
    // Without the flag the same person plans it.
    let rec = t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    assert_eq!(rec.state, State::Pending);
}

#[test]
fn decisions_applies_submissions_and_admin_changes_are_refused_too() {
    let home = Home::new();
    let t = team(&home);
    let id = t
        .deck("olga")
        .requests()
        .ask(SPEC, &quiet)
        .unwrap()
        .plan
        .plan_id;
    // A read-only approver cannot approve or reject: said before the code is checked.
    let bob = read_only_deck(&t, "bob");
    let code = t.code("bob");
    let msg = refused(bob.approvals().approve(&id, None, Some(&code), None));
    assert!(msg.starts_with("cannot approve plan"), "{msg}");
    let msg = refused(bob.approvals().reject(&id, "no", Some(&code)));
    assert!(msg.starts_with("cannot reject plan"), "{msg}");
    assert_eq!(bob.approvals().plan(&id).unwrap().state, State::Pending);
    // The same code still works for bob's own decision outside read-only: nothing was spent.
    t.deck("bob")
        .approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
    // A read-only operator cannot apply the approved plan.
    let olga = read_only_deck(&t, "olga");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(olga.runs().apply(&id, &quiet, rx)));
    assert!(msg.starts_with(&format!("cannot apply plan {id}")), "{msg}");
    assert_eq!(olga.approvals().plan(&id).unwrap().state, State::Approved);
    // Submissions and admin changes.
    let dir = common::terraform_data_dir("");
    let msg = refused(
        olga.requests()
            .submit_terraform(dir.path(), "hello", &quiet),
    );
    assert!(msg.starts_with("cannot submit"), "{msg}");
    let alice = read_only_deck(&t, "alice");
    let code = t.code("alice");
    let msg = refused(
        alice
            .admin()
            .add_user("erin", vec![Role::Viewer], vec![], Some(&code)),
    );
    assert!(msg.contains("read-only"), "{msg}");
    let msg = refused(alice.admin().set_user_read_only("olga", true, Some(&code)));
    assert!(msg.contains("read-only (--read-only)"), "{msg}");
    // Each refusal is in the trail with the plan it concerned.
    let mut denials = Vec::new();
    alice
        .trail()
        .scan_audit(&mut |r| {
            if r.event.event == EventKind::AccessDenied {
                denials.push((r.event.plan_id.clone(), r.event.message.clone().unwrap()));
            }
            true
        })
        .unwrap();
    assert_eq!(denials.len(), 6, "{denials:#?}");
    assert!(
        denials[..3]
            .iter()
            .all(|(p, _)| p.as_deref() == Some(id.as_str()))
    );
}

#[test]
fn an_admin_marks_a_user_read_only_and_lifts_it() {
    let home = Home::new();
    let t = team(&home);
    let code = t.code("alice");
    let olga = t
        .deck("alice")
        .admin()
        .set_user_read_only("olga", true, Some(&code))
        .unwrap();
    assert!(olga.read_only);
    let deck = t.deck("olga");
    assert_eq!(
        deck.read_only(),
        Some(&ReadOnly::User {
            user: "olga".into()
        })
    );
    let msg = refused(deck.requests().ask(SPEC, &quiet));
    assert!(msg.contains("`opsdeck users read-only olga off`"), "{msg}");
    // Others are not affected.
    assert_eq!(t.deck("bob").read_only(), None);
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_user_read_only("olga", false, Some(&code))
        .unwrap();
    let deck = t.deck("olga");
    assert_eq!(deck.read_only(), None);
    deck.requests().ask(SPEC, &quiet).unwrap();
    // Both changes are audited settings changes.
    let changes = deck
        .trail()
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.event.event == EventKind::SettingsChanged)
        .filter_map(|r| r.event.message)
        .filter(|m| m.contains("read-only"))
        .count();
    assert_eq!(changes, 2);
}

#[test]
fn a_read_only_configuration_makes_every_session_through_it_read_only() {
    let home = Home::new();
    let t = team(&home);
    let config = AwsConfiguration {
        read_only: true,
        ..common::aws_configuration(
            "prod",
            "arn:aws:iam::123456789012:role/opsdeck-viewer",
            "eu-west-1",
        )
    };
    let code = t.code("alice");
    t.deck("alice").add_config(config, Some(&code)).unwrap();
    // The tenant's only configuration: every session acts through it.
    let olga = t.deck("olga");
    assert_eq!(
        olga.read_only(),
        Some(&ReadOnly::Configuration {
            name: "prod".into()
        })
    );
    let msg = refused(olga.requests().ask(SPEC, &quiet));
    assert!(msg.contains("AWS configuration prod is read-only"), "{msg}");
    assert!(msg.contains("--aws-config"), "{msg}");
    // Through the base credentials instead, the same person may ask for changes.
    let clock: Arc<dyn Clock> = t.clock.clone();
    let base = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("olga".into()),
        clock: Some(clock),
        aws_config: Some("none".into()),
        ..OpenOptions::default()
    })
    .unwrap();
    assert_eq!(base.read_only(), None);
}

#[test]
fn mcp_sessions_get_the_same_refusal() {
    let home = Home::new();
    let t = team(&home);
    let clock: Arc<dyn Clock> = t.clock.clone();
    let via_mcp = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("olga".into()),
        clock: Some(clock),
        via_mcp: true,
        read_only: true,
        ..OpenOptions::default()
    })
    .unwrap();
    let msg = refused(via_mcp.requests().ask(SPEC, &quiet));
    assert!(msg.contains("read-only (--read-only)"), "{msg}");
}

#[test]
fn the_cli_flag_and_the_console_status_bar() {
    let home = Home::new();
    common::allow_claimed_users_cli(&home);
    let out = home
        .cmd()
        .args(["--read-only", "--json", "ask", SPEC])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], "refused", "{v}");
    assert!(v["error"].as_str().unwrap().contains("--read-only"), "{v}");
    let out = home
        .cmd()
        .env("OPSDECK_READ_ONLY", "true")
        .args(["plans", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "questions still work");

    let t = team(&home);
    let (_rt, app) = common::console(read_only_deck(&t, "olga"));
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 30)).unwrap();
    term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
    let screen = term.backend().to_string();
    assert!(screen.contains("READ-ONLY (--read-only)"), "{screen}");
    let (_rt, app) = common::console(t.deck("olga"));
    term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
    assert!(!term.backend().to_string().contains("READ-ONLY"));
}
