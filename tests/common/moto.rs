//! moto, the AWS stand-in the tests talk to through the normal SDK clients. `tests/run.sh` starts
//! one server on a free loopback port and exports its address as `OPSDECK_TEST_MOTO`; a developer
//! running `cargo test` alone can start one (`moto_server -H 127.0.0.1 -p PORT`) and export it.
//!
//! Isolation: tests either use names nobody else uses (a fresh tenant, prefix or bucket), or
//! take [`Moto::exclusive`], which serialises the tests of one binary and resets moto first.
//! Cargo runs test binaries one after another, so a reset never hits another binary's test.

use std::sync::{Mutex, MutexGuard};

pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

static EXCLUSIVE: Mutex<()> = Mutex::new(());

impl Moto {
    /// The test's moto, or `None` with a printed reason (an error under CI, where run.sh
    /// always starts one).
    pub fn get(test: &str) -> Option<Moto> {
        match std::env::var("OPSDECK_TEST_MOTO") {
            Ok(endpoint) if !endpoint.is_empty() => {
                assert!(
                    endpoint.starts_with("http://127.0.0.1:"),
                    "OPSDECK_TEST_MOTO must be a loopback moto server, got {endpoint}"
                );
                Some(Moto { endpoint })
            }
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{test}: OPSDECK_TEST_MOTO is not set under CI; run the suite with tests/run.sh"
                );
                eprintln!(
                    "SKIP {test}: no moto server (run tests/run.sh, or start moto_server and export OPSDECK_TEST_MOTO)"
                );
                None
            }
        }
    }

    /// Holds moto for this test alone (within this binary) after resetting all its state.
    pub fn exclusive(&self) -> MutexGuard<'static, ()> {
        let guard = EXCLUSIVE.lock().unwrap_or_else(|e| e.into_inner());
        self.reset();
        guard
    }

    /// `POST /moto-api/reset`: every service back to empty.
    pub fn reset(&self) {
        self.post("/moto-api/reset", "");
    }

    /// POSTs JSON to a moto API path, e.g. queued Cost Explorer results at
    /// `/moto-api/static/ce/cost-and-usage-results`.
    pub fn post(&self, path: &str, json: &str) {
        let url = format!("{}{path}", self.endpoint);
        let (host, rest) = url
            .trim_start_matches("http://")
            .split_once('/')
            .expect("url with path");
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(host).expect("connect to moto");
        write!(
            s,
            "POST /{rest} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
        .expect("write to moto");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read moto reply");
        // moto answers 200 or 201 (the static Cost Explorer queue) for what it accepted.
        let status = resp.split_whitespace().nth(1).unwrap_or("");
        assert!(
            status.len() == 3 && status.starts_with('2'),
            "moto {path}: {}",
            resp.lines().next().unwrap_or("")
        );
    }

    /// Environment for the real binary: static test credentials, no metadata lookups, and no
    /// developer profile in the way.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }
}

/// A moto server of one test's own: a fresh process on a free loopback port, stopped when
/// dropped. For tests that turn on moto's IAM enforcement, which is global to a server and
/// would refuse every other test's static credentials.
pub struct OwnMoto {
    pub moto: Moto,
    child: std::process::Child,
}

impl OwnMoto {
    /// Starts one with the test suite's Python (`OPSDECK_TEST_PYTHON`, exported by
    /// tests/run.sh), or `None` with a printed reason (an error under CI).
    pub fn start(test: &str) -> Option<OwnMoto> {
        let Some(python) = std::env::var_os("OPSDECK_TEST_PYTHON") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: OPSDECK_TEST_PYTHON is not set under CI; run the suite with tests/run.sh"
            );
            eprintln!("SKIP {test}: no OPSDECK_TEST_PYTHON to start a moto server of its own");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = std::process::Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto");
        let own = OwnMoto {
            moto: Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
            },
            child,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{test}: moto did not listen on port {port} within 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Some(own)
    }

    /// From now on every call must be signed by an IAM user's (or an assumed role's) keys and
    /// be allowed by its policies; AssumeRole also by the role's trust policy.
    pub fn enforce_iam(&self) {
        self.moto.post("/moto-api/reset-auth", "0");
    }

    /// Back to accepting any credentials (for checks made with the static test keys).
    pub fn stop_enforcing_iam(&self) {
        self.moto.post("/moto-api/reset-auth", "1e18");
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
