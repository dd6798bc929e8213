//! Where a tenant's notifications go: a Slack-compatible webhook and/or an SNS topic, which
//! kinds, and how hard delivery tries. The webhook URL is a secret (it carries the token): it is
//! stored, but every copy shown or audited carries [`Notifications::redacted`] instead.

use serde::{Deserialize, Serialize};

use super::{Tenant, TenantError};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A plan waits for approval (to the people who may approve it).
    PendingApproval,
    /// Someone approved a plan (to its requester).
    Approved,
    /// A plan was rejected, by a person or by policy, with the reason (to its requester).
    Rejected,
    /// An approved plan was applied (to its requester).
    Applied,
    /// Applying a plan failed (to its requester).
    ApplyFailed,
    /// A stack no longer matches what was applied.
    DriftFound,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 6] = [
        NotificationKind::PendingApproval,
        NotificationKind::Approved,
        NotificationKind::Rejected,
        NotificationKind::Applied,
        NotificationKind::ApplyFailed,
        NotificationKind::DriftFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::PendingApproval => "pending_approval",
            NotificationKind::Approved => "approved",
            NotificationKind::Rejected => "rejected",
            NotificationKind::Applied => "applied",
            NotificationKind::ApplyFailed => "apply_failed",
            NotificationKind::DriftFound => "drift_found",
        }
    }
}

/// `[notifications]` of the tenant settings. Nothing is sent while both targets are empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Notifications {
    /// A Slack-compatible incoming webhook (`https://`; `http://` only to 127.0.0.1 or
    /// localhost, for tests). Empty: none.
    pub webhook_url: String,
    /// An SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`). Empty: none.
    pub sns_topic_arn: String,
    /// The kinds sent (default: all of them).
    pub kinds: Vec<NotificationKind>,
    /// Delivery attempts per target before a notification is given up and audited as
    /// `notification_failed` (1 to 20).
    pub max_attempts: u32,
    /// The wait before the second attempt; each later one waits twice as long as the one
    /// before, up to an hour (100 ms to 10 minutes).
    pub retry_base_ms: u64,
}

pub const MAX_ATTEMPTS_CEILING: u32 = 20;
const RETRY_BASE_MS_RANGE: std::ops::RangeInclusive<u64> = 100..=600_000;

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            webhook_url: String::new(),
            sns_topic_arn: String::new(),
            kinds: NotificationKind::ALL.to_vec(),
            max_attempts: 6,
            retry_base_ms: 2_000,
        }
    }
}

impl Notifications {
    /// Whether anything is configured to receive notifications.
    pub fn enabled(&self) -> bool {
        !self.webhook_url.is_empty() || !self.sns_topic_arn.is_empty()
    }

    pub fn wants(&self, kind: NotificationKind) -> bool {
        self.enabled() && self.kinds.contains(&kind)
    }

    /// The same settings with the webhook URL's path and query (where its token is) masked.
    pub fn redacted(&self) -> Notifications {
        Notifications {
            webhook_url: redact_url(&self.webhook_url),
            ..self.clone()
        }
    }

    /// Settings read back from a redacted copy (`tenants show`, edited, `tenants set`) keep
    /// the stored webhook URL where they still carry its masked form.
    pub fn keep_secret_from(&mut self, stored: &Notifications) {
        if !self.webhook_url.is_empty()
            && self.webhook_url != stored.webhook_url
            && self.webhook_url == redact_url(&stored.webhook_url)
        {
            self.webhook_url = stored.webhook_url.clone();
        }
    }

    pub(super) fn validate(&self) -> Result<(), TenantError> {
        let bad = |setting: &str, value: String, allowed: &str| {
            Err(TenantError::OutOfRange {
                setting: setting.to_string(),
                value,
                allowed: allowed.to_string(),
            })
        };
        if !self.webhook_url.is_empty() && !webhook_url_ok(&self.webhook_url) {
            return bad(
                "notifications.webhook_url",
                format!("{:?}", redact_url(&self.webhook_url)),
                "an https:// URL (http:// only to 127.0.0.1 or localhost), or empty for none",
            );
        }
        if !self.sns_topic_arn.is_empty() && topic_region(&self.sns_topic_arn).is_none() {
            return bad(
                "notifications.sns_topic_arn",
                format!("{:?}", self.sns_topic_arn),
                "an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ops-alerts, or empty for none",
            );
        }
        if !(1..=MAX_ATTEMPTS_CEILING).contains(&self.max_attempts) {
            return bad(
                "notifications.max_attempts",
                self.max_attempts.to_string(),
                &format!("1 to {MAX_ATTEMPTS_CEILING}"),
            );
        }
        if !RETRY_BASE_MS_RANGE.contains(&self.retry_base_ms) {
            return bad(
                "notifications.retry_base_ms",
                self.retry_base_ms.to_string(),
                "100 to 600000 (10 minutes)",
            );
        }
        Ok(())
    }
}

