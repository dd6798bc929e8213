//! The built-in catalogue (issue 18 part 2): every template opsdeck renders plans from,
//! described as data in `templates/catalogue.toml` (kind, what it reads, the safety defaults
//! it applies, the limits on its values, the defaults of what a request does not give). The
//! agents render through it ([`render_builtin`]): the catalogue entry names the file and its
//! renderer, and each parameter it declares comes from the agent's values or else the entry's
//! default. Which templates a Terraform stack is made of is the catalogue's too
//! ([`stack_templates`], its `[[stack_part]]` table). Each built-in template is a version of the
//! built-in catalogue ([`builtin_version`], `builtin/NAME`): content-addressed like a tenant
//! entry's version, so a plan records which built-in versions it was rendered from. Tested
//! against the templates themselves.

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

/// One part of a Terraform stack: a template, rendered when any of its conditions holds over
/// the stack's context (none: always).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackPart {
    pub template: String,
    pub when: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    template: Vec<BuiltinTemplate>,
    #[serde(default)]
    stack_part: Vec<StackPart>,
}

static CATALOGUE: LazyLock<CatalogueFile> = LazyLock::new(|| {
    match toml::from_str::<CatalogueFile>(include_str!("../../templates/catalogue.toml")) {
        Ok(c) => c,
        Err(e) => {
            // The test below fails on it; the binary still runs without the catalogue.
            tracing::error!(error = %e, "templates/catalogue.toml does not read");
            CatalogueFile {
                template: Vec::new(),
                stack_part: Vec::new(),
            }
        }
    }
});

/// The built-in templates, in the catalogue's order.
pub fn builtin_templates() -> &'static [BuiltinTemplate] {
    &CATALOGUE.template
}

/// The parts a Terraform stack can have, in the order its files are shown.
pub fn stack_parts() -> &'static [StackPart] {
    &CATALOGUE.stack_part
}

/// The Terraform templates a stack with this context is made of, in order: the catalogue's
/// parts whose conditions hold.
pub fn stack_templates(ctx: &Value) -> Vec<&'static str> {
    stack_parts()
        .iter()
        .filter(|p| p.when.is_empty() || p.when.iter().any(|c| condition_holds(c, ctx)))
        .map(|p| p.template.as_str())
        .collect()
}

/// `PATH` (set: present, not null, false or empty) or `PATH=A|B` (one of these values), the
/// path's steps separated by dots.
fn condition_holds(condition: &str, ctx: &Value) -> bool {
    let (path, allowed) = match condition.split_once('=') {
        Some((p, vs)) => (p, Some(vs.split('|').collect::<Vec<_>>())),
        None => (condition, None),
    };
    let mut at = ctx;
    for step in path.split('.') {
        match at.get(step) {
            Some(v) => at = v,
            None => return false,
        }
    }
    match allowed {
        Some(values) => match at {
            Value::String(s) => values.contains(&s.as_str()),
            Value::Bool(_) | Value::Number(_) => values.contains(&at.to_string().as_str()),
            _ => false,
        },
        None => match at {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        },
    }
}

/// The prefix that names a built-in template as a library version (`builtin/s3`).
pub const BUILTIN_PREFIX: &str = "builtin/";

/// A built-in template as a version of the built-in catalogue: its manifest (the catalogue's
/// words about it and its template file's SHA-256) and that manifest's SHA-256, its identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuiltinVersion {
    /// `builtin/NAME`: how plans and `library show` name it (`name` is the template's).
    pub label: String,
    pub sha256: String,
    #[serde(flatten)]
    pub template: BuiltinTemplate,
    /// The template file's SHA-256 and size, as compiled into this binary.
    pub file_sha256: String,
    pub file_size: u64,
    /// When the template is a part of a Terraform stack: its conditions (none: every stack).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_part: Option<Vec<String>>,
}

/// A built-in version a plan was rendered from: `{name, sha256}` as its events record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltinRef {
    pub name: String,
    pub sha256: String,
}

fn template_source(file: &str) -> Option<&'static str> {
    crate::plan::render::TERRAFORM_TEMPLATES
        .iter()
        .chain(crate::plan::playbook::ANSIBLE_TEMPLATES)
        .find(|(n, _)| *n == file)
        .map(|(_, src)| *src)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// The manifest a built-in version's identity is the SHA-256 of: one fixed serialisation of
