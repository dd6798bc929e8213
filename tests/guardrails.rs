//! Guardrails that cannot be talked around: Rego policies on real generated plans, tenant
//! overrides, budgets, approval rules (2-of-N, roles, groups), TOTP, break-glass, no shell.

mod common;

use common::{Home, Team, quiet};
use opsdeck::Error;
use opsdeck::approval::State;
use opsdeck::plan::GateResult;
use opsdeck::store::{StackRecord, StackStatus};
use opsdeck::tenant::{ApprovalRule, MaintenanceWindow, Role, Tenant};
use opsdeck::time::Clock;

const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const OPERATOR: &[Role] = &[Role::Operator];
const VIEWER: &[Role] = &[Role::Viewer];

fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[
            ("alice", ADMIN),
            ("bob", APPROVER),
            ("carol", APPROVER),
            ("olga", OPERATOR),
            ("vic", VIEWER),
        ],
    )
}

fn settings(t: &Team<'_>, f: impl FnOnce(&mut Tenant)) {
    let mut s = t.deck("alice").tenant().clone();
    f(&mut s);
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .set_tenant_settings(s, Some(&code))
        .unwrap();
}

fn denied_rules(rec: &opsdeck::approval::PlanRecord) -> Vec<String> {
    rec.plan
        .gates
        .iter()
        .filter(|g| g.result == GateResult::Deny)
        .map(|g| g.rule.clone())
        .collect()
}

