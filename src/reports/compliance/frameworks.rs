//! The compliance frameworks' data files (`policies/compliance/*.json`, compiled in): which
//! controls each security check gives evidence for. Each file must account for every check the
//! security agent runs — mapped to a control, or listed under `not_mapped` with the reason —
//! and name only checks that exist; `load` refuses a file that does not.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::agents::security::checks;
use crate::error::{Error, Result};

/// A framework the compliance report can map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    /// CIS Amazon Web Services Foundations Benchmark v3.0.0.
    Cis,
    /// SOC 2 Trust Services Criteria, common criteria (CC).
    Soc2,
    /// ISO/IEC 27001:2022 Annex A.
    Iso27001,
}

impl Framework {
    pub const ALL: [Framework; 3] = [Framework::Cis, Framework::Soc2, Framework::Iso27001];

    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Cis => "cis",
            Framework::Soc2 => "soc2",
            Framework::Iso27001 => "iso27001",
        }
    }

    /// The data file, as compiled in, and its name for errors.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Framework::Cis => (
                "policies/compliance/cis_aws_3.0.json",
                include_str!("../../../policies/compliance/cis_aws_3.0.json"),
            ),
            Framework::Soc2 => (
                "policies/compliance/soc2.json",
                include_str!("../../../policies/compliance/soc2.json"),
            ),
            Framework::Iso27001 => (
                "policies/compliance/iso27001_2022.json",
                include_str!("../../../policies/compliance/iso27001_2022.json"),
            ),
        }
    }
}

impl FromStr for Framework {
    type Err = Error;
    fn from_str(s: &str) -> Result<Framework> {
        Framework::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::input(format!(
                    "unknown framework '{s}': use cis (CIS AWS Foundations v3.0), soc2 (SOC 2 CC series) or iso27001 (ISO/IEC 27001:2022 Annex A)"
                ))
            })
    }
}

/// One framework's mapping, as its data file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub framework: Framework,
    pub name: String,
    pub version: String,
    /// Where the ids and titles were checked.
    pub reference: String,
    pub controls: Vec<Control>,
    #[serde(default)]
    pub not_mapped: Vec<NotMapped>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub section: String,
    /// Why these checks give evidence for it, where that is not plain from the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub checks: Vec<String>,
}

/// A check the framework has no control for, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotMapped {
    pub check: String,
    pub why: String,
}

/// The framework's mapping, validated.
pub fn load(framework: Framework) -> Result<Mapping> {
    let (name, text) = framework.source();
    parse(framework, name, text)
}