/// the catalogue's words and the template file's hash, so a changed template or word makes a
/// new version.
fn manifest_bytes(
    t: &BuiltinTemplate,
    file_sha: &str,
    size: u64,
    part: &Option<Vec<String>>,
) -> Vec<u8> {
    let doc = serde_json::json!({
        "format": 1,
        "name": format!("{BUILTIN_PREFIX}{}", t.name),
        "kind": t.kind,
        "description": t.description,
        "reads": t.reads,
        "safety": t.safety,
        "limits": t.limits,
        "defaults": t.defaults,
        "stack_part": part,
        "files": [{"name": t.file, "sha256": file_sha, "size": size}],
    });
    let mut v = serde_json::to_vec_pretty(&doc).expect("a manifest serialises");
    v.push(b'\n');
    v
}

static VERSIONS: LazyLock<Vec<BuiltinVersion>> = LazyLock::new(|| {
    builtin_templates()
        .iter()
        .map(|t| {
            let src = template_source(&t.file).unwrap_or_default();
            let file_sha256 = sha256_hex(src.as_bytes());
            let stack_part = (t.kind == EntryKind::Terraform)
                .then(|| {
                    stack_parts()
                        .iter()
                        .find(|p| p.template == t.name)
                        .map(|p| p.when.clone())
                })
                .flatten();
            let manifest = manifest_bytes(t, &file_sha256, src.len() as u64, &stack_part);
            BuiltinVersion {
                label: format!("{BUILTIN_PREFIX}{}", t.name),
                sha256: sha256_hex(&manifest),
                template: t.clone(),
                file_sha256,
                file_size: src.len() as u64,
                stack_part,
            }
        })
        .collect()
});

/// A built-in version's manifest as it is kept among a tenant's artifacts (the bytes its
/// identity is the SHA-256 of): read back to show or compare a version another binary had.
/// Unknown fields are allowed: a newer binary may describe more.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KeptManifest {
    pub name: String,
    pub kind: EntryKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub reads: Vec<String>,
    #[serde(default)]
    pub safety: Vec<String>,
    #[serde(default)]
    pub limits: Vec<String>,
    #[serde(default)]
    pub defaults: BTreeMap<String, Value>,
    #[serde(default)]
    pub stack_part: Option<Vec<String>>,
    pub files: Vec<super::FileRef>,
}

impl BuiltinVersion {
    /// What keeps this version with a tenant's artifacts: its manifest's bytes and its
    /// template's, each stored content-addressed (so the manifest's SHA-256 is `sha256`).
    pub fn kept_bytes(&self) -> (Vec<u8>, &'static [u8]) {
        let src = template_source(&self.template.file).unwrap_or_default();
        let manifest = manifest_bytes(
            &self.template,
            &self.file_sha256,
            self.file_size,
            &self.stack_part,
        );
        (manifest, src.as_bytes())
    }

    /// A version read back from its kept manifest (`sha256` is the manifest's).
    pub fn from_kept(sha256: &str, m: KeptManifest) -> Result<BuiltinVersion> {
        let [file] = m.files.as_slice() else {
            return Err(Error::input(format!(
                "the kept manifest of {} names {} files: a built-in version has one template",
                m.name,
                m.files.len()
            )));
        };
        let bare = m.name.strip_prefix(BUILTIN_PREFIX).unwrap_or(&m.name);
        Ok(BuiltinVersion {
            label: format!("{BUILTIN_PREFIX}{bare}"),
            sha256: sha256.to_string(),
            template: BuiltinTemplate {
                name: bare.to_string(),
                kind: m.kind,
                file: file.name.clone(),
                description: m.description,
                reads: m.reads,
                safety: m.safety,
                limits: m.limits,
                defaults: m.defaults,
            },
            file_sha256: file.sha256.clone(),
            file_size: file.size,
            stack_part: m.stack_part,
        })
    }
}

/// Every built-in version, in the catalogue's order.
pub fn builtin_versions() -> &'static [BuiltinVersion] {
    &VERSIONS
}

/// The built-in version named `builtin/NAME` (or `NAME`).
pub fn builtin_version(name: &str) -> Result<&'static BuiltinVersion> {
    let bare = name.strip_prefix(BUILTIN_PREFIX).unwrap_or(name);
    builtin_versions()
        .iter()
        .find(|v| v.template.name == bare)
        .ok_or_else(|| {
            Error::not_found(
                "built-in template",
                name.to_string(),
                "see `opsdeck library list --built-in`",
            )
        })
}

/// Whether a reference names the built-in catalogue (`builtin/s3`) rather than a tenant entry.
pub fn is_builtin_name(name: &str) -> bool {
    name.starts_with(BUILTIN_PREFIX)
}

