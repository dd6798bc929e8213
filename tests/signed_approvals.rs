//! Approvals are signatures by the approver's own key, and apply verifies everything it trusts
//! (issue 16, items 1 and 4): forged approvals, a plan copied across tenants, a TOTP code
//! without the private key, revoked or deleted approvers, a changed tenant root, and
//! `audit verify` on a decision whose signature does not verify. The forged approval and the
//! TOTP-without-key cases run on the local store and on the aws backend (moto).

mod common;

use common::shared::SharedBackend;
use common::{Home, Team, quiet};
use opsdeck::approval::State;
use opsdeck::audit::{EventKind, Status};
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::tenant::Role;
use opsdeck::time::Clock;

const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const OPERATOR: &[Role] = &[Role::Operator];
const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";

fn team<'a>(home: &'a Home, tenant: Option<&str>) -> Team<'a> {
    Team::new(
        home,
        tenant,
        &[
            ("alice", ADMIN),
            ("bob", APPROVER),
            ("carol", APPROVER),
            ("olga", OPERATOR),
        ],
    )
}

fn refused(r: opsdeck::Result<impl std::fmt::Debug>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn apply(deck: &Deck, id: &str) -> opsdeck::Result<opsdeck::pipeline::ApplyReport> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    rt.block_on(deck.runs().apply(id, &quiet, rx))
}

/// What apply says of a plan whose approvals are all valid: whatever stops it then (no
/// terraform here, an unreachable AWS) is not about its approvals.
fn passes_approval_checks(deck: &Deck, id: &str) {
    if let Err(e) = apply(deck, id) {
        let msg = e.to_string();
        assert!(
            !msg.contains("does not count") && !msg.contains("not in the audit trail"),
            "{msg}"
        );
    }
}

fn denied_events(deck: &Deck, needle: &str) -> usize {
    let mut n = 0;
    deck.trail()
        .scan_audit(&mut |r| {
            if r.event.event == EventKind::AccessDenied
                && r.event
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains(needle))
            {
                n += 1;
            }
            true
        })
        .unwrap();
    n
}

/// A store writer sets the plan to approved with an approval by bob carrying a made-up
/// signature, and appends an `approved` event for it to the trail.
/// A plan olga asks for (queued for approval); its id.
fn asked(t: &Team<'_>) -> String {
    t.deck("olga")
        .requests()
        .ask(SPEC, &quiet)
        .unwrap()
        .plan
        .plan_id
}

fn forge_approval(t: &Team<'_>, id: &str) {
    let deck = t.deck("alice");
    let tenant = deck.tenant().name.clone();
    let store = deck.raw_store();
    let rec = store
        .update_plan(&tenant, id, &mut |r| {
            r.state = State::Approved;
            let mut a: opsdeck::approval::Approval = serde_json::from_value(serde_json::json!({
                "user": "bob", "user_source": "os", "at": t.clock.stamp(),
                "plan_hash": r.plan.content_hash,
                "signature": "AAAAmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupmadeupAA==",
                "key_fingerprint": "SHA256:madeup"}))
            .unwrap();
            a.at = t.clock.stamp();
            r.approvals = vec![a];
            Ok(())
        })
        .unwrap();
    let mut ev: opsdeck::audit::AuditEvent = serde_json::from_value(serde_json::json!({
        "eventId": uuid::Uuid::new_v4().to_string(), "requestId": rec.plan.request_id,
        "tenantId": tenant, "userId": "bob", "userSource": "os", "osUser": "bob",
        "timestamp": t.clock.stamp(), "event": "approved", "status": "approved",
        "planId": id,
        "approvalMetadata": {"approver": "bob", "planHash": rec.plan.content_hash,
            "signedAt": rec.approvals[0].at,
            "signature": rec.approvals[0].signed.as_ref().unwrap().signature}
    }))
    .unwrap();
    ev.status = Status::Approved;
    let signer = opsdeck::audit::Signer::load_or_create(&t.home.path().join("keys")).unwrap();
    store.append_audit(&tenant, &[ev], &signer).unwrap();
}

fn forged_approval_is_refused(t: &Team<'_>) {
    let id = asked(t);
    forge_approval(t, &id);
    let msg = refused(apply(&t.deck("alice"), &id));
    assert!(msg.contains("approval by bob"), "{msg}");
    assert!(msg.contains("does not count"), "{msg}");
    assert!(denied_events(&t.deck("alice"), "does not count") >= 1);
    // A real approval of another plan passes the same checks.
    let good = asked(t);
    t.approve("bob", &good).unwrap();
    passes_approval_checks(&t.deck("alice"), &good);
}

#[test]
fn a_forged_approval_line_is_refused_at_apply() {
    let home = Home::new();
    forged_approval_is_refused(&team(&home, None));
}

