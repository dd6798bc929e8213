//! S3 exposure: account- and bucket-level Block Public Access, bucket policies that grant to
//! `Principal: *`, ACL grants to AllUsers / AuthenticatedUsers, and default encryption.
//!
//! A policy or ACL grant only makes a bucket public when Block Public Access (account or bucket)
//! does not neutralise it, so each bucket's exposure is judged against the effective settings.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde::Serialize;
use serde_json::Value;

use super::finding::{Finding, Remediation, Severity, Status};
use crate::agents::insight::{aws_error, error_code};
use crate::error::Result;

/// The four Block Public Access switches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Blocks {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl Blocks {
    pub fn all(&self) -> bool {
        self.block_public_acls
            && self.ignore_public_acls
            && self.block_public_policy
            && self.restrict_public_buckets
    }
    fn or(self, o: Blocks) -> Blocks {
        Blocks {
            block_public_acls: self.block_public_acls || o.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || o.ignore_public_acls,
            block_public_policy: self.block_public_policy || o.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || o.restrict_public_buckets,
        }
    }
    fn from_sdk(c: &PublicAccessBlockConfiguration) -> Blocks {
        Blocks {
            block_public_acls: c.block_public_acls().unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
            block_public_policy: c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
        }
    }
    fn off(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.block_public_acls {
            v.push("BlockPublicAcls");
        }
        if !self.ignore_public_acls {
            v.push("IgnorePublicAcls");
        }
        if !self.block_public_policy {
            v.push("BlockPublicPolicy");
        }
        if !self.restrict_public_buckets {
            v.push("RestrictPublicBuckets");
        }
        v
    }
}

/// What one bucket's settings say.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketState {
    pub name: String,
    pub region: String,
    /// None: no bucket-level configuration.
    pub blocks: Option<Blocks>,
    /// Statements of the bucket policy that allow `Principal: *` (action lists).
    pub public_statements: Vec<PublicStatement>,
    /// S3's own verdict on the policy (GetBucketPolicyStatus), when it gave one.
    pub policy_status_public: Option<bool>,
    /// ACL grants to AllUsers / AuthenticatedUsers: (group, permission).
    pub public_grants: Vec<(String, String)>,
    /// None: no default encryption configured.
    pub encryption: Option<String>,
    /// Calls that failed (AccessDenied, ...), said as they failed.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicStatement {
    pub sid: Option<String>,
    pub actions: Vec<String>,
    /// The statement has a Condition (source IP, VPC, org): public only within it.
    pub conditional: bool,
}

impl PublicStatement {
    fn writes(&self) -> bool {
        self.actions.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "*"
                || a == "s3:*"
                || a.starts_with("s3:put")
                || a.starts_with("s3:delete")
                || a.starts_with("s3:restore")
        })
    }
}

/// The account's Block Public Access settings (None: not configured). S3 Control needs the
/// account id in the host name; [`control_client`] keeps an overridden endpoint as it is.
pub async fn account_blocks(conf: SdkConfig, account: String) -> Result<Option<Blocks>> {
    let c = control_client(&conf);
    match c
        .get_public_access_block()
        .account_id(&account)
        .send()
        .await
    {
        Ok(out) => Ok(out.public_access_block_configuration().map(|c| Blocks {
            block_public_acls: c.block_public_acls().unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
            block_public_policy: c.block_public_policy().unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
        })),
        Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
        Err(e) => Err(aws_error("S3 Control", "GetPublicAccessBlock", &e)),
    }
}

/// Every bucket of the account (ListBuckets, following continuation tokens).
pub async fn list_buckets(s3: aws_sdk_s3::Client) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_buckets()
            .set_continuation_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error("S3", "ListBuckets", &e))?;
        for b in page.buckets() {
            if let Some(name) = b.name() {
                out.push((name.to_string(), b.bucket_region().map(str::to_string)));
            }
        }
        token = page.continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one bucket's exposure settings. `s3` may be any region's client: the bucket's region
