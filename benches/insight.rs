//! `cargo bench --bench insight`: end-to-end time (and peak memory) of the security, monitor and
//! ml example requests, through the real binary against moto, and how they scale with 10, 100
//! and 1,000 buckets, log events and feedback documents (plus larger log volumes past the read
//! cap, where memory must stay flat).
//!
//! Uses `OPSDECK_TEST_MOTO` when set (and resets it), otherwise starts its own moto_server on a
//! free loopback port (`OPSDECK_MOTO_SERVER`, `target/pyenv/bin/moto_server`, or PATH). The
//! test stub (tests/common/stub.rs) answers CloudWatch (CBOR), Comprehend batches and Bedrock
//! in front of moto, reached through AWS_ENDPOINT_URL_<SERVICE> as in the tests.

#[path = "../tests/common/stub.rs"]
mod stub;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;

const RUNS: usize = 3;

struct Moto {
    endpoint: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn http(endpoint: &str, method: &str, path: &str, body: &str) -> Option<String> {
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

// The child is owned by Moto, whose Drop kills and waits for it.
#[allow(clippy::zombie_processes)]
fn moto() -> Moto {
    if let Ok(e) = std::env::var("OPSDECK_TEST_MOTO")
        && e.starts_with("http://127.0.0.1:")
    {
        return Moto {
            endpoint: e,
            child: None,
        };
    }
    let bin = std::env::var("OPSDECK_MOTO_SERVER")
        .map(PathBuf::from)
        .ok()
        .or_else(|| {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/moto_server");
            p.exists().then_some(p)
        })
        .unwrap_or_else(|| PathBuf::from("moto_server"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): run tests/run.sh once (it installs moto) or set OPSDECK_TEST_MOTO",
                bin.display()
            )
        });
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if http(&endpoint, "GET", "/moto-api/data.json", "").is_some_and(|r| r.contains(" 200 ")) {
            return Moto {
                endpoint,
                child: Some(child),
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not start on {endpoint}");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn conf(rt: &tokio::runtime::Runtime, endpoint: &str) -> aws_config::SdkConfig {
    let e = endpoint.to_string();
    rt.block_on(async move {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(e)
            .credentials_provider(aws_credential_types::Credentials::new(
                "testing", "testing", None, None, "bench",
            ))
            .load()
            .await
    })
}

/// One run of the real binary: wall time, peak RSS (KiB), and stdout.
// Reaped by wait4 (for its rusage), which clippy does not recognise as a wait.
#[allow(clippy::zombie_processes)]
fn ask(home: &std::path::Path, env: &[(String, String)], text: &str) -> (Duration, i64, String) {
    let start = Instant::now();
    let err_path = home.join("stderr.txt");
    let err_file = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .env("OPSDECK_HOME", home)
        .env("USER", "bench")
        .env_remove("OPSDECK_USER")
        .env_remove("OPSDECK_TENANT")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["--json", "ask", text])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err_file))
        .spawn()
        .expect("opsdeck");
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        let _ = so.read_to_string(&mut out);
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(rc == pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "opsdeck ask {text:?} failed: {out}{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    (elapsed, usage.ru_maxrss, out)
}

