//! Restart, start, stop and terminate instances: plan with exact targets and a DryRun
//! permission check; after approval, act on one instance at a time, then wait (bounded) for the
//! expected state and passing status checks.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use super::inventory::{self, Instance};
use super::{
    Action, Call, cancelled, find_targets, pause, permission, plural, prod_targets, progress,
    raise_for_production, refuse_unnamed_prod, resources, show,
};
use crate::agents::{AgentRequest, Draft};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Outcome, Output, Sink, headings};
use crate::intent::AgentKind;
use crate::plan::pricing::{PriceBook, Priced, book_for, itemised};
use crate::plan::{ChangeAction, CostEstimate, Risk, Step, StepKind};

/// Default bound on the health wait after the calls, and how often to look.
const HEALTH_WAIT_SECS: u64 = 300;
const HEALTH_POLL_SECS: u64 = 5;
/// DescribeInstanceStatus takes at most 100 ids per call.
const STATUS_IDS_PER_CALL: usize = 100;

/// One instance action, as the agent plans and runs it.
struct Transition {
    action: Action,
    past: &'static str,
    operation: &'static str,
    /// States an instance must be in to be acted on; others are shown and skipped.
    acts_on: &'static [&'static str],
    /// States that count as done afterwards.
    expect: &'static [&'static str],
    /// Whether the status checks must pass too (instances that end up running).
    checks: bool,
    risk: Risk,
}

const TRANSITIONS: &[Transition] = &[
    Transition {
        action: Action::Restart,
        past: "rebooted",
        operation: "RebootInstances",
        acts_on: &["running"],
        expect: &["running"],
        checks: true,
        risk: Risk::Medium,
    },
    Transition {
        action: Action::Start,
        past: "started",
        operation: "StartInstances",
        acts_on: &["stopped"],
        expect: &["running"],
        checks: true,
        risk: Risk::Medium,
    },
    Transition {
        action: Action::Stop,
        past: "stopped",
        operation: "StopInstances",
        acts_on: &["running", "pending"],
        expect: &["stopped"],
        checks: false,
        risk: Risk::Medium,
    },
    Transition {
        action: Action::Terminate,
        past: "terminated",
        operation: "TerminateInstances",
        acts_on: &["running", "pending", "stopping", "stopped"],
        expect: &["terminated"],
        checks: false,
        risk: Risk::High,
    },
];

fn transition_for(action: Action) -> Result<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.action == action)
        .ok_or_else(|| Error::input(format!("{action} is not an instance action")))
}

