//! `opsdeck backend init` and `check`: the tables and buckets the shared backend needs, set up
//! the way an audit trail deserves, created or fixed idempotently, and reported one aspect at a
//! time (what is there, what was created or fixed, what is missing or wrong).
//!
//! Tables: on-demand billing, encryption at rest (KMS), point-in-time recovery, deletion
//! protection; the locks table expires entries by TTL. Buckets: versioning, default encryption
//! (KMS), every public access block, a policy refusing plain HTTP; the audit-logs bucket has
//! Object Lock in compliance mode with the configured retention (the floor for objects written
//! without their own); each tenant's retention (`retention.rs`) is checked per tenant.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    PointInTimeRecoveryStatus, ScalarAttributeType, SseSpecification, SseStatus, SseType,
    TableStatus, Tag, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, DefaultRetention,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use serde::Serialize;

use super::AwsStore;
use super::fault::{Fault, classify};
use super::layout::{Bucket, Table};
use super::remote::Clients;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Created now.
    Created,
    /// Changed now to be as it should.
    Fixed,
    /// Not there.
    Missing,
    /// There, but not as it should be.
    Wrong,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Created => "created",
            Status::Fixed => "fixed",
            Status::Missing => "missing",
            Status::Wrong => "wrong",
        }
    }

    pub fn is_problem(self) -> bool {
        matches!(self, Status::Missing | Status::Wrong)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `table NAME` or `bucket NAME`.
    pub resource: String,
    pub aspect: &'static str,
    pub status: Status,
    pub detail: String,
}

/// The statement every bucket policy carries: nothing over plain HTTP.
const TLS_SID: &str = "OpsdeckDenyInsecureTransport";

struct Report {
    resource: String,
    fix: bool,
    out: Vec<Finding>,
}

impl Report {
    fn new(resource: String, fix: bool) -> Report {
        Report {
            resource,
            fix,
            out: Vec::new(),
        }
    }

    fn push(&mut self, aspect: &'static str, status: Status, detail: impl Into<String>) {
        self.out.push(Finding {
            resource: self.resource.clone(),
            aspect,
            status,
            detail: detail.into(),
        });
    }

    /// Records an aspect that is fine, or fixes it (init) / reports it (check).
    async fn aspect<F>(
        &mut self,
        aspect: &'static str,
        good: bool,
        wrong: String,
        fix: F,
    ) -> std::result::Result<(), Fault>
    where
        F: std::future::Future<Output = std::result::Result<(), Fault>>,
    {
        if good {
            self.push(aspect, Status::Ok, "");
        } else if self.fix {
            fix.await?;
            self.push(aspect, Status::Fixed, wrong);
        } else {
            self.push(aspect, Status::Wrong, wrong);
        }
        Ok(())
    }
}

fn build_err(e: impl std::fmt::Display) -> Fault {
    Fault::Fatal(format!("building a request: {e}"))
}

