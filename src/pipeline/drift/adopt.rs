//! Adopting drift: the recorded configuration rewritten so that it says what actually exists.
//! Only attributes the configuration sets to a literal value are rewritten, in place (the rest
//! of the file, comments and layout, is kept byte for byte); anything else is listed as left
//! to a person, never guessed.

use hcl::edit::Decorate;
use hcl::edit::expr::Expression;
use hcl::edit::structure::Body;
use serde_json::Value;

use super::{DriftChange, ResourceDrift};

/// What adopting changed, and what it could not.
#[derive(Debug, Default)]
pub(crate) struct Adoption {
    /// The configuration's files, rewritten where an attribute was adopted.
    pub files: Vec<(String, Vec<u8>)>,
    /// "terraform_data.hello input = \"tampered\"".
    pub adopted: Vec<String>,
    /// What a person has to change by hand, and why.
    pub left: Vec<String>,
}

/// Rewrites `files` (name, bytes) so each drifted attribute takes its actual value.
pub(crate) fn adopt(files: &[(String, Vec<u8>)], drift: &[ResourceDrift]) -> Adoption {
    let mut out = Adoption::default();
    let mut bodies: Vec<(String, Option<Body>, Vec<u8>)> = files
        .iter()
        .map(|(name, bytes)| {
            let body = std::str::from_utf8(bytes)
                .ok()
                .and_then(|t| hcl::edit::parser::parse_body(t).ok());
            (name.clone(), body, bytes.clone())
        })
        .collect();
    let mut changed = vec![false; bodies.len()];
    for r in drift {
        if r.change != DriftChange::Changed {
            out.left.push(format!(
                "{}: {}; adopt it by changing the configuration by hand",
                r.address,
                if r.change == DriftChange::Missing {
                    "recorded but gone"
                } else {
                    "exists but is not recorded"
                }
            ));
            continue;
        }
        let Some((kind, name)) = root_resource(&r.address) else {
            out.left.push(format!(
                "{}: inside a module or one of several instances; adopt it by hand",
                r.address
            ));
            continue;
        };
        for a in &r.attributes {
            let found = bodies.iter_mut().enumerate().find_map(|(i, (_, body, _))| {
                let block = body.as_ref()?.blocks().find(|b| {
                    b.ident.as_str() == "resource"
                        && b.labels.len() == 2
                        && b.labels[0].as_str() == kind
                        && b.labels[1].as_str() == name
                })?;
                Some((i, block.body.get_attribute(&a.attribute).is_some()))
            });
            let what = format!("{} {}", r.address, a.attribute);
            match found {
                None => out.left.push(format!(
                    "{what}: the resource is not in the recorded configuration's files"
                )),
                Some((_, false)) => out.left.push(format!(
                    "{what}: not set in the configuration (a default or computed value); set it by hand if it should be kept"
                )),
                Some((i, true)) => {
                    let Some(body) = bodies[i].1.as_mut() else {
                        continue;
                    };
                    match set_literal(body, kind, name, &a.attribute, &a.actual) {
                        Ok(()) => {
                            changed[i] = true;
                            out.adopted
                                .push(format!("{what} = {}", crate::view::drift::short_value(&a.actual)));
                        }
                        Err(why) => out.left.push(format!("{what}: {why}")),
                    }
                }
            }
        }
    }
    out.files = bodies
        .into_iter()
        .zip(changed)
        .map(|((name, body, bytes), changed)| match (changed, body) {
            (true, Some(b)) => (name, b.to_string().into_bytes()),
            _ => (name, bytes),
        })
        .collect();
    out
}

/// `TYPE.NAME` of a root-module resource with one instance.
fn root_resource(address: &str) -> Option<(&str, &str)> {
    if address.starts_with("module.") || address.starts_with("data.") || address.contains('[') {
        return None;
    }
    address.split_once('.')
}

fn set_literal(
    body: &mut Body,
    kind: &str,
    name: &str,
    attribute: &str,
    actual: &Value,
) -> Result<(), String> {
    let block = body
        .blocks_mut()
        .find(|b| {
            b.ident.as_str() == "resource"
                && b.labels.len() == 2
                && b.labels[0].as_str() == kind
                && b.labels[1].as_str() == name
        })
        .ok_or("the resource is not in the configuration")?;
    let mut attr = block
        .body
        .get_attribute_mut(attribute)
        .ok_or("not set in the configuration")?;
    let value = attr.value_mut();
    if !is_literal(value) {
        return Err(format!(
            "set by an expression (`{}`), not a literal; change what it refers to by hand",
            value.to_string().trim()
        ));
    }
    if actual.as_str() == Some(crate::exec::terraform::SENSITIVE) {
        return Err(
            "the actual value is sensitive and is not written into the configuration".into(),
        );
    }
    let expr = hcl::to_expression(actual).map_err(|e| format!("cannot be written as HCL: {e}"))?;
    let decor = value.decor().clone();
    *value = Expression::from(expr);
    *value.decor_mut() = decor;
    Ok(())
}

/// A value written out in full: no reference, call, template or operator.
fn is_literal(e: &Expression) -> bool {
    match e {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => true,
        Expression::Array(a) => a.iter().all(is_literal),
        Expression::Object(o) => o.iter().all(|(_, v)| is_literal(v.expr())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{AttributeDrift, DriftSource};
    use serde_json::json;

    fn drifted(attr: &str, actual: Value) -> ResourceDrift {
        ResourceDrift {
            address: "terraform_data.hello".into(),
            change: DriftChange::Changed,
            source: DriftSource::Spec,
            attributes: vec![AttributeDrift {
                attribute: attr.into(),
                recorded: json!("hello"),
                actual,
            }],
        }
    }

    #[test]
    fn a_literal_takes_the_actual_value_and_the_rest_of_the_file_is_kept() {
        let tf = "# greeting\nresource \"terraform_data\" \"hello\" {\n  input = \"hello\" # said once\n}\n\noutput \"greeting\" {\n  value = terraform_data.hello.output\n}\n";
        let a = adopt(
            &[("main.tf".into(), tf.as_bytes().to_vec())],
            &[drifted("input", json!("tampered"))],
        );
        assert_eq!(a.adopted, ["terraform_data.hello input = \"tampered\""]);
        assert!(a.left.is_empty(), "{:?}", a.left);
        assert_eq!(
            String::from_utf8(a.files[0].1.clone()).unwrap(),
            tf.replace("input = \"hello\"", "input = \"tampered\"")
        );
    }

    #[test]
    fn expressions_and_unset_attributes_are_left_to_a_person() {
        let tf = "resource \"terraform_data\" \"hello\" {\n  input = var.greeting\n}\n";
        let a = adopt(
            &[("main.tf".into(), tf.as_bytes().to_vec())],
            &[
                drifted("input", json!("tampered")),
                drifted("triggers_replace", json!("x")),
            ],
        );
        assert!(a.adopted.is_empty());
        assert!(
            a.left[0].contains("set by an expression (`var.greeting`)"),
            "{:?}",
            a.left
        );
        assert!(
            a.left[1].contains("not set in the configuration"),
            "{:?}",
            a.left
        );
        assert_eq!(a.files[0].1, tf.as_bytes());
    }
}