/// Parses and validates one data file's text.
pub fn parse(framework: Framework, name: &str, text: &str) -> Result<Mapping> {
    let bad = |why: String| Error::input(format!("{name}: {why}"));
    let m: Mapping = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if m.framework != framework {
        return Err(bad(format!(
            "holds framework '{}', expected '{}'",
            m.framework.as_str(),
            framework.as_str()
        )));
    }
    let known: BTreeSet<&str> = checks::CHECKS.iter().map(|c| c.id).collect();
    let mut ids = BTreeSet::new();
    let mut accounted = BTreeSet::new();
    for c in &m.controls {
        if c.id.trim().is_empty() || c.title.trim().is_empty() || c.section.trim().is_empty() {
            return Err(bad(format!(
                "control '{}' needs an id, a title and a section",
                c.id
            )));
        }
        if !ids.insert(c.id.as_str()) {
            return Err(bad(format!("control {} is listed twice", c.id)));
        }
        if c.checks.is_empty() {
            return Err(bad(format!("control {} maps no check", c.id)));
        }
        let mut seen = BTreeSet::new();
        for check in &c.checks {
            if !known.contains(check.as_str()) {
                return Err(bad(format!(
                    "control {} names '{check}', which is not a check the security scan runs{}",
                    c.id,
                    if checks::canonical(check) != check {
                        format!(" (it was renamed {})", checks::canonical(check))
                    } else {
                        String::new()
                    }
                )));
            }
            if !seen.insert(check.as_str()) {
                return Err(bad(format!("control {} names {check} twice", c.id)));
            }
            accounted.insert(check.as_str());
        }
    }
    for n in &m.not_mapped {
        if !known.contains(n.check.as_str()) {
            return Err(bad(format!(
                "not_mapped names '{}', which is not a check the security scan runs",
                n.check
            )));
        }
        if accounted.contains(n.check.as_str()) {
            return Err(bad(format!(
                "{} is both mapped and listed as not mapped",
                n.check
            )));
        }
        if n.why.trim().is_empty() {
            return Err(bad(format!("not_mapped {} needs a reason", n.check)));
        }
        accounted.insert(n.check.as_str());
    }
    let missing: Vec<&str> = known.difference(&accounted).copied().collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "says nothing of {}: map each to a control or list it under not_mapped with the reason",
            missing.join(", ")
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_framework_file_loads_and_accounts_for_every_check() {
        for f in Framework::ALL {
            let m = load(f).unwrap_or_else(|e| panic!("{}: {e}", f.as_str()));
            assert!(!m.controls.is_empty());
            for check in checks::CHECKS {
                let mapped = m
                    .controls
                    .iter()
                    .any(|c| c.checks.iter().any(|x| x == check.id));
                let excused = m.not_mapped.iter().any(|n| n.check == check.id);
                assert!(mapped ^ excused, "{}: {}", f.as_str(), check.id);
            }
        }
    }

    #[test]
    fn control_ids_have_each_frameworks_shape() {
        let shape = |f: Framework, id: &str| -> bool {
            let nums = |s: &str, parts: std::ops::RangeInclusive<usize>| {
                let p: Vec<&str> = s.split('.').collect();
                parts.contains(&p.len())
                    && p.iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            };
            match f {
                Framework::Cis => nums(id, 2..=3),
                Framework::Soc2 => id.strip_prefix("CC").is_some_and(|r| nums(r, 2..=2)),
                Framework::Iso27001 => id.strip_prefix("A.").is_some_and(|r| {
                    nums(r, 2..=2) && matches!(&r[..2], "5." | "6." | "7." | "8.")
                }),
            }
        };
        for f in Framework::ALL {
            for c in load(f).unwrap().controls {
                assert!(shape(f, &c.id), "{}: {}", f.as_str(), c.id);
            }
        }
        // The ids a reader of each standard looks for.
        let ids = |f| -> Vec<String> {
            load(f)
                .unwrap()
                .controls
                .into_iter()
                .map(|c| c.id)
                .collect()
        };
        for id in ["1.4", "1.5", "1.10", "1.14", "2.1.4", "5.2", "5.3"] {
            assert!(ids(Framework::Cis).iter().any(|x| x == id), "CIS {id}");
        }
        assert!(ids(Framework::Soc2).iter().any(|x| x == "CC6.6"));
        assert!(ids(Framework::Iso27001).iter().any(|x| x == "A.8.20"));
    }

    #[test]
    fn bad_files_are_refused_naming_what_is_wrong() {
        let (_, text) = Framework::Cis.source();
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
            f(&mut v);
            parse(Framework::Cis, "cis.json", &v.to_string())
                .unwrap_err()
                .to_string()
        };
        let e = edit(&|v| {
            v["controls"][0]["checks"][0] =
                "ec2_securitygroup_allow_ingress_from_internet_to_port_22".into()
        });
        assert!(
            e.contains("renamed ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22"),
            "{e}"
        );
        let e = edit(&|v| {
            v["not_mapped"].as_array_mut().unwrap().pop();
        });
        assert!(
            e.contains("says nothing of s3_bucket_default_encryption"),
            "{e}"
        );
        let e = edit(&|v| {
            let first = v["controls"][0].clone();
            v["controls"].as_array_mut().unwrap().push(first);
        });
        assert!(e.contains("control 1.4 is listed twice"), "{e}");
        let e = edit(&|v| v["controls"][0]["weight"] = 3.into());
        assert!(e.contains("unknown field"), "{e}");
        let e = edit(&|v| v["framework"] = "soc2".into());
        assert!(e.contains("expected 'cis'"), "{e}");
        assert!("pci".parse::<Framework>().is_err());
        assert_eq!(
            "ISO27001".parse::<Framework>().unwrap(),
            Framework::Iso27001
        );
    }
}
