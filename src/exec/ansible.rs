//! `ansible-playbook` in a per-plan workspace: `--syntax-check` and `--check --diff` while
//! planning, the real run after approval, with per-host results read from the PLAY RECAP.
//!
//! Every run gets its own `ansible.cfg` (host keys checked, no retry files, no colour) and its
//! own Ansible home inside the workspace, so nothing from the operator's `~/.ansible` or the
//! current directory changes what runs.

use std::path::Path;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::{ExecError, Exit, Run, run_streaming};
use crate::error::Result;
use crate::events::{AgentEvent, Outcome, Sink};
use crate::intent::AgentKind;
use crate::plan::HostResult;

/// What the check run printed.
pub const CHECK_OUTPUT: &str = "ansible-check.txt";

const ANSIBLE_CFG: &str = "[defaults]
host_key_checking = True
retry_files_enabled = False
nocolor = True
forks = 10
timeout = 15
interpreter_python = auto_silent
deprecation_warnings = False
gathering = smart

[ssh_connection]
pipelining = True
";

/// A workspace holding one playbook run's files.
pub struct Workspace<'a> {
    pub binary: &'a Path,
    pub dir: &'a Path,
    /// (name, bytes): the playbook, its inventory and anything they include.
    pub files: &'a [(String, Vec<u8>)],
    pub playbook: &'a str,
    pub inventory: &'a str,
    /// A YAML file among `files` of extra vars, passed as `--extra-vars @FILE`.
    pub extra_vars: Option<&'a str>,
    pub stream: bool,
    /// What Ansible may touch beyond the workspace (its filesystem sandbox).
    pub confinement: &'a super::sandbox::Confinement,
}

/// How a playbook run went.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub exit: Option<i32>,
    pub cancelled: bool,
    pub hosts: Vec<HostResult>,
    pub output: String,
}

impl RunResult {
    pub fn ok(&self) -> bool {
        self.exit == Some(0) && !self.cancelled
    }
}

impl Workspace<'_> {
    fn prepare(&self) -> Result<()> {
        crate::store::fsutil::ensure_private_dir(self.dir)?;
        for (name, bytes) in self.files {
            if name.starts_with('.') || name == "ansible.cfg" {
                return Err(ExecError::ArtifactName { name: name.clone() }.into());
            }
            if name.contains('/') {
                // Only a library role's files have a directory: roles/NAME/…, each part checked.
                if crate::library::role::check_placed_path(name).is_err() {
                    return Err(ExecError::ArtifactName { name: name.clone() }.into());
                }
                self.private_parents(name)?;
            }
            crate::store::fsutil::write_atomic(&self.dir.join(name), bytes)?;
        }
        let cfg = self.dir.join("ansible.cfg");
        Ok(crate::store::fsutil::write_atomic(
            &cfg,
            ANSIBLE_CFG.as_bytes(),
        )?)
    }

    /// The directories above a placed role file, made private inside the workspace; one that
    /// is there already must be a directory, not a symlink (what a run left behind).
    fn private_parents(&self, name: &str) -> Result<()> {
        let mut dir = self.dir.to_path_buf();
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(ExecError::ArtifactName {
                        name: name.to_string(),
                    }
                    .into());
                }
                Err(_) => crate::store::fsutil::ensure_private_dir(&dir)?,
            }
        }
        Ok(())
    }

    fn env(&self) -> Vec<(String, String)> {
        let home = self.dir.join(".ansible");
        vec![
            (
                "ANSIBLE_CONFIG".into(),
                self.dir.join("ansible.cfg").display().to_string(),
            ),
            ("ANSIBLE_HOME".into(), home.display().to_string()),
            (
                "ANSIBLE_LOCAL_TEMP".into(),
                home.join("tmp").display().to_string(),
            ),
            // Roles come from the workspace alone, never from the controller's role paths.
            (
                "ANSIBLE_ROLES_PATH".into(),
                self.dir.join("roles").display().to_string(),
            ),
            ("ANSIBLE_NOCOLOR".into(), "1".into()),
            ("ANSIBLE_FORCE_COLOR".into(), "0".into()),
            ("ANSIBLE_STDOUT_CALLBACK".into(), "default".into()),
            // Line by line, as it happens.
            ("PYTHONUNBUFFERED".into(), "1".into()),
        ]
    }

    async fn playbook(
        &self,
        extra: &[&str],
        sink: Sink<'_>,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<Exit> {
        let mut args: Vec<String> = vec!["-i".into(), self.inventory.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(vars) = self.extra_vars {
            // One argument: a file of typed values, never the values as words.
            args.push("--extra-vars".into());
            args.push(format!("@{vars}"));
        }
        args.push(self.playbook.into());
        let env = self.env();
        let mut exit = run_streaming(
            Run {
                bin: self.binary,
                args: &args,
                dir: self.dir,
                env: &env,
                agent: AgentKind::Config,
                stream: self.stream,
                confinement: self.confinement,
            },
            sink,
            cancel,
        )
        .await?;
        exit.output = format!("$ ansible-playbook {}\n{}", args.join(" "), exit.output);
        Ok(exit)
    }
}