async fn ensure_table(
    c: Clients,
    name: String,
    ttl_attribute: Option<&'static str>,
    fix: bool,
) -> std::result::Result<Vec<Finding>, Fault> {
    let mut r = Report::new(format!("table {name}"), fix);
    let described = c.ddb.describe_table().table_name(&name).send().await;
    let mut table = match described {
        Ok(o) => o.table,
        Err(e) => match classify("DynamoDB", "DescribeTable", &e) {
            Fault::Missing(_) => None,
            f => return Err(f),
        },
    };
    if table.is_none() {
        if !fix {
            r.push(
                "exists",
                Status::Missing,
                "run `opsdeck backend init` to create it",
            );
            return Ok(r.out);
        }
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .map_err(build_err)
        };
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        c.ddb
            .create_table()
            .table_name(&name)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(
                SseSpecification::builder()
                    .enabled(true)
                    .sse_type(SseType::Kms)
                    .build(),
            )
            .deletion_protection_enabled(true)
            .tags(
                Tag::builder()
                    .key("opsdeck:component")
                    .value("shared-backend")
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify("DynamoDB", "CreateTable", &e))?;
        r.push(
            "exists",
            Status::Created,
            "on-demand, KMS-encrypted, deletion-protected",
        );
        // Wait until it can be used (and configured further).
        for _ in 0..120 {
            let t = c
                .ddb
                .describe_table()
                .table_name(&name)
                .send()
                .await
                .map_err(|e| classify("DynamoDB", "DescribeTable", &e))?
                .table;
            if t.as_ref().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                table = t;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        if table.is_none() {
            return Err(Fault::Transient(format!(
                "table {name} did not become active within a minute"
            )));
        }
    } else {
        r.push("exists", Status::Ok, "");
    }
    let t = table.unwrap_or_else(|| unreachable!());
    let keys: Vec<(String, String)> = t
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    let expected = vec![
        ("pk".to_string(), "HASH".to_string()),
        ("sk".to_string(), "RANGE".to_string()),
    ];
    if keys != expected {
        // Nothing can fix a key schema: the table must be another one.
        r.push(
            "key schema",
            Status::Wrong,
            format!(
                "keys are {keys:?}, opsdeck needs pk (HASH) and sk (RANGE), both strings; choose another aws_backend.prefix"
            ),
        );
        return Ok(r.out);
    }
    let on_demand = t
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .is_some_and(|m| *m == BillingMode::PayPerRequest);
    r.aspect(
        "billing",
        on_demand,
        "provisioned capacity; switched to on-demand".into(),
        async {
            c.ddb
                .update_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DynamoDB", "UpdateTable", &e))
        },
    )
    .await?;
    let encrypted = t
        .sse_description()
        .and_then(|s| s.status())
        .is_some_and(|s| *s == SseStatus::Enabled || *s == SseStatus::Enabling);
    r.aspect(
        "encryption",
        encrypted,
        "encrypted with an AWS-owned key only; KMS encryption turned on".into(),
        async {
            c.ddb
                .update_table()
                .table_name(&name)
                .sse_specification(
                    SseSpecification::builder()
                        .enabled(true)
                        .sse_type(SseType::Kms)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DynamoDB", "UpdateTable", &e))
        },
    )
    .await?;
    let protected = t.deletion_protection_enabled() == Some(true);
    r.aspect(
        "deletion protection",
        protected,
        "off; turned on".into(),
        async {
            c.ddb
                .update_table()
                .table_name(&name)
                .deletion_protection_enabled(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DynamoDB", "UpdateTable", &e))
        },
    )
    .await?;
    let pitr = c
        .ddb
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .map_err(|e| classify("DynamoDB", "DescribeContinuousBackups", &e))?
        .continuous_backups_description
        .and_then(|d| d.point_in_time_recovery_description)
        .and_then(|p| p.point_in_time_recovery_status)
        .is_some_and(|s| s == PointInTimeRecoveryStatus::Enabled);
    r.aspect(
        "point-in-time recovery",
        pitr,
        "off; turned on".into(),
        async {
            c.ddb
                .update_continuous_backups()
                .table_name(&name)
                .point_in_time_recovery_specification(
                    PointInTimeRecoverySpecification::builder()
                        .point_in_time_recovery_enabled(true)
                        .build()
                        .map_err(build_err)?,
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DynamoDB", "UpdateContinuousBackups", &e))
        },
    )
    .await?;
    if let Some(attr) = ttl_attribute {
        let ttl = c
            .ddb
            .describe_time_to_live()
            .table_name(&name)
            .send()
            .await
            .map_err(|e| classify("DynamoDB", "DescribeTimeToLive", &e))?
            .time_to_live_description;
        let on = ttl.as_ref().is_some_and(|d| {
            d.attribute_name() == Some(attr)
                && matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
        });
        r.aspect(
            "expiry (TTL)",
            on,
            format!("expired entries are not removed; TTL on {attr} turned on"),
            async {
                c.ddb
                    .update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .enabled(true)
                            .attribute_name(attr)
                            .build()
                            .map_err(build_err)?,
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("DynamoDB", "UpdateTimeToLive", &e))
            },
        )
        .await?;
    }
    Ok(r.out)
}

async fn ensure_bucket(
    c: Clients,
    name: String,
    region: String,
    lock_days: Option<i32>,
    tls: bool,
    fix: bool,
) -> std::result::Result<Vec<Finding>, Fault> {
    let mut r = Report::new(format!("bucket {name}"), fix);
    let exists = match c.s3.head_bucket().bucket(&name).send().await {
        Ok(_) => true,
        Err(e) => match classify("S3", "HeadBucket", &e) {
            Fault::Missing(_) => false,
            f => return Err(f),
        },
    };
    if !exists {
        if !fix {
            r.push(
                "exists",
                Status::Missing,
                "run `opsdeck backend init` to create it",
            );
            return Ok(r.out);
        }
        let mut req = c.s3.create_bucket().bucket(&name);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        if lock_days.is_some() {
            req = req.object_lock_enabled_for_bucket(true);
        }
        req.send()
            .await
            .map_err(|e| classify("S3", "CreateBucket", &e))?;
        r.push(
            "exists",
            Status::Created,
            if lock_days.is_some() {
                "with Object Lock enabled"
            } else {
                ""
            },
        );
    } else {
        r.push("exists", Status::Ok, "");
    }
    let versioned = match c.s3.get_bucket_versioning().bucket(&name).send().await {
        Ok(o) => o
            .status
            .is_some_and(|s| s == BucketVersioningStatus::Enabled),
        // A successful reply the SDK could not parse (moto names the root element
        // GetBucketVersioningResponse): read the status from the body itself.
        Err(aws_sdk_s3::error::SdkError::ServiceError(se)) if se.raw().status().is_success() => se
            .raw()
            .body()
            .bytes()
            .map(String::from_utf8_lossy)
            .is_some_and(|b| b.contains("<Status>Enabled</Status>")),
        Err(e) => return Err(classify("S3", "GetBucketVersioning", &e)),
    };
    r.aspect("versioning", versioned, "off; turned on".into(), async {
        c.s3.put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify("S3", "PutBucketVersioning", &e))
    })
    .await?;
    let encryption = match c.s3.get_bucket_encryption().bucket(&name).send().await {
        Ok(o) => o
            .server_side_encryption_configuration
            .map(|cfg| {
                cfg.rules()
                    .iter()
                    .filter_map(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| d.sse_algorithm().as_str().to_string())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
        Err(e) => match classify("S3", "GetBucketEncryption", &e) {
            Fault::Missing(_) | Fault::Fatal(_) => Vec::new(),
            f => return Err(f),
        },
    };
    r.aspect(
        "encryption",
        encryption
            .iter()
            .any(|a| a == "aws:kms" || a == "aws:kms:dsse"),
        if encryption.is_empty() {
            "no default encryption; aws:kms set".into()
        } else {
            format!(
                "default encryption is {}; aws:kms set",
                encryption.join(",")
            )
        },
        async {
            c.s3.put_bucket_encryption()
                .bucket(&name)
                .server_side_encryption_configuration(
                    ServerSideEncryptionConfiguration::builder()
                        .rules(
                            ServerSideEncryptionRule::builder()
                                .apply_server_side_encryption_by_default(
                                    ServerSideEncryptionByDefault::builder()
                                        .sse_algorithm(ServerSideEncryption::AwsKms)
                                        .build()
                                        .map_err(build_err)?,
                                )
                                .bucket_key_enabled(true)
                                .build(),
                        )
                        .build()
                        .map_err(build_err)?,
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("S3", "PutBucketEncryption", &e))
        },
    )
    .await?;
    let pab = match c.s3.get_public_access_block().bucket(&name).send().await {
        Ok(o) => o.public_access_block_configuration.is_some_and(|p| {
            p.block_public_acls() == Some(true)
                && p.ignore_public_acls() == Some(true)
                && p.block_public_policy() == Some(true)
                && p.restrict_public_buckets() == Some(true)
        }),
        Err(e) => match classify("S3", "GetPublicAccessBlock", &e) {
            Fault::Missing(_) | Fault::Fatal(_) => false,
            f => return Err(f),
        },
    };
    r.aspect(
        "public access block",
        pab,
        "public access is not fully blocked; all four blocks turned on".into(),
        async {
            c.s3.put_public_access_block()
                .bucket(&name)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("S3", "PutPublicAccessBlock", &e))
        },
    )
    .await?;
    // Over a plain-HTTP endpoint (an emulator, a test) a TLS-only policy would lock opsdeck
    // itself out: it is left to endpoints that speak HTTPS.
    if !tls {
        r.push(
            "TLS-only policy",
            Status::Ok,
            "not applied: the endpoint is plain HTTP",
        );
        return lock(r, c, name, lock_days).await;
    }
    let policy = match c.s3.get_bucket_policy().bucket(&name).send().await {
        Ok(o) => o.policy,
        Err(e) => match classify("S3", "GetBucketPolicy", &e) {
            Fault::Missing(_) | Fault::Fatal(_) => None,
            f => return Err(f),
        },
    };
    let mut doc: serde_json::Value = policy
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| serde_json::json!({"Version": "2012-10-17", "Statement": []}));
    let has_tls = doc["Statement"]
        .as_array()
        .is_some_and(|s| s.iter().any(|st| st["Sid"] == TLS_SID));
    r.aspect(
        "TLS-only policy",
        has_tls,
        "plain HTTP is not refused; a deny statement was added".into(),
        async {
            let statement = serde_json::json!({
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            });
            match doc["Statement"].as_array_mut() {
                Some(a) => a.push(statement),
                None => doc["Statement"] = serde_json::json!([statement]),
            }
            c.s3.put_bucket_policy()
                .bucket(&name)
                .policy(doc.to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("S3", "PutBucketPolicy", &e))
        },
    )
    .await?;
    lock(r, c, name, lock_days).await
}

/// Object Lock of the audit-logs bucket: compliance mode, at least the configured retention. It
/// keeps execution logs and the chain's checkpoints (the witness `audit verify` reads).
async fn lock(
    mut r: Report,
    c: Clients,
    name: String,
    lock_days: Option<i32>,
) -> std::result::Result<Vec<Finding>, Fault> {
    if let Some(days) = lock_days {
        let current = match c
            .s3
            .get_object_lock_configuration()
            .bucket(&name)
            .send()
            .await
        {
            Ok(o) => o.object_lock_configuration,
            Err(e) => match classify("S3", "GetObjectLockConfiguration", &e) {
                Fault::Missing(_) | Fault::Fatal(_) => None,
                f => return Err(f),
            },
        };
        let enabled = current
            .as_ref()
            .and_then(|c| c.object_lock_enabled())
            .is_some_and(|e| *e == ObjectLockEnabled::Enabled);
        let retention = current
            .as_ref()
            .and_then(|c| c.rule())
            .and_then(|r| r.default_retention());
        let compliance =
            retention.and_then(|d| d.mode()) == Some(&ObjectLockRetentionMode::Compliance);
        let have_days = retention
            .map(|d| d.days().unwrap_or(0).max(d.years().unwrap_or(0) * 365))
            .unwrap_or(0);
        let good = enabled && compliance && have_days >= days;
        // Raised, never lowered: a longer default (in governance mode, say) stays as long.
        let set_days = days.max(have_days);
        let wrong = if !enabled {
            "Object Lock is off".to_string()
        } else if !compliance {
            "default retention is not in compliance mode".to_string()
        } else {
            format!("default retention is {have_days} days, {days} configured")
        };
        r.aspect(
            "object lock",
            good,
            format!("{wrong}; compliance mode, {set_days} days set"),
            async {
                c.s3.put_object_lock_configuration()
                    .bucket(&name)
                    .object_lock_configuration(
                        ObjectLockConfiguration::builder()
                            .object_lock_enabled(ObjectLockEnabled::Enabled)
                            .rule(
                                ObjectLockRule::builder()
                                    .default_retention(
                                        DefaultRetention::builder()
                                            .mode(ObjectLockRetentionMode::Compliance)
                                            .days(set_days)
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify("S3", "PutObjectLockConfiguration", &e))
            },
        )
        .await?;
    }
    Ok(r.out)
}

impl AwsStore {
    /// Creates what is missing and fixes what is misconfigured; running it again changes
    /// nothing. Returns one finding per aspect of every table and bucket.
    pub fn init(&self) -> Result<Vec<Finding>> {
        self.provision(true)
    }

    /// Says what is missing or misconfigured, changing nothing.
    pub fn check(&self) -> Result<Vec<Finding>> {
        self.provision(false)
    }

    fn provision(&self, fix: bool) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        for t in Table::ALL {
            let name = self.table(t);
            let ttl = (t == Table::Locks).then_some("expires_at");
            out.extend(
                self.call_now(move |c| ensure_table(c, name, ttl, fix))
                    .map_err(Fault::into_error)?,
            );
        }
        for b in Bucket::ALL {
            let name = self.layout.bucket(b);
            let region = self.layout.region.clone();
            let days = (b == Bucket::AuditLogs)
                .then(|| i32::try_from(self.retention_days.max(1)).unwrap_or(i32::MAX));
            let endpoint = self
                .access()
                .endpoint_url()
                .map(str::to_string)
                .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
                .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
            let tls = !endpoint.is_some_and(|u| u.starts_with("http://"));
            out.extend(
                self.call_now(move |c| ensure_bucket(c, name, region, days, tls, fix))
                    .map_err(Fault::into_error)?,
            );
        }
        // Each tenant's TOTP key, and no TOTP secret left readable (`sealed.rs`).
        let tenants = match self.call_now({
            let table = self.table(Table::Tenants);
            move |c| super::remote::scan_sk(c, table, super::layout::TENANT_SK.to_string())
        }) {
            Ok(items) => items,
            // No tenants table yet (check before init): no tenant to look at.
            Err(Fault::Missing(_)) if !fix => Vec::new(),
            Err(f) => return Err(f.into_error().into()),
        };
        for item in &tenants {
            let Some(tenant) = super::remote::get_s(item, "pk") else {
                continue;
            };
            out.extend(
                self.ensure_totp_key(tenant, fix)
                    .map_err(Fault::into_error)?,
            );
            out.push(
                self.plaintext_totp(tenant, fix)
                    .map_err(Fault::into_error)?,
            );
            // Its retention: a record that cannot be read counts as the defaults, and says so.
            let retention = super::from_item::<crate::tenant::Tenant>(item, "tenant")
                .map(|t| t.retention)
                .unwrap_or_default();
            let buckets = Bucket::ALL.map(|b| (b, self.layout.bucket(b)));
            let tenant = tenant.to_string();
            out.extend(
                self.call_now(move |c| {
                    super::retention::ensure_tenant_retention(c, buckets, tenant, retention, fix)
                })
                .map_err(Fault::into_error)?,
            );
        }
        Ok(out)
    }
}
