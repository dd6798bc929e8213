//! The region's log groups when a request names none (a table a row of which offers "tail");
//! otherwise log events of one log group over a window: filtered (errors by default when the request says
//! "errors"), read page by page up to a cap, folded as they arrive into groups of repeated
//! messages (numbers, ids, timestamps and addresses normalised) and counts per time bucket. Only
//! the folded state and a bounded sample of events stay in memory, whatever the log volume.

use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;
use serde::Serialize;
use serde_json::json;

use crate::agents::insight::{self, Window, aws_error, clip, progress, short_time};
use crate::agents::{AgentRequest, DraftFile, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::{AgentKind, LogLevel};
use crate::plan::ArtifactKind;

const AGENT: AgentKind = AgentKind::Monitor;
/// Events asked for per FilterLogEvents call (the API allows 10,000; smaller pages keep memory
/// flat).
const PAGE: i32 = 1000;
/// Events read per request; beyond this the report says how much of the window was not read.
pub const READ_CAP: usize = 20_000;
/// Pages read per request (CloudWatch can return empty pages while it scans).
const PAGE_CAP: usize = 400;
/// Events kept verbatim in `events.jsonl`.
pub const FILE_CAP: usize = 2_000;
/// Distinct message groups tracked; later new messages are counted as "other".
const GROUP_CAP: usize = 2_000;
const TABLE_GROUPS: usize = 15;

/// CloudWatch terms for "errors" (any of them; terms are case-sensitive).
const ERROR_TERMS: &[&str] = &[
    "ERROR",
    "Error",
    "error",
    "Exception",
    "exception",
    "FATAL",
    "Fatal",
    "Traceback",
    "Task timed out",
    "panicked",
];

/// What to look for, as CloudWatch's filter pattern and as the same terms applied again to
/// what comes back (a service that ignores an OR pattern cannot widen the answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub terms: Vec<String>,
    pub label: String,
}

impl Filter {
    pub fn errors() -> Filter {
        Filter {
            terms: ERROR_TERMS.iter().map(|s| s.to_string()).collect(),
            label: "error".into(),
        }
    }
    pub fn text(t: &str) -> Filter {
        Filter {
            terms: vec![t.to_string()],
            label: format!("\"{t}\""),
        }
    }
    pub fn all() -> Filter {
        Filter {
            terms: Vec::new(),
            label: "all".into(),
        }
    }
    /// `?ERROR ?"Task timed out"`; one term is sent quoted; none is the empty pattern.
    pub fn pattern(&self) -> Option<String> {
        let quote = |t: &str| {
            if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                t.to_string()
            } else {
                format!("\"{}\"", t.replace('"', ""))
            }
        };
        match self.terms.as_slice() {
            [] => None,
            [one] => Some(format!("\"{}\"", one.replace('"', ""))),
            many => Some(
                many.iter()
                    .map(|t| format!("?{}", quote(t)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }
    pub fn matches(&self, message: &str) -> bool {
        self.terms.is_empty() || self.terms.iter().any(|t| message.contains(t.as_str()))
    }
}

/// A message shape and how often it occurred.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub signature: String,
    pub count: u64,
    pub first: i64,
    pub last: i64,
    pub example: String,
}

/// Events folded as they stream in.
pub struct Digest {
    window: Window,
    bucket_secs: i64,
    /// The first bucket's start: the window start rounded down to the bucket size, so labels
    /// fall on whole hours (or minutes).
    origin: i64,
    pub buckets: Vec<u64>,
    groups: HashMap<String, Group>,
    pub other: u64,
    pub read: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    recent: VecDeque<(i64, String, String)>,
    file: Vec<u8>,
    pub in_file: usize,
}

impl Digest {
    pub fn new(window: Window) -> Digest {
        let bucket_secs = bucket_size(window.secs());
        let origin = window.start.as_second().div_euclid(bucket_secs) * bucket_secs;
        let span = window.end.as_second() - origin;
        let n = ((span + bucket_secs - 1) / bucket_secs).max(1) as usize;
        Digest {
            window,
            bucket_secs,
            origin,
            buckets: vec![0; n],
            groups: HashMap::new(),
            other: 0,
            read: 0,
            first_ts: None,
            last_ts: None,
            recent: VecDeque::new(),
            file: Vec::new(),
            in_file: 0,
        }
    }

    pub fn add(&mut self, ts_ms: i64, stream: &str, message: &str) {
        self.read += 1;
        self.first_ts = Some(self.first_ts.map_or(ts_ms, |f| f.min(ts_ms)));
        self.last_ts = Some(self.last_ts.map_or(ts_ms, |l| l.max(ts_ms)));
        let offset = ts_ms.div_euclid(1000) - self.origin;
        if offset >= 0 {
            let last = self.buckets.len() - 1;
            let i = ((offset / self.bucket_secs) as usize).min(last);
            if let Some(b) = self.buckets.get_mut(i) {
                *b += 1;
            }
        }
        let sig = signature(message);
        let known = self.groups.len();
        match self.groups.get_mut(&sig) {
            Some(g) => {
                g.count += 1;
                g.first = g.first.min(ts_ms);
                g.last = g.last.max(ts_ms);
            }
            None if known < GROUP_CAP => {
                self.groups.insert(
                    sig.clone(),
                    Group {
                        signature: sig,
                        count: 1,
                        first: ts_ms,
                        last: ts_ms,
                        example: clip(message, 500),
                    },
                );
            }
            None => self.other += 1,
        }
        self.recent
            .push_back((ts_ms, stream.to_string(), clip(message, 300)));
        if self.recent.len() > 10 {
            self.recent.pop_front();
        }
        if self.in_file < FILE_CAP {
            let line = json!({"timestamp": ts_ms, "stream": stream, "message": message});
            self.file.extend_from_slice(line.to_string().as_bytes());
            self.file.push(b'\n');
            self.in_file += 1;
        }
    }

    /// Groups, most frequent first.
    pub fn groups(&self) -> Vec<Group> {
        let mut g: Vec<Group> = self.groups.values().cloned().collect();
        g.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
        g
    }

    pub fn series(&self) -> Vec<(String, f64)> {
        let long = self.window.secs() > 2 * 86_400;
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let t = Timestamp::from_second(self.origin + i as i64 * self.bucket_secs)
                    .unwrap_or(self.window.start);
                let label = if long {
                    t.strftime("%m-%d %H:%M").to_string()
                } else {
                    t.strftime("%H:%M").to_string()
                };
                (label, *n as f64)
            })
            .collect()
    }
}

