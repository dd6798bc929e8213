//! A plan as every front end shows it: header, how the request was read, steps, resource
//! changes, gates, cost, approval state and the next step, built from a [`PlanRecord`]. The CLI
//! prints it as lines, the console as styled spans (transcript, preview, queue, overlays), MCP
//! as JSON; each picks the parts it has room for.

use serde::Serialize;

use super::approval::ApprovalView;
use super::aws_change::AwsChangeView;
use super::change::{ChangeCounts, ResourceView};
use super::next_step::NextStep;
use crate::approval::{Approval, Execution, PlanRecord, Rejection, State};
use crate::plan::{ArtifactRef, CostEstimate, CostLine, DryRun, Gate, GateResult, Plan, Risk};
use crate::plan::{Step, StepKind};

#[derive(Debug, Clone, Serialize)]
pub struct PlanView<'a> {
    pub id: &'a str,
    pub state: State,
    pub summary: &'a str,
    /// The request as typed (secrets redacted).
    pub request: &'a str,
    pub reading: Reading,
    pub requester: &'a str,
    pub risk: Risk,
    pub risk_reasons: &'a [String],
    /// The content hash approvals bind to, and its first 12 digits.
    pub hash: &'a str,
    pub short_hash: &'a str,
    pub cost: CostView<'a>,
    pub worst_gate: GateResult,
    pub gates: &'a [Gate],
    pub steps: Vec<StepView<'a>>,
    pub resources: Vec<ResourceView<'a>>,
    pub changes: ChangeCounts,
    /// The AWS API calls with their targets, before → after (empty for Terraform/Ansible plans).
    pub calls: AwsChangeView<'a>,
    pub dry_runs: &'a [DryRun],
    pub artifacts: &'a [ArtifactRef],
    pub approval: ApprovalView<'a>,
    pub next: NextStep<'a>,
    pub approvals: &'a [Approval],
    pub rejection: Option<&'a Rejection>,
    pub executions: &'a [Execution],
}

impl<'a> PlanView<'a> {
    pub fn of(rec: &'a PlanRecord) -> PlanView<'a> {
        let p = &rec.plan;
        PlanView {
            id: &p.plan_id,
            state: rec.state,
            summary: &p.summary,
            request: &p.request,
            reading: Reading::of(p),
            requester: &p.requester,
            risk: p.risk,
            risk_reasons: &p.risk_reasons,
            hash: &p.content_hash,
            short_hash: crate::approval::short(&p.content_hash),
            cost: CostView::of(&p.cost),
            worst_gate: p.worst_gate(),
            gates: &p.gates,
            steps: p
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepView::of(i + 1, s))
                .collect(),
            resources: p.resources.iter().map(ResourceView::of).collect(),
            changes: ChangeCounts::of(&p.resources),
            calls: AwsChangeView::of(p),
            dry_runs: &p.dry_runs,
            artifacts: &p.artifacts,
            approval: ApprovalView::of(rec),
            next: NextStep::of(rec),
            approvals: &rec.approvals,
            rejection: rec.rejection.as_ref(),
            executions: &rec.executions,
        }
    }
}

impl<'a> PlanView<'a> {
    /// Every gate, the worst first (deny, warn, info, pass), in the order evaluated within each:
    /// what an approver reads before deciding.
    pub fn gates_worst_first(&self) -> Vec<&'a Gate> {
        let mut g: Vec<&'a Gate> = self.gates.iter().collect();
        g.sort_by_key(|g| std::cmp::Reverse(g.result));
        g
    }
}

/// How the request was read: the agents and action it was routed to, and how sure that is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// `infra`, or `infra+config` for a hybrid request.
    pub agents: String,
    pub action: String,
    pub confidence: f64,
    pub low_confidence: bool,
}

impl Reading {
    fn of(p: &Plan) -> Reading {
        Reading {
            agents: p
                .agents
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            action: p.action.to_string(),
            confidence: p.intent.confidence,
            low_confidence: p.intent.low_confidence,
        }
    }
}

/// The estimate as it is stated everywhere, and its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostView<'a> {
    pub monthly_usd: f64,
    /// `$131.31/month`, with the change against the stack's cost now, or `no cost change`.
    pub headline: String,
    /// `$131.31/mo` where a line is short (transcript, confirmation), or `no cost change`.
    pub compact: String,
    /// Where the prices came from and their date.
    pub basis: Option<String>,
    pub lines: &'a [CostLine],
    pub notes: &'a [String],
}

impl<'a> CostView<'a> {
    fn of(c: &'a CostEstimate) -> CostView<'a> {
        CostView {
            monthly_usd: c.monthly_usd + 0.0,
            headline: c.headline(),
            compact: if c.unpriced() {
                c.headline()
            } else {
                format!("${:.2}/mo", c.monthly_usd + 0.0)
            },
            basis: c.basis(),
            lines: &c.lines,
            notes: &c.notes,
        }
    }
}

/// What runs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepTool {
    Terraform,
    Ansible,
    Aws,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView<'a> {
    /// 1-based, as shown and as dry runs name it.
    pub number: usize,
    pub description: &'a str,
    pub tool: StepTool,
    /// How it runs in a few words: `terraform apply · stack web`.
    pub runs: String,
    pub mutates: bool,
}

impl<'a> StepView<'a> {
    fn of(number: usize, s: &'a Step) -> StepView<'a> {
        StepView {
            number,
            description: &s.description,
            tool: match s.kind {
                StepKind::Terraform { .. } => StepTool::Terraform,
                StepKind::Ansible { .. } => StepTool::Ansible,
                StepKind::Aws { .. } => StepTool::Aws,
            },
            runs: s.tool_line(),
            mutates: s.mutates,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ChangeAction;
    use crate::view::test_record;

    #[test]
    fn the_view_carries_what_the_record_says() {
        let rec = test_record();
        let v = PlanView::of(&rec);
        assert_eq!(v.id, "p-test000001");
        assert_eq!(v.reading.agents, "infra");
        assert_eq!(v.short_hash, "0123456789ab");
        assert_eq!(v.cost.headline, "$131.31/month");
        assert_eq!(v.cost.compact, "$131.31/mo");
        assert_eq!(v.worst_gate, GateResult::Info);
        assert_eq!(v.steps[0].tool, StepTool::Terraform);
        assert_eq!(v.steps[0].runs, "terraform apply · stack web");
        assert_eq!(v.resources[1].action, ChangeAction::Replace);
        assert_eq!(v.resources[1].symbol, "-/+");
        assert_eq!(v.changes.tally(), "+3 ~0 -0");
        let worst: Vec<&str> = v
            .gates_worst_first()
            .iter()
            .map(|g| g.rule.as_str())
            .collect();
        assert_eq!(worst, ["dry_run.terraform", "policy.summary"]);
    }

    #[test]
    fn an_unpriced_plan_says_so_in_every_form() {
        let mut rec = test_record();
        rec.plan.cost.monthly_usd = 0.0;
        rec.plan.cost.source = String::new();
        rec.plan.cost.lines.clear();
        let v = PlanView::of(&rec);
        assert_eq!(v.cost.headline, "no cost change");
        assert_eq!(v.cost.compact, v.cost.headline);
    }
}
