//! The AWS calls a session has in flight, and cancelling them. Every SDK client built from an
//! [`super::AwsAccess`] sends through [`WatchedClient`], which notes each request on the
//! session's [`CallBoard`] (service, operation, since when) until its answer arrives or the
//! future is dropped; [`super::AwsAccess::block_on`] drops the future when the session's
//! requests are cancelled, which aborts the call. Work that awaits SDK futures itself (an
//! apply's steps) names the targets a call acts on ([`on_targets`]) and is stopped with
//! [`CallBoard::abandon`]: the call fails at the HTTP client, and what it was doing is known.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::sync::watch;

/// One call waiting for its answer, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInFlight {
    /// The service's signing name (`ec2`, `s3`, `logs`, `monitoring`).
    pub service: String,
    /// The operation (`DescribeInstances`) where the request names it (query and JSON
    /// protocols), else the method and path (`GET /bucket?policy`).
    pub operation: String,
    pub elapsed: Duration,
    /// The targets the call acts on, where the work named them ([`on_targets`]).
    pub targets: Vec<String>,
}

/// The error an abandoned call fails with at the HTTP client, read back by [`is_abandoned`].
const ABANDONED: &str = "cancelled: the call was abandoned";

tokio::task_local! {
    /// The targets the calls made inside [`on_targets`] act on.
    static TARGETS: Vec<String>;
}

/// Runs `work` (SDK calls on `targets`) so that each call it makes is noted with its targets:
/// an abandoned call then says what it was acting on.
pub async fn on_targets<F: std::future::Future>(targets: &[String], work: F) -> F::Output {
    TARGETS.scope(targets.to_vec(), work).await
}

/// Whether an SDK error is a call given up by [`CallBoard::abandon`]: its effect at AWS is
/// unknown (the request may have been received), so it is neither done nor failed.
pub fn is_abandoned(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut at = Some(err);
    while let Some(e) = at {
        if e.to_string().contains(ABANDONED) {
            return true;
        }
        at = e.source();
    }
    false
}

impl fmt::Display for CallInFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}… {} s",
            self.service,
            self.operation,
            self.elapsed.as_secs()
        )
    }
}

#[derive(Debug)]
struct Entry {
    id: u64,
    service: String,
    operation: String,
    targets: Vec<String>,
    started: Instant,
}

/// The session's calls in flight and its cancel switch.
#[derive(Debug)]
pub struct CallBoard {
    next: AtomicU64,
    calls: Mutex<Vec<Entry>>,
    /// Set by [`CallBoard::cancel`] until [`CallBoard::begin`] (the cancelled request's agent
    /// returned, or the next request begins): every wait in between
    /// returns cancelled at once, so an agent that carries on after one failed call cannot
    /// start another.
    cancelled: AtomicBool,
    /// Bumped on every cancel; waits watch it.
    generation: watch::Sender<u64>,
    /// What was in flight when the last cancel came: what the cancelled request says.
    at_cancel: Mutex<Vec<CallInFlight>>,
    /// Set by [`CallBoard::abandon`] until [`CallBoard::begin`]: calls in flight give up at the
    /// connector, for async work that awaits SDK futures itself (an apply's steps).
    abandoning: AtomicBool,
    abandoned: watch::Sender<u64>,
    /// Pieces of work (requests, applies) running now ([`CallBoard::work`]): a cancel holds
    /// until the last of them ends, and the first to begin clears the one before.
    working: AtomicUsize,
}

impl Default for CallBoard {
    fn default() -> CallBoard {
        CallBoard {
            next: AtomicU64::new(0),
            calls: Mutex::new(Vec::new()),
            cancelled: AtomicBool::new(false),
            generation: watch::channel(0).0,
            at_cancel: Mutex::new(Vec::new()),
            abandoning: AtomicBool::new(false),
            abandoned: watch::channel(0).0,
            working: AtomicUsize::new(0),
        }
    }
}

