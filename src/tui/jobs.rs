//! Work the console sends off the UI thread: each function takes the [`Deck`] (whose store calls
//! block on files) and returns what the app folds into its state. Also the view models
//! ([`crate::view`]) laid out as transcript lines, so the app stays a thin dispatcher.

use std::path::PathBuf;
use std::sync::Arc;

use super::app::{AuditQuery, AuditRow, Interner, TLine};
use super::components::change_meaning;
use super::diff::{DiffDoc, FileInput};
use super::highlight::Highlighter;
use super::theme::Meaning;
use crate::approval::PlanRecord;
use crate::audit::AuditRecord;
use crate::audit::export::{self, Format};
use crate::error::{Error, Result};
use crate::pipeline::{Comparison, Deck, ReportRecord};
use crate::view::{AwsChangeView, OutputView, PlanView, ReportView, change};

type DiffResult = Result<(Box<PlanRecord>, Arc<DiffDoc>)>;

/// The plan's Terraform/Ansible artifacts against the stack's last applied configuration (or
/// against nothing for a new stack), highlighted; then what its dry runs printed (`terraform
/// plan`, `ansible-playbook --check --diff`), as new files.
pub fn load_diff(
    deck: &Deck,
    plan_id: &str,
    hl: &Highlighter,
    syntax_theme: Option<&str>,
) -> DiffResult {
    let Comparison {
        plan: rec,
        new,
        old,
        against,
    } = deck.approvals().comparison(plan_id)?;
    let mut names: Vec<String> = new.iter().map(|(n, _)| n.clone()).collect();
    for (n, _) in &old {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let inputs: Vec<FileInput> = names
        .into_iter()
        .map(|name| FileInput {
            old: old.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()),
            new: new.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()),
            name,
        })
        .collect();
    let files = DiffDoc::build(&inputs, &against, syntax_theme.map(|t| (hl, t)));
    // AWS API plans have no files: their calls and targets are the change to review.
    let calls = AwsChangeView::of(&rec.plan);
    let doc = if calls.is_empty() {
        files
    } else {
        let mut doc = DiffDoc::calls(
            &calls,
            if inputs.is_empty() {
                "the targets as the agent saw them while planning"
            } else {
                &against
            },
        );
        doc.append(files);
        doc
    };
    Ok((Box::new(rec), Arc::new(doc)))
}

/// Every audit event of the tenant, compacted for the browser.
/// The browser's rows: every record, or only those after `after` (the newest row the browser
/// holds) when it reads on.
pub fn audit_rows(deck: &Deck, after: Option<u64>) -> Result<Vec<AuditRow>> {
    // Compacted as they stream in: the full records never all sit in memory at once.
    let mut names = Interner::default();
    let mut rows = Vec::new();
    let mut add = |r: crate::audit::AuditRecord| {
        rows.push(AuditRow::from_record(&r, &mut names));
        true
    };
    match after {
        Some(seq) => deck.trail().scan_audit_after(seq, &mut add)?,
        None => deck.trail().scan_audit(&mut add)?,
    }
    rows.shrink_to_fit();
    release_memory();
    Ok(rows)
}

/// Gives the full records' memory back to the OS after compaction (glibc keeps freed heap).
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the OS.
    unsafe {
        libc::malloc_trim(0);
    }
}

pub fn audit_detail(deck: &Deck, seq: u64) -> Result<Box<AuditRecord>> {
    let mut found = None;
    deck.trail().scan_audit(&mut |r| {
        if r.seq == seq {
            found = Some(r);
            return false;
        }
        true
    })?;
    found.map(Box::new).ok_or_else(|| {
        Error::not_found(
            "audit event",
            format!("#{seq}"),
            "it is no longer in the trail; r reloads the list",
        )
    })
}

/// The detail view: the chain link, the chain fields, then every spec field as pretty JSON.
pub fn detail_lines(r: &AuditRecord, before: Option<(u64, [u8; 32])>) -> Vec<String> {
    let link = match before {
        None => "chain: first record listed".to_string(),
        Some((seq, hash)) if super::app::hash_bytes(&r.prev) == hash => {
            format!("chain: prev = hash of #{seq} ✓ linked")
        }
        Some((seq, _)) => format!("chain: prev does NOT match the hash of #{seq} ✗"),
    };
    let mut out = vec![
        link,
        format!("seq       {}", r.seq),
        format!("hash      {}", r.hash),
        format!("prev      {}", r.prev),
        format!("key       {}", r.key),
        format!("signature {}", r.sig),
        String::new(),
    ];
    let json = serde_json::to_string_pretty(&r.event).unwrap_or_else(|e| e.to_string());
    out.extend(json.lines().map(str::to_string));
    out
}

