//! Shell commands through SSM Run Command (`AWS-RunShellScript`) on instances found by tag (or
//! id, environment, name). Which commands may run is the tenant's `ssm_allowed_commands`, judged
//! by the `ssm` policy on the command the step will send; this module resolves the instances,
//! sends to exactly the approved ones, and reports each instance's output.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use super::inventory::{self, Instance};
use super::{
    Call, cancelled, find_targets, pause, plural, prod_targets, progress, raise_for_production,
    refuse_unnamed_prod, resources, show,
};
use crate::agents::{AgentRequest, Draft};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Outcome, Output, Sink, headings};
use crate::intent::AgentKind;
use crate::plan::{ChangeAction, Risk, Step, StepKind};
use crate::redact::redact;
use crate::view::aws_change::{TARGETS_SEEN, target_seen};

pub(super) const DOCUMENT: &str = "AWS-RunShellScript";
/// SendCommand takes at most 50 instance ids per call.
const IDS_PER_SEND: usize = 50;
/// How long the command may run on an instance, and how long we wait for the results.
const COMMAND_TIMEOUT_SECS: u64 = 600;
pub(super) const RESULT_WAIT_SECS: u64 = 300;
const RESULT_POLL_SECS: u64 = 2;
/// Output lines per instance streamed to the screen; the log and results keep more.
const LINES_SHOWN: usize = 20;
/// Characters of each stream kept per instance in the results (SSM itself keeps 24,000).
const OUTPUT_KEPT: usize = 8000;

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Draft> {
    let Some(command) = req.intent.params.command.as_deref().map(str::trim) else {
        return Err(Error::input(
            "say which command to run, in backticks, and where: run `uptime` on instances tagged Role=web; or a script of the tenant's library: run our NAME script on instances tagged Role=web (`opsdeck library list` shows them)",
        ));
    };
    if command.is_empty() {
        return Err(Error::input("the command is empty"));
    }
    let words = command_words(command)?;
    let command = words.join(" ");
    let command = command.as_str();
    let SsmTargets { sel, act, prod } = ssm_targets(req, sink, region, &format!("`{command}`"))?;
    progress(
        sink,
        "permission check: SSM SendCommand has no DryRun; the allow list is checked by policy and the call's permission when it runs",
    );
    let targets: Vec<String> = act.iter().map(|i| i.id.clone()).collect();
    let mut risk = Risk::Medium;
    let mut risk_reasons = vec![format!(
        "runs `{command}` as root on {}",
        plural(targets.len(), "instance", "instances")
    )];
    raise_for_production(req, &prod, &mut risk, &mut risk_reasons, || {
        "production instances".into()
    });
    let step = send_step(
        format!(
            "Run `{command}` through SSM ({DOCUMENT}) on {} {} in {region}, then collect each instance's output (up to {RESULT_WAIT_SECS} s)",
            plural(targets.len(), "instance", "instances"),
            sel.describe()
        ),
        region,
        targets.clone(),
        command,
        req.request_id,
        act.iter()
            .map(|i| target_seen(&i.id, &i.name, &i.state, i.env_tag.as_slice()))
            .collect(),
        None,
    );
    Ok(Draft {
        builtins: Vec::new(),
        summary: format!(
            "Run `{command}` on {} {} in {region}",
            plural(targets.len(), "instance", "instances"),
            sel.describe()
        ),
        stack: None,
        region: Some(region.to_string()),
        steps: vec![step],
        files: Vec::new(),
        resources: resources("ec2_instance", &targets, ChangeAction::Update),
        mutates: true,
        risk,
        risk_reasons,
        cost: crate::plan::CostEstimate {
            notes: vec!["Run Command on EC2 instances is not billed".into()],
            ..crate::plan::CostEstimate::default()
        },
    })
}

