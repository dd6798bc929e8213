//! A tenant's template used with the built-in templates rather than instead of them: a
//! Terraform template's resources planned alongside the built-in stack, a playbook template run
//! after the built-in playbook in the same run (one combined playbook, one approval).

use crate::agents::{Draft, DraftFile, config, infra};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::Intent;
use crate::library::{self, VersionInfo};
use crate::plan::{ArtifactKind, StepKind};

use super::super::Library;
use super::use_entry::tfvars_file;

/// The playbook a plan with a tenant's playbook template runs: the built-in playbook, then the
/// template's.
pub const COMBINED_PLAYBOOK: &str = "opsdeck_with_template.yml";

/// The name a template's file takes beside the built-in stack's files (`main.tf` is the
/// stack's own).
pub fn template_file_name(entry: &str, file: &str) -> String {
    format!("template-{entry}-{file}")
}

/// The combined playbook: the built-in one, then the template's, each imported whole, so the
/// template's plays start once the built-in play is done on every host. The names are file
/// names opsdeck checked ([`library::files::check_file_names`]) or its own.
pub fn combined_playbook(builtin: &str, template: &str, label: &str, serves: &str) -> String {
    format!(
        "---\n# Written by opsdeck: the built-in playbook for this request, then the tenant's template\n# {label} (serves {serves} requests), in one run.\n- name: Built-in playbook\n  ansible.builtin.import_playbook: {builtin}\n- name: Tenant template {label}\n  ansible.builtin.import_playbook: {template}\n"
    )
}

impl Library<'_> {
    fn agent_request<'a>(
        &'a self,
        request_id: &'a str,
        words: &'a str,
        reading: &'a Intent,
    ) -> crate::agents::AgentRequest<'a> {
        crate::agents::AgentRequest {
            request_id,
            text: words,
            intent: reading,
            tenant: &self.tenant,
            store: self.store.as_ref(),
            aws: &self.aws,
        }
    }

    /// The built-in stack the infra agent plans for the reading, with the template's files
    /// rendered alongside it (its resources in the same stack and state, its parameters
    /// typed in their own file). Both declaring one resource address is refused, with the
    /// address, before Terraform would.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn with_builtin_stack(
        &self,
        request_id: &str,
        words: &str,
        reading: &Intent,
        info: &VersionInfo,
        files: Vec<(String, Vec<u8>)>,
        values: &library::Values,
        sink: Sink<'_>,
    ) -> Result<Draft> {
        let mut draft = infra::plan(&self.agent_request(request_id, words, reading), sink)?;
        let mut template: Vec<DraftFile> = files
            .into_iter()
            .map(|(name, content)| DraftFile {
                name: template_file_name(&info.name, &name),
                kind: ArtifactKind::Terraform,
                content,
            })
            .collect();
        if !values.is_empty() {
            template.push(tfvars_file(values));
        }
        let added = infra::resources_in(&template, crate::plan::ChangeAction::Create);
        if let Some(both) = added
            .iter()
            .find(|r| draft.resources.iter().any(|b| b.address == r.address))
        {
            return Err(Error::input(format!(
                "the tenant's template {} and the built-in stack both declare {}: rename it in the template and add a new version",
                info.label(),
                both.address
            )));
        }
        draft.resources.extend(added);
        draft.files.extend(template);
        draft.summary = format!(
            "{}, with the tenant's template {}",
            draft.summary,
            info.label()
        );
        Ok(draft)
    }

    /// The built-in playbook the config agent makes for the reading, on its hosts, then the
    /// template's playbook in the same run: one step runs [`COMBINED_PLAYBOOK`], which imports
    /// both, with the template's typed values as its extra-vars file. The template's files keep
    /// their names (its playbook may include the others); one named like a file of the
    /// built-in plan is refused.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn with_builtin_playbook(
        &self,
        request_id: &str,
        words: &str,
        reading: &Intent,
        info: &VersionInfo,
        playbook: &str,
        files: Vec<(String, Vec<u8>)>,
        vars: Option<String>,
        sink: Sink<'_>,
    ) -> Result<Draft> {
        let mut draft = config::plan(&self.agent_request(request_id, words, reading), sink)?;
        for (name, _) in &files {
            if name == COMBINED_PLAYBOOK || draft.files.iter().any(|f| &f.name == name) {
                return Err(Error::input(format!(
                    "the tenant's template {} has a file {name}, which the built-in plan for this request has too: rename it in the template and add a new version",
                    info.label()
                )));
            }
        }
        let serves = info.serves.clone().unwrap_or_default();
        let label = info.label();
        let Some(StepKind::Ansible {
            playbook: step_playbook,
            vars: step_vars,
            ..
        }) = draft.steps.first_mut().map(|s| &mut s.kind)
        else {
            return Err(Error::input(
                "the config agent's plan for this request has no playbook step to run the template after",
            ));
        };
        let builtin = std::mem::replace(step_playbook, COMBINED_PLAYBOOK.to_string());
        draft
            .files
            .extend(files.into_iter().map(|(name, content)| DraftFile {
                name,
                kind: ArtifactKind::Ansible,
                content,
            }));
        if let Some(vars) = vars {
            draft.files.push(DraftFile {
                name: library::VARS_FILE.into(),
                kind: ArtifactKind::Ansible,
                content: vars.into_bytes(),
            });
            *step_vars = Some(library::VARS_FILE.to_string());
        }
        draft.files.push(DraftFile {
            name: COMBINED_PLAYBOOK.into(),
            kind: ArtifactKind::Ansible,
            content: combined_playbook(&builtin, playbook, &label, &serves).into_bytes(),
        });
        if let Some(step) = draft.steps.first_mut() {
            step.description = format!(
                "{}, then the tenant's template {label} ({playbook}), as {COMBINED_PLAYBOOK}",
                step.description
            );
        }
        draft.summary = format!("{}; then the tenant's template {label}", draft.summary);
        draft.risk_reasons.push(format!(
            "runs the tenant's playbook template {label}: review every task"
        ));
        Ok(draft)
    }
}
