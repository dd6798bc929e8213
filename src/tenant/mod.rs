//! Tenants (teams) and the acting identity. Everything read or written is scoped to one tenant.

use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod configs;
pub mod drift;
pub mod error;
pub mod mfa;
pub mod notifications;
pub mod principal;
pub mod reports;
pub mod retention;
pub mod tokens;
pub mod users;

pub use configs::AwsConfiguration;
pub use drift::DriftSchedule;
pub use error::TenantError;
pub use notifications::{NotificationKind, Notifications};
pub use reports::ReportSettings;
pub use retention::{LockMode, Retention};
pub use tokens::ApiToken;
pub use users::{Role, User};

/// Per-tenant guardrail settings the core enforces. Shown and replaced as TOML with
/// `opsdeck tenants show` / `opsdeck tenants set --file` (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tenant {
    pub name: String,
    /// Empty in records of tenants made before they had one (and in settings files).
    #[serde(with = "crate::time::empty_as_none")]
    pub created_at: Option<crate::time::Stamp>,
    pub default_region: String,
    /// The most instances one plan may create or scale a group to (1 to
    /// [`crate::intent::ranges::MAX_INSTANCES_CEILING`]); a request for more is refused.
    pub max_instances_per_plan: u64,
    pub policy: PolicyConfig,
    pub budget: Budget,
    pub approvals: ApprovalConfig,
    pub llm: LlmConfig,
    /// The tenant `opsdeck demo` made: it reaches only the local AWS stand-in, with demo
    /// credentials, and its users' codes may be printed by `opsdeck totp`. Only `opsdeck demo`
    /// sets it; `tenants set` keeps what is stored.
    pub demo: bool,
    pub stack_defaults: StackDefaults,
    /// On the local store, let `--user` / `OPSDECK_USER` name someone other than the OS account
    /// (every such use is audited with its source). Off for new tenants: one OS account is one
    /// trust domain, and separation of duties needs separate accounts or the shared backend.
    /// A demo tenant and a tenant with no users yet always allow it.
    pub allow_claimed_users: bool,
    /// Where notifications go (a webhook, an SNS topic) and which; see [`Notifications`].
    pub notifications: Notifications,
    /// Scheduled drift checks; see [`DriftSchedule`].
    pub drift: DriftSchedule,
    /// How often the Reports pane stores each report again; see [`ReportSettings`].
    pub reports: ReportSettings,
    /// How long the shared backend keeps audit evidence and artifacts; see [`Retention`].
    pub retention: Retention,
}

/// Safe defaults of generated stacks that cost money or need something in the account: each is
/// on unless the tenant turns it off, and a stack rendered without one says why in a
/// `checkov:skip` comment. docs/templates.md lists the checkov check each satisfies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackDefaults {
    /// VPC flow logs into the stack's log bucket (CKV2_AWS_11).
    pub vpc_flow_logs: bool,
    /// Access logs of load balancers and buckets into the stack's log bucket (CKV_AWS_91,
    /// CKV_AWS_18).
    pub access_logs: bool,
    /// Databases get a Multi-AZ standby unless the request says "without multi-az"
    /// (CKV_AWS_157); the standby doubles the instance price.
    pub rds_multi_az: bool,
    /// One-minute EC2 metrics (CKV_AWS_126), priced per metric.
    pub detailed_monitoring: bool,
    /// The existing instance profile instances get, for Systems Manager (CKV2_AWS_41). Empty:
    /// each stack creates a role with AmazonSSMManagedInstanceCore only, an IAM change the
    /// iam.pipeline_only gate reviews.
    pub instance_profile: String,
}

/// The instance profile Systems Manager Quick Setup creates, with AmazonSSMManagedInstanceCore.
pub const SSM_QUICK_SETUP_PROFILE: &str = "AmazonSSMRoleForInstancesQuickSetup";

impl Default for StackDefaults {
    fn default() -> Self {
        StackDefaults {
            vpc_flow_logs: true,
            access_logs: true,
            rds_multi_az: true,
            detailed_monitoring: true,
            instance_profile: SSM_QUICK_SETUP_PROFILE.into(),
        }
    }
}

