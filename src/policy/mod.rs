//! Gates every plan passes before it is queued and again right before it runs: the Rego policies
//! (starter set in `policies/` plus the tenant's own), budgets, and checks no policy can switch
//! off (secrets in artifacts, routing confidence). A policy that fails to evaluate denies.

pub mod ansible;
pub mod budget;
pub mod error;
pub mod input;
pub mod rego;

pub use budget::Committed;
pub use error::PolicyError;
pub use rego::PolicySet;

use crate::plan::{Gate, GateResult, Plan};
use crate::redact::redact;
use crate::tenant::{Role, Tenant};

pub struct Context<'a> {
    pub plan: &'a Plan,
    /// The plan's Terraform files (name, text).
    pub terraform: &'a [(String, String)],
    /// The plan's Ansible files (name, text): playbooks, the files they include, inventories.
    pub ansible: &'a [(String, String)],
    pub tenant: &'a Tenant,
    pub requester_roles: &'a [Role],
    pub now: jiff::Timestamp,
    pub committed: &'a Committed,
    pub policies: &'a PolicySet,
}

/// Every gate for a plan, worst first.
pub fn evaluate(ctx: &Context<'_>) -> Vec<Gate> {
    let mut gates = Vec::new();
    let input = input::build(&input::InputParts {
        plan: ctx.plan,
        terraform: ctx.terraform,
        ansible: ctx.ansible,
        requester_roles: ctx.requester_roles,
        config: &ctx.tenant.policy,
        now: ctx.now,
    });
    match ctx.policies.evaluate(&input) {
        Ok(found) => {
            let disabled = &ctx.tenant.policy.disabled_rules;
            for g in found {
                if disabled.contains(&g.rule) {
                    // Never silently: the approver sees what was switched off.
                    gates.push(Gate {
                        rule: g.rule,
                        result: GateResult::Info,
                        reason: format!("disabled for tenant {}: {}", ctx.tenant.name, g.reason),
                    });
                } else {
                    gates.push(g);
                }
            }
        }
        Err(e) => gates.push(Gate {
            rule: "policy.error".into(),
            result: GateResult::Deny,
            reason: format!("{e}; nothing runs until the policies evaluate"),
        }),
    }
    gates.extend(budget::gates(
        &ctx.tenant.budget,
        &ctx.plan.cost,
        ctx.plan.mutates,
        ctx.committed,
    ));
    for (name, text) in ctx.terraform.iter().chain(ctx.ansible) {
        if redact(text) != *text {
            gates.push(Gate {
                rule: "secrets.in_artifacts".into(),
                result: GateResult::Deny,
                reason: format!(
                    "{name} contains what looks like a credential; pass secrets through a secret store, never in a request"
                ),
            });
        }
    }
    if ctx.plan.intent.low_confidence {
        gates.push(Gate {
            rule: "intent.confidence".into(),
            result: GateResult::Warn,
            reason: format!(
                "the request was understood with low confidence ({:.2}): check the routing",
                ctx.plan.intent.confidence
            ),
        });
    }
    if !gates.iter().any(|g| g.result >= GateResult::Warn) {
        gates.push(Gate {
            rule: "policy.summary".into(),
            result: GateResult::Pass,
            reason: format!(
                "{} policy files evaluated, no deny or warn",
                ctx.policies.files.len()
            ),
        });
    }
    gates.sort_by(|a, b| b.result.cmp(&a.result).then(a.rule.cmp(&b.rule)));
    gates
}
