//! Fixes as approved changes: block public access on buckets, turn on default encryption, and
//! revoke internet-wide security group rules. Planning reads the current state and resolves the
//! exact targets (they are part of the plan hash); [`execute`] makes the calls after approval and
//! reads the result back.
//!
//! Each change is listed as a resource named after the API change (`s3_public_access_block.<bucket>`,
//! `ec2_ingress_rule.<group>_...`), not after a Terraform type: the Terraform rules of the policy
//! set judge resource attributes that API steps do not carry; plan-level rules (regions, change
//! windows, approvals) apply as to any plan.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::network::{self, OpenRule};
use super::s3::{self, BucketState};
use super::{Scan, scan_ec2, scan_s3};
use crate::agents::insight::{self, aws_error, error_code, progress};
use crate::agents::{AgentRequest, Draft, DraftFile, Reply, Report};
use crate::aws::AwsAccess;
use crate::error::{Error, Result};
use crate::events::{Outcome, Sink};
use crate::intent::{AgentKind, ScanScope};
use crate::plan::AwsCall;
use crate::plan::{ArtifactKind, ChangeAction, CostEstimate, ResourceChange, Risk, Step, StepKind};
use crate::view::aws_change::{TARGETS_SEEN, target_seen};

const AGENT: AgentKind = AgentKind::Security;

