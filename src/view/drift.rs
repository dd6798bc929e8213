//! A drift check as front ends show it: one block per stack (its status, then each change,
//! recorded → actual), what to do about a drifted one, and the status bar's badge.

use serde_json::Value;

use crate::pipeline::{
    DriftChange, DriftReport, DriftSource, DriftStatus, HostsDrift, ResourceDrift, StackDrift,
};

/// One stack's block.
#[derive(Debug, Clone, PartialEq)]
pub struct StackDriftView {
    pub stack: String,
    pub status: DriftStatus,
    /// "clean", "DRIFTED", "not checked".
    pub label: &'static str,
    /// One line: the stack's summary.
    pub headline: String,
    /// "changed outside (refresh): terraform_data.x input: "a" → "b"", one per change.
    pub changes: Vec<String>,
    /// The commands that deal with it (a drifted stack only).
    pub next: Vec<String>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftView {
    /// "3 stacks checked at …: 1 drifted, 2 clean".
    pub headline: String,
    pub stacks: Vec<StackDriftView>,
    /// Applied playbooks' hosts, in the same shape.
    pub hosts: Vec<StackDriftView>,
    pub notes: Vec<String>,
}

impl DriftView {
    pub fn of(report: &DriftReport) -> DriftView {
        let n = report.stacks.len() + report.hosts.len();
        let headline = if n == 0 {
            format!(
                "no applied stacks or playbooks in tenant {} to check (checked at {})",
                report.tenant, report.checked_at
            )
        } else {
            format!(
                "{}{} checked at {} by {}: {} drifted, {} clean{}",
                plural(report.stacks.len(), "stack"),
                if report.hosts.is_empty() {
                    String::new()
                } else {
                    format!(" and {}", plural(report.hosts.len(), "applied playbook"))
                },
                report.checked_at,
                report.checked_by,
                report.count(DriftStatus::Drifted),
                report.count(DriftStatus::Clean),
                match report.count(DriftStatus::Unchecked) {
                    0 => String::new(),
                    u => format!(", {u} not checked"),
                }
            )
        };
        DriftView {
            headline,
            stacks: report.stacks.iter().map(StackDriftView::of).collect(),
            hosts: report.hosts.iter().map(StackDriftView::of_hosts).collect(),
            notes: report.notes.clone(),
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn label(status: DriftStatus) -> &'static str {
    match status {
        DriftStatus::Clean => "clean",
        DriftStatus::Drifted => "DRIFTED",
        DriftStatus::Unchecked => "not checked",
    }
}

impl StackDriftView {
    /// An applied playbook's hosts: each host where a task would change.
    pub fn of_hosts(h: &HostsDrift) -> StackDriftView {
        StackDriftView {
            stack: format!("{} on {}", h.playbook, h.inventory),
            status: h.status,
            label: label(h.status),
            headline: hosts_summary(h),
            changes: h
                .hosts
                .iter()
                .filter(|x| x.changed > 0)
                .map(|x| {
                    format!(
                        "host {}: {} task(s) would change back to the recorded configuration (see the check's diff)",
                        x.host, x.changed
                    )
                })
                .collect(),
            next: if h.status == DriftStatus::Drifted {
                vec![format!(
                    "opsdeck drift revert --hosts {}   queue a plan that runs the playbook again (approval as usual)",
                    h.plan_id
                )]
            } else {
                Vec::new()
            },
        }
    }

    pub fn of(s: &StackDrift) -> StackDriftView {
        let changes = s
            .resources
            .iter()
            .flat_map(|r| {
                let from = match r.source {
                    DriftSource::Refresh => "changed outside (refresh)",
                    DriftSource::Spec => "differs from the recorded configuration",
                };
                change_lines(r)
                    .into_iter()
                    .map(move |l| format!("{from}: {l}"))
            })
            .collect();
        let next = if s.status == DriftStatus::Drifted {
            vec![
                format!(
                    "opsdeck drift revert {}   queue a plan that changes it back (approval as usual)",
                    s.stack
                ),
                format!(
                    "opsdeck drift adopt {}    queue a plan that records the actual values instead",
                    s.stack
                ),
            ]
        } else {
            Vec::new()
        };
        StackDriftView {
            stack: s.stack.clone(),
            status: s.status,
            label: label(s.status),
            headline: summary(s),
            changes,
            next,
        }
    }
}

/// One line per stack: "stack web drifted: 1 resource (terraform_data.hello)".
pub fn summary(s: &StackDrift) -> String {
    match s.status {
        DriftStatus::Clean => format!("stack {} is clean", s.stack),
        DriftStatus::Unchecked => format!(
            "stack {} was not checked: {}",
            s.stack,
            s.reason.as_deref().unwrap_or("unknown reason")
        ),
        DriftStatus::Drifted => {
            let mut addrs: Vec<&str> = s.resources.iter().map(|r| r.address.as_str()).collect();
            addrs.dedup();
            format!(
                "stack {} drifted: {} resource(s) ({})",
                s.stack,
                addrs.len(),
                addrs.join(", ")
            )
        }
    }
}

/// One line per applied playbook: "playbook site.yml on hosts.yml (plan p-1): 1 host drifted".
pub fn hosts_summary(h: &HostsDrift) -> String {
    let what = format!(
        "playbook {} on {} (applied by plan {})",
        h.playbook, h.inventory, h.plan_id
    );
    match h.status {
        DriftStatus::Clean => format!("{what}: every host as recorded"),
        DriftStatus::Unchecked => format!(
            "{what} was not checked: {}",
            h.reason.as_deref().unwrap_or("unknown reason")
        ),
        DriftStatus::Drifted => {
            let hosts: Vec<&str> = h
                .hosts
                .iter()
                .filter(|x| x.changed > 0)
                .map(|x| x.host.as_str())
                .collect();
            format!(
                "{what} drifted on {} ({})",
                plural(hosts.len(), "host"),
                hosts.join(", ")
            )
        }
    }
}

/// "terraform_data.hello input: \"hello\" → \"tampered\"", one per attribute (or per resource
/// gone or added).
pub fn change_lines(r: &ResourceDrift) -> Vec<String> {
    match r.change {
        DriftChange::Missing => vec![format!("{}: recorded, no longer exists", r.address)],
        DriftChange::Unrecorded => vec![format!("{}: exists, not recorded", r.address)],
        DriftChange::Changed => r
            .attributes
            .iter()
            .map(|a| {
                format!(
                    "{} {}: {} → {}",
                    r.address,
                    a.attribute,
                    short_value(&a.recorded),
                    short_value(&a.actual)
                )
            })
            .collect(),
    }
}

/// A value in one line, long ones cut.
pub fn short_value(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}

/// What the status bar says about drift: nothing before a check; failures read as failures.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftBadge {
    pub text: String,
    pub drifted: bool,
}

impl DriftBadge {
    pub fn of(report: Option<&DriftReport>) -> Option<DriftBadge> {
        let r = report?;
        let drifted = r.count(DriftStatus::Drifted);
        let unchecked = r.count(DriftStatus::Unchecked);
        let text = if drifted > 0 {
            format!("drift: {drifted} drifted (opsdeck drift)")
        } else if unchecked > 0 {
            format!("drift: {unchecked} not checked")
        } else {
            "drift: clean".to_string()
        };
        Some(DriftBadge {
            text,
            drifted: drifted > 0 || unchecked > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::AttributeDrift;
    use serde_json::json;

    fn report(status: DriftStatus) -> DriftReport {
        DriftReport {
            tenant: "acme".into(),
            checked_at: "2026-01-02T03:04:05.000Z".parse().unwrap(),
            checked_by: "olga".into(),
            stacks: vec![StackDrift {
                stack: "web".into(),
                status,
                last_applied_plan: "p-1".into(),
                resources: if status == DriftStatus::Drifted {
                    vec![ResourceDrift {
                        address: "terraform_data.hello".into(),
                        change: DriftChange::Changed,
                        source: DriftSource::Spec,
                        attributes: vec![AttributeDrift {
                            attribute: "input".into(),
                            recorded: json!("hello"),
                            actual: json!("tampered"),
                        }],
                    }]
                } else {
                    Vec::new()
                },
                reason: None,
                state: None,
                evidence: None,
            }],
            hosts: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_drifted_stack_reads_recorded_then_actual_with_what_to_do() {
        let v = DriftView::of(&report(DriftStatus::Drifted));
        assert!(v.headline.contains("1 drifted, 0 clean"), "{}", v.headline);
        let s = &v.stacks[0];
        assert_eq!(s.label, "DRIFTED");
        assert_eq!(
            s.changes,
            [
                "differs from the recorded configuration: terraform_data.hello input: \"hello\" → \"tampered\""
            ]
        );
        assert!(s.next[0].starts_with("opsdeck drift revert web"));
        let b = DriftBadge::of(Some(&report(DriftStatus::Drifted))).unwrap();
        assert_eq!(b.text, "drift: 1 drifted (opsdeck drift)");
        assert!(b.drifted);
        let clean = DriftBadge::of(Some(&report(DriftStatus::Clean))).unwrap();
        assert_eq!(
            (clean.text.as_str(), clean.drifted),
            ("drift: clean", false)
        );
        assert_eq!(DriftBadge::of(None), None);
    }
}
