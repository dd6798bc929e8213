//! `opsdeck demo`: try every agent, an approval and an apply in a minute, without an AWS account.
//!
//! It starts a local AWS stand-in (moto, pinned by the same lock as the tests, plus demo answers
//! for the few calls moto lacks: [`STANDIN`]) on a free loopback port, seeds a demo account in it
//! through the agents' own SDK clients ([`seed`]), makes a `demo` tenant whose users are you
//! (admin and operator) and [`APPROVER`], and opens the console on it. A demo tenant reaches only
//! the stand-in, with demo credentials: [`endpoint`] is what every deck on it uses, and while the
//! stand-in is not running that is a closed loopback port, never AWS.

pub mod seed;

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::{Deck, OpenOptions};

/// The demo tenant's name.
pub const TENANT: &str = "demo";
/// The second person of the demo tenant, who approves what you ask for.
pub const APPROVER: &str = "demo-approver";
/// The stand-in's access key and secret: not a credential, and accepted by nothing but moto.
pub const CREDENTIAL: &str = "demo";
/// Where a demo deck points while no stand-in runs: a closed loopback port (calls fail at once).
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// The stand-in's program, written into the data directory at start.
pub const STANDIN: &str = include_str!("standin.py");
/// The same pinned Python packages as the tests (moto and its dependencies).
const LOCK: &str = include_str!("../../tests/python-requirements.lock");

/// A running stand-in, as recorded for other opsdeck processes on this home.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Running {
    pid: u32,
    port: u16,
    started_at: crate::time::Stamp,
}

fn demo_dir(data: &Path) -> PathBuf {
    data.join("demo")
}

fn running_file(data: &Path) -> PathBuf {
    demo_dir(data).join("standin.json")
}

fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    pid > 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

fn running(data: &Path) -> Option<Running> {
    let text = std::fs::read_to_string(running_file(data)).ok()?;
    let r: Running = serde_json::from_str(&text).ok()?;
    alive(r.pid).then_some(r)
}

/// The endpoint a demo tenant's deck uses: the running stand-in, else [`NOWHERE`].
pub fn endpoint(data: &Path) -> String {
    running(data)
        .map(|r| format!("http://127.0.0.1:{}", r.port))
        .unwrap_or_else(|| NOWHERE.to_string())
}

/// The environment Terraform and Ansible get in a demo tenant: every `AWS_*` variable of the
/// caller is dropped and these take their place.
pub fn tool_environment(endpoint: &str, region: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", CREDENTIAL),
        ("AWS_SECRET_ACCESS_KEY", CREDENTIAL),
        ("AWS_REGION", region),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The moto version the lock pins.
pub fn moto_pin() -> &'static str {
    LOCK.lines()
        .find_map(|l| l.trim().strip_prefix("moto"))
        .and_then(|rest| rest.split("==").nth(1))
        .map(|v| v.split_whitespace().next().unwrap_or(v))
        .unwrap_or("unknown")
}

/// What `opsdeck demo` was asked to do.
#[derive(Default)]
pub struct DemoOptions {
    pub open: OpenOptions,
    /// Install the stand-in's Python packages without asking.
    pub install: bool,
    /// Keep the stand-in running without opening the console (until Ctrl-C).
    pub serve: bool,
    /// Stop a stand-in another `opsdeck demo` left running.
    pub stop: bool,
}

/// What the demo set up: shown in the welcome, printed by `--serve --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Welcome {
    pub tenant: String,
    pub requester: String,
    pub approver: String,
    pub endpoint: String,
    pub seeded: seed::Seeded,
    /// The seven example requests, one per agent, that this account answers.
    pub examples: Vec<String>,
}

/// The seven example requests (one per agent) the demo account is seeded for.
pub fn examples() -> Vec<String> {
    vec![
        "Create 3 t3.medium instances in ap-south-1 with ALB".into(),
        "Install NGINX and enable SSL on dev servers".into(),
        "Restart EC2 instances tagged Env=staging".into(),
        "What is my daily EC2 spend in ap-south-1?".into(),
        "Scan all S3 buckets for public access".into(),
        format!("Show last 24h error logs from Lambda {}", seed::FUNCTION),
        format!(
            "Analyze sentiment of recent customer feedback in s3://{}/feedback/",
            seed::FEEDBACK_BUCKET
        ),
    ]
}

/// What the console shows first in a demo tenant (built here so every front end says the same).
pub fn intro_lines(deck: &Deck) -> Vec<String> {
    let t = &deck.tenant().name;
    let mut lines = vec![
        format!(
            "Demo tenant {t}: a local AWS stand-in ({}) with a seeded account; nothing here reaches AWS.",
            deck.aws_endpoint().unwrap_or(NOWHERE)
        ),
        "Try one request per agent (Enter submits):".to_string(),
    ];
    lines.extend(examples().into_iter().map(|e| format!("  {e}")));
    lines.push(format!(
        "Changes wait for {APPROVER}. In another terminal: `opsdeck --tenant {t} --user {APPROVER} approve PLAN --totp $(opsdeck --tenant {t} --user {APPROVER} totp --code-only)`, then `x` on the approved plan in the approvals pane (4) runs it (or `opsdeck --tenant {t} apply PLAN`)."
    ));
    lines.push(
        "Sentiment, key phrases and the bill are the stand-in's demo answers (a word list and a fixed bill), not AWS's."
            .to_string(),
    );
    lines
}

