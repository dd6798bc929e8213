//! The config agent: Ansible. Renders a playbook from `templates/ansible/` for what the request
//! asks (install, upgrade or remove packages; a service; NGINX with TLS; OS patching with a
//! reboot where needed; users and sudo; SSH hardening; the CloudWatch agent) and resolves the
//! hosts it runs on while planning: EC2 instances by tag or environment (DescribeInstances), or
//! an inventory given with `--inventory`. For a hybrid request ("3 instances with nginx") it
//! adds the Ansible step to the infra agent's plan, on the hosts the Terraform step creates.
//!
//! The inventory is an artifact of the plan, so an approval covers exactly those hosts; the
//! rollout (batches, the failure threshold) is in the playbook and in the step.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_ec2::types::Filter;
use minijinja::Value;
use serde_json::json;

use super::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;
use crate::plan::inventory::{self, Host, INVENTORY};
use crate::plan::playbook::render;
use crate::plan::{ArtifactKind, CostEstimate, Inventory, Risk, Step, StepKind};

/// Hosts one plan may configure; more is several plans (or an inventory given by hand).
pub const MAX_HOSTS: usize = 500;
/// Terraform outputs a hybrid plan looks in for the hosts it created, in order.
pub const HOST_OUTPUTS: &[&str] = &["ansible_hosts", "public_ips", "private_ips"];
/// Tag keys that carry an environment, compared case-insensitively.
const ENV_TAG_KEYS: &[&str] = &["env", "environment", "stage"];
/// The largest inventory file accepted with `--inventory`.
const MAX_INVENTORY_BYTES: u64 = 1024 * 1024;

/// What a request asks to configure.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Packages {
        packages: Vec<String>,
        /// `present`, `latest` or `absent`.
        state: &'static str,
    },
    Service {
        name: String,
        enabled: bool,
        /// `started`, `stopped`, `restarted` or `reloaded`.
        state: &'static str,
    },
    NginxTls {
        server_name: String,
        tls: Tls,
    },
    Patch {
        reboot: bool,
    },
    Users {
        users: Vec<String>,
        present: bool,
        sudo: bool,
    },
    SshHardening {
        sshd_config: String,
    },
    CloudwatchAgent {
        log_group: String,
    },
}

/// Where NGINX's certificate comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Tls {
    /// Made on each host (development only).
    SelfSigned,
    /// Already on each host at these paths.
    Files { cert: String, key: String },
}

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
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let i = req.intent;
    let task = task_of(req)?;
    let region = i
        .param_str("region")
        .unwrap_or(&req.tenant.default_region)
        .to_string();
    let (inventory, targets) = match i.param_str("inventory") {
        Some(path) => given_inventory(Path::new(path))?,
        None => {
            let sel = Selector::from(req);
            if sel.is_empty() {
                return Err(Error::input(
                    "say which hosts to configure: e.g. \"on instances tagged Env=staging\", \"on env=dev\", instance ids, or give an inventory with --inventory FILE",
                ));
            }
            sink(AgentEvent::Progress {
                agent: AgentKind::Config,
                message: format!("finding EC2 instances {} in {region}", sel.describe()),
            });
            let hosts = ec2_hosts(req, &region, &sel)?;
            if hosts.is_empty() {
                return Err(Error::not_found(
                    "running EC2 instances",
                    sel.describe(),
                    format!(
                        "in {region} for tenant {}; check the tags and the region, or give an inventory with --inventory FILE",
                        req.tenant.name
                    ),
                ));
            }
            let comment = format!(
                "Hosts for request {}: running EC2 instances in {region} {} ({} found while planning).\nThe approval covers exactly these hosts.",
                req.request_id,
                sel.describe(),
                hosts.len()
            );
            let text = inventory::render_inventory(&comment, &hosts);
            let n = hosts.len();
            (
                DraftFile {
                    name: INVENTORY.into(),
                    kind: ArtifactKind::Ansible,
                    content: text.into_bytes(),
                },
                format!(
                    "{n} host{} {}",
                    if n == 1 { "" } else { "s" },
                    sel.describe()
                ),
            )
        }
    };
    let env = i.param_str("environment");
    let rendered = render_task(&task, req, env)?;
    sink(AgentEvent::Progress {
        agent: AgentKind::Config,
        message: format!("rendered {} for {targets}", rendered.file.name),
    });
    let summary = format!("{} on {targets}", rendered.what);
    let step = Step {
        description: format!("ansible-playbook {} on {targets}", rendered.file.name),
        mutates: true,
        kind: StepKind::Ansible {
            playbook: rendered.file.name.clone(),
            inventory: Inventory::File {
                name: inventory.name.clone(),
            },
            batch: rendered.batch.clone(),
            max_fail_percentage: rendered.max_fail_percentage,
        },
    };
    Ok(Draft {
        summary,
        stack: None,
        region: Some(region),
        steps: vec![step],
        files: vec![rendered.file, inventory],
        resources: Vec::new(),
        mutates: true,
        risk: rendered.risk,
        risk_reasons: rendered.risk_reasons,
        cost: no_cost(),
    })
}