/// Writes the records matching `q` to `<data>/exports/audit-<time>.<ext>`.
pub fn export(deck: &Deck, q: &AuditQuery, format: Format) -> Result<PathBuf> {
    let mut names = Interner::default();
    let records: Vec<AuditRecord> = deck
        .trail()
        .audit(&q.filter)?
        .into_iter()
        .filter(|r| q.matches(&AuditRow::from_record(r, &mut names).fields()))
        .collect();
    let dir = deck.paths().data.join("exports");
    crate::store::fsutil::ensure_private_dir(&dir)?;
    let stamp = deck.clock().now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let ext = match format {
        Format::Json => "json",
        Format::Csv => "csv",
    };
    let path = dir.join(format!("audit-{}-{stamp}.{ext}", deck.tenant().name));
    let mut f =
        std::fs::File::create(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
    export::write(&records, format, &mut f)?;
    Ok(path)
}

/// A plan as the transcript shows it: a summary, a resource table, the start of the code and
/// what happens next (for `me`).
pub fn plan_transcript(rec: &PlanRecord, files: &[(String, String)], me: &str) -> Vec<TLine> {
    let v = PlanView::of(rec);
    let mut out = vec![TLine {
        table: None,
        segments: vec![
            (Meaning::Success, "✓ ".into()),
            (Meaning::Title, format!("{} ", v.id)),
            (Meaning::Text, v.summary.to_string()),
        ],
    }];
    out.push(TLine {
        table: None,
        segments: vec![
            (Meaning::Muted, "  risk ".into()),
            (
                super::ui::risk_meaning(v.risk),
                v.risk.as_str().to_uppercase(),
            ),
            (Meaning::Muted, "  cost ".into()),
            (Meaning::Text, v.cost.compact.clone()),
            (Meaning::Muted, "  gates ".into()),
            (
                super::ui::gate_meaning(v.worst_gate),
                v.worst_gate.as_str().to_string(),
            ),
            (Meaning::Muted, "  hash ".into()),
            (Meaning::Text, format!("{}…", v.short_hash)),
        ],
    });
    if !v.resources.is_empty() {
        // As the preview lists them (`+ address ×count`): no padding to the longest address,
        // so a narrow pane wraps only the long ones, under their address.
        let sw = change::symbol_width(&rec.plan.resources);
        for r in &v.resources {
            out.push(TLine {
                table: None,
                segments: vec![
                    (Meaning::Text, "  ".into()),
                    (change_meaning(r.action), format!("{:<sw$}", r.symbol)),
                    (Meaning::Text, format!(" {}", r.address)),
                    (Meaning::Muted, format!(" ×{}", r.count)),
                ],
            });
        }
    }
    for (name, text) in files.iter().take(1) {
        let n = text.lines().count();
        out.push(TLine::plain(
            Meaning::Muted,
            format!("  ┌─ {name} ({n} lines)"),
        ));
        for l in text.lines().take(8) {
            out.push(TLine {
                table: None,
                segments: vec![
                    (Meaning::Muted, "  │ ".into()),
                    (Meaning::Code, l.to_string()),
                ],
            });
        }
        if n > 8 {
            out.push(TLine::plain(
                Meaning::Muted,
                format!("  └─ … {} more lines: press 3 (diff) to read it all", n - 8),
            ));
        }
    }
    out.push(TLine::plain(
        if v.next.refused() {
            Meaning::Error
        } else {
            Meaning::Progress
        },
        format!("  {}", v.next.console_line(me)),
    ));
    out
}

/// A report's closing lines (its results streamed in as they arrived): the summary, its notes
/// and where it is stored.
pub fn report_transcript(r: &ReportRecord) -> Vec<TLine> {
    let v = ReportView::of(r);
    let mut out = vec![TLine::plain(Meaning::Success, format!("✓ {}", v.summary))];
    for n in v.notes {
        out.push(TLine::plain(Meaning::Muted, format!("  note: {n}")));
    }
    out.push(TLine::plain(Meaning::Muted, format!("  {}", v.stored)));
    out
}

/// A result in its shape for the transcript: a table with a header, or a series as a sparkline
/// with its range and a bar per point.
pub fn output_lines(agent: crate::intent::AgentKind, output: &crate::events::Output) -> Vec<TLine> {
    result_lines(&agent.to_string(), output)
}

/// A result in its transcript shape, headed by whoever made it (an agent, a report's name).
pub fn result_lines(source: &str, output: &crate::events::Output) -> Vec<TLine> {
    let v = OutputView::of(output);
    let mut out = vec![TLine::plain(
        Meaning::Title,
        format!("▸ [{source}] {}", v.heading),
    )];
    if let (Some(header), crate::events::Output::Table { columns, rows, .. }) = (&v.header, output)
    {
        // Laid out at the pane's width when drawn; the aligned text stays for copies and tests.
        let cols: std::sync::Arc<[super::text::Col]> =
            super::text::table_cols(columns, rows).into();
        let names: std::sync::Arc<[String]> = columns.clone().into();
        let row = |cells: &[String], text: &str, header: bool| TLine {
            segments: vec![(
                if header {
                    Meaning::Muted
                } else {
                    Meaning::Text
                },
                format!("  {text}"),
            )],
            table: Some(super::app::TableRow {
                cells: cells.to_vec(),
                columns: names.clone(),
                cols: cols.clone(),
                header,
            }),
        };
        out.push(row(columns, header, true));
        for (cells, text) in rows.iter().zip(&v.rows) {
            out.push(row(cells, text, false));
        }
        return out;
    }
    if let Some(chart) = &v.chart {
        out.push(TLine {
            table: None,
            segments: vec![
                (Meaning::Muted, "  ".into()),
                (Meaning::Progress, chart.sparkline.clone()),
                (Meaning::Muted, format!("  {}", chart.range)),
            ],
        });
    }
    for l in &v.rows {
        out.push(TLine::plain(Meaning::Text, format!("  {l}")));
    }
    out
}
