//! `cargo bench --bench runner`: the runner's figures, on the local store and, with
//! OPSDECK_TEST_MOTO set (as for the tests), on the shared backend against moto.
//!
//! - approve → runner start: from `approve` returning to the runner's first log line for the
//!   plan (its claim), with a runner polling the queue every 100 ms (`opsdeck runner` polls
//!   every `--poll-secs`, at least 1 s: add it);
//! - throughput: 10 queued plans (Terraform `terraform_data` stacks, applied for real) drained by
//!   one runner, then by two runners sharing the queue.
//!
//! Needs terraform on PATH (prints SKIP without). moto serves one DynamoDB call at a time, so
//! the shared-backend figures are an upper bound of what DynamoDB would take.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck::pipeline::{Deck, OpenOptions, RunnerOptions};
use opsdeck::tenant::{Role, mfa};
use opsdeck::time::{Clock, ManualClock};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Team {
    home: tempfile::TempDir,
    clock: Arc<ManualClock>,
    bob: String,
}

impl Team {
    fn open(&self, user: &str) -> Deck {
        let c: Arc<dyn Clock> = self.clock.clone();
        Deck::open(OpenOptions {
            home: Some(self.home.path().to_path_buf()),
            user: Some(user.into()),
            clock: Some(c),
            ..OpenOptions::default()
        })
        .unwrap()
    }

    fn code(&self, secret: &str) -> String {
        self.clock.advance_secs(30);
        mfa::code_at(secret, self.clock.unix() as u64).unwrap()
    }

    /// alice admin, bob approver, olga operator, runner operator; `config` is the home's
    /// config.toml (the backend).
    fn new(config: &str) -> Team {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        let clock = Arc::new(ManualClock::at(jiff::Timestamp::now()));
        let mut team = Team {
            home,
            clock,
            bob: String::new(),
        };
        let first = team.open("alice");
        let settings = opsdeck::tenant::Tenant {
            allow_claimed_users: true,
            ..first.tenant().clone()
        };
        first.admin().set_tenant_settings(settings, None).unwrap();
        let alice = team
            .open("alice")
            .admin()
            .add_user("alice", vec![Role::Admin], vec![], None)
            .unwrap()
            .secret;
        for (name, role) in [
            ("bob", Role::Approver),
            ("olga", Role::Operator),
            ("runner", Role::Operator),
        ] {
            let key = opsdeck::identity::create_key(&team.home.path().join("identity"), name, None)
                .unwrap()
                .public()
                .openssh();
            let code = team.code(&alice);
            let admin = team.open("alice");
            let e = admin
                .admin()
                .add_member(name, vec![role], vec![], Some(&key), Some(&code))
                .unwrap();
            if let Some(arn) = admin.identity().principal.clone() {
                let code = team.code(&alice);
                admin
                    .admin()
                    .map_aws_principals(name, &[arn], &[], Some(&code))
                    .unwrap();
            }
            if name == "bob" {
                team.bob = e.secret;
            }
        }
        team
    }

    /// A queued plan of its own stack, not yet approved.
    fn plan(&self, olga: &Deck, stack: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.tf"),
            "resource \"terraform_data\" \"bench\" {\n  input = \"bench\"\n}\n",
        )
        .unwrap();
        olga.requests()
            .submit_terraform(dir.path(), stack, &|_| {})
            .unwrap()
            .plan
            .plan_id
    }

    fn approve(&self, id: &str) {
        let code = self.code(&self.bob);
        self.open("bob")
            .approvals()
            .approve(id, None, Some(&code), None)
            .unwrap();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pass(deck: &Deck, name: &str) -> usize {
    let opts = RunnerOptions::new(Some(name.into()), 10, 60).unwrap();
    let (_tx, stop) = tokio::sync::watch::channel(false);
    rt().block_on(deck.runs().runner_pass(&opts, &stop))
        .unwrap()
        .applied
        .len()
}

fn bench(label: &str, config: &str) {
    let team = Team::new(config);
    let olga = team.open("olga");

    // approve → runner start, with a runner polling every 100 ms in a thread of its own.
    let ids: Vec<String> = (0..5)
        .map(|n| team.plan(&olga, &format!("lat{n}")))
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let runner = std::thread::spawn({
        let done = done.clone();
        let runner = team.open("runner");
        move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                pass(&runner, "bench-poller");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let mut lat = Vec::new();
    for id in &ids {
        team.approve(id);
        let t = Instant::now();
        while olga.runs().progress(id, 0).unwrap().entries.is_empty() {
            std::thread::sleep(Duration::from_millis(2));
        }
        lat.push(t.elapsed());
        while !olga.runs().progress(id, 0).unwrap().finished() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    runner.join().unwrap();
    lat.sort();
    println!(
        "{label}: approve → runner start (claim, first log line), runner polling every 100 ms: min {:.1} ms, median {:.1} ms, max {:.1} ms over {}",
        ms(lat[0]),
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() - 1]),
        lat.len()
    );

    // 10 queued plans, one runner.
    let queued: Vec<String> = (0..10)
        .map(|n| team.plan(&olga, &format!("one{n}")))
        .collect();
    queued.iter().for_each(|id| team.approve(id));
    let runner = team.open("runner");
    let t = Instant::now();
    let applied = pass(&runner, "bench-one");
    let one = t.elapsed();
    assert_eq!(applied, 10);
    println!(
        "{label}: 10 queued plans, one runner: {:.2} s ({:.2} plans/min, {:.0} ms per plan)",
        one.as_secs_f64(),
        600.0 / one.as_secs_f64(),
        ms(one) / 10.0
    );

    // 10 queued plans, two runners sharing the queue.
    let queued: Vec<String> = (0..10)
        .map(|n| team.plan(&olga, &format!("two{n}")))
        .collect();
    queued.iter().for_each(|id| team.approve(id));
    let t = Instant::now();
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = ["bench-a", "bench-b"]
            .into_iter()
            .map(|name| {
                let deck = team.open("runner");
                s.spawn(move || pass(&deck, name))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let two = t.elapsed();
    assert_eq!(counts.iter().sum::<usize>(), 10, "{counts:?}");
    println!(
        "{label}: 10 queued plans, two runners: {:.2} s ({:.2} plans/min; split {:?}); 2 cores shared with the tools they run",
        two.as_secs_f64(),
        600.0 / two.as_secs_f64(),
        counts
    );
}

fn main() {
    if opsdeck::exec::find_binary("terraform").is_none() {
        println!("SKIP runner bench: no terraform on PATH");
        return;
    }
    bench("local store", "");
    match std::env::var("OPSDECK_TEST_MOTO") {
        Ok(endpoint) if endpoint.starts_with("http://127.0.0.1:") => {
            let prefix = format!("b{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let config = format!(
                "backend = \"aws\"\nendpoint_url = \"{endpoint}\"\n\n[aws_backend]\nprefix = \"{prefix}\"\nmax_attempts = 3\ntimeout_secs = 5\n"
            );
            let dir = tempfile::tempdir().unwrap();
            opsdeck::store::aws::AwsStore::open(opsdeck::store::aws::AwsOpen {
                config: &opsdeck::config::AwsBackendConfig {
                    prefix: prefix.clone(),
                    max_attempts: 3,
                    timeout_secs: 5,
                    ..Default::default()
                },
                endpoint_url: Some(endpoint.clone()),
                data_dir: dir.path(),
                tenant: None,
                user: "bench",
            })
            .unwrap()
            .init()
            .unwrap();
            bench("shared backend (moto)", &config);
        }
        _ => println!("SKIP shared backend figures: OPSDECK_TEST_MOTO is not set"),
    }
}
