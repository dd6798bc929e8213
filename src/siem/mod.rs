//! The audit trail for a SIEM: each record as an OCSF-style event (class API Activity, 6003)
//! written as JSON lines to a file, an S3 prefix or a CloudWatch Logs stream, continuously
//! from a cursor.
//!
//! The cursor is read back from the destination itself (the sequence number of the last record
//! it holds), never from a separate bookkeeping file: an export killed between writing and
//! remembering cannot leave the two disagreeing, so a resumed export never writes a record
//! twice and never skips one.
//!
//! - [`ocsf`]: one record as an event.
//! - [`sinks`]: the destinations, their cursors and how a batch is written to each.

pub mod ocsf;
pub mod sinks;

use std::path::PathBuf;

use crate::error::{Error, Result};

pub use ocsf::event;

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// JSON lines appended to a local file.
    File(PathBuf),
    /// One object per batch under `s3://BUCKET/PREFIX<tenant>/`.
    S3 { bucket: String, prefix: String },
    /// A CloudWatch Logs stream of an existing log group.
    Logs { group: String, stream: String },
}

impl Destination {
    /// `s3://BUCKET[/PREFIX]`, `logs:GROUP` (the stream is `stream`, default
    /// `opsdeck-<tenant>`), or a file path (`file:PATH` or a plain path).
    pub fn parse(to: &str, stream: Option<&str>, tenant: &str) -> Result<Destination> {
        let to = to.trim();
        if let Some(rest) = to.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !valid_bucket(bucket) {
                return Err(Error::input(format!(
                    "--to s3://{bucket}: not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
                )));
            }
            let mut prefix = prefix.to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            if prefix.chars().any(char::is_control) {
                return Err(Error::input(
                    "--to: the S3 prefix holds a control character",
                ));
            }
            return Ok(Destination::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(group) = to.strip_prefix("logs:") {
            let stream = stream
                .map(str::to_string)
                .unwrap_or_else(|| format!("opsdeck-{tenant}"));
            if !valid_log_group(group) {
                return Err(Error::input(format!(
                    "--to logs:{group}: not a CloudWatch Logs group name (1 to 512 of letters, digits and _ - / . #)"
                )));
            }
            if stream.is_empty()
                || stream.len() > 512
                || stream
                    .chars()
                    .any(|c| c == ':' || c == '*' || c.is_control())
            {
                return Err(Error::input(format!(
                    "--stream {stream:?}: not a CloudWatch Logs stream name (1 to 512 characters, no ':' or '*')"
                )));
            }
            return Ok(Destination::Logs {
                group: group.to_string(),
                stream,
            });
        }
        if stream.is_some() {
            return Err(Error::input(
                "--stream names a CloudWatch Logs stream: use it with --to logs:GROUP",
            ));
        }
        let path = to.strip_prefix("file:").unwrap_or(to);
        if path.is_empty() {
            return Err(Error::input(
                "--to: give a file, s3://BUCKET/PREFIX or logs:GROUP",
            ));
        }
        Ok(Destination::File(PathBuf::from(path)))
    }

    /// How the destination reads in messages.
    pub fn describe(&self, tenant: &str) -> String {
        match self {
            Destination::File(p) => p.display().to_string(),
            Destination::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{tenant}/"),
            Destination::Logs { group, stream } => format!("CloudWatch Logs {group} / {stream}"),
        }
    }
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !b.starts_with(['.', '-'])
        && !b.ends_with(['.', '-'])
}

fn valid_log_group(g: &str) -> bool {
    (1..=512).contains(&g.len())
        && g.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.#".contains(c))
}

/// What one export did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportReport {
    pub destination: String,
    /// The last record the destination already held (0: none).
    pub resumed_after: u64,
    /// How many records were written now, and the last one's sequence number.
    pub exported: u64,
    pub last_seq: u64,
    /// Batches written (objects for S3, PutLogEvents calls for CloudWatch Logs).
    pub batches: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_told_apart_and_bad_names_refused() {
        assert_eq!(
            Destination::parse("s3://audit-bucket/siem", None, "shop").unwrap(),
            Destination::S3 {
                bucket: "audit-bucket".into(),
                prefix: "siem/".into()
            }
        );
        assert_eq!(
            Destination::parse("logs:/opsdeck/audit", None, "shop").unwrap(),
            Destination::Logs {
                group: "/opsdeck/audit".into(),
                stream: "opsdeck-shop".into()
            }
        );
        assert_eq!(
            Destination::parse("file:out.jsonl", None, "shop").unwrap(),
            Destination::File("out.jsonl".into())
        );
        assert!(Destination::parse("s3://Bad_Bucket", None, "shop").is_err());
        assert!(Destination::parse("logs:bad group", None, "shop").is_err());
        assert!(Destination::parse("logs:g", Some("a:b"), "shop").is_err());
        assert!(Destination::parse("out.jsonl", Some("s"), "shop").is_err());
        assert!(Destination::parse("  ", None, "shop").is_err());
    }
}
