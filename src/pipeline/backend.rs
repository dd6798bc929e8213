//! Which store a deck opens (`--backend`, `OPSDECK_BACKEND`, or `backend` in the config file),
//! and the shared backend's state as front ends show it.

use std::sync::Arc;

use super::{Deck, OpenOptions};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::store::aws::AwsOpen;
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

/// The shared backend named by the config file, for commands that act on the backend itself
/// (`backend init|check|migrate|sync`) rather than in a tenant.
pub fn shared_backend(opts: &OpenOptions) -> Result<(AwsStore, Paths)> {
    let paths = Paths::resolve(opts.home.as_deref())?;
    let config = Config::load(&paths.config_file)?;
    let user = crate::tenant::Identity::resolve(opts.user.as_deref(), opts.user_env.as_deref())?;
    let store = AwsStore::open(AwsOpen {
        config: &config.aws_backend,
        endpoint_url: config.endpoint(opts.endpoint_url.as_deref()),
        data_dir: &paths.data,
        tenant: opts.tenant.as_deref(),
        user: &user.user,
    })?;
    Ok((store, paths))
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
