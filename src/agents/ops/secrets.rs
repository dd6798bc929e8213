//! Secrets Manager: rotate a secret with the rotation function it is configured with, and list
//! secrets (names and rotation state; never a value: this agent never calls GetSecretValue).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use super::inventory::env_of_tags;
use super::{Call, LIST_ROWS, pause, progress, raise_for_production, refuse_unnamed_prod, show};
use crate::agents::{AgentRequest, Draft, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Outcome, Output, Sink, headings};
use crate::intent::AgentKind;
use crate::plan::{ChangeAction, CostEstimate, ResourceChange, Risk, Step, StepKind};
use crate::view::aws_change::{TARGETS_SEEN, target_seen};

/// How long to wait for the rotation function to promote the new version.
const ROTATION_WAIT_SECS: u64 = 120;
const ROTATION_POLL_SECS: u64 = 5;

/// What planning needs to know about a secret.
#[derive(Debug, Clone)]
struct SecretInfo {
    arn: String,
    name: String,
    rotation_enabled: bool,
    rotation_function: String,
    owning_service: String,
    last_rotated: String,
    last_changed: String,
    env: Option<(String, String)>,
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Draft> {
    let Some(name) = req.intent.params.secret.as_deref() else {
        return Err(Error::input(
            "say which secret to rotate: rotate secret prod/db-password (its name or ARN)",
        ));
    };
    let name = name.to_string();
    progress(sink, format!("looking up secret {name} in {region}"));
    let sm = aws_sdk_secretsmanager::Client::new(&req.aws.config_blocking(region)?);
    let wanted = name.clone();
    let info = req.aws.block_on(async move {
        let d = sm.describe_secret().secret_id(&wanted).send().await;
        d.map(|d| SecretInfo {
            arn: d.arn().unwrap_or_default().to_string(),
            name: d.name().unwrap_or_default().to_string(),
            rotation_enabled: d.rotation_enabled().unwrap_or(false),
            rotation_function: d.rotation_lambda_arn().unwrap_or_default().to_string(),
            owning_service: d.owning_service().unwrap_or_default().to_string(),
            last_rotated: d
                .last_rotated_date()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "never".into()),
            last_changed: d
                .last_changed_date()
                .map(|t| t.to_string())
                .unwrap_or_else(|| "unknown".into()),
            env: env_of_tags(
                d.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            ),
        })
        .map_err(|e| {
            use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
            if e.code() == Some("ResourceNotFoundException") {
                Error::not_found(
                    "secret",
                    wanted,
                    "in this region; `opsdeck ask \"list secrets\"` shows them",
                )
            } else {
                Error::Unavailable(crate::aws::describe_error(
                    "secretsmanager",
                    "DescribeSecret",
                    &e,
                ))
            }
        })
    })??;
    show(
        sink,
        Output::Table {
            title: format!("secret {} in {region}", info.name),
            columns: headings(&["SECRET", "ROTATION", "FUNCTION", "LAST ROTATED", "ENV"]),
            rows: vec![vec![
                info.name.clone(),
                if info.rotation_enabled {
                    "enabled"
                } else {
                    "disabled"
                }
                .into(),
                if info.rotation_function.is_empty() {
                    info.owning_service.clone()
                } else {
                    info.rotation_function.clone()
                },
                info.last_rotated.clone(),
                info.env.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
            ]],
        },
    );
    let prod: Vec<(String, String)> = info
        .env
        .iter()
        .filter(|(_, meaning)| meaning == "prod")
        .map(|(tag, _)| (info.name.clone(), tag.clone()))
        .collect();
    refuse_unnamed_prod(req, "rotate secret ...", &prod)?;
    // Without a rotation function (or a managing service) RotateSecret has nothing to run.
    if info.rotation_function.is_empty() && info.owning_service.is_empty() {
        return Err(Error::refused(format!(
            "secret {} has no rotation function, so Secrets Manager cannot rotate it; configure rotation for it first (a rotation Lambda, or a managed rotation), then ask again",
            info.name
        )));
    }
    progress(
        sink,
        "permission check: Secrets Manager has no DryRun; RotateSecret's permission is checked when it runs",
    );
    let mut risk = Risk::Medium;
    let mut risk_reasons = vec![
        "applications that cache the current value fail until they read the new one".to_string(),
    ];
    raise_for_production(req, &prod, &mut risk, &mut risk_reasons, || {
        "a production secret".into()
    });
    let step = Step {
        description: format!(
            "Rotate secret {} in {region} with {}, then wait up to {ROTATION_WAIT_SECS} s for the new version to become current",
            info.name,
            if info.rotation_function.is_empty() {
                format!("the rotation managed by {}", info.owning_service)
            } else {
                info.rotation_function.clone()
            }
        ),
        mutates: true,
        kind: StepKind::Aws {
            agent: AgentKind::Ops,
            service: "secretsmanager".into(),
            operation: "RotateSecret".into(),
            region: region.to_string(),
            targets: vec![info.arn.clone()],
            input: json!({
                "name": info.name,
                // The function that will run is part of what is approved.
                "rotation_function": info.rotation_function,
                "wait_secs": ROTATION_WAIT_SECS,
                "poll_secs": ROTATION_POLL_SECS,
                // What the approver reviews: the secret's name, ARN, environment tag and when
                // it last changed; never its value (this agent never reads one).
                (TARGETS_SEEN): [target_seen(
                    &info.arn,
                    &info.name,
                    &format!("last changed {}", info.last_changed),
                    &info.env.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
                )],
            }),
        },
    };
    Ok(Draft {
        builtins: Vec::new(),
        summary: format!("Rotate secret {} in {region}", info.name),
        stack: None,
        region: Some(region.to_string()),
        steps: vec![step],
        files: Vec::new(),
        resources: vec![ResourceChange {
            address: format!("secretsmanager_secret.{}", info.name),
            action: ChangeAction::Update,
            count: 1,
        }],
        mutates: true,
        risk,
        risk_reasons,
        cost: CostEstimate {
            notes: vec!["rotation does not change the secret's monthly price".into()],
            ..CostEstimate::default()
        },
    })
}

