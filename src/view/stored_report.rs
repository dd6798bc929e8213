//! Stored reports as the Reports pane and `opsdeck report history|compare` show them: a
//! report's row (name, summary, when, fresh/stale/error) and what changed since an older run.

use serde::Serialize;

use crate::pipeline::{ReportComparison, StoredRun};
use crate::reports::ReportName;
use crate::reports::compare::{OutputChange, OutputDiff};

/// Where a report stands in the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Stored within the refresh interval.
    Fresh,
    /// Stored longer ago than the interval, or never.
    Stale,
    /// The last build failed: the error says why.
    Error,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Fresh => "fresh",
            ReportState::Stale => "stale",
            ReportState::Error => "error",
        }
    }
}

/// One report's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRowView {
    pub name: ReportName,
    /// The latest stored summary, or the error of the last build.
    pub summary: String,
    /// `2026-12-07 04:10` (UTC), or `never`.
    pub generated_at: String,
    pub state: ReportState,
}

impl ReportRowView {
    /// The row from the latest stored run and the last build's error, if it failed after it.
    pub fn of(
        name: ReportName,
        latest: Option<&StoredRun>,
        error: Option<&str>,
        now_unix: i64,
        refresh_secs: i64,
    ) -> ReportRowView {
        let generated_at = latest
            .map(|r| short_time(&r.stored_at))
            .unwrap_or_else(|| "never".into());
        if let Some(e) = error {
            return ReportRowView {
                name,
                summary: e.to_string(),
                generated_at,
                state: ReportState::Error,
            };
        }
        match latest {
            Some(r) => ReportRowView {
                name,
                summary: r.summary.clone(),
                generated_at,
                state: if now_unix - r.stored_unix < refresh_secs {
                    ReportState::Fresh
                } else {
                    ReportState::Stale
                },
            },
            None => ReportRowView {
                name,
                summary: "not stored yet".into(),
                generated_at,
                state: ReportState::Stale,
            },
        }
    }
}

/// A stack's latest drift check as one line of the Reports pane, and whether it needs a look
/// (drifted, or not checked).
pub fn drift_line(s: &crate::pipeline::StackDriftStatus) -> (String, bool) {
    use crate::pipeline::DriftStatus;
    let what = match s.status {
        DriftStatus::Clean => "clean".to_string(),
        DriftStatus::Drifted => format!(
            "DRIFTED ({} resource(s)): opsdeck drift {}",
            s.resources, s.stack
        ),
        DriftStatus::Unchecked => format!(
            "not checked{}",
            s.reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
    };
    (
        format!("{}  {}  {what}", s.stack, short_time(&s.checked_at)),
        s.status != DriftStatus::Clean,
    )
}

/// `2026-12-07T04:10:33Z` → `2026-12-07 04:10`.
pub fn short_time(iso: &str) -> String {
    let t: String = iso.chars().take(16).collect();
    t.replacen('T', " ", 1)
}

/// A stored run as one line of `report history`.
pub fn history_line(r: &StoredRun) -> String {
    format!(
        "{}  {}  {:<8}  {}",
        &r.run_id[..r.run_id.len().min(13)],
        short_time(&r.stored_at),
        r.by,
        r.summary
    )
}

/// What changed between two runs, as lines: a heading, then per changed output its rows added
/// and removed and the numbers that moved (at most `per_output` moves each; the rest counted).
pub fn comparison_lines(c: &ReportComparison, per_output: usize) -> Vec<String> {
    let mut out = vec![
        format!(
            "{} report: latest {} vs {} (run {})",
            c.name,
            short_time(&c.latest.stored_at),
            short_time(&c.older.stored_at),
            &c.older.run_id[..c.older.run_id.len().min(13)]
        ),
        format!("  now:    {}", c.latest_summary),
        format!("  before: {}", c.older_summary),
    ];
    let changed: Vec<&OutputDiff> = c.changed().collect();
    if changed.is_empty() {
        out.push("  nothing changed".into());
        return out;
    }
    for o in changed {
        out.push(format!("  {}: {}", o.title, counts(o)));
        if !o.rows_added.is_empty() {
            out.push(format!("    + {}", names(&o.rows_added)));
        }
        if !o.rows_removed.is_empty() {
            out.push(format!("    - {}", names(&o.rows_removed)));
        }
        for m in o.moved.iter().take(per_output) {
            let delta = m
                .delta
                .map(|d| format!(" ({}{})", if d >= 0.0 { "+" } else { "" }, trim(d)))
                .unwrap_or_default();
            out.push(format!(
                "    ~ {} · {}: {} → {}{delta}",
                m.row,
                m.column,
                if m.before.is_empty() { "-" } else { &m.before },
                m.after
            ));
        }
        if o.moved.len() > per_output {
            out.push(format!("    … {} more moved", o.moved.len() - per_output));
        }
    }
    out
}

fn counts(o: &OutputDiff) -> String {
    match o.change {
        OutputChange::Added => "new in the latest run".into(),
        OutputChange::Removed => "no longer in the report".into(),
        OutputChange::Same => "unchanged".into(),
        OutputChange::Changed => format!(
            "{} row(s) added, {} removed, {} value(s) moved",
            o.rows_added.len(),
            o.rows_removed.len(),
            o.moved.len()
        ),
    }
}

/// Up to eight names, then how many more.
fn names(v: &[String]) -> String {
    let mut s = v.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > 8 {
        s.push_str(&format!(", … {} more", v.len() - 8));
    }
    s
}

fn trim(d: f64) -> String {
    if d.fract() == 0.0 {
        format!("{d:.0}")
    } else {
        format!("{d:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(at: i64, summary: &str) -> StoredRun {
        StoredRun {
            run_id: "0193a1b2-c3d4-7e5f".into(),
            name: ReportName::Operations,
            stored_at: "2026-12-07T04:10:33Z".into(),
            stored_unix: at,
            by: "alice".into(),
            summary: summary.into(),
            sha256: "ab".repeat(32),
            uri: String::new(),
            seq: 1,
        }
    }

    #[test]
    fn rows_are_fresh_stale_or_error() {
        let r = run(1000, "3 plans");
        let fresh = ReportRowView::of(ReportName::Operations, Some(&r), None, 1000 + 59, 60);
        assert_eq!(fresh.state, ReportState::Fresh);
        assert_eq!(fresh.generated_at, "2026-12-07 04:10");
        let stale = ReportRowView::of(ReportName::Operations, Some(&r), None, 1060, 60);
        assert_eq!(stale.state, ReportState::Stale);
        let never = ReportRowView::of(ReportName::Cost, None, None, 0, 60);
        assert_eq!(
            (never.state, never.generated_at.as_str()),
            (ReportState::Stale, "never")
        );
        let err = ReportRowView::of(ReportName::Cost, Some(&r), Some("no access"), 0, 60);
        assert_eq!(
            (err.state, err.summary.as_str()),
            (ReportState::Error, "no access")
        );
    }
}