/// A hybrid request: the infra agent's plan, then this agent's playbook on the hosts its
/// Terraform creates (read from the step's outputs at apply time).
pub fn extend(req: &AgentRequest<'_>, mut draft: Draft, sink: Sink<'_>) -> Result<Draft> {
    let task = task_of(req)?;
    let rendered = render_task(&task, req, req.intent.param_str("environment"))?;
    let Some(tf_step) = draft
        .steps
        .iter()
        .position(|s| matches!(s.kind, StepKind::Terraform { .. }))
    else {
        return Err(Error::input(
            "a configuration step needs a Terraform step before it to create its hosts",
        ));
    };
    sink(AgentEvent::Progress {
        agent: AgentKind::Config,
        message: format!(
            "rendered {}: runs on the instances step {} creates",
            rendered.file.name,
            tf_step + 1
        ),
    });
    draft.steps.push(Step {
        description: format!(
            "ansible-playbook {} on the instances of step {}",
            rendered.file.name,
            tf_step + 1
        ),
        mutates: true,
        kind: StepKind::Ansible {
            playbook: rendered.file.name.clone(),
            inventory: Inventory::StepOutputs {
                step: tf_step + 1,
                outputs: HOST_OUTPUTS.iter().map(|s| s.to_string()).collect(),
            },
            batch: rendered.batch.clone(),
            max_fail_percentage: rendered.max_fail_percentage,
        },
    });
    draft.summary = format!("{}; then {} on them", draft.summary, rendered.what);
    if rendered.risk > draft.risk {
        draft.risk = rendered.risk;
    }
    draft.risk_reasons.extend(rendered.risk_reasons);
    draft.files.push(rendered.file);
    Ok(draft)
}

/// A hand-written playbook (one file) submitted for review: on the hosts of `inventory`, or on
/// the hosts an earlier Terraform step creates when `after_step` is given.
pub fn from_playbook(
    playbook: &Path,
    inventory: Option<&Path>,
    after_step: Option<usize>,
) -> Result<(Vec<DraftFile>, Step)> {
    let name = playbook
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if !(name.ends_with(".yml") || name.ends_with(".yaml"))
        || name.starts_with('.')
        || name == "ansible.cfg"
    {
        return Err(Error::input(format!(
            "{} is not a playbook: give one .yml or .yaml file",
            playbook.display()
        )));
    }
    let content = read_limited(playbook, "playbook")?;
    let mut files = vec![DraftFile {
        name: name.clone(),
        kind: ArtifactKind::Ansible,
        content,
    }];
    let inventory_kind = match (inventory, after_step) {
        (Some(path), None) => {
            let (file, _) = given_inventory(path)?;
            if file.name == name {
                return Err(Error::input(
                    "the playbook and the inventory need different file names",
                ));
            }
            let inv = Inventory::File {
                name: file.name.clone(),
            };
            files.push(file);
            inv
        }
        (None, Some(step)) => Inventory::StepOutputs {
            step,
            outputs: HOST_OUTPUTS.iter().map(|s| s.to_string()).collect(),
        },
        (Some(_), Some(_)) => {
            return Err(Error::input(
                "the hosts come from the Terraform step's outputs; leave out --inventory",
            ));
        }
        (None, None) => {
            return Err(Error::input(
                "say where the playbook runs: --inventory FILE (or submit it with a Terraform directory that creates the hosts)",
            ));
        }
    };
    let description = match &inventory_kind {
        Inventory::File { name: inv } => format!("ansible-playbook {name} on the hosts in {inv}"),
        Inventory::StepOutputs { step, .. } => {
            format!("ansible-playbook {name} on the hosts of step {step}")
        }
    };
    Ok((
        files,
        Step {
            description,
            mutates: true,
            kind: StepKind::Ansible {
                playbook: name,
                inventory: inventory_kind,
                batch: None,
                max_fail_percentage: 0,
            },
        },
    ))
}