impl CallBoard {
    /// The calls waiting for an answer, oldest first.
    pub fn in_flight(&self) -> Vec<CallInFlight> {
        let now = Instant::now();
        self.calls
            .lock()
            .map(|c| {
                c.iter()
                    .map(|e| CallInFlight {
                        service: e.service.clone(),
                        operation: e.operation.clone(),
                        elapsed: now.saturating_duration_since(e.started),
                        targets: e.targets.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Cancels every call in flight and every one started before the next request begins.
    pub fn cancel(&self) {
        if let Ok(mut at) = self.at_cancel.lock() {
            *at = self.in_flight();
        }
        self.cancelled.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// [`CallBoard::cancel`], and every call in flight (or started before the next
    /// [`CallBoard::begin`]) fails at once at the HTTP client: for work that awaits the SDK's
    /// futures itself, which no `block_on` can drop.
    pub fn abandon(&self) {
        self.cancel();
        self.abandoning.store(true, Ordering::SeqCst);
        self.abandoned.send_modify(|g| *g += 1);
    }

    /// Calls may run again (a request begins, or the cancelled one's agent returned).
    pub fn begin(&self) {
        self.cancelled.store(false, Ordering::SeqCst);
        self.abandoning.store(false, Ordering::SeqCst);
    }

    /// A piece of work (a request from its words to its stored plan, an apply) begins: a
    /// cancel from before any work ran is forgotten, and a cancel during it holds — for every
    /// phase still to come, its dry runs too — until the last running piece of work ends.
    pub fn work(&self) -> Working<'_> {
        if self.working.fetch_add(1, Ordering::SeqCst) == 0 {
            self.begin();
        }
        Working { board: self }
    }

    /// What was in flight when the last cancel came (the calls it abandoned, if it abandoned).
    pub fn at_cancel(&self) -> Vec<CallInFlight> {
        self.at_cancel.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Resolves once [`CallBoard::abandon`] is called (or at once if it was).
    fn abandoned(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.abandoned.subscribe();
        let already = self.abandoning.load(Ordering::SeqCst);
        async move {
            if !already {
                let _ = rx.changed().await;
            }
        }
    }

    /// The error a cancelled wait returns: the call it abandoned, if one was in flight.
    pub fn cancelled_error(&self) -> super::AwsError {
        let waiting_for = self
            .at_cancel
            .lock()
            .ok()
            .and_then(|at| at.first().cloned());
        super::AwsError::Cancelled {
            waiting_for: waiting_for.map(|c| {
                format!(
                    "{} {} after {:.1} s",
                    c.service,
                    c.operation,
                    c.elapsed.as_secs_f64()
                )
            }),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves once [`CallBoard::cancel`] is called (or at once if it was).
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.generation.subscribe();
        let already = self.is_cancelled();
        async move {
            if !already {
                let _ = rx.changed().await;
            }
        }
    }

    fn enter(self: &Arc<Self>, service: String, operation: String) -> Noted {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let targets = TARGETS.try_with(Vec::clone).unwrap_or_default();
        if let Ok(mut c) = self.calls.lock() {
            c.push(Entry {
                id,
                service,
                operation,
                targets,
                started: Instant::now(),
            });
        }
        Noted {
            board: self.clone(),
            id,
        }
    }
}

/// One piece of work running ([`CallBoard::work`]); when the last ends, calls may run again.
pub struct Working<'a> {
    board: &'a CallBoard,
}

impl Drop for Working<'_> {
    fn drop(&mut self) {
        if self.board.working.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.board.begin();
        }
    }
}

/// Takes a call off the board when its answer arrived or its future was dropped.
struct Noted {
    board: Arc<CallBoard>,
    id: u64,
}

impl Drop for Noted {
    fn drop(&mut self) {
        if let Ok(mut c) = self.board.calls.lock() {
            c.retain(|e| e.id != self.id);
        }
    }
}

/// The SDK's HTTP client, noting each request on the board while it waits.
#[derive(Debug, Clone)]
pub struct WatchedClient {
    inner: SharedHttpClient,
    board: Arc<CallBoard>,
}

impl WatchedClient {
    pub fn new(inner: SharedHttpClient, board: Arc<CallBoard>) -> WatchedClient {
        WatchedClient { inner, board }
    }
}

impl HttpClient for WatchedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(WatchedConnector {
            inner: self.inner.http_connector(settings, components),
            board: self.board.clone(),
        })
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct WatchedConnector {
    inner: SharedHttpConnector,
    board: Arc<CallBoard>,
}

impl HttpConnector for WatchedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (service, operation) = call_names(&request);
        // Inside a fail-fast run (`reach.rs`), an endpoint already found down is not tried.
        let run = super::reach::current();
        let endpoint = super::reach::endpoint_of(request.uri());
        let retry = super::reach::is_retry(request.headers().get("amz-sdk-request"));
        if let Some(refused) = run.as_ref().and_then(|r| r.refuse(&endpoint, retry)) {
            return HttpConnectorFuture::ready(Err(refused));
        }
        let call = format!("{service} {operation}");
        let noted = self.board.enter(service, operation);
        let answer = self.inner.call(request);
        // Abandoning gives the call up here, for async callers (an apply's steps) that await
        // the SDK future themselves rather than through `AwsAccess::block_on`.
        let abandoned = self.board.abandoned();
        HttpConnectorFuture::new(async move {
            let r = tokio::select! {
                biased;
                r = answer => r,
                _ = abandoned => Err(aws_smithy_runtime_api::client::result::ConnectorError::user(
                    ABANDONED.into(),
                )),
            };
            drop(noted);
            if let (Some(run), Err(e)) = (&run, &r) {
                run.failed(&endpoint, &call, e);
            }
            r
        })
    }
}

/// The client the SDK makes when none is configured (aws-smithy-runtime's
/// `default_https_client`: hyper 1 with rustls on aws-lc, proxies from the environment).
pub fn default_https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// The service and operation a signed request is for: the service from the SigV4 credential
/// scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), the operation from
/// `X-Amz-Target` (JSON protocols), `Action=` (query protocols), else method and path.
fn call_names(request: &HttpRequest) -> (String, String) {
    let headers = request.headers();
    let service = headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(3))
        .map(str::to_string)
        .unwrap_or_else(|| host_service(request.uri()));
    let operation = headers
        .get("x-amz-target")
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
        .or_else(|| query_action(request.body().bytes()))
        .or_else(|| rpc_operation(request.uri()))
        .unwrap_or_else(|| {
            let uri = request.uri();
            let path = uri
                .find("://")
                .and_then(|i| uri[i + 3..].find('/').map(|j| &uri[i + 3 + j..]))
                .unwrap_or("/");
            format!(
                "{} {}",
                request.method(),
                path.chars().take(60).collect::<String>()
            )
        });
    (service, operation)
}

/// `ec2` from `https://ec2.us-east-1.amazonaws.com/`; the host itself otherwise.
fn host_service(uri: &str) -> String {
    let host = uri
        .split("://")
        .nth(1)
        .unwrap_or(uri)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host.split('.').next().unwrap_or(host).to_string()
}

/// `DescribeAlarms` from `…/service/GraniteServiceVersion20100801/operation/DescribeAlarms`
/// (the Smithy RPC v2 CBOR protocol names the operation in the path).
fn rpc_operation(uri: &str) -> Option<String> {
    let (_, op) = uri.split_once("/operation/")?;
    let op = op.split(['?', '/']).next()?;
    (!op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric())).then(|| op.to_string())
}

