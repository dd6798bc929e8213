//! The tenant's artifact library (issue 18 part 1): Terraform modules, Ansible playbooks and
//! shell scripts (`script.rs`) with a name, description, tags and typed parameters, in immutable
//! versions. A version is a manifest (this module's [`Manifest`]) stored content-addressed with
//! the files it names, as artifacts like a plan's; the catalogue of names, versions,
//! deprecations, approvals and uses is read from the tenant's audit trail ([`Catalogue`]), so
//! both backends hold it as they hold the trail, and version numbers are the order the chain
//! gives, whoever added at once.
//!
//! Nothing here reads a store or runs a tool: `pipeline/library.rs` does, and the checks at add
//! time are `exec::terraform::check_module` and `exec::ansible::syntax_check`.

pub mod builtin;
pub mod files;
mod params;
pub mod role;
pub mod script;
mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{AuditRecord, EventKind};
use crate::error::{Error, Result};
use crate::time::Stamp;

pub use files::check_template_files;
pub use params::{
    Param, ParamType, Values, check_ansible_params, check_params, check_variables, parse_param,
    render_extra_vars, render_tfvars, resolve_values,
};
pub use text::{diff_files, diff_versions, may_name_entry, referenced_entry};

/// The `kind` an event's library reference carries in its `artifacts` entry.
pub const REF_KIND: &str = "library_entry";
/// The file a Terraform entry's parameter values are written to (Terraform loads it by itself).
pub const TFVARS_FILE: &str = "opsdeck_library.auto.tfvars";
/// The file an Ansible entry's parameter values are written to, passed as extra vars.
pub const VARS_FILE: &str = "opsdeck_library_vars.yml";
/// The largest entry, all files together.
pub const MAX_ENTRY_BYTES: usize = 4 * 1024 * 1024;

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A Terraform module (top-level `*.tf` files), applied as a stack.
    Terraform,
    /// An Ansible playbook, run on the hosts of an inventory given with the request.
    Ansible,
    /// An Ansible role (`tasks/main.yml` and the rest of its layout), applied to the hosts of
    /// an inventory by a wrapper playbook opsdeck writes (see [`role`]).
    Role,
    /// A shell script, run on instances through SSM Run Command (`script.rs`).
    Script,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Terraform => "terraform",
            EntryKind::Ansible => "ansible",
            EntryKind::Role => "role",
            EntryKind::Script => "script",
        }
    }

    /// The agent that plans this kind's files.
    pub fn agent(self) -> crate::intent::AgentKind {
        match self {
            EntryKind::Terraform => crate::intent::AgentKind::Infra,
            EntryKind::Ansible | EntryKind::Role => crate::intent::AgentKind::Config,
            EntryKind::Script => crate::intent::AgentKind::Ops,
        }
    }

    pub fn parse(s: &str) -> Result<EntryKind> {
        match s {
            "terraform" => Ok(EntryKind::Terraform),
            "ansible" => Ok(EntryKind::Ansible),
            "role" => Ok(EntryKind::Role),
            "script" => Ok(EntryKind::Script),
            other => Err(Error::input(format!(
                "library entry kind '{}' is not known: terraform, ansible, role or script",
                crate::sanitize::line(other)
            ))),
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a version, stored as an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// What a version is: its identity is the SHA-256 of this manifest as stored, so the same
/// files, parameters and words make the same version. Who added it and when are the trail's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub kind: EntryKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    /// An Ansible entry's playbook (among `files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    pub files: Vec<FileRef>,
    /// The applied plan it was saved from (`library save`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_plan: Option<String>,
    /// The requests it serves as the tenant's template (`infra/create/s3`): planned with the
    /// built-in templates, a module alongside the stack, a playbook after the built-in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serves: Option<String>,
}

/// What an entry describes about itself, beyond its files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryWords {
    pub description: String,
    pub tags: Vec<String>,
    pub params: Vec<Param>,
    /// `AGENT/ACTION/TARGET` (see [`template_key`]).
    pub serves: Option<String>,
}

