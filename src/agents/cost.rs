//! The cost agent: Cost Explorer queries, forecasts and budgets.

use super::{AgentRequest, Reply, Sink, not_yet};
use crate::error::Result;

pub fn handle(req: &AgentRequest<'_>, _sink: Sink<'_>) -> Result<Reply> {
    Err(not_yet(
        req,
        "the request is recorded in the audit trail; infrastructure requests (EC2 instances, ALB/NLB, S3 buckets, destroying a stack) work today",
    ))
}
