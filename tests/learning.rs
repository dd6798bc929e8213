//! Learning from confirmations (issue 18 part 4): a reading its requester confirmed, or
//! corrected, is kept in the tenant's trail and reads the next similar request the same way,
//! without asking again, saying whose confirmation decided it (in the notes and in `explain`).
//! A viewer's confirmation teaches nothing, another tenant learns nothing, and unrelated
//! requests are read as before. On the local store and on the shared backend (moto).

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use common::moto::Moto;
use common::shared::SharedBackend;
use common::{Home, Team, quiet};
use opsdeck::error::Error;
use opsdeck::intent::{Intent, Settled};
use opsdeck::pipeline::{Answer, RequestOptions};
use opsdeck::tenant::Role;

const REGION: &str = "us-east-1";

fn confirming(n: usize) -> RequestOptions {
    RequestOptions {
        confirm_reading: Some(n),
        ..RequestOptions::default()
    }
}

/// The reading a request was planned or answered with; panics when it asks for confirmation.
fn read(t: &Team<'_>, user: &str, text: &str, opts: &RequestOptions) -> Intent {
    match t.deck(user).requests().request_with(text, opts, &quiet) {
        Ok(Answer::Plan(rec)) => rec.plan.intent,
        Ok(Answer::Report(r)) => r.intent,
        Err(e) => panic!("{user}: {text:?}: {e}"),
    }
}

fn asks_to_confirm(t: &Team<'_>, user: &str, text: &str) -> bool {
    matches!(
        t.deck(user).requests().request(text, &quiet),
        Err(Error::NeedsConfirmation(_))
    )
}

fn example_of(intent: &Intent) -> (String, f64) {
    match &intent.settled {
        Some(Settled::Example { who, likeness, .. }) => (who.clone(), *likeness),
        other => panic!("not read from an example: {other:?} {:?}", intent.notes),
    }
}

fn learning_story(home: &Home, moto: &Moto) {
    let t = Team::new(
        home,
        None,
        &[
            ("alice", &[Role::Admin]),
            ("bob", &[Role::Approver]),
            ("olga", &[Role::Operator]),
            ("vera", &[Role::Viewer]),
        ],
    );

    // A viewer may confirm a reading, but her request is refused, and it teaches nothing.
    let refused = t.deck("vera").requests().request_with(
        "get me 2 boxes for the web tier",
        &confirming(1),
        &quiet,
    );
    assert!(refused.is_err(), "a viewer's change was planned");
    assert!(asks_to_confirm(
        &t,
        "olga",
        "get me 3 boxes for the web tier"
    ));

    // olga confirms the first reading: planned, and kept as the tenant's example.
    let confirmed = read(
        &t,
        "olga",
        "get me 2 boxes for the web tier",
        &confirming(1),
    );
    assert_eq!(
        confirmed.settled,
        Some(Settled::Confirmation { reading: 1, of: 2 })
    );
    assert_eq!(confirmed.agent.as_str(), "infra");

    // The next similar request (a new session, as a new CLI process is) is read the same way
    // without asking, with its own words' values, and says why.
    let next = read(
        &t,
        "alice",
        "get me 3 boxes for the web tier",
        &RequestOptions::default(),
    );
    assert_eq!(
        (next.agent.as_str(), next.action.as_str()),
        ("infra", "create")
    );
    assert_eq!(next.params.count, Some(3));
    assert!(!next.low_confidence);
    let (who, likeness) = example_of(&next);
    assert_eq!(who, "olga");
    assert!(likeness >= 0.7, "{likeness}");
    assert!(
        next.notes
            .iter()
            .any(|n| n.contains("because olga confirmed that reading")),
        "{:?}",
        next.notes
    );

    // Whoever picks a reading herself picks among the words' own readings: the example never
    // stands in the way of a correction.
    let picked = read(&t, "bob", "get me 5 boxes for the web tier", &confirming(2));
    assert_eq!(
        (picked.agent.as_str(), picked.action.as_str()),
        ("ops", "list")
    );
    assert_eq!(
        picked.settled,
        Some(Settled::Confirmation { reading: 2, of: 2 })
    );

    // A correction: olga meant the second reading (listing, a question), and the next similar
    // request is answered that way.
    let corrected = read(&t, "olga", "2 servers for staging please", &confirming(2));
    assert_eq!(
        corrected.settled,
        Some(Settled::Confirmation { reading: 2, of: 2 })
    );
    assert_eq!(corrected.agent.as_str(), "ops");
    let after = read(
        &t,
        "bob",
        "3 servers for staging please",
        &RequestOptions::default(),
    );
    assert_eq!(
        (after.agent.as_str(), after.action.as_str()),
        ("ops", "list")
    );
    assert_eq!(example_of(&after).0, "olga");

    // `explain` names the example as what routed it: bob's, the newest of the two confirmed
    // requests equally like this one.
    let v = home.json(
        moto.env(),
        &[
            "--user",
            "bob",
            "explain",
            "get me 4 boxes for the web tier",
        ],
    );
    assert_eq!(v["settled"]["by"], "example", "{v}");
    assert_eq!(v["settled"]["who"], "bob", "{v}");
    assert_eq!(v["agent"], "ops", "{v}");
    let routed = v["routed_by"].to_string();
    assert!(routed.contains("(a confirmed example)"), "{routed}");

    // Unrelated words are read as before.
    let other = t
        .deck("bob")
        .requests()
        .classify("what did we spend on s3 last month")
        .unwrap();
    assert!(other.settled.is_none(), "{other:?}");

    // Another tenant has learned nothing.
    t.deck("alice").admin().add_tenant("other").unwrap();
    let theirs = Team::new(home, Some("other"), &[("bob", &[Role::Admin])]);
    assert!(asks_to_confirm(
        &theirs,
        "bob",
        "get me 3 boxes for the web tier"
    ));
}

#[test]
fn confirmations_teach_later_requests_on_the_local_store() {
    let Some(moto) = Moto::get("learning_local") else {
        return;
    };
    let _held = moto.exclusive();
    support::seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    learning_story(&home, &moto);
}

#[test]
fn confirmations_teach_later_requests_on_the_shared_backend() {
    let Some(moto) = Moto::get("learning_aws") else {
        return;
    };
    let _held = moto.exclusive();
    let Some(b) = SharedBackend::new("learning_aws") else {
        return;
    };
    support::seed::fleet(&moto.endpoint, REGION);
    let home = b.home();
    learning_story(&home, &moto);
}
