//! What a stated value may be. A value out of range is refused with the value, the range and
//! where the limit comes from: never clamped, never replaced by a default. Values the request
//! does not state keep their defaults (the agents say so in the plan).
//!
//! [`check`] holds every reading to the same ranges, whoever made it: the offline parser, a
//! follow-up refining the previous request, or the model.

use serde_json::Value;

use super::{AgentKind, Intent, IntentError, regions};

/// The most instances a tenant may allow one plan to create (`max_instances_per_plan`).
pub const MAX_INSTANCES_CEILING: u64 = 1000;
/// `max_instances_per_plan` of a tenant that has not set it.
pub const DEFAULT_MAX_INSTANCES: u64 = 50;
/// The most instances a cost estimate prices (nothing is created).
pub const MAX_ESTIMATE_COUNT: u64 = 10_000;
/// The longest look-back window any agent reads: CloudWatch keeps metrics for 15 months.
pub const MAX_WINDOW_SECS: u64 = 455 * 86_400;
/// The shortest: one minute.
pub const MIN_WINDOW_SECS: u64 = 60;
/// What a window may be, for errors.
pub const WINDOW: &str = "a time window is 1 minute to 455 days (CloudWatch keeps 15 months), e.g. \"last 15 minutes\", \"last 24 hours\", \"last 30 days\"";

pub(super) fn window_secs_in_range(secs: u64) -> bool {
    (MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&secs)
}

/// The limits a tenant sets on what one request may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_instances_per_plan: u64,
    /// The tenant the limits are from; None when no tenant is known (`opsdeck classify`
    /// reads requests without a store), and then the ceiling any tenant may set applies.
    pub tenant: Option<String>,
}

impl Limits {
    /// No tenant known: the most any tenant may allow.
    pub fn any_tenant() -> Limits {
        Limits {
            max_instances_per_plan: MAX_INSTANCES_CEILING,
            tenant: None,
        }
    }

    pub fn of(tenant: &crate::tenant::Tenant) -> Limits {
        Limits {
            max_instances_per_plan: tenant.max_instances_per_plan,
            tenant: Some(tenant.name.clone()),
        }
    }

    fn whose(&self) -> String {
        match &self.tenant {
            Some(t) => format!("in tenant {t} (tenant setting max_instances_per_plan)"),
            None => format!(
                "in any tenant (tenant setting max_instances_per_plan is at most {MAX_INSTANCES_CEILING}; `opsdeck ask` applies your tenant's own)"
            ),
        }
    }
}

/// Refuses a reading whose values are out of range: the count against the tenant's limit,
/// the region against the known regions, the window against what agents can look back over,
/// and every other number against the bounds the intent schema gives it.
pub fn check(intent: &Intent, limits: &Limits) -> Result<(), IntentError> {
    let p = &intent.params;
    if let Some(n) = p.count {
        let (min, max, allowed) = count_range(intent.agent, &intent.action, limits);
        if !(min..=max).contains(&n) {
            return Err(out_of_range("count", &Value::from(n), allowed));
        }
    }
    if let Some(r) = &p.region
        && !regions::is_region_code(r)
    {
        return Err(regions::unknown(r));
    }
    if let Some(w) = &p.window
        && !window_ok(w)
    {
        return Err(out_of_range(
            "window",
            &Value::from(w.as_str()),
            WINDOW.into(),
        ));
    }
    // Every other number against the schema's bounds, which the model is given too.
    let schema = super::llm::params_schema();
    for (key, v) in &p.to_json() {
        if matches!(key.as_str(), "count" | "region" | "window") {
            continue;
        }
        let Some(s) = schema.get(key) else { continue };
        let (bounds, values) = match s["type"].as_str() {
            Some("integer") => (s, vec![v]),
            Some("array") if s["items"]["type"] == "integer" => (
                &s["items"],
                v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
            ),
            _ => continue,
        };
        let (min, max) = (bounds["minimum"].as_u64(), bounds["maximum"].as_u64());
        for x in values {
            let fits = x
                .as_u64()
                .is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m));
            if !fits {
                let unit = unit_of(key);
                let allowed = match (min, max) {
                    (Some(a), Some(b)) => format!("{key} takes {a} to {b}{unit}"),
                    (Some(a), None) => format!("{key} takes {a}{unit} or more"),
                    (None, Some(b)) => format!("{key} takes 0 to {b}{unit}"),
                    (None, None) => format!("{key} takes a whole number{unit}"),
                };
                return Err(out_of_range(key, x, allowed));
            }
        }
    }
    Ok(())
}

/// The unit a parameter's name ends in, for errors ("timeout_s takes 1 to 900 seconds").
fn unit_of(key: &str) -> &'static str {
    [
        ("_s", " seconds"),
        ("_mb", " MB"),
        ("_gb", " GB"),
        ("_days", " days"),
    ]
    .into_iter()
    .find_map(|(suffix, unit)| key.ends_with(suffix).then_some(unit))
    .unwrap_or("")
}

/// The refusal of a count no count can be (negative, or beyond 64 bits), as the request
/// wrote it, with the range a reading by `agent` for `action` allows.
pub(crate) fn impossible_count(
    agent: AgentKind,
    action: &str,
    written: &str,
    limits: &Limits,
) -> IntentError {
    let (_, _, allowed) = count_range(agent, action, limits);
    out_of_range("count", &Value::from(written), allowed)
}

