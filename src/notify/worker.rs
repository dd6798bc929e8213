//! The process's one delivery thread: woken when a notification is queued, and again when a
//! retry falls due, for as long as the process lives. A process that exits first leaves its
//! entries in the outbox for the next one.

use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Delivers one outbox's due entries.
pub trait Courier: Send + Sync {
    /// Which outbox it serves (one courier per outbox is kept: the latest).
    fn key(&self) -> String;
    /// One pass over what is due; returns when the earliest remaining entry falls due (Unix
    /// milliseconds).
    fn pass(&self) -> Option<i64>;
}

/// What the thread and the callers share, under one lock so a pass knows exactly which
/// requests it answers.
#[derive(Default)]
struct Shared {
    queue: Vec<Arc<dyn Courier>>,
    /// Passes asked for, and asked for before the last finished pass began.
    asked: u64,
    answered: u64,
}

struct Worker {
    state: Arc<(Mutex<Shared>, Condvar)>,
}

static WORKER: OnceLock<Option<Worker>> = OnceLock::new();

/// The longest the thread sleeps between passes while something waits.
const MAX_SLEEP: Duration = Duration::from_secs(60);

fn worker() -> Option<&'static Worker> {
    WORKER
        .get_or_init(|| {
            let state = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
            let s = state.clone();
            let spawned = std::thread::Builder::new()
                .name("opsdeck-notify".into())
                .spawn(move || run(&s));
            match spawned {
                Ok(_) => Some(Worker { state }),
                Err(e) => {
                    tracing::warn!(error = %e, "no notification thread: the outbox waits for the next start");
                    None
                }
            }
        })
        .as_ref()
}

fn run(state: &(Mutex<Shared>, Condvar)) {
    let (lock, cvar) = state;
    let mut couriers: Vec<Arc<dyn Courier>> = Vec::new();
    let mut wake: Option<Instant> = None;
    loop {
        let asked = {
            let Ok(mut g) = lock.lock() else { return };
            while g.queue.is_empty() {
                let wait = match wake {
                    Some(t) => t.saturating_duration_since(Instant::now()),
                    None => MAX_SLEEP,
                };
                if wake.is_some() && wait.is_zero() {
                    break;
                }
                let Ok((next, timeout)) = cvar.wait_timeout(g, wait) else {
                    return;
                };
                g = next;
                if timeout.timed_out() && wake.is_some() {
                    break;
                }
            }
            for c in g.queue.drain(..) {
                couriers.retain(|x| x.key() != c.key());
                couriers.push(c);
            }
            g.asked
        };
        let next = couriers.iter().filter_map(|c| c.pass()).min();
        if let Ok(mut g) = lock.lock() {
            g.answered = g.answered.max(asked);
        }
        cvar.notify_all();
        wake = next.map(|due_ms| {
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let wait = Duration::from_millis((due_ms - now_ms).max(50) as u64);
            Instant::now() + wait.min(MAX_SLEEP)
        });
    }
}

/// Asks the thread for a pass over `courier`'s outbox; returns at once.
pub fn kick(courier: Arc<dyn Courier>) {
    let Some(w) = worker() else { return };
    let (lock, cvar) = &*w.state;
    if let Ok(mut g) = lock.lock() {
        g.queue.push(courier);
        g.asked += 1;
    }
    cvar.notify_all();
}

/// Waits (at most `max`) until every pass asked for so far has run: a CLI command calls it
/// before it exits, so what it queued gets its first attempt. Whether it got there in time.
pub fn settle(max: Duration) -> bool {
    let Some(Some(w)) = WORKER.get() else {
        return true;
    };
    let deadline = Instant::now() + max;
    let (lock, cvar) = &*w.state;
    let Ok(mut g) = lock.lock() else {
        return false;
    };
    let target = g.asked;
    while g.answered < target {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match cvar.wait_timeout(g, left) {
            Ok((next, _)) => g = next,
            Err(_) => return false,
        }
    }
    true
}
