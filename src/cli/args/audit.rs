//! `audit`'s subcommands and the filters its listings share.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::audit::export::Format;

#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Events by this user (`--user` is who is acting).
    #[arg(long, value_name = "USER")]
    pub by: Option<String>,
    #[arg(long)]
    pub agent: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub event: Option<String>,
    /// Plan id, request id or event id (prefix).
    #[arg(long)]
    pub id: Option<String>,
    /// ISO date/time or look-back such as 1h, 24h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    /// Newest N only.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Events of the tenant, oldest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// One event (by event id or sequence number), or every event of a plan or request.
    Show { id: String },
    /// Recompute the hash chain and signatures, compare them with every checkpoint this member
    /// can read (its own, and on the shared backend the Object Lock bucket) and the audit-signing
    /// keys it pinned; names what happened (edited, reordered, removed, truncated, re-sealed,
    /// emptied, deleted) at which record.
    Verify {
        /// Check every record's signature, not only every 8th and the last (each signature
        /// already covers all records before it).
        #[arg(long)]
        full: bool,
    },
    /// Trust an audit-signing key that `audit verify` names as not certified, after its holder
    /// confirmed its id: an admin certifies it for every member with a signed event; anyone
    /// else pins it for themself.
    TrustKey { key_id: String },
    /// Certify this machine's audit-signing key with your personal key (done on the side of
    /// your first change in a tenant when your key needs no passphrase prompt).
    Certify,
    /// Revoke an audit-signing key (admins): records it seals after this signed event are not
    /// trusted by any member.
    RevokeKey {
        key_id: String,
        /// Why, for the trail (e.g. "laptop lost").
        #[arg(long)]
        reason: String,
    },
    /// Send the trail to a SIEM as OCSF JSON lines (class API Activity): to a file,
    /// s3://BUCKET/PREFIX or logs:GROUP, from where the destination left off (it is its own
    /// cursor: never a record twice, never one skipped).
    Siem {
        /// A file (or file:PATH), s3://BUCKET[/PREFIX], or logs:LOG_GROUP (an existing group).
        #[arg(long)]
        to: String,
        /// The CloudWatch Logs stream (default: opsdeck-<tenant>; created when missing).
        #[arg(long)]
        stream: Option<String>,
        /// The bucket's or log group's region (default: the tenant's).
        #[arg(long)]
        region: Option<String>,
        /// Keep exporting what is new, every --interval seconds, until interrupted.
        #[arg(long)]
        follow: bool,
        /// Seconds between passes with --follow (5 to 86400).
        #[arg(long, default_value_t = 60)]
        interval: u64,
    },
    /// Write the change-management evidence pack of a window into a new directory: every
    /// change (request, plan hash, artifacts, policy results, signed decisions, apply outcome),
    /// the trail up to the window's end and the keys that verify them, checkable offline
    /// (docs/audit.md).
    Evidence {
        /// Start of the window: ISO date/time or a look-back such as 30d.
        #[arg(long)]
        from: String,
        /// End of the window, exclusive.
        #[arg(long)]
        to: String,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write events with their chain fields as JSON or CSV.
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// File to write (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}
