//! `report refresh|history|compare`: the core stores, lists and compares report runs; this
//! prints them as text or JSON.

use super::args::StoredReportCommand;
use super::print::{print_json, print_lines};
use crate::error::Result;
use crate::pipeline::{CompareWith, Deck};
use crate::reports::{ReportName, ReportOptions};
use crate::view::stored_report::{comparison_lines, history_line};

pub fn run(deck: &Deck, cmd: StoredReportCommand, json_out: bool) -> Result<u8> {
    match cmd {
        StoredReportCommand::Refresh {
            name,
            since,
            framework,
        } => {
            let name: ReportName = name.parse()?;
            let opts = ReportOptions {
                since,
                until: None,
                framework,
            };
            let (doc, run) = deck.reports().refresh(name, &opts)?;
            if json_out {
                print_json(&serde_json::json!({ "run": run, "report": doc }))?;
            } else {
                outln!("{} report stored as run {} ({})", name, run.run_id, run.uri);
                outln!("{}", doc.summary);
            }
            Ok(0)
        }
        StoredReportCommand::History { name } => {
            let name: ReportName = name.parse()?;
            let runs = deck.reports().history(name)?;
            if json_out {
                print_json(&runs)?;
            } else if runs.is_empty() {
                outln!("no stored {name} report yet: `opsdeck report refresh {name}` stores one");
            } else {
                print_lines(&runs.iter().map(history_line).collect::<Vec<_>>());
            }
            Ok(0)
        }
        StoredReportCommand::Compare { name, with } => {
            let name: ReportName = name.parse()?;
            let with = CompareWith::parse(&with, deck.clock());
            let c = deck.reports().compare(name, &with)?;
            if json_out {
                print_json(&c)?;
            } else {
                print_lines(&comparison_lines(&c, 20));
            }
            Ok(0)
        }
    }
}
