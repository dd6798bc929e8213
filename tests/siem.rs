//! SIEM export (issue 19 part 3): the trail as OCSF JSON lines to a file, an S3 prefix and a
//! CloudWatch Logs stream (moto), resumed from the destination's own cursor: each record exactly
//! once across runs, a torn last line (an export killed mid-write) repaired, another tenant's
//! destination refused. Through the real binary.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use common::moto::Moto;
use common::{Home, Team, quiet, team};
use opsdeck::tenant::Role;
use serde_json::Value;
use support::seed;

const REGION: &str = "us-east-1";

fn siem(home: &Home, moto: &Moto, user: &str, args: &[&str]) -> Value {
    let mut all = vec!["--user", user, "audit", "siem"];
    all.extend_from_slice(args);
    home.json(moto.env(), &all)
}

/// A request that writes a few more records to the trail.
fn more_records(t: &Team<'_>) {
    t.deck("olga")
        .requests()
        .ask("Restart EC2 instances tagged Env=staging", &quiet)
        .unwrap();
}

fn trail_len(t: &Team<'_>) -> u64 {
    let mut n = 0;
    t.deck("alice")
        .trail()
        .scan_audit(&mut |_| {
            n += 1;
            true
        })
        .unwrap();
    n
}

/// The sequence numbers in `lines` (each an exported event of tenant `default`), checked.
fn sequences(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|e| {
            assert_eq!(e["class_uid"], 6003, "{e}");
            assert_eq!(e["type_uid"], 600300 + e["activity_id"].as_u64().unwrap());
            assert_eq!(e["metadata"]["tenant_uid"], "default", "{e}");
            assert!(e["actor"]["user"]["uid"].is_string(), "{e}");
            assert!(e["time"].as_i64().unwrap() > 0, "{e}");
            assert_eq!(e["unmapped"]["hash"].as_str().unwrap().len(), 64, "{e}");
            e["metadata"]["sequence"].as_u64().unwrap()
        })
        .collect()
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn once_each(seqs: &[u64], n: u64) {
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>().as_slice());
}

