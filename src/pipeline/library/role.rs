//! Roles in the library (`--kind role`): the checks a role passes when it is added (its
//! parameters, the defaults its `defaults/main.yml` gives them, `ansible-playbook
//! --syntax-check` of the wrapper playbook applying it, the policy gates over its tasks and
//! handlers), and the files an applied plan ran it from.

use crate::error::Result;
use crate::events::Sink;
use crate::library::{self, Manifest};
use crate::plan::{ArtifactKind, ArtifactRef};

use super::super::Library;

impl Library<'_> {
    /// A role's add-time checks, on the files as a use places them (`roles/DIR/…` beside the
    /// wrapper playbook): parameters Ansible does not reserve, typed defaults taken from
    /// `defaults/main.yml` where none was given, the syntax check, the policy gates.
    pub(super) fn check_role(
        &self,
        manifest: &mut Manifest,
        files: &[(String, Vec<u8>)],
        sink: Sink<'_>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        library::check_ansible_params(&manifest.params)?;
        let mut notes = library::role::defaults_from_role(&mut manifest.params, files)?;
        let (placed, playbook) = library::role::placed(&manifest.name, files.to_vec());
        let mut checks = self.check_playbook_as(
            &format!("role {}", manifest.name),
            &playbook,
            &manifest.params,
            &placed,
            sink,
        )?;
        notes.extend(self.check_policies(manifest, &placed)?);
        checks.push("policy gates".into());
        Ok((checks, notes))
    }
}

/// A plan's Ansible files, (name, bytes).
pub(super) fn ansible_files(artifacts: &[(ArtifactRef, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    artifacts
        .iter()
        .filter(|(a, _)| a.kind == ArtifactKind::Ansible)
        .map(|(a, b)| (a.name.clone(), b.clone()))
        .collect()
}
