//! The index, lookup and suggestions over hand-made trails.

use serde_json::json;

use super::*;
use crate::audit::{AuditEvent, AuditRecord, EventKind, Status};

/// Builds a trail record by record, with increasing `seq`.
#[derive(Default)]
struct Trail {
    records: Vec<AuditRecord>,
}

impl Trail {
    fn push(
        &mut self,
        request: &str,
        kind: EventKind,
        status: Status,
        f: impl FnOnce(&mut AuditEvent),
    ) {
        let mut event = AuditEvent {
            event_id: format!("e{}", self.records.len()),
            request_id: request.into(),
            tenant_id: "default".into(),
            user_id: "olga".into(),
            user_source: "flag".into(),
            os_user: "alice".into(),
            timestamp: "2026-11-24T10:00:00.000Z".parse().unwrap(),
            event: kind,
            status,
            plan_id: None,
            intent: None,
            agent_type: None,
            approval_metadata: None,
            execution_logs: None,
            cost_impact: None,
            security_gates: None,
            artifacts: vec![],
            message: None,
            identity_receipt: None,
        };
        f(&mut event);
        self.records.push(AuditRecord {
            seq: self.records.len() as u64 + 1,
            prev: String::new(),
            hash: String::new(),
            key: String::new(),
            sig: String::new(),
            event,
        });
    }

    /// A request asked, read, planned and queued.
    fn ask(
        &mut self,
        id: &str,
        text: &str,
        agent: &str,
        action: &str,
        params: serde_json::Value,
        cost: f64,
    ) {
        let intent = json!({"agent": agent, "agents": [agent], "action": action,
            "confidence": 0.9, "low_confidence": false, "params": params});
        self.push(id, EventKind::Requested, Status::Pending, |e| {
            e.message = Some(text.into())
        });
        self.push(id, EventKind::Classified, Status::Pending, |e| {
            e.intent = Some(intent.clone())
        });
        self.push(id, EventKind::Planned, Status::Pending, |e| {
            e.plan_id = Some(format!("p-{id}"));
            e.cost_impact = Some(cost);
            e.intent = Some(intent.clone());
        });
        self.push(id, EventKind::Queued, Status::Pending, |e| {
            e.plan_id = Some(format!("p-{id}"))
        });
    }

    fn index(&self) -> KnowledgeIndex {
        let mut i = KnowledgeIndex::new();
        for r in &self.records {
            i.absorb(r);
        }
        i
    }
}

fn restart() -> serde_json::Value {
    json!({"action": "restart", "environment": "staging", "service": "EC2", "tags": {"Env": "staging"}})
}

#[test]
fn outcomes_follow_the_trail_and_the_cursor_skips_what_was_read() {
    let mut t = Trail::default();
    t.ask("a", "restart staging", "ops", "restart", restart(), 0.0);
    t.ask(
        "b",
        "restart staging again",
        "ops",
        "restart",
        restart(),
        0.0,
    );
    t.push("a", EventKind::Approved, Status::Approved, |_| {});
    t.push("a", EventKind::Completed, Status::Completed, |_| {});
    t.push("b", EventKind::Rejected, Status::Rejected, |e| {
        e.approval_metadata = Some(json!({"reason": "not today"}));
    });
    // A refusal of a credential: no request was ever asked under that id.
    t.push("z", EventKind::Failed, Status::Failed, |_| {});
    let mut i = KnowledgeIndex::new();
    for r in &t.records[..5] {
        i.absorb(r);
    }
    assert_eq!(i.entries()[0].outcome, Outcome::Pending);
    // The whole trail streamed through again: only the new records count.
    for r in &t.records {
        i.absorb(r);
    }
    assert_eq!(i.cursor(), t.records.len() as u64);
    assert_eq!(i.len(), 2);
    assert_eq!(i.entries()[0].outcome, Outcome::Applied);
    assert_eq!(i.entries()[1].outcome, Outcome::Rejected);
    assert_eq!(
        i.entries()[1].rejected_because.as_deref(),
        Some("not today")
    );
    assert_eq!(i.by_plan("p-a").len(), 1);
}

