//! Approval rules: self-approval, hash binding, double approval, rejection, expiry, policy denial.

mod common;

use common::{Home, Team, quiet};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::store::StoreError;
use opsdeck::tenant::{Role, Tenant};

const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const OPERATOR: &[Role] = &[Role::Operator];

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[
            ("alice", ADMIN),
            ("bob", APPROVER),
            ("carol", APPROVER),
            ("dave", APPROVER),
            ("erin", APPROVER),
            ("olga", OPERATOR),
        ],
    )
}

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

fn refused(r: opsdeck::Result<impl std::fmt::Debug>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn requester_never_approves_and_others_approve_once() {
    let home = Home::new();
    let t = team(&home);
    let rec = t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    assert_eq!(rec.state, State::Pending);
    let id = rec.plan.plan_id.clone();
    let alice_asks = t
        .deck("alice")
        .requests()
        .ask(SPEC, &quiet)
        .unwrap()
        .plan
        .plan_id;
    assert!(refused(t.approve("alice", &alice_asks)).contains("cannot approve"));
    let code = t.code("bob");
    let rec = t
        .deck("bob")
        .approvals()
        .approve(&id, Some("looks right".into()), Some(&code), None)
        .unwrap();
    assert_eq!(rec.state, State::Approved);
    assert_eq!(rec.approvals[0].plan_hash, rec.plan.content_hash);
    assert!(refused(t.approve("bob", &id)).contains("already approved"));
    assert!(refused(t.approve("carol", &id)).contains("already approved"));
}

#[test]
fn artifact_changed_before_approval_cannot_be_approved() {
    let home = Home::new();
    let t = team(&home);
    let rec = t.deck("alice").requests().ask(SPEC, &quiet).unwrap();
    let art = &rec.plan.artifacts[0];
    let path = home
        .path()
        .join("tenants/default/artifacts")
        .join(&art.sha256[..2])
        .join(&art.sha256);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\nresource \"aws_iam_user\" \"backdoor\" { name = \"x\" }\n");
    std::fs::write(&path, text).unwrap();
    let msg = refused(t.approve("bob", &rec.plan.plan_id));
    assert!(msg.contains("modified after it was stored"), "{msg}");
}

#[test]
fn plan_changed_after_approval_is_refused_at_apply() {
    let home = Home::new();
    let t = team(&home);
    let rec = t.deck("alice").requests().ask(SPEC, &quiet).unwrap();
    let id = rec.plan.plan_id.clone();
    t.approve("bob", &id).unwrap();
    // Point the plan at different content, as someone editing the store would.
    let path = home
        .path()
        .join("tenants/default/plans")
        .join(format!("{id}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let other = t
        .deck("alice")
        .raw_store()
        .put_artifact("default", b"resource \"aws_iam_user\" \"x\" {}\n")
        .unwrap();
    v["plan"]["artifacts"][0]["sha256"] = serde_json::json!(other);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = rt.block_on(t.deck("alice").runs().apply(&id, &quiet, rx));
    let msg = refused(err);
    assert!(msg.contains("no longer matches what was approved"), "{msg}");
}

#[test]
fn forged_approval_in_plan_file_is_not_enough() {
    let home = Home::new();
    let Some(_) = common::terraform() else { return };
    let t = team(&home);
    let dir = common::terraform_data_dir("");
    let rec = t
        .deck("alice")
        .requests()
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
        "at": t.deck("alice").clock().iso(), "plan_hash": rec.plan.content_hash}]);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(home.deck("alice").runs().apply(&id, &quiet, rx)));
    // Unsigned, it is refused before the trail is even read.
    assert!(
        msg.contains("the approval by mallory") && msg.contains("it is unsigned"),
        "{msg}"
    );
}

#[test]
fn pending_plans_and_approvals_expire() {
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    let id = alice.requests().ask(SPEC, &quiet).unwrap().plan.plan_id;
    t.clock.advance_secs(8 * 24 * 3600);
    assert!(refused(t.approve("bob", &id)).contains("expired"));
    assert_eq!(
        t.deck("bob").approvals().plan(&id).unwrap().state,
        State::Expired
    );

    let id = alice.requests().ask(SPEC, &quiet).unwrap().plan.plan_id;
    t.approve("bob", &id).unwrap();
    t.clock.advance_secs(25 * 3600);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(t.deck("alice").runs().apply(&id, &quiet, rx)));
    assert!(
        msg.contains("approval of plan") && msg.contains("expired"),
        "{msg}"
    );
}

#[test]
fn policy_denied_plans_cannot_be_approved_by_anyone() {
    let home = Home::new();
    let t = team(&home);
    // The team's tenant lets one OS account act as its people; the rest is the defaults.
    let mut settings = Tenant {
        allow_claimed_users: true,
        ..Tenant::default()
    };
    settings.policy.allowed_regions = vec!["eu-west-1".into()];
    settings.budget.per_plan_usd = 50.0;
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let alice = t.deck("alice");
    let rec = alice.requests().ask(SPEC, &quiet).unwrap();
    assert_eq!(rec.state, State::Rejected);
    let rules: Vec<&str> = rec
        .plan
        .gates
        .iter()
        .filter(|g| g.result == opsdeck::plan::GateResult::Deny)
        .map(|g| g.rule.as_str())
        .collect();
    assert_eq!(rules, ["budget.per_plan", "regions.allowed"]);
    assert!(refused(t.approve("bob", &rec.plan.plan_id)).contains("rejected"));
    let within = alice
        .requests()
        .ask("create 1 t3.micro instance in Ireland", &quiet)
        .unwrap();
    assert_eq!(within.state, State::Pending);
}

