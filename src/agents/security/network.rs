//! Security groups open to the internet (0.0.0.0/0 or ::/0) on SSH, RDP or every port.

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};

use super::finding::{Finding, Remediation, Severity, Status};
use crate::agents::insight::aws_error;
use crate::error::Result;

/// One ingress range open to the internet, exactly as the group holds it (what a revoke takes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRule {
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: Option<String>,
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// `0.0.0.0/0` or `::/0`.
    pub cidr: String,
}

impl OpenRule {
    pub fn all_ports(&self) -> bool {
        self.protocol == "-1"
            || (self.from_port.unwrap_or(0) <= 0 && self.to_port.unwrap_or(65535) >= 65535)
    }
    pub fn covers(&self, port: i32) -> bool {
        self.all_ports()
            || (matches!(self.protocol.as_str(), "tcp" | "6")
                && self.from_port.unwrap_or(0) <= port
                && self.to_port.unwrap_or(65535) >= port)
    }
    pub fn ports_text(&self) -> String {
        if self.all_ports() {
            "all ports".into()
        } else if self.from_port == self.to_port {
            format!("{} port {}", self.protocol, self.from_port.unwrap_or(0))
        } else {
            format!(
                "{} ports {}-{}",
                self.protocol,
                self.from_port.unwrap_or(0),
                self.to_port.unwrap_or(0)
            )
        }
    }
}

/// Every group's internet-open ingress ranges, and how many groups were read.
pub async fn open_rules(conf: SdkConfig, only: Vec<String>) -> Result<(usize, Vec<OpenRule>)> {
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let mut out = Vec::new();
    let mut groups = 0;
    let mut pages = ec2
        .describe_security_groups()
        .set_group_ids((!only.is_empty()).then_some(only))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("EC2", "DescribeSecurityGroups", &e))?;
        for g in page.security_groups() {
            groups += 1;
            let id = g.group_id().unwrap_or_default();
            for p in g.ip_permissions() {
                let cidrs = p
                    .ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip())
                    .chain(p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6()))
                    .filter(|c| matches!(*c, "0.0.0.0/0" | "::/0"));
                for cidr in cidrs {
                    out.push(OpenRule {
                        group_id: id.to_string(),
                        group_name: g.group_name().unwrap_or_default().to_string(),
                        vpc_id: g.vpc_id().map(str::to_string),
                        protocol: p.ip_protocol().unwrap_or("-1").to_string(),
                        from_port: p.from_port(),
                        to_port: p.to_port(),
                        cidr: cidr.to_string(),
                    });
                }
            }
        }
    }
    Ok((groups, out))
}

/// Which check a rule fails: all ports, SSH, RDP. Other ports open to the internet (a web
/// server's 443) are not findings.
pub fn checks_of(rule: &OpenRule) -> Vec<(&'static str, i32)> {
    if rule.all_ports() {
        return vec![(
            "ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
            0,
        )];
    }
    let mut v = Vec::new();
    if rule.covers(22) {
        v.push((
            "ec2_securitygroup_allow_ingress_from_internet_to_port_22",
            22,
        ));
    }
    if rule.covers(3389) {
        v.push((
            "ec2_securitygroup_allow_ingress_from_internet_to_port_3389",
            3389,
        ));
    }
    v
}

pub fn findings(rules: &[OpenRule], region: &str, account: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in rules {
        for (check, port) in checks_of(r) {
            let arn = format!(
                "arn:aws:ec2:{region}:{account}:security-group/{}",
                r.group_id
            );
            let (title, sev, adjust, request) = match port {
                0 => (
                    "Security group does not allow ingress from the internet to all ports",
                    Severity::Critical,
                    0,
                    format!("revoke all ports from {} on {}", r.cidr, r.group_id),
                ),
                22 => (
                    "Security group does not allow SSH from the internet",
                    Severity::High,
                    10,
                    format!("revoke ssh from {} on {}", r.cidr, r.group_id),
                ),
                _ => (
                    "Security group does not allow RDP from the internet",
                    Severity::High,
                    10,
                    format!("revoke rdp from {} on {}", r.cidr, r.group_id),
                ),
            };
            out.push(Finding {
                uid: super::finding::uid(&["opsdeck", check, &arn, &r.cidr, &r.ports_text()]),
                ..Finding::check(
                    check,
                    title,
                    sev,
                    adjust,
                    Status::Fail,
                    format!(
                        "{} ({}) allows {} from {}",
                        r.group_id,
                        r.group_name,
                        r.ports_text(),
                        r.cidr
                    ),
                    (&arn, "AwsEc2SecurityGroup", &r.group_id, region),
                    Remediation {
                        text: "remove the internet-wide rule; reach instances through SSM Session Manager or a VPN, or allow only known address ranges".into(),
                        request: Some(request),
                    },
                )
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: i32, to: i32) -> OpenRule {
        OpenRule {
            group_id: "sg-0123abcd".into(),
            group_name: "web".into(),
            vpc_id: None,
            protocol: protocol.into(),
            from_port: Some(from),
            to_port: Some(to),
            cidr: "0.0.0.0/0".into(),
        }
    }

    #[test]
    fn ports_and_checks() {
        assert_eq!(checks_of(&rule("tcp", 22, 22))[0].1, 22);
        assert_eq!(checks_of(&rule("tcp", 443, 443)), vec![]);
        let range = checks_of(&rule("tcp", 20, 4000));
        assert_eq!(
            range.iter().map(|c| c.1).collect::<Vec<_>>(),
            vec![22, 3389]
        );
        let all = OpenRule {
            from_port: None,
            to_port: None,
            ..rule("-1", 0, 0)
        };
        assert_eq!(checks_of(&all)[0].1, 0);
        assert_eq!(checks_of(&rule("udp", 22, 22)), vec![]);
        let f = findings(&[rule("tcp", 3389, 3389)], "us-east-1", "123456789012");
        assert_eq!(
            f[0].remediation.request.as_deref(),
            Some("revoke rdp from 0.0.0.0/0 on sg-0123abcd")
        );
        assert_eq!(f[0].risk_score, 80);
    }
}