fn read_limited(path: &Path, what: &str) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::io(format!("reading {what} {}", path.display()), e))?;
    if !meta.is_file() || meta.len() > MAX_INVENTORY_BYTES {
        return Err(Error::input(format!(
            "{what} {} must be a file of at most 1 MiB",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| Error::io(format!("reading {what} {}", path.display()), e))
}

/// An inventory given by hand: kept as it is (YAML or INI, by its extension), as an artifact.
fn given_inventory(path: &Path) -> Result<(DraftFile, String)> {
    let content = read_limited(path, "inventory")?;
    if std::str::from_utf8(&content).is_err() {
        return Err(Error::input(format!(
            "inventory {} is not text",
            path.display()
        )));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let name = match ext {
        "yml" | "yaml" => "inventory.yml",
        "json" => "inventory.json",
        _ => "inventory.ini",
    };
    Ok((
        DraftFile {
            name: name.into(),
            kind: ArtifactKind::Ansible,
            content,
        },
        format!(
            "the hosts in {}",
            path.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        ),
    ))
}

fn no_cost() -> CostEstimate {
    CostEstimate {
        notes: vec!["configuration changes add no AWS charges by themselves".into()],
        ..CostEstimate::default()
    }
}

/// Words of the request and what the parser took them to mean.
struct Words<'a> {
    text: String,
    meanings: Vec<&'a str>,
}

impl<'a> Words<'a> {
    fn of(req: &'a AgentRequest<'_>) -> Words<'a> {
        Words {
            text: req.text.to_lowercase(),
            meanings: req
                .intent
                .evidence
                .iter()
                .flat_map(|e| e.meaning.split(", "))
                .collect(),
        }
    }

    fn noun(&self, n: &str) -> bool {
        self.meanings.iter().any(|m| *m == format!("noun:{n}"))
    }

    fn says(&self, w: &str) -> bool {
        self.text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .any(|t| t == w)
    }

    fn phrase(&self, p: &str) -> bool {
        self.text.contains(p)
    }
}

/// What the request asks to configure, from its action, packages and topics.
pub fn task_of(req: &AgentRequest<'_>) -> Result<Task> {
    let i = req.intent;
    let w = Words::of(req);
    let packages: Vec<String> = i.param_list("packages");
    for p in &packages {
        validate_package(p)?;
    }
    let action = i.action.as_str();
    let tls = w.noun("tls");
    let users = w.noun("users") && packages.is_empty();
    let has = |p: &str| packages.iter().any(|x| x == p);
    let task = match action {
        "harden" => Task::SshHardening {
            sshd_config: "/etc/ssh/sshd_config".into(),
        },
        "patch" => Task::Patch {
            reboot: !(w.phrase("no reboot")
                || w.phrase("without reboot")
                || w.phrase("without a reboot")
                || w.phrase("don't reboot")
                || w.phrase("do not reboot")),
        },
        _ if users => Task::Users {
            users: user_names(&w.text)?,
            present: action != "remove",
            sudo: w.says("sudo") || w.says("sudoers") || w.says("admin"),
        },
        "install" | "configure" | "create" if has("amazon-cloudwatch-agent") => {
            Task::CloudwatchAgent {
                log_group: format!(
                    "/opsdeck/{}/{}/system",
                    req.tenant.name,
                    i.param_str("environment").unwrap_or("hosts")
                ),
            }
        }
        "install" | "configure" | "create" if tls && (packages.is_empty() || has("nginx")) => {
            Task::NginxTls {
                server_name: server_name(&w.text)?,
                tls: tls_source(&w, i.param_str("environment"))?,
            }
        }
        "install" | "create" if !packages.is_empty() => Task::Packages {
            packages,
            state: "present",
        },
        "upgrade" if !packages.is_empty() => Task::Packages {
            packages,
            state: "latest",
        },
        "remove" if !packages.is_empty() => Task::Packages {
            packages,
            state: "absent",
        },
        "configure" if packages.len() == 1 => {
            let stop = w.says("stop") || w.says("disable");
            Task::Service {
                name: packages[0].clone(),
                enabled: !w.says("disable"),
                state: if w.says("restart") {
                    "restarted"
                } else if w.says("reload") {
                    "reloaded"
                } else if stop {
                    "stopped"
                } else {
                    "started"
                },
            }
        }
        _ => {
            return Err(Error::Unavailable(format!(
                "the config agent cannot {action} {}: it installs, upgrades and removes packages, enables services, sets up NGINX with TLS, patches the OS, manages users and sudo, hardens SSH and installs the CloudWatch agent",
                if packages.is_empty() {
                    "that".to_string()
                } else {
                    packages.join(", ")
                }
            )));
        }
    };
    Ok(task)
}

/// Renders the playbook for a task, with its rollout and risk.
pub fn render_task(task: &Task, req: &AgentRequest<'_>, env: Option<&str>) -> Result<Rendered> {
    let prod = env == Some("prod");
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
                       "cert_path": cert, "key_path": key, "days": 365}),
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
                json!({"reboot": reboot, "reboot_timeout": 900}),
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
                json!({"users": list, "shell": "/bin/bash"}),
            )
        }
        Task::SshHardening { sshd_config } => {
            risk = Risk::High;
            reasons.push(
                "turns off SSH password and root logins: users without a key lose SSH access"
                    .into(),
            );
            let settings = [
                ("PermitRootLogin", "no"),
                ("PasswordAuthentication", "no"),
                ("KbdInteractiveAuthentication", "no"),
                ("PermitEmptyPasswords", "no"),
                ("X11Forwarding", "no"),
                ("MaxAuthTries", "3"),
                ("ClientAliveInterval", "300"),
                ("ClientAliveCountMax", "2"),
            ];
            (
                "ssh_hardening",
                "harden SSH".to_string(),
                Some("25%"),
                json!({"sshd_config": sshd_config,
                       "settings": settings.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()}),
            )
        }
        Task::CloudwatchAgent { log_group } => (
            "cloudwatch_agent",
            "install the CloudWatch agent".to_string(),
            None,
            json!({"namespace": "CWAgent", "interval": 60, "log_group": log_group,
                   "log_files": ["/var/log/messages", "/var/log/syslog"]}),
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
    let text = render(
        &format!("ansible/{name}.yml.j2"),
        &Value::from_serialize(&ctx),
    )?;
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
    })
}

