//! The real binary in tmux, as a person drives it: start a session, type, read the screen.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own (its socket), killed when dropped.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    /// A server named after the test and the process; None (with SKIP printed) without tmux.
    pub fn new(name: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("SKIP: tmux is not installed");
            return None;
        }
        Some(Tmux {
            socket: format!("opsdeck-{name}-{}", std::process::id()),
        })
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Starts `program args` in a new session of `width`×`height` with exactly `env` added.
    pub fn start(
        &self,
        session: &str,
        (width, height): (u16, u16),
        env: &[(&str, String)],
        program: &str,
        args: &[&str],
    ) {
        let (w, h) = (width.to_string(), height.to_string());
        let mut cmd = Command::new("tmux");
        cmd.arg("-L").arg(&self.socket).args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            &w,
            "-y",
            &h,
        ]);
        for (k, v) in env {
            cmd.arg("-e").arg(format!("{k}={v}"));
        }
        let status = cmd
            .arg(program)
            .args(args)
            .status()
            .expect("tmux new-session");
        assert!(status.success());
        self.run(&["set", "-s", "escape-time", "0"]);
    }

    pub fn screen(&self, session: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", session])
    }

    /// Polls the screen until `pred` holds, for at most `limit`; panics with the last screen.
    pub fn wait_for(
        &self,
        session: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let end = Instant::now() + limit;
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

    /// [`Tmux::wait_for`] with the usual 15 s.
    pub fn wait(&self, session: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for(session, what, Duration::from_secs(15), pred)
    }

    pub fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types `text` literally (no key names).
    pub fn text(&self, session: &str, text: &str) {
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
