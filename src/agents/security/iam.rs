//! IAM: console users without MFA, active access keys older than the rotation age, and the root
//! account (MFA, access keys) from GetAccountSummary.

use aws_config::SdkConfig;
use jiff::Timestamp;
use serde::Serialize;

use super::finding::{Finding, Remediation, Severity, Status};
use crate::agents::insight::{aws_error, error_code, from_smithy};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct UserState {
    pub name: String,
    pub arn: String,
    pub console: bool,
    pub mfa_devices: usize,
    /// (key id, status, created)
    pub keys: Vec<(String, String, Option<Timestamp>)>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct RootState {
    pub mfa_enabled: bool,
    pub access_keys_present: bool,
}

pub async fn users(conf: SdkConfig) -> Result<Vec<String>> {
    let iam = aws_sdk_iam::Client::new(&conf);
    let mut names = Vec::new();
    let mut pages = iam.list_users().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("IAM", "ListUsers", &e))?;
        names.extend(page.users().iter().map(|u| u.user_name().to_string()));
    }
    Ok(names)
}

/// One user's console access, MFA devices and access keys.
pub async fn inspect(conf: SdkConfig, name: String) -> Result<UserState> {
    let iam = aws_sdk_iam::Client::new(&conf);
    let user = iam
        .get_user()
        .user_name(&name)
        .send()
        .await
        .map_err(|e| aws_error("IAM", "GetUser", &e))?;
    let arn = user.user().map(|u| u.arn().to_string()).unwrap_or_default();
    let console = match iam.get_login_profile().user_name(&name).send().await {
        Ok(_) => true,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => false,
        Err(e) => return Err(aws_error("IAM", "GetLoginProfile", &e)),
    };
    let mfa = iam
        .list_mfa_devices()
        .user_name(&name)
        .send()
        .await
        .map_err(|e| aws_error("IAM", "ListMFADevices", &e))?
        .mfa_devices()
        .len();
    let keys = iam
        .list_access_keys()
        .user_name(&name)
        .send()
        .await
        .map_err(|e| aws_error("IAM", "ListAccessKeys", &e))?
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                k.create_date().and_then(from_smithy),
            )
        })
        .collect();
    Ok(UserState {
        name,
        arn,
        console,
        mfa_devices: mfa,
        keys,
    })
}

pub async fn root(conf: SdkConfig) -> Result<RootState> {
    let iam = aws_sdk_iam::Client::new(&conf);
    let out = iam
        .get_account_summary()
        .send()
        .await
        .map_err(|e| aws_error("IAM", "GetAccountSummary", &e))?;
    let get = |k: aws_sdk_iam::types::SummaryKeyType| {
        out.summary_map()
            .and_then(|m| m.get(&k))
            .copied()
            .unwrap_or(0)
    };
    Ok(RootState {
        mfa_enabled: get(aws_sdk_iam::types::SummaryKeyType::AccountMfaEnabled) > 0,
        access_keys_present: get(aws_sdk_iam::types::SummaryKeyType::AccountAccessKeysPresent) > 0,
    })
}

pub fn user_findings(u: &UserState, max_age_days: i64, now: Timestamp) -> Vec<Finding> {
    let res = (u.arn.as_str(), "AwsIamUser", u.name.as_str(), "global");
    let mut out = Vec::new();
    // A user without a console password passes, as Prowler judges it: every user gets a row,
    // so exports show the check ran on them.
    {
        let ok = !u.console || u.mfa_devices > 0;
        out.push(Finding::check(
            "iam_user_mfa_enabled_console_access",
            "IAM user with a console password has MFA",
            Severity::High,
            5,
            if ok { Status::Pass } else { Status::Fail },
            if !u.console {
                format!("{} has no console password", u.name)
            } else if ok {
                format!("{} MFA device(s)", u.mfa_devices)
            } else {
                format!("{} can sign in to the console without MFA", u.name)
            },
            res,
            Remediation {
                text: format!(
                    "enable MFA for {} (IAM console → Users → Security credentials), or remove the console password if it is not needed",
                    u.name
                ),
                request: None,
            },
        ));
    }
    for (id, status, created) in &u.keys {
        if status != "Active" {
            continue;
        }
        let Some(created) = created else { continue };
        let age_days = (now.as_second() - created.as_second()) / 86_400;
        let age_secs = now.as_second() - created.as_second();
        let old = age_secs > max_age_days * 86_400;
        // Older keys weigh more: +5 per 90 days beyond the limit, up to +20.
        let adjust = if old {
            ((age_days - max_age_days) / 90 * 5).min(20) as i16
        } else {
            0
        };
        out.push(Finding {
            uid: super::finding::uid(&["opsdeck", "iam_rotate_access_key_90_days", &u.arn, id]),
            ..Finding::check(
                "iam_rotate_access_key_90_days",
                "Active access keys are rotated",
                Severity::Medium,
                adjust,
                if old { Status::Fail } else { Status::Pass },
                format!(
                    "access key {} of {} is {age_days} days old (limit {max_age_days})",
                    mask_key(id),
                    u.name
                ),
                res,
                Remediation {
                    text: format!(
                        "create a new key for {}, move its users to it, then deactivate and delete {}",
                        u.name,
                        mask_key(id)
                    ),
                    request: None,
                },
            )
        });
    }
    let active = u
        .keys
        .iter()
        .filter(|(_, status, created)| status == "Active" && created.is_some())
        .count();
    // No active key: nothing to rotate, and a row saying so.
    if active == 0 {
        out.push(Finding::check(
            "iam_rotate_access_key_90_days",
            "Active access keys are rotated",
            Severity::Medium,
            0,
            Status::Pass,
            format!("{} has no active access key", u.name),
            res,
            Remediation {
                text: "nothing to do".into(),
                request: None,
            },
        ));
    }
    out
}

