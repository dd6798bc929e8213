//! EBS snapshots of volumes named by id, or of the volumes attached to instances found by tag,
//! environment or name; and the read-only volume listing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use super::inventory::env_of_tags;
use super::{
    Call, LIST_ROWS, MAX_TARGETS, PAGE_SIZE, cancelled, find_targets, pause, permission, plural,
    progress, raise_for_production, refuse_unnamed_prod, resources, show,
};
use crate::agents::{AgentRequest, Draft, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Outcome, Output, Sink, headings};
use crate::intent::AgentKind;
use crate::plan::pricing::{Priced, book_for, itemised};
use crate::plan::{ChangeAction, Risk, Step, StepKind};
use crate::view::aws_change::{TARGETS_SEEN, target_seen};

const SNAPSHOT_WAIT_SECS: u64 = 600;
const SNAPSHOT_POLL_SECS: u64 = 10;
/// DescribeVolumes takes at most this many explicit ids per call.
const IDS_PER_CALL: usize = 200;

#[derive(Debug, Clone, Serialize)]
struct Volume {
    id: String,
    name: String,
    size_gb: i32,
    volume_type: String,
    state: String,
    attached_to: String,
    env_tag: Option<String>,
    environment: Option<String>,
    zone: String,
}

impl Volume {
    fn from_sdk(v: &aws_sdk_ec2::types::Volume) -> Volume {
        let tags = || {
            v.tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        };
        let env = env_of_tags(tags());
        Volume {
            id: v.volume_id().unwrap_or_default().to_string(),
            name: tags()
                .find(|(k, _)| *k == "Name")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default(),
            size_gb: v.size().unwrap_or(0),
            volume_type: v
                .volume_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            state: v
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            attached_to: v
                .attachments()
                .iter()
                .filter_map(|a| a.instance_id())
                .collect::<Vec<_>>()
                .join(","),
            env_tag: env.as_ref().map(|e| e.0.clone()),
            environment: env.map(|e| e.1),
            zone: v.availability_zone().unwrap_or_default().to_string(),
        }
    }
}

/// Volumes by id (or every volume matching `filters`), the first `keep` of them and the count.
async fn volumes(
    ec2: aws_sdk_ec2::Client,
    ids: Vec<String>,
    filters: Vec<Filter>,
    keep: usize,
) -> std::result::Result<(Vec<Volume>, usize), String> {
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut take = |page: &aws_sdk_ec2::operation::describe_volumes::DescribeVolumesOutput| {
        for v in page.volumes() {
            total += 1;
            if kept.len() < keep {
                kept.push(Volume::from_sdk(v));
            }
        }
    };
    if ids.is_empty() {
        let mut pages = ec2
            .describe_volumes()
            .set_filters(Some(filters))
            .into_paginator()
            .page_size(PAGE_SIZE)
            .send();
        while let Some(page) = pages.next().await {
            take(&page.map_err(|e| crate::aws::describe_error("ec2", "DescribeVolumes", &e))?);
        }
    } else {
        for chunk in ids.chunks(IDS_PER_CALL) {
            let page = ec2
                .describe_volumes()
                .set_volume_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| crate::aws::describe_error("ec2", "DescribeVolumes", &e))?;
            take(&page);
        }
    }
    Ok((kept, total))
}

