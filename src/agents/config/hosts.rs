//! The EC2 instances a request means: a [`Selector`] (ids, tags, an environment) resolved
//! with DescribeInstances while planning into inventory hosts.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use super::MAX_HOSTS;
use crate::agents::AgentRequest;
use crate::agents::insight::selection_words;
use crate::error::{Error, Result};
use crate::intent::{Environment, environment_of};
use crate::plan::inventory::{self, Host};

/// Tag keys that carry an environment, compared case-insensitively.
const ENV_TAG_KEYS: &[&str] = &["env", "environment", "stage"];

/// Which instances a request means: all criteria hold together.
#[derive(Debug, Clone, Default)]
pub(super) struct Selector {
    ids: Vec<String>,
    tags: BTreeMap<String, String>,
    environment: Option<String>,
}

impl Selector {
    pub(super) fn from(req: &AgentRequest<'_>) -> Selector {
        let i = req.intent;
        let tags = i.params.tags.by_key();
        // An environment already said by a tag ("Env=staging") is that tag, not a second rule.
        let environment = i
            .params
            .environment
            .map(Environment::as_str)
            .filter(|e| {
                !tags.iter().any(|(k, v)| {
                    ENV_TAG_KEYS.contains(&k.to_lowercase().as_str()) && same_env(v, e)
                })
            })
            .map(str::to_string);
        Selector {
            ids: i.params.instance_ids.clone(),
            tags,
            environment,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.tags.is_empty() && self.environment.is_none()
    }

    pub(super) fn describe(&self) -> String {
        let mut parts = selection_words(&self.ids, &self.tags);
        if let Some(e) = &self.environment {
            parts.push(format!("in environment {e}"));
        }
        parts.join(" ")
    }

    fn filters(&self) -> Vec<Filter> {
        let mut f = vec![
            Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        ];
        for (k, v) in &self.tags {
            f.push(Filter::builder().name(format!("tag:{k}")).values(v).build());
        }
        f
    }

    /// The environment rule, checked on each instance's tags (any environment-like key whose
    /// value means the same environment: `Env=staging`, `Environment=stage`).
    fn matches_env(&self, tags: &[(String, String)]) -> bool {
        let Some(e) = &self.environment else {
            return true;
        };
        tags.iter()
            .any(|(k, v)| ENV_TAG_KEYS.contains(&k.to_lowercase().as_str()) && same_env(v, e))
    }
}

/// Whether a tag value names the environment `env`, with the parser's words for environments
/// (`production` is `prod`); a value it does not know is compared as it is, lower-cased.
fn same_env(value: &str, env: &str) -> bool {
    match environment_of(value) {
        Some(known) => known.as_str() == env,
        None => value.to_lowercase() == env,
    }
}

/// One instance as DescribeInstances told it.
struct Found {
    id: String,
    private: Option<String>,
    public: Option<String>,
    tags: Vec<(String, String)>,
}

/// Running instances matching the selector, as inventory hosts (private address first).
pub(super) fn ec2_hosts(req: &AgentRequest<'_>, region: &str, sel: &Selector) -> Result<Vec<Host>> {
    let conf = req.aws.config_blocking(region)?;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let filters = sel.filters();
    let ids = sel.ids.clone();
    let found = req
        .aws
        .block_on(async move {
            let mut out: Vec<Found> = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut call = ec2
                    .describe_instances()
                    .set_filters(Some(filters.clone()))
                    .set_next_token(token.clone());
                if ids.is_empty() {
                    call = call.max_results(200);
                } else {
                    call = call.set_instance_ids(Some(ids.clone()));
                }
                let page = call
                    .send()
                    .await
                    .map_err(|e| crate::aws::describe_error("ec2", "DescribeInstances", &e))?;
                for r in page.reservations() {
                    for inst in r.instances() {
                        let tags: Vec<(String, String)> = inst
                            .tags()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                            .collect();
                        out.push(Found {
                            id: inst.instance_id().unwrap_or_default().to_string(),
                            private: inst.private_ip_address().map(str::to_string),
                            public: inst.public_ip_address().map(str::to_string),
                            tags,
                        });
                    }
                }
                if out.len() > MAX_HOSTS {
                    break;
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            Ok::<_, String>(out)
        })?
        .map_err(Error::Unavailable)?;
    let mut hosts = Vec::new();
    for Found {
        id,
        private,
        public,
        tags,
    } in found
    {
        if !sel.matches_env(&tags) {
            continue;
        }
        let Some(address) = private.or(public).filter(|a| inventory::valid_address(a)) else {
            continue;
        };
        if !inventory::valid_address(&id) {
            continue;
        }
        let mut vars = vec![("ec2_instance_id".to_string(), id.clone())];
        if let Some((_, name)) = tags.iter().find(|(k, _)| k == "Name") {
            vars.push(("ec2_name".into(), name.clone()));
        }
        hosts.push(Host {
            name: id,
            address,
            vars,
        });
    }
    if hosts.len() > MAX_HOSTS {
        return Err(Error::input(format!(
            "more than {MAX_HOSTS} instances match; narrow the request (a tag, an environment) or give an inventory with --inventory FILE"
        )));
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_tags_match_by_meaning() {
        assert!(same_env("Production", "prod"));
        assert!(same_env("stage", "staging"));
        assert!(!same_env("staging", "prod"));
    }
}
