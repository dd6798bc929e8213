//! Library scripts through SSM Run Command: the plan that sends a version of a tenant's script
//! (with its parameters' preamble, `library::script`) to the instances a request names, through
//! the same target finding, production guard and per-instance results as commands
//! (`commands.rs`). The text sent is the plan's artifact and its step's input, so the approval's
//! plan hash binds every byte; the executor checks the text against the digest the step
//! records before sending it.

use serde_json::Value;

use super::commands::{DOCUMENT, RESULT_WAIT_SECS, SsmTargets, send_step, ssm_targets};
use super::{plural, progress, raise_for_production, resources};
use crate::agents::{AgentRequest, Draft, DraftFile};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::library::script::{Composed, Shell, step_record};
use crate::plan::{ArtifactKind, ChangeAction, Risk};
use crate::view::aws_change::target_seen;

/// A script to send: which library version, its file and shell, and the composed text.
pub struct ScriptSend<'a> {
    pub entry: &'a str,
    /// The version and its manifest's SHA-256 (none when judged before it is added).
    pub version: Option<(u32, &'a str)>,
    pub file: &'a str,
    pub shell: Shell,
    pub composed: &'a Composed,
    /// Whether an approver approved the version (`library approve`).
    pub approved: bool,
}

impl ScriptSend<'_> {
    pub fn label(&self) -> String {
        match self.version {
            Some((v, _)) => format!("{}@{v}", self.entry),
            None => self.entry.to_string(),
        }
    }

    fn lines(&self) -> usize {
        self.composed
            .text
            .lines()
            .count()
            .saturating_sub(self.composed.preamble_lines)
    }
}

/// A plan that runs the script on the instances the request names.
pub fn plan(
    req: &AgentRequest<'_>,
    sink: Sink<'_>,
    region: &str,
    send: &ScriptSend<'_>,
) -> Result<Draft> {
    let label = send.label();
    let SsmTargets { sel, act, prod } =
        ssm_targets(req, sink, region, &format!("library script {label}"))?;
    progress(
        sink,
        "permission check: SSM SendCommand has no DryRun; the call's permission is checked when it runs",
    );
    let targets: Vec<String> = act.iter().map(|i| i.id.clone()).collect();
    let seen: Vec<Value> = act
        .iter()
        .map(|i| target_seen(&i.id, &i.name, &i.state, i.env_tag.as_slice()))
        .collect();
    let mut risk = Risk::Medium;
    let mut risk_reasons = vec![format!(
        "runs library script {label} ({}, {} lines) as root on {}",
        send.shell.as_str(),
        send.lines(),
        plural(targets.len(), "instance", "instances")
    )];
    raise_for_production(req, &prod, &mut risk, &mut risk_reasons, || {
        "production instances".into()
    });
    let where_ = format!(
        "{} {} in {region}",
        plural(targets.len(), "instance", "instances"),
        sel.describe()
    );
    let mut draft = draft(region, targets.clone(), seen, &where_, send, req.request_id);
    draft.resources = resources("ec2_instance", &targets, ChangeAction::Update);
    draft.risk = risk;
    draft.risk_reasons = risk_reasons;
    Ok(draft)
}

/// The draft of a script's run on `targets` (none when a version is judged as it is added):
/// one SendCommand step whose input holds the text and what the policies read of it
/// (`input.script`), and the text as the plan's artifact.
pub fn draft(
    region: &str,
    targets: Vec<String>,
    seen: Vec<Value>,
    where_: &str,
    send: &ScriptSend<'_>,
    request_id: &str,
) -> Draft {
    let label = send.label();
    let record = step_record(
        send.entry,
        send.version.map(|(v, _)| v),
        send.version.map(|(_, sha)| sha),
        send.file,
        send.shell,
        send.composed,
        Some(send.approved),
    );
    let step = send_step(
        format!(
            "Run library script {label} ({}, {}) through SSM ({DOCUMENT}) on {where_}, its parameters as OPSDECK_* environment variables, then collect each instance's output (up to {RESULT_WAIT_SECS} s)",
            send.file,
            send.shell.as_str()
        ),
        region,
        targets,
        &send.composed.text,
        request_id,
        seen,
        Some(record),
    );
    Draft {
        builtins: Vec::new(),
        summary: format!("Run library script {label} on {where_}"),
        stack: None,
        region: Some(region.to_string()),
        steps: vec![step],
        files: vec![DraftFile {
            name: send.file.to_string(),
            kind: ArtifactKind::Script,
            content: send.composed.text.clone().into_bytes(),
        }],
        resources: Vec::new(),
        mutates: true,
        risk: Risk::Medium,
        risk_reasons: Vec::new(),
        cost: crate::plan::CostEstimate {
            notes: vec!["Run Command on EC2 instances is not billed".into()],
            ..crate::plan::CostEstimate::default()
        },
    }
}

/// For a step that sends a library script: its label, once the one text to send is the one
/// whose SHA-256 the step records. None for a plain command.
pub(super) fn sent_script(input: &Value, commands: &[String]) -> Result<Option<String>> {
    let Some(record) = input.get("script").filter(|s| s.is_object()) else {
        return Ok(None);
    };
    let label = record["library"]["label"]
        .as_str()
        .or(record["entry"].as_str())
        .unwrap_or("(unnamed)")
        .to_string();
    let expected = record["sha256"].as_str().unwrap_or_default();
    let matches = commands.len() == 1
        && crate::plan::sha256_hex(commands[0].as_bytes()) == expected
        && !expected.is_empty();
    if !matches {
        return Err(Error::Execution(format!(
            "the text of library script {label} in this step is not the one whose SHA-256 the plan records: nothing was sent"
        )));
    }
    Ok(Some(label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::script::compose;

    #[test]
    fn only_the_text_whose_digest_the_step_records_is_sent() {
        let composed = compose("#!/bin/sh\necho hi\n", "hello@1", &Default::default()).unwrap();
        let send = ScriptSend {
            entry: "hello",
            version: Some((1, "ab")),
            file: "hello.sh",
            shell: Shell::Sh,
            composed: &composed,
            approved: false,
        };
        let d = draft(
            "us-east-1",
            vec!["i-1".into()],
            Vec::new(),
            "i-1",
            &send,
            "r",
        );
        let crate::plan::StepKind::Aws { input, .. } = &d.steps[0].kind else {
            panic!("an AWS step")
        };
        let text = composed.text.clone();
        assert_eq!(
            sent_script(input, std::slice::from_ref(&text)).unwrap(),
            Some("hello@1".to_string())
        );
        let tampered = text.replace("echo hi", "reboot");
        assert!(sent_script(input, &[tampered]).is_err());
        assert!(sent_script(input, &[text.clone(), text]).is_err());
        assert_eq!(
            sent_script(
                &serde_json::json!({"commands": ["uptime"]}),
                &["uptime".into()]
            )
            .unwrap(),
            None
        );
        assert_eq!(d.files[0].content, composed.text.as_bytes());
    }
}
