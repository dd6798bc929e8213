//! Approval rules: self-approval, hash binding, double approval, rejection, expiry, policy denial.

mod common;

use std::sync::Arc;

use common::{Home, quiet};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::tenant::Tenant;
use opsdeck::time::{Clock, ManualClock};

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

fn refused(r: opsdeck::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(Error::Refused(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn requester_never_approves_and_others_approve_once() {
    let home = Home::new();
    let alice = home.deck("alice");
    let rec = alice.ask(SPEC, &quiet).unwrap();
    assert_eq!(rec.state, State::Pending);
    let id = rec.plan.plan_id.clone();
    assert!(refused(alice.approve(&id, None)).contains("cannot approve"));
    let bob = home.deck("bob");
    let rec = bob.approve(&id, Some("looks right".into())).unwrap();
    assert_eq!(rec.state, State::Approved);
    assert_eq!(rec.approvals[0].plan_hash, rec.plan.content_hash);
    assert!(refused(bob.approve(&id, None)).contains("already approved"));
    assert!(refused(home.deck("carol").approve(&id, None)).contains("already approved"));
}

#[test]
fn artifact_changed_before_approval_cannot_be_approved() {
    let home = Home::new();
    let rec = home.deck("alice").ask(SPEC, &quiet).unwrap();
    let art = &rec.plan.artifacts[0];
    let path = home
        .path()
        .join("tenants/default/artifacts")
        .join(&art.sha256[..2])
        .join(&art.sha256);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\nresource \"aws_iam_user\" \"backdoor\" { name = \"x\" }\n");
    std::fs::write(&path, text).unwrap();
    let msg = refused(home.deck("bob").approve(&rec.plan.plan_id, None));
    assert!(msg.contains("modified after it was stored"), "{msg}");
}

#[test]
fn plan_changed_after_approval_is_refused_at_apply() {
    let home = Home::new();
    let rec = home.deck("alice").ask(SPEC, &quiet).unwrap();
    let id = rec.plan.plan_id.clone();
    home.deck("bob").approve(&id, None).unwrap();
    // Point the plan at different content, as someone editing the store would.
    let path = home
        .path()
        .join("tenants/default/plans")
        .join(format!("{id}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let other = home
        .deck("alice")
        .store
        .put_artifact("default", b"resource \"aws_iam_user\" \"x\" {}\n")
        .unwrap();
    v["plan"]["artifacts"][0]["sha256"] = serde_json::json!(other);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = rt.block_on(home.deck("alice").apply(&id, &quiet, rx));
    let msg = refused(err);
    assert!(msg.contains("no longer matches what was approved"), "{msg}");
}

#[test]
fn forged_approval_in_plan_file_is_not_enough() {
    let home = Home::new();
    let Some(_) = common::terraform() else { return };
    let dir = common::terraform_data_dir("");
    let rec = home
        .deck("alice")
        .submit_terraform(dir.path(), "forged", &quiet)
        .unwrap();
    let id = rec.plan.plan_id.clone();
    // Edit the plan record to look approved without any approval event in the signed trail.
    let path = home
        .path()
        .join("tenants/default/plans")
        .join(format!("{id}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["state"] = serde_json::json!("approved");
    v["approvals"] = serde_json::json!([{"user": "mallory", "user_source": "flag",
        "at": home.deck("alice").clock().iso(), "plan_hash": rec.plan.content_hash}]);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(home.deck("alice").apply(&id, &quiet, rx)));
    assert!(
        msg.contains("no matching approval in the audit trail"),
        "{msg}"
    );
}

#[test]
fn pending_plans_and_approvals_expire() {
    let home = Home::new();
    let clock = Arc::new(ManualClock::at("2026-11-24T10:00:00Z".parse().unwrap()));
    let c: Arc<dyn Clock> = clock.clone();
    let alice = home.deck_with("alice", None, Some(c.clone()));
    let bob = home.deck_with("bob", None, Some(c.clone()));
    let id = alice.ask(SPEC, &quiet).unwrap().plan.plan_id;
    clock.advance_secs(8 * 24 * 3600);
    assert!(refused(bob.approve(&id, None)).contains("expired"));
    assert_eq!(bob.plan(&id).unwrap().state, State::Expired);

    let id = alice.ask(SPEC, &quiet).unwrap().plan.plan_id;
    bob.approve(&id, None).unwrap();
    clock.advance_secs(25 * 3600);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(alice.apply(&id, &quiet, rx)));
    assert!(
        msg.contains("approval of plan") && msg.contains("expired"),
        "{msg}"
    );
}

#[test]
fn policy_denied_plans_cannot_be_approved_by_anyone() {
    let home = Home::new();
    let alice = home.deck("alice");
    alice
        .store
        .put_tenant(&Tenant {
            allowed_regions: vec!["eu-west-1".into()],
            per_plan_limit_usd: 50.0,
            ..Tenant::default()
        })
        .unwrap();
    let alice = home.deck("alice");
    let rec = alice.ask(SPEC, &quiet).unwrap();
    assert_eq!(rec.state, State::Rejected);
    let rules: Vec<&str> = rec
        .plan
        .gates
        .iter()
        .filter(|g| g.result == opsdeck::plan::GateResult::Deny)
        .map(|g| g.rule.as_str())
        .collect();
    assert_eq!(rules, ["region.allowed", "budget.per_plan"]);
    assert!(refused(home.deck("bob").approve(&rec.plan.plan_id, None)).contains("rejected"));
    let within = alice
        .ask("create 1 t3.micro instance in Ireland", &quiet)
        .unwrap();
    assert_eq!(within.state, State::Pending);
}

#[test]
fn approvals_race_has_one_winner() {
    let home = Home::new();
    let id = home.deck("alice").ask(SPEC, &quiet).unwrap().plan.plan_id;
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ["bob", "carol", "dave", "erin"]
            .into_iter()
            .map(|u| {
                let home = &home;
                let id = id.clone();
                s.spawn(move || home.deck(u).approve(&id, None).is_ok())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    let rec = home.deck("alice").plan(&id).unwrap();
    assert_eq!(rec.approvals.len(), 1);
}
