//! Gates every plan passes before it is queued and again right before it runs.
//!
//! These built-in rules read the plan and its rendered artifacts; each yields `deny` (blocks),
//! `warn` (shown to approvers) or `info`, with a rule id and a reason.

use crate::plan::{Gate, GateResult, Plan};
use crate::tenant::Tenant;

/// The plan plus the text of its Terraform artifacts (already loaded by the caller).
pub fn evaluate(plan: &Plan, terraform: &[(String, String)], tenant: &Tenant) -> Vec<Gate> {
    let mut gates = Vec::new();
    let mut gate = |rule: &str, result: GateResult, reason: String| {
        gates.push(Gate {
            rule: rule.to_string(),
            result,
            reason,
        })
    };

    match (&plan.region, tenant.allowed_regions.is_empty()) {
        (_, true) => gate(
            "region.allowed",
            GateResult::Pass,
            "tenant allows every region".into(),
        ),
        (Some(r), false) if tenant.allowed_regions.iter().any(|a| a == r) => gate(
            "region.allowed",
            GateResult::Pass,
            format!("{r} is allowed for tenant {}", tenant.name),
        ),
        (Some(r), false) => gate(
            "region.allowed",
            GateResult::Deny,
            format!(
                "{r} is not an allowed region for tenant {} (allowed: {})",
                tenant.name,
                tenant.allowed_regions.join(", ")
            ),
        ),
        (None, false) => gate(
            "region.allowed",
            GateResult::Info,
            "the plan names no region".into(),
        ),
    }

    let cost = plan.cost.monthly_usd;
    let limit = tenant.per_plan_limit_usd;
    if limit > 0.0 && cost > limit {
        gate(
            "budget.per_plan",
            GateResult::Deny,
            format!("estimated ${cost:.2}/month exceeds the per-plan limit of ${limit:.2}"),
        );
    } else if limit > 0.0 && cost > 0.8 * limit {
        gate(
            "budget.per_plan",
            GateResult::Warn,
            format!("estimated ${cost:.2}/month is over 80% of the per-plan limit of ${limit:.2}"),
        );
    } else if plan.mutates {
        gate(
            "budget.per_plan",
            GateResult::Pass,
            if limit > 0.0 {
                format!("estimated ${cost:.2}/month within the ${limit:.2} limit")
            } else {
                format!("estimated ${cost:.2}/month; no per-plan limit set")
            },
        );
    }

    let open: Vec<String> = terraform
        .iter()
        .flat_map(|(name, text)| {
            open_admin_ingress(text)
                .into_iter()
                .map(move |p| format!("{name}: port {p}"))
        })
        .collect();
    if open.is_empty() {
        if !terraform.is_empty() {
            gate(
                "network.admin_ports",
                GateResult::Pass,
                "no SSH/RDP ingress from 0.0.0.0/0 or ::/0".into(),
            );
        }
    } else {
        gate(
            "network.admin_ports",
            GateResult::Deny,
            format!(
                "ingress from anywhere to an admin port: {}",
                open.join("; ")
            ),
        );
    }

    let has = |needle: &str| terraform.iter().any(|(_, t)| t.contains(needle));
    if has("resource \"aws_s3_bucket\"") {
        if has("resource \"aws_s3_bucket_public_access_block\"") {
            gate(
                "s3.public_access",
                GateResult::Pass,
                "bucket blocks public access".into(),
            );
        } else {
            gate(
                "s3.public_access",
                GateResult::Warn,
                "a bucket is created without a public access block".into(),
            );
        }
    }

    if plan.action == "destroy" {
        gate(
            "change.destroy",
            GateResult::Warn,
            "destroys resources: this cannot be undone".into(),
        );
    }
    if plan.intent.param_str("environment") == Some("prod") {
        gate(
            "change.production",
            GateResult::Warn,
            "targets production".into(),
        );
    }
    if plan.intent.low_confidence {
        gate(
            "intent.confidence",
            GateResult::Warn,
            format!(
                "the request was understood with low confidence ({:.2}): check the routing",
                plan.intent.confidence
            ),
        );
    }
    gates
}

/// Admin ports (22, 3389) reachable from anywhere in inline `ingress` blocks or
/// `aws_vpc_security_group_ingress_rule` resources.
pub fn open_admin_ingress(hcl: &str) -> Vec<u16> {
    let mut found = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    let mut depth = 0i32;
    for line in hcl.lines() {
        let t = line.trim();
        let opens = t.matches('{').count() as i32;
        let closes = t.matches('}').count() as i32;
        if block.is_none()
            && (t.starts_with("ingress {")
                || t.starts_with("resource \"aws_vpc_security_group_ingress_rule\"")
                || t.starts_with("resource \"aws_security_group_rule\""))
        {
            block = Some(Vec::new());
            depth = 0;
        }
        if let Some(lines) = block.as_mut() {
            lines.push(t);
            depth += opens - closes;
            if depth <= 0 {
                let text = lines.join("\n");
                let anywhere = text.contains("0.0.0.0/0") || text.contains("::/0");
                let is_egress =
                    text.contains("type = \"egress\"") || text.contains("type        = \"egress\"");
                if anywhere && !is_egress {
                    let port = |key: &str| -> Option<i64> {
                        lines.iter().find_map(|l| {
                            let (k, v) = l.split_once('=')?;
                            (k.trim() == key).then(|| v.trim().parse().ok())?
                        })
                    };
                    let proto_all = text.contains("\"-1\"") || text.contains("\"all\"");
                    let (from, to) = (port("from_port"), port("to_port"));
                    for admin in [22i64, 3389] {
                        let covered = match (from, to) {
                            (Some(f), Some(t)) => {
                                f <= admin && admin <= t || (f == 0 && t == 0 && proto_all)
                            }
                            _ => proto_all,
                        };
                        if covered && !found.contains(&(admin as u16)) {
                            found.push(admin as u16);
                        }
                    }
                }
                block = None;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ssh_open_to_the_world() {
        let hcl = r#"
resource "aws_security_group" "x" {
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}"#;
        assert_eq!(open_admin_ingress(hcl), vec![22]);
    }

    #[test]
    fn web_ports_and_private_ssh_are_fine() {
        let hcl = r#"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/16"]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }"#;
        assert!(open_admin_ingress(hcl).is_empty());
    }

    #[test]
    fn all_protocols_from_anywhere_counts() {
        let hcl = r#"
resource "aws_vpc_security_group_ingress_rule" "all" {
  ip_protocol = "-1"
  cidr_ipv4   = "0.0.0.0/0"
}"#;
        assert_eq!(open_admin_ingress(hcl), vec![22, 3389]);
    }
}
