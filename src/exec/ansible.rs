//! `ansible-playbook` in a per-plan workspace: `--syntax-check` and `--check --diff` while
//! planning, the real run after approval, with per-host results read from the PLAY RECAP.
//!
//! Every run gets its own `ansible.cfg` (host keys checked, no retry files, no colour) and its
//! own Ansible home inside the workspace, so nothing from the operator's `~/.ansible` or the
//! current directory changes what runs.

use std::path::Path;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Exit, Run, run_streaming};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome, Sink};
use crate::intent::AgentKind;
use crate::plan::HostResult;

/// Artifact name of a generated inventory.
pub const INVENTORY: &str = "inventory.yml";
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
            if name.contains('/') || name.starts_with('.') || name == "ansible.cfg" {
                return Err(Error::input(format!("refusing artifact name {name}")));
            }
            crate::store::fsutil::write_atomic(&self.dir.join(name), bytes)?;
        }
        crate::store::fsutil::write_atomic(&self.dir.join("ansible.cfg"), ANSIBLE_CFG.as_bytes())
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

fn progress(sink: Sink<'_>, message: String) {
    sink(AgentEvent::Progress {
        agent: AgentKind::Config,
        message,
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
    );
    let exit = ws.playbook(&["--syntax-check"], sink, &mut cancel).await?;
    Ok(if exit.code == Some(0) && !exit.cancelled {
        Ok(exit.output)
    } else if exit.cancelled {
        Err("the syntax check did not finish in time".into())
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
    progress(sink, format!("ansible-playbook {}", ws.playbook));
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

/// One host of an inventory built by opsdeck.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Inventory name: the instance id, or the address when there is none.
    pub name: String,
    pub address: String,
    /// Host variables shown to reviewers (instance id, Name tag).
    pub vars: Vec<(String, String)>,
}

/// Addresses that are this machine: such hosts are reached with the local connection and the
/// Python that runs Ansible, as Ansible's own implicit localhost is.
pub fn is_loopback(address: &str) -> bool {
    address == "localhost"
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A host name or address Ansible can use, with nothing that could turn into YAML structure or
/// an option: letters, digits, `.`, `-`, `:` (IPv6) and `_`.
pub fn valid_address(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 253
        && !a.starts_with('-')
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
}

/// An inventory in YAML: every scalar quoted (JSON strings are YAML strings) and never evaluated by
/// Ansible as a template (see [`crate::plan::playbook::yaml_str`]).
pub fn render_inventory(comment: &str, hosts: &[Host]) -> String {
    let q = crate::plan::playbook::yaml_str;
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str("all:\n  hosts:\n");
    if hosts.is_empty() {
        out.truncate(out.len() - "  hosts:\n".len());
        out.push_str("  hosts: {}\n");
        return out;
    }
    for h in hosts {
        out.push_str(&format!(
            "    {}:\n",
            serde_json::Value::String(h.name.clone())
        ));
        out.push_str(&format!("      ansible_host: {}\n", q(&h.address)));
        if is_loopback(&h.address) {
            out.push_str("      ansible_connection: local\n");
            out.push_str("      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n");
        }
        for (k, v) in &h.vars {
            out.push_str(&format!("      {k}: {}\n", q(v)));
        }
    }
    out
}

/// Hosts from an earlier Terraform step's outputs (`terraform output -json`): the first output
/// named in `wanted` that holds a non-empty list (or a single string) of addresses.
pub fn hosts_from_outputs(outputs: &Value, wanted: &[String]) -> Result<(String, Vec<Host>)> {
    for name in wanted {
        let Some(v) = outputs.get(name).map(|o| o.get("value").unwrap_or(o)) else {
            continue;
        };
        let addrs: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let addrs: Vec<&str> = addrs.into_iter().filter(|a| !a.is_empty()).collect();
        if addrs.is_empty() {
            continue;
        }
        if let Some(bad) = addrs.iter().find(|a| !valid_address(a)) {
            return Err(Error::Execution(format!(
                "output {name} holds '{bad}', which is not a host name or address"
            )));
        }
        let ids: Vec<&str> = outputs
            .get("instance_ids")
            .and_then(|o| o.get("value"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let hosts = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| match ids.get(i).filter(|id| valid_address(id)) {
                Some(id) => Host {
                    name: id.to_string(),
                    address: a.to_string(),
                    vars: vec![("ec2_instance_id".into(), id.to_string())],
                },
                None => Host {
                    name: a.to_string(),
                    address: a.to_string(),
                    vars: Vec::new(),
                },
            })
            .collect();
        return Ok((name.clone(), hosts));
    }
    let have: Vec<&String> = outputs
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    Err(Error::Execution(format!(
        "no host addresses in the Terraform outputs: looked for {} (non-empty), the stack has {}",
        wanted.join(", "),
        if have.is_empty() {
            "no outputs".to_string()
        } else {
            have.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn inventory_values_are_quoted_and_never_templated() {
        let inv = render_inventory(
            "hosts of plan p-1",
            &[
                Host {
                    name: "i-0abc".into(),
                    address: "10.0.0.5".into(),
                    vars: vec![("ec2_name".into(), "{{ lookup('pipe','id') }}".into())],
                },
                Host {
                    name: "127.0.0.1".into(),
                    address: "127.0.0.1".into(),
                    vars: vec![],
                },
            ],
        );
        assert!(
            inv.contains("ec2_name: !unsafe \"{{ lookup('pipe','id') }}\""),
            "{inv}"
        );
        assert!(inv.contains("ansible_host: \"10.0.0.5\""), "{inv}");
        assert!(inv.contains("ansible_connection: local"), "{inv}");
        assert!(!valid_address("-oProxyCommand=x"));
        assert!(!valid_address("a b"));
        assert!(valid_address("fe80::1"));
    }

    #[test]
    fn hosts_come_from_the_first_non_empty_output() {
        let outputs = serde_json::json!({
            "public_ips": {"value": ["", ""]},
            "private_ips": {"value": ["10.0.1.4", "10.0.1.5"]},
            "instance_ids": {"value": ["i-1", "i-2"]}
        });
        let wanted = vec!["public_ips".to_string(), "private_ips".to_string()];
        let (from, hosts) = hosts_from_outputs(&outputs, &wanted).unwrap();
        assert_eq!(from, "private_ips");
        assert_eq!(hosts[1].name, "i-2");
        assert_eq!(hosts[1].address, "10.0.1.5");
        let err = hosts_from_outputs(&serde_json::json!({"x": {"value": 1}}), &wanted)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the stack has x"), "{err}");
    }
}
