//! A tenant's AWS configurations (spec §3.2.5, §6.2): admins manage them with TOTP, every user
//! selects the one they act through, and a deck acts through its role.

mod common;

use common::team;

use common::Home;
use common::moto::Moto;
use opsdeck::Error;
use opsdeck::tenant::AwsConfiguration;

fn config(name: &str, account: &str) -> AwsConfiguration {
    AwsConfiguration {
        name: name.into(),
        tenant: String::new(),
        role_arn: format!("arn:aws:iam::{account}:role/opsdeck-operator"),
        external_id: Some("opsdeck-ext-42".into()),
        regions: vec!["eu-west-1".into(), "eu-central-1".into()],
        vpc: Default::default(),
        tags: [("team".to_string(), "payments".to_string())].into(),
        budget_usd: 750.0,
        description: format!("{name} account"),
        read_only: false,
        created_at: None,
        created_by: String::new(),
        updated_at: None,
        updated_by: String::new(),
    }
}

#[test]
fn admins_manage_configurations_and_each_user_selects_one() {
    let home = Home::new();
    let t = team(&home);
    let alice = t.deck("alice");
    // Only admins, only with a current code; a bad field is named before a code is spent.
    let code = t.code("olga");
    assert!(matches!(
        t.deck("olga")
            .add_config(config("prod", "111111111111"), Some(&code)),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        alice.add_config(config("prod", "111111111111"), None),
        Err(Error::Refused(_))
    ));
    let mut bad = config("prod", "111111111111");
    bad.role_arn = "arn:aws:iam::1111:user/x".into();
    let err = alice.add_config(bad, None).unwrap_err().to_string();
    assert!(err.contains("IAM role ARN"), "{err}");

    let code = t.code("alice");
    let prod = alice
        .add_config(config("prod", "111111111111"), Some(&code))
        .unwrap();
    assert_eq!(prod.tenant, "default");
    assert_eq!(prod.created_by, "alice");
    let code = t.code("alice");
    assert!(
        alice
            .add_config(config("prod", "222222222222"), Some(&code))
            .unwrap_err()
            .to_string()
            .contains("already exists")
    );
    // The trail records the change, never the external id.
    let changed = alice
        .trail()
        .audit(&opsdeck::audit::AuditFilter {
            event: Some("settings_changed".into()),
            ..Default::default()
        })
        .unwrap();
    let last = changed.last().unwrap();
    assert!(last.event.message.as_deref().unwrap().contains("prod"));
    assert!(
        !serde_json::to_string(&last.event)
            .unwrap()
            .contains("opsdeck-ext-42")
    );

    // The tenant's only configuration is everyone's.
    assert_eq!(
        t.deck("olga").aws_configuration().map(|c| c.name.as_str()),
        Some("prod")
    );
    let code = t.code("alice");
    alice
        .add_config(config("staging", "333333333333"), Some(&code))
        .unwrap();
    // Two: nobody acts through one until they choose.
    assert!(t.deck("olga").aws_configuration().is_none());
    t.deck("olga").select_config(Some("staging")).unwrap();
    assert_eq!(
        t.deck("olga").aws_configuration().unwrap().account(),
        "333333333333"
    );
    assert!(t.deck("bob").aws_configuration().is_none());

    // Changes reach the next session.
    let code = t.code("alice");
    alice
        .update_config(
            "staging",
            &mut |c| c.regions = vec!["us-west-2".into()],
            Some(&code),
        )
        .unwrap();
    assert_eq!(
        t.deck("olga").aws_configuration().unwrap().regions,
        ["us-west-2"]
    );
    let code = t.code("alice");
    assert!(
        alice
            .update_config("staging", &mut |c| c.name = "other".into(), Some(&code))
            .is_err()
    );

    // Removing the configuration someone selected: their next session says so and how to go on.
    t.deck("bob").select_config(Some("prod")).unwrap();
    let code = t.code("alice");
    alice.remove_config("prod", Some(&code)).unwrap();
    let clock: std::sync::Arc<dyn opsdeck::time::Clock> = t.clock.clone();
    let err = opsdeck::pipeline::Deck::open(opsdeck::pipeline::OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("bob".into()),
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("configs use"), "{err}");
    let bob = opsdeck::pipeline::Deck::open(opsdeck::pipeline::OpenOptions {
        home: Some(home.path().to_path_buf()),
        user: Some("bob".into()),
        clock: Some(clock),
        aws_config: Some("none".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(bob.aws_configuration().is_none());
    bob.select_config(Some("staging")).unwrap();
    assert_eq!(t.deck("bob").aws_configuration().unwrap().name, "staging");
}

#[test]
fn configurations_from_the_command_line() {
    let home = Home::new();
    let (alice, _) = common::enrol_cli(&home);
    let run = |args: &[&str]| home.cmd().args(args).output().unwrap();
    let out = run(&[
        "--user",
        "alice",
        "configs",
        "add",
        "sandbox",
        "--role-arn",
        "arn:aws:iam::444444444444:role/opsdeck",
        "--region",
        "eu-west-1",
        "--vpc-id",
        "vpc-0abc1234",
        "--subnet",
        "subnet-0abc1234def567890",
        "--private-only",
        "true",
        "--tag",
        "owner=platform",
        "--budget",
        "200",
        "--totp",
        &common::code(&alice, 1),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["--user", "bob", "configs", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("* sandbox"), "{text}");
    assert!(text.contains("444444444444"), "{text}");
    let out = run(&["--user", "bob", "--json", "configs", "show", "sandbox"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vpc"]["private_only"], true);
    assert_eq!(v["tags"]["owner"], "platform");
    // A typo is a clear error that loses nothing.
    let out = run(&["--user", "bob", "configs", "show", "sandbx"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("configs list"));
    let out = run(&[
        "--user",
        "alice",
        "configs",
        "add",
        "x",
        "--role-arn",
        "nope",
        "--totp",
        "000000",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&["--user", "bob", "configs", "use", "none"]);
    assert!(out.status.success());
    let out = run(&["--user", "bob", "--json", "configs", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["selected"], serde_json::Value::Null);
}

#[test]
fn a_configuration_acts_through_its_role_in_its_account() {
    let Some(moto) = Moto::get("configuration_role") else {
        return;
    };
    let home = Home::new();
    let t = team(&home);
    let code = t.code("alice");
    t.deck("alice")
        .add_config(config("prod", "999999999999"), Some(&code))
        .unwrap();
    let run = |args: &[&str]| {
        home.cmd()
            .envs(moto.env())
            .args(["--user", "olga", "--json"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["configs", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["configuration"], "prod");
    assert_eq!(v["account"], "999999999999");
    let arn = v["arn"].as_str().unwrap();
    assert!(
        arn.contains("assumed-role/opsdeck-operator/opsdeck-olga"),
        "{arn}"
    );
    // Without it, the base credentials' own account.
    let out = run(&["--aws-config", "none", "configs", "check"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["configuration"], serde_json::Value::Null);
    assert_ne!(v["account"], "999999999999");
}
