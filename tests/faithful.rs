//! Requests are never silently changed: the labelled set in `tests/corpus/refusals.jsonl`
//! holds requests that must be refused, or answered with what was not done and why, and every
//! one goes through the real pipeline (classify, the agent, policy gates) here.
//!
//! `expect` says how: `denied` (planned as asked, then denied by the policy rule in `detail`),
//! `unavailable` (not supported: the answer says so and what is nearest), `confirm` (a change
//! read with low confidence: nothing is planned until the requester picks a reading, `detail`
//! among them), `invalid` / `refused` (a value or a credential refused before planning),
//! `note` (planned, and the answer says what of the request was not used) and `reads` (the
//! words are read as `detail` = agent/action, not as something else).

mod common;

use common::{Home, quiet};
use opsdeck::approval::State;
use opsdeck::error::{Error, Kind};
use opsdeck::pipeline::{Answer, RequestOptions};
use opsdeck::plan::GateResult;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    text: String,
    expect: String,
    detail: String,
}

fn cases() -> Vec<Case> {
    include_str!("corpus/refusals.jsonl")
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}", i + 1)))
        .collect()
}

#[test]
fn the_labelled_set_is_big_and_covers_every_outcome() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for kind in [
        "denied",
        "unavailable",
        "confirm",
        "invalid",
        "refused",
        "note",
        "reads",
    ] {
        assert!(
            cases.iter().any(|c| c.expect == kind),
            "no case expects {kind}"
        );
    }
}

#[test]
fn every_labelled_request_is_refused_or_says_what_it_did_not_do() {
    let home = Home::new();
    let deck = home.deck("alice");
    let mut failures = Vec::new();
    for c in cases() {
        let outcome = check(&deck, &c);
        if let Err(why) = outcome {
            failures.push(format!("{:?} ({}): {why}", c.text, c.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check(deck: &opsdeck::pipeline::Deck, c: &Case) -> Result<(), String> {
    if c.expect == "reads" {
        let i = deck
            .requests()
            .classify(&c.text)
            .map_err(|e| e.to_string())?;
        let got = format!("{}/{}", i.agent, i.action);
        return (got == c.detail)
            .then_some(())
            .ok_or(format!("read as {got}"));
    }
    let answer = deck.requests().request(&c.text, &quiet);
    match (c.expect.as_str(), answer) {
        ("denied", Ok(Answer::Plan(rec))) => {
            let denied: Vec<&str> = rec
                .plan
                .gates
                .iter()
                .filter(|g| g.result == GateResult::Deny)
                .map(|g| g.rule.as_str())
                .collect();
            if rec.state != State::Rejected || !denied.contains(&c.detail.as_str()) {
                return Err(format!("state {:?}, denied by {denied:?}", rec.state));
            }
            Ok(())
        }
        ("note", Ok(Answer::Plan(rec))) => {
            let text = serde_json::to_string(&*rec).unwrap();
            text.contains(&c.detail).then_some(()).ok_or(format!(
                "no {:?} in the plan: {}",
                c.detail, rec.plan.summary
            ))
        }
        ("confirm", Err(Error::NeedsConfirmation(conf))) => {
            let listed: Vec<String> = conf
                .readings
                .iter()
                .map(|r| format!("{}/{}", r.agent, r.action))
                .collect();
            let Some(n) = listed.iter().position(|r| *r == c.detail) else {
                return Err(format!("{} not among the readings {listed:?}", c.detail));
            };
            // Confirming that reading takes the request past the question (its agent may
            // still need AWS, which this test has none of).
            let opts = RequestOptions {
                confirm_reading: Some(n + 1),
                ..RequestOptions::default()
            };
            match deck.requests().request_with(&c.text, &opts, &quiet) {
                Err(Error::NeedsConfirmation(_)) => Err("asked again after confirming".into()),
                Ok(Answer::Plan(rec)) => {
                    let got = format!("{}/{}", rec.plan.agent, rec.plan.action);
                    (got == c.detail)
                        .then_some(())
                        .ok_or(format!("confirmed {} but planned {got}", c.detail))
                }
                _ => Ok(()),
            }
        }
        (expect, Err(e)) => {
            let kind = match expect {
                "unavailable" => Kind::Unavailable,
                "invalid" => Kind::Input,
                "refused" => Kind::Refused,
                _ => return Err(format!("error {e}")),
            };
            let text = e.to_string();
            if e.kind() != kind || !text.contains(&c.detail) {
                return Err(format!("{:?}: {text}", e.kind()));
            }
            Ok(())
        }
        (_, Ok(Answer::Plan(rec))) => {
            Err(format!("planned as {:?}: {}", rec.state, rec.plan.summary))
        }
        (_, Ok(Answer::Report(r))) => Err(format!("answered: {}", r.report.summary)),
    }
}

#[test]
fn a_change_read_with_low_confidence_is_planned_only_once_its_reading_is_confirmed() {
    let home = Home::new();
    let deck = home.deck("alice");
    let text = "2 servers for staging please";
    let Err(Error::NeedsConfirmation(conf)) = deck.requests().request(text, &quiet) else {
        panic!("planned without confirmation");
    };
    assert_eq!(conf.readings[0].agent.as_str(), "infra");
    assert!(conf.to_string().contains("--confirm-reading"), "{conf}");
    // Nothing was planned; the trail says why.
    assert!(deck.approvals().plans(None).unwrap().is_empty());
    // The CLI refuses with the readings and the flag (and plans with it, below).
    let out = home.cmd().args(["--json", "ask", text]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["readings"][0]["agent"], "infra", "{v}");
    let opts = |n| RequestOptions {
        confirm_reading: Some(n),
        ..RequestOptions::default()
    };
    let Ok(Answer::Plan(rec)) = deck.requests().request_with(text, &opts(1), &quiet) else {
        panic!("reading 1 confirmed but not planned");
    };
    assert_eq!(rec.plan.intent.params.count, Some(2));
    assert!(!rec.plan.intent.low_confidence);
    assert!(
        rec.plan
            .intent
            .notes
            .iter()
            .any(|n| n.contains("confirmed reading 1")),
        "{:?}",
        rec.plan.intent.notes
    );
    // No doubt left to warn the approver about: the requester settled it.
    assert!(!rec.plan.gates.iter().any(|g| g.rule == "intent.confidence"));
    // A reading that is not listed is refused, never replaced by another.
    let err = deck
        .requests()
        .request_with(text, &opts(9), &quiet)
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Input, "{err}");
    let out = home
        .cmd()
        .args(["--json", "ask", "--confirm-reading", "1", text])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_question_read_with_low_confidence_is_answered_without_asking() {
    // Only changes wait for a confirmed reading; "show budgets and alerts" changes nothing.
    let home = Home::new();
    let deck = home.deck("alice");
    let i = deck.requests().classify("show budgets and alerts").unwrap();
    assert!(!opsdeck::agents::asks_for_change(&i));
}