/// Says a phase begins: `message` as progress, `phase` as what a watcher reports waiting for.
fn progress(sink: Sink<'_>, message: String, phase: &str) {
    sink(AgentEvent::Progress {
        agent: AgentKind::Config,
        message,
    });
    sink(AgentEvent::ToolPhase {
        agent: AgentKind::Config,
        phase: phase.to_string(),
    });
}

/// `ansible-playbook --syntax-check`: Ok(()) or the error Ansible printed.
pub async fn syntax_check(
    ws: &Workspace<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<std::result::Result<String, String>> {
    ws.prepare()?;
    progress(
        sink,
        format!("ansible-playbook --syntax-check {}", ws.playbook),
        "ansible-playbook --syntax-check",
    );
    let exit = ws.playbook(&["--syntax-check"], sink, &mut cancel).await?;
    Ok(if exit.code == Some(0) && !exit.cancelled {
        Ok(exit.output)
    } else if exit.cancelled {
        Err(ExecError::TimedOut {
            command: "the syntax check".into(),
        }
        .to_string())
    } else {
        Err(first_error(&exit.output))
    })
}

/// `ansible-playbook --check --diff`: what would change on each host, changing nothing.
pub async fn check(
    ws: &Workspace<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<RunResult> {
    ws.prepare()?;
    progress(
        sink,
        format!("ansible-playbook --check --diff {}", ws.playbook),
        "ansible-playbook --check",
    );
    let exit = ws
        .playbook(&["--check", "--diff"], sink, &mut cancel)
        .await?;
    Ok(RunResult {
        hosts: recap(&exit.output),
        exit: exit.code,
        cancelled: exit.cancelled,
        output: exit.output,
    })
}

/// The real run, after approval.
pub async fn run(
    ws: &Workspace<'_>,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    ws.prepare()?;
    progress(
        sink,
        format!("ansible-playbook {}", ws.playbook),
        "ansible-playbook",
    );
    let exit = ws.playbook(&["--diff"], sink, &mut cancel).await?;
    let hosts = recap(&exit.output);
    let mut log = exit.output;
    log.push_str(&format!("opsdeck: {}\n", describe_hosts(&hosts)));
    Ok(Outcome {
        success: exit.code == Some(0) && !exit.cancelled,
        cancelled: exit.cancelled,
        exit_code: exit.code,
        log,
        outputs: Some(json!({ "hosts": hosts_json(&hosts) })),
    })
}

/// Per-host counts from the PLAY RECAP lines
/// (`web1 : ok=3 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0`).
pub fn recap(output: &str) -> Vec<HostResult> {
    let mut hosts: Vec<HostResult> = Vec::new();
    let mut in_recap = false;
    for line in output.lines() {
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            hosts.clear();
            continue;
        }
        if !in_recap {
            continue;
        }
        let Some((host, counts)) = line.split_once(" : ") else {
            if line.trim().is_empty() {
                continue;
            }
            in_recap = false;
            continue;
        };
        let mut h = HostResult {
            host: host.trim().to_string(),
            ..HostResult::default()
        };
        for kv in counts.split_whitespace() {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v: u32 = v.parse().unwrap_or(0);
            match k {
                "ok" => h.ok = v,
                "changed" => h.changed = v,
                "unreachable" => h.unreachable = v,
                "failed" => h.failed = v,
                "skipped" => h.skipped = v,
                "rescued" => h.rescued = v,
                _ => {}
            }
        }
        hosts.push(h);
    }
    hosts
}

/// "3 hosts: 1 changed, 1 unchanged, 1 failed" (what `changed` means depends on the run: would
/// change in check mode).
pub fn describe_hosts(hosts: &[HostResult]) -> String {
    if hosts.is_empty() {
        return "no host results".into();
    }
    let failed = hosts.iter().filter(|h| h.failed > 0).count();
    let unreachable = hosts
        .iter()
        .filter(|h| h.unreachable > 0 && h.failed == 0)
        .count();
    let changed = hosts
        .iter()
        .filter(|h| h.changed > 0 && h.failed == 0 && h.unreachable == 0)
        .count();
    let unchanged = hosts.len() - failed - unreachable - changed;
    let mut parts = Vec::new();
    for (n, what) in [
        (changed, "changed"),
        (unchanged, "unchanged"),
        (failed, "failed"),
        (unreachable, "unreachable"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!(
        "{} host{}: {}",
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

pub fn hosts_json(hosts: &[HostResult]) -> Value {
    Value::Object(
        hosts
            .iter()
            .map(|h| {
                (
                    h.host.clone(),
                    json!({"ok": h.ok, "changed": h.changed, "failed": h.failed,
                           "unreachable": h.unreachable, "skipped": h.skipped, "rescued": h.rescued}),
                )
            })
            .collect(),
    )
}

/// The first `ERROR!`/`[ERROR]` message Ansible printed, in one line.
pub fn first_error(output: &str) -> String {
    let mut lines = output.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if let Some(rest) = t
            .strip_prefix("ERROR!")
            .or_else(|| t.strip_prefix("[ERROR]:"))
        {
            let mut msg = rest.trim().to_string();
            for more in lines.by_ref().take(4) {
                let m = more.trim();
                if m.is_empty() || m.starts_with('^') {
                    break;
                }
                msg.push(' ');
                msg.push_str(m);
            }
            return msg;
        }
    }
    output
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('$'))
        .unwrap_or("no output")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_roles_files_have_a_directory_in_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let confinement = super::super::sandbox::Confinement::default();
        let prepare = |files: &[(String, Vec<u8>)]| {
            Workspace {
                binary: Path::new("ansible-playbook"),
                dir: dir.path(),
                files,
                playbook: "opsdeck_role.yml",
                inventory: "inventory.yml",
                extra_vars: None,
                stream: false,
                confinement: &confinement,
            }
            .prepare()
        };
        let file = |name: &str| vec![(name.to_string(), b"[]\n".to_vec())];
        prepare(&file("roles/web/tasks/main.yml")).unwrap();
        assert!(dir.path().join("roles/web/tasks/main.yml").is_file());
        for bad in [
            "../x.yml",
            "roles/web/../../x.yml",
            "roles/../x/tasks/main.yml",
            "tasks/main.yml",
            "roles/web/.hidden/main.yml",
            "/etc/x.yml",
        ] {
            assert!(prepare(&file(bad)).is_err(), "{bad}");
        }
        // A directory a run left as a symlink is not written through.
        std::fs::create_dir_all(dir.path().join("roles/db")).unwrap();
        std::os::unix::fs::symlink("/tmp", dir.path().join("roles/db/tasks")).unwrap();
        assert!(prepare(&file("roles/db/tasks/main.yml")).is_err());
    }

    #[test]
    fn recap_lines_become_host_results() {
        let out = "PLAY [x] ***\n\nPLAY RECAP *********\nweb1                       : ok=3    changed=1    unreachable=0    failed=0    skipped=2    rescued=0    ignored=0   \n10.0.0.7                   : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0\n\n";
        let h = recap(out);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].host, "web1");
        assert_eq!((h[0].ok, h[0].changed, h[0].skipped), (3, 1, 2));
        assert_eq!(h[1].unreachable, 1);
        assert_eq!(describe_hosts(&h), "2 hosts: 1 changed, 1 unreachable");
    }
}
