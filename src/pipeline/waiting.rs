//! What running work is waiting for, and stopping it. While an agent answers a request, while
//! a plan's dry runs run (terraform, ansible-playbook) and while an approved plan's steps run,
//! a watcher reports once a second what it waits for ([`AgentEvent::Waiting`]): the oldest AWS
//! call in flight, else the tool phase the runners announced ([`AgentEvent::ToolPhase`]:
//! `terraform plan`), with its seconds. `cancel_running` stops a request wherever it is: the
//! AWS call its agent waits for is abandoned (the SDK future is dropped), a dry run's tool is
//! signalled (`iac/dry_runs.rs`), and the request ends cancelled. An apply's cancel abandons
//! the AWS call its step waits for ([`Deck::abandoning_on_cancel`]).

use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::{Deck, Requests};
use crate::aws::calls::{CallBoard, CallInFlight};
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
    /// [`Waits::forward`]).
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

    /// Runs `work` (an apply's AWS API steps), abandoning the session's AWS calls in flight
    /// once `cancel` says so: a hung call gives up at once instead of waiting out the SDK's
    /// timeout. Returns what `work` returned and, when it abandoned, what was in flight then
    /// (each call with the targets it acted on; its effect at AWS is unknown).
    pub(super) async fn abandoning_on_cancel<T>(
        &self,
        mut cancel: tokio::sync::watch::Receiver<bool>,
        work: impl std::future::Future<Output = T>,
    ) -> (T, Option<Vec<CallInFlight>>) {
        let board = self.aws.calls();
        let mut running = std::pin::pin!(work);
        let mut abandoned = None;
        let mut closed = false;
        let abandon = |abandoned: &mut Option<Vec<CallInFlight>>| {
            board.abandon();
            *abandoned = Some(board.at_cancel());
        };
        if *cancel.borrow_and_update() {
            abandon(&mut abandoned);
        }
        loop {
            tokio::select! {
                out = &mut running => return (out, abandoned),
                changed = cancel.changed(), if abandoned.is_none() && !closed => match changed {
                    // Nobody can cancel any more.
                    Err(_) => closed = true,
                    Ok(()) if *cancel.borrow_and_update() => abandon(&mut abandoned),
                    Ok(()) => {}
                },
            }
        }
    }
}

impl Requests<'_> {
    /// Stops the session's running requests wherever they are: the AWS call each waits for is
    /// abandoned at once and every later call refused, a running dry run's tool is signalled
    /// (TERM to its process group, KILL after a short grace), and no plan is stored; each ends
    /// cancelled (audited `cancelled` once, never `failed`). The cancel holds until the
    /// requests end ([`CallBoard::work`]).
    pub fn cancel_running(&self) {
        self.aws.calls().cancel();
    }
}
