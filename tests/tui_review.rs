//! An approver reviews an AWS-API plan in the console: the diff pane lists each call and each
//! target with its name, tags and state before → after; the approve overlay lists every gate
//! with its reason, the targets, the identity receipt and the risk. Snapshots at 80x24 and
//! 120x40 from a fixed stored plan (fixed clock, fixed ids); no AWS is reached.

mod common;

use std::sync::Arc;

use common::Home;
use opsdeck::approval::PlanRecord;
use opsdeck::time::{Clock, ManualClock};
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, Overlay};
use opsdeck::tui::highlight::Highlighter;
use opsdeck::tui::{jobs, ui};
use opsdeck::view::ReceiptView;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const ID: &str = "p-term8prod2";

/// alice's plan to terminate two production instances, as the ops agent stores it.
fn terminate_plan() -> PlanRecord {
    let intent = serde_json::json!({
        "agent": "ops", "agents": ["ops"], "action": "terminate", "confidence": 0.93,
        "low_confidence": false, "params": {"environment": "prod", "region": "eu-west-1"},
    });
    let targets_seen = serde_json::json!([
        {"id": "i-0a1b2c3d4e5f60718", "name": "web-1", "state": "running", "type": "t3.medium",
         "tags": ["Env=prod"]},
        {"id": "i-0f9e8d7c6b5a40312", "name": "web-2", "state": "stopped", "type": "t3.medium",
         "tags": ["Env=prod"]},
    ]);
    serde_json::from_value(serde_json::json!({
        "plan": {
            "plan_id": ID, "request_id": "r-term8prod2", "tenant": "default",
            "requester": "alice", "requester_source": "os", "created_at": "2026-11-24T10:00:00Z",
            "request": "terminate the instances tagged Role=web in prod", "intent": intent,
            "agent": "ops", "agents": ["ops"], "action": "terminate",
            "summary": "Terminate 2 instances tagged Role=web in prod in eu-west-1",
            "region": "eu-west-1",
            "steps": [{
                "description": "Terminate 2 instances tagged Role=web in prod in eu-west-1, then wait up to 300 s for terminated",
                "mutates": true, "type": "aws", "agent": "ops", "service": "ec2",
                "operation": "TerminateInstances", "region": "eu-west-1",
                "targets": ["i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a40312"],
                "input": {"health": {"expect": ["terminated"], "status_checks": false},
                          "wait_secs": 300, "poll_secs": 5, "targets_seen": targets_seen},
            }],
            "artifacts": [],
            "resources": [
                {"address": "ec2_instance.i-0a1b2c3d4e5f60718", "action": "delete", "count": 1},
                {"address": "ec2_instance.i-0f9e8d7c6b5a40312", "action": "delete", "count": 1},
            ],
            "mutates": true, "risk": "critical",
            "risk_reasons": ["terminate cannot be undone", "2 instances in production"],
            "cost": {"monthly_usd": 0.0, "lines": [], "source": "", "price_date": ""},
            "gates": [
                {"rule": "policy.summary", "result": "pass", "reason": "no deny"},
                {"rule": "change.production", "result": "warn",
                 "reason": "changes production: a second look before approving"},
                {"rule": "maintenance.none_configured", "result": "warn",
                 "reason": "no maintenance window is configured for production changes"},
            ],
            "requires_approval": true,
            "content_hash": "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
        },
        "state": "pending", "required_approvals": 1, "approval_rule": "",
        "approver_roles": ["approver", "admin"], "approvals": [], "expires_at": 4102444800i64,
        "approved_ttl_secs": 3600, "executions": [], "updated_at": "2026-11-24T10:00:00Z",
    }))
    .expect("a stored plan record")
}

struct Fixture {
    _home: Home,
    _rt: tokio::runtime::Runtime,
    app: App,
}

