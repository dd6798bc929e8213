//! deploy/: the runner's container build file and entrypoint, the Terraform modules that run it
//! on ECS Fargate and give each tenant a deploy role trusting only its task role, and the IAM
//! policies `opsdeck iam policy` prints. Checked with the real tools: `terraform fmt -check` and
//! `validate` (providers from a local mirror only: OPSDECK_TF_PLUGIN_DIR or
//! OPSDECK_PROVIDER_MIRROR), checkov (OPSDECK_TEST_LINT_BIN, as tests/run.sh sets it). A missing
//! tool prints SKIP.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Home;
use serde_json::Value;

/// The checkov checks deploy/ skips, `ID reason` as its `checkov:skip` comments give them.
const ACCEPTED_SKIPS: &[(&str, &str)] = &[
    ("CKV_AWS_109", "In a key policy \"*\" is the key itself"),
    ("CKV_AWS_111", "In a key policy \"*\" is the key itself"),
    ("CKV_AWS_356", "In a key policy \"*\" is the key itself"),
];

const MODULES: [&str; 2] = ["runner", "deploy-role"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn terraform(tf: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tf)
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .unwrap()
}

fn copy_module(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(deploy_dir().join("terraform").join(name)).unwrap() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "tf") {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn deploy_modules_are_canonical_and_valid_terraform() {
    let Some(tf) = common::terraform() else {
        return;
    };
    let out = terraform(
        &tf,
        &deploy_dir().join("terraform"),
        &["fmt", "-check", "-diff", "-recursive", "-no-color"],
    );
    assert!(
        out.status.success(),
        "terraform fmt -check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    const AWS: &str = "registry.terraform.io/hashicorp/aws";
    let set = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    let Some(plugin_dir) = set("OPSDECK_TF_PLUGIN_DIR")
        .or_else(|| set("OPSDECK_PROVIDER_MIRROR"))
        .filter(|d| Path::new(d).join(AWS).is_dir())
    else {
        eprintln!(
            "SKIP: terraform validate of deploy/terraform needs {AWS} from a local mirror and no test downloads it; set OPSDECK_TF_PLUGIN_DIR to a directory made by `terraform providers mirror`"
        );
        return;
    };
    let plugin_arg = format!("-plugin-dir={plugin_dir}");
    for module in MODULES {
        let work = tempfile::tempdir().unwrap();
        copy_module(module, work.path());
        let out = terraform(
            &tf,
            work.path(),
            &[
                "init",
                "-backend=false",
                "-input=false",
                "-no-color",
                &plugin_arg,
            ],
        );
        assert!(
            out.status.success(),
            "terraform init of {module} from {plugin_dir} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = terraform(&tf, work.path(), &["validate", "-json", "-no-color"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["valid"], true,
            "terraform validate failed for {module}:\n{report:#}"
        );
        assert_eq!(report["warning_count"], 0, "{module}:\n{report:#}");
    }
    eprintln!("terraform validate: {} modules valid", MODULES.len());
}

/// The directory holding checkov, or None with the reason printed.
fn checkov_bin() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("OPSDECK_TEST_LINT_BIN").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "OPSDECK_TEST_LINT_BIN missing under CI; run the suite with tests/run.sh"
        );
        eprintln!(
            "SKIP: checkov is not installed; tests/run.sh builds target/pyenv-lint and sets OPSDECK_TEST_LINT_BIN"
        );
        return None;
    };
    assert!(
        dir.join("checkov").is_file(),
        "no checkov in {}",
        dir.display()
    );
    Some(dir)
}

/// checkov over `target` (a directory, or a file with `--file`) for one framework: the report.
fn checkov(bin: &Path, framework: &str, target: &[&std::ffi::OsStr]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin.join("checkov"))
        .args([
            "--framework",
            framework,
            "--skip-download",
            "--output",
            "json",
        ])
        .args(target)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join(".cache"))
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match report {
        Value::Array(mut reports) if reports.len() == 1 => reports.remove(0),
        r => r,
    }
}

/// Failed checks, and skipped ones whose (id, reason) is not accepted, as lines.
fn problems(
    report: &Value,
    accepted: &[(&str, &str)],
) -> (Vec<String>, BTreeSet<(String, String)>) {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let results = &report["results"];
    for f in results["failed_checks"].as_array().into_iter().flatten() {
        problems.push(format!(
            "FAILED {} {} {}",
            f["check_id"].as_str().unwrap_or(""),
            f["file_path"].as_str().unwrap_or(""),
            f["resource"].as_str().unwrap_or("")
        ));
    }
    for s in results["skipped_checks"].as_array().into_iter().flatten() {
        let id = s["check_id"].as_str().unwrap_or("").to_string();
        let reason = s["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if accepted.iter().any(|(i, r)| *i == id && *r == reason) {
            used.insert((id, reason));
        } else {
            problems.push(format!(
                "SKIPPED without an accepted reason: {id} ({reason:?})"
            ));
        }
    }
    (problems, used)
}

