//! The identity receipt before any apply: account id and alias, role, region and runner, asked
//! of AWS (moto here) through the credentials the apply uses; shown by `opsdeck apply` and in the
//! console's apply confirmation, and honest about what AWS did not say.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::moto::Moto;
use common::{Home, Team, quiet};
use opsdeck::pipeline::{Deck, OpenOptions, Runner};
use opsdeck::tenant::Role;
use opsdeck::time::Clock;
use opsdeck::tui::action::Action;
use opsdeck::tui::app::Overlay;
use ratatui::crossterm::event::KeyCode;

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    )
}

/// An approved terraform_data plan of alice's (it applies offline).
fn approved_plan(t: &Team<'_>) -> String {
    let dir = common::terraform_data_dir("");
    let id = t
        .deck("alice")
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap()
        .plan
        .plan_id;
    t.approve("bob", &id).unwrap();
    id
}

/// Gives moto's default account an alias, through the SDK as an admin would.
fn set_alias(moto: &Moto, alias: &str) {
    let access = Arc::new(opsdeck::aws::AwsAccess::new(
        Some(moto.endpoint.clone()),
        None,
    ));
    let a = access.clone();
    let alias = alias.to_string();
    access
        .block_on(async move {
            let conf = a.config("us-east-1").await;
            aws_sdk_iam::Client::new(&conf)
                .create_account_alias()
                .account_alias(alias)
                .send()
                .await
                .map(|_| ())
        })
        .unwrap()
        .unwrap();
}

fn deck_on(t: &Team<'_>, user: &str, endpoint: &str) -> Deck {
    let clock: Arc<dyn Clock> = t.clock.clone();
    Deck::open(OpenOptions {
        home: Some(t.home.path().to_path_buf()),
        user: Some(user.into()),
        clock: Some(clock),
        endpoint_url: Some(endpoint.into()),
        ..OpenOptions::default()
    })
    .unwrap()
}

#[test]
fn apply_shows_the_receipt_before_it_runs_on_moto() {
    let Some(moto) = Moto::get("apply_shows_the_receipt") else {
        return;
    };
    let _only = moto.exclusive();
    set_alias(&moto, "acme-prod");
    let home = Home::new();
    let t = team(&home);

    // The core's receipt: the base credentials' account and its alias; no role assumed.
    let id = approved_plan(&t);
    let receipt = deck_on(&t, "alice", &moto.endpoint)
        .runs()
        .identity_receipt(&id)
        .unwrap();
    assert_eq!(receipt.account_id.as_deref(), Some("123456789012"));
    assert_eq!(receipt.account_alias.as_deref(), Some("acme-prod"));
    assert_eq!(receipt.role, None);
    assert!(receipt.caller_arn.is_some());
    assert!(receipt.unknown.is_empty(), "{:?}", receipt.unknown);
    assert!(matches!(receipt.runner, Runner::InProcess { ref backend, .. } if backend == "local"));

    // `opsdeck apply` prints it first (stderr), and with --json carries it in the result.
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "alice", "apply", &id])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("identity receipt for plan {id}:")),
        "{err}"
    );
    assert!(err.contains("account  123456789012 (acme-prod)"), "{err}");
    assert!(
        err.contains("role     none assumed: the base credentials"),
        "{err}"
    );
    assert!(err.contains("region   "), "{err}");
    assert!(err.contains("runner   this process on "), "{err}");
    let id2 = approved_plan(&t);
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--user", "alice", "--json", "apply", &id2])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["identity_receipt"]["account_alias"], "acme-prod", "{v}");
    assert_eq!(v["identity_receipt"]["runner"]["kind"], "in_process", "{v}");

    // Through a configuration: the role it assumes, and the account STS says that role is in.
    let config = common::aws_configuration(
        "prod",
        "arn:aws:iam::999999999999:role/opsdeck-deploy-default",
        "eu-west-1",
    );
    let code = t.code("alice");
    t.deck("alice").add_config(config, Some(&code)).unwrap();
    let id3 = approved_plan(&t);
    let receipt = deck_on(&t, "alice", &moto.endpoint)
        .runs()
        .identity_receipt(&id3)
        .unwrap();
    assert_eq!(receipt.account_id.as_deref(), Some("999999999999"));
    assert_eq!(
        receipt.role.as_deref(),
        Some("arn:aws:iam::999999999999:role/opsdeck-deploy-default")
    );
    assert_eq!(receipt.configuration.as_deref(), Some("prod"));
    assert!(
        receipt
            .caller_arn
            .as_deref()
            .unwrap()
            .contains("assumed-role/opsdeck-deploy-default/"),
        "{receipt:?}"
    );
}

