//! What a running request is waiting for, and stopping it: while an agent works, a watcher
//! reports the AWS call in flight once a second ([`AgentEvent::Waiting`]); `cancel_running`
//! abandons the call (the SDK future is dropped) and ends the request cancelled.

use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use super::Requests;
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;

/// How often the watcher looks at the calls in flight.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// A call is reported once it has waited this long (quick calls never are).
const REPORT_AFTER: Duration = Duration::from_secs(1);

impl Requests<'_> {
    /// Stops the session's running requests: the AWS call each waits for is abandoned at once
    /// and every later call refused until the request's agent returns; each ends cancelled
    /// (audited `cancelled`, never `failed`).
    pub fn cancel_running(&self) {
        self.aws.calls().cancel();
    }

    /// Runs `work` (an agent answering a request) while a watcher tells `sink`, once a second,
    /// which AWS call it waits for and for how long; `call: None` once that call answered.
    pub(super) fn reporting_waits<T>(
        &self,
        agent: AgentKind,
        sink: Sink<'_>,
        work: impl FnOnce() -> T,
    ) -> T {
        let board = self.aws.calls();
        board.begin();
        let (stop, stopped) = channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut said: Option<(String, u64)> = None;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LOOK_EVERY) {
                    let oldest = board.in_flight().into_iter().max_by_key(|c| c.elapsed);
                    match oldest {
                        Some(c) if c.elapsed >= REPORT_AFTER => {
                            let now = (
                                format!("{} {}", c.service, c.operation),
                                c.elapsed.as_secs(),
                            );
                            if said.as_ref() != Some(&now) {
                                sink(AgentEvent::Waiting {
                                    agent,
                                    call: Some(now.0.clone()),
                                    elapsed_secs: now.1,
                                });
                                said = Some(now);
                            }
                        }
                        _ => {
                            if said.take().is_some() {
                                sink(AgentEvent::Waiting {
                                    agent,
                                    call: None,
                                    elapsed_secs: 0,
                                });
                            }
                        }
                    }
                }
                if said.is_some() {
                    sink(AgentEvent::Waiting {
                        agent,
                        call: None,
                        elapsed_secs: 0,
                    });
                }
            });
            let out = work();
            drop(stop);
            // The cancel held for this request only: later work of the session (a drift check,
            // the next request) calls AWS again.
            board.begin();
            out
        })
    }
}
