//! The config agent: Ansible. Renders a playbook from `templates/ansible/` for what the request
//! asks (install, upgrade or remove packages; a service; NGINX with TLS; OS patching with a
//! reboot where needed; users and sudo; SSH hardening; the CloudWatch agent) and resolves the
//! hosts it runs on while planning: EC2 instances by tag or environment (DescribeInstances), or
//! an inventory given with `--inventory`. For a hybrid request ("3 instances with nginx") it
//! adds the Ansible step to the infra agent's plan, on the hosts the Terraform step creates.
//!
//! The inventory is an artifact of the plan, so an approval covers exactly those hosts; the
//! rollout (batches, the failure threshold) is in the playbook and in the step.
//!
//! One file per concern: `task.rs` (what the request asks to configure, from its words),
//! `render.rs` (the playbook for a task, with its rollout and risk), `hosts.rs` (the EC2
//! instances a request means), `intake.rs` (hand-written playbooks and inventories). This file
//! builds the plan, alone or after the infra agent's Terraform step.

mod hosts;
mod intake;
mod render;
mod task;

pub use intake::{from_playbook, from_playbook_files, playbook_draft};
pub use render::{Rendered, render_task};
pub use task::{Task, Tls, task_of, validate_package, validate_user};

use std::path::Path;

use super::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;
use crate::plan::inventory::{self, INVENTORY};
use crate::plan::{ArtifactKind, CostEstimate, Inventory, Step, StepKind};
use hosts::{Selector, ec2_hosts};
use intake::given_inventory;

/// Hosts one plan may configure; more is several plans (or an inventory given by hand).
pub const MAX_HOSTS: usize = 500;
/// Terraform outputs a hybrid plan looks in for the hosts it created, in order.
pub const HOST_OUTPUTS: &[&str] = &["ansible_hosts", "public_ips", "private_ips"];

agent_actions! {
    /// What the config agent can be asked to do.
    pub enum Action for AgentKind::Config, "installs, upgrades and removes packages, enables services, sets up NGINX with TLS, patches the OS, manages users and sudo, hardens SSH and installs the CloudWatch agent" {
        Install = "install" [change],
        Upgrade = "upgrade" [change],
        Remove = "remove" [change],
        Patch = "patch" [change],
        Harden = "harden" [change],
        Configure = "configure" [change],
        /// The infra agent's action in a hybrid request ("3 instances with nginx").
        Create = "create" [change],
    }
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let i = req.intent;
    let task = task_of(req, Action::of(req.intent)?)?;
    let region = req.region()?;
    let (inventory, targets) = match i.params.inventory.as_deref() {
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
    let rendered = render_task(&task, req, i.params.environment)?;
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
            vars: None,
        },
    };
    Ok(Draft {
        builtins: rendered.builtins,
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
    let task = task_of(req, Action::of(req.intent)?)?;
    let rendered = render_task(&task, req, req.intent.params.environment)?;
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
            vars: None,
        },
    });
    draft.summary = format!("{}; then {} on them", draft.summary, rendered.what);
    if rendered.risk > draft.risk {
        draft.risk = rendered.risk;
    }
    draft.risk_reasons.extend(rendered.risk_reasons);
    draft.builtins.extend(rendered.builtins);
    draft.files.push(rendered.file);
    Ok(draft)
}

fn no_cost() -> CostEstimate {
    CostEstimate {
        notes: vec!["configuration changes add no AWS charges by themselves".into()],
        ..CostEstimate::default()
    }
}
