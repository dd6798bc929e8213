//! The compliance report for the trail facet: the tenant's security scans, found through the
//! trail (a `classified` security/scan request, its `answered` event and the stored report it
//! names), judged through a framework's mapping (`reports::compliance`).

use std::collections::HashMap;

use serde_json::Value;

use super::Trail;
use crate::audit::EventKind;
use crate::error::{Error, Result};
use crate::reports::compliance::{self, ComplianceReport, Framework, ScanRecord};

/// A scan request seen in the trail, waiting for its answer.
struct Asked {
    limited: bool,
}

impl Trail<'_> {
    /// Each control of `framework` judged from the tenant's stored security scans: pass, fail
    /// or not checked, with the findings behind it. Any member may read it (viewers included):
    /// it reads the trail and stored reports only, never AWS.
    pub fn compliance_report(&self, framework: &str) -> Result<ComplianceReport> {
        let framework: Framework = framework.parse()?;
        let mapping = compliance::frameworks::load(framework)?;
        self.require_reader("read the compliance report")?;
        let scans = self.stored_scans()?;
        Ok(compliance::build(
            &self.tenant.name,
            &mapping,
            &scans,
            &crate::time::iso(self.clock.now()),
        ))
    }

    /// The tenant's stored security scans, oldest first (the compliance and security
    /// reports read them).
    pub(super) fn stored_scans(&self) -> Result<Vec<ScanRecord>> {
        let mut asked: HashMap<String, Asked> = HashMap::new();
        // (request, when, who, report artifact), oldest first.
        let mut answered: Vec<(String, String, String, String, bool)> = Vec::new();
        self.scan_trail(&mut |r| {
            let e = r.event;
            if e.agent_type.as_deref() != Some("security") {
                return true;
            }
            match e.event {
                EventKind::Classified => {
                    let intent = e.intent.as_ref();
                    let action = intent.and_then(|i| i["action"].as_str());
                    if action == Some("scan") {
                        let params = intent.map(|i| &i["params"]);
                        let named = |k: &str| {
                            params.is_some_and(|p| match &p[k] {
                                Value::String(s) => !s.is_empty(),
                                Value::Array(a) => !a.is_empty(),
                                _ => false,
                            })
                        };
                        asked.insert(
                            e.request_id.clone(),
                            Asked {
                                limited: named("bucket") || named("security_groups"),
                            },
                        );
                    }
                }
                EventKind::Answered => {
                    if let Some(a) = asked.remove(&e.request_id)
                        && let Some(sha) = e
                            .artifacts
                            .iter()
                            .find(|x| x["name"] == "report.json")
                            .and_then(|x| x["sha256"].as_str())
                    {
                        answered.push((
                            e.request_id.clone(),
                            crate::time::iso(e.timestamp.timestamp()),
                            e.user_id.clone(),
                            sha.to_string(),
                            a.limited,
                        ));
                    }
                }
                _ => {}
            }
            true
        })?;
        let mut scans = Vec::with_capacity(answered.len());
        for (request_id, at, user, sha, limited) in answered {
            let bytes = self.store.get_artifact(&self.tenant.name, &sha)?;
            let report: Value = serde_json::from_slice(&bytes).map_err(|e| {
                Error::input(format!(
                    "the stored report {sha} of request {request_id} is not JSON: {e}"
                ))
            })?;
            scans.push(ScanRecord::from_report(
                &report,
                &request_id,
                &at,
                &user,
                limited,
                &sha,
            )?);
        }
        Ok(scans)
    }
}
