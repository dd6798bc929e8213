//! `[reports]` of the tenant settings: how often the Reports pane builds and stores each report
//! again in the background.

use serde::{Deserialize, Serialize};

use super::TenantError;

/// The shortest interval: every report reads the whole trail (and AWS, for cost, security and
/// monitoring) and is stored as an artifact.
pub const MIN_REFRESH_MINUTES: u32 = 5;
/// The longest: a day.
pub const MAX_REFRESH_MINUTES: u32 = 24 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Minutes after which a stored report counts as stale and the open Reports pane builds it
    /// again ([`MIN_REFRESH_MINUTES`] to [`MAX_REFRESH_MINUTES`]).
    pub refresh_minutes: u32,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            refresh_minutes: 60,
        }
    }
}

impl ReportSettings {
    pub(super) fn validate(&self) -> Result<(), TenantError> {
        if !(MIN_REFRESH_MINUTES..=MAX_REFRESH_MINUTES).contains(&self.refresh_minutes) {
            return Err(TenantError::OutOfRange {
                setting: "reports.refresh_minutes".into(),
                value: self.refresh_minutes.to_string(),
                allowed: format!(
                    "{MIN_REFRESH_MINUTES} to {MAX_REFRESH_MINUTES} minutes (one day)"
                ),
            });
        }
        Ok(())
    }

    /// Seconds after which a stored report is stale.
    pub fn refresh_secs(&self) -> i64 {
        i64::from(self.refresh_minutes) * 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_intervals_are_refused_not_clamped() {
        assert!(ReportSettings::default().validate().is_ok());
        for bad in [0, 4, 1441] {
            let e = ReportSettings {
                refresh_minutes: bad,
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(e.contains("reports.refresh_minutes"), "{e}");
        }
        for ok in [5, 1440] {
            assert!(
                ReportSettings {
                    refresh_minutes: ok
                }
                .validate()
                .is_ok()
            );
        }
    }
}
