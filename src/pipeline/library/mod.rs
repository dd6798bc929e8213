//! The tenant's artifact library (`deck.library()`): versions added from files or saved from an
//! applied plan, checked with the real tools first; listed, searched, shown, compared,
//! deprecated and approved; and used by a request, which makes a plan through the same gates,
//! dry runs and approvals as any other. Versions are artifacts; what happened to them is the
//! trail's (see `crate::library`).

use std::path::PathBuf;

use crate::approval::State;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::Intent;
use crate::library::{
    self, Catalogue, EntryKind, EntryRef, EntrySummary, EntryWords, FileRef, Manifest,
    VersionDetail, VersionInfo,
};
use crate::plan::ArtifactKind;
use crate::redact::redact;
use crate::tenant::Role;

use super::Library;

mod browse;
mod builtins;
mod checks;
mod role;
mod scripts;
mod templates;
mod use_entry;
mod use_role;
mod use_script;

use role::ansible_files;

pub use browse::EntryOverview;
pub(super) use builtins::keep_builtin_versions;
pub use builtins::{BuiltinDetail, BuiltinVersionSeen};
pub use templates::COMBINED_PLAYBOOK;

/// One side of a comparison: its label, manifest and (name, text) files.
type Side = (String, Manifest, Vec<(String, String)>);

/// What `library add` hands in.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub name: String,
    pub kind: EntryKind,
    /// A directory (its top-level files) or one file.
    pub from: PathBuf,
    pub words: EntryWords,
}

/// What adding came to: the version (new, or the one that already had these contents) and what
/// the checks could not do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Added {
    #[serde(flatten)]
    pub version: VersionInfo,
    /// False when an identical version existed: nothing was added.
    pub new: bool,
    pub checks: Vec<String>,
    pub notes: Vec<String>,
}

/// An entry shown: the version asked for, and every version of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EntryDetail {
    pub version: VersionDetail,
    pub versions: Vec<VersionInfo>,
    /// A script entry's text, as added (what runs after opsdeck's parameter preamble).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// A request that uses a library entry (`ask --use NAME@V`).
#[derive(Debug, Clone, Default)]
pub struct UseRequest {
    pub entry: String,
    /// The request's words: recorded, and read for values of parameters they name (a region).
    pub text: String,
    /// `name=value`, each parsed by the parameter's type.
    pub set: Vec<String>,
    /// The stack a Terraform entry is applied as (default: the entry's name).
    pub stack: Option<String>,
    /// An Ansible entry's hosts.
    pub inventory: Option<PathBuf>,
    /// The request's reading when the entry is the tenant's template for it: its parameters
    /// named like the entry's give their values, and the plan keeps the reading.
    pub reading: Option<Intent>,
}

/// Who may add, save and deprecate entries, and use them.
const WRITERS: &[Role] = &[Role::Operator, Role::Approver, Role::Admin];