/// The model that understands requests, when one is configured; the offline parser otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Bedrock model id (empty: no model, the offline parser alone).
    pub model_id: String,
    /// Region of the Bedrock endpoint (default: the tenant's default region).
    pub region: String,
    /// Give up on the model after this long and use the parser.
    pub timeout_ms: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            model_id: String::new(),
            region: String::new(),
            timeout_ms: 5000,
        }
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant {
            name: "default".into(),
            created_at: None,
            default_region: "us-east-1".into(),
            max_instances_per_plan: crate::intent::ranges::DEFAULT_MAX_INSTANCES,
            policy: PolicyConfig::default(),
            budget: Budget::default(),
            approvals: ApprovalConfig::default(),
            llm: LlmConfig::default(),
            demo: false,
            stack_defaults: StackDefaults::default(),
            allow_claimed_users: false,
            notifications: Notifications::default(),
            drift: DriftSchedule::default(),
            reports: ReportSettings::default(),
            retention: Retention::default(),
        }
    }
}

/// Settings the Rego policies read (as `input.config` and `data.opsdeck.config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Regions plans may target; empty means any.
    pub allowed_regions: Vec<String>,
    /// Instance types allowed per environment; `*` applies to environments not listed.
    pub instance_types: std::collections::BTreeMap<String, Vec<String>>,
    /// Tag keys every created, taggable resource must carry.
    pub required_tags: Vec<String>,
    /// The only identity (user or role) allowed to change IAM.
    pub pipeline_role: String,
    /// When production may change (UTC).
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// Command prefixes ops may run through SSM.
    pub ssm_allowed_commands: Vec<String>,
    /// Starter rules this tenant switched off (rule ids); recorded in every plan's gates.
    pub disabled_rules: Vec<String>,
    /// Let hand-written Terraform and playbooks run where the host has no filesystem sandbox
    /// (no Landlock). Off: they are refused there; generated artifacts always run.
    pub allow_unsandboxed_runs: bool,
    /// Library entries are used (`ask --use`) only in versions an approver approved
    /// (`library approve`), never by whoever added them.
    pub library_requires_approval: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// `mon` .. `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, UTC, inclusive.
    pub start: String,
    /// `HH:MM`, UTC, exclusive.
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Budget {
    /// Monthly budget in USD for the tenant (0 = none).
    pub monthly_usd: f64,
    /// The most one plan may add to the monthly bill: its estimate, or for a change to an
    /// existing stack the difference against its current cost (0 = no limit).
    pub per_plan_usd: f64,
    /// Deny (rather than warn) a plan that would take projected monthly spend over budget.
    pub hard_stop: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// First matching rule decides; plans no rule matches need `default_approvers`.
    pub rules: Vec<ApprovalRule>,
    pub default_approvers: u32,
    /// Roles whose members may approve when no rule says otherwise.
    pub default_roles: Vec<Role>,
    /// Seconds a plan may wait for approval before it expires.
    pub pending_ttl_secs: u64,
    /// Seconds an approval stays valid for `apply`.
    pub approved_ttl_secs: u64,
    /// Whether one approver with a reason may stand in for the required number.
    pub break_glass: bool,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            rules: vec![
                ApprovalRule {
                    name: "prod-destroy".into(),
                    environment: Some("prod".into()),
                    action: Some("destroy".into()),
                    min_risk: None,
                    approvers: 2,
                    roles: vec![Role::Approver],
                    group: None,
                },
                ApprovalRule {
                    name: "critical-risk".into(),
                    environment: None,
                    action: None,
                    min_risk: Some(crate::plan::Risk::Critical),
                    approvers: 2,
                    roles: vec![Role::Approver, Role::Admin],
                    group: None,
                },
            ],
            default_approvers: 1,
            default_roles: vec![Role::Approver, Role::Admin],
            pending_ttl_secs: 7 * 24 * 3600,
            approved_ttl_secs: 24 * 3600,
            break_glass: true,
        }
    }
}

