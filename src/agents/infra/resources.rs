//! Reading Terraform text back: the resources a stack declares (with literal counts), and what
//! re-rendering a stack changes, resource by resource.

use std::collections::BTreeMap;

use crate::agents::DraftFile;
use crate::plan::{ArtifactKind, ChangeAction, ResourceChange};

/// Resources declared in Terraform files, with their literal `count` where there is one (or
/// the count of the resource a `length(...)` names).
pub fn resources_in(files: &[DraftFile], action: ChangeAction) -> Vec<ResourceChange> {
    let mut out: Vec<ResourceChange> = Vec::new();
    for f in files.iter().filter(|f| f.kind == ArtifactKind::Terraform) {
        let text = String::from_utf8_lossy(&f.content);
        let mut current: Option<usize> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("resource \"") {
                let mut parts = rest.split('"');
                let rtype = parts.next().unwrap_or_default();
                let name = parts.nth(1).unwrap_or_default();
                out.push(ResourceChange {
                    address: format!("{rtype}.{name}"),
                    action,
                    count: 1,
                });
                current = Some(out.len() - 1);
            } else if line.starts_with('}') {
                current = None;
            } else if let Some(idx) = current
                && let Some((k, v)) = line.split_once('=')
                && k.trim() == "count"
            {
                let v = v.trim();
                let counted = v
                    .strip_prefix("length(")
                    .and_then(|r| r.strip_suffix(')'))
                    .and_then(|addr| out.iter().find(|r| r.address == addr))
                    .map(|r| r.count);
                out[idx].count = v.parse().ok().or(counted).unwrap_or(1);
            }
        }
    }
    out
}

/// Top-level resource blocks by address, as text.
fn resource_blocks(files: &[DraftFile]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in files.iter().filter(|f| f.kind == ArtifactKind::Terraform) {
        let text = String::from_utf8_lossy(&f.content);
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("resource \"") {
                let mut parts = rest.split('"');
                let rtype = parts.next().unwrap_or_default();
                let name = parts.nth(1).unwrap_or_default();
                current = Some((format!("{rtype}.{name}"), String::new()));
            }
            if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
            if line.starts_with('}')
                && let Some((addr, body)) = current.take()
            {
                out.insert(addr, body);
            }
        }
    }
    out
}

/// What re-rendering a stack changes, resource by resource.
pub(super) fn changed_resources(old: &[DraftFile], new: &[DraftFile]) -> Vec<ResourceChange> {
    let (before, after) = (resource_blocks(old), resource_blocks(new));
    let counts: BTreeMap<String, u32> = resources_in(new, ChangeAction::Update)
        .into_iter()
        .map(|r| (r.address, r.count))
        .collect();
    let mut out = Vec::new();
    for (addr, body) in &after {
        let action = match before.get(addr) {
            None => ChangeAction::Create,
            Some(b) if b != body => ChangeAction::Update,
            Some(_) => continue,
        };
        out.push(ResourceChange {
            address: addr.clone(),
            action,
            count: counts.get(addr).copied().unwrap_or(1),
        });
    }
    for addr in before.keys().filter(|a| !after.contains_key(*a)) {
        out.push(ResourceChange {
            address: addr.clone(),
            action: ChangeAction::Delete,
            count: 1,
        });
    }
    out
}