/// The four switches, all on: what "block public access" means.
fn all_blocked() -> Value {
    json!({"BlockPublicAcls": true, "IgnorePublicAcls": true,
           "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
}

struct Fixes {
    steps: Vec<Step>,
    resources: Vec<ResourceChange>,
    risk: Risk,
    reasons: Vec<String>,
    lines: Vec<String>,
    before: BTreeMap<String, Value>,
}

impl Fixes {
    fn new() -> Fixes {
        Fixes {
            steps: Vec::new(),
            resources: Vec::new(),
            risk: Risk::Low,
            reasons: Vec::new(),
            lines: Vec::new(),
            before: BTreeMap::new(),
        }
    }
}

pub fn plan(req: &AgentRequest<'_>, sink: Sink<'_>) -> Result<Reply> {
    let i = req.intent;
    let region = req.region()?;
    let conf = insight::config(req.aws, &region)?;
    let groups = &i.params.security_groups;
    let ports: Vec<i32> = i
        .params
        .ports
        .iter()
        .filter_map(|p| i64::try_from(*p).ok())
        .map(|p| p as i32)
        .collect();
    let scope = &i.params.scope;
    let encryption = i.params.encryption == Some(true);
    let mut fixes = Fixes::new();

    if let Some(bucket) = i.params.bucket.as_deref() {
        let scan = scan_s3(req, &conf, &region, Some(bucket.to_string()), sink)?;
        let Some(b) = scan.buckets.first() else {
            return Err(Error::not_found(
                "bucket",
                bucket,
                "not in this account; `opsdeck ask \"scan all S3 buckets for public access\"` lists them",
            ));
        };
        if encryption {
            encrypt_bucket(b, &mut fixes);
        } else {
            block_buckets(&[b], &mut fixes);
        }
    } else if !groups.is_empty() || !ports.is_empty() || scope.contains(&ScanScope::Ec2) {
        let scan = scan_ec2(req, &conf, &region, groups.clone(), sink)?;
        if !groups.is_empty() && scan.groups.len() < groups.len() {
            return Err(Error::not_found(
                "security group",
                groups.join(", "),
                format!("only {} of them exist in {region}", scan.groups.len()),
            ));
        }
        revoke_rules(
            &scan.open_rules,
            &ports,
            i.params.cidr.as_deref(),
            &region,
            &mut fixes,
        );
    } else {
        // "fix public buckets", "remediate all findings": what the scan would flag and opsdeck
        // can fix.
        let everything = scope.is_empty();
        if everything || scope.contains(&ScanScope::S3) {
            let scan = scan_s3(req, &conf, &region, None, sink)?;
            let public: Vec<&BucketState> = scan
                .buckets
                .iter()
                .filter(|b| is_public(b, &scan))
                .collect();
            block_buckets(&public, &mut fixes);
            if encryption {
                for b in scan.buckets.iter().filter(|b| b.encryption.is_none()) {
                    encrypt_bucket(b, &mut fixes);
                }
            }
        }
        if everything {
            let scan = scan_ec2(req, &conf, &region, Vec::new(), sink)?;
            revoke_rules(&scan.open_rules, &[], None, &region, &mut fixes);
        }
    }

    if fixes.steps.is_empty() {
        let mut notes = fixes.lines.clone();
        notes.push("nothing was planned: no change is needed".into());
        return Ok(Reply::Report(Report {
            summary: format!("nothing to remediate in {region}: {}", nothing_phrase(req)),
            outputs: Vec::new(),
            notes,
            region: Some(region),
            data: json!({"before": fixes.before}),
            files: Vec::new(),
        }));
    }
    let before = serde_json::to_vec_pretty(&fixes.before)
        .map_err(|e| Error::input(format!("the current state cannot be recorded: {e}")))?;
    Ok(Reply::Plan(Draft {
        builtins: Vec::new(),
        summary: fixes.lines.join("; "),
        stack: None,
        region: Some(region),
        steps: fixes.steps,
        files: vec![DraftFile {
            name: "before.json".into(),
            kind: ArtifactKind::Report,
            content: before,
        }],
        resources: fixes.resources,
        mutates: true,
        risk: fixes.risk,
        risk_reasons: fixes.reasons,
        // AWS API calls that price nothing: "no cost change", with the reason as a note.
        cost: CostEstimate {
            notes: vec!["Block Public Access, default encryption settings and security group rules cost nothing (SSE-KMS keys would)".into()],
            ..CostEstimate::default()
        },
    }))
}

fn nothing_phrase(req: &AgentRequest<'_>) -> String {
    if req.intent.params.bucket.is_some() {
        "the bucket is already as asked".into()
    } else if req.intent.params.security_groups.is_empty() {
        "no public bucket or internet-open admin port was found".into()
    } else {
        "no matching internet-open rule on those groups".into()
    }
}

fn is_public(b: &BucketState, scan: &Scan) -> bool {
    s3::bucket_findings(b, scan.account_blocks).iter().any(|f| {
        f.check_id == "s3_bucket_public_access" && f.status == super::finding::Status::Fail
    })
}

fn block_buckets(buckets: &[&BucketState], fixes: &mut Fixes) {
    let mut by_region: BTreeMap<&str, Vec<&BucketState>> = BTreeMap::new();
    for b in buckets {
        fixes.before.insert(
            format!("s3://{}", b.name),
            json!({"public_access_block": b.blocks,
                "public_statements": b.public_statements, "public_grants": b.public_grants}),
        );
        if b.blocks.is_some_and(|x| x.all()) {
            fixes
                .lines
                .push(format!("bucket {} already blocks public access", b.name));
            continue;
        }
        by_region.entry(b.region.as_str()).or_default().push(b);
    }
    for (region, list) in by_region {
        let names: Vec<String> = list.iter().map(|b| b.name.clone()).collect();
        // What the approver reviews: each bucket's exposure as the scan saw it.
        let seen: Vec<Value> = list
            .iter()
            .map(|b| {
                let state = if !b.public_statements.is_empty() || !b.public_grants.is_empty() {
                    "public"
                } else if b.blocks.is_some() {
                    "partly blocked"
                } else {
                    "not blocked"
                };
                target_seen(&b.name, &b.name, state, &[format!("region={}", b.region)])
            })
            .collect();
        for b in &list {
            let exposed = !b.public_statements.is_empty() || !b.public_grants.is_empty();
            if exposed {
                fixes.risk = fixes.risk.max(Risk::High);
                fixes.reasons.push(format!(
                    "bucket {} is public today: anonymous readers (a website, a CDN origin, shared links) will get 403 once it is blocked",
                    b.name
                ));
            } else {
                fixes.risk = fixes.risk.max(Risk::Medium);
            }
            fixes.resources.push(ResourceChange {
                address: format!("s3_public_access_block.{}", b.name),
                action: if b.blocks.is_some() {
                    ChangeAction::Update
                } else {
                    ChangeAction::Create
                },
                count: 1,
            });
        }
        fixes.lines.push(format!(
            "block public access on bucket{} {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
        fixes.steps.push(Step {
            description: format!(
                "S3 PutPublicAccessBlock (all four settings on) for {}",
                names.join(", ")
            ),
            mutates: true,
            kind: StepKind::Aws {
                agent: AGENT,
                service: "s3".into(),
                operation: "PutPublicAccessBlock".into(),
                region: region.to_string(),
                targets: names,
                input: {
                    let mut input = all_blocked();
                    input[TARGETS_SEEN] = json!(seen);
                    input
                },
            },
        });
    }
}

fn encrypt_bucket(b: &BucketState, fixes: &mut Fixes) {
    fixes.before.insert(
        format!("s3://{}", b.name),
        json!({"encryption": b.encryption}),
    );
    if let Some(alg) = &b.encryption {
        fixes.lines.push(format!(
            "bucket {} already has default encryption ({alg})",
            b.name
        ));
        return;
    }
    fixes.lines.push(format!(
        "turn on default encryption (SSE-S3, AES256) on bucket {}",
        b.name
    ));
    fixes.reasons.push(format!(
        "new objects in {} will be encrypted at rest; existing objects stay as they are until rewritten",
        b.name
    ));
    fixes.resources.push(ResourceChange {
        address: format!("s3_default_encryption.{}", b.name),
        action: ChangeAction::Create,
        count: 1,
    });
    fixes.steps.push(Step {
        description: format!("S3 PutBucketEncryption (AES256) for {}", b.name),
        mutates: true,
        kind: StepKind::Aws {
            agent: AGENT,
            service: "s3".into(),
            operation: "PutBucketEncryption".into(),
            region: b.region.clone(),
            targets: vec![b.name.clone()],
            input: json!({"SSEAlgorithm": "AES256", (TARGETS_SEEN): [target_seen(
                &b.name, &b.name, "unencrypted", &[format!("region={}", b.region)],
            )]}),
        },
    });
}

fn revoke_rules(
    rules: &[OpenRule],
    ports: &[i32],
    cidr: Option<&str>,
    region: &str,
    fixes: &mut Fixes,
) {
    let mut by_group: BTreeMap<&str, Vec<&OpenRule>> = BTreeMap::new();
    for r in rules {
        let wanted = if ports.is_empty() {
            !network::checks_of(r).is_empty()
        } else {
            ports.iter().any(|p| r.covers(*p))
        };
        if wanted && cidr.is_none_or(|c| c == r.cidr) {
            by_group.entry(r.group_id.as_str()).or_default().push(r);
        }
    }
    for (group, list) in by_group {
        fixes.before.insert(group.to_string(), json!(list));
        let what: Vec<String> = list
            .iter()
            .map(|r| format!("{} from {}", r.ports_text(), r.cidr))
            .collect();
        fixes.lines.push(format!(
            "revoke {} on {group} ({})",
            what.join(", "),
            list[0].group_name
        ));
        fixes.risk = fixes.risk.max(Risk::Medium);
        fixes.reasons.push(format!(
            "whoever reaches instances in {group} over these ports from the internet (admins over SSH/RDP) loses that path; use SSM Session Manager or a VPN range"
        ));
        for r in &list {
            fixes.resources.push(ResourceChange {
                address: format!(
                    "ec2_ingress_rule.{group}_{}_{}",
                    r.ports_text().replace(' ', "_"),
                    if r.cidr.contains(':') { "ipv6" } else { "ipv4" }
                ),
                action: ChangeAction::Delete,
                count: 1,
            });
        }
        fixes.steps.push(Step {
            description: format!(
                "EC2 RevokeSecurityGroupIngress on {group}: {}",
                what.join(", ")
            ),
            mutates: true,
            kind: StepKind::Aws {
                agent: AGENT,
                service: "ec2".into(),
                operation: "RevokeSecurityGroupIngress".into(),
                region: region.to_string(),
                targets: vec![group.to_string()],
                input: json!({"permissions": list, (TARGETS_SEEN): [target_seen(
                    group,
                    &list[0].group_name,
                    &format!("open: {}", what.join(", ")),
                    &list[0].vpc_id.iter().map(|v| format!("vpc={v}")).collect::<Vec<_>>(),
                )]}),
            },
        });
    }
    if fixes.steps.is_empty() && !rules.is_empty() {
        fixes.lines.push(format!(
            "{} internet-open rule(s) read; none matched the request",
            rules.len()
        ));
    }
}

/// Runs an approved step: the operation on each target, then reads the result back.
pub async fn execute(
    step: &Step,
    call: &AwsCall<'_>,
    aws: &AwsAccess,
    sink: Sink<'_>,
    cancel: watch::Receiver<bool>,
) -> Result<Outcome> {
    let AwsCall {
        service,
        operation,
        region,
        targets,
        input,
    } = *call;
    let conf = aws.config(region).await;
    let mut log = String::new();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    let path_style = insight::path_style(aws, &conf);
    for target in targets {
        if *cancel.borrow() {
            log.push_str(&format!("cancelled before {target}\n"));
            return Ok(Outcome {
                outputs: Some(json!({"changed": done, "failed": failed})),
                ..Outcome::failed(log, None, true)
            });
        }
        // Noted with its target: a cancel that abandons the call says which it was for.
        let result = crate::aws::calls::on_targets(std::slice::from_ref(target), async {
            match (service, operation) {
                ("s3", "PutPublicAccessBlock") => {
                    block(&s3::client(&conf, region, path_style), target, input).await
                }
                ("s3", "PutBucketEncryption") => {
                    encrypt(&s3::client(&conf, region, path_style), target, input).await
                }
                ("ec2", "RevokeSecurityGroupIngress") => {
                    revoke(&aws_sdk_ec2::Client::new(&conf), target, input).await
                }
                _ => Err(Error::Unavailable(format!(
                    "the security agent does not run {service} {operation}; step '{}' cannot run",
                    step.description
                ))),
            }
        })
        .await;
        match result {
            Ok(line) => {
                progress(sink, AGENT, line.clone());
                log.push_str(&line);
                log.push('\n');
                done.push(target.clone());
            }
            Err(e) => {
                let line = format!("{target}: {e}");
                progress(sink, AGENT, line.clone());
                log.push_str(&line);
                log.push('\n');
                failed.push(target.clone());
            }
        }
    }
    Ok(Outcome {
        success: failed.is_empty(),
        cancelled: false,
        exit_code: None,
        log,
        outputs: Some(json!({"changed": done, "failed": failed})),
    })
}

async fn block(s3: &aws_sdk_s3::Client, bucket: &str, input: &Value) -> Result<String> {
    let flag = |k: &str| input.get(k).and_then(Value::as_bool).unwrap_or(true);
    let cfg = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(flag("BlockPublicAcls"))
        .ignore_public_acls(flag("IgnorePublicAcls"))
        .block_public_policy(flag("BlockPublicPolicy"))
        .restrict_public_buckets(flag("RestrictPublicBuckets"))
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(cfg)
        .send()
        .await
        .map_err(|e| aws_error("S3", "PutPublicAccessBlock", &e))?;
    let now = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| aws_error("S3", "GetPublicAccessBlock", &e))?;
    let c = now.public_access_block_configuration();
    let on = c.is_some_and(|c| {
        c.block_public_acls() == Some(true)
            && c.ignore_public_acls() == Some(true)
            && c.block_public_policy() == Some(true)
            && c.restrict_public_buckets() == Some(true)
    });
    if !on {
        return Err(Error::Execution(format!(
            "bucket {bucket}: PutPublicAccessBlock succeeded but reading it back shows a setting still off"
        )));
    }
    Ok(format!(
        "bucket {bucket}: public access blocked (all four settings on, read back)"
    ))
}

async fn encrypt(s3: &aws_sdk_s3::Client, bucket: &str, input: &Value) -> Result<String> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let alg = input
        .get("SSEAlgorithm")
        .and_then(Value::as_str)
        .unwrap_or("AES256");
    let bad = |e: aws_sdk_s3::error::BuildError| Error::input(format!("encryption settings: {e}"));
    let cfg = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::from(alg))
                        .build()
                        .map_err(bad)?,
                )
                .build(),
        )
        .build()
        .map_err(bad)?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(cfg)
        .send()
        .await
        .map_err(|e| aws_error("S3", "PutBucketEncryption", &e))?;
    match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(_) => Ok(format!(
            "bucket {bucket}: default encryption {alg} on (read back)"
        )),
        Err(e) if error_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            Err(Error::Execution(format!(
                "bucket {bucket}: PutBucketEncryption succeeded but no configuration reads back"
            )))
        }
        Err(e) => Err(aws_error("S3", "GetBucketEncryption", &e)),
    }
}

