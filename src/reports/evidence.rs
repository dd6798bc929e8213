//! The change-management evidence pack (`opsdeck audit evidence`): every change of a window —
//! its request, plan hash and the document it is computed from, the plan's artifacts, policy
//! results, signed decisions, apply outcome — with the audit trail from its first record to the
//! window's last (the chain proof) and the public keys that verify it, as files an auditor
//! checks offline (docs/audit.md#evidence-packs-for-auditors). Built here as data; the trail
//! facet gathers what it reads and writes the files.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::approval::PlanRecord;
use crate::audit::{AuditRecord, EventKind};
use crate::error::{Error, Result};
use crate::plan::sha256_hex;

/// The pack's format, named in its manifest.
pub const FORMAT: &str = "opsdeck-evidence-v1";

/// An approver's personal key at the time of a decision, as the signed membership gave it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MemberKey {
    pub user: String,
    /// `ssh-ed25519 AAAA…`
    pub key: String,
    /// `SHA256:…`, as decisions name it.
    pub fingerprint: String,
}

/// What the pack is made from.
pub struct Input<'a> {
    pub tenant: &'a str,
    pub from: Timestamp,
    pub to: Timestamp,
    pub generated_at: String,
    pub generated_by: String,
    /// The trail from its first record to the last one before `to`, in order.
    pub records: &'a [AuditRecord],
    /// The plans of the changes in the window that the store holds.
    pub plans: &'a [PlanRecord],
    /// Artifact bytes by sha256.
    pub artifacts: &'a BTreeMap<String, Vec<u8>>,
    /// Audit-signing keys: id → public half (hex).
    pub audit_keys: &'a BTreeMap<String, String>,
    pub member_keys: &'a BTreeSet<MemberKey>,
    /// What `audit verify` said of the trail when the pack was made.
    pub verified: Value,
}

/// The files of a pack, paths relative to its directory, manifest last.
pub struct Pack {
    pub files: Vec<(String, Vec<u8>)>,
    pub changes: usize,
    pub records: usize,
}

/// The plans a window's events name, in the order they first appear.
pub fn plans_in_window(records: &[AuditRecord], from: Timestamp, to: Timestamp) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in records {
        let at = r.event.timestamp.timestamp();
        if at < from || at >= to {
            continue;
        }
        if let Some(id) = &r.event.plan_id
            && seen.insert(id.clone())
        {
            out.push(id.clone());
        }
    }
    out
}

/// A record as the store holds it: the event's bytes are exactly the ones its hash covers.
pub fn record_line(r: &AuditRecord) -> Result<String> {
    let event = serde_json::to_string(&r.event)
        .map_err(|e| Error::input(format!("record {} cannot be written: {e}", r.seq)))?;
    Ok(format!(
        "{{\"seq\":{},\"prev\":\"{}\",\"hash\":\"{}\",\"key\":\"{}\",\"sig\":\"{}\",\"event\":{event}}}\n",
        r.seq, r.prev, r.hash, r.key, r.sig
    ))
}

fn meta<'a>(r: &'a AuditRecord, key: &str) -> &'a Value {
    r.event
        .approval_metadata
        .as_ref()
        .map_or(&Value::Null, |m| &m[key])
}

/// A signed decision as the trail recorded it: what an auditor checks the signature of.
fn decision(r: &AuditRecord, plan_id: &str) -> Value {
    let rejected = r.event.event == EventKind::Rejected;
    let verdict = if rejected {
        "reject"
    } else if meta(r, "breakGlass").as_bool() == Some(true) {
        "break-glass"
    } else {
        "approve"
    };
    let user = if rejected {
        meta(r, "rejectedBy")
    } else {
        meta(r, "approver")
    };
    json!({
        "seq": r.seq,
        "verdict": verdict,
        "user": user,
        "plan_id": plan_id,
        "plan_hash": meta(r, "planHash"),
        "signed_at": meta(r, "signedAt"),
        "signature": meta(r, "signature"),
        "key_fingerprint": meta(r, "keyFingerprint"),
        "comment": if rejected { meta(r, "reason") } else { meta(r, "comment") },
        "break_glass_reason": meta(r, "breakGlassReason"),
    })
}

