//! Two operators on one bastion: concurrent processes and threads append to one store; a crash
//! mid-write loses nothing that was acknowledged.

mod common;

use std::process::Command;

use common::{Home, quiet};

#[test]
fn concurrent_processes_keep_one_valid_chain() {
    let home = Home::new();
    let bin = assert_cmd::cargo::cargo_bin("opsdeck");
    let procs = 4;
    let per = 10;
    let children: Vec<_> = (0..procs)
        .map(|p| {
            let bin = bin.clone();
            let dir = home.path().to_path_buf();
            std::thread::spawn(move || {
                for i in 0..per {
                    let ok = Command::new(&bin)
                        .env("OPSDECK_HOME", &dir)
                        .args(["--user", &format!("op{p}"), "--json", "ask"])
                        .arg(format!("create {} t3.micro instances in Oregon", i + 1))
                        .output()
                        .unwrap()
                        .status
                        .success();
                    assert!(ok);
                }
            })
        })
        .collect();
    // Threads of this process append at the same time.
    std::thread::scope(|s| {
        for t in 0..2 {
            let home = &home;
            s.spawn(move || {
                let deck = home.deck(&format!("thread{t}"));
                for _ in 0..per {
                    deck.requests().ask("create an s3 bucket", &quiet).unwrap();
                }
            });
        }
    });
    for c in children {
        c.join().unwrap();
    }
    let deck = home.deck("auditor");
    let report = deck.trail().verify(false).unwrap();
    assert!(report.ok, "{report:?}");
    let plans = (procs + 2) * per;
    assert_eq!(report.records, plans * 5);
    assert_eq!(deck.approvals().plans(None).unwrap().len(), plans);
    let records = deck.trail().audit(&Default::default()).unwrap();
    let mut ids: Vec<&str> = records.iter().map(|r| r.event.event_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), plans * 5, "event ids are unique");
}

#[test]
fn torn_write_from_a_crash_is_repaired_and_nothing_acknowledged_is_lost() {
    let home = Home::new();
    let deck = home.deck("alice");
    deck.requests()
        .ask("create 2 t3.micro instances", &quiet)
        .unwrap();
    let path = home.audit_file("default");
    let before = std::fs::read_to_string(&path).unwrap();
    // What a kill -9 in the middle of write(2) leaves: a record without its end.
    let mut torn = before.clone();
    torn.push_str("{\"seq\":6,\"prev\":\"abc\",\"hash\":\"de");
    std::fs::write(&path, &torn).unwrap();
    // Readers ignore the torn tail; the next append repairs it and continues the chain.
    assert_eq!(deck.trail().audit(&Default::default()).unwrap().len(), 5);
    deck.requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(&before));
    let report = deck.trail().verify(false).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 10);
}

#[test]
fn killed_writer_leaves_a_valid_chain() {
    let home = Home::new();
    let bin = assert_cmd::cargo::cargo_bin("opsdeck");
    // A writer in a loop, killed with SIGKILL while it works.
    let script = format!(
        "while true; do '{}' ask 'create 1 t3.micro instance' >/dev/null 2>&1; done",
        bin.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("OPSDECK_HOME", home.path())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // Kill the loop and whatever opsdeck it is running, mid-flight.
    let _ = Command::new("pkill")
        .args(["-9", "-P", &child.id().to_string()])
        .status();
    let _ = child.kill();
    let _ = child.wait();
    let deck = home.deck("alice");
    deck.requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap();
    let report = deck.trail().verify(false).unwrap();
    assert!(report.ok, "{report:?}");
    assert!(report.records >= 5);
}

#[test]
fn first_use_by_many_processes_at_once_agrees_on_one_signing_key() {
    let home = Home::new();
    let bin = assert_cmd::cargo::cargo_bin("opsdeck");
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(&bin)
                .env("OPSDECK_HOME", home.path())
                .args(["ask", "create 1 t3.micro instance"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let keys = std::fs::read_dir(home.path().join("keys"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "pub"))
        .count();
    assert_eq!(keys, 1);
    assert!(home.deck("auditor").trail().verify(true).unwrap().ok);
}
