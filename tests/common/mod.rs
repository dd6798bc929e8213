//! Shared test helpers: an isolated OPSDECK_HOME per test, the real binary, and a Deck.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::time::Clock;

pub mod library;
pub mod moto;
pub mod price_list;
pub mod proxy;
pub mod seed;
pub mod shared;
pub mod stub;
pub mod tmux;
pub mod trail_store;

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The real binary, isolated from the developer's environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.command())
    }

    /// The same as a plain `std::process::Command`, for a process to spawn and signal.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("opsdeck"));
        c.env("OPSDECK_HOME", self.path())
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("CHECKPOINT_DISABLE", "1")
            .env("USER", "alice")
            .env_remove("OPSDECK_USER")
            .env_remove("OPSDECK_TENANT")
            .env_remove("OPSDECK_IDENTITY_DIR")
            .env_remove("OPSDECK_KEY_PASSPHRASE")
            .env_remove("OPSDECK_TERRAFORM")
            // No test ever reaches a real AWS address: without moto (whose env() overrides this)
            // every SDK call goes to a closed loopback port and fails as an outage would.
            .env("AWS_ENDPOINT_URL", NO_AWS);
        c
    }

    pub fn deck(&self, user: &str) -> Deck {
        self.deck_with(user, None, None)
    }

    pub fn deck_with(
        &self,
        user: &str,
        tenant: Option<&str>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Deck {
        Deck::open(OpenOptions {
            home: Some(self.path().to_path_buf()),
            tenant: tenant.map(str::to_string),
            user: Some(user.to_string()),
            clock,
            ..OpenOptions::default()
        })
        .expect("open deck")
    }

    /// The home's default identity directory (keys, pinned tenant roots).
    pub fn identity_dir(&self) -> PathBuf {
        self.path().join("identity")
    }

    /// `user`'s public key line, creating their key pair in the home's identity directory when
    /// there is none (so `--user NAME` commands of a test find NAME's private key).
    pub fn personal_key(&self, user: &str) -> String {
        let dir = self.identity_dir();
        match opsdeck::identity::keys::read_public(&dir, user).expect("read public key") {
            Some(k) => k.openssh(),
            None => opsdeck::identity::create_key(&dir, user, None)
                .expect("create key")
                .public()
                .openssh(),
        }
    }

    pub fn audit_file(&self, tenant: &str) -> PathBuf {
        self.path().join("tenants").join(tenant).join("audit.jsonl")
    }
}

/// A loopback address nothing listens on: where SDK calls go in tests without moto.
pub const NO_AWS: &str = "http://127.0.0.1:1";

/// The Terraform binary, or None with the reason printed (tests then skip that part).
pub fn terraform() -> Option<PathBuf> {
    match opsdeck::exec::find_binary("terraform") {
        Some(p) => Some(p),
        None => {
            eprintln!(
                "SKIP: no terraform on PATH (Terraform >= 1.4 cannot be installed from the package registries this machine reaches)"
            );
            None
        }
    }
}

pub fn quiet(_: opsdeck::events::AgentEvent) {}

/// A terraform_data-only stack: applies offline, no provider download.
pub fn terraform_data_dir(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            "resource \"terraform_data\" \"hello\" {{\n  input = \"hello\"\n}}\n\noutput \"greeting\" {{\n  value = terraform_data.hello.output\n}}\n{extra}"
        ),
    )
    .expect("write main.tf");
    dir
}

/// Someone else approves plan `id` (`approver`), then `by` applies it; it must succeed.
pub fn approve_and_apply(t: &Team<'_>, approver: &str, by: &Deck, id: &str) {
    t.approve(approver, id).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let r = rt.block_on(by.runs().apply(id, &quiet, rx)).unwrap();
    assert!(r.success, "{r:?}");
}

