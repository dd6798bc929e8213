//! Typed parameters of a library entry: declared at add time (`--param name:type=default`),
//! given at use (`--set name=value`), each value parsed by its type and checked before it is
//! written into an artifact, where it is a quoted literal, never template text or code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The longest string value accepted.
pub const MAX_STRING: usize = 256;
/// The most parameters an entry declares.
pub const MAX_PARAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Number,
    Bool,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Bool => "bool",
        }
    }

    fn parse(s: &str) -> Result<ParamType> {
        match s {
            "string" => Ok(ParamType::String),
            "number" => Ok(ParamType::Number),
            "bool" => Ok(ParamType::Bool),
            other => Err(Error::input(format!(
                "parameter type '{}' is not known: string, number or bool",
                crate::sanitize::line(other)
            ))),
        }
    }

    /// A value of this type from its text, or why not.
    pub fn value(self, param: &str, text: &str) -> Result<Value> {
        let bad = |allowed: &str| {
            Error::input(format!(
                "parameter {param} is a {}: '{}' is not {allowed}",
                self.as_str(),
                crate::sanitize::line(text)
            ))
        };
        match self {
            ParamType::String => {
                if text.chars().count() > MAX_STRING || text.chars().any(char::is_control) {
                    return Err(bad(&format!(
                        "one line of at most {MAX_STRING} characters without control characters"
                    )));
                }
                Ok(Value::String(text.to_string()))
            }
            ParamType::Number => {
                let n: f64 = text
                    .trim()
                    .parse()
                    .map_err(|_| bad("a number such as 3 or 2.5"))?;
                if !n.is_finite() {
                    return Err(bad("a finite number"));
                }
                serde_json::Number::from_f64(n)
                    .map(|n| {
                        // Whole numbers stay whole (3, not 3.0) in what is written.
                        if n.as_f64()
                            .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15)
                        {
                            Value::from(n.as_f64().unwrap_or_default() as i64)
                        } else {
                            Value::Number(n)
                        }
                    })
                    .ok_or_else(|| bad("a finite number"))
            }
            ParamType::Bool => match text.trim() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad("true or false")),
            },
        }
    }
}

/// A declared parameter: a default makes it optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// `name:type` or `name:type=default`.
pub fn parse_param(spec: &str) -> Result<Param> {
    let (head, default) = match spec.split_once('=') {
        Some((h, d)) => (h, Some(d)),
        None => (spec, None),
    };
    let Some((name, ty)) = head.split_once(':') else {
        return Err(Error::input(format!(
            "parameter '{}' is name:type or name:type=default (instance_count:number=2)",
            crate::sanitize::line(spec)
        )));
    };
    validate_param_name(name)?;
    let kind = ParamType::parse(ty.trim())?;
    let default = default.map(|d| kind.value(name, d)).transpose()?;
    Ok(Param {
        name: name.to_string(),
        kind,
        default,
    })
}

/// Like a Terraform variable or an Ansible variable: a letter, then letters, digits or `_`.
pub fn validate_param_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "parameter name '{}' must be a lowercase letter then lowercase letters, digits or '_' (at most 64)",
            crate::sanitize::line(name)
        )))
    }
}

/// Declared parameters, checked as a set.
pub fn check_params(params: &[Param]) -> Result<()> {
    if params.len() > MAX_PARAMS {
        return Err(Error::input(format!(
            "an entry declares at most {MAX_PARAMS} parameters"
        )));
    }
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.name == p.name) {
            return Err(Error::input(format!(
                "parameter {} is declared twice",
                p.name
            )));
        }
    }
    Ok(())
}

/// Parameter values by name, typed.
pub type Values = BTreeMap<String, Value>;

