//! The playbook for a task: which template, its values, the rollout (batches, the failure
//! threshold) and the risk with its reasons.

use serde_json::json;

use super::task::{Task, Tls, validate_package};
use crate::agents::{AgentRequest, DraftFile};
use crate::error::Result;
use crate::intent::Environment;
use crate::library::EntryKind;
use crate::library::builtin::{BuiltinRef, PLAY_HEADER, builtin_ref, render_builtin};
use crate::plan::{ArtifactKind, Risk};

/// A rendered playbook with its rollout.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub file: DraftFile,
    pub batch: Option<String>,
    pub max_fail_percentage: u8,
    /// "install nginx", "patch the OS (reboot where needed)".
    pub what: String,
    pub risk: Risk,
    pub risk_reasons: Vec<String>,
    /// The built-in versions it was rendered from: the play header and the task's template.
    pub builtins: Vec<BuiltinRef>,
}

/// Renders the playbook for a task, with its rollout and risk.
pub fn render_task(
    task: &Task,
    req: &AgentRequest<'_>,
    env: Option<Environment>,
) -> Result<Rendered> {
    let prod = env == Some(Environment::Prod);
    let mut risk = Risk::Medium;
    let mut reasons: Vec<String> = Vec::new();
    // Rollout: changes that restart what serves traffic go in batches and stop at the first
    // failed host; the rest go everywhere at once and stop on the first failure too.
    let (name, what, batch, extra): (&str, String, Option<&str>, serde_json::Value) = match task {
        Task::Packages { packages, state } => {
            if *state == "absent" {
                risk = Risk::High;
                reasons.push(format!("removes {}", packages.join(", ")));
            }
            let verb = match *state {
                "present" => "install",
                "latest" => "upgrade",
                _ => "remove",
            };
            (
                "packages",
                format!("{verb} {}", packages.join(", ")),
                None,
                json!({"packages": packages, "state": state}),
            )
        }
        Task::Service {
            name,
            enabled,
            state,
        } => {
            validate_package(name)?;
            if *state != "started" {
                reasons.push(format!("{state} service {name}"));
            }
            (
                "service",
                format!(
                    "service {name}: {state}, {} at boot",
                    if *enabled { "enabled" } else { "disabled" }
                ),
                Some("25%"),
                json!({"service": name, "enabled": enabled, "state": state}),
            )
        }
        Task::NginxTls { server_name, tls } => {
            let (self_signed, cert, key) = match tls {
                Tls::SelfSigned => {
                    reasons.push("self-signed certificate (development only)".into());
                    (true, String::new(), String::new())
                }
                Tls::Files { cert, key } => (false, cert.clone(), key.clone()),
            };
            (
                "nginx_tls",
                format!(
                    "NGINX with TLS ({})",
                    if self_signed {
                        "self-signed certificate".to_string()
                    } else {
                        format!("certificate {cert}")
                    }
                ),
                Some("25%"),
                json!({"server_name": server_name, "self_signed": self_signed,
                       "cert_path": cert, "key_path": key}),
            )
        }
        Task::Patch { reboot } => {
            risk = Risk::High;
            reasons.push("upgrades every package".into());
            if *reboot {
                reasons.push("reboots hosts that need it, one batch at a time".into());
            }
            (
                "patch",
                format!(
                    "patch the OS{}",
                    if *reboot {
                        " (reboot where needed)"
                    } else {
                        " (no reboot)"
                    }
                ),
                Some("25%"),
                json!({"reboot": reboot}),
            )
        }
        Task::Users {
            users,
            present,
            sudo,
        } => {
            if *sudo && *present {
                risk = Risk::High;
                reasons.push(format!("grants passwordless sudo to {}", users.join(", ")));
            }
            if !present {
                reasons.push(format!(
                    "removes user{} {} (home directories are kept)",
                    if users.len() == 1 { "" } else { "s" },
                    users.join(", ")
                ));
            }
            let list: Vec<serde_json::Value> = users
                .iter()
                .map(|u| json!({"name": u, "state": if *present {"present"} else {"absent"}, "sudo": *sudo && *present}))
                .collect();
            (
                "users",
                format!(
                    "{} user{} {}{}",
                    if *present { "add" } else { "remove" },
                    if users.len() == 1 { "" } else { "s" },
                    users.join(", "),
                    if *sudo && *present { " with sudo" } else { "" }
                ),
                None,
                json!({"users": list}),
            )
        }
        Task::SshHardening { sshd_config } => {
            risk = Risk::High;
            reasons.push(
                "turns off SSH password and root logins: users without a key lose SSH access"
                    .into(),
            );
            // The settings themselves are the catalogue's safety defaults (ssh_hardening).
            (
                "ssh_hardening",
                "harden SSH".to_string(),
                Some("25%"),
                json!({"sshd_config": sshd_config}),
            )
        }
        Task::CloudwatchAgent { log_group } => (
            "cloudwatch_agent",
            "install the CloudWatch agent".to_string(),
            None,
            json!({"log_group": log_group}),
        ),
    };
    if prod {
        risk = risk.raise();
        reasons.push("production".into());
    }
    let mut ctx = json!({
        "title": format!("opsdeck: {what}"),
        "request_id": req.request_id,
        "name": what,
        "serial": batch,
        "max_fail_percentage": 0,
    });
    if let (Some(o), Some(e)) = (ctx.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    // Through the built-in catalogue: its entry names the file, what it reads and the
    // defaults of what is not given here.
    let text = render_builtin(EntryKind::Ansible, name, &ctx)?;
    Ok(Rendered {
        file: DraftFile {
            name: format!("{name}.yml"),
            kind: ArtifactKind::Ansible,
            content: text.into_bytes(),
        },
        batch: batch.map(str::to_string),
        max_fail_percentage: 0,
        what,
        risk,
        risk_reasons: reasons,
        builtins: vec![
            builtin_ref(EntryKind::Ansible, PLAY_HEADER)?,
            builtin_ref(EntryKind::Ansible, name)?,
        ],
    })
}