/// The terraform_data stack `hello`, submitted by `user`, approved by bob and applied.
pub fn applied_hello(t: &Team<'_>, user: &str) -> opsdeck::approval::PlanRecord {
    let dir = terraform_data_dir("");
    let deck = t.deck(user);
    let rec = deck
        .requests()
        .submit_terraform(dir.path(), "hello", &quiet)
        .unwrap();
    approve_and_apply(t, "bob", &deck, &rec.plan.plan_id);
    rec
}

/// A stack's local state file.
pub fn state_path(deck: &opsdeck::pipeline::Deck, stack: &str) -> std::path::PathBuf {
    match deck.state_backend(stack).unwrap() {
        opsdeck::exec::terraform::StateBackend::Local { path } => path,
        other => panic!("local state expected, got {other:?}"),
    }
}

/// Someone edits the state behind opsdeck's back: the resource's input and output become
/// `value`, as a hand-run `terraform apply` of another configuration would leave them.
pub fn tamper(path: &std::path::Path, value: &str) {
    let mut s: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let attrs = &mut s["resources"][0]["instances"][0]["attributes"];
    attrs["input"]["value"] = serde_json::json!(value);
    attrs["output"]["value"] = serde_json::json!(value);
    s["outputs"]["greeting"]["value"] = serde_json::json!(value);
    s["serial"] = serde_json::json!(s["serial"].as_u64().unwrap() + 1);
    std::fs::write(path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
}

pub fn plan_id(stdout: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(stdout).expect("json");
    v["plan_id"].as_str().expect("plan_id").to_string()
}

/// The current TOTP code for a secret, `ahead` steps later (a code is accepted once, and one
/// step of drift either way, so a second action in the same 30 s uses the next step's code).
pub fn code(secret: &str, ahead: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    opsdeck::tenant::mfa::code_at(secret, now + 30 * ahead).unwrap()
}

/// A test clock shared by every deck of a test, so TOTP steps can be advanced at will.
pub fn test_clock() -> Arc<opsdeck::time::ManualClock> {
    Arc::new(opsdeck::time::ManualClock::at(
        jiff::Timestamp::from_second(unix() as i64).unwrap(),
    ))
}

/// The code `secret` shows at the clock's time, after moving the clock one TOTP step on (each
/// code is accepted once).
pub fn next_code(clock: &opsdeck::time::ManualClock, secret: &str) -> String {
    clock.advance_secs(30);
    opsdeck::tenant::mfa::code_at(secret, clock.unix() as u64).unwrap()
}

/// Registers users in a tenant (the first as admin, who then adds the rest), returning their
/// TOTP secrets by name.
pub fn enrol(
    home: &Home,
    clock: &Arc<opsdeck::time::ManualClock>,
    tenant: Option<&str>,
    users: &[(&str, &[opsdeck::tenant::Role])],
) -> std::collections::HashMap<String, String> {
    let mut secrets: std::collections::HashMap<String, String> = Default::default();
    let mut admin: Option<String> = None;
    for (name, roles) in users {
        let c: Arc<dyn Clock> = clock.clone();
        let (acting, code) = match &admin {
            Some(a) => (a.clone(), Some(next_code(clock, &secrets[a]))),
            None => (name.to_string(), None),
        };
        let deck = home.deck_with(&acting, tenant, Some(c));
        if admin.is_none() {
            allow_claimed_users(&deck);
        }
        // The first admin's key is made by the bootstrap itself; the others enrol theirs.
        let key = admin.as_ref().map(|_| home.personal_key(name));
        let e = deck
            .admin()
            .add_member(
                name,
                roles.to_vec(),
                vec![],
                key.as_deref(),
                code.as_deref(),
            )
            .expect("add user");
        if let (Some(a), Some(arn)) = (&admin, deck.identity().principal.clone()) {
            share_principal(&deck, name, &arn, &next_code(clock, &secrets[a]));
        }
        if admin.is_none() {
            admin = Some(name.to_string());
        }
        secrets.insert(name.to_string(), e.secret);
    }
    secrets
}

/// Tests act as several people from one OS account: the tenant (still without users) lets
/// `--user` name them. One OS account is one trust domain on the local store.
pub fn allow_claimed_users(deck: &Deck) {
    let settings = opsdeck::tenant::Tenant {
        allow_claimed_users: true,
        ..deck.tenant().clone()
    };
    deck.admin()
        .set_tenant_settings(settings, None)
        .expect("allow --user in the test tenant");
}

/// On the shared backend every test user runs with the same test credentials: that one
/// principal is mapped to each of them (one principal is then one trust domain).
fn share_principal(admin: &Deck, user: &str, arn: &str, code: &str) {
    admin
        .admin()
        .map_aws_principals(user, &[arn.to_string()], &[], Some(code))
        .expect("map the test principal");
}

pub fn unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Registered users of one tenant sharing a test clock.
pub struct Team<'a> {
    pub home: &'a Home,
    pub clock: Arc<opsdeck::time::ManualClock>,
    pub secrets: std::collections::HashMap<String, String>,
    pub tenant: Option<String>,
}

