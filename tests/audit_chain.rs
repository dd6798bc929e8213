//! Tamper detection: edit, delete, reorder and forge stored events; verify names the record.

mod common;

use common::{Home, quiet};
use opsdeck::store::StoreError;

fn seeded(n: usize) -> Home {
    let home = Home::new();
    let deck = home.deck("alice");
    for i in 0..n {
        deck.requests()
            .ask(
                &format!("create {} t3.micro instances in Ohio", i + 1),
                &quiet,
            )
            .unwrap();
    }
    home
}

fn lines(home: &Home) -> Vec<String> {
    std::fs::read_to_string(home.audit_file("default"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write(home: &Home, lines: &[String]) {
    std::fs::write(home.audit_file("default"), lines.join("\n") + "\n").unwrap();
}

fn verify(home: &Home) -> opsdeck::audit::VerifyReport {
    home.deck("auditor").trail().verify(false).unwrap()
}

#[test]
fn intact_chain_verifies() {
    let home = seeded(3);
    let r = verify(&home);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, 15);
}

#[test]
fn edited_event_is_named() {
    let home = seeded(3);
    let mut l = lines(&home);
    l[6] = l[6].replace("\"userId\":\"alice\"", "\"userId\":\"mallory\"");
    write(&home, &l);
    let r = verify(&home);
    let b = r.first_break.expect("break");
    assert_eq!((b.line, b.seq), (7, Some(7)));
    assert!(b.problem.contains("edited"), "{}", b.problem);
}

#[test]
fn deleted_event_is_named() {
    let home = seeded(3);
    let mut l = lines(&home);
    l.remove(4);
    write(&home, &l);
    let b = verify(&home).first_break.expect("break");
    assert_eq!(b.line, 5);
    assert!(
        b.problem.contains("record(s) 5..5 were deleted"),
        "{}",
        b.problem
    );
}

#[test]
fn reordered_events_are_named() {
    let home = seeded(3);
    let mut l = lines(&home);
    l.swap(8, 9);
    write(&home, &l);
    let b = verify(&home).first_break.expect("break");
    assert_eq!(b.line, 9);
    assert!(
        b.problem.contains("expected record 9 but found 10"),
        "{}",
        b.problem
    );
}

#[test]
fn rehashed_chain_without_the_key_fails_on_signatures() {
    let home = seeded(2);
    let mut l = lines(&home);
    // An attacker edits record 3 and recomputes every hash after it, but cannot sign.
    let mut prev = String::new();
    for (i, line) in l.iter_mut().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if i == 2 {
            v["event"]["message"] = serde_json::json!("nothing to see");
        }
        if i >= 2 {
            v["prev"] = serde_json::json!(prev);
            let event = serde_json::to_string(&v["event"]).unwrap();
            let h = opsdeck::audit::chain::digest(
                "default",
                v["seq"].as_u64().unwrap(),
                &prev,
                event.as_bytes(),
            );
            v["hash"] = serde_json::json!(hex::encode(h));
            // Keep the stored event bytes exactly as hashed.
            *line = format!(
                "{{\"seq\":{},\"prev\":\"{}\",\"hash\":\"{}\",\"key\":\"{}\",\"sig\":\"{}\",\"event\":{}}}",
                v["seq"],
                prev,
                v["hash"].as_str().unwrap(),
                v["key"].as_str().unwrap(),
                v["sig"].as_str().unwrap(),
                event
            );
        }
        prev = v["hash"].as_str().unwrap().to_string();
    }
    write(&home, &l);
    let b = verify(&home).first_break.expect("break");
    assert_eq!(b.seq, Some(3));
    assert!(b.problem.contains("signature"), "{}", b.problem);
}

#[test]
fn moving_events_between_tenants_breaks_them() {
    let home = seeded(1);
    home.deck("alice").admin().add_tenant("other").unwrap();
    let src = std::fs::read(home.audit_file("default")).unwrap();
    std::fs::write(home.audit_file("other"), src).unwrap();
    let r = home
        .deck_with("auditor", Some("other"), None)
        .trail()
        .verify(false)
        .unwrap();
    assert!(!r.ok);
    assert_eq!(r.first_break.unwrap().seq, Some(1));
}

#[test]
fn full_mode_checks_every_signature() {
    let home = seeded(2);
    let mut l = lines(&home);
    // Damage only the signature of a record between checkpoints: its content is still
    // authenticated by the next checkpoint, and --full reports the bad signature itself.
    let mut v: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
    let other: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
    v["sig"] = other["sig"].clone();
    let event = serde_json::to_string(&v["event"]).unwrap();
    l[1] = format!(
        "{{\"seq\":{},\"prev\":\"{}\",\"hash\":\"{}\",\"key\":\"{}\",\"sig\":\"{}\",\"event\":{}}}",
        v["seq"],
        v["prev"].as_str().unwrap(),
        v["hash"].as_str().unwrap(),
        v["key"].as_str().unwrap(),
        v["sig"].as_str().unwrap(),
        event
    );
    write(&home, &l);
    let deck = home.deck("auditor");
    let quick = deck.trail().verify(false).unwrap();
    assert!(quick.ok);
    assert!(quick.signatures_checked < quick.records);
    let full = deck.trail().verify(true).unwrap();
    assert_eq!(full.signatures_checked, 10);
    let b = full.first_break.expect("break");
    assert_eq!(b.seq, Some(2));
    assert!(b.problem.contains("signature"), "{}", b.problem);
}

/// A trail written before timestamps were typed. Records 1 and 2 were written by opsdeck
/// itself; 3 and 4 carry timestamps in other forms the string field accepted (whole seconds,
/// microseconds: imported or hand-made), signed with the same key.
const OLD_TRAIL: &str = r#"{"seq":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"a87460d43c569fb5b5570f2a70a819722347538ace69448d78a7f14bc8abdea7","key":"6d2914bfd5c5ed47","sig":"Ost18plpyXuLl/Ob11qKTBUs3/qyF57ADOkT1o+45prbzCMZiVW7GyVuB0l/OnQ2E8WtomzZ51SPkAInYh7tDg==","event":{"eventId":"01a24b47-31be-73bf-b3db-4f6339a18453","requestId":"adf56af0-0a73-42b9-97a2-2297858e9c77","tenantId":"default","userId":"alice","userSource":"flag","osUser":"root","timestamp":"2026-12-06T12:14:46.718Z","event":"user_added","status":"completed","approvalMetadata":{"name":"alice","roles":["admin"],"groups":[],"created_at":"2026-12-06T12:14:46.707Z","created_by":"alice"},"message":"user alice added by alice (first user of the tenant)"}}
{"seq":2,"prev":"a87460d43c569fb5b5570f2a70a819722347538ace69448d78a7f14bc8abdea7","hash":"fccaf2be170b318839b228957230be641536e6dce4993377abbb9d6c394c8c86","key":"6d2914bfd5c5ed47","sig":"FlddoeOMN5xQJLl9HGN/SLcybo1B/9cWPPoXqGMf+RPVy11ms2Y1sr1tRoy4wdsEp+r6f57xBt9BWydhH6SxBA==","event":{"eventId":"01a24b47-3f3a-7528-ac0d-fc6b94611285","requestId":"3b6d06d5-6c5b-42c0-aeae-ff183d6ae1bd","tenantId":"default","userId":"alice","userSource":"flag","osUser":"root","timestamp":"2026-12-06T12:14:50.170Z","event":"requested","status":"pending","message":"create 1 t3.micro instance in Ohio"}}
{"seq":3,"prev":"fccaf2be170b318839b228957230be641536e6dce4993377abbb9d6c394c8c86","hash":"e27a677f5a285d2a4abdefd4e5f53d1b3df3fe15fcc3dbef666e3c9ff58d3281","key":"6d2914bfd5c5ed47","sig":"vkYDi1UWtT/LkAKPkJRcUMNozUScnR1Rrz3ZjkEhTanbf/IgIic8C+XR1Lb1StG1Pf2b/Zr7ZFL0SrAGi/GkAg==","event":{"eventId":"01a24b47-5a00-7000-8000-000000000003","requestId":"5d1c5f0e-8a43-4c1e-9d57-3f0c2a1b7e64","tenantId":"default","userId":"alice","userSource":"flag","osUser":"root","timestamp":"2026-12-06T12:15:00Z","event":"answered","status":"completed","message":"imported: whole seconds"}}
{"seq":4,"prev":"e27a677f5a285d2a4abdefd4e5f53d1b3df3fe15fcc3dbef666e3c9ff58d3281","hash":"3e4e5fa7042ed1799a3e194e890a42465c91d870fc5e366fa26329e3b7812f93","key":"6d2914bfd5c5ed47","sig":"uDLYbr1CYSZJzlV5siV+xgow3P1fSRqKkXBbiNhiWbPk4LLlPE2Y/Ni5RIgTJdyOd2muiso0e+z4qZyQMfp2Ag==","event":{"eventId":"01a24b47-5a00-7000-8000-000000000004","requestId":"5d1c5f0e-8a43-4c1e-9d57-3f0c2a1b7e64","tenantId":"default","userId":"alice","userSource":"flag","osUser":"root","timestamp":"2026-12-06T12:15:30.250123Z","event":"answered","status":"completed","message":"imported: microseconds"}}
"#;
const OLD_KEY: &str = "073f58661f4dfac30bdf7351af27475703102a386b6bc235081acae9a4cebaa2";

fn old_home(trail: &str) -> Home {
    let home = Home::new();
    let keys = home.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("6d2914bfd5c5ed47.pub"), OLD_KEY).unwrap();
    let tenant = home.path().join("tenants").join("default");
    std::fs::create_dir_all(&tenant).unwrap();
    std::fs::write(home.audit_file("default"), trail).unwrap();
    home
}

