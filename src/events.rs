//! What background work reports while it runs, shared by the agents, the runners (`exec/`) and
//! every front end: [`AgentEvent`]s sent to a [`Sink`], results in their [`Output`] shape, and
//! how an execution ended ([`Outcome`]). Nothing here runs anything, so the runners and the
//! agents both depend on this module and never on each other for types.

use serde::Serialize;

use crate::intent::AgentKind;

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
        /// Stopped on request: the one outcome said is "cancelled", never "failed".
        #[serde(default)]
        cancelled: bool,
    },
    /// The AWS call a running request waits for, once a second while it waits (from its first
    /// second); `call: None` once nothing is in flight any more.
    Waiting {
        agent: AgentKind,
        /// Service and operation: `ec2 DescribeInstances`.
        call: Option<String>,
        elapsed_secs: u64,
    },
    /// A tool run enters a phase (`terraform plan`, `ansible-playbook --check`): the
    /// pipeline's watcher turns it into [`AgentEvent::Waiting`] with its seconds while it lasts;
    /// front ends need not show it.
    ToolPhase {
        agent: AgentKind,
        phase: String,
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
                // Counts read as counts: decimals only when a value has a fraction.
                let whole = points.iter().all(|(_, v)| v.fract() == 0.0);
                for (label, v) in points {
                    let bar = if max > 0.0 {
                        "█".repeat(((v / max) * 30.0).round() as usize)
                    } else {
                        String::new()
                    };
                    let value = if whole {
                        format!("{v:>10.0}")
                    } else {
                        format!("{v:>10.2}")
                    };
                    out.push(
                        format!("{label:<label_w$}  {value}  {bar}")
                            .trim_end()
                            .to_string(),
                    );
                }
                out
            }
        }
    }
}

/// Column headings for an [`Output::Table`].
pub fn headings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
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
            } else if max > 0.0 {
                BLOCKS[3]
            } else {
                // Nothing at all reads as the floor, not as a middling value.
                BLOCKS[0]
            }
        })
        .collect()
}

/// Where events go. `Send + Sync` so executors can report from their tasks.
pub type Sink<'a> = &'a (dyn Fn(AgentEvent) + Send + Sync);

/// A sink that drops everything (for callers that only want the result).
pub fn quiet(_: AgentEvent) {}

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    pub cancelled: bool,
    pub exit_code: Option<i32>,
    /// Everything the tool printed, redacted.
    pub log: String,
    pub outputs: Option<serde_json::Value>,
}

impl Outcome {
    pub fn failed(log: String, exit_code: Option<i32>, cancelled: bool) -> Outcome {
        Outcome {
            success: false,
            cancelled,
            exit_code,
            log,
            outputs: None,
        }
    }
}

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