fn transition_for_operation(op: &str) -> Result<&'static Transition> {
    TRANSITIONS
        .iter()
        .find(|t| t.operation == op)
        .ok_or_else(|| Error::input(format!("the ops agent does not run ec2 {op}")))
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str, action: Action) -> Result<Draft> {
    let transition = transition_for(action)?;
    let verb = action.as_str();
    let ec2 = aws_sdk_ec2::Client::new(&req.aws.config_blocking(region)?);
    let (sel, found) = find_targets(
        req,
        sink,
        region,
        &ec2,
        format!(
            "say which instances to {verb}: by id (i-0abc...), tag (Env=staging), environment (\"the staging instances\") or name (\"named web-1\")"
        ),
        "acts on",
    )?;
    let (act, skip): (Vec<&Instance>, Vec<&Instance>) = found
        .kept
        .iter()
        .partition(|i| transition.acts_on.contains(&i.state.as_str()));
    let plan_of = |i: &Instance| {
        if transition.acts_on.contains(&i.state.as_str()) {
            verb.to_string()
        } else {
            format!("skip: {}", i.state)
        }
    };
    show(
        sink,
        inventory::table(
            format!("instances {} in {region}", sel.describe()),
            &found.kept,
            Some(&plan_of),
        ),
    );
    let prod = prod_targets(&act);
    refuse_unnamed_prod(req, verb, &prod)?;
    if act.is_empty() {
        return Err(Error::input(format!(
            "none of the {} {} can be {}: {} (only instances that are {} can)",
            plural(found.matched, "instance", "instances"),
            sel.describe(),
            transition.past,
            skip.iter()
                .map(|i| format!("{} is {}", i.id, i.state))
                .collect::<Vec<_>>()
                .join(", "),
            transition.acts_on.join(" or ")
        )));
    }
    let targets: Vec<String> = act.iter().map(|i| i.id.clone()).collect();

    progress(
        sink,
        format!(
            "checking permission: ec2 {} with DryRun on {}",
            transition.operation,
            plural(targets.len(), "instance", "instances")
        ),
    );
    let ids = targets.clone();
    let op = transition.operation;
    let verdict = req.aws.block_on(async move {
        match op {
            "RebootInstances" => permission(
                "ec2",
                op,
                ec2.reboot_instances()
                    .set_instance_ids(Some(ids))
                    .dry_run(true)
                    .send()
                    .await,
            ),
            "StartInstances" => permission(
                "ec2",
                op,
                ec2.start_instances()
                    .set_instance_ids(Some(ids))
                    .dry_run(true)
                    .send()
                    .await,
            ),
            "StopInstances" => permission(
                "ec2",
                op,
                ec2.stop_instances()
                    .set_instance_ids(Some(ids))
                    .dry_run(true)
                    .send()
                    .await,
            ),
            _ => permission(
                "ec2",
                op,
                ec2.terminate_instances()
                    .set_instance_ids(Some(ids))
                    .dry_run(true)
                    .send()
                    .await,
            ),
        }
    })?;
    verdict.check(&format!("call ec2 {} in {region}", transition.operation))?;

    let mut risk = transition.risk;
    let mut risk_reasons = Vec::new();
    if action == Action::Terminate {
        risk_reasons.push(
            "terminate cannot be undone: the instances and their instance-store data are gone, and EBS volumes marked DeleteOnTermination with them".to_string(),
        );
    }
    raise_for_production(req, &prod, &mut risk, &mut risk_reasons, || {
        if prod.is_empty() {
            "the request names production".to_string()
        } else {
            format!(
                "{} in production",
                plural(prod.len(), "instance", "instances")
            )
        }
    });
    if targets.len() > 50 {
        risk = risk.raise();
        risk_reasons.push(format!("{} instances at once", targets.len()));
    }
    let cost = cost_of(
        &book_for(req.store, &req.tenant.name, req.aws),
        action,
        region,
        &act,
    );
    let wait = HEALTH_WAIT_SECS;
    let step = Step {
        description: format!(
            "{} {} {} in {region}, then wait up to {wait} s for {}{}",
            capitalise(verb),
            plural(targets.len(), "instance", "instances"),
            sel.describe(),
            transition.expect.join("/"),
            if transition.checks {
                " with status checks ok"
            } else {
                ""
            }
        ),
        mutates: true,
        kind: StepKind::Aws {
            agent: AgentKind::Ops,
            service: "ec2".into(),
            operation: transition.operation.into(),
            region: region.to_string(),
            targets: targets.clone(),
            input: json!({
                "health": {"expect": transition.expect, "status_checks": transition.checks},
                "wait_secs": wait,
                "poll_secs": HEALTH_POLL_SECS,
                // What the approver reviews: each target as seen now (view::aws_change).
                (crate::view::aws_change::TARGETS_SEEN): act.iter().map(|i| seen(i)).collect::<Vec<_>>(),
            }),
        },
    };
    let mut summary = format!(
        "{} {} {} in {region}",
        capitalise(verb),
        plural(targets.len(), "instance", "instances"),
        sel.describe()
    );
    if !skip.is_empty() {
        summary.push_str(&format!(" ({} skipped)", skip.len()));
    }
    Ok(Draft {
        builtins: Vec::new(),
        summary,
        stack: None,
        region: Some(region.to_string()),
        steps: vec![step],
        files: Vec::new(),
        resources: resources(
            "ec2_instance",
            &targets,
            if action == Action::Terminate {
                ChangeAction::Delete
            } else {
                ChangeAction::Update
            },
        ),
        mutates: true,
        risk,
        risk_reasons,
        cost,
    })
}

/// An instance as the plan records it for review: id, name, tags, state.
fn seen(i: &Instance) -> serde_json::Value {
    let tags: Vec<&String> = i.env_tag.iter().collect();
    json!({"id": i.id, "name": i.name, "state": i.state, "type": i.instance_type, "tags": tags})
}

