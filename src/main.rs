//! opsdeck's binary: parse the command line, start logging to a file, run, exit with a status
//! that says what happened. Everything else lives in the library.

use std::process::ExitCode;

use std::os::unix::fs::OpenOptionsExt;

use clap::Parser;
use opsdeck::cli::{Cli, run};
use opsdeck::config::Paths;

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader of our output goes away (`| head`).
    // SAFETY: setting a signal disposition at start-up, before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Everything opsdeck and the tools it runs create is readable by its owner only.
    // SAFETY: umask has no preconditions.
    unsafe {
        libc::umask(0o077);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are ours: shown as clap styles them.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // A usage error quotes what was typed: printed as text, never as terminal controls
            // or bidi overrides (clap passes them through to a terminal).
            eprint!("{}", opsdeck::sanitize::terminal(&e.render().to_string()));
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    init_logging(&cli);
    let json = cli.json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!(error = %opsdeck::redact::redact(&e.to_string()), "command failed");
            // Messages quote requests, names and AWS answers: printed as text, never as
            // terminal controls.
            if json {
                let mut v = serde_json::json!({"error": e.to_string(), "code": e.code()});
                // A change to confirm: the readings to pick from, for scripts and MCP clients.
                if let opsdeck::error::Error::NeedsConfirmation(c) = &e {
                    v["readings"] = serde_json::json!(c.readings);
                }
                eprintln!("{}", opsdeck::sanitize::json(&v.to_string()));
            } else {
                eprintln!("opsdeck: {}", opsdeck::sanitize::line(&e.to_string()));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs go to `<data>/logs/opsdeck.log`, never to the screen. `OPSDECK_LOG` sets the filter.
fn init_logging(cli: &Cli) {
    let Ok(paths) = Paths::resolve(cli.home.as_deref(), cli.identity_dir.as_deref()) else {
        return;
    };
    if opsdeck::store::fsutil::ensure_private_dir(&paths.log_dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(paths.log_dir.join("opsdeck.log"))
    else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}
