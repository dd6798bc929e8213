//! Ansible inventories opsdeck writes: the hosts of a plan, the rule for a host name or
//! address Ansible may be given, and the YAML rendering in which no value can become structure
//! or a template. The config agent builds inventories with it while planning; the pipeline
//! builds one at apply time from a Terraform step's outputs. The runner (`exec::ansible`) only
//! runs what these produce.

use serde_json::Value;

use crate::error::{Error, Result};

/// Artifact name of a generated inventory.
pub const INVENTORY: &str = "inventory.yml";

/// One host of an inventory built by opsdeck.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Inventory name: the instance id, or the address when there is none.
    pub name: String,
    pub address: String,
    /// Host variables shown to reviewers (instance id, Name tag).
    pub vars: Vec<(String, String)>,
}

/// Addresses that are this machine: such hosts are reached with the local connection and the
/// Python that runs Ansible, as Ansible's own implicit localhost is.
pub fn is_loopback(address: &str) -> bool {
    address == "localhost"
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A host name or address Ansible can use, with nothing that could turn into YAML structure or
/// an option: letters, digits, `.`, `-`, `:` (IPv6) and `_`.
pub fn valid_address(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 253
        && !a.starts_with('-')
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
}

/// An inventory in YAML: every scalar quoted (JSON strings are YAML strings) and never evaluated by
/// Ansible as a template (see [`crate::plan::playbook::yaml_str`]).
pub fn render_inventory(comment: &str, hosts: &[Host]) -> String {
    let q = crate::plan::playbook::yaml_str;
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str("all:\n  hosts:\n");
    if hosts.is_empty() {
        out.truncate(out.len() - "  hosts:\n".len());
        out.push_str("  hosts: {}\n");
        return out;
    }
    for h in hosts {
        out.push_str(&format!(
            "    {}:\n",
            serde_json::Value::String(h.name.clone())
        ));
        out.push_str(&format!("      ansible_host: {}\n", q(&h.address)));
        if is_loopback(&h.address) {
            out.push_str("      ansible_connection: local\n");
            out.push_str("      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n");
        }
        for (k, v) in &h.vars {
            out.push_str(&format!("      {k}: {}\n", q(v)));
        }
    }
    out
}

/// Hosts from an earlier Terraform step's outputs (`terraform output -json`): the first output
/// named in `wanted` that holds a non-empty list (or a single string) of addresses.
pub fn hosts_from_outputs(outputs: &Value, wanted: &[String]) -> Result<(String, Vec<Host>)> {
    for name in wanted {
        let Some(v) = outputs.get(name).map(|o| o.get("value").unwrap_or(o)) else {
            continue;
        };
        let addrs: Vec<&str> = match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let addrs: Vec<&str> = addrs.into_iter().filter(|a| !a.is_empty()).collect();
        if addrs.is_empty() {
            continue;
        }
        if let Some(bad) = addrs.iter().find(|a| !valid_address(a)) {
            return Err(Error::Execution(format!(
                "output {name} holds '{bad}', which is not a host name or address"
            )));
        }
        let ids: Vec<&str> = outputs
            .get("instance_ids")
            .and_then(|o| o.get("value"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let hosts = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| match ids.get(i).filter(|id| valid_address(id)) {
                Some(id) => Host {
                    name: id.to_string(),
                    address: a.to_string(),
                    vars: vec![("ec2_instance_id".into(), id.to_string())],
                },
                None => Host {
                    name: a.to_string(),
                    address: a.to_string(),
                    vars: Vec::new(),
                },
            })
            .collect();
        return Ok((name.clone(), hosts));
    }
    let have: Vec<&String> = outputs
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    Err(Error::Execution(format!(
        "no host addresses in the Terraform outputs: looked for {} (non-empty), the stack has {}",
        wanted.join(", "),
        if have.is_empty() {
            "no outputs".to_string()
        } else {
            have.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_values_are_quoted_and_never_templated() {
        let inv = render_inventory(
            "hosts of plan p-1",
            &[
                Host {
                    name: "i-0abc".into(),
                    address: "10.0.0.5".into(),
                    vars: vec![("ec2_name".into(), "{{ lookup('pipe','id') }}".into())],
                },
                Host {
                    name: "127.0.0.1".into(),
                    address: "127.0.0.1".into(),
                    vars: vec![],
                },
            ],
        );
        assert!(
            inv.contains("ec2_name: !unsafe \"{{ lookup('pipe','id') }}\""),
            "{inv}"
        );
        assert!(inv.contains("ansible_host: \"10.0.0.5\""), "{inv}");
        assert!(inv.contains("ansible_connection: local"), "{inv}");
        assert!(!valid_address("-oProxyCommand=x"));
        assert!(!valid_address("a b"));
        assert!(valid_address("fe80::1"));
    }

    #[test]
    fn hosts_come_from_the_first_non_empty_output() {
        let outputs = serde_json::json!({
            "public_ips": {"value": ["", ""]},
            "private_ips": {"value": ["10.0.1.4", "10.0.1.5"]},
            "instance_ids": {"value": ["i-1", "i-2"]}
        });
        let wanted = vec!["public_ips".to_string(), "private_ips".to_string()];
        let (from, hosts) = hosts_from_outputs(&outputs, &wanted).unwrap();
        assert_eq!(from, "private_ips");
        assert_eq!(hosts[1].name, "i-2");
        assert_eq!(hosts[1].address, "10.0.1.5");
        let err = hosts_from_outputs(&serde_json::json!({"x": {"value": 1}}), &wanted)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the stack has x"), "{err}");
    }
}