#[test]
fn a_forged_approval_line_is_refused_at_apply_on_the_shared_backend() {
    let Some(b) = SharedBackend::new("forged_approval_signed") else {
        return;
    };
    let home = b.home();
    forged_approval_is_refused(&team(&home, None));
}

/// Someone who read bob's TOTP secret from the store, on a machine without bob's private key.
fn totp_without_private_key_is_refused(home: &Home) {
    let t = team(home, None);
    let id = asked(&t);
    let elsewhere = tempfile::tempdir().unwrap();
    let c: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let deck = Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        identity_dir: Some(elsewhere.path().to_path_buf()),
        user: Some("bob".into()),
        clock: Some(c),
        ..OpenOptions::default()
    })
    .unwrap();
    let code = t.code("bob");
    let msg = refused(deck.approvals().approve(&id, None, Some(&code), None));
    assert!(msg.contains("no private key for bob"), "{msg}");
    assert_eq!(
        t.deck("alice").approvals().plan(&id).unwrap().state,
        State::Pending
    );
    assert_eq!(denied_events(&t.deck("alice"), "no private key for bob"), 1);
    // Also refused from a different key of his own name that is not the registered one.
    opsdeck::identity::create_key(elsewhere.path(), "bob", None).unwrap();
    let code = t.code("bob");
    let msg = refused(deck.approvals().approve(&id, None, Some(&code), None));
    assert!(msg.contains("is not the key registered for bob"), "{msg}");
}

#[test]
fn a_totp_code_without_the_private_key_does_not_approve() {
    totp_without_private_key_is_refused(&Home::new());
}

#[test]
fn a_totp_code_without_the_private_key_does_not_approve_on_the_shared_backend() {
    let Some(b) = SharedBackend::new("totp_without_key") else {
        return;
    };
    totp_without_private_key_is_refused(&b.home());
}

#[test]
fn the_cli_refuses_an_approval_without_the_private_key() {
    let home = Home::new();
    let (_alice, bob) = common::enrol_cli(&home);
    let out = home
        .cmd()
        .args(["--user", "alice", "--json", "ask", SPEC])
        .output()
        .unwrap();
    let id = common::plan_id(&out.stdout);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = home
        .cmd()
        .arg("--identity-dir")
        .arg(elsewhere.path())
        .args(["--user", "bob", "approve", &id, "--totp"])
        .arg(common::code(&bob, 0))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no private key for bob"), "{err}");
    // With bob's own key (the home's identity directory) the same approval goes through.
    let out = home
        .cmd()
        .args(["--user", "bob", "approve", &id, "--totp"])
        .arg(common::code(&bob, 1))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Tenants acme and beta with the same people; a plan asked and approved in acme, then copied
/// by `copy` (plan record, artifacts) into beta along with its approved event: refused in beta.
fn copied_plan_is_refused(home: &Home, copy: &dyn Fn(&opsdeck::approval::PlanRecord)) {
    for t in ["acme", "beta"] {
        home.deck("alice").admin().add_tenant(t).unwrap();
    }
    let acme = team(home, Some("acme"));
    let beta = team(home, Some("beta"));
    let rec = acme.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let id = rec.plan.plan_id.clone();
    acme.approve("bob", &id).unwrap();
    copy(&rec);
    // The plan's whole history goes along (requested … queued, approved), as a careful copier
    // would: a plan the trail does not know is refused for that alone.
    let mut events = Vec::new();
    acme.deck("alice")
        .trail()
        .scan_audit(&mut |r| {
            if r.event.request_id == rec.plan.request_id || r.event.plan_id.as_deref() == Some(&id)
            {
                events.push(r.event);
            }
            true
        })
        .unwrap();
    let signer = opsdeck::audit::Signer::load_or_create(&home.path().join("keys")).unwrap();
    beta.deck("alice")
        .raw_store()
        .append_audit("beta", &events, &signer)
        .unwrap();
    assert_eq!(
        beta.deck("alice").approvals().plan(&id).unwrap().state,
        State::Approved
    );
    let msg = refused(apply(&beta.deck("alice"), &id));
    assert!(msg.contains("approval by bob"), "{msg}");
    assert!(msg.contains("belongs to tenant acme"), "{msg}");
    passes_approval_checks(&acme.deck("alice"), &id);
}

#[test]
fn a_plan_copied_into_another_tenant_is_refused_there() {
    let home = Home::new();
    let root = home.path().join("tenants");
    copied_plan_is_refused(&home, &|rec| {
        let copy = |rel: &str| {
            let to = root.join("beta").join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(root.join("acme").join(rel), to).unwrap();
        };
        copy(&format!("plans/{}.json", rec.plan.plan_id));
        for a in &rec.plan.artifacts {
            copy(&format!("artifacts/{}/{}", &a.sha256[..2], a.sha256));
        }
    });
}

#[test]
fn a_plan_copied_into_another_tenant_is_refused_there_on_the_shared_backend() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(b) = SharedBackend::new("copied_plan_signed") else {
        return;
    };
    let home = b.home();
    let (ddb, _) = b.clients();
    copied_plan_is_refused(&home, &|rec| {
        let mut items = vec![("approvals", rec.plan.plan_id.clone())];
        items.extend(
            rec.plan
                .artifacts
                .iter()
                .map(|a| ("artifacts", a.sha256.clone())),
        );
        for (table, sk) in items {
            let got = common::shared::block(
                ddb.get_item()
                    .table_name(b.table(table))
                    .key("pk", AttributeValue::S("acme".into()))
                    .key("sk", AttributeValue::S(sk.clone()))
                    .send(),
            )
            .unwrap();
            let mut item = got.item.unwrap_or_else(|| panic!("{table} {sk} in acme"));
            item.insert("pk".into(), AttributeValue::S("beta".into()));
            common::shared::block(
                ddb.put_item()
                    .table_name(b.table(table))
                    .set_item(Some(item))
                    .send(),
            )
            .unwrap();
        }
    });
}

