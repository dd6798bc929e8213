//! A tenant's AWS configurations (spec §3.2.5, §6.2): which account opsdeck acts in, through which
//! role, in which regions, with which network and tagging preferences and budget. A tenant may
//! have several (prod, staging, a sandbox); each user selects the one they act through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::TenantError;
use crate::time::Stamp;

type Result<T> = std::result::Result<T, TenantError>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfiguration {
    pub name: String,
    pub tenant: String,
    /// The role every AWS call of this configuration is made through (assumed on top of the
    /// base credential chain: environment, profile, SSO, instance role).
    pub role_arn: String,
    /// Required by the role's trust policy when the account belongs to someone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Regions plans may target through this configuration; the first is the default.
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub vpc: VpcPreferences,
    /// Tags every resource created through this configuration carries.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Monthly budget in USD for this account (0: none).
    #[serde(default)]
    pub budget_usd: f64,
    #[serde(default)]
    pub description: String,
    /// Questions only: sessions acting through this configuration are read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Filled in when the configuration is added (empty in what a person hands in).
    #[serde(with = "crate::time::empty_as_none")]
    pub created_at: Option<Stamp>,
    pub created_by: String,
    /// Filled in when it is added or changed.
    #[serde(default, with = "crate::time::empty_as_none")]
    pub updated_at: Option<Stamp>,
    #[serde(default)]
    pub updated_by: String,
}

/// Where new resources go when a request does not say.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VpcPreferences {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// Never give instances public addresses.
    pub private_only: bool,
}

impl AwsConfiguration {
    /// The account id in the role ARN.
    pub fn account(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or("")
    }

    /// Checks every field; the message names the field and what is expected.
    pub fn validate(&self) -> Result<()> {
        validate_config_name(&self.name)?;
        validate_role_arn(&self.role_arn)?;
        if let Some(id) = &self.external_id {
            let ok = (2..=1224).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
            if !ok {
                return Err(TenantError::ExternalId);
            }
        }
        for r in &self.regions {
            validate_region(r)?;
        }
        let v = &self.vpc;
        if let Some(id) = &v.vpc_id {
            aws_id("VPC id", "vpc-", id)?;
        }
        for s in &v.subnet_ids {
            aws_id("subnet id", "subnet-", s)?;
        }
        for g in &v.security_group_ids {
            aws_id("security group id", "sg-", g)?;
        }
        for (k, val) in &self.tags {
            if k.is_empty() || k.len() > 128 || val.len() > 256 || k.starts_with("aws:") {
                return Err(TenantError::Tag { key: k.clone() });
            }
        }
        if !self.budget_usd.is_finite() || self.budget_usd < 0.0 {
            return Err(TenantError::Budget);
        }
        Ok(())
    }
}

pub fn validate_config_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok && name != "none" {
        Ok(())
    } else {
        Err(TenantError::ConfigName {
            name: name.to_string(),
        })
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/>name`.
pub fn validate_role_arn(arn: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && ["aws", "aws-cn", "aws-us-gov"].contains(&parts[1])
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
        && parts[5]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(TenantError::RoleArn {
            arn: arn.to_string(),
        })
    }
}

fn validate_region(r: &str) -> Result<()> {
    // Shape check (xx-name-N, with optional gov/iso parts): new regions need no code change.
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(TenantError::Region {
            region: r.to_string(),
        })
    }
}

fn aws_id(what: &'static str, prefix: &'static str, id: &str) -> Result<()> {
    let rest = id.strip_prefix(prefix).unwrap_or("");
    if (8..=17).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(TenantError::ResourceId {
            what,
            prefix,
            id: id.to_string(),
        })
    }
}

/// The role session name CloudTrail shows: who in opsdeck acted.
pub fn session_name(user: &str) -> String {
    let mut s: String = format!("opsdeck-{user}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(64);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AwsConfiguration {
        AwsConfiguration {
            name: "prod".into(),
            tenant: "team-a".into(),
            role_arn: "arn:aws:iam::111111111111:role/opsdeck".into(),
            external_id: Some("ext-123".into()),
            regions: vec!["eu-west-1".into(), "us-gov-west-1".into()],
            vpc: VpcPreferences {
                vpc_id: Some("vpc-0123abcd".into()),
                subnet_ids: vec!["subnet-0123456789abcdef0".into()],
                security_group_ids: vec![],
                private_only: true,
            },
            tags: [("team".to_string(), "a".to_string())].into(),
            budget_usd: 500.0,
            description: String::new(),
            read_only: false,
            created_at: None,
            created_by: String::new(),
            updated_at: None,
            updated_by: String::new(),
        }
    }

    #[test]
    fn read_only_is_left_out_when_false_and_records_without_it_load() {
        let c = cfg();
        let v = serde_json::to_value(&c).unwrap();
        assert!(v.get("read_only").is_none(), "{v}");
        let back: AwsConfiguration = serde_json::from_value(v).unwrap();
        assert!(!back.read_only);
        let mut ro = cfg();
        ro.read_only = true;
        let v = serde_json::to_value(&ro).unwrap();
        assert_eq!(v["read_only"], true);
        assert_eq!(serde_json::from_value::<AwsConfiguration>(v).unwrap(), ro);
    }

    #[test]
    fn a_good_configuration_passes_and_names_its_account() {
        cfg().validate().unwrap();
        assert_eq!(cfg().account(), "111111111111");
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut c = cfg();
        c.role_arn = "arn:aws:iam::1111:role/x".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("IAM role ARN")
        );
        let mut c = cfg();
        c.regions = vec!["mars-1".into()];
        assert!(c.validate().unwrap_err().to_string().contains("region"));
        let mut c = cfg();
        c.vpc.vpc_id = Some("vpc-xyz".into());
        assert!(c.validate().unwrap_err().to_string().contains("VPC id"));
        let mut c = cfg();
        c.tags.insert("aws:owner".into(), "x".into());
        assert!(c.validate().unwrap_err().to_string().contains("tag"));
        let mut c = cfg();
        c.budget_usd = -1.0;
        assert!(c.validate().is_err());
        assert!(validate_config_name("none").is_err());
        assert!(validate_config_name("Prod").is_err());
    }

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name("alice"), "opsdeck-alice");
        assert_eq!(session_name("a b/c"), "opsdeck-a-b-c");
        assert!(session_name(&"x".repeat(100)).len() <= 64);
    }
}
