//! Signing through an SSH agent (issue 16, item 1: the private key stays with the person — in
//! their identity directory, or in an ssh-agent and the hardware token behind it). A real
//! `ssh-agent` on a socket in a temp dir; the real binary; the key file off the disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use common::{Home, enrol_cli};

const SPEC: &str = "create 3 t3.micro instances in Ohio";

/// An `ssh-agent` of the test's own, stopped when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// None (SKIP printed) when the machine has no OpenSSH agent.
    fn start() -> Option<Agent> {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = match Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIP: no ssh-agent here ({e})");
                return None;
            }
        };
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(socket.exists(), "ssh-agent made no socket");
        Some(Agent {
            child,
            socket,
            _dir: dir,
        })
    }

    fn ssh_add(&self, args: &[&str], key: Option<&Path>) {
        let mut c = Command::new("ssh-add");
        c.args(args).env("SSH_AUTH_SOCK", &self.socket);
        if let Some(k) = key {
            c.arg(k);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_approval_signed_in_the_agent_verifies_like_any_other_and_the_key_never_touches_disk() {
    let Some(agent) = Agent::start() else {
        return;
    };
    let home = Home::new();
    let (_alice, bob) = enrol_cli(&home);
    // bob's key goes into the agent, and its file away from this machine's identity dir.
    let key_file = home.identity_dir().join("keys").join("bob.key");
    agent.ssh_add(&[], Some(&key_file));
    let away = tempfile::tempdir().unwrap();
    std::fs::rename(&key_file, away.path().join("bob.key")).unwrap();

    let ask = || {
        let out = home
            .cmd()
            .args(["--user", "alice", "--json", "ask", SPEC])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        common::plan_id(&out.stdout)
    };
    let id = ask();
    // Without the agent there is nothing to sign with, and the refusal says where to look.
    let out = home
        .cmd()
        .args(["--user", "bob", "approve", &id, "--totp"])
        .arg(common::code(&bob, 0))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("SSH agent"), "{}", stderr(&out));

    let out = home
        .cmd()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["--user", "bob", "approve", &id, "--totp"])
        .arg(common::code(&bob, 1))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = home
        .cmd()
        .args(["--user", "alice", "audit", "verify", "--full"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = home
        .cmd()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["--user", "bob", "keys", "show"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("private key: in the SSH agent")
            && text.contains("registered in tenant default: yes"),
        "{text}"
    );
    assert!(
        !home.identity_dir().join("keys").join("bob.key").exists(),
        "nothing wrote the private key back"
    );

    // An agent that no longer holds the key: refused, naming the key.
    agent.ssh_add(&["-D"], None);
    let second = ask();
    let out = home
        .cmd()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args(["--user", "bob", "approve", &second, "--totp"])
        .arg(common::code(&bob, 2))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not hold bob's key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn keys_agent_makes_the_agents_key_yours_and_prints_the_line_to_register() {
    let Some(agent) = Agent::start() else {
        return;
    };
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let run_keygen = |name: &str, kind: &str| {
        let path = dir.path().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        path
    };
    let keys_agent = |extra: &[&str]| {
        home.cmd()
            .env("SSH_AUTH_SOCK", &agent.socket)
            .args(["--user", "carol", "--json", "keys", "agent"])
            .args(extra)
            .output()
            .unwrap()
    };
    // Only other algorithms in the agent: refused, saying why.
    agent.ssh_add(&["-q"], Some(&run_keygen("rsa", "rsa")));
    let out = keys_agent(&[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no Ed25519 key"), "{}", stderr(&out));

    let first = run_keygen("first", "ed25519");
    let second = run_keygen("second", "ed25519");
    agent.ssh_add(&["-q"], Some(&first));
    agent.ssh_add(&["-q"], Some(&second));
    let out = keys_agent(&[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--fingerprint"), "{}", stderr(&out));

    let public = std::fs::read_to_string(second.with_extension("pub")).unwrap();
    let line = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let fp = opsdeck::identity::PublicKeyLine::parse(&line)
        .unwrap()
        .fingerprint();
    let out = keys_agent(&["--fingerprint", &fp]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["public_key"], line.as_str());
    assert_eq!(v["fingerprint"], fp.as_str());
    let keys = home.identity_dir().join("keys");
    assert!(keys.join("carol.pub").exists());
    assert!(!keys.join("carol.key").exists());
    // A key file of carol's would win over the agent: adopting is refused then.
    std::fs::write(keys.join("carol.key"), "x").unwrap();
    let out = keys_agent(&["--fingerprint", &fp]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("carol.key exists"),
        "{}",
        stderr(&out)
    );
}
