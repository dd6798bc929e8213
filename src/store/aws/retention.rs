//! Retention per tenant on the shared backend (the tenant's `[retention]`, docs/backend.md):
//!
//! - every object written to the audit-logs bucket (execution logs, the chain's checkpoints)
//!   carries an Object Lock retain-until `audit_years` ahead in the tenant's mode;
//! - plan artifacts are written with the tag `opsdeck-retention=expire` (Terraform state is not:
//!   the next apply starts from it) and reports under the tenant's prefix, so one lifecycle rule
//!   per tenant and bucket (`opsdeck-<tenant>`) expires them `artifact_days` after writing.
//!
//! `backend init` writes those rules; `backend check` reports each tenant's settings and every
//! rule that differs from them, and an audit-logs bucket without Object Lock; the audit objects
//! already written are checked against the settings in `retention_objects.rs`.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockEnabled,
    ObjectLockMode, Tag,
};

use super::AwsStore;
use super::fault::{Fault, classify};
use super::layout::Bucket;
use super::provision::{Finding, Status};
use super::remote::Clients;
use crate::tenant::{LockMode, Retention};

/// The tag plan artifacts carry so their tenant's lifecycle rule expires them (state does not).
pub const EXPIRE_TAG_KEY: &str = "opsdeck-retention";
pub const EXPIRE_TAG_VALUE: &str = "expire";

/// How long a tenant's settings read for a write are trusted before they are read again.
const SETTINGS_FRESH_FOR: Duration = Duration::from_secs(60);

/// What an object gets when it is written, from its bucket and its tenant's retention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectRetention {
    /// Object Lock mode and retain-until (seconds since the epoch).
    pub lock: Option<(LockMode, i64)>,
    /// The object expires with the tenant's lifecycle rule.
    pub expires: bool,
}

impl ObjectRetention {
    /// `x-amz-tagging` for the object, when it expires.
    pub fn tagging(&self) -> Option<String> {
        self.expires
            .then(|| format!("{EXPIRE_TAG_KEY}={EXPIRE_TAG_VALUE}"))
    }

    pub fn s3_mode(mode: LockMode) -> ObjectLockMode {
        match mode {
            LockMode::Compliance => ObjectLockMode::Compliance,
            LockMode::Governance => ObjectLockMode::Governance,
        }
    }
}

/// The lifecycle rule id of a tenant (one per bucket).
pub fn rule_id(tenant: &str) -> String {
    format!("opsdeck-{tenant}")
}

impl AwsStore {
    /// The tenant's retention, read at most once a minute per process (a settings change
    /// reaches long-running consoles within that minute). Unreadable settings (an outage, a
    /// record from before retention existed) count as the defaults.
    pub(super) fn tenant_retention(&self, tenant: &str) -> Retention {
        if let Some((at, r)) = self.retention_read.lock().unwrap().get(tenant)
            && at.elapsed() < SETTINGS_FRESH_FOR
        {
            return r.clone();
        }
        let r = crate::store::Store::get_tenant(self, tenant)
            .ok()
            .flatten()
            .map(|t| t.retention)
            .unwrap_or_default();
        self.retention_read
            .lock()
            .unwrap()
            .insert(tenant.to_string(), (Instant::now(), r.clone()));
        r
    }

    /// Whether an artifact stored in `bucket` at `created_at` may be gone by the tenant's
    /// lifecycle rule (a day early, for clocks and for S3's once-a-day expiry runs).
    pub(super) fn may_have_expired(
        &self,
        tenant: &str,
        bucket: &str,
        created_at: Option<&str>,
    ) -> bool {
        if bucket != self.layout.bucket(Bucket::Artifacts) {
            return false;
        }
        let r = self.tenant_retention(tenant);
        if !r.artifacts_expire() {
            return false;
        }
        let Some(at) = created_at.and_then(|c| c.parse::<crate::time::Stamp>().ok()) else {
            return true;
        };
        let age_days = (crate::time::Stamp::now().as_second() - at.as_second()) / (24 * 3600);
        age_days + 1 >= i64::from(r.artifact_days)
    }