pub async fn execute(
    call: &Call<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let Some(arn) = call.targets.first() else {
        return Err(Error::input("the RotateSecret step names no secret"));
    };
    let name = call.input["name"].as_str().unwrap_or(arn);
    let sm = aws_sdk_secretsmanager::Client::new(&aws.config(call.region).await);
    let mut log = String::new();
    progress(sink, format!("rotating secret {name}"));
    let function = call.input["rotation_function"]
        .as_str()
        .filter(|f| !f.is_empty());
    let rotate = sm
        .rotate_secret()
        .secret_id(arn)
        .set_rotation_lambda_arn(function.map(str::to_string))
        .rotate_immediately(true)
        .send();
    // Noted with its target: a cancel that abandons it says which secret it was for.
    let version = match crate::aws::calls::on_targets(call.targets, rotate).await {
        Ok(o) => o.version_id().unwrap_or_default().to_string(),
        Err(e) => {
            let why = crate::aws::describe_error("secretsmanager", "RotateSecret", &e);
            return Ok(Outcome {
                success: false,
                cancelled: false,
                exit_code: None,
                log: format!("{why}\n"),
                outputs: Some(json!({"summary": format!("rotation of {name} failed: {why}")})),
            });
        }
    };
    log.push_str(&format!(
        "secretsmanager RotateSecret {name}: new version {version}\n"
    ));
    // The rotation function creates, sets, tests and finally promotes the new version to
    // AWSCURRENT; that promotion is what "rotated" means.
    let wait = call.secs("wait_secs", ROTATION_WAIT_SECS);
    let poll = call
        .secs("poll_secs", ROTATION_POLL_SECS)
        .max(Duration::from_secs(1));
    let start = Instant::now();
    let mut stages: Vec<String> = Vec::new();
    let mut was_cancelled = false;
    loop {
        match sm.describe_secret().secret_id(arn).send().await {
            Ok(d) => {
                stages = d
                    .version_ids_to_stages()
                    .and_then(|m| m.get(&version))
                    .cloned()
                    .unwrap_or_default();
            }
            Err(e) => {
                log.push_str(&format!(
                    "{}\n",
                    crate::aws::describe_error("secretsmanager", "DescribeSecret", &e)
                ));
            }
        }
        if stages.iter().any(|s| s == "AWSCURRENT") || start.elapsed() >= wait {
            break;
        }
        if pause(poll, &mut cancel).await {
            was_cancelled = true;
            break;
        }
    }
    let current = stages.iter().any(|s| s == "AWSCURRENT");
    let summary = if current {
        format!("rotated secret {name}: version {version} is AWSCURRENT")
    } else {
        format!(
            "rotation of {name} did not complete within {} s: version {version} is {}; check the rotation function's logs",
            start.elapsed().as_secs(),
            if stages.is_empty() {
                "gone".to_string()
            } else {
                stages.join(", ")
            }
        )
    };
    log.push_str(&summary);
    log.push('\n');
    show(
        sink,
        Output::Table {
            title: format!("secretsmanager RotateSecret in {}", call.region),
            columns: headings(&["SECRET", "NEW VERSION", "STAGES", "ROTATED"]),
            rows: vec![vec![
                name.to_string(),
                version.clone(),
                stages.join(","),
                if current { "yes" } else { "no" }.into(),
            ]],
        },
    );
    Ok(Outcome {
        success: current && !was_cancelled,
        cancelled: was_cancelled,
        exit_code: None,
        log,
        outputs: Some(json!({
            "summary": summary,
            "secret": name,
            "version": version,
            "stages": stages,
            "waited_secs": start.elapsed().as_secs(),
        })),
    })
}

