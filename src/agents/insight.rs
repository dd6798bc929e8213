//! What the agents share: where to look (time window), how a selection of instances reads, how
//! synchronous planning code reaches AWS, and how AWS errors read.
//!
//! Agents plan synchronously; SDK calls run on [`AwsAccess`]'s own runtime through `block_on`,
//! which needs owned (`'static`) futures. So each agent loads an [`SdkConfig`] first, builds
//! clients from it, and moves them into small futures, emitting progress between calls.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use jiff::{SignedDuration, Timestamp};

use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;

/// A selection of instances in words: "i-0abc…, i-0def…", "tagged Env=staging, Role=web";
/// each agent adds its own words for a name or an environment.
pub(crate) fn selection_words(ids: &[String], tags: &BTreeMap<String, String>) -> Vec<String> {
    let mut parts = Vec::new();
    if !ids.is_empty() {
        parts.push(ids.join(", "));
    }
    if !tags.is_empty() {
        parts.push(format!(
            "tagged {}",
            tags.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts
}

pub(crate) fn config(aws: &AwsAccess, region: &str) -> Result<SdkConfig> {
    aws.config_blocking(region)
}

/// Whether S3 needs path-style addressing: whenever an endpoint is overridden (moto, LocalStack,
/// VPC endpoints by IP), as [`AwsAccess::s3`] decides.
pub(crate) fn path_style(aws: &AwsAccess, conf: &SdkConfig) -> bool {
    aws.endpoint_url().is_some()
        || conf.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}

/// An S3 client for `region` on top of `conf` (buckets live in their own regions).
pub(crate) fn s3_for(conf: &SdkConfig, region: &str, path_style: bool) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .region(aws_config::Region::new(region.to_string()))
            .force_path_style(path_style)
            .build(),
    )
}

/// Whether a bucket exists and in which region (None: no such bucket). A bucket in another
/// region answers HeadBucket with a redirect that still names its region.
pub(crate) async fn bucket_region(
    s3: aws_sdk_s3::Client,
    bucket: String,
) -> Result<Option<Option<String>>> {
    match s3.head_bucket().bucket(&bucket).send().await {
        Ok(o) => Ok(Some(o.bucket_region().map(str::to_string))),
        Err(e) => {
            let raw = e.raw_response();
            let region = raw
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_string);
            match raw.map(|r| r.status().as_u16()) {
                Some(404) => Ok(None),
                Some(301 | 400) if region.is_some() => Ok(Some(region)),
                _ => Err(aws_error("S3", "HeadBucket", &e)),
            }
        }
    }
}

/// An SDK error as the person at the keyboard reads it.
pub(crate) fn aws_error<E, R>(service: &str, operation: &str, err: &SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error,
    R: crate::aws::error::HttpStatus,
{
    crate::aws::AwsError::from_sdk(service, operation, err).into()
}

/// The service's error code, when the service answered with one.
pub(crate) fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

pub(crate) fn progress(sink: Sink<'_>, agent: AgentKind, message: impl Into<String>) {
    sink(AgentEvent::Progress {
        agent,
        message: message.into(),
    });
}

/// A look-back window: `15m`, `24h`, `7d`, `mtd` (since the first of the month, UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub fn secs(&self) -> i64 {
        (self.end.as_second() - self.start.as_second()).max(1)
    }
}

pub(crate) fn window(
    text: Option<&str>,
    default: &str,
    now: Timestamp,
) -> Result<(String, Window)> {
    let label = text.unwrap_or(default).to_string();
    let start = if label == "mtd" {
        let z = now.to_zoned(jiff::tz::TimeZone::UTC);
        z.date()
            .first_of_month()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|d| d.timestamp())
            .map_err(|e| Error::input(format!("cannot compute the start of the month: {e}")))?
    } else {
        let secs = window_secs(&label).ok_or_else(|| {
            Error::input(format!(
                "'{label}' is not a time window: use 15m, 24h, 7d or 30d"
            ))
        })?;
        now.checked_sub(SignedDuration::from_secs(secs))
            .map_err(|e| Error::input(format!("window {label} is out of range: {e}")))?
    };
    Ok((label, Window { start, end: now }))
}

/// `15m` → 900, `24h` → 86400, `7d` → 604800.
pub(crate) fn window_secs(w: &str) -> Option<i64> {
    let (n, unit) = w.split_at(w.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let mult = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|s| *s <= 455 * 86_400)
}

/// At most `max` characters, with an ellipsis when cut; whitespace runs become one space.
pub(crate) fn clip(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `2026-11-24 14:05` (UTC), for table cells.
pub(crate) fn short_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

pub(crate) fn from_smithy(t: &aws_smithy_types::DateTime) -> Option<Timestamp> {
    Timestamp::from_second(t.secs()).ok().and_then(|ts| {
        ts.checked_add(SignedDuration::from_nanos(i64::from(t.subsec_nanos())))
            .ok()
    })
}

pub(crate) fn to_smithy(t: Timestamp) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(
        t.as_second(),
        t.subsec_nanosecond().max(0) as u32,
    )
}

/// Where the rest of a big result is: the report's data and files, and `--json`.
pub(crate) fn see_all(what: &str) -> String {
    format!(
        "{what}: the whole result is in the report's data (`opsdeck ask --json ...`) and its files (`opsdeck ask --export DIR ...`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(window_secs("15m"), Some(900));
        assert_eq!(window_secs("24h"), Some(86_400));
        assert_eq!(window_secs("7d"), Some(604_800));
        assert_eq!(window_secs("0h"), None);
        assert_eq!(window_secs("h"), None);
        assert_eq!(window_secs("9999d"), None);
        let now: Timestamp = "2026-11-24T10:00:00Z".parse().unwrap();
        let (_, w) = window(Some("mtd"), "24h", now).unwrap();
        assert_eq!(w.start.to_string(), "2026-11-01T00:00:00Z");
        let (l, w) = window(None, "24h", now).unwrap();
        assert_eq!((l.as_str(), w.secs()), ("24h", 86_400));
        assert!(window(Some("soon"), "24h", now).is_err());
    }

    #[test]
    fn clipping_keeps_char_boundaries() {
        assert_eq!(clip("héllo   wörld", 20), "héllo wörld");
        assert_eq!(clip("héllo wörld", 6), "héllo…");
    }
}
