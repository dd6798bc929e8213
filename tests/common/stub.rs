//! A local HTTP stub that speaks AWS wire protocols, for the calls moto does not implement, in
//! front of moto for everything else.
//!
//! The agents' SDK clients reach it exactly as they reach AWS: per service through
//! `AWS_ENDPOINT_URL_<SERVICE>` (the real binary), or as the one endpoint of an in-process
//! `Deck` (then every call it does not answer itself is forwarded to moto unchanged). What it
//! answers itself, by service (from the request's SigV4 credential scope) and operation:
//!
//! - CloudWatch (`monitoring`): the Rust SDK speaks Smithy RPC v2 CBOR, which moto answers only
//!   from 5.2.6 on; the stub translates each call to moto's JSON 1.0 protocol and the answer
//!   back to CBOR, so moto still holds the metrics and alarms whatever its release.
//! - GuardDuty `ListFindings` / `GetFindings` (moto has detectors but no findings): findings the
//!   test seeds with [`Stub::guardduty_findings`], filtered by the request's criteria.
//! - Comprehend `BatchDetectSentiment`, `BatchDetectKeyPhrases`, `BatchDetectDominantLanguage`
//!   (not in moto) and `DetectPiiEntities` (moto answers a canned entity list whatever the
//!   text): computed from the text with small word lists and patterns, with Comprehend's batch
//!   limits (25 documents, 5,000 bytes each) and per-document errors.
//! - Bedrock Runtime `Converse` (not in moto): a summary or labels computed from the prompt;
//!   a request carrying a tool (intent classification) gets plain text, so the parser's reading
//!   is used.
//!
//! Every request is recorded ([`Stub::calls`]) so tests can check what was sent where.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// One request the stub saw.
#[derive(Debug, Clone)]
pub struct Call {
    /// SigV4 signing name: `monitoring`, `guardduty`, `comprehend`, `bedrock`, `s3`, ...
    pub service: String,
    /// `GetMetricData`, `ListFindings`, `Converse`, ... (empty for forwarded REST calls).
    pub operation: String,
    pub path: String,
    /// The request body as JSON (CBOR bodies decoded); `null` when not JSON.
    pub body: Value,
    /// Answered by moto (forwarded) rather than by the stub.
    pub forwarded: bool,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    /// GuardDuty findings by detector id.
    guardduty: HashMap<String, Vec<Value>>,
}

pub struct Stub {
    pub url: String,
    moto: Option<String>,
    state: Arc<Mutex<State>>,
}

