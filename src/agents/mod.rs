//! The seven specialised agents behind one protocol. Each agent is one module; [`handle`] routes
//! a classified request to the agent named by its intent, and each agent reads the intent's
//! action once, into its own action enum (declared with `agent_actions!`).

/// Declares an agent's action enum. Each variant carries its wire name, the string
/// `Intent.action` holds and JSON shows; `of` reads it from an intent once, at the agent's
/// entry, and refuses a name the agent does not have with what the agent does instead.
macro_rules! agent_actions {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident for $agent:expr, $does:literal {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal $([$changes:ident])?),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every action, in the order the agent lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name, as `Intent.action` carries it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Whether asking for this action asks for a change (a plan to approve), known from
            /// the action alone so a role check can refuse it before the agent does any work.
            pub fn changes(self) -> bool {
                match self {
                    $($name::$variant => action_changes!($($changes)?)),+
                }
            }

            /// The intent's action, or a refusal naming what the agent does.
            pub fn of(intent: &$crate::intent::Intent) -> $crate::error::Result<$name> {
                match intent.action.as_str() {
                    $($wire => Ok($name::$variant),)+
                    other => Err($crate::error::Error::input(format!(
                        "the {} agent does not know how to '{other}'; it {}",
                        $agent, $does
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// `[change]` after an action's wire name marks it as asking for a change.
macro_rules! action_changes {
    () => {
        false
    };
    (change) => {
        true
    };
}

pub mod protocol;

/// Helpers several agents share (windows, selections, AWS errors).
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

/// Whether a request asks for a change, from its agent and action alone (before any agent
/// runs). A hybrid request is a change because its infra part is. An action the agent does not
/// know is not a change here; the agent refuses it.
pub fn asks_for_change(intent: &crate::intent::Intent) -> bool {
    let changes = match intent.agent {
        AgentKind::Infra => infra::Action::of(intent).map(infra::Action::changes),
        AgentKind::Config => config::Action::of(intent).map(config::Action::changes),
        AgentKind::Ops => ops::Action::of(intent).map(ops::Action::changes),
        AgentKind::Cost => cost::Action::of(intent).map(cost::Action::changes),
        AgentKind::Security => security::Action::of(intent).map(security::Action::changes),
        AgentKind::Monitor => monitor::Action::of(intent).map(monitor::Action::changes),
        AgentKind::Ml => ml::Action::of(intent).map(ml::Action::changes),
    };
    changes.unwrap_or(false)
}

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

#[cfg(test)]
mod tests {
    use crate::intent::{AgentKind, llm};

    fn names<A: Copy>(all: &[A], as_str: fn(A) -> &'static str) -> Vec<&'static str> {
        all.iter().map(|a| as_str(*a)).collect()
    }

    #[test]
    fn each_agent_reads_every_action_the_model_may_name() {
        for agent in AgentKind::ALL {
            let mut ours = match agent {
                AgentKind::Infra => names(super::infra::Action::ALL, super::infra::Action::as_str),
                AgentKind::Config => {
                    names(super::config::Action::ALL, super::config::Action::as_str)
                }
                AgentKind::Ops => names(super::ops::Action::ALL, super::ops::Action::as_str),
                AgentKind::Cost => names(super::cost::Action::ALL, super::cost::Action::as_str),
                AgentKind::Security => names(
                    super::security::Action::ALL,
                    super::security::Action::as_str,
                ),
                AgentKind::Monitor => {
                    names(super::monitor::Action::ALL, super::monitor::Action::as_str)
                }
                AgentKind::Ml => names(super::ml::Action::ALL, super::ml::Action::as_str),
            };
            // A hybrid request hands the infra agent's "create" to the config agent as well.
            if agent == AgentKind::Config {
                ours.retain(|a| *a != "create");
            }
            let mut model = llm::actions(agent).to_vec();
            ours.sort_unstable();
            model.sort_unstable();
            assert_eq!(ours, model, "{agent}");
        }
    }
}
