//! Drift detection with the real terraform binary: a terraform_data stack applied through
//! opsdeck, its state changed out of band, reported drifted (recorded → actual) by the core and
//! by `opsdeck drift`, audited; the revert plan goes through the gates and an approval, and once
//! applied the stack is clean again. The tenant's schedule is a validated setting.

mod common;

use common::{Home, applied_hello, approve_and_apply, quiet, state_path, tamper, team, terraform};
use opsdeck::approval::State;
use opsdeck::audit::{AuditFilter, EventKind};
use opsdeck::pipeline::{Deck, DriftChange, DriftSource, DriftStatus};
use serde_json::{Value, json};

/// The console's screen as `user` sees it (its bottom line is the status bar).
fn status_bar(t: &common::Team<'_>, user: &str) -> String {
    let (_rt, app) = common::console(t.deck(user));
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 30)).unwrap();
    term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
    term.backend().to_string()
}

fn input_in_state(path: &std::path::Path) -> Value {
    let s: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    s["resources"][0]["instances"][0]["attributes"]["input"]["value"].clone()
}

#[test]
fn a_stack_changed_out_of_band_is_reported_and_the_approved_revert_restores_it() {
    let Some(_) = terraform() else {
        return;
    };
    found_reported_and_reverted(&Home::new(), "local");
}

#[test]
fn on_the_shared_backend_too() {
    let Some(b) = common::shared::SharedBackend::new("drift_on_the_shared_backend") else {
        return;
    };
    let Some(_) = terraform() else {
        return;
    };
    let home = b.home();
    found_reported_and_reverted(&home, "aws");
}

