//! From the spec to Terraform files: the template context (the spec plus layout values derived
//! from it), which files a stack has, and the record a scalable stack keeps in `opsdeck.tf`.

use std::net::Ipv4Addr;

use serde_json::json;

use super::spec::*;
use super::validate::*;
use crate::agents::DraftFile;
use crate::error::{Error, Result};
use crate::intent::is_region_code;
use crate::library::EntryKind;
use crate::library::builtin::{BuiltinRef, builtin_ref, render_builtin, stack_templates};
use crate::plan::ArtifactKind;

/// The template context: the spec, plus layout values derived from it. Display strings are
/// derived here rather than stored, so a spec read back from `opsdeck.tf` holds only values
/// the templates escape or that serde has typed.
pub fn context(spec: &StackSpec) -> Result<serde_json::Value> {
    validate_stack_name(&spec.stack)?;
    let mut ctx =
        serde_json::to_value(spec).map_err(|e| Error::input(format!("stack parameters: {e}")))?;
    if let Some(n) = &spec.network {
        ctx["network"] = network_layout(n)?;
    }
    if let Some(db) = &spec.database {
        let (_, label, port, _, _) = ENGINES
            .iter()
            .find(|e| e.0 == db.engine)
            .ok_or_else(|| Error::input(format!("unknown database engine {}", db.engine)))?;
        ctx["database"]["engine_label"] = json!(label);
        ctx["database"]["port"] = json!(port);
        ctx["database"]["username"] = json!("dbadmin");
    }
    if let Some(f) = &spec.function {
        ctx["function"]["placeholder"] = match f.s3_bucket {
            Some(_) => serde_json::Value::Null,
            None => {
                let (filename, source) = placeholder(&f.runtime).ok_or_else(|| {
                    Error::input(format!("runtime {} needs a built package", f.runtime))
                })?;
                json!({"filename": filename, "source": source})
            }
        };
    }
    if let Some(sg) = &spec.security_group {
        ctx["security_group"]["rules"] = rule_context(&sg.rules);
    }
    if let Some(e) = &spec.exposure {
        ctx["exposure"]["rules"] = rule_context(&e.rules);
        ctx["exposure"]["by_id"] = json!(
            e.security_group
                .as_deref()
                .is_some_and(|g| g.starts_with("sg-"))
        );
    }
    if let Some(b) = &spec.bucket {
        ctx["bucket"]["lifecycle"] = match &b.lifecycle {
            None => serde_json::Value::Null,
            Some(lc) => {
                let transitions: Vec<serde_json::Value> = [
                    (lc.ia_days, "STANDARD_IA"),
                    (lc.glacier_days, "GLACIER"),
                    (lc.deep_archive_days, "DEEP_ARCHIVE"),
                ]
                .into_iter()
                .filter_map(|(d, class)| d.map(|d| json!({"days": d, "storage_class": class})))
                .collect();
                json!({"transitions": transitions, "expire_days": lc.expire_days})
            }
        };
    }
    if let Some(logs) = log_bucket(spec) {
        ctx["log_bucket"] = logs;
    }
    if spec.asg.is_some() {
        let record = crate::sanitize::to_json_line(spec)
            .map_err(|e| Error::input(format!("stack parameters: {e}")))?;
        ctx["record"] = json!(record);
    }
    Ok(ctx)
}

/// Inbound rules as the templates read them: port, source, label, description, whether the
/// source is the whole internet and whether the port is SSH or RDP.
fn rule_context(rules: &[Rule]) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| {
            let label = port_label(r.port);
            let from = match r.cidr.as_deref() {
                Some("0.0.0.0/0") => "anywhere".to_string(),
                Some(c) => c.to_string(),
                None => "inside the VPC".to_string(),
            };
            json!({"port": r.port, "cidr": r.cidr, "label": label,
                   "description": format!("{label} from {from}"),
                   "world": r.cidr.as_deref() == Some("0.0.0.0/0"),
                   "admin": is_admin_port(r.port)})
        })
        .collect();
    json!(rules)
}

