//! opsdeck: run AWS by talking to it, from a terminal.
//!
//! The map, in the order a request flows through it:
//!
//! - [`intent`]: plain language → `Intent { agent, agents, action, confidence, params }`,
//!   offline and deterministic.
//! - [`agents`]: the agent protocol and one module per agent (`infra`, `config`, `ops`, `cost`,
//!   `security`, `monitor`, `ml`); an agent turns an intent into a [`agents::Draft`].
//! - [`plan`]: plans, artifacts, risk, cost estimates and the content hash approvals bind to;
//!   templates rendered with minijinja.
//! - [`policy`]: gates (deny / warn / info) run before a plan is queued and again before it runs.
//! - [`approval`]: the approval state machine (no self-approval, bound to the plan hash, expiry).
//! - [`exec`]: runners for the real tools (terraform), streaming progress, cancellable.
//! - [`events`]: what agents and runners report while they work (`AgentEvent` to a `Sink`,
//!   `Output` shapes, `Outcome`); both depend on it, neither on the other for types.
//! - [`secrets`]: the credential rule set; requests holding one are refused, stored text masked.
//! - [`audit`]: append-only, hash-chained, signed events per tenant; verify and export.
//! - [`library`]: the tenant's artifact library: versions as manifests, the catalogue from the
//!   trail, typed parameters.
//! - [`store`]: the storage contract and the embedded local backend.
//! - [`tenant`]: tenants and the acting identity.
//! - [`identity`]: personal Ed25519 keys (never in the store), signed statements over canonical
//!   bytes, signed membership records from the tenant root, pinned tenant roots.
//! - [`time`]: the clock (`Clock`, `ManualClock` for tests) and `Stamp`, the stored instant.
//! - [`aws`]: AWS SDK configuration (region, endpoint overrides, timeouts) and readable errors.
//! - [`knowledge`]: the tenant's past requests from its trail: similar ones for a new request
//!   (offline: reading and weighted parameters, then character trigrams), and suggestions.
//! - [`pipeline`]: [`pipeline::Deck`], the one entry point every front end (CLI, console, MCP)
//!   calls, split along a request's life into facets: `requests()`, `approvals()`, `runs()`,
//!   `admin()`, `trail()`; the store is private to it, and front ends hold no business rules.
//! - [`cli`]: the headless command line.
//! - [`mcp`]: the Model Context Protocol server (same core, same guardrails).
//! - [`tui`]: the full-screen console (the only module that uses ratatui).
//! - [`view`]: what the front ends show (plan, report, approval state, next step, audit row),
//!   as plain data built from the core's records; each front end only lays it out.
//! - [`error`]: the crate error, wrapping each module's own typed enum; its `Kind` decides the
//!   `--json` code and the exit status.
//! - [`siem`]: the audit trail as OCSF events to a file, S3 or CloudWatch Logs, resumed from
//!   the destination's own cursor.
//! - [`sanitize`]: the one output sanitiser: controls, bidi and invisible characters in any
//!   text bound for a terminal, a CSV cell or JSON become visible escapes.
//!
//! Domain modules never depend on a terminal UI crate.

pub mod agents;
pub mod approval;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod exec;
pub mod identity;
pub mod intent;
pub mod knowledge;
pub mod library;
pub mod mcp;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod redact;
pub mod reports;
pub mod sanitize;
pub mod secrets;
pub mod siem;
pub mod store;
pub mod tenant;
pub mod time;
pub mod tui;
pub mod view;

pub use error::{Error, Result};