/// How many approvals a kind of plan needs, and from whom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_risk: Option<crate::plan::Risk>,
    pub approvers: u32,
    pub roles: Vec<Role>,
    /// Approvers must also belong to this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Tenant {
    /// Refuses settings no tenant can work with, naming the setting, the value and what it
    /// may be: nothing out of range is stored to be clamped or silently ignored later.
    pub fn validate(&self) -> std::result::Result<(), TenantError> {
        let bad = |setting: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(TenantError::OutOfRange {
                setting: setting.to_string(),
                value: value.to_string(),
                allowed: allowed.to_string(),
            })
        };
        let known_regions = "a region code such as us-east-1 or eu-west-1";
        if !crate::intent::is_region_code(&self.default_region) {
            return bad("default_region", &self.default_region, known_regions);
        }
        for r in &self.policy.allowed_regions {
            if !crate::intent::is_region_code(r) {
                return bad("policy.allowed_regions entry", r, known_regions);
            }
        }
        let ceiling = crate::intent::ranges::MAX_INSTANCES_CEILING;
        if !(1..=ceiling).contains(&self.max_instances_per_plan) {
            return bad(
                "max_instances_per_plan",
                &self.max_instances_per_plan,
                &format!("1 to {ceiling}"),
            );
        }
        for w in &self.policy.maintenance_windows {
            for d in &w.days {
                if weekday(d).is_none() {
                    return bad(
                        "policy.maintenance_windows day",
                        &format!("\"{d}\""),
                        "mon, tue, wed, thu, fri, sat or sun (or the whole name)",
                    );
                }
            }
            if clock_minutes(&w.start).is_none_or(|m| m >= 24 * 60) {
                return bad(
                    "policy.maintenance_windows start",
                    &format!("\"{}\"", w.start),
                    "HH:MM from 00:00 to 23:59 (UTC)",
                );
            }
            if clock_minutes(&w.end).is_none() {
                return bad(
                    "policy.maintenance_windows end",
                    &format!("\"{}\"", w.end),
                    "HH:MM from 00:00 to 24:00 (UTC)",
                );
            }
        }
        for (setting, usd) in [
            ("budget.monthly_usd", self.budget.monthly_usd),
            ("budget.per_plan_usd", self.budget.per_plan_usd),
        ] {
            if !(usd.is_finite() && usd >= 0.0) {
                return bad(setting, &usd, "0 (no limit) or more US dollars");
            }
        }
        if self.approvals.default_approvers == 0 {
            return bad("approvals.default_approvers", &0, "1 or more");
        }
        for r in &self.approvals.rules {
            if r.approvers == 0 {
                return bad(
                    &format!("approvals rule {} approvers", r.name),
                    &0,
                    "1 or more",
                );
            }
        }
        for (setting, secs) in [
            (
                "approvals.pending_ttl_secs",
                self.approvals.pending_ttl_secs,
            ),
            (
                "approvals.approved_ttl_secs",
                self.approvals.approved_ttl_secs,
            ),
        ] {
            if secs == 0 {
                return bad(setting, &0, "1 second or more");
            }
        }
        if !self.llm.region.is_empty() && !crate::intent::is_region_code(&self.llm.region) {
            return bad("llm.region", &self.llm.region, known_regions);
        }
        if self.llm.timeout_ms < 100 {
            return bad("llm.timeout_ms", &self.llm.timeout_ms, "100 or more");
        }
        let profile = &self.stack_defaults.instance_profile;
        if profile.chars().count() > 128
            || !profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        {
            return bad(
                "stack_defaults.instance_profile",
                &format!("{profile:?}"),
                "an IAM instance profile name (up to 128 of A-Z a-z 0-9 + = , . @ _ -), or empty for a role per stack",
            );
        }
        self.notifications.validate()?;
        self.drift.validate()?;
        self.reports.validate()?;
        self.retention.validate()
    }
}

/// A day of the week as the maintenance policy reads it: its first three letters, from a
/// short or whole name ("sat", "Saturday").
fn weekday(d: &str) -> Option<&'static str> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let d = d.trim().to_lowercase();
    DAYS.iter()
        .find(|full| d.len() >= 3 && full.starts_with(d.as_str()))
        .map(|full| &full[..3])
}