fn json_bytes(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v)
        .map_err(|e| Error::input(format!("the evidence pack cannot be written: {e}")))?;
    b.push(b'\n');
    Ok(b)
}

/// One change's file and the files it names.
fn change(
    input: &Input<'_>,
    plan_id: &str,
    plan: Option<&PlanRecord>,
    files: &mut Vec<(String, Vec<u8>)>,
) -> Result<Value> {
    let dir = format!("changes/{plan_id}");
    let request_id = plan.map(|p| p.plan.request_id.as_str()).or_else(|| {
        input
            .records
            .iter()
            .find(|r| r.event.plan_id.as_deref() == Some(plan_id))
            .map(|r| r.event.request_id.as_str())
    });
    let events: Vec<&AuditRecord> = input
        .records
        .iter()
        .filter(|r| {
            r.event.plan_id.as_deref() == Some(plan_id)
                || (r.event.plan_id.is_none() && Some(r.event.request_id.as_str()) == request_id)
        })
        .collect();
    let request = events
        .iter()
        .find(|r| r.event.event == EventKind::Requested)
        .map(|r| {
            json!({"seq": r.seq, "text": r.event.message, "requested_by": r.event.user_id,
                   "at": r.event.timestamp.to_string()})
        });
    let policy: Vec<Value> = events
        .iter()
        .filter(|r| r.event.event == EventKind::PolicyEvaluated)
        .map(|r| {
            json!({"seq": r.seq, "at": r.event.timestamp.to_string(),
                   "gates": r.event.security_gates, "message": r.event.message})
        })
        .collect();
    let decisions: Vec<Value> = events
        .iter()
        .filter(|r| {
            matches!(r.event.event, EventKind::Approved | EventKind::Rejected)
                && meta(r, "signature").is_string()
        })
        .map(|r| decision(r, plan_id))
        .collect();
    let unsigned: Vec<Value> = events
        .iter()
        .filter(|r| {
            matches!(r.event.event, EventKind::Rejected | EventKind::Expired)
                && !meta(r, "signature").is_string()
        })
        .map(|r| json!({"seq": r.seq, "event": r.event.event.as_str(), "message": r.event.message}))
        .collect();
    let outcome = events.iter().rev().find_map(|r| {
        let what = match r.event.event {
            EventKind::Completed => "succeeded",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::Executing => "running",
            _ => return None,
        };
        Some(
            json!({"outcome": what, "seq": r.seq, "event": r.event.event.as_str(),
                    "at": r.event.timestamp.to_string(), "by": r.event.user_id,
                    "message": r.event.message, "log": r.event.execution_logs}),
        )
    });
    let plan_json = match plan {
        Some(p) => {
            let hash_input = p.plan.hash_input();
            let mut artifacts = Vec::new();
            for a in &p.plan.artifacts {
                let file = format!("{dir}/artifacts/{}", a.sha256);
                match input.artifacts.get(&a.sha256) {
                    Some(bytes) => {
                        files.push((file.clone(), bytes.clone()));
                        artifacts.push(json!({"name": a.name, "kind": a.kind,
                            "sha256": a.sha256, "file": file}));
                    }
                    None => artifacts.push(json!({"name": a.name, "kind": a.kind,
                        "sha256": a.sha256, "file": null,
                        "missing": "the store no longer holds it"})),
                }
            }
            files.push((format!("{dir}/hash-input.json"), hash_input));
            json!({
                "content_hash": p.plan.content_hash,
                "hash_input": format!("{dir}/hash-input.json"),
                "agent": p.plan.agent,
                "action": p.plan.action,
                "summary": p.plan.summary,
                "stack": p.plan.stack,
                "region": p.plan.region,
                "requester": p.plan.requester,
                "state": p.state.as_str(),
                "required_approvals": p.required_approvals,
                "approval_rule": p.approval_rule,
                "artifacts": artifacts,
                "executions": p.executions,
            })
        }
        None => Value::Null,
    };
    let doc = json!({
        "plan_id": plan_id,
        "request_id": request_id,
        "request": request,
        "plan": plan_json,
        "policy": policy,
        "decisions": decisions,
        "unsigned_outcomes": unsigned,
        "apply": outcome.unwrap_or_else(|| json!({"outcome": "not applied"})),
        "event_seqs": events.iter().map(|r| r.seq).collect::<Vec<_>>(),
    });
    let path = format!("{dir}/change.json");
    files.push((path.clone(), json_bytes(&doc)?));
    Ok(json!({"plan_id": plan_id, "file": path,
              "missing_plan": plan.is_none().then_some("the store no longer holds this plan")}))
}

