//! The seven specialised agents behind one protocol. Each agent is one file; [`plan`] routes a
//! classified request to the agent named by its intent.

pub mod protocol;

/// Helpers the security, monitor and ml agents share.
pub(crate) mod insight;

pub mod config;
pub mod cost;
pub mod infra;
pub mod ml;
pub mod monitor;
pub mod ops;
pub mod security;

pub use protocol::{AgentRequest, Draft, DraftFile, Reply, Report};

use tokio::sync::watch;

use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome, Sink};
use crate::intent::AgentKind;
use crate::plan::{Step, StepKind};

/// Hands a classified request to its primary agent: a plan to review, or a report.
pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    let agent = req.intent.agent;
    sink(AgentEvent::Progress {
        agent,
        message: format!("{agent} agent: {}", req.intent.action),
    });
    match agent {
        // A hybrid request ("3 instances with nginx") is one plan: Terraform, then Ansible on
        // the hosts it creates.
        AgentKind::Infra if req.intent.agents.contains(&AgentKind::Config) => {
            let draft = infra::plan(req, sink)?;
            config::extend(req, draft, sink).map(Reply::Plan)
        }
        AgentKind::Infra => infra::plan(req, sink).map(Reply::Plan),
        AgentKind::Config => config::plan(req, sink).map(Reply::Plan),
        AgentKind::Ops => ops::handle(req, sink),
        AgentKind::Cost => cost::handle(req, sink),
        AgentKind::Security => security::handle(req, sink),
        AgentKind::Monitor => monitor::handle(req, sink),
        AgentKind::Ml => ml::handle(req, sink),
    }
}

/// Runs an approved [`StepKind::Aws`] step with the code of the agent that planned it.
pub async fn execute(
    step: &Step,
    aws: &AwsAccess,
    sink: Sink<'_>,
    cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let (StepKind::Aws { agent, .. }, Some(call)) = (&step.kind, step.aws_call()) else {
        return Err(Error::input(format!(
            "step '{}' is not an AWS API call",
            step.description
        )));
    };
    match agent {
        AgentKind::Ops => ops::execute(step, &call, aws, sink, cancel).await,
        AgentKind::Security => security::execute(step, &call, aws, sink, cancel).await,
        AgentKind::Monitor => monitor::execute(step, &call, aws, sink, cancel).await,
        other => Err(Error::Unavailable(format!(
            "the {other} agent does not run AWS API steps; step '{}' cannot run",
            step.description
        ))),
    }
}
