//! `[retention]` of the tenant settings: how long the shared backend keeps a tenant's audit
//! evidence and its plan artifacts (docs/backend.md, "Retention per tenant").
//!
//! - Audit evidence (execution logs and the chain's checkpoints in the audit-logs bucket) is
//!   written with an Object Lock retain-until `audit_years` ahead, in `audit_lock_mode`.
//! - Plan artifacts (the artifacts bucket, except Terraform state) and stored reports expire
//!   `artifact_days` after they were written, by a lifecycle rule on the tenant's prefix
//!   (0: they never expire, as before retention existed).
//!
//! Audit evidence must outlive the artifacts it speaks for: a plan's files without the record of
//! who approved and applied them are files nobody can account for. So while artifacts expire,
//! `audit_years` must cover `artifact_days`. In compliance mode nobody, root included, can shorten
//! a lock: a tenant in compliance mode may lengthen its audit retention but never shorten it or
//! leave compliance mode, so the settings never promise less than the objects already carry.

use serde::{Deserialize, Serialize};

use super::TenantError;

pub const MIN_AUDIT_YEARS: u32 = 1;
/// S3 refuses a default retention over 100 years.
pub const MAX_AUDIT_YEARS: u32 = 100;
/// A hundred years of days: S3 accepts any positive number, nothing needs more.
pub const MAX_ARTIFACT_DAYS: u32 = 36_500;
/// Days in a year of retention, as S3 counts `Years` of a default retention.
pub const DAYS_PER_YEAR: u32 = 365;

/// Object Lock's two modes (S3's `COMPLIANCE` and `GOVERNANCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    /// Nobody can delete a locked version or shorten its lock before it passes, root included.
    Compliance,
    /// Principals with `s3:BypassGovernanceRetention` can; everyone else cannot.
    Governance,
}

impl LockMode {
    /// The name S3 uses.
    pub fn as_s3(self) -> &'static str {
        match self {
            LockMode::Compliance => "COMPLIANCE",
            LockMode::Governance => "GOVERNANCE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Years each audit-log object cannot be deleted ([`MIN_AUDIT_YEARS`] to
    /// [`MAX_AUDIT_YEARS`]).
    pub audit_years: u32,
    pub audit_lock_mode: LockMode,
    /// Days after which plan artifacts and reports expire (1 to [`MAX_ARTIFACT_DAYS`]), or 0:
    /// never.
    pub artifact_days: u32,
}

impl Default for Retention {
    /// One year in compliance mode (the backend's audit-log default before tenants had a
    /// setting), and artifacts kept.
    fn default() -> Self {
        Retention {
            audit_years: 1,
            audit_lock_mode: LockMode::Compliance,
            artifact_days: 0,
        }
    }
}

impl Retention {
    pub(super) fn validate(&self) -> Result<(), TenantError> {
        let bad = |setting: &str, value: String, allowed: String| {
            Err(TenantError::OutOfRange {
                setting: setting.into(),
                value,
                allowed,
            })
        };
        if !(MIN_AUDIT_YEARS..=MAX_AUDIT_YEARS).contains(&self.audit_years) {
            return bad(
                "retention.audit_years",
                self.audit_years.to_string(),
                format!("{MIN_AUDIT_YEARS} to {MAX_AUDIT_YEARS} years"),
            );
        }
        if self.artifact_days > MAX_ARTIFACT_DAYS {
            return bad(
                "retention.artifact_days",
                self.artifact_days.to_string(),
                format!("1 to {MAX_ARTIFACT_DAYS} days, or 0 to keep artifacts"),
            );
        }
        if self.artifact_days > self.audit_days() {
            return bad(
                "retention.artifact_days",
                self.artifact_days.to_string(),
                format!(
                    "at most the audit retention ({} years = {} days): audit evidence must outlive the artifacts it speaks for; raise retention.audit_years to {} or lower artifact_days",
                    self.audit_years,
                    self.audit_days(),
                    self.artifact_days.div_ceil(DAYS_PER_YEAR)
                ),
            );
        }
        Ok(())
    }

    /// Whether the tenant may go from `old` to these settings: in compliance mode, audit
    /// retention only grows (a promise no one can take back, like the locks themselves).
    pub fn change_from(&self, old: &Retention) -> Result<(), TenantError> {
        if old.audit_lock_mode != LockMode::Compliance {
            return Ok(());
        }
        if self.audit_lock_mode != LockMode::Compliance {
            return Err(TenantError::OutOfRange {
                setting: "retention.audit_lock_mode".into(),
                value: "\"governance\"".into(),
                allowed: "\"compliance\": a tenant in compliance mode stays in it (its locks cannot be weakened)".into(),
            });
        }
        if self.audit_years < old.audit_years {
            return Err(TenantError::OutOfRange {
                setting: "retention.audit_years".into(),
                value: self.audit_years.to_string(),
                allowed: format!(
                    "{} to {MAX_AUDIT_YEARS} years: in compliance mode audit retention can be lengthened, never shortened",
                    old.audit_years
                ),
            });
        }
        Ok(())
    }

    /// The audit retention in days (the unit lifecycle rules and `artifact_days` use).
    pub fn audit_days(&self) -> u32 {
        self.audit_years * DAYS_PER_YEAR
    }

    /// Whether artifacts expire at all.
    pub fn artifacts_expire(&self) -> bool {
        self.artifact_days > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(audit_years: u32, mode: LockMode, artifact_days: u32) -> Retention {
        Retention {
            audit_years,
            audit_lock_mode: mode,
            artifact_days,
        }
    }

    #[test]
    fn out_of_range_is_refused_with_the_range() {
        let e = r(0, LockMode::Compliance, 0).validate().unwrap_err();
        assert!(e.to_string().contains("1 to 100 years"), "{e}");
        let e = r(101, LockMode::Compliance, 0).validate().unwrap_err();
        assert!(e.to_string().contains("retention.audit_years 101"), "{e}");
        let e = r(100, LockMode::Compliance, 36_501).validate().unwrap_err();
        assert!(e.to_string().contains("1 to 36500 days"), "{e}");
        assert!(r(100, LockMode::Governance, 36_500).validate().is_ok());
        assert!(Retention::default().validate().is_ok());
    }

    #[test]
    fn artifacts_cannot_outlive_the_audit() {
        let e = r(1, LockMode::Compliance, 366).validate().unwrap_err();
        assert!(
            e.to_string().contains("raise retention.audit_years to 2"),
            "{e}"
        );
        assert!(r(1, LockMode::Compliance, 365).validate().is_ok());
        assert!(r(2, LockMode::Compliance, 366).validate().is_ok());
    }

    #[test]
    fn compliance_only_lengthens() {
        let old = r(5, LockMode::Compliance, 30);
        assert!(r(7, LockMode::Compliance, 90).change_from(&old).is_ok());
        let e = r(4, LockMode::Compliance, 30)
            .change_from(&old)
            .unwrap_err();
        assert!(e.to_string().contains("5 to 100 years"), "{e}");
        assert!(r(5, LockMode::Governance, 30).change_from(&old).is_err());
        let gov = r(5, LockMode::Governance, 30);
        assert!(r(1, LockMode::Compliance, 30).change_from(&gov).is_ok());
    }
}
