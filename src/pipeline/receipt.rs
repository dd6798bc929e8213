//! The identity receipt: before any apply, who the change will be made as and where — the
//! account (id and alias) the session's credentials reach, the role, the region and which runner
//! executes it — asked of AWS (STS GetCallerIdentity, IAM ListAccountAliases) through the same
//! access the apply uses, so the person confirming sees the account the plan will change rather
//! than the one they think they selected. What cannot be established is said, never guessed.

use serde::Serialize;

use super::Runs;
use crate::error::Result;

/// Who an apply acts as, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityReceipt {
    pub plan_id: String,
    /// The account STS says the apply's credentials belong to.
    pub account_id: Option<String>,
    /// Its IAM account alias, when it has one (None also when it could not be read).
    pub account_alias: Option<String>,
    /// The role the apply assumes (the AWS configuration's), or None for the base credentials.
    pub role: Option<String>,
    /// The AWS configuration the role comes from.
    pub configuration: Option<String>,
    /// The principal STS reports (the assumed-role session when a role is assumed).
    pub caller_arn: Option<String>,
    /// The region the plan targets.
    pub region: String,
    /// Which runner executes the plan.
    pub runner: Runner,
    /// What could not be established, each with the reason.
    pub unknown: Vec<String>,
}

/// Where a plan's steps run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Runner {
    /// In this process, with this session's credentials (the local store, as before runners).
    InProcess { host: String, backend: String },
    /// Handed to the shared backend's runners (`opsdeck runner`), which alone hold the deploy
    /// role; the account and role above are what this session's credentials reach.
    SharedRunners,
    /// The runner that claimed the plan, as it reports itself in the run log: the account and
    /// role are what the runner's own credentials reach (the deploy role).
    Claimed { name: String, host: String },
}

impl Runner {
    pub fn describe(&self) -> String {
        match self {
            Runner::InProcess { host, backend } => {
                format!("this process on {host} ({backend} store), with this session's credentials")
            }
            Runner::SharedRunners => {
                "the shared backend's runners (opsdeck runner), with the tenant's deploy role"
                    .into()
            }
            Runner::Claimed { name, host } => {
                format!("runner {name} on {host}, with its own credentials")
            }
        }
    }
}

impl Runs<'_> {
    /// The receipt for plan `id`: asked of AWS now, through the credentials its apply will use.
    pub fn identity_receipt(&self, id: &str) -> Result<IdentityReceipt> {
        let id = self.approvals().resolve_plan_id(id)?;
        let rec = self.approvals().plan(&id)?;
        let region = rec
            .plan
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| {
                self.aws_configuration
                    .as_ref()
                    .and_then(|c| c.regions.first().cloned())
            })
            .unwrap_or_else(|| self.tenant.default_region.clone());
        let mut receipt = IdentityReceipt {
            plan_id: id,
            account_id: None,
            account_alias: None,
            role: self.aws_configuration.as_ref().map(|c| c.role_arn.clone()),
            configuration: self.aws_configuration.as_ref().map(|c| c.name.clone()),
            caller_arn: None,
            region: region.clone(),
            runner: if self.applies_through_runner() {
                Runner::SharedRunners
            } else {
                Runner::InProcess {
                    host: super::runs::hostname(),
                    backend: self.backend_name().to_string(),
                }
            },
            unknown: Vec::new(),
        };
        // The apply's own endpoint, role and (for the demo) credentials, on an access of its
        // own with short limits.
        let mut access = crate::aws::AwsAccess::new(
            self.aws.endpoint_url().map(str::to_string),
            self.aws.role().cloned(),
        )
        .with_limits(std::time::Duration::from_secs(10), 2);
        if self.tenant.demo {
            access =
                access.with_fixed_credentials(crate::demo::CREDENTIAL, crate::demo::CREDENTIAL);
        }
        let aws = std::sync::Arc::new(access);
        let asking = aws.clone();
        let asked = asking.block_on(async move {
            let ask = async {
                let conf = aws.config(&region).await;
                let who = aws_sdk_sts::Client::new(&conf)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| crate::aws::AwsError::from_sdk("STS", "GetCallerIdentity", &e));
                let alias = aws_sdk_iam::Client::new(&conf)
                    .list_account_aliases()
                    .send()
                    .await
                    .map_err(|e| crate::aws::describe_error("IAM", "ListAccountAliases", &e));
                (who, alias)
            };
            // A receipt that never comes must not hold the confirm step.
            tokio::time::timeout(std::time::Duration::from_secs(20), ask).await
        })?;
        let through_runners = receipt.runner == Runner::SharedRunners;
        match asked {
            Err(_) => receipt
                .unknown
                .push("account: AWS did not answer within 20 s".into()),
            Ok((who, alias)) => {
                match who {
                    Ok(w) => {
                        receipt.account_id = w.account().map(str::to_string);
                        receipt.caller_arn = w.arn().map(str::to_string);
                    }
                    // On the shared backend only the runners should be able to assume the deploy
                    // role: a refusal here is the design working, said as such.
                    Err(e @ crate::aws::AwsError::CredentialsRefused { .. })
                        if through_runners && e.code() == Some("AccessDenied") =>
                    {
                        receipt.unknown.push(format!(
                            "account: your credentials cannot assume the deploy role (as intended: only the runners may); the runner's own receipt opens the run log ({e})"
                        ));
                        return Ok(receipt);
                    }
                    Err(e) => receipt.unknown.push(format!("account: {e}")),
                }
                match alias {
                    Ok(a) => receipt.account_alias = a.account_aliases().first().cloned(),
                    Err(e) => receipt.unknown.push(format!("account alias: {e}")),
                }
            }
        }
        Ok(receipt)
    }
}
