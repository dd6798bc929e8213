//! The agent protocol: a request goes in, a [`Draft`] plan comes out, and [`AgentEvent`]s report
//! along the way. Agents never store anything themselves: the pipeline stores artifacts, hashes
//! the plan, runs the gates and writes the audit trail, the same way for every agent.

use serde::Serialize;

use crate::aws::AwsAccess;
use crate::intent::{AgentKind, Intent};
use crate::plan::{ArtifactKind, CostEstimate, ResourceChange, Risk, Step};
use crate::store::Store;
use crate::tenant::Tenant;

/// Everything an agent may read while planning.
pub struct AgentRequest<'a> {
    pub request_id: &'a str,
    pub text: &'a str,
    pub intent: &'a Intent,
    pub tenant: &'a Tenant,
    pub store: &'a dyn Store,
    /// The tenant's active AWS configuration (credentials, endpoint); agents read through it.
    pub aws: &'a AwsAccess,
}

/// What an agent answers: a plan to review (and approve, when it changes anything), or a report
/// for a question that changes nothing ("what is my daily EC2 spend?").
#[derive(Debug, Clone)]
pub enum Reply {
    Plan(Draft),
    Report(Report),
}

/// A read-only answer. The pipeline audits it and stores it (with `files`) as a report artifact.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Report {
    pub summary: String,
    /// Shaped results, rendered as tables and charts by every front end.
    pub outputs: Vec<Output>,
    /// Caveats a reader must see (truncation, a service that was unreachable, data sources).
    pub notes: Vec<String>,
    pub region: Option<String>,
    /// The whole machine-readable result (findings, log events, ...) for `--json` and export.
    pub data: serde_json::Value,
    /// Extra files stored with the report (e.g. a findings CSV).
    #[serde(skip)]
    pub files: Vec<DraftFile>,
}

/// A file an agent generated, before it is stored content-addressed.
#[derive(Debug, Clone)]
pub struct DraftFile {
    pub name: String,
    pub kind: ArtifactKind,
    pub content: Vec<u8>,
}

/// An agent's proposal. The pipeline turns it into a [`crate::plan::Plan`].
#[derive(Debug, Clone)]
pub struct Draft {
    pub summary: String,
    pub stack: Option<String>,
    pub region: Option<String>,
    pub steps: Vec<Step>,
    pub files: Vec<DraftFile>,
    pub resources: Vec<ResourceChange>,
    pub mutates: bool,
    pub risk: Risk,
    pub risk_reasons: Vec<String>,
    pub cost: CostEstimate,
}

/// What background work reports while it runs. Front ends render these; the console folds them
/// into its state, the CLI prints them to stderr.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    Progress {
        agent: AgentKind,
        message: String,
    },
    /// One line of output from a running tool (terraform, ansible-playbook).
    Output {
        agent: AgentKind,
        line: String,
    },
    PlanReady {
        plan_id: String,
    },
    Finished {
        plan_id: String,
        success: bool,
    },
    Failed {
        agent: AgentKind,
        error: String,
    },
    /// A result in its shape (a table of instances or findings, a series of costs per day);
    /// front ends render it as a table or a chart.
    Result {
        agent: AgentKind,
        output: Output,
    },
}

/// The shapes results come in.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Output {
    Table {
        title: String,
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Values over ordered labels (days, hours), e.g. cost per day or errors per hour.
    Series {
        title: String,
        unit: String,
        points: Vec<(String, f64)>,
    },
}

impl Output {
    /// Plain-text rendering for the CLI: aligned columns, or one line per point with a bar.
    pub fn to_text(&self) -> Vec<String> {
        match self {
            Output::Table {
                title,
                columns,
                rows,
            } => {
                let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
                for r in rows {
                    for (i, cell) in r.iter().enumerate() {
                        if let Some(w) = widths.get_mut(i) {
                            *w = (*w).max(cell.chars().count());
                        }
                    }
                }
                let line = |cells: &[String]| {
                    cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect::<Vec<_>>()
                        .join("  ")
                        .trim_end()
                        .to_string()
                };
                let mut out = vec![format!("{title} ({} rows)", rows.len()), line(columns)];
                out.extend(rows.iter().map(|r| line(r)));
                out
            }
            Output::Series {
                title,
                unit,
                points,
            } => {
                let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
                let label_w = points
                    .iter()
                    .map(|(l, _)| l.chars().count())
                    .max()
                    .unwrap_or(0);
                let mut out = vec![format!("{title} ({unit})"), sparkline(points)];
                for (label, v) in points {
                    let bar = if max > 0.0 {
                        "█".repeat(((v / max) * 30.0).round() as usize)
                    } else {
                        String::new()
                    };
                    out.push(format!("{label:<label_w$}  {v:>10.2}  {bar}"));
                }
                out
            }
        }
    }
}

/// One block character per point, scaled between the series' minimum and maximum.
pub fn sparkline(points: &[(String, f64)]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (min, max) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    points
        .iter()
        .map(|(_, v)| {
            if max > min {
                BLOCKS[(((v - min) / (max - min)) * 7.0).round() as usize]
            } else {
                BLOCKS[3]
            }
        })
        .collect()
}

/// Where events go. `Send + Sync` so executors can report from their tasks.
pub type Sink<'a> = &'a (dyn Fn(AgentEvent) + Send + Sync);

/// A sink that drops everything (for callers that only want the result).
pub fn quiet(_: AgentEvent) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_as_sparkline_and_bars() {
        let s = Output::Series {
            title: "EC2 daily spend, ap-south-1".into(),
            unit: "USD".into(),
            points: vec![
                ("11-20".into(), 10.0),
                ("11-21".into(), 20.0),
                ("11-22".into(), 15.0),
            ],
        };
        let lines = s.to_text();
        assert_eq!(lines[1], "▁█▅");
        assert!(lines[3].ends_with(&"█".repeat(30)));
        let t = Output::Table {
            title: "instances".into(),
            columns: vec!["ID".into(), "STATE".into()],
            rows: vec![vec!["i-0abc12345def67890".into(), "running".into()]],
        };
        assert_eq!(t.to_text()[2], "i-0abc12345def67890  running");
    }
}
