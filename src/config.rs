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
}

impl Paths {
    /// `home` (from `--home`/`OPSDECK_HOME`) wins; otherwise the platform directories.
    pub fn resolve(home: Option<&Path>) -> Result<Paths> {
        if let Some(home) = home {
            return Ok(Paths {
                data: home.to_path_buf(),
                config_file: home.join("config.toml"),
                log_dir: home.join("logs"),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "opsdeck").ok_or_else(|| {
            Error::input("cannot find a home directory for opsdeck's data: set OPSDECK_HOME")
        })?;
        Ok(Paths {
            data: dirs.data_dir().to_path_buf(),
            config_file: dirs.config_dir().join("config.toml"),
            log_dir: dirs.data_dir().join("logs"),
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `local` (embedded store) or `aws` (shared DynamoDB + S3).
    pub backend: String,
    pub default_tenant: String,
    pub exec: ExecConfig,
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
            exec: ExecConfig::default(),
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
