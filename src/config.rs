//! Where things live and the user's settings. Defaults are compiled in; a user file overrides
//! them; `OPSDECK_HOME` relocates everything (data, config, logs).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The documented default config, shipped as a template and parsed in a test.
pub const DEFAULT_CONFIG: &str = include_str!("../templates/config.toml");

#[derive(Debug, Clone)]
pub struct Paths {
    pub data: PathBuf,
    pub config_file: PathBuf,
    pub log_dir: PathBuf,
    /// The person's own directory, never part of the store: their private signing keys, the
    /// tenant roots they pinned, and their copy of the trail's checkpoints.
    pub identity: PathBuf,
}

impl Paths {
    /// `home` (from `--home`/`OPSDECK_HOME`) wins; otherwise the platform directories.
    /// `identity` (from `--identity-dir`/`OPSDECK_IDENTITY_DIR`) wins over `<home>/identity`
    /// and the platform config directory's `identity`.
    pub fn resolve(home: Option<&Path>, identity: Option<&Path>) -> Result<Paths> {
        if let Some(home) = home {
            return Ok(Paths {
                data: home.to_path_buf(),
                config_file: home.join("config.toml"),
                log_dir: home.join("logs"),
                identity: identity.map_or_else(|| home.join("identity"), Path::to_path_buf),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "opsdeck").ok_or_else(|| {
            Error::input("cannot find a home directory for opsdeck's data: set OPSDECK_HOME")
        })?;
        Ok(Paths {
            data: dirs.data_dir().to_path_buf(),
            config_file: dirs.config_dir().join("config.toml"),
            log_dir: dirs.data_dir().join("logs"),
            identity: identity
                .map_or_else(|| dirs.config_dir().join("identity"), Path::to_path_buf),
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `local` (embedded store) or `aws` (shared DynamoDB + S3).
    pub backend: String,
    pub default_tenant: String,
    /// AWS endpoint for every call (agents and the shared backend); empty: the SDK's own
    /// resolution (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`). `--endpoint-url` wins.
    pub endpoint_url: String,
    pub exec: ExecConfig,
    /// Where the shared backend (`backend = "aws"`) keeps its tables and buckets.
    pub aws_backend: AwsBackendConfig,
}

/// The shared DynamoDB + S3 backend. Table names are `<prefix>_<table>`, bucket names
/// `<bucket_prefix>-<bucket>`; see docs/backend.md.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AwsBackendConfig {
    pub region: String,
    /// Prefix of every table name (lower-case letters, digits and '-', 3-32 characters).
    pub prefix: String,
    /// Prefix of every bucket name; bucket names are global, so make it yours (default: prefix).
    pub bucket_prefix: String,
    /// Days an execution log in the audit-logs bucket cannot be deleted (Object Lock,
    /// compliance mode).
    pub audit_log_retention_days: u32,
    /// Role to assume for the backend; `{tenant}` is replaced by the acting tenant, which confines
    /// the session to that tenant (see the IAM policy in docs/backend.md). Empty: base credentials.
    pub role_arn: String,
    pub external_id: String,
    /// Per-call timeout, seconds.
    pub timeout_secs: u64,
    /// Attempts per call (1 turns the SDK's retries off).
    pub max_attempts: u32,
}

impl Default for AwsBackendConfig {
    fn default() -> Self {
        AwsBackendConfig {
            region: "us-east-1".into(),
            prefix: "opsdeck".into(),
            bucket_prefix: String::new(),
            audit_log_retention_days: 365,
            role_arn: String::new(),
            external_id: String::new(),
            timeout_secs: 10,
            max_attempts: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// Terraform-compatible binary: a name on PATH or a path (`tofu` works).
    pub terraform: String,
    /// `ansible-playbook`: a name on PATH or a path.
    pub ansible_playbook: String,
    /// Seconds a dry run made while planning (terraform init/plan/show, ansible --check) may
    /// take before it is stopped and the plan falls back to the template-derived preview.
    pub dry_run_timeout_secs: u64,
    /// Run `ansible-playbook --check --diff` against existing hosts while planning.
    pub ansible_check_at_plan: bool,
    /// Install Terraform providers only from this directory (a `terraform providers mirror`),
    /// never from a registry; empty allows registry downloads.
    pub provider_mirror: String,
    /// Where Terraform state lives.
    pub state: StateConfig,
    /// More paths the tools' filesystem sandbox lets them read (and execute).
    pub sandbox_read: Vec<String>,
    /// More paths the sandbox lets them write: what a playbook run on this machine itself changes.
    pub sandbox_write: Vec<String>,
}

/// Where Terraform keeps each stack's state. `local` (default): a file beside the stack in the
/// store, locked by Terraform and by opsdeck's stack lock. `s3`: one object per tenant and
/// stack, `s3://<bucket>/<key_prefix>/<tenant>/<stack>/terraform.tfstate`, with Terraform's S3
/// locking (a lock file next to the state, or `dynamodb_table` when set).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StateConfig {
    /// `local` or `s3`.
    pub backend: String,
    pub bucket: String,
    pub region: String,
    pub key_prefix: String,
    /// DynamoDB table for Terraform state locks; empty uses S3 lock files (`use_lockfile`).
    pub dynamodb_table: String,
    /// S3 endpoint for S3-compatible stores and tests; empty uses AWS.
    pub endpoint: String,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: "local".into(),
            bucket: String::new(),
            region: "us-east-1".into(),
            key_prefix: "opsdeck/state".into(),
            dynamodb_table: String::new(),
            endpoint: String::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backend: "local".into(),
            default_tenant: "default".into(),
            endpoint_url: String::new(),
            exec: ExecConfig::default(),
            aws_backend: AwsBackendConfig::default(),
        }
    }
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            terraform: "terraform".into(),
            ansible_playbook: "ansible-playbook".into(),
            dry_run_timeout_secs: 600,
            ansible_check_at_plan: true,
            provider_mirror: String::new(),
            state: StateConfig::default(),
            sandbox_read: Vec::new(),
            sandbox_write: Vec::new(),
        }
    }
}

impl Config {
    /// Reads the user's file if there is one; a broken file is an error that names the line.
    pub fn load(path: &Path) -> Result<Config> {
        let mut cfg = match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text).map_err(|detail| Error::Config {
                path: path.to_path_buf(),
                detail,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    detail: format!("unreadable: {e}"),
                });
            }
        };
        if let Ok(bin) = std::env::var("OPSDECK_TERRAFORM")
            && !bin.is_empty()
        {
            cfg.exec.terraform = bin;
        }
        if let Ok(bin) = std::env::var("OPSDECK_ANSIBLE_PLAYBOOK")
            && !bin.is_empty()
        {
            cfg.exec.ansible_playbook = bin;
        }
        if let Ok(dir) = std::env::var("OPSDECK_PROVIDER_MIRROR")
            && !dir.is_empty()
        {
            cfg.exec.provider_mirror = dir;
        }
        match cfg.exec.state.backend.as_str() {
            "local" => {}
            "s3" if !cfg.exec.state.bucket.is_empty() => {}
            "s3" => {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    detail: "exec.state.backend = \"s3\" needs exec.state.bucket".into(),
                });
            }
            other => {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    detail: format!("exec.state.backend '{other}': use local or s3"),
                });
            }
        }
        Ok(cfg)
    }

    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))
    }

    /// The endpoint override: `--endpoint-url` first, then the file's.
    pub fn endpoint(&self, flag: Option<&str>) -> Option<String> {
        flag.filter(|u| !u.is_empty())
            .or(Some(self.endpoint_url.as_str()).filter(|u| !u.is_empty()))
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_matches_built_in() {
        assert_eq!(Config::parse(DEFAULT_CONFIG).unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_reported_with_their_place() {
        let err = Config::parse("backend = \"local\"\nterraform_bin = \"x\"\n").unwrap_err();
        assert!(err.contains("terraform_bin"), "{err}");
    }
}
