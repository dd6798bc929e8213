//! The seven specialised agents behind one protocol. Each agent is one file; [`plan`] routes a
//! classified request to the agent named by its intent.

pub mod protocol;

pub mod config;
pub mod cost;
pub mod infra;
pub mod ml;
pub mod monitor;
pub mod ops;
pub mod security;

pub use protocol::{AgentEvent, AgentRequest, Draft, DraftFile, Sink};

use crate::error::{Error, Result};
use crate::intent::AgentKind;

/// Asks the request's primary agent for a plan.
pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Draft> {
    let agent = req.intent.agent;
    sink(AgentEvent::Progress {
        agent,
        message: format!("{agent} agent planning: {}", req.intent.action),
    });
    match agent {
        AgentKind::Infra => infra::plan(req, sink),
        AgentKind::Config => config::plan(req),
        AgentKind::Ops => ops::plan(req),
        AgentKind::Cost => cost::plan(req),
        AgentKind::Security => security::plan(req),
        AgentKind::Monitor => monitor::plan(req),
        AgentKind::Ml => ml::plan(req),
    }
}

/// The answer of an agent whose tools are not in this build yet: says what was understood, so
/// nothing the user typed is lost, and what works today.
pub(crate) fn not_yet(req: &AgentRequest<'_>, what: &str) -> Error {
    let i = req.intent;
    Error::Unavailable(format!(
        "the {} agent ({}) is not available yet in this build: understood as {}/{} with {}; {what}",
        i.agent,
        i.agent.tool(),
        i.agent,
        i.action,
        if i.params.is_empty() {
            "no parameters".to_string()
        } else {
            serde_json::to_string(&i.params).unwrap_or_default()
        }
    ))
}
