//! Text documents from an S3 bucket/prefix: plain text files are one document each; JSON Lines,
//! JSON arrays and CSV files give one document per record (the `text`/`feedback`/`comment`/...
//! field or column). Listing pages through the bucket; reading stops at a document cap and the
//! report says so.

use aws_config::SdkConfig;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::agents::insight::{aws_error, error_code, from_smithy};
use crate::error::{Error, Result};

/// Documents analysed per request at most.
pub const DOC_CAP: usize = 2_000;
/// Objects larger than this are skipped (they are rarely feedback; say so).
pub const OBJECT_MAX_BYTES: i64 = 5 * 1024 * 1024;
/// Objects read at once.
const PARALLEL: usize = 16;

/// Field or column names that hold the text of a record, in order of preference.
const TEXT_FIELDS: &[&str] = &[
    "text",
    "feedback",
    "comment",
    "comments",
    "review",
    "body",
    "message",
    "content",
    "description",
    "response",
];

#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub key: String,
    /// Record number within the object (1-based) for JSON Lines, JSON arrays and CSV.
    pub record: Option<usize>,
    pub text: String,
}

impl Document {
    /// `s3://bucket/key#3`
    pub fn source(&self) -> String {
        match self.record {
            Some(n) => format!("{}#{n}", self.key),
            None => self.key.clone(),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Corpus {
    pub docs: Vec<Document>,
    pub objects_listed: usize,
    pub objects_read: usize,
    pub bytes_read: u64,
    /// Keys skipped, with why (not text, too big, too old).
    pub skipped: Vec<(String, String)>,
    /// More documents (or objects) existed than [`DOC_CAP`].
    pub capped: bool,
}

/// Keys that look like text. Anything else (images, archives, parquet) is skipped with a note.
pub fn is_text_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    match name.rsplit_once('.') {
        None => true,
        Some((_, ext)) => matches!(
            ext,
            "txt" | "text" | "md" | "csv" | "tsv" | "json" | "jsonl" | "ndjson" | "log" | "eml"
        ),
    }
}

/// Lists the objects under `prefix` (modified since `since`, when given), newest last.
pub async fn list(
    s3: aws_sdk_s3::Client,
    bucket: String,
    prefix: Option<String>,
    since: Option<Timestamp>,
) -> Result<(Vec<(String, i64)>, Vec<(String, String)>, usize)> {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    let mut listed = 0;
    let mut token: Option<String> = None;
    loop {
        let page = match s3
            .list_objects_v2()
            .bucket(&bucket)
            .set_prefix(prefix.clone())
            .set_continuation_token(token.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("NoSuchBucket") => {
                return Err(Error::not_found(
                    "bucket",
                    &bucket,
                    "not in this account; check the name",
                ));
            }
            Err(e) => return Err(aws_error("S3", "ListObjectsV2", &e)),
        };
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            listed += 1;
            let size = o.size().unwrap_or(0);
            let modified = o.last_modified().and_then(from_smithy);
            if since.is_some_and(|s| modified.is_some_and(|m| m < s)) {
                continue;
            }
            if !is_text_key(key) {
                skipped.push((key.to_string(), "not a text file".into()));
            } else if size > OBJECT_MAX_BYTES {
                skipped.push((
                    key.to_string(),
                    format!("{size} bytes, over the 5 MiB limit"),
                ));
            } else {
                keys.push((key.to_string(), size));
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok((keys, skipped, listed))
}

/// Reads objects (a chunk at a time, concurrently) and splits them into documents.
pub async fn read(
    s3: aws_sdk_s3::Client,
    bucket: String,
    keys: Vec<String>,
) -> Result<Vec<(String, u64, Vec<Document>)>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(PARALLEL) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|k| {
                let (s3, b, k) = (s3.clone(), bucket.clone(), k.clone());
                tokio::spawn(async move {
                    let obj = s3
                        .get_object()
                        .bucket(&b)
                        .key(&k)
                        .send()
                        .await
                        .map_err(|e| aws_error("S3", "GetObject", &e))?;
                    let bytes = obj
                        .body
                        .collect()
                        .await
                        .map_err(|e| Error::Unavailable(format!("S3 GetObject {k}: {e}")))?
                        .into_bytes();
                    let text = String::from_utf8_lossy(&bytes);
                    Ok::<_, Error>((k.clone(), bytes.len() as u64, split(&k, &text)))
                })
            })
            .collect();
        for h in handles {
            match h.await {
                Ok(r) => out.push(r?),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    }
    Ok(out)
}

/// One object's documents.
pub fn split(key: &str, text: &str) -> Vec<Document> {
    let lower = key.to_ascii_lowercase();
    let doc = |record: Option<usize>, t: &str| {
        let t = t.trim();
        (!t.is_empty()).then(|| Document {
            key: key.to_string(),
            record,
            text: t.to_string(),
        })
    };
    if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        return text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| {
                let v: Value = serde_json::from_str(l.trim()).ok()?;
                doc(Some(i + 1), &record_text(&v)?)
            })
            .collect();
    }
    if lower.ends_with(".json")
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return match &v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| doc(Some(i + 1), &record_text(x)?))
                .collect(),
            other => record_text(other)
                .and_then(|t| doc(None, &t))
                .into_iter()
                .collect(),
        };
    }
    if lower.ends_with(".csv") || lower.ends_with(".tsv") {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(if lower.ends_with(".tsv") { b'\t' } else { b',' })
            .flexible(true)
            .from_reader(text.as_bytes());
        let col = r.headers().ok().and_then(|h| {
            TEXT_FIELDS
                .iter()
                .find_map(|f| h.iter().position(|c| c.trim().eq_ignore_ascii_case(f)))
        });
        if let Some(col) = col {
            return r
                .records()
                .enumerate()
                .filter_map(|(i, rec)| doc(Some(i + 1), rec.ok()?.get(col)?))
                .collect();
        }
    }
    doc(None, text).into_iter().collect()
}