    /// What an object of `tenant` written now to `bucket` gets.
    pub(super) fn object_retention(&self, tenant: &str, bucket: Bucket) -> ObjectRetention {
        match bucket {
            Bucket::AuditLogs => {
                let r = self.tenant_retention(tenant);
                let until =
                    crate::time::Stamp::now().as_second() + i64::from(r.audit_days()) * 24 * 3600;
                ObjectRetention {
                    lock: Some((r.audit_lock_mode, until)),
                    expires: false,
                }
            }
            Bucket::Artifacts => ObjectRetention {
                lock: None,
                expires: true,
            },
            Bucket::Reports => ObjectRetention::default(),
        }
    }
}

/// One tenant's lifecycle rule in `bucket`: on the tenant's prefix (and, in the artifacts
/// bucket, the expire tag), current versions expire after `days`, older versions a day later.
fn wanted_rule(tenant: &str, bucket: Bucket, days: i32) -> Result<LifecycleRule, Fault> {
    let prefix = format!("{tenant}/");
    let filter = if bucket == Bucket::Artifacts {
        LifecycleRuleFilter::builder()
            .and(
                LifecycleRuleAndOperator::builder()
                    .prefix(prefix)
                    .tags(
                        Tag::builder()
                            .key(EXPIRE_TAG_KEY)
                            .value(EXPIRE_TAG_VALUE)
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            )
            .build()
    } else {
        LifecycleRuleFilter::builder().prefix(prefix).build()
    };
    LifecycleRule::builder()
        .id(rule_id(tenant))
        .status(ExpirationStatus::Enabled)
        .filter(filter)
        .expiration(LifecycleExpiration::builder().days(days).build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(1)
                .build(),
        )
        .build()
        .map_err(build_err)
}

fn build_err(e: impl std::fmt::Display) -> Fault {
    Fault::Fatal(format!("building a request: {e}"))
}

/// Days after which the tenant's rule in a bucket expires objects, if it has one that is on
/// and filters as opsdeck's rule does.
fn rule_days(rules: &[LifecycleRule], tenant: &str, bucket: Bucket) -> Option<i32> {
    let id = rule_id(tenant);
    let rule = rules.iter().find(|r| r.id() == Some(id.as_str()))?;
    let prefix = format!("{tenant}/");
    let filtered = match rule.filter() {
        Some(f) if bucket == Bucket::Artifacts => f.and().is_some_and(|a| {
            a.prefix() == Some(prefix.as_str())
                && a.tags()
                    .iter()
                    .any(|t| t.key() == EXPIRE_TAG_KEY && t.value() == EXPIRE_TAG_VALUE)
        }),
        Some(f) => f.prefix() == Some(prefix.as_str()),
        None => false,
    };
    (filtered && *rule.status() == ExpirationStatus::Enabled)
        .then(|| rule.expiration().and_then(|e| e.days()))
        .flatten()
        .or((!filtered).then_some(-1))
}

/// The tenant's lifecycle rule in one bucket: fine, set (init) or reported (check).
async fn ensure_lifecycle(
    c: &Clients,
    bucket: Bucket,
    name: &str,
    tenant: &str,
    retention: &Retention,
    fix: bool,
) -> Result<Finding, Fault> {
    let rules = match c
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
    {
        Ok(o) => o.rules.unwrap_or_default(),
        Err(e) => match classify("S3", "GetBucketLifecycleConfiguration", &e) {
            // NoSuchLifecycleConfiguration: no rules yet.
            Fault::Missing(_) | Fault::Fatal(_) => Vec::new(),
            f => return Err(f),
        },
    };
    let want = retention
        .artifacts_expire()
        .then(|| i32::try_from(retention.artifact_days).unwrap_or(i32::MAX));
    let have = rule_days(&rules, tenant, bucket);
    let what = match bucket {
        Bucket::Artifacts => "plan artifacts",
        _ => "reports",
    };
    let aspect = match bucket {
        Bucket::Artifacts => "artifact expiry",
        _ => "report expiry",
    };
    let finding = |status: Status, detail: String| Finding {
        resource: format!("tenant {tenant}"),
        aspect,
        status,
        detail,
    };
    if have == want {
        return Ok(finding(
            Status::Ok,
            match want {
                Some(d) => format!("{what} expire after {d} days (rule {})", rule_id(tenant)),
                None => format!("{what} are kept"),
            },
        ));
    }
    let drift = match (have, want) {
        (None, Some(d)) => format!(
            "s3://{name} has no rule {} for the settings' {d} days",
            rule_id(tenant)
        ),
        (Some(-1), _) => format!(
            "rule {} in s3://{name} does not filter {tenant}/ as opsdeck writes it",
            rule_id(tenant)
        ),
        (Some(h), Some(d)) => {
            format!("s3://{name} expires {what} after {h} days, settings say {d}")
        }
        (Some(h), None) => format!(
            "s3://{name} expires {what} after {h} days, settings keep them (artifact_days = 0)"
        ),
        (None, None) => unreachable!("equal"),
    };
    if !fix {
        return Ok(finding(Status::Wrong, drift));
    }
    let mut rules: Vec<LifecycleRule> = rules
        .into_iter()
        .filter(|r| r.id() != Some(rule_id(tenant).as_str()))
        .collect();
    if let Some(d) = want {
        rules.push(wanted_rule(tenant, bucket, d)?);
    }
    if rules.is_empty() {
        c.s3.delete_bucket_lifecycle()
            .bucket(name)
            .send()
            .await
            .map_err(|e| classify("S3", "DeleteBucketLifecycle", &e))?;
    } else {
        c.s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify("S3", "PutBucketLifecycleConfiguration", &e))?;
    }
    Ok(finding(
        Status::Fixed,
        format!(
            "{drift}; {}",
            match want {
                Some(d) => format!("rule set to {d} days"),
                None => "rule removed".into(),
            }
        ),
    ))
}

