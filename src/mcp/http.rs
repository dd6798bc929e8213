//! `opsdeck mcp --listen 127.0.0.1:PORT`: the MCP server over streamable HTTP (rmcp's server
//! transport, on hyper), at `/mcp`.
//!
//! In front of the transport, each request must carry `Authorization: Bearer <token>`; the core
//! proves the token's user ([`crate::pipeline::IssuedToken`], checked against the store on every
//! request so a revocation takes effect at once) and the request acts in that user's session.
//! Then the token's rate limit applies (429 with `Retry-After` past it). The transport itself
//! refuses a `Host` that is not loopback and any `Origin` header not allowed with
//! `--allow-origin` (403), against DNS rebinding and browser pages.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::OpsdeckMcp;
use crate::error::{Error, Result};
use crate::pipeline::{Deck, OpenOptions};
use crate::tenant::ApiToken;

/// Where the MCP endpoint is served.
pub const PATH: &str = "/mcp";

pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Browser origins allowed to call; any other `Origin` header is refused.
    pub allowed_origins: Vec<String>,
}

/// The session a request's token proved, handed to the tools through the request's extensions.
#[derive(Clone)]
pub struct TokenSession(pub Arc<Deck>);

type Body = BoxBody<Bytes, Infallible>;
type Transport = StreamableHttpService<OpsdeckMcp, LocalSessionManager>;

/// Serves until interrupted (SIGINT or SIGTERM).
pub fn serve(mut open: OpenOptions, opts: HttpOptions) -> Result<u8> {
    open.via_mcp = true;
    // Opened once up front so a bad home, tenant or backend fails now, not at the first call.
    drop(Deck::open(open.clone())?);
    super::runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::io(format!("listening on {}", opts.listen), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        let config = StreamableHttpServerConfig::default()
            .with_allowed_origins(opts.allowed_origins)
            .enforce_origin_validation();
        let transport: Transport = StreamableHttpService::new(
            || Ok(OpsdeckMcp::per_request()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let gate = Arc::new(Gate {
            open,
            sessions: Mutex::new(HashMap::new()),
            limits: Mutex::new(HashMap::new()),
        });
        // The line scripts and tests wait for; the port is the real one when 0 was asked.
        eprintln!("opsdeck mcp: serving streamable HTTP on http://{local}{PATH} (bearer tokens: `opsdeck tokens issue USER`)");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Error::io("watching for SIGTERM", e))?;
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        continue;
                    }
                },
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
            };
            let (gate, transport) = (gate.clone(), transport.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (gate, transport) = (gate.clone(), transport.clone());
                    async move { Ok::<_, Infallible>(gate.handle(&transport, req).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
        Ok(0)
    })
}

/// Authentication and rate limits in front of the transport.
struct Gate {
    open: OpenOptions,
    /// Sessions by token id, opened on a token's first request.
    sessions: Mutex<HashMap<String, Arc<Deck>>>,
    limits: Mutex<HashMap<String, Bucket>>,
}

impl Gate {
    async fn handle(&self, transport: &Transport, mut req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() != PATH {
            return refusal(
                StatusCode::NOT_FOUND,
                &format!("the MCP endpoint is {PATH}"),
            );
        }
        let Some(secret) = bearer(&req) else {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer <token>; an admin issues one with `opsdeck tokens issue USER`",
            );
        };
        let (deck, token) = match self.session(secret).await {
            Ok(s) => s,
            Err(e @ Error::Refused(_)) => {
                return refusal(StatusCode::UNAUTHORIZED, &e.to_string());
            }
            Err(e) => return refusal(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
        if let Err(wait) = self.take(&token) {
            let mut r = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "token {} is over its limit of {} requests a minute; retry in {} s",
                    token.id,
                    token.rate_per_minute,
                    wait.as_secs().max(1)
                ),
            );
            if let Ok(v) = http::HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            return r;
        }
        req.extensions_mut().insert(TokenSession(deck));
        transport.handle(req).await
    }

    /// The token's session, proven again for this request (opened on its first one).
    async fn session(&self, secret: String) -> Result<(Arc<Deck>, ApiToken)> {
        let id = crate::tenant::tokens::id_of(&secret).map(str::to_string);
        let cached = id
            .as_ref()
            .and_then(|id| self.sessions.lock().unwrap().get(id).cloned());
        let open = self.open.clone();
        let outcome = tokio::task::spawn_blocking(move || match cached {
            Some(deck) => deck.recheck_token(&secret).map(|t| (deck, t)),
            None => {
                let deck = Deck::open(OpenOptions {
                    mcp_token: Some(secret.clone()),
                    ..open
                })?;
                let token = deck.recheck_token(&secret)?;
                Ok((Arc::new(deck), token))
            }
        })
        .await
        .map_err(|e| Error::Execution(format!("worker failed: {e}")))?;
        let mut sessions = self.sessions.lock().unwrap();
        match (&outcome, id) {
            (Ok((deck, token)), _) => {
                sessions.insert(token.id.clone(), deck.clone());
            }
            (Err(_), Some(id)) => {
                sessions.remove(&id);
            }
            (Err(_), None) => {}
        }
        outcome
    }

    /// Takes one request from the token's bucket, or says how long until one is free; the first
    /// refusal of each minute is audited.
    fn take(&self, token: &ApiToken) -> std::result::Result<(), Duration> {
        let now = Instant::now();
        let mut limits = self.limits.lock().unwrap();
        let bucket = limits
            .entry(token.id.clone())
            .or_insert_with(|| Bucket::full(token.rate_per_minute, now));
        match bucket.take(token.rate_per_minute, now) {
            Ok(()) => Ok(()),
            Err(wait) => {
                let audit = bucket
                    .audited
                    .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60));
                if audit {
                    bucket.audited = Some(now);
                    let deck = self.sessions.lock().unwrap().get(&token.id).cloned();
                    if let Some(deck) = deck {
                        let token = token.clone();
                        tokio::task::spawn_blocking(move || {
                            if let Err(e) = deck.audit_rate_limited(&token) {
                                tracing::warn!(error = %e, "could not audit a rate-limit refusal");
                            }
                        });
                    }
                }
                Err(wait)
            }
        }
    }
}

/// A token bucket: `rate` requests a minute, bursts up to `rate`.
struct Bucket {
    tokens: f64,
    at: Instant,
    audited: Option<Instant>,
}

impl Bucket {
    fn full(rate: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate),
            at: now,
            audited: None,
        }
    }

    fn take(&mut self, rate: u32, now: Instant) -> std::result::Result<(), Duration> {
        let per_sec = f64::from(rate) / 60.0;
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_sec).min(f64::from(rate));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_sec))
        }
    }
}

fn bearer(req: &Request<Incoming>) -> Option<String> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A refusal as JSON, `{"error": ...}`; a 401 names the scheme to use.
fn refusal(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": crate::sanitize::line(message) }).to_string();
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"opsdeck\""),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_rate_then_refuses_until_it_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3, t0);
        for _ in 0..3 {
            assert!(b.take(3, t0).is_ok());
        }
        let wait = b.take(3, t0).unwrap_err();
        // 3 a minute: one every 20 s.
        assert_eq!(wait.as_secs(), 20);
        assert!(b.take(3, t0 + Duration::from_secs(21)).is_ok());
        assert!(b.take(3, t0 + Duration::from_secs(21)).is_err());
    }
}
