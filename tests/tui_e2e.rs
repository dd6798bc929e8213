//! The real binary in tmux: alice types a request and sees the preview and the plan, opens the
//! approvals pane; bob approves from his own console in another tmux session; alice's queue and
//! audit browser show it. Skipped (with the reason) when tmux is missing.

mod common;

use std::time::Duration;

use common::tmux::Tmux;
use common::{Home, code, enrol_cli};

/// Alice's or Bob's console on the shared home.
fn console(t: &Tmux, session: &str, home: &Home, user: &str) {
    let env = [
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", user.to_string()),
        ("TF_CLI_CONFIG_FILE", "/dev/null".to_string()),
        ("CHECKPOINT_DISABLE", "1".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
    ];
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
