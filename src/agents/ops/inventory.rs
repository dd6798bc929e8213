//! Finding things to act on: instances by id, tag, environment or name, one DescribeInstances
//! page at a time, keeping only as many as the caller can use (memory stays flat however many
//! match); and the read-only listings of instances, volumes and secrets.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;
use serde::Serialize;
use serde_json::json;

use super::{LIST_ROWS, progress};
use crate::agents::insight::selection_words;
use crate::agents::{AgentRequest, Report};
use crate::error::{Error, Result};
use crate::events::{Output, Sink, headings};
use crate::intent::{Intent, environment_of};

/// Instances per DescribeInstances page: what one page holds in memory at a time.
pub const PAGE_SIZE: i32 = 100;
/// DescribeInstances takes at most this many explicit ids per call.
const IDS_PER_CALL: usize = 200;
/// Tag keys that carry an environment, compared case-insensitively, in order of preference.
const ENV_TAG_KEYS: &[&str] = &["env", "environment", "stage", "tier"];
/// Every state but terminated: terminated instances linger for an hour and can do nothing.
const LIVE_STATES: &[&str] = &["pending", "running", "shutting-down", "stopping", "stopped"];

/// Which instances a request means. Criteria combine: all must hold.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub ids: Vec<String>,
    /// Exact tag matches (`Env=staging`).
    pub tags: BTreeMap<String, String>,
    /// The `Name` tag.
    pub name: Option<String>,
    /// Matched against the environment tags by meaning (`Env=production` is `prod`).
    pub environment: Option<String>,
}

impl Selector {
    pub fn from_intent(i: &Intent) -> Selector {
        Selector {
            ids: i.params.instance_ids.clone(),
            tags: i.params.tags.by_key(),
            name: i.params.name.clone(),
            environment: i.params.environment.map(|e| e.to_string()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.tags.is_empty()
            && self.name.is_none()
            && self.environment.is_none()
    }

    /// "tagged Env=staging", "i-0abc…, i-0def…", "named web-1 in staging".
    pub fn describe(&self) -> String {
        let mut parts = selection_words(&self.ids, &self.tags);
        if let Some(n) = &self.name {
            parts.push(format!("named {n}"));
        }
        // An environment already said by a tag is not repeated.
        if let Some(e) = &self.environment
            && !self.tags.iter().any(|(k, v)| {
                is_env_key(k)
                    && match environment_of(v) {
                        Some(known) => known.as_str() == e,
                        None => v == e,
                    }
            })
        {
            parts.push(format!("in {e}"));
        }
        if parts.is_empty() {
            "(all)".into()
        } else {
            parts.join(" ")
        }
    }

    fn filters(&self) -> Vec<Filter> {
        let mut f: Vec<Filter> = self
            .tags
            .iter()
            .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build())
            .collect();
        if let Some(n) = &self.name {
            f.push(Filter::builder().name("tag:Name").values(n).build());
        }
        if self.ids.is_empty() {
            f.push(
                Filter::builder()
                    .name("instance-state-name")
                    .set_values(Some(LIVE_STATES.iter().map(|s| s.to_string()).collect()))
                    .build(),
            );
        }
        f
    }

    fn admits(&self, i: &Instance) -> bool {
        if i.state == "terminated" {
            return false;
        }
        match &self.environment {
            None => true,
            Some(want) => i.environment.as_deref() == Some(want.as_str()),
        }
    }
}

/// The environment tags say: (`Env=production`, `prod`). The meaning is the raw value,
/// lower-cased, when it names no environment the parser knows.
pub fn env_of_tags<'a>(
    tags: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Option<(String, String)> {
    ENV_TAG_KEYS.iter().find_map(|want| {
        tags.clone()
            .find(|(k, _)| k.eq_ignore_ascii_case(want))
            .map(|(k, v)| {
                (
                    format!("{k}={v}"),
                    environment_of(v)
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| v.to_lowercase()),
                )
            })
    })
}

fn is_env_key(k: &str) -> bool {
    ENV_TAG_KEYS.iter().any(|e| e.eq_ignore_ascii_case(k))
}