/// Package and service names as package managers accept them, and nothing else.
pub fn validate_package(p: &str) -> Result<()> {
    let ok = !p.is_empty()
        && p.len() <= 128
        && p.as_bytes()[0].is_ascii_alphanumeric()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "'{p}' is not a package or service name: letters, digits and . _ + - @, starting with a letter or digit"
        )))
    }
}

/// Local user names: lower-case POSIX names that are not system accounts.
pub fn validate_user(u: &str) -> Result<()> {
    let ok = (1..=32).contains(&u.len())
        && (u.as_bytes()[0].is_ascii_lowercase() || u.as_bytes()[0] == b'_')
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::input(format!(
            "'{u}' is not a user name: 1-32 lower-case letters, digits, _ and -, starting with a letter"
        )));
    }
    if matches!(
        u,
        "root" | "daemon" | "bin" | "sys" | "sync" | "nobody" | "sshd" | "ec2-user" | "ubuntu"
    ) {
        return Err(Error::refused(format!(
            "user {u} is a system or image account; opsdeck does not manage it"
        )));
    }
    Ok(())
}

/// The names after "user"/"users"/"account(s)": "add users alice, bob and carol".
fn user_names(text: &str) -> Result<Vec<String>> {
    const STOP: &[&str] = &[
        "with",
        "on",
        "to",
        "from",
        "in",
        "at",
        "for",
        "as",
        "who",
        "that",
        "having",
        "having",
        "sudo",
        "access",
        "rights",
        "privileges",
        "and",
        "the",
        "a",
        "an",
        "named",
        "called",
    ];
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut names = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if !matches!(*w, "user" | "users" | "account" | "accounts") {
            continue;
        }
        for next in &words[i + 1..] {
            let n = next.trim_matches(|c: char| c == '"' || c == '\'' || c == '.');
            if matches!(n, "named" | "called" | "and") {
                continue;
            }
            if STOP.contains(&n) || n.contains('=') {
                break;
            }
            validate_user(n)?;
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        }
        if !names.is_empty() {
            break;
        }
    }
    if names.is_empty() {
        return Err(Error::input(
            "say which user, e.g. \"add user deploy with sudo on env=dev\" or \"remove user olduser from the staging servers\"",
        ));
    }
    Ok(names)
}

