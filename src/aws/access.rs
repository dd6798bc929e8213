//! How agents and the shared backend reach AWS: one SDK configuration per region, built once and
//! shared, on a small runtime of its own so that synchronous callers (agents planning inside
//! `spawn_blocking`, the CLI) can wait for SDK futures without ever blocking a runtime that
//! drives other work.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_config::SdkConfig;

use super::AwsError;
use super::calls::{CallBoard, WatchedClient};
use super::{Target, sdk_config};
use crate::error::Result;

/// A role to assume on top of the base credential chain (environment, profile, SSO, instance
/// role), as an AWS configuration of a tenant names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    /// Shows up in CloudTrail: who in opsdeck acted.
    pub session_name: String,
}

pub struct AwsAccess {
    endpoint_url: Option<String>,
    role: Option<AssumeRole>,
    /// Fixed credentials instead of the default chain (key, secret): the demo's stand-in.
    fixed: Option<(String, String)>,
    timeout: Duration,
    max_attempts: u32,
    runtime: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
    configs: Mutex<HashMap<String, SdkConfig>>,
    /// The calls in flight through this access, and the switch that cancels them.
    board: Arc<CallBoard>,
}

impl Drop for AwsAccess {
    /// The runtime's worker threads are told to stop without waiting: an `AwsAccess` may be
    /// dropped from inside another runtime (the MCP server's), where a blocking shutdown panics.
    fn drop(&mut self) {
        if let Some(Ok(rt)) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl AwsAccess {
    pub fn new(endpoint_url: Option<String>, role: Option<AssumeRole>) -> AwsAccess {
        AwsAccess {
            endpoint_url,
            role,
            fixed: None,
            timeout: Duration::from_secs(30),
            max_attempts: 3,
            runtime: OnceLock::new(),
            configs: Mutex::new(HashMap::new()),
            board: Arc::new(CallBoard::default()),
        }
    }

    /// Per-call timeout and attempts (1 disables retries: tests, fail-fast paths).
    pub fn with_limits(mut self, timeout: Duration, max_attempts: u32) -> AwsAccess {
        self.timeout = timeout;
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Uses these credentials instead of the environment's, whatever it holds.
    pub fn with_fixed_credentials(mut self, key: &str, secret: &str) -> AwsAccess {
        self.fixed = Some((key.to_string(), secret.to_string()));
        self
    }

    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    pub fn role(&self) -> Option<&AssumeRole> {
        self.role.as_ref()
    }

    /// The calls in flight through this access (what a waiting request is waiting for), and
    /// the switch that cancels them.
    pub fn calls(&self) -> &CallBoard {
        &self.board
    }

    /// The SDK configuration for a region (cached: credentials and the HTTP client are shared).
    pub async fn config(&self, region: &str) -> SdkConfig {
        if let Some(c) = self.configs.lock().unwrap().get(region) {
            return c.clone();
        }
        let conf = load(self.target(region), self.role.clone(), self.fixed.clone()).await;
        self.remember(region, self.watched(conf))
    }

    /// [`AwsAccess::config`] for synchronous callers (agents planning): loads on this access's
    /// own runtime, so the caller's thread may belong to any runtime or none.
    pub fn config_blocking(&self, region: &str) -> Result<SdkConfig> {
        if let Some(c) = self.configs.lock().unwrap().get(region) {
            return Ok(c.clone());
        }
        let conf = self.block_on(load(
            self.target(region),
            self.role.clone(),
            self.fixed.clone(),
        ))?;
        Ok(self.remember(region, self.watched(conf)))
    }

    /// The configuration of the base credentials, before any role is assumed: who the caller
    /// is, for STS GetCallerIdentity (a role's session name would be whatever we asked for).
    pub async fn base_config(&self, region: &str) -> SdkConfig {
        let conf = load(self.target(region), None, self.fixed.clone()).await;
        self.watched(conf)
    }

    /// `conf` sending through the call board (see [`super::calls`]).
    fn watched(&self, conf: SdkConfig) -> SdkConfig {
        // The loaded configuration names no client: each SDK client would make the default.
        let inner = conf
            .http_client()
            .unwrap_or_else(super::calls::default_https_client);
        let client = WatchedClient::new(inner, self.board.clone());
        conf.into_builder().http_client(client).build()
    }

    fn target(&self, region: &str) -> Target {
        Target {
            region: region.to_string(),
            endpoint_url: self.endpoint_url.clone(),
            timeout: self.timeout,
            max_attempts: self.max_attempts,
        }
    }

    /// Caches a loaded configuration; the first one loaded for a region wins a race.
    fn remember(&self, region: &str, conf: SdkConfig) -> SdkConfig {
        self.configs
            .lock()
            .unwrap()
            .entry(region.to_string())
            .or_insert(conf)
            .clone()
    }

    /// An S3 client: path-style addressing whenever an endpoint is overridden (moto, LocalStack,
    /// VPC endpoints by IP), virtual-hosted otherwise.
    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = self.config(region).await;
        self.s3_of(&conf)
    }

    /// [`AwsAccess::s3`] for synchronous callers.
    pub fn s3_blocking(&self, region: &str) -> Result<aws_sdk_s3::Client> {
        Ok(self.s3_of(&self.config_blocking(region)?))
    }

    fn s3_of(&self, conf: &SdkConfig) -> aws_sdk_s3::Client {
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(
                self.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some(),
            )
            .build();
        aws_sdk_s3::Client::from_conf(s3)
    }

    /// Runs an SDK future to completion from synchronous code. Safe from any thread, including
    /// one that belongs to another runtime: the future runs on this access's own runtime.
    /// Cancelling the board's calls drops the future (which aborts the SDK call in flight) and
    /// returns [`AwsError::Cancelled`]; so does every wait until the board is cleared again.
    pub fn block_on<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let rt = self
            .runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("opsdeck-aws")
                    // The SDK's futures, wrapped for cancelling and reachability, are deep;
                    // unoptimised builds overflowed the default 2 MiB in a Security Hub scan.
                    .thread_stack_size(8 * 1024 * 1024)
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| AwsError::Runtime { detail: e.clone() })?;
        if self.board.is_cancelled() {
            return Err(self.board.cancelled_error().into());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let cancelled = self.board.cancelled();
        let fut = super::reach::carry(fut);
        rt.spawn(async move {
            // The cancel first: a call the connector abandoned must read cancelled, not failed.
            tokio::select! {
                biased;
                _ = cancelled => { let _ = tx.send(None); }
                out = fut => { let _ = tx.send(Some(out)); }
            }
        });
        match rx.recv() {
            Ok(Some(out)) => Ok(out),
            Ok(None) => Err(self.board.cancelled_error().into()),
            Err(_) => Err(AwsError::Interrupted.into()),
        }
    }
}

/// Loads one region's configuration, assuming the role on top of the base chain when one is set.
async fn load(
    target: Target,
    role: Option<AssumeRole>,
    fixed: Option<(String, String)>,
) -> SdkConfig {
    let conf = sdk_config(&target).await;
    if let Some((key, secret)) = fixed {
        return super::with_credentials(conf, &key, &secret);
    }
    let Some(role) = role else { return conf };
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
        .session_name(&role.session_name)
        .configure(&conf);
    if let Some(id) = &role.external_id {
        provider = provider.external_id(id);
    }
    let provider = provider.build().await;
    conf.into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}