/// Runs `opsdeck demo`; returns the exit status.
pub fn run(opts: DemoOptions, json: bool) -> Result<u8> {
    let paths = crate::config::Paths::resolve(
        opts.open.home.as_deref(),
        opts.open.identity_dir.as_deref(),
    )?;
    if opts.stop {
        return stop(&paths.data, json);
    }
    if let Some(r) = running(&paths.data) {
        return Err(Error::refused(format!(
            "a demo stand-in is already running on 127.0.0.1:{} (pid {}): use it with `opsdeck --tenant {TENANT}`, or stop it with `opsdeck demo --stop`",
            r.port, r.pid
        )));
    }
    let python = python(&paths.data, opts.install)?;
    let standin = Standin::start(&python, &paths.data)?;
    let endpoint = standin.endpoint();
    let seeded = block_on(async {
        let conf = demo_sdk_config(&endpoint, seed::REGION).await;
        seed::seed(&conf, &endpoint).await
    })??;
    let deck = Deck::open_demo(&opts.open)?;
    let welcome = Welcome {
        tenant: deck.tenant().name.clone(),
        requester: deck.identity().user.clone(),
        approver: APPROVER.into(),
        endpoint: endpoint.clone(),
        seeded,
        examples: examples(),
    };
    drop(deck);
    if opts.serve {
        if json {
            println!(
                "{}",
                serde_json::to_string(&welcome)
                    .map_err(|e| Error::input(format!("cannot encode the welcome: {e}")))?
            );
        } else {
            for l in serve_lines(&welcome) {
                println!("{}", crate::sanitize::line(&l));
            }
        }
        let _ = std::io::stdout().flush();
        let mut standin = standin;
        wait_for_interrupt(&mut standin)?;
        return Ok(0);
    }
    let mut open = opts.open;
    open.tenant = Some(TENANT.into());
    let status = crate::tui::run(open);
    drop(standin);
    status
}

fn serve_lines(w: &Welcome) -> Vec<String> {
    let t = &w.tenant;
    let mut lines = vec![
        format!(
            "demo stand-in running at {} (moto {}); Ctrl-C stops it",
            w.endpoint,
            moto_pin()
        ),
        format!(
            "seeded: {} instances, {} buckets, {} security groups, {} IAM users, {} error events in {}, {} feedback documents",
            w.seeded.instances.len(),
            w.seeded.buckets.len(),
            w.seeded.security_groups.len(),
            w.seeded.iam_users.len(),
            w.seeded.error_events,
            w.seeded.log_group,
            w.seeded.feedback_documents
        ),
        format!(
            "tenant {t}: {} asks, {} approves (`opsdeck --tenant {t} --user {} totp` prints their code)",
            w.requester, w.approver, w.approver
        ),
        "try:".into(),
    ];
    lines.extend(
        w.examples
            .iter()
            .map(|e| format!("  opsdeck --tenant {t} ask \"{e}\"")),
    );
    lines
}

fn stop(data: &Path, json: bool) -> Result<u8> {
    let Some(r) = running(data) else {
        let _ = std::fs::remove_file(running_file(data));
        if json {
            println!("{}", serde_json::json!({"stopped": false}));
        } else {
            println!("no demo stand-in is running");
        }
        return Ok(0);
    };
    // SAFETY: SIGTERM to the stand-in's process group, which `Standin::start` made it lead.
    unsafe { libc::kill(-(r.pid as i32), libc::SIGTERM) };
    let _ = std::fs::remove_file(running_file(data));
    if json {
        println!("{}", serde_json::json!({"stopped": true, "pid": r.pid}));
    } else {
        println!("stopped the demo stand-in (pid {}, port {})", r.pid, r.port);
    }
    Ok(0)
}

/// The stand-in's Python: `OPSDECK_DEMO_PYTHON`, else the data directory's own venv, installed
/// from the lock with consent (`--install`, or a yes at the terminal).
fn python(data: &Path, install: bool) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("OPSDECK_DEMO_PYTHON") {
        let p = PathBuf::from(p);
        check_moto(&p)?;
        return Ok(p);
    }
    let venv = demo_dir(data).join("venv");
    let python = venv.join("bin").join("python");
    if python.exists() && check_moto(&python).is_ok() {
        return Ok(python);
    }
    let what = format!(
        "opsdeck demo runs moto {} (a local AWS stand-in, with its pinned dependencies: about 350 MB from PyPI) from {}",
        moto_pin(),
        venv.display()
    );
    let consent = install
        || {
            if !std::io::stdin().is_terminal() {
                return Err(Error::input(format!(
                    "{what}, which is not installed yet: run `opsdeck demo --install` to install it, or point OPSDECK_DEMO_PYTHON at a Python that has moto=={}",
                    moto_pin()
                )));
            }
            eprint!("{what}. Install it now? [y/N] ");
            let _ = std::io::stderr().flush();
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .map_err(|e| Error::io("reading your answer", e))?;
            matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
        };
    if !consent {
        return Err(Error::input(
            "nothing installed; `opsdeck demo --install` installs the stand-in later",
        ));
    }
    install_venv(&venv)?;
    check_moto(&python)?;
    Ok(python)
}

