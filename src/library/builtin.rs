//! The built-in catalogue (issue 18 part 2): every template opsdeck renders plans from,
//! described as data in `templates/catalogue.toml` (kind, what it reads, the safety defaults
//! it applies, the limits on its values). Tested against the templates themselves.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::EntryKind;

/// One built-in template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltinTemplate {
    pub name: String,
    pub kind: EntryKind,
    /// Under `templates/`.
    pub file: String,
    pub description: String,
    /// What the template reads from its context: its parameters.
    pub reads: Vec<String>,
    pub safety: Vec<String>,
    pub limits: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    template: Vec<BuiltinTemplate>,
}

static CATALOGUE: LazyLock<Vec<BuiltinTemplate>> = LazyLock::new(|| {
    match toml::from_str::<CatalogueFile>(include_str!("../../templates/catalogue.toml")) {
        Ok(c) => c.template,
        Err(e) => {
            // The test below fails on it; the binary still runs without the catalogue.
            tracing::error!(error = %e, "templates/catalogue.toml does not read");
            Vec::new()
        }
    }
});

/// The built-in templates, in the catalogue's order.
pub fn builtin_templates() -> &'static [BuiltinTemplate] {
    &CATALOGUE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{playbook, render};

    #[test]
    fn every_template_is_described_as_it_is() {
        let described = builtin_templates();
        assert!(!described.is_empty(), "templates/catalogue.toml reads");
        let mut files: Vec<&str> = render::TERRAFORM_TEMPLATES
            .iter()
            .chain(playbook::ANSIBLE_TEMPLATES)
            .map(|(n, _)| *n)
            .collect();
        files.sort();
        let mut listed: Vec<&str> = described.iter().map(|t| t.file.as_str()).collect();
        listed.sort();
        assert_eq!(
            files, listed,
            "one catalogue entry per template, and no other"
        );
        let mut wrong = Vec::new();
        for t in described {
            let reads = match t.kind {
                EntryKind::Terraform => render::template_variables(&t.file),
                EntryKind::Ansible => playbook::template_variables(&t.file),
            }
            .expect("the template parses");
            let listed: std::collections::BTreeSet<String> = t.reads.iter().cloned().collect();
            if reads != listed {
                wrong.push(format!("{}: reads = {:?}", t.name, reads));
            }
            assert!(!t.description.is_empty(), "{}", t.name);
        }
        assert!(
            wrong.is_empty(),
            "catalogue reads differ:\n{}",
            wrong.join("\n")
        );
    }
}
