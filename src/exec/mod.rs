//! Runners that change the world: real binaries in a per-plan workspace, with progress streamed
//! line by line, logs captured, and cancellation that lets the tool stop cleanly.
//!
//! `terraform.rs` plans (`plan -out`, `show -json`) and applies saved plans against a stack's
//! state; `ansible.rs` syntax-checks, dry-runs (`--check --diff`) and runs playbooks. Both start
//! their tool in its own process group, so a cancellation reaches the tool and everything it
//! started (providers, provisioners, Ansible workers) the way Ctrl-C in a terminal would.

pub mod ansible;
pub mod error;
pub mod sandbox;
pub mod terraform;

pub use error::ExecError;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;
use crate::redact::redact;

/// Finds an executable by name on PATH, or checks an explicit path.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.components().count() > 1 {
        return is_executable(p).then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub(crate) fn missing_tool(
    tool: &'static str,
    configured: &str,
    setting: &'static str,
    plan_id: &str,
) -> Error {
    ExecError::ToolMissing {
        tool,
        configured: configured.to_string(),
        setting,
        plan_id: plan_id.to_string(),
    }
    .into()
}

/// One command to run with its output streamed.
pub(crate) struct Run<'a> {
    pub bin: &'a Path,
    pub args: &'a [String],
    pub dir: &'a Path,
    pub env: &'a [(String, String)],
    /// The agent whose tool this is, for the progress events.
    pub agent: AgentKind,
    /// Forward each line to the sink (dry runs of a hybrid plan stay quiet but keep the log).
    pub stream: bool,
    /// What the tool may touch beyond its workspace.
    pub confinement: &'a sandbox::Confinement,
}

/// How a streamed command ended.
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub cancelled: bool,
    /// What the command printed, redacted, stdout and stderr interleaved as they came.
    pub output: String,
}

/// How a cancelled command is stopped: the signal its process group gets first, and how long
/// it has before SIGKILL.
#[derive(Debug, Clone, Copy)]
struct Stopping {
    signal: i32,
    kill_after: Duration,
}

/// Changes in the world (an apply): SIGINT, so Terraform stops safely, writes its state and
/// releases its lock, and Ansible finishes the task in flight; SIGKILL 30 s later.
const STOP_CHANGING: Stopping = Stopping {
    signal: libc::SIGINT,
    kill_after: Duration::from_secs(30),
};

/// Read-only runs (dry runs, drift checks, library checks; everything started through
/// [`block_on_until`]): SIGTERM (Terraform still releases its lock; ssh and the Ansible workers
/// end), SIGKILL 5 s later — nothing they leave half-done needs finishing.
const STOP_READING: Stopping = Stopping {
    signal: libc::SIGTERM,
    kill_after: Duration::from_secs(5),
};

tokio::task_local! {
    /// How the commands of the current read-only run are stopped (set by [`block_on_until`]).
    static STOPPING: Stopping;
}

/// Runs one command, forwarding each output line to `sink` (when `stream`) and collecting it.
/// On cancellation the command's process group gets SIGINT (Terraform then stops safely and
/// releases its state lock; Ansible finishes the task in flight and stops), and SIGKILL 30 s
/// later if it is still running; a read-only run ([`block_on_until`]) gets SIGTERM and SIGKILL
/// 5 s later.
pub(crate) async fn run_streaming(
    run: Run<'_>,
    sink: Sink<'_>,
    cancel: &mut watch::Receiver<bool>,
) -> Result<Exit> {
    let name = run
        .bin
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let (mut cmd, sandbox) = tool_command(run.bin, run.dir, run.env, run.confinement)?;
    let mut child = cmd
        .args(run.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| spawn_error(run.bin, e))?;
    let sandbox_note = sandbox.note.clone();
    // The child holds its own copy of the ruleset until exec; ours can go.
    drop(sandbox);
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let (Some(mut out), Some(mut err)) = (stdout, stderr) else {
        return Err(ExecError::NoOutput {
            tool: name.to_string(),
        }
        .into());
    };
    let pgid = child.id().map(|p| p as i32);
    let stopping = STOPPING.try_with(|s| *s).unwrap_or(STOP_CHANGING);
    let signal_name = if stopping.signal == libc::SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    };
    let mut output = format!("{sandbox_note}\n");
    let (mut out_done, mut err_done) = (false, false);
    let mut cancelled = *cancel.borrow();
    let mut cancel_closed = false;
    let mut kill_deadline: Option<tokio::time::Instant> = None;
    if cancelled {
        signal_group(pgid, stopping.signal);
        output.push_str(&format!(
            "opsdeck: cancellation requested, sent {signal_name}\n"
        ));
        kill_deadline = Some(tokio::time::Instant::now() + stopping.kill_after);
    }
    let emit = |line: &str, output: &mut String| {
        let line = redact(line);
        output.push_str(&line);
        output.push('\n');
        if run.stream {
            sink(AgentEvent::Output {
                agent: run.agent,
                line,
            });
        }
    };
    loop {
        let deadline = kill_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86400));
        tokio::select! {
            line = out.next_line(), if !out_done => match line {
                Ok(Some(l)) => emit(&l, &mut output),
                _ => out_done = true,
            },
            line = err.next_line(), if !err_done => match line {
                Ok(Some(l)) => emit(&l, &mut output),
                _ => err_done = true,
            },
            changed = cancel.changed(), if !cancelled && !cancel_closed => {
                if changed.is_err() {
                    // The canceller is gone: nobody can cancel any more.
                    cancel_closed = true;
                } else if *cancel.borrow() {
                    cancelled = true;
                    signal_group(pgid, stopping.signal);
                    output.push_str(&format!(
                        "opsdeck: cancellation requested, sent {signal_name}\n"
                    ));
                    kill_deadline = Some(tokio::time::Instant::now() + stopping.kill_after);
                }
            },
            _ = tokio::time::sleep_until(deadline), if kill_deadline.is_some() => {
                signal_group(pgid, libc::SIGKILL);
                let _ = child.start_kill();
                output.push_str(&format!(
                    "opsdeck: {name} did not stop within {} s, killed\n",
                    stopping.kill_after.as_secs()
                ));
                kill_deadline = None;
            },
            status = child.wait(), if out_done && err_done => {
                let status = status.map_err(|e| ExecError::io(format!("waiting for {name}"), e))?;
                return Ok(Exit { code: status.code(), cancelled, output });
            }
        }
    }
}

