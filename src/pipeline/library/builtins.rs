//! The built-in catalogue's versions kept like a tenant's own: a plan rendered from a built-in
//! version keeps that version's manifest and template with the tenant's artifacts
//! (content-addressed, so once), and the plan's events name it. After an upgrade the plans
//! approved under an older binary can still be shown the template they were rendered from,
//! and compared with today's (`library show builtin/NAME@SHA`, `library diff`).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::library::builtin::{self, BuiltinRef, BuiltinVersion, KeptManifest};
use crate::library::{self, BuiltinUsage, EntryKind, Usage};
use crate::plan::ArtifactKind;
use crate::store::Store;
use crate::time::Stamp;

use super::super::Library;

/// A built-in version shown: the catalogue's words, its identity, the plans rendered from it,
/// and every version of the template this tenant's plans were rendered from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltinDetail {
    pub version: BuiltinVersion,
    /// Whether it is this binary's version of the template.
    pub current: bool,
    pub used_by: Vec<Usage>,
    /// Plans rendered from other versions of this template (an older or newer binary's).
    pub earlier_versions_used_by: Vec<BuiltinUsage>,
    /// This binary's version and each one the tenant's plans name, oldest use first.
    pub versions: Vec<BuiltinVersionSeen>,
}

/// One version of a built-in template as the tenant's trail and artifacts know it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BuiltinVersionSeen {
    pub sha256: String,
    /// This binary's version.
    pub current: bool,
    /// Plans rendered from it.
    pub plans: usize,
    pub first_used: Option<Stamp>,
    pub last_used: Option<Stamp>,
    /// Its manifest is among the tenant's artifacts, so it can be shown and compared.
    pub kept: bool,
}

/// Keeps each built-in version a plan was rendered from with the tenant's artifacts: its
/// template, then its manifest (whose SHA-256 the plan records). Storing is idempotent, and
/// only this binary's own versions can be kept.
pub(in crate::pipeline) fn keep_builtin_versions(
    store: &dyn Store,
    tenant: &str,
    used: &[BuiltinRef],
) -> Result<()> {
    for r in used {
        let v = builtin::builtin_version(&r.name)?;
        if v.sha256 != r.sha256 {
            continue;
        }
        let (manifest, template) = v.kept_bytes();
        let kind = match v.template.kind {
            EntryKind::Ansible => ArtifactKind::Ansible,
            _ => ArtifactKind::Terraform,
        };
        store.put_artifact_as(tenant, kind, template)?;
        store.put_artifact(tenant, &manifest)?;
    }
    Ok(())
}

/// `builtin/NAME` or `builtin/NAME@SHA` (at least 8 hex digits of the version's SHA-256).
fn split_version(s: &str) -> Result<(&str, Option<String>)> {
    let Some((name, sha)) = s.trim().split_once('@') else {
        return Ok((s.trim(), None));
    };
    let sha = sha.to_ascii_lowercase();
    if !(8..=64).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::input(format!(
            "'{}' names a built-in version by at least 8 hex digits of its SHA-256 (builtin/NAME@3fa2c9d1): `opsdeck library show {name}` lists its versions",
            crate::sanitize::line(s)
        )));
    }
    Ok((name, Some(sha)))
}

