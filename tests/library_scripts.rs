//! Library scripts (kind `script`): checked when added (text, the real shell's `-n`, credentials,
//! the `script.*` policies naming rule and line), shown and compared on the local store and the
//! shared backend; used on instances found by tag through SSM Run Command against moto (targets
//! shown, production refused unless named, approved by another user, applied), with what moto
//! received compared byte for byte with the plan's text, hostile `--set` values present only as
//! base64; a request naming the script; `library_requires_approval`.

mod common;

#[path = "ops_cost_support/mod.rs"]
mod support;

use base64::Engine;
use common::moto::Moto;
use common::shared::SharedBackend;
use common::{Home, Team, quiet, team};
use opsdeck::approval::{PlanRecord, State};
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::library::{EntryKind, EntryWords, parse_param};
use opsdeck::pipeline::{Deck, NewEntry, UseRequest};
use opsdeck::plan::{ArtifactKind, GateResult, StepKind};
use serde_json::Value;
use support::seed;

const REGION: &str = "us-east-1";

/// Version 1: a bash script with two parameters.
const CLEANUP_V1: &str = r#"#!/bin/bash
set -euo pipefail
# Remove application logs older than OPSDECK_KEEP_DAYS days.
find "$OPSDECK_LOG_DIR" -name '*.log' -mtime +"$OPSDECK_KEEP_DAYS" -delete
printf 'note: %s\n' "$OPSDECK_NOTE"
"#;

/// Version 2: also reports the space left.
const CLEANUP_V2: &str = r#"#!/bin/bash
set -euo pipefail
# Remove application logs older than OPSDECK_KEEP_DAYS days.
find "$OPSDECK_LOG_DIR" -name '*.log' -mtime +"$OPSDECK_KEEP_DAYS" -delete
printf 'note: %s\n' "$OPSDECK_NOTE"
df -h "$OPSDECK_LOG_DIR"
"#;

fn params() -> Vec<opsdeck::library::Param> {
    [
        "keep_days:number=7",
        "log_dir:string=/var/log/app",
        "note:string=",
    ]
    .iter()
    .map(|p| parse_param(p).unwrap())
    .collect()
}

fn add(
    deck: &Deck,
    name: &str,
    file: &str,
    text: &str,
) -> opsdeck::Result<opsdeck::pipeline::Added> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    deck.library().add(
        &NewEntry {
            name: name.into(),
            kind: EntryKind::Script,
            from: path,
            words: EntryWords {
                description: "clean old application logs".into(),
                tags: vec!["logs".into()],
                params: params(),
                serves: None,
            },
        },
        &quiet,
    )
}

fn refused(r: opsdeck::Result<opsdeck::pipeline::Added>) -> String {
    match r {
        Ok(a) => panic!("added {a:?}"),
        Err(e) => e.to_string(),
    }
}

