//! The checks a version passes before it is added: Terraform's (`fmt -check`, `validate`, the
//! static checks of hand-written Terraform, the parameters against the module's variables) and
//! Ansible's (`--syntax-check`), each in a scratch workspace of its own.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::exec::{self, ansible, terraform};
use crate::intent::AgentKind;
use crate::library::{self, Manifest};
use crate::plan::{ArtifactKind, GateResult};

use super::super::Library;

impl Library<'_> {
    /// `terraform fmt -check` (when asked), `validate`, the static checks of hand-written
    /// Terraform, and the parameters against the module's variables.
    pub(super) fn check_terraform(
        &self,
        manifest: &Manifest,
        files: &[(String, Vec<u8>)],
        check_format: bool,
        sink: Sink<'_>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        if !files.iter().any(|(n, _)| n.ends_with(".tf")) {
            return Err(Error::input(
                "a Terraform entry needs at least one .tf file",
            ));
        }
        let problems: Vec<String> = files
            .iter()
            .flat_map(|(n, b)| {
                crate::plan::verify::handwritten_terraform_problems(n, &String::from_utf8_lossy(b))
            })
            .collect();
        if !problems.is_empty() {
            return Err(Error::refused(format!(
                "this Terraform would act while opsdeck plans it, before anyone approved it: {}. nothing was added",
                problems.join("; ")
            )));
        }
        let Some(bin) = exec::find_binary(&self.config.exec.terraform) else {
            return Err(Error::Unavailable(format!(
                "terraform is not installed (`{}` is not on PATH; set exec.terraform or OPSDECK_TERRAFORM): library entries are checked before they are added, so nothing was added",
                self.config.exec.terraform
            )));
        };
        let dir = self.scratch_dir()?;
        let backend = terraform::StateBackend::Local {
            path: dir.path.join("terraform.tfstate"),
        };
        let cache = self.plugin_cache()?;
        let confinement = self.terraform_confinement(true, &backend, &cache);
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let ws = terraform::Workspace {
            binary: &bin,
            dir: &dir.path,
            files,
            backend: &backend,
            plugin_cache: Some(&cache),
            provider_mirror: self.provider_mirror(),
            stream: false,
            confinement: &confinement,
        };
        sink(AgentEvent::Progress {
            agent: AgentKind::Infra,
            message: format!("checking library entry {} with terraform", manifest.name),
        });
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let fmt_files: Vec<String> = if check_format { names } else { Vec::new() };
        let result = exec::block_on_with_timeout(timeout, |cancel| {
            terraform::check_module(&ws, &fmt_files, check_format, sink, cancel)
        })??;
        let mut checks = Vec::new();
        if check_format {
            checks.push("terraform fmt -check".to_string());
        }
        let notes = match result {
            terraform::ModuleCheck::Refused { command, error } => {
                return Err(Error::input(format!(
                    "{command} refused library entry {}: {error}. nothing was added",
                    manifest.name
                )));
            }
            terraform::ModuleCheck::Passed { notes } => notes,
        };
        if notes.is_empty() {
            checks.push("terraform validate".into());
        }
        library::check_variables(&manifest.params, files)?;
        Ok((checks, notes))
    }

    /// The policy gates a plan from this entry would meet (the tenant's compiled policies and
    /// the checks no policy switches off), judged at add time with the parameters' defaults:
    /// a Terraform module as the stack it would apply, a playbook as the run it would make
    /// (the policies read its tasks, `input.ansible.tasks`). A deny refuses the entry with the
    /// policy's reason; warnings are notes.
    pub(super) fn check_policies(
        &self,
        manifest: &Manifest,
        files: &[(String, Vec<u8>)],
    ) -> Result<Vec<String>> {
        let kind = match manifest.kind {
            library::EntryKind::Terraform => ArtifactKind::Terraform,
            library::EntryKind::Ansible | library::EntryKind::Role => ArtifactKind::Ansible,
            // Judged as the SSM run it makes, with its own checks (scripts.rs).
            library::EntryKind::Script => {
                return Err(Error::input("a script is judged by check_script"));
            }
        };
        let mut draft_files: Vec<crate::agents::DraftFile> = files
            .iter()
            .map(|(name, content)| crate::agents::DraftFile {
                name: name.clone(),
                kind,
                content: content.clone(),
            })
            .collect();
        let defaults: library::Values = manifest
            .params
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
            .collect();
        if !defaults.is_empty() {
            let (name, text) = match kind {
                ArtifactKind::Terraform => {
                    (library::TFVARS_FILE, library::render_tfvars(&defaults))
                }
                _ => (library::VARS_FILE, library::render_extra_vars(&defaults)),
            };
            draft_files.push(crate::agents::DraftFile {
                name: name.into(),
                kind,
                content: text.into_bytes(),
            });
        }
        let texts: Vec<(String, String)> = draft_files
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    String::from_utf8_lossy(&f.content).into_owned(),
                )
            })
            .collect();
        let draft = match kind {
            ArtifactKind::Terraform => {
                let total = draft_files.iter().map(|f| f.content.len()).sum();
                crate::agents::infra::from_files(draft_files, total, &manifest.name)?
            }
            _ => {
                // A role's files come placed, beside the wrapper playbook that applies it.
                let playbook = match manifest.kind {
                    library::EntryKind::Role => library::role::ROLE_PLAYBOOK.to_string(),
                    _ => manifest.playbook.clone().unwrap_or_default(),
                };
                // Judged as a run on the hosts an earlier step creates: which hosts does not
                // change what its tasks do.
                let (files, step) = crate::agents::config::from_playbook_files(
                    draft_files,
                    &playbook,
                    None,
                    Some(1),
                )?;
                crate::agents::config::playbook_draft(
                    format!("library add {}", manifest.name),
                    files,
                    step,
                    "a library entry's playbook".into(),
                )
            }
        };
        match kind {
            ArtifactKind::Terraform => self.judge_entry(manifest, draft, &texts, &[]),
            _ => self.judge_entry(manifest, draft, &[], &texts),
        }
    }

    /// An entry's draft judged by the policy gates as the plan it would make: a deny refuses
    /// the entry with the policy's rule and reason; warnings are notes.
    pub(super) fn judge_entry(
        &self,
        manifest: &Manifest,
        draft: crate::agents::Draft,
        terraform: &[(String, String)],
        ansible: &[(String, String)],
    ) -> Result<Vec<String>> {
        let agent = manifest.kind.agent();
        let action = manifest
            .serves
            .as_deref()
            .and_then(|s| s.split('/').nth(1))
            .unwrap_or(if agent == AgentKind::Ops {
                "run"
            } else {
                "apply"
            })
            .to_string();
        let intent = crate::intent::Intent {
            agent,
            agents: vec![agent],
            action,
            confidence: 1.0,
            low_confidence: false,
            params: Default::default(),
            evidence: Vec::new(),
            notes: Vec::new(),
            source: None,
            settled: None,
        };
        let plan = self.requests().unsaved_plan(
            String::new(),
            format!("library add {}", manifest.name),
            intent,
            draft,
            Vec::new(),
        );
        let gates = self.gates(&plan, terraform, ansible)?;
        let denied: Vec<String> = gates
            .iter()
            .filter(|g| g.result == GateResult::Deny)
            .map(|g| format!("{}: {}", g.rule, g.reason))
            .collect();
        if !denied.is_empty() {
            return Err(Error::refused(format!(
                "the policy gates refuse library entry {}: {}. nothing was added",
                manifest.name,
                denied.join("; ")
            )));
        }
        Ok(gates
            .into_iter()
            .filter(|g| g.result == GateResult::Warn)
            .map(|g| format!("policy {} warns: {}", g.rule, g.reason))
            .collect())
    }

    /// `ansible-playbook --syntax-check` of the playbook, on a placeholder inventory, with the
    /// parameters' defaults as extra vars the way a use passes its values.
    pub(super) fn check_playbook(
        &self,
        playbook: &str,
        params: &[library::Param],
        files: &[(String, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<Vec<String>> {
        self.check_playbook_as(playbook, playbook, params, files, sink)
    }

    /// [`Self::check_playbook`], a refusal naming what was checked as `what` (`role nginx`).
    pub(super) fn check_playbook_as(
        &self,
        what: &str,
        playbook: &str,
        params: &[library::Param],
        files: &[(String, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<Vec<String>> {
        let Some(bin) = exec::find_binary(&self.config.exec.ansible_playbook) else {
            return Err(Error::Unavailable(format!(
                "ansible-playbook is not installed (`{}` is not on PATH; set exec.ansible_playbook or OPSDECK_ANSIBLE_PLAYBOOK): library entries are checked before they are added, so nothing was added",
                self.config.exec.ansible_playbook
            )));
        };
        let dir = self.scratch_dir()?;
        let mut ws_files = files.to_vec();
        let inventory = "opsdeck-library-check-hosts.ini".to_string();
        ws_files.push((
            inventory.clone(),
            b"# placeholder for the syntax check\nlocalhost ansible_connection=local\n".to_vec(),
        ));
        let defaults: library::Values = params
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
            .collect();
        let vars = (!params.is_empty()).then_some(library::VARS_FILE);
        if vars.is_some() {
            ws_files.push((
                library::VARS_FILE.into(),
                library::render_extra_vars(&defaults).into_bytes(),
            ));
        }
        let confinement = self.confinement(true);
        let ws = ansible::Workspace {
            binary: &bin,
            dir: &dir.path,
            files: &ws_files,
            playbook,
            inventory: &inventory,
            extra_vars: vars,
            stream: false,
            confinement: &confinement,
        };
        let timeout = Duration::from_secs(self.config.exec.dry_run_timeout_secs.max(1));
        let result = exec::block_on_with_timeout(timeout, |cancel| {
            ansible::syntax_check(&ws, sink, cancel)
        })??;
        if let Err(error) = result {
            return Err(Error::input(format!(
                "ansible-playbook --syntax-check refused {what}: {error}. nothing was added"
            )));
        }
        Ok(vec!["ansible-playbook --syntax-check".into()])
    }

    /// A workspace of its own for one check, removed afterwards.
    pub(super) fn scratch_dir(&self) -> Result<ScratchDir> {
        let id = format!("library-check-{}", uuid::Uuid::new_v4().simple());
        let path = self
            .store
            .workspace_dir(&self.tenant.name, &id)?
            .join("module");
        crate::store::fsutil::ensure_private_dir(&path)?;
        Ok(ScratchDir { path })
    }
}

/// A check's own directory, removed when the check is done.
pub(super) struct ScratchDir {
    pub path: PathBuf,
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Some(parent) = self.path.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}