#[test]
fn checkov_passes_the_deploy_modules_and_the_dockerfile_with_only_the_documented_skips() {
    let Some(bin) = checkov_bin() else { return };
    let tf_dir = deploy_dir().join("terraform");
    let report = checkov(
        &bin,
        "terraform",
        &["--directory".as_ref(), tf_dir.as_os_str()],
    );
    assert_eq!(
        report["summary"]["parsing_errors"], 0,
        "{:#}",
        report["summary"]
    );
    let resources = report["summary"]["resource_count"].as_u64().unwrap_or(0);
    assert!(resources >= 10, "checkov saw {resources} resources");
    let (mut all, used) = problems(&report, ACCEPTED_SKIPS);
    for skip in ACCEPTED_SKIPS {
        if !used.contains(&(skip.0.to_string(), skip.1.to_string())) {
            all.push(format!(
                "{} ({}) is accepted but nothing skips it: remove it",
                skip.0, skip.1
            ));
        }
    }
    let terraform_passed = report["summary"]["passed"].clone();

    let dockerfile = deploy_dir().join("Dockerfile");
    let report = checkov(
        &bin,
        "dockerfile",
        &["--file".as_ref(), dockerfile.as_os_str()],
    );
    assert_eq!(report["check_type"], "dockerfile", "{report:#}");
    let passed = report["summary"]["passed"].as_u64().unwrap_or(0);
    assert!(passed > 0, "checkov checked nothing in the Dockerfile");
    all.extend(problems(&report, &[]).0);
    println!(
        "checkov deploy/: terraform {resources} resources, {terraform_passed} passed; Dockerfile {passed} passed; {} accepted skips",
        ACCEPTED_SKIPS.len()
    );
    assert!(
        all.is_empty(),
        "checkov found problems:\n{}",
        all.join("\n")
    );
}

/// A home whose config names a shared backend, for `opsdeck iam policy`.
fn backend_home() -> Home {
    let home = Home::new();
    std::fs::write(
        home.path().join("config.toml"),
        "[aws_backend]\nregion = \"eu-west-1\"\nprefix = \"acme-ops\"\n",
    )
    .unwrap();
    home
}

