//! `opsdeck mcp` (stdio, or streamable HTTP with `--listen`) and `opsdeck tokens`, the bearer
//! tokens HTTP clients present.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use super::args::{McpArgs, TokensCommand};
use super::print::print_json;
use crate::error::{Error, Result};
use crate::pipeline::{Deck, OpenOptions};

pub fn serve(open: OpenOptions, args: McpArgs) -> Result<u8> {
    let Some(listen) = args.listen else {
        return crate::mcp::serve(open);
    };
    let addr: SocketAddr = listen.parse().map_err(|_| {
        Error::input(format!(
            "--listen {listen}: give an address and port, e.g. 127.0.0.1:8765"
        ))
    })?;
    if !addr.ip().is_loopback() {
        return Err(Error::input(format!(
            "--listen {addr}: opsdeck serves MCP over HTTP on a loopback address only (127.0.0.1 or [::1]), as bearer tokens travel in clear; put a TLS-terminating proxy in front for other machines"
        )));
    }
    for origin in &args.allow_origins {
        check_origin(origin)?;
    }
    crate::mcp::http::serve(
        open,
        crate::mcp::http::HttpOptions {
            listen: addr,
            allowed_origins: args.allow_origins,
        },
    )
}

/// An origin is a scheme, a host and an optional port: nothing else matches a browser's
/// `Origin` header.
fn check_origin(origin: &str) -> Result<()> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]*".contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!(
            "--allow-origin {}: give a browser origin such as http://localhost:3000 or https://app.example.com (scheme, host, optional port; no path)",
            crate::sanitize::line(origin)
        )))
    }
}

pub fn tokens(deck: &Deck, cmd: TokensCommand, json_out: bool) -> Result<u8> {
    match cmd {
        TokensCommand::Issue {
            name,
            label,
            rate_per_minute,
            secret_file,
            totp,
        } => {
            if json_out && secret_file.is_none() {
                return Err(Error::input(
                    "with --json, give --secret-file PATH: the secret never goes into --json output",
                ));
            }
            if let Some(path) = &secret_file
                && path.exists()
            {
                return Err(Error::input(format!(
                    "--secret-file {}: the file exists; give a new path (a secret is never written over another file)",
                    path.display()
                )));
            }
            let issued =
                deck.admin()
                    .issue_token(&name, &label, rate_per_minute, totp.as_deref())?;
            if let Some(path) = &secret_file {
                write_secret(path, &issued.secret)?;
            }
            let t = &issued.token;
            if json_out {
                print_json(&t.public())?;
                return Ok(0);
            }
            outln!(
                "issued {} for {} in tenant {} ({} requests a minute)",
                t.id,
                t.user,
                t.tenant,
                t.rate_per_minute
            );
            match &secret_file {
                Some(path) => outln!("secret written to {} (mode 0600)", path.display()),
                None => {
                    outln!("secret (shown once; clients send it as `Authorization: Bearer …`):");
                    outln!("{}", issued.secret);
                }
            }
        }
        TokensCommand::Revoke { id, totp } => {
            let t = deck.admin().revoke_token(&id, totp.as_deref())?;
            if json_out {
                print_json(&t.public())?;
            } else {
                outln!(
                    "revoked {} of {} (at {})",
                    t.id,
                    t.user,
                    t.revoked_at
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                );
            }
        }
        TokensCommand::List => {
            let list = deck.admin().tokens()?;
            if json_out {
                let v: Vec<_> = list.iter().map(|t| t.public()).collect();
                print_json(&v)?;
            } else if list.is_empty() {
                outln!(
                    "tenant {} has no MCP tokens (`opsdeck tokens issue USER`)",
                    deck.tenant().name
                );
            } else {
                for t in list {
                    let state = match &t.revoked_at {
                        Some(at) => format!("revoked {at}"),
                        None => "active".into(),
                    };
                    outln!(
                        "{}  {:<16} {:>5}/min  {}  {}",
                        t.id,
                        t.user,
                        t.rate_per_minute,
                        state,
                        t.label
                    );
                }
            }
        }
    }
    Ok(0)
}

fn write_secret(path: &Path, secret: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    writeln!(f, "{secret}").map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