impl Library<'_> {
    /// The tenant's library as its trail has it now: the session's catalogue brought up to
    /// date with the records written since its last lookup (by anyone), not the whole trail.
    fn catalogue(&self) -> Result<Catalogue> {
        let unusable = || Error::Unavailable("the session's library catalogue is unusable".into());
        let cursor = self.library.lock().map_err(|_| unusable())?.cursor();
        let mut new = Vec::new();
        let mut last = cursor;
        self.scan_trail_after(cursor, &mut |r| {
            last = last.max(r.seq);
            if library::is_catalogue_record(&r) {
                new.push(r);
            }
            true
        })?;
        let mut c = self.library.lock().map_err(|_| unusable())?;
        // Another lookup may have taken some of these meanwhile: the catalogue skips them.
        for r in &new {
            c.record(r);
        }
        c.seen_up_to(last);
        Ok(c.clone())
    }

    fn manifest(&self, v: &VersionInfo) -> Result<Manifest> {
        let bytes = self.store.get_artifact(&self.tenant.name, &v.sha256)?;
        let m = Manifest::from_bytes(&bytes)?;
        if m.name != v.name {
            return Err(Error::refused(format!(
                "the manifest of {} names entry {}: the trail and the artifact disagree",
                v.label(),
                m.name
            )));
        }
        Ok(m)
    }

    fn files(&self, m: &Manifest) -> Result<Vec<(String, Vec<u8>)>> {
        m.files
            .iter()
            .map(|f| {
                self.store
                    .get_artifact(&self.tenant.name, &f.sha256)
                    .map(|b| (f.name.clone(), b))
            })
            .collect()
    }

    /// Adds a version of an entry from files, once the real tools accept it.
    pub fn add(&self, new: &NewEntry, sink: Sink<'_>) -> Result<Added> {
        self.require_member(WRITERS, "add to the library")?;
        self.refuse_if_read_only("add to the library", None)?;
        let (files, playbook, read_notes) = match new.kind {
            EntryKind::Role => {
                let role = library::role::read_role_dir(&new.from)?;
                (role.files, None, role.notes)
            }
            _ => {
                let (files, playbook) = library::files::read_entry_files(new.kind, &new.from)?;
                (files, playbook, Vec::new())
            }
        };
        let mut added = self.add_version(
            Manifest {
                format: Manifest::FORMAT,
                name: new.name.clone(),
                kind: new.kind,
                description: new.words.description.clone(),
                tags: new.words.tags.clone(),
                params: new.words.params.clone(),
                serves: new.words.serves.clone(),
                playbook,
                files: Vec::new(),
                from_plan: None,
            },
            files,
            true,
            sink,
        )?;
        added.notes.extend(read_notes);
        Ok(added)
    }

    /// Saves an applied plan's Terraform, playbook or role as a version of entry `name`.
    pub fn save(
        &self,
        plan_id: &str,
        name: &str,
        words: &EntryWords,
        sink: Sink<'_>,
    ) -> Result<Added> {
        self.require_member(WRITERS, "save to the library")?;
        self.refuse_if_read_only("save to the library", None)?;
        let rec = self.approvals().plan(plan_id)?;
        if rec.state != State::Succeeded {
            return Err(Error::input(format!(
                "plan {} is {}: only an applied plan is saved to the library (what ran, not what was proposed)",
                rec.plan.plan_id,
                rec.state.as_str()
            )));
        }
        let artifacts = self.approvals().checked_artifacts(&rec.plan)?;
        let playbook = rec.plan.steps.iter().find_map(|s| match &s.kind {
            crate::plan::StepKind::Ansible { playbook, .. } => Some(playbook.clone()),
            _ => None,
        });
        let has_terraform = artifacts
            .iter()
            .any(|(a, _)| a.kind == ArtifactKind::Terraform);
        // A role applied through opsdeck's wrapper playbook is saved as the role again.
        let role_files = playbook
            .as_deref()
            .and_then(|p| library::role::from_plan_files(p, &ansible_files(&artifacts)));
        let kind = match (has_terraform, &playbook) {
            (true, None) => EntryKind::Terraform,
            (false, Some(_)) if role_files.is_some() => EntryKind::Role,
            (false, Some(_)) => EntryKind::Ansible,
            (true, Some(_)) => {
                return Err(Error::input(format!(
                    "plan {} has both Terraform and a playbook: save each as its own entry with `library add` (a hybrid entry is not supported yet)",
                    rec.plan.plan_id
                )));
            }
            (false, None) => {
                return Err(Error::input(format!(
                    "plan {} ran no Terraform and no playbook: there is nothing to save",
                    rec.plan.plan_id
                )));
            }
        };
        let files: Vec<(String, Vec<u8>)> = artifacts
            .into_iter()
            .filter(|(a, _)| match kind {
                // The local backend block opsdeck adds to submitted Terraform is added again
                // at use.
                EntryKind::Terraform => {
                    a.kind == ArtifactKind::Terraform && a.name != "_opsdeck_backend.tf"
                }
                EntryKind::Ansible => {
                    a.kind == ArtifactKind::Ansible && Some(&a.name) == playbook.as_ref()
                }
                EntryKind::Role => false,
                // Not saved from plans: added from their file.
                EntryKind::Script => false,
            })
            .map(|(a, b)| (a.name, b))
            .chain(role_files.unwrap_or_default())
            .collect();
        let playbook = playbook.filter(|_| kind != EntryKind::Role);
        self.add_version(
            Manifest {
                format: Manifest::FORMAT,
                name: name.to_string(),
                kind,
                description: if words.description.is_empty() {
                    rec.plan.summary.chars().take(300).collect()
                } else {
                    words.description.clone()
                },
                tags: words.tags.clone(),
                params: words.params.clone(),
                serves: words.serves.clone(),
                playbook,
                files: Vec::new(),
                from_plan: Some(rec.plan.plan_id.clone()),
            },
            files,
            // What was applied is kept as it ran: formatting is not checked, validity is.
            false,
            sink,
        )
    }

    fn add_version(
        &self,
        mut manifest: Manifest,
        files: Vec<(String, Vec<u8>)>,
        check_format: bool,
        sink: Sink<'_>,
    ) -> Result<Added> {
        library::validate_name(&manifest.name)?;
        library::validate_description(&manifest.description)?;
        manifest
            .tags
            .iter()
            .try_for_each(|t| library::validate_tag(t))?;
        manifest.tags.sort();
        manifest.tags.dedup();
        library::check_params(&manifest.params)?;
        if let Some(serves) = &manifest.serves {
            library::validate_serves(serves)?;
            let agent = serves.split('/').next().unwrap_or_default();
            if agent != manifest.kind.agent().to_string() {
                return Err(Error::input(format!(
                    "a {} entry serves {} requests, not {agent} ones",
                    manifest.kind,
                    manifest.kind.agent()
                )));
            }
        }
        if manifest.kind == EntryKind::Role {
            library::role::check_role_files(&files)?;
        } else {
            library::files::check_file_names(&files)?;
        }
        for (name, bytes) in &files {
            if std::str::from_utf8(bytes).is_err() {
                return Err(Error::input(format!("{name} is not UTF-8 text")));
            }
        }
        let (checks, notes) = match manifest.kind {
            EntryKind::Terraform => {
                // The tool's own words first; then what a template must not declare.
                let (mut checks, mut notes) =
                    self.check_terraform(&manifest, &files, check_format, sink)?;
                if manifest.serves.is_some() {
                    library::check_template_files(&files)?;
                }
                notes.extend(self.check_policies(&manifest, &files)?);
                checks.push("policy gates".into());
                (checks, notes)
            }
            EntryKind::Ansible => {
                library::check_ansible_params(&manifest.params)?;
                let playbook = manifest.playbook.clone().unwrap_or_default();
                let mut checks = self.check_playbook(&playbook, &manifest.params, &files, sink)?;
                let notes = self.check_policies(&manifest, &files)?;
                checks.push("policy gates".into());
                (checks, notes)
            }
            EntryKind::Role => self.check_role(&mut manifest, &files, sink)?,
            EntryKind::Script => self.check_script(&manifest, &files, sink)?,
        };
        for (name, bytes) in &files {
            let sha = self.store.put_artifact(&self.tenant.name, bytes)?;
            manifest.files.push(FileRef {
                name: name.clone(),
                sha256: sha,
                size: bytes.len() as u64,
            });
        }
        let body = manifest.to_bytes();
        let sha = self.store.put_artifact(&self.tenant.name, &body)?;
        if let Some(existing) = self.catalogue()?.find_sha(&manifest.name, &sha) {
            return Ok(Added {
                version: existing.clone(),
                new: false,
                checks,
                notes,
            });
        }
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::LibraryEntryAdded,
            Status::Completed,
        );
        ev.plan_id = manifest.from_plan.clone();
        let mut reference = library::ref_json(
            &manifest.name,
            &sha,
            Some(body.len() as u64),
            Some(self.store.artifact_uri(&self.tenant.name, &sha)),
        );
        if let Some(serves) = &manifest.serves {
            reference["serves"] = serde_json::Value::String(serves.clone());
        }
        ev.artifacts = vec![reference];
        ev.message = Some(format!(
            "library entry {} ({}, {} file{}{}) added by {}",
            manifest.name,
            manifest.kind,
            manifest.files.len(),
            if manifest.files.len() == 1 { "" } else { "s" },
            manifest
                .from_plan
                .as_ref()
                .map(|p| format!(", saved from plan {p}"))
                .unwrap_or_default(),
            self.identity.user
        ));
        self.append(&[ev])?;
        // The version is the place the chain gave it, whoever else added at the same time.
        let catalogue = self.catalogue()?;
        let version = catalogue
            .find_sha(&manifest.name, &sha)
            .cloned()
            .ok_or_else(|| Error::Unavailable("the added version is not in the trail".into()))?;
        Ok(Added {
            version,
            new: true,
            checks,
            notes,
        })
    }

    /// The built-in catalogue: the templates opsdeck renders plans from, as data, each a
    /// content-addressed version (`builtin/NAME`).
    pub fn builtin(&self) -> &'static [library::builtin::BuiltinVersion] {
        library::builtin::builtin_versions()
    }

    /// Every entry, by name, with its latest version's words.
    pub fn list(&self) -> Result<Vec<EntrySummary>> {
        self.require_reader("read the library")?;
        let c = self.catalogue()?;
        let mut out = Vec::new();
        for name in c.names() {
            let versions = c.versions(name);
            let Some(latest) = versions.last() else {
                continue;
            };
            let m = self.manifest(latest)?;
            out.push(EntrySummary {
                name: name.to_string(),
                kind: m.kind,
                description: m.description,
                tags: m.tags,
                owner: versions[0].added.user.clone(),
                latest: latest.version,
                versions: versions.len() as u32,
                deprecated: versions.iter().all(|v| v.deprecated.is_some()),
                uses: versions.iter().map(|v| v.used_by.len()).sum(),
            });
        }
        Ok(out)
    }

    /// Entries whose name, description, tags or kind hold every word.
    pub fn search(&self, words: &str) -> Result<Vec<EntrySummary>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|e| library::matches(e, words))
            .collect())
    }

    /// A version (the latest not deprecated when none is named), with every version's history.
    pub fn show(&self, entry: &str) -> Result<EntryDetail> {
        self.require_reader("read the library")?;
        let r = EntryRef::parse(entry)?;
        let c = self.catalogue()?;
        let info = c
            .resolve(&r)
            .or_else(|e| match (r.version, c.versions(&r.name).last()) {
                // Every version deprecated: still shown, the latest.
                (None, Some(last)) if !c.versions(&r.name).is_empty() => Ok(last),
                _ => Err(e),
            })?;
        let manifest = self.manifest(info)?;
        let script = match manifest.kind {
            EntryKind::Script => self
                .files(&manifest)?
                .into_iter()
                .next()
                .map(|(_, b)| String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        };
        Ok(EntryDetail {
            version: VersionDetail {
                info: info.clone(),
                manifest,
            },
            versions: c.versions(&r.name).to_vec(),
            script,
        })
    }

    /// Two versions compared: the manifest's words, then each file as a unified diff.
    pub fn diff(&self, a: &str, b: &str) -> Result<String> {
        self.require_reader("read the library")?;
        let c = self.catalogue()?;
        let side = |s: &str| -> Result<Side> {
            let r = EntryRef::parse(s)?;
            let v = c.resolve(&r)?;
            let m = self.manifest(v)?;
            let files = self
                .files(&m)?
                .into_iter()
                .map(|(n, b)| (n, String::from_utf8_lossy(&b).into_owned()))
                .collect();
            Ok((v.label(), m, files))
        };
        let (al, am, af) = side(a)?;
        let (bl, bm, bf) = side(b)?;
        Ok(library::diff_versions(&al, &am, &af, &bl, &bm, &bf))
    }

    /// Marks a version deprecated: it is no longer picked when no version is named.
    pub fn deprecate(&self, entry: &str, reason: &str) -> Result<VersionInfo> {
        self.require_member(WRITERS, "deprecate library entries")?;
        self.refuse_if_read_only("deprecate library entries", None)?;
        let r = EntryRef::parse(entry)?;
        if r.version.is_none() {
            return Err(Error::input(format!(
                "name the version to deprecate ({}@VERSION)",
                r.name
            )));
        }
        library::validate_description(reason)?;
        let c = self.catalogue()?;
        let v = c.resolve(&r)?;
        if let Some(d) = &v.deprecated {
            return Err(Error::input(format!(
                "{} was deprecated already, by {} at {}",
                v.label(),
                d.user,
                d.at
            )));
        }
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::LibraryEntryDeprecated,
            Status::Completed,
        );
        ev.artifacts = vec![library::ref_json(&v.name, &v.sha256, None, None)];
        ev.message = Some(if reason.trim().is_empty() {
            format!("deprecated by {}", self.identity.user)
        } else {
            redact(reason.trim())
        });
        self.append(&[ev])?;
        self.version_now(&r)
    }

    /// An approver approves a version for use (what `library_requires_approval` asks for); never
    /// the person who added it.
    pub fn approve(&self, entry: &str) -> Result<VersionInfo> {
        self.require_member(&[Role::Approver, Role::Admin], "approve library entries")?;
        self.refuse_if_read_only("approve library entries", None)?;
        let r = EntryRef::parse(entry)?;
        if r.version.is_none() {
            return Err(Error::input(format!(
                "name the version to approve ({}@VERSION): an approval is for exactly that content",
                r.name
            )));
        }
        let c = self.catalogue()?;
        let v = c.resolve(&r)?;
        if v.added.user == self.identity.user {
            let mut denied = self.event(
                &uuid::Uuid::new_v4().to_string(),
                EventKind::AccessDenied,
                Status::Failed,
            );
            denied.artifacts = vec![library::ref_json(&v.name, &v.sha256, None, None)];
            denied.message = Some(format!(
                "{} tried to approve {}, which they added",
                self.identity.user,
                v.label()
            ));
            self.append(&[denied])?;
            return Err(Error::refused(format!(
                "you added {}: someone else approves it",
                v.label()
            )));
        }
        let mut ev = self.event(
            &uuid::Uuid::new_v4().to_string(),
            EventKind::LibraryEntryApproved,
            Status::Completed,
        );
        ev.artifacts = vec![library::ref_json(&v.name, &v.sha256, None, None)];
        ev.message = Some(format!("{} approved by {}", v.label(), self.identity.user));
        self.append(&[ev])?;
        self.version_now(&r)
    }

    fn version_now(&self, r: &EntryRef) -> Result<VersionInfo> {
        self.catalogue()?.resolve(r).cloned()
    }
}