/// Applied, clean; tampered, drifted (core, CLI, JSON, trail); reverted through an approval;
/// clean again.
fn found_reported_and_reverted(home: &Home, backend: &str) {
    let t = team(home);
    assert_eq!(t.deck("olga").raw_store().backend(), backend);
    let (alice, olga) = (t.deck("alice"), t.deck("olga"));
    let rec = applied_hello(&t, "alice");

    // Applied as recorded: clean.
    let report = olga.drift().check(&[], &quiet).unwrap();
    assert_eq!(report.stacks.len(), 1, "{report:?}");
    assert_eq!(report.stacks[0].status, DriftStatus::Clean, "{report:?}");
    assert!(report.stacks[0].evidence.is_some());

    // Changed out of band.
    let state = state_path(&olga, "hello");
    tamper(&state, "tampered");
    // The shared backend keeps the state with the stack's record (the local file is a cache):
    // someone with direct access to the store saves the tampered state there.
    let store = olga.raw_store();
    store
        .put_stack(&store.get_stack("default", "hello").unwrap().unwrap())
        .unwrap();
    let report = olga.drift().check(&["hello".into()], &quiet).unwrap();
    let s = &report.stacks[0];
    assert_eq!(s.status, DriftStatus::Drifted, "{report:?}");
    assert_eq!(s.last_applied_plan, rec.plan.plan_id);
    let r = &s.resources[0];
    assert_eq!(
        (r.address.as_str(), r.change, r.source),
        (
            "terraform_data.hello",
            DriftChange::Changed,
            DriftSource::Spec
        )
    );
    let input = r
        .attributes
        .iter()
        .find(|a| a.attribute == "input")
        .unwrap();
    assert_eq!(
        (&input.recorded, &input.actual),
        (&json!("hello"), &json!("tampered"))
    );
    // The console's status bar says so.
    assert!(
        status_bar(&t, "olga").contains("drift: 1 drifted (opsdeck drift)"),
        "{}",
        status_bar(&t, "olga")
    );
    // Nothing was applied by the check: the state still holds the tampered value.
    assert_eq!(input_in_state(&state), json!("tampered"));

    // Audited: every check, and the drift found.
    let trail = alice.trail().audit(&AuditFilter::default()).unwrap();
    let kinds = |k: EventKind| trail.iter().filter(|e| e.event.event == k).count();
    assert_eq!(kinds(EventKind::DriftChecked), 2);
    assert_eq!(kinds(EventKind::DriftFound), 1);
    let found = trail
        .iter()
        .find(|e| e.event.event == EventKind::DriftFound)
        .unwrap();
    let meta = found.event.approval_metadata.as_ref().unwrap();
    assert_eq!(meta["stack"], "hello");
    assert_eq!(
        meta["changes"][0],
        "terraform_data.hello input: \"hello\" → \"tampered\""
    );

    // The real binary says the same, in words and in JSON, and exits 1.
    let out = home
        .cmd()
        .args(["--user", "olga", "drift"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DRIFTED"), "{text}");
    assert!(
        text.contains("terraform_data.hello input: \"hello\" → \"tampered\""),
        "{text}"
    );
    assert!(text.contains("opsdeck drift revert hello"), "{text}");
    let out = home
        .cmd()
        .args(["--user", "olga", "--json", "drift", "hello"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stacks"][0]["status"], "drifted");
    assert_eq!(
        v["stacks"][0]["resources"][0]["attributes"][0]["actual"],
        "tampered"
    );
    let out = home
        .cmd()
        .args(["--user", "olga", "drift", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");

    // The revert: a normal plan of the recorded configuration, queued for approval; Terraform's
    // saved plan changes the drifted resource back. Nothing ran yet.
    let revert = olga.drift().remediate("hello", &quiet).unwrap();
    assert_eq!(revert.state, State::Pending);
    assert_eq!(revert.plan.requester, "olga");
    assert_eq!(
        revert.plan.dry_runs[0].status,
        opsdeck::plan::DryRunStatus::Planned,
        "{:?}",
        revert.plan.dry_runs
    );
    assert_eq!(
        revert
            .plan
            .resources
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect::<Vec<_>>(),
        [("terraform_data.hello", opsdeck::plan::ChangeAction::Update)]
    );
    assert_eq!(input_in_state(&state), json!("tampered"));
    // Its requester cannot approve it; someone else does, and it applies.
    assert!(t.approve("olga", &revert.plan.plan_id).is_err());
    approve_and_apply(&t, "bob", &olga, &revert.plan.plan_id);
    assert_eq!(input_in_state(&state), json!("hello"));

    let report = olga.drift().check(&[], &quiet).unwrap();
    assert_eq!(report.stacks[0].status, DriftStatus::Clean, "{report:?}");
    assert_eq!(
        report.stacks[0].last_applied_plan, revert.plan.plan_id,
        "the revert is now the applied configuration"
    );
    assert!(status_bar(&t, "olga").contains("drift: clean"));
    let out = home
        .cmd()
        .args(["--user", "olga", "drift"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 stack checked"));
}

#[test]
fn a_viewer_cannot_check_and_a_stack_not_applied_cannot_be_reverted() {
    let home = Home::new();
    let t = common::Team::new(
        &home,
        None,
        &[
            ("alice", &[opsdeck::tenant::Role::Admin]),
            ("vera", &[opsdeck::tenant::Role::Viewer]),
        ],
    );
    let e = t.deck("vera").drift().check(&[], &quiet).unwrap_err();
    assert_eq!(e.kind(), opsdeck::error::Kind::Refused, "{e}");
    let e = t
        .deck("alice")
        .drift()
        .remediate("nosuch", &quiet)
        .unwrap_err();
    assert_eq!(e.kind(), opsdeck::error::Kind::NotFound, "{e}");
    // No applied stack: an empty, clean check.
    let r = t.deck("alice").drift().check(&[], &quiet).unwrap();
    assert!(r.stacks.is_empty());
}

#[test]
fn the_schedule_is_a_validated_setting_and_runs_when_due() {
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    let set = |enabled: bool, minutes: u32| {
        let mut s = alice.admin().settings().unwrap();
        s.drift.enabled = enabled;
        s.drift.interval_minutes = minutes;
        let code = t.code("alice");
        alice.admin().set_tenant_settings(s, Some(&code))
    };
    for bad in [0, 4, 10_081] {
        let e = set(true, bad).unwrap_err().to_string();
        assert!(e.contains("drift.interval_minutes"), "{e}");
        assert!(e.contains("5 to 10080"), "{e}");
    }
    // Off: nothing is ever due, and --watch says how to turn it on.
    assert_eq!(t.deck("olga").drift().due_in_secs(), None);
    let out = home
        .cmd()
        .args(["--user", "olga", "drift", "--watch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[drift] enabled = true"));

    set(true, 30).unwrap();
    let olga = t.deck("olga");
    assert_eq!(olga.drift().due_in_secs(), Some(0));
    let first = olga.drift().run_if_due(&quiet).unwrap();
    assert!(first.is_some(), "a first check is due at once");
    assert_eq!(olga.drift().due_in_secs(), Some(30 * 60));
    assert!(olga.drift().run_if_due(&quiet).unwrap().is_none());
    t.clock.advance_secs(30 * 60);
    assert!(olga.drift().run_if_due(&quiet).unwrap().is_some());
    let trail = alice.trail().audit(&AuditFilter::default()).unwrap();
    // No applied stacks: the checks ran, with nothing to audit per stack.
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.event.event == EventKind::DriftChecked)
            .count(),
        0
    );
}

#[test]
fn adopting_records_the_actual_value_and_the_stack_is_clean_once_applied() {
    let Some(_) = terraform() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    applied_hello(&t, "olga");
    let e = olga.drift().adopt("hello", &quiet).unwrap_err().to_string();
    assert!(e.contains("has not drifted"), "{e}");

    let state = state_path(&olga, "hello");
    tamper(&state, "adopted");
    let out = home
        .cmd()
        .args(["--user", "olga", "--json", "drift", "adopt", "hello"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let id = common::plan_id(&out.stdout);
    let plan = olga.approvals().plan(&id).unwrap();
    assert_eq!(plan.state, State::Pending);
    assert!(
        plan.plan
            .summary
            .contains("terraform_data.hello input = \"adopted\""),
        "{}",
        plan.plan.summary
    );
    // The configuration now says what exists, the rest of the file as it was.
    let files = olga.approvals().artifacts(&plan.plan).unwrap();
    let main = files.iter().find(|(a, _)| a.name == "main.tf").unwrap();
    let text = String::from_utf8_lossy(&main.1);
    assert!(text.contains("input = \"adopted\""), "{text}");
    assert!(
        text.contains("value = terraform_data.hello.output"),
        "{text}"
    );
    // Terraform has nothing left to change.
    assert!(plan.plan.resources.is_empty(), "{:?}", plan.plan.resources);
    approve_and_apply(&t, "bob", &olga, &id);
    assert_eq!(input_in_state(&state), json!("adopted"));
    let report = olga.drift().check(&[], &quiet).unwrap();
    assert_eq!(report.stacks[0].status, DriftStatus::Clean, "{report:?}");
    assert_eq!(report.stacks[0].last_applied_plan, id);
}

#[test]
fn a_host_changed_out_of_band_is_reported_and_running_the_playbook_again_restores_it() {
    let Some(bin) = common::ansible_playbook() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let dir = tempfile::tempdir().unwrap();
    // The playbook configures this machine: the sandbox lets it write beneath `dir` only.
    home.use_ansible(
        &bin,
        &format!(
            "sandbox_write = [{}]",
            Value::String(dir.path().display().to_string())
        ),
    );
    let marker = dir.path().join("motd.txt");
    let playbook = dir.path().join("motd.yml");
    std::fs::write(
        &playbook,
        format!(
            "- name: message of the day\n  hosts: all\n  gather_facts: false\n  become: false\n  tasks:\n    - name: write the message\n      ansible.builtin.copy:\n        dest: \"{}\"\n        content: \"recorded by opsdeck\\n\"\n        mode: \"0600\"\n",
            marker.display()
        ),
    )
    .unwrap();
    let olga = t.deck("olga");
    let submit = |deck: &Deck| {
        deck.requests()
            .submit(
                &opsdeck::pipeline::Submission {
                    playbook: Some(playbook.clone()),
                    inventory: Some(common::local_inventory(dir.path())),
                    ..Default::default()
                },
                &quiet,
            )
            .unwrap()
    };
    let applied = submit(&olga);
    approve_and_apply(&t, "bob", &olga, &applied.plan.plan_id);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "recorded by opsdeck\n"
    );

    let report = olga.drift().check(&[], &quiet).unwrap();
    assert_eq!(report.hosts.len(), 1, "{report:?}");
    assert_eq!(report.hosts[0].status, DriftStatus::Clean, "{report:?}");

    std::fs::write(&marker, "changed by hand\n").unwrap();
    let report = olga.drift().check(&[], &quiet).unwrap();
    let h = &report.hosts[0];
    assert_eq!(h.status, DriftStatus::Drifted, "{report:?}");
    assert_eq!(h.plan_id, applied.plan.plan_id);
    assert_eq!(
        (h.hosts[0].host.as_str(), h.hosts[0].changed),
        ("localhost", 1)
    );
    // --check changed nothing; the diff is kept as evidence.
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "changed by hand\n"
    );
    let evidence = olga
        .raw_store()
        .get_artifact("default", h.evidence.as_ref().unwrap())
        .unwrap();
    let evidence = String::from_utf8_lossy(&evidence);
    assert!(evidence.contains("+recorded by opsdeck"), "{evidence}");
    let trail = olga.trail().audit(&AuditFilter::default()).unwrap();
    let found: Vec<_> = trail
        .iter()
        .filter(|e| e.event.event == EventKind::DriftFound)
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].event.approval_metadata.as_ref().unwrap()["playbook"],
        "motd.yml"
    );

    let revert = olga
        .drift()
        .remediate_hosts(&applied.plan.plan_id, &quiet)
        .unwrap();
    assert_eq!(revert.state, State::Pending);
    assert_eq!(
        revert.plan.dry_runs[0].hosts[0].changed, 1,
        "{:?}",
        revert.plan.dry_runs
    );
    approve_and_apply(&t, "bob", &olga, &revert.plan.plan_id);
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "recorded by opsdeck\n"
    );
    let report = olga.drift().check(&[], &quiet).unwrap();
    assert!(
        report.hosts.iter().all(|h| h.status == DriftStatus::Clean),
        "{report:?}"
    );
}

/// The runner's loop makes the tenant's scheduled check between its passes: a stack changed
/// out of band is found (and audited) by `opsdeck runner` with nobody asking.
#[test]
fn the_runner_runs_the_scheduled_check_between_its_passes() {
    let Some(_) = terraform() else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    applied_hello(&t, "alice");
    tamper(&state_path(&alice, "hello"), "tampered");
    let mut s = alice.admin().settings().unwrap();
    s.drift.enabled = true;
    s.drift.interval_minutes = 60;
    let code = t.code("alice");
    alice.admin().set_tenant_settings(s, Some(&code)).unwrap();

    let out = home
        .cmd()
        .args(["--user", "olga", "runner", "--once", "--name", "r1"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("runner: tenant default:") && said.contains("drift"),
        "{said}"
    );
    let found: Vec<_> = alice
        .trail()
        .audit(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.event.event == EventKind::DriftFound)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].event.user_id, "olga");
}
