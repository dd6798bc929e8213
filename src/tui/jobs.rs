//! Work the console sends off the UI thread: each function takes the [`Deck`] (whose store calls
//! block on files) and returns what the app folds into its state. Also the pure formatting of
//! results into transcript lines, so the app stays a thin dispatcher.

use std::path::PathBuf;
use std::sync::Arc;

use super::app::{AuditQuery, AuditRow, Interner, TLine};
use super::diff::{DiffDoc, FileInput};
use super::highlight::Highlighter;
use super::theme::Meaning;
use crate::approval::{PlanRecord, State};
use crate::audit::AuditRecord;
use crate::audit::export::{self, Format};
use crate::pipeline::Deck;
use crate::plan::{ArtifactKind, ChangeAction};

type DiffResult = Result<(Box<PlanRecord>, Arc<DiffDoc>), String>;

/// The plan's Terraform/Ansible artifacts against the stack's last applied configuration (or
/// against nothing for a new stack), highlighted; then what its dry runs printed (`terraform
/// plan`, `ansible-playbook --check --diff`), as new files.
pub fn load_diff(
    deck: &Deck,
    plan_id: &str,
    hl: &Highlighter,
    syntax_theme: Option<&str>,
) -> DiffResult {
    let e = |e: crate::Error| e.to_string();
    let rec = deck.plan(plan_id).map_err(e)?;
    let new: Vec<(String, String)> = deck
        .artifacts(&rec.plan)
        .map_err(e)?
        .into_iter()
        .filter(|(a, _)| {
            matches!(
                a.kind,
                ArtifactKind::Terraform | ArtifactKind::Ansible | ArtifactKind::DryRun
            )
        })
        .map(|(a, b)| (a.name, String::from_utf8_lossy(&b).to_string()))
        .collect();
    let tenant = &deck.tenant.name;
    let stack = match rec.plan.stack.as_deref() {
        Some(s) => deck.store.get_stack(tenant, s).map_err(e)?,
        None => None,
    };
    let mut old: Vec<(String, String)> = Vec::new();
    let against = match &stack {
        Some(s) if s.last_applied_plan != rec.plan.plan_id => {
            for a in &s.artifacts {
                let bytes = deck.store.get_artifact(tenant, &a.sha256).map_err(e)?;
                old.push((a.name.clone(), String::from_utf8_lossy(&bytes).to_string()));
            }
            format!(
                "stack {} as applied by {} ({})",
                s.name,
                s.last_applied_plan,
                match s.status {
                    crate::store::StackStatus::Active => "active",
                    crate::store::StackStatus::Destroyed => "destroyed",
                }
            )
        }
        Some(s) => format!("stack {}: this plan is what is applied", s.name),
        None => match &rec.plan.stack {
            Some(name) => format!("new stack {name} (compared with empty)"),
            None => "nothing (compared with empty)".to_string(),
        },
    };
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
    let doc = DiffDoc::build(&inputs, &against, syntax_theme.map(|t| (hl, t)));
    Ok((Box::new(rec), Arc::new(doc)))
}