/// `AGENT/ACTION/TARGET`: agent `infra` or `config`, an action (`create`), and what the request
/// names (the service, `s3`, or the kind of resource, `vpc`), lowercase.
pub fn validate_serves(s: &str) -> Result<()> {
    let parts: Vec<&str> = s.split('/').collect();
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 40
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let ok = parts.len() == 3
        && ["infra", "config"].contains(&parts[0])
        && word(parts[1])
        && word(parts[2]);
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "--serves '{}' is AGENT/ACTION/TARGET with agent infra or config, lowercase (infra/create/s3: what `opsdeck classify` reads as agent, action and service)",
            crate::sanitize::line(s)
        )))
    }
}

/// The key a request's reading has among tenant templates: `agent/action/target`, the target
/// being the service it names (lowercase) or else its kind of resource. Only infra and config
/// requests have one.
pub fn template_key(intent: &crate::intent::Intent) -> Option<String> {
    use crate::intent::AgentKind;
    if !matches!(intent.agent, AgentKind::Infra | AgentKind::Config) {
        return None;
    }
    let target = intent
        .params
        .service
        .as_ref()
        .map(|s| s.to_lowercase())
        .or_else(|| intent.params.resource.map(|r| r.as_str().to_string()))?;
    Some(format!("{}/{}/{target}", intent.agent, intent.action))
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    /// The stored bytes: one fixed serialisation, so equal manifests hash alike.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        v.push(b'\n');
        v
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::input(format!("a library manifest does not read back: {e}")))
    }
}

/// `NAME` or `NAME@VERSION` as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef {
    pub name: String,
    pub version: Option<u32>,
}

impl EntryRef {
    pub fn parse(s: &str) -> Result<EntryRef> {
        let s = s.trim();
        let (name, version) = match s.split_once('@') {
            Some((n, v)) => {
                let v = v.strip_prefix('v').unwrap_or(v);
                let n_ok = v.parse::<u32>().ok().filter(|v| *v >= 1);
                let Some(version) = n_ok else {
                    return Err(Error::input(format!(
                        "'{s}': the version after @ is a number from 1 (web-tier@3)"
                    )));
                };
                (n, Some(version))
            }
            None => (s, None),
        };
        validate_name(name)?;
        Ok(EntryRef {
            name: name.to_string(),
            version,
        })
    }
}

impl std::fmt::Display for EntryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// An entry name: 1 to 63 lowercase letters, digits and `-`, starting with a letter. It
/// becomes a default stack name and is matched in request words.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "library entry name '{}' must be 1 to 63 lowercase letters, digits or '-', starting with a letter (web-tier)",
            crate::sanitize::line(name)
        )))
    }
}

/// A tag: 1 to 40 lowercase letters, digits, `-`, `_` or `.`.
pub fn validate_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 40
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "tag '{}' must be 1 to 40 lowercase letters, digits, '-', '_' or '.'",
            crate::sanitize::line(tag)
        )))
    }
}

/// A description: one line of at most 300 characters, no control characters.
pub fn validate_description(d: &str) -> Result<()> {
    if d.chars().count() > 300 || d.chars().any(char::is_control) {
        return Err(Error::input(
            "the description is one line of at most 300 characters, without control characters",
        ));
    }
    Ok(())
}

/// Who did what to a version, from the trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub user: String,
    pub at: Stamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A plan made from a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub plan_id: String,
    pub user: String,
    pub at: Stamp,
}

/// A plan rendered from a built-in version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuiltinUsage {
    /// The built-in version's manifest SHA-256 (the binary that rendered the plan had it).
    pub sha256: String,
    #[serde(flatten)]
    pub usage: Usage,
}

/// One version as the trail knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionInfo {
    pub name: String,
    pub version: u32,
    /// The manifest's SHA-256: the version's identity.
    pub sha256: String,
    pub added: Mark,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<Mark>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Mark>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<Usage>,
    /// The requests it serves as a tenant template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serves: Option<String>,
    /// Its `library_entry_added` record's place in the chain.
    #[serde(skip)]
    pub seq: u64,
}

