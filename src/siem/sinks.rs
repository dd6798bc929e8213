//! The destinations of a SIEM export: where each reads its cursor back from, and how a batch
//! of event lines is written to it.
//!
//! - A file: the last complete line's `metadata.sequence`; a torn last line (an export killed
//!   mid-write) is cut before writing on. Lines are appended and synced.
//! - S3: one object per batch, `<prefix><tenant>/<first seq>-<last seq>.ocsf.jsonl` (20-digit,
//!   zero-padded, so the newest sorts last); the cursor is the last sequence in the newest key.
//! - CloudWatch Logs: the last event of the stream (`GetLogEvents`, newest first, one event);
//!   a missing stream is created, a missing group is an error (its retention is the owner's
//!   choice). Events carry the export time (CloudWatch refuses events older than 14 days); the
//!   record's own time is in the message.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Destination;
use crate::aws::{AwsAccess, AwsError};
use crate::error::{Error, Result};

/// A destination opened for one tenant.
pub enum Sink<'a> {
    File(PathBuf),
    S3(S3Prefix<'a>),
    Logs(LogStream<'a>),
}

/// `s3://BUCKET/<prefix><tenant>/`.
pub struct S3Prefix<'a> {
    aws: &'a AwsAccess,
    region: String,
    bucket: String,
    /// `<prefix><tenant>/`.
    prefix: String,
}

/// A CloudWatch Logs stream of an existing group.
pub struct LogStream<'a> {
    aws: &'a AwsAccess,
    region: String,
    group: String,
    stream: String,
}

/// Records per S3 object; CloudWatch batches are also bounded by its own limits.
pub const BATCH: usize = 1000;
/// CloudWatch Logs: at most 10,000 events and 1,048,576 bytes (each event's message plus 26)
/// per PutLogEvents call, at most 256 KiB per event.
const LOGS_MAX_EVENTS: usize = 10_000;
const LOGS_MAX_BYTES: usize = 1_048_576;
const LOGS_EVENT_OVERHEAD: usize = 26;
const LOGS_MAX_EVENT: usize = 262_144 - LOGS_EVENT_OVERHEAD;

impl<'a> Sink<'a> {
    pub fn open(dest: &Destination, tenant: &str, aws: &'a AwsAccess, region: &str) -> Sink<'a> {
        let region = region.to_string();
        match dest {
            Destination::File(p) => Sink::File(p.clone()),
            Destination::S3 { bucket, prefix } => Sink::S3(S3Prefix {
                aws,
                region,
                bucket: bucket.clone(),
                prefix: format!("{prefix}{tenant}/"),
            }),
            Destination::Logs { group, stream } => Sink::Logs(LogStream {
                aws,
                region,
                group: group.clone(),
                stream: stream.clone(),
            }),
        }
    }

    /// The sequence number of the last record the destination holds (0: none), checking that
    /// what it holds is `tenant`'s.
    pub fn cursor(&self, tenant: &str) -> Result<u64> {
        match self {
            Sink::File(p) => file_cursor(p, tenant),
            Sink::S3(s3) => s3.cursor(),
            Sink::Logs(logs) => logs.cursor(tenant),
        }
    }

    /// Writes one batch: `(seq, line)` pairs in order, each line one event's JSON. Returns
    /// how many writes it took (objects, PutLogEvents calls).
    pub fn write(&self, batch: &[(u64, String)]) -> Result<u64> {
        if batch.is_empty() {
            return Ok(0);
        }
        match self {
            Sink::File(p) => append_lines(p, batch).map(|_| 1),
            Sink::S3(s3) => s3.put(batch).map(|_| 1),
            Sink::Logs(logs) => logs.put(batch),
        }
    }
}

fn append_lines(path: &Path, batch: &[(u64, String)]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut text = String::new();
    for (_, line) in batch {
        text.push_str(line);
        text.push('\n');
    }
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| Error::io(format!("appending to {}", path.display()), e))
}

impl S3Prefix<'_> {
    fn cursor(&self) -> Result<u64> {
        let (s3, bucket, prefix) = (
            self.aws.s3_blocking(&self.region)?,
            self.bucket.clone(),
            self.prefix.clone(),
        );
        let newest = self
            .aws
            .block_on(async move { newest_key(&s3, &bucket, &prefix).await })??;
        Ok(newest.as_deref().and_then(last_seq_of_key).unwrap_or(0))
    }

    fn put(&self, batch: &[(u64, String)]) -> Result<()> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let key = format!("{}{:020}-{:020}.ocsf.jsonl", self.prefix, first.0, last.0);
        let mut body = Vec::new();
        for (_, line) in batch {
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
        }
        let (s3, bucket) = (self.aws.s3_blocking(&self.region)?, self.bucket.clone());
        self.aws.block_on(async move {
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("application/x-ndjson")
                .body(body.into())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("S3", "PutObject", &e))
        })??;
        Ok(())
    }
}

