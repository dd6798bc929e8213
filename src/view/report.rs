//! A report (an answer that changes nothing: tables, charts, notes) as every front end shows it.
//! Results stream in one [`OutputView`] at a time while the agent works; the [`ReportView`]
//! closes the answer with its summary, notes and where it is stored.

use serde::Serialize;

use crate::events::{Output, sparkline};
use crate::intent::AgentKind;
use crate::pipeline::ReportRecord;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportView<'a> {
    pub request_id: &'a str,
    pub agent: AgentKind,
    pub action: String,
    pub summary: &'a str,
    pub outputs: Vec<OutputView>,
    /// Caveats a reader must see (truncation, an unreachable service, data sources).
    pub notes: &'a [String],
    /// `report stored as <uri> (request <id>)`.
    pub stored: String,
}

impl<'a> ReportView<'a> {
    pub fn of(r: &'a ReportRecord) -> ReportView<'a> {
        ReportView {
            request_id: &r.request_id,
            agent: r.agent,
            action: r.action.to_string(),
            summary: &r.report.summary,
            outputs: r.report.outputs.iter().map(OutputView::of).collect(),
            notes: &r.report.notes,
            stored: format!("report stored as {} (request {})", r.uri, r.request_id),
        }
    }
}

/// One shaped result: a table (a header line and aligned rows) or a series (a sparkline with
/// its range, then a bar per point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputView {
    /// `instances tagged Env=staging (2 rows)`, `EC2 daily spend (USD)`.
    pub heading: String,
    /// A table's column names, aligned with its rows.
    pub header: Option<String>,
    pub chart: Option<Chart>,
    /// Table rows, or one line per point with its bar.
    pub rows: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub sparkline: String,
    /// `min 1.00 · max 9.00 · last 4.00`.
    pub range: String,
}

impl OutputView {
    pub fn of(output: &Output) -> OutputView {
        let mut lines = output.to_text().into_iter();
        let heading = lines.next().unwrap_or_default();
        match output {
            Output::Table { .. } => OutputView {
                heading,
                header: lines.next(),
                chart: None,
                rows: lines.collect(),
            },
            Output::Series { points, .. } => {
                let (lo, hi) = points
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
                        (a.min(*v), b.max(*v))
                    });
                let last = points.last().map(|p| p.1).unwrap_or_default();
                // The text form's second line is the sparkline itself.
                lines.next();
                OutputView {
                    heading,
                    header: None,
                    chart: Some(Chart {
                        sparkline: sparkline(points),
                        range: format!("min {lo:.2} · max {hi:.2} · last {last:.2}"),
                    }),
                    rows: lines.collect(),
                }
            }
        }
    }

    /// The result as plain lines: heading, header or sparkline, rows.
    pub fn text_lines(&self) -> Vec<String> {
        let mut out = vec![self.heading.clone()];
        out.extend(self.header.clone());
        out.extend(self.chart.as_ref().map(|c| c.sparkline.clone()));
        out.extend(self.rows.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_keeps_its_header_apart_from_its_rows() {
        let t = Output::Table {
            title: "instances".into(),
            columns: vec!["ID".into(), "STATE".into()],
            rows: vec![vec!["i-1".into(), "running".into()]],
        };
        let v = OutputView::of(&t);
        assert_eq!(v.heading, "instances (1 rows)");
        assert_eq!(v.header.as_deref(), Some("ID   STATE"));
        assert_eq!(v.rows, ["i-1  running"]);
        assert_eq!(v.text_lines(), t.to_text());
    }

    #[test]
    fn a_series_has_a_sparkline_and_its_range() {
        let s = Output::Series {
            title: "spend".into(),
            unit: "USD".into(),
            points: vec![("a".into(), 1.0), ("b".into(), 9.0), ("c".into(), 4.0)],
        };
        let v = OutputView::of(&s);
        assert_eq!(v.heading, "spend (USD)");
        let chart = v.chart.as_ref().unwrap();
        assert_eq!(chart.sparkline, "▁█▄");
        assert_eq!(chart.range, "min 1.00 · max 9.00 · last 4.00");
        assert_eq!(v.rows.len(), 3);
        assert_eq!(v.text_lines(), s.to_text());
    }
}
