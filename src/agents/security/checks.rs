//! The checks a security scan runs, by the scope that runs them, and the ids older versions
//! stored. Ids are Prowler's names wherever Prowler has the same check, so a finding can be
//! compared with a Prowler run and mapped through the same compliance frameworks
//! (`policies/compliance/`, `reports::compliance`).

use crate::intent::ScanScope;

use super::network;

/// One check of our own scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub id: &'static str,
    /// The part of a scan that runs it ("scan buckets" runs the S3 checks only).
    pub scope: ScanScope,
    /// What passing means.
    pub title: &'static str,
}

/// Every check a scan runs, in the order of the docs' table.
pub const CHECKS: [Check; 11] = [
    Check {
        id: "s3_account_level_public_access_blocks",
        scope: ScanScope::S3,
        title: "S3 Block Public Access is on for the whole account",
    },
    Check {
        id: "s3_bucket_public_access",
        scope: ScanScope::S3,
        title: "S3 bucket is not publicly accessible",
    },
    Check {
        id: "s3_bucket_level_public_access_block",
        scope: ScanScope::S3,
        title: "S3 bucket has Block Public Access on",
    },
    Check {
        id: "s3_bucket_default_encryption",
        scope: ScanScope::S3,
        title: "S3 bucket has default encryption",
    },
    Check {
        id: network::TCP_PORT_22,
        scope: ScanScope::Ec2,
        title: "Security group does not allow SSH from the internet",
    },
    Check {
        id: network::TCP_PORT_3389,
        scope: ScanScope::Ec2,
        title: "Security group does not allow RDP from the internet",
    },
    Check {
        id: network::ALL_PORTS,
        scope: ScanScope::Ec2,
        title: "Security group does not allow ingress from the internet to all ports",
    },
    Check {
        id: "iam_user_mfa_enabled_console_access",
        scope: ScanScope::Iam,
        title: "IAM user with a console password has MFA",
    },
    Check {
        id: "iam_rotate_access_key_90_days",
        scope: ScanScope::Iam,
        title: "Active access keys are rotated",
    },
    Check {
        id: "iam_root_mfa_enabled",
        scope: ScanScope::Iam,
        title: "The root account has MFA",
    },
    Check {
        id: "iam_no_root_access_key",
        scope: ScanScope::Iam,
        title: "The root account has no access keys",
    },
];

/// Ids stored by earlier versions → today's id (findings in stored reports keep their text;
/// readers map them).
pub const RENAMED: [(&str, &str); 2] = [
    (
        "ec2_securitygroup_allow_ingress_from_internet_to_port_22",
        network::TCP_PORT_22,
    ),
    (
        "ec2_securitygroup_allow_ingress_from_internet_to_port_3389",
        network::TCP_PORT_3389,
    ),
];

/// Today's id of a check id read from a stored finding.
pub fn canonical(id: &str) -> &str {
    RENAMED
        .iter()
        .find(|(old, _)| *old == id)
        .map(|(_, new)| *new)
        .unwrap_or(id)
}

/// The check with this id (today's or an earlier one).
pub fn find(id: &str) -> Option<&'static Check> {
    let id = canonical(id);
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_old_ids_map_to_current_ones() {
        let ids: std::collections::BTreeSet<&str> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CHECKS.len());
        for (old, new) in RENAMED {
            assert!(!ids.contains(old), "{old} is no longer a check id");
            assert_eq!(find(old).map(|c| c.id), Some(new));
        }
        assert_eq!(
            canonical("ec2_securitygroup_allow_ingress_from_internet_to_port_22"),
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"
        );
        assert_eq!(canonical("iam_root_mfa_enabled"), "iam_root_mfa_enabled");
        assert!(find("guardduty_finding").is_none());
    }

    /// Every finding a scan can make names a catalogued check, with the catalogue's title, and
    /// every catalogued check is made by some part of the scan: the list the compliance
    /// mapping is validated against is the scan's own.
    #[test]
    fn the_catalogue_is_what_the_scan_makes() {
        use super::super::{iam, network, s3};
        let now: jiff::Timestamp = "2026-11-24T00:00:00Z".parse().unwrap();
        let mut made = s3::account_findings("123456789012", None, "us-east-1");
        made.extend(s3::bucket_findings(
            &s3::BucketState {
                name: "b".into(),
                region: "us-east-1".into(),
                ..s3::BucketState::default()
            },
            None,
        ));
        made.extend(iam::user_findings(
            &iam::UserState {
                name: "u".into(),
                arn: "arn:aws:iam::123456789012:user/u".into(),
                console: true,
                mfa_devices: 0,
                keys: vec![(
                    "AKIAOLDOLDOLDOLD1234".into(),
                    "Active".into(),
                    Some("2026-01-01T00:00:00Z".parse().unwrap()),
                )],
            },
            90,
            now,
        ));
        made.extend(iam::root_findings(
            iam::RootState {
                mfa_enabled: false,
                access_keys_present: true,
            },
            "123456789012",
        ));
        made.extend(network::findings(
            &[network::GroupRef {
                group_id: "sg-1".into(),
                group_name: "web".into(),
            }],
            &[],
            "us-east-1",
            "123456789012",
        ));
        for f in &made {
            let c = find(&f.check_id).unwrap_or_else(|| panic!("{} is not catalogued", f.check_id));
            assert_eq!(c.id, f.check_id);
            assert_eq!(c.title, f.title, "{}", c.id);
        }
        for c in CHECKS {
            assert!(
                made.iter().any(|f| f.check_id == c.id),
                "{} is never made",
                c.id
            );
        }
    }
}
