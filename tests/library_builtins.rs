//! Built-in versions kept with the tenant's artifacts (issue 18 part 2): a plan rendered from
//! built-in templates keeps each version's manifest and template, so after an upgrade the
//! version an older binary rendered a plan from is still shown and compared with today's.

mod common;

use common::{Home, quiet, team};
use opsdeck::audit::{AuditEvent, EventKind};
use opsdeck::library::builtin::{BuiltinRef, builtin_version};
use serde_json::{Value, json};

fn run(home: &Home, args: &[&str]) -> (bool, String, String) {
    let out = home.cmd().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `planned` event as an older binary wrote it: naming the built-in version it rendered from.
fn planned_from(plan_id: &str, builtin_sha: &str) -> AuditEvent {
    let mut planned = common::blank_event(&format!("r-{plan_id}"), "olga", EventKind::Planned);
    planned.plan_id = Some(plan_id.into());
    planned.agent_type = Some("infra".into());
    planned.artifacts = vec![opsdeck::library::builtin_ref_json(&BuiltinRef {
        name: "builtin/s3".into(),
        sha256: builtin_sha.into(),
    })];
    planned
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn built_in_versions_are_kept_and_an_older_binarys_is_shown_and_compared() {
    if common::terraform().is_none() {
        return;
    }
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    let rec = olga
        .requests()
        .ask("create an s3 bucket named team-logs-2 in eu-west-1", &quiet)
        .unwrap();
    let s3 = builtin_version("builtin/s3").unwrap();
    assert!(
        rec.plan.builtins.iter().any(|b| b.sha256 == s3.sha256),
        "{:?}",
        rec.plan.builtins
    );
    // Every version the plan names is kept: its manifest hashes to the version, its template
    // to the manifest's file.
    let store = olga.raw_store();
    for b in &rec.plan.builtins {
        let manifest = store.get_artifact("default", &b.sha256).unwrap();
        assert_eq!(sha256(&manifest), b.sha256);
        let m: Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(m["name"], b.name.as_str());
        let file = m["files"][0]["sha256"].as_str().unwrap();
        assert!(store.get_artifact("default", file).is_ok(), "{}", b.name);
    }

    // An older binary's version of the S3 template, kept and used as that binary did: the same
    // manifest with another template, and a plan whose `planned` event names it.
    let (manifest, template) = s3.kept_bytes();
    let older_text = format!(
        "# bucket policy written by hand\n{}",
        String::from_utf8_lossy(template)
    );
    let file_sha = store
        .put_artifact("default", older_text.as_bytes())
        .unwrap();
    let mut m: Value = serde_json::from_slice(&manifest).unwrap();
    m["files"][0]["sha256"] = json!(file_sha);
    m["files"][0]["size"] = json!(older_text.len());
    m["description"] = json!("a private bucket");
    let mut older = serde_json::to_vec_pretty(&m).unwrap();
    older.push(b'\n');
    let older_sha = store.put_artifact("default", &older).unwrap();
    common::append_signed(&home, &olga, &[planned_from("p-older01", &older_sha)]);

    // Shown: both versions, with their plans; the older one by a prefix of its SHA.
    let (ok, out, err) = run(&home, &["library", "show", "builtin/s3", "--json"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["current"], true);
    let versions = shown["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{shown}");
    let of = |sha: &str| {
        versions
            .iter()
            .find(|v| v["sha256"] == sha)
            .unwrap()
            .clone()
    };
    assert_eq!(of(&older_sha)["plans"], 1);
    assert_eq!(of(&older_sha)["kept"], true);
    assert_eq!(of(&older_sha)["current"], false);
    assert_eq!(of(&s3.sha256)["current"], true);
    assert_eq!(of(&s3.sha256)["plans"], 1);

    let older_ref = format!("builtin/s3@{}", &older_sha[..10]);
    let (ok, out, err) = run(&home, &["library", "show", &older_ref, "--json"]);
    assert!(ok, "{err}");
    let old: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(old["current"], false);
    assert_eq!(old["version"]["sha256"], older_sha.as_str());
    assert_eq!(old["version"]["description"], "a private bucket");
    assert_eq!(old["version"]["file_sha256"], file_sha.as_str());
    assert_eq!(old["used_by"][0]["plan_id"], "p-older01");
    let (ok, out, _) = run(&home, &["library", "show", &older_ref]);
    assert!(ok);
    assert!(out.contains("not this binary's version"), "{out}");

    // Compared with today's: the words, then the template.
    let (ok, out, err) = run(&home, &["library", "diff", &older_ref, "builtin/s3"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("description: \"a private bucket\" -> \"a private, versioned"),
        "{out}"
    );
    assert!(out.contains("-# bucket policy written by hand"), "{out}");
    assert!(
        out.contains(&format!("--- builtin/s3@{}/", &older_sha[..12])),
        "{out}"
    );
    let (ok, out, _) = run(&home, &["library", "diff", "builtin/s3", "builtin/s3"]);
    assert!(ok);
    assert_eq!(out.trim(), "no differences");

    // Refused with words that say what to do.
    for (asked, says) in [
        ("builtin/s3@xyz", "at least 8 hex digits"),
        (
            "builtin/s3@00000000",
            "no plan of this tenant was rendered from it",
        ),
    ] {
        let (ok, _, err) = run(&home, &["library", "show", asked]);
        assert!(!ok);
        assert!(err.contains(says), "{asked}: {err}");
    }
    let (ok, _, err) = run(&home, &["library", "diff", "builtin/s3", "web-tier@1"]);
    assert!(!ok);
    assert!(
        err.contains("compare built-in versions with each other"),
        "{err}"
    );

    // A version whose template was never kept (a plan from before versions were kept): its
    // uses are known, and the answer says why it cannot be shown.
    let gone = "ab".repeat(32);
    common::append_signed(&home, &olga, &[planned_from("p-unkept1", &gone)]);
    let (ok, _, err) = run(
        &home,
        &["library", "show", &format!("builtin/s3@{}", &gone[..8])],
    );
    assert!(!ok);
    assert!(err.contains("its template was not kept"), "{err}");
    let (ok, out, _) = run(&home, &["library", "show", "builtin/s3"]);
    assert!(ok);
    assert!(out.contains("template not kept"), "{out}");

    // The records written as an older binary would are ordinary links of the signed chain.
    let (ok, out, err) = run(&home, &["audit", "verify"]);
    assert!(ok, "{out}{err}");
}
