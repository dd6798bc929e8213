//! Tamper detection: edit, delete, reorder and forge stored events; verify names the record.

mod common;

use common::{Home, quiet};

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