/// Every audit event of the tenant, compacted for the browser.
pub fn audit_rows(deck: &Deck) -> Result<Vec<AuditRow>, String> {
    // Compacted as they stream in: the full records never all sit in memory at once.
    let mut names = Interner::default();
    let mut rows = Vec::new();
    deck.scan_audit(&mut |r| {
        rows.push(AuditRow::from_record(&r, &mut names));
        true
    })
    .map_err(|e| e.to_string())?;
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

pub fn audit_detail(deck: &Deck, seq: u64) -> Result<Box<AuditRecord>, String> {
    let mut found = None;
    deck.scan_audit(&mut |r| {
        if r.seq == seq {
            found = Some(r);
            return false;
        }
        true
    })
    .map_err(|e| e.to_string())?;
    found
        .map(Box::new)
        .ok_or_else(|| format!("event #{seq} is no longer in the trail"))
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
pub fn export(deck: &Deck, q: &AuditQuery, format: Format) -> Result<PathBuf, String> {
    let mut names = Interner::default();
    let records: Vec<AuditRecord> = deck
        .audit(&q.filter)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| q.matches(&AuditRow::from_record(r, &mut names).fields()))
        .collect();
    let dir = deck.paths.data.join("exports");
    crate::store::fsutil::ensure_private_dir(&dir).map_err(|e| e.to_string())?;
    let stamp = deck.clock().now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let ext = match format {
        Format::Json => "json",
        Format::Csv => "csv",
    };
    let path = dir.join(format!("audit-{}-{stamp}.{ext}", deck.tenant.name));
    let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    export::write(&records, format, &mut f).map_err(|e| e.to_string())?;
    Ok(path)
}

/// A plan as the transcript shows it: a summary, a resource table and the start of the code.
pub fn plan_transcript(rec: &PlanRecord, files: &[(String, String)], me: &str) -> Vec<TLine> {
    let p = &rec.plan;
    let mut out = vec![TLine {
        segments: vec![
            (Meaning::Success, "✓ ".into()),
            (Meaning::Title, format!("{} ", p.plan_id)),
            (Meaning::Text, p.summary.clone()),
        ],
    }];
    out.push(TLine {
        segments: vec![
            (Meaning::Muted, "  risk ".into()),
            (
                super::ui::risk_meaning(p.risk),
                p.risk.as_str().to_uppercase(),
            ),
            (Meaning::Muted, "  cost ".into()),
            (
                Meaning::Text,
                format!("${:.2}/mo", p.cost.monthly_usd + 0.0),
            ),
            (Meaning::Muted, "  gates ".into()),
            (
                super::ui::gate_meaning(p.worst_gate()),
                p.worst_gate().as_str().to_string(),
            ),
            (Meaning::Muted, "  hash ".into()),
            (
                Meaning::Text,
                crate::approval::short(&p.content_hash).to_string() + "…",
            ),
        ],
    });
    if !p.resources.is_empty() {
        let w = p
            .resources
            .iter()
            .map(|r| super::text::width(&r.address))
            .max()
            .unwrap_or(8)
            .max(8);
        out.push(TLine::plain(
            Meaning::Muted,
            format!("  {:<1} {:<w$}  {:>5}", " ", "RESOURCE", "COUNT"),
        ));
        for r in &p.resources {
            let (sign, m) = match r.action {
                ChangeAction::Create => ("+", Meaning::DiffAdd),
                ChangeAction::Update => ("~", Meaning::GateWarn),
                ChangeAction::Delete => ("-", Meaning::DiffRemove),
                ChangeAction::Replace => ("±", Meaning::GateWarn),
            };
            out.push(TLine {
                segments: vec![
                    (Meaning::Text, "  ".into()),
                    (m, sign.into()),
                    (Meaning::Text, format!(" {:<w$}  {:>5}", r.address, r.count)),
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
    let next = match rec.state {
        State::Pending if p.requester == me => format!(
            "  queued for approval ({} needed): another person approves it in their console (4) or with `opsdeck approve {}`",
            rec.required_approvals, p.plan_id
        ),
        State::Pending => format!("  queued for approval ({} needed)", rec.required_approvals),
        State::Rejected => match &rec.rejection {
            Some(r) => format!("  rejected by {}: {}", r.user, r.reason),
            None => "  rejected".into(),
        },
        State::NotRequired => "  read-only: needs no approval".into(),
        other => format!("  {}", other.as_str()),
    };
    out.push(TLine::plain(
        if rec.state == State::Rejected {
            Meaning::Error
        } else {
            Meaning::Progress
        },
        next,
    ));
    out
}

/// A result in its shape for the transcript: a table with a header, or a series as a sparkline
/// with its range and a bar per point.
pub fn output_lines(
    agent: crate::intent::AgentKind,
    output: &crate::agents::protocol::Output,
) -> Vec<TLine> {
    use crate::agents::protocol::{Output, sparkline};
    let mut out = Vec::new();
    match output {
        Output::Table { title, .. } => {
            out.push(TLine::plain(Meaning::Title, format!("▸ [{agent}] {title}")));
            for (i, l) in output.to_text().iter().enumerate().skip(1) {
                let m = if i == 1 {
                    Meaning::Muted
                } else {
                    Meaning::Text
                };
                out.push(TLine::plain(m, format!("  {l}")));
            }
        }
        Output::Series {
            title,
            unit,
            points,
        } => {
            let (lo, hi) = points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
                    (a.min(*v), b.max(*v))
                });
            let last = points.last().map(|p| p.1).unwrap_or_default();
            out.push(TLine::plain(
                Meaning::Title,
                format!("▸ [{agent}] {title} ({unit})"),
            ));
            out.push(TLine {
                segments: vec![
                    (Meaning::Muted, "  ".into()),
                    (Meaning::Progress, sparkline(points)),
                    (
                        Meaning::Muted,
                        format!("  min {lo:.2} · max {hi:.2} · last {last:.2}"),
                    ),
                ],
            });
            for l in output.to_text().iter().skip(2) {
                out.push(TLine::plain(Meaning::Text, format!("  {l}")));
            }
        }
    }
    out
}