/// Time buckets: 12–30 of them over the window, at a size a person reads easily.
fn bucket_size(window_secs: i64) -> i64 {
    const SIZES: [i64; 10] = [
        60, 300, 600, 900, 1800, 3600, 10_800, 21_600, 43_200, 86_400,
    ];
    SIZES
        .iter()
        .copied()
        .find(|s| window_secs / s <= 30)
        .unwrap_or(86_400)
}

static NORMALISE: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            "<ts>",
        ),
        (
            r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<id>",
        ),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
        (
            r"(?i)\b(?:0x)?[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b",
            "<hex>",
        ),
        (
            r"(?i)\b(?:0x)?[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b",
            "<hex>",
        ),
        // Digits anywhere else ("customer_12", "v8"): values, not words.
        (r"\d+(?:\.\d+)?", "<n>"),
    ]
    .into_iter()
    .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
    .collect()
});

/// The shape of a message: what stays when the values that differ between occurrences go.
pub fn signature(message: &str) -> String {
    let mut s = message.trim().to_string();
    for (re, rep) in NORMALISE.iter() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    // Short hex words like "dead" or "cafe" survive: only values with a digit are replaced.
    clip(&s, 200)
}

/// Which log group the request means.
/// The log group the request names (by itself or by its function), if it names one.
fn log_group(req: &AgentRequest<'_>) -> Option<String> {
    let i = req.intent;
    if let Some(g) = i.params.log_group.as_deref() {
        return Some(g.to_string());
    }
    i.params
        .function
        .as_deref()
        .map(|f| format!("/aws/lambda/{f}"))
}

/// Log groups listed per answer; the rest are counted.
const LIST_GROUPS: usize = 50;

