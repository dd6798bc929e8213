//! The console's `:` commands, written once: the parser, the help overlay's line and the error
//! for an unknown command all come from [`COMMANDS`], and a test holds docs/keybindings.md to it.

use super::action::Pane;

/// One command: its names (the first is the one shown), its argument, what it does.
pub struct CommandSpec {
    pub names: &'static [&'static str],
    pub arg: Option<&'static str>,
    pub what: &'static str,
    /// The command, from its argument (checked against `arg` by [`parse`]).
    make: fn(Option<String>) -> Command,
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Quit,
    Focus(Pane),
    Prompt,
    Help,
    Refresh,
    Cancel,
    Verify,
    Init,
    Export(Option<String>),
    Theme(Option<String>),
    Tenant(Option<String>),
    Config(Option<String>),
    Like(Option<String>),
    Suggest,
    /// The Library pane; with words, filtered by them; `approve NAME@V`, `deprecate NAME@V
    /// [REASON]` as `opsdeck library` does them.
    Library(Option<String>),
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        names: &["approvals", "a", "queue"],
        arg: None,
        what: "the approvals queue",
        make: |_| Command::Focus(Pane::Approvals),
    },
    CommandSpec {
        names: &["audit", "au"],
        arg: None,
        what: "the audit browser",
        make: |_| Command::Focus(Pane::Audit),
    },
    CommandSpec {
        names: &["reports", "r"],
        arg: None,
        what: "the Reports pane",
        make: |_| Command::Focus(Pane::Reports),
    },
    CommandSpec {
        names: &["library", "lib"],
        arg: Some("[WORDS | approve NAME@V | deprecate NAME@V [REASON]]"),
        what: "the Library pane (filtered by WORDS); approve or deprecate a version as `opsdeck library` does",
        make: Command::Library,
    },
    CommandSpec {
        names: &["diff", "d"],
        arg: None,
        what: "the diff viewer",
        make: |_| Command::Focus(Pane::Diff),
    },
    CommandSpec {
        names: &["preview", "p"],
        arg: None,
        what: "the intent and plan preview",
        make: |_| Command::Focus(Pane::Preview),
    },
    CommandSpec {
        names: &["conversation", "c", "chat"],
        arg: None,
        what: "back to the prompt",
        make: |_| Command::Prompt,
    },
    CommandSpec {
        names: &["init"],
        arg: None,
        what: "set up a tenant nobody is registered in: you become its first admin",
        make: |_| Command::Init,
    },
    CommandSpec {
        names: &["tenant"],
        arg: Some("NAME"),
        what: "act in another tenant (same user and backend)",
        make: Command::Tenant,
    },
    CommandSpec {
        names: &["config"],
        arg: Some("NAME|none"),
        what: "the AWS configuration you act through",
        make: Command::Config,
    },
    CommandSpec {
        names: &["like"],
        arg: Some("PLAN_ID"),
        what: "plan a past plan's request again against today's state (the preview lists similar ones)",
        make: Command::Like,
    },
    CommandSpec {
        names: &["suggest"],
        arg: None,
        what: "what the tenant's past suggests: repeated changes, repeated denials, dearer plans",
        make: |_| Command::Suggest,
    },
    CommandSpec {
        names: &["theme"],
        arg: Some("NAME"),
        what: "switch the theme (dark, light, high-contrast, or yours)",
        make: Command::Theme,
    },
    CommandSpec {
        names: &["export"],
        arg: Some("json|csv"),
        what: "write the filtered audit events to the data directory",
        make: Command::Export,
    },
    CommandSpec {
        names: &["verify"],
        arg: None,
        what: "recompute the audit chain and signatures",
        make: |_| Command::Verify,
    },
    CommandSpec {
        names: &["cancel"],
        arg: None,
        what: "cancel the running request or apply",
        make: |_| Command::Cancel,
    },
    CommandSpec {
        names: &["refresh"],
        arg: None,
        what: "reload the queue and the audit trail",
        make: |_| Command::Refresh,
    },
    CommandSpec {
        names: &["help", "h"],
        arg: None,
        what: "every key and command",
        make: |_| Command::Help,
    },
    CommandSpec {
        names: &["q", "quit", "exit", "q!"],
        arg: None,
        what: "leave the console",
        make: |_| Command::Quit,
    },
];

/// One line naming every command, for the help overlay and for errors.
pub fn summary() -> String {
    COMMANDS
        .iter()
        .map(|c| match c.arg {
            Some(a) => format!("{} {a}", c.names[0]),
            None => c.names[0].to_string(),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Reads a command line (without the `:`). `Ok(None)` for an empty line.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let mut parts = line.split_whitespace();
    let Some(head) = parts.next() else {
        return Ok(None);
    };
    let arg = parts.collect::<Vec<_>>().join(" ");
    let arg = (!arg.is_empty()).then_some(arg);
    let Some(spec) = COMMANDS.iter().find(|c| c.names.contains(&head)) else {
        return Err(format!(":{head} is not a command ({})", summary()));
    };
    if spec.arg.is_none() && arg.is_some() {
        return Err(format!(":{} takes no argument", spec.names[0]));
    }
    Ok(Some((spec.make)(arg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_unknown_ones_list_the_table() {
        for c in COMMANDS {
            for n in c.names {
                let line = match c.arg {
                    Some(_) => format!("{n} x"),
                    None => n.to_string(),
                };
                assert!(parse(&line).unwrap().is_some(), "{line}");
            }
        }
        let e = parse("frobnicate").unwrap_err();
        assert!(e.contains(&summary()), "{e}");
        assert!(
            parse("verify now")
                .unwrap_err()
                .contains("takes no argument")
        );
        assert_eq!(parse("  ").unwrap(), None);
    }

    #[test]
    fn the_keybindings_page_names_every_command() {
        let doc = include_str!("../../docs/keybindings.md");
        for c in COMMANDS {
            let shown = format!("`:{}", c.names[0]);
            assert!(
                doc.contains(&shown),
                "docs/keybindings.md does not name {shown}`"
            );
        }
    }
}
