//! Least-privilege IAM policy documents for the shared backend, one per kind of principal:
//! the people (viewer, operator, approver) who read, request and decide, and the runner, the one
//! principal that applies. `opsdeck iam policy ROLE` prints them; deploy/terraform/runner attaches
//! the runner's to its task role. What each grants follows the store's layout
//! (`store::aws::layout`): every item's partition key is the tenant or starts with `<tenant>#`,
//! every object key starts with `<tenant>/`, so `dynamodb:LeadingKeys` and `s3:prefix` confine
//! a principal to its tenants. People are explicitly denied the tenants' deploy roles: an
//! approval, applied by the runner, is the only way a plan reaches the account.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::config::AwsBackendConfig;
use crate::error::{Error, Result};
use crate::store::aws::layout::{Bucket, Layout, Table};

/// Who a policy document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRole {
    Viewer,
    Operator,
    Approver,
    Runner,
}

impl PolicyRole {
    pub const ALL: [PolicyRole; 4] = [
        PolicyRole::Viewer,
        PolicyRole::Operator,
        PolicyRole::Approver,
        PolicyRole::Runner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyRole::Viewer => "viewer",
            PolicyRole::Operator => "operator",
            PolicyRole::Approver => "approver",
            PolicyRole::Runner => "runner",
        }
    }
}

impl fmt::Display for PolicyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PolicyRole {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PolicyRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::input(format!(
                    "no IAM policy for '{s}': choose viewer, operator, approver or runner (admins set the backend up with the setup actions in docs/backend.md)"
                ))
            })
    }
}

/// What a policy is built for.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    pub role: PolicyRole,
    /// The AWS account holding the shared backend (12 digits).
    pub account: String,
    /// Tenants the principal may reach. Empty: the tenant in the principal's
    /// `opsdeck-tenant` tag (one role per tenant, as docs/backend.md sets them up).
    pub tenants: Vec<String>,
    /// The tenants' deploy roles (what the runner assumes and people are denied). Empty:
    /// `arn:aws:iam::*:role/opsdeck-deploy-<tenant>`, as deploy/terraform/deploy-role names them.
    pub deploy_roles: Vec<String>,
}

