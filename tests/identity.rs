//! Identity that is proven, not claimed (issue 16): on the shared backend the caller's IAM
//! principal (STS GetCallerIdentity, on moto per access key) decides who acts; on the local
//! store the OS account does, and `--user` only where the tenant allows it, audited. TOTP
//! secrets on the shared backend are sealed with the tenant's KMS key. The console's status bar
//! says who you are proven to be and how.

mod common;

use common::moto::Moto;
use common::shared::{SharedBackend, block};
use common::{Home, Team, code, quiet};
use opsdeck::tenant::Role;
use serde_json::Value;

const SPEC: &str = "Create 3 t3.medium instances in ap-south-1 with ALB";
const ADMIN: &[Role] = &[Role::Admin];
const APPROVER: &[Role] = &[Role::Approver];
const VIEWER: &[Role] = &[Role::Viewer];

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The binary on `home` (OS account alice) with these arguments.
fn run(home: &Home, args: &[&str]) -> std::process::Output {
    home.cmd().args(args).output().unwrap()
}

/// The events of a trail as `audit list --json` prints it.
fn events(listed: Value) -> Vec<Value> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].clone())
        .collect()
}

/// The trail as alice (the OS account of `home.cmd()`) lists it.
fn trail(home: &Home) -> Vec<Value> {
    events(json(&run(home, &["--json", "audit", "list"])))
}

#[test]
fn local_user_flag_is_refused_unless_the_tenant_allows_it_and_then_audited() {
    let home = Home::new();
    // OS account alice sets the tenant up; bob is registered too.
    let setup = json(&run(&home, &["--json", "init"]));
    assert_eq!(setup["identity"]["proof"], "OS account");
    let alice = setup["totp_secret"].as_str().unwrap().to_string();
    json(
        &home
            .cmd()
            .args([
                "--json", "users", "add", "bob", "--role", "viewer", "--totp",
            ])
            .arg(code(&alice, 0))
            .output()
            .unwrap(),
    );

    // A new tenant does not let alice's account claim to be bob.
    let err = stderr(&run(
        &home,
        &["--user", "bob", "users", "add", "carol", "--role", "viewer"],
    ));
    assert!(
        err.contains("you are OS account alice") && err.contains("allow_claimed_users"),
        "{err}"
    );
    let env_err = stderr(
        &home
            .cmd()
            .env("OPSDECK_USER", "bob")
            .args(["audit", "list"])
            .output()
            .unwrap(),
    );
    assert!(env_err.contains("OPSDECK_USER=bob"), "{env_err}");
    let refusals: Vec<Value> = trail(&home)
        .into_iter()
        .filter(|e| e["event"] == "access_denied")
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals
            .iter()
            .all(|e| e["userId"] == "alice" && e["userSource"] == "os")
    );
    assert!(
        refusals[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("--user bob refused"),
        "{refusals:?}"
    );

    // The admin allows it: bob's acts are honoured, each recorded as claimed by --user from
    // alice's OS account.
    let settings = home.path().join("claims.toml");
    std::fs::write(&settings, "allow_claimed_users = true\n").unwrap();
    json(
        &home
            .cmd()
            .args(["--json", "tenants", "set", "--file"])
            .arg(&settings)
            .arg("--totp")
            .arg(code(&alice, 1))
            .output()
            .unwrap(),
    );
    let err = stderr(&run(
        &home,
        &["--user", "bob", "users", "add", "carol", "--role", "viewer"],
    ));
    assert!(
        err.contains("needs the admin role; bob is not an admin"),
        "{err}"
    );
    let bobs: Vec<Value> = trail(&home)
        .into_iter()
        .filter(|e| e["userId"] == "bob")
        .collect();
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    assert_eq!(bobs[0]["userSource"], "flag");
    assert_eq!(bobs[0]["osUser"], "alice");
    let who = json(&run(&home, &["--user", "bob", "--json", "init"]));
    assert_eq!(who["identity"]["proof"], "--user (allowed by tenant)");
}

/// An IAM user in moto with its own access key: (key id, secret).
fn iam_user(endpoint: &str, name: &str) -> (String, String) {
    block(async {
        let iam = aws_sdk_iam::Client::new(&sdk(endpoint).await);
        iam.create_user().user_name(name).send().await.unwrap();
        let k = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .access_key
            .unwrap();
        (k.access_key_id, k.secret_access_key)
    })
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    opsdeck::aws::sdk_config(&opsdeck::aws::Target {
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint.to_string()),
        timeout: std::time::Duration::from_secs(10),
        max_attempts: 1,
    })
    .await
}