/// is looked up first when ListBuckets did not say it.
pub async fn inspect(
    conf: SdkConfig,
    path_style: bool,
    name: String,
    known_region: Option<String>,
    home_region: String,
) -> BucketState {
    let mut st = BucketState {
        name: name.clone(),
        ..BucketState::default()
    };
    let home = client(&conf, &home_region, path_style);
    st.region = match known_region {
        Some(r) => r,
        None => match home.get_bucket_location().bucket(&name).send().await {
            Ok(o) => match o.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".into(),
                Some("EU") => "eu-west-1".into(),
                Some(r) => r.to_string(),
            },
            Err(e) => {
                st.errors
                    .push(crate::aws::describe_error("S3", "GetBucketLocation", &e));
                home_region.clone()
            }
        },
    };
    let s3 = if st.region == home_region {
        home
    } else {
        client(&conf, &st.region, path_style)
    };
    match s3.get_public_access_block().bucket(&name).send().await {
        Ok(o) => st.blocks = o.public_access_block_configuration().map(Blocks::from_sdk),
        Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => {}
        Err(e) => st
            .errors
            .push(crate::aws::describe_error("S3", "GetPublicAccessBlock", &e)),
    }
    match s3.get_bucket_policy().bucket(&name).send().await {
        Ok(o) => {
            st.public_statements = o.policy().map(public_statements).unwrap_or_default();
            match s3.get_bucket_policy_status().bucket(&name).send().await {
                Ok(o) => st.policy_status_public = o.policy_status().and_then(|p| p.is_public()),
                Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => {}
                Err(e) => st.errors.push(crate::aws::describe_error(
                    "S3",
                    "GetBucketPolicyStatus",
                    &e,
                )),
            }
        }
        Err(e) if error_code(&e) == Some("NoSuchBucketPolicy") => {}
        Err(e) => st
            .errors
            .push(crate::aws::describe_error("S3", "GetBucketPolicy", &e)),
    }
    match s3.get_bucket_acl().bucket(&name).send().await {
        Ok(o) => {
            for g in o.grants() {
                let group = g
                    .grantee()
                    .and_then(|x| x.uri())
                    .and_then(|u| u.rsplit('/').next())
                    .unwrap_or_default();
                if matches!(group, "AllUsers" | "AuthenticatedUsers") {
                    st.public_grants.push((
                        group.to_string(),
                        g.permission()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    ));
                }
            }
        }
        Err(e) => st
            .errors
            .push(crate::aws::describe_error("S3", "GetBucketAcl", &e)),
    }
    match s3.get_bucket_encryption().bucket(&name).send().await {
        Ok(o) => {
            st.encryption = o
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string());
        }
        Err(e) if error_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => {}
        Err(e) => st
            .errors
            .push(crate::aws::describe_error("S3", "GetBucketEncryption", &e)),
    }
    st
}

pub fn client(conf: &SdkConfig, region: &str, path_style: bool) -> aws_sdk_s3::Client {
    crate::agents::insight::s3_for(conf, region, path_style)
}

/// An S3 Control client. S3 Control puts the account id in front of the host name; an endpoint
/// given by IP address (moto, LocalStack, a VPC endpoint by IP) cannot take that prefix, so an
/// overridden endpoint on a loopback or IP host is used exactly as given.
pub fn control_client(conf: &SdkConfig) -> aws_sdk_s3control::Client {
    #[derive(Debug)]
    struct AsGiven(aws_sdk_s3control::config::endpoint::DefaultResolver);
    impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for AsGiven {
        fn resolve_endpoint<'a>(
            &'a self,
            params: &'a aws_sdk_s3control::config::endpoint::Params,
        ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
            if let Some(url) = params.endpoint()
                && ip_or_localhost(url)
            {
                return aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
                    aws_smithy_types::endpoint::Endpoint::builder()
                        .url(url.trim_end_matches('/').to_string())
                        .build(),
                ));
            }
            self.0.resolve_endpoint(params)
        }
    }
    let c = aws_sdk_s3control::config::Builder::from(conf)
        .endpoint_resolver(AsGiven(
            aws_sdk_s3control::config::endpoint::DefaultResolver::new(),
        ))
        .build();
    aws_sdk_s3control::Client::from_conf(c)
}

fn ip_or_localhost(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok()
}

