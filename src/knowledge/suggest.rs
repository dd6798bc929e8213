//! Optimisation suggestions from the tenant's past: the same change asked for again and again
//! (a saved plan could replace it), plans denied by the same gate repeatedly (the request, or
//! the policy, needs a look), and plans costing more than a past equivalent that was applied.

use std::collections::BTreeMap;

use serde::Serialize;

use super::index::{KnowledgeIndex, Outcome, PastRequest};

/// Limits for [`KnowledgeIndex::suggest`].
#[derive(Debug, Clone, Copy)]
pub struct SuggestOptions {
    /// How many times the same request (agent, action, parameters) must have been asked.
    pub min_repeats: usize,
    /// How many denials by one gate make a pattern.
    pub min_denials: usize,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            min_repeats: 3,
            min_denials: 2,
        }
    }
}

/// A plan this much (and at least a dollar a month) dearer than its applied equivalent is
/// worth a look.
const COSTLIER_BY: f64 = 1.2;
/// Equivalent: the same agent and action, and at least this parameter match.
const EQUIVALENT_PARAMS: f64 = 0.5;

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Suggestion {
    /// The same request asked `times` times: save one plan and reuse it.
    Repeated {
        agent: String,
        action: String,
        params: serde_json::Value,
        times: usize,
        requesters: Vec<String>,
        /// The newest plan of them (what `ask --like` reuses).
        latest_plan: Option<String>,
        /// The newest of them that was applied, when its files can be a library entry
        /// (Terraform or a playbook: an infra or config plan), for `library save`.
        #[serde(skip_serializing_if = "Option::is_none")]
        applied_plan: Option<String>,
        example: String,
    },
    /// Plans denied by the same policy rule `times` times.
    DeniedByGate {
        rule: String,
        times: usize,
        plans: Vec<String>,
        example: String,
    },
    /// A plan dearer than an applied equivalent.
    Costlier {
        plan_id: String,
        monthly_usd: f64,
        cheaper_plan: String,
        cheaper_monthly_usd: f64,
        /// What the two set differently.
        differs_in: Vec<String>,
        example: String,
    },
}

impl Suggestion {
    /// One line for people.
    pub fn line(&self) -> String {
        match self {
            Suggestion::Repeated {
                agent,
                action,
                times,
                latest_plan,
                applied_plan,
                example,
                ..
            } => format!(
                "repeated: {agent}/{action} asked {times} times (\"{example}\"){}{}",
                latest_plan
                    .as_ref()
                    .map(|p| format!(": reuse plan {p} with `opsdeck ask --like {p}`"))
                    .unwrap_or_default(),
                applied_plan
                    .as_ref()
                    .map(|p| format!(
                        ", or keep applied plan {p} as a library entry with `opsdeck library save {p} NAME`"
                    ))
                    .unwrap_or_default()
            ),
            Suggestion::DeniedByGate {
                rule, times, plans, ..
            } => format!(
                "denied {times} times by {rule} (plans {}): change the requests or review the policy",
                plans.join(", ")
            ),
            Suggestion::Costlier {
                plan_id,
                monthly_usd,
                cheaper_plan,
                cheaper_monthly_usd,
                differs_in,
                ..
            } => format!(
                "costlier: plan {plan_id} ${monthly_usd:.2}/month vs ${cheaper_monthly_usd:.2} for applied plan {cheaper_plan} (differs in {})",
                differs_in.join(", ")
            ),
        }
    }
}

impl KnowledgeIndex {
    /// What the tenant's past suggests, most frequent patterns first.
    pub fn suggest(&self, opts: &SuggestOptions) -> Vec<Suggestion> {
        let mut out = self.repeated(opts.min_repeats);
        out.extend(self.denied_by_gate(opts.min_denials));
        out.extend(self.costlier());
        out
    }

