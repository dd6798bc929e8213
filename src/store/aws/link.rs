//! Whether the shared backend answers: one link per store, marked down on an outage and
//! probed again with backoff, so a session keeps working from its journal and cache meanwhile.

use crate::store::BackendHealth;
use crate::time::Stamp;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether calls go out, and since when they do not.
#[derive(Default)]
pub(super) struct Link {
    state: Mutex<LinkState>,
}

#[derive(Default)]
pub(super) struct LinkState {
    down: Option<Down>,
    queued: usize,
    dead: usize,
}

pub(super) struct Down {
    since: Stamp,
    reason: String,
    retry_at: Instant,
    backoff: Duration,
}

pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Link {
    /// While down and before the next probe is due: the reason (calls fail fast).
    pub(super) fn blocked(&self) -> Option<String> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.down
            .as_ref()
            .filter(|d| Instant::now() < d.retry_at)
            .map(|d| format!("{} (since {})", d.reason, d.since))
    }

    pub(super) fn failed(&self, reason: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (since, backoff) = match &st.down {
            Some(d) => (d.since.clone(), (d.backoff * 2).min(MAX_BACKOFF)),
            None => {
                tracing::warn!(
                    reason,
                    "shared backend unreachable: working from the local copy"
                );
                (Stamp::now(), FIRST_BACKOFF)
            }
        };
        st.down = Some(Down {
            since,
            reason: reason.to_string(),
            retry_at: Instant::now() + backoff,
            backoff,
        });
    }

    pub(super) fn ok(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = st.down.take() {
            tracing::info!(since = %d.since, "shared backend reachable again");
        }
    }

    pub(super) fn set_counts(&self, queued: usize, dead: usize) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.queued = queued;
        st.dead = dead;
    }

    pub(super) fn add_queued(&self, n: usize) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).queued += n;
    }

    pub(super) fn health(&self) -> BackendHealth {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        BackendHealth {
            reachable: st.down.is_none(),
            since: st.down.as_ref().map(|d| d.since.clone()),
            reason: st.down.as_ref().map(|d| d.reason.clone()),
            queued: st.queued,
            dead_letters: st.dead,
        }
    }
}

/// A pause before trying a lost race again: exponential with full jitter (10 ms doubling up to
/// a second), so many writers on one head spread out instead of colliding again.
pub(super) fn backoff(attempt: u32) {
    let cap = (10u64 << attempt.min(7)).min(1000);
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    let ms = u16::from_le_bytes(b) as u64 % (cap + 1);
    std::thread::sleep(Duration::from_millis(ms.max(1)));
}
