//! Using a role: its files placed under `roles/DIR/` beside the wrapper playbook opsdeck
//! writes, so the plan is a playbook run like any Ansible entry's (dry run, gates, approval,
//! apply); and a request that names a role ("apply our nginx role to …").

use crate::agents::Draft;
use crate::error::Result;
use crate::library::{self, Catalogue, EntryKind, EntryRef, Manifest, VersionInfo};

use super::super::Library;

/// A version as a run reads it: a role's files placed under `roles/DIR/` with the wrapper
/// playbook as the manifest's playbook; any other kind as it is.
pub(super) fn as_run(
    manifest: Manifest,
    files: Vec<(String, Vec<u8>)>,
) -> (Manifest, Vec<(String, Vec<u8>)>) {
    if manifest.kind != EntryKind::Role {
        return (manifest, files);
    }
    let (placed, playbook) = library::role::placed(&manifest.name, files);
    (
        Manifest {
            playbook: Some(playbook),
            ..manifest
        },
        placed,
    )
}

/// A role's plan says what it does: "apply role NAME@V (ansible-playbook opsdeck_role.yml on
/// the hosts in inventory.yml)". A role serving a request keeps the combined plan's summary.
pub(super) fn summarised(
    draft: Result<Draft>,
    kind: EntryKind,
    info: &VersionInfo,
    serving: bool,
) -> Result<Draft> {
    if kind != EntryKind::Role || (serving && info.serves.is_some()) {
        return draft;
    }
    draft.map(|mut d| {
        if let Some(step) = d.steps.first() {
            d.summary = format!("apply role {} ({})", info.label(), step.description);
        }
        d
    })
}

impl Library<'_> {
    /// The role a request names ("apply our nginx role to the hosts in inventory.yml"): an
    /// entry's name followed by "role", when that entry's latest version is a role.
    pub(super) fn referenced_role(&self, text: &str, c: &Catalogue) -> Result<Option<EntryRef>> {
        if !library::role::may_name_role(text) {
            return Ok(None);
        }
        let Some(name) = library::role::role_named(text, c.names()) else {
            return Ok(None);
        };
        let Some(latest) = c.versions(&name).last() else {
            return Ok(None);
        };
        Ok(
            (self.manifest(latest)?.kind == EntryKind::Role).then_some(EntryRef {
                name,
                version: None,
            }),
        )
    }
}