/// What the stack's log bucket (logs.tf) receives, or None when nothing is logged to one:
/// flow logs of the stack's VPC, access logs of its load balancer (an ALB: a network load
/// balancer logs only TLS listeners) and of its bucket, as the tenant's stack_defaults say.
pub(super) fn log_bucket(spec: &StackSpec) -> Option<serde_json::Value> {
    let d = &spec.stack_defaults;
    let flow_logs = d.vpc_flow_logs && spec.network.is_some();
    let lb = d.access_logs && spec.load_balancer.as_ref().is_some_and(|l| l.kind == "alb");
    let s3 = d.access_logs && spec.bucket.is_some();
    (flow_logs || lb || s3).then(|| json!({"flow_logs": flow_logs, "lb": lb, "s3": s3}))
}

/// The files of a stack, in the order they are shown: the built-in catalogue says which
/// templates a stack with this context is made of (`[[stack_part]]`), and each renders through
/// its catalogue entry.
pub fn render_stack(spec: &StackSpec) -> Result<Vec<DraftFile>> {
    let ctx = context(spec)?;
    let mut files = Vec::new();
    for part in stack_templates(&ctx) {
        let text = render_builtin(EntryKind::Terraform, part, &ctx)?;
        crate::plan::verify::check_generated_terraform(&format!("{part}.tf"), &text)?;
        files.push(DraftFile {
            name: format!("{part}.tf"),
            kind: ArtifactKind::Terraform,
            content: text.into_bytes(),
        });
    }
    Ok(files)
}

/// The built-in versions a stack's files were rendered from (each `PART.tf` is the catalogue's
/// template `PART`, [`render_stack`]).
pub fn stack_builtins(files: &[DraftFile]) -> Vec<BuiltinRef> {
    files
        .iter()
        .filter_map(|f| f.name.strip_suffix(".tf"))
        .filter_map(|part| builtin_ref(EntryKind::Terraform, part).ok())
        .collect()
}

/// The spec kept in a stack's `opsdeck.tf`.
pub fn read_record(text: &str) -> Result<StackSpec> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(RECORD_MARK))
        .ok_or_else(|| Error::input(format!("{RECORD_FILE} holds no stack parameters")))?;
    let spec: StackSpec = serde_json::from_str(line)
        .map_err(|e| Error::input(format!("{RECORD_FILE}: unreadable stack parameters: {e}")))?;
    if let Some(a) = &spec.asg {
        if let Some(k) = &a.machines.key_name {
            validate_key_name(k)?;
        }
        if let Some(s) = &a.machines.subnet_id {
            validate_resource_id(s, "subnet-")?;
        }
    }
    if !is_region_code(&spec.region) {
        return Err(Error::input(format!(
            "{RECORD_FILE}: '{}' is not an AWS region code",
            spec.region
        )));
    }
    Ok(spec)
}