fn refused(r: opsdeck::Result<impl std::fmt::Debug>) -> String {
    match r.map_err(|e| e.refusal().ok_or(e)) {
        Err(Ok(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn submit(t: &Team<'_>, user: &str, stack: &str, tf: &str) -> opsdeck::approval::PlanRecord {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), tf).unwrap();
    t.deck(user)
        .requests()
        .submit_terraform(dir.path(), stack, &quiet)
        .unwrap()
}

#[test]
fn starter_rego_unit_tests_pass() {
    let results = opsdeck::policy::rego::run_tests(
        &opsdeck::policy::rego::starter_sources(),
        &opsdeck::policy::rego::starter_test_sources(),
    );
    let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(results.len() >= 100, "only {} Rego tests", results.len());
    for (file, _) in opsdeck::policy::rego::STARTER_TESTS {
        assert!(
            results.iter().any(|r| r.file.ends_with(file)),
            "{file} ran no test"
        );
    }
}

#[test]
fn generated_plans_meet_the_starter_set_and_violations_are_named() {
    let home = Home::new();
    let t = team(&home);
    // Compliant: every starter rule passes on what the infra agent generates.
    let ok = t
        .deck("olga")
        .requests()
        .ask(
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            &quiet,
        )
        .unwrap();
    assert!(denied_rules(&ok).is_empty(), "{:?}", ok.plan.gates);
    assert_eq!(ok.state, State::Pending);

    settings(&t, |s| {
        s.policy.allowed_regions = vec!["eu-west-1".into()];
        s.policy.instance_types = [("prod".to_string(), vec!["m5.large".to_string()])].into();
        s.policy.required_tags = vec!["CostCenter".into()];
    });
    let rec = t
        .deck("olga")
        .requests()
        .ask("create 2 t3.small instances in prod in Mumbai", &quiet)
        .unwrap();
    let mut rules = denied_rules(&rec);
    rules.sort();
    assert_eq!(
        rules,
        ["instance_types.allowed", "regions.allowed", "tags.required"]
    );
    assert_eq!(rec.state, State::Rejected);
    let fine = t
        .deck("olga")
        .requests()
        .ask(
            "create 2 m5.large instances in prod in Ireland tagged CostCenter=42",
            &quiet,
        )
        .unwrap();
    assert!(denied_rules(&fine).is_empty(), "{:?}", fine.plan.gates);
}

#[test]
fn hand_written_terraform_is_held_to_the_same_rules() {
    let home = Home::new();
    let t = team(&home);
    let cases = [
        (
            "resource \"aws_security_group\" \"ssh\" {\n  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = \"tcp\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n}\n",
            "network.admin_ports_open",
        ),
        (
            "resource \"aws_s3_bucket_acl\" \"pub\" {\n  bucket = \"x\"\n  acl    = \"public-read\"\n}\n",
            "s3.public_acl",
        ),
        (
            "resource \"aws_iam_user\" \"ci\" {\n  name = \"ci\"\n}\n",
            "iam.pipeline_only",
        ),
        (
            "resource \"aws_db_instance\" \"db\" {\n  instance_class    = \"db.t3.micro\"\n  storage_encrypted = false\n}\n",
            "encryption.rds",
        ),
    ];
    for (i, (tf, rule)) in cases.iter().enumerate() {
        let rec = submit(&t, "olga", &format!("case{i}"), tf);
        assert!(
            denied_rules(&rec).iter().any(|r| r == rule),
            "{rule}: {:?}",
            rec.plan.gates
        );
        assert_eq!(rec.state, State::Rejected);
    }
    // The pipeline role may change IAM.
    settings(&t, |s| s.policy.pipeline_role = "olga".into());
    let rec = submit(&t, "olga", "iam", cases[2].0);
    assert!(!denied_rules(&rec).contains(&"iam.pipeline_only".to_string()));
}

#[test]
fn tenant_policies_add_rules_and_disabled_rules_are_shown() {
    let home = Home::new();
    let t = team(&home);
    let custom = r#"package opsdeck.rules.custom

deny contains {"rule": "custom.no_large", "reason": sprintf("%s is too large for this team", [r.address])} if {
	some r in input.resources
	r.type == "aws_instance"
	endswith(r.attributes.instance_type, "large")
}
"#;
    // Only admins may add policies, with their code.
    assert!(
        refused(
            t.deck("olga")
                .admin()
                .put_policy("custom.rego", custom, Some(&t.code("olga")))
        )
        .contains("admin")
    );
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .put_policy("custom.rego", custom, Some(&code))
        .unwrap();
    // A broken policy is refused before it is stored.
    let code = t.code("alice");
    assert!(
        t.deck("alice")
            .admin()
            .put_policy("broken.rego", "package x\nallow if {", Some(&code))
            .is_err()
    );
    let rec = t
        .deck("olga")
        .requests()
        .ask("create 2 m5.large instances", &quiet)
        .unwrap();
    assert!(denied_rules(&rec).contains(&"custom.no_large".to_string()));
    assert!(
        t.deck("olga")
            .admin()
            .policy_files()
            .unwrap()
            .iter()
            .any(|f| f == "tenant/custom.rego")
    );

    settings(&t, |s| {
        s.policy.required_tags = vec!["CostCenter".into()];
        s.policy.disabled_rules = vec!["tags.required".into()];
    });
    let rec = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap();
    let tags = rec
        .plan
        .gates
        .iter()
        .find(|g| g.rule == "tags.required")
        .unwrap();
    assert_eq!(tags.result, GateResult::Info);
    assert!(tags.reason.starts_with("disabled for tenant"));
}

#[test]
fn budget_hard_stop_denies_with_the_figures() {
    let home = Home::new();
    let t = team(&home);
    settings(&t, |s| {
        s.budget.monthly_usd = 100.0;
        s.budget.hard_stop = true;
    });
    let rec = t
        .deck("olga")
        .requests()
        .ask(
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            &quiet,
        )
        .unwrap();
    let g = rec
        .plan
        .gates
        .iter()
        .find(|g| g.rule == "budget.monthly")
        .unwrap();
    assert_eq!(g.result, GateResult::Deny);
    assert!(
        g.reason.contains("$131.31 this plan") && g.reason.contains("$100.00 monthly budget"),
        "{}",
        g.reason
    );
    // Nobody can approve it, not even by breaking glass.
    let code = t.code("bob");
    let msg = refused(t.deck("bob").approvals().approve(
        &rec.plan.plan_id,
        None,
        Some(&code),
        Some("outage".into()),
    ));
    assert!(msg.contains("rejected") || msg.contains("denied"), "{msg}");
}

#[test]
fn prod_destroy_needs_two_approvers_with_the_role() {
    let home = Home::new();
    let t = team(&home);
    let deck = t.deck("alice");
    let sha = deck
        .raw_store()
        .put_artifact("default", b"resource \"terraform_data\" \"x\" {}\n")
        .unwrap();
    deck.raw_store()
        .put_stack(&StackRecord {
            name: "payments".into(),
            tenant: "default".into(),
            region: Some("eu-west-1".into()),
            last_applied_plan: "p-earlier".into(),
            artifacts: vec![opsdeck::plan::ArtifactRef {
                name: "main.tf".into(),
                kind: opsdeck::plan::ArtifactKind::Terraform,
                sha256: sha,
                size: 34,
            }],
            status: StackStatus::Active,
            updated_at: deck.clock().stamp(),
        })
        .unwrap();
    let rec = t
        .deck("olga")
        .requests()
        .ask("tear down the production stack payments", &quiet)
        .unwrap();
    assert_eq!(rec.plan.action, "destroy");
    assert_eq!(rec.approval_rule, "prod-destroy");
    assert_eq!(rec.required_approvals, 2);
    let id = rec.plan.plan_id.clone();
    // The requester never approves; a viewer may not, nor may an admin under this rule.
    assert!(refused(t.approve("olga", &id)).contains("cannot approve"));
    assert!(refused(t.approve("vic", &id)).contains("needs the role approver"));
    assert!(refused(t.approve("alice", &id)).contains("needs the role approver"));
    let one = t.approve("bob", &id).unwrap();
    assert_eq!(one.state, State::Pending);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(refused(rt.block_on(t.deck("olga").runs().apply(&id, &quiet, rx))).contains("1 of 2"));
    let two = t.approve("carol", &id).unwrap();
    assert_eq!(two.state, State::Approved);
    let denied = t
        .deck("alice")
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some("access_denied".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(denied.len(), 3);
}

#[test]
fn approver_groups_are_enforced() {
    let home = Home::new();
    let t = team(&home);
    settings(&t, |s| {
        s.approvals.rules.insert(
            0,
            ApprovalRule {
                name: "sre-only".into(),
                environment: None,
                action: Some("create".into()),
                min_risk: None,
                approvers: 1,
                roles: vec![Role::Approver],
                group: Some("sre".into()),
            },
        );
    });
    let code = t.code("alice");
    t.deck("alice")
        .admin()
        .add_member(
            "sam",
            vec![Role::Approver],
            vec!["sre".into()],
            Some(&home.personal_key("sam")),
            Some(&code),
        )
        .unwrap();
    let sam = t
        .deck("alice")
        .admin()
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.name == "sam")
        .unwrap();
    let id = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    assert!(refused(t.approve("bob", &id)).contains("group sre"));
    t.clock.advance_secs(30);
    let code = opsdeck::tenant::mfa::code_at(&sam.totp_secret, t.clock.unix() as u64).unwrap();
    t.deck("sam")
        .approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
}

#[test]
fn totp_accepted_once_wrong_and_replayed_refused() {
    let home = Home::new();
    let t = team(&home);
    let id = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    let bob = t.deck("bob");
    assert!(refused(bob.approvals().approve(&id, None, None, None)).contains("--totp"));
    assert!(
        refused(bob.approvals().approve(&id, None, Some("123456"), None))
            .contains("wrong or expired")
    );
    let code = t.code("bob");
    let id2 = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    bob.approvals()
        .approve(&id, None, Some(&code), None)
        .unwrap();
    assert!(
        refused(bob.approvals().approve(&id2, None, Some(&code), None)).contains("already used")
    );
    // An unregistered user cannot approve at all.
    let stranger = t.deck("mallory");
    assert!(
        refused(
            stranger
                .approvals()
                .approve(&id2, None, Some("000000"), None)
        )
        .contains("not a registered user")
    );
}

#[test]
fn break_glass_is_one_approver_a_reason_and_a_red_flag() {
    let home = Home::new();
    let t = team(&home);
    settings(&t, |s| s.approvals.default_approvers = 2);
    let id = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    assert!(matches!(
        t.deck("bob")
            .approvals()
            .approve(&id, None, Some(&t.code("bob")), Some("  ".into())),
        Err(Error::Input(_))
    ));
    let rec = t
        .deck("bob")
        .approvals()
        .approve(
            &id,
            None,
            Some(&t.code("bob")),
            Some("sev1: checkout down".into()),
        )
        .unwrap();
    assert_eq!(rec.state, State::Approved);
    assert!(rec.break_glass());
    let ev = t
        .deck("alice")
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some("approved".into()),
            ..Default::default()
        })
        .unwrap();
    let meta = ev[0].event.approval_metadata.as_ref().unwrap();
    assert_eq!(meta["breakGlass"], true);
    assert!(
        ev[0]
            .event
            .message
            .as_deref()
            .unwrap()
            .starts_with("BREAK-GLASS")
    );
    // Tenants can switch it off.
    settings(&t, |s| s.approvals.break_glass = false);
    let id = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance", &quiet)
        .unwrap()
        .plan
        .plan_id;
    assert!(
        refused(t.deck("bob").approvals().approve(
            &id,
            None,
            Some(&t.code("bob")),
            Some("again".into())
        ))
        .contains("disabled")
    );
}

#[test]
fn production_changes_wait_for_the_maintenance_window() {
    let home = Home::new();
    let t = team(&home);
    settings(&t, |s| {
        s.policy.maintenance_windows = vec![MaintenanceWindow {
            days: vec!["sat".into(), "sun".into()],
            start: "01:00".into(),
            end: "05:00".into(),
        }];
    });
    // 2027-11-24 is a Wednesday; later than the team's membership records (signed at the real
    // time), as an approval must be.
    *t.clock.0.lock().unwrap() = "2027-11-24T12:00:00Z".parse().unwrap();
    let rec = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance in production", &quiet)
        .unwrap();
    assert!(denied_rules(&rec).contains(&"maintenance.outside_window".to_string()));
    *t.clock.0.lock().unwrap() = "2027-11-27T02:30:00Z".parse().unwrap();
    let rec = t
        .deck("olga")
        .requests()
        .ask("create 1 t3.micro instance in production", &quiet)
        .unwrap();
    assert!(denied_rules(&rec).is_empty(), "{:?}", rec.plan.gates);
    // Inside the window when approved, outside it when applied: checked again, refused.
    let id = rec.plan.plan_id.clone();
    t.approve("bob", &id).unwrap();
    *t.clock.0.lock().unwrap() = "2027-11-27T06:00:00Z".parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let msg = refused(rt.block_on(t.deck("olga").runs().apply(&id, &quiet, rx)));
    assert!(msg.contains("maintenance.outside_window"), "{msg}");
}

#[test]
fn roles_are_enforced_in_the_core() {
    let home = Home::new();
    let t = team(&home);
    let artifacts = home
        .path()
        .join("tenants")
        .join("default")
        .join("artifacts");
    let stored = || walkdir_count(&artifacts);
    let before = stored();
    let why = refused(
        t.deck("vic")
            .requests()
            .ask("create 1 t3.micro instance", &quiet),
    );
    assert!(
        why.contains("viewer") && why.contains("operator role"),
        "{why}"
    );
    // Refused before anything was stored, and the refusal is in the trail.
    assert_eq!(
        stored(),
        before,
        "a viewer's refused request stored artifacts"
    );
    // Refused before the agent runs: a restart would first look the instances up in AWS, and
    // the agent announces itself on the sink before it does anything.
    let heard = std::sync::Mutex::new(Vec::new());
    let listen = |e: opsdeck::events::AgentEvent| heard.lock().unwrap().push(format!("{e:?}"));
    let why = refused(
        t.deck("vic")
            .requests()
            .ask("restart the instances tagged Env=staging", &listen),
    );
    assert!(why.contains("viewer"), "{why}");
    assert!(
        heard.lock().unwrap().is_empty(),
        "the agent ran for a viewer's change: {:?}",
        heard.lock().unwrap()
    );
    let denied: Vec<_> = t
        .deck("olga")
        .trail()
        .audit(&opsdeck::audit::AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.event.user_id == "vic" && r.event.event == opsdeck::audit::EventKind::AccessDenied
        })
        .collect();
    assert_eq!(denied.len(), 2);
    assert_eq!(denied[1].event.agent_type.as_deref(), Some("ops"));
    assert!(
        refused(
            t.deck("nobody")
                .requests()
                .ask("create 1 t3.micro instance", &quiet)
        )
        .contains("not a registered user")
    );
    let code = t.code("bob");
    let mut s = t.deck("bob").tenant().clone();
    s.budget.monthly_usd = 1.0;
    assert!(refused(t.deck("bob").admin().set_tenant_settings(s, Some(&code))).contains("admin"));
    assert!(
        refused(t.deck("olga").admin().add_user(
            "eve",
            vec![Role::Admin],
            vec![],
            Some(&t.code("olga"))
        ))
        .contains("admin")
    );
}

#[test]
fn injection_through_a_request_reaches_no_shell() {
    let home = Home::new();
    let t = team(&home);
    let marker = home.path().join("pwned");
    let m = marker.display().to_string();
    // A shell-ish bucket name is rejected as a name, never run.
    let err = t
        .deck("olga")
        .requests()
        .ask(
            &format!("create an s3 bucket named x;touch${{IFS}}{m}"),
            &quiet,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Input(_)), "{err}");
    // Tag values are data in the Terraform, escaped so they cannot interpolate either.
    let rec = t
        .deck("olga")
        .requests()
        .ask(
            &format!("create 1 t3.micro instance tagged Note=$(touch${{IFS}}{m}) Cmd=%{{if}}x"),
            &quiet,
        )
        .unwrap();
    let files = t.deck("olga").approvals().artifacts(&rec.plan).unwrap();
    let main = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(main.contains(&format!("\"$(touch$${{IFS}}{m}")), "{main}");
    assert!(main.contains("\"%%{if}x\""), "{main}");
    // A command in quotes is data; ops plans would be gated by the SSM allow-list.
    let i = opsdeck::intent::parse(&format!(
        "run `; rm -rf / $(touch {m})` on instances tagged Env=dev"
    ))
    .unwrap();
    assert_eq!(
        i.params.command.as_deref(),
        Some(format!("; rm -rf / $(touch {m})").as_str())
    );
    assert!(!marker.exists());
}

