//! The headless command line: every subcommand over the same [`Deck`], human output by default,
//! machine-readable JSON only with `--json`.
//!
//! - `args`: the flags and subcommands (clap).
//! - `requests`: `classify` (with similar past requests), `explain`, `ask` (`--like`),
//!   `submit`, `suggest`.
//! - `plans`: `plans list/show/cancel`, `approve`, `reject`, `apply` in this process.
//! - `runner`: `opsdeck runner`, and `apply` handing over to it and following its log.
//! - `audit`: `audit list/show/verify/export`.
//! - `admin`: `tenants`, `users`, `policy`.
//! - `stacks`, `configs`, `backend`: Terraform stacks, AWS configurations, the shared backend.
//! - `drift`: `drift [STACK…] [--watch]`, `drift revert STACK`.
//! - `notify`: `notify status/flush` (the notification outbox).
//! - `setup`: `init`, `totp` (`demo` is [`crate::demo`]).
//! - `mcp`: `mcp` (stdio or HTTP, served by [`crate::mcp`]) and the `tokens` HTTP clients use.
//! - `print`: `--json`, and the view models ([`crate::view`]) laid out as text lines.

/// `println!` for human-readable output. Every line the CLI prints may hold request, plan,
/// store or AWS text, so the whole line goes through [`crate::sanitize::line`]: controls, bidi
/// and invisible characters print as visible `\u{..}` escapes, and data cannot start a line of
/// its own. Multi-line blocks go through `print::print_block`.
macro_rules! outln {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", $crate::sanitize::line(&format!($($arg)*)))
    };
}

/// `eprintln!` with the same rule as [`outln!`].
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::sanitize::line(&format!($($arg)*)))
    };
}

mod admin;
mod args;
mod audit;
mod backend;
mod configs;
mod drift;
mod keys;
mod library;
mod mcp;
mod notify;
mod plans;
mod print;
mod report;
mod report_store;
mod requests;
mod runner;
mod setup;
mod stacks;

pub use args::*;

use crate::error::{Error, Result};
use crate::pipeline::Deck;

/// Runs the CLI; returns the process exit status.
pub fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    let mut open = cli.open_options();
    let Some(command) = cli.command else {
        return crate::tui::run(open);
    };
    // These need no tenant's deck: classification works even when the data directory is
    // unusable, and the backend is set up before any deck opens on it.
    let command = match command {
        Command::Classify { batch, text } => {
            return requests::classify(batch.as_deref(), &text, json, &open);
        }
        Command::Mcp(args) => return mcp::serve(open, args),
        Command::Demo {
            install,
            serve,
            stop,
        } => {
            let options = crate::demo::DemoOptions {
                open,
                install,
                serve,
                stop,
            };
            return crate::demo::run(options, json);
        }
        Command::Backend(cmd) => return backend::run(cmd, &open, json),
        Command::Runner(args) => return runner::run(args, &open, json),
        Command::Iam(IamCommand::Policy {
            role,
            account,
            for_tenants,
            deploy_roles,
        }) => {
            let request = crate::pipeline::PolicyRequest {
                role: role.parse()?,
                account,
                tenants: for_tenants,
                deploy_roles,
            };
            // A policy document is JSON whatever the output mode.
            print::print_json(&crate::pipeline::iam_policy(&open, &request)?)?;
            return Ok(0);
        }
        other => other,
    };
    // Managing configurations must work even when the selected one is gone.
    if matches!(&command, Command::Configs(c) if !matches!(c, ConfigsCommand::Check { .. }))
        && open.aws_config.is_none()
    {
        open.aws_config = Some("none".into());
    }
    let deck = Deck::open(open)?;
    let progress = print::progress(json);
    let code = match command {
        Command::Init => setup::init(&deck, json),
        Command::Totp { code_only } => setup::totp(&deck, code_only, json),
        Command::Explain { what } => requests::explain(&deck, &what.join(" "), json),
        Command::Ask(args) => requests::ask(&deck, args, &progress, json),
        Command::Suggest { min_repeats } => requests::suggest(&deck, min_repeats, json),
        Command::Submit(args) => requests::submit(&deck, args, &progress, json),
        Command::Plans(cmd) => plans::run(&deck, cmd, json),
        Command::Approve(args) => plans::approve(&deck, args, json),
        Command::Reject(args) => plans::reject(&deck, args, json),
        Command::Apply(args) => runner::apply(&deck, args, &progress, json),
        Command::Stacks { command } => stacks::run(&deck, command, json),
        Command::Drift(args) => drift::run(&deck, args, &progress, json),
        Command::Audit(cmd) => audit::run(&deck, cmd, json),
        Command::Report(cmd) => report::run(&deck, cmd, json),
        Command::Library(cmd) => library::run(&deck, cmd, &progress, json),
        Command::Tenants(cmd) => admin::tenants(&deck, cmd, json),
        Command::Users(cmd) => admin::users(&deck, cmd, json),
        Command::Keys(cmd) => keys::run(&deck, cmd, json),
        Command::Policy(cmd) => admin::policy(&deck, cmd, json),
        Command::Tokens(cmd) => mcp::tokens(&deck, cmd, json),
        Command::Configs(cmd) => configs::run(&deck, cmd, json),
        Command::Notify(cmd) => notify::run(&deck, cmd, json),
        Command::Classify { .. }
        | Command::Mcp(_)
        | Command::Backend(_)
        | Command::Runner(_)
        | Command::Demo { .. }
        | Command::Iam(_) => Err(Error::input("handled before the store opens")),
    };
    // What the command queued gets its first attempt before the process ends; whatever is not
    // delivered by then stays in the outbox for the next start.
    crate::notify::worker::settle(NOTIFY_SETTLE);
    code
}

/// How long a command's exit waits for its notifications' first attempt.
const NOTIFY_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);
