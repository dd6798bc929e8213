//! What a request asks Cost Explorer about: the filter (service, region, tags, an environment
//! said in words) and the grouping, with how to say them in the report.

use aws_sdk_costexplorer::types::{
    Dimension, DimensionValues, Expression, GroupDefinition, GroupDefinitionType, TagValues,
};

use crate::agents::AgentRequest;
use crate::error::{Error, Result};
use crate::intent::Environment;

/// What a request asks about: Cost Explorer's filter and grouping, and how to say it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub filter: Option<Expression>,
    pub group: Option<(GroupDefinition, String)>,
    /// "EC2 in ap-south-1", "all services"
    pub label: String,
    pub filters_text: Vec<String>,
}

/// The services people name, as Cost Explorer's SERVICE dimension spells them.
fn service_names(service: &str) -> Option<&'static [&'static str]> {
    Some(match service {
        "EC2" => &["Amazon Elastic Compute Cloud - Compute"],
        "EBS" => &["EC2 - Other"],
        "S3" => &["Amazon Simple Storage Service"],
        "RDS" => &["Amazon Relational Database Service"],
        "Lambda" => &["AWS Lambda"],
        "DynamoDB" => &["Amazon DynamoDB"],
        "CloudWatch" => &["AmazonCloudWatch"],
        "ELB" => &["Amazon Elastic Load Balancing"],
        "CloudFront" => &["Amazon CloudFront"],
        "ECS" => &["Amazon Elastic Container Service"],
        "EKS" => &["Amazon Elastic Container Service for Kubernetes"],
        "SageMaker" => &["Amazon SageMaker"],
        "Bedrock" => &["Amazon Bedrock"],
        "Comprehend" => &["Amazon Comprehend"],
        "SecretsManager" => &["AWS Secrets Manager"],
        "GuardDuty" => &["Amazon GuardDuty"],
        "SecurityHub" => &["AWS Security Hub"],
        _ => return None,
    })
}

/// Environment tags are read under the keys people use for them.
const ENV_TAG_KEYS: &[&str] = &["Env", "Environment"];

pub(crate) fn scope(req: &AgentRequest<'_>) -> Result<Scope> {
    let i = req.intent;
    let mut parts: Vec<Expression> = Vec::new();
    let mut label = Vec::new();
    let mut text = Vec::new();
    if let Some(s) = i.params.service.as_deref() {
        let names = service_names(s).ok_or_else(|| {
            Error::input(format!(
                "Cost Explorer has no service called {s} in opsdeck's list; ask for EC2, EBS, S3, RDS, Lambda, DynamoDB, CloudWatch, ELB, ... or for all services"
            ))
        })?;
        parts.push(
            Expression::builder()
                .dimensions(
                    DimensionValues::builder()
                        .key(Dimension::Service)
                        .set_values(Some(names.iter().map(|n| n.to_string()).collect()))
                        .build(),
                )
                .build(),
        );
        label.push(s.to_string());
        text.push(format!("SERVICE = {}", names.join(" | ")));
    }
    if let Some(r) = i.params.region.as_deref() {
        parts.push(
            Expression::builder()
                .dimensions(
                    DimensionValues::builder()
                        .key(Dimension::Region)
                        .values(r)
                        .build(),
                )
                .build(),
        );
        label.push(format!("in {r}"));
        text.push(format!("REGION = {r}"));
    }
    let tags = i.params.tags.by_key();
    for (k, v) in &tags {
        parts.push(
            Expression::builder()
                .tags(TagValues::builder().key(k).values(v).build())
                .build(),
        );
        label.push(format!("tagged {k}={v}"));
        text.push(format!("tag {k} = {v}"));
    }
    // An environment said in words (not as a tag) reads the usual environment tag keys.
    if let Some(env) = i.params.environment.map(Environment::as_str)
        && !tags
            .keys()
            .any(|k| ENV_TAG_KEYS.iter().any(|e| e.eq_ignore_ascii_case(k)))
    {
        let values: Vec<String> = env_spellings(env);
        let either: Vec<Expression> = ENV_TAG_KEYS
            .iter()
            .map(|k| {
                Expression::builder()
                    .tags(
                        TagValues::builder()
                            .key(*k)
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .build()
            })
            .collect();
        parts.push(Expression::builder().set_or(Some(either)).build());
        label.push(format!("in {env}"));
        text.push(format!(
            "tag {} = {}",
            ENV_TAG_KEYS.join(" or "),
            values.join(" | ")
        ));
    }
    let filter = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Expression::builder().set_and(Some(parts)).build()),
    };
    let group = i.params.group_by.as_deref().map(|g| {
        let (kind, key, shown) = match g {
            "service" => (GroupDefinitionType::Dimension, "SERVICE", "service"),
            "region" => (GroupDefinitionType::Dimension, "REGION", "region"),
            "instance_type" => (
                GroupDefinitionType::Dimension,
                "INSTANCE_TYPE",
                "instance type",
            ),
            "usage_type" => (GroupDefinitionType::Dimension, "USAGE_TYPE", "usage type"),
            "account" => (GroupDefinitionType::Dimension, "LINKED_ACCOUNT", "account"),
            tag => (
                GroupDefinitionType::Tag,
                tag.strip_prefix("tag:").unwrap_or(tag),
                "tag",
            ),
        };
        let shown = if kind == GroupDefinitionType::Tag {
            format!("tag {key}")
        } else {
            shown.to_string()
        };
        (
            GroupDefinition::builder().r#type(kind).key(key).build(),
            shown,
        )
    });
    Ok(Scope {
        filter,
        group,
        label: if label.is_empty() {
            "all services".into()
        } else {
            label.join(" ")
        },
        filters_text: text,
    })
}

/// The values an environment tag may carry for one environment.
fn env_spellings(env: &str) -> Vec<String> {
    let words: &[&str] = match env {
        "prod" => &["prod", "production", "prd", "live"],
        "staging" => &["staging", "stage", "stg"],
        "dev" => &["dev", "development"],
        "test" => &["test", "testing"],
        other => return vec![other.to_string(), capitalised(other)],
    };
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out.extend(words.iter().map(|w| capitalised(w)));
    out
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_are_read_in_every_spelling() {
        assert_eq!(env_spellings("prod")[1], "production");
    }
}
