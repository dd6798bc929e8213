//! Retention of the audit objects already written (`[retention]`, docs/backend.md): the bucket
//! settings say what new objects get, but an object written before a change, or by hand, may
//! carry a shorter Object Lock retain-until, a weaker mode, or none. `backend check` reads the
//! tenant's objects in the audit-logs bucket (the first [`OBJECTS_CHECKED`], a page at a
//! time) and names those locked for less than the settings from when each was written;
//! `backend init` extends them to the settings. Nothing is ever shortened: a lock longer than
//! the settings (an older, longer policy) is left as it is.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{ObjectLockRetention, ObjectLockRetentionMode};

use super::fault::{Fault, classify};
use super::provision::{Finding, Status};
use super::remote::Clients;
use crate::tenant::{LockMode, Retention};

/// Audit objects read per tenant at most (one HeadObject each).
pub const OBJECTS_CHECKED: usize = 1000;
/// Keys named in a finding; the rest are counted.
const NAMED: usize = 5;
/// Slack for clocks: a lock a day short of the settings still counts as theirs.
const SLACK_SECS: i64 = 86_400;

/// One audit object whose lock falls short of the settings.
struct Short {
    key: String,
    /// What it has: `none`, or `GOVERNANCE until 2027-01-01`.
    has: String,
    /// The retain-until the settings give it (from when it was written), and the mode.
    until: i64,
    mode: ObjectLockRetentionMode,
    /// Its mode is governance: lifting it to compliance bypasses governance (a permission).
    governance: bool,
}

fn s3_mode(mode: LockMode) -> ObjectLockRetentionMode {
    match mode {
        LockMode::Compliance => ObjectLockRetentionMode::Compliance,
        LockMode::Governance => ObjectLockRetentionMode::Governance,
    }
}

fn day(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// The tenant's audit objects against its settings: fine, extended (init) or reported (check).
pub(super) async fn audit_objects(
    c: &Clients,
    bucket: &str,
    tenant: &str,
    retention: &Retention,
    fix: bool,
) -> Result<Finding, Fault> {
    let finding = |status: Status, detail: String| Finding {
        resource: format!("tenant {tenant}"),
        aspect: "audit objects",
        status,
        detail,
    };
    let prefix = format!("{tenant}/");
    let mut objects: Vec<(String, i64)> = Vec::new();
    let mut more = false;
    let mut token: Option<String> = None;
    loop {
        let page =
            c.s3.list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .max_keys(i32::try_from(OBJECTS_CHECKED - objects.len()).unwrap_or(1000))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify("S3", "ListObjectsV2", &e))?;
        for o in page.contents() {
            if let (Some(key), Some(at)) = (o.key(), o.last_modified()) {
                objects.push((key.to_string(), at.secs()));
            }
        }
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        if objects.len() >= OBJECTS_CHECKED {
            more = true;
            break;
        }
    }
    let days = i64::from(retention.audit_days());
    let want_mode = s3_mode(retention.audit_lock_mode);
    let mut short = Vec::new();
    for (key, written) in &objects {
        // HeadObject carries the object's lock (mode and retain-until), none when it has none.
        let have = match c.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(o) => o
                .object_lock_mode()
                .zip(o.object_lock_retain_until_date())
                .map(|(m, u)| {
                    ObjectLockRetention::builder()
                        .mode(ObjectLockRetentionMode::from(m.as_str()))
                        .retain_until_date(*u)
                        .build()
                }),
            Err(e) => match classify("S3", "HeadObject", &e) {
                Fault::Transient(t) => return Err(Fault::Transient(t)),
                f => {
                    return Ok(finding(
                        Status::Wrong,
                        format!(
                            "the lock of s3://{bucket}/{key} cannot be read: {}; checking the audit objects needs s3:GetObject, s3:GetObjectRetention and s3:ListBucket",
                            f.message()
                        ),
                    ));
                }
            },
        };
        let until = written + days * 86_400;
        let (has_until, has_mode) = have
            .as_ref()
            .map(|r| (r.retain_until_date().map(DateTime::secs), r.mode().cloned()))
            .unwrap_or((None, None));
        let long_enough = has_until.is_some_and(|u| u + SLACK_SECS >= until);
        // Compliance is the stronger mode: a governance lock where the settings say
        // compliance can be lifted by whoever may bypass governance.
        let weaker = want_mode == ObjectLockRetentionMode::Compliance
            && has_mode.as_ref() != Some(&ObjectLockRetentionMode::Compliance);
        if long_enough && !weaker {
            continue;
        }
        let has = match (&has_mode, has_until) {
            (Some(m), Some(u)) => format!("{} until {}", m.as_str(), day(u)),
            _ => "no lock".to_string(),
        };
        let stronger_mode = if has_mode == Some(ObjectLockRetentionMode::Compliance) {
            ObjectLockRetentionMode::Compliance
        } else {
            want_mode.clone()
        };
        short.push(Short {
            key: key.clone(),
            has,
            // Never earlier than what it has.
            until: until.max(has_until.unwrap_or(0)),
            mode: stronger_mode,
            governance: has_mode == Some(ObjectLockRetentionMode::Governance),
        });
    }
    let scope = format!(
        "{} audit object(s) under s3://{bucket}/{prefix}{}",
        objects.len(),
        if more {
            format!(" (the first {OBJECTS_CHECKED}; the rest were not read)")
        } else {
            String::new()
        }
    );
    let policy = format!(
        "{} year(s) in {} mode from when each was written",
        retention.audit_years,
        want_mode.as_str()
    );
    if short.is_empty() {
        return Ok(finding(
            Status::Ok,
            format!("{scope} checked: each is locked at least {policy}"),
        ));
    }
    let named: Vec<String> = short
        .iter()
        .take(NAMED)
        .map(|s| format!("{} ({}, wants {})", s.key, s.has, day(s.until)))
        .collect();
    let rest = short.len().saturating_sub(NAMED);
    let listed = format!(
        "{}{}",
        named.join(", "),
        if rest > 0 {
            format!(" and {rest} more")
        } else {
            String::new()
        }
    );
    let drift = format!(
        "{} of {scope} are locked for less than the settings' {policy}: {listed}",
        short.len()
    );
    if !fix {
        return Ok(finding(
            Status::Wrong,
            format!(
                "{drift}; `opsdeck backend init` extends them to the settings (it never shortens a lock)"
            ),
        ));
    }
    let mut failed = Vec::new();
    for s in &short {
        let lock = ObjectLockRetention::builder()
            .mode(s.mode.clone())
            .retain_until_date(DateTime::from_secs(s.until))
            .build();
        let put =
            c.s3.put_object_retention()
                .bucket(bucket)
                .key(&s.key)
                .retention(lock)
                .set_bypass_governance_retention(s.governance.then_some(true))
                .send()
                .await;
        if let Err(e) = put {
            failed.push(format!(
                "{}: {}",
                s.key,
                classify("S3", "PutObjectRetention", &e).message()
            ));
        }
    }
    if failed.is_empty() {
        Ok(finding(
            Status::Fixed,
            format!("{drift}; each extended to the settings (no lock was shortened)"),
        ))
    } else {
        Ok(finding(
            Status::Wrong,
            format!(
                "{drift}; {} could not be extended: {}",
                failed.len(),
                failed.join("; ")
            ),
        ))
    }
}