impl VersionInfo {
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The tenant's library as its trail records it: entries by name, versions in the order the
/// chain took them.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: BTreeMap<String, Vec<VersionInfo>>,
    /// Plans rendered from built-in versions: by `builtin/NAME`, each with the version's SHA-256.
    builtin_uses: BTreeMap<String, Vec<BuiltinUsage>>,
    /// The last trail record taken into account: an incremental reader's cursor.
    seen: u64,
}

/// Whether a trail event is one the catalogue reads.
pub fn is_library_event(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::LibraryEntryAdded
            | EventKind::LibraryEntryDeprecated
            | EventKind::LibraryEntryApproved
            | EventKind::LibraryEntryUsed
    )
}

/// The library reference an event carries: its first `artifacts` entry of kind
/// [`REF_KIND`], `{name, sha256}`.
pub fn event_ref(rec: &AuditRecord) -> Option<(String, String)> {
    rec.event.artifacts.iter().find_map(|a| {
        (a["kind"] == REF_KIND).then(|| {
            Some((
                a["name"].as_str()?.to_string(),
                a["sha256"].as_str()?.to_string(),
            ))
        })?
    })
}

/// The `artifacts` entry a plan's `planned` event names a built-in version it was rendered from
/// with (`builtin: true`; the name is `builtin/NAME`).
pub fn builtin_ref_json(r: &builtin::BuiltinRef) -> Value {
    json!({"name": r.name, "kind": REF_KIND, "sha256": r.sha256, "builtin": true})
}

/// The built-in versions a `planned` event names.
fn builtin_refs(rec: &AuditRecord) -> impl Iterator<Item = (&str, &str)> {
    rec.event.artifacts.iter().filter_map(|a| {
        (a["kind"] == REF_KIND && a["builtin"] == true)
            .then(|| Some((a["name"].as_str()?, a["sha256"].as_str()?)))?
    })
}

/// Whether the catalogue reads this trail record: a library event, or a plan's `planned` event
/// that names built-in versions.
pub fn is_catalogue_record(rec: &AuditRecord) -> bool {
    is_library_event(rec.event.event)
        || (rec.event.event == EventKind::Planned && builtin_refs(rec).next().is_some())
}

/// The `artifacts` entry that names a version in an event.
pub fn ref_json(name: &str, sha256: &str, size: Option<u64>, uri: Option<String>) -> Value {
    let mut v = json!({"name": name, "kind": REF_KIND, "sha256": sha256});
    if let Some(size) = size {
        v["size"] = json!(size);
    }
    if let Some(uri) = uri {
        v["uri"] = json!(uri);
    }
    v
}

impl Catalogue {
    /// The last trail record taken into account (0: none).
    pub fn cursor(&self) -> u64 {
        self.seen
    }

    /// Records up to `seq` were read (those that are not the library's included).
    pub fn seen_up_to(&mut self, seq: u64) {
        self.seen = self.seen.max(seq);
    }

    /// Takes one trail record into account (records come oldest first); one already taken
    /// (at or before the cursor) is skipped, so incremental reads may overlap.
    pub fn record(&mut self, rec: &AuditRecord) {
        let kind = rec.event.event;
        if rec.seq <= self.seen {
            return;
        }
        self.seen = self.seen.max(rec.seq);
        if kind == EventKind::Planned {
            if let Some(plan_id) = &rec.event.plan_id {
                for (name, sha) in builtin_refs(rec) {
                    self.builtin_uses
                        .entry(name.to_string())
                        .or_default()
                        .push(BuiltinUsage {
                            sha256: sha.to_string(),
                            usage: Usage {
                                plan_id: plan_id.clone(),
                                user: rec.event.user_id.clone(),
                                at: rec.event.timestamp.clone(),
                            },
                        });
                }
            }
            return;
        }
        if !is_library_event(kind) {
            return;
        }
        let Some((name, sha)) = event_ref(rec) else {
            return;
        };
        let mark = Mark {
            user: rec.event.user_id.clone(),
            at: rec.event.timestamp.clone(),
            reason: None,
        };
        if kind == EventKind::LibraryEntryAdded {
            let versions = self.entries.entry(name.clone()).or_default();
            if !versions.iter().any(|v| v.sha256 == sha) {
                let version = versions.len() as u32 + 1;
                let serves = rec.event.artifacts.iter().find_map(|a| {
                    (a["kind"] == REF_KIND)
                        .then(|| a["serves"].as_str().map(str::to_string))
                        .flatten()
                });
                versions.push(VersionInfo {
                    name,
                    version,
                    sha256: sha,
                    added: mark,
                    deprecated: None,
                    approvals: Vec::new(),
                    used_by: Vec::new(),
                    serves,
                    seq: rec.seq,
                });
            }
            return;
        }
        let Some(v) = self
            .entries
            .get_mut(&name)
            .and_then(|vs| vs.iter_mut().find(|v| v.sha256 == sha))
        else {
            return;
        };
        match kind {
            EventKind::LibraryEntryDeprecated if v.deprecated.is_none() => {
                v.deprecated = Some(Mark {
                    reason: rec.event.message.clone(),
                    ..mark
                });
            }
            EventKind::LibraryEntryApproved if !v.approvals.iter().any(|a| a.user == mark.user) => {
                v.approvals.push(mark);
            }
            EventKind::LibraryEntryUsed => {
                if let Some(plan_id) = &rec.event.plan_id {
                    v.used_by.push(Usage {
                        plan_id: plan_id.clone(),
                        user: mark.user,
                        at: mark.at,
                    });
                }
            }
            _ => {}
        }
    }