/// Allow statements whose principal is everyone (`"*"` or `{"AWS": "*"}`).
pub fn public_statements(policy: &str) -> Vec<PublicStatement> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let stmts = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        o @ Value::Object(_) => vec![o.clone()],
        _ => Vec::new(),
    };
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    stmts
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .filter(|s| match &s["Principal"] {
            Value::String(p) => p == "*",
            Value::Object(o) => o
                .get("AWS")
                .is_some_and(|a| strings(a).iter().any(|x| x == "*")),
            _ => false,
        })
        .map(|s| PublicStatement {
            sid: s["Sid"].as_str().map(str::to_string),
            actions: strings(&s["Action"]),
            conditional: s.get("Condition").is_some_and(|c| !c.is_null()),
        })
        .collect()
}

const BPA_CONSOLE: &str = "S3 console → Permissions → Block public access";

/// Findings for the account-level setting.
pub fn account_findings(account: &str, blocks: Option<Blocks>, region: &str) -> Vec<Finding> {
    let on = blocks.is_some_and(|b| b.all());
    let detail = match blocks {
        None => "account-level Block Public Access is not configured".to_string(),
        Some(b) if b.all() => "all four account-level Block Public Access settings are on".into(),
        Some(b) => format!("account-level settings off: {}", b.off().join(", ")),
    };
    vec![Finding::check(
        "s3_account_level_public_access_blocks",
        "S3 Block Public Access is on for the whole account",
        Severity::High,
        0,
        if on { Status::Pass } else { Status::Fail },
        detail,
        (
            &format!("arn:aws:s3:::account/{account}"),
            "AwsAccount",
            account,
            region,
        ),
        Remediation {
            text: format!(
                "turn on all four Block Public Access settings for the account ({BPA_CONSOLE}, or s3control PutPublicAccessBlock)"
            ),
            request: None,
        },
    )]
}

/// Findings for one bucket, judged against the account's settings.
pub fn bucket_findings(b: &BucketState, account: Option<Blocks>) -> Vec<Finding> {
    let arn = format!("arn:aws:s3:::{}", b.name);
    let res = (
        arn.as_str(),
        "AwsS3Bucket",
        b.name.as_str(),
        b.region.as_str(),
    );
    let effective = account.unwrap_or_default().or(b.blocks.unwrap_or_default());
    let block_request = Some(format!("block public access on bucket {}", b.name));
    let mut out = Vec::new();

    // Exposure that Block Public Access does not neutralise.
    let policy_public: Vec<&PublicStatement> = if effective.restrict_public_buckets {
        Vec::new()
    } else {
        b.public_statements
            .iter()
            .filter(|s| !s.conditional || b.policy_status_public == Some(true))
            .collect()
    };
    let acl_public: Vec<&(String, String)> = if effective.ignore_public_acls {
        Vec::new()
    } else {
        b.public_grants.iter().collect()
    };
    let writes = policy_public.iter().any(|s| s.writes())
        || acl_public
            .iter()
            .any(|(_, p)| matches!(p.as_str(), "WRITE" | "WRITE_ACP" | "FULL_CONTROL"));
    let mut how = Vec::new();
    for s in &policy_public {
        how.push(format!(
            "bucket policy{} grants {} to Principal *",
            s.sid
                .as_ref()
                .map(|x| format!(" statement {x}"))
                .unwrap_or_default(),
            if s.actions.is_empty() {
                "actions".into()
            } else {
                s.actions.join(", ")
            }
        ));
    }
    for (group, perm) in &acl_public {
        how.push(format!("ACL grants {perm} to {group}"));
    }
    let public = !how.is_empty();
    out.push(Finding::check(
        "s3_bucket_public_access",
        "S3 bucket is not publicly accessible",
        if writes { Severity::Critical } else { Severity::High },
        if writes { 5 } else { 10 },
        if public { Status::Fail } else { Status::Pass },
        if public {
            how.join("; ")
        } else if !b.public_statements.is_empty() || !b.public_grants.is_empty() {
            "public grants exist but Block Public Access neutralises them".into()
        } else {
            "no public policy statement or ACL grant".into()
        },
        res,
        Remediation {
            text: format!(
                "block public access on the bucket (all four settings), then remove the public statements or grants; {BPA_CONSOLE}"
            ),
            request: public.then(|| block_request.clone()).flatten(),
        },
    ));

    let bucket_on = b.blocks.is_some_and(|x| x.all());
    let account_on = account.is_some_and(|x| x.all());
    out.push(Finding::check(
        "s3_bucket_level_public_access_block",
        "S3 bucket has Block Public Access on",
        if account_on {
            Severity::Low
        } else {
            Severity::Medium
        },
        0,
        if bucket_on || account_on {
            Status::Pass
        } else {
            Status::Fail
        },
        match b.blocks {
            None if account_on => {
                "no bucket-level settings; the account-level block covers it".into()
            }
            None => "no bucket-level Block Public Access configuration".into(),
            Some(x) if x.all() => "all four bucket-level settings are on".into(),
            Some(x) => format!("bucket-level settings off: {}", x.off().join(", ")),
        },
        res,
        Remediation {
            text: "turn on all four Block Public Access settings for the bucket".into(),
            request: (!bucket_on && !account_on)
                .then(|| block_request.clone())
                .flatten(),
        },
    ));

    out.push(Finding::check(
        "s3_bucket_default_encryption",
        "S3 bucket has default encryption",
        Severity::Medium,
        0,
        if b.encryption.is_some() {
            Status::Pass
        } else {
            Status::Fail
        },
        match &b.encryption {
            Some(alg) => format!("default encryption {alg}"),
            None => "no default encryption configuration".into(),
        },
        res,
        Remediation {
            text: "turn on default encryption (SSE-S3 AES256, or SSE-KMS with a customer key)"
                .into(),
            request: b
                .encryption
                .is_none()
                .then(|| format!("enable default encryption on bucket {}", b.name)),
        },
    ));
    out
}