/// A tenant's retention: its settings (always listed), whether the audit-logs bucket can lock
/// its evidence, and its lifecycle rules in the artifacts and reports buckets.
pub(super) async fn ensure_tenant_retention(
    c: Clients,
    buckets: [(Bucket, String); 3],
    tenant: String,
    retention: Retention,
    fix: bool,
) -> Result<Vec<Finding>, Fault> {
    let mut out = vec![Finding {
        resource: format!("tenant {tenant}"),
        aspect: "retention",
        status: Status::Ok,
        detail: format!(
            "audit {} year(s), {} mode; {}",
            retention.audit_years,
            match retention.audit_lock_mode {
                LockMode::Compliance => "compliance",
                LockMode::Governance => "governance",
            },
            if retention.artifacts_expire() {
                format!(
                    "artifacts and reports expire after {} days",
                    retention.artifact_days
                )
            } else {
                "artifacts and reports kept".into()
            }
        ),
    }];
    for (bucket, name) in &buckets {
        match bucket {
            Bucket::AuditLogs => {
                let enabled = match c
                    .s3
                    .get_object_lock_configuration()
                    .bucket(name)
                    .send()
                    .await
                {
                    Ok(o) => o
                        .object_lock_configuration
                        .and_then(|l| l.object_lock_enabled)
                        .is_some_and(|e| e == ObjectLockEnabled::Enabled),
                    Err(e) => match classify("S3", "GetObjectLockConfiguration", &e) {
                        Fault::Missing(_) | Fault::Fatal(_) => false,
                        f => return Err(f),
                    },
                };
                out.push(Finding {
                    resource: format!("tenant {tenant}"),
                    aspect: "audit lock",
                    status: if enabled { Status::Ok } else { Status::Wrong },
                    detail: if enabled {
                        format!(
                            "each audit-log object is locked {} year(s) ({}) in s3://{name}",
                            retention.audit_years,
                            retention.audit_lock_mode.as_s3()
                        )
                    } else {
                        format!(
                            "s3://{name} has no Object Lock: the settings' {} year(s) cannot be enforced (a bucket gets Object Lock when it is created or, once versioned, by PutObjectLockConfiguration)",
                            retention.audit_years
                        )
                    },
                });
                if enabled {
                    out.push(
                        super::retention_objects::audit_objects(&c, name, &tenant, &retention, fix)
                            .await?,
                    );
                }
            }
            Bucket::Artifacts | Bucket::Reports => {
                out.push(ensure_lifecycle(&c, *bucket, name, &tenant, &retention, fix).await?);
            }
        }
    }
    Ok(out)
}