#[test]
fn secrets_never_reach_artifacts_or_the_audit_trail() {
    let home = Home::new();
    let t = team(&home);
    let err = t
        .deck("olga")
        .requests()
        .ask(
            "create 1 t3.micro instance tagged password=hunter2 with key AKIAIOSFODNN7EXAMPLE",
            &quiet,
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused(_)) && err.to_string().contains("credential"),
        "{err}"
    );
    // Nothing stored anywhere holds it: no plan, no artifact, no audit event.
    assert!(t.deck("olga").approvals().plans(None).unwrap().is_empty());
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                assert!(
                    !text.contains("hunter2"),
                    "{} holds the secret",
                    p.display()
                );
                assert!(
                    !text.contains("IOSFODNN7EXAMPLE"),
                    "{} holds the key",
                    p.display()
                );
            }
        }
    }
    let failed = t
        .deck("alice")
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            status: Some("failed".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        failed[0]
            .event
            .message
            .as_deref()
            .unwrap()
            .contains("credential")
    );
}

#[test]
fn bytecode_vm_and_interpreter_agree() {
    let home = Home::new();
    let t = team(&home);
    settings(&t, |s| {
        s.policy.allowed_regions = vec!["eu-west-1".into()];
        s.policy.required_tags = vec!["CostCenter".into()];
        s.policy.instance_types = [("*".to_string(), vec!["t3.micro".to_string()])].into();
    });
    let deck = t.deck("olga");
    let mut plans = Vec::new();
    for req in [
        "Create 3 t3.medium instances in ap-south-1 with ALB",
        "create 20 c5.large instances in Oregon behind a network load balancer",
        "create an s3 bucket named team-logs-77",
        "create 1 t3.micro instance in Ireland tagged CostCenter=9 in production",
    ] {
        plans.push(deck.requests().ask(req, &quiet).unwrap());
    }
    for tf in [
        "resource \"aws_security_group\" \"x\" {\n  ingress {\n    from_port   = 0\n    to_port     = 65535\n    protocol    = \"-1\"\n    ipv6_cidr_blocks = [\"::/0\"]\n  }\n}\n",
        "resource \"aws_iam_role\" \"r\" {\n  name = \"x\"\n}\n",
    ] {
        plans.push(submit(&t, "olga", "vmcheck", tf));
    }
    let set = opsdeck::policy::PolicySet::load(
        &[],
        &serde_json::to_value(&deck.tenant().policy).unwrap(),
    )
    .unwrap();
    assert!(set.uses_vm());
    for rec in plans {
        let files: Vec<(String, String)> = deck
            .approvals()
            .artifacts(&rec.plan)
            .unwrap()
            .into_iter()
            .map(|(a, b)| (a.name, String::from_utf8(b).unwrap()))
            .collect();
        let input = opsdeck::policy::input::build(&opsdeck::policy::input::InputParts {
            plan: &rec.plan,
            terraform: &files,
            // Files that are not playbooks hold no tasks: every plan's files serve as both.
            ansible: &files,
            requester_roles: &[Role::Operator],
            config: &deck.tenant().policy,
            now: t.clock.now(),
        });
        let vm = set.evaluate(&input).unwrap();
        let interp = set.evaluate_interpreted(&input).unwrap();
        assert_eq!(vm, interp, "{}", rec.plan.summary);
        assert!(!vm.is_empty());
    }
}

