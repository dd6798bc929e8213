//! SDK clients for seeding moto (and the stub) with realistic data, and a Deck that reaches
//! AWS through a given endpoint.
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, OnceLock};

use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::time::Clock;

use super::Home;

/// Static test credentials for the SDK inside this process (run.sh exports the same).
pub fn creds() {
    // SAFETY: every test of a binary sets the same values, before any SDK client reads them.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_SESSION_TOKEN", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::remove_var("AWS_PROFILE");
    }
}

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Runs a seeding future to completion.
pub fn run<F: Future>(f: F) -> F::Output {
    rt().block_on(f)
}

/// SDK configuration for `endpoint` (moto or the stub) in `region`.
pub fn conf(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    creds();
    let (e, r) = (endpoint.to_string(), region.to_string());
    run(async move {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(r))
            .endpoint_url(e)
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    })
}

pub fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let c = conf(endpoint, "us-east-1");
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&c)
            .force_path_style(true)
            .build(),
    )
}

/// A new VPC with one security group per name (no rules yet): their ids, in order.
pub async fn security_groups(ec2: &aws_sdk_ec2::Client, names: &[&str]) -> Vec<String> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut ids = Vec::new();
    for name in names {
        let g = ec2
            .create_security_group()
            .group_name(*name)
            .description(*name)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        ids.push(g.group_id().unwrap().to_string());
    }
    ids
}

/// All four Block Public Access settings on.
pub fn all_blocked() -> aws_sdk_s3::types::PublicAccessBlockConfiguration {
    aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

/// A Deck that reaches AWS through `endpoint` (moto, or the stub in front of it).
pub fn deck(home: &Home, user: &str, clock: Option<Arc<dyn Clock>>, endpoint: &str) -> Deck {
    creds();
    Deck::open(OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some(user.to_string()),
        clock,
        endpoint_url: Some(endpoint.to_string()),
        ..OpenOptions::default()
    })
    .expect("open deck")
}

/// A name nobody else in the suite uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Lambda's own metrics for `function` (namespace `AWS/Lambda`): each metric's value at 12
/// five-minute points over the last hour.
pub fn lambda_metrics(cw: &aws_sdk_cloudwatch::Client, function: &str, metrics: &[(&str, f64)]) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let now = jiff::Timestamp::now().as_second();
    run(async {
        for (metric, v) in metrics {
            let data: Vec<MetricDatum> = (0..12)
                .map(|i| {
                    MetricDatum::builder()
                        .metric_name(*metric)
                        .dimensions(
                            Dimension::builder()
                                .name("FunctionName")
                                .value(function)
                                .build(),
                        )
                        .timestamp(aws_smithy_types::DateTime::from_secs(
                            now - 3600 + 30 + i * 300,
                        ))
                        .value(*v)
                        .build()
                })
                .collect();
            cw.put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(data))
                .send()
                .await
                .unwrap();
        }
    });
}