#[test]
fn a_trail_written_before_typed_timestamps_verifies_and_reserializes_byte_for_byte() {
    let home = old_home(OLD_TRAIL);
    let deck = home.deck("auditor");
    let r = deck.trail().verify(true).unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!((r.records, r.signatures_checked), (4, 4));

    let records = deck
        .trail()
        .audit(&opsdeck::audit::AuditFilter::default())
        .unwrap();
    assert_eq!(records.len(), 4);
    for (rec, line) in records.iter().zip(OLD_TRAIL.lines()) {
        // The event as it is written again is the event as it was hashed and signed.
        let event = serde_json::to_string(&rec.event).unwrap();
        assert!(line.ends_with(&format!(",\"event\":{event}}}")), "{event}");
        let h = opsdeck::audit::chain::digest("default", rec.seq, &rec.prev, event.as_bytes());
        assert_eq!(hex::encode(h), rec.hash);
    }
    assert_eq!(
        records[2].event.timestamp.to_string(),
        "2026-12-06T12:15:00Z"
    );
    assert_eq!(
        records[3].event.timestamp.to_string(),
        "2026-12-06T12:15:30.250123Z"
    );

    // Bounds compare instants, whatever form a record's time was written in: 12:15:00Z is
    // the bound's own instant (as text it sorted after "12:15:00.000Z").
    let clock = deck.clock();
    let seqs = |q: &str| -> Vec<u64> {
        let q = opsdeck::audit::query::AuditQuery::parse(q, clock).unwrap();
        deck.trail()
            .audit(&q.filter)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(seqs("until:2026-12-06T12:15:00Z"), [1, 2, 3]);
    assert_eq!(seqs("since:2026-12-06T12:15:00.000Z"), [3, 4]);
    assert_eq!(seqs("since:2026-12-06T12:15:30.251Z"), Vec::<u64>::new());

    // The binary says so too, and its JSON export is what an outside tool recomputes from.
    home.cmd()
        .args(["--user", "auditor", "audit", "verify", "--full"])
        .assert()
        .success();
    let out = home
        .cmd()
        .args(["--user", "auditor", "audit", "export", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let exported: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported.len(), 4);
    for v in &exported {
        let event = serde_json::to_string(&v["event"]).unwrap();
        let h = opsdeck::audit::chain::digest(
            "default",
            v["seq"].as_u64().unwrap(),
            v["prev"].as_str().unwrap(),
            event.as_bytes(),
        );
        assert_eq!(hex::encode(h), v["hash"].as_str().unwrap());
    }
}

#[test]
fn a_malformed_timestamp_in_a_stored_record_is_an_error_naming_the_record() {
    let trail = OLD_TRAIL.replace("\"2026-12-06T12:15:00Z\"", "\"2026-12-06T25:15:00Z\"");
    assert_ne!(trail, OLD_TRAIL);
    let home = old_home(&trail);
    let deck = home.deck("auditor");
    // The chain itself names it: the hash covers the text.
    let b = deck
        .trail()
        .verify(true)
        .unwrap()
        .first_break
        .expect("break");
    assert_eq!((b.line, b.seq), (3, Some(3)));

    let msg = match deck.trail().audit(&opsdeck::audit::AuditFilter::default()) {
        Err(e @ opsdeck::Error::Store(StoreError::Corrupt { .. })) => e.to_string(),
        other => panic!("expected a corrupt store error, got {other:?}"),
    };
    for part in [
        "audit.jsonl",
        "line 3",
        "record 3",
        "01a24b47-5a00-7000-8000-000000000003",
        "\"2026-12-06T25:15:00Z\" is not an instant",
    ] {
        assert!(msg.contains(part), "{part} missing from: {msg}");
    }
    let out = home
        .cmd()
        .args(["--user", "auditor", "audit", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("record 3") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Every record's sequence number, as `scan_audit_after(after)` of `store` streams them.
fn seqs_after(store: &opsdeck::store::LocalStore, after: u64) -> Vec<u64> {
    use opsdeck::store::Store;
    let mut seen = Vec::new();
    store
        .scan_audit_after("default", after, &mut |r| {
            seen.push(r.seq);
            true
        })
        .unwrap();
    seen
}

#[test]
fn reading_on_from_a_cursor_gives_only_newer_records_and_notices_a_replaced_file() {
    let home = seeded(2);
    let store = opsdeck::store::LocalStore::open(home.path()).unwrap();
    assert_eq!(seqs_after(&store, 0), (1..=10).collect::<Vec<_>>());
    assert_eq!(seqs_after(&store, 7), vec![8, 9, 10]);
    // The session read to the end; what is appended next is all it reads on.
    home.deck("alice")
        .requests()
        .ask("create 1 t3.micro instances in Ohio", &quiet)
        .unwrap();
    assert_eq!(seqs_after(&store, 10), (11..=15).collect::<Vec<_>>());
    assert_eq!(seqs_after(&store, 13), vec![14, 15]);
    // An earlier cursor than where the session stopped reads from the start again.
    assert_eq!(seqs_after(&store, 2), (3..=15).collect::<Vec<_>>());
    // A file replaced behind the session's back (shorter, then with other lines at the offset)
    // is read from its start, not from a stale offset.
    let l = lines(&home);
    write(&home, &l[..12]);
    assert_eq!(seqs_after(&store, 10), vec![11, 12]);
    let mut shifted = l[..3].to_vec();
    shifted.extend_from_slice(&l[5..]);
    write(&home, &shifted);
    assert_eq!(seqs_after(&store, 12), vec![13, 14, 15]);
    // A damaged line after where the session stopped is still reported, with its line number.
    write(&home, &l[..12]);
    assert_eq!(seqs_after(&store, 10), vec![11, 12]);
    let mut damaged = l.clone();
    damaged[13] = "{not json".into();
    write(&home, &damaged);
    let err = {
        use opsdeck::store::Store;
        store
            .scan_audit_after("default", 12, &mut |_| true)
            .unwrap_err()
    };
    assert!(err.to_string().contains("line 14"), "{err}");
}
