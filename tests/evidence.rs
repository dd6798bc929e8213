//! `opsdeck audit evidence`: the change-management pack of a window, from a trail the real
//! pipeline wrote (a change applied with the real terraform, one rejected, one waiting, one
//! before the window) — what it holds, through the binary; and an auditor's verification that
//! reads only the pack's files (this file's `offline` module uses no opsdeck code), which an
//! edited artifact, trail record or decision fails even with the manifest rewritten to match;
//! on the local store and on the shared backend (moto).

mod common;

use std::path::Path;

use common::shared::SharedBackend;
use common::{Home, Team, quiet, team, terraform, terraform_data_dir};
use opsdeck::pipeline::Deck;
use opsdeck::tenant::Role;
use opsdeck::time::Clock;
use serde_json::Value;

struct Seeded {
    from: String,
    to: String,
    before: String,
    applied: String,
    rejected: String,
    waiting: String,
}

fn submit(deck: &Deck, stack: &str) -> String {
    let dir = terraform_data_dir("");
    deck.requests()
        .submit_terraform(dir.path(), stack, &quiet)
        .expect("submit")
        .plan
        .plan_id
}

/// One plan a week before the window; in it, one approved (and applied, with `apply`), one
/// rejected, one waiting.
fn seed(t: &Team<'_>, apply: bool) -> Seeded {
    let olga = t.deck("olga");
    let before = submit(&olga, "earlier");
    t.clock.advance_secs(7 * 86_400);
    let from = opsdeck::time::iso(t.clock.now());
    let applied = submit(&olga, "good");
    if apply {
        common::approve_and_apply(t, "bob", &olga, &applied);
    } else {
        t.approve("bob", &applied).unwrap();
    }
    let rejected = submit(&olga, "no");
    let code = t.code("bob");
    t.deck("bob")
        .approvals()
        .reject(&rejected, "not this week", Some(&code))
        .unwrap();
    let waiting = submit(&t.deck("alice"), "later");
    t.clock.advance_secs(60);
    let to = opsdeck::time::iso(t.clock.now());
    // After the window: not in the pack.
    submit(&olga, "after");
    Seeded {
        from,
        to,
        before,
        applied,
        rejected,
        waiting,
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

#[test]
fn the_pack_holds_every_change_of_the_window_and_nothing_else() {
    let Some(_) = terraform() else { return };
    let home = Home::new();
    let t = team(&home);
    let s = seed(&t, true);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("pack");
    let run = |dir: &Path, from: &str| {
        home.cmd()
            .args([
                "--user", "bob", "--json", "audit", "evidence", "--from", from,
            ])
            .args(["--to", &s.to, "--out", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let done = run(&dir, &s.from);
    assert!(done.status.success(), "{done:?}");
    let summary: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(summary["changes"], 3, "{summary}");

    let manifest = read_json(&dir.join("manifest.json"));
    assert_eq!(manifest["format"], "opsdeck-evidence-v1");
    let ids: Vec<&str> = manifest["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["plan_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![&s.applied, &s.rejected, &s.waiting]);
    assert!(!ids.contains(&s.before.as_str()));
    let change = |id: &str| read_json(&dir.join(format!("changes/{id}/change.json")));

    let c = change(&s.applied);
    assert_eq!(c["request"]["requested_by"], "olga");
    assert_eq!(c["plan"]["state"], "succeeded");
    assert_eq!(c["apply"]["outcome"], "succeeded");
    assert_eq!(c["apply"]["event"], "completed");
    assert!(!c["policy"].as_array().unwrap().is_empty(), "{c}");
    let d = &c["decisions"][0];
    assert_eq!(
        (d["verdict"].as_str(), d["user"].as_str()),
        (Some("approve"), Some("bob"))
    );
    assert_eq!(d["plan_hash"], c["plan"]["content_hash"]);
    assert!(d["signature"].as_str().is_some_and(|x| x.len() > 40), "{d}");
    for a in c["plan"]["artifacts"].as_array().unwrap() {
        assert!(dir.join(a["file"].as_str().unwrap()).is_file(), "{a}");
    }
    let c = change(&s.rejected);
    assert_eq!(c["decisions"][0]["verdict"], "reject");
    assert_eq!(c["decisions"][0]["comment"], "not this week");
    assert_eq!(c["apply"]["outcome"], "not applied");
    let c = change(&s.waiting);
    assert_eq!(c["plan"]["state"], "pending");
    assert!(c["decisions"].as_array().unwrap().is_empty());

    // The trail runs from its first record to the window's last: the earlier plan's events
    // are in it (the chain needs them), the later plan's are not.
    let trail = std::fs::read_to_string(dir.join("trail.jsonl")).unwrap();
    assert!(trail.starts_with("{\"seq\":1,"));
    assert!(trail.contains(&s.before));
    assert_eq!(
        manifest["trail"]["records"].as_u64().unwrap() as usize,
        trail.lines().count()
    );
    let members = read_json(&dir.join("keys/members.json"));
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user"] == "bob")
    );

    // Nothing is overwritten; bad bounds say what they take.
    let again = run(&dir, &s.from);
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("is not empty"), "{said}");
    let bad = run(&out.path().join("other"), "last tuesday");
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("from 'last tuesday' is not a time"), "{said}");
    let empty = run(&out.path().join("empty"), &s.to);
    assert!(!empty.status.success(), "from == to is refused");
}

/// A pack made by the pipeline, copied away from the home it came from (which is deleted).
fn pack_alone() -> (tempfile::TempDir, Seeded) {
    let home = Home::new();
    let t = team(&home);
    let s = seed(&t, true);
    let made = tempfile::tempdir().unwrap();
    t.deck("alice")
        .trail()
        .evidence_pack(&s.from, &s.to, &made.path().join("pack"))
        .unwrap();
    let alone = tempfile::tempdir().unwrap();
    copy_dir(&made.path().join("pack"), &alone.path().join("pack"));
    drop(t);
    drop(home);
    (alone, s)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_pack_from_the_shared_backend_verifies_offline_too() {
    let Some(_) = terraform() else { return };
    let Some(b) = SharedBackend::new("evidence_shared_backend") else {
        return;
    };
    let home = b.home();
    home.deck("root").admin().add_tenant("shop").unwrap();
    let t = Team::new(
        &home,
        Some("shop"),
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
        ],
    );
    let s = seed(&t, false);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("pack");
    let done = t
        .deck("bob")
        .trail()
        .evidence_pack(&s.from, &s.to, &dir)
        .unwrap();
    assert_eq!(done.changes, 3);
    let v = offline::verify(&dir).unwrap_or_else(|e| panic!("the shared backend's pack: {e}"));
    assert_eq!((v.changes, v.decisions), (3, 2));
    assert!(v.applied.is_empty(), "approved, not applied");
    let c = read_json(&dir.join(format!("changes/{}/change.json", s.applied)));
    assert_eq!(c["plan"]["state"], "approved");
    assert_eq!(c["apply"]["outcome"], "not applied");
}

#[test]
fn an_auditor_verifies_the_pack_offline_from_its_files_alone() {
    let Some(_) = terraform() else { return };
    let (alone, s) = pack_alone();
    let dir = alone.path().join("pack");
    let v = offline::verify(&dir).unwrap_or_else(|e| panic!("the intact pack fails: {e}"));
    assert_eq!(v.changes, 3);
    assert_eq!(v.decisions, 2, "bob's approval and rejection, both signed");
    assert!(v.records > 10 && v.artifacts > 0, "{v:?}");
    assert_eq!(v.applied, vec![s.applied.clone()]);

    // Each edit below rewrites the manifest to match, as someone holding the pack could: the
    // chain, the plan hash or a signature still gives it away.
    let tampered = |what: &str, path: &str, edit: &dyn Fn(&mut Vec<u8>)| -> String {
        let copy = tempfile::tempdir().unwrap();
        let d = copy.path().join("pack");
        copy_dir(&dir, &d);
        let p = d.join(path);
        let mut bytes = std::fs::read(&p).unwrap();
        edit(&mut bytes);
        std::fs::write(&p, &bytes).unwrap();
        offline::reseal_manifest(&d, path);
        match offline::verify(&d) {
            Ok(v) => panic!("{what}: an edited pack verified: {v:?}"),
            Err(e) => e,
        }
    };
    let replace = |from: &'static str, to: &'static str| {
        move |b: &mut Vec<u8>| {
            let text = String::from_utf8(b.clone()).unwrap();
            assert!(text.contains(from), "{from} not in the file");
            *b = text.replacen(from, to, 1).into_bytes();
        }
    };
    let applied = read_json(&dir.join(format!("changes/{}/change.json", s.applied)));
    let artifact = applied["plan"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str().is_some_and(|n| n.ends_with(".tf")))
        .unwrap()["file"]
        .as_str()
        .unwrap()
        .to_string();
    let e = tampered("artifact", &artifact, &replace("hello", "howdy"));
    assert!(e.contains("artifact"), "{e}");
    let e = tampered(
        "trail",
        "trail.jsonl",
        &replace("not this week", "approved later"),
    );
    assert!(e.contains("hash"), "{e}");
    let change = format!("changes/{}/change.json", s.rejected);
    let e = tampered("decision", &change, &|b| {
        let mut v: Value = serde_json::from_slice(b).unwrap();
        v["decisions"][0]["verdict"] = "approve".into();
        *b = serde_json::to_vec_pretty(&v).unwrap();
    });
    assert!(e.contains("signature") || e.contains("trail"), "{e}");
    let e = tampered(
        "hash input",
        &format!("changes/{}/hash-input.json", s.applied),
        &|b| {
            b.insert(1, b' ');
        },
    );
    assert!(e.contains("plan hash"), "{e}");
}

/// What an auditor's own tool does with the pack: plain SHA-256, Ed25519 and JSON, no opsdeck
/// code. The steps are the ones docs/audit.md gives.
mod offline {
    use std::collections::{BTreeMap, HashMap};
    use std::path::Path;

    use base64::Engine;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    use serde_json::Value;
    use sha2::{Digest, Sha256};

    #[derive(Debug)]
    pub struct Verified {
        pub records: usize,
        pub changes: usize,
        pub decisions: usize,
        pub artifacts: usize,
        pub applied: Vec<String>,
    }

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn json(dir: &Path, path: &str) -> Result<Value, String> {
        let b = std::fs::read(dir.join(path)).map_err(|e| format!("{path}: {e}"))?;
        serde_json::from_slice(&b).map_err(|e| format!("{path}: {e}"))
    }

    fn ed25519(public: &[u8], msg: &[u8], sig_b64: &str) -> Result<(), String> {
        let key = VerifyingKey::from_bytes(
            public
                .try_into()
                .map_err(|_| "a public key is not 32 bytes")?,
        )
        .map_err(|e| e.to_string())?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig_b64)
            .map_err(|e| e.to_string())?;
        let sig = Signature::from_slice(&sig).map_err(|e| e.to_string())?;
        key.verify(msg, &sig).map_err(|e| e.to_string())
    }

    /// Rewrites `path`'s entry in the manifest (what someone editing the pack would do).
    pub fn reseal_manifest(dir: &Path, path: &str) {
        let mut m = json(dir, "manifest.json").unwrap();
        let bytes = std::fs::read(dir.join(path)).unwrap();
        for f in m["files"].as_array_mut().unwrap() {
            if f["path"] == path {
                f["sha256"] = sha(&bytes).into();
                f["bytes"] = bytes.len().into();
            }
        }
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_vec_pretty(&m).unwrap(),
        )
        .unwrap();
    }

    pub fn verify(dir: &Path) -> Result<Verified, String> {
        let manifest = json(dir, "manifest.json")?;
        let tenant = manifest["tenant"].as_str().ok_or("manifest: no tenant")?;
        // 1. Every file is the one the manifest lists.
        for f in manifest["files"].as_array().ok_or("manifest: no files")? {
            let path = f["path"].as_str().ok_or("manifest: a file without path")?;
            let bytes = std::fs::read(dir.join(path)).map_err(|e| format!("{path}: {e}"))?;
            if sha(&bytes) != f["sha256"].as_str().unwrap_or_default() {
                return Err(format!("{path}: its sha256 is not the manifest's"));
            }
        }
        // 2. The chain: links, hashes, signatures by the listed audit keys.
        let keys: HashMap<String, Vec<u8>> = json(dir, "keys/audit-signing.json")?
            .as_array()
            .ok_or("keys/audit-signing.json: not a list")?
            .iter()
            .map(|k| {
                let public = hex::decode(k["public"].as_str().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                let id = hex::encode(&Sha256::digest(&public)[..8]);
                if Some(id.as_str()) != k["id"].as_str() {
                    return Err(format!("audit key {} is not its public key's id", k["id"]));
                }
                Ok((id, public))
            })
            .collect::<Result<_, String>>()?;
        let trail = std::fs::read_to_string(dir.join("trail.jsonl")).map_err(|e| e.to_string())?;
        let mut prev = "0".repeat(64);
        let mut events: BTreeMap<u64, Value> = BTreeMap::new();
        for (i, line) in trail.lines().enumerate() {
            let rec: Value =
                serde_json::from_str(line).map_err(|e| format!("trail line {}: {e}", i + 1))?;
            let seq = rec["seq"].as_u64().ok_or("trail: a record without seq")?;
            if seq != i as u64 + 1 {
                return Err(format!(
                    "trail line {}: seq {seq}, expected {}",
                    i + 1,
                    i + 1
                ));
            }
            if rec["prev"] != prev.as_str() {
                return Err(format!(
                    "trail record {seq}: prev is not record {}'s hash",
                    seq - 1
                ));
            }
            let at = line.find(",\"event\":").ok_or("trail: no event")?;
            let event = &line.as_bytes()[at + 9..line.len() - 1];
            let mut h = Sha256::new();
            h.update(format!("opsdeck-audit-v1\n{tenant}\n{seq}\n{prev}\n").as_bytes());
            h.update(event);
            let hash = h.finalize();
            if hex::encode(hash) != rec["hash"].as_str().unwrap_or_default() {
                return Err(format!(
                    "trail record {seq}: its hash does not match its content"
                ));
            }
            let key = keys
                .get(rec["key"].as_str().unwrap_or_default())
                .ok_or_else(|| {
                    format!("trail record {seq}: signed by a key the pack does not list")
                })?;
            ed25519(key, &hash, rec["sig"].as_str().unwrap_or_default())
                .map_err(|e| format!("trail record {seq}: bad signature ({e})"))?;
            prev = rec["hash"].as_str().unwrap().to_string();
            events.insert(seq, rec["event"].clone());
        }
        if manifest["trail"]["head_hash"] != prev.as_str() {
            return Err("trail: the last hash is not the manifest's head".into());
        }
        // 3. Each change against the chain, its plan hash, artifacts and signed decisions.
        let members: Vec<Value> = json(dir, "keys/members.json")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut out = Verified {
            records: events.len(),
            changes: 0,
            decisions: 0,
            artifacts: 0,
            applied: Vec::new(),
        };
        for c in manifest["changes"]
            .as_array()
            .ok_or("manifest: no changes")?
        {
            let path = c["file"]
                .as_str()
                .ok_or("manifest: a change without file")?;
            let change = json(dir, path)?;
            let plan_id = change["plan_id"]
                .as_str()
                .ok_or("a change without plan_id")?;
            let event = |seq: &Value| -> Result<&Value, String> {
                let seq = seq
                    .as_u64()
                    .ok_or(format!("{path}: a seq that is not a number"))?;
                events
                    .get(&seq)
                    .ok_or(format!("{path}: seq {seq} is not in the trail"))
            };
            for seq in change["event_seqs"].as_array().ok_or("no event_seqs")? {
                let e = event(seq)?;
                if e["planId"].as_str().is_some_and(|p| p != plan_id) {
                    return Err(format!("{path}: seq {seq} is another plan's event"));
                }
            }
            let plan = &change["plan"];
            let content_hash = plan["content_hash"].as_str().ok_or("no content hash")?;
            let input = std::fs::read(dir.join(plan["hash_input"].as_str().unwrap_or_default()))
                .map_err(|e| format!("{path}: hash input: {e}"))?;
            let mut h = Sha256::new();
            h.update(b"opsdeck-plan-v1\n");
            h.update(&input);
            if hex::encode(h.finalize()) != content_hash {
                return Err(format!(
                    "{path}: the plan hash is not the hash of hash-input.json"
                ));
            }
            let input: Value = serde_json::from_slice(&input).map_err(|e| e.to_string())?;
            for a in input["artifacts"]
                .as_array()
                .ok_or("hash input: no artifacts")?
            {
                let (name, want) = (
                    a[0].as_str().unwrap_or_default(),
                    a[2].as_str().unwrap_or_default(),
                );
                let listed = plan["artifacts"]
                    .as_array()
                    .and_then(|l| l.iter().find(|x| x["sha256"] == want))
                    .ok_or(format!("{path}: artifact {name} is not in the pack"))?;
                let bytes = std::fs::read(dir.join(listed["file"].as_str().unwrap_or_default()))
                    .map_err(|e| format!("{path}: artifact {name}: {e}"))?;
                if sha(&bytes) != want {
                    return Err(format!(
                        "{path}: artifact {name} is not the one the plan hash covers"
                    ));
                }
                out.artifacts += 1;
            }
            for d in change["decisions"].as_array().ok_or("no decisions")? {
                let e = event(&d["seq"])?;
                let m = &e["approvalMetadata"];
                let signature = m["signature"]
                    .as_str()
                    .ok_or(format!("{path}: an unsigned decision in the trail"))?;
                if d["signature"] != signature
                    || d["plan_hash"] != m["planHash"]
                    || m["planHash"] != content_hash
                {
                    return Err(format!(
                        "{path}: decision at seq {} is not the trail's",
                        d["seq"]
                    ));
                }
                let verdict = d["verdict"].as_str().unwrap_or_default();
                let expected = match e["event"].as_str() {
                    Some("rejected") => "reject",
                    _ if m["breakGlass"] == true => "break-glass",
                    _ => "approve",
                };
                if verdict != expected {
                    return Err(format!(
                        "{path}: decision at seq {} says {verdict}, the trail {expected}",
                        d["seq"]
                    ));
                }
                let fingerprint = d["key_fingerprint"].as_str().unwrap_or_default();
                let user = d["user"].as_str().unwrap_or_default();
                let member = members
                    .iter()
                    .find(|k| k["user"] == user && k["fingerprint"] == fingerprint)
                    .ok_or(format!("{path}: no key of {user} with {fingerprint}"))?;
                let key =
                    ssh_key::PublicKey::from_openssh(member["key"].as_str().unwrap_or_default())
                        .map_err(|e| e.to_string())?;
                if key.fingerprint(ssh_key::HashAlg::Sha256).to_string() != fingerprint {
                    return Err(format!("{path}: {user}'s key is not the fingerprint named"));
                }
                let public = key.key_data().ed25519().ok_or("not an Ed25519 key")?.0;
                let statement = format!(
                    "opsdeck-decision-v1\n{tenant}\n{plan_id}\n{content_hash}\n{verdict}\n{}\n{user}\n",
                    d["signed_at"].as_str().unwrap_or_default()
                );
                ed25519(&public, statement.as_bytes(), signature).map_err(|e| {
                    format!("{path}: decision at seq {}: bad signature ({e})", d["seq"])
                })?;
                out.decisions += 1;
            }
            for p in change["policy"].as_array().ok_or("no policy")? {
                let e = event(&p["seq"])?;
                if e["event"] != "policy_evaluated" || e["securityGates"] != p["gates"] {
                    return Err(format!(
                        "{path}: policy result at seq {} is not the trail's",
                        p["seq"]
                    ));
                }
            }
            let apply = &change["apply"];
            if let Some(seq) = apply.get("seq") {
                if event(seq)?["event"] != apply["event"] {
                    return Err(format!("{path}: the apply outcome is not the trail's"));
                }
                if apply["outcome"] == "succeeded" {
                    out.applied.push(plan_id.to_string());
                }
            }
            out.changes += 1;
        }
        Ok(out)
    }
}