/// The SendCommand step: one `command` (a plain-word command, or a library script's whole text)
/// to `targets`, with each target as the agent saw it (what the approver reviews,
/// `view::aws_change`) and, for a script, what the policies and the executor read of it.
pub(super) fn send_step(
    description: String,
    region: &str,
    targets: Vec<String>,
    command: &str,
    request_id: &str,
    seen: Vec<serde_json::Value>,
    script: Option<serde_json::Value>,
) -> Step {
    let mut input = json!({
        "document": DOCUMENT,
        "commands": [command],
        "timeout_secs": COMMAND_TIMEOUT_SECS,
        "wait_secs": RESULT_WAIT_SECS,
        "poll_secs": RESULT_POLL_SECS,
        "comment": format!("opsdeck request {request_id}"),
        (TARGETS_SEEN): seen,
    });
    if let Some(script) = script {
        input["script"] = script;
    }
    Step {
        description,
        mutates: true,
        kind: StepKind::Aws {
            agent: AgentKind::Ops,
            service: "ssm".into(),
            operation: "SendCommand".into(),
            region: region.to_string(),
            targets,
            input,
        },
    }
}

/// The instances an SSM step sends to, and what the reviewer is shown of them.
pub(super) struct SsmTargets {
    pub sel: super::Selector,
    /// Running and managed by SSM (or SSM could not say), in the order found.
    pub act: Vec<Instance>,
    /// Those tagged as production, with the tag ([`prod_targets`]).
    pub prod: Vec<(String, String)>,
}

/// The instances the request names that can run `what` (a command in backticks, a library
/// script): found by the request's selection, shown as a table with each one's plan (run, or
/// skip and why: not running, not managed by SSM, its agent offline), production refused unless
/// named, and none at all refused.
pub(super) fn ssm_targets(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    region: &str,
    what: &str,
) -> Result<SsmTargets> {
    let conf = req.aws.config_blocking(region)?;
    let (sel, found) = find_targets(
        req,
        sink,
        region,
        &aws_sdk_ec2::Client::new(&conf),
        format!(
            "say which instances should run {what}: by tag (Role=web), environment, name or id"
        ),
        "runs a command on",
    )?;
    let running: Vec<&Instance> = found.kept.iter().filter(|i| i.state == "running").collect();

    // Instances the SSM agent does not manage would only time out; find them now when the
    // service says (DescribeInstanceInformation), and say so when it cannot.
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let ids: Vec<String> = running.iter().map(|i| i.id.clone()).collect();
    let managed = req.aws.block_on(managed_instances(ssm, ids))?;
    let unmanaged = |i: &Instance| match &managed {
        Ok(m) => m.get(&i.id).is_none_or(|ping| ping != "Online"),
        Err(_) => false,
    };
    let plan_of = |i: &Instance| {
        if i.state != "running" {
            format!("skip: {}", i.state)
        } else if unmanaged(i) {
            match &managed {
                Ok(m) => match m.get(&i.id) {
                    Some(ping) => format!("skip: SSM agent {ping}"),
                    None => "skip: not managed by SSM".to_string(),
                },
                Err(_) => "skip".to_string(),
            }
        } else {
            "run".to_string()
        }
    };
    show(
        sink,
        inventory::table(
            format!("instances {} in {region} for {what}", sel.describe()),
            &found.kept,
            Some(&plan_of),
        ),
    );
    if let Err(why) = &managed {
        progress(
            sink,
            format!(
                "could not check which instances SSM manages ({why}); instances without a running SSM agent will report an error"
            ),
        );
    }
    let act: Vec<&Instance> = running.into_iter().filter(|i| !unmanaged(i)).collect();
    let prod = prod_targets(&act);
    refuse_unnamed_prod(req, "run ...", &prod)?;
    if act.is_empty() {
        return Err(Error::input(format!(
            "none of the {} {} can run {what}: they must be running and managed by SSM (see the table)",
            plural(found.matched, "instance", "instances"),
            sel.describe()
        )));
    }
    Ok(SsmTargets {
        sel,
        act: act.into_iter().cloned().collect(),
        prod,
    })
}