impl LogStream<'_> {
    fn client(&self) -> Result<aws_sdk_cloudwatchlogs::Client> {
        Ok(aws_sdk_cloudwatchlogs::Client::new(
            &self.aws.config_blocking(&self.region)?,
        ))
    }

    fn cursor(&self, tenant: &str) -> Result<u64> {
        let (logs, group, stream) = (self.client()?, self.group.clone(), self.stream.clone());
        let last = self
            .aws
            .block_on(async move { last_log_event(&logs, &group, &stream).await })??;
        match last {
            None => Ok(0),
            Some(message) => sequence_of(message.as_bytes(), tenant, "the log stream"),
        }
    }

    fn put(&self, batch: &[(u64, String)]) -> Result<u64> {
        let logs = self.client()?;
        let mut calls = 0;
        for chunk in logs_chunks(batch)? {
            let (logs, group, stream) = (logs.clone(), self.group.clone(), self.stream.clone());
            let now = jiff::Timestamp::now().as_millisecond();
            self.aws.block_on(async move {
                let events = chunk
                    .into_iter()
                    .map(|m| {
                        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                            .timestamp(now)
                            .message(m)
                            .build()
                            .map_err(|e| AwsError::Runtime {
                                detail: e.to_string(),
                            })
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                logs.put_log_events()
                    .log_group_name(&group)
                    .log_stream_name(&stream)
                    .set_log_events(Some(events))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("CloudWatch Logs", "PutLogEvents", &e))
            })??;
            calls += 1;
        }
        Ok(calls)
    }
}

/// The batch cut to what one PutLogEvents call takes.
fn logs_chunks(batch: &[(u64, String)]) -> Result<Vec<Vec<String>>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for (seq, line) in batch {
        if line.len() > LOGS_MAX_EVENT {
            return Err(Error::input(format!(
                "record {seq} is {} bytes as an event, more than CloudWatch Logs takes ({LOGS_MAX_EVENT}): export it to a file or S3",
                line.len()
            )));
        }
        let size = line.len() + LOGS_EVENT_OVERHEAD;
        let full = chunks
            .last()
            .is_none_or(|c| c.len() == LOGS_MAX_EVENTS || bytes + size > LOGS_MAX_BYTES);
        if full {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(c) = chunks.last_mut() {
            c.push(line.clone());
        }
    }
    Ok(chunks)
}

/// The last complete line's sequence number; a torn last line is cut off first.
fn file_cursor(path: &Path, tenant: &str) -> Result<u64> {
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
    };
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let len = f.metadata().map_err(io)?.len();
    // An event line is far below this: the tail holds at least one whole line.
    const TAIL: u64 = 1 << 20;
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).map_err(io)?;
    let Some(end) = tail.iter().rposition(|b| *b == b'\n') else {
        if start == 0 {
            // Nothing complete at all: a first write that was torn.
            f.set_len(0).map_err(io)?;
            return Ok(0);
        }
        return Err(Error::input(format!(
            "{}: no complete line in its last MiB: not an opsdeck SIEM export",
            path.display()
        )));
    };
    if end + 1 < tail.len() {
        tracing::warn!(file = %path.display(), "cutting a torn last line left by an interrupted export");
        f.set_len(start + end as u64 + 1).map_err(io)?;
    }
    let before = tail[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    if before == 0 && start > 0 {
        return Err(Error::input(format!(
            "{}: its last line is longer than a MiB: not an opsdeck SIEM export",
            path.display()
        )));
    }
    sequence_of(&tail[before..end], tenant, &path.display().to_string())
}

/// `metadata.sequence` of one exported event, which must be `tenant`'s.
fn sequence_of(line: &[u8], tenant: &str, place: &str) -> Result<u64> {
    let v: Value = serde_json::from_slice(line).map_err(|e| {
        Error::input(format!(
            "{place}: its last event is not JSON ({e}): not an opsdeck SIEM export"
        ))
    })?;
    let owner = v["metadata"]["tenant_uid"].as_str().unwrap_or_default();
    if owner != tenant {
        return Err(Error::input(format!(
            "{place} holds tenant {owner:?}'s events, not {tenant:?}'s: export each tenant to its own destination"
        )));
    }
    v["metadata"]["sequence"].as_u64().ok_or_else(|| {
        Error::input(format!(
            "{place}: its last event has no metadata.sequence: not an opsdeck SIEM export"
        ))
    })
}

