//! Who the caller is on the shared backend: STS GetCallerIdentity with the base credentials
//! (before the backend role, whose session name we choose ourselves), through the same SDK
//! configuration and endpoint as every other call of the store.
//!
//! While STS is unreachable the principal this machine proved last is used (kept in the
//! backend's local directory): the backend is read-only then, so it serves reads and queued
//! audit events only, and the identity says it is the cached one.

use super::AwsStore;
use super::fault::{Fault, classify};
use crate::error::Result;
use crate::store::StoreError;

const CACHE_FILE: &str = "principal";

impl AwsStore {
    /// The caller's principal ARN, and whether it is the cached one.
    pub(super) fn prove_caller(&self) -> Result<(String, bool)> {
        let cache = self.root.join(CACHE_FILE);
        let proven = match self.link.blocked() {
            Some(reason) => Err(Fault::Transient(reason)),
            None => self.caller_arn(),
        };
        match proven {
            Ok(arn) => {
                if std::fs::read_to_string(&cache).ok().as_deref() != Some(arn.as_str()) {
                    // Best effort: a machine that cannot keep it proves itself again next time.
                    let _ = crate::store::fsutil::write_atomic(&cache, arn.as_bytes());
                }
                Ok((arn, false))
            }
            Err(Fault::Transient(reason)) => match std::fs::read_to_string(&cache) {
                Ok(arn) if crate::tenant::principal::validate_arn(arn.trim()).is_ok() => {
                    Ok((arn.trim().to_string(), true))
                }
                _ => Err(StoreError::Unreachable {
                    reason: format!(
                        "{reason}; STS GetCallerIdentity proves who you are on the shared backend, and this machine has not proven a principal before"
                    ),
                }
                .into()),
            },
            Err(f) => Err(f.into_error().into()),
        }
    }

    fn caller_arn(&self) -> std::result::Result<String, Fault> {
        let aws = self.aws.clone();
        let region = self.layout.region.clone();
        self.aws
            .block_on(async move {
                let conf = aws.base_config(&region).await;
                let out = aws_sdk_sts::Client::new(&conf)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| classify("STS", "GetCallerIdentity", &e))?;
                out.arn
                    .ok_or_else(|| Fault::Fatal("STS GetCallerIdentity answered no ARN".into()))
            })
            .map_err(|e| Fault::Transient(e.to_string()))?
    }
}