/// What an instance is, in the terms the ops agent shows and decides on.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub state: String,
    pub instance_type: String,
    /// The environment tag as set, e.g. `Env=prod`.
    pub env_tag: Option<String>,
    /// What that tag means (`prod`, `staging`, ...); the raw value, lower-cased, when it names
    /// no environment the parser knows.
    pub environment: Option<String>,
    pub zone: String,
    pub private_ip: String,
    pub launched: String,
    /// Attached EBS volumes.
    pub volumes: Vec<String>,
}

impl Instance {
    fn from_sdk(i: &aws_sdk_ec2::types::Instance) -> Instance {
        let tag = |key: &str| {
            i.tags()
                .iter()
                .find(|t| t.key() == Some(key))
                .and_then(|t| t.value())
                .map(str::to_string)
        };
        let env = env_of_tags(
            i.tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        );
        Instance {
            id: i.instance_id().unwrap_or_default().to_string(),
            name: tag("Name").unwrap_or_default(),
            state: i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_else(|| "unknown".into()),
            instance_type: i
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            env_tag: env.as_ref().map(|(tag, _)| tag.clone()),
            environment: env.map(|(_, meaning)| meaning),
            zone: i
                .placement()
                .and_then(|p| p.availability_zone())
                .unwrap_or_default()
                .to_string(),
            private_ip: i.private_ip_address().unwrap_or_default().to_string(),
            launched: i.launch_time().map(|t| t.to_string()).unwrap_or_default(),
            volumes: i
                .block_device_mappings()
                .iter()
                .filter_map(|b| b.ebs().and_then(|e| e.volume_id()).map(str::to_string))
                .collect(),
        }
    }

    pub fn is_prod(&self) -> bool {
        self.environment.as_deref() == Some("prod")
    }
}

/// The instances a selector matched: the first `keep` of them, and how many there were.
#[derive(Debug, Default)]
pub struct Found {
    pub kept: Vec<Instance>,
    pub matched: usize,
    /// Matches per state, over every match (not only the kept ones).
    pub states: BTreeMap<String, usize>,
    pub pages: usize,
}