/// Ping status per instance id, for the instances SSM knows about.
async fn managed_instances(
    ssm: aws_sdk_ssm::Client,
    ids: Vec<String>,
) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for chunk in ids.chunks(IDS_PER_SEND) {
        let filter = aws_sdk_ssm::types::InstanceInformationStringFilter::builder()
            .key("InstanceIds")
            .set_values(Some(chunk.to_vec()))
            .build()
            .map_err(|e| e.to_string())?;
        let mut pages = ssm
            .describe_instance_information()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                crate::aws::describe_error("ssm", "DescribeInstanceInformation", &e)
            })?;
            for i in page.instance_information_list() {
                if let Some(id) = i.instance_id() {
                    out.insert(
                        id.to_string(),
                        i.ping_status()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// One instance's result.
#[derive(Debug, Clone, serde::Serialize)]
struct Invocation {
    id: String,
    command_id: String,
    status: String,
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn terminal(status: &str) -> bool {
    matches!(
        status,
        "Success"
            | "Failed"
            | "Cancelled"
            | "TimedOut"
            | "Undeliverable"
            | "Terminated"
            | "InvalidPlatform"
            | "AccessDenied"
            | "DeliveryTimedOut"
            | "ExecutionTimedOut"
    )
}

pub async fn execute(
    call: &Call<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let commands: Vec<String> = call.input["commands"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if commands.is_empty() {
        return Err(Error::input("the SendCommand step has no command"));
    }
    // A library script is named, not printed; its text is checked against the plan's digest.
    let (command, shown) = match super::scripts::sent_script(call.input, &commands)? {
        Some(label) => (
            format!("library script {label}"),
            format!("library script {label}"),
        ),
        None => (commands.join("; "), format!("`{}`", commands.join("; "))),
    };
    let document = call.input["document"].as_str().unwrap_or(DOCUMENT);
    let comment = call.input["comment"].as_str().unwrap_or("opsdeck");
    let timeout = call.input["timeout_secs"]
        .as_u64()
        .unwrap_or(COMMAND_TIMEOUT_SECS)
        .clamp(30, 172_800) as i32;
    let ssm = aws_sdk_ssm::Client::new(&aws.config(call.region).await);
    let mut log = String::new();
    let mut was_cancelled = false;
    let mut invocations: Vec<Invocation> = Vec::new();
    let mut failed_sends: Vec<(String, String)> = Vec::new();
    let n = call.targets.len();

    // Send in batches; cancel is honoured between them.
    for chunk in call.targets.chunks(IDS_PER_SEND) {
        if cancelled(&cancel) {
            was_cancelled = true;
            log.push_str(&format!(
                "cancelled: {} instances not sent the command\n",
                n - invocations.len() - failed_sends.len()
            ));
            break;
        }
        progress(
            sink,
            format!(
                "sending {shown} to {}",
                plural(chunk.len(), "instance", "instances")
            ),
        );
        let send = ssm
            .send_command()
            .document_name(document)
            .set_instance_ids(Some(chunk.to_vec()))
            .parameters("commands", commands.clone())
            .timeout_seconds(timeout)
            .comment(comment.chars().take(100).collect::<String>())
            .send();
        // Noted with its targets: a cancel that abandons it says which instances it was for.
        let sent = crate::aws::calls::on_targets(chunk, send).await;
        match sent {
            Ok(out) => {
                let command_id = out
                    .command()
                    .and_then(|c| c.command_id())
                    .unwrap_or_default()
                    .to_string();
                log.push_str(&format!(
                    "ssm SendCommand {command_id}: {}\n",
                    chunk.join(", ")
                ));
                invocations.extend(chunk.iter().map(|id| Invocation {
                    id: id.clone(),
                    command_id: command_id.clone(),
                    status: "Pending".into(),
                    exit_code: None,
                    stdout: String::new(),
                    stderr: String::new(),
                }));
            }
            Err(e) => {
                let why = crate::aws::describe_error("ssm", "SendCommand", &e);
                log.push_str(&format!("{why}\n"));
                failed_sends.extend(chunk.iter().map(|id| (id.clone(), why.clone())));
            }
        }
    }

    // Collect each instance's result as it finishes.
    let wait = call.secs("wait_secs", RESULT_WAIT_SECS);
    let poll = call
        .secs("poll_secs", RESULT_POLL_SECS)
        .max(Duration::from_secs(1));
    let start = Instant::now();
    loop {
        for inv in invocations.iter_mut().filter(|i| !terminal(&i.status)) {
            let got = ssm
                .get_command_invocation()
                .command_id(&inv.command_id)
                .instance_id(&inv.id)
                .send()
                .await;
            match got {
                Ok(o) => {
                    let status = o
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    if !terminal(&status) {
                        inv.status = status;
                        continue;
                    }
                    inv.status = status;
                    inv.exit_code = Some(o.response_code());
                    inv.stdout = keep(o.standard_output_content().unwrap_or_default());
                    inv.stderr = keep(o.standard_error_content().unwrap_or_default());
                    report_lines(sink, inv, &mut log);
                }
                Err(e) => {
                    use aws_sdk_ssm::error::ProvideErrorMetadata;
                    // Right after SendCommand the invocation may not exist yet.
                    if e.code() != Some("InvocationDoesNotExist") {
                        inv.status = "Error".into();
                        inv.stderr = crate::aws::describe_error("ssm", "GetCommandInvocation", &e);
                        log.push_str(&format!("{}: {}\n", inv.id, inv.stderr));
                    }
                }
            }
        }
        let pending = invocations
            .iter()
            .filter(|i| !terminal(&i.status) && i.status != "Error")
            .count();
        if pending == 0 || start.elapsed() >= wait {
            break;
        }
        if pause(poll, &mut cancel).await {
            was_cancelled = true;
            let open: Vec<(String, String)> = invocations
                .iter()
                .filter(|i| !terminal(&i.status))
                .map(|i| (i.command_id.clone(), i.id.clone()))
                .collect();
            for (command_id, id) in open {
                let r = ssm
                    .cancel_command()
                    .command_id(&command_id)
                    .instance_ids(&id)
                    .send()
                    .await;
                log.push_str(&format!(
                    "cancel {id}: {}\n",
                    match r {
                        Ok(_) => "requested".to_string(),
                        Err(e) => crate::aws::describe_error("ssm", "CancelCommand", &e),
                    }
                ));
            }
            break;
        }
    }

    let succeeded = invocations.iter().filter(|i| i.status == "Success").count();
    let unfinished = invocations
        .iter()
        .filter(|i| !terminal(&i.status) && i.status != "Error")
        .count();
    let mut summary = format!(
        "ran {shown} on {}/{n} instances in {}: {succeeded} succeeded",
        invocations.len(),
        call.region
    );
    let failed = invocations.len() - succeeded - unfinished;
    if failed > 0 {
        summary.push_str(&format!(", {failed} failed"));
    }
    if unfinished > 0 {
        summary.push_str(&format!(
            ", {unfinished} still running after {} s",
            start.elapsed().as_secs()
        ));
    }
    if !failed_sends.is_empty() {
        summary.push_str(&format!(", {} not sent", failed_sends.len()));
    }
    if was_cancelled {
        summary.push_str(", cancelled");
    }
    log.push_str(&summary);
    log.push('\n');
    let mut rows: Vec<Vec<String>> = invocations
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.status.clone(),
                i.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                first_line(if i.stdout.trim().is_empty() {
                    &i.stderr
                } else {
                    &i.stdout
                }),
            ]
        })
        .collect();
    rows.extend(
        failed_sends
            .iter()
            .map(|(id, why)| vec![id.clone(), "NotSent".into(), String::new(), first_line(why)]),
    );
    show(
        sink,
        Output::Table {
            title: format!("{shown} per instance in {}", call.region),
            columns: headings(&["INSTANCE", "STATUS", "EXIT", "OUTPUT"]),
            rows,
        },
    );
    let success =
        !was_cancelled && failed_sends.is_empty() && succeeded == invocations.len() && n > 0;
    Ok(Outcome {
        success,
        cancelled: was_cancelled,
        exit_code: None,
        log: redact(&log),
        outputs: Some(json!({
            "summary": summary,
            "command": command,
            "region": call.region,
            "instances": invocations,
            "not_sent": failed_sends.iter().map(|(id, why)| json!({"id": id, "error": why})).collect::<Vec<_>>(),
        })),
    })
}

/// Output as stored: redacted, and cut to a bounded size.
fn keep(text: &str) -> String {
    let text = redact(text);
    if text.chars().count() <= OUTPUT_KEPT {
        return text;
    }
    let mut cut: String = text.chars().take(OUTPUT_KEPT).collect();
    cut.push_str("\n[output truncated]");
    cut
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out: String = line.chars().take(80).collect();
    if line.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// Streams an instance's output as it arrives: `i-0abc | line`.
fn report_lines(sink: Sink<'_>, inv: &Invocation, log: &mut String) {
    log.push_str(&format!(
        "--- {} {} (exit {})\n",
        inv.id,
        inv.status,
        inv.exit_code.map(|c| c.to_string()).unwrap_or_default()
    ));
    let mut shown = 0;
    for (stream, text) in [("", &inv.stdout), ("stderr: ", &inv.stderr)] {
        for line in text.lines() {
            log.push_str(&format!("{} | {stream}{line}\n", inv.id));
            if shown < LINES_SHOWN {
                sink(AgentEvent::Output {
                    agent: AgentKind::Ops,
                    line: format!("{} | {stream}{line}", inv.id),
                });
                shown += 1;
            }
        }
    }
    if shown == 0 {
        sink(AgentEvent::Output {
            agent: AgentKind::Ops,
            line: format!("{} | ({}, no output)", inv.id, inv.status),
        });
    }
}

/// A command for `AWS-RunShellScript` as plain words: the shell that runs it on the instance must
/// see exactly what the approver saw, so every word is made of characters no shell gives a
/// meaning to (no quotes, `$`, globs, redirections, separators, backslashes or controls). The
/// policy's allow list then judges the first words.
pub fn command_words(command: &str) -> Result<Vec<String>> {
    let words: Vec<String> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let plain = |c: char| c.is_ascii_alphanumeric() || "._/:=@%+,-".contains(c);
    for w in &words {
        if let Some(bad) = w.chars().find(|c| !plain(*c)) {
            return Err(Error::input(format!(
                "the command `{}` holds {}: commands run through SSM are plain words (letters, digits and . _ / : = @ % + , -), so that the shell on the instance runs exactly what was approved; for anything more, add a script to the tenant's library (`opsdeck library add NAME --kind script --from FILE.sh`) and run it (`opsdeck ask --use NAME --set KEY=VALUE \"on instances tagged Role=web\"`)",
                crate::redact::redact(command),
                match bad {
                    c if c.is_control() || crate::plan::verify::is_hidden(c) =>
                        format!("the hidden character U+{:04X}", c as u32),
                    c => format!("'{c}'"),
                }
            )));
        }
    }
    if words.is_empty() {
        return Err(Error::input("the command is empty"));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::command_words;

    #[test]
    fn commands_are_plain_words() {
        assert_eq!(
            command_words("systemctl  status\tnginx").unwrap(),
            ["systemctl", "status", "nginx"]
        );
        assert_eq!(
            command_words("df -h /var/log").unwrap(),
            ["df", "-h", "/var/log"]
        );
        for bad in [
            "uptime; rm -rf /",
            "df $(id)",
            "df ${HOME}",
            "df `id`",
            "df > /etc/x",
            "df 'a b'",
            "df \\",
            "df *",
            "df ~",
            "df\u{2028}id",
            "df\u{1b}[2J",
            "df\nid",
            "",
        ] {
            assert!(command_words(bad).is_err(), "accepted {bad:?}");
        }
    }
}