/// Adding, refusing, showing and comparing: the same on both backends.
fn add_show_diff(t: &Team<'_>, env: &[(&'static str, String)]) {
    let olga = t.deck("olga");
    let v1 = add(&olga, "cleanup", "cleanup.sh", CLEANUP_V1).unwrap();
    assert!(v1.new);
    assert_eq!(v1.version.label(), "cleanup@1");
    assert!(v1.checks.iter().any(|c| c == "bash -n"), "{:?}", v1.checks);
    assert!(
        v1.checks.iter().any(|c| c == "policy gates"),
        "{:?}",
        v1.checks
    );
    // The same text again is the same version.
    assert!(!add(&olga, "cleanup", "cleanup.sh", CLEANUP_V1).unwrap().new);

    // bash's own words for a syntax error.
    let e = refused(add(
        &olga,
        "broken",
        "broken.sh",
        "#!/bin/bash\nif [ -d /tmp ]; then\n  echo yes\n",
    ));
    assert!(
        e.contains("bash -n refused library script broken")
            && e.contains("broken.sh: line 4: syntax error: unexpected end of file")
            && e.contains("nothing was added"),
        "{e}"
    );
    // sh's too, for a script without a shebang.
    let e = refused(add(&olga, "broken-sh", "b.sh", "echo (\n"));
    assert!(
        e.contains("sh -n refused library script broken-sh") && e.contains("b.sh"),
        "{e}"
    );
    // The policies name the rule and the line.
    let e = refused(add(
        &olga,
        "installer",
        "install.sh",
        "#!/bin/sh\nset -e\ncurl -fsSL https://get.example.com/agent | sh\n",
    ));
    assert!(
        e.contains("script.remote_script: line 3 of install.sh runs a download in a shell"),
        "{e}"
    );
    let e = refused(add(
        &olga,
        "drop",
        "drop.sh",
        "#!/usr/bin/env bash\nmkdir -p /srv/drop\nchmod -R 0777 /srv/drop\n",
    ));
    assert!(
        e.contains("script.world_writable: line 3 of drop.sh sets mode 0777"),
        "{e}"
    );
    // Text that is not what it shows, or not what the shell reads, is refused.
    for (text, said) in [
        ("#!/bin/bash\r\necho hi\r\n", "carriage return"),
        ("#!/bin/bash\necho ok # \u{202e}tsil\n", "U+202E"),
        ("#!/bin/bash\necho \u{1b}[2J\n", "U+001B"),
        (
            "#!/usr/bin/python3\nprint(1)\n",
            "names a shell opsdeck does not run",
        ),
        (
            "#!/bin/bash\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            "secrets.in_artifacts",
        ),
    ] {
        let e = refused(add(&olga, "odd", "odd.sh", text));
        assert!(e.contains(said), "{text:?}: {e}");
    }
    let e = refused(add(&olga, "odd", "odd.txt", "echo hi\n"));
    assert!(e.contains("no .sh files"), "{e}");

    let v2 = add(&olga, "cleanup", "cleanup.sh", CLEANUP_V2).unwrap();
    assert_eq!(v2.version.label(), "cleanup@2");

    // Shown with its text; compared line by line.
    let shown = olga.library().show("cleanup@1").unwrap();
    assert_eq!(shown.version.manifest.kind, EntryKind::Script);
    assert_eq!(shown.script.as_deref(), Some(CLEANUP_V1));
    assert_eq!(shown.versions.len(), 2);
    let diff = olga.library().diff("cleanup@1", "cleanup@2").unwrap();
    assert!(
        diff.contains("cleanup@2/cleanup.sh") && diff.contains("+df -h \"$OPSDECK_LOG_DIR\""),
        "{diff}"
    );
    let listed = olga.library().search("script logs").unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].kind, EntryKind::Script);

    // The binary prints the numbered text, and --json carries it.
    let out = t
        .home
        .cmd()
        .envs(env.iter().cloned())
        .args(["--user", "olga", "library", "show", "cleanup@1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cleanup@1 (script)"), "{stdout}");
    assert!(
        stdout.contains("     4  find \"$OPSDECK_LOG_DIR\" -name '*.log'"),
        "{stdout}"
    );
    let out = t
        .home
        .cmd()
        .envs(env.iter().cloned())
        .args(["--json", "--user", "olga", "library", "show", "cleanup@2"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["script"], CLEANUP_V2);
    assert_eq!(json["version"]["manifest"]["kind"], "script");
}

#[test]
fn scripts_are_checked_shown_and_compared_on_the_local_store() {
    let home = Home::new();
    let t = team(&home);
    add_show_diff(&t, &[]);
}

#[test]
fn scripts_are_checked_shown_and_compared_on_the_shared_backend() {
    let Some(moto) = Moto::get("library_scripts_shared") else {
        return;
    };
    // The SSM test resets moto: one at a time.
    let _held = moto.exclusive();
    let Some(b) = SharedBackend::new("library_scripts_shared") else {
        return;
    };
    let home = b.home();
    let t = team(&home);
    add_show_diff(&t, &moto.env());
}

fn deck(t: &Team<'_>, user: &str, moto: &Moto) -> Deck {
    t.deck_at(user, &moto.endpoint)
}

fn use_script(
    t: &Team<'_>,
    moto: &Moto,
    entry: &str,
    text: &str,
    set: &[&str],
) -> opsdeck::Result<PlanRecord> {
    deck(t, "olga", moto).library().plan(
        &UseRequest {
            entry: entry.into(),
            text: text.into(),
            set: set.iter().map(|s| s.to_string()).collect(),
            ..UseRequest::default()
        },
        &quiet,
    )
}

