//! `opsdeck backend migrate --from local --to aws`: copies a local store's history into the
//! shared backend. The local chain must verify (every signature) before anything is copied; the
//! sealed records are copied exactly as they are (same seq, hashes and signatures, with the public
//! keys that signed them), so the shared chain verifies to the same head afterwards, which is
//! checked. Running it again copies only what is missing; a tenant whose shared trail differs from
//! the local one is refused, never merged.

use std::collections::HashMap;

use serde::Serialize;

use super::aws::AwsStore;
use super::{LocalStore, Store, StoreError};
use crate::error::{Error, Result};
use crate::plan::ArtifactKind;

/// What was copied for one tenant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TenantMigration {
    pub tenant: String,
    /// Audit records in the local chain, and how many were written now.
    pub records: usize,
    pub records_copied: usize,
    /// The chain head both sides verified to.
    pub head: Option<String>,
    pub artifacts: usize,
    pub plans: usize,
    pub users: usize,
    pub configs: usize,
    pub policies: usize,
    pub stacks: usize,
    /// Records (and the like) already in the backend and identical.
    pub already_there: usize,
}

/// Migrates `tenants` (all local tenants when empty). `progress` hears one line per step.
pub fn local_to_aws(
    local: &LocalStore,
    aws: &AwsStore,
    tenants: &[String],
    progress: &mut dyn FnMut(String),
) -> Result<Vec<TenantMigration>> {
    let names: Vec<String> = if tenants.is_empty() {
        local.list_tenants()?.into_iter().map(|t| t.name).collect()
    } else {
        tenants.to_vec()
    };
    let mut out = Vec::new();
    for t in names {
        out.push(migrate_tenant(local, aws, &t, progress)?);
    }
    Ok(out)
}

