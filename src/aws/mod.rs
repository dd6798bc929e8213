//! AWS SDK configuration. Endpoints follow the SDK's own conventions: `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` are honoured by aws-config itself; `--endpoint-url` (or an
//! endpoint in the configuration) overrides them. That is how tests, LocalStack users and VPC
//! endpoints reach the services.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

pub mod access;
pub mod calls;
pub mod error;
pub mod pricing;
pub mod reach;
pub use access::{AssumeRole, AwsAccess};
pub use error::AwsError;

/// What a client needs to know about where and how to call AWS.
#[derive(Debug, Clone)]
pub struct Target {
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Whole-operation timeout (including retries).
    pub timeout: Duration,
    /// Attempts per call; 1 disables retries (interactive paths prefer a fast fallback).
    pub max_attempts: u32,
}

pub async fn sdk_config(t: &Target) -> SdkConfig {
    let retry = if t.max_attempts <= 1 {
        RetryConfig::disabled()
    } else {
        RetryConfig::standard().with_max_attempts(t.max_attempts)
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(t.region.clone()))
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(t.timeout)
                .connect_timeout(t.timeout.min(Duration::from_secs(3)))
                .build(),
        );
    if let Some(url) = &t.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// `conf` with fixed credentials in place of the default chain (the demo's stand-in).
pub fn with_credentials(conf: SdkConfig, key: &str, secret: &str) -> SdkConfig {
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "opsdeck-demo");
    conf.into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// An AWS SDK error as a person reads it: service, operation, code, message, request id.
pub fn describe_error<E, R>(
    service: &str,
    operation: &str,
    err: &aws_sdk_bedrockruntime::error::SdkError<E, R>,
) -> String
where
    E: aws_sdk_bedrockruntime::error::ProvideErrorMetadata + std::error::Error,
    R: error::HttpStatus,
{
    AwsError::from_sdk(service, operation, err).to_string()
}