/// `HH:MM` as minutes since midnight, 00:00 to 24:00.
fn clock_minutes(t: &str) -> Option<u32> {
    let (h, m) = t.trim().split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

/// Tenant names become path components and key prefixes: keep them plain.
pub fn validate_name(name: &str) -> std::result::Result<(), TenantError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TenantError::TenantName {
            name: name.to_string(),
        })
    }
}

/// How the acting user was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// The operating-system account running opsdeck.
    Os,
    /// `--user` on the command line.
    Flag,
    /// `OPSDECK_USER` in the environment.
    Env,
    /// An MCP client.
    Mcp,
    /// The caller's IAM principal (STS GetCallerIdentity) on the shared backend.
    Aws,
    /// An MCP client over HTTP, with a bearer token bound to the user (`opsdeck tokens`).
    #[serde(rename = "mcp_token")]
    McpToken,
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Os => "os",
            UserSource::Flag => "flag",
            UserSource::Env => "env",
            UserSource::Mcp => "mcp",
            UserSource::Aws => "aws",
            UserSource::McpToken => "mcp_token",
        }
    }

    /// An AI client (stdio or HTTP): it may queue plans, never decide on them.
    pub fn is_mcp(self) -> bool {
        matches!(self, UserSource::Mcp | UserSource::McpToken)
    }
}

/// Who is acting, and how we know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub source: UserSource,
    /// The OS account behind it, recorded even when `--user` names someone else.
    pub os_user: String,
    /// On the shared backend: the IAM principal (ARN) STS says the caller is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Whether the principal is this machine's last proven one, STS being unreachable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub principal_cached: bool,
    /// The bearer token an HTTP MCP client presented (its public id), when that is the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Identity {
    /// `--user` wins over `OPSDECK_USER`, which wins over the OS account.
    pub fn resolve(flag: Option<&str>, env: Option<&str>) -> Result<Identity> {
        let os_user = os_user();
        let (user, source) = match (flag, env) {
            (Some(u), _) => (u.to_string(), UserSource::Flag),
            (None, Some(u)) if !u.trim().is_empty() => (u.to_string(), UserSource::Env),
            _ => (os_user.clone(), UserSource::Os),
        };
        validate_user(&user)?;
        Ok(Identity {
            user,
            source,
            os_user,
            principal: None,
            principal_cached: false,
            token: None,
        })
    }

    /// Whether the user was named by `--user` or `OPSDECK_USER` rather than proven.
    pub fn is_claimed(&self) -> bool {
        matches!(self.source, UserSource::Flag | UserSource::Env) && self.user != self.os_user
    }

    /// How the acting user was established, in words: "aws principal ARN", "OS account",
    /// "--user (allowed by tenant)".
    pub fn proof(&self) -> String {
        let claim = match self.source {
            UserSource::Env => "OPSDECK_USER",
            _ => "--user",
        };
        if let Some(id) = &self.token {
            return format!("MCP bearer token {id}");
        }
        match (&self.principal, self.source) {
            (Some(arn), _) if self.principal_cached => {
                format!("aws principal {arn} (last proven; STS unreachable)")
            }
            (Some(arn), _) => format!("aws principal {arn}"),
            (None, UserSource::Mcp) => "OS account, via MCP".into(),
            (None, _) if self.is_claimed() => format!("{claim} (allowed by tenant)"),
            (None, _) => "OS account".into(),
        }
    }
}

pub fn validate_user(user: &str) -> std::result::Result<(), TenantError> {
    let ok = !user.is_empty()
        && user.len() <= 128
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(TenantError::UserName {
            user: user.to_string(),
        })
    }
}

/// An approver group name: what a signed membership record and an approval rule carry.
pub fn validate_group(group: &str) -> std::result::Result<(), TenantError> {
    let ok = !group.is_empty()
        && group.len() <= 64
        && group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(TenantError::GroupName {
            group: group.to_string(),
        })
    }
}