#[test]
fn without_aws_the_receipt_says_what_is_unknown() {
    let home = Home::new();
    let t = team(&home);
    let id = approved_plan(&t);
    let receipt = deck_on(&t, "alice", common::NO_AWS)
        .runs()
        .identity_receipt(&id)
        .unwrap();
    assert_eq!(receipt.account_id, None);
    assert!(
        receipt.unknown.iter().any(|u| u.starts_with("account: ")),
        "{:?}",
        receipt.unknown
    );
    let lines = opsdeck::view::ReceiptView::of(&receipt).lines();
    assert!(lines[0].starts_with("account  UNKNOWN"), "{lines:?}");
}

#[test]
fn the_console_confirmation_shows_the_receipt_before_enter_applies() {
    let Some(moto) = Moto::get("console_receipt") else {
        return;
    };
    let _only = moto.exclusive();
    set_alias(&moto, "acme-console");
    let home = Home::new();
    let t = team(&home);
    let id = approved_plan(&t);
    let (rt, mut app) = common::console(deck_on(&t, "alice", &moto.endpoint));
    rt.block_on(async {
        app.start();
        assert!(
            app.run_until(Duration::from_secs(20), |a| a
                .approvals
                .plans
                .iter()
                .any(|r| r.plan.plan_id == id))
                .await
        );
        app.update(Action::FocusApprovals);
        app.update(Action::Apply);
        assert!(matches!(app.overlays.last(), Some(Overlay::Confirm(_))));
        assert!(
            app.run_until(Duration::from_secs(20), |a| matches!(
                a.overlays.last(),
                Some(Overlay::Confirm(c)) if c.receipt.is_some()
            ))
            .await
        );
    });
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 40)).unwrap();
    term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
    let screen = term.backend().to_string();
    assert!(screen.contains("123456789012 (acme-console)"), "{screen}");
    assert!(screen.contains("none assumed"), "{screen}");
    assert!(screen.contains("this process on"), "{screen}");

    // Enter with the code applies it in this process, and the trail's `executing` event records
    // the receipt, as `opsdeck apply` and the runners do.
    let code = t.code("alice");
    rt.block_on(async {
        for c in code.chars() {
            app.handle_msg(opsdeck::tui::app::Msg::Term(key(KeyCode::Char(c))));
        }
        app.handle_msg(opsdeck::tui::app::Msg::Term(key(KeyCode::Enter)));
        assert!(
            app.run_until(Duration::from_secs(5), |a| a.apply.is_some())
                .await,
            "the apply did not start: {:?}",
            app.notice.as_ref().map(|n| n.text())
        );
        assert!(
            app.run_until(Duration::from_secs(60), |a| a.apply.is_none())
                .await
        );
    });
    let mut executing = Vec::new();
    t.deck("alice")
        .trail()
        .scan_audit(&mut |r| {
            if r.event.event == opsdeck::audit::EventKind::Executing
                && r.event.plan_id.as_deref() == Some(id.as_str())
            {
                executing.push(r.event.identity_receipt.clone());
            }
            true
        })
        .unwrap();
    assert_eq!(executing.len(), 1, "{executing:?}");
    let receipt = executing[0]
        .clone()
        .expect("the receipt in the executing event");
    assert_eq!(receipt["account_id"], "123456789012", "{receipt}");
    assert_eq!(receipt["account_alias"], "acme-console", "{receipt}");
    assert_eq!(receipt["runner"]["kind"], "in_process", "{receipt}");
}

fn key(code: ratatui::crossterm::event::KeyCode) -> ratatui::crossterm::event::Event {
    ratatui::crossterm::event::Event::Key(ratatui::crossterm::event::KeyEvent::new(
        code,
        ratatui::crossterm::event::KeyModifiers::NONE,
    ))
}
