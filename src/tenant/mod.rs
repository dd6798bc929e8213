//! Tenants (teams) and the acting identity. Everything read or written is scoped to one tenant.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod configs;
pub mod mfa;
pub mod users;

pub use configs::AwsConfiguration;
pub use users::{Role, User};

/// Per-tenant guardrail settings the core enforces. Shown and replaced as TOML with
/// `opsdeck tenants show` / `opsdeck tenants set --file` (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tenant {
    pub name: String,
    pub created_at: String,
    pub default_region: String,
    pub policy: PolicyConfig,
    pub budget: Budget,
    pub approvals: ApprovalConfig,
    pub llm: LlmConfig,
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
            created_at: String::new(),
            default_region: "us-east-1".into(),
            policy: PolicyConfig::default(),
            budget: Budget::default(),
            approvals: ApprovalConfig::default(),
            llm: LlmConfig::default(),
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
    /// Largest monthly cost estimate one plan may carry (0 = no limit).
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

/// Tenant names become path components and key prefixes: keep them plain.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid tenant name '{name}': use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
        )))
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
}

impl UserSource {
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Os => "os",
            UserSource::Flag => "flag",
            UserSource::Env => "env",
            UserSource::Mcp => "mcp",
        }
    }
}

/// Who is acting, and how we know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub source: UserSource,
    /// The OS account behind it, recorded even when `--user` names someone else.
    pub os_user: String,
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
        })
    }
}

pub fn validate_user(user: &str) -> Result<()> {
    let ok = !user.is_empty()
        && user.len() <= 128
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid user name '{user}': use letters, digits and . _ @ + - (at most 128)"
        )))
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
    fn tenant_names_are_plain() {
        assert!(validate_name("team-a").is_ok());
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("Team").is_err());
        assert!(validate_name("").is_err());
    }
}
