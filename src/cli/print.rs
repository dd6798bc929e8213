//! The CLI's output: the sanitising print macros' helpers, `--json`, and the view models
//! ([`crate::view`]) laid out as plain text lines. Every line goes through
//! [`crate::sanitize`] on its way out (see `outln!`).

use std::io::Write;

use crate::error::{Error, Result};
use crate::events::AgentEvent;
use crate::plan::ArtifactRef;
use crate::view::plan::StepTool;
use crate::view::{AuditRowView, OutputView, PlanView, ReportView, audit_row};

/// `--json` output: serde escapes C0 controls; [`crate::sanitize::json`] escapes what it leaves
/// raw (C1, DEL, U+2028/2029, bidi and other format characters), the value unchanged.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<()> {
    let text =
        crate::sanitize::to_json_pretty(v).map_err(|e| Error::io("encoding output", e.into()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Error::io("writing output", e))
}

/// Multi-line text (settings, artifacts, a QR code): lines and tabs kept, everything else as
/// `outln!` prints it.
pub fn print_block(text: &str) {
    print!("{}", crate::sanitize::terminal(text));
}

/// Prints each line as `outln!` does.
pub fn print_lines(lines: &[String]) {
    for l in lines {
        outln!("{l}");
    }
}

/// What an agent reports while it works: progress and tool output on stderr, results on
/// stdout; nothing with `--json` (the record printed at the end holds it all).
pub fn progress(json_out: bool) -> impl Fn(AgentEvent) + Send + Sync {
    move |e: AgentEvent| {
        if json_out {
            return;
        }
        match e {
            AgentEvent::Progress { message, .. } => errln!("· {message}"),
            AgentEvent::Output { line, .. } => errln!("  {line}"),
            AgentEvent::Result { output, .. } => print_lines(&OutputView::of(&output).text_lines()),
            // A call that waits a couple of seconds is named, then every five seconds.
            AgentEvent::Waiting {
                call: Some(call),
                elapsed_secs,
                ..
            } if elapsed_secs >= 2 && (elapsed_secs == 2 || elapsed_secs % 5 == 0) => {
                errln!("· waiting for {call}… {elapsed_secs} s (Ctrl-C stops)")
            }
            AgentEvent::Waiting { .. } | AgentEvent::ToolPhase { .. } => {}
            AgentEvent::Failed { .. }
            | AgentEvent::PlanReady { .. }
            | AgentEvent::Finished { .. } => {}
        }
    }
}