/// bob's console with alice's plan in the store and in his queue.
fn fixture() -> Fixture {
    let home = Home::new();
    let clock = Arc::new(ManualClock::at("2026-11-24T10:05:00Z".parse().unwrap()));
    let c: Arc<dyn Clock> = clock.clone();
    let bob = home.deck_with("bob", None, Some(c));
    let rec = terminate_plan();
    bob.raw_store().create_plan(&rec).unwrap();
    let (rt, mut app) = common::console(bob);
    app.set_plans(vec![rec]);
    // bob has a plan waiting for him: the console opened on the queue and said so.
    assert_eq!(app.focus, Pane::Approvals);
    app.notice = None;
    // What the diff job makes of the stored plan.
    let (plan, doc) = jobs::load_diff(&app.deck, ID, &Highlighter::new(), None).unwrap();
    app.diff.plan = Some(*plan);
    app.diff.doc = Some(doc);
    Fixture {
        _home: home,
        _rt: rt,
        app,
    }
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    t
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

#[test]
fn the_diff_pane_lists_each_call_and_each_target_before_and_after() {
    let mut fx = fixture();
    fx.app.focus = Pane::Diff;
    fx.app.prompt_active = false;
    for (w, h) in SIZES {
        let t = render(&fx.app, w, h);
        let s = screen(&t);
        for want in [
            "ec2 TerminateInstances in eu-west-1",
            "i-0a1b2c3d4e5f60718  web-1  Env=prod  running → terminated",
            "i-0f9e8d7c6b5a40312  web-2  Env=prod  stopped → terminated",
        ] {
            assert!(s.contains(want), "{want} missing at {w}x{h}:\n{s}");
        }
        assert!(
            !s.contains("+0 -0"),
            "an AWS plan is not an empty diff:\n{s}"
        );
        insta::assert_snapshot!(format!("diff_aws_api_plan_{w}x{h}"), t.backend());
    }
}

#[test]
fn the_approve_overlay_lists_every_gate_the_targets_the_receipt_and_the_risk() {
    let mut fx = fixture();
    fx.app.focus = Pane::Approvals;
    fx.app.prompt_active = false;
    fx.app.update(Action::Approve);
    let Some(Overlay::Confirm(c)) = fx.app.overlays.last_mut() else {
        panic!("no confirmation: {:?}", fx.app.notice);
    };
    // The receipt as AWS would answer it (the job asking it is not waited for here).
    c.receipt = Some(Ok(ReceiptView {
        rows: vec![
            ("account", "123456789012 (acme-prod)".into()),
            ("region", "eu-west-1".into()),
            (
                "runner",
                "this process on bastion (local store), with this session's credentials".into(),
            ),
        ],
        unknown: vec![],
    }));
    for (w, h) in SIZES {
        let t = render(&fx.app, w, h);
        let s = screen(&t);
        for want in [
            "Approve p-term8prod2?",
            "CRITICAL",
            "change.production",
            "maintenance.none_configured",
            "i-0a1b2c3d4e5f60718",
            "i-0f9e8d7c6b5a40312",
            "123456789012 (acme-prod)",
            "TOTP code",
        ] {
            assert!(s.contains(want), "{want} missing at {w}x{h}:\n{s}");
        }
        insta::assert_snapshot!(format!("approve_overlay_aws_api_plan_{w}x{h}"), t.backend());
    }
}

#[test]
fn the_preview_follows_the_plan_selected_in_the_queue() {
    let mut fx = fixture();
    // Away from the queue and back: the preview shows the selected plan.
    fx.app.update(Action::FocusConversation);
    fx.app.preview.plan = None;
    fx.app.update(Action::FocusApprovals);
    assert_eq!(
        fx.app
            .preview
            .plan
            .as_ref()
            .map(|r| r.plan.plan_id.as_str()),
        Some(ID)
    );
    // Tall enough, the queue shows it under the list with its targets and gates.
    let s = screen(&render(&fx.app, 120, 40));
    assert!(s.contains("2 Preview"), "{s}");
    assert!(s.contains("running → terminated"), "{s}");
    assert!(s.contains("maintenance.none_configured"), "{s}");
}