async fn revoke(ec2: &aws_sdk_ec2::Client, group: &str, input: &Value) -> Result<String> {
    use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
    let rules: Vec<OpenRule> = serde_json::from_value(input["permissions"].clone())
        .map_err(|e| Error::input(format!("step input for {group} is not a rule list: {e}")))?;
    let mut done = Vec::new();
    for r in rules.iter().filter(|r| r.group_id == group) {
        let mut p = IpPermission::builder()
            .ip_protocol(&r.protocol)
            .set_from_port(r.from_port)
            .set_to_port(r.to_port);
        p = if r.cidr.contains(':') {
            p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&r.cidr).build())
        } else {
            p.ip_ranges(IpRange::builder().cidr_ip(&r.cidr).build())
        };
        ec2.revoke_security_group_ingress()
            .group_id(group)
            .ip_permissions(p.build())
            .send()
            .await
            .map_err(|e| aws_error("EC2", "RevokeSecurityGroupIngress", &e))?;
        done.push(format!("{} from {}", r.ports_text(), r.cidr));
    }
    // Read back: none of the revoked ranges may remain.
    let conf_rules = ec2
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .map_err(|e| aws_error("EC2", "DescribeSecurityGroups", &e))?;
    let still: Vec<String> = conf_rules
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| {
            rules.iter().any(|r| {
                p.ip_protocol() == Some(r.protocol.as_str())
                    && p.from_port() == r.from_port
                    && p.to_port() == r.to_port
                    && (p
                        .ip_ranges()
                        .iter()
                        .any(|x| x.cidr_ip() == Some(r.cidr.as_str()))
                        || p.ipv6_ranges()
                            .iter()
                            .any(|x| x.cidr_ipv6() == Some(r.cidr.as_str())))
            })
        })
        .map(|p| format!("{:?}", p.ip_protocol()))
        .collect();
    if !still.is_empty() {
        return Err(Error::Execution(format!(
            "{group}: revoked, but {} rule(s) still read back open",
            still.len()
        )));
    }
    Ok(format!("{group}: revoked {} (read back)", done.join(", ")))
}