#[test]
fn the_trail_reaches_a_file_s3_and_cloudwatch_logs_once_each_across_runs() {
    let Some(moto) = Moto::get("siem") else {
        return;
    };
    let _held = moto.exclusive();
    seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    let t = team(&home);
    more_records(&t);

    // A file: everything so far, then nothing, then only what is new.
    let file = home.path().join("siem.jsonl");
    let to = file.display().to_string();
    let first = siem(&home, &moto, "bob", &["--to", &to]);
    let n = trail_len(&t);
    assert_eq!(first["resumed_after"], 0);
    assert_eq!(first["exported"], n);
    let again = siem(&home, &moto, "bob", &["--to", &to]);
    assert_eq!(again["exported"], 0, "{again}");
    assert_eq!(again["resumed_after"], n);
    more_records(&t);
    let n2 = trail_len(&t);
    let third = siem(&home, &moto, "bob", &["--to", &to]);
    assert_eq!(third["exported"], n2 - n);
    once_each(
        &sequences(&parse_lines(&std::fs::read_to_string(&file).unwrap())),
        n2,
    );
    let lines = parse_lines(&std::fs::read_to_string(&file).unwrap());
    let requested = lines
        .iter()
        .find(|e| e["api"]["operation"] == "requested")
        .expect("a requested event");
    assert_eq!(requested["activity_name"], "Create");
    assert_eq!(requested["actor"]["user"]["uid"], "olga");
    assert!(
        requested["message"]
            .as_str()
            .unwrap()
            .contains("Restart EC2")
    );

    // An export killed mid-write left half a line: it is cut, and the next run goes on.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        f.write_all(b"{\"class_uid\":6003,\"metadata\":{\"seq")
            .unwrap();
    }
    more_records(&t);
    let n3 = trail_len(&t);
    let resumed = siem(&home, &moto, "bob", &["--to", &to]);
    assert_eq!(resumed["resumed_after"], n2);
    once_each(
        &sequences(&parse_lines(&std::fs::read_to_string(&file).unwrap())),
        n3,
    );

    // Another tenant's events never go where this tenant's are.
    t.deck("alice").admin().add_tenant("other").unwrap();
    let _other = Team::new(&home, Some("other"), &[("bob", &[Role::Admin])]);
    let out = home
        .cmd()
        .envs(moto.env())
        .args([
            "--user", "bob", "--tenant", "other", "audit", "siem", "--to", &to,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds tenant \"default\"'s events"), "{err}");

    // S3: one object per batch under the tenant's prefix; the newest key is the cursor.
    let conf = seed::conf(&moto.endpoint, REGION);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let rt = seed::runtime();
    rt.block_on(s3.create_bucket().bucket("audit-siem").send())
        .unwrap();
    let s3_first = siem(&home, &moto, "bob", &["--to", "s3://audit-siem/opsdeck"]);
    assert_eq!(s3_first["exported"], n3);
    assert_eq!(s3_first["destination"], "s3://audit-siem/opsdeck/default/");
    more_records(&t);
    let n4 = trail_len(&t);
    let s3_next = siem(&home, &moto, "bob", &["--to", "s3://audit-siem/opsdeck"]);
    assert_eq!(s3_next["resumed_after"], n3);
    assert_eq!(s3_next["exported"], n4 - n3);
    let objects = rt
        .block_on(
            s3.list_objects_v2()
                .bucket("audit-siem")
                .prefix("opsdeck/default/")
                .send(),
        )
        .unwrap();
    let keys: Vec<String> = objects
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut from_s3 = Vec::new();
    for k in &keys {
        let body = rt
            .block_on(async {
                let o = s3.get_object().bucket("audit-siem").key(k).send().await?;
                Ok::<_, Box<dyn std::error::Error>>(o.body.collect().await?.into_bytes())
            })
            .unwrap();
        from_s3.extend(parse_lines(std::str::from_utf8(&body).unwrap()));
    }
    once_each(&sequences(&from_s3), n4);

    // CloudWatch Logs: an existing group; the stream is created; the last event is the cursor.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    rt.block_on(
        logs.create_log_group()
            .log_group_name("/opsdeck/audit")
            .send(),
    )
    .unwrap();
    let cw_first = siem(&home, &moto, "bob", &["--to", "logs:/opsdeck/audit"]);
    assert_eq!(cw_first["exported"], n4);
    more_records(&t);
    let n5 = trail_len(&t);
    let cw_next = siem(&home, &moto, "bob", &["--to", "logs:/opsdeck/audit"]);
    assert_eq!(cw_next["resumed_after"], n4, "{cw_next}");
    assert_eq!(cw_next["exported"], n5 - n4);
    let got = rt
        .block_on(
            logs.get_log_events()
                .log_group_name("/opsdeck/audit")
                .log_stream_name("opsdeck-default")
                .start_from_head(true)
                .send(),
        )
        .unwrap();
    let from_logs: Vec<Value> = got
        .events()
        .iter()
        .map(|e| serde_json::from_str(e.message().unwrap()).unwrap())
        .collect();
    once_each(&sequences(&from_logs), n5);

    // A group that does not exist is named, not created.
    let out = home
        .cmd()
        .envs(moto.env())
        .args([
            "--user",
            "bob",
            "audit",
            "siem",
            "--to",
            "logs:/no/such/group",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CreateLogStream") || err.contains("ResourceNotFound"),
        "{err}"
    );
}

#[test]
fn bad_destinations_and_intervals_are_refused_before_anything_is_read() {
    let home = Home::new();
    let _t = team(&home);
    for (args, says) in [
        (vec!["--to", "s3://Bad_Bucket/x"], "not an S3 bucket name"),
        (
            vec!["--to", "logs:bad group"],
            "not a CloudWatch Logs group",
        ),
        (vec!["--to", "out.jsonl", "--stream", "s"], "--stream names"),
        (
            vec!["--to", "out.jsonl", "--follow", "--interval", "1"],
            "between 5 and 86400",
        ),
        (
            vec!["--to", "out.jsonl", "--region", "mars-1"],
            "not an AWS region",
        ),
    ] {
        let out = home
            .cmd()
            .args(["--user", "bob", "audit", "siem"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(!home.path().join("out.jsonl").exists());
}