impl Stub {
    /// Starts the stub on a free loopback port; `moto` (an `http://127.0.0.1:PORT` endpoint)
    /// receives what the stub does not answer.
    pub fn start(moto: Option<&str>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub");
        let url = format!("http://{}", listener.local_addr().expect("stub address"));
        let state = Arc::new(Mutex::new(State::default()));
        let (st, mo) = (state.clone(), moto.map(str::to_string));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (st, mo) = (st.clone(), mo.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &st, mo.as_deref());
                });
            }
        });
        Stub {
            url,
            moto: moto.map(str::to_string),
            state,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, service: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.service == service)
            .collect()
    }

    pub fn clear_calls(&self) {
        self.state.lock().unwrap().calls.clear();
    }

    /// GuardDuty findings for a detector, in the API's JSON shape (`id`, `type`, `severity`,
    /// `updatedAt`, `resource`, ...).
    pub fn guardduty_findings(&self, detector: &str, findings: Vec<Value>) {
        self.state
            .lock()
            .unwrap()
            .guardduty
            .insert(detector.to_string(), findings);
    }

    /// Environment for the real binary: moto for every service, this stub for the services it
    /// speaks for.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_CLOUDWATCH", self.url.clone()),
            ("AWS_ENDPOINT_URL_GUARDDUTY", self.url.clone()),
            ("AWS_ENDPOINT_URL_COMPREHEND", self.url.clone()),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", self.url.clone()),
        ]
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The signing name from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/svc/…`.
    fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or_default()
            .to_string()
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0u8; n];
            reader.read_exact(&mut chunk)?;
            req.body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
        req.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("transfer-encoding"));
        req.headers
            .push(("Content-Length".into(), req.body.len().to_string()));
    } else {
        let len: usize = req
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        req.body = vec![0u8; len];
        reader.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

/// An answer: status line text, extra headers, body.
struct Answer {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn json_answer(status: &'static str, content_type: &str, v: &Value) -> Answer {
    Answer {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: v.to_string().into_bytes(),
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>, moto: Option<&str>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    let mut out = stream;
    let service = req.service();
    let target = req.header("x-amz-target").unwrap_or_default().to_string();
    let operation = target
        .split('.')
        .nth(1)
        .map(str::to_string)
        .or_else(|| {
            req.path
                .split("/operation/")
                .nth(1)
                .map(|o| o.split('?').next().unwrap_or(o).to_string())
        })
        .unwrap_or_default();
    let answer = match service.as_str() {
        "monitoring" => Some(cloudwatch(&req, &operation, state, moto)),
        "guardduty" => guardduty(&req, state),
        "comprehend" => comprehend(&operation, &req.body),
        "bedrock" => bedrock(&req),
        _ => None,
    };
    let body_json = if service == "monitoring" {
        cbor::decode(&req.body).unwrap_or(Value::Null)
    } else {
        serde_json::from_slice(&req.body).unwrap_or(Value::Null)
    };
    let op = if operation.is_empty() {
        rest_operation(&req)
    } else {
        operation.clone()
    };
    state.lock().unwrap().calls.push(Call {
        service: service.clone(),
        operation: op,
        path: req.path.clone(),
        body: body_json,
        forwarded: answer.is_none(),
    });
    match answer {
        Some(a) => {
            write!(out, "HTTP/1.1 {}\r\n", a.status)?;
            for (k, v) in &a.headers {
                write!(out, "{k}: {v}\r\n")?;
            }
            write!(
                out,
                "x-amzn-RequestId: stub-{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                std::process::id(),
                a.body.len()
            )?;
            out.write_all(&a.body)?;
        }
        None => match moto {
            Some(m) => {
                let resp = forward(m, &req)?;
                out.write_all(&resp)?;
            }
            None => {
                let body = b"{\"message\":\"not served by the stub\"}";
                write!(
                    out,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                out.write_all(body)?;
            }
        },
    }
    out.flush()
}

fn rest_operation(req: &Request) -> String {
    let p = req.path.split('?').next().unwrap_or_default();
    if p.ends_with("/converse") {
        "Converse".into()
    } else if p.ends_with("/findings/get") {
        "GetFindings".into()
    } else if p.ends_with("/findings") {
        "ListFindings".into()
    } else {
        format!("{} {p}", req.method)
    }
}

/// Sends a request to moto as it came (closing the connection after it) and returns moto's
/// raw response.
fn forward(moto: &str, req: &Request) -> std::io::Result<Vec<u8>> {
    let host = moto.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") && !k.eq_ignore_ascii_case("expect") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(&req.body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    Ok(resp)
}

/// Sends a JSON 1.0 call to moto: (status code, JSON body).
fn moto_json(
    moto: &str,
    auth: &Request,
    target: &str,
    body: &Value,
) -> std::io::Result<(u16, Value)> {
    let host = moto.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host)?;
    let payload = body.to_string();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {target}\r\nContent-Length: {}\r\nConnection: close\r\n",
        payload.len()
    );
    // moto reads the account and region from the signature's credential scope.
    if let Some(a) = auth.header("authorization") {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    for h in ["x-amz-date", "x-amz-security-token"] {
        if let Some(v) = auth.header(h) {
            head.push_str(&format!("{h}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(payload.as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(500);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

// ---------------------------------------------------------------------------------------------
// CloudWatch: Smithy RPC v2 CBOR in front of moto's JSON 1.0.

/// Response members CloudWatch models as timestamps or doubles (CBOR needs the tag / float).
const CW_TIMESTAMPS: &[&str] = &[
    "Timestamps",
    "Timestamp",
    "StateUpdatedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "StateTransitionedTimestamp",
];
const CW_DOUBLES: &[&str] = &[
    "Values",
    "Value",
    "Threshold",
    "Sum",
    "Average",
    "Maximum",
    "Minimum",
    "SampleCount",
];

fn cloudwatch(req: &Request, operation: &str, _state: &Mutex<State>, moto: Option<&str>) -> Answer {
    let cbor_answer = |status: &'static str, v: &Value| Answer {
        status,
        headers: vec![
            ("Content-Type".into(), "application/cbor".into()),
            ("smithy-protocol".into(), "rpc-v2-cbor".into()),
        ],
        body: cbor::encode(v, CW_TIMESTAMPS, CW_DOUBLES),
    };
    let Some(moto) = moto else {
        return cbor_answer(
            "500 Internal Server Error",
            &json!({"__type": "InternalFailure", "message": "no moto behind the stub"}),
        );
    };
    let input = match cbor::decode(&req.body) {
        Some(v) if v.is_object() => v,
        _ => json!({}),
    };
    match moto_json(
        moto,
        req,
        &format!("GraniteServiceVersion20100801.{operation}"),
        &input,
    ) {
        Ok((200, v)) => cbor_answer("200 OK", &strip_nulls(v)),
        Ok((code, v)) => {
            let kind = v["__type"]
                .as_str()
                .or(v["Error"]["Code"].as_str())
                .unwrap_or("InternalFailure")
                .rsplit('#')
                .next()
                .unwrap_or("InternalFailure")
                .to_string();
            let message = v["message"]
                .as_str()
                .or(v["Message"].as_str())
                .or(v["Error"]["Message"].as_str())
                .unwrap_or("moto returned an error")
                .to_string();
            cbor_answer(
                if code == 404 {
                    "404 Not Found"
                } else if code < 500 {
                    "400 Bad Request"
                } else {
                    "500 Internal Server Error"
                },
                &json!({"__type": kind, "message": message}),
            )
        }
        Err(e) => cbor_answer(
            "500 Internal Server Error",
            &json!({"__type": "InternalFailure", "message": e.to_string()}),
        ),
    }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, x)| (k, strip_nulls(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A minimal CBOR codec (RFC 8949) for the values Smithy RPC v2 uses.
pub mod cbor {
    use serde_json::{Map, Number, Value};

    pub fn decode(bytes: &[u8]) -> Option<Value> {
        if bytes.is_empty() {
            return Some(Value::Object(Map::new()));
        }
        let mut pos = 0;
        item(bytes, &mut pos)
    }

    fn arg(bytes: &[u8], pos: &mut usize, info: u8) -> Option<u64> {
        let n = match info {
            0..=23 => return Some(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return None,
        };
        let s = bytes.get(*pos..*pos + n)?;
        *pos += n;
        Some(s.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
    }

    fn half(bits: u16) -> f64 {
        let exp = (bits >> 10) & 0x1f;
        let mant = f64::from(bits & 0x3ff);
        let v = match exp {
            0 => mant * 2f64.powi(-24),
            31 => {
                if mant == 0.0 {
                    f64::INFINITY
                } else {
                    f64::NAN
                }
            }
            e => (1.0 + mant / 1024.0) * 2f64.powi(i32::from(e) - 15),
        };
        if bits & 0x8000 != 0 { -v } else { v }
    }

    fn item(bytes: &[u8], pos: &mut usize) -> Option<Value> {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        let (major, info) = (b >> 5, b & 0x1f);
        match major {
            0 => arg(bytes, pos, info).map(|n| Value::Number(n.into())),
            1 => arg(bytes, pos, info).map(|n| Value::Number((-1 - n as i64).into())),
            2 | 3 => {
                let mut data = Vec::new();
                if info == 31 {
                    while *bytes.get(*pos)? != 0xff {
                        let Value::String(s) = item(bytes, pos)? else {
                            return None;
                        };
                        data.extend_from_slice(s.as_bytes());
                    }
                    *pos += 1;
                } else {
                    let n = arg(bytes, pos, info)? as usize;
                    data.extend_from_slice(bytes.get(*pos..*pos + n)?);
                    *pos += n;
                }
                Some(Value::String(String::from_utf8_lossy(&data).into_owned()))
            }
            4 => {
                let mut a = Vec::new();
                if info == 31 {
                    while *bytes.get(*pos)? != 0xff {
                        a.push(item(bytes, pos)?);
                    }
                    *pos += 1;
                } else {
                    for _ in 0..arg(bytes, pos, info)? {
                        a.push(item(bytes, pos)?);
                    }
                }
                Some(Value::Array(a))
            }
            5 => {
                let mut m = Map::new();
                let mut pair = |pos: &mut usize| -> Option<()> {
                    let k = match item(bytes, pos)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let v = item(bytes, pos)?;
                    m.insert(k, v);
                    Some(())
                };
                if info == 31 {
                    while *bytes.get(*pos)? != 0xff {
                        pair(pos)?;
                    }
                    *pos += 1;
                } else {
                    for _ in 0..arg(bytes, pos, info)? {
                        pair(pos)?;
                    }
                }
                Some(Value::Object(m))
            }
            // Tags: the value alone (tag 1, epoch seconds, is what JSON 1.0 sends too).
            6 => {
                arg(bytes, pos, info)?;
                item(bytes, pos)
            }
            _ => match info {
                20 => Some(Value::Bool(false)),
                21 => Some(Value::Bool(true)),
                22 | 23 => Some(Value::Null),
                25 => {
                    let bits = arg(bytes, pos, 25)? as u16;
                    Number::from_f64(half(bits)).map(Value::Number)
                }
                26 => {
                    let bits = arg(bytes, pos, 26)? as u32;
                    Number::from_f64(f64::from(f32::from_bits(bits))).map(Value::Number)
                }
                27 => {
                    let bits = arg(bytes, pos, 27)?;
                    Number::from_f64(f64::from_bits(bits)).map(Value::Number)
                }
                _ => None,
            },
        }
    }

    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(m | 26);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(m | 27);
                out.extend(n.to_be_bytes());
            }
        }
    }

    fn float(out: &mut Vec<u8>, f: f64) {
        out.push(0xfb);
        out.extend(f.to_bits().to_be_bytes());
    }

    /// Encodes JSON as CBOR; members named in `timestamps` become tag-1 epoch seconds (JSON
    /// numbers, or ISO strings), members named in `doubles` are always floats.
    pub fn encode(v: &Value, timestamps: &[&str], doubles: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, v, None, timestamps, doubles);
        out
    }

    fn put(out: &mut Vec<u8>, v: &Value, key: Option<&str>, ts: &[&str], dbl: &[&str]) {
        let is_ts = key.is_some_and(|k| ts.contains(&k));
        let is_dbl = key.is_some_and(|k| dbl.contains(&k));
        match v {
            Value::Null => out.push(0xf6),
            Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Value::Number(n) if is_ts => {
                out.push(0xc1);
                float(out, n.as_f64().unwrap_or(0.0));
            }
            Value::String(s) if is_ts => {
                let secs = s
                    .parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond() as f64 / 1000.0)
                    .unwrap_or(0.0);
                out.push(0xc1);
                float(out, secs);
            }
            Value::Number(n) if is_dbl => float(out, n.as_f64().unwrap_or(0.0)),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => head(out, 0, u),
                (_, Some(i)) => head(out, 1, (-1 - i) as u64),
                _ => float(out, n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => {
                head(out, 3, s.len() as u64);
                out.extend(s.as_bytes());
            }
            Value::Array(a) => {
                head(out, 4, a.len() as u64);
                for x in a {
                    // Elements of a list member take the member's type.
                    put(out, x, key, ts, dbl);
                }
            }
            Value::Object(o) => {
                head(out, 5, o.len() as u64);
                for (k, x) in o {
                    head(out, 3, k.len() as u64);
                    out.extend(k.as_bytes());
                    put(out, x, Some(k), ts, dbl);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GuardDuty findings.

fn guardduty(req: &Request, state: &Mutex<State>) -> Option<Answer> {
    let path = req.path.split('?').next().unwrap_or_default();
    let rest = path.strip_prefix("/detector/")?;
    let (detector, tail) = rest.split_once('/')?;
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let findings = state
        .lock()
        .unwrap()
        .guardduty
        .get(detector)
        .cloned()
        .unwrap_or_default();
    match tail {
        "findings" => {
            let crit = &body["findingCriteria"]["criterion"];
            let min_sev = crit["severity"]["greaterThanOrEqual"]
                .as_f64()
                .or(crit["severity"]["gte"].as_f64())
                .unwrap_or(0.0);
            let since_ms = crit["updatedAt"]["greaterThanOrEqual"]
                .as_i64()
                .or(crit["updatedAt"]["gte"].as_i64())
                .unwrap_or(0);
            let matching: Vec<&Value> = findings
                .iter()
                .filter(|f| f["severity"].as_f64().unwrap_or(0.0) >= min_sev)
                .filter(|f| {
                    f["updatedAt"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_none_or(|t| t.as_millisecond() >= since_ms)
                })
                .collect();
            let max = body["maxResults"].as_u64().unwrap_or(50) as usize;
            let start: usize = body["nextToken"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page: Vec<&Value> = matching.iter().skip(start).take(max).copied().collect();
            let next =
                (start + page.len() < matching.len()).then(|| (start + page.len()).to_string());
            let mut out =
                json!({"findingIds": page.iter().map(|f| f["id"].clone()).collect::<Vec<_>>()});
            if let Some(n) = next {
                out["nextToken"] = json!(n);
            }
            Some(json_answer("200 OK", "application/json", &out))
        }
        "findings/get" => {
            let ids: Vec<&str> = body["findingIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str())
                .collect();
            let got: Vec<&Value> = findings
                .iter()
                .filter(|f| f["id"].as_str().is_some_and(|i| ids.contains(&i)))
                .collect();
            Some(json_answer(
                "200 OK",
                "application/json",
                &json!({"findings": got}),
            ))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Comprehend.

const POSITIVE: &[&str] = &[
    "love",
    "great",
    "excellent",
    "fast",
    "happy",
    "amazing",
    "helpful",
    "easy",
    "perfect",
    "recommend",
    "thanks",
    "good",
    "wonderful",
    "smooth",
];
const NEGATIVE: &[&str] = &[
    "broken",
    "slow",
    "terrible",
    "refund",
    "crash",
    "crashes",
    "bad",
    "awful",
    "angry",
    "late",
    "never",
    "worst",
    "disappointed",
    "rude",
    "failed",
    "missing",
];
const STOP: &[&str] = &[
    "the", "and", "but", "for", "with", "this", "that", "have", "from", "your", "about", "would",
    "there", "their", "which", "after", "again", "really", "because",
];

fn comprehend(operation: &str, body: &[u8]) -> Option<Answer> {
    let req: Value = serde_json::from_slice(body).unwrap_or_default();
    let err = |kind: &str, msg: String| {
        Some(Answer {
            status: "400 Bad Request",
            headers: vec![
                ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-ErrorType".into(), kind.to_string()),
            ],
            body: json!({"__type": kind, "Message": msg})
                .to_string()
                .into_bytes(),
        })
    };
    let ok = |v: Value| Some(json_answer("200 OK", "application/x-amz-json-1.1", &v));
    match operation {
        "BatchDetectSentiment" | "BatchDetectKeyPhrases" | "BatchDetectDominantLanguage" => {
            let docs: Vec<String> = req["TextList"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t.as_str().unwrap_or_default().to_string())
                .collect();
            if docs.len() > 25 {
                return err(
                    "BatchSizeLimitExceededException",
                    format!("{} documents; the limit is 25", docs.len()),
                );
            }
            if let Some(big) = docs.iter().find(|d| d.len() > 5000) {
                return err(
                    "TextSizeLimitExceededException",
                    format!("a document has {} bytes; the limit is 5000", big.len()),
                );
            }
            let mut results = Vec::new();
            let mut errors = Vec::new();
            for (i, d) in docs.iter().enumerate() {
                if d.trim().is_empty() {
                    errors.push(json!({"Index": i, "ErrorCode": "InvalidRequestException", "ErrorMessage": "the document is empty"}));
                    continue;
                }
                results.push(match operation {
                    "BatchDetectSentiment" => {
                        let (label, scores) = sentiment(d);
                        json!({"Index": i, "Sentiment": label, "SentimentScore": scores})
                    }
                    "BatchDetectKeyPhrases" => json!({"Index": i, "KeyPhrases": key_phrases(d)}),
                    _ => json!({"Index": i, "Languages": [{"LanguageCode": language(d), "Score": 0.97}]}),
                });
            }
            ok(json!({"ResultList": results, "ErrorList": errors}))
        }
        "DetectPiiEntities" => {
            let text = req["Text"].as_str().unwrap_or_default();
            if text.len() > 100_000 {
                return err("TextSizeLimitExceededException", "over 100 KB".into());
            }
            ok(json!({"Entities": pii(text)}))
        }
        _ => None,
    }
}

fn words(d: &str) -> Vec<String> {
    d.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn sentiment(d: &str) -> (&'static str, Value) {
    let w = words(d);
    let pos = w.iter().filter(|x| POSITIVE.contains(&x.as_str())).count() as f64;
    let neg = w.iter().filter(|x| NEGATIVE.contains(&x.as_str())).count() as f64;
    let (label, p, n, neu, mix) = match (pos, neg) {
        (0.0, 0.0) => ("NEUTRAL", 0.05, 0.05, 0.88, 0.02),
        (p, n) if p > n => ("POSITIVE", 0.9, 0.04, 0.05, 0.01),
        (p, n) if n > p => ("NEGATIVE", 0.03, 0.92, 0.04, 0.01),
        _ => ("MIXED", 0.3, 0.3, 0.1, 0.3),
    };
    (
        label,
        json!({"Positive": p, "Negative": n, "Neutral": neu, "Mixed": mix}),
    )
}

fn key_phrases(d: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    for token in d.split_whitespace() {
        let start = d[offset..]
            .find(token)
            .map(|i| i + offset)
            .unwrap_or(offset);
        offset = start + token.len();
        let w: String = token
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if w.chars().count() >= 6
            && w.chars().all(char::is_alphabetic)
            && !STOP.contains(&w.as_str())
        {
            let begin = d[..start].chars().count();
            out.push(json!({"Text": w, "Score": 0.99, "BeginOffset": begin,
                            "EndOffset": begin + token.chars().count()}));
        }
    }
    out
}

fn language(d: &str) -> &'static str {
    let w = words(d);
    let score = |list: &[&str]| w.iter().filter(|x| list.contains(&x.as_str())).count();
    let es = score(&[
        "el", "la", "es", "muy", "que", "producto", "pero", "gracias", "y",
    ]);
    let fr = score(&["le", "les", "est", "très", "et", "mais", "merci", "produit"]);
    let de = score(&["der", "die", "das", "ist", "sehr", "und", "aber", "danke"]);
    let en = score(&["the", "is", "and", "very", "but", "it", "was", "thanks"]);
    // Ties (and text with none of the words) read as English.
    let mut best = (en, "en");
    for (n, l) in [(es, "es"), (fr, "fr"), (de, "de")] {
        if n > best.0 {
            best = (n, l);
        }
    }
    best.1
}

fn pii(text: &str) -> Vec<Value> {
    let patterns = [
        ("EMAIL", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
        (
            "CREDIT_DEBIT_NUMBER",
            r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b",
        ),
        ("PHONE", r"\+?\d[\d -]{8,}\d"),
    ];
    let mut out: Vec<Value> = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for (kind, p) in patterns {
        let re = regex::Regex::new(p).expect("pattern");
        for m in re.find_iter(text) {
            if taken.iter().any(|(s, e)| m.start() < *e && *s < m.end()) {
                continue;
            }
            taken.push((m.start(), m.end()));
            let begin = text[..m.start()].chars().count();
            let end = begin + m.as_str().chars().count();
            out.push(json!({"Type": kind, "Score": 0.99, "BeginOffset": begin, "EndOffset": end}));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Bedrock Runtime Converse.

fn bedrock(req: &Request) -> Option<Answer> {
    let path = req.path.split('?').next().unwrap_or_default();
    if !path.ends_with("/converse") {
        return None;
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
    let prompt: String = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n");
    let text = if body.get("toolConfig").is_some() {
        // Intent classification: answer without the tool, so the parser's reading stands.
        "I can only summarise.".to_string()
    } else if prompt.contains("Label each document") {
        // One "<n>: <label>" line per "[<n>]" document of the prompt.
        prompt
            .split("\n[")
            .skip(1)
            .filter_map(|chunk| {
                let (n, rest) = chunk.split_once(']')?;
                let w = words(rest);
                let has = |l: &[&str]| w.iter().any(|x| l.contains(&x.as_str()));
                let label = if has(&["refund", "charged", "invoice", "billing", "price"]) {
                    "billing"
                } else if has(&["crash", "crashes", "broken", "error", "bug"]) {
                    "bug report"
                } else if has(&["love", "great", "excellent", "thanks"]) {
                    "praise"
                } else {
                    "other"
                };
                Some(format!("{}: {label}", n.trim()))
            })
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let docs = prompt.matches("\n[").count();
        let w = words(&prompt);
        let neg = w.iter().filter(|x| NEGATIVE.contains(&x.as_str())).count();
        let pos = w.iter().filter(|x| POSITIVE.contains(&x.as_str())).count();
        format!(
            "Summary of {docs} documents: {pos} positive and {neg} negative remarks; customers mention {}.",
            key_phrases(&prompt)
                .iter()
                .filter_map(|k| k["Text"].as_str().map(str::to_string))
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let out = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": prompt.len() / 4, "outputTokens": 40, "totalTokens": prompt.len() / 4 + 40},
        "metrics": {"latencyMs": 5}
    });
    Some(json_answer("200 OK", "application/json", &out))
}

/// Keys a JSON object by a field (test helper for reports' data).
pub fn by_key(items: &[Value], key: &str) -> Map<String, Value> {
    items
        .iter()
        .filter_map(|i| i[key].as_str().map(|k| (k.to_string(), i.clone())))
        .collect()
}
