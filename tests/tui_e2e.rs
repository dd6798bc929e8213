//! The real binary in tmux: alice types a request and sees the preview and the plan, opens the
//! approvals pane; bob approves from his own console in another tmux session; alice's queue and
//! audit browser show it. With moto: bob reviews an ops plan (its instance ids and every gate)
//! before approving, and alice's conversation hears "approved by bob" and "rejected by bob:
//! <reason>" without her doing anything. Skipped (with the reason) when tmux is missing.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::time::Duration;

use common::moto::Moto;
use common::tmux::Tmux;
use common::{Home, code, enrol_cli};

/// Alice's or Bob's console on the shared home.
fn console(t: &Tmux, session: &str, home: &Home, user: &str) {
    console_with(t, session, home, user, &[]);
}

/// The same with more environment (moto's endpoint and test credentials).
fn console_with(t: &Tmux, session: &str, home: &Home, user: &str, more: &[(&str, String)]) {
    let mut env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", user.to_string()),
        ("TF_CLI_CONFIG_FILE", "/dev/null".to_string()),
        ("CHECKPOINT_DISABLE", "1".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
    ];
    env.extend(more.iter().cloned());
    t.start(session, (120, 40), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
}

fn plan_id(screen: &str) -> String {
    let re = regex::Regex::new(r"p-[a-z2-9]{10}").unwrap();
    re.find(screen)
        .expect("a plan id on screen")
        .as_str()
        .to_string()
}

#[test]
fn two_consoles_request_and_approve_in_tmux() {
    let Some(t) = Tmux::new("e2e") else {
        return;
    };
    let home = Home::new();
    let (_alice_secret, bob_secret) = enrol_cli(&home);
    console(&t, "alice", &home, "alice");
    t.wait("alice", "the console", |s| {
        s.contains("1 Conversation") && s.contains("│ alice · OS account │")
    });

    t.text(
        "alice",
        "Create 3 t3.medium instances in ap-south-1 with ALB in stack web-e2e",
    );
    t.wait("alice", "the live preview", |s| {
        s.contains("Understood as") && s.contains("instance_type = t3.medium")
    });
    t.keys("alice", &["Enter"]);
    let s = t.wait("alice", "the plan", |s| {
        s.contains("queued for approval") && s.contains("[PENDING]")
    });
    let id = plan_id(&s);

    t.keys("alice", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("alice", &["4"]);
    t.wait("alice", "the queue", |s| {
        s.contains("4 Approvals") && s.contains(&id) && s.contains("your own plan")
    });

    // Bob, in another tmux session of his own, approves it with his TOTP code.
    console(&t, "bob", &home, "bob");
    t.wait("bob", "bob's console", |s| {
        s.contains("│ bob · OS account │")
    });
    t.keys("bob", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("bob", &["4"]);
    t.wait("bob", "the plan in bob's queue", |s| s.contains(&id));
    t.keys("bob", &["a"]);
    t.wait("bob", "the confirmation", |s| {
        s.contains(&format!("Approve {id}?"))
    });
    t.text("bob", &code(&bob_secret, 0));
    t.keys("bob", &["Enter"]);
    t.wait("bob", "the approval", |s| {
        s.contains(&format!("{id} approved"))
    });

    // Alice's console picks it up from the shared store and shows it in the audit trail.
    t.wait("alice", "approved in alice's queue", |s| {
        s.contains(&id) && s.contains("approved")
    });
    t.keys("alice", &["5"]);
    let s = t.wait("alice", "bob's approval in the audit", |s| {
        s.lines()
            .any(|l| l.contains("bob") && l.contains("approved") && l.contains(&id))
    });
    assert!(s.contains("chain ✓"), "{s}");
    println!("{s}");
    t.keys("alice", &["q"]);
    t.keys("bob", &["C-c"]);
}

/// Generous: the console polls the store every 2 s; nothing here measures time.
const HEAR_BACK: Duration = Duration::from_secs(30);

#[test]
fn bob_reviews_an_ops_plan_and_alice_hears_back_in_tmux() {
    let Some(t) = Tmux::new("review") else {
        return;
    };
    let Some(moto) = Moto::get("bob_reviews_an_ops_plan") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = support::seed::fleet(&moto.endpoint, "us-east-1");
    let home = Home::new();
    let (_alice_secret, bob_secret) = enrol_cli(&home);
    let env = moto.env();
    console_with(&t, "alice", &home, "alice", &env);
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));

    // alice asks to terminate the production web servers: a critical AWS-API plan.
    t.text("alice", "terminate the instances tagged Role=web in prod");
    t.keys("alice", &["Enter"]);
    let s = t.wait_for("alice", "the plan", HEAR_BACK, |s| {
        s.contains("queued for approval") && s.contains("[PENDING]")
    });
    let id = plan_id(&s);

    // bob opens his queue: the preview follows the selected plan.
    console_with(&t, "bob", &home, "bob", &env);
    t.wait("bob", "bob's console", |s| {
        s.contains("│ bob · OS account │")
    });
    t.keys("bob", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("bob", &["4"]);
    t.wait("bob", "the plan in bob's queue and preview", |s| {
        s.contains(&id) && s.contains("2 Preview") && s.contains("change.production")
    });
    // The approve overlay: every gate with its reason, each instance id, the risk, the receipt.
    t.keys("bob", &["a"]);
    let s = t.wait_for("bob", "the review in the confirmation", HEAR_BACK, |s| {
        s.contains(&format!("Approve {id}?"))
            && fleet.prod_web.iter().all(|i| s.contains(i.as_str()))
            && s.contains("change.production")
            && s.contains("maintenance.none_configured")
            && s.contains("CRITICAL")
            && s.contains("  account  ")
    });
    println!("{s}");
    t.text("bob", &code(&bob_secret, 0));
    t.keys("bob", &["Enter"]);
    t.wait("bob", "the approval", |s| {
        s.contains(&format!("{id} approved"))
    });

    // alice, doing nothing, hears it in her conversation.
    t.wait_for("alice", "approved by bob", HEAR_BACK, |s| {
        s.contains(&format!("{id} approved by bob"))
    });

    // A second plan, rejected with a reason.
    t.text("alice", "restart the instances tagged Env=staging");
    t.keys("alice", &["Enter"]);
    // The preview's header line: `Plan p-… [PENDING]` of the new plan.
    let pending_other = |s: &str| {
        s.lines()
            .filter(|l| l.contains("[PENDING]"))
            .flat_map(|l| l.split_whitespace())
            .find(|w| w.starts_with("p-") && w.len() == 12 && *w != id)
            .map(str::to_string)
    };
    let s = t.wait_for("alice", "the second plan", HEAR_BACK, |s| {
        pending_other(s).is_some()
    });
    let id2 = pending_other(&s).unwrap();
    t.wait_for("bob", "the second plan in bob's queue", HEAR_BACK, |s| {
        s.contains(&id2)
    });
    t.keys("bob", &["g"]);
    t.keys("bob", &["r"]);
    t.wait("bob", "the rejection", |s| {
        s.contains(&format!("Reject {id2}?"))
    });
    t.text("bob", "not during the freeze");
    t.keys("bob", &["Enter"]);
    t.text("bob", &code(&bob_secret, 1));
    t.keys("bob", &["Enter"]);
    t.wait("bob", "the rejection done", |s| {
        s.contains(&format!("{id2} rejected"))
    });
    // In the conversation and in the status line.
    let s = t.wait_for("alice", "rejected by bob: reason", HEAR_BACK, |s| {
        s.matches(&format!("{id2} rejected by bob: not during the freeze"))
            .count()
            >= 2
    });
    println!("{s}");
    t.keys("alice", &["C-c"]);
    t.keys("bob", &["C-c"]);
}