fn last_seq_of_key(key: &str) -> Option<u64> {
    let name = key.rsplit('/').next()?;
    let range = name.strip_suffix(".ocsf.jsonl")?;
    range.split_once('-')?.1.parse().ok()
}

/// Keys per full listing page (S3's own maximum).
const LIST_PAGE: i32 = 1000;

/// One page of an S3 listing: keys after `start_after` (all when `None`), in key order, at
/// most `max`; and whether more follow.
type Page = std::result::Result<(Vec<String>, bool), AwsError>;

async fn newest_key(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> std::result::Result<Option<String>, AwsError> {
    let list = |start_after: Option<String>, max: i32| {
        let req = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after)
            .max_keys(max);
        async move {
            let page = req
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("S3", "ListObjectsV2", &e))?;
            let keys = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string);
            Ok((keys.collect(), page.is_truncated() == Some(true)))
        }
    };
    newest_export_key(prefix, list).await
}

/// The export object holding the newest records under `prefix`. A prefix that fits one
/// listing page is read whole; a longer one (a stream exported for years) is searched by
/// the zero-padded first sequence number its keys start with, a few dozen one-key listings
/// instead of a page per thousand objects. A key that is not an export's (a note someone
/// left there) in the way of the search makes it read the whole listing instead.
async fn newest_export_key<F, Fut>(
    prefix: &str,
    list: F,
) -> std::result::Result<Option<String>, AwsError>
where
    F: Fn(Option<String>, i32) -> Fut,
    Fut: std::future::Future<Output = Page>,
{
    let newest_of = |keys: &[String]| {
        keys.iter()
            .filter(|k| last_seq_of_key(k).is_some())
            .max()
            .cloned()
    };
    let (first, truncated) = list(None, LIST_PAGE).await?;
    let mut newest = newest_of(&first);
    if !truncated {
        return Ok(newest);
    }
    let starts_at = |key: &str| -> Option<u64> {
        let name = key.strip_prefix(prefix)?;
        name.strip_suffix(".ocsf.jsonl")?
            .split_once('-')?
            .0
            .parse()
            .ok()
    };
    let bound = |first_seq: u64| Some(format!("{prefix}{first_seq:020}"));
    // Whether an export key starts at `first_seq` or later (None: a foreign key is in the way).
    let starts_from = |first_seq: u64| {
        let list = &list;
        async move {
            let (keys, _) = list(bound(first_seq), 1).await?;
            Ok::<_, AwsError>(match keys.first() {
                None => Some(false),
                Some(k) if starts_at(k).is_some() => Some(true),
                // Export keys start with a digit: a key after the bound that starts with a
                // later character comes after all of them.
                Some(k)
                    if k.strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with(|c: char| c > '9')) =>
                {
                    Some(false)
                }
                Some(_) => None,
            })
        }
    };
    let Some(mut low) = newest.as_deref().and_then(starts_at) else {
        return all_keys_newest(&list, first, newest_of).await;
    };
    // Gallop past the newest start, then halve the gap: `low` has a key, `high` has none.
    let mut step = 1u64;
    let mut high = loop {
        let probe = low.saturating_add(step);
        match starts_from(probe).await? {
            Some(true) if probe < u64::MAX => {
                low = probe;
                step = step.saturating_mul(2);
            }
            Some(_) => break probe,
            None => return all_keys_newest(&list, first, newest_of).await,
        }
    };
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        match starts_from(mid).await? {
            Some(true) => low = mid,
            Some(false) => high = mid,
            None => return all_keys_newest(&list, first, newest_of).await,
        }
    }
    // Every key starting at `low` (normally one), the newest of them.
    let (keys, _) = list(bound(low), LIST_PAGE).await?;
    let at_low: Vec<String> = keys
        .into_iter()
        .filter(|k| starts_at(k) == Some(low))
        .collect();
    newest = newest_of(&at_low).or(newest);
    Ok(newest)
}

