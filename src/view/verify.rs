//! The outcome of `audit verify` in words: whether the chain holds, what happened where it does
//! not, what it was compared with, and which keys signed it.

use crate::audit::VerifyReport;
use crate::audit::chain::Break;
use crate::audit::witness::WitnessReport;

/// Where a break is, as `line 9 (record 9, event …)`.
fn place(b: &Break) -> String {
    format!(
        "line {}{}{}",
        b.line,
        b.seq.map(|s| format!(" (record {s})")).unwrap_or_default(),
        b.event_id
            .as_deref()
            .map(|e| format!(" event {e}"))
            .unwrap_or_default()
    )
}

/// One line: the verdict (what happened first, and where).
pub fn headline(r: &VerifyReport) -> String {
    if r.ok {
        return format!(
            "audit trail of tenant {} verified: {} records, hash chain and signatures intact; head {}",
            r.tenant,
            r.records,
            r.head.as_deref().unwrap_or("(empty)")
        );
    }
    let what = r
        .what()
        .map(|w| w.as_str().to_uppercase())
        .unwrap_or_else(|| "BROKEN".into());
    let first = r.first_break.as_ref().or(r.witness_problem());
    match first {
        Some(b) => format!(
            "audit trail of tenant {} is {what}: BROKEN at {}: {}",
            r.tenant,
            place(b),
            b.problem
        ),
        None => format!("audit trail of tenant {} is BROKEN", r.tenant),
    }
}

/// What the chain was compared with, in one line.
pub fn witness_line(r: &VerifyReport) -> String {
    let w = r.witness.clone().unwrap_or_default();
    format!("checkpoints: {}", WitnessReport::summary(&w))
}

/// Every line `audit verify` prints: the verdict, the checkpoint comparison (and its own break
/// when the chain broke elsewhere first), and the signing keys with whether they are pinned.
pub fn lines(r: &VerifyReport) -> Vec<String> {
    let mut out = vec![headline(r)];
    if let (Some(_), Some(w)) = (&r.first_break, r.witness_problem()) {
        out.push(format!(
            "  and the checkpoints show: {} at {}",
            w.problem,
            place(w)
        ));
    }
    out.push(format!("  {}", witness_line(r)));
    let pinned_now = r
        .witness
        .as_ref()
        .map(|w| w.pinned_now.clone())
        .unwrap_or_default();
    for k in &r.signing_keys {
        let state = if pinned_now.contains(&k.id) && k.trust.as_deref() == Some("first use") {
            "pinned now (first use)".to_string()
        } else if let Some(why) = &k.trust {
            why.clone()
        } else if k.pinned {
            "pinned".into()
        } else if r.witness.is_some() {
            "NOT certified nor pinned".into()
        } else {
            "not checked".into()
        };
        out.push(format!(
            "  key {}: {} record(s) from record {}, {state}",
            k.id, k.records, k.first_seq
        ));
    }
    out
}

/// What `audit certify`, `audit trust-key` and `audit revoke-key` did, in one line.
pub fn key_decision_line(d: &crate::pipeline::KeyDecision, tenant: &str) -> String {
    match d.outcome.as_str() {
        "certified" => format!(
            "{} certified audit-signing key {} ({}) for every member of tenant {tenant}: a signed event of the trail",
            d.by, d.key_id, d.public
        ),
        "revoked" => format!(
            "{} revoked audit-signing key {} in tenant {tenant}: records it seals from now on fail `audit verify` for every member",
            d.by, d.key_id
        ),
        _ => format!(
            "pinned audit-signing key {} ({}) for tenant {tenant}, for you only: an admin's `opsdeck audit trust-key {}` certifies it for everyone",
            d.key_id, d.public, d.key_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: serde_json::Value) -> VerifyReport {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_trail_without_checkpoints_says_so_plainly() {
        let r = report(serde_json::json!({
            "tenant": "default", "records": 4, "ok": true, "head": "abc", "first_break": null,
            "keys": 1, "signatures_checked": 4, "full": true,
            "witness": {"sources": [{"name": "this member's checkpoints", "checkpoints": 0}],
                        "checkpoints": 0, "matched": 0}
        }));
        let l = lines(&r);
        assert!(l[0].contains("verified"), "{l:?}");
        assert!(l[1].contains("no checkpoints of this trail yet"), "{l:?}");
    }

    #[test]
    fn a_resealed_trail_names_both_the_key_and_the_checkpoint() {
        let r = report(serde_json::json!({
            "tenant": "default", "records": 4, "ok": false, "head": null, "keys": 2,
            "signatures_checked": 4, "full": true,
            "first_break": {"line": 1, "seq": 1, "event_id": "e1", "what": "untrusted_key",
                            "problem": "signed by key k2, which this member has not pinned"},
            "signing_keys": [{"id": "k2", "first_seq": 1, "records": 4, "pinned": false}],
            "witness": {"sources": [], "checkpoints": 1, "matched": 0,
                        "newest": {"tenant": "default", "seq": 3, "hash": "h", "at": "2026-12-06T12:00:00Z", "scope": "local:x"},
                        "problem": {"line": 3, "seq": 3, "event_id": "e3", "what": "resealed", "problem": "re-sealed: record 3 ..."}}
        }));
        let text = lines(&r).join("\n");
        for part in [
            "UNTRUSTED KEY",
            "k2",
            "re-sealed",
            "record 3",
            "NOT certified",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }
}
