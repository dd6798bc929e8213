//! Renders Ansible playbooks from `templates/ansible/`. The templates use `[[ ]]` and `[% %]`
//! for opsdeck's own rendering so that Ansible's `{{ }}` stays as Ansible reads it. Every value
//! that comes from a request goes through the `yaml` filter: a double-quoted scalar tagged
//! `!unsafe`, so it can neither break the YAML structure nor be evaluated by Ansible as a
//! template. Compiled into the binary like the Terraform templates.

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Value};

use crate::error::{Error, Result};

/// (template name, source). Every file under templates/ansible is listed here and tested.
pub const ANSIBLE_TEMPLATES: &[(&str, &str)] = &[
    (
        "ansible/_play.yml.j2",
        include_str!("../../templates/ansible/_play.yml.j2"),
    ),
    (
        "ansible/packages.yml.j2",
        include_str!("../../templates/ansible/packages.yml.j2"),
    ),
    (
        "ansible/service.yml.j2",
        include_str!("../../templates/ansible/service.yml.j2"),
    ),
    (
        "ansible/nginx_tls.yml.j2",
        include_str!("../../templates/ansible/nginx_tls.yml.j2"),
    ),
    (
        "ansible/patch.yml.j2",
        include_str!("../../templates/ansible/patch.yml.j2"),
    ),
    (
        "ansible/users.yml.j2",
        include_str!("../../templates/ansible/users.yml.j2"),
    ),
    (
        "ansible/ssh_hardening.yml.j2",
        include_str!("../../templates/ansible/ssh_hardening.yml.j2"),
    ),
    (
        "ansible/cloudwatch_agent.yml.j2",
        include_str!("../../templates/ansible/cloudwatch_agent.yml.j2"),
    ),
];

/// `[[ ]]`, `[% %]`, `[# #]`: leaves Ansible's `{{ }}` alone.
fn syntax() -> std::result::Result<SyntaxConfig, minijinja::Error> {
    SyntaxConfig::builder()
        .block_delimiters("[%", "%]")
        .variable_delimiters("[[", "]]")
        .comment_delimiters("[#", "#]")
        .build()
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    match syntax() {
        Ok(syntax) => env.set_syntax(syntax),
        Err(e) => tracing::error!(error = %e, "playbook template syntax"),
    }
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("yaml", yaml_filter);
    env.add_filter("comment", comment);
    for (name, src) in ANSIBLE_TEMPLATES {
        // A template that fails to parse is caught by the render test; keep the others usable.
        if let Err(e) = env.add_template(name, src) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
});

/// The top-level context names a playbook template reads (see `render::template_variables`).
pub fn template_variables(name: &str) -> Option<std::collections::BTreeSet<String>> {
    let tmpl = ENV.get_template(name).ok()?;
    Some(tmpl.undeclared_variables(false).into_iter().collect())
}

/// Renders a playbook: the play header (`_play.yml.j2`) and then the template's body of the play,
/// checked against what the two templates can produce (one play, their modules, their own
/// expressions) before anyone runs it.
pub fn render(name: &str, ctx: &Value) -> Result<String> {
    let play =
        play_name(name).ok_or_else(|| Error::input(format!("no playbook template {name}")))?;
    let ctx = &minijinja::context! { play_name => play, ..ctx.clone() };
    let mut out = render_one(HEADER, ctx)?;
    out.push_str(&render_one(name, ctx)?);
    let source = format!("{}\n{}", source_of(HEADER)?, source_of(name)?);
    let modules = modules_of(&source);
    let modules: Vec<&str> = modules.iter().map(String::as_str).collect();
    super::verify::check_playbook(name, &out, &source, &modules)?;
    Ok(out)
}

/// The name of a template's play: the template's own words, capitalised, never request text
/// (what the request asked for is in the comment above the play and in the task names).
fn play_name(template: &str) -> Option<&'static str> {
    Some(match template {
        "ansible/packages.yml.j2" => "Install, upgrade or remove packages",
        "ansible/service.yml.j2" => "Set the state of a system service",
        "ansible/nginx_tls.yml.j2" => "Serve HTTPS with NGINX",
        "ansible/patch.yml.j2" => "Patch the operating system",
        "ansible/users.yml.j2" => "Manage local users and their sudo rights",
        "ansible/ssh_hardening.yml.j2" => "Harden the SSH server",
        "ansible/cloudwatch_agent.yml.j2" => "Run the CloudWatch agent",
        _ => return None,
    })
}