fn query_action(body: Option<&[u8]>) -> Option<String> {
    let text = std::str::from_utf8(body?).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::body::SdkBody;

    fn request(headers: &[(&str, &str)], body: &str, uri: &str) -> HttpRequest {
        let mut b = http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        HttpRequest::try_from(b.body(SdkBody::from(body)).unwrap()).unwrap()
    }

    #[test]
    fn a_request_names_its_service_and_operation() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00";
        let r = request(
            &[("authorization", auth)],
            "Action=DescribeInstances&Version=2016-11-15",
            "http://127.0.0.1:9/",
        );
        assert_eq!(call_names(&r), ("ec2".into(), "DescribeInstances".into()));
        let logs = "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/logs/aws4_request";
        let r = request(
            &[
                ("authorization", logs),
                ("x-amz-target", "Logs_20140328.DescribeLogGroups"),
            ],
            "{}",
            "http://127.0.0.1:9/",
        );
        assert_eq!(call_names(&r), ("logs".into(), "DescribeLogGroups".into()));
        let r = request(&[], "", "https://s3.us-east-1.amazonaws.com/bucket?policy");
        assert_eq!(call_names(&r), ("s3".into(), "POST /bucket?policy".into()));
        let r = request(
            &[],
            "",
            "http://127.0.0.1:9/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
        );
        assert_eq!(call_names(&r).1, "DescribeAlarms");
    }

    #[test]
    fn a_call_stays_on_the_board_until_its_future_ends_and_cancel_holds_until_the_next_request() {
        let board = Arc::new(CallBoard::default());
        let noted = board.enter("ec2".into(), "DescribeInstances".into());
        let seen = board.in_flight();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].to_string().starts_with("ec2 DescribeInstances… "));
        drop(noted);
        assert!(board.in_flight().is_empty());
        board.cancel();
        assert!(board.is_cancelled());
        board.begin();
        assert!(!board.is_cancelled());
    }
}
