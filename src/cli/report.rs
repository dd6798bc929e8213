//! `report NAME`: the core builds the report; this writes it as text, CSV, HTML or JSON, to
//! standard output or `--out FILE`.

use super::args::{ReportCommand, ReportFormat, ReportOutput};
use super::print::{print_block, print_json, print_lines};
use crate::error::{Error, Result};
use crate::pipeline::Deck;
use crate::reports::{ReportName, ReportOptions, render};

pub fn run(deck: &Deck, cmd: ReportCommand, json_out: bool) -> Result<u8> {
    let (name, opts, output) = match cmd {
        ReportCommand::Stored(cmd) => return super::report_store::run(deck, cmd, json_out),
        ReportCommand::Cost { output } => (ReportName::Cost, ReportOptions::default(), output),
        ReportCommand::Security { output } => {
            (ReportName::Security, ReportOptions::default(), output)
        }
        ReportCommand::Monitoring { output } => {
            (ReportName::Monitoring, ReportOptions::default(), output)
        }
        ReportCommand::Operations {
            since,
            until,
            output,
        } => (
            ReportName::Operations,
            ReportOptions {
                since,
                until,
                ..ReportOptions::default()
            },
            output,
        ),
        ReportCommand::Compliance { framework, output } => (
            ReportName::Compliance,
            ReportOptions {
                framework: Some(framework),
                ..ReportOptions::default()
            },
            output,
        ),
    };
    // Operations and compliance keep their own CSV shapes; the others are long-form.
    if !json_out && output.format == ReportFormat::Csv {
        let text = match name {
            ReportName::Operations => deck
                .trail()
                .operations_report(opts.since.as_deref(), opts.until.as_deref())?
                .to_csv(),
            ReportName::Compliance => deck
                .trail()
                .compliance_report(opts.framework.as_deref().unwrap_or("cis"))?
                .to_csv()?,
            _ => render::to_csv(&deck.reports().build(name, &opts)?),
        };
        return write(&output, name, &text);
    }
    let doc = deck.reports().build(name, &opts)?;
    if json_out {
        // Operations and compliance print their own structure, as before; the others the
        // whole report (summary, tables, notes, and their data).
        let value = match name {
            ReportName::Operations | ReportName::Compliance => doc.data,
            _ => serde_json::to_value(&doc).map_err(|e| Error::io("encoding output", e.into()))?,
        };
        if output.out.is_none() {
            print_json(&value)?;
            return Ok(0);
        }
        let text = crate::sanitize::to_json_pretty(&value)
            .map_err(|e| Error::io("encoding output", e.into()))?;
        return write(&output, name, &format!("{text}\n"));
    }
    let mut lines = vec![doc.summary.clone(), String::new()];
    for o in &doc.outputs {
        lines.extend(o.to_text());
        lines.push(String::new());
    }
    lines.extend(doc.notes.iter().map(|n| format!("note: {n}")));
    match output.format {
        ReportFormat::Html => write(&output, name, &render::to_html(&doc)),
        _ if output.out.is_none() => {
            print_lines(&lines);
            Ok(0)
        }
        _ => write(
            &output,
            name,
            &crate::sanitize::terminal(&(lines.join("\n") + "\n")),
        ),
    }
}

/// The report's text to `--out FILE`, or to standard output.
fn write(output: &ReportOutput, name: ReportName, text: &str) -> Result<u8> {
    match &output.out {
        Some(path) => {
            std::fs::write(path, text.as_bytes())
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            outln!("{name} report written to {}", path.display());
        }
        None => print_block(text),
    }
    Ok(0)
}