/// The whole listing, page after page: the newest export key in it.
async fn all_keys_newest<F, Fut>(
    list: &F,
    first: Vec<String>,
    newest_of: impl Fn(&[String]) -> Option<String>,
) -> std::result::Result<Option<String>, AwsError>
where
    F: Fn(Option<String>, i32) -> Fut,
    Fut: std::future::Future<Output = Page>,
{
    let mut newest = newest_of(&first);
    let mut after = first.last().cloned();
    loop {
        let (keys, truncated) = list(after.clone(), LIST_PAGE).await?;
        if let Some(n) = newest_of(&keys)
            && newest.as_deref().is_none_or(|m| n.as_str() > m)
        {
            newest = Some(n);
        }
        after = keys.last().cloned().or(after);
        if !truncated || keys.is_empty() {
            return Ok(newest);
        }
    }
}

/// The stream's newest event's message; the stream is created when it does not exist yet.
async fn last_log_event(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
) -> std::result::Result<Option<String>, AwsError> {
    let got = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(1)
        .send()
        .await;
    match got {
        Ok(out) => Ok(out
            .events()
            .last()
            .and_then(|e| e.message().map(str::to_string))),
        Err(e) => {
            let err = AwsError::from_sdk("CloudWatch Logs", "GetLogEvents", &e);
            if err.code() != Some("ResourceNotFoundException") {
                return Err(err);
            }
            // The group or the stream is missing: only the stream is ours to create.
            logs.create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CloudWatch Logs", "CreateLogStream", &e))?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_last_sequence() {
        assert_eq!(
            last_seq_of_key("siem/shop/00000000000000000001-00000000000000000042.ocsf.jsonl"),
            Some(42)
        );
        assert_eq!(last_seq_of_key("siem/shop/notes.txt"), None);
    }

    /// S3's listing semantics over keys held in memory, counting calls.
    struct Listing {
        keys: std::collections::BTreeSet<String>,
        calls: std::cell::Cell<usize>,
    }

    impl Listing {
        fn of(keys: impl IntoIterator<Item = String>) -> Listing {
            Listing {
                keys: keys.into_iter().collect(),
                calls: Default::default(),
            }
        }

        fn page(&self, start_after: Option<String>, max: i32) -> Page {
            self.calls.set(self.calls.get() + 1);
            let after: Vec<&String> = self
                .keys
                .iter()
                .filter(|k| start_after.as_ref().is_none_or(|s| *k > s))
                .collect();
            let max = max as usize;
            Ok((
                after.iter().take(max).map(|k| k.to_string()).collect(),
                after.len() > max,
            ))
        }

        fn newest(&self) -> Option<String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(newest_export_key("siem/shop/", |after, max| {
                std::future::ready(self.page(after, max))
            }))
            .unwrap()
        }
    }

    fn batches(n: u64, per: u64) -> impl Iterator<Item = String> {
        (0..n).map(move |i| {
            format!(
                "siem/shop/{:020}-{:020}.ocsf.jsonl",
                i * per + 1,
                (i + 1) * per
            )
        })
    }

    #[test]
    fn the_newest_export_object_is_found_in_a_few_listings_however_many_there_are() {
        let small = Listing::of(batches(40, 1000));
        assert_eq!(
            small.newest().as_deref(),
            batches(40, 1000).last().as_deref()
        );
        assert_eq!(small.calls.get(), 1, "one page holds it all");

        // Years of five-second passes: batches of a few records each.
        let mut keys: Vec<String> = batches(250_000, 3).collect();
        keys.push("siem/shop/notes.txt".into());
        keys.push("siem/shop/-readme".into());
        let big = Listing::of(keys);
        assert_eq!(
            big.newest().as_deref(),
            batches(250_000, 3).last().as_deref()
        );
        assert!(big.calls.get() < 60, "{} listings", big.calls.get());

        // A foreign key among the export keys' digits: the whole listing is read instead.
        let mut keys: Vec<String> = batches(3_000, 2).collect();
        keys.push("siem/shop/00000000000000009999-copy.txt".into());
        let odd = Listing::of(keys);
        assert_eq!(odd.newest().as_deref(), batches(3_000, 2).last().as_deref());

        assert_eq!(Listing::of([]).newest(), None);
    }

    #[test]
    fn log_batches_respect_the_call_limits() {
        let big = "x".repeat(600_000);
        // Five events of 200,000 bytes (plus 26 each) fill a call's 1 MiB; the sixth starts
        // another.
        let batch: Vec<(u64, String)> = (1..=6).map(|n| (n, "y".repeat(200_000))).collect();
        let chunks = logs_chunks(&batch).unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [5, 1]);
        assert!(logs_chunks(&[(1, big)]).is_err());
        let many: Vec<(u64, String)> = (1..=10_001).map(|n| (n, "z".into())).collect();
        assert_eq!(logs_chunks(&many).unwrap().len(), 2);
    }
}
