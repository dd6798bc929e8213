//! `cargo bench --bench ops_cost`: end-to-end time of each ops and cost example request against
//! moto, in process through `Deck` (the same path as `opsdeck ask` / `apply`), with 10, 100 and
//! 1,000 instances tagged Env=staging; and the process's memory after each size (instances are
//! read one DescribeInstances page at a time, so memory should stay flat as the fleet grows).
//!
//! moto: `OPSDECK_TEST_MOTO` when set (tests/run.sh exports it); otherwise this bench starts
//! its own `moto_server` on a free loopback port (`OPSDECK_MOTO_SERVER`, `moto_server` on PATH,
//! or `target/pyenv/bin/moto_server` as tests/run.sh installs it) and stops it at the end.
//! Figures are wall-clock and include moto's own time (a Python server on the same cores).

#[path = "../tests/ops_cost_support/seed.rs"]
#[allow(dead_code)]
mod seed;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck::pipeline::{Answer, Deck, OpenOptions};
use opsdeck::tenant::Role;
use opsdeck::time::{Clock, ManualClock};

const SIZES: &[usize] = &[10, 100, 1000];

/// A moto server this bench started, stopped when dropped.
struct OwnMoto(Child);

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OPSDECK_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = opsdeck::exec::find_binary("moto_server") {
        return Some(p);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/moto_server");
    local.exists().then_some(local)
}

