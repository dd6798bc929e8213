//! A local HTTP server that speaks the AWS JSON 1.1 protocol (the one SSM and Cost Explorer
//! use: `POST /` with `X-Amz-Target: <Service>.<Operation>` and a JSON body) for the few calls
//! moto does not implement: SSM DescribeInstanceInformation and command output, Cost Explorer
//! GetCostForecast and GetRightsizingRecommendation. It answers from the test's script and
//! records every request, so a test can check exactly what opsdeck sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// What the script answers: a status and a JSON body (errors carry `__type` and `message`).
pub type Handler = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

pub struct Stub {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Stub {
    pub fn start(handler: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = calls.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let handler = handler.clone();
                let seen = seen.clone();
                std::thread::spawn(move || serve(conn, &*handler, &seen));
            }
        });
        Stub { endpoint, calls }
    }

    /// The bodies of every call of `operation` so far, in order.
    pub fn calls(&self, operation: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// An AWS JSON error answer.
pub fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"__type": code, "message": message}))
}

fn serve(conn: TcpStream, handler: &Handler, seen: &Mutex<Vec<(String, Value)>>) {
    let mut out = conn.try_clone().expect("clone stream");
    let mut reader = BufReader::new(conn);
    // Keep-alive: one request after another until the client hangs up.
    loop {
        let mut target = String::new();
        let mut length = 0usize;
        let mut first = String::new();
        if reader.read_line(&mut first).unwrap_or(0) == 0 {
            return;
        }
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
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let op = target.rsplit('.').next().unwrap_or("").to_string();
        seen.lock().unwrap().push((op.clone(), body.clone()));
        let (status, answer) = handler(&op, &body);
        let text = answer.to_string();
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let reply = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: stub-{}\r\nContent-Length: {}\r\n\r\n{text}",
            seen.lock().unwrap().len(),
            text.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