pub fn root_findings(r: RootState, account: &str) -> Vec<Finding> {
    let arn = format!("arn:aws:iam::{account}:root");
    let res = (arn.as_str(), "AwsAccount", "root", "global");
    vec![
        Finding::check(
            "iam_root_mfa_enabled",
            "The root account has MFA",
            Severity::Critical,
            5,
            if r.mfa_enabled {
                Status::Pass
            } else {
                Status::Fail
            },
            if r.mfa_enabled {
                "root MFA is enabled".into()
            } else {
                "the root account has no MFA device".into()
            },
            res,
            Remediation {
                text: "sign in as root and assign an MFA device (a hardware key is best)".into(),
                request: None,
            },
        ),
        Finding::check(
            "iam_no_root_access_key",
            "The root account has no access keys",
            Severity::Critical,
            0,
            if r.access_keys_present {
                Status::Fail
            } else {
                Status::Pass
            },
            if r.access_keys_present {
                "the root account has access keys".into()
            } else {
                "no root access keys".into()
            },
            res,
            Remediation {
                text: "delete the root access keys; use IAM roles instead".into(),
                request: None,
            },
        ),
    ]
}

/// `AKIA…WXYZ`: enough to recognise a key, never the whole id.
fn mask_key(id: &str) -> String {
    if id.len() <= 8 {
        return "key".into();
    }
    format!("{}…{}", &id[..4], &id[id.len() - 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_age_and_mfa() {
        let now: Timestamp = "2026-11-24T00:00:00Z".parse().unwrap();
        let u = UserState {
            name: "dev".into(),
            arn: "arn:aws:iam::123456789012:user/dev".into(),
            console: true,
            mfa_devices: 0,
            keys: vec![
                (
                    "AKIAOLDOLDOLDOLD1234".into(),
                    "Active".into(),
                    Some("2026-01-01T00:00:00Z".parse().unwrap()),
                ),
                (
                    "AKIANEWNEWNEWNEW5678".into(),
                    "Active".into(),
                    Some("2026-11-01T00:00:00Z".parse().unwrap()),
                ),
                (
                    "AKIAOFFOFFOFFOFF9999".into(),
                    "Inactive".into(),
                    Some("2020-01-01T00:00:00Z".parse().unwrap()),
                ),
            ],
        };
        let f = user_findings(&u, 90, now);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].status, Status::Fail);
        assert_eq!((f[1].status, f[1].risk_score), (Status::Fail, 55));
        assert!(f[1].detail.contains("AKIA…1234 of dev is 327 days old"));
        assert!(!f[1].detail.contains("AKIAOLDOLDOLDOLD1234"));
        assert_eq!(f[2].status, Status::Pass);
        assert_ne!(f[1].uid, f[2].uid);
        // Every check ran on every user: no console password and no active key pass.
        let quiet = UserState {
            name: "svc".into(),
            arn: "arn:aws:iam::123456789012:user/svc".into(),
            console: false,
            mfa_devices: 0,
            keys: vec![],
        };
        let f = user_findings(&quiet, 90, now);
        assert_eq!(
            f.iter()
                .map(|x| (x.check_id.as_str(), x.status))
                .collect::<Vec<_>>(),
            vec![
                ("iam_user_mfa_enabled_console_access", Status::Pass),
                ("iam_rotate_access_key_90_days", Status::Pass)
            ]
        );
    }
}
