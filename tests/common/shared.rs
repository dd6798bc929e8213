//! The shared backend (DynamoDB + S3) on moto, one fresh set of tables and buckets per test: a
//! unique prefix isolates it from every other test, with no reset.

use std::path::Path;

use opsdeck::config::AwsBackendConfig;
use opsdeck::store::aws::{AwsOpen, AwsStore};

use super::Home;
use super::moto::Moto;

pub struct SharedBackend {
    /// Where the backend is reached (moto, or a proxy in front of it).
    pub endpoint: String,
    pub prefix: String,
    /// SDK attempts per call. moto's TransactWriteItems is not thread-safe (concurrent
    /// transactions can get an HTTP 500 from it), which the SDK's standard retry absorbs as it
    /// would a real 500; outage tests use 1 to fail fast.
    pub attempts: u32,
}

/// A prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

impl SharedBackend {
    /// A fresh, initialised backend on moto, or None (SKIP printed) when there is no moto.
    pub fn new(test: &str) -> Option<SharedBackend> {
        let moto = Moto::get(test)?;
        let b = SharedBackend::at(&moto.endpoint);
        b.init();
        Some(b)
    }

    /// A backend with a fresh prefix reached through `endpoint` (not initialised).
    pub fn at(endpoint: &str) -> SharedBackend {
        assert!(
            std::env::var_os("AWS_ACCESS_KEY_ID").is_some(),
            "export the static test credentials (AWS_ACCESS_KEY_ID=testing ...; tests/run.sh does)"
        );
        SharedBackend {
            endpoint: endpoint.to_string(),
            prefix: unique_prefix(),
            attempts: 3,
        }
    }

    pub fn settings(&self) -> AwsBackendConfig {
        AwsBackendConfig {
            prefix: self.prefix.clone(),
            max_attempts: self.attempts,
            timeout_secs: 5,
            ..AwsBackendConfig::default()
        }
    }

    /// config.toml for a home using this backend.
    pub fn config_toml(&self) -> String {
        format!(
            "backend = \"aws\"\nendpoint_url = \"{}\"\n\n[aws_backend]\nprefix = \"{}\"\nmax_attempts = {}\ntimeout_secs = 5\n",
            self.endpoint, self.prefix, self.attempts
        )
    }

    /// A new home (one operator's machine) using this backend.
    pub fn home(&self) -> Home {
        let home = Home::new();
        self.attach(&home);
        home
    }

    pub fn attach(&self, home: &Home) {
        std::fs::write(home.path().join("config.toml"), self.config_toml()).unwrap();
    }

    /// The store as a machine with data directory `data` opens it.
    pub fn store(&self, data: &Path) -> AwsStore {
        AwsStore::open(AwsOpen {
            config: &self.settings(),
            endpoint_url: Some(self.endpoint.clone()),
            data_dir: data,
            tenant: None,
            user: "tester",
        })
        .expect("open the shared backend")
    }

    pub fn init(&self) {
        let dir = tempfile::tempdir().unwrap();
        let findings = self.store(dir.path()).init().expect("backend init");
        assert!(
            findings.iter().all(|f| !f.status.is_problem()),
            "{findings:?}"
        );
    }

    /// SDK clients straight at moto, to look at what the backend stored.
    pub fn clients(&self) -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conf = opsdeck::aws::sdk_config(&opsdeck::aws::Target {
                region: "us-east-1".into(),
                endpoint_url: Some(self.endpoint.clone()),
                timeout: std::time::Duration::from_secs(10),
                max_attempts: 1,
            })
            .await;
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&conf)
                    .force_path_style(true)
                    .build(),
            );
            (aws_sdk_dynamodb::Client::new(&conf), s3)
        })
    }

    pub fn table(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }

    pub fn bucket(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }
}

/// Runs an SDK future to completion (tests inspect moto directly with it).
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