/// A domain named in the request ("for app.example.com"), or `_` (any name).
fn server_name(text: &str) -> Result<String> {
    for w in text.split_whitespace() {
        let w = w.trim_matches(|c: char| matches!(c, ',' | '"' | '\'' | '(' | ')'));
        let w = w.trim_end_matches('.');
        let looks_like_domain = w.contains('.')
            && !w.starts_with('/')
            && !w.contains('=')
            && w.parse::<std::net::IpAddr>().is_err()
            && w.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && w.rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
            && !is_instance_type(w);
        if looks_like_domain {
            return Ok(w.to_string());
        }
    }
    Ok("_".into())
}

fn is_instance_type(w: &str) -> bool {
    w.split_once('.').is_some_and(|(family, size)| {
        family.len() <= 5
            && (size.ends_with("large")
                || matches!(size, "nano" | "micro" | "small" | "medium" | "metal"))
    })
}

/// Certificate paths on the hosts, or a self-signed certificate where that is acceptable.
fn tls_source(w: &Words<'_>, env: Option<&str>) -> Result<Tls> {
    let mut cert = None;
    let mut key = None;
    for word in w.text.split_whitespace() {
        let p = word.trim_matches(|c: char| matches!(c, ',' | '"' | '\'' | '(' | ')'));
        if !p.starts_with('/') {
            continue;
        }
        if !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
            || p.contains("/../")
        {
            return Err(Error::input(format!(
                "'{p}' is not a plain absolute path (letters, digits, / . _ -)"
            )));
        }
        if p.ends_with(".key") {
            key = Some(p.to_string());
        } else if [".crt", ".pem", ".cer", ".cert"]
            .iter()
            .any(|e| p.ends_with(e))
        {
            cert = Some(p.to_string());
        }
    }
    let self_signed = w.phrase("self-signed") || w.phrase("self signed") || w.phrase("selfsigned");
    match (cert, key) {
        (Some(cert), Some(key)) if !self_signed => Ok(Tls::Files { cert, key }),
        (Some(_), None) | (None, Some(_)) if !self_signed => Err(Error::input(
            "give both the certificate and the key path on the hosts, e.g. \"using certificate /etc/pki/tls/certs/web.crt and key /etc/pki/tls/private/web.key\"",
        )),
        _ => {
            let dev = matches!(env, Some("dev" | "test" | "sandbox" | "qa"));
            if dev || (self_signed && env != Some("prod")) {
                Ok(Tls::SelfSigned)
            } else {
                Err(Error::input(format!(
                    "NGINX with TLS needs a certificate: give its paths on the hosts (\"using certificate /etc/pki/tls/certs/web.crt and key /etc/pki/tls/private/web.key\"); a self-signed certificate is made only for dev, test, qa or sandbox hosts{}",
                    match env {
                        Some(e) => format!(" (these are {e})"),
                        None => String::new(),
                    }
                )))
            }
        }
    }
}

/// Which instances a request means: all criteria hold together.
#[derive(Debug, Clone, Default)]
struct Selector {
    ids: Vec<String>,
    tags: BTreeMap<String, String>,
    environment: Option<String>,
}