/// Every declared parameter's value: what was given (`name=value` texts, parsed by type), else
/// from the request's reading (`read`, already typed by the parser), else its default. An
/// unknown name, a value of the wrong type, or a parameter left without a value is refused.
pub fn resolve_values(params: &[Param], given: &[String], read: &Values) -> Result<Values> {
    let mut values = Values::new();
    for g in given {
        let Some((name, text)) = g.split_once('=') else {
            return Err(Error::input(format!(
                "'{}' is name=value (--set instance_count=3)",
                crate::sanitize::line(g)
            )));
        };
        let name = name.trim();
        let Some(p) = params.iter().find(|p| p.name == name) else {
            return Err(Error::input(format!(
                "this entry has no parameter '{}'{}",
                crate::sanitize::line(name),
                if params.is_empty() {
                    " (it takes none)".to_string()
                } else {
                    format!(
                        " (it takes {})",
                        params
                            .iter()
                            .map(|p| format!("{}:{}", p.name, p.kind.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )));
        };
        if values.contains_key(name) {
            return Err(Error::input(format!("parameter {name} is given twice")));
        }
        values.insert(name.to_string(), p.kind.value(name, text)?);
    }
    for p in params {
        if values.contains_key(&p.name) {
            continue;
        }
        if let Some(v) = read.get(&p.name) {
            // What the parser read is typed already; checked again against the declared type.
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            values.insert(p.name.clone(), p.kind.value(&p.name, &text)?);
        } else if let Some(d) = &p.default {
            values.insert(p.name.clone(), d.clone());
        } else {
            return Err(Error::input(format!(
                "parameter {} ({}) has no default: give it with --set {}=VALUE",
                p.name,
                p.kind.as_str(),
                p.name
            )));
        }
    }
    Ok(values)
}

/// The values as a Terraform variables file: each a quoted string (no interpolation), a number
/// or a bool.
pub fn render_tfvars(values: &Values) -> String {
    let mut out = String::from("# Written by opsdeck: the library entry's parameter values.\n");
    for (name, v) in values {
        let literal = match v {
            Value::String(s) => crate::plan::render::hcl_string(s),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            // resolve_values makes nothing else.
            other => crate::plan::render::hcl_string(&other.to_string()),
        };
        out.push_str(&format!("{name} = {literal}\n"));
    }
    out
}

/// A Terraform entry's parameters against its module's variables: each parameter is a
/// `variable` of the module, and each variable without a default is a parameter (Terraform,
/// run without input, would otherwise stop at use). Files that do not parse were refused by
/// Terraform already.
pub fn check_variables(params: &[Param], files: &[(String, Vec<u8>)]) -> Result<()> {
    let mut variables: Vec<(String, bool)> = Vec::new();
    for (name, bytes) in files {
        if !name.ends_with(".tf") {
            continue;
        }
        let Ok(body) = hcl::parse(&String::from_utf8_lossy(bytes)) else {
            continue;
        };
        for block in body.blocks() {
            if block.identifier.as_str() == "variable"
                && let Some(label) = block.labels.first()
            {
                let has_default = block.body.attributes().any(|a| a.key.as_str() == "default");
                variables.push((label.as_str().to_string(), has_default));
            }
        }
    }
    for p in params {
        if !variables.iter().any(|(v, _)| v == &p.name) {
            return Err(Error::input(format!(
                "parameter {} is not a variable of the module: declare variable \"{}\" in its Terraform",
                p.name, p.name
            )));
        }
    }
    for (v, has_default) in &variables {
        if !has_default && !params.iter().any(|p| &p.name == v) {
            return Err(Error::input(format!(
                "variable {v} has no default and is not a parameter: declare it with --param {v}:TYPE[=DEFAULT]"
            )));
        }
    }
    Ok(())
}

/// Names Ansible gives a meaning of its own: connection and privilege settings (`ansible_*`,
/// which can name commands the controller runs), magic variables and play keywords. An Ansible
/// entry's parameter never takes one, so a value cannot change how or where it runs.
const ANSIBLE_RESERVED: &[&str] = &[
    "environment",
    "group_names",
    "groups",
    "hostvars",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    // The loop variable the built-in playbooks' tasks read (extra vars win over it).
    "item",
    "lookup",
    "omit",
    "play_hosts",
    "playbook_dir",
    "query",
    "role_name",
    "role_path",
    "vars",
];

/// An Ansible entry's parameters: none named like what Ansible reserves, nor like the variables
/// of the built-in playbooks (`opsdeck_*`), which a template's extra vars would otherwise
/// override when it runs after one.
pub fn check_ansible_params(params: &[Param]) -> Result<()> {
    for p in params {
        if p.name.starts_with("opsdeck_") {
            return Err(Error::input(format!(
                "parameter {} is named like the built-in playbooks' variables (opsdeck_*), which a template's extra vars would override: name it for what the playbook does with it",
                p.name
            )));
        }
        if p.name.starts_with("ansible_") || ANSIBLE_RESERVED.contains(&p.name.as_str()) {
            return Err(Error::input(format!(
                "parameter {} is a name Ansible reserves (connection settings, magic variables): name it for what the playbook does with it",
                p.name
            )));
        }
    }
    Ok(())
}

/// The values as an Ansible extra-vars file (`--extra-vars @FILE`): one `name: value` per
/// line, each value a YAML scalar Ansible takes literally (strings double-quoted, tagged
/// `!unsafe` where they hold a `{`, so Ansible never evaluates them as a template).
pub fn render_extra_vars(values: &Values) -> String {
    let mut out = String::from("# Written by opsdeck: the library entry's parameter values.\n");
    if values.is_empty() {
        out.push_str("{}\n");
    }
    for (name, v) in values {
        out.push_str(&format!("{name}: {}\n", crate::plan::playbook::yaml(v)));
    }
    out
}