/// For each tag key of `wanted` that no instance has, the instance tag keys that differ from
/// it only in case (`env` when instances carry `Env`): AWS tag keys are case-sensitive, so
/// the request matched nothing, and the answer offers the key that exists. Reads at most ten
/// pages of DescribeTags.
pub async fn keys_differing_in_case(
    ec2: aws_sdk_ec2::Client,
    wanted: Vec<String>,
) -> Result<Vec<(String, String)>> {
    let mut keys = std::collections::BTreeSet::new();
    let mut pages = ec2
        .describe_tags()
        .filters(
            Filter::builder()
                .name("resource-type")
                .values("instance")
                .build(),
        )
        .into_paginator()
        .page_size(1000)
        .send();
    let mut read = 0;
    while read < 10
        && let Some(page) = pages.next().await
    {
        read += 1;
        let page = page.map_err(|e| {
            Error::Unavailable(crate::aws::describe_error("ec2", "DescribeTags", &e))
        })?;
        for t in page.tags() {
            if let Some(k) = t.key() {
                keys.insert(k.to_string());
            }
        }
    }
    Ok(wanted
        .iter()
        .filter(|w| !keys.contains(*w))
        .flat_map(|w| {
            keys.iter()
                .filter(|k| k.eq_ignore_ascii_case(w))
                .map(|k| (w.clone(), k.clone()))
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Pages through DescribeInstances for `sel`, `page_size` at a time, keeping at most `keep`
/// instances. An id that does not exist is a not-found; other errors come back described.
pub async fn find(
    ec2: aws_sdk_ec2::Client,
    sel: Selector,
    page_size: i32,
    keep: usize,
) -> Result<Found> {
    let region = ec2
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let failed = |e: aws_sdk_ec2::error::SdkError<_, _>| -> Error {
        use aws_sdk_ec2::error::ProvideErrorMetadata;
        match e.code() {
            Some("InvalidInstanceID.NotFound" | "InvalidInstanceID.Malformed") => Error::not_found(
                "instance",
                e.message().unwrap_or("?").to_string(),
                format!("in {region}; `opsdeck ask \"list instances in {region}\"` shows them"),
            ),
            _ => Error::Unavailable(crate::aws::describe_error("ec2", "DescribeInstances", &e)),
        }
    };
    let mut found = Found::default();
    let take = |page: &aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput,
                found: &mut Found| {
        found.pages += 1;
        for r in page.reservations() {
            for i in r.instances() {
                let inst = Instance::from_sdk(i);
                if !sel.admits(&inst) {
                    continue;
                }
                found.matched += 1;
                *found.states.entry(inst.state.clone()).or_default() += 1;
                if found.kept.len() < keep {
                    found.kept.push(inst);
                }
            }
        }
    };
    if sel.ids.is_empty() {
        let mut pages = ec2
            .describe_instances()
            .set_filters(Some(sel.filters()))
            .into_paginator()
            .page_size(page_size.clamp(5, 1000))
            .send();
        while let Some(page) = pages.next().await {
            take(&page.map_err(failed)?, &mut found);
        }
    } else {
        for chunk in sel.ids.chunks(IDS_PER_CALL) {
            let mut pages = ec2
                .describe_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .set_filters(Some(sel.filters()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                take(&page.map_err(failed)?, &mut found);
            }
        }
    }
    Ok(found)
}

/// Instances as a table; `plan` adds what the plan does with each (`reboot`, `skip: stopped`).
pub fn table(
    title: String,
    instances: &[Instance],
    plan: Option<&dyn Fn(&Instance) -> String>,
) -> Output {
    let mut columns: Vec<String> = headings(&[
        "INSTANCE",
        "NAME",
        "STATE",
        "TYPE",
        "ENV",
        "ZONE",
        "PRIVATE IP",
    ]);
    if plan.is_some() {
        columns.push("PLAN".into());
    }
    let rows = instances
        .iter()
        .map(|i| {
            let mut row = vec![
                i.id.clone(),
                i.name.clone(),
                i.state.clone(),
                i.instance_type.clone(),
                i.env_tag.clone().unwrap_or_default(),
                i.zone.clone(),
                i.private_ip.clone(),
            ];
            if let Some(p) = plan {
                row.push(p(i));
            }
            row
        })
        .collect();
    Output::Table {
        title,
        columns,
        rows,
    }
}

/// Read-only questions: instances, volumes or secrets.
pub fn report(req: &AgentRequest<'_>, sink: Sink<'_>, region: &str) -> Result<Report> {
    let wants_volumes = req.intent.params.service.as_deref() == Some("EBS")
        || !req.intent.params.volume_ids.is_empty();
    let wants_secrets = req.intent.params.service.as_deref() == Some("SecretsManager");
    if wants_secrets {
        return super::secrets::report(req, sink, region);
    }
    if wants_volumes {
        return super::snapshots::report(req, sink, region);
    }
    let sel = Selector::from_intent(req.intent);
    progress(
        sink,
        format!("listing instances {} in {region}", sel.describe()),
    );
    let conf = req.aws.config_blocking(region)?;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let found = req
        .aws
        .block_on(find(ec2, sel.clone(), PAGE_SIZE, LIST_ROWS))??;
    let mut notes = Vec::new();
    if found.matched > found.kept.len() {
        notes.push(format!(
            "showing the first {} of {} matching instances; narrow the request (tag, environment, name) to see the rest",
            found.kept.len(),
            found.matched
        ));
    }
    for id in &sel.ids {
        if !found.kept.iter().any(|i| &i.id == id) && found.matched <= found.kept.len() {
            notes.push(format!("{id} is not among the live instances in {region}"));
        }
    }
    let states = found
        .states
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = if found.matched == 0 {
        format!("no live instances {} in {region}", sel.describe())
    } else {
        format!(
            "{} {} in {region}: {states}",
            super::plural(found.matched, "instance", "instances"),
            sel.describe()
        )
    };
    let output = table(
        format!("instances {} in {region}", sel.describe()),
        &found.kept,
        None,
    );
    Ok(Report {
        summary,
        outputs: vec![output],
        notes,
        region: Some(region.to_string()),
        data: json!({
            "selector": sel.describe(),
            "matched": found.matched,
            "pages": found.pages,
            "states": found.states,
            "instances": found.kept,
        }),
        files: Vec::new(),
    })
}