fn migrate_tenant(
    local: &LocalStore,
    aws: &AwsStore,
    tenant: &str,
    progress: &mut dyn FnMut(String),
) -> Result<TenantMigration> {
    let settings = local.get_tenant(tenant)?.ok_or_else(|| {
        StoreError::not_found(
            "tenant",
            tenant,
            "in the local store (`opsdeck tenants list`)",
        )
    })?;
    let mut m = TenantMigration {
        tenant: tenant.to_string(),
        ..TenantMigration::default()
    };
    let before = local.verify_audit(tenant, true)?;
    if !before.ok {
        let b = before.first_break.as_ref();
        return Err(StoreError::SourceUnverified {
            tenant: tenant.to_string(),
            line: b.map(|b| b.line).unwrap_or(0),
            problem: b.map_or_else(|| "unknown".to_string(), |b| b.problem.clone()),
        }
        .into());
    }
    progress(format!(
        "tenant {tenant}: local chain verified ({} records, every signature)",
        before.records
    ));
    m.records = before.records;

    if aws.get_tenant(tenant)?.is_none() {
        aws.put_tenant(&settings)?;
    }
    for u in local.list_users(tenant)? {
        match aws.get_user(tenant, &u.name)? {
            Some(_) => m.already_there += 1,
            None => {
                aws.create_user(tenant, &u)?;
                m.users += 1;
            }
        }
    }
    for (name, source) in local.tenant_policies(tenant)? {
        let there = aws.tenant_policies(tenant)?;
        if there.iter().any(|(n, s)| *n == name && *s == source) {
            m.already_there += 1;
        } else if there.iter().any(|(n, _)| *n == name) {
            return Err(StoreError::PolicyDiffers {
                tenant: tenant.to_string(),
                name,
            }
            .into());
        } else {
            aws.put_tenant_policy(tenant, &name, &source)?;
            m.policies += 1;
        }
    }
    for c in local.list_configs(tenant)? {
        match aws.get_config(tenant, &c.name)? {
            Some(_) => m.already_there += 1,
            None => {
                aws.put_config(&c, true)?;
                m.configs += 1;
            }
        }
    }
    for u in local.list_users(tenant)? {
        if let Some(sel) = local.selected_config(tenant, &u.name)?
            && aws.selected_config(tenant, &u.name)?.is_none()
        {
            aws.select_config(tenant, &u.name, Some(&sel))?;
        }
    }

    // Artifacts go to the bucket their kind belongs in: known from plans and audit events.
    let plans = local.list_plans(tenant)?;
    let mut kinds: HashMap<String, ArtifactKind> = HashMap::new();
    for p in &plans {
        for a in &p.plan.artifacts {
            kinds.insert(a.sha256.clone(), a.kind);
        }
    }
    local.scan_audit(tenant, &mut |r| {
        for a in &r.event.artifacts {
            if let (Some(sha), Some(kind)) = (
                a.get("sha256").and_then(|v| v.as_str()),
                a.get("kind")
                    .and_then(|k| serde_json::from_value::<ArtifactKind>(k.clone()).ok()),
            ) {
                kinds.insert(sha.to_string(), kind);
            }
        }
        true
    })?;
    for sha in local.artifact_digests(tenant)? {
        let bytes = local.get_artifact(tenant, &sha)?;
        let kind = kinds.get(&sha).copied().unwrap_or(ArtifactKind::Terraform);
        aws.upload_artifact(tenant, kind, &bytes)?;
        m.artifacts += 1;
    }
    progress(format!("tenant {tenant}: {} artifacts stored", m.artifacts));

    for rec in &plans {
        match aws.create_plan(rec) {
            Ok(()) => m.plans += 1,
            Err(Error::Store(StoreError::PlanExists { .. })) => {
                if aws.get_plan(tenant, &rec.plan.plan_id)?.plan.content_hash
                    != rec.plan.content_hash
                {
                    return Err(StoreError::PlanDiffers {
                        tenant: tenant.to_string(),
                        plan_id: rec.plan.plan_id.clone(),
                    }
                    .into());
                }
                m.already_there += 1;
            }
            Err(e) => return Err(e),
        }
    }
    for s in local.list_stacks(tenant)? {
        let state = local
            .stack_state_dir(tenant, &s.name)?
            .join("terraform.tfstate");
        if let Ok(bytes) = std::fs::read(&state) {
            let dir = aws.stack_state_dir(tenant, &s.name)?;
            super::fsutil::write_atomic(&dir.join("terraform.tfstate"), &bytes)?;
        }
        aws.put_stack(&s)?;
        m.stacks += 1;
    }
    progress(format!(
        "tenant {tenant}: {} plans, {} users, {} configurations, {} policies, {} stacks copied",
        m.plans, m.users, m.configs, m.policies, m.stacks
    ));

    // The public keys that signed the local records, then the records, exactly as they are.
    let mut keys = Vec::new();
    if let Ok(entries) = std::fs::read_dir(local.keys_dir()) {
        for e in entries.flatten() {
            if e.path().extension().and_then(|x| x.to_str()) == Some("pub")
                && let Ok(text) = std::fs::read_to_string(e.path())
            {
                keys.push(text.trim().to_string());
            }
        }
    }
    aws.publish_public_keys(tenant, &keys)?;
    let path = local.audit_log(tenant)?;
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e).into()),
    };
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    m.records_copied = aws.import_audit(tenant, &lines)?;
    m.already_there += m.records - m.records_copied;

    let after = aws.verify_audit(tenant, true)?;
    if !after.ok || after.records != before.records || after.head != before.head {
        return Err(StoreError::MigrationMismatch {
            tenant: tenant.to_string(),
            records: after.records,
            head: after.head,
            local_records: before.records,
            local_head: before.head,
            first_break: after.first_break.map(|b| b.problem),
        }
        .into());
    }
    progress(format!(
        "tenant {tenant}: shared chain verified, {} records, head {}",
        after.records,
        after.head.as_deref().unwrap_or("(empty)")
    ));
    m.head = after.head;
    Ok(m)
}