#[test]
fn everything_in_the_data_dir_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let (_, bob) = common::enrol_cli(&home);
    let mut ids = Vec::new();
    let out = home
        .cmd()
        .args([
            "--json",
            "ask",
            "Create 3 t3.medium instances in ap-south-1 with ALB",
        ])
        .output()
        .unwrap();
    ids.push(common::plan_id(&out.stdout));
    if common::terraform().is_some() {
        let dir = common::terraform_data_dir("");
        let out = home
            .cmd()
            .args(["--json", "submit"])
            .arg(dir.path())
            .args(["--stack", "perms"])
            .output()
            .unwrap();
        let id = common::plan_id(&out.stdout);
        home.cmd()
            .args([
                "--user",
                "bob",
                "approve",
                &id,
                "--totp",
                &common::code(&bob, 0),
            ])
            .assert()
            .success();
        home.cmd().args(["apply", &id]).assert().success();
    }
    home.cmd()
        .args(["audit", "export", "--output"])
        .arg(home.path().join("export.json"))
        .assert()
        .success();
    let mut stack = vec![home.path().to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {:o}", p.display(), mode);
            if meta.is_dir() {
                stack.push(p);
            } else {
                files += 1;
            }
        }
    }
    assert!(files > 10);
}

#[test]
fn policies_at_apply_judge_the_requester_not_whoever_applies() {
    let home = Home::new();
    let t = team(&home);
    // IAM changes are allowed to admins; alice (admin) asks, olga (operator) applies.
    settings(&t, |s| s.policy.pipeline_role = "admin".into());
    let rec = submit(
        &t,
        "alice",
        "iam",
        "resource \"aws_iam_user\" \"ci\" {\n  name = \"ci\"\n}\n",
    );
    assert!(
        !denied_rules(&rec).contains(&"iam.pipeline_only".to_string()),
        "{:?}",
        rec.plan.gates
    );
    t.approve("bob", &rec.plan.plan_id).unwrap();
    // Stop short of running terraform: the policy check comes first.
    std::fs::write(
        home.path().join("config.toml"),
        "[exec]\nterraform = \"terraform-not-installed-here\"\n",
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let err = rt
        .block_on(t.deck("olga").runs().apply(&rec.plan.plan_id, &quiet, rx))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("iam.pipeline_only"), "{err}");
    assert!(err.contains("Terraform is not installed"), "{err}");
}

