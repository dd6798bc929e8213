//! The security agent: S3, IAM and security-group scans, GuardDuty and Security Hub findings.

use tokio::sync::watch;

use super::{AgentRequest, Reply, Sink, not_yet};
use crate::aws::AwsAccess;
use crate::error::Result;
use crate::exec::Outcome;
use crate::plan::Step;

pub fn handle(req: &AgentRequest<'_>, _sink: Sink<'_>) -> Result<Reply> {
    Err(not_yet(
        req,
        "the request is recorded in the audit trail; infrastructure requests (EC2 instances, ALB/NLB, S3 buckets, destroying a stack) work today",
    ))
}

/// Runs an approved AWS API step this agent planned.
pub async fn execute(
    step: &Step,
    _aws: &AwsAccess,
    _sink: Sink<'_>,
    _cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    Err(crate::error::Error::Unavailable(format!(
        "step '{}' cannot run in this build",
        step.description
    )))
}
