//! The runner's records on a backend: who has claimed an approved plan (one claim per plan, taken
//! with a conditional write, kept alive by heartbeats, taken over once its holder goes silent)
//! and the progress and log lines of a run, written by the runner and read by every follower.

use serde::{Deserialize, Serialize};

use crate::time::Stamp;

/// Fewest and most seconds between a runner's heartbeats.
pub const HEARTBEAT_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=300;
/// A claim is stale after at least three missed heartbeats, at most an hour.
pub const STALE_AFTER_MIN_BEATS: u64 = 3;
pub const STALE_AFTER_MAX_SECS: u64 = 3600;

/// A runner's claim on one approved plan. Only the runner holding the claim starts the plan; the
/// plan's own state change (approved → executing, conditional) makes a second start impossible
/// even if two claims were ever believed held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunClaim {
    pub tenant: String,
    pub plan_id: String,
    /// Random id of this claim: only its holder renews or releases it.
    pub claim_id: String,
    /// The runner's name (`opsdeck runner --name`, default `<host>-<pid>`).
    pub runner: String,
    /// The registered user the runner acts as.
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub claimed_at: Stamp,
    pub heartbeat_at: Stamp,
    /// What the holder promised: a claim not renewed for this long is stale. Carried in the
    /// claim so whoever judges it uses the holder's own promise.
    pub stale_after_secs: u64,
}

impl RunClaim {
    pub fn is_stale(&self, now_unix: i64) -> bool {
        now_unix - self.heartbeat_at.as_second() > self.stale_after_secs as i64
    }

    /// "runner r1 (user runner, host h, pid 12), last heartbeat 2026-…".
    pub fn describe(&self) -> String {
        format!(
            "runner {} (user {}, host {}, pid {}), last heartbeat {}",
            self.runner, self.user, self.host, self.pid, self.heartbeat_at
        )
    }
}

/// What one line of a run's log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunLogKind {
    /// The runner's own account of what it does (claimed, step 2/3, took over, ...).
    Progress,
    /// A line a tool printed (terraform, ansible-playbook, an AWS step).
    Output,
    /// The run ended; `text` is the final state (`succeeded`, `failed`, `cancelled`).
    Finished,
}

/// One entry of a run's log as the backend keeps it. Text is redacted before it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLogEntry {
    /// Position in the plan's log, from 1; a writer never reuses one.
    pub seq: u64,
    pub at: Stamp,
    pub runner: String,
    pub kind: RunLogKind,
    pub text: String,
}
