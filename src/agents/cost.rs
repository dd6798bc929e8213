//! The cost agent: Cost Explorer queries, forecasts and budgets.

use super::{AgentRequest, Draft, not_yet};
use crate::error::Result;

pub fn plan(req: &AgentRequest<'_>) -> Result<Draft> {
    Err(not_yet(
        req,
        "the request is recorded in the audit trail; infrastructure requests (EC2 instances, ALB/NLB, S3 buckets, destroying a stack) work today",
    ))
}