/// The usual team: alice the admin, bob an approver, olga an operator.
pub fn team(home: &Home) -> Team<'_> {
    Team::new(
        home,
        None,
        &[
            ("alice", &[opsdeck::tenant::Role::Admin]),
            ("bob", &[opsdeck::tenant::Role::Approver]),
            ("olga", &[opsdeck::tenant::Role::Operator]),
        ],
    )
}

impl<'a> Team<'a> {
    pub fn new(
        home: &'a Home,
        tenant: Option<&str>,
        users: &[(&str, &[opsdeck::tenant::Role])],
    ) -> Team<'a> {
        let clock = test_clock();
        let secrets = enrol(home, &clock, tenant, users);
        Team {
            home,
            clock,
            secrets,
            tenant: tenant.map(str::to_string),
        }
    }

    pub fn deck(&self, user: &str) -> Deck {
        let c: Arc<dyn Clock> = self.clock.clone();
        self.home.deck_with(user, self.tenant.as_deref(), Some(c))
    }

    /// `user`'s deck with AWS calls going to `endpoint` (moto, or a stub).
    pub fn deck_at(&self, user: &str, endpoint: &str) -> Deck {
        let clock: Arc<dyn Clock> = self.clock.clone();
        Deck::open(OpenOptions {
            home: Some(self.home.path().to_path_buf()),
            tenant: self.tenant.clone(),
            user: Some(user.to_string()),
            clock: Some(clock),
            endpoint_url: Some(endpoint.to_string()),
            ..OpenOptions::default()
        })
        .expect("open deck")
    }

    /// A fresh code for `user` (moves the shared clock one step on).
    pub fn code(&self, user: &str) -> String {
        next_code(&self.clock, &self.secrets[user])
    }

    pub fn approve(&self, user: &str, id: &str) -> opsdeck::Result<opsdeck::approval::PlanRecord> {
        let code = self.code(user);
        self.deck(user)
            .approvals()
            .approve(id, None, Some(&code), None)
    }
}

/// [`allow_claimed_users`] through the real binary (OS account alice), on a tenant without
/// users yet.
pub fn allow_claimed_users_cli(home: &Home) {
    let settings = home.path().join("allow-claimed-users.toml");
    std::fs::write(&settings, "allow_claimed_users = true\n").unwrap();
    let out = home
        .cmd()
        .args(["tenants", "set", "--file"])
        .arg(&settings)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&settings).unwrap();
}

