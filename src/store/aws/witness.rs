//! The shared backend's witness: checkpoints of each tenant's chain as objects in the
//! audit-logs bucket, whose Object Lock in compliance mode keeps every version until its
//! retention passes, whoever asks (the way CloudTrail keeps digest files). The object key
//! carries the checkpoint (`<t>/witness/<seq>-<hash>`), so reading them all is a listing of
//! versions; a delete marker hides nothing from it.

use super::AwsStore;
use super::fault::Fault;
use super::layout::{Bucket, witness_key, witness_prefix};
use super::remote::{self, Clients};
use crate::audit::witness::{Checkpoint, RemoteWitness};
use crate::error::Result;
use crate::store::Store;
use crate::time::Stamp;

impl RemoteWitness for AwsStore {
    fn witness_name(&self) -> String {
        format!(
            "locked bucket s3://{}",
            self.layout.bucket(Bucket::AuditLogs)
        )
    }

    fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        self.scope(&cp.tenant)?;
        let bucket = self.layout.bucket(Bucket::AuditLogs);
        let key = witness_key(&cp.tenant, cp.seq, &cp.hash);
        let body = serde_json::to_vec(cp).unwrap_or_default();
        let keep = self.object_retention(&cp.tenant, Bucket::AuditLogs);
        self.call(move |c| remote::s3_put_new(c, bucket, key, body, keep))
            .map(|_| ())
            .map_err(|f| f.into_error().into())
    }

    fn checkpoints(&self, tenant: &str) -> Result<Vec<Checkpoint>> {
        self.scope(tenant)?;
        let bucket = self.layout.bucket(Bucket::AuditLogs);
        let prefix = witness_prefix(tenant);
        let keys = self
            .call(move |c| list_versions(c, bucket, prefix))
            .map_err(Fault::into_error)?;
        let scope = format!("{}:{}", self.backend(), self.location());
        let mut out = Vec::new();
        for (key, at) in keys {
            let Some((seq, hash)) = key
                .rsplit('/')
                .next()
                .and_then(|name| name.split_once('-'))
                .and_then(|(seq, hash)| Some((seq.parse::<u64>().ok()?, hash)))
            else {
                tracing::warn!(
                    tenant,
                    key,
                    "ignoring an object in the witness prefix that is not a checkpoint"
                );
                continue;
            };
            if !crate::store::valid_sha(hash) {
                tracing::warn!(
                    tenant,
                    key,
                    "ignoring a witness object whose hash is not a SHA-256"
                );
                continue;
            }
            out.push(Checkpoint {
                tenant: tenant.to_string(),
                seq,
                hash: hash.to_string(),
                at,
                scope: scope.clone(),
            });
        }
        out.sort_by_key(|c| c.seq);
        Ok(out)
    }
}

/// Every version under `prefix`, with when it was written.
async fn list_versions(
    c: Clients,
    bucket: String,
    prefix: String,
) -> std::result::Result<Vec<(String, Stamp)>, Fault> {
    let mut out = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page =
            c.s3.list_object_versions()
                .bucket(&bucket)
                .prefix(&prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| super::fault::classify("S3", "ListObjectVersions", &e))?;
        for v in page.versions() {
            let Some(key) = v.key() else { continue };
            let at = v
                .last_modified()
                .and_then(|t| jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
                .map(Stamp::from)
                .unwrap_or_else(Stamp::now);
            out.push((key.to_string(), at));
        }
        if page.is_truncated() != Some(true) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() {
            return Ok(out);
        }
    }
}