/// The binary on `home` with these AWS credentials.
fn as_principal(
    home: &Home,
    moto: &Moto,
    creds: &(String, String, Option<String>),
) -> assert_cmd::Command {
    let mut c = home.cmd();
    c.envs(moto.env())
        .env("AWS_ACCESS_KEY_ID", &creds.0)
        .env("AWS_SECRET_ACCESS_KEY", &creds.1);
    match &creds.2 {
        Some(token) => c.env("AWS_SESSION_TOKEN", token),
        None => c.env_remove("AWS_SESSION_TOKEN"),
    };
    c
}

#[test]
fn on_the_shared_backend_the_iam_principal_decides_who_acts() {
    let Some(moto) = Moto::get("identity_principal") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let suffix = &b.prefix[1..7];
    let (alice_name, bob_name) = (format!("alice{suffix}"), format!("bob{suffix}"));
    let k = iam_user(&moto.endpoint, &alice_name);
    let alice_keys = (k.0, k.1, None);
    let k = iam_user(&moto.endpoint, &bob_name);
    let bob_keys = (k.0, k.1, None);
    let alice_arn = format!("arn:aws:iam::123456789012:user/{alice_name}");

    // Alice's keys set the tenant up as alice.
    let setup = json(
        &as_principal(&home, &moto, &alice_keys)
            .args(["--user", &alice_name, "--json", "init"])
            .output()
            .unwrap(),
    );
    let alice_secret = setup["totp_secret"].as_str().unwrap().to_string();
    json(
        &as_principal(&home, &moto, &alice_keys)
            .args([
                "--json", "users", "add", &bob_name, "--role", "approver", "--totp",
            ])
            .arg(code(&alice_secret, 0))
            .output()
            .unwrap(),
    );
    // Alice's keys act as alice, with no --user at all.
    let who = json(
        &as_principal(&home, &moto, &alice_keys)
            .args(["--json", "init"])
            .output()
            .unwrap(),
    );
    assert_eq!(who["user"], alice_name.as_str());
    assert_eq!(who["identity"]["source"], "aws");
    assert_eq!(who["identity"]["principal"], alice_arn.as_str());
    assert_eq!(
        who["identity"]["proof"],
        format!("aws principal {alice_arn}").as_str()
    );

    // --user bob with alice's keys: refused, naming the principal and how to map it.
    let err = stderr(
        &as_principal(&home, &moto, &alice_keys)
            .args(["--user", &bob_name, "audit", "list"])
            .output()
            .unwrap(),
    );
    assert!(
        err.contains(&alice_arn)
            && err.contains(&format!(
                "opsdeck users principal {bob_name} --aws-principal {alice_arn}"
            )),
        "{err}"
    );
    let denied: Vec<Value> = events(json(
        &as_principal(&home, &moto, &alice_keys)
            .args(["--json", "audit", "list"])
            .output()
            .unwrap(),
    ))
    .into_iter()
    .filter(|e| e["event"] == "access_denied")
    .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["userId"], alice_name.as_str());
    assert_eq!(denied[0]["userSource"], "aws");

    // Bob's own keys act as bob.
    let who = json(
        &as_principal(&home, &moto, &bob_keys)
            .args(["--json", "init"])
            .output()
            .unwrap(),
    );
    assert_eq!(who["user"], bob_name.as_str());
    assert_eq!(who["identity"]["source"], "aws");

    // A role session named like a user acts as that user.
    let session = block(async {
        let conf = sdk(&moto.endpoint).await;
        let role = aws_sdk_iam::Client::new(&conf)
            .create_role()
            .role_name(format!("ops{suffix}"))
            .assume_role_policy_document("{}")
            .send()
            .await
            .unwrap()
            .role
            .unwrap();
        let c = aws_sdk_sts::Client::new(&conf)
            .assume_role()
            .role_arn(role.arn)
            .role_session_name(&bob_name)
            .send()
            .await
            .unwrap()
            .credentials
            .unwrap();
        (c.access_key_id, c.secret_access_key, Some(c.session_token))
    });
    let who = json(
        &as_principal(&home, &moto, &session)
            .args(["--json", "init"])
            .output()
            .unwrap(),
    );
    assert_eq!(who["user"], bob_name.as_str());
    assert_eq!(
        who["identity"]["principal"],
        format!("arn:aws:sts::123456789012:assumed-role/ops{suffix}/{bob_name}").as_str()
    );
    // ... and the same session claiming alice is refused.
    let err = stderr(
        &as_principal(&home, &moto, &session)
            .args(["--user", &alice_name, "audit", "list"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("assumed-role"), "{err}");

    // Once an admin maps alice's principal to bob too, alice's keys may act as bob.
    json(
        &as_principal(&home, &moto, &alice_keys)
            .args([
                "--json",
                "users",
                "principal",
                &bob_name,
                "--aws-principal",
                &alice_arn,
                "--totp",
            ])
            .arg(code(&alice_secret, 1))
            .output()
            .unwrap(),
    );
    json(
        &as_principal(&home, &moto, &alice_keys)
            .args(["--user", &bob_name, "--json", "audit", "list"])
            .output()
            .unwrap(),
    );
}

#[test]
fn totp_secrets_on_the_shared_backend_are_sealed_and_codes_still_work() {
    let Some(b) = SharedBackend::new("identity_sealed_totp") else {
        return;
    };
    let home = b.home();
    let t = Team::new(&home, None, &[("alice", ADMIN), ("bob", APPROVER)]);
    let plan = t.deck("alice").requests().ask(SPEC, &quiet).unwrap();
    let rec = t.approve("bob", &plan.plan.plan_id).unwrap();
    assert_eq!(rec.approvals.len(), 1);

    // What someone who can read the table sees: no secret, only what KMS must open.
    let (ddb, _) = b.clients();
    let table = b.table("tenants");
    let item = |user: &str| {
        block(
            ddb.get_item()
                .table_name(&table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S("default".into()),
                )
                .key(
                    "sk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("user#{user}")),
                )
                .send(),
        )
        .unwrap()
        .item
        .unwrap()
    };
    for user in ["alice", "bob"] {
        let it = item(user);
        let rec: Value = serde_json::from_str(it["rec"].as_s().unwrap()).unwrap();
        assert_eq!(rec["totp_secret"], "", "{user}: {rec}");
        assert!(
            !format!("{it:?}").contains(&t.secrets[user]),
            "{user}'s secret is readable in {it:?}"
        );
        let sealed: Value = serde_json::from_str(it["totp_sealed"].as_s().unwrap()).unwrap();
        assert!(
            sealed["key_id"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:kms:")
        );
    }

    // A record written before sealing (plaintext) is reported, then sealed by init.
    let mut legacy = item("bob");
    let mut rec: Value = serde_json::from_str(legacy["rec"].as_s().unwrap()).unwrap();
    rec["name"] = "olga".into();
    rec["totp_secret"] = t.secrets["bob"].clone().into();
    rec["aws_principals"] = Value::Array(vec![]);
    legacy.remove("totp_sealed");
    legacy.insert(
        "sk".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("user#olga".into()),
    );
    legacy.insert(
        "rec".into(),
        aws_sdk_dynamodb::types::AttributeValue::S(rec.to_string()),
    );
    block(
        ddb.put_item()
            .table_name(&table)
            .set_item(Some(legacy))
            .send(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = b.store(dir.path());
    let check = store.check().unwrap();
    let plain: Vec<_> = check
        .iter()
        .filter(|f| f.aspect == "totp secrets sealed" && f.status.is_problem())
        .collect();
    assert_eq!(plain.len(), 1, "{check:?}");
    assert!(plain[0].detail.contains("olga"), "{plain:?}");
    assert!(
        check
            .iter()
            .any(|f| f.aspect == "totp key" && !f.status.is_problem())
    );
    // `opsdeck totp` cannot open a sealed secret to print a code, and says where codes come from.
    let why = t.deck("bob").totp_code().unwrap_err().to_string();
    assert!(
        why.contains("sealed") && why.contains("authenticator app"),
        "{why}"
    );
    store.init().unwrap();
    assert!(item("olga").contains_key("totp_sealed"));
    assert!(!format!("{:?}", item("olga")).contains(&t.secrets["bob"]));
    assert!(
        store
            .check()
            .unwrap()
            .iter()
            .all(|f| !f.status.is_problem())
    );
}

#[test]
fn the_status_bar_shows_who_you_are_proven_to_be_and_how() {
    let draw = |deck: opsdeck::pipeline::Deck| {
        let (_rt, app) = common::console(deck);
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 20)).unwrap();
        term.draw(|f| opsdeck::tui::ui::draw(f, &app)).unwrap();
        let screen = term.backend().to_string();
        screen
            .lines()
            .find(|l| l.contains(" tenant default │"))
            .unwrap_or_else(|| panic!("no status bar in {screen}"))
            .to_string()
    };
    // Local: bob named by --user, in a tenant that allows it (the test team's).
    let home = Home::new();
    let t = Team::new(&home, None, &[("alice", ADMIN), ("bob", VIEWER)]);
    let bar = draw(t.deck("bob"));
    assert!(
        bar.contains("│ bob · --user (allowed by tenant) │ local"),
        "{bar}"
    );
    // The shared backend: the test principal, mapped to alice.
    let Some(b) = SharedBackend::new("identity_status_bar") else {
        return;
    };
    let home = b.home();
    let t = Team::new(&home, None, &[("alice", ADMIN)]);
    let bar = draw(t.deck("alice"));
    assert!(
        bar.contains("│ alice · aws principal arn:…/moto │ aws"),
        "{bar}"
    );
}
