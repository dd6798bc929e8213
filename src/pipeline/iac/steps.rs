//! The Terraform and Ansible steps of an approved plan: the state-version check before apply
//! (a plan made against older state is stale), the runs themselves, and their pre-flight.

use serde_json::{Value, json};

use super::*;
use crate::approval::{PlanRecord, State};
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome};
use crate::exec::terraform::{self};
use crate::exec::{self, ansible};
use crate::intent::AgentKind;
use crate::pipeline::runs::StepRun;
use crate::plan::{ArtifactKind, Inventory, StateVersion, Step, StepKind, TerraformOp, inventory};

impl Deck {
    pub(super) fn mark_stale(
        &self,
        rec: &PlanRecord,
        stack: &str,
        bound: &StateVersion,
        now: &StateVersion,
    ) -> Result<()> {
        let id = &rec.plan.plan_id;
        self.store.update_plan(&self.tenant.name, id, &mut |r| {
            if r.state == State::Approved {
                r.state = State::Failed;
                r.updated_at = self.clock.stamp();
            }
            Ok(())
        })?;
        let mut ev = self.event(&rec.plan.request_id, EventKind::Failed, Status::Failed);
        ev.plan_id = Some(id.clone());
        ev.agent_type = Some(rec.plan.agent.to_string());
        ev.message = Some(format!(
            "not started: {} (stack {stack}: planned against {}, now {})",
            terraform::STALE,
            bound.describe(),
            now.describe()
        ));
        self.append(&[ev])?;
        Ok(())
    }

    /// Runs an approved Terraform step: the saved plan when there is one.
    pub(in crate::pipeline) async fn run_terraform_step(
        &self,
        run: &StepRun<'_>,
        stack: &str,
        operation: TerraformOp,
    ) -> Result<Outcome> {
        let StepRun {
            rec,
            n,
            artifacts,
            sink,
            ..
        } = *run;
        let cancel = run.cancel.clone();
        let id = &rec.plan.plan_id;
        let Some(bin) = exec::find_binary(&self.config.exec.terraform) else {
            return Err(exec::missing_tool(
                "Terraform",
                &self.config.exec.terraform,
                "exec.terraform in config.toml or OPSDECK_TERRAFORM",
                id,
            ));
        };
        let backend = self.state_backend(stack)?;
        let files: Vec<(String, Vec<u8>)> = artifacts
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Terraform)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let saved_name = step_name(n, terraform::SAVED_PLAN);
        let saved = artifacts
            .iter()
            .find(|(a, _)| a.kind == ArtifactKind::TerraformPlan && a.name == saved_name)
            .map(|(_, b)| b.as_slice());
        let dir = self.step_workspace(id, n)?;
        let cache = self.plugin_cache()?;
        let confinement = self.terraform_confinement(rec.plan.is_handwritten(), &backend, &cache);
        let ws = terraform::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            backend: &backend,
            plugin_cache: Some(&cache),
            provider_mirror: self.provider_mirror(),
            stream: true,
            confinement: &confinement,
        };
        terraform::apply(
            &ws,
            terraform::ApplyJob {
                plan_id: id,
                operation,
                saved_plan: saved,
                expected_state: rec
                    .plan
                    .bound_states()
                    .into_iter()
                    .find(|(step, _)| *step == n)
                    .map(|(_, s)| s),
            },
            sink,
            cancel,
        )
        .await
    }

    /// Runs an approved Ansible step, on the plan's inventory or on the hosts an earlier
    /// Terraform step created (that inventory is stored and recorded with the run).
    pub(in crate::pipeline) async fn run_ansible_step(
        &self,
        run: &StepRun<'_>,
        playbook: &str,
        inventory: &Inventory,
        vars: Option<&str>,
    ) -> Result<Outcome> {
        let StepRun {
            rec,
            n,
            artifacts,
            earlier,
            sink,
            ..
        } = *run;
        let cancel = run.cancel.clone();
        let id = &rec.plan.plan_id;
        let Some(bin) = exec::find_binary(&self.config.exec.ansible_playbook) else {
            return Err(exec::missing_tool(
                "ansible-playbook",
                &self.config.exec.ansible_playbook,
                "exec.ansible_playbook in config.toml or OPSDECK_ANSIBLE_PLAYBOOK",
                id,
            ));
        };
        let mut files: Vec<(String, Vec<u8>)> = artifacts
            .iter()
            .filter(|(a, _)| a.kind == ArtifactKind::Ansible)
            .map(|(a, b)| (a.name.clone(), b.clone()))
            .collect();
        let mut preface = String::new();
        let mut generated: Option<Value> = None;
        let inventory_name = match inventory {
            Inventory::File { name } => name.clone(),
            Inventory::StepOutputs { step, outputs } => {
                let Some(out) = earlier.get(&format!("step{step}")) else {
                    return Err(Error::Execution(format!(
                        "step {n} takes its hosts from step {step}, which produced no outputs"
                    )));
                };
                let (from, hosts) = inventory::hosts_from_outputs(out, outputs)?;
                let text = inventory::render_inventory(
                    &format!(
                        "Hosts for plan {id}, step {n}: Terraform output {from} of step {step}, read after it applied."
                    ),
                    &hosts,
                );
                let sha = self
                    .store
                    .put_artifact(&self.tenant.name, text.as_bytes())?;
                let name = format!("step{n}-inventory.yml");
                generated = Some(
                    json!({"name": name, "kind": ArtifactKind::Ansible, "sha256": sha,
                    "size": text.len(), "uri": self.store.artifact_uri(&self.tenant.name, &sha)}),
                );
                preface = format!(
                    "opsdeck: inventory {name} (sha256 {sha}, {}): {} host(s) from output {from} of step {step}\n{text}",
                    self.store.artifact_uri(&self.tenant.name, &sha),
                    hosts.len()
                );
                sink(AgentEvent::Progress {
                    agent: AgentKind::Config,
                    message: format!(
                        "{} host(s) from Terraform output {from}: {}",
                        hosts.len(),
                        hosts
                            .iter()
                            .map(|h| h.address.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
                files.push((name.clone(), text.into_bytes()));
                name
            }
        };
        let dir = self.step_workspace(id, n)?;
        let confinement = self.confinement(rec.plan.is_handwritten());
        let ws = ansible::Workspace {
            binary: &bin,
            dir: &dir,
            files: &files,
            playbook,
            inventory: &inventory_name,
            extra_vars: vars,
            stream: true,
            confinement: &confinement,
        };
        let mut outcome = ansible::run(&ws, sink, cancel).await?;
        outcome.log = format!("{preface}{}", outcome.log);
        if let (Some(inv), Some(Value::Object(o))) = (generated, outcome.outputs.as_mut()) {
            o.insert("inventory".into(), inv);
        }
        Ok(outcome)
    }

    /// What a step needs before anything runs, said up front.
    pub(crate) fn preflight_iac(&self, step: &Step, plan_id: &str) -> Result<()> {
        let (tool, configured, setting) = match &step.kind {
            StepKind::Terraform { .. } => (
                "Terraform",
                &self.config.exec.terraform,
                "exec.terraform in config.toml or OPSDECK_TERRAFORM",
            ),
            StepKind::Ansible { .. } => (
                "ansible-playbook",
                &self.config.exec.ansible_playbook,
                "exec.ansible_playbook in config.toml or OPSDECK_ANSIBLE_PLAYBOOK",
            ),
            StepKind::Aws { .. } => return Ok(()),
        };
        if exec::find_binary(configured).is_none() {
            return Err(exec::missing_tool(tool, configured, setting, plan_id));
        }
        Ok(())
    }
}