fn measure(
    label: &str,
    home: &std::path::Path,
    env: &[(String, String)],
    text: &str,
    check: impl Fn(&serde_json::Value) -> String,
) {
    let mut times = Vec::new();
    let mut rss = 0;
    let mut what = String::new();
    for _ in 0..RUNS {
        let (t, r, out) = ask(home, env, text);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        what = check(&v);
        times.push(t);
        rss = rss.max(r);
    }
    times.sort();
    println!(
        "{label:<44} median {:>8.1} ms  min {:>8.1} ms  peak RSS {:>6.1} MiB  {what}",
        times[RUNS / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        rss as f64 / 1024.0
    );
}

fn main() {
    let moto = moto();
    let stub = stub::Stub::start(Some(&moto.endpoint));
    let rt = rt();
    let home = tempfile::tempdir().expect("home");
    let mut env: Vec<(String, String)> = vec![
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_SESSION_TOKEN".into(), "testing".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()),
    ];
    env.extend(stub.env().into_iter().map(|(k, v)| (k.to_string(), v)));
    println!(
        "insight bench: real binary against moto at {} (+ stub for CloudWatch/Comprehend), {RUNS} runs each",
        moto.endpoint
    );
    let reset = || {
        http(&moto.endpoint, "POST", "/moto-api/reset", "");
    };
    let c = conf(&rt, &moto.endpoint);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&c)
            .force_path_style(true)
            .build(),
    );

    // 1. "Scan all S3 buckets for public access" with 10, 100, 1,000 buckets (a third public).
    for n in [10usize, 100, 1000] {
        reset();
        let s3c = s3.clone();
        rt.block_on(async move {
            for i in 0..n {
                let b = format!("bench-bucket-{i:05}");
                s3c.create_bucket().bucket(&b).send().await.unwrap();
                if i % 3 == 0 {
                    s3c.put_bucket_policy()
                        .bucket(&b)
                        .policy(
                            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                            "Principal": "*", "Action": "s3:GetObject",
                            "Resource": format!("arn:aws:s3:::{b}/*")}]})
                            .to_string(),
                        )
                        .send()
                        .await
                        .unwrap();
                }
            }
        });
        measure(
            &format!("scan S3 for public access, {n} buckets"),
            home.path(),
            &env,
            "Scan all S3 buckets for public access",
            |v| {
                format!(
                    "{} findings",
                    v["report"]["data"]["findings"]
                        .as_array()
                        .map_or(0, |a| a.len())
                )
            },
        );
    }

    // 2. "Show last 24h error logs from Lambda my-func" with 10 … 1,000 events, then past the
    // read cap (20,000) where memory must stay flat.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&c);
    for n in [10i64, 100, 1000, 10_000, 40_000] {
        reset();
        let l = logs.clone();
        rt.block_on(async move {
            l.create_log_group().log_group_name("/aws/lambda/my-func").send().await.unwrap();
            l.create_log_stream()
                .log_group_name("/aws/lambda/my-func")
                .log_stream_name("s")
                .send()
                .await
                .unwrap();
            let now = jiff::Timestamp::now().as_millisecond();
            let step = (23 * 3_600_000) / n;
            let events: Vec<_> = (0..n)
                .map(|i| {
                    aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                        .timestamp(now - 23 * 3_600_000 + i * step)
                        .message(format!(
                            "2026-11-24T10:00:00.000Z\t6f1c1b52-8a0e-4c57-9d0a-{i:012}\tERROR\tpayment {i} failed: upstream {} timed out",
                            i % 7
                        ))
                        .build()
                        .unwrap()
                })
                .collect();
            for chunk in events.chunks(10_000) {
                l.put_log_events()
                    .log_group_name("/aws/lambda/my-func")
                    .log_stream_name("s")
                    .set_log_events(Some(chunk.to_vec()))
                    .send()
                    .await
                    .unwrap();
            }
        });
        measure(
            &format!("error logs of Lambda my-func, {n} events"),
            home.path(),
            &env,
            "Show last 24h error logs from Lambda my-func",
            |v| {
                format!(
                    "{} events read, complete: {}",
                    v["report"]["data"]["events_read"], v["report"]["data"]["complete"]
                )
            },
        );
    }

    // 3. "Analyze sentiment of customer feedback in bucket X" with 10, 100, 1,000 documents.
    for n in [10usize, 100, 1000] {
        reset();
        let s3c = s3.clone();
        rt.block_on(async move {
            s3c.create_bucket()
                .bucket("customer-feedback")
                .send()
                .await
                .unwrap();
            let texts = [
                "I love the new checkout, it is fast",
                "The app crashes every time, terrible",
                "I changed my delivery address",
            ];
            for i in 0..n {
                s3c.put_object()
                    .bucket("customer-feedback")
                    .key(format!("2024/ticket-{i:05}.txt"))
                    .body(ByteStream::from(texts[i % 3].as_bytes().to_vec()))
                    .send()
                    .await
                    .unwrap();
            }
        });
        measure(
            &format!("sentiment of feedback, {n} documents"),
            home.path(),
            &env,
            "Analyze sentiment of customer feedback in bucket customer-feedback",
            |v| format!("{} documents", v["report"]["data"]["documents"]),
        );
    }

    // 4. Metrics, alarms and remediation plans, once each.
    reset();
    let cw = aws_sdk_cloudwatch::Client::new(&conf(&rt, &stub.url));
    let ec2 = aws_sdk_ec2::Client::new(&c);
    let instance = rt.block_on(async move {
        let img = ec2.describe_images().send().await.unwrap();
        let r = ec2
            .run_instances()
            .image_id(img.images()[0].image_id().unwrap())
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap();
        let id = r.instances()[0].instance_id().unwrap().to_string();
        let now = jiff::Timestamp::now().as_second();
        let data: Vec<_> = (0..72)
            .map(|i| {
                aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name("CPUUtilization")
                    .dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name("InstanceId")
                            .value(&id)
                            .build(),
                    )
                    .timestamp(aws_smithy_types::DateTime::from_secs(
                        now - 6 * 3600 + i * 300,
                    ))
                    .value(20.0 + (i % 12) as f64 * 6.0)
                    .build()
            })
            .collect();
        for chunk in data.chunks(20) {
            cw.put_metric_data()
                .namespace("AWS/EC2")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
        id
    });
    let s3c = s3.clone();
    rt.block_on(async move {
        s3c.create_bucket()
            .bucket("web-assets")
            .send()
            .await
            .unwrap();
        s3c.put_bucket_acl()
            .bucket("web-assets")
            .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
    });
    measure(
        "CPU of an instance over 6h (chart)",
        home.path(),
        &env,
        &format!("show CPU of instance {instance} over the last 6 hours"),
        |v| {
            format!(
                "{} points",
                v["report"]["data"]["series"][0]["points"]
                    .as_array()
                    .map_or(0, |a| a.len())
            )
        },
    );
    measure(
        "plan: create a CPU alarm",
        home.path(),
        &env,
        &format!("create an alarm when CPU of {instance} is above 80% for 10 minutes"),
        |v| {
            format!(
                "plan {} ({})",
                v["plan_id"].as_str().unwrap_or("-"),
                v["state"]
            )
        },
    );
    measure(
        "plan: block public access on a bucket",
        home.path(),
        &env,
        "block public access on bucket web-assets",
        |v| {
            format!(
                "plan {} ({})",
                v["plan_id"].as_str().unwrap_or("-"),
                v["state"]
            )
        },
    );
    measure(
        "alarms in ALARM state",
        home.path(),
        &env,
        "show alarms in ALARM state",
        |v| {
            format!(
                "{} alarms",
                v["report"]["data"]["alarms"]
                    .as_array()
                    .map_or(0, |a| a.len())
            )
        },
    );
}