/// The plan's one SendCommand step: targets and input.
fn send_step(rec: &PlanRecord) -> (Vec<String>, Value) {
    match &rec.plan.steps[..] {
        [step] => match &step.kind {
            StepKind::Aws {
                service,
                operation,
                targets,
                input,
                ..
            } => {
                assert_eq!(
                    (service.as_str(), operation.as_str()),
                    ("ssm", "SendCommand")
                );
                (targets.clone(), input.clone())
            }
            other => panic!("expected an SSM step, got {other:?}"),
        },
        steps => panic!("expected one step, got {steps:?}"),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What moto received, newest first: (instance ids, the `commands` parameter).
fn sent(moto: &Moto) -> Vec<(Vec<String>, Vec<String>)> {
    seed::runtime().block_on(async {
        let ssm = aws_sdk_ssm::Client::new(&seed::conf(&moto.endpoint, REGION));
        let out = ssm.list_commands().send().await.unwrap();
        out.commands()
            .iter()
            .map(|c| {
                assert_eq!(c.document_name(), Some("AWS-RunShellScript"));
                (
                    c.instance_ids().to_vec(),
                    c.parameters().unwrap()["commands"].clone(),
                )
            })
            .collect()
    })
}

fn apply(t: &Team<'_>, moto: &Moto, id: &str) -> opsdeck::pipeline::ApplyReport {
    let rt = seed::runtime();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let d = deck(t, "olga", moto);
    rt.block_on(d.runs().apply(id, &quiet, rx)).expect("apply")
}

fn approve(t: &Team<'_>, moto: &Moto, id: &str) {
    let code = t.code("bob");
    deck(t, "bob", moto)
        .approvals()
        .approve(id, Some("read the script".into()), Some(&code), None)
        .expect("approve");
}

#[test]
fn scripts_run_through_ssm_on_exactly_the_approved_instances() {
    let Some(moto) = Moto::get("library_scripts_ssm") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let home = Home::new();
    let t = team(&home);
    let olga = deck(&t, "olga", &moto);
    add(&olga, "cleanup", "cleanup.sh", CLEANUP_V1).unwrap();

    // Role=web holds production machines: refused unless the request names prod.
    let prod = use_script(&t, &moto, "cleanup@1", "on instances tagged Role=web", &[]);
    let e = prod.unwrap_err().to_string();
    assert!(e.contains("tagged as production"), "{e}");
    // Where it runs must be said.
    let e = use_script(&t, &moto, "cleanup@1", "", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("say where cleanup@1 runs"), "{e}");
    // Values the types refuse: out of range is refused, never clamped; a newline or a bidi
    // override never reaches a plan.
    for (set, said) in [
        ("keep_days=many", "is a number"),
        ("note=a\nb", "without control characters"),
        ("note=left\u{202e}thgir", "U+202E"),
        ("PATH=/tmp", "no parameter 'PATH'"),
    ] {
        let e = use_script(
            &t,
            &moto,
            "cleanup@1",
            "on instances tagged Role=web in staging",
            &[set],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(said), "{set:?}: {e}");
    }

    // Injection attempts as values: only base64 of them is written into the text.
    let hostile = "'; rm -rf / # $(id) `id`";
    let rec = use_script(
        &t,
        &moto,
        "cleanup@1",
        "on instances tagged Role=web in staging in us-east-1",
        &["keep_days=3", &format!("note={hostile}")],
    )
    .unwrap();
    assert_eq!(rec.state, State::Pending, "{:?}", rec.plan.gates);
    assert_eq!(rec.plan.agent.to_string(), "ops");
    let (targets, input) = send_step(&rec);
    assert_eq!(sorted(targets.clone()), sorted(fleet.staging_web.clone()));
    // The approver sees each target as the agent saw it.
    let seen = opsdeck::view::AwsChangeView::of(&rec.plan);
    assert_eq!(seen.calls[0].targets.len(), 3);
    let text = input["commands"][0].as_str().unwrap().to_string();
    assert_eq!(input["commands"].as_array().unwrap().len(), 1);
    assert!(
        text.starts_with("#!/bin/bash\n# opsdeck: library script cleanup@1."),
        "{text}"
    );
    assert!(
        text.ends_with(CLEANUP_V1.split_once('\n').unwrap().1),
        "{text}"
    );
    for (name, value) in [
        ("KEEP_DAYS", "3"),
        ("LOG_DIR", "/var/log/app"),
        ("NOTE", hostile),
    ] {
        let line = format!(
            "export OPSDECK_{name}; OPSDECK_{name}=\"$(printf %s '{}' | base64 -d)\" || exit 125",
            b64(value)
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    for raw in ["rm -rf", "$(id)", "`id`"] {
        assert!(!text.contains(raw), "{raw} in {text}");
    }
    assert_eq!(input["script"]["library"]["label"], "cleanup@1");
    assert_eq!(input["script"]["shell"], "bash");
    // The script is the plan's artifact, byte for byte what the step sends.
    let artifacts = olga.approvals().artifacts(&rec.plan).unwrap();
    let (art, bytes) = artifacts
        .iter()
        .find(|(a, _)| a.kind == ArtifactKind::Script)
        .expect("the script artifact");
    assert_eq!(art.name, "cleanup.sh");
    assert_eq!(bytes, text.as_bytes());
    // The ssm policy judges it as a library script, not as a command.
    let info = rec
        .plan
        .gates
        .iter()
        .find(|g| g.rule == "ssm.library_script")
        .expect("ssm.library_script");
    assert_eq!(info.result, GateResult::Info);
    assert!(!rec.plan.gates.iter().any(|g| g.result == GateResult::Deny));
    assert!(
        rec.plan
            .intent
            .notes
            .iter()
            .any(|n| n.starts_with("from library entry cleanup@1"))
    );

    // Nobody applies it before another user approves it.
    assert!(
        deck(&t, "olga", &moto)
            .approvals()
            .approve(&rec.plan.plan_id, None, Some(&t.code("olga")), None)
            .is_err()
    );
    approve(&t, &moto, &rec.plan.plan_id);
    let report = apply(&t, &moto, &rec.plan.plan_id);
    assert!(report.success, "{report:?}");
    let out = report.outputs.unwrap();
    assert_eq!(out["command"], "library script cleanup@1");
    assert_eq!(out["instances"].as_array().unwrap().len(), 3);

    // What moto received: exactly the planned text, to the approved instances.
    let got = sent(&moto);
    assert_eq!(got.len(), 1);
    let (ids, commands) = &got[0];
    assert!(targets.iter().all(|t| ids.contains(t)), "{ids:?}");
    assert_eq!(commands, &vec![text.clone()]);

    // The use is recorded with the version, and shown.
    let used = olga
        .trail()
        .audit(&AuditFilter {
            event: Some(EventKind::LibraryEntryUsed.as_str().into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!(
        used[0].event.plan_id.as_deref(),
        Some(rec.plan.plan_id.as_str())
    );
    assert!(
        used[0]
            .event
            .message
            .as_deref()
            .unwrap()
            .contains("cleanup@1")
    );
    let shown = olga.library().show("cleanup@1").unwrap();
    assert_eq!(shown.version.info.used_by.len(), 1);

    // Version 2, named by the request's words: the latest, through the same path.
    add(&olga, "cleanup", "cleanup.sh", CLEANUP_V2).unwrap();
    let by_words = match deck(&t, "olga", &moto).requests().request(
        "run our cleanup script on instances tagged Role=web in staging",
        &quiet,
    ) {
        Ok(opsdeck::pipeline::Answer::Plan(rec)) => *rec,
        other => panic!("expected a plan, got {other:?}"),
    };
    let (targets2, input2) = send_step(&by_words);
    assert_eq!(sorted(targets2), sorted(fleet.staging_web.clone()));
    assert_eq!(input2["script"]["library"]["label"], "cleanup@2");
    let text2 = input2["commands"][0].as_str().unwrap().to_string();
    assert!(text2.ends_with("df -h \"$OPSDECK_LOG_DIR\"\n"), "{text2}");
    // The defaults, base64 too.
    assert!(text2.contains(&format!("'{}'", b64("7"))), "{text2}");
    approve(&t, &moto, &by_words.plan.plan_id);
    assert!(apply(&t, &moto, &by_words.plan.plan_id).success);
    let got = sent(&moto);
    assert_eq!(got.len(), 2);
    assert!(got.iter().any(|(_, c)| c == &vec![text2.clone()]));

    // Only approved versions, when the tenant says so: refused before planning, then planned
    // once an approver (not the one who added it) approved it.
    let alice = deck(&t, "alice", &moto);
    let mut settings = alice.admin().settings().unwrap();
    settings.policy.library_requires_approval = true;
    let code = t.code("alice");
    alice
        .admin()
        .set_tenant_settings(settings, Some(&code))
        .unwrap();
    let e = use_script(
        &t,
        &moto,
        "cleanup@2",
        "on instances tagged Role=web in staging",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("library_requires_approval"), "{e}");
    assert!(
        deck(&t, "olga", &moto)
            .library()
            .approve("cleanup@2")
            .is_err()
    );
    deck(&t, "bob", &moto)
        .library()
        .approve("cleanup@2")
        .unwrap();
    let ok = use_script(
        &t,
        &moto,
        "cleanup@2",
        "on instances tagged Role=web in staging",
        &[],
    )
    .unwrap();
    assert_eq!(ok.state, State::Pending, "{:?}", ok.plan.gates);
    let (_, input3) = send_step(&ok);
    assert_eq!(input3["script"]["library"]["approved"], true);
    // Nothing was sent for the refused request or the unapplied plan.
    assert_eq!(sent(&moto).len(), 2);
}

/// Through the binary, with SSM as the service answers it (a stub: moto neither registers
/// instances with SSM nor sends them exactly the ids asked for): instances SSM does not manage
/// are skipped with the reason, and apply sends exactly the approved text to exactly the
/// approved instances, reporting each one's output.
#[test]
fn scripts_skip_unmanaged_instances_and_send_to_exactly_the_approved_ones() {
    let Some(moto) = Moto::get("library_scripts_stub") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = seed::fleet(&moto.endpoint, REGION);
    let managed = fleet.staging_web[..2].to_vec();
    let stub = support::stub::Stub::ssm(managed.clone(), "cmd-0002", |id, _| {
        serde_json::json!({"CommandId": "cmd-0002", "InstanceId": id, "Status": "Success",
            "ResponseCode": 0, "StandardOutputContent": format!("note: ok ({id})\n"),
            "StandardErrorContent": ""})
    });
    let home = Home::new();
    let (_alice, bob) = common::enrol_cli(&home);
    let run = |user: &str, args: &[&str]| {
        home.cmd()
            .envs(moto.env())
            .env("AWS_ENDPOINT_URL_SSM", &stub.endpoint)
            .args(["--user", user])
            .args(args)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cleanup.sh");
    std::fs::write(&file, CLEANUP_V1).unwrap();
    let out = run(
        "alice",
        &[
            "library",
            "add",
            "cleanup",
            "--kind",
            "script",
            "--from",
            file.to_str().unwrap(),
            "--param",
            "keep_days:number=7",
            "--param",
            "log_dir:string=/var/log/app",
            "--param",
            "note:string=",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        "alice",
        &[
            "ask",
            "--use",
            "cleanup@1",
            "--set",
            "note=$(reboot)",
            "on instances tagged Role=web in staging",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The table names each instance's plan: the unmanaged one is skipped, and why.
    let unmanaged = &fleet.staging_web[2];
    let line = stdout
        .lines()
        .find(|l| l.contains(unmanaged.as_str()))
        .unwrap_or_else(|| panic!("{unmanaged} not shown: {stdout}"));
    assert!(line.contains("skip: not managed by SSM"), "{line}");
    let id = stdout
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.starts_with("p-") && w.len() > 6)
        .unwrap_or_else(|| panic!("no plan id in {stdout}"))
        .to_string();
    let shown = run("alice", &["--json", "plans", "show", &id]);
    let plan: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let step = &plan["plan"]["steps"][0];
    let step = if step.is_null() {
        &plan["steps"][0]
    } else {
        step
    };
    assert_eq!(
        sorted(serde_json::from_value(step["targets"].clone()).unwrap()),
        sorted(managed.clone())
    );
    let text = step["input"]["commands"][0].as_str().unwrap().to_string();
    assert!(
        text.contains(&b64("$(reboot)")) && !text.contains("$(reboot)"),
        "{text}"
    );

    let approved = run("bob", &["approve", &id, "--totp", &common::code(&bob, 0)]);
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let applied = run("alice", &["apply", &id]);
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    for id in &managed {
        assert!(
            stderr.contains(&format!("{id} | note: ok ({id})")),
            "{stderr}"
        );
    }
    let sent = stub.calls("SendCommand");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["DocumentName"], "AWS-RunShellScript");
    assert_eq!(sent[0]["Parameters"]["commands"], serde_json::json!([text]));
    assert_eq!(
        sorted(serde_json::from_value(sent[0]["InstanceIds"].clone()).unwrap()),
        sorted(managed)
    );
}
