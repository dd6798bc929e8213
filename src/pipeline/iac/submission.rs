//! Hand-written Terraform and playbooks submitted for review (`opsdeck submit`), and an
//! inventory file given with a request: turned into an intent and a draft like any request.

use super::*;
use crate::error::{Error, Result};
use crate::intent::AgentKind;

/// Adds `--inventory` to a classified request: only configuration requests take one, and a
/// hybrid request's hosts come from its Terraform.
pub(crate) fn with_inventory(
    mut intent: crate::intent::Intent,
    opts: &RequestOptions,
) -> Result<crate::intent::Intent> {
    // Only this request's flag names an inventory: never one carried over from an earlier
    // request's intent (follow-ups refine the previous intent).
    intent.params.inventory = None;
    let Some(path) = &opts.inventory else {
        return Ok(intent);
    };
    if intent.agent != AgentKind::Config {
        return Err(Error::input(format!(
            "--inventory is for configuration requests (Ansible); this request goes to the {} agent{}",
            intent.agent,
            if intent.agents.contains(&AgentKind::Config) {
                ", and its hosts come from the Terraform it creates"
            } else {
                ""
            }
        )));
    }
    let abs = std::path::absolute(path)
        .map_err(|e| Error::io(format!("reading inventory {}", path.display()), e))?;
    if !abs.is_file() {
        return Err(Error::input(format!(
            "inventory {} is not a file",
            path.display()
        )));
    }
    intent.params.inventory = Some(abs.display().to_string());
    intent.notes.push(format!(
        "hosts from the inventory given with --inventory ({})",
        path.display()
    ));
    Ok(intent)
}

/// The plan a submission makes: Terraform as a stack, a playbook on an inventory, or both (the
/// playbook on the hosts the Terraform creates).
pub(crate) fn submission(
    sub: &Submission,
) -> Result<(String, crate::intent::Intent, Result<crate::agents::Draft>)> {
    use crate::agents::{Draft, config, infra};
    let mut params = crate::intent::Params::default();
    let (agent, agents, text) = match (&sub.terraform, &sub.playbook) {
        (Some(dir), pb) => {
            let Some(stack) = &sub.stack else {
                return Err(Error::input(
                    "give the stack name the Terraform is applied as (--stack NAME)",
                ));
            };
            params.stack = Some(stack.clone());
            let mut text = format!("submit Terraform from {} as stack {stack}", dir.display());
            if let Some(pb) = pb {
                text.push_str(&format!(
                    ", then playbook {} on the hosts it creates",
                    pb.display()
                ));
            }
            let agents = if pb.is_some() {
                vec![AgentKind::Infra, AgentKind::Config]
            } else {
                vec![AgentKind::Infra]
            };
            (AgentKind::Infra, agents, text)
        }
        (None, Some(pb)) => (
            AgentKind::Config,
            vec![AgentKind::Config],
            format!(
                "submit playbook {} on the hosts in {}",
                pb.display(),
                sub.inventory
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(no inventory)".into())
            ),
        ),
        (None, None) => {
            return Err(Error::input(
                "submit a Terraform directory (with --stack NAME), a playbook (--playbook FILE --inventory FILE), or both",
            ));
        }
    };
    let intent = crate::intent::Intent {
        agent,
        agents,
        action: "apply".into(),
        confidence: 1.0,
        low_confidence: false,
        params,
        evidence: Vec::new(),
        notes: vec![crate::plan::SUBMITTED_NOTE.into()],
        source: None,
        settled: None,
    };
    let draft = (|| -> Result<Draft> {
        match (&sub.terraform, &sub.playbook) {
            (Some(dir), None) => infra::from_directory(dir, sub.stack.as_deref().unwrap_or("")),
            (Some(dir), Some(pb)) => {
                if sub.inventory.is_some() {
                    return Err(Error::input(
                        "the playbook runs on the hosts the Terraform creates; leave out --inventory",
                    ));
                }
                let mut d = infra::from_directory(dir, sub.stack.as_deref().unwrap_or(""))?;
                let (files, step) = config::from_playbook(pb, None, Some(1))?;
                if let Some(clash) = files
                    .iter()
                    .find(|f| d.files.iter().any(|t| t.name == f.name))
                {
                    return Err(Error::input(format!(
                        "{} is both a Terraform file and the playbook",
                        clash.name
                    )));
                }
                d.summary = format!("{}; then {}", d.summary, step.description);
                d.files.extend(files);
                d.steps.push(step);
                d.risk_reasons
                    .push("hand-written playbook: review every task".into());
                Ok(d)
            }
            (None, Some(pb)) => {
                let (files, step) = config::from_playbook(pb, sub.inventory.as_deref(), None)?;
                Ok(config::playbook_draft(
                    format!("run submitted {}", step.description),
                    files,
                    step,
                    "hand-written playbook: review every task".into(),
                ))
            }
            (None, None) => Err(Error::input("nothing to submit")),
        }
    })();
    Ok((text, intent, draft))
}