/// A plan in full, one `label     value` line per fact.
pub fn plan_lines(v: &PlanView<'_>) -> Vec<String> {
    let mut out = vec![
        format!("plan      {}", v.id),
        format!("summary   {}", v.summary),
        format!("request   {}", v.request),
        format!(
            "agent     {} / {}  (confidence {:.2}{})",
            v.reading.agents,
            v.reading.action,
            v.reading.confidence,
            if v.reading.low_confidence {
                ", LOW"
            } else {
                ""
            }
        ),
        format!(
            "state     {}  (requested by {})",
            v.state.as_str(),
            v.requester
        ),
        format!(
            "risk      {}{}",
            v.risk.as_str(),
            if v.risk_reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", v.risk_reasons.join("; "))
            }
        ),
        format!(
            "cost      {}{}",
            v.cost.headline,
            v.cost
                .basis
                .as_ref()
                .map(|b| format!("  ({b})"))
                .unwrap_or_default()
        ),
    ];
    for l in v.cost.lines {
        out.push(format!(
            "            {:<42} ${:>9.2}",
            l.item, l.monthly_usd
        ));
    }
    for n in v.cost.notes {
        out.push(format!("            note: {n}"));
    }
    out.push(format!("hash      {}", v.hash));
    out.push("gates".into());
    for g in v.gates {
        out.push(format!(
            "  {:<5} {:<22} {}",
            g.result.as_str(),
            g.rule,
            g.reason
        ));
    }
    // Terraform and Ansible steps come before what they change; AWS API steps after the
    // resources they touch.
    let steps = |out: &mut Vec<String>| {
        out.push("steps".into());
        for s in &v.steps {
            out.push(format!("  {}. {}  [{}]", s.number, s.description, s.runs));
        }
    };
    if v.steps.len() > 1 || v.steps.iter().any(|s| s.tool == StepTool::Ansible) {
        steps(&mut out);
    }
    for d in v.dry_runs {
        out.push(format!(
            "dry run   step {}: {} {}: {}",
            d.step,
            d.tool,
            d.status.as_str(),
            d.summary
        ));
        for n in &d.notes {
            out.push(format!("            note: {n}"));
        }
        for h in &d.hosts {
            out.push(format!(
                "            {:<24} ok={} changed={} failed={} unreachable={}",
                h.host, h.ok, h.changed, h.failed, h.unreachable
            ));
        }
        out.push(format!("            approval binds: {}", d.binds));
    }
    if !v.resources.is_empty() {
        out.push("resources".into());
    }
    for r in &v.resources {
        let count = if r.count > 1 {
            format!(" ×{}", r.count)
        } else {
            String::new()
        };
        let note = r.note.map(|n| format!("  ({n})")).unwrap_or_default();
        out.push(format!("  {} {}{count}{note}", r.symbol, r.address));
    }
    if v.steps.iter().any(|s| s.tool == StepTool::Aws) {
        steps(&mut out);
    }
    // Each AWS API call's targets as the agent saw them, and what they become.
    if !v.calls.is_empty() {
        out.push("changes".into());
        out.extend(v.calls.lines().into_iter().map(|l| format!("  {l}")));
    }
    out.push("artifacts".into());
    for a in v.artifacts {
        out.push(format!(
            "  {:<20} {:>7} B  sha256:{}",
            a.name, a.size, a.sha256
        ));
    }
    for a in v.approvals {
        out.push(format!(
            "approved  by {} at {} (hash {})",
            a.user,
            a.at,
            crate::approval::short(&a.plan_hash)
        ));
    }
    if let Some(r) = v.rejection {
        out.push(format!("rejected  by {} at {}: {}", r.user, r.at, r.reason));
    }
    for x in v.executions {
        out.push(format!(
            "executed  by {} at {} → {} {}",
            x.started_by,
            x.started_at,
            x.outcome.as_deref().unwrap_or("running"),
            x.log_uri.as_deref().unwrap_or("")
        ));
    }
    out
}

/// A report's closing lines (its results were printed as they arrived).
pub fn report_lines(v: &ReportView<'_>) -> Vec<String> {
    let mut out = vec![v.summary.to_string()];
    out.extend(v.notes.iter().map(|n| format!("note: {n}")));
    out.push(v.stored.clone());
    out
}

/// The audit listing, oldest first.
pub fn audit_table(rows: &[AuditRowView<'_>]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["no audit events match".into()];
    }
    let line = |c: &[String]| {
        format!(
            "{:>6}  {:<24} {:<10} {:<17} {:<10} {:<8} {:<13} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        )
    };
    let mut out = vec![line(&audit_row::COLUMNS.map(String::from))];
    out.extend(rows.iter().map(|r| line(&r.cells("-"))));
    out
}

/// Each artifact as the tool reads it, headed `# file: NAME` when there are several. A saved
/// Terraform plan is binary: its `show -json` (kept beside it) is what is printed for it.
pub fn print_artifacts(files: &[(ArtifactRef, Vec<u8>)]) {
    let many = files.len() > 1;
    for (a, bytes) in files {
        if a.kind.is_binary() {
            outln!(
                "# file: {} (binary saved plan, {} bytes, sha256 {}; printed as its JSON below)",
                a.name,
                bytes.len(),
                a.sha256
            );
            continue;
        }
        if many {
            outln!("# file: {}", a.name);
        }
        // Artifacts carry request values; on a terminal they are text like everything else.
        print_block(&String::from_utf8_lossy(bytes));
        if many && !bytes.ends_with(b"\n") && !bytes.is_empty() {
            outln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::test_record;

    #[test]
    fn a_replacement_reads_as_in_terraform() {
        let rec = test_record();
        let lines = plan_lines(&PlanView::of(&rec));
        assert!(
            lines.contains(
                &"  -/+ aws_security_group.this  (REPLACED: destroyed, then created again)"
                    .to_string()
            ),
            "{lines:#?}"
        );
        assert!(lines.contains(&"  + aws_instance.this ×2".to_string()));
        assert!(lines.contains(
            &"cost      $131.31/month  (bundled price table, prices of 2025-01-15)".to_string()
        ));
        // A single Terraform step is not listed: the resources say what it does.
        assert!(!lines.contains(&"steps".to_string()));
    }
}