/// The policy document for `req` over the backend `config` names.
pub fn policy_document(config: &AwsBackendConfig, req: &PolicyRequest) -> Result<Value> {
    let layout = Layout::new(config)?;
    if req.account.len() != 12 || !req.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::input(format!(
            "--account '{}' is not an AWS account id (12 digits): name the account holding the shared backend",
            req.account
        )));
    }
    for t in &req.tenants {
        crate::tenant::validate_name(t)?;
    }
    for arn in &req.deploy_roles {
        crate::tenant::configs::validate_role_arn(arn)
            .map_err(|e| Error::input(format!("--deploy-role '{arn}': {e}")))?;
    }
    let partition = partition(&layout.region);
    let tenants: Vec<String> = if req.tenants.is_empty() {
        vec!["${aws:PrincipalTag/opsdeck-tenant}".to_string()]
    } else {
        req.tenants.clone()
    };
    let leading_keys: Vec<String> = tenants
        .iter()
        .flat_map(|t| [t.clone(), format!("{t}#*")])
        .collect();
    let table = |t: Table| {
        format!(
            "arn:{partition}:dynamodb:{}:{}:table/{}",
            layout.region,
            req.account,
            layout.table(t)
        )
    };
    let tables = |ts: &[Table]| -> Vec<String> { ts.iter().map(|t| table(*t)).collect() };
    let bucket = |b: Bucket| format!("arn:{partition}:s3:::{}", layout.bucket(b));
    let objects = |b: Bucket, under: &str| -> Vec<String> {
        tenants
            .iter()
            .map(|t| format!("{}/{t}/{under}*", bucket(b)))
            .collect()
    };
    let deploy_roles: Vec<String> = if req.deploy_roles.is_empty() {
        tenants
            .iter()
            .map(|t| format!("arn:{partition}:iam::*:role/opsdeck-deploy-{t}"))
            .collect()
    } else {
        req.deploy_roles.clone()
    };
    let confined = json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading_keys}});
    let own_prefixes: Vec<String> = tenants.iter().map(|t| format!("{t}/*")).collect();

    let mut statements = vec![
        json!({
            "Sid": "ProbeTheBackend",
            "Effect": "Allow",
            "Action": "dynamodb:DescribeTable",
            "Resource": tables(&Table::ALL),
        }),
        json!({
            "Sid": "ReadOwnTenantItems",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"],
            "Resource": tables(&Table::ALL),
            "Condition": confined,
        }),
        json!({
            "Sid": "ReadOwnTenantObjects",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": Bucket::ALL.iter().flat_map(|b| objects(*b, "")).collect::<Vec<_>>(),
        }),
        json!({
            "Sid": "ListOwnTenantPrefixOnly",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": Bucket::ALL.iter().map(|b| bucket(*b)).collect::<Vec<_>>(),
            "Condition": {"StringLike": {"s3:prefix": own_prefixes}},
        }),
    ];
    // Everyone's requests, answers and refusals are audit events, and every append leaves a
    // checkpoint in the locked bucket: appending is part of reading.
    let mut write_tables = vec![Table::AuditRuns, Table::Artifacts];
    let mut write_objects = objects(Bucket::Reports, "");
    write_objects.extend(objects(Bucket::AuditLogs, "witness/"));
    let mut delete_tables: Vec<Table> = Vec::new();
    // Requests queue plans; dry runs and applies lock stacks and store artifacts and state.
    if matches!(req.role, PolicyRole::Operator | PolicyRole::Runner) {
        write_tables.extend([
            Table::Approvals,
            Table::CostTracking,
            Table::Locks,
            Table::Tenants,
        ]);
        delete_tables.extend([Table::Locks, Table::Tenants]);
        write_objects.extend(objects(Bucket::Artifacts, ""));
    }
    match req.role {
        // Decisions update the plan and the approver's TOTP step (its user record).
        PolicyRole::Approver => write_tables.extend([Table::Approvals, Table::Tenants]),
        // Execution logs, kept under Object Lock.
        PolicyRole::Runner => write_objects.extend(objects(Bucket::AuditLogs, "")),
        PolicyRole::Viewer | PolicyRole::Operator => {}
    }
    statements.push(json!({
        "Sid": "WriteOwnTenantItems",
        "Effect": "Allow",
        "Action": "dynamodb:PutItem",
        "Resource": tables(&write_tables),
        "Condition": confined,
    }));
    if !delete_tables.is_empty() {
        statements.push(json!({
            "Sid": "ReleaseOwnTenantLocks",
            "Effect": "Allow",
            "Action": "dynamodb:DeleteItem",
            "Resource": tables(&delete_tables),
            "Condition": confined,
        }));
    }
    // Objects carry their retention as they are written: the expire tag of plan artifacts and
    // the Object Lock retain-until of audit evidence (docs/backend.md, "Retention per tenant").
    statements.push(json!({
        "Sid": "WriteOwnTenantObjects",
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectRetention"],
        "Resource": write_objects,
    }));
    statements.push(json!({
        "Sid": "NeverOverwriteAnObject",
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": Bucket::ALL.iter().map(|b| format!("{}/*", bucket(*b))).collect::<Vec<_>>(),
        "Condition": {"Null": {"s3:if-none-match": "true"}},
    }));
    statements.push(json!({
        "Sid": "UseTheBackendKeyThroughItsServices",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": format!("arn:{partition}:kms:{}:{}:key/*", layout.region, req.account),
        "Condition": {"StringEquals": {"kms:ViaService": [
            format!("dynamodb.{}.amazonaws.com", layout.region),
            format!("s3.{}.amazonaws.com", layout.region),
        ]}},
    }));
    // TOTP is the step-up factor of decisions (approvers, and requesters rejecting their own).
    if matches!(req.role, PolicyRole::Operator | PolicyRole::Approver) {
        let aliases: Vec<String> = tenants
            .iter()
            .map(|t| format!("alias/{}-totp-{t}", layout.prefix))
            .collect();
        statements.push(json!({
            "Sid": "SealTheTenantsTotpSecrets",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"],
            "Resource": format!("arn:{partition}:kms:{}:{}:key/*", layout.region, req.account),
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": aliases}},
        }));
    }
    if req.role == PolicyRole::Runner {
        statements.push(json!({
            "Sid": "AssumeTheTenantsDeployRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Resource": deploy_roles,
        }));
    } else {
        statements.push(json!({
            "Sid": "OnlyTheRunnerAppliesPlans",
            "Effect": "Deny",
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Resource": deploy_roles,
        }));
    }
    Ok(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The policy document for `req` over the shared backend this machine's config file names.
pub fn iam_policy(opts: &super::OpenOptions, req: &PolicyRequest) -> Result<Value> {
    let paths = crate::config::Paths::resolve(opts.home.as_deref(), opts.identity_dir.as_deref())?;
    let config = crate::config::Config::load(&paths.config_file)?;
    policy_document(&config.aws_backend, req)
}

/// The ARN partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(role: PolicyRole, tenants: &[&str]) -> Value {
        policy_document(
            &AwsBackendConfig {
                region: "eu-west-1".into(),
                prefix: "acme-ops".into(),
                ..AwsBackendConfig::default()
            },
            &PolicyRequest {
                role,
                account: "123456789012".into(),
                tenants: tenants.iter().map(|t| t.to_string()).collect(),
                deploy_roles: Vec::new(),
            },
        )
        .unwrap()
    }

    fn statement<'a>(doc: &'a Value, sid: &str) -> Option<&'a Value> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn only_the_runner_may_assume_deploy_roles_and_people_are_denied_them() {
        for role in PolicyRole::ALL {
            let d = doc(role, &["acme"]);
            let allow = statement(&d, "AssumeTheTenantsDeployRoles");
            let deny = statement(&d, "OnlyTheRunnerAppliesPlans");
            if role == PolicyRole::Runner {
                assert_eq!(
                    strings(&allow.unwrap()["Resource"]),
                    ["arn:aws:iam::*:role/opsdeck-deploy-acme"]
                );
                assert!(deny.is_none());
            } else {
                assert!(allow.is_none(), "{role}");
                assert_eq!(deny.unwrap()["Effect"], "Deny");
            }
            // Nothing anywhere grants sts:AssumeRole except that one statement.
            for s in d["Statement"].as_array().unwrap() {
                if s["Effect"] == "Allow"
                    && strings(&s["Action"]).iter().any(|a| a.starts_with("sts:"))
                {
                    assert_eq!(s["Sid"], "AssumeTheTenantsDeployRoles");
                }
            }
        }
    }

    #[test]
    fn viewers_write_only_the_trail_and_their_answers() {
        let d = doc(PolicyRole::Viewer, &[]);
        let writes = strings(&statement(&d, "WriteOwnTenantItems").unwrap()["Resource"]);
        assert_eq!(
            writes,
            [
                "arn:aws:dynamodb:eu-west-1:123456789012:table/acme-ops_audit_runs",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/acme-ops_artifacts"
            ]
        );
        assert!(statement(&d, "ReleaseOwnTenantLocks").is_none());
        assert!(statement(&d, "SealTheTenantsTotpSecrets").is_none());
        let objects = strings(&statement(&d, "WriteOwnTenantObjects").unwrap()["Resource"]);
        assert_eq!(
            objects,
            [
                "arn:aws:s3:::acme-ops-reports/${aws:PrincipalTag/opsdeck-tenant}/*",
                "arn:aws:s3:::acme-ops-audit-logs/${aws:PrincipalTag/opsdeck-tenant}/witness/*"
            ]
        );
    }

    #[test]
    fn every_item_grant_is_confined_to_the_tenants_partitions() {
        for role in PolicyRole::ALL {
            let d = doc(role, &["acme", "beta"]);
            for s in d["Statement"].as_array().unwrap() {
                let actions = strings(&s["Action"]);
                if actions
                    .iter()
                    .any(|a| a.starts_with("dynamodb:") && a != "dynamodb:DescribeTable")
                {
                    assert_eq!(
                        strings(&s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]),
                        ["acme", "acme#*", "beta", "beta#*"],
                        "{role} {}",
                        s["Sid"]
                    );
                }
                assert!(
                    !actions
                        .iter()
                        .any(|a| a == "dynamodb:Scan" || a.ends_with(":*"))
                );
                assert!(!actions.iter().any(|a| a == "s3:DeleteObject"));
            }
        }
    }

    #[test]
    fn bad_input_is_refused_with_what_to_give() {
        let cfg = AwsBackendConfig::default();
        let req = |account: &str, tenants: &[&str], roles: &[&str]| PolicyRequest {
            role: PolicyRole::Runner,
            account: account.into(),
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            deploy_roles: roles.iter().map(|t| t.to_string()).collect(),
        };
        let e = policy_document(&cfg, &req("12345", &[], &[])).unwrap_err();
        assert!(e.to_string().contains("12 digits"), "{e}");
        assert!(policy_document(&cfg, &req("123456789012", &["Bad Name"], &[])).is_err());
        assert!(
            policy_document(&cfg, &req("123456789012", &[], &["arn:aws:iam::*:role/x"])).is_err()
        );
        let e = "admin".parse::<PolicyRole>().unwrap_err();
        assert!(
            e.to_string()
                .contains("viewer, operator, approver or runner")
        );
        assert_eq!("Runner".parse::<PolicyRole>().unwrap(), PolicyRole::Runner);
    }
}
