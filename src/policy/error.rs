//! What can go wrong loading and evaluating Rego: a file that does not compile (named, with
//! the line regorus points at), a set that does not evaluate, a rule that fails on a plan.

use crate::error::Kind;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// One of the policies compiled into opsdeck does not load (a bug in this build).
    #[error("starter policy {file}: {detail}")]
    Starter { file: String, detail: String },

    /// A tenant's own policy file does not parse or compile.
    #[error("tenant policy {file} does not compile: {detail}")]
    Compile {
        file: String,
        /// The line regorus points at, when it points at one.
        line: Option<u32>,
        detail: String,
    },

    #[error("policy data: {detail}")]
    Data { detail: String },

    /// The set as a whole does not evaluate (a conflict between files, say).
    #[error("policies do not evaluate: {detail}")]
    Evaluate { detail: String },

    #[error("policy packages: {detail}")]
    Packages { detail: String },

    /// One rule failed while evaluating a plan.
    #[error("policy {rule} failed: {detail}")]
    Rule { rule: String, detail: String },

    /// An earlier evaluation panicked while holding the engine.
    #[error("{engine} unavailable after an earlier failure")]
    Poisoned { engine: &'static str },
}

impl PolicyError {
    /// A tenant file's compile error, with the line when regorus's message names one
    /// (`<file>:<line>:<column>: ...`).
    pub fn compile(file: &str, path: &str, detail: String) -> PolicyError {
        let line = detail
            .split_once(&format!("{path}:"))
            .and_then(|(_, rest)| rest.split(':').next())
            .and_then(|n| n.trim().parse().ok());
        PolicyError::Compile {
            file: file.to_string(),
            line,
            detail,
        }
    }

    pub fn kind(&self) -> Kind {
        Kind::Input
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySet;

    #[test]
    fn a_tenant_file_that_does_not_compile_is_named_with_its_line() {
        let broken = (
            "broken.rego".to_string(),
            "package x\n\nallow if {".to_string(),
        );
        let Err(e) = PolicySet::load(&[broken], &serde_json::json!({})) else {
            panic!("a broken policy loaded");
        };
        let PolicyError::Compile { file, line, detail } = &e else {
            panic!("expected a compile error, got {e:?}");
        };
        assert_eq!(file, "broken.rego");
        assert_eq!(*line, Some(3), "{detail}");
        assert!(
            e.to_string()
                .starts_with("tenant policy broken.rego does not compile: "),
            "{e}"
        );
        let crate_error: crate::Error = e.into();
        assert_eq!(
            (crate_error.code(), crate_error.exit_code()),
            ("invalid_input", 3)
        );
    }
}
