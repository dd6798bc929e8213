//! The real binary in tmux: alice types a request and sees the preview and the plan, opens the
//! approvals pane; bob approves from his own console in another tmux session; alice's queue and
//! audit browser show it. Skipped (with the reason) when tmux is missing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Home, code, enrol_cli};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn start(&self, session: &str, home: &Home, user: &str) {
        let bin = env!("CARGO_BIN_EXE_opsdeck");
        let home_env = format!("OPSDECK_HOME={}", home.path().display());
        let user_env = format!("USER={user}");
        let status = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "120",
                "-y",
                "40",
            ])
            .args([
                "-e",
                &home_env,
                "-e",
                &user_env,
                "-e",
                "TF_CLI_CONFIG_FILE=/dev/null",
            ])
            .args([
                "-e",
                "CHECKPOINT_DISABLE=1",
                "-e",
                "OPSDECK_USER=",
                "-e",
                "NO_COLOR=",
            ])
            .arg(bin)
            .status()
            .expect("tmux new-session");
        assert!(status.success());
        self.run(&["set", "-s", "escape-time", "0"]);
    }

    fn screen(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session])
    }

    /// Polls the screen until `pred` holds (bounded); panics with the last screen otherwise.
    fn wait(&self, session: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.screen(session);
            if pred(&s) {
                return s;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what} in {session}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn text(&self, session: &str, text: &str) {
        self.run(&["send-keys", "-t", session, "-l", text]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
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
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIP: tmux is not installed");
        return;
    }
    let home = Home::new();
    let (_alice_secret, bob_secret) = enrol_cli(&home);
    let t = Tmux {
        socket: format!("opsdeck-e2e-{}", std::process::id()),
    };
    t.start("alice", &home, "alice");
    t.wait("alice", "the console", |s| {
        s.contains("1 Conversation") && s.contains("user alice")
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
    t.start("bob", &home, "bob");
    t.wait("bob", "bob's console", |s| s.contains("user bob"));
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
