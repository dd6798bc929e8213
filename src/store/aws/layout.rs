//! Names and keys of the shared backend. Every item's partition key is the tenant name or starts
//! with `<tenant>#`, and every object key starts with `<tenant>/`, so an IAM policy on
//! `dynamodb:LeadingKeys` and `s3:prefix` confines a role to one tenant (docs/backend.md).
//!
//! ```text
//! table          pk                 sk                      what
//! audit_runs     <t>                <seq, 20 digits>        a sealed audit record (exact line)
//!                <t>#head           head                    the chain head: seq, hash
//!                <t>#event          <event id>              event id → seq (no duplicates)
//! approvals      <t>                <plan id>               the plan record, versioned
//! artifacts      <t>                <sha256>                where the bytes are (bucket, key)
//! cost_tracking  <t>                <plan id>               estimated cost, state, stack
//! tenants        <t>                tenant | user#<name> | policy#<file> | config#<name> |
//!                                   select#<user> | key#<key id> | stack#<name>
//! locks          <t>                <lock name>             owner, expiry (conditional put)
//! bucket         key
//! artifacts      <t>/<ab>/<sha256>              generated code, plans' files
//!                <t>/state/<stack>/<sha256>     Terraform state after each apply
//! reports        <t>/<ab>/<sha256>              reports answered to questions
//! audit-logs     <t>/<ab>/<sha256>              execution logs (Object Lock, compliance)
//!                <t>/witness/<seq, 20 digits>-<hash>  chain checkpoints (the key is the data)
//! ```

use crate::config::AwsBackendConfig;
use crate::error::Result;
use crate::plan::ArtifactKind;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    AuditRuns,
    Artifacts,
    Approvals,
    CostTracking,
    Tenants,
    Locks,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::AuditRuns,
        Table::Artifacts,
        Table::Approvals,
        Table::CostTracking,
        Table::Tenants,
        Table::Locks,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Table::AuditRuns => "audit_runs",
            Table::Artifacts => "artifacts",
            Table::Approvals => "approvals",
            Table::CostTracking => "cost_tracking",
            Table::Tenants => "tenants",
            Table::Locks => "locks",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    AuditLogs,
    Artifacts,
    Reports,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::AuditLogs, Bucket::Artifacts, Bucket::Reports];

    pub fn suffix(self) -> &'static str {
        match self {
            Bucket::AuditLogs => "audit-logs",
            Bucket::Artifacts => "artifacts",
            Bucket::Reports => "reports",
        }
    }

    /// Execution logs are evidence: they go where Object Lock keeps them.
    pub fn for_kind(kind: ArtifactKind) -> Bucket {
        match kind {
            ArtifactKind::Log => Bucket::AuditLogs,
            ArtifactKind::Report => Bucket::Reports,
            _ => Bucket::Artifacts,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub region: String,
    pub prefix: String,
    pub bucket_prefix: String,
}

impl Layout {
    pub fn new(cfg: &AwsBackendConfig) -> Result<Layout> {
        let check = |setting: &'static str, p: &str| {
            let ok = (3..=32).contains(&p.len())
                && p.as_bytes()[0].is_ascii_lowercase()
                && !p.ends_with('-')
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if ok {
                Ok(())
            } else {
                Err(StoreError::BadPrefix {
                    setting,
                    value: p.to_string(),
                })
            }
        };
        check("prefix", &cfg.prefix)?;
        let bucket_prefix = if cfg.bucket_prefix.is_empty() {
            cfg.prefix.clone()
        } else {
            cfg.bucket_prefix.clone()
        };
        check("bucket_prefix", &bucket_prefix)?;
        if cfg.region.trim().is_empty() {
            return Err(StoreError::NoRegion.into());
        }
        Ok(Layout {
            region: cfg.region.clone(),
            prefix: cfg.prefix.clone(),
            bucket_prefix,
        })
    }

    pub fn table(&self, t: Table) -> String {
        format!("{}_{}", self.prefix, t.suffix())
    }

    pub fn bucket(&self, b: Bucket) -> String {
        format!("{}-{}", self.bucket_prefix, b.suffix())
    }

    /// Which bucket a name belongs to.
    pub fn bucket_named(&self, name: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| self.bucket(*b) == name)
    }
}

pub const HEAD_SK: &str = "head";
pub const TENANT_SK: &str = "tenant";

pub fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

pub fn head_pk(tenant: &str) -> String {
    format!("{tenant}#head")
}

pub fn event_pk(tenant: &str) -> String {
    format!("{tenant}#event")
}

pub fn object_key(tenant: &str, sha: &str) -> String {
    format!("{tenant}/{}/{sha}", &sha[..2.min(sha.len())])
}

/// Where a checkpoint of the tenant's chain goes in the audit-logs bucket.
pub fn witness_key(tenant: &str, seq: u64, hash: &str) -> String {
    format!("{}{seq:020}-{hash}", witness_prefix(tenant))
}

pub fn witness_prefix(tenant: &str) -> String {
    format!("{tenant}/witness/")
}

pub fn state_key(tenant: &str, stack: &str, sha: &str) -> String {
    format!("{tenant}/state/{stack}/{sha}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_prefixes() {
        let l = Layout::new(&AwsBackendConfig {
            prefix: "acme-ops".into(),
            ..AwsBackendConfig::default()
        })
        .unwrap();
        assert_eq!(l.table(Table::AuditRuns), "acme-ops_audit_runs");
        assert_eq!(l.bucket(Bucket::AuditLogs), "acme-ops-audit-logs");
        assert_eq!(l.bucket_named("acme-ops-reports"), Some(Bucket::Reports));
        assert_eq!(seq_key(42), "00000000000000000042");
        assert!(seq_key(9) < seq_key(10));
        for bad in ["", "ab", "Acme", "acme_ops", "-acme", "acme-"] {
            assert!(
                Layout::new(&AwsBackendConfig {
                    prefix: bad.into(),
                    ..AwsBackendConfig::default()
                })
                .is_err(),
                "{bad}"
            );
        }
    }
}