impl Library<'_> {
    /// Every version of a built-in template: this binary's, and each one the tenant's plans
    /// were rendered from, with the plans' count and dates and whether it is kept.
    fn builtin_versions_seen(
        &self,
        current: &BuiltinVersion,
        uses: &[BuiltinUsage],
    ) -> Vec<BuiltinVersionSeen> {
        let mut by_sha: BTreeMap<&str, BuiltinVersionSeen> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for u in uses {
            let seen = by_sha.entry(&u.sha256).or_insert_with(|| {
                order.push(&u.sha256);
                BuiltinVersionSeen {
                    sha256: u.sha256.clone(),
                    current: u.sha256 == current.sha256,
                    plans: 0,
                    first_used: Some(u.usage.at.clone()),
                    last_used: None,
                    kept: false,
                }
            });
            seen.plans += 1;
            seen.last_used = Some(u.usage.at.clone());
        }
        if !by_sha.contains_key(current.sha256.as_str()) {
            order.push(&current.sha256);
            by_sha.insert(
                &current.sha256,
                BuiltinVersionSeen {
                    sha256: current.sha256.clone(),
                    current: true,
                    plans: 0,
                    first_used: None,
                    last_used: None,
                    kept: true,
                },
            );
        }
        order
            .into_iter()
            .filter_map(|sha| by_sha.remove(sha))
            .map(|mut v| {
                v.kept = v.current || self.kept_builtin(&v.sha256).is_ok();
                v
            })
            .collect()
    }

    /// A version another binary had, read from the tenant's artifacts.
    fn kept_builtin(&self, sha256: &str) -> Result<BuiltinVersion> {
        let bytes = self.store.get_artifact(&self.tenant.name, sha256)?;
        let m: KeptManifest = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "artifact {} is not a built-in version's manifest: {e}",
                crate::approval::short(sha256)
            ))
        })?;
        BuiltinVersion::from_kept(sha256, m)
    }

    /// The version `builtin/NAME[@SHA]` names, with its template's text.
    fn builtin_side(&self, asked: &str) -> Result<(BuiltinVersion, String, Vec<BuiltinUsage>)> {
        let (name, sha) = split_version(asked)?;
        let current = builtin::builtin_version(name)?;
        let uses = self.catalogue()?.builtin_uses(&current.label).to_vec();
        let Some(prefix) = sha else {
            let (_, template) = current.kept_bytes();
            let text = String::from_utf8_lossy(template).into_owned();
            return Ok((current.clone(), text, uses));
        };
        let mut known: Vec<&str> = uses.iter().map(|u| u.sha256.as_str()).collect();
        known.push(&current.sha256);
        known.sort();
        known.dedup();
        let matching: Vec<&str> = known
            .iter()
            .copied()
            .filter(|s| s.starts_with(&prefix))
            .collect();
        let sha = match matching.as_slice() {
            [one] => one.to_string(),
            [] => {
                return Err(Error::not_found(
                    "built-in version",
                    format!("{}@{prefix}", current.label),
                    format!(
                        "no plan of this tenant was rendered from it; `opsdeck library show {}` lists the versions",
                        current.label
                    ),
                ));
            }
            _ => {
                return Err(Error::input(format!(
                    "{}@{prefix} names {} versions: give more digits",
                    current.label,
                    matching.len()
                )));
            }
        };
        if sha == current.sha256 {
            let (_, template) = current.kept_bytes();
            let text = String::from_utf8_lossy(template).into_owned();
            return Ok((current.clone(), text, uses));
        }
        let plans = uses.iter().filter(|u| u.sha256 == sha).count();
        let version = self.kept_builtin(&sha).map_err(|e| match e.kind() {
            crate::error::Kind::NotFound => Error::not_found(
                "built-in version",
                format!("{}@{}", current.label, crate::approval::short(&sha)),
                format!(
                    "{plans} plan{} of this tenant were rendered from it, but its template was not kept (plans made before opsdeck kept built-in versions): only its uses are known",
                    if plans == 1 { "" } else { "s" }
                ),
            ),
            _ => e,
        })?;
        if version.label != current.label {
            return Err(Error::input(format!(
                "{}@{} is a version of {}, not of {}",
                current.label,
                crate::approval::short(&sha),
                version.label,
                current.label
            )));
        }
        let template = self
            .store
            .get_artifact(&self.tenant.name, &version.file_sha256)?;
        let text = String::from_utf8_lossy(&template).into_owned();
        Ok((version, text, uses))
    }

    /// A built-in version (`builtin/NAME` for this binary's, `builtin/NAME@SHA` for one the
    /// tenant's plans were rendered from) with the plans rendered from it, read from the trail
    /// like a tenant entry's uses, and every version the tenant's plans name.
    pub fn show_builtin(&self, name: &str) -> Result<BuiltinDetail> {
        self.require_reader("read the library")?;
        let (version, _, uses) = self.builtin_side(name)?;
        let current = builtin::builtin_version(&version.label)?;
        let versions = self.builtin_versions_seen(current, &uses);
        let (used_by, earlier): (Vec<_>, Vec<_>) =
            uses.into_iter().partition(|u| u.sha256 == version.sha256);
        Ok(BuiltinDetail {
            current: version.sha256 == current.sha256,
            version,
            used_by: used_by.into_iter().map(|u| u.usage).collect(),
            earlier_versions_used_by: earlier,
            versions,
        })
    }

    /// Two built-in versions compared: the catalogue's words that differ, then the template
    /// as a unified diff (`library diff builtin/network@3fa2c9d1 builtin/network`).
    pub fn diff_builtin(&self, a: &str, b: &str) -> Result<String> {
        self.require_reader("read the library")?;
        let (av, at, _) = self.builtin_side(a)?;
        let (bv, bt, _) = self.builtin_side(b)?;
        let label =
            |v: &BuiltinVersion| format!("{}@{}", v.label, crate::approval::short(&v.sha256));
        let (al, bl) = (label(&av), label(&bv));
        let mut out = String::new();
        let mut field = |what: &str, x: String, y: String| {
            if x != y {
                out.push_str(&format!("{what}: {x} -> {y}\n"));
            }
        };
        let (ta, tb) = (&av.template, &bv.template);
        field("kind", ta.kind.to_string(), tb.kind.to_string());
        field(
            "description",
            format!("{:?}", ta.description),
            format!("{:?}", tb.description),
        );
        field("reads", ta.reads.join(", "), tb.reads.join(", "));
        field("safety", ta.safety.join("; "), tb.safety.join("; "));
        field("limits", ta.limits.join("; "), tb.limits.join("; "));
        field(
            "defaults",
            serde_json::to_string(&ta.defaults).unwrap_or_default(),
            serde_json::to_string(&tb.defaults).unwrap_or_default(),
        );
        let part = |p: &Option<Vec<String>>| match p {
            None => "not a stack part".to_string(),
            Some(when) if when.is_empty() => "in every stack".to_string(),
            Some(when) => format!("in a stack when {}", when.join(" or ")),
        };
        field("stack part", part(&av.stack_part), part(&bv.stack_part));
        library::diff_files(
            &mut out,
            &al,
            &[(ta.file.clone(), at)],
            &bl,
            &[(tb.file.clone(), bt)],
        );
        if out.is_empty() {
            out.push_str("no differences\n");
        }
        Ok(out)
    }
}