impl Selector {
    fn from(req: &AgentRequest<'_>) -> Selector {
        let i = req.intent;
        let tags = i.tags();
        // An environment already said by a tag ("Env=staging") is that tag, not a second rule.
        let environment = i
            .param_str("environment")
            .filter(|e| {
                !tags.iter().any(|(k, v)| {
                    ENV_TAG_KEYS.contains(&k.to_lowercase().as_str()) && same_env(v, e)
                })
            })
            .map(str::to_string);
        Selector {
            ids: i.param_list("instance_ids"),
            tags,
            environment,
        }
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.tags.is_empty() && self.environment.is_none()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ids.is_empty() {
            parts.push(self.ids.join(", "));
        }
        if !self.tags.is_empty() {
            parts.push(format!(
                "tagged {}",
                self.tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(e) = &self.environment {
            parts.push(format!("in environment {e}"));
        }
        parts.join(" ")
    }

    fn filters(&self) -> Vec<Filter> {
        let mut f = vec![
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        ];
        for (k, v) in &self.tags {
            f.push(Filter::builder().name(format!("tag:{k}")).values(v).build());
        }
        f
    }

    /// The environment rule, checked on each instance's tags (any environment-like key whose
    /// value means the same environment: `Env=staging`, `Environment=stage`).
    fn matches_env(&self, tags: &[(String, String)]) -> bool {
        let Some(e) = &self.environment else {
            return true;
        };
        tags.iter()
            .any(|(k, v)| ENV_TAG_KEYS.contains(&k.to_lowercase().as_str()) && same_env(v, e))
    }
}

/// Whether a tag value names the environment `env` (as the parser names environments).
fn same_env(value: &str, env: &str) -> bool {
    let v = value.to_lowercase();
    let canonical = match v.as_str() {
        "production" | "prd" | "live" => "prod",
        "stage" | "stg" => "staging",
        "development" => "dev",
        "testing" => "test",
        other => other,
    };
    canonical == env
}

/// One instance as DescribeInstances told it.
struct Found {
    id: String,
    private: Option<String>,
    public: Option<String>,
    tags: Vec<(String, String)>,
}

/// Running instances matching the selector, as inventory hosts (private address first).
fn ec2_hosts(req: &AgentRequest<'_>, region: &str, sel: &Selector) -> Result<Vec<Host>> {
    let conf = req.aws.config_blocking(region)?;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let filters = sel.filters();
    let ids = sel.ids.clone();
    let found = req
        .aws
        .block_on(async move {
            let mut out: Vec<Found> = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut call = ec2
                    .describe_instances()
                    .set_filters(Some(filters.clone()))
                    .set_next_token(token.clone());
                if ids.is_empty() {
                    call = call.max_results(200);
                } else {
                    call = call.set_instance_ids(Some(ids.clone()));
                }
                let page = call
                    .send()
                    .await
                    .map_err(|e| crate::aws::describe_error("ec2", "DescribeInstances", &e))?;
                for r in page.reservations() {
                    for inst in r.instances() {
                        let tags: Vec<(String, String)> = inst
                            .tags()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                            .collect();
                        out.push(Found {
                            id: inst.instance_id().unwrap_or_default().to_string(),
                            private: inst.private_ip_address().map(str::to_string),
                            public: inst.public_ip_address().map(str::to_string),
                            tags,
                        });
                    }
                }
                if out.len() > MAX_HOSTS {
                    break;
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            Ok::<_, String>(out)
        })?
        .map_err(Error::Unavailable)?;
    let mut hosts = Vec::new();
    for Found {
        id,
        private,
        public,
        tags,
    } in found
    {
        if !sel.matches_env(&tags) {
            continue;
        }
        let Some(address) = private.or(public).filter(|a| inventory::valid_address(a)) else {
            continue;
        };
        if !inventory::valid_address(&id) {
            continue;
        }
        let mut vars = vec![("ec2_instance_id".to_string(), id.clone())];
        if let Some((_, name)) = tags.iter().find(|(k, _)| k == "Name") {
            vars.push(("ec2_name".into(), name.clone()));
        }
        hosts.push(Host {
            name: id,
            address,
            vars,
        });
    }
    if hosts.len() > MAX_HOSTS {
        return Err(Error::input(format!(
            "more than {MAX_HOSTS} instances match; narrow the request (a tag, an environment) or give an inventory with --inventory FILE"
        )));
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_word_user() {
        assert_eq!(
            user_names("add user deploy with sudo on env=dev").unwrap(),
            vec!["deploy"]
        );
        assert_eq!(
            user_names("add users alice, bob and carol to the staging servers").unwrap(),
            vec!["alice", "bob", "carol"]
        );
        assert!(user_names("add user root on env=dev").is_err());
        assert!(user_names("add a user on env=dev").is_err());
        assert!(user_names("add user Bob$ on env=dev").is_err());
    }

    #[test]
    fn server_names_are_domains_not_paths_or_types() {
        assert_eq!(
            server_name("install nginx with tls for app.example.com on env=dev").unwrap(),
            "app.example.com"
        );
        assert_eq!(
            server_name("install nginx with tls using /etc/pki/a.crt on t3.large").unwrap(),
            "_"
        );
    }

    #[test]
    fn packages_are_names_not_options() {
        assert!(validate_package("nginx").is_ok());
        assert!(validate_package("python3.11").is_ok());
        assert!(validate_package("-oDpkg::Pre-Invoke=x").is_err());
        assert!(validate_package("a b").is_err());
    }

    #[test]
    fn environment_tags_match_by_meaning() {
        assert!(same_env("Production", "prod"));
        assert!(same_env("stage", "staging"));
        assert!(!same_env("staging", "prod"));
    }
}
