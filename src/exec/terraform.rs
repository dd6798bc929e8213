//! `terraform init → plan -out → apply` of a plan's artifacts against its stack's state.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use super::{Outcome, find_binary, missing_tool};
use crate::agents::{AgentEvent, Sink};
use crate::error::{Error, Result};
use crate::intent::AgentKind;
use crate::plan::TerraformOp;
use crate::redact::redact;

pub struct TerraformRun<'a> {
    pub binary: &'a str,
    pub plan_id: &'a str,
    pub workspace: &'a Path,
    pub state_file: &'a Path,
    pub operation: TerraformOp,
    /// Artifact (name, bytes) pairs written into the workspace.
    pub files: &'a [(String, Vec<u8>)],
}

pub async fn run(
    job: TerraformRun<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let Some(bin) = find_binary(job.binary) else {
        return Err(missing_tool(
            "Terraform",
            job.binary,
            "exec.terraform in config.toml or OPSDECK_TERRAFORM",
            job.plan_id,
        ));
    };
    // Start from a clean workspace holding exactly the approved files.
    if let Ok(entries) = std::fs::read_dir(job.workspace) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "tf" || x == "tfplan") {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    for (name, bytes) in job.files {
        if name.contains('/') || name.starts_with('.') {
            return Err(Error::input(format!("refusing artifact name {name}")));
        }
        crate::store::fsutil::write_atomic(&job.workspace.join(name), bytes)?;
    }

    let state = job.state_file.display().to_string();
    let mut plan_args = vec!["plan", "-input=false", "-no-color", "-out=opsdeck.tfplan"];
    if job.operation == TerraformOp::Destroy {
        plan_args.push("-destroy");
    }
    let backend = format!("-backend-config=path={state}");
    let phases: [(&str, Vec<&str>); 3] = [
        (
            "init",
            vec![
                "init",
                "-input=false",
                "-no-color",
                "-reconfigure",
                &backend,
            ],
        ),
        ("plan", plan_args),
        (
            "apply",
            vec!["apply", "-input=false", "-no-color", "opsdeck.tfplan"],
        ),
    ];
    let mut log = String::new();
    for (phase, args) in phases {
        sink(AgentEvent::Progress {
            agent: AgentKind::Infra,
            message: format!("terraform {phase}"),
        });
        log.push_str(&format!("$ terraform {}\n", args.join(" ")));
        let (code, cancelled) =
            run_streaming(&bin, &args, job.workspace, sink, &mut cancel, &mut log).await?;
        if cancelled || code != Some(0) {
            return Ok(Outcome {
                success: false,
                cancelled,
                exit_code: code,
                log,
                outputs: None,
            });
        }
    }
    let outputs = Command::new(&bin)
        .args(["output", "-json", "-no-color"])
        .current_dir(job.workspace)
        .envs(tf_env())
        .output()
        .await
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    Ok(Outcome {
        success: true,
        cancelled: false,
        exit_code: Some(0),
        log,
        outputs,
    })
}

fn tf_env() -> [(&'static str, &'static str); 3] {
    [
        ("TF_IN_AUTOMATION", "1"),
        ("TF_INPUT", "0"),
        ("CHECKPOINT_DISABLE", "1"),
    ]
}

/// Runs one command, forwarding each output line to `sink` and `log`. On cancellation the child
/// gets SIGINT (Terraform then stops safely and releases its lock), and SIGKILL 30 s later.
async fn run_streaming(
    bin: &Path,
    args: &[&str],
    dir: &Path,
    sink: Sink<'_>,
    cancel: &mut watch::Receiver<bool>,
    log: &mut String,
) -> Result<(Option<i32>, bool)> {
    let mut cmd = Command::new(bin);
    // State, plans and provider caches are owner-only, like everything else under the data dir.
    // SAFETY: umask is async-signal-safe and touches only the child's own state.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o077);
            Ok(())
        });
    }
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .envs(tf_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", bin.display()), e))?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let (Some(mut out), Some(mut err)) = (stdout, stderr) else {
        return Err(Error::Execution(
            "could not capture terraform output".into(),
        ));
    };
    let (mut out_done, mut err_done) = (false, false);
    let mut cancelled = false;
    let mut kill_deadline: Option<tokio::time::Instant> = None;
    loop {
        let deadline = kill_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + std::time::Duration::from_secs(86400));
        tokio::select! {
            line = out.next_line(), if !out_done => match line {
                Ok(Some(l)) => emit(&l, sink, log),
                _ => out_done = true,
            },
            line = err.next_line(), if !err_done => match line {
                Ok(Some(l)) => emit(&l, sink, log),
                _ => err_done = true,
            },
            changed = cancel.changed(), if !cancelled => {
                if changed.is_ok() && *cancel.borrow() {
                    cancelled = true;
                    if let Some(pid) = child.id() {
                        // SAFETY: kill(2) on our own child's pid with a valid signal number.
                        unsafe { libc::kill(pid as i32, libc::SIGINT) };
                    }
                    log.push_str("opsdeck: cancellation requested, sent SIGINT\n");
                    kill_deadline = Some(tokio::time::Instant::now() + std::time::Duration::from_secs(30));
                }
            },
            _ = tokio::time::sleep_until(deadline), if kill_deadline.is_some() => {
                let _ = child.start_kill();
                log.push_str("opsdeck: terraform did not stop within 30 s, killed\n");
                kill_deadline = None;
            },
            status = child.wait(), if out_done && err_done => {
                let status = status.map_err(|e| Error::io("waiting for terraform", e))?;
                return Ok((status.code(), cancelled));
            }
        }
    }
}

fn emit(line: &str, sink: Sink<'_>, log: &mut String) {
    let line = redact(line);
    log.push_str(&line);
    log.push('\n');
    sink(AgentEvent::Output {
        agent: AgentKind::Infra,
        line,
    });
}