fn volume_table(title: String, vols: &[Volume]) -> Output {
    Output::Table {
        title,
        columns: headings(&[
            "VOLUME",
            "NAME",
            "SIZE GB",
            "TYPE",
            "STATE",
            "ATTACHED TO",
            "ENV",
            "ZONE",
        ]),
        rows: vols
            .iter()
            .map(|v| {
                vec![
                    v.id.clone(),
                    v.name.clone(),
                    v.size_gb.to_string(),
                    v.volume_type.clone(),
                    v.state.clone(),
                    v.attached_to.clone(),
                    v.env_tag.clone().unwrap_or_default(),
                    v.zone.clone(),
                ]
            })
            .collect(),
    }
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Draft> {
    let conf = req.aws.config_blocking(region)?;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let mut ids = req.intent.params.volume_ids.clone();
    // Environments of the instances the volumes belong to, when found through instances.
    let mut instance_env: BTreeMap<String, (String, String)> = BTreeMap::new();
    let what = if !ids.is_empty() {
        ids.join(", ")
    } else {
        let (sel, found) = find_targets(
            req,
            sink,
            region,
            &ec2,
            "say which volumes to snapshot: by id (vol-0abc...), or the volumes of instances by tag, environment or name".into(),
            "snapshots the volumes of",
        )?;
        for i in &found.kept {
            for v in &i.volumes {
                ids.push(v.clone());
                if let (Some(tag), Some(env)) = (&i.env_tag, &i.environment) {
                    instance_env.insert(v.clone(), (tag.clone(), env.clone()));
                }
            }
        }
        if ids.is_empty() {
            return Err(Error::not_found(
                "volumes",
                format!("of instances {}", sel.describe()),
                format!(
                    "{} found in {region}, with no EBS volumes attached",
                    plural(found.matched, "instance", "instances")
                ),
            ));
        }
        format!("of instances {}", sel.describe())
    };
    if ids.len() > MAX_TARGETS {
        return Err(Error::refused(format!(
            "{} volumes; one plan snapshots at most {MAX_TARGETS}: narrow the selection",
            ids.len()
        )));
    }
    let (vols, _) = req
        .aws
        .block_on(volumes(ec2.clone(), ids.clone(), Vec::new(), MAX_TARGETS))?
        .map_err(Error::Unavailable)?;
    show(
        sink,
        volume_table(format!("volumes to snapshot in {region}"), &vols),
    );
    let prod: Vec<(String, String)> = vols
        .iter()
        .filter_map(|v| {
            let env = v
                .env_tag
                .clone()
                .zip(v.environment.clone())
                .or_else(|| instance_env.get(&v.id).cloned())?;
            (env.1 == "prod").then(|| (v.id.clone(), env.0))
        })
        .collect();
    refuse_unnamed_prod(req, "snapshot ...", &prod)?;

    progress(
        sink,
        format!(
            "checking permission: ec2 CreateSnapshot with DryRun on {}",
            plural(vols.len(), "volume", "volumes")
        ),
    );
    let check: Vec<String> = vols.iter().map(|v| v.id.clone()).collect();
    let dry = ec2.clone();
    let verdict = req.aws.block_on(async move {
        for id in check {
            let p = permission(
                "ec2",
                "CreateSnapshot",
                dry.create_snapshot()
                    .volume_id(&id)
                    .dry_run(true)
                    .send()
                    .await,
            );
            if !matches!(p, super::Permission::Allowed) {
                return p;
            }
        }
        super::Permission::Allowed
    })?;
    verdict.check(&format!("call ec2 CreateSnapshot in {region}"))?;

    let targets: Vec<String> = vols.iter().map(|v| v.id.clone()).collect();
    let total_gb: i64 = vols.iter().map(|v| i64::from(v.size_gb)).sum();
    let items: Vec<Priced<'_>> = vols
        .iter()
        .map(|v| Priced::Storage {
            item: format!("snapshot of {} ({} GB)", v.id, v.size_gb),
            key: "snapshot",
            gb: f64::from(v.size_gb),
        })
        .collect();
    let mut cost = itemised(
        &book_for(req.store, &req.tenant.name, req.aws),
        region,
        &items,
    );
    cost.notes.push(
        "an upper bound: snapshots store only the blocks in use, and later snapshots only what changed".into(),
    );
    let mut risk = Risk::Low;
    let mut risk_reasons = Vec::new();
    raise_for_production(req, &prod, &mut risk, &mut risk_reasons, || {
        "volumes of production".into()
    });
    let step = Step {
        description: format!(
            "Snapshot {} {what} in {region} ({total_gb} GB), then wait up to {SNAPSHOT_WAIT_SECS} s for them to complete",
            plural(targets.len(), "volume", "volumes")
        ),
        mutates: true,
        kind: StepKind::Aws {
            agent: AgentKind::Ops,
            service: "ec2".into(),
            operation: "CreateSnapshot".into(),
            region: region.to_string(),
            targets: targets.clone(),
            input: json!({
                "description": format!("opsdeck request {}", req.request_id),
                "tags": {"CreatedBy": "opsdeck", "OpsdeckRequest": req.request_id, "OpsdeckTenant": req.tenant.name},
                "wait_secs": SNAPSHOT_WAIT_SECS,
                "poll_secs": SNAPSHOT_POLL_SECS,
                // What the approver reviews: each volume as seen now (view::aws_change).
                (TARGETS_SEEN): vols
                    .iter()
                    .map(|v| target_seen(&v.id, &v.name, &v.state, v.env_tag.as_slice()))
                    .collect::<Vec<_>>(),
            }),
        },
    };
    Ok(Draft {
        builtins: Vec::new(),
        summary: format!(
            "Snapshot {} {what} in {region}",
            plural(targets.len(), "volume", "volumes")
        ),
        stack: None,
        region: Some(region.to_string()),
        steps: vec![step],
        files: Vec::new(),
        resources: resources("ebs_snapshot", &targets, ChangeAction::Create),
        mutates: true,
        risk,
        risk_reasons,
        cost,
    })
}

#[derive(Debug, Clone, Serialize)]
struct Taken {
    volume: String,
    snapshot: String,
    state: String,
    progress: String,
    error: String,
}

pub async fn execute(
    call: &Call<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    mut cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let ec2 = aws_sdk_ec2::Client::new(&aws.config(call.region).await);
    let description = call.input["description"].as_str().unwrap_or("opsdeck");
    let tags: Vec<Tag> = call.input["tags"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(Tag::builder().key(k).value(v.as_str()?).build()))
        .collect();
    let mut log = String::new();
    let mut taken: Vec<Taken> = Vec::new();
    let mut was_cancelled = false;
    let n = call.targets.len();
    for (k, vol) in call.targets.iter().enumerate() {
        if cancelled(&cancel) {
            was_cancelled = true;
            log.push_str(&format!("cancelled: {} volumes not snapshotted\n", n - k));
            break;
        }
        progress(sink, format!("snapshot {vol} ({}/{n})", k + 1));
        // Noted with its target: a cancel that abandons it says which volume it was for.
        let snapshot = ec2
            .create_snapshot()
            .volume_id(vol)
            .description(description)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Snapshot)
                    .set_tags(Some(tags.clone()))
                    .build(),
            )
            .send();
        let r = crate::aws::calls::on_targets(std::slice::from_ref(vol), snapshot).await;
        match r {
            Ok(o) => {
                let id = o.snapshot_id().unwrap_or_default().to_string();
                log.push_str(&format!("ec2 CreateSnapshot {vol}: {id}\n"));
                taken.push(Taken {
                    volume: vol.clone(),
                    snapshot: id,
                    state: o
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    progress: String::new(),
                    error: String::new(),
                });
            }
            Err(e) => {
                let why = crate::aws::describe_error("ec2", "CreateSnapshot", &e);
                log.push_str(&format!("{why}\n"));
                taken.push(Taken {
                    volume: vol.clone(),
                    snapshot: String::new(),
                    state: "not created".into(),
                    progress: String::new(),
                    error: why,
                });
            }
        }
    }
    let wait = call.secs("wait_secs", SNAPSHOT_WAIT_SECS);
    let poll = call
        .secs("poll_secs", SNAPSHOT_POLL_SECS)
        .max(Duration::from_secs(1));
    let start = Instant::now();
    let ids: Vec<String> = taken
        .iter()
        .filter(|t| !t.snapshot.is_empty())
        .map(|t| t.snapshot.clone())
        .collect();
    while !ids.is_empty() {
        match ec2
            .describe_snapshots()
            .set_snapshot_ids(Some(ids.clone()))
            .send()
            .await
        {
            Ok(o) => {
                for s in o.snapshots() {
                    if let Some(t) = taken
                        .iter_mut()
                        .find(|t| Some(t.snapshot.as_str()) == s.snapshot_id())
                    {
                        t.state = s
                            .state()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_default();
                        t.progress = s.progress().unwrap_or_default().to_string();
                        if t.state == "error" {
                            t.error = s.state_message().unwrap_or("error").to_string();
                        }
                    }
                }
            }
            Err(e) => log.push_str(&format!(
                "{}\n",
                crate::aws::describe_error("ec2", "DescribeSnapshots", &e)
            )),
        }
        let open = taken
            .iter()
            .any(|t| !t.snapshot.is_empty() && t.state == "pending");
        if !open || start.elapsed() >= wait {
            break;
        }
        if pause(poll, &mut cancel).await {
            was_cancelled = true;
            break;
        }
    }
    let completed = taken.iter().filter(|t| t.state == "completed").count();
    let pending = taken.iter().filter(|t| t.state == "pending").count();
    let failed = taken.iter().filter(|t| !t.error.is_empty()).count();
    let mut summary = format!(
        "snapshotted {}/{n} volumes in {}: {completed} completed",
        taken.len() - failed,
        call.region
    );
    if pending > 0 {
        // Large volumes take longer than any sensible wait; pending snapshots are fine.
        summary.push_str(&format!(
            ", {pending} still pending (they complete on their own)"
        ));
    }
    if failed > 0 {
        summary.push_str(&format!(", {failed} failed"));
    }
    if was_cancelled {
        summary.push_str(", cancelled");
    }
    log.push_str(&summary);
    log.push('\n');
    show(
        sink,
        Output::Table {
            title: format!("ec2 CreateSnapshot in {}", call.region),
            columns: headings(&["VOLUME", "SNAPSHOT", "STATE", "PROGRESS", "ERROR"]),
            rows: taken
                .iter()
                .map(|t| {
                    vec![
                        t.volume.clone(),
                        t.snapshot.clone(),
                        t.state.clone(),
                        t.progress.clone(),
                        t.error.clone(),
                    ]
                })
                .collect(),
        },
    );
    Ok(Outcome {
        success: failed == 0 && !was_cancelled && taken.len() == n,
        cancelled: was_cancelled,
        exit_code: None,
        log,
        outputs: Some(json!({
            "summary": summary,
            "region": call.region,
            "snapshots": taken,
        })),
    })
}

/// Volumes in a region (by id when named; unattached ones are marked).
pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Report> {
    let ids = req.intent.params.volume_ids.clone();
    progress(sink, format!("listing EBS volumes in {region}"));
    let ec2 = aws_sdk_ec2::Client::new(&req.aws.config_blocking(region)?);
    let (vols, total) = req
        .aws
        .block_on(volumes(ec2, ids, Vec::new(), LIST_ROWS))?
        .map_err(Error::Unavailable)?;
    let unattached = vols.iter().filter(|v| v.state == "available").count();
    let gb: i64 = vols.iter().map(|v| i64::from(v.size_gb)).sum();
    let mut notes = Vec::new();
    if total > vols.len() {
        notes.push(format!("showing {} of {total} volumes", vols.len()));
    }
    Ok(Report {
        summary: format!(
            "{} in {region} ({gb} GB shown), {unattached} unattached",
            plural(total, "volume", "volumes")
        ),
        outputs: vec![volume_table(format!("EBS volumes in {region}"), &vols)],
        notes,
        region: Some(region.to_string()),
        data: json!({"volumes": vols, "total": total}),
        files: Vec::new(),
    })
}
