//! Renders artifacts from `templates/` with minijinja. Templates are compiled into the binary so
//! an installed opsdeck never depends on where it was built.

use std::sync::LazyLock;

use minijinja::{Environment, Value};

use crate::error::{Error, Result};

/// (template name, source). Every file under templates/terraform is listed here and tested.
pub const TERRAFORM_TEMPLATES: &[(&str, &str)] = &[
    (
        "terraform/main.tf.j2",
        include_str!("../../templates/terraform/main.tf.j2"),
    ),
    (
        "terraform/network.tf.j2",
        include_str!("../../templates/terraform/network.tf.j2"),
    ),
    (
        "terraform/security.tf.j2",
        include_str!("../../templates/terraform/security.tf.j2"),
    ),
    (
        "terraform/instances.tf.j2",
        include_str!("../../templates/terraform/instances.tf.j2"),
    ),
    (
        "terraform/load_balancer.tf.j2",
        include_str!("../../templates/terraform/load_balancer.tf.j2"),
    ),
    (
        "terraform/s3.tf.j2",
        include_str!("../../templates/terraform/s3.tf.j2"),
    ),
    (
        "terraform/asg.tf.j2",
        include_str!("../../templates/terraform/asg.tf.j2"),
    ),
    (
        "terraform/rds.tf.j2",
        include_str!("../../templates/terraform/rds.tf.j2"),
    ),
    (
        "terraform/lambda.tf.j2",
        include_str!("../../templates/terraform/lambda.tf.j2"),
    ),
    (
        "terraform/security_group.tf.j2",
        include_str!("../../templates/terraform/security_group.tf.j2"),
    ),
    (
        "terraform/exposure.tf.j2",
        include_str!("../../templates/terraform/exposure.tf.j2"),
    ),
    (
        "terraform/logs.tf.j2",
        include_str!("../../templates/terraform/logs.tf.j2"),
    ),
    (
        "terraform/instance_profile.tf.j2",
        include_str!("../../templates/terraform/instance_profile.tf.j2"),
    ),
    (
        "terraform/outputs.tf.j2",
        include_str!("../../templates/terraform/outputs.tf.j2"),
    ),
    (
        "terraform/opsdeck.tf.j2",
        include_str!("../../templates/terraform/opsdeck.tf.j2"),
    ),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_filter("hcl", hcl_string);
    env.add_filter("ljust", ljust);
    for (name, src) in TERRAFORM_TEMPLATES {
        // A template that fails to parse is caught by the render test; keep the others usable.
        if let Err(e) = env.add_template(name, src) {
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
});

/// The top-level context names a template reads: what the built-in catalogue
/// (`templates/catalogue.toml`) lists as its parameters, kept true by a test.
pub fn template_variables(name: &str) -> Option<std::collections::BTreeSet<String>> {
    let tmpl = ENV.get_template(name).ok()?;
    Some(tmpl.undeclared_variables(false).into_iter().collect())
}

/// Renders one template with the given context.
pub fn render(name: &str, ctx: &Value) -> Result<String> {
    let tmpl = ENV
        .get_template(name)
        .map_err(|e| Error::input(format!("template {name}: {e}")))?;
    tmpl.render(ctx)
        .map_err(|e| Error::input(format!("rendering {name}: {e}")))
}

/// An HCL string literal: JSON-style escapes Terraform accepts, plus template-sequence escapes so
/// user text can never become an interpolation.
pub fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 || super::verify::is_hidden(c) => {
                out.push_str(&super::verify::unicode_escape(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn ljust(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_cannot_interpolate() {
        assert_eq!(hcl_string("a\"b"), r#""a\"b""#);
        assert_eq!(
            hcl_string("${file(\"/etc/passwd\")}"),
            r#""$${file(\"/etc/passwd\")}""#
        );
        assert_eq!(hcl_string("%{ if x }"), r#""%%{ if x }""#);
        assert_eq!(hcl_string("\u{8}"), r#""\u0008""#);
        assert_eq!(hcl_string("a\u{2028}b\u{202e}"), r#""a\u2028b\u202e""#);
        assert_eq!(hcl_string("\u{e0041}"), r#""\U000e0041""#);
    }

    #[test]
    fn every_template_parses() {
        for (name, src) in TERRAFORM_TEMPLATES {
            let mut env = Environment::new();
            env.add_filter("hcl", hcl_string);
            env.add_filter("ljust", ljust);
            if let Err(e) = env.add_template(name, src) {
                panic!("{name}: {e:#}");
            }
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_file_in_the_directory_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/terraform");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("terraform/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = TERRAFORM_TEMPLATES
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        listed.sort();
        assert_eq!(on_disk, listed);
    }
}