/// Through the real binary: alice (admin, first user) registers bob (approver). Returns
/// (alice's secret, bob's secret). Uses the current step for alice's code.
pub fn enrol_cli(home: &Home) -> (String, String) {
    allow_claimed_users_cli(home);
    // One `--json` command through the binary, which must succeed: its output.
    let run = |args: &[&str]| -> serde_json::Value {
        let out = home.cmd().arg("--json").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let text = |v: serde_json::Value, field: &str| v[field].as_str().unwrap().to_string();
    let alice = text(
        run(&[
            "--user", "alice", "users", "add", "alice", "--role", "admin",
        ]),
        "totp_secret",
    );
    // Bob makes his key and sends the public line; alice registers him with it.
    let bob_key = text(run(&["--user", "bob", "keys", "new"]), "public_key");
    let bob = text(
        run(&[
            "--user",
            "alice",
            "users",
            "add",
            "bob",
            "--role",
            "approver",
            "--key",
            &bob_key,
            "--totp",
            &code(&alice, 0),
        ]),
        "totp_secret",
    );
    (alice, bob)
}

/// `ansible-playbook` for tests: `$OPSDECK_TEST_ANSIBLE_BIN/ansible-playbook` (tests/run.sh
/// installs ansible-core into target/pyenv), else one on PATH; None with the reason printed.
pub fn ansible_playbook() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OPSDECK_TEST_ANSIBLE_BIN") {
        let p = PathBuf::from(dir).join("ansible-playbook");
        if p.is_file() {
            return Some(p);
        }
    }
    match opsdeck::exec::find_binary("ansible-playbook") {
        Some(p) => Some(p),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ansible-playbook missing under CI; run the suite with tests/run.sh"
            );
            eprintln!(
                "SKIP: no ansible-playbook (tests/run.sh installs ansible-core and sets OPSDECK_TEST_ANSIBLE_BIN)"
            );
            None
        }
    }
}

impl Home {
    /// Writes the home's config.toml (the `[exec]` settings a test needs).
    pub fn configure(&self, toml: &str) {
        std::fs::write(self.path().join("config.toml"), toml).expect("write config.toml");
    }

    /// Points the home's AWS calls at `endpoint` (a moto on loopback).
    pub fn use_endpoint(&self, endpoint: &str) {
        self.configure(&format!("endpoint_url = \"{endpoint}\"\n"));
    }

    /// `opsdeck --json ARGS` through the binary with `envs`, which must succeed: its JSON.
    pub fn json<K, V>(
        &self,
        envs: impl IntoIterator<Item = (K, V)>,
        args: &[&str],
    ) -> serde_json::Value
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let out = self
            .cmd()
            .envs(envs)
            .arg("--json")
            .args(args)
            .output()
            .expect("run opsdeck");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// Points opsdeck at this ansible-playbook (and, optionally, more `[exec]` lines).
    pub fn use_ansible(&self, bin: &Path, extra_exec: &str) {
        self.configure(&format!(
            "[exec]\nansible_playbook = {}\n{extra_exec}\n",
            serde_json::Value::String(bin.display().to_string())
        ));
    }

    /// Adds `bin` as the ansible-playbook to run to the configuration the home has (a shared
    /// backend's settings stay).
    pub fn add_ansible(&self, bin: &Path) {
        let config = self.path().join("config.toml");
        let mut toml = std::fs::read_to_string(&config).unwrap_or_default();
        toml.push_str(&format!(
            "\n[exec]\nansible_playbook = {}\n",
            serde_json::Value::String(bin.display().to_string())
        ));
        std::fs::write(&config, toml).expect("write config.toml");
    }
}

/// An inventory of this machine for tests: `localhost` through the local connection, with the
/// Python that runs Ansible and no privilege escalation (tests never need root).
pub fn local_inventory(dir: &Path) -> PathBuf {
    let p = dir.join("hosts.yml");
    std::fs::write(
        &p,
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n      ansible_become: false\n",
    )
    .expect("write inventory");
    p
}

/// The console on `deck`, with the built-in theme and keys, and the runtime its jobs run on
/// (keep it alive as long as the app).
pub fn console(deck: Deck) -> (tokio::runtime::Runtime, opsdeck::tui::app::App) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = opsdeck::tui::app::App::new(
        Arc::new(deck),
        opsdeck::tui::app::AppOptions {
            theme: opsdeck::tui::theme::Theme::builtin("dark", false).expect("theme"),
            keymap: opsdeck::tui::keymap::Keymap::defaults().expect("keymap"),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    );
    (rt, app)
}