/// How many buckets are public, and how.
pub fn exposure_counts(findings: &[Finding]) -> HashMap<&'static str, usize> {
    let mut m = HashMap::new();
    for f in findings.iter().filter(|f| f.status == Status::Fail) {
        let key = match f.check_id.as_str() {
            "s3_bucket_public_access"
                if f.detail.contains("policy") && f.detail.contains("ACL") =>
            {
                "policy_and_acl"
            }
            "s3_bucket_public_access" if f.detail.contains("policy") => "policy",
            "s3_bucket_public_access" => "acl",
            "s3_bucket_default_encryption" => "unencrypted",
            "s3_bucket_level_public_access_block" => "no_bucket_block",
            _ => continue,
        };
        *m.entry(key).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Sid":"Office","Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:*","Resource":"*"},
        {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;

    fn bucket() -> BucketState {
        BucketState {
            name: "b".into(),
            region: "us-east-1".into(),
            public_statements: public_statements(POLICY),
            ..BucketState::default()
        }
    }

    #[test]
    fn principal_star_statements() {
        let s = public_statements(POLICY);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].actions, vec!["s3:GetObject"]);
        assert!(!s[0].conditional && s[1].conditional && s[1].writes());
        assert!(public_statements("not json").is_empty());
    }

    #[test]
    fn block_public_access_neutralises_exposure() {
        let b = bucket();
        let f = bucket_findings(&b, None);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!(
            f[0].severity,
            Severity::High,
            "the conditional write is not counted"
        );
        assert!(f[0].detail.contains("PublicRead"));
        assert_eq!(
            f[0].remediation.request.as_deref(),
            Some("block public access on bucket b")
        );
        let all = Blocks {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        let f = bucket_findings(&b, Some(all));
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(f[1].status, Status::Pass);
        let mut acl = BucketState {
            name: "w".into(),
            public_grants: vec![("AllUsers".into(), "WRITE".into())],
            ..BucketState::default()
        };
        let f = bucket_findings(&acl, None);
        assert_eq!((f[0].severity, f[0].risk_score), (Severity::Critical, 95));
        acl.blocks = Some(Blocks {
            ignore_public_acls: true,
            ..Blocks::default()
        });
        assert_eq!(bucket_findings(&acl, None)[0].status, Status::Pass);
    }

    #[test]
    fn loopback_endpoints_are_kept_as_given() {
        assert!(ip_or_localhost("http://127.0.0.1:5000"));
        assert!(ip_or_localhost("http://[::1]:5000/"));
        assert!(ip_or_localhost("http://localhost:4566"));
        assert!(!ip_or_localhost("https://s3-control.example.com"));
    }
}