/// Secrets in a region: names, rotation and dates; never values.
pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Report> {
    progress(sink, format!("listing secrets in {region}"));
    let sm = aws_sdk_secretsmanager::Client::new(&req.aws.config_blocking(region)?);
    let (rows, total) = req
        .aws
        .block_on(async move {
            let mut rows = Vec::new();
            let mut total = 0usize;
            let mut pages = sm.list_secrets().into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page
                    .map_err(|e| crate::aws::describe_error("secretsmanager", "ListSecrets", &e))?;
                for s in page.secret_list() {
                    total += 1;
                    if rows.len() < LIST_ROWS {
                        rows.push(vec![
                            s.name().unwrap_or_default().to_string(),
                            if s.rotation_enabled().unwrap_or(false) {
                                "enabled"
                            } else {
                                "disabled"
                            }
                            .to_string(),
                            s.last_rotated_date()
                                .map(|t| t.to_string())
                                .unwrap_or_else(|| "never".into()),
                            s.last_changed_date()
                                .map(|t| t.to_string())
                                .unwrap_or_default(),
                            env_of_tags(s.tags().iter().map(|t| {
                                (t.key().unwrap_or_default(), t.value().unwrap_or_default())
                            }))
                            .map(|e| e.0)
                            .unwrap_or_default(),
                        ]);
                    }
                }
            }
            Ok::<_, String>((rows, total))
        })?
        .map_err(Error::Unavailable)?;
    let mut notes = vec!["secret values are never read or shown".to_string()];
    if total > rows.len() {
        notes.push(format!("showing {} of {total} secrets", rows.len()));
    }
    let data = json!({"secrets": rows.iter().map(|r| json!({"name": r[0], "rotation": r[1], "last_rotated": r[2]})).collect::<Vec<_>>(), "total": total});
    Ok(Report {
        summary: format!("{total} secrets in {region}"),
        outputs: vec![Output::Table {
            title: format!("secrets in {region}"),
            columns: headings(&["SECRET", "ROTATION", "LAST ROTATED", "LAST CHANGED", "ENV"]),
            rows,
        }],
        notes,
        region: Some(region.to_string()),
        data,
        files: Vec::new(),
    })
}