fn policy(home: &Home, args: &[&str]) -> Value {
    let out = home
        .cmd()
        .args(["iam", "policy"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iam policy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn iam_policies_name_the_backend_and_only_the_runner_reaches_deploy_roles() {
    let home = backend_home();
    for role in ["viewer", "operator", "approver", "runner"] {
        let doc = policy(&home, &[role, "--account", "123456789012"]);
        assert_eq!(doc["Version"], "2012-10-17");
        let statements = doc["Statement"].as_array().unwrap();
        let text = doc.to_string();
        assert!(text.contains("arn:aws:dynamodb:eu-west-1:123456789012:table/acme-ops_audit_runs"));
        assert!(text.contains(
            "arn:aws:s3:::acme-ops-audit-logs/${aws:PrincipalTag/opsdeck-tenant}/witness/*"
        ));
        let assume = statements
            .iter()
            .find(|s| s["Action"].to_string().contains("sts:AssumeRole"))
            .unwrap();
        assert_eq!(
            assume["Effect"],
            if role == "runner" { "Allow" } else { "Deny" },
            "{role}"
        );
        assert_eq!(
            assume["Resource"][0],
            "arn:aws:iam::*:role/opsdeck-deploy-${aws:PrincipalTag/opsdeck-tenant}"
        );
    }
    let runner = policy(
        &home,
        &[
            "runner",
            "--account",
            "123456789012",
            "--for-tenant",
            "acme",
            "--deploy-role",
            "arn:aws:iam::210987654321:role/opsdeck-deploy-acme",
        ],
    );
    let assume = runner["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AssumeTheTenantsDeployRoles")
        .unwrap();
    assert_eq!(
        assume["Resource"],
        serde_json::json!(["arn:aws:iam::210987654321:role/opsdeck-deploy-acme"])
    );
    // Refusals say what to give, and print no document.
    for (args, want) in [
        (
            vec!["admin", "--account", "123456789012"],
            "choose viewer, operator, approver or runner",
        ),
        (vec!["runner", "--account", "1234"], "12 digits"),
        (
            vec![
                "runner",
                "--account",
                "123456789012",
                "--deploy-role",
                "arn:aws:iam::*:role/x",
            ],
            "--deploy-role",
        ),
    ] {
        let out = home
            .cmd()
            .args(["iam", "policy"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// checkov's IAM checks (wildcards, privilege escalation, exposure, credentials exposure, write
/// without constraints) over each printed policy, as a reviewer would run them.
#[test]
fn checkov_passes_every_printed_iam_policy() {
    let Some(bin) = checkov_bin() else { return };
    let home = backend_home();
    let work = tempfile::tempdir().unwrap();
    let mut tf = String::new();
    for role in ["viewer", "operator", "approver", "runner"] {
        let doc = policy(
            &home,
            &[
                role,
                "--account",
                "123456789012",
                "--for-tenant",
                "acme",
                "--for-tenant",
                "beta",
            ],
        );
        tf.push_str(&format!(
            "resource \"aws_iam_policy\" \"{role}\" {{\n  name   = \"opsdeck-{role}\"\n  policy = <<POLICY\n{}\nPOLICY\n}}\n\n",
            serde_json::to_string_pretty(&doc).unwrap()
        ));
    }
    std::fs::write(work.path().join("policies.tf"), tf).unwrap();
    let report = checkov(
        &bin,
        "terraform",
        &["--directory".as_ref(), work.path().as_os_str()],
    );
    assert_eq!(
        report["summary"]["parsing_errors"], 0,
        "{:#}",
        report["summary"]
    );
    assert_eq!(
        report["summary"]["resource_count"], 4,
        "{:#}",
        report["summary"]
    );
    let passed = report["summary"]["passed"].as_u64().unwrap_or(0);
    assert!(passed >= 4 * 5, "only {passed} IAM checks ran");
    let (all, _) = problems(&report, &[]);
    println!("checkov iam policies: 4 documents, {passed} checks passed");
    assert!(
        all.is_empty(),
        "checkov found problems:\n{}",
        all.join("\n")
    );
}

/// The container's entrypoint writes the backend's config from the task's environment, and
/// refuses a value that could break out of the TOML string before anything starts.
#[test]
fn entrypoint_writes_the_backend_config_and_refuses_unsafe_values() {
    let script = deploy_dir().join("entrypoint.sh");
    let bin_dir = tempfile::tempdir().unwrap();
    // The real binary under the name the script execs.
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_opsdeck"),
        bin_dir.path().join("opsdeck"),
    )
    .unwrap();
    let run = |home: &Path, region: &str, prefix: &str| {
        Command::new("sh")
            .arg(&script)
            .arg("--help")
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", bin_dir.path().display()),
            )
            .env("OPSDECK_HOME", home)
            .env("OPSDECK_AWS_BACKEND_REGION", region)
            .env("OPSDECK_AWS_BACKEND_PREFIX", prefix)
            .output()
            .unwrap()
    };
    for (region, prefix) in [
        ("eu-west-1\"\n[x]", "acme-ops"),
        ("eu-west-1", "acme\"ops"),
        ("eu-west-1", "$(id)"),
        ("", "acme-ops"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let out = run(home.path(), region, prefix);
        assert!(!out.status.success(), "{region:?} {prefix:?}");
        assert!(
            !home.path().join("config.toml").exists(),
            "{region:?} {prefix:?}"
        );
    }
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), "eu-west-1", "acme-ops");
    assert_ne!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = opsdeck::config::Config::load(&home.path().join("config.toml")).unwrap();
    assert_eq!(config.aws_backend.region, "eu-west-1");
    assert_eq!(config.aws_backend.prefix, "acme-ops");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path().join("config.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "config is owner-only");
}

/// The runner user's personal key reaches the container as a secret in the environment: the
/// entrypoint writes it owner-only where opsdeck loads it, takes it out of the environment of
/// everything it starts, and runs the runner as that user.
#[test]
fn entrypoint_installs_the_runners_key_and_keeps_it_out_of_the_environment() {
    let script = deploy_dir().join("entrypoint.sh");
    // The runner's key, made as an operator would before storing it in Secrets Manager.
    let maker = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--user", "runner", "keys", "new"])
        .env("OPSDECK_HOME", maker.path())
        .env_remove("OPSDECK_IDENTITY_DIR")
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let key_text = std::fs::read_to_string(maker.path().join("identity/keys/runner.key")).unwrap();
    let fingerprint = String::from_utf8_lossy(&made.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: ").map(str::to_string))
        .expect("fingerprint");

    // What the entrypoint execs, observed: its arguments and whether the key is still in its
    // environment (Terraform and Ansible inherit the runner's).
    let bin_dir = tempfile::tempdir().unwrap();
    let observed = bin_dir.path().join("observed");
    let opsdeck = bin_dir.path().join("opsdeck");
    std::fs::write(
        &opsdeck,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" \"${{OPSDECK_RUNNER_KEY:-no key in the environment}}\" > '{}'\n",
            observed.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&opsdeck, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |user: &str| {
        Command::new("sh")
            .arg(&script)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", bin_dir.path().display()),
            )
            .env("OPSDECK_HOME", home.path())
            .env("OPSDECK_AWS_BACKEND_REGION", "eu-west-1")
            .env("OPSDECK_RUNNER_TENANTS", "shop,labs")
            .env("OPSDECK_USER", user)
            .env("OPSDECK_RUNNER_KEY", key_text.trim_end())
            .output()
            .unwrap()
    };
    // A user name that could escape the key's path is refused before anything is written.
    let out = run("../evil");
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(!home.path().join("identity").exists());

    let out = run("runner");
    assert!(out.status.success(), "{out:?}");
    let seen = std::fs::read_to_string(&observed).unwrap();
    assert_eq!(
        seen,
        "--backend aws --user runner runner --tenants shop,labs\nno key in the environment\n"
    );
    let installed = home.path().join("identity/keys/runner.key");
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), key_text);
    let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the key is owner-only");
    // The real binary loads it as the runner's key.
    let shown = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--user", "runner", "keys", "show"])
        .env("OPSDECK_HOME", home.path())
        .env_remove("OPSDECK_IDENTITY_DIR")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(&fingerprint), "{shown}");
}
