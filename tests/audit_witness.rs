//! The trail against someone who can write the store (issue 16): re-sealing with an injected
//! key, truncation, emptying, deletion (with and without the keys), a swapped pair and an edited
//! record, on the local store and on the shared backend (moto). Each is caught by comparing the
//! chain with the checkpoints kept outside the store (the member's identity dir; the Object Lock
//! bucket) and with the audit-signing keys the member pinned, and named for what it is.

mod common;

use common::shared::{SharedBackend, block};
use common::trail_store::{AwsStorage, LocalStorage, Storage, fresh_member};
use common::{Home, Team, quiet};
use opsdeck::audit::{Signer, VerifyReport};
use opsdeck::pipeline::Deck;
use opsdeck::tenant::Role;
use serde_json::Value;

const SPEC: &str = "create 3 t3.micro instances in Ohio";

/// A trail with a request bob approved: alice asks twice, bob approves the first plan.
fn seed(t: &Team<'_>) -> String {
    let alice = t.deck("alice");
    let first = alice.requests().ask(SPEC, &quiet).unwrap();
    alice
        .requests()
        .ask("create 2 t3.small instances in Ohio", &quiet)
        .unwrap();
    t.approve("bob", &first.plan.plan_id).unwrap();
    first.plan.plan_id
}

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[("alice", &[Role::Admin]), ("bob", &[Role::Approver])],
    )
}

/// The report as JSON (what `audit verify --json` prints), so that every assertion reads the
/// contract scripts read.
fn verify(deck: &Deck) -> Value {
    let r: VerifyReport = deck.trail().verify(true).unwrap();
    serde_json::to_value(&r).unwrap()
}

/// (what happened, at which seq, the problem) of the chain's own break, else the witness's.
fn finding(v: &Value) -> (String, Option<u64>, String) {
    assert_eq!(v["ok"], false, "expected a failed verification: {v:#}");
    let b = if v["first_break"].is_null() {
        &v["witness"]["problem"]
    } else {
        &v["first_break"]
    };
    (
        b["what"].as_str().unwrap_or("").to_string(),
        b["seq"].as_u64(),
        b["problem"].as_str().unwrap_or("").to_string(),
    )
}

/// Re-seals every record with `signer` from the start, changing who approved.
fn reseal(lines: &[String], signer: &Signer) -> Vec<String> {
    let mut prev = opsdeck::audit::chain::GENESIS.to_string();
    let mut out = Vec::new();
    let mut changed = false;
    for line in lines {
        let mut rec = opsdeck::audit::chain::parse_line(line.as_bytes()).unwrap();
        if rec.event.event.as_str() == "approved" && rec.event.user_id == "bob" {
            rec.event.user_id = "erin".into();
            changed = true;
        }
        let (sealed, text) = signer.seal("default", rec.seq, &prev, &rec.event).unwrap();
        prev = sealed.hash;
        out.push(text.trim_end().to_string());
    }
    assert!(changed, "the trail holds bob's approval");
    out
}

fn attacker_key() -> (tempfile::TempDir, Signer, String) {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::load_or_create(dir.path()).unwrap();
    let public = hex::encode(signer.verifying_key().as_bytes());
    (dir, signer, public)
}

// ------------------------------------------------------------------------------------------
// The findings, each on a given storage. `member` is the deck of someone who wrote (and so
// holds checkpoints); `fresh` opens a deck that holds none of its own.

