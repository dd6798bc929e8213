//! The built-in catalogue (issue 18 part 2): every template opsdeck renders plans from,
//! described as data in `templates/catalogue.toml` (kind, what it reads, the safety defaults
//! it applies, the limits on its values, the defaults of what a request does not give). The
//! agents render through it ([`render_builtin`]): the catalogue entry names the file and its
//! renderer, and each parameter it declares comes from the agent's values or else the entry's
//! default. Tested against the templates themselves.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EntryKind;
use crate::error::{Error, Result};

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
    /// Values of parameters (among `reads`) the agent leaves to the catalogue: the safety
    /// defaults that are values (sshd settings, log retention), fixed timeouts and names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, Value>,
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

/// The built-in template of this kind and name ("network", "packages").
pub fn builtin_template(kind: EntryKind, name: &str) -> Result<&'static BuiltinTemplate> {
    builtin_templates()
        .iter()
        .find(|t| t.kind == kind && t.name == name)
        .ok_or_else(|| {
            Error::input(format!(
                "the built-in catalogue has no {kind} template {name} (templates/catalogue.toml)"
            ))
        })
}

/// The catalogue's defaults of what the agent did not give. (What the agent gives is passed
/// whole: minijinja's list of what a template reads misses names used inside some blocks.)
fn defaults(t: &BuiltinTemplate, given: &Value, into: &mut serde_json::Map<String, Value>) {
    for (name, v) in &t.defaults {
        if given.get(name).is_none() {
            into.insert(name.clone(), v.clone());
        }
    }
}

/// Renders a built-in template through its catalogue entry, as the infra and config agents do:
/// the entry's file with its kind's renderer, from the parameters it declares. A playbook is
/// preceded by the play header (`_play`), with that entry's parameters and defaults.
pub fn render_builtin(kind: EntryKind, name: &str, given: &Value) -> Result<String> {
    let t = builtin_template(kind, name)?;
    let Value::Object(mut ctx) = given.clone() else {
        return Err(Error::input(format!(
            "template {name}: its values are not a map"
        )));
    };
    defaults(t, given, &mut ctx);
    match kind {
        EntryKind::Terraform => crate::plan::render::render(
            &t.file,
            &minijinja::Value::from_serialize(Value::Object(ctx)),
        ),
        EntryKind::Ansible => {
            defaults(builtin_template(kind, PLAY_HEADER)?, given, &mut ctx);
            crate::plan::playbook::render(
                &t.file,
                &minijinja::Value::from_serialize(Value::Object(ctx)),
            )
        }
    }
}

/// The catalogue entry of the opening every playbook starts with.
pub const PLAY_HEADER: &str = "_play";

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
            for d in t.defaults.keys() {
                if !t.reads.contains(d) {
                    wrong.push(format!(
                        "{}: a default for {d}, which it does not read",
                        t.name
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "catalogue reads differ:\n{}",
            wrong.join("\n")
        );
    }
}

#[cfg(test)]
mod render_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_what_the_agent_leaves_and_never_what_it_gives() {
        let given = json!({"title": "t", "request_id": "r", "serial": null, "reboot": true});
        let text = render_builtin(EntryKind::Ansible, "patch", &given).unwrap();
        assert!(
            text.contains("900"),
            "the catalogue's reboot_timeout: {text}"
        );
        let given = json!({"title": "t", "request_id": "r", "serial": null,
            "reboot": true, "reboot_timeout": 1200});
        let text = render_builtin(EntryKind::Ansible, "patch", &given).unwrap();
        assert!(text.contains("1200") && !text.contains("900"), "{text}");
        let e = render_builtin(EntryKind::Terraform, "packages", &given).unwrap_err();
        assert!(
            e.to_string().contains("no terraform template packages"),
            "{e}"
        );
    }
}