/// The region's log groups, for a request that names none ("list log groups"): one row per
/// group under a `LOG GROUP` column with its `REGION`, so a row offers "tail" in the console.
fn list_groups(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    logs: &aws_sdk_cloudwatchlogs::Client,
    region: &str,
) -> Result<Report> {
    progress(sink, AGENT, format!("listing log groups in {region}"));
    let l = logs.clone();
    let (rows, total) = req.aws.block_on(async move {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut total = 0usize;
        let mut pages = l.describe_log_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("CloudWatch Logs", "DescribeLogGroups", &e))?;
            for g in page.log_groups() {
                total += 1;
                if rows.len() < LIST_GROUPS {
                    rows.push(vec![
                        g.log_group_name().unwrap_or_default().to_string(),
                        g.stored_bytes()
                            .map(|b| format!("{:.1}", b as f64 / 1_048_576.0))
                            .unwrap_or_default(),
                        g.retention_in_days()
                            .map(|d| format!("{d} d"))
                            .unwrap_or_else(|| "never expires".into()),
                    ]);
                }
            }
        }
        Ok::<_, Error>((rows, total))
    })??;
    let mut notes = vec![
        "name one to read its events: \"show error logs in /ecs/web for the last 1h\", or \"tail log group NAME\"".to_string(),
    ];
    if total > rows.len() {
        notes.push(format!("showing {} of {total} log groups", rows.len()));
    }
    let data = json!({
        "log_groups": rows.iter().map(|r| json!({"name": r[0], "stored_mb": r[1], "retention": r[2]})).collect::<Vec<_>>(),
        "total": total,
    });
    Ok(Report {
        summary: format!("{total} log groups in {region}"),
        outputs: vec![Output::Table {
            title: format!("log groups in {region}"),
            columns: headings(&["LOG GROUP", "REGION", "STORED MB", "RETENTION"]),
            rows: rows
                .into_iter()
                .map(|mut r| {
                    r.insert(1, region.to_string());
                    r
                })
                .collect(),
        }],
        notes,
        region: Some(region.to_string()),
        data,
        files: Vec::new(),
    })
}

pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Report> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let Some(group) = log_group(req) else {
        // No group named: the region's groups, each one a row to pick.
        return list_groups(
            req,
            sink,
            &aws_sdk_cloudwatchlogs::Client::new(&conf),
            &region,
        );
    };
    let (label, window) = insight::window(i.params.window.as_deref(), "24h", Timestamp::now())?;
    let filter = match (i.params.text.as_deref(), i.params.level) {
        (Some(t), _) => Filter::text(t),
        (None, Some(LogLevel::Error)) => Filter::errors(),
        (None, None) => Filter::all(),
    };
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);

    // The group must exist; otherwise say which ones do.
    let (l, g) = (logs.clone(), group.clone());
    let known = req.aws.block_on(async move {
        let out = l
            .describe_log_groups()
            .log_group_name_prefix(&g)
            .limit(50)
            .send()
            .await
            .map_err(|e| aws_error("CloudWatch Logs", "DescribeLogGroups", &e))?;
        Ok::<bool, Error>(
            out.log_groups()
                .iter()
                .any(|x| x.log_group_name() == Some(g.as_str())),
        )
    })??;
    if !known {
        return Err(missing_group(req, &logs, &group, &region));
    }

    progress(
        sink,
        AGENT,
        format!(
            "reading {} events of {group} over the last {label}",
            filter.label
        ),
    );
    let mut digest = Digest::new(window);
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut more = false;
    let pattern = filter.pattern();
    loop {
        let (l, g, p, t) = (logs.clone(), group.clone(), pattern.clone(), token.take());
        let (start, end) = (window.start.as_millisecond(), window.end.as_millisecond());
        let page = req.aws.block_on(async move {
            l.filter_log_events()
                .log_group_name(g)
                .start_time(start)
                .end_time(end)
                .set_filter_pattern(p)
                .limit(PAGE)
                .set_next_token(t)
                .send()
                .await
                .map_err(|e| aws_error("CloudWatch Logs", "FilterLogEvents", &e))
        })??;
        pages += 1;
        for e in page.events() {
            let msg = e.message().unwrap_or_default();
            if filter.matches(msg) {
                digest.add(
                    e.timestamp().unwrap_or(0),
                    e.log_stream_name().unwrap_or_default(),
                    msg,
                );
            }
        }
        token = page.next_token().map(str::to_string);
        if pages % 10 == 0 {
            progress(
                sink,
                AGENT,
                format!("{} events read ({pages} pages)", digest.read),
            );
        }
        if token.is_none() {
            break;
        }
        if digest.read as usize >= READ_CAP || pages >= PAGE_CAP {
            more = true;
            break;
        }
    }
    Ok(build(
        &group, &region, &label, window, &filter, &pattern, digest, more,
    ))
}

