//! The demo account: what `opsdeck demo` creates in its stand-in so that every agent has
//! something real to find. Everything goes through the same AWS SDK clients the agents use.

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{
    InstanceType, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
};
use serde::Serialize;

use crate::error::{Error, Result};

/// The region the demo tenant works in.
pub const REGION: &str = "us-east-1";
/// The bucket holding customer feedback for the ml example.
pub const FEEDBACK_BUCKET: &str = "demo-customer-feedback";
/// The bucket anyone on the internet can read: the security scan's finding.
pub const PUBLIC_BUCKET: &str = "demo-public-assets";
/// The Lambda function whose log group holds errors.
pub const FUNCTION: &str = "checkout-api";

/// What was created, for the welcome text and the tests.
#[derive(Debug, Clone, Serialize)]
pub struct Seeded {
    pub instances: Vec<SeededInstance>,
    pub buckets: Vec<String>,
    pub security_groups: Vec<String>,
    pub iam_users: Vec<String>,
    pub log_group: String,
    pub error_events: usize,
    pub feedback_documents: usize,
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeededInstance {
    pub id: String,
    pub name: String,
    pub environment: String,
    pub instance_type: String,
    pub running: bool,
}

const FEEDBACK: &[&str] = &[
    "I love the new checkout, it is fast and easy to use",
    "Great support team, thanks for the quick help with my order",
    "The app crashes every time I open my basket, terrible experience",
    "Still waiting for my refund after three weeks, awful service",
    "Delivery was late and the driver was rude",
    "Ordered on Monday, the parcel arrived on Wednesday",
    "Excellent prices and a smooth payment, I recommend it",
    "Search is slow and the filters are broken on mobile",
    "The invoice shows the right address and amount",
    "Friendly staff at the pickup point, good experience overall",
    "My discount code was wrong at checkout and support never answered",
    "Happy with the quality, the sizes are perfect",
];

fn failed(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!(
        "seeding the demo account: {what} failed: {}",
        crate::redact::redact(&e.to_string())
    ))
}

fn tags(pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .set_tags(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build()
}

/// Creates the demo account in the stand-in behind `conf`.
pub async fn seed(conf: &SdkConfig, endpoint: &str) -> Result<Seeded> {
    let instances = instances(conf).await?;
    let security_groups = security_groups(conf).await?;
    let buckets = buckets(conf).await?;
    let iam_users = iam_users(conf).await?;
    let (log_group, error_events) = logs(conf).await?;
    endpoint_model(conf).await?;
    Ok(Seeded {
        instances,
        buckets,
        security_groups,
        iam_users,
        log_group,
        error_events,
        feedback_documents: FEEDBACK.len(),
        endpoint: endpoint.to_string(),
    })
}

async fn instances(conf: &SdkConfig) -> Result<Vec<SeededInstance>> {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let images = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .map_err(|e| failed("DescribeImages", aws_sdk_ec2::error::DisplayErrorContext(e)))?;
    let ami = images
        .images()
        .first()
        .and_then(|i| i.image_id())
        .ok_or_else(|| failed("DescribeImages", "no image"))?
        .to_string();
    let fleet: &[(&str, &str, &str, &str, bool)] = &[
        ("web-staging-1", "staging", "web", "t3.medium", true),
        ("web-staging-2", "staging", "web", "t3.medium", true),
        ("web-staging-3", "staging", "web", "t3.medium", true),
        ("batch-staging", "staging", "batch", "t3.large", false),
        ("web-dev-1", "dev", "web", "t3.small", true),
        ("web-dev-2", "dev", "web", "t3.small", true),
        ("web-prod-1", "prod", "web", "m5.large", true),
        ("web-prod-2", "prod", "web", "m5.large", true),
        ("db-prod-1", "prod", "db", "r5.large", true),
    ];
    let mut out = Vec::new();
    for (name, env, role, kind, running) in fleet {
        let run = ec2
            .run_instances()
            .image_id(&ami)
            .instance_type(InstanceType::from(*kind))
            .min_count(1)
            .max_count(1)
            .tag_specifications(tags(&[
                ("Name", name),
                ("Env", env),
                ("Role", role),
                ("Owner", "demo"),
            ]))
            .send()
            .await
            .map_err(|e| failed("RunInstances", aws_sdk_ec2::error::DisplayErrorContext(e)))?;
        let id = run
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .unwrap_or_default()
            .to_string();
        if !running {
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map_err(|e| failed("StopInstances", aws_sdk_ec2::error::DisplayErrorContext(e)))?;
        }
        out.push(SeededInstance {
            id,
            name: name.to_string(),
            environment: env.to_string(),
            instance_type: kind.to_string(),
            running: *running,
        });
    }
    Ok(out)
}

async fn security_groups(conf: &SdkConfig) -> Result<Vec<String>> {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let mut names = Vec::new();
    for (name, port, why) in [
        (
            "legacy-admin",
            22,
            "SSH from anywhere, left over from a migration",
        ),
        ("web-public", 443, "HTTPS for the storefront"),
        ("rdp-jump", 3389, "RDP from anywhere"),
    ] {
        let group = ec2
            .create_security_group()
            .group_name(name)
            .description(why)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "CreateSecurityGroup",
                    aws_sdk_ec2::error::DisplayErrorContext(e),
                )
            })?;
        ec2.authorize_security_group_ingress()
            .group_id(group.group_id().unwrap_or_default())
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                failed(
                    "AuthorizeSecurityGroupIngress",
                    aws_sdk_ec2::error::DisplayErrorContext(e),
                )
            })?;
        names.push(name.to_string());
    }
    Ok(names)
}

