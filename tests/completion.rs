//! Completion (issue 17 part 4): the word being typed completed from the names the tenant's
//! past requests used — tag keys and values, buckets, functions, log groups, stacks, plan ids —
//! and `:` commands; through the Deck, and in the real console in tmux (a tag value).

mod common;

use std::time::Duration;

use common::Home;
use common::tmux::Tmux;
use opsdeck::view::completion::{KnownNames, complete, complete_command};
use serde_json::json;

fn known() -> KnownNames {
    let mut k = KnownNames::default();
    for params in [
        json!({"tags": {"Env": "staging"}, "bucket": "logs-archive"}),
        json!({"tags": {"Env": "prod", "Role": "web"}, "function": "my-func"}),
        json!({"log_group": "/aws/lambda/my-func", "stack": "web-e2e"}),
    ] {
        k.add_params(params.as_object().unwrap());
    }
    k.add_name("p-abcdefgh23");
    k
}

#[test]
fn a_tag_value_completes_after_its_key_and_a_key_in_the_wrong_case_offers_the_real_one() {
    let k = known();
    let c = complete("restart instances tagged Env=st", &k).unwrap();
    assert_eq!(c.text, "restart instances tagged Env=staging ");
    assert_eq!(c.candidates, vec!["Env=staging"]);
    // Two values: completed as far as they agree, both listed.
    let c = complete("tagged Env=", &k).unwrap();
    assert_eq!(c.text, "tagged Env=");
    assert_eq!(c.candidates, vec!["Env=prod", "Env=staging"]);
    // AWS tag keys are case-sensitive: `env=` completes with the key that exists.
    let c = complete("tagged env=pr", &k).unwrap();
    assert_eq!(c.text, "tagged Env=prod ");
    // A key alone completes to `Key=`, waiting for its value (no space).
    let c = complete("tagged Ro", &k).unwrap();
    assert_eq!(c.text, "tagged Role=");
    assert_eq!(complete("tagged Env=dev", &k), None, "a value never seen");
    assert_eq!(complete("tagged ", &k), None, "no word yet");
}

#[test]
fn buckets_functions_log_groups_stacks_and_plan_ids_complete() {
    let k = known();
    assert_eq!(
        complete("empty logs-", &k).unwrap().text,
        "empty logs-archive "
    );
    assert_eq!(
        complete("errors of my-f", &k).unwrap().text,
        "errors of my-func "
    );
    assert_eq!(
        complete("tail /aws/la", &k).unwrap().text,
        "tail /aws/lambda/my-func "
    );
    assert_eq!(
        complete("destroy stack web-", &k).unwrap().text,
        "destroy stack web-e2e "
    );
    assert_eq!(
        complete("show p-ab", &k).unwrap().text,
        "show p-abcdefgh23 "
    );
    // Names with spaces never become candidates (one word on the prompt).
    let mut odd = KnownNames::default();
    odd.add_params(json!({"bucket": "two words"}).as_object().unwrap());
    assert!(odd.names.is_empty());
}

#[test]
fn commands_complete_and_then_their_plan_id() {
    let k = known();
    let names = ["approvals", "audit", "like", "theme", "tenant"];
    assert_eq!(complete_command("li", &names, &k).unwrap().text, "like ");
    let c = complete_command("t", &names, &k).unwrap();
    assert_eq!(c.text, "t");
    assert_eq!(c.candidates, vec!["tenant", "theme"]);
    assert_eq!(
        complete_command("like p-a", &names, &k).unwrap().text,
        "like p-abcdefgh23 "
    );
    assert_eq!(complete_command("zz", &names, &k), None);
}

#[test]
fn the_deck_knows_the_names_its_tenant_asked_about() {
    let home = Home::new();
    let deck = home.deck("alice");
    // The ops agent cannot reach AWS here: the request fails, but it was asked and read.
    let _ = deck.requests().request(
        "restart the instances tagged Env=staging in us-east-1",
        &common::quiet,
    );
    assert!(
        deck.requests().known_names().tags.is_empty(),
        "not read yet"
    );
    deck.requests().refresh_knowledge().unwrap();
    let k = deck.requests().known_names();
    assert_eq!(
        k.tags
            .get("Env")
            .map(|v| v.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["staging".to_string()]),
        "{k:?}"
    );
}

#[test]
fn the_console_completes_a_tag_value_in_tmux() {
    let Some(t) = Tmux::new("complete") else {
        return;
    };
    let home = Home::new();
    common::enrol_cli(&home);
    // A past request of the tenant's (it fails: no AWS here; its words are in the trail).
    let _ = home
        .cmd()
        .args([
            "--user",
            "alice",
            "ask",
            "restart the instances tagged Env=staging in us-east-1",
        ])
        .output()
        .unwrap();
    let env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string()),
    ];
    t.start("alice", (120, 40), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));
    // The console reads the trail's past requests in its first poll, in the background.
    std::thread::sleep(Duration::from_secs(2));
    t.text("alice", "list instances tagged env=st");
    t.keys("alice", &["Tab"]);
    let s = t.wait("alice", "the completed tag value", |s| {
        s.contains("list instances tagged Env=staging")
    });
    println!("{s}");
    // `:` commands complete too.
    t.keys("alice", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.text("alice", ":verif");
    t.keys("alice", &["Tab"]);
    t.wait("alice", "the completed command", |s| s.contains(":verify"));
}
