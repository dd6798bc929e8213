//! The notification outbox in a status line: nothing while all is delivered.

use crate::notify::outbox::OutboxStatus;

/// What the status bar says about notifications, and whether it is a failure.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyBadge {
    pub text: String,
    pub failed: bool,
}

impl NotifyBadge {
    pub fn of(s: &OutboxStatus) -> Option<NotifyBadge> {
        if s.failed > 0 {
            Some(NotifyBadge {
                text: format!(
                    "{} notification{} failed (opsdeck notify status)",
                    s.failed,
                    if s.failed == 1 { "" } else { "s" }
                ),
                failed: true,
            })
        } else if s.pending > 0 {
            Some(NotifyBadge {
                text: format!(
                    "{} notification{} to send{}",
                    s.pending,
                    if s.pending == 1 { "" } else { "s" },
                    if s.last_error.is_some() {
                        ", retrying"
                    } else {
                        ""
                    }
                ),
                failed: s.last_error.is_some(),
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_failures_and_silence_means_delivered() {
        assert_eq!(NotifyBadge::of(&OutboxStatus::default()), None);
        let b = NotifyBadge::of(&OutboxStatus {
            pending: 1,
            failed: 2,
            last_error: Some("webhook: HTTP 500".into()),
        })
        .unwrap();
        assert_eq!(b.text, "2 notifications failed (opsdeck notify status)");
        assert!(b.failed);
        let b = NotifyBadge::of(&OutboxStatus {
            pending: 1,
            failed: 0,
            last_error: Some("x".into()),
        })
        .unwrap();
        assert_eq!(b.text, "1 notification to send, retrying");
    }
}