fn injected_key_reseal(storage: &dyn Storage, member: &dyn Fn() -> Deck, fresh: &dyn Fn() -> Deck) {
    // The member verified once: the keys in use are pinned.
    let before = verify(&member());
    assert_eq!(before["ok"], true, "{before:#}");
    let (_d, evil, public) = attacker_key();
    storage.add_key(evil.key_id(), &public);
    let forged = reseal(&storage.lines(), &evil);
    storage.replace(&forged);

    let v = verify(&member());
    let text = v.to_string();
    assert_eq!(v["ok"], false, "{v:#}");
    assert_eq!(v["first_break"]["what"], "untrusted_key", "{v:#}");
    assert!(
        v["first_break"]["problem"]
            .as_str()
            .unwrap()
            .contains(evil.key_id()),
        "{text}"
    );
    assert_eq!(v["witness"]["problem"]["what"], "resealed", "{v:#}");
    // Someone who never wrote nor verified still has the checkpoints of others, where the
    // backend keeps them outside the writer's reach; and with or without them, the injected
    // key is one no member certified (tests/audit_keys.rs).
    let v = verify(&fresh());
    assert_eq!(v["first_break"]["what"], "untrusted_key", "{v:#}");
    if v["witness"]["checkpoints"].as_u64().unwrap() > 0 {
        assert_eq!(v["witness"]["problem"]["what"], "resealed", "{v:#}");
    }
}

fn truncation(storage: &dyn Storage, member: &dyn Fn() -> Deck) {
    let lines = storage.lines();
    let kept = lines.len() - 3;
    storage.replace(&lines[..kept]);
    let v = verify(&member());
    let (what, seq, problem) = finding(&v);
    assert_eq!(what, "truncated", "{v:#}");
    assert_eq!(seq, Some(kept as u64 + 1), "{v:#}");
    assert!(
        problem.contains(&format!("{}..{}", kept + 1, lines.len())),
        "{problem}"
    );
}

fn emptying(storage: &dyn Storage, member: &dyn Fn() -> Deck) {
    storage.empty();
    let v = verify(&member());
    let (what, _, problem) = finding(&v);
    assert_eq!(what, "emptied", "{v:#}");
    assert!(problem.contains("emptied"), "{problem}");
}

fn deletion(storage: &dyn Storage, member: &dyn Fn() -> Deck, keys: bool) {
    storage.delete(keys);
    let v = verify(&member());
    let (what, _, problem) = finding(&v);
    assert_eq!(what, "deleted", "{v:#}");
    assert!(problem.contains("deleted"), "{problem}");
}

fn swapped_pair(storage: &dyn Storage, member: &dyn Fn() -> Deck) {
    let mut lines = storage.lines();
    lines.swap(5, 6);
    storage.replace(&lines);
    let v = verify(&member());
    let b = &v["first_break"];
    assert_eq!(b["what"], "reordered", "{v:#}");
    assert_eq!((b["line"].as_u64(), b["seq"].as_u64()), (Some(6), Some(7)));
    let problem = b["problem"].as_str().unwrap();
    assert!(
        problem.contains("expected record 6 but found 7") && problem.contains("line 7"),
        "{problem}"
    );
    assert!(!problem.contains("deleted"), "{problem}");
}

fn edited(storage: &dyn Storage, member: &dyn Fn() -> Deck) {
    let mut lines = storage.lines();
    let before = lines[3].clone();
    lines[3] = before.replace("\"userId\":\"alice\"", "\"userId\":\"mallory\"");
    assert_ne!(lines[3], before);
    storage.replace(&lines);
    let v = verify(&member());
    let b = &v["first_break"];
    assert_eq!(b["what"], "edited", "{v:#}");
    assert_eq!(b["seq"].as_u64(), Some(4), "{v:#}");
    let id: Value = serde_json::from_str(&before).unwrap();
    assert_eq!(b["event_id"], id["event"]["eventId"]);
}

// ------------------------------------------------------------------------------------------ local

fn local_case(f: impl FnOnce(&dyn Storage, &dyn Fn() -> Deck, &dyn Fn() -> Deck)) {
    let home = Home::new();
    let t = team(&home);
    seed(&t);
    let other = Home::new();
    let member = || t.deck("alice");
    // On the local store the only witness is the member's own directory: someone else's
    // identity dir has no checkpoints of this store.
    let fresh = || fresh_member(&home, &other);
    f(&LocalStorage(&home), &member, &fresh);
}

#[test]
fn local_injected_key_and_resealed_trail_fail_naming_the_key_and_resealing() {
    local_case(|s, m, f| injected_key_reseal(s, m, f));
}

#[test]
fn local_truncated_trail_is_named() {
    local_case(|s, m, _| truncation(s, m));
}

