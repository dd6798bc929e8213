//! Failing fast against an endpoint that cannot be reached, for work that makes many AWS calls
//! and is better answered quickly than completely (a report). Inside [`fail_fast`], the first
//! call to an endpoint that fails to connect (refused, a connect timeout, no route) marks the
//! endpoint down for the rest of the run; every later request to it — the SDK's own retries of
//! that call included — fails at once, before anything is sent, and is not retried. Answers the
//! service gave (throttling, 5xx) are not connection failures: their retries are untouched.
//!
//! The run is carried from the calling thread ([`fail_fast`]) into the SDK future by
//! [`super::AwsAccess::block_on`] (a task-local), and read by the HTTP connector every client
//! of the access sends through (`calls.rs`), so concurrent work of the same session outside the
//! run is never affected.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::result::ConnectorError;

/// An endpoint found unreachable during a run, and what that cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreached {
    /// `scheme://host:port`
    pub endpoint: String,
    /// The call that found it down (`ce GetCostAndUsage`).
    pub call: String,
    /// Why it could not connect.
    pub detail: String,
    /// Requests refused at once afterwards (the SDK's retries included).
    pub not_sent: usize,
}

/// The endpoints one run found down.
#[derive(Debug, Default)]
pub struct Run {
    down: Mutex<BTreeMap<String, Unreached>>,
}

/// The error a request to an endpoint already found down fails with (not retried).
#[derive(Debug)]
pub struct NotSent {
    pub endpoint: String,
    /// The call that found it down, and why.
    pub first: String,
    /// A retry of a call (the SDK's second or later attempt), not a call of its own.
    pub retry: bool,
}

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not sent: {} could not be reached earlier in this run ({})",
            self.endpoint, self.first
        )
    }
}

impl std::error::Error for NotSent {}

impl Run {
    /// The error for a request to `endpoint` when it is already down (and counts it).
    pub(super) fn refuse(&self, endpoint: &str, retry: bool) -> Option<ConnectorError> {
        let mut down = self.down.lock().ok()?;
        let u = down.get_mut(endpoint)?;
        u.not_sent += 1;
        Some(ConnectorError::user(Box::new(NotSent {
            endpoint: u.endpoint.clone(),
            first: format!("{}: {}", u.call, u.detail),
            retry,
        })))
    }

    /// Notes what a request's connection failure says; the first one per endpoint wins.
    pub(super) fn failed(&self, endpoint: &str, call: &str, error: &ConnectorError) {
        if !(error.is_io() || error.is_timeout()) {
            return;
        }
        if let Ok(mut down) = self.down.lock() {
            down.entry(endpoint.to_string())
                .or_insert_with(|| Unreached {
                    endpoint: endpoint.to_string(),
                    call: call.to_string(),
                    detail: innermost(error),
                    not_sent: 0,
                });
        }
    }

    fn unreached(&self) -> Vec<Unreached> {
        self.down
            .lock()
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The deepest cause of an error, which says what happened (`Connection refused (os error
/// 111)`), rather than the layers around it.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut e = error;
    while let Some(next) = e.source() {
        e = next;
    }
    e.to_string()
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Run>>> = const { RefCell::new(None) };
}

tokio::task_local! {
    static IN_TASK: Arc<Run>;
}

/// Runs `f` with AWS calls failing fast (see the module); returns what it returned and the
/// endpoints found down, for the caller to say so. Nested runs share the outermost.
pub fn fail_fast<T>(f: impl FnOnce() -> T) -> (T, Vec<Unreached>) {
    let outer = CURRENT.with(|c| c.borrow().clone());
    let run = outer.clone().unwrap_or_default();
    CURRENT.with(|c| *c.borrow_mut() = Some(run.clone()));
    // Put back whatever was there, even if `f` panics.
    struct Restore(Option<Arc<Run>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let restore = Restore(outer);
    let out = f();
    drop(restore);
    (out, run.unreached())
}

/// `fut` carrying the calling thread's run, if any (for [`super::AwsAccess::block_on`]).
pub(super) fn carry<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let run = CURRENT.with(|c| c.borrow().clone());
    async move {
        match run {
            Some(r) => IN_TASK.scope(r, fut).await,
            None => fut.await,
        }
    }
}

/// The run the current SDK request belongs to, if any (for the HTTP connector).
pub(super) fn current() -> Option<Arc<Run>> {
    IN_TASK.try_with(|r| r.clone()).ok()
}

/// Whether a request is the SDK's retry of a call (`amz-sdk-request: attempt=2; max=3`).
pub(super) fn is_retry(attempt_header: Option<&str>) -> bool {
    attempt_header
        .and_then(|h| h.split(';').find_map(|p| p.trim().strip_prefix("attempt=")))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 1)
}

/// `scheme://host:port` of a request's URI (the port the scheme implies when none is given).
pub(super) fn endpoint_of(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        format!("{scheme}://{authority}")
    } else {
        let port = if scheme == "http" { 80 } else { 443 };
        format!("{scheme}://{authority}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_known_by_the_sdks_attempt_header() {
        assert!(is_retry(Some("attempt=2; max=3")));
        assert!(!is_retry(Some("attempt=1; max=3")));
        assert!(!is_retry(None));
    }

    #[test]
    fn endpoints_name_scheme_host_and_port() {
        assert_eq!(
            endpoint_of("http://127.0.0.1:5000/?Action=DescribeAlarms"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            endpoint_of("https://ce.us-east-1.amazonaws.com/"),
            "https://ce.us-east-1.amazonaws.com:443"
        );
    }

    #[test]
    fn a_refused_connection_marks_its_endpoint_down_and_later_requests_fail_unretried() {
        let run = Run::default();
        let io = ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        )));
        assert!(run.refuse("http://127.0.0.1:1", false).is_none());
        run.failed("http://127.0.0.1:1", "ce GetCostAndUsage", &io);
        let refused = run.refuse("http://127.0.0.1:1", true).expect("down");
        // Not an I/O error nor a timeout: the SDK's retry classifier does not retry it.
        assert!(!refused.is_io() && !refused.is_timeout() && refused.is_user());
        assert!(
            run.refuse("http://127.0.0.1:2", false).is_none(),
            "other endpoints go on"
        );
        // An error that is not a connection failure marks nothing.
        run.failed(
            "http://127.0.0.1:3",
            "ec2 X",
            &ConnectorError::user("bad request".into()),
        );
        let down = run.unreached();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].call, "ce GetCostAndUsage");
        assert_eq!(down[0].not_sent, 1);
        assert!(down[0].detail.contains("Connection refused"), "{down:?}");
    }

    #[test]
    fn a_run_is_the_calling_threads_until_it_returns() {
        let ((), outside) = fail_fast(|| {
            assert!(CURRENT.with(|c| c.borrow().is_some()));
        });
        assert!(outside.is_empty());
        assert!(CURRENT.with(|c| c.borrow().is_none()));
    }
}