#[test]
fn an_approval_by_a_revoked_or_deleted_member_no_longer_counts() {
    let home = Home::new();
    let t = team(&home, None);
    let by_bob = asked(&t);
    let by_carol = asked(&t);
    t.approve("bob", &by_bob).unwrap();
    t.approve("carol", &by_carol).unwrap();
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .remove_user("bob", Some(&code))
        .unwrap();
    let msg = refused(apply(&t.deck("alice"), &by_bob));
    assert!(msg.contains("approval by bob"), "{msg}");
    assert!(msg.contains("no longer a member"), "{msg}");
    // The tombstone stays: bob's history answers who he was when he approved.
    let bob = t
        .deck("alice")
        .raw_store()
        .get_user("default", "bob")
        .unwrap()
        .unwrap();
    assert!(bob.roles.is_empty() && bob.membership.len() == 2);
    std::fs::remove_file(home.path().join("tenants/default/users/carol.json")).unwrap();
    let msg = refused(apply(&t.deck("alice"), &by_carol));
    assert!(msg.contains("approval by carol"), "{msg}");
    assert!(msg.contains("no signed membership"), "{msg}");
}

#[test]
fn a_changed_tenant_root_is_refused_loudly() {
    let home = Home::new();
    let t = team(&home, None);
    let id = asked(&t);
    t.approve("bob", &id).unwrap();
    // Someone who can write the store replaces its users with their own root and approver.
    let users = home.path().join("tenants/default/users");
    std::fs::remove_dir_all(&users).unwrap();
    std::fs::create_dir_all(&users).unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let c: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let open = |user: &str| {
        Deck::open(OpenOptions {
            home: Some(home.path().to_path_buf()),
            identity_dir: Some(theirs.path().to_path_buf()),
            user: Some(user.into()),
            clock: Some(c.clone()),
            ..OpenOptions::default()
        })
        .unwrap()
    };
    open("mallory")
        .admin()
        .add_user("mallory", vec![Role::Admin], vec![], None)
        .unwrap();
    let msg = refused(t.deck("alice").admin().key_status());
    assert!(
        msg.contains("THE ROOT OF TRUST OF TENANT default HAS CHANGED"),
        "{msg}"
    );
    assert!(msg.contains("known_tenants"), "{msg}");
    // And a plan approved under the old root is not applied by anyone who pinned it.
    let msg = refused(apply(&t.deck("alice"), &id));
    assert!(
        msg.contains("HAS CHANGED") || msg.contains("not a registered user"),
        "{msg}"
    );
}

#[test]
fn audit_verify_flags_a_decision_whose_signature_does_not_verify() {
    let home = Home::new();
    let t = team(&home, None);
    let id = asked(&t);
    t.approve("bob", &id).unwrap();
    let report = t.deck("alice").trail().verify(true).unwrap();
    assert!(report.ok, "{report:?}");
    // An approved event sealed onto the chain whose signature is not bob's.
    forge_approval(&t, &asked(&t));
    let report = t.deck("alice").trail().verify(true).unwrap();
    assert!(!report.ok, "{report:?}");
    let b = report.first_break.unwrap();
    assert!(
        b.problem.contains("approve by bob does not verify"),
        "{b:?}"
    );
}

