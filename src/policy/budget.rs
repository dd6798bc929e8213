//! Budgets: per-plan limit, and the tenant's monthly budget against what is already committed.

use crate::plan::{Gate, GateResult};
use crate::tenant::Budget;

/// Monthly spend the tenant is already committed to, and where the figure comes from.
#[derive(Debug, Clone)]
pub struct Committed {
    pub monthly_usd: f64,
    pub source: String,
}

pub fn gates(
    budget: &Budget,
    plan_monthly: f64,
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
    let limit = budget.per_plan_usd;
    if limit > 0.0 && plan_monthly > limit {
        gate(
            "budget.per_plan",
            GateResult::Deny,
            format!("estimated ${plan_monthly:.2}/month exceeds the per-plan limit of ${limit:.2}"),
        );
    } else if limit > 0.0 && plan_monthly > 0.8 * limit {
        gate(
            "budget.per_plan",
            GateResult::Warn,
            format!(
                "estimated ${plan_monthly:.2}/month is over 80% of the per-plan limit of ${limit:.2}"
            ),
        );
    } else if limit > 0.0 {
        gate(
            "budget.per_plan",
            GateResult::Pass,
            format!("estimated ${plan_monthly:.2}/month within the per-plan limit of ${limit:.2}"),
        );
    }
    let monthly = budget.monthly_usd;
    if monthly > 0.0 {
        let projected = committed.monthly_usd + plan_monthly;
        let figures = format!(
            "${:.2} committed ({}) + ${plan_monthly:.2} this plan = ${projected:.2} of the ${monthly:.2} monthly budget",
            committed.monthly_usd, committed.source
        );
        if projected > monthly {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let g = gates(&b, 124.51, true, &committed(400.0));
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
            gates(&soft, 124.51, true, &committed(400.0))[0].result,
            GateResult::Warn
        );
        assert_eq!(
            gates(&b, 10.0, true, &committed(0.0))[0].result,
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
            gates(&b, 124.51, true, &committed(0.0))[0].result,
            GateResult::Deny
        );
        assert_eq!(
            gates(&b, 90.0, true, &committed(0.0))[0].result,
            GateResult::Warn
        );
        assert!(gates(&b, 500.0, false, &committed(0.0)).is_empty());
    }
}