#[test]
fn local_emptied_trail_is_named() {
    local_case(|s, m, _| emptying(s, m));
}

#[test]
fn local_deleted_trail_is_named() {
    local_case(|s, m, _| deletion(s, m, false));
}

#[test]
fn local_deleted_trail_and_keys_are_named() {
    local_case(|s, m, _| deletion(s, m, true));
}

#[test]
fn local_swapped_pair_is_reordered_not_deleted() {
    local_case(|s, m, _| swapped_pair(s, m));
}

#[test]
fn local_edited_record_is_named() {
    local_case(|s, m, _| edited(s, m));
}

#[test]
fn local_intact_trail_says_what_it_was_checked_against() {
    let home = Home::new();
    let t = team(&home);
    seed(&t);
    let v = verify(&t.deck("alice"));
    assert_eq!(v["ok"], true, "{v:#}");
    let w = &v["witness"];
    let records = v["records"].as_u64().unwrap();
    assert!(w["matched"].as_u64().unwrap() >= 3, "{w:#}");
    assert_eq!(w["newest"]["seq"].as_u64(), Some(records), "{w:#}");
    assert!(!w["pinned_now"].as_array().unwrap().is_empty(), "{w:#}");

    let out = home
        .cmd()
        .args(["--user", "alice", "audit", "verify", "--full"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("checkpoints: matches")
            && text.contains(&format!("newest seq {records}"))
            && text.contains(", certified by alice at "),
        "{text}"
    );
}

#[test]
fn a_trail_without_checkpoints_verifies_and_says_so() {
    // Written by the store alone (as every trail was before checkpoints existed).
    let home = Home::new();
    let deck = home.deck("alice");
    let signer = Signer::load_or_create(&home.path().join("keys")).unwrap();
    let mut ev = serde_json::from_value::<opsdeck::audit::AuditEvent>(serde_json::json!({
        "eventId": "01a24b47-31be-73bf-b3db-4f6339a18453", "requestId": "r1", "tenantId": "default",
        "userId": "alice", "userSource": "flag", "osUser": "root",
        "timestamp": "2026-12-06T12:14:46.718Z", "event": "answered", "status": "completed"
    }))
    .unwrap();
    deck.raw_store()
        .append_audit("default", &[ev.clone()], &signer)
        .unwrap();
    ev.event_id = "01a24b47-31be-73bf-b3db-4f6339a18454".into();
    deck.raw_store()
        .append_audit("default", &[ev], &signer)
        .unwrap();
    let v = verify(&deck);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(v["witness"]["checkpoints"], 0);
    let out = home
        .cmd()
        .args(["--user", "alice", "audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no checkpoints of this trail yet"), "{text}");
}

#[test]
fn a_new_key_after_pinning_fails_loudly_until_trusted() {
    let home = Home::new();
    let t = team(&home);
    seed(&t);
    assert_eq!(verify(&t.deck("alice"))["ok"], true);
    // Another machine's key (legitimate or not) writes on: the member has not pinned it.
    let (_d, other, public) = attacker_key();
    LocalStorage(&home).add_key(other.key_id(), &public);
    let ev = t.deck("alice").trail().audit(&Default::default()).unwrap()[0]
        .event
        .clone();
    let mut ev = ev;
    ev.event_id = uuid::Uuid::now_v7().to_string();
    t.deck("alice")
        .raw_store()
        .append_audit("default", &[ev], &other)
        .unwrap();
    let v = verify(&t.deck("alice"));
    let (what, _, problem) = finding(&v);
    assert_eq!(what, "untrusted_key");
    assert!(problem.contains(other.key_id()), "{problem}");
    let out = home
        .cmd()
        .args(["--user", "alice", "audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(
        text.contains(other.key_id()) && text.contains("NOT certified nor pinned"),
        "{text}"
    );

    home.cmd()
        .args(["--user", "alice", "audit", "trust-key", other.key_id()])
        .assert()
        .success();
    assert_eq!(verify(&t.deck("alice"))["ok"], true);
}

#[test]
fn a_failed_checkpoint_write_loses_no_event_and_is_caught_up() {
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    let witness = home.path().join("identity").join("witness");
    // Where the checkpoints go is blocked (a file where the directory should be).
    std::fs::remove_dir_all(&witness).unwrap();
    std::fs::write(&witness, "not a directory").unwrap();
    let rec = alice.requests().ask(SPEC, &quiet).unwrap();
    let events = alice.trail().audit(&Default::default()).unwrap();
    assert!(
        events
            .iter()
            .any(|r| r.event.plan_id.as_deref() == Some(rec.plan.plan_id.as_str())),
        "the events were stored"
    );
    std::fs::remove_file(&witness).unwrap();
    alice.requests().ask(SPEC, &quiet).unwrap();
    let v = verify(&alice);
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(
        v["witness"]["newest"]["seq"].as_u64(),
        v["records"].as_u64(),
        "{v:#}"
    );
}

// ------------------------------------------------------------------------------------------ aws

fn aws_case(test: &str, f: impl FnOnce(&dyn Storage, &dyn Fn() -> Deck, &dyn Fn() -> Deck)) {
    let Some(b) = SharedBackend::new(test) else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    seed(&t);
    let elsewhere = b.home();
    let member = || t.deck("alice");
    // Another machine, with its own home and identity dir: it reads the locked bucket.
    let fresh = || elsewhere.deck("alice");
    f(&AwsStorage(&b), &member, &fresh);
}

#[test]
fn aws_injected_key_and_resealed_trail_fail_naming_the_key_and_resealing() {
    aws_case("witness_reseal", |s, m, f| {
        injected_key_reseal(s, m, f);
        // The fresh machine's verdict rests on the locked bucket alone.
        let v = verify(&f());
        assert!(
            v["witness"]["sources"][1]["checkpoints"].as_u64().unwrap() > 0,
            "{v:#}"
        );
        assert_eq!(v["witness"]["problem"]["what"], "resealed", "{v:#}");
    });
}

#[test]
fn aws_truncated_trail_is_named() {
    aws_case("witness_truncate", |s, _, f| truncation(s, f));
}

#[test]
fn aws_emptied_trail_is_named() {
    aws_case("witness_empty", |s, m, _| emptying(s, m));
}

#[test]
fn aws_deleted_trail_is_named() {
    aws_case("witness_delete", |s, _, f| deletion(s, f, false));
}

#[test]
fn aws_deleted_trail_and_keys_are_named() {
    aws_case("witness_delete_keys", |s, _, f| deletion(s, f, true));
}

#[test]
fn aws_swapped_pair_is_reordered_not_deleted() {
    aws_case("witness_swap", |s, m, _| swapped_pair(s, m));
}

#[test]
fn aws_edited_record_is_named() {
    aws_case("witness_edit", |s, m, _| edited(s, m));
}

#[test]
fn aws_checkpoints_survive_delete_markers_and_refuse_deletion() {
    let Some(b) = SharedBackend::new("witness_locked") else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    seed(&t);
    let bucket = b.bucket("audit-logs");
    let (_, s3) = b.clients();
    let keys: Vec<(String, String)> = block(async {
        let v = s3
            .list_object_versions()
            .bucket(&bucket)
            .prefix("default/witness/")
            .send()
            .await
            .unwrap();
        v.versions()
            .iter()
            .map(|o| {
                (
                    o.key().unwrap().to_string(),
                    o.version_id().unwrap().to_string(),
                )
            })
            .collect()
    });
    assert!(keys.len() >= 3, "{keys:?}");
    block(async {
        for (key, version) in &keys {
            // Deleting a locked version is refused; a plain delete only adds a marker.
            assert!(
                s3.delete_object()
                    .bucket(&bucket)
                    .key(key)
                    .version_id(version)
                    .send()
                    .await
                    .is_err()
            );
            s3.delete_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        }
    });
    let elsewhere = b.home();
    let v = verify(&elsewhere.deck("alice"));
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(
        v["witness"]["sources"][1]["checkpoints"].as_u64(),
        Some(keys.len() as u64),
        "{v:#}"
    );
}
