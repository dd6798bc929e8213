//! Approval rules as data: how many approvers a plan needs and who they may be, by environment,
//! action and risk. First matching rule wins; otherwise the tenant's default.

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::tenant::{ApprovalConfig, Role, User};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub rule: String,
    pub approvers: u32,
    pub roles: Vec<Role>,
    pub group: Option<String>,
}

pub fn requirement(plan: &Plan, cfg: &ApprovalConfig) -> Requirement {
    let env = plan.intent.param_str("environment");
    for r in &cfg.rules {
        let env_ok = r.environment.as_deref().is_none_or(|e| Some(e) == env);
        let action_ok = r.action.as_deref().is_none_or(|a| a == plan.action);
        let risk_ok = r.min_risk.is_none_or(|m| plan.risk >= m);
        if env_ok && action_ok && risk_ok {
            return Requirement {
                rule: r.name.clone(),
                approvers: r.approvers.max(1),
                roles: r.roles.clone(),
                group: r.group.clone(),
            };
        }
    }
    Requirement {
        rule: "default".into(),
        approvers: cfg.default_approvers.max(1),
        roles: cfg.default_roles.clone(),
        group: None,
    }
}

/// Why `user` may not approve under `req`, if they may not.
pub fn disqualified(user: &User, req: &Requirement) -> Option<String> {
    if !user.has_any(&req.roles) {
        let want: Vec<&str> = req.roles.iter().map(|r| r.as_str()).collect();
        return Some(format!(
            "{} may not approve under rule {}: it needs the role {} (they have {})",
            user.name,
            req.rule,
            want.join(" or "),
            user.roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(g) = &req.group
        && !user.groups.iter().any(|x| x == g)
    {
        return Some(format!(
            "{} may not approve under rule {}: approvers must be in group {g}",
            user.name, req.rule
        ));
    }
    None
}