    fn repeated(&self, min: usize) -> Vec<Suggestion> {
        let mut groups: BTreeMap<(String, String, String), Vec<&PastRequest>> = BTreeMap::new();
        for e in &self.entries {
            let (Some(agent), Some(action)) = (e.agent, &e.action) else {
                continue;
            };
            // A question is not a manual step; neither is a change nobody let through.
            if matches!(e.outcome, Outcome::Answered | Outcome::Rejected) || e.plan_id.is_none() {
                continue;
            }
            let params = serde_json::Value::Object(e.params.to_json()).to_string();
            groups
                .entry((agent.to_string(), action.clone(), params))
                .or_default()
                .push(e);
        }
        let mut out: Vec<Suggestion> = groups
            .into_iter()
            .filter(|(_, v)| v.len() >= min)
            .map(|((agent, action, _), v)| {
                let mut requesters: Vec<String> = v.iter().map(|e| e.requester.clone()).collect();
                requesters.sort();
                requesters.dedup();
                let latest = v[v.len() - 1];
                let saveable = agent == "infra" || agent == "config";
                let applied_plan = v
                    .iter()
                    .rev()
                    .find(|e| saveable && e.outcome == Outcome::Applied)
                    .and_then(|e| e.plan_id.clone());
                Suggestion::Repeated {
                    agent,
                    action,
                    params: serde_json::Value::Object(latest.params.to_json()),
                    times: v.len(),
                    requesters,
                    latest_plan: latest.plan_id.clone(),
                    applied_plan,
                    example: latest.text.clone(),
                }
            })
            .collect();
        out.sort_by_key(|s| match s {
            Suggestion::Repeated { times, .. } => std::cmp::Reverse(*times),
            _ => std::cmp::Reverse(0),
        });
        out
    }

    fn denied_by_gate(&self, min: usize) -> Vec<Suggestion> {
        let mut by_rule: BTreeMap<&str, Vec<&PastRequest>> = BTreeMap::new();
        for e in &self.entries {
            if e.outcome != Outcome::Rejected {
                continue;
            }
            for rule in &e.denied_by {
                by_rule.entry(rule).or_default().push(e);
            }
        }
        let mut out: Vec<(usize, Suggestion)> = by_rule
            .into_iter()
            .filter(|(_, v)| v.len() >= min)
            .map(|(rule, v)| {
                (
                    v.len(),
                    Suggestion::DeniedByGate {
                        rule: rule.to_string(),
                        times: v.len(),
                        plans: v.iter().filter_map(|e| e.plan_id.clone()).collect(),
                        example: v[v.len() - 1].text.clone(),
                    },
                )
            })
            .collect();
        out.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        out.into_iter().map(|(_, s)| s).collect()
    }

    /// Each live plan (not rejected, expired or cancelled) against the cheapest applied,
    /// earlier plan of the same agent and action with matching parameters. The applied plans
    /// met so far are kept per action, cheapest first, so each live plan looks only at those
    /// cheap enough to count and stops at the first equivalent: the cheapest (the earliest of
    /// equal costs, as insertion keeps their order).
    fn costlier(&self) -> Vec<Suggestion> {
        let mut out = Vec::new();
        for agent in self.by_agent.values() {
            let mut applied: BTreeMap<Option<&str>, Vec<(f64, usize)>> = BTreeMap::new();
            for r in &agent.readings {
                let n = r.entry as usize;
                let e = &self.entries[n];
                let action = e.action.as_deref();
                if let (Some(plan), Some(cost)) = (&e.plan_id, e.monthly_usd)
                    && matches!(
                        e.outcome,
                        Outcome::Pending | Outcome::Approved | Outcome::Applied
                    )
                    && let Some(cheaper) = applied.get(&action).and_then(|earlier| {
                        // Dearer by the margin: both conditions hold for every cost below a bound.
                        let cheap_enough = earlier
                            .partition_point(|(c, _)| cost > c * COSTLIER_BY && cost - c >= 1.0);
                        earlier[..cheap_enough].iter().find(|(_, m)| {
                            self.features(&self.entries[*m]).score(self.features(e))
                                >= EQUIVALENT_PARAMS
                        })
                    })
                {
                    let p = &self.entries[cheaper.1];
                    out.push(Suggestion::Costlier {
                        plan_id: plan.clone(),
                        monthly_usd: cost,
                        cheaper_plan: p.plan_id.clone().unwrap_or_default(),
                        cheaper_monthly_usd: cheaper.0,
                        differs_in: self
                            .features(e)
                            .compare(self.features(p))
                            .differ
                            .into_iter()
                            .map(str::to_string)
                            .collect(),
                        example: e.text.clone(),
                    });
                }
                if e.outcome == Outcome::Applied
                    && e.plan_id.is_some()
                    && let Some(cost) = e.monthly_usd
                {
                    let list = applied.entry(action).or_default();
                    let at = list.partition_point(|(c, _)| *c <= cost);
                    list.insert(at, (cost, n));
                }
            }
        }
        // The largest saving first: that is the one worth a look.
        let saving = |s: &Suggestion| match s {
            Suggestion::Costlier {
                monthly_usd,
                cheaper_monthly_usd,
                ..
            } => monthly_usd - cheaper_monthly_usd,
            _ => 0.0,
        };
        out.sort_by(|a, b| saving(b).total_cmp(&saving(a)));
        out
    }
}