fn source_of(name: &str) -> Result<&'static str> {
    ANSIBLE_TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
        .ok_or_else(|| Error::input(format!("no playbook template {name}")))
}

/// The modules a template's tasks call (`ansible.builtin.NAME:` at the start of a task line).
fn modules_of(source: &str) -> Vec<String> {
    static MODULE: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"(?m)^\s*(?:-\s+)?(ansible\.builtin\.[a-z_]+):").ok());
    let mut out: Vec<String> = MODULE
        .as_ref()
        .map(|re| re.captures_iter(source).map(|c| c[1].to_string()).collect())
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

const HEADER: &str = "ansible/_play.yml.j2";

fn render_one(name: &str, ctx: &Value) -> Result<String> {
    let tmpl = ENV
        .get_template(name)
        .map_err(|e| Error::input(format!("template {name}: {e}")))?;
    tmpl.render(ctx)
        .map_err(|e| Error::input(format!("rendering {name}: {e}")))
}

/// A YAML value Ansible takes literally: strings double-quoted (JSON escapes are YAML escapes, and
/// a quoted "no" stays a string), tagged `!unsafe` when they hold a `{` so Ansible never
/// evaluates them as a template (the tag is not used on other strings: Ansible then resolves
/// "no" to false); numbers and booleans plain; lists in flow style.
pub fn yaml(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => "null".into(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => yaml_str(s),
        J::Array(a) => format!("[{}]", a.iter().map(yaml).collect::<Vec<_>>().join(", ")),
        J::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", J::String(k.clone()), yaml(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A string scalar as [`yaml`] writes it: double-quoted, with every character YAML or a reader
/// could take for something else escaped (controls, NEL, the Unicode line and paragraph
/// separators, bidi controls: YAML 1.1 parsers such as Ansible's read U+0085, U+2028 and U+2029
/// as line breaks).
pub fn yaml_str(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len() + 2);
    quoted.push('"');
    for c in s.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() || super::verify::is_hidden(c) => {
                quoted.push_str(&super::verify::unicode_escape(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    if s.contains('{') {
        format!("!unsafe {quoted}")
    } else {
        quoted
    }
}

fn yaml_filter(v: Value) -> std::result::Result<String, minijinja::Error> {
    let json: serde_json::Value = serde_json::to_value(&v).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(yaml(&json))
}

/// Text for a `#` comment line: one line, no control or hidden characters (YAML 1.1 ends a
/// comment at U+0085, U+2028 and U+2029 too).
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || super::verify::is_hidden(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_parses() {
        for (name, src) in ANSIBLE_TEMPLATES {
            let mut env = Environment::new();
            env.set_syntax(syntax().unwrap());
            if let Err(e) = env.add_template(name, src) {
                panic!("{name}: {e:#}");
            }
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_play_is_named_by_its_template() {
        for (name, _) in ANSIBLE_TEMPLATES {
            if name.starts_with("ansible/_") {
                continue;
            }
            let play = play_name(name).unwrap_or_else(|| panic!("{name} has no play name"));
            assert!(play.starts_with(char::is_uppercase), "{play}");
        }
    }

    #[test]
    fn request_text_cannot_become_yaml_or_a_template() {
        assert_eq!(
            yaml(&json!("nginx\"\n- hosts: evil")),
            r#""nginx\"\n- hosts: evil""#
        );
        assert_eq!(
            yaml(&json!("{{ lookup('pipe', 'id') }}")),
            r#"!unsafe "{{ lookup('pipe', 'id') }}""#
        );
        assert_eq!(yaml(&json!(["no", 1, true])), r#"["no", 1, true]"#);
        // YAML 1.1 reads NEL, U+2028 and U+2029 as line breaks: escaped, as is what hides text.
        assert_eq!(
            yaml(&json!("a\u{85}b\u{2028}c\u{2029}d\u{202e}e\u{e0041}")),
            r#""a\u0085b\u2028c\u2029d\u202ee\U000e0041""#
        );
        assert_eq!(comment("a\nb\u{1b}[31m"), "a b [31m");
    }
}
