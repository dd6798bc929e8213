//! Budgets: per-plan limit, and the tenant's monthly budget against what is already committed.

use crate::plan::{CostEstimate, Gate, GateResult};
use crate::tenant::Budget;

/// Monthly spend the tenant is already committed to, and where the figure comes from.
#[derive(Debug, Clone)]
pub struct Committed {
    pub monthly_usd: f64,
    pub source: String,
}

/// The budget gates judge the change a plan makes to the monthly bill: the whole estimate for a
/// new stack, the difference against the stack's cost now for a change to an existing one
/// (whose current cost is already part of what is committed).
pub fn gates(
    budget: &Budget,
    cost: &CostEstimate,
    mutates: bool,
    committed: &Committed,
) -> Vec<Gate> {
    let mut out = Vec::new();
    let mut gate = |rule: &str, result, reason: String| {
        out.push(Gate {
            rule: rule.into(),
            result,
            reason,
        })
    };
    if !mutates {
        return out;
    }
    let change = cost.delta_usd();
    let what = match &cost.current {
        Some(now) => format!(
            "this plan changes the stack's estimate from ${:.2} to ${:.2}/month ({})",
            now.monthly_usd,
            cost.monthly_usd,
            signed(change)
        ),
        None => format!("estimated ${:.2}/month", cost.monthly_usd),
    };
    let limit = budget.per_plan_usd;
    if limit > 0.0 && change > limit {
        gate(
            "budget.per_plan",
            GateResult::Deny,
            format!("{what}: more than the per-plan limit of ${limit:.2}"),
        );
    } else if limit > 0.0 && change > 0.8 * limit {
        gate(
            "budget.per_plan",
            GateResult::Warn,
            format!("{what}: over 80% of the per-plan limit of ${limit:.2}"),
        );
    } else if limit > 0.0 {
        gate(
            "budget.per_plan",
            GateResult::Pass,
            format!("{what}: within the per-plan limit of ${limit:.2}"),
        );
    }
    let monthly = budget.monthly_usd;
    if monthly > 0.0 {
        let projected = committed.monthly_usd + change;
        let figures = format!(
            "${:.2} committed ({}) {} this plan = ${projected:.2} of the ${monthly:.2} monthly budget",
            committed.monthly_usd,
            committed.source,
            if change < 0.0 {
                format!("- ${:.2}", -change)
            } else {
                format!("+ ${change:.2}")
            }
        );
        if projected > monthly && change > 0.0 {
            if budget.hard_stop {
                gate(
                    "budget.monthly",
                    GateResult::Deny,
                    format!("hard stop: {figures}"),
                );
            } else {
                gate(
                    "budget.monthly",
                    GateResult::Warn,
                    format!("over budget: {figures}"),
                );
            }
        } else if projected > monthly {
            // Already over, and this plan does not add to it: never blocked for saving money.
            gate(
                "budget.monthly",
                GateResult::Warn,
                format!("over budget, this plan lowers it: {figures}"),
            );
        } else if projected > 0.8 * monthly {
            gate(
                "budget.monthly",
                GateResult::Warn,
                format!("over 80%: {figures}"),
            );
        } else {
            gate("budget.monthly", GateResult::Pass, figures);
        }
    }
    out
}

/// `+$1.00/month` or `-$1.00/month`.
fn signed(x: f64) -> String {
    if x < 0.0 {
        format!("-${:.2}/month", -x)
    } else {
        format!("+${x:.2}/month")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(monthly: f64) -> CostEstimate {
        CostEstimate {
            monthly_usd: monthly,
            source: "bundled price table".into(),
            price_date: "2025-01-15".into(),
            ..CostEstimate::default()
        }
    }

    fn committed(x: f64) -> Committed {
        Committed {
            monthly_usd: x,
            source: "active stacks".into(),
        }
    }

    #[test]
    fn hard_stop_denies_with_figures() {
        let b = Budget {
            monthly_usd: 500.0,
            per_plan_usd: 0.0,
            hard_stop: true,
        };
        let g = gates(&b, &est(124.51), true, &committed(400.0));
        assert_eq!(g[0].result, GateResult::Deny);
        assert!(
            g[0].reason.contains("$524.51 of the $500.00"),
            "{}",
            g[0].reason
        );
        let soft = Budget {
            hard_stop: false,
            ..b
        };
        assert_eq!(
            gates(&soft, &est(124.51), true, &committed(400.0))[0].result,
            GateResult::Warn
        );
        assert_eq!(
            gates(&b, &est(10.0), true, &committed(0.0))[0].result,
            GateResult::Pass
        );
    }

    #[test]
    fn per_plan_limit() {
        let b = Budget {
            per_plan_usd: 100.0,
            ..Budget::default()
        };
        assert_eq!(
            gates(&b, &est(124.51), true, &committed(0.0))[0].result,
            GateResult::Deny
        );
        assert_eq!(
            gates(&b, &est(90.0), true, &committed(0.0))[0].result,
            GateResult::Warn
        );
        assert!(gates(&b, &est(500.0), false, &committed(0.0)).is_empty());
    }

    #[test]
    fn a_change_to_a_stack_is_judged_by_its_delta() {
        let b = Budget {
            monthly_usd: 500.0,
            per_plan_usd: 100.0,
            hard_stop: true,
        };
        // The stack costs 380 now (part of the 450 committed); the plan grows it to 420.
        let grown = CostEstimate {
            current: Some(crate::plan::CurrentCost {
                monthly_usd: 380.0,
                plan_id: "p-abc234defg".into(),
                basis: String::new(),
            }),
            ..est(420.0)
        };
        let g = gates(&b, &grown, true, &committed(450.0));
        let per_plan = g.iter().find(|g| g.rule == "budget.per_plan").unwrap();
        // Judged on the whole 420 it would be denied; the change is 40.
        assert_eq!(per_plan.result, GateResult::Pass, "{}", per_plan.reason);
        assert!(
            per_plan.reason.contains("(+$40.00/month)"),
            "{}",
            per_plan.reason
        );
        let monthly = g.iter().find(|g| g.rule == "budget.monthly").unwrap();
        assert_eq!(monthly.result, GateResult::Warn, "{}", monthly.reason);
        assert!(
            monthly
                .reason
                .contains("+ $40.00 this plan = $490.00 of the $500.00"),
            "{}",
            monthly.reason
        );
        // Committed + the whole estimate would have been a hard stop (870 of 500).
        assert_eq!(
            gates(&b, &est(420.0), true, &committed(450.0))[0].result,
            GateResult::Deny
        );
        // Shrinking a stack while over budget is never stopped.
        let shrunk = CostEstimate {
            monthly_usd: 100.0,
            ..grown
        };
        let g = gates(&b, &shrunk, true, &committed(600.0));
        assert!(g.iter().all(|g| g.result != GateResult::Deny), "{g:?}");
        assert!(
            g.iter().any(|g| g.reason.contains("- $280.00 this plan")),
            "{g:?}"
        );
    }
}
