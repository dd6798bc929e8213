//! Drift notifications once per drift: every check is audited, but a `drift_found` whose
//! subject (a stack, an applied playbook) was already found drifted in exactly the same way at
//! its last settled check (clean or drifted; a check that could not run settles nothing) is
//! marked `repeat` and sends no notification. A drift that changes, or clears and comes back,
//! is told again.

use std::collections::HashMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::Drift;
use super::DriftStatus;
use crate::audit::EventKind;
use crate::error::Result;

/// Each subject's last settled check: its status and, when drifted, its fingerprint.
pub(super) type Settled = HashMap<String, (DriftStatus, Option<String>)>;

/// Who a drift check's metadata is about: `stack NAME`, or `playbook PATH of PLAN`.
pub(super) fn subject(meta: &Value) -> Option<String> {
    if let Some(stack) = meta.get("stack").and_then(Value::as_str) {
        return Some(format!("stack {stack}"));
    }
    let playbook = meta.get("playbook").and_then(Value::as_str)?;
    let plan = meta
        .get("appliedPlan")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(format!("playbook {playbook} of {plan}"))
}

/// What a drift is, as a digest of what differs (resources, or hosts' changed tasks).
pub(super) fn fingerprint(what: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(what).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Whether a drift with `fingerprint` was already found at `subject`'s last settled check.
pub(super) fn repeats(settled: &Settled, subject: &str, fingerprint: &str) -> bool {
    matches!(
        settled.get(subject),
        Some((DriftStatus::Drifted, Some(fp))) if fp == fingerprint
    )
}

impl Drift<'_> {
    /// Each subject's last settled check, from the trail's `drift_checked` events. Checks
    /// recorded before fingerprints count as different drifts (told once more).
    pub(super) fn settled(&self) -> Result<Settled> {
        let mut out = Settled::new();
        self.scan_trail(&mut |r| {
            if r.event.event != EventKind::DriftChecked {
                return true;
            }
            let Some(meta) = r.event.approval_metadata.as_ref() else {
                return true;
            };
            let status = meta
                .get("status")
                .and_then(|s| serde_json::from_value::<DriftStatus>(s.clone()).ok());
            if let (Some(subject), Some(status)) = (subject(meta), status)
                && status != DriftStatus::Unchecked
            {
                let fp = meta
                    .get("fingerprint")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.insert(subject, (status, fp));
            }
            true
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_drift_repeats_a_changed_or_returning_one_does_not() {
        let mut s = Settled::new();
        let fp = fingerprint(&json!(["a: 1 → 2"]));
        assert!(!repeats(&s, "stack web", &fp), "never checked");
        s.insert("stack web".into(), (DriftStatus::Drifted, Some(fp.clone())));
        assert!(repeats(&s, "stack web", &fp));
        assert!(!repeats(
            &s,
            "stack web",
            &fingerprint(&json!(["a: 1 → 3"]))
        ));
        assert!(!repeats(&s, "stack db", &fp), "another stack");
        s.insert("stack web".into(), (DriftStatus::Clean, None));
        assert!(!repeats(&s, "stack web", &fp), "cleared, then back");
        s.insert("stack web".into(), (DriftStatus::Drifted, None));
        assert!(
            !repeats(&s, "stack web", &fp),
            "recorded before fingerprints"
        );
        assert_eq!(
            subject(&json!({"playbook": "site.yml", "appliedPlan": "p-1"})).unwrap(),
            "playbook site.yml of p-1"
        );
    }
}