    /// The plans rendered from a built-in template (`builtin/NAME`), any of its versions,
    /// oldest first.
    pub fn builtin_uses(&self, name: &str) -> &[BuiltinUsage] {
        self.builtin_uses
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn versions(&self, name: &str) -> &[VersionInfo] {
        self.entries.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A version by reference: the one named, or the latest not deprecated.
    pub fn resolve(&self, r: &EntryRef) -> Result<&VersionInfo> {
        let versions = self.versions(&r.name);
        if versions.is_empty() {
            return Err(Error::not_found(
                "library entry",
                r.name.clone(),
                "see `opsdeck library list`",
            ));
        }
        match r.version {
            Some(n) => versions.get(n as usize - 1).ok_or_else(|| {
                Error::not_found(
                    "library entry version",
                    r.to_string(),
                    format!("{} has versions 1 to {}", r.name, versions.len()),
                )
            }),
            None => versions
                .iter()
                .rev()
                .find(|v| v.deprecated.is_none())
                .ok_or_else(|| {
                    Error::input(format!(
                        "every version of library entry {} is deprecated: name one (NAME@VERSION) to use it anyway, or add a new one",
                        r.name
                    ))
                }),
        }
    }

    /// The tenant's template for requests with this key: of the entries whose latest version
    /// not deprecated serves it, the one added last.
    pub fn template_for(&self, key: &str) -> Option<&VersionInfo> {
        self.entries
            .values()
            .filter_map(|vs| vs.iter().rev().find(|v| v.deprecated.is_none()))
            .filter(|v| v.serves.as_deref() == Some(key))
            .max_by_key(|v| v.seq)
    }

    /// The version with this manifest, if the entry has it already.
    pub fn find_sha(&self, name: &str, sha: &str) -> Option<&VersionInfo> {
        self.versions(name).iter().find(|v| v.sha256 == sha)
    }
}

/// An entry as `library list` and `search` show it: its latest version's words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntrySummary {
    pub name: String,
    pub kind: EntryKind,
    pub description: String,
    pub tags: Vec<String>,
    /// Who added its first version.
    pub owner: String,
    pub latest: u32,
    pub versions: u32,
    /// Every version is deprecated.
    pub deprecated: bool,
    pub uses: usize,
}

/// A version as `library show` gives it: the trail's account and the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub info: VersionInfo,
    pub manifest: Manifest,
}

/// Whether an entry matches search words: every word in its name, description, tags or kind.
pub fn matches(summary: &EntrySummary, words: &str) -> bool {
    let hay = format!(
        "{} {} {} {}",
        summary.name,
        summary.description.to_lowercase(),
        summary.tags.join(" "),
        summary.kind
    );
    words
        .split_whitespace()
        .all(|w| hay.contains(&w.to_lowercase()))
}

#[cfg(test)]
mod tests;