#[test]
fn lookup_ranks_by_reading_and_parameters_then_words() {
    let mut t = Trail::default();
    t.ask("prod", "restart the prod web servers", "ops", "restart",
        json!({"action": "restart", "environment": "prod", "service": "EC2", "tags": {"Env": "prod"}}), 0.0);
    t.ask(
        "stg",
        "reboot EC2 tagged Env=staging",
        "ops",
        "restart",
        restart(),
        0.0,
    );
    t.ask("stop", "stop EC2 tagged Env=staging", "ops", "stop",
        json!({"action": "stop", "environment": "staging", "service": "EC2", "tags": {"Env": "staging"}}), 0.0);
    t.ask(
        "cost",
        "what did EC2 cost last week",
        "cost",
        "query",
        json!({"service": "EC2"}),
        0.0,
    );
    let i = t.index();
    let params = crate::intent::Params::from_json(restart().as_object().unwrap().clone()).unwrap();
    let q = Query::new(
        crate::intent::AgentKind::Ops,
        "restart",
        &params,
        "restart the EC2 instances tagged Env=staging",
    );
    let found = i.lookup(&q, 5);
    let ids: Vec<&str> = found
        .iter()
        .map(|s| s.plan_id.as_deref().unwrap())
        .collect();
    // Same reading and parameters first, though other words; the same words for another
    // environment after; another agent never.
    assert_eq!(ids[0], "p-stg", "{found:#?}");
    assert!(!ids.contains(&"p-cost"));
    assert!(found[0].score > found[1].score);
    assert!(
        found[0]
            .why
            .iter()
            .any(|w| w.contains("same request: ops/restart"))
    );
    assert!(found.iter().all(|s| s.score >= MIN_SCORE));
    assert_eq!(i.lookup(&q, 1).len(), 1);
}

#[test]
fn suggestions_name_repeats_denials_and_dearer_choices() {
    let mut t = Trail::default();
    for n in 0..3 {
        t.ask(
            &format!("r{n}"),
            "restart staging",
            "ops",
            "restart",
            restart(),
            0.0,
        );
    }
    let small = json!({"count": 2, "instance_type": "t3.small", "region": "eu-west-1"});
    let big = json!({"count": 2, "instance_type": "m5.xlarge", "region": "eu-west-1"});
    t.ask("cheap", "two small ones", "infra", "create", small, 30.0);
    t.push("cheap", EventKind::Completed, Status::Completed, |_| {});
    t.ask("dear", "two big ones", "infra", "create", big, 280.0);
    for n in 0..2 {
        let id = format!("d{n}");
        t.ask(
            &id,
            "two in Mumbai",
            "infra",
            "create",
            json!({"region": "ap-south-1"}),
            10.0,
        );
        t.push(&id, EventKind::PolicyEvaluated, Status::Pending, |e| {
            e.security_gates =
                Some(json!([{"rule": "regions.allowed", "result": "deny", "reason": "no"}]));
        });
        t.push(&id, EventKind::Rejected, Status::Rejected, |_| {});
    }
    let s = t.index().suggest(&SuggestOptions::default());
    let lines: Vec<String> = s.iter().map(Suggestion::line).collect();
    assert_eq!(s.len(), 3, "{lines:#?}");
    assert!(
        matches!(&s[0], Suggestion::Repeated { times: 3, latest_plan: Some(p), .. } if p == "p-r2")
    );
    assert!(
        matches!(&s[1], Suggestion::DeniedByGate { times: 2, rule, .. } if rule == "regions.allowed")
    );
    assert!(
        matches!(&s[2], Suggestion::Costlier { plan_id, cheaper_plan, .. }
        if plan_id == "p-dear" && cheaper_plan == "p-cheap")
    );
}

#[test]
fn counting_through_postings_and_set_by_set_find_the_same() {
    use super::lookup::Counting;
    let words = [
        "restart", "the", "web", "servers", "staging", "prod", "EC2", "now", "stagin",
    ];
    let mut t = Trail::default();
    let mut state = 7u64;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) % n
    };
    for i in 0..400 {
        let action = ["restart", "stop"][next(2) as usize];
        let env = ["staging", "prod", "dev"][next(3) as usize];
        let text: Vec<&str> = (0..next(7)).map(|_| words[next(9) as usize]).collect();
        t.ask(
            &format!("r{i}"),
            &text.join(" "),
            "ops",
            action,
            json!({"action": action, "environment": env}),
            0.0,
        );
    }
    let i = t.index();
    let mut found = 0;
    for _ in 0..200 {
        let action = ["restart", "stop", "start"][next(3) as usize];
        let env = ["staging", "prod"][next(2) as usize];
        let params = crate::intent::Params::from_json(
            json!({"action": action, "environment": env})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        let text: Vec<&str> = (0..next(7)).map(|_| words[next(9) as usize]).collect();
        let q = Query::new(
            crate::intent::AgentKind::Ops,
            action,
            &params,
            &text.join(" "),
        );
        let limit = 1 + next(8) as usize;
        let postings = i.lookup_counting(&q, limit, Counting::Postings);
        assert_eq!(postings, i.lookup_counting(&q, limit, Counting::SetBySet));
        assert_eq!(postings, i.lookup(&q, limit));
        found += postings.len();
    }
    assert!(found > 300, "{found}");
}

