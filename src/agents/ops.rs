//! The ops agent: EC2 instances (find, restart, start, stop, terminate), shell commands and the
//! tenant's library scripts through SSM Run Command, Secrets Manager rotation and EBS snapshots.
//!
//! Planning resolves the exact targets (paging through DescribeInstances, never collecting more
//! than one plan may act on), shows them as a table, refuses production-tagged targets unless
//! the request names prod, and checks permission with EC2 `DryRun` where the API has one. The
//! plan's `StepKind::Aws` step carries the targets, so the approval covers exactly them; the
//! Rego gates judge the rest (maintenance windows for prod, the SSM allow list, regions).
//! [`execute`] makes the calls after approval one target at a time (cancel is honoured between
//! targets), then verifies the result with a bounded wait: instance state and status checks,
//! command results per instance, the rotated secret version, the snapshots' state.

mod commands;
mod instances;
mod inventory;
mod scripts;
mod secrets;
mod snapshots;

use std::time::Duration;

use tokio::sync::watch;

use super::{AgentRequest, Reply};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome, Output, Sink};
use crate::intent::AgentKind;
use crate::plan::{ChangeAction, ResourceChange, Risk, Step};

pub use inventory::{Instance, PAGE_SIZE, Selector, find};
pub use scripts::{ScriptSend, draft as script_draft, plan as plan_script};

/// The most targets one plan may act on; a wider selection is refused with a hint to narrow it.
pub const MAX_TARGETS: usize = 1000;
/// Rows a read-only listing shows; every match is still counted.
pub const LIST_ROWS: usize = 200;
/// Targets listed one by one among a plan's resources; more are one counted line (the step
/// still names every target).
const RESOURCE_ROWS: usize = 25;

agent_actions! {
    /// What the ops agent can be asked to do.
    pub enum Action for AgentKind::Ops, "lists, restarts, starts, stops and terminates instances, runs allow-listed commands through SSM, rotates secrets and snapshots volumes" {
        Restart = "restart" [change],
        Start = "start" [change],
        Stop = "stop" [change],
        Terminate = "terminate" [change],
        Rotate = "rotate" [change],
        Snapshot = "snapshot" [change],
        Run = "run" [change],
        List = "list",
    }
}

/// Answers an ops request: a report for questions ("list instances tagged Env=staging"), a plan
/// for anything that changes the world.
pub fn handle(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    let region = req.region()?;
    match Action::of(req.intent)? {
        Action::List => inventory::report(req, sink, &region).map(Reply::Report),
        action @ (Action::Restart | Action::Start | Action::Stop | Action::Terminate) => {
            instances::plan(req, sink, &region, action).map(Reply::Plan)
        }
        Action::Run => commands::plan(req, sink, &region).map(Reply::Plan),
        Action::Rotate => secrets::plan(req, sink, &region).map(Reply::Plan),
        Action::Snapshot => snapshots::plan(req, sink, &region).map(Reply::Plan),
    }
}

/// Runs an approved AWS API step this agent planned.
pub async fn execute(
    step: &Step,
    call: &Call<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    match (call.service, call.operation) {
        ("ec2", "CreateSnapshot") => snapshots::execute(call, aws, sink, cancel).await,
        ("ec2", op) => instances::execute(op, call, aws, sink, cancel).await,
        ("ssm", "SendCommand") => commands::execute(call, aws, sink, cancel).await,
        ("secretsmanager", "RotateSecret") => secrets::execute(call, aws, sink, cancel).await,
        (s, op) => Err(Error::input(format!(
            "the ops agent does not run {s} {op} (step '{}')",
            step.description
        ))),
    }
}

/// What an approved step says to do.
pub(crate) use crate::plan::AwsCall as Call;

/// A plan's resources: `kind.<target>` for each target while a reviewer can read them, one
/// `kind.*` line with the count beyond that.
fn resources(kind: &str, targets: &[String], action: ChangeAction) -> Vec<ResourceChange> {
    if targets.len() <= RESOURCE_ROWS {
        return targets
            .iter()
            .map(|t| ResourceChange {
                address: format!("{kind}.{t}"),
                action,
                count: 1,
            })
            .collect();
    }
    vec![ResourceChange {
        address: format!("{kind}.*"),
        action,
        count: targets.len() as u32,
    }]
}

fn progress(sink: Sink<'_>, message: impl Into<String>) {
    sink(AgentEvent::Progress {
        agent: AgentKind::Ops,
        message: message.into(),
    });
}

fn show(sink: Sink<'_>, output: Output) {
    sink(AgentEvent::Result {
        agent: AgentKind::Ops,
        output,
    });
}