fn record_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => TEXT_FIELDS.iter().find_map(|f| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(f))
                .and_then(|(_, x)| x.as_str().map(str::to_string))
        }),
        _ => None,
    }
}

/// The text cut to at most `max` bytes on a character boundary (Comprehend counts UTF-8 bytes).
pub fn fit(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Reads a bucket/prefix into a corpus, up to [`DOC_CAP`] documents.
pub fn load(
    aws: &crate::aws::AwsAccess,
    conf: &SdkConfig,
    region: &str,
    bucket: &str,
    prefix: Option<&str>,
    since: Option<Timestamp>,
    progress: &dyn Fn(String),
) -> Result<Corpus> {
    let path_style = crate::agents::insight::path_style(aws, conf);
    // Read the bucket where it lives.
    let home = crate::agents::insight::s3_for(conf, region, path_style);
    let located = aws.block_on(crate::agents::insight::bucket_region(
        home,
        bucket.to_string(),
    ))??;
    let Some(bucket_region) = located else {
        return Err(Error::not_found(
            "bucket",
            bucket,
            "not in this account; check the name",
        ));
    };
    let s3 = crate::agents::insight::s3_for(
        conf,
        bucket_region.as_deref().unwrap_or(region),
        path_style,
    );
    let (keys, skipped, listed) = aws.block_on(list(
        s3.clone(),
        bucket.to_string(),
        prefix.map(str::to_string),
        since,
    ))??;
    let mut corpus = Corpus {
        objects_listed: listed,
        skipped,
        ..Corpus::default()
    };
    let total = keys.len();
    progress(format!(
        "{total} text object(s) under s3://{bucket}/{}",
        prefix.unwrap_or("")
    ));
    for chunk in keys.chunks(64) {
        let names: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
        for (_, bytes, docs) in aws.block_on(read(s3.clone(), bucket.to_string(), names))?? {
            corpus.objects_read += 1;
            corpus.bytes_read += bytes;
            for d in docs {
                if corpus.docs.len() >= DOC_CAP {
                    corpus.capped = true;
                    break;
                }
                corpus.docs.push(d);
            }
        }
        progress(format!(
            "read {}/{total} objects, {} documents",
            corpus.objects_read,
            corpus.docs.len()
        ));
        if corpus.docs.len() >= DOC_CAP {
            corpus.capped = corpus.capped || corpus.objects_read < total;
            break;
        }
    }
    Ok(corpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_split_into_records() {
        let d = split(
            "a/b.jsonl",
            "{\"id\":1,\"feedback\":\"slow checkout\"}\n\n{\"Text\":\"love it\"}\n{\"x\":1}\n",
        );
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].text.as_str(), d[0].record),
            ("slow checkout", Some(1))
        );
        assert_eq!(d[1].source(), "a/b.jsonl#3");
        let d = split(
            "r.csv",
            "id,review,stars\n1,\"great, fast\",5\n2,,1\n3,broken,1\n",
        );
        assert_eq!(
            d.iter().map(|x| x.text.as_str()).collect::<Vec<_>>(),
            vec!["great, fast", "broken"]
        );
        let d = split("r.json", "[{\"comment\":\"ok\"},\"plain\"]");
        assert_eq!(d.len(), 2);
        let d = split("notes/ticket-1.txt", "  The app crashes.  \n");
        assert_eq!(
            (d[0].text.as_str(), d[0].record),
            ("The app crashes.", None)
        );
        assert!(split("empty.txt", " \n").is_empty());
        assert!(is_text_key("x/feedback") && is_text_key("a.JSONL") && !is_text_key("a.png"));
    }

    #[test]
    fn fitting_respects_char_boundaries() {
        let s = "é".repeat(10);
        let (t, cut) = fit(&s, 5);
        assert_eq!((t, cut), ("éé", true));
        assert_eq!(fit("abc", 5), ("abc", false));
    }
}