/// The costlier-plan rule as documented, written plainly (every live priced plan against every
/// earlier applied plan of its agent and action): the sorted search must find the same.
fn costlier_by_the_rule(i: &KnowledgeIndex) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut agents: Vec<_> = i.by_agent.iter().collect();
    agents.sort_by_key(|(k, _)| k.to_string());
    for (_, agent) in agents {
        let ids: Vec<usize> = agent.readings.iter().map(|r| r.entry as usize).collect();
        for (k, &n) in ids.iter().enumerate() {
            let e = &i.entries[n];
            let (Some(plan), Some(cost)) = (&e.plan_id, e.monthly_usd) else {
                continue;
            };
            if !matches!(
                e.outcome,
                Outcome::Pending | Outcome::Approved | Outcome::Applied
            ) {
                continue;
            }
            let cheapest = ids[..k]
                .iter()
                .map(|&m| &i.entries[m])
                .filter(|p| {
                    p.outcome == Outcome::Applied
                        && p.action == e.action
                        && p.plan_id.is_some()
                        && p.monthly_usd
                            .is_some_and(|c| cost > c * 1.2 && cost - c >= 1.0)
                        && i.features(p).score(i.features(e)) >= 0.5
                })
                .min_by(|a, b| a.monthly_usd.unwrap().total_cmp(&b.monthly_usd.unwrap()));
            if let Some(p) = cheapest {
                out.push((plan.clone(), p.plan_id.clone().unwrap()));
            }
        }
    }
    out
}

#[test]
fn costlier_plans_are_found_as_the_plain_rule_finds_them() {
    let mut t = Trail::default();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let types = ["t3.small", "t3.large", "m5.xlarge", "c5.2xlarge"];
    let regions = ["eu-west-1", "us-east-1", "ap-south-1"];
    for n in 0..1_500 {
        let id = format!("r{n}");
        let (agent, action) =
            [("infra", "create"), ("infra", "update"), ("ml", "create")][next(3) as usize];
        let params = json!({
            "count": 1 + next(4),
            "instance_type": types[next(4) as usize],
            "region": regions[next(3) as usize],
        });
        // Few distinct costs, so equal costs (and the earliest of them) are exercised.
        let cost = [0.5, 10.0, 12.0, 12.5, 30.0, 30.0, 80.0, 280.0][next(8) as usize];
        t.ask(&id, "some machines", agent, action, params, cost);
        match next(4) {
            0 | 1 => t.push(&id, EventKind::Completed, Status::Completed, |_| {}),
            2 => t.push(&id, EventKind::Rejected, Status::Rejected, |_| {}),
            _ => {}
        }
    }
    let i = t.index();
    let mut found: Vec<(String, String)> = i
        .suggest(&SuggestOptions::default())
        .into_iter()
        .filter_map(|s| match s {
            Suggestion::Costlier {
                plan_id,
                cheaper_plan,
                ..
            } => Some((plan_id, cheaper_plan)),
            _ => None,
        })
        .collect();
    let mut expected = costlier_by_the_rule(&i);
    assert!(expected.len() > 100, "the trail exercises the rule");
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn a_repeated_change_applied_before_is_offered_to_the_library() {
    let mut t = Trail::default();
    let vpc = json!({"region": "eu-west-1", "resource": "vpc"});
    for n in 0..3 {
        let id = format!("v{n}");
        t.ask(&id, "a vpc in Ireland", "infra", "create", vpc.clone(), 0.0);
        if n == 1 {
            t.push(&id, EventKind::Completed, Status::Completed, |_| {});
        }
    }
    for n in 0..3 {
        t.ask(
            &format!("r{n}"),
            "restart staging",
            "ops",
            "restart",
            restart(),
            0.0,
        );
        t.push(
            &format!("r{n}"),
            EventKind::Completed,
            Status::Completed,
            |_| {},
        );
    }
    let s = t.index().suggest(&SuggestOptions::default());
    let of = |agent: &str| {
        s.iter()
            .find(|x| matches!(x, Suggestion::Repeated { agent: a, .. } if a == agent))
            .unwrap()
    };
    // The applied one, not the newest: only what ran is saved.
    assert!(
        matches!(of("infra"), Suggestion::Repeated { applied_plan: Some(p), latest_plan: Some(l), .. }
            if p == "p-v1" && l == "p-v2")
    );
    assert!(
        of("infra")
            .line()
            .contains("`opsdeck library save p-v1 NAME`")
    );
    // An ops change has no files a library entry could hold.
    assert!(matches!(
        of("ops"),
        Suggestion::Repeated {
            applied_plan: None,
            ..
        }
    ));
}