impl Tenant {
    /// The settings as they may be shown, returned and audited: secrets masked.
    pub fn redacted(&self) -> Tenant {
        Tenant {
            notifications: self.notifications.redacted(),
            ..self.clone()
        }
    }
}

fn webhook_url_ok(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = u.host_str().unwrap_or_default();
    match u.scheme() {
        "https" => !host.is_empty(),
        "http" => matches!(host, "127.0.0.1" | "localhost" | "[::1]"),
        _ => false,
    }
}

/// `https://hooks.example.com/****`: where it goes, without the token.
pub fn redact_url(url: &str) -> String {
    if url.is_empty() {
        return String::new();
    }
    let mask = crate::redact::mask();
    match reqwest::Url::parse(url) {
        Ok(u) if u.host_str().is_some() => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}/{mask}",
                u.scheme(),
                u.host_str().unwrap_or_default()
            )
        }
        _ => mask.to_string(),
    }
}

/// The region of a valid SNS topic ARN.
pub fn topic_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [arn_word, partition, service, region, account, name] = parts.as_slice() else {
        return None;
    };
    let name_ok = {
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        (1..=256).contains(&base.len())
            && base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (*arn_word == "arn"
        && partition.starts_with("aws")
        && *service == "sns"
        && crate::intent::is_region_code(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && name_ok)
        .then_some(*region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_ranges_are_checked_never_clamped() {
        let with = |f: &dyn Fn(&mut Notifications)| {
            let mut n = Notifications::default();
            f(&mut n);
            n.validate().map_err(|e| e.to_string())
        };
        assert!(with(&|n| n.webhook_url = "https://hooks.slack.com/services/T/B/x".into()).is_ok());
        assert!(with(&|n| n.webhook_url = "http://127.0.0.1:8080/hook".into()).is_ok());
        assert!(with(&|n| n.webhook_url = "http://localhost/hook".into()).is_ok());
        let err =
            with(&|n| n.webhook_url = "http://hooks.example.com/T/secret".into()).unwrap_err();
        assert!(err.contains("https://"), "{err}");
        assert!(!err.contains("secret"), "the token is never echoed: {err}");
        assert!(with(&|n| n.webhook_url = "ftp://127.0.0.1/x".into()).is_err());
        assert!(with(&|n| n.webhook_url = "not a url".into()).is_err());
        assert!(
            with(&|n| n.sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops-alerts".into())
                .is_ok()
        );
        assert!(with(&|n| n.sns_topic_arn = "arn:aws:sns:eu-west-1:1234:ops".into()).is_err());
        assert!(
            with(&|n| n.sns_topic_arn = "arn:aws:sqs:eu-west-1:123456789012:ops".into()).is_err()
        );
        assert!(with(&|n| n.sns_topic_arn = "arn:aws:sns:mars-1:123456789012:ops".into()).is_err());
        assert_eq!(
            with(&|n| n.max_attempts = 0).unwrap_err(),
            "notifications.max_attempts 0 is out of range: 1 to 20"
        );
        assert!(with(&|n| n.max_attempts = 21).is_err());
        assert!(with(&|n| n.retry_base_ms = 99).is_err());
        assert!(with(&|n| n.retry_base_ms = 600_001).is_err());
    }

    #[test]
    fn the_webhook_token_is_masked_and_kept_through_a_round_trip() {
        let stored = Notifications {
            webhook_url: "https://hooks.slack.com/services/T0/B0/tok3n".into(),
            ..Notifications::default()
        };
        let shown = stored.redacted();
        assert_eq!(shown.webhook_url, "https://hooks.slack.com/****");
        let mut back = shown.clone();
        back.keep_secret_from(&stored);
        assert_eq!(back.webhook_url, stored.webhook_url);
        // A new URL replaces the stored one.
        let mut new = Notifications {
            webhook_url: "https://hooks.slack.com/services/T1/B1/other".into(),
            ..Notifications::default()
        };
        new.keep_secret_from(&stored);
        assert!(new.webhook_url.ends_with("other"));
        assert_eq!(
            redact_url("http://127.0.0.1:9/a?b=c"),
            "http://127.0.0.1:9/****"
        );
    }
}
