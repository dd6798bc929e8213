//! `[drift]` of the tenant settings: whether drift checks run on a schedule, and how often.
//! `opsdeck drift --watch` (and the runner, when it calls [`crate::pipeline::Drift::run_if_due`])
//! checks every applied stack once per interval.

use serde::{Deserialize, Serialize};

use super::TenantError;

/// The shortest interval: a check runs `terraform plan` on every stack, under its lock.
pub const MIN_INTERVAL_MINUTES: u32 = 5;
/// The longest: a week.
pub const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftSchedule {
    /// Off by default: nothing runs on a timer until an admin turns it on.
    pub enabled: bool,
    /// Minutes between two scheduled checks ([`MIN_INTERVAL_MINUTES`] to
    /// [`MAX_INTERVAL_MINUTES`]).
    pub interval_minutes: u32,
}

impl Default for DriftSchedule {
    fn default() -> Self {
        DriftSchedule {
            enabled: false,
            interval_minutes: 60,
        }
    }
}

impl DriftSchedule {
    pub(super) fn validate(&self) -> Result<(), TenantError> {
        if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&self.interval_minutes) {
            return Err(TenantError::OutOfRange {
                setting: "drift.interval_minutes".into(),
                value: self.interval_minutes.to_string(),
                allowed: format!(
                    "{MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES} minutes (one week)"
                ),
            });
        }
        Ok(())
    }

    /// Seconds between two scheduled checks.
    pub fn interval_secs(&self) -> i64 {
        i64::from(self.interval_minutes) * 60
    }
}
