//! Certified audit-signing keys (issue 16, item 3): a member vouches for each machine's
//! audit-signing key with their personal key, in a signed event of the trail itself. Before,
//! a member who had not pinned the keys trusted whatever key the store held (first use); a new
//! machine of the team needed `audit trust-key` on every member's machine; a key could not be
//! revoked. On the local store and on the shared backend (moto).

mod common;

use common::shared::SharedBackend;
use common::trail_store::{AwsStorage, LocalStorage, Storage, fresh_member};
use common::{Home, Team, quiet, team};
use opsdeck::audit::Signer;
use opsdeck::identity::Statement;
use opsdeck::pipeline::{Deck, OpenOptions};
use serde_json::{Value, json};

const SPEC: &str = "create 3 t3.micro instances in Ohio";

fn verify(deck: &Deck) -> Value {
    serde_json::to_value(deck.trail().verify(true).unwrap()).unwrap()
}

fn signing_key<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["signing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} signed nothing: {v:#}"))
}

/// `user` on another machine: its own data directory (so its own audit-signing key), the
/// team's identity directory (so the person's own key) unless `identity` says otherwise.
fn machine(t: &Team<'_>, other: &Home, user: &str, identity: Option<&Home>) -> Deck {
    let clock: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    Deck::open(OpenOptions {
        home: Some(other.path().to_path_buf()),
        identity_dir: Some(identity.map_or_else(|| t.home.identity_dir(), Home::identity_dir)),
        user: Some(user.into()),
        clock: Some(clock),
        ..OpenOptions::default()
    })
    .unwrap()
}

/// Someone with store write registers a key of their own and seals one more record with it.
fn inject_key(deck: &Deck, storage: &dyn Storage) -> (tempfile::TempDir, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let evil = Signer::load_or_create(dir.path()).unwrap();
    storage.add_key(evil.key_id(), &hex::encode(evil.verifying_key().as_bytes()));
    let mut ev = deck.trail().audit(&Default::default()).unwrap()[0]
        .event
        .clone();
    ev.event_id = uuid::Uuid::now_v7().to_string();
    deck.raw_store()
        .append_audit("default", &[ev], &evil)
        .unwrap();
    (dir, evil)
}

fn assert_untrusted(v: &Value, key: &str) {
    assert_eq!(v["ok"], false, "{v:#}");
    assert_eq!(v["first_break"]["what"], "untrusted_key", "{v:#}");
    assert!(
        v["first_break"]["problem"].as_str().unwrap().contains(key),
        "{v:#}"
    );
}

// ------------------------------------------------------------------------------------------
// An injected key, named even to a member who pinned nothing.

