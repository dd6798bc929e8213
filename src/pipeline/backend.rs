//! Which store a deck opens (`--backend`, `OPSDECK_BACKEND`, or `backend` in the config file),
//! and the shared backend's state as front ends show it.

use std::sync::Arc;

use super::{Deck, OpenOptions};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::store::aws::AwsOpen;
use crate::store::aws::provision::Finding;
use crate::store::{AwsStore, BackendHealth, LocalStore, Store, SyncReport};

pub(super) fn open_store(
    flag: Option<&str>,
    config: &Config,
    paths: &Paths,
    endpoint_url: Option<String>,
    tenant: &str,
    user: &str,
) -> Result<Arc<dyn Store>> {
    match flag.unwrap_or(config.backend.as_str()) {
        "local" => Ok(Arc::new(LocalStore::open(&paths.data)?)),
        "aws" => Ok(Arc::new(AwsStore::open(AwsOpen {
            config: &config.aws_backend,
            endpoint_url,
            data_dir: &paths.data,
            tenant: Some(tenant),
            user,
        })?)),
        other => Err(Error::input(format!(
            "unknown backend '{other}': use local or aws"
        ))),
    }
}

/// The shared backend itself (DynamoDB + S3), for the commands that act on it rather than in a
/// tenant: `backend init|check|sync|migrate`. Front ends show what these return.
pub struct SharedBackend {
    store: AwsStore,
    paths: Paths,
}

/// What `backend check` found: each aspect of the tables and buckets, and this machine's
/// journal of audit events waiting for the backend.
#[derive(Debug, serde::Serialize)]
pub struct BackendCheck {
    pub findings: Vec<Finding>,
    pub journal: BackendHealth,
    /// Where refused journal entries are kept, when there are any.
    #[serde(skip)]
    pub dead_letter_dir: Option<std::path::PathBuf>,
}

impl BackendCheck {
    /// Aspects that are not as they should be (`backend init` fixes them).
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.status.is_problem())
            .count()
    }
}

impl SharedBackend {
    /// The shared backend named by the config file.
    pub fn open(opts: &OpenOptions) -> Result<SharedBackend> {
        let paths = Paths::resolve(opts.home.as_deref(), opts.identity_dir.as_deref())?;
        let config = Config::load(&paths.config_file)?;
        let user =
            crate::tenant::Identity::resolve(opts.user.as_deref(), opts.user_env.as_deref())?;
        let store = AwsStore::open(AwsOpen {
            config: &config.aws_backend,
            endpoint_url: config.endpoint(opts.endpoint_url.as_deref()),
            data_dir: &paths.data,
            tenant: opts.tenant.as_deref(),
            user: &user.user,
        })?;
        Ok(SharedBackend { store, paths })
    }

    /// Where the backend lives (tables and buckets), in words.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Creates or repairs every table and bucket; each aspect checked, and what was changed.
    pub fn init(&self) -> Result<Vec<Finding>> {
        self.store.init()
    }

    /// Checks every aspect without changing anything.
    pub fn check(&self) -> Result<BackendCheck> {
        let findings = self.store.check()?;
        let journal = self.store.health();
        Ok(BackendCheck {
            findings,
            dead_letter_dir: (journal.dead_letters > 0)
                .then(|| self.store.journal().dir().to_path_buf()),
            journal,
        })
    }

    /// Sends the audit events and artifacts this machine queued during an outage.
    pub fn sync(&self) -> Result<SyncReport> {
        let signer = crate::audit::Signer::load_or_create(&self.paths.data.join("keys"))?;
        self.store.sync(&signer)
    }

    /// Copies the embedded store's tenants (all, or `only`) into the shared backend, chains
    /// and signatures intact; `progress` hears each step.
    pub fn migrate(
        &self,
        only: &[String],
        progress: &mut dyn FnMut(String),
    ) -> Result<Vec<crate::store::migrate::TenantMigration>> {
        let local = LocalStore::open(&self.paths.data)?;
        crate::store::migrate::local_to_aws(&local, &self.store, only, progress)
    }
}

impl Deck {
    /// Which backend holds this session's data (`local` or `aws`).
    pub fn backend_name(&self) -> &'static str {
        self.store.backend()
    }

    /// Reachability and the local journal's queue, without any I/O.
    pub fn backend_health(&self) -> BackendHealth {
        self.store.health()
    }

    /// Probes the backend and flushes queued audit events in order.
    pub fn sync_backend(&self) -> Result<SyncReport> {
        self.store.sync(&self.signer)
    }
}
