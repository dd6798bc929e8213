//! Using a version: a plan from its files (`ask --use`, a request naming the entry, or the
//! tenant's template for a request), through `finish_plan_with` so the plan's own batch of
//! events records the use.

use crate::agents::{DraftFile, config, infra};
use crate::approval::PlanRecord;
use crate::audit::{AuditEvent, EventKind, Status};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent::{AgentKind, Intent};
use crate::library::{self, EntryKind, EntryRef, VersionInfo};
use crate::plan::ArtifactKind;
use crate::redact::redact;

use super::super::Library;
use super::{UseRequest, WRITERS};

impl Library<'_> {
    /// The entry a request's words name ("deploy our web-tier module"), if any. Only words that
    /// can name one make the trail be read.
    pub fn referenced(&self, text: &str) -> Result<Option<EntryRef>> {
        if !library::may_name_entry(text) && !library::role::may_name_role(text) {
            return Ok(None);
        }
        let c = self.catalogue()?;
        match library::referenced_entry(text, c.names()) {
            Some(r) => Ok(Some(r)),
            None => self.referenced_role(text, &c),
        }
    }

    /// The tenant's template for a request read as `intent` (a change by the infra or config
    /// agent), if one serves it.
    pub fn template_for(&self, intent: &Intent) -> Result<Option<VersionInfo>> {
        let Some(key) = library::template_key(intent) else {
            return Ok(None);
        };
        Ok(self.catalogue()?.template_for(&key).cloned())
    }

    /// A plan from a library entry: its files, with the parameter values written into a file of
    /// their own as typed literals, through the same gates, dry runs and approvals as any plan.
    /// The version used is recorded (`library_entry_used`) in the plan's own batch of events.
    pub fn plan(&self, req: &UseRequest, sink: Sink<'_>) -> Result<PlanRecord> {
        self.require_member(WRITERS, "use library entries")?;
        self.refuse_if_read_only("use library entries", None)?;
        self.requests().refuse_credentials(&req.text)?;
        let r = EntryRef::parse(&req.entry)?;
        let c = self.catalogue()?;
        let info = c.resolve(&r)?.clone();
        let manifest = self.manifest(&info)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let words = redact(req.text.trim());
        let text = if words.is_empty() {
            format!("use library entry {}", info.label())
        } else {
            format!("use library entry {}: {words}", info.label())
        };
        let refused = |why: String| -> Result<PlanRecord> {
            let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
            requested.message = Some(text.clone());
            let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
            failed.artifacts = vec![library::ref_json(&info.name, &info.sha256, None, None)];
            failed.message = Some(why.clone());
            self.append(&[requested, failed])?;
            Err(Error::refused(why))
        };
        if self.tenant.policy.library_requires_approval && info.approvals.is_empty() {
            return refused(format!(
                "{} is not approved for use, and this tenant's policy (library_requires_approval) uses only approved library entries: an approver runs `opsdeck library approve {}`",
                info.label(),
                info.label()
            ));
        }
        // The request's words are read only for values the entry declares (a region), each
        // checked by its type like a --set value.
        let mut read = library::Values::new();
        if let Some(reading) = &req.reading {
            let known = reading.params.to_json();
            for p in &manifest.params {
                if let Some(v) = known.get(&p.name) {
                    read.insert(p.name.clone(), v.clone());
                }
            }
        } else if !words.is_empty()
            && manifest.params.iter().any(|p| p.name == "region")
            && let Ok(i) = self.requests().preview(&req.text, None)
            && let Some(region) = i.params.region
        {
            read.insert("region".into(), serde_json::Value::String(region));
        }
        let values = library::resolve_values(&manifest.params, &req.set, &read)?;
        let files = self.files(&manifest)?;
        // A role runs as the wrapper playbook, its files under roles/DIR/ (use_role.rs).
        let (manifest, files) = super::use_role::as_run(manifest, files);
        let mut notes = vec![
            crate::plan::SUBMITTED_NOTE.to_string(),
            format!(
                "from library entry {} (manifest sha256 {})",
                info.label(),
                crate::approval::short(&info.sha256)
            ),
        ];
        if let Some(d) = &info.deprecated {
            notes.push(format!(
                "{} is deprecated ({} at {}): used because it was named",
                info.label(),
                d.user,
                d.at
            ));
        }
        if !values.is_empty() {
            notes.push(format!(
                "parameters: {}",
                values
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut params = req
            .reading
            .as_ref()
            .map(|r| r.params.clone())
            .unwrap_or_default();
        if let (Some(reading), Some(serves)) = (&req.reading, &info.serves) {
            notes.push(match manifest.kind {
                EntryKind::Terraform => format!(
                    "planned with the tenant's template {} for {serves} requests, its resources alongside the built-in stack ({}/{})",
                    info.label(),
                    reading.agent,
                    reading.action
                ),
                EntryKind::Ansible | EntryKind::Role => format!(
                    "planned with the tenant's template {} for {serves} requests, run after the built-in playbook ({}/{})",
                    info.label(),
                    reading.agent,
                    reading.action
                ),
                // Scripts serve no requests (refused when added); said plainly if one did.
                EntryKind::Script => format!(
                    "planned from script {} for {serves} requests",
                    info.label()
                ),
            });
        }
        let (agent, draft) = match manifest.kind {
            EntryKind::Terraform if req.reading.is_some() && info.serves.is_some() => {
                let reading = req.reading.as_ref().expect("matched");
                let draft = self.with_builtin_stack(
                    &request_id,
                    &words,
                    reading,
                    &info,
                    files,
                    &values,
                    sink,
                );
                if let Ok(d) = &draft {
                    params.stack = d.stack.clone();
                }
                (AgentKind::Infra, draft)
            }
            EntryKind::Terraform => {
                // A template creates something new each time: a stack of its own.
                let stack = match (&req.stack, &req.reading) {
                    (Some(s), _) => s.clone(),
                    (None, Some(r)) => r.params.stack.clone().unwrap_or_else(|| {
                        let head: String = info.name.chars().take(40).collect();
                        format!("{head}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
                    }),
                    (None, None) => info.name.clone(),
                };
                params.stack = Some(stack.clone());
                let mut draft_files: Vec<DraftFile> = files
                    .into_iter()
                    .map(|(name, content)| DraftFile {
                        name,
                        kind: ArtifactKind::Terraform,
                        content,
                    })
                    .collect();
                if !values.is_empty() {
                    draft_files.push(tfvars_file(&values));
                }
                let total = draft_files.iter().map(|f| f.content.len()).sum();
                (
                    AgentKind::Infra,
                    infra::from_files(draft_files, total, &stack).map(|mut d| {
                        d.summary = format!("{} (library entry {})", d.summary, info.label());
                        d
                    }),
                )
            }
            EntryKind::Ansible | EntryKind::Role
                if req.reading.is_some() && info.serves.is_some() =>
            {
                let reading = req.reading.as_ref().expect("matched");
                let playbook = manifest.playbook.clone().unwrap_or_default();
                let vars =
                    (!manifest.params.is_empty()).then(|| library::render_extra_vars(&values));
                (
                    AgentKind::Config,
                    self.with_builtin_playbook(
                        &request_id,
                        &words,
                        reading,
                        &info,
                        &playbook,
                        files,
                        vars,
                        sink,
                    ),
                )
            }
            EntryKind::Ansible | EntryKind::Role => {
                let playbook = manifest.playbook.clone().unwrap_or_default();
                let mut draft_files: Vec<DraftFile> = files
                    .into_iter()
                    .map(|(name, content)| DraftFile {
                        name,
                        kind: ArtifactKind::Ansible,
                        content,
                    })
                    .collect();
                // Typed values in a file of their own, passed as extra vars: never template
                // text or words of a command line.
                let vars = (!manifest.params.is_empty()).then(|| {
                    draft_files.push(DraftFile {
                        name: library::VARS_FILE.into(),
                        kind: ArtifactKind::Ansible,
                        content: library::render_extra_vars(&values).into_bytes(),
                    });
                    library::VARS_FILE.to_string()
                });
                (
                    AgentKind::Config,
                    config::from_playbook_files(
                        draft_files,
                        &playbook,
                        req.inventory.as_deref(),
                        None,
                    )
                    .map(|(files, mut step)| {
                        if let crate::plan::StepKind::Ansible { vars: v, .. } = &mut step.kind {
                            *v = vars;
                        }
                        config::playbook_draft(
                            format!("run {} (library entry {})", step.description, info.label()),
                            files,
                            step,
                            format!(
                                "playbook from library entry {}: review every task",
                                info.label()
                            ),
                        )
                    }),
                )
            }
            EntryKind::Script => {
                let planned = self.script_draft(&request_id, req, &info, files, &values, sink);
                (
                    AgentKind::Ops,
                    planned.map(|(where_, draft)| {
                        params = where_;
                        draft
                    }),
                )
            }
        };
        let draft = super::use_role::summarised(draft, manifest.kind, &info, req.reading.is_some());
        let intent = match &req.reading {
            Some(r) => {
                let mut i = r.clone();
                i.params = params;
                i.notes.extend(notes);
                i
            }
            None => Intent {
                agent,
                agents: vec![agent],
                // A script runs (the ops agent's word); files are applied.
                action: if agent == AgentKind::Ops {
                    "run"
                } else {
                    "apply"
                }
                .into(),
                confidence: 1.0,
                low_confidence: false,
                params,
                evidence: Vec::new(),
                notes,
                source: None,
                settled: None,
            },
        };
        let used = |rec: &PlanRecord| -> Vec<AuditEvent> {
            let mut ev = self.event(&request_id, EventKind::LibraryEntryUsed, Status::Completed);
            ev.plan_id = Some(rec.plan.plan_id.clone());
            ev.agent_type = Some(agent.to_string());
            ev.artifacts = vec![library::ref_json(&info.name, &info.sha256, None, None)];
            ev.message = Some(format!(
                "plan {} made from library entry {}",
                rec.plan.plan_id,
                info.label()
            ));
            vec![ev]
        };
        self.requests()
            .finish_plan_with(request_id.clone(), text, intent, draft, sink, &used)
    }
}

/// The file a Terraform entry's parameter values go in, as typed literals.
pub(super) fn tfvars_file(values: &library::Values) -> DraftFile {
    DraftFile {
        name: library::TFVARS_FILE.into(),
        kind: ArtifactKind::Terraform,
        content: library::render_tfvars(values).into_bytes(),
    }
}