fn check_moto(python: &Path) -> Result<()> {
    let out = Command::new(python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {}", python.display()), e))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(Error::input(format!(
            "{} has no moto; `opsdeck demo --install` installs moto {} for the demo",
            python.display(),
            moto_pin()
        )));
    }
    if version != moto_pin() {
        return Err(Error::input(format!(
            "{} has moto {version}, the demo is made for moto {}; `opsdeck demo --install` installs it in the demo's own venv",
            python.display(),
            moto_pin()
        )));
    }
    Ok(())
}

fn install_venv(venv: &Path) -> Result<()> {
    let dir = venv
        .parent()
        .ok_or_else(|| Error::input("the demo venv has no parent directory"))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let _ = std::fs::remove_dir_all(venv);
    let lock = dir.join("requirements.lock");
    std::fs::write(&lock, LOCK).map_err(|e| Error::io(format!("writing {}", lock.display()), e))?;
    let step = |what: &str, cmd: &mut Command| -> Result<()> {
        eprintln!("· {what}");
        let status = cmd
            .stdin(Stdio::null())
            .status()
            .map_err(|e| Error::io(what.to_string(), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Unavailable(format!(
                "{what} failed ({status}); nothing else was changed"
            )))
        }
    };
    step(
        &format!("creating {}", venv.display()),
        Command::new("python3").arg("-m").arg("venv").arg(venv),
    )?;
    // --no-deps: the lock lists every dependency, pinned.
    step(
        "installing the pinned packages (pip)",
        Command::new(venv.join("bin").join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "-r",
            ])
            .arg(&lock),
    )
}

/// The stand-in process: stopped (and its record removed) when dropped.
struct Standin {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Standin {
    fn start(python: &Path, data: &Path) -> Result<Standin> {
        use std::os::unix::process::CommandExt;
        let dir = demo_dir(data);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let script = dir.join("standin.py");
        std::fs::write(&script, STANDIN)
            .map_err(|e| Error::io(format!("writing {}", script.display()), e))?;
        let port = free_port()?;
        let log_path = dir.join("standin.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
        let err = log
            .try_clone()
            .map_err(|e| Error::io("opening the stand-in's log", e))?;
        let child = Command::new(python)
            .arg(&script)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own process group: Ctrl-C in the console is the console's, not the stand-in's.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::io(format!("starting {}", python.display()), e))?;
        let mut standin = Standin {
            child,
            port,
            data: data.to_path_buf(),
        };
        standin.wait_ready(&log_path)?;
        let record = Running {
            pid: standin.child.id(),
            port,
            started_at: crate::time::Stamp::now(),
        };
        let file = running_file(data);
        std::fs::write(&file, serde_json::to_string(&record).unwrap_or_default())
            .map_err(|e| Error::io(format!("writing {}", file.display()), e))?;
        Ok(standin)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                return Err(Error::Unavailable(format!(
                    "the demo stand-in stopped at start ({status}); its log {} ends: {}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            if answers(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Unavailable(format!(
                    "the demo stand-in did not answer on 127.0.0.1:{} within 60 s; see {}",
                    self.port,
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(running_file(&self.data));
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("finding a free loopback port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free loopback port", e))
}

/// Whether moto answers its own API on the port.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /moto-api/data.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

async fn demo_sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    let target = crate::aws::Target {
        region: region.to_string(),
        endpoint_url: Some(endpoint.to_string()),
        timeout: Duration::from_secs(30),
        max_attempts: 1,
    };
    crate::aws::with_credentials(
        crate::aws::sdk_config(&target).await,
        CREDENTIAL,
        CREDENTIAL,
    )
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    Ok(rt.block_on(f))
}

/// Until Ctrl-C or SIGTERM (the stand-in is then stopped by its drop), or until the stand-in
/// itself ends (`opsdeck demo --stop` from another terminal).
fn wait_for_interrupt(standin: &mut Standin) -> Result<()> {
    block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term =
            signal(SignalKind::terminate()).map_err(|e| Error::io("waiting for a signal", e))?;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                _ = term.recv() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if let Ok(Some(status)) = standin.child.try_wait() {
                        eprintln!("the demo stand-in ended ({status})");
                        return Ok(());
                    }
                }
            }
        }
    })?
}
