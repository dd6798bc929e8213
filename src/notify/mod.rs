//! Notifications: what a plan's life tells the people concerned (a plan awaits their approval;
//! their plan was approved, rejected, applied or failed; a stack drifted), sent to the tenant's
//! webhook (Slack-compatible JSON) and/or SNS topic.
//!
//! They are made from the audit events the core appends (one hook, `Deck::append`), written to
//! a persistent outbox in the person's data directory, and delivered by a background worker
//! with exponential back-off: a request never waits for a receiver, and a CLI process that
//! exits loses nothing (the next start, or `opsdeck notify flush`, delivers what is left).
//!
//! - [`outbox`]: the outbox on disk (pending, in flight, given up), safe between processes.
//! - [`send`]: one attempt at one target.
//! - [`worker`]: the process's background delivery thread.

pub mod outbox;
pub mod send;
pub mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::tenant::NotificationKind;

/// One notification, as stored in the outbox and sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub tenant: String,
    /// The audit event it was made from.
    pub event_id: String,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Who did what the notification reports.
    pub actor: String,
    /// Who it is for: the people who may approve, or the requester.
    pub recipients: Vec<String>,
    /// What the plan does (its summary), when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Why: a rejection's reason, a failure's message, an approval's progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub at: String,
}

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Sns,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Sns => "sns",
        }
    }
}

impl Notification {
    /// One line a person reads in a chat channel or an e-mail subject.
    pub fn headline(&self) -> String {
        let plan = self.plan_id.as_deref().map(short_id).unwrap_or_default();
        let whom = if self.recipients.is_empty() {
            "nobody registered may approve it yet".to_string()
        } else {
            self.recipients.join(", ")
        };
        match self.kind {
            NotificationKind::PendingApproval => format!(
                "Plan {plan} in tenant {} awaits approval by {whom} (requested by {})",
                self.tenant, self.actor
            ),
            NotificationKind::Approved => format!(
                "{} approved plan {plan} in tenant {} (for {whom})",
                self.actor, self.tenant
            ),
            NotificationKind::Rejected => format!(
                "{} rejected plan {plan} in tenant {} (for {whom})",
                self.actor, self.tenant
            ),
            NotificationKind::Applied => format!(
                "Plan {plan} in tenant {} was applied by {} (for {whom})",
                self.tenant, self.actor
            ),
            NotificationKind::ApplyFailed => format!(
                "Applying plan {plan} in tenant {} failed (for {whom})",
                self.tenant
            ),
            NotificationKind::DriftFound => match &self.stack {
                Some(stack) => format!(
                    "Stack {stack} in tenant {} drifted from what was applied",
                    self.tenant
                ),
                None => format!(
                    "Configured hosts in tenant {} drifted from what was applied",
                    self.tenant
                ),
            },
        }
    }

    /// The Slack-compatible body: `text` (and blocks) for chat, `opsdeck` for programs. Request
    /// words are data: Slack's control characters are escaped, so a summary cannot mention
    /// `@channel` or forge a link.
    pub fn webhook_body(&self) -> Value {
        let mut lines = vec![format!("*{}*", slack_escape(&self.headline()))];
        if !self.summary.is_empty() {
            lines.push(slack_escape(&self.summary));
        }
        if let Some(d) = &self.detail {
            lines.push(format!("_{}_", slack_escape(d)));
        }
        let text = lines.join("\n");
        json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&format!(
                    "opsdeck · {} · tenant {}{}",
                    self.kind.as_str(),
                    self.tenant,
                    self.plan_id.as_deref().map(|p| format!(" · plan {p}")).unwrap_or_default()
                ))}]}
            ],
            "opsdeck": self,
        })
    }
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Slack's mrkdwn reads `<...>` as mentions and links, and `&` as an entity.
fn slack_escape(s: &str) -> String {
    crate::sanitize::line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The wait after `attempts` failed attempts: base, 2 × base, 4 × base ... up to an hour.
pub fn backoff(retry_base_ms: u64, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    Duration::from_millis(retry_base_ms.saturating_mul(factor).min(3_600_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: NotificationKind) -> Notification {
        Notification {
            id: "n1".into(),
            kind,
            tenant: "acme".into(),
            event_id: "e1".into(),
            request_id: "r1".into(),
            plan_id: Some("0123456789abcdef".into()),
            stack: None,
            actor: "olga".into(),
            recipients: vec!["bob".into()],
            summary: "create 2 <!channel> instances & more".into(),
            detail: None,
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_body_is_slack_shaped_and_request_words_cannot_mention_anyone() {
        let body = note(NotificationKind::PendingApproval).webhook_body();
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("*Plan 01234567 in tenant acme awaits approval by bob"));
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(
            text.contains("&lt;!channel&gt; instances &amp; more"),
            "{text}"
        );
        assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(body["opsdeck"]["kind"], "pending_approval");
        assert_eq!(body["opsdeck"]["recipients"][0], "bob");
    }

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 2), Duration::from_secs(2));
        assert_eq!(backoff(1000, 4), Duration::from_secs(8));
        assert_eq!(backoff(600_000, 20), Duration::from_secs(3600));
    }
}
