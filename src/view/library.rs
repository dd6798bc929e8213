//! The artifact library as front ends show it: an entry's row (name@latest, kind, versions,
//! uses, owner, state, tags), a version's row, a version's account line by line (what
//! `opsdeck library show` prints and the console's Library pane lists), a built-in template's
//! row, and the request that uses a version. Pure: built from what the core read.

use crate::library::builtin::BuiltinVersion;
use crate::library::{VersionDetail, VersionInfo};
use crate::pipeline::EntryOverview;

/// How a line of a version's account reads: front ends pick the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Title,
    Text,
    Muted,
    /// Deprecated: used only when named.
    Warn,
    /// Approved for use.
    Good,
}

/// One entry's row.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRowView {
    /// `web-tier@2`: the latest version.
    pub label: String,
    pub kind: String,
    pub versions: String,
    pub uses: String,
    pub owner: String,
    /// `deprecated` (every version), `latest deprecated`, `approved` (the latest), or empty.
    pub state: String,
    pub tags: String,
    pub description: String,
}

impl EntryRowView {
    pub fn of(o: &EntryOverview) -> EntryRowView {
        let s = &o.summary;
        let state = if s.deprecated {
            "deprecated"
        } else if o.latest.deprecated.is_some() {
            "latest deprecated"
        } else if !o.latest.approvals.is_empty() {
            "approved"
        } else {
            ""
        };
        EntryRowView {
            label: format!("{}@{}", s.name, s.latest),
            kind: s.kind.to_string(),
            versions: s.versions.to_string(),
            uses: s.uses.to_string(),
            owner: s.owner.clone(),
            state: state.to_string(),
            tags: s.tags.join(","),
            description: s.description.clone(),
        }
    }

    /// How the state reads.
    pub fn tone(&self) -> Tone {
        match self.state.as_str() {
            "approved" => Tone::Good,
            "" => Tone::Text,
            _ => Tone::Warn,
        }
    }
}

/// A built-in template's row (`library list --built-in`).
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinRowView {
    pub name: String,
    pub kind: String,
    pub file: String,
    pub description: String,
}

impl BuiltinRowView {
    pub fn of(v: &BuiltinVersion) -> BuiltinRowView {
        let t = &v.template;
        BuiltinRowView {
            name: t.name.clone(),
            kind: t.kind.to_string(),
            file: t.file.clone(),
            description: t.description.clone(),
        }
    }
}

/// A stamp to the minute, as lists show it: `2026-11-24 09:30`.
pub fn minute(at: &crate::time::Stamp) -> String {
    format!("{at:.16}").replacen('T', " ", 1)
}

/// One version's row.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRowView {
    pub label: String,
    pub added_by: String,
    pub added_at: String,
    /// `deprecated`, `approved by bob`, or empty.
    pub state: String,
    pub uses: String,
    /// The manifest's SHA-256, first 12 digits.
    pub sha: String,
}

impl VersionRowView {
    pub fn of(v: &VersionInfo) -> VersionRowView {
        let state = match (&v.deprecated, v.approvals.as_slice()) {
            (Some(_), _) => "deprecated".to_string(),
            (None, []) => String::new(),
            (None, approvals) => format!(
                "approved by {}",
                approvals
                    .iter()
                    .map(|a| a.user.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        VersionRowView {
            label: v.label(),
            added_by: v.added.user.clone(),
            added_at: minute(&v.added.at),
            state,
            uses: v.used_by.len().to_string(),
            sha: v.sha256.chars().take(12).collect(),
        }
    }

    pub fn tone(&self) -> Tone {
        if self.state == "deprecated" {
            Tone::Warn
        } else if self.state.is_empty() {
            Tone::Text
        } else {
            Tone::Good
        }
    }
}

/// A version's account: its words, identity, history, parameters, files and the plans that
/// used it, one line each (`library show` prints these under the version's name).
pub fn version_lines(d: &VersionDetail) -> Vec<(Tone, String)> {
    let m = &d.manifest;
    let v = &d.info;
    let mut out = Vec::new();
    let mut say = |tone: Tone, s: String| out.push((tone, s));
    if !m.description.is_empty() {
        say(Tone::Text, format!("  {}", m.description));
    }
    if !m.tags.is_empty() {
        say(Tone::Text, format!("  tags: {}", m.tags.join(", ")));
    }
    say(Tone::Muted, format!("  sha256 {}", v.sha256));
    say(
        Tone::Text,
        format!("  added by {} at {}", v.added.user, v.added.at),
    );
    if let Some(p) = &m.from_plan {
        say(Tone::Text, format!("  saved from plan {p}"));
    }
    if let Some(s) = &m.serves {
        say(
            Tone::Text,
            format!("  the tenant's template for {s} requests"),
        );
    }
    if let Some(dep) = &v.deprecated {
        say(
            Tone::Warn,
            format!(
                "  DEPRECATED by {} at {}: {}",
                dep.user,
                dep.at,
                dep.reason.as_deref().unwrap_or("")
            ),
        );
    }
    for a in &v.approvals {
        say(Tone::Good, format!("  approved by {} at {}", a.user, a.at));
    }
    if m.params.is_empty() {
        say(Tone::Text, "  parameters: none".into());
    } else {
        say(Tone::Title, "  parameters:".into());
        for p in &m.params {
            say(
                Tone::Text,
                match &p.default {
                    Some(d) => format!("    {} ({}, default {d})", p.name, p.kind.as_str()),
                    None => format!("    {} ({}, required)", p.name, p.kind.as_str()),
                },
            );
        }
    }
    say(Tone::Title, "  files:".into());
    for f in &m.files {
        say(
            Tone::Text,
            format!(
                "    {} ({} bytes, sha256 {})",
                f.name,
                f.size,
                f.sha256.chars().take(12).collect::<String>()
            ),
        );
    }
    if v.used_by.is_empty() {
        say(Tone::Muted, "  used by no plan yet".into());
    } else {
        say(Tone::Title, "  used by:".into());
        for u in &v.used_by {
            say(
                Tone::Text,
                format!("    plan {} by {} at {}", u.plan_id, u.user, u.at),
            );
        }
    }
    out
}

/// A script's text as `library show` prints it: each line numbered as the policies and the
/// shell name them, anything a terminal would act on escaped.
pub fn script_lines(text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .map(|(i, l)| format!("  {:>4}  {}", i + 1, crate::sanitize::line(l)))
        .collect()
}

/// The request that uses a version, as the parser reads it ("library entry NAME@V"): put in
/// the prompt, it goes through the usual reading, gates, dry runs and approvals.
pub fn use_request(label: &str) -> String {
    format!("use library entry {label}")
}

/// The parameters a use must give a value to (no default): a request's words give only a
/// region, so these need `opsdeck ask --use … --set NAME=VALUE`.
pub fn required_params(d: &VersionDetail) -> Vec<String> {
    d.manifest
        .params
        .iter()
        .filter(|p| p.default.is_none() && p.name != "region")
        .map(|p| p.name.clone())
        .collect()
}
