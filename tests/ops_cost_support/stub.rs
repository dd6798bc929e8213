//! Local HTTP servers that speak AWS wire protocols for the few calls moto does not implement,
//! or whose answers a test scripts: AWS JSON 1.1 (`POST /` with `X-Amz-Target:
//! <Service>.<Operation>`; SSM and Cost Explorer) and Smithy RPC v2 CBOR (`POST
//! /service/<S>/operation/<Op>`; CloudWatch, which moto answers only from 5.2.6 on). They
//! answer from the test's script and record every request, so a test can check exactly what
//! opsdeck sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// A request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The operation: from `X-Amz-Target`, or the last segment of an RPC v2 path.
    pub operation: String,
    pub body: Vec<u8>,
}

/// An answer: status, content type, extra headers, body.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Vec<u8>,
}

type Raw = dyn Fn(&Request) -> Response + Send + Sync;

pub struct Stub {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    /// An AWS JSON 1.1 service: the script gets the operation and the JSON body.
    pub fn start(handler: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> Stub {
        Stub::raw(move |r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            let (status, answer) = handler(&r.operation, &body);
            Response {
                status,
                content_type: "application/x-amz-json-1.1",
                headers: Vec::new(),
                body: answer.to_string().into_bytes(),
            }
        })
    }

    /// SSM as the service answers Run Command: `managed` registered and Online
    /// (DescribeInstanceInformation), SendCommand accepted as `command_id` for the ids asked,
    /// GetCommandInvocation answered by `invocation` (the instance id and the call's count).
    pub fn ssm(
        managed: Vec<String>,
        command_id: &'static str,
        invocation: impl Fn(&str, u32) -> Value + Send + Sync + 'static,
    ) -> Stub {
        let polls = Mutex::new(0u32);
        Stub::start(move |op, body| match op {
            "DescribeInstanceInformation" => (
                200,
                serde_json::json!({"InstanceInformationList": managed.iter().map(|id|
                    serde_json::json!({"InstanceId": id, "PingStatus": "Online"})).collect::<Vec<_>>()}),
            ),
            "SendCommand" => (
                200,
                serde_json::json!({"Command": {"CommandId": command_id,
                    "InstanceIds": body["InstanceIds"], "Status": "Pending"}}),
            ),
            "GetCommandInvocation" => {
                let mut n = polls.lock().unwrap();
                *n += 1;
                (
                    200,
                    invocation(body["InstanceId"].as_str().unwrap_or_default(), *n),
                )
            }
            other => error(400, "UnknownOperationException", other),
        })
    }

    /// A Smithy RPC v2 CBOR service: the script gets the operation and the raw CBOR request.
    pub fn cbor(handler: impl Fn(&str, &[u8]) -> (u16, Vec<u8>) + Send + Sync + 'static) -> Stub {
        Stub::raw(move |r| {
            let (status, body) = handler(&r.operation, &r.body);
            Response {
                status,
                content_type: "application/cbor",
                headers: vec![("smithy-protocol", "rpc-v2-cbor")],
                body,
            }
        })
    }

    fn raw(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handler: Arc<Raw> = Arc::new(handler);
        let record = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let handler = handler.clone();
                let record = record.clone();
                std::thread::spawn(move || serve(conn, &*handler, &record));
            }
        });
        Stub { endpoint, seen }
    }

    /// The JSON bodies of every call of `operation` so far, in order.
    pub fn calls(&self, operation: &str) -> Vec<Value> {
        self.raw_calls(operation)
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
            .collect()
    }

    /// The raw bodies of every call of `operation` so far, in order.
    pub fn raw_calls(&self, operation: &str) -> Vec<Vec<u8>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.operation == operation)
            .map(|r| r.body.clone())
            .collect()
    }
}

/// An AWS JSON error answer.
pub fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"__type": code, "message": message}))
}

fn serve(conn: TcpStream, handler: &Raw, seen: &Mutex<Vec<Request>>) {
    let mut out = conn.try_clone().expect("clone stream");
    let mut reader = BufReader::new(conn);
    // Keep-alive: one request after another until the client hangs up.
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
        let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut target = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let operation = if target.is_empty() {
            path.rsplit('/').next().unwrap_or("").to_string()
        } else {
            target.rsplit('.').next().unwrap_or("").to_string()
        };
        let request = Request { operation, body };
        seen.lock().unwrap().push(request.clone());
        let r = handler(&request);
        let reason = if r.status == 200 { "OK" } else { "Bad Request" };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nx-amzn-RequestId: stub-{}\r\nContent-Length: {}\r\n",
            r.status,
            r.content_type,
            seen.lock().unwrap().len(),
            r.body.len()
        );
        for (k, v) in &r.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() || out.write_all(&r.body).is_err() {
            return;
        }
    }
}

/// Just enough CBOR (RFC 8949) to answer a CloudWatch call.
pub mod cbor {
    pub enum V {
        Text(String),
        F64(f64),
        Array(Vec<V>),
        Map(Vec<(String, V)>),
        /// Tag 1: seconds since the epoch.
        Time(f64),
    }

    fn head(out: &mut Vec<u8>, major: u8, n: usize) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 26);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
        }
    }

    pub fn encode(v: &V) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, v);
        out
    }

    fn put(out: &mut Vec<u8>, v: &V) {
        match v {
            V::Text(s) => {
                head(out, 3, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            V::F64(x) => {
                out.push(0xfb);
                out.extend_from_slice(&x.to_be_bytes());
            }
            V::Array(items) => {
                head(out, 4, items.len());
                for i in items {
                    put(out, i);
                }
            }
            V::Map(entries) => {
                head(out, 5, entries.len());
                for (k, v) in entries {
                    put(out, &V::Text(k.clone()));
                    put(out, v);
                }
            }
            V::Time(t) => {
                out.push(0xc1);
                put(out, &V::F64(*t));
            }
        }
    }

    /// Whether a CBOR request carries `text` as a string (keys and values are stored as UTF-8).
    pub fn mentions(body: &[u8], text: &str) -> bool {
        body.windows(text.len()).any(|w| w == text.as_bytes())
    }
}