/// The lock-out found by a first-time user: acting as one account and registering someone else
/// as the first admin. It is refused with the command that works, and that command works; a
/// person refused later is told whom to ask, and the command they are given works for that admin.
#[test]
fn a_first_admin_other_than_yourself_is_refused_with_the_command_that_works() {
    let home = Home::new();
    let refusal = home
        .cmd()
        .args(["--user", "root", "users", "add", "alice", "--role", "admin"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&refusal.get_output().stderr).to_string();
    assert!(
        err.contains("`opsdeck users add root --role admin`"),
        "{err}"
    );
    assert!(
        err.contains("`opsdeck --user alice users add alice --role admin`"),
        "{err}"
    );
    // Nothing was registered: root still acts freely, and the suggested command works. (The
    // tenant lets alice's OS account act as root and carol: one trust domain.)
    common::allow_claimed_users_cli(&home);
    let out = home
        .cmd()
        .args([
            "--user", "root", "--json", "users", "add", "root", "--role", "admin",
        ])
        .assert()
        .success();
    let root: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let root_secret = root["totp_secret"].as_str().unwrap().to_string();
    // Someone not registered is refused, told whom to ask and what that admin runs.
    let refusal = home
        .cmd()
        .args(["--user", "carol", "plans", "list"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&refusal.get_output().stderr).to_string();
    assert!(err.contains("(root)"), "{err}");
    assert!(
        err.contains("`opsdeck users add carol --role operator --totp CODE`"),
        "{err}"
    );
    home.cmd()
        .args([
            "--user",
            "root",
            "users",
            "add",
            "carol",
            "--role",
            "operator",
            "--totp",
            &common::code(&root_secret, 0),
        ])
        .assert()
        .success();
    home.cmd()
        .args(["--user", "carol", "plans", "list"])
        .assert()
        .success();
}

/// Files beneath `dir` (0 when it does not exist).
fn walkdir_count(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { walkdir_count(&p) } else { 1 }
        })
        .sum()
}

#[test]
fn a_person_sees_only_the_tenants_they_belong_to() {
    let home = Home::new();
    for (user, tenant) in [("alice", "red"), ("bob", "blue")] {
        home.deck(user).admin().add_tenant(tenant).unwrap();
        home.deck_with(user, Some(tenant), None)
            .admin()
            .add_user(user, vec![Role::Admin], vec![], None)
            .unwrap();
    }
    let listed = home
        .cmd()
        .args(["tenants", "list", "--json"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let names: Vec<String> = serde_json::from_slice::<serde_json::Value>(&listed.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"red".to_string()), "{names:?}");
    assert!(!names.contains(&"blue".to_string()), "{names:?}");
    // An unknown tenant's error lists only what alice may see.
    let unknown = home
        .cmd()
        .args(["--tenant", "green", "plans", "list"])
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&unknown.stderr);
    assert!(why.contains("red") && !why.contains("blue"), "{why}");
}
