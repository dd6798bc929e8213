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