/// The pack's files: trail, keys, one directory per change, a README and the manifest (which
/// lists every other file with its sha256).
pub fn build(input: &Input<'_>) -> Result<Pack> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut trail = String::new();
    for r in input.records {
        trail.push_str(&record_line(r)?);
    }
    files.push(("trail.jsonl".into(), trail.into_bytes()));
    let keys: Vec<Value> = input
        .audit_keys
        .iter()
        .map(|(id, public)| json!({"id": id, "public": public}))
        .collect();
    files.push(("keys/audit-signing.json".into(), json_bytes(&keys)?));
    files.push(("keys/members.json".into(), json_bytes(&input.member_keys)?));
    let ids = plans_in_window(input.records, input.from, input.to);
    let mut changes = Vec::new();
    for id in &ids {
        let plan = input.plans.iter().find(|p| &p.plan.plan_id == id);
        changes.push(change(input, id, plan, &mut files)?);
    }
    files.push(("README.md".into(), README.as_bytes().to_vec()));
    let listed: Vec<Value> = files
        .iter()
        .map(|(path, bytes)| json!({"path": path, "sha256": sha256_hex(bytes), "bytes": bytes.len()}))
        .collect();
    let last = input.records.last();
    let manifest = json!({
        "format": FORMAT,
        "tenant": input.tenant,
        "from": crate::time::iso(input.from),
        "to": crate::time::iso(input.to),
        "generated_at": input.generated_at,
        "generated_by": input.generated_by,
        "trail": {
            "file": "trail.jsonl",
            "records": input.records.len(),
            "first_seq": input.records.first().map(|r| r.seq),
            "last_seq": last.map(|r| r.seq),
            "head_hash": last.map(|r| r.hash.clone()),
        },
        "verified_when_made": input.verified,
        "changes": changes,
        "files": listed,
    });
    files.push(("manifest.json".into(), json_bytes(&manifest)?));
    Ok(Pack {
        files,
        changes: ids.len(),
        records: input.records.len(),
    })
}

const README: &str = "\
# opsdeck change-management evidence pack

Every file but this one's manifest is listed in manifest.json with its sha256. To verify it
offline (the steps are in opsdeck's docs/audit.md, \"Evidence packs for auditors\"):

1. Each file's sha256 matches the manifest.
2. trail.jsonl: records 1..N in order; each record's prev is the previous record's hash
   (64 zeros for the first); its hash is SHA-256 of `opsdeck-audit-v1\\n` + tenant + `\\n` + seq
   + `\\n` + prev + `\\n` + the event's JSON bytes (everything after `\"event\":` up to the line's
   last `}`); its sig is an Ed25519 signature of the 32 hash bytes by the key `key` names
   (keys/audit-signing.json; a key id is the first 8 bytes of SHA-256 of the public key, hex).
   The last hash is manifest.trail.head_hash.
3. Each changes/PLAN/change.json: its event_seqs are records of trail.jsonl; the plan hash is
   SHA-256 of `opsdeck-plan-v1\\n` + hash-input.json; the artifacts hash-input.json lists are
   the files under artifacts/ with those sha256; each decision's signature verifies, under the
   member's key in keys/members.json with its key_fingerprint, over `opsdeck-decision-v1\\n` +
   tenant, plan id, plan hash, verdict, signed_at and user, each followed by `\\n`; the decisions,
   policy results and apply outcome are the events at their seq in trail.jsonl.
4. Compare the audit-signing key ids, the members' key fingerprints and the head hash with a
   source outside this pack (`opsdeck audit verify --json`, each approver's `opsdeck keys show`,
   the locked bucket's checkpoints).
";