/// The reference a plan records for each built-in template it was rendered from.
pub fn builtin_ref(kind: EntryKind, name: &str) -> Result<BuiltinRef> {
    builtin_template(kind, name)?;
    let v = builtin_version(name)?;
    Ok(BuiltinRef {
        name: v.label.clone(),
        sha256: v.sha256.clone(),
    })
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
        EntryKind::Role => Err(Error::input(format!(
            "template {name}: the built-in catalogue holds no roles"
        ))),
        EntryKind::Script => Err(Error::input(format!(
            "template {name}: the built-in catalogue renders no scripts"
        ))),
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
                EntryKind::Ansible | EntryKind::Role => playbook::template_variables(&t.file),
                EntryKind::Script => panic!("{}: the catalogue holds no scripts", t.name),
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

#[cfg(test)]
mod stack_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_terraform_template_is_one_stack_part_and_nothing_else_is() {
        let mut parts: Vec<&str> = stack_parts().iter().map(|p| p.template.as_str()).collect();
        let n = parts.len();
        parts.sort();
        parts.dedup();
        assert_eq!(parts.len(), n, "a template is a part once");
        let mut terraform: Vec<&str> = builtin_templates()
            .iter()
            .filter(|t| t.kind == EntryKind::Terraform)
            .map(|t| t.name.as_str())
            .collect();
        terraform.sort();
        assert_eq!(parts, terraform);
        for p in stack_parts() {
            for c in &p.when {
                let path = c.split('=').next().unwrap_or_default();
                assert!(
                    !path.is_empty() && path.split('.').all(|s| !s.is_empty()),
                    "{}: condition {c}",
                    p.template
                );
            }
        }
    }

    #[test]
    fn conditions_read_the_context() {
        let ctx = json!({
            "bucket": {"name": "b"}, "network": null, "asg": {"placement": "default_vpc"},
            "instances": {"placement": "private"}, "flag": false, "list": [],
        });
        assert!(condition_holds("bucket", &ctx));
        assert!(!condition_holds("network", &ctx), "null is not set");
        assert!(!condition_holds("database", &ctx), "absent is not set");
        assert!(!condition_holds("flag", &ctx) && !condition_holds("list", &ctx));
        assert!(condition_holds("instances.placement=public|private", &ctx));
        assert!(!condition_holds("asg.placement=public|private", &ctx));
        assert!(!condition_holds("bucket.name.deeper", &ctx));
        let parts = stack_templates(&ctx);
        assert_eq!(
            parts,
            [
                "main",
                "security",
                "instances",
                "asg",
                "instance_profile",
                "s3",
                "outputs",
                "opsdeck"
            ]
        );
    }

    #[test]
    fn built_in_versions_are_content_addressed() {
        let versions = builtin_versions();
        assert_eq!(versions.len(), builtin_templates().len());
        let mut names: Vec<&str> = versions.iter().map(|v| v.template.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), versions.len(), "names are unique across kinds");
        let s3 = builtin_version("builtin/s3").unwrap();
        assert_eq!(s3.label, "builtin/s3");
        assert_eq!(s3.sha256.len(), 64);
        let src = template_source("terraform/s3.tf.j2").unwrap();
        assert_eq!(s3.file_sha256, sha256_hex(src.as_bytes()));
        // The identity is the manifest's hash: a changed word or template is another version.
        let again = manifest_bytes(&s3.template, &s3.file_sha256, s3.file_size, &s3.stack_part);
        assert_eq!(s3.sha256, sha256_hex(&again));
        let mut changed = s3.template.clone();
        changed.safety.pop();
        let other = manifest_bytes(&changed, &s3.file_sha256, s3.file_size, &s3.stack_part);
        assert_ne!(s3.sha256, sha256_hex(&other));
        assert_eq!(
            builtin_ref(EntryKind::Terraform, "s3").unwrap().sha256,
            s3.sha256
        );
        assert!(builtin_ref(EntryKind::Ansible, "s3").is_err());
        assert!(builtin_version("builtin/nope").is_err());
    }

    #[test]
    fn a_kept_version_reads_back_as_the_same_version() {
        use sha2::{Digest, Sha256};
        for v in builtin_versions() {
            let (manifest, template) = v.kept_bytes();
            assert_eq!(
                hex::encode(Sha256::digest(&manifest)),
                v.sha256,
                "{}",
                v.label
            );
            assert_eq!(hex::encode(Sha256::digest(template)), v.file_sha256);
            let kept: KeptManifest = serde_json::from_slice(&manifest).unwrap();
            assert_eq!(&BuiltinVersion::from_kept(&v.sha256, kept).unwrap(), v);
        }
    }
}
