//! Quick actions on a row of an answer's table: what a requester may ask next about the thing
//! the row shows — a finding → remediate it, an instance → restart, stop or start it, a log
//! group or a function → tail its logs. An action is request text for the prompt, never run
//! from here: the requester reads it, sends it, and it meets the usual gates.
//!
//! The row is read by its columns into a typed subject first, and every value is checked for
//! what it claims to be (an instance id, a bucket name, a security group id, a check id, a log
//! group or function name, a region) before it enters request text: a cell that is not one (a
//! clipped name, words, anything else) offers no action.

/// An action offered on a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickAction {
    /// `restart`, `stop`, `start`, `remediate`, `tail`.
    pub verb: &'static str,
    /// The request put in the prompt.
    pub request: String,
}

/// What a row is about, its values checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSubject {
    Instance {
        id: String,
        state: Option<String>,
        region: Option<String>,
    },
    /// A failed check on a bucket or a security group.
    Finding {
        check: String,
        target: FindingTarget,
        region: Option<String>,
    },
    LogGroup {
        name: String,
        region: Option<String>,
    },
    Function {
        name: String,
        region: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingTarget {
    Bucket(String),
    SecurityGroup(String),
}

impl RowSubject {
    /// Reads a row by its table's column headings (as the agents name them: `INSTANCE`,
    /// `CHECK`, `RESOURCE`, `LOG GROUP`, `FUNCTION`, ...). None when the row is about nothing
    /// an action exists for, or a value is not what its column claims.
    pub fn of(columns: &[String], cells: &[String]) -> Option<RowSubject> {
        let cell = |name: &str| -> Option<&str> {
            let i = columns.iter().position(|c| c.eq_ignore_ascii_case(name))?;
            cells.get(i).map(|s| s.trim()).filter(|s| !s.is_empty())
        };
        let region = cell("REGION")
            .filter(|r| crate::intent::is_region_code(r))
            .or_else(|| cell("ZONE").and_then(region_of_zone))
            .map(str::to_string);
        if let Some(check) = cell("CHECK") {
            let check = check_id(check)?;
            let resource = cell("RESOURCE")?;
            let target = if check.starts_with("s3_") {
                FindingTarget::Bucket(bucket_name(resource)?.to_string())
            } else if check.starts_with("ec2_securitygroup") {
                FindingTarget::SecurityGroup(security_group_id(resource)?.to_string())
            } else {
                return None;
            };
            return Some(RowSubject::Finding {
                check: check.to_string(),
                target,
                region,
            });
        }
        if let Some(id) = cell("INSTANCE") {
            return Some(RowSubject::Instance {
                id: instance_id(id)?.to_string(),
                state: cell("STATE")
                    .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                    .map(str::to_string),
                region,
            });
        }
        if let Some(name) = cell("LOG GROUP") {
            return Some(RowSubject::LogGroup {
                name: log_group_name(name)?.to_string(),
                region,
            });
        }
        if let Some(name) = cell("FUNCTION") {
            return Some(RowSubject::Function {
                name: function_name(name)?.to_string(),
                region,
            });
        }
        None
    }

    /// The actions on this subject, as request text the parser reads back to the same thing.
    pub fn actions(&self) -> Vec<QuickAction> {
        let in_region =
            |r: &Option<String>| r.as_ref().map(|r| format!(" in {r}")).unwrap_or_default();
        let action = |verb: &'static str, request: String| QuickAction { verb, request };
        match self {
            RowSubject::Instance { id, state, region } => {
                let r = in_region(region);
                match state.as_deref() {
                    Some("stopped") => vec![action("start", format!("start instance {id}{r}"))],
                    Some("running") | None => vec![
                        action("restart", format!("restart instance {id}{r}")),
                        action("stop", format!("stop instance {id}{r}")),
                    ],
                    // Pending, stopping, terminated: nothing to ask for yet, or ever.
                    Some(_) => Vec::new(),
                }
            }
            RowSubject::Finding {
                check,
                target,
                region,
            } => {
                let r = in_region(region);
                vec![action(
                    "remediate",
                    match target {
                        FindingTarget::Bucket(b) => format!("remediate {check} on bucket {b}{r}"),
                        FindingTarget::SecurityGroup(g) => {
                            format!("close the open ports on security group {g}{r}")
                        }
                    },
                )]
            }
            RowSubject::LogGroup { name, region } => vec![action(
                "tail",
                format!("tail log group {name}{}", in_region(region)),
            )],
            RowSubject::Function { name, region } => vec![action(
                "tail",
                format!(
                    "show last 24h error logs from Lambda {name}{}",
                    in_region(region)
                ),
            )],
        }
    }
}

/// The actions on a row (none when it is about nothing actionable).
pub fn quick_actions(columns: &[String], cells: &[String]) -> Vec<QuickAction> {
    RowSubject::of(columns, cells)
        .map(|s| s.actions())
        .unwrap_or_default()
}

/// `i-` and 8 or 17 lowercase hex digits.
fn instance_id(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("i-")?;
    ((hex.len() == 8 || hex.len() == 17)
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(s)
}

/// `sg-` and 8 or 17 lowercase hex digits.
fn security_group_id(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sg-")?;
    ((hex.len() == 8 || hex.len() == 17)
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(s)
}

/// A Prowler-style check id: lowercase letters, digits and underscores, starting with a letter.
fn check_id(s: &str) -> Option<&str> {
    (s.len() <= 128
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    .then_some(s)
}

/// S3's bucket naming rules: 3 to 63 of lowercase letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
fn bucket_name(s: &str) -> Option<&str> {
    let edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    ((3..=63).contains(&s.len())
        && s.starts_with(edge)
        && s.ends_with(edge)
        && s.chars().all(|c| edge(c) || c == '.' || c == '-'))
    .then_some(s)
}

/// CloudWatch Logs' group names: 1 to 512 of letters, digits and `_ - / . #`.
fn log_group_name(s: &str) -> Option<&str> {
    ((1..=512).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.#".contains(c)))
    .then_some(s)
}

/// Lambda's function names: 1 to 64 of letters, digits, hyphens and underscores.
fn function_name(s: &str) -> Option<&str> {
    ((1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(s)
}

/// `us-east-1a` → `us-east-1`, when that is a region.
fn region_of_zone(zone: &str) -> Option<&str> {
    let region = zone.strip_suffix(|c: char| c.is_ascii_lowercase())?;
    crate::intent::is_region_code(region).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn requests(columns: &[&str], cells: &[&str]) -> Vec<String> {
        quick_actions(&cols(columns), &cols(cells))
            .into_iter()
            .map(|a| a.request)
            .collect()
    }

    const INSTANCES: &[&str] = &[
        "INSTANCE",
        "NAME",
        "STATE",
        "TYPE",
        "ENV",
        "ZONE",
        "PRIVATE IP",
    ];
    const FINDINGS: &[&str] = &[
        "RISK", "SEVERITY", "CHECK", "RESOURCE", "REGION", "DETAIL", "FIX",
    ];

    #[test]
    fn an_instance_row_offers_restart_and_stop_or_start_in_its_region() {
        let running = [
            "i-0123456789abcdef0",
            "web-1",
            "running",
            "t3.micro",
            "staging",
            "us-east-1a",
            "10.0.0.1",
        ];
        assert_eq!(
            requests(INSTANCES, &running),
            vec![
                "restart instance i-0123456789abcdef0 in us-east-1",
                "stop instance i-0123456789abcdef0 in us-east-1"
            ]
        );
        let mut stopped = running;
        stopped[2] = "stopped";
        assert_eq!(
            requests(INSTANCES, &stopped),
            vec!["start instance i-0123456789abcdef0 in us-east-1"]
        );
        let mut gone = running;
        gone[2] = "terminated";
        assert!(requests(INSTANCES, &gone).is_empty());
    }

    #[test]
    fn a_finding_row_offers_remediate_for_buckets_and_security_groups_only() {
        let bucket = [
            "90",
            "high",
            "s3_bucket_level_public_access_block",
            "logs-archive",
            "eu-west-1",
            "public",
            "block",
        ];
        assert_eq!(
            requests(FINDINGS, &bucket),
            vec![
                "remediate s3_bucket_level_public_access_block on bucket logs-archive in eu-west-1"
            ]
        );
        let group = [
            "95",
            "critical",
            "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
            "sg-0123abcd",
            "us-east-1",
            "22 open",
            "revoke",
        ];
        assert_eq!(
            requests(FINDINGS, &group),
            vec!["close the open ports on security group sg-0123abcd in us-east-1"]
        );
        let mut iam = bucket;
        iam[2] = "iam_user_mfa_enabled_console_access";
        iam[3] = "deploy";
        assert!(
            requests(FINDINGS, &iam).is_empty(),
            "no remediation for IAM here"
        );
    }

    #[test]
    fn values_that_are_not_what_their_column_claims_offer_nothing() {
        let mut row = [
            "i-0123456789abcdef0",
            "web-1",
            "running",
            "t3.micro",
            "staging",
            "us-east-1a",
            "10.0.0.1",
        ];
        for bad in [
            "i-0123; rm -rf /",
            "i-XYZ",
            "restart everything",
            "i-0123456789abcdef0 and i-1",
            "",
        ] {
            row[0] = bad;
            assert!(requests(INSTANCES, &row).is_empty(), "{bad:?}");
        }
        // A zone that is no region's: the action names no region rather than a made-up one.
        row[0] = "i-0123456789abcdef0";
        row[5] = "mars-1a";
        assert_eq!(
            requests(INSTANCES, &row)[0],
            "restart instance i-0123456789abcdef0"
        );
        let findings = |check: &str, resource: &str| {
            requests(
                FINDINGS,
                &["90", "high", check, resource, "us-east-1", "x", "y"],
            )
        };
        // A clipped bucket name (the table cuts long ones), a name with spaces, a bad check id.
        assert!(
            findings(
                "s3_bucket_public_access",
                "very-long-bucket-name-that-was-cli…"
            )
            .is_empty()
        );
        assert!(findings("s3_bucket_public_access", "two words").is_empty());
        assert!(findings("S3 Bucket; drop", "logs-archive").is_empty());
        assert!(
            findings("ec2_securitygroup_x", "web-sg").is_empty(),
            "a name, not an id"
        );
        // Log groups and functions: their names' character sets.
        assert_eq!(
            requests(
                &["LOG GROUP", "REGION"],
                &["/aws/lambda/my-func", "us-east-1"]
            ),
            vec!["tail log group /aws/lambda/my-func in us-east-1"]
        );
        assert!(requests(&["LOG GROUP"], &["/aws/lambda/x\"; y"]).is_empty());
        assert_eq!(
            requests(&["FUNCTION"], &["my-func"]),
            vec!["show last 24h error logs from Lambda my-func"]
        );
        assert!(requests(&["FUNCTION"], &["my func"]).is_empty());
        assert!(requests(&["COUNT", "MESSAGE"], &["3", "boom"]).is_empty());
    }

    #[test]
    fn every_action_reads_back_as_the_request_it_names() {
        let limits = crate::intent::Limits::any_tenant();
        let cases: Vec<(RowSubject, &str, &str)> = vec![
            (
                RowSubject::Instance {
                    id: "i-0123456789abcdef0".into(),
                    state: Some("running".into()),
                    region: Some("us-east-1".into()),
                },
                "ops",
                "restart",
            ),
            (
                RowSubject::Finding {
                    check: "s3_bucket_level_public_access_block".into(),
                    target: FindingTarget::Bucket("logs-archive".into()),
                    region: Some("eu-west-1".into()),
                },
                "security",
                "remediate",
            ),
            (
                RowSubject::Finding {
                    check: "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22".into(),
                    target: FindingTarget::SecurityGroup("sg-0123abcd".into()),
                    region: Some("us-east-1".into()),
                },
                "security",
                "remediate",
            ),
            (
                RowSubject::LogGroup {
                    name: "/ecs/web".into(),
                    region: Some("us-east-1".into()),
                },
                "monitor",
                "logs",
            ),
            (
                RowSubject::Function {
                    name: "my-func".into(),
                    region: None,
                },
                "monitor",
                "logs",
            ),
        ];
        for (subject, agent, action) in cases {
            let first = &subject.actions()[0];
            let read = crate::intent::parse_with(&first.request, &limits).unwrap();
            assert_eq!(
                (
                    read.agent.as_str(),
                    read.action.as_str(),
                    read.low_confidence
                ),
                (agent, action, false),
                "{}",
                first.request
            );
        }
        let stop = &RowSubject::Instance {
            id: "i-0123456789abcdef0".into(),
            state: None,
            region: None,
        }
        .actions()[1];
        let read = crate::intent::parse_with(&stop.request, &limits).unwrap();
        assert_eq!(read.action, "stop");
        assert_eq!(
            read.params.instance_ids,
            vec!["i-0123456789abcdef0".to_string()]
        );
    }
}