#[test]
fn a_rotated_key_signs_from_then_on_and_earlier_approvals_still_verify() {
    let home = Home::new();
    let t = team(&home, None);
    let before = asked(&t);
    t.approve("bob", &before).unwrap();
    // Bob's new key, on his machine; an admin registers it.
    let keys = home.identity_dir().join("keys");
    std::fs::rename(keys.join("bob.key"), keys.join("bob.key.old")).unwrap();
    std::fs::remove_file(keys.join("bob.pub")).unwrap();
    let new = home.personal_key("bob");
    let code = t.code("alice");
    let u = t
        .deck("alice")
        .admin()
        .set_user_key("bob", &new, Some(&code))
        .unwrap();
    assert_eq!(u.key.as_deref(), Some(new.as_str()));
    assert_eq!(u.membership.last().unwrap().signer, "alice");
    // The approval made with the old key was signed by the key registered then.
    passes_approval_checks(&t.deck("alice"), &before);
    let after = asked(&t);
    t.approve("bob", &after).unwrap();
    passes_approval_checks(&t.deck("alice"), &after);
    assert!(t.deck("alice").trail().verify(true).unwrap().ok);
    // Only an admin registers keys: bob cannot register one for himself.
    let code = t.code("bob");
    let msg = refused(t.deck("bob").admin().set_user_key("bob", &new, Some(&code)));
    assert!(msg.contains("needs the admin role"), "{msg}");
}

#[test]
fn a_store_from_before_signed_approvals_loads_and_is_refused_with_what_to_do() {
    let home = Home::new();
    let t = team(&home, None);
    let id = asked(&t);
    // Users as they were stored before: no key, no membership records.
    for e in std::fs::read_dir(home.path().join("tenants/default/users")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("key");
        v.as_object_mut().unwrap().remove("membership");
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    std::fs::remove_file(home.identity_dir().join("known_tenants")).unwrap();
    assert_eq!(t.deck("alice").admin().users().unwrap().len(), 4);
    let code = t.code("bob");
    let msg = refused(
        t.deck("bob")
            .approvals()
            .approve(&id, None, Some(&code), None),
    );
    assert!(msg.contains("no signed membership yet"), "{msg}");
    assert!(msg.contains("opsdeck users key"), "{msg}");
    // An admin registering their own key becomes the root; then bob's key, then bob approves.
    let alice_key = home.personal_key("alice");
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_user_key("alice", &alice_key, Some(&code))
        .unwrap();
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_user_key("bob", &home.personal_key("bob"), Some(&code))
        .unwrap();
    t.approve("bob", &id).unwrap();
    passes_approval_checks(&t.deck("alice"), &id);
}

/// A rule that needs group sre to approve a create.
fn sre_rule(t: &Team<'_>) {
    let mut s = t.deck("alice").tenant().clone();
    s.approvals.rules.insert(
        0,
        opsdeck::tenant::ApprovalRule {
            name: "sre-only".into(),
            environment: None,
            action: Some("create".into()),
            min_risk: None,
            approvers: 1,
            roles: vec![Role::Approver],
            group: Some("sre".into()),
        },
    );
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(s, Some(&code))
        .unwrap();
}

fn groups_count_only_as_signed(home: &Home) {
    let t = team(home, None);
    sre_rule(&t);
    let id = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    let store_write = |f: &mut dyn FnMut(&mut opsdeck::tenant::User)| {
        t.deck("alice")
            .raw_store()
            .update_user("default", "bob", &mut |u| {
                f(u);
                Ok(())
            })
            .unwrap();
    };
    // Someone who can write the store puts bob in group sre: his user record says so, his
    // signed membership does not. Before groups were signed, this approval went through.
    store_write(&mut |u| u.groups.push("sre".into()));
    let why = refused(t.approve("bob", &id));
    assert!(why.contains("not in their signed membership"), "{why}");
    // Adding the group to his signed record breaks its signature: the record no longer counts.
    store_write(&mut |u| {
        if let Some(r) = u.membership.last_mut() {
            r.groups.push("sre".into());
        }
    });
    assert!(t.approve("bob", &id).is_err());
    store_write(&mut |u| {
        if let Some(r) = u.membership.last_mut() {
            r.groups.clear();
        }
    });

    let code = t.code("alice");
    let err = t
        .deck("alice")
        .admin()
        .set_user_groups("bob", vec!["sre,ops".into()], Some(&code))
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid group name"), "{err}");
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_user_groups("bob", vec!["sre".into()], Some(&code))
        .unwrap();
    t.approve("bob", &id).unwrap();
    passes_approval_checks(&t.deck("olga"), &id);
}

#[test]
fn approver_groups_count_only_as_signed() {
    groups_count_only_as_signed(&Home::new());
}

#[test]
fn approver_groups_count_only_as_signed_on_the_shared_backend() {
    let Some(b) = SharedBackend::new("signed_groups") else {
        return;
    };
    groups_count_only_as_signed(&b.home());
}
