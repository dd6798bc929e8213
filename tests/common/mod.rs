//! Shared test helpers: an isolated OPSDECK_HOME per test, the real binary, and a Deck.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::time::Clock;

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The real binary, isolated from the developer's environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("opsdeck").expect("binary");
        c.env("OPSDECK_HOME", self.path())
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .env("USER", "alice")
            .env_remove("OPSDECK_USER")
            .env_remove("OPSDECK_TENANT")
            .env_remove("OPSDECK_TERRAFORM");
        c
    }

    pub fn deck(&self, user: &str) -> Deck {
        self.deck_with(user, None, None)
    }

    pub fn deck_with(
        &self,
        user: &str,
        tenant: Option<&str>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Deck {
        Deck::open(OpenOptions {
            home: Some(self.path().to_path_buf()),
            tenant: tenant.map(str::to_string),
            user: Some(user.to_string()),
            clock,
            ..OpenOptions::default()
        })
        .expect("open deck")
    }

    pub fn audit_file(&self, tenant: &str) -> PathBuf {
        self.path().join("tenants").join(tenant).join("audit.jsonl")
    }
}

/// The Terraform binary, or None with the reason printed (tests then skip that part).
pub fn terraform() -> Option<PathBuf> {
    match opsdeck::exec::find_binary("terraform") {
        Some(p) => Some(p),
        None => {
            eprintln!(
                "SKIP: no terraform on PATH (Terraform >= 1.4 cannot be installed from the package registries this machine reaches)"
            );
            None
        }
    }
}

pub fn quiet(_: opsdeck::agents::AgentEvent) {}

/// A terraform_data-only stack: applies offline, no provider download.
pub fn terraform_data_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            "resource \"terraform_data\" \"hello\" {{\n  input = \"hello\"\n}}\n\noutput \"greeting\" {{\n  value = terraform_data.hello.output\n}}\n{extra}"
        ),
    )
    .expect("write main.tf");
    dir
}

pub fn plan_id(stdout: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("json");
    v["plan_id"].as_str().expect("plan_id").to_string()
}