/// What `tests/SCRIPT` prints as JSON, run by `python` (an MCP SDK client of ours, not the
/// server's code) with `args`, after `with` adjusts the command (its environment). A client
/// that fails fails the test with its stderr.
pub fn python_json<T: serde::de::DeserializeOwned>(
    python: &Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    with: impl FnOnce(&mut std::process::Command),
) -> T {
    let mut cmd = std::process::Command::new(python);
    cmd.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(script),
    )
    .args(args);
    with(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A Python with the official MCP SDK: `OPSDECK_TEST_PYTHON` (tests/run.sh), the suite's venv,
/// or `python3`; None with the reason printed.
pub fn python_with_mcp() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("OPSDECK_TEST_PYTHON").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/pyenv/bin/python"
        ))),
        Some(PathBuf::from("python3")),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        std::process::Command::new(p)
            .args(["-c", "import mcp.client.stdio"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        eprintln!(
            "SKIP: the Python MCP SDK is not installed (tests/run.sh installs it from tests/python-requirements.lock)"
        );
    }
    found
}

/// An AWS configuration of the tenant: `name` assumes `role_arn` and acts in `region`.
#[allow(dead_code)]
pub fn aws_configuration(
    name: &str,
    role_arn: &str,
    region: &str,
) -> opsdeck::tenant::AwsConfiguration {
    opsdeck::tenant::AwsConfiguration {
        name: name.into(),
        tenant: String::new(),
        role_arn: role_arn.into(),
        external_id: None,
        regions: vec![region.into()],
        vpc: Default::default(),
        tags: Default::default(),
        budget_usd: 0.0,
        description: String::new(),
        read_only: false,
        created_at: None,
        created_by: String::new(),
        updated_at: None,
        updated_by: String::new(),
    }
}

/// An event of `request` in the default tenant by `user`, now, with nothing more said: for a
/// trail seeded as the pipeline (or an older binary) writes it.
pub fn blank_event(
    request: &str,
    user: &str,
    kind: opsdeck::audit::EventKind,
) -> opsdeck::audit::AuditEvent {
    opsdeck::audit::AuditEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        request_id: request.to_string(),
        tenant_id: "default".into(),
        user_id: user.into(),
        user_source: "flag".into(),
        os_user: user.into(),
        timestamp: opsdeck::time::Stamp::now(),
        event: kind,
        status: opsdeck::audit::Status::Pending,
        plan_id: None,
        intent: None,
        agent_type: None,
        approval_metadata: None,
        execution_logs: None,
        cost_impact: None,
        security_gates: None,
        artifacts: vec![],
        message: None,
        identity_receipt: None,
    }
}

/// One past request's events as the pipeline writes them (requested, classified, planned with
/// its estimate, then `end` naming the plan), by olga in the default tenant: for a trail
/// seeded by hand.
pub fn past_request(
    request: &str,
    text: &str,
    plan: &str,
    intent: serde_json::Value,
    monthly_usd: Option<f64>,
    end: opsdeck::audit::EventKind,
) -> Vec<opsdeck::audit::AuditEvent> {
    use opsdeck::audit::{EventKind, Status};
    let ev = |kind| blank_event(request, "olga", kind);
    let mut requested = ev(EventKind::Requested);
    requested.message = Some(text.into());
    let mut classified = ev(EventKind::Classified);
    classified.intent = Some(intent.clone());
    let mut planned = ev(EventKind::Planned);
    planned.plan_id = Some(plan.into());
    planned.intent = Some(intent);
    planned.cost_impact = monthly_usd;
    let mut last = ev(end);
    if end == EventKind::Completed {
        last.status = Status::Completed;
    }
    last.plan_id = Some(plan.into());
    vec![requested, classified, planned, last]
}

/// Appends `events` to the default tenant's trail signed with the home's own key, as a
/// session of this machine (or an older binary on it) would have written them.
pub fn append_signed(home: &Home, deck: &Deck, events: &[opsdeck::audit::AuditEvent]) {
    let signer = opsdeck::audit::Signer::load_or_create(&home.path().join("keys")).unwrap();
    deck.raw_store()
        .append_audit("default", events, &signer)
        .unwrap();
}