fn start_moto() -> Option<(String, Option<OwnMoto>)> {
    if let Ok(e) = std::env::var("OPSDECK_TEST_MOTO")
        && e.starts_with("http://127.0.0.1:")
    {
        println!("moto: {e} (OPSDECK_TEST_MOTO)");
        return Some((e, None));
    }
    let Some(bin) = moto_binary() else {
        println!(
            "SKIP: no moto_server (set OPSDECK_TEST_MOTO, or OPSDECK_MOTO_SERVER, or run tests/run.sh once to install it)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let own = OwnMoto(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            println!("moto: started its own moto_server on {endpoint}");
            return Some((endpoint, Some(own)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not start on {endpoint}");
}

/// (peak, current) resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

struct Bench {
    home: tempfile::TempDir,
    endpoint: String,
    clock: Arc<ManualClock>,
    secrets: std::collections::HashMap<String, String>,
}

impl Bench {
    fn deck(&self, user: &str) -> Deck {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Deck::open(OpenOptions {
            home: Some(self.home.path().to_path_buf()),
            user: Some(user.into()),
            clock: Some(clock),
            endpoint_url: Some(self.endpoint.clone()),
            ..OpenOptions::default()
        })
        .expect("open deck")
    }

    fn code(&self, user: &str) -> String {
        self.clock.advance_secs(30);
        opsdeck::tenant::mfa::code_at(&self.secrets[user], self.clock.unix() as u64).unwrap()
    }

    fn new(endpoint: &str) -> Bench {
        let home = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::at(jiff::Timestamp::now()));
        let mut b = Bench {
            home,
            endpoint: endpoint.to_string(),
            clock,
            secrets: Default::default(),
        };
        // One OS account plays both people: the tenant, still without users, lets `--user`
        // name them, and bob's key sits in the home's identity directory.
        let first = b.deck("alice");
        let settings = opsdeck::tenant::Tenant {
            allow_claimed_users: true,
            ..first.tenant().clone()
        };
        first.admin().set_tenant_settings(settings, None).unwrap();
        let alice = b
            .deck("alice")
            .admin()
            .add_user("alice", vec![Role::Admin], vec![], None)
            .unwrap();
        b.secrets.insert("alice".into(), alice.secret);
        let code = b.code("alice");
        let bob_key = opsdeck::identity::create_key(&b.home.path().join("identity"), "bob", None)
            .unwrap()
            .public()
            .openssh();
        let bob = b
            .deck("alice")
            .admin()
            .add_member(
                "bob",
                vec![Role::Approver],
                vec![],
                Some(&bob_key),
                Some(&code),
            )
            .unwrap();
        b.secrets.insert("bob".into(), bob.secret);
        let d = b.deck("alice");
        let mut t = d.tenant().clone();
        t.policy.ssm_allowed_commands = vec!["uptime".into()];
        let code = b.code("alice");
        d.admin().set_tenant_settings(t, Some(&code)).unwrap();
        b
    }
}

fn main() {
    let Some((endpoint, _own)) = start_moto() else {
        return;
    };
    // SAFETY: set before any other thread exists; the SDK's default chain reads them.
    unsafe {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ] {
            std::env::set_var(k, v);
        }
    }
    let region = "us-east-1";
    let requests: &[(&str, &str)] = &[
        ("list", "list instances tagged Env=staging"),
        ("restart: plan", "Restart EC2 instances tagged Env=staging"),
        ("restart: approve", ""),
        ("restart: apply", ""),
        (
            "ssm run: plan",
            "run `uptime` on instances tagged Env=staging",
        ),
        (
            "cost: daily EC2",
            "What is my daily EC2 spend in ap-south-1?",
        ),
        ("cost: forecast", "forecast our AWS spend"),
        ("cost: budgets", "show all budgets and their status"),
        ("cost: savings", "how can we reduce our EC2 bill?"),
        (
            "cost: estimate",
            "how much would 3 t3.medium in ap-south-1 with an ALB cost?",
        ),
    ];
    // Per size: n, the time of each request, memory (peak, now) in MiB, pages read, seeding secs.
    type Row = (usize, Vec<Duration>, (f64, f64), usize, f64);
    let mut table: Vec<Row> = Vec::new();
    for &n in SIZES {
        seed::post(&endpoint, "/moto-api/reset", "");
        let seeding = Instant::now();
        let rt = seed::runtime();
        rt.block_on(async {
            let ec2 = aws_sdk_ec2::Client::new(&seed::conf(&endpoint, region));
            let ami = seed::image(&ec2).await;
            // One instance per reservation: moto pages DescribeInstances by reservation.
            seed::launch(
                &ec2,
                &ami,
                n,
                1,
                "t3.medium",
                &[("Env", "staging"), ("Role", "web")],
            )
            .await;
            seed::launch(
                &ec2,
                &ami,
                2,
                1,
                "t3.medium",
                &[("Env", "prod"), ("Role", "web")],
            )
            .await;
        });
        let start = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_sub(jiff::Span::new().days(14))
            .unwrap();
        let month = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .first_of_month();
        let days = (jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            - month)
            .get_days() as usize
            + 1;
        seed::queue_cost_results(
            &endpoint,
            &[
                seed::daily(start, &[42.0; 14]),
                seed::daily(month, &vec![40.0; days]),
            ],
        );
        seed::budgets(&endpoint);
        let seeded = seeding.elapsed();

        let b = Bench::new(&endpoint);
        let mut times = Vec::new();
        let mut plan_id = String::new();
        let mut pages = 0usize;
        for (what, text) in requests {
            let t = Instant::now();
            match *what {
                "restart: approve" => {
                    let code = b.code("bob");
                    b.deck("bob")
                        .approvals()
                        .approve(&plan_id, None, Some(&code), None)
                        .expect("approve");
                }
                "restart: apply" => {
                    let (_tx, rx) = tokio::sync::watch::channel(false);
                    let report = rt
                        .block_on(b.deck("alice").runs().apply(&plan_id, &|_| {}, rx))
                        .expect("apply");
                    assert!(report.success, "{report:?}");
                }
                _ => match b.deck("alice").requests().request(text, &|_| {}) {
                    Ok(Answer::Plan(rec)) => {
                        assert!(!rec.plan.denied(), "{text}: denied: {:?}", rec.plan.gates);
                        if what.starts_with("restart") {
                            plan_id = rec.plan.plan_id.clone();
                        }
                    }
                    Ok(Answer::Report(r)) => {
                        if *what == "list" {
                            pages = r.report.data["pages"].as_u64().unwrap_or(0) as usize;
                        }
                    }
                    Err(e) => panic!("{text}: {e}"),
                },
            }
            times.push(t.elapsed());
        }
        table.push((n, times, memory(), pages, seeded.as_secs_f64()));
    }

    println!();
    print!("{:<18}", "request (ms)");
    for (n, ..) in &table {
        print!("{:>12}", format!("{n} inst."));
    }
    println!();
    for (i, (what, _)) in requests.iter().enumerate() {
        print!("{what:<18}");
        for (_, times, ..) in &table {
            print!("{:>12}", ms(times[i]));
        }
        println!();
    }
    print!("{:<18}", "DescribeInstances");
    for (_, _, _, pages, _) in &table {
        print!("{:>12}", format!("{pages} pages"));
    }
    println!();
    print!("{:<18}", "peak RSS (MiB)");
    for (_, _, (peak, _), ..) in &table {
        print!("{:>12}", format!("{peak:.1}"));
    }
    println!();
    print!("{:<18}", "RSS after (MiB)");
    for (_, _, (_, now), ..) in &table {
        print!("{:>12}", format!("{now:.1}"));
    }
    println!();
    print!("{:<18}", "seeding moto (s)");
    for (.., seeded) in &table {
        print!("{:>12}", format!("{seeded:.1}"));
    }
    println!();
    println!(
        "\nnotes: times are in process through Deck (classify, plan with DryRun, gates, store, audit), against moto; \
         'restart: apply' reboots one instance per call and then waits for state and status checks; \
         the SSM plan and the forecast include the SDK's retries of calls moto does not implement \
         (DescribeInstanceInformation, GetCostForecast; 3 attempts each)."
    );
}