async fn buckets(conf: &SdkConfig) -> Result<Vec<String>> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    );
    let names = [
        PUBLIC_BUCKET,
        FEEDBACK_BUCKET,
        "demo-app-backups",
        "demo-build-artifacts",
    ];
    for name in names {
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(|e| failed("CreateBucket", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    }
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{PUBLIC_BUCKET}/*")}]});
    s3.put_bucket_policy()
        .bucket(PUBLIC_BUCKET)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| failed("PutBucketPolicy", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    s3.put_bucket_versioning()
        .bucket("demo-app-backups")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            failed(
                "PutBucketVersioning",
                aws_sdk_s3::error::DisplayErrorContext(e),
            )
        })?;
    for (i, text) in FEEDBACK.iter().enumerate() {
        s3.put_object()
            .bucket(FEEDBACK_BUCKET)
            .key(format!("feedback/ticket-{:03}.txt", i + 1))
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| failed("PutObject", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    }
    s3.put_object()
        .bucket(PUBLIC_BUCKET)
        .key("index.html")
        .body(b"<h1>demo storefront</h1>".to_vec().into())
        .send()
        .await
        .map_err(|e| failed("PutObject", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(names.iter().map(|n| n.to_string()).collect())
}

async fn iam_users(conf: &SdkConfig) -> Result<Vec<String>> {
    let iam = aws_sdk_iam::Client::new(conf);
    let mut names = Vec::new();
    for (name, console, key) in [
        ("ci-deploy", false, true),
        ("ops-admin", true, true),
        ("readonly-auditor", true, false),
    ] {
        iam.create_user()
            .user_name(name)
            .send()
            .await
            .map_err(|e| failed("CreateUser", aws_sdk_iam::error::DisplayErrorContext(e)))?;
        if console {
            // A console password without MFA: the IAM check's finding.
            iam.create_login_profile()
                .user_name(name)
                .password(format!("Demo-{}-not-a-real-password-1", name.len()))
                .send()
                .await
                .map_err(|e| {
                    failed(
                        "CreateLoginProfile",
                        aws_sdk_iam::error::DisplayErrorContext(e),
                    )
                })?;
        }
        if key {
            iam.create_access_key()
                .user_name(name)
                .send()
                .await
                .map_err(|e| {
                    failed(
                        "CreateAccessKey",
                        aws_sdk_iam::error::DisplayErrorContext(e),
                    )
                })?;
        }
        names.push(name.to_string());
    }
    Ok(names)
}

async fn logs(conf: &SdkConfig) -> Result<(String, usize)> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(conf);
    let group = format!("/aws/lambda/{FUNCTION}");
    let stream = "2026/01/01/[$LATEST]demo";
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .map_err(|e| {
            failed(
                "CreateLogGroup",
                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e),
            )
        })?;
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(stream)
        .send()
        .await
        .map_err(|e| {
            failed(
                "CreateLogStream",
                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e),
            )
        })?;
    let now = jiff::Timestamp::now().as_millisecond();
    let mut events = Vec::new();
    let mut errors = 0;
    // The last 20 hours, one event every 10 minutes: requests, payment failures, timeouts.
    for i in (0..120).rev() {
        let at = now - i * 10 * 60 * 1000;
        let message = match i % 6 {
            0 => {
                errors += 1;
                format!("ERROR payment provider timeout for order {}", 48_000 + i)
            }
            3 => {
                errors += 1;
                "ERROR Task timed out after 6.01 seconds".to_string()
            }
            _ => format!("START RequestId: demo-{i} Version: $LATEST"),
        };
        events.push(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(at)
                .message(message)
                .build()
                .map_err(|e| failed("InputLogEvent", e))?,
        );
    }
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .map_err(|e| {
            failed(
                "PutLogEvents",
                aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e),
            )
        })?;
    Ok((group, errors))
}

async fn endpoint_model(conf: &SdkConfig) -> Result<()> {
    use aws_sdk_sagemaker::types::{ContainerDefinition, ProductionVariant};
    let sm = aws_sdk_sagemaker::Client::new(conf);
    let role = "arn:aws:iam::123456789012:role/demo-sagemaker";
    sm.create_model()
        .model_name("churn-predictor")
        .execution_role_arn(role)
        .primary_container(
            ContainerDefinition::builder()
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1")
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            failed(
                "CreateModel",
                aws_sdk_sagemaker::error::DisplayErrorContext(e),
            )
        })?;
    sm.create_endpoint_config()
        .endpoint_config_name("churn-predictor-config")
        .production_variants(
            ProductionVariant::builder()
                .variant_name("primary")
                .model_name("churn-predictor")
                .initial_instance_count(1)
                .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            failed(
                "CreateEndpointConfig",
                aws_sdk_sagemaker::error::DisplayErrorContext(e),
            )
        })?;
    sm.create_endpoint()
        .endpoint_name("churn-predictor")
        .endpoint_config_name("churn-predictor-config")
        .send()
        .await
        .map_err(|e| {
            failed(
                "CreateEndpoint",
                aws_sdk_sagemaker::error::DisplayErrorContext(e),
            )
        })?;
    Ok(())
}