fn os_user() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.is_empty()
            && validate_user(&u).is_ok()
        {
            return u;
        }
    }
    // No login variables (cron, containers): ask the password database, then the bare uid.
    // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers we pass and sets
    // `result` to null or to `pwd`, whose name points into `buf`, valid while `buf` lives.
    unsafe {
        let uid = libc::getuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = [0 as libc::c_char; 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) == 0
            && !result.is_null()
            && !pwd.pw_name.is_null()
        {
            let name = std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .to_string();
            if validate_user(&name).is_ok() {
                return name;
            }
        }
        format!("uid{uid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_os() {
        let i = Identity::resolve(Some("bob"), Some("carol")).unwrap();
        assert_eq!((i.user.as_str(), i.source), ("bob", UserSource::Flag));
        let i = Identity::resolve(None, Some("carol")).unwrap();
        assert_eq!((i.user.as_str(), i.source), ("carol", UserSource::Env));
        let i = Identity::resolve(None, None).unwrap();
        assert_eq!(i.source, UserSource::Os);
        assert!(Identity::resolve(Some("bob; rm -rf /"), None).is_err());
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(Tenant::default().validate().is_ok());
        let with = |f: &dyn Fn(&mut Tenant)| {
            let mut t = Tenant::default();
            f(&mut t);
            t.validate().map_err(|e| e.to_string())
        };
        let window = |start: &str, end: &str| MaintenanceWindow {
            days: vec!["sat".into(), "Sunday".into()],
            start: start.into(),
            end: end.into(),
        };
        assert!(with(&|t| t.policy.maintenance_windows = vec![window("01:00", "24:00")]).is_ok());
        assert_eq!(
            with(&|t| t.policy.maintenance_windows = vec![window("25:00", "05:00")]).unwrap_err(),
            "policy.maintenance_windows start \"25:00\" is out of range: HH:MM from 00:00 to 23:59 (UTC)"
        );
        assert!(with(&|t| t.policy.maintenance_windows = vec![window("01:00", "24:01")]).is_err());
        assert!(with(&|t| t.policy.maintenance_windows = vec![window("1:00", "05:00")]).is_err());
        assert!(
            with(&|t| t.policy.maintenance_windows = vec![MaintenanceWindow {
                days: vec!["someday".into()],
                ..window("01:00", "02:00")
            }])
            .is_err()
        );
        assert_eq!(
            with(&|t| t.max_instances_per_plan = 0).unwrap_err(),
            "max_instances_per_plan 0 is out of range: 1 to 1000"
        );
        assert!(with(&|t| t.max_instances_per_plan = 1001).is_err());
        assert!(with(&|t| t.max_instances_per_plan = 200).is_ok());
        assert!(with(&|t| t.default_region = "us-east-99".into()).is_err());
        assert!(with(&|t| t.policy.allowed_regions = vec!["mars-north-1".into()]).is_err());
        assert!(with(&|t| t.budget.monthly_usd = -1.0).is_err());
        assert!(with(&|t| t.approvals.default_approvers = 0).is_err());
        assert!(with(&|t| t.llm.timeout_ms = 5).is_err());
        // An instance profile name goes into generated Terraform: IAM's characters only.
        assert!(with(&|t| t.stack_defaults.instance_profile = String::new()).is_ok());
        assert!(with(&|t| t.stack_defaults.instance_profile = "ops-ssm_v2@team".into()).is_ok());
        assert_eq!(
            with(&|t| t.stack_defaults.instance_profile = "x\" }\nresource".into()).unwrap_err(),
            "stack_defaults.instance_profile \"x\\\" }\\nresource\" is out of range: an IAM instance profile name (up to 128 of A-Z a-z 0-9 + = , . @ _ -), or empty for a role per stack"
        );
        assert!(with(&|t| t.stack_defaults.instance_profile = "a".repeat(129)).is_err());
    }

    #[test]
    fn tenant_names_are_plain() {
        assert!(validate_name("team-a").is_ok());
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("Team").is_err());
        assert!(validate_name("").is_err());
    }
}