/// The instances a plan may act on: the request's selection (refused with `ask_which` when it
/// names none), paged through DescribeInstances, refused when nothing or more than
/// [`MAX_TARGETS`] match. `acts` says what the plan does to them ("acts on").
fn find_targets(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    region: &str,
    ec2: &aws_sdk_ec2::Client,
    ask_which: String,
    acts: &str,
) -> Result<(Selector, inventory::Found)> {
    let sel = Selector::from_intent(req.intent);
    if sel.is_empty() {
        return Err(Error::input(ask_which));
    }
    progress(
        sink,
        format!("finding instances {} in {region}", sel.describe()),
    );
    let found = req.aws.block_on(inventory::find(
        ec2.clone(),
        sel.clone(),
        PAGE_SIZE,
        MAX_TARGETS + 1,
    ))??;
    if found.matched == 0 && !sel.tags.is_empty() {
        let wanted: Vec<String> = sel.tags.keys().cloned().collect();
        let near = req
            .aws
            .block_on(inventory::keys_differing_in_case(ec2.clone(), wanted))??;
        if !near.is_empty() {
            let offers: Vec<String> = near
                .iter()
                .map(|(asked, exists)| {
                    let value = sel.tags.get(asked).map_or("", String::as_str);
                    format!("no instance has the tag key {asked}, but instances here are tagged {exists}: ask for \"{exists}={value}\"")
                })
                .collect();
            return Err(Error::not_found(
                "instances",
                sel.describe(),
                format!(
                    "in {region}; AWS tag keys are case-sensitive: {}",
                    offers.join("; ")
                ),
            ));
        }
    }
    if found.matched == 0 {
        return Err(Error::not_found(
            "instances",
            sel.describe(),
            format!(
                "no live instance matches in {region}; `opsdeck ask \"list instances in {region}\"` shows what there is"
            ),
        ));
    }
    if found.matched > MAX_TARGETS {
        return Err(Error::refused(format!(
            "{} instances match {}; one plan {acts} at most {MAX_TARGETS}: narrow the selection (a tag, an environment, a name)",
            found.matched,
            sel.describe()
        )));
    }
    Ok((sel, found))
}

/// Targets tagged as production, with the tag that says so, for [`refuse_unnamed_prod`].
fn prod_targets(targets: &[&Instance]) -> Vec<(String, String)> {
    targets
        .iter()
        .filter(|i| i.is_prod())
        .map(|i| (i.id.clone(), i.env_tag.clone().unwrap_or_default()))
        .collect()
}

/// Production raises a plan's risk one step: targets tagged as production (`prod`, from
/// [`prod_targets`]), or a request that names it. `reason` is what the reviewer is told.
fn raise_for_production(
    req: &AgentRequest<'_>,
    prod: &[(String, String)],
    risk: &mut Risk,
    reasons: &mut Vec<String>,
    reason: impl FnOnce() -> String,
) {
    if !prod.is_empty() || req.names_prod() {
        *risk = risk.raise();
        reasons.push(reason());
    }
}

/// The production guard: targets tagged as prod are refused unless the request names prod, so
/// a tag or name that happens to match production machines never reaches them by accident. With
/// prod named, the plan's environment is prod and the maintenance-window gate applies.
fn refuse_unnamed_prod(
    req: &AgentRequest<'_>,
    verb: &str,
    prod: &[(String, String)],
) -> Result<()> {
    if prod.is_empty() || req.names_prod() {
        return Ok(());
    }
    let shown: Vec<String> = prod
        .iter()
        .take(10)
        .map(|(id, tag)| format!("{id} ({tag})"))
        .collect();
    Err(Error::refused(format!(
        "{} of the targets {} tagged as production: {}{}; production is only touched when the request names it (e.g. \"{verb} ... in prod\"), and then within the tenant's maintenance windows",
        prod.len(),
        if prod.len() == 1 { "is" } else { "are" },
        shown.join(", "),
        if prod.len() > 10 { ", ..." } else { "" }
    )))
}

/// How an EC2 `DryRun` call came back: DryRunOperation when the call would be allowed,
/// UnauthorizedOperation when not (moto with IAM enforcement answers AccessDenied).
enum Permission {
    Allowed,
    Denied(String),
    Failed(String),
}

fn permission<E, R>(
    service: &str,
    operation: &str,
    result: std::result::Result<R, aws_sdk_ec2::error::SdkError<E>>,
) -> Permission
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    match result {
        // A DryRun never succeeds; an endpoint that ignores the flag would have acted.
        Ok(_) => Permission::Failed(format!(
            "{service} {operation} ignored DryRun; nothing is queued"
        )),
        Err(e) => match e.code() {
            Some("DryRunOperation") => Permission::Allowed,
            Some(
                "UnauthorizedOperation"
                | "AccessDenied"
                | "AccessDeniedException"
                | "UnauthorizedAccess",
            ) => Permission::Denied(crate::aws::describe_error(service, operation, &e)),
            _ => Permission::Failed(crate::aws::describe_error(service, operation, &e)),
        },
    }
}

impl Permission {
    /// Ok when allowed; a refusal naming the call and the credentials' problem otherwise.
    fn check(self, what: &str) -> Result<()> {
        match self {
            Permission::Allowed => Ok(()),
            Permission::Denied(why) => Err(Error::refused(format!(
                "the AWS credentials in use may not {what} ({why}); nothing was queued. Grant the permission to the role opsdeck uses, or ask someone who holds it"
            ))),
            Permission::Failed(why) => Err(Error::Unavailable(format!(
                "the permission check (DryRun) for {what} failed: {why}; nothing was queued"
            ))),
        }
    }
}

/// Waits `d`, waking early when cancel is asked for; true when cancelled.
async fn pause(d: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        changed = cancel.changed() => {
            // The sender is gone: nobody can cancel any more, so just wait.
            if changed.is_err() {
                tokio::time::sleep(d).await;
            }
        }
    }
    *cancel.borrow()
}

fn cancelled(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
