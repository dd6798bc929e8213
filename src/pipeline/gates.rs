//! The gates every plan passes when it is made and again before it runs: the tenant's
//! compiled policies, budget and committed spend.

use serde_json::Value;

use super::Deck;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::policy::{self, Committed, PolicySet};
use crate::store::StackStatus;
use crate::store::Store;
use crate::tenant::Tenant;

impl Deck {
    /// All gates for a plan, with the tenant's current policies, budget and spend: its
    /// Terraform and Ansible files (name, text) are what the policies read.
    pub(super) fn gates(
        &self,
        plan: &Plan,
        terraform: &[(String, String)],
        ansible: &[(String, String)],
    ) -> Result<Vec<crate::plan::Gate>> {
        let committed = self.committed_spend()?;
        // Policies judge the request, so they see the requester's roles even when someone
        // else applies it.
        let roles = self
            .store
            .get_user(&self.tenant.name, &plan.requester)?
            .map(|u| u.roles)
            .unwrap_or_default();
        Ok(policy::evaluate(&policy::Context {
            plan,
            terraform,
            ansible,
            tenant: &self.tenant,
            requester_roles: &roles,
            now: self.clock.now(),
            committed: &committed,
            policies: self.policies()?,
        }))
    }

    /// The tenant's compiled policy set (starter set plus tenant files).
    pub(super) fn policies(&self) -> Result<&PolicySet> {
        if let Some(p) = self.policies.get() {
            return Ok(p);
        }
        let loaded = load_policies(self.store.as_ref(), &self.tenant)?;
        // Another thread may have won the race; either set is the same.
        let _ = self.policies.set(loaded);
        self.policies
            .get()
            .ok_or_else(|| Error::input("policies could not be loaded"))
    }

    /// Monthly spend the tenant is committed to: the estimates of its active stacks. Actual spend
    /// from Cost Explorer replaces this when the cost agent can reach AWS.
    pub fn committed_spend(&self) -> Result<Committed> {
        let mut total = 0.0;
        let mut n = 0;
        for s in self.store.list_stacks(&self.tenant.name)? {
            if s.status == StackStatus::Active
                && let Ok(rec) = self.store.get_plan(&self.tenant.name, &s.last_applied_plan)
            {
                total += rec.plan.cost.monthly_usd;
                n += 1;
            }
        }
        Ok(Committed {
            monthly_usd: total,
            source: format!("estimates of {n} active stacks; Cost Explorer not configured"),
        })
    }
}

/// The texts (name, text) of a plan's artifacts of one kind, as the gates read them.
pub(super) fn texts_of(
    kind: crate::plan::ArtifactKind,
    files: &[(crate::plan::ArtifactRef, Vec<u8>)],
) -> Vec<(String, String)> {
    files
        .iter()
        .filter(|(a, _)| a.kind == kind)
        .map(|(a, b)| (a.name.clone(), String::from_utf8_lossy(b).to_string()))
        .collect()
}

pub(super) fn load_policies(store: &dyn Store, tenant: &Tenant) -> Result<PolicySet> {
    let files: Vec<(String, String)> = store
        .tenant_policies(&tenant.name)?
        .into_iter()
        .filter(|(n, _)| !n.ends_with("_test.rego"))
        .collect();
    Ok(PolicySet::load(&files, &policy_data(tenant))?)
}

pub(super) fn policy_data(tenant: &Tenant) -> Value {
    serde_json::to_value(&tenant.policy).unwrap_or_default()
}
