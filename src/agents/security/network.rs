//! Security groups open to the internet (0.0.0.0/0 or ::/0) on SSH, RDP or every port.
//!
//! Check ids are Prowler's (`…_tcp_port_22`); findings stored before they were renamed carry
//! the older ids, which [`super::checks::canonical`] maps.

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

/// A security group that was read: every check is judged on it, PASS or FAIL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub group_id: String,
    pub group_name: String,
}

/// Every group read, and their internet-open ingress ranges.
pub async fn open_rules(
    conf: SdkConfig,
    only: Vec<String>,
) -> Result<(Vec<GroupRef>, Vec<OpenRule>)> {
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let mut out = Vec::new();
    let mut groups = Vec::new();
    let mut pages = ec2
        .describe_security_groups()
        .set_group_ids((!only.is_empty()).then_some(only))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("EC2", "DescribeSecurityGroups", &e))?;
        for g in page.security_groups() {
            let id = g.group_id().unwrap_or_default();
            groups.push(GroupRef {
                group_id: id.to_string(),
                group_name: g.group_name().unwrap_or_default().to_string(),
            });
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

pub const ALL_PORTS: &str = "ec2_securitygroup_allow_ingress_from_internet_to_all_ports";
pub const TCP_PORT_22: &str = "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22";
pub const TCP_PORT_3389: &str = "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389";
/// The checks judged on every group read, with the port each is about (0: all ports).
pub const CHECKS: [(&str, i32); 3] = [(ALL_PORTS, 0), (TCP_PORT_22, 22), (TCP_PORT_3389, 3389)];

/// Which checks a rule fails: all ports (and with them SSH and RDP, as Prowler judges it), SSH,
/// RDP. Other ports open to the internet (a web server's 443) are not findings.
pub fn checks_of(rule: &OpenRule) -> Vec<(&'static str, i32)> {
    if rule.all_ports() {
        return CHECKS.to_vec();
    }
    let mut v = Vec::new();
    if rule.covers(22) {
        v.push((TCP_PORT_22, 22));
    }
    if rule.covers(3389) {
        v.push((TCP_PORT_3389, 3389));
    }
    v
}

/// Title, severity, score adjustment and the revoke verb of each check.
fn about(port: i32) -> (&'static str, Severity, i16, &'static str) {
    match port {
        0 => (
            "Security group does not allow ingress from the internet to all ports",
            Severity::Critical,
            0,
            "all ports",
        ),
        22 => (
            "Security group does not allow SSH from the internet",
            Severity::High,
            10,
            "ssh",
        ),
        _ => (
            "Security group does not allow RDP from the internet",
            Severity::High,
            10,
            "rdp",
        ),
    }
}

fn group_arn(region: &str, account: &str, group_id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:security-group/{group_id}")
}

/// A FAIL finding per open rule and check it fails, and a PASS finding per group and check no
/// rule of it fails (so exports show every check that ran, not only failures).
pub fn findings(
    groups: &[GroupRef],
    rules: &[OpenRule],
    region: &str,
    account: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut failed = std::collections::BTreeSet::new();
    for r in rules {
        for (check, port) in checks_of(r) {
            failed.insert((r.group_id.as_str(), check));
            let arn = group_arn(region, account, &r.group_id);
            let (title, sev, adjust, verb) = about(port);
            // The fix of an all-ports rule is revoking it, whichever check names it.
            let verb = if r.all_ports() { "all ports" } else { verb };
            let request = format!("revoke {verb} from {} on {}", r.cidr, r.group_id);
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
    for g in groups {
        for (check, port) in CHECKS {
            if failed.contains(&(g.group_id.as_str(), check)) {
                continue;
            }
            let arn = group_arn(region, account, &g.group_id);
            let (title, sev, adjust, _) = about(port);
            out.push(Finding::check(
                check,
                title,
                sev,
                adjust,
                Status::Pass,
                format!(
                    "{} ({}) allows {} from no internet-wide range",
                    g.group_id,
                    g.group_name,
                    match port {
                        0 => "all ports".to_string(),
                        p => format!("tcp port {p}"),
                    }
                ),
                (&arn, "AwsEc2SecurityGroup", &g.group_id, region),
                Remediation {
                    text: "nothing to do".into(),
                    request: None,
                },
            ));
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
        assert_eq!(
            checks_of(&all).iter().map(|c| c.1).collect::<Vec<_>>(),
            vec![0, 22, 3389],
            "all ports open SSH and RDP too"
        );
        let f = findings(&[], &[all], "us-east-1", "123456789012");
        assert!(f.iter().all(|x| x.status == Status::Fail
            && x.remediation.request.as_deref()
                == Some("revoke all ports from 0.0.0.0/0 on sg-0123abcd")));
        assert_eq!(checks_of(&rule("udp", 22, 22)), vec![]);
        let groups = [
            GroupRef {
                group_id: "sg-0123abcd".into(),
                group_name: "web".into(),
            },
            GroupRef {
                group_id: "sg-closed".into(),
                group_name: "db".into(),
            },
        ];
        let f = findings(
            &groups,
            &[rule("tcp", 3389, 3389)],
            "us-east-1",
            "123456789012",
        );
        assert_eq!(f[0].check_id, TCP_PORT_3389);
        assert_eq!(
            f[0].remediation.request.as_deref(),
            Some("revoke rdp from 0.0.0.0/0 on sg-0123abcd")
        );
        assert_eq!(f[0].risk_score, 80);
        // Every check that ran has a row: the open group passes the two it does not fail, the
        // closed group passes all three.
        let rows = |g: &str, st: Status| {
            f.iter()
                .filter(|x| x.resource_name == g && x.status == st)
                .map(|x| x.check_id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(rows("sg-0123abcd", Status::Fail), vec![TCP_PORT_3389]);
        assert_eq!(
            rows("sg-0123abcd", Status::Pass),
            vec![ALL_PORTS, TCP_PORT_22]
        );
        assert_eq!(
            rows("sg-closed", Status::Pass),
            vec![ALL_PORTS, TCP_PORT_22, TCP_PORT_3389]
        );
        assert!(
            f.iter()
                .all(|x| x.status == Status::Fail || x.risk_score == 0)
        );
    }
}