/// A tool's command: in the workspace, in a process group of its own (a cancellation reaches
/// the whole tree at once), owner-only files (state, plans, inventories and provider caches are
/// private like everything under the data dir), and confined by the filesystem sandbox. The
/// returned sandbox must live until the command is spawned.
pub(crate) fn tool_command(
    bin: &Path,
    dir: &Path,
    env: &[(String, String)],
    confinement: &sandbox::Confinement,
) -> Result<(Command, sandbox::Prepared)> {
    let prepared = sandbox::prepare(confinement, bin, dir)?;
    let ruleset = prepared.raw_fd();
    let mut cmd = Command::new(bin);
    // opsdeck's own settings (a TOTP code in OPSDECK_TOTP, the home's location) are not the
    // tool's business.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("OPSDECK_")
            || (confinement.aws_environment.is_some() && name_text.starts_with("AWS_"))
        {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .envs(sandbox::environment(dir)?)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .process_group(0);
    if let Some(aws) = &confinement.aws_environment {
        cmd.envs(aws.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    // SAFETY: umask, prctl and landlock_restrict_self are async-signal-safe system calls on the
    // child's own state; nothing here allocates.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(0o077);
            if let Some(fd) = ruleset {
                sandbox::apply_in_child(fd)?;
            }
            Ok(())
        });
    }
    Ok((cmd, prepared))
}

fn spawn_error(bin: &Path, e: std::io::Error) -> Error {
    ExecError::io(
        format!("starting {} in its filesystem sandbox", bin.display()),
        e,
    )
    .into()
}

fn signal_group(pgid: Option<i32>, sig: i32) {
    if let Some(pgid) = pgid {
        // SAFETY: kill(2) on the process group our own child leads, with a valid signal.
        unsafe { libc::kill(-pgid, sig) };
    }
}

/// Runs `fut` on a runtime of its own on this thread, cancelling it after `timeout`: dry runs
/// made while planning never hold a request forever. For the synchronous planning path (which
/// may itself run on any thread).
pub(crate) fn block_on_with_timeout<F, T>(
    timeout: Duration,
    fut: impl FnOnce(watch::Receiver<bool>) -> F,
) -> Result<T>
where
    F: std::future::Future<Output = T>,
{
    Ok(block_on_until(timeout, std::future::pending(), fut)?.out)
}

/// What [`block_on_until`] ran to.
pub(crate) struct Ran<T> {
    pub out: T,
    /// `stop` came before the work ended: it was cancelled on request, not by the timeout.
    pub stopped: bool,
}

/// [`block_on_with_timeout`], cancelling the run as well once `stop` resolves (a person
/// cancelled the request). Commands it runs are read-only: on either, their process group
/// gets SIGTERM and SIGKILL 5 s later.
pub(crate) fn block_on_until<F, T>(
    timeout: Duration,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    fut: impl FnOnce(watch::Receiver<bool>) -> F,
) -> Result<Ran<T>>
where
    F: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExecError::io("starting a runtime for the dry run", e))?;
    let (tx, rx) = watch::channel(false);
    let tx = std::sync::Arc::new(tx);
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fut = fut(rx);
    let out = rt.block_on(async {
        let timer = {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let _ = tx.send(true);
            })
        };
        let asked = {
            let (tx, stopped) = (tx.clone(), stopped.clone());
            tokio::spawn(async move {
                stop.await;
                stopped.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(true);
            })
        };
        let out = STOPPING.scope(STOP_READING, fut).await;
        timer.abort();
        asked.abort();
        out
    });
    Ok(Ran {
        out,
        stopped: stopped.load(std::sync::atomic::Ordering::SeqCst),
    })
}
