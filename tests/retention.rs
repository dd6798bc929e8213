//! Retention per tenant on the shared backend (moto): the tenant's `[retention]` settings are
//! validated and changed only as the lock mode allows, `backend init` writes each tenant's
//! lifecycle rules, `backend check` shows the settings and the drift between them and the
//! buckets, each audit-log object carries its own retain-until, and S3 refuses to delete it.

mod common;

use common::moto::Moto;
use common::shared::{SharedBackend, block};
use common::{Home, Team};
use opsdeck::plan::ArtifactKind;
use opsdeck::store::Store;
use opsdeck::tenant::{LockMode, Retention, Role};
use serde_json::Value;

const ADMIN: &[Role] = &[Role::Admin];

fn backend(home: &Home, moto: &Moto, args: &[&str]) -> (Option<i32>, Value) {
    let out = home
        .cmd()
        .envs(moto.env())
        .args(["--json", "backend"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// The finding about `aspect` of `tenant` (init prints a list, check an object with findings).
fn finding<'a>(v: &'a Value, tenant: &str, aspect: &str) -> &'a Value {
    let list = v.get("findings").unwrap_or(v);
    list.as_array()
        .unwrap()
        .iter()
        .find(|f| f["resource"] == format!("tenant {tenant}") && f["aspect"] == aspect)
        .unwrap_or_else(|| panic!("no {aspect} finding for {tenant} in {v}"))
}

fn set_retention(t: &Team<'_>, r: Retention) -> opsdeck::Result<opsdeck::tenant::Tenant> {
    let alice = t.deck("alice");
    let mut s = alice.admin().settings().unwrap();
    s.retention = r;
    let code = t.code("alice");
    alice.admin().set_tenant_settings(s, Some(&code))
}

fn r(audit_years: u32, audit_lock_mode: LockMode, artifact_days: u32) -> Retention {
    Retention {
        audit_years,
        audit_lock_mode,
        artifact_days,
    }
}

fn refusal(r: opsdeck::Result<opsdeck::tenant::Tenant>) -> String {
    match r {
        Ok(t) => panic!("accepted {:?}", t.retention),
        Err(e) => e.to_string(),
    }
}

/// Days from now until an S3 date.
fn days_ahead(until: &aws_sdk_s3::primitives::DateTime) -> i64 {
    (until.secs() - opsdeck::time::Stamp::now().as_second()) / 86_400
}

#[test]
fn retention_is_set_by_init_shown_by_check_and_locks_each_audit_object() {
    let Some(moto) = Moto::get("retention_per_tenant") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let t = Team::new(&home, None, &[("alice", ADMIN)]);

    // Out of range and inconsistent settings are refused with what is allowed; nothing changes.
    let e = refusal(set_retention(&t, r(0, LockMode::Governance, 0)));
    assert!(
        e.contains("retention.audit_years 0") && e.contains("1 to 100 years"),
        "{e}"
    );
    let e = refusal(set_retention(&t, r(1, LockMode::Governance, 36_501)));
    assert!(e.contains("1 to 36500 days"), "{e}");
    let e = refusal(set_retention(&t, r(1, LockMode::Governance, 400)));
    assert!(e.contains("raise retention.audit_years to 2"), "{e}");
    assert_eq!(
        t.deck("alice").admin().settings().unwrap().retention,
        Retention::default()
    );
    // The defaults are compliance mode: a tenant may not leave it.
    let e = refusal(set_retention(&t, r(2, LockMode::Governance, 30)));
    assert!(e.contains("stays in it"), "{e}");

    // Accepted: two years in compliance mode, artifacts for 30 days.
    set_retention(&t, r(2, LockMode::Compliance, 30)).unwrap();
    // check shows the settings and the drift: the buckets have no rule for them yet.
    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(10), "{v}");
    let shown = finding(&v, "default", "retention");
    assert_eq!(
        shown["detail"],
        "audit 2 year(s), compliance mode; artifacts and reports expire after 30 days"
    );
    let drift = finding(&v, "default", "artifact expiry");
    assert_eq!(drift["status"], "wrong", "{drift}");
    assert!(
        drift["detail"]
            .as_str()
            .unwrap()
            .contains("no rule opsdeck-default for the settings' 30 days"),
        "{drift}"
    );
    assert_eq!(finding(&v, "default", "report expiry")["status"], "wrong");
    assert_eq!(finding(&v, "default", "audit lock")["status"], "ok");

    // init writes the rules; check is then clean.
    let (code, v) = backend(&home, &moto, &["init"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(finding(&v, "default", "artifact expiry")["status"], "fixed");
    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(finding(&v, "default", "artifact expiry")["status"], "ok");

    let (_, s3) = b.clients();
    let artifacts = b.bucket("artifacts");
    let reports = b.bucket("reports");
    let logs = b.bucket("audit-logs");
    block(async {
        let rules = s3
            .get_bucket_lifecycle_configuration()
            .bucket(&artifacts)
            .send()
            .await
            .unwrap()
            .rules
            .unwrap();
        let rule = rules
            .iter()
            .find(|r| r.id() == Some("opsdeck-default"))
            .unwrap();
        assert_eq!(rule.expiration().unwrap().days(), Some(30));
        let and = rule.filter().unwrap().and().unwrap();
        assert_eq!(and.prefix(), Some("default/"));
        assert_eq!(and.tags()[0].key(), "opsdeck-retention");
        let rules = s3
            .get_bucket_lifecycle_configuration()
            .bucket(&reports)
            .send()
            .await
            .unwrap()
            .rules
            .unwrap();
        assert_eq!(rules[0].filter().unwrap().prefix(), Some("default/"));
    });

    // An execution log gets its own lock: two years, compliance; S3 refuses to delete it.
    let dir = tempfile::tempdir().unwrap();
    let store = b.store(dir.path());
    let log = b"terraform apply\nApply complete!\n".to_vec();
    let sha = store
        .put_artifact_as("default", ArtifactKind::Log, &log)
        .unwrap();
    let key = format!("default/{}/{sha}", &sha[..2]);
    // A plan artifact is tagged to expire with the tenant's rule.
    let plan_file = b"resource \"terraform_data\" \"x\" {}\n".to_vec();
    let plan_sha = store
        .put_artifact_as("default", ArtifactKind::Terraform, &plan_file)
        .unwrap();
    block(async {
        let head = s3
            .head_object()
            .bucket(&logs)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.object_lock_mode(),
            Some(&aws_sdk_s3::types::ObjectLockMode::Compliance)
        );
        let ahead = days_ahead(head.object_lock_retain_until_date().unwrap());
        assert!((729..=730).contains(&ahead), "{ahead} days");
        let err = s3
            .delete_object()
            .bucket(&logs)
            .key(&key)
            .version_id(head.version_id().unwrap())
            .send()
            .await
            .unwrap_err();
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(403), "{err:?}");
        let tags = s3
            .get_object_tagging()
            .bucket(&artifacts)
            .key(format!("default/{}/{plan_sha}", &plan_sha[..2]))
            .send()
            .await
            .unwrap();
        assert_eq!(tags.tag_set()[0].key(), "opsdeck-retention");
        assert_eq!(tags.tag_set()[0].value(), "expire");
    });
    assert_eq!(
        b.store(tempfile::tempdir().unwrap().path())
            .get_artifact("default", &sha)
            .unwrap(),
        log
    );

    // Compliance mode only lengthens; a longer audit and other artifact days are accepted,
    // and check reports the rule that no longer matches until init runs again.
    let e = refusal(set_retention(&t, r(1, LockMode::Compliance, 30)));
    assert!(e.contains("2 to 100 years"), "{e}");
    set_retention(&t, r(3, LockMode::Compliance, 60)).unwrap();
    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(10), "{v}");
    let drift = finding(&v, "default", "artifact expiry");
    assert!(
        drift["detail"]
            .as_str()
            .unwrap()
            .contains("after 30 days, settings say 60"),
        "{drift}"
    );
    backend(&home, &moto, &["init"]);
    assert_eq!(backend(&home, &moto, &["check"]).0, Some(0));
}