fn network_layout(n: &Network) -> Result<serde_json::Value> {
    let (addr, prefix) = parse_cidr(&n.cidr)?;
    if u32::from(addr) & !mask(prefix) != 0 {
        return Err(Error::input(format!(
            "{} is not a network address (its host bits are set)",
            n.cidr
        )));
    }
    // /24 subnets where the range allows, else 16 subnets; public from the bottom of the
    // range, private from its middle.
    let newbits = if prefix <= 20 { 24 - prefix } else { 4 };
    let offset = (1u32 << newbits) / 2;
    let sub = |i: u32| {
        let size = 1u32 << (32 - u32::from(prefix + newbits));
        format!(
            "{}/{}",
            Ipv4Addr::from(u32::from(addr) + i * size),
            prefix + newbits
        )
    };
    let zone = |count: u32| {
        if count <= 2 {
            "data.aws_availability_zones.available.names[count.index]"
        } else {
            "element(data.aws_availability_zones.available.names, count.index)"
        }
    };
    let comment = |count: u32, first: u32, tier: &str| {
        const WORDS: [&str; 6] = ["One", "Two", "Three", "Four", "Five", "Six"];
        let ranges: Vec<String> = (first..first + count).map(sub).collect();
        let list = match ranges.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => ranges.join(""),
        };
        let word = WORDS.get(count as usize - 1).copied().unwrap_or("Several");
        if count == 1 {
            format!("{word} {tier} subnet, {list}, in the first zone.")
        } else if count == 2 {
            format!(
                "{word} {tier} subnets, {list}, in the first {} zones.",
                word.to_lowercase()
            )
        } else {
            format!(
                "{word} {tier} subnets, {list}, one per zone (round robin where the region has fewer)."
            )
        }
    };
    let mut v = serde_json::to_value(n).map_err(|e| Error::input(e.to_string()))?;
    v["newbits"] = json!(newbits);
    v["private_offset"] = json!(offset);
    v["public_zone"] = json!(zone(n.public));
    v["private_zone"] = json!(zone(n.private));
    v["private_tables"] = json!(if n.nat > 1 { n.private } else { 1 });
    if n.public > 0 {
        v["public_comment"] = json!(comment(n.public, 0, "public"));
    }
    if n.private > 0 {
        v["private_comment"] = json!(comment(n.private, offset, "private"));
    }
    Ok(v)
}

/// A placeholder handler for runtimes that run source as it is: (file name, source).
pub(super) fn placeholder(runtime: &str) -> Option<(&'static str, &'static str)> {
    if runtime.starts_with("python") {
        Some((
            "index.py",
            "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": \"placeholder: deploy the real code\"}\n",
        ))
    } else if runtime.starts_with("nodejs") {
        Some((
            "index.js",
            "exports.handler = async () => ({ statusCode: 200, body: \"placeholder: deploy the real code\" });\n",
        ))
    } else if runtime.starts_with("ruby") {
        Some((
            "index.rb",
            "def handler(event:, context:)\n  { statusCode: 200, body: \"placeholder: deploy the real code\" }\nend\n",
        ))
    } else {
        None
    }
}

pub(super) fn port_label(port: u16) -> String {
    match port {
        22 => "SSH (22)".into(),
        80 => "HTTP (80)".into(),
        443 => "HTTPS (443)".into(),
        3306 => "MySQL (3306)".into(),
        3389 => "RDP (3389)".into(),
        5432 => "PostgreSQL (5432)".into(),
        p => format!("port {p}"),
    }
}

pub(super) fn is_admin_port(port: u16) -> bool {
    matches!(port, 22 | 3389)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_layout_is_fixed_by_position() {
        let n = Network {
            cidr: "10.0.0.0/16".into(),
            public: 2,
            private: 3,
            nat: 1,
            standalone: true,
        };
        let v = network_layout(&n).unwrap();
        assert_eq!(
            v["public_comment"],
            "Two public subnets, 10.0.0.0/24 and 10.0.1.0/24, in the first two zones."
        );
        assert!(
            v["private_comment"].as_str().unwrap().starts_with(
                "Three private subnets, 10.0.128.0/24, 10.0.129.0/24 and 10.0.130.0/24"
            )
        );
        let small = network_layout(&Network {
            cidr: "192.168.4.0/22".into(),
            ..n
        })
        .unwrap();
        assert_eq!(small["newbits"], 4);
        assert!(
            small["public_comment"]
                .as_str()
                .unwrap()
                .contains("192.168.4.0/26 and 192.168.4.64/26")
        );
        assert!(
            network_layout(&Network {
                cidr: "10.0.1.0/16".into(),
                public: 1,
                private: 0,
                nat: 0,
                standalone: true
            })
            .is_err()
        );
    }
}
