//! What running work is waiting for, and stopping it. While an agent answers a request, while
//! a plan's dry runs run (terraform, ansible-playbook) and while an approved plan's steps run,
//! a watcher reports once a second what it waits for ([`AgentEvent::Waiting`]): the oldest AWS
//! call in flight, else the tool phase the runners announced ([`AgentEvent::ToolPhase`]:
//! `terraform plan`), with its seconds. `cancel_running` abandons a request's AWS call (the
//! SDK future is dropped) and ends the request cancelled.

use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::{Deck, Requests};
use crate::aws::calls::CallBoard;
use crate::events::{AgentEvent, Sink};
use crate::intent::AgentKind;

/// How often the watcher looks at what is in flight.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// A wait is reported once it has lasted this long (quick calls and phases never are).
const REPORT_AFTER: Duration = Duration::from_secs(1);

/// One piece of work's waits: its sink, the tool phase it is in, and what it said last.
pub(super) struct Waits<'a> {
    board: &'a CallBoard,
    agent: AgentKind,
    sink: Sink<'a>,
    phase: Mutex<Option<(String, Instant)>>,
    said: Mutex<Option<(String, u64)>>,
}

impl<'a> Waits<'a> {
    fn new(board: &'a CallBoard, agent: AgentKind, sink: Sink<'a>) -> Waits<'a> {
        Waits {
            board,
            agent,
            sink,
            phase: Mutex::new(None),
            said: Mutex::new(None),
        }
    }

    /// What the work reports: a tool phase is noted (and reported as a wait), the rest passes.
    pub(super) fn forward(&self, e: AgentEvent) {
        match e {
            AgentEvent::ToolPhase { phase, .. } => {
                *self.phase.lock().unwrap() = Some((phase, Instant::now()));
            }
            e => (self.sink)(e),
        }
    }

    /// The oldest AWS call in flight, else the current tool phase, once it has lasted a second.
    fn current(&self) -> Option<(String, u64)> {
        let call = self
            .board
            .in_flight()
            .into_iter()
            .max_by_key(|c| c.elapsed)
            .filter(|c| c.elapsed >= REPORT_AFTER)
            .map(|c| {
                (
                    format!("{} {}", c.service, c.operation),
                    c.elapsed.as_secs(),
                )
            });
        call.or_else(|| {
            self.phase
                .lock()
                .unwrap()
                .as_ref()
                .filter(|(_, since)| since.elapsed() >= REPORT_AFTER)
                .map(|(p, since)| (p.clone(), since.elapsed().as_secs()))
        })
    }

    /// Tells the sink when what it waits for (or its seconds) changed.
    fn look(&self) {
        let now = self.current();
        let mut said = self.said.lock().unwrap();
        match now {
            Some(now) if said.as_ref() != Some(&now) => {
                (self.sink)(AgentEvent::Waiting {
                    agent: self.agent,
                    call: Some(now.0.clone()),
                    elapsed_secs: now.1,
                });
                *said = Some(now);
            }
            Some(_) => {}
            None => {
                if said.take().is_some() {
                    self.done_saying();
                }
            }
        }
    }

    fn done_saying(&self) {
        (self.sink)(AgentEvent::Waiting {
            agent: self.agent,
            call: None,
            elapsed_secs: 0,
        });
    }

    /// Runs `work` with a watcher beside it in the same task (it reports through
    /// [`Waits::forward`]). A mutating call in flight is not abandoned on cancel: the steps
    /// stop between targets, so what AWS did is always known.
    pub(super) async fn drive<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let mut running = std::pin::pin!(work);
        loop {
            tokio::select! {
                out = &mut running => {
                    self.end();
                    return out;
                }
                _ = tokio::time::sleep(LOOK_EVERY) => self.look(),
            }
        }
    }

    /// The work ended: nothing is waited for any more.
    fn end(&self) {
        if self.said.lock().unwrap().take().is_some() {
            self.done_saying();
        }
    }
}

impl Deck {
    /// Runs `work` while a watcher tells `sink`, once a second, what it waits for (an AWS call
    /// or a tool phase) and for how long; `call: None` once it answered. `work` reports
    /// through the sink it is given.
    pub(super) fn watching_waits<T>(
        &self,
        agent: AgentKind,
        sink: Sink<'_>,
        work: impl FnOnce(Sink<'_>) -> T,
    ) -> T {
        let waits = Waits::new(self.aws.calls(), agent, sink);
        let (stop, stopped) = channel::<()>();
        std::thread::scope(|s| {
            let watcher = &waits;
            s.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LOOK_EVERY) {
                    watcher.look();
                }
                watcher.end();
            });
            let forward = |e: AgentEvent| waits.forward(e);
            let out = work(&forward);
            drop(stop);
            out
        })
    }

    /// What async work (an apply's steps) waits for: report through [`Waits::forward`] and run
    /// the work with [`Waits::drive`].
    pub(super) fn waits<'a>(&'a self, agent: AgentKind, sink: Sink<'a>) -> Waits<'a> {
        Waits::new(self.aws.calls(), agent, sink)
    }
}

impl Requests<'_> {
    /// Stops the session's running requests: the AWS call each waits for is abandoned at once
    /// and every later call refused until the request's agent returns; each ends cancelled
    /// (audited `cancelled`, never `failed`).
    pub fn cancel_running(&self) {
        self.aws.calls().cancel();
    }

    /// Runs `work` (an agent answering a request) while its waits are reported
    /// ([`Deck::watching_waits`]); a cancel holds for this request only.
    pub(super) fn reporting_waits<T>(
        &self,
        agent: AgentKind,
        sink: Sink<'_>,
        work: impl FnOnce(Sink<'_>) -> T,
    ) -> T {
        let board = self.aws.calls();
        board.begin();
        let out = self.watching_waits(agent, sink, work);
        // The cancel held for this request only: later work of the session (a drift check,
        // the next request) calls AWS again.
        board.begin();
        out
    }
}