#[test]
fn a_bucket_without_object_lock_is_reported_and_evidence_still_written() {
    let Some(moto) = Moto::get("retention_without_lock") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    let logs = b.bucket("audit-logs");
    let (_, s3) = b.clients();
    // Someone made the audit-logs bucket by hand, without Object Lock, and used it.
    block(async {
        s3.create_bucket().bucket(&logs).send().await.unwrap();
        s3.put_object()
            .bucket(&logs)
            .key("README")
            .body(b"ours".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let store = b.store(dir.path());
    // init makes the tables but cannot lock a bucket that already holds objects (moto, like
    // S3 before 2023); it says so.
    let e = store.init().unwrap_err().to_string();
    assert!(e.contains("PutObjectLockConfiguration"), "{e}");
    store
        .put_tenant(&opsdeck::tenant::Tenant {
            name: "acme".into(),
            retention: r(5, LockMode::Compliance, 0),
            ..opsdeck::tenant::Tenant::default()
        })
        .unwrap();
    let home = b.home();
    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(10), "{v}");
    let lock = finding(&v, "acme", "audit lock");
    assert_eq!(lock["status"], "wrong");
    assert!(
        lock["detail"]
            .as_str()
            .unwrap()
            .contains("has no Object Lock: the settings' 5 year(s) cannot be enforced"),
        "{lock}"
    );
    // Evidence is still written (unlocked), never lost.
    let sha = store
        .put_artifact_as("acme", ArtifactKind::Log, b"apply log")
        .unwrap();
    block(async {
        let head = s3
            .head_object()
            .bucket(&logs)
            .key(format!("acme/{}/{sha}", &sha[..2]))
            .send()
            .await
            .unwrap();
        assert_eq!(head.object_lock_mode(), None);
    });
}

/// The lock an object carries: mode and days from now until its retain-until.
fn object_lock(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Option<(aws_sdk_s3::types::ObjectLockRetentionMode, i64)> {
    // HeadObject: moto's GetObjectRetention answer does not parse in the SDK.
    block(async {
        let h = s3.head_object().bucket(bucket).key(key).send().await.ok()?;
        Some((
            aws_sdk_s3::types::ObjectLockRetentionMode::from(h.object_lock_mode()?.as_str()),
            days_ahead(h.object_lock_retain_until_date()?),
        ))
    })
}

#[test]
fn audit_objects_locked_short_of_the_settings_are_reported_then_extended_never_shortened() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{ObjectLockMode, ObjectLockRetentionMode};
    let Some(moto) = Moto::get("retention_objects") else {
        return;
    };
    let b = SharedBackend::at(&moto.endpoint);
    b.init();
    let home = b.home();
    let t = Team::new(&home, None, &[("alice", ADMIN)]);
    set_retention(&t, r(2, LockMode::Compliance, 30)).unwrap();
    backend(&home, &moto, &["init"]);
    let logs = b.bucket("audit-logs");
    let (_, s3) = b.clients();
    // One execution log written by opsdeck under the settings: two years, compliance.
    let dir = tempfile::tempdir().unwrap();
    let sha = b
        .store(dir.path())
        .put_artifact_as("default", ArtifactKind::Log, b"apply log")
        .unwrap();
    let good = format!("default/{}/{sha}", &sha[..2]);
    // Written before a change, or by hand: thirty days; governance for two years; and a lock
    // longer than the settings (an older, longer policy).
    let now = opsdeck::time::Stamp::now().as_second();
    let put = |key: &str, mode: ObjectLockMode, days: i64| {
        block(
            s3.put_object()
                .bucket(&logs)
                .key(key)
                .body(b"log".to_vec().into())
                .object_lock_mode(mode)
                .object_lock_retain_until_date(DateTime::from_secs(now + days * 86_400))
                .send(),
        )
        .unwrap();
    };
    put("default/aa/short", ObjectLockMode::Compliance, 30);
    put("default/bb/governed", ObjectLockMode::Governance, 800);
    put("default/cc/longer", ObjectLockMode::Compliance, 5 * 365);
    // Another tenant's object is not this tenant's to judge.
    put("other/dd/short", ObjectLockMode::Compliance, 3);

    // The tenant's objects: these four and the chain's checkpoints (`default/witness/`), the
    // ones written before the settings said two years locked for one.
    let listed = block(s3.list_objects_v2().bucket(&logs).prefix("default/").send())
        .unwrap()
        .key_count()
        .unwrap();
    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(10), "{v}");
    let f = finding(&v, "default", "audit objects");
    let detail = f["detail"].as_str().unwrap();
    assert_eq!(f["status"], "wrong", "{f}");
    let (short, rest) = detail.split_once(" of ").unwrap();
    assert!(short.parse::<i32>().unwrap() >= 2, "{detail}");
    assert!(
        rest.starts_with(&format!(
            "{listed} audit object(s) under s3://{logs}/default/ are locked for less than the settings' 2 year(s) in COMPLIANCE mode"
        )),
        "{detail}"
    );
    assert!(
        detail.contains("default/aa/short (COMPLIANCE until")
            && detail.contains("default/bb/governed (GOVERNANCE until")
            && !detail.contains("longer")
            && !detail.contains("other/")
            && detail.ends_with(
                "`opsdeck backend init` extends them to the settings (it never shortens a lock)"
            ),
        "{detail}"
    );
    // check changed nothing: still thirty days from when it was written (29 once a second has
    // passed since, 30 within the same second).
    let unchanged = object_lock(&s3, &logs, "default/aa/short").map(|l| l.1);
    assert!(matches!(unchanged, Some(29 | 30)), "{unchanged:?}");

    // init extends the short ones to two years from when they were written, and leaves the
    // longer lock as it was.
    let (code, v) = backend(&home, &moto, &["init"]);
    assert_eq!(code, Some(0), "{v}");
    let f = finding(&v, "default", "audit objects");
    assert_eq!(f["status"], "fixed", "{f}");
    let (mode, days) = object_lock(&s3, &logs, "default/aa/short").unwrap();
    assert_eq!(mode, ObjectLockRetentionMode::Compliance);
    assert!((729..=730).contains(&days), "{days}");
    let (mode, days) = object_lock(&s3, &logs, "default/bb/governed").unwrap();
    assert_eq!(mode, ObjectLockRetentionMode::Compliance);
    assert!((799..=800).contains(&days), "kept its later date: {days}");
    let (_, days) = object_lock(&s3, &logs, "default/cc/longer").unwrap();
    assert!((1824..=1825).contains(&days), "never shortened: {days}");
    let (_, days) = object_lock(&s3, &logs, &good).unwrap();
    assert!((729..=730).contains(&days), "{days}");
    // Locked 3 days when written: 2 whole days ahead once a second has passed, 3 within it.
    let other = object_lock(&s3, &logs, "other/dd/short").map(|l| l.1);
    assert!(
        matches!(other, Some(2 | 3)),
        "another tenant's object untouched: {other:?}"
    );

    let (code, v) = backend(&home, &moto, &["check"]);
    assert_eq!(code, Some(0), "{v}");
    let f = finding(&v, "default", "audit objects");
    assert_eq!(
        f["detail"],
        format!(
            "{listed} audit object(s) under s3://{logs}/default/ checked: each is locked at least 2 year(s) in COMPLIANCE mode from when each was written"
        )
    );
}