/// Starting instances adds their compute; stopping or terminating saves it (noted, not
/// subtracted: an estimate is what a plan adds to the bill).
fn cost_of(book: &PriceBook<'_>, action: Action, region: &str, act: &[&Instance]) -> CostEstimate {
    if action == Action::Restart {
        return CostEstimate {
            notes: vec!["a reboot does not change what is billed".into()],
            ..CostEstimate::default()
        };
    }
    let mut by_type: BTreeMap<&str, u32> = BTreeMap::new();
    for i in act {
        *by_type.entry(i.instance_type.as_str()).or_default() += 1;
    }
    let items: Vec<Priced<'_>> = by_type
        .iter()
        .map(|(t, n)| Priced::Instances {
            instance_type: t,
            count: *n,
        })
        .collect();
    let compute = itemised(book, region, &items);
    match action {
        Action::Start => compute,
        _ => {
            let mut notes = compute.notes.clone();
            notes.insert(
                0,
                format!(
                    "{} saves about ${:.2}/month of on-demand compute; attached EBS storage is billed until it is deleted",
                    if action == Action::Stop {
                        "stopping"
                    } else {
                        "terminating"
                    },
                    compute.monthly_usd
                ),
            );
            CostEstimate {
                notes,
                source: compute.source,
                price_date: compute.price_date,
                ..CostEstimate::default()
            }
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What became of one target.
#[derive(Debug, Clone, serde::Serialize)]
struct TargetResult {
    id: String,
    /// `ok`, or the described error of the call.
    call: String,
    state: String,
    instance_status: String,
    system_status: String,
    healthy: bool,
}

pub async fn execute(
    operation: &str,
    call: &Call<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let transition = transition_for_operation(operation)?;
    let ec2 = aws_sdk_ec2::Client::new(&aws.config(call.region).await);
    let expect: Vec<String> = call.input["health"]["expect"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| transition.expect.iter().map(|s| s.to_string()).collect());
    let checks = call.input["health"]["status_checks"]
        .as_bool()
        .unwrap_or(transition.checks);
    let mut log = String::new();
    let mut results: Vec<TargetResult> = Vec::new();
    let mut was_cancelled = false;
    let n = call.targets.len();
    for (k, id) in call.targets.iter().enumerate() {
        progress(sink, format!("{} {id} ({}/{n})", transition.action, k + 1));
        // Checked after saying which target is next, right before its call.
        if cancelled(&cancel) {
            was_cancelled = true;
            log.push_str(&format!(
                "cancelled before {id}: {} of {n} not acted on\n",
                n - k
            ));
            break;
        }
        let ids = Some(vec![id.clone()]);
        // Noted with its target: a cancel that abandons it says which instance it was for.
        let call_on = std::slice::from_ref(id);
        let outcome = crate::aws::calls::on_targets(call_on, async {
            match transition.operation {
                "RebootInstances" => ec2
                    .reboot_instances()
                    .set_instance_ids(ids)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| called(transition.operation, &e)),
                "StartInstances" => ec2
                    .start_instances()
                    .set_instance_ids(ids)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| called(transition.operation, &e)),
                "StopInstances" => ec2
                    .stop_instances()
                    .set_instance_ids(ids)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| called(transition.operation, &e)),
                _ => ec2
                    .terminate_instances()
                    .set_instance_ids(ids)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| called(transition.operation, &e)),
            }
        })
        .await;
        let abandoned = outcome.as_ref().is_err_and(|e| e == ABANDONED);
        let line = match &outcome {
            Ok(()) => format!("ec2 {} {id}: ok", transition.operation),
            Err(e) if abandoned => format!("ec2 {} {id}: {e}", transition.operation),
            Err(e) => e.clone(),
        };
        log.push_str(&line);
        log.push('\n');
        results.push(TargetResult {
            id: id.clone(),
            call: outcome.err().unwrap_or_else(|| "ok".into()),
            state: String::new(),
            instance_status: String::new(),
            system_status: String::new(),
            healthy: false,
        });
        if abandoned {
            // Given up by a cancel: neither done nor failed, and nothing after it starts.
            was_cancelled = true;
            break;
        }
    }

    // A cancel during the last target's call stops the run as one before it would.
    if !was_cancelled && cancelled(&cancel) {
        was_cancelled = true;
        log.push_str("cancelled\n");
    }
    // Health of every instance the call reached.
    let acted: Vec<String> = results
        .iter()
        .filter(|r| r.call == "ok")
        .map(|r| r.id.clone())
        .collect();
    let wait = call.secs("wait_secs", HEALTH_WAIT_SECS);
    let poll = call
        .secs("poll_secs", HEALTH_POLL_SECS)
        .max(Duration::from_secs(1));
    let mut waited = Duration::ZERO;
    if !acted.is_empty() {
        progress(
            sink,
            format!(
                "verifying {}: {}{} (up to {} s)",
                plural(acted.len(), "instance", "instances"),
                expect.join("/"),
                if checks { ", status checks ok" } else { "" },
                wait.as_secs()
            ),
        );
        let start = Instant::now();
        loop {
            let seen = match statuses(&ec2, &acted).await {
                Ok(s) => s,
                Err(e) => {
                    log.push_str(&format!("health check: {e}\n"));
                    HashMap::new()
                }
            };
            let mut all = true;
            for r in results.iter_mut().filter(|r| r.call == "ok") {
                let s = seen.get(&r.id);
                r.state = s.map(|s| s.0.clone()).unwrap_or_else(|| {
                    // Terminated instances drop out of DescribeInstanceStatus after a while.
                    if expect.iter().any(|e| e == "terminated") {
                        "terminated".into()
                    } else {
                        "not found".into()
                    }
                });
                r.instance_status = s.map(|s| s.1.clone()).unwrap_or_default();
                r.system_status = s.map(|s| s.2.clone()).unwrap_or_default();
                let state_ok = expect.contains(&r.state);
                let checks_ok = !checks || (r.instance_status == "ok" && r.system_status == "ok");
                r.healthy = state_ok && checks_ok;
                all &= r.healthy;
            }
            waited = start.elapsed();
            if all || waited >= wait {
                break;
            }
            if pause(poll.min(wait.saturating_sub(waited)), &mut cancel).await {
                was_cancelled = true;
                log.push_str("cancelled while waiting for health\n");
                break;
            }
        }
    }

    let called_ok = acted.len();
    let healthy = results.iter().filter(|r| r.healthy).count();
    let failed_calls: Vec<&TargetResult> = results
        .iter()
        .filter(|r| r.call != "ok" && r.call != ABANDONED)
        .collect();
    let unknown: Vec<&str> = results
        .iter()
        .filter(|r| r.call == ABANDONED)
        .map(|r| r.id.as_str())
        .collect();
    let unhealthy: Vec<&TargetResult> = results
        .iter()
        .filter(|r| r.call == "ok" && !r.healthy)
        .collect();
    let mut summary = format!(
        "{} {called_ok}/{n} instances in {}; {healthy} {}{}",
        transition.past,
        call.region,
        expect.join("/"),
        if checks { " with status checks ok" } else { "" }
    );
    if !unhealthy.is_empty() {
        summary.push_str(&format!(
            "; not healthy after {} s: {}",
            waited.as_secs(),
            unhealthy
                .iter()
                .take(10)
                .map(|r| format!(
                    "{} ({}{})",
                    r.id,
                    r.state,
                    if checks && !r.instance_status.is_empty() {
                        format!(", checks {}/{}", r.instance_status, r.system_status)
                    } else {
                        String::new()
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !failed_calls.is_empty() {
        summary.push_str(&format!("; {} calls failed", failed_calls.len()));
    }
    if !unknown.is_empty() {
        summary.push_str(&format!(
            "; cancelled during the call on {}: {ABANDONED}",
            unknown.join(", ")
        ));
    }
    if was_cancelled {
        summary.push_str(&format!(
            "; cancelled with {} not acted on",
            n - results.len()
        ));
    }
    log.push_str(&summary);
    log.push('\n');
    show(
        sink,
        Output::Table {
            title: format!("ec2 {} in {}", transition.operation, call.region),
            columns: headings(&[
                "INSTANCE",
                "CALL",
                "STATE",
                "INSTANCE CHECK",
                "SYSTEM CHECK",
                "HEALTHY",
            ]),
            rows: results
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.call.clone(),
                        r.state.clone(),
                        r.instance_status.clone(),
                        r.system_status.clone(),
                        if r.healthy { "yes" } else { "no" }.into(),
                    ]
                })
                .collect(),
        },
    );
    let success = !was_cancelled && failed_calls.is_empty() && unhealthy.is_empty();
    Ok(Outcome {
        success,
        cancelled: was_cancelled,
        exit_code: None,
        log: crate::redact::redact(&log),
        outputs: Some(json!({
            "summary": summary,
            "operation": transition.operation,
            "region": call.region,
            "waited_secs": waited.as_secs(),
            "targets": results,
        })),
    })
}

/// What a call abandoned by a cancel leaves known: nothing (the request may have landed).
const ABANDONED: &str = "abandoned: effect unknown";

/// A state-changing call's error as the results table says it; an abandoned call is not a
/// failure but [`ABANDONED`].
fn called<E, R>(operation: &str, e: &aws_sdk_ec2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::error::HttpStatus + std::fmt::Debug + 'static,
{
    if crate::aws::calls::is_abandoned(e) {
        ABANDONED.to_string()
    } else {
        crate::aws::describe_error("ec2", operation, e)
    }
}

/// (state, instance status, system status) per instance id.
async fn statuses(
    ec2: &aws_sdk_ec2::Client,
    ids: &[String],
) -> std::result::Result<HashMap<String, (String, String, String)>, String> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(STATUS_IDS_PER_CALL) {
        let mut pages = ec2
            .describe_instance_status()
            .set_instance_ids(Some(chunk.to_vec()))
            .include_all_instances(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| crate::aws::describe_error("ec2", "DescribeInstanceStatus", &e))?;
            for s in page.instance_statuses() {
                let Some(id) = s.instance_id() else { continue };
                let summary = |x: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
                    x.and_then(|x| x.status())
                        .map(|v| v.as_str().to_string())
                        .unwrap_or_default()
                };
                out.insert(
                    id.to_string(),
                    (
                        s.instance_state()
                            .and_then(|st| st.name())
                            .map(|n| n.as_str().to_string())
                            .unwrap_or_default(),
                        summary(s.instance_status()),
                        summary(s.system_status()),
                    ),
                );
            }
        }
    }
    Ok(out)
}