/// How many instances a request may state, and the sentence that says so.
fn count_range(agent: AgentKind, action: &str, limits: &Limits) -> (u64, u64, String) {
    let max = limits.max_instances_per_plan;
    match (agent, action) {
        (AgentKind::Infra, "scale") => (
            0,
            max,
            format!(
                "a plan may scale a group to 0 to {max} instances {}",
                limits.whose()
            ),
        ),
        (AgentKind::Infra, _) => (
            1,
            max,
            format!("a plan may create 1 to {max} instances {}", limits.whose()),
        ),
        (AgentKind::Cost, "estimate") => (
            1,
            MAX_ESTIMATE_COUNT,
            format!("a cost estimate prices 1 to {MAX_ESTIMATE_COUNT} instances"),
        ),
        _ => (
            1,
            MAX_ESTIMATE_COUNT,
            format!("a count is 1 to {MAX_ESTIMATE_COUNT}"),
        ),
    }
}

/// `15m`, `24h`, `7d` within [`WINDOW`], or `mtd`.
fn window_ok(w: &str) -> bool {
    if w == "mtd" {
        return true;
    }
    let Some((digits, unit)) = w.split_at_checked(w.len().saturating_sub(1)) else {
        return false;
    };
    let mult = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return false,
    };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(mult))
            .is_some_and(window_secs_in_range)
}

/// A value as the person typed or the reading holds it: strings bare, numbers as digits.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn out_of_range(param: &str, v: &Value, allowed: String) -> IntentError {
    IntentError::OutOfRange {
        param: param.to_string(),
        value: shown(v),
        allowed,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn intent(agent: AgentKind, action: &str, params: Value) -> Intent {
        Intent {
            agent,
            agents: vec![agent],
            action: action.into(),
            confidence: 0.9,
            low_confidence: false,
            params: serde_json::from_value(params).unwrap(),
            evidence: Vec::new(),
            notes: Vec::new(),
            source: None,
            settled: None,
        }
    }

    fn tenant(max: u64) -> Limits {
        Limits {
            max_instances_per_plan: max,
            tenant: Some("team-a".into()),
        }
    }

    #[test]
    fn counts_are_held_to_the_tenant_limit() {
        let create = |n: Value| intent(AgentKind::Infra, "create", json!({ "count": n }));
        assert!(check(&create(json!(50)), &tenant(50)).is_ok());
        let e = check(&create(json!(51)), &tenant(50)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "count 51 is out of range: a plan may create 1 to 50 instances in tenant team-a (tenant setting max_instances_per_plan)"
        );
        assert!(check(&create(json!(0)), &tenant(50)).is_err());
        // A count no parameter can hold is refused with the same range, as written.
        let e = impossible_count(AgentKind::Infra, "create", "-3", &tenant(50));
        assert_eq!(
            e.to_string(),
            "count -3 is out of range: a plan may create 1 to 50 instances in tenant team-a (tenant setting max_instances_per_plan)"
        );
        let e = impossible_count(
            AgentKind::Infra,
            "create",
            "99999999999999999999999",
            &tenant(50),
        );
        assert!(
            e.to_string()
                .starts_with("count 99999999999999999999999 is out of range"),
            "{e}"
        );
        // Scaling a group to zero is a capacity, not a mistake.
        let scale = intent(AgentKind::Infra, "scale", json!({"count": 0}));
        assert!(check(&scale, &tenant(50)).is_ok());
        // Without a tenant, the ceiling any tenant may set.
        assert!(check(&create(json!(1000)), &Limits::any_tenant()).is_ok());
        assert!(check(&create(json!(1001)), &Limits::any_tenant()).is_err());
        // An estimate creates nothing: the tenant's limit does not apply, its own does.
        let estimate = |n: u64| intent(AgentKind::Cost, "estimate", json!({ "count": n }));
        assert!(check(&estimate(500), &tenant(50)).is_ok());
        assert!(check(&estimate(10_001), &tenant(50)).is_err());
    }

    #[test]
    fn regions_windows_and_schema_bounds() {
        let e = check(
            &intent(AgentKind::Infra, "create", json!({"region": "us-east-99"})),
            &tenant(50),
        )
        .unwrap_err();
        assert_eq!(
            e,
            IntentError::UnknownRegion {
                word: "us-east-99".into(),
                suggestions: vec!["us-east-1".into(), "us-east-2".into()]
            }
        );
        for (w, ok) in [
            ("15m", true),
            ("455d", true),
            ("mtd", true),
            ("0d", false),
            ("456d", false),
            ("99999999999999999999d", false),
            ("7x", false),
            ("d", false),
        ] {
            let i = intent(AgentKind::Monitor, "logs", json!({ "window": w }));
            assert_eq!(check(&i, &tenant(50)).is_ok(), ok, "{w}");
        }
        let i = intent(
            AgentKind::Security,
            "remediate",
            json!({"ports": [22, 70000]}),
        );
        assert_eq!(
            check(&i, &tenant(50)).unwrap_err().to_string(),
            "ports 70000 is out of range: ports takes 1 to 65535"
        );
        let i = intent(AgentKind::Infra, "create", json!({"timeout_s": 0}));
        assert_eq!(
            check(&i, &tenant(50)).unwrap_err().to_string(),
            "timeout_s 0 is out of range: timeout_s takes 1 to 900 seconds"
        );
    }
}