#[test]
fn approvals_race_has_one_winner() {
    let home = Home::new();
    let t = team(&home);
    let id = t
        .deck("alice")
        .requests()
        .ask(SPEC, &quiet)
        .unwrap()
        .plan
        .plan_id;
    let codes: Vec<(&str, String)> = ["bob", "carol", "dave", "erin"]
        .into_iter()
        .map(|u| (u, t.code(u)))
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = codes
            .iter()
            .map(|(u, code)| {
                let deck = t.deck(u);
                let id = id.clone();
                s.spawn(move || {
                    deck.approvals()
                        .approve(&id, None, Some(code), None)
                        .is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    let rec = t.deck("alice").approvals().plan(&id).unwrap();
    assert_eq!(rec.approvals.len(), 1);
}

#[test]
fn plan_records_keep_their_timestamps_as_written_and_a_malformed_one_is_named() {
    let home = Home::new();
    let t = team(&home);
    let rec = t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let id = rec.plan.plan_id.clone();
    let path = home
        .path()
        .join("tenants/default/plans")
        .join(format!("{id}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    // Written as always: UTC, milliseconds, fixed width.
    let created = rec.plan.created_at.to_string();
    assert_eq!(created, opsdeck::time::Clock::iso(t.clock.as_ref()));
    let field = format!("\"created_at\": \"{created}\"");
    assert!(text.contains(&field), "{text}");

    // A record whose time has another form (written by hand or imported) is read and kept as
    // it was through the next change.
    let other = "\"created_at\": \"2026-11-24T10:00:00Z\"";
    std::fs::write(&path, text.replace(&field, other)).unwrap();
    let approved = t.approve("bob", &id).unwrap();
    assert_eq!(approved.state, State::Approved);
    assert_eq!(approved.plan.created_at.to_string(), "2026-11-24T10:00:00Z");
    let stored = std::fs::read_to_string(&path).unwrap();
    assert!(stored.contains(other), "{stored}");
    let at = format!("\"at\": \"{}\"", approved.approvals[0].at);
    assert!(
        stored.contains(&at) && at.len() == "\"at\": \"\"".len() + 24,
        "{at}"
    );

    // One that is not a time at all is an error naming the record, not a panic.
    std::fs::write(
        &path,
        stored.replace(other, "\"created_at\": \"yesterday\""),
    )
    .unwrap();
    match t.deck("bob").approvals().plan(&id) {
        Err(e @ Error::Store(StoreError::Corrupt { .. })) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("{id}.json")), "{msg}");
            assert!(msg.contains("\"yesterday\" is not an instant"), "{msg}");
        }
        other => panic!("expected a corrupt store error, got {other:?}"),
    }
}

/// The refusal rule is written once (`approval::rules::refusal`): what a front end says before
/// it asks for a TOTP code is, word for word, what the core answers for a plan in that state.
#[test]
fn front_ends_and_the_core_refuse_in_the_same_words() {
    use opsdeck::approval::{Decision, rules};
    let home = Home::new();
    let t = team(&home);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let apply = |user: &str, id: &str| {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        rt.block_on(t.deck(user).runs().apply(id, &quiet, rx))
    };
    let asked = |user: &str, decision: Decision, id: &str| {
        let deck = t.deck(user);
        let rec = deck.approvals().plan(id).unwrap();
        rules::refusal(decision, &rec, user, deck.tenant(), deck.clock())
            .map(|r| r.to_string())
            .unwrap_or_else(|| panic!("{decision:?} on {id} by {user} is not refused"))
    };
    let olga_asks = || {
        let rec = t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
        rec.plan.plan_id
    };
    let id = olga_asks();
    let said = asked("alice", Decision::Apply, &id);
    assert!(
        said.contains("is not approved yet (0 of 1 approvals)"),
        "{said}"
    );
    assert_eq!(refused(apply("alice", &id)), said);

    t.approve("bob", &id).unwrap();
    let said = asked("carol", Decision::Approve, &id);
    assert_eq!(said, format!("plan {id} is already approved (by bob)"));
    assert_eq!(refused(t.approve("carol", &id)), said);
    assert_eq!(asked("carol", Decision::BreakGlass, &id), said);

    let code = t.code("bob");
    t.deck("bob")
        .approvals()
        .reject(&id, "wrong account", Some(&code))
        .unwrap();
    let said = asked("carol", Decision::Approve, &id);
    assert_eq!(
        said,
        format!("plan {id} is rejected and can no longer be approved")
    );
    assert_eq!(refused(t.approve("carol", &id)), said);
    let said = asked("carol", Decision::Reject, &id);
    let code = t.code("carol");
    let core = t
        .deck("carol")
        .approvals()
        .reject(&id, "again", Some(&code));
    assert_eq!(refused(core), said);
    let said = asked("alice", Decision::Apply, &id);
    assert_eq!(
        said,
        format!("plan {id} was rejected by bob: wrong account")
    );
    assert_eq!(refused(apply("alice", &id)), said);

    let id = olga_asks();
    t.clock.advance_secs(8 * 24 * 3600);
    let said = asked("bob", Decision::Approve, &id);
    assert_eq!(
        said,
        format!("plan {id} expired while waiting for approval; ask again to create a new plan")
    );
    assert_eq!(refused(t.approve("bob", &id)), said);
}