fn missing_group(
    req: &AgentRequest<'_>,
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    region: &str,
) -> Error {
    // Suggest groups under the same parent path ("/aws/lambda/") whose name shares a word.
    let parent = group.rfind('/').map(|i| &group[..=i]).unwrap_or("/");
    let leaf = group.rsplit('/').next().unwrap_or(group).to_lowercase();
    let (l, p) = (logs.clone(), parent.to_string());
    let names: Vec<String> = req
        .aws
        .block_on(async move {
            l.describe_log_groups()
                .log_group_name_prefix(p)
                .limit(50)
                .send()
                .await
                .map(|o| {
                    o.log_groups()
                        .iter()
                        .filter_map(|g| g.log_group_name().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let words: Vec<&str> = leaf
        .split(['-', '_', '.'])
        .filter(|w| w.len() >= 3)
        .collect();
    let close: Vec<&String> = names
        .iter()
        .filter(|n| {
            let n = n.to_lowercase();
            words.iter().any(|w| n.contains(w))
        })
        .take(5)
        .collect();
    Error::not_found(
        "log group",
        group,
        if close.is_empty() {
            format!(
                "in {region}; {} under {parent}{}",
                if names.is_empty() {
                    "no log groups"
                } else {
                    "other log groups"
                },
                if names.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        names.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            )
        } else {
            format!(
                "in {region}; did you mean {}?",
                close
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    group: &str,
    region: &str,
    label: &str,
    window: Window,
    filter: &Filter,
    pattern: &Option<String>,
    digest: Digest,
    more: bool,
) -> Report {
    let groups = digest.groups();
    let series = digest.series();
    let mut notes = Vec::new();
    let what = if filter.terms.is_empty() {
        "log events".to_string()
    } else {
        format!("{} events", filter.label)
    };
    let peak = series
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|p| p.1 > 0.0);
    let mut summary = format!(
        "{}{} {what} in {group} over the last {label}",
        digest.read,
        if more { "+" } else { "" }
    );
    if let Some((at, n)) = peak {
        summary.push_str(&format!(" (peak {n} at {at} UTC)"));
    }
    summary.push_str(&format!(", {} distinct message(s)", groups.len()));
    if let Some(top) = groups.first() {
        summary.push_str(&format!(
            "; most frequent ({}×): {}",
            top.count,
            clip(&top.example, 120)
        ));
    }
    if more {
        let cli = format!(
            "aws logs filter-log-events --region {region} --log-group-name {group} --start-time {} --end-time {}{}",
            window.start.as_millisecond(),
            window.end.as_millisecond(),
            pattern
                .as_ref()
                .map(|p| format!(" --filter-pattern '{}'", p.replace('\'', "")))
                .unwrap_or_default()
        );
        let read_until = digest.last_ts.unwrap_or(window.start.as_millisecond());
        let read_from = digest.first_ts.unwrap_or(window.start.as_millisecond());
        let covered = (read_until - read_from).max(1) as f64;
        let rest = (window.end.as_millisecond() - read_until).max(0) as f64;
        let estimate = (digest.read as f64 * rest / covered).round() as u64;
        notes.push(format!(
            "stopped after {} events (the cap): events after {} UTC were not read, about {estimate} more at the same rate; narrow the window (e.g. \"last 1h\") to see them, or read everything with `{cli}`",
            digest.read,
            Timestamp::from_millisecond(read_until).map(short_time).unwrap_or_default(),
        ));
    }
    if digest.read as usize > FILE_CAP {
        notes.push(format!(
            "events.jsonl keeps the first {FILE_CAP} events; the counts cover all {} read",
            digest.read
        ));
    }
    if digest.other > 0 {
        notes.push(format!(
            "{} events had a message shape beyond the first {GROUP_CAP} distinct ones and are counted as other",
            digest.other
        ));
    }
    if groups.len() > TABLE_GROUPS {
        notes.push(insight::see_all(&format!(
            "{} more distinct messages than the {TABLE_GROUPS} shown",
            groups.len() - TABLE_GROUPS
        )));
    }
    let mut outputs = vec![Output::Series {
        title: format!("{what} in {group}"),
        unit: "events".into(),
        points: series.clone(),
    }];
    if !groups.is_empty() {
        outputs.push(Output::Table {
            title: "repeated messages".into(),
            columns: headings(&["COUNT", "FIRST", "LAST", "MESSAGE"]),
            rows: groups
                .iter()
                .take(TABLE_GROUPS)
                .map(|g| {
                    vec![
                        g.count.to_string(),
                        ms_time(g.first),
                        ms_time(g.last),
                        clip(&g.example, 110),
                    ]
                })
                .collect(),
        });
        outputs.push(Output::Table {
            title: "latest events".into(),
            columns: headings(&["TIME", "STREAM", "MESSAGE"]),
            rows: digest
                .recent
                .iter()
                .rev()
                .take(5)
                .map(|(t, s, m)| vec![ms_time(*t), clip(s, 40), clip(m, 110)])
                .collect(),
        });
    }
    let data = json!({
        "log_group": group,
        "window": label,
        "start": window.start.to_string(),
        "end": window.end.to_string(),
        "filter_pattern": pattern,
        "events_read": digest.read,
        "complete": !more,
        "groups": groups,
        "other": digest.other,
        "series": series,
        "recent": digest.recent.iter().map(|(t, s, m)| json!({"timestamp": t, "stream": s, "message": m})).collect::<Vec<_>>(),
    });
    let mut files = Vec::new();
    if digest.in_file > 0 {
        files.push(DraftFile {
            name: "events.jsonl".into(),
            kind: ArtifactKind::Report,
            content: digest.file,
        });
    }
    Report {
        summary,
        outputs,
        notes,
        region: Some(region.to_string()),
        data,
        files,
    }
}

fn ms_time(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(short_time)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_fold_values_that_vary() {
        let a = signature(
            "2026-11-24T10:00:00.123Z\t6f1c1b52-8a0e-4c57-9d0a-1234567890ab\tERROR\tpayment 4711 failed for 10.0.3.7:443 (req 0x7f3a9c)",
        );
        let b = signature(
            "2026-11-24T11:22:33.999Z\t0a1b2c3d-0000-4c57-9d0a-abcdefabcdef\tERROR\tpayment 12 failed for 10.0.9.1:443 (req 0x11aa22)",
        );
        assert_eq!(a, b);
        assert_eq!(a, "<ts> <id> ERROR payment <n> failed for <ip> (req <hex>)");
        assert_ne!(
            signature("ERROR timeout calling db"),
            signature("ERROR timeout calling cache")
        );
    }

    #[test]
    fn filters_and_patterns() {
        let f = Filter::errors();
        assert!(f.matches("[ERROR] boom") && f.matches("Task timed out after 3.00 seconds"));
        assert!(!f.matches("START RequestId: abc"));
        assert!(f.pattern().unwrap().starts_with("?ERROR ?Error"));
        assert!(f.pattern().unwrap().contains("?\"Task timed out\""));
        assert_eq!(Filter::text("timeout").pattern().unwrap(), "\"timeout\"");
        assert_eq!(Filter::all().pattern(), None);
    }

    #[test]
    fn digest_buckets_and_caps() {
        let now: Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
        let (_, w) = insight::window(Some("24h"), "24h", now).unwrap();
        let mut d = Digest::new(w);
        assert_eq!(d.buckets.len(), 24);
        let start = w.start.as_millisecond();
        assert_eq!(
            start % 3_600_000,
            0,
            "a whole hour: the test window starts at 12:00"
        );
        for i in 0..30 {
            d.add(
                start + i * 3_600_000 / 10,
                "s",
                &format!("ERROR job {i} failed"),
            );
        }
        d.add(start + 23 * 3_600_000, "s", "ERROR disk full");
        assert_eq!(d.read, 31);
        assert_eq!(d.buckets[0], 10);
        assert_eq!(d.buckets[23], 1);
        let g = d.groups();
        assert_eq!((g[0].count, g.len()), (30, 2));
        assert_eq!(d.series()[0].0, "12:00");
        assert_eq!(d.recent.len(), 10);
        assert_eq!(bucket_size(3600), 300);
        assert_eq!(bucket_size(7 * 86_400), 21_600);
        assert_eq!(bucket_size(86_400), 3600);
    }
}