fn injected_key_is_named_to_a_fresh_member(
    storage: &dyn Storage,
    member: &Deck,
    fresh: &dyn Fn() -> Deck,
) {
    let before = verify(member);
    assert_eq!(before["ok"], true, "{before:#}");
    // The machine that wrote the trail certified its key with the writer's personal key.
    let own = before["signing_keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let trust = signing_key(&before, &own)["trust"].as_str().unwrap_or("");
    assert!(trust.starts_with("certified by "), "{before:#}");
    assert!(
        member.trail().audit(&Default::default()).unwrap()[..]
            .iter()
            .any(|r| r.event.event.as_str() == "audit_key_certified"),
        "the certification is an event of the trail"
    );

    let (_d, evil) = inject_key(member, storage);
    // Before certification, someone who had pinned nothing trusted the injected key on first
    // use, and the trail verified for them.
    assert_untrusted(&verify(&fresh()), evil.key_id());
    assert_untrusted(&verify(member), evil.key_id());
}

#[test]
fn local_an_injected_key_is_named_to_a_member_who_pinned_nothing() {
    let home = Home::new();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let elsewhere = Home::new();
    injected_key_is_named_to_a_fresh_member(&LocalStorage(&home), &t.deck("alice"), &|| {
        fresh_member(&home, &elsewhere)
    });
}

#[test]
fn aws_an_injected_key_is_named_to_a_member_who_pinned_nothing() {
    let Some(b) = SharedBackend::new("keys_injected") else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let elsewhere = b.home();
    injected_key_is_named_to_a_fresh_member(&AwsStorage(&b), &t.deck("alice"), &|| {
        elsewhere.deck("alice")
    });
}

// ------------------------------------------------------------------------------------------
// A forged certification.

#[test]
fn local_a_forged_certification_is_named_where_it_is() {
    let home = Home::new();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let alice = t.deck("alice");
    assert_eq!(verify(&alice)["ok"], true);
    let dir = tempfile::tempdir().unwrap();
    let evil = Signer::load_or_create(dir.path()).unwrap();
    let public = hex::encode(evil.verifying_key().as_bytes());
    LocalStorage(&home).add_key(evil.key_id(), &public);
    // The attacker signs "alice certified my key" with a key of their own making.
    let not_alice = opsdeck::identity::create_key(dir.path(), "alice", None).unwrap();
    let at = opsdeck::time::Stamp::now();
    let signature = opsdeck::identity::statement::AuditKeyStatement {
        tenant: "default",
        key_id: evil.key_id(),
        public: &public,
        action: opsdeck::identity::statement::KeyAction::Certify,
        at: &at,
        user: "alice",
    }
    .sign(&not_alice)
    .unwrap();
    let mut ev = alice.trail().audit(&Default::default()).unwrap()[0]
        .event
        .clone();
    ev.event_id = uuid::Uuid::now_v7().to_string();
    ev.event = opsdeck::audit::EventKind::AuditKeyCertified;
    ev.approval_metadata = Some(json!({
        "keyId": evil.key_id(), "publicKey": public, "action": "certify", "by": "alice",
        "signedAt": at.to_string(), "signature": signature,
    }));
    let forged = alice
        .raw_store()
        .append_audit("default", &[ev], &evil)
        .unwrap();

    for deck in [alice, fresh_member(&home, &Home::new())] {
        let v = verify(&deck);
        assert_eq!(v["ok"], false, "{v:#}");
        assert_eq!(v["first_break"]["what"], "bad_signature", "{v:#}");
        assert_eq!(v["first_break"]["seq"], forged[0].seq, "{v:#}");
        let problem = v["first_break"]["problem"].as_str().unwrap();
        assert!(
            problem.contains("certification") && problem.contains("does not verify"),
            "{problem}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// A new machine of the team, certified by its owner; revoked by an admin.

#[test]
fn aws_a_new_machine_is_trusted_by_every_member_without_pinning_and_revocation_ends_it() {
    let Some(b) = SharedBackend::new("keys_machine") else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let alice = t.deck("alice");
    assert_eq!(verify(&alice)["ok"], true, "alice pins what she saw");

    // olga's laptop: its first change certifies its key with olga's personal key.
    let laptop = b.home();
    let olga_laptop = machine(&t, &laptop, "olga", None);
    olga_laptop.requests().ask(SPEC, &quiet).unwrap();
    let laptop_key = olga_laptop.trail().verify(false).unwrap().signing_keys;
    let laptop_key = laptop_key.last().unwrap().id.clone();
    let v = verify(&t.deck("alice"));
    assert_eq!(v["ok"], true, "{v:#}");
    let k = signing_key(&v, &laptop_key);
    assert_eq!(k["pinned"], false, "{v:#}");
    assert!(
        k["trust"]
            .as_str()
            .unwrap()
            .starts_with("certified by olga"),
        "{v:#}"
    );
    // Once per machine and tenant: a second session does not certify again.
    machine(&t, &laptop, "olga", None)
        .requests()
        .ask(SPEC, &quiet)
        .unwrap();
    let certs = t
        .deck("alice")
        .trail()
        .audit(&Default::default())
        .unwrap()
        .iter()
        .filter(|r| r.event.event.as_str() == "audit_key_certified")
        .count();
    assert_eq!(certs, 2, "one per machine");

    // Only admins revoke, with a reason, and not the key they seal with.
    let err = t
        .deck("bob")
        .trail()
        .revoke_key(&laptop_key, "lost")
        .unwrap_err()
        .to_string();
    assert!(err.contains("may not revoke"), "{err}");
    let own = alice.trail().verify(false).unwrap().signing_keys[0]
        .id
        .clone();
    let err = alice.trail().revoke_key(&own, "x").unwrap_err().to_string();
    assert!(err.contains("seals the trail with"), "{err}");
    let done = alice
        .trail()
        .revoke_key(&laptop_key, "laptop lost")
        .unwrap();
    assert_eq!(done.outcome, "revoked");
    let revoked_at = alice
        .trail()
        .audit(&Default::default())
        .unwrap()
        .iter()
        .find(|r| r.event.event.as_str() == "audit_key_revoked")
        .map(|r| (r.seq, r.event.message.clone().unwrap_or_default()))
        .unwrap();
    assert!(revoked_at.1.contains("laptop lost"), "{revoked_at:?}");
    assert_eq!(
        verify(&t.deck("alice"))["ok"],
        true,
        "nothing sealed by it since"
    );

    // The laptop writes on: what it seals after the revocation counts for nobody.
    machine(&t, &laptop, "olga", None)
        .requests()
        .ask(SPEC, &quiet)
        .unwrap();
    for deck in [t.deck("alice"), b.home().deck("alice")] {
        let v = verify(&deck);
        assert_untrusted(&v, &laptop_key);
        assert!(
            v["first_break"]["seq"].as_u64().unwrap() > revoked_at.0,
            "{v:#}"
        );
        assert!(
            v["first_break"]["problem"]
                .as_str()
                .unwrap()
                .contains(&format!("revoked at record {}", revoked_at.0)),
            "{v:#}"
        );
    }
}

#[test]
fn aws_a_machine_whose_owner_key_was_not_at_hand_is_named_until_certified() {
    let Some(b) = SharedBackend::new("keys_later") else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    assert_eq!(verify(&t.deck("alice"))["ok"], true);
    // olga's laptop without her personal key (another identity dir): nothing certifies it.
    let laptop = b.home();
    let bare = Home::new();
    let olga_laptop = machine(&t, &laptop, "olga", Some(&bare));
    olga_laptop.requests().ask(SPEC, &quiet).unwrap();
    let key = olga_laptop.trail().verify(false).unwrap().signing_keys;
    let key = key.last().unwrap().id.clone();
    assert_untrusted(&verify(&t.deck("alice")), &key);
    // With her key at hand, `audit certify` on the laptop settles it for everyone.
    let done = machine(&t, &laptop, "olga", None)
        .trail()
        .certify_this_machine()
        .unwrap();
    assert_eq!(
        (done.outcome.as_str(), done.key_id.as_str()),
        ("certified", key.as_str())
    );
    assert_eq!(verify(&t.deck("alice"))["ok"], true);
    assert_eq!(verify(&b.home().deck("alice"))["ok"], true);
}

// ------------------------------------------------------------------------------------------
// `audit trust-key`: an admin certifies for everyone, anyone else pins for themself.

#[test]
fn trust_key_by_an_admin_certifies_for_everyone_and_by_others_pins_for_themself() {
    let home = Home::new();
    let t = team(&home);
    t.deck("olga").requests().ask(SPEC, &quiet).unwrap();
    let (_d, other) = inject_key(&t.deck("alice"), &LocalStorage(&home));
    let id = other.key_id();
    let elsewhere = Home::new();

    let out = home
        .cmd()
        .args(["--user", "alice", "audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(
        text.contains(id) && text.contains("NOT certified nor pinned"),
        "{text}"
    );
    assert!(text.contains("certified by "), "{text}");

    // bob (an approver) pins it: for his identity directory only.
    let out = home
        .cmd()
        .args(["--user", "bob", "--identity-dir"])
        .arg(elsewhere.path().join("bob"))
        .args(["audit", "trust-key", id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("for you only"), "{text}");
    assert_untrusted(&verify(&fresh_member(&home, &elsewhere)), id);

    // alice (an admin) certifies it: a signed event every member's verification accepts.
    // (Through the deck: the team's clock runs ahead of the binary's by the enrolment steps.)
    let done = t.deck("alice").trail().trust_key(id).unwrap();
    assert_eq!(done.outcome, "certified");
    assert!(done.event_id.is_some());
    let v = verify(&fresh_member(&home, &elsewhere));
    assert_eq!(v["ok"], true, "{v:#}");
    assert!(
        signing_key(&v, id)["trust"]
            .as_str()
            .unwrap()
            .starts_with("certified by alice"),
        "{v:#}"
    );
}
