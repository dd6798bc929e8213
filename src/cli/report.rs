//! `report operations|compliance`: the core builds the report; this prints it as text, CSV or
//! JSON.

use super::args::{ReportCommand, ReportFormat};
use super::print::{print_block, print_json, print_lines};
use crate::error::Result;
use crate::pipeline::Deck;

pub fn run(deck: &Deck, cmd: ReportCommand, json_out: bool) -> Result<u8> {
    match cmd {
        ReportCommand::Operations {
            since,
            until,
            format,
        } => {
            let report = deck
                .trail()
                .operations_report(since.as_deref(), until.as_deref())?;
            if json_out {
                print_json(&report)?;
            } else if format == ReportFormat::Csv {
                print_block(&report.to_csv());
            } else {
                for output in report.outputs() {
                    print_lines(&output.to_text());
                    outln!();
                }
            }
            Ok(0)
        }
        ReportCommand::Compliance { framework, format } => {
            let report = deck.trail().compliance_report(&framework)?;
            if json_out {
                print_json(&report)?;
            } else if format == ReportFormat::Csv {
                print_block(&report.to_csv()?);
            } else {
                for output in report.outputs() {
                    print_lines(&output.to_text());
                    outln!();
                }
            }
            Ok(0)
        }
        ReportCommand::Stored(cmd) => super::report_store::run(deck, cmd, json_out),
    }
}
