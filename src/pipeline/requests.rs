//! Requests: how a request is read (classify, the offline preview, explain), refused early
//! (credentials, roles), handed to its agent, and answered with a stored report; plans are
//! finished in `planning.rs`.

use std::path::Path;

use serde_json::{Value, json};

use super::{Answer, ReportRecord, RequestOptions, Requests, Submission, iac};
use crate::agents::{self, AgentRequest, Reply, Report};
use crate::approval::PlanRecord;
use crate::audit::{EventKind, Status};
use crate::error::{Error, Result};
use crate::events::{AgentEvent, Sink};
use crate::intent::{self, Intent, IntentError};
use crate::plan::{ArtifactKind, ArtifactRef};
use crate::redact::redact;
use crate::tenant::Role;

impl Requests<'_> {
    /// How a request is understood: the offline parser, refined from the user's previous
    /// request for follow-ups, and cross-checked by the tenant's model when one is configured.
    /// Whoever reads it, a value out of range (a count over the tenant's limit, an unknown
    /// region, an impossible window) is an error, never clamped or defaulted.
    /// Text holding a credential is refused before it is parsed or sent to a model.
    pub fn classify(&self, text: &str) -> Result<Intent> {
        crate::secrets::check(text).map_err(|r| Error::refused(r.to_string()))?;
        self.understand(text).map_err(intent_error)
    }

    /// Refuses a request holding a credential before anything of it is stored, planned or
    /// sent to a model. The refusal is audited (for members) with only what was found, masked,
    /// so whoever reads the trail knows a credential was exposed and needs rotating.
    pub fn refuse_credentials(&self, text: &str) -> Result<()> {
        let Err(refusal) = crate::secrets::check(text) else {
            return Ok(());
        };
        let error = Error::refused(refusal.to_string());
        let member = self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "ask",
        );
        if member.is_ok() {
            let request_id = uuid::Uuid::new_v4().to_string();
            let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
            failed.message = Some(format!(
                "refused a request holding a credential: {} (rules {}); the request text was not kept",
                refusal.found(),
                refusal.rule_ids().join(", ")
            ));
            // The refusal stands even when the trail cannot take the event.
            if let Err(e) = self.append(&[failed]) {
                tracing::warn!(error = %e, "could not audit a refused request");
            }
        }
        Err(error)
    }

    /// Why a plan (by id, or a unique prefix such as `p-8r98`) or a request text was routed as
    /// it was. One word starting `p-` is a plan id; anything else is a request. Every front end
    /// asks here, so they agree.
    pub fn explain(&self, what: &str) -> Result<(Intent, Value)> {
        let what = what.trim();
        let intent = if what.starts_with("p-") && !what.contains(char::is_whitespace) {
            self.approvals().plan(what)?.plan.intent
        } else {
            self.classify(what)?
        };
        let v = intent::explain(&intent);
        Ok((intent, v))
    }

    /// How a request reads to the offline parser alone, refined from `previous` (the session's
    /// last request) when it is a follow-up: pure and quick, for the live preview on a UI
    /// thread. No model, no store, no network; [`Deck::request`] reads it again in full, with
    /// the tenant's model when one is configured.
    pub fn preview(&self, text: &str, previous: Option<&Intent>) -> Result<Intent> {
        crate::secrets::check(text).map_err(|r| Error::refused(r.to_string()))?;
        let limits = intent::Limits::of(&self.tenant);
        let refined = previous
            .filter(|_| intent::is_follow_up(text))
            .and_then(|p| intent::refine(p, text, &limits));
        let mut read = match refined {
            Some(r) => r,
            None => intent::parse_with(text, &limits)
                .map(|read| self.read_like_example(text, read, &limits)),
        }
        .map_err(intent_error)?;
        intent::check(&read, &limits).map_err(intent_error)?;
        if let Some(m) = &self.model {
            read.notes.push(format!(
                "offline reading: the tenant's model ({}) reads the request again when it is submitted",
                m.model_id
            ));
        }
        Ok(read)
    }

    pub(super) fn understand(&self, text: &str) -> std::result::Result<Intent, IntentError> {
        self.understand_from(text, true)
    }

    /// [`Requests::understand`]; `learn` false reads the words alone, without the tenant's
    /// confirmed examples (the requester is picking a reading herself).
    fn understand_from(&self, text: &str, learn: bool) -> std::result::Result<Intent, IntentError> {
        let limits = intent::Limits::of(&self.tenant);
        let previous = if intent::is_follow_up(text) {
            self.previous_intent()
        } else {
            None
        };
        let parsed = match (intent::parse_with(text, &limits), &previous) {
            (Ok(i), None) => i,
            (parsed, Some(prev)) => match intent::refine(prev, text, &limits) {
                Some(refined) => refined?,
                None => parsed?,
            },
            (Err(e @ IntentError::Unrecognised(_)), None) => {
                // The model may still understand what the parser could not; its reading then
                // stands alone and always needs confirmation.
                let Some(m) = &self.model else { return Err(e) };
                return match m.classify_alone(text) {
                    Ok(mut i) => {
                        intent::check(&i, &limits)?;
                        i.low_confidence = true;
                        i.notes.push(
                            "only the model understood this request (the offline parser did not): confirm before approving".into(),
                        );
                        Ok(i)
                    }
                    Err(_) => Err(e),
                };
            }
            (Err(e), None) => return Err(e),
        };
        let intent = match &self.model {
            Some(m) => m.understand(text, parsed, previous.as_ref(), &limits),
            None => parsed,
        };
        // A follow-up refines the session's own last request; anything else may be read like
        // a similar request the tenant's requesters confirmed.
        let intent = if learn && previous.is_none() {
            if let Err(e) = self.refresh_knowledge() {
                tracing::debug!(error = %e, "past confirmations not read");
            }
            self.read_like_example(text, intent, &limits)
        } else {
            intent
        };
        intent::check(&intent, &limits)?;
        Ok(intent)
    }

    /// A change understood with low confidence goes no further until its requester confirms
    /// the reading they mean (`reading`, 1-based, among [`intent::readings`]); reading 1 is the
    /// one it was understood as. Questions, and confident readings, pass as they are.
    fn confirmed(
        &self,
        text: &str,
        intent: Intent,
        reading: Option<usize>,
    ) -> std::result::Result<std::result::Result<Intent, intent::Confirmation>, IntentError> {
        if !intent.low_confidence || !agents::asks_for_change(&intent) {
            return Ok(Ok(intent));
        }
        let limits = intent::Limits::of(&self.tenant);
        let mut readings = intent::readings(text, &limits).unwrap_or_default();
        // Reading 1 is the one understood (the model's, when it overruled the parser).
        let weight = readings
            .iter()
            .find(|r| r.agent == intent.agent)
            .map_or(intent.confidence, |r| r.weight);
        readings.retain(|r| r.agent != intent.agent);
        readings.insert(
            0,
            intent::Reading {
                agent: intent.agent,
                action: intent.action.clone(),
                weight,
            },
        );
        let pick = |n: usize| -> std::result::Result<Intent, IntentError> {
            let mut chosen = if n == 1 {
                let mut i = intent.clone();
                i.low_confidence = false;
                i.notes.retain(|n| !n.starts_with("low confidence"));
                i
            } else {
                intent::parse_as(text, &limits, readings[n - 1].agent)?
            };
            chosen.notes.push(format!(
                "the requester confirmed reading {n} of {} ({}/{})",
                readings.len(),
                chosen.agent,
                chosen.action
            ));
            chosen.settled = Some(intent::Settled::Confirmation {
                reading: n,
                of: readings.len(),
            });
            Ok(chosen)
        };
        match reading {
            Some(n) if (1..=readings.len()).contains(&n) => pick(n).map(Ok),
            Some(n) => Err(IntentError::OutOfRange {
                param: "the confirmed reading".into(),
                value: n.to_string(),
                allowed: format!("this request has readings 1 to {}", readings.len()),
            }),
            None => Ok(Err(intent::Confirmation {
                confidence: intent.confidence,
                readings,
            })),
        }
    }

    /// What a follow-up refines: the session's last request. A session that has made none yet
    /// (a new CLI process) looks once for the acting user's last request in the trail.
    pub(super) fn previous_intent(&self) -> Option<Intent> {
        if let Some(last) = self.last_intent.lock().ok()?.clone() {
            return Some(last);
        }
        let mut last = None;
        self.scan_trail(&mut |r| {
            if r.event.event == EventKind::Classified && r.event.user_id == self.identity.user {
                last = r.event.intent;
            }
            true
        })
        .ok()?;
        let last: Option<Intent> = last.and_then(|v| serde_json::from_value(v).ok());
        if let Ok(mut memory) = self.last_intent.lock() {
            memory.clone_from(&last);
        }
        last
    }

    /// Classifies, plans and gates a request that should produce a plan. A question that an
    /// agent answers with a report (no plan) is audited like any request and reported back as
    /// an error here; front ends call [`Deck::request`], which returns either.
    pub fn ask(&self, text: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        match self.request(text, sink)? {
            Answer::Plan(rec) => Ok(*rec),
            Answer::Report(r) => Err(Error::input(format!(
                "'{}' is answered with a report, not a plan ({}); request {}",
                text.trim(),
                r.report.summary,
                r.request_id
            ))),
        }
    }

    /// Classifies a request and hands it to its agent: a plan (mutating plans are queued for
    /// approval; read-only ones are returned ready to run) or a report answering a question.
    pub fn request(&self, text: &str, sink: Sink<'_>) -> Result<Answer> {
        self.request_with(text, &RequestOptions::default(), sink)
    }

    /// [`Deck::request`] with what the command line adds to the words (an inventory file).
    pub fn request_with(
        &self,
        text: &str,
        opts: &RequestOptions,
        sink: Sink<'_>,
    ) -> Result<Answer> {
        self.require_member(
            &[Role::Viewer, Role::Operator, Role::Approver, Role::Admin],
            "ask",
        )?;
        self.refuse_credentials(text)?;
        self.demo_standin_running()?;
        let _working = self.aws.calls().work();
        // "deploy our web-tier module": the tenant's library entry, planned from its files.
        if let Some(entry) = self.library().referenced(text)? {
            return self
                .library()
                .plan(
                    &super::UseRequest {
                        entry: entry.to_string(),
                        text: text.to_string(),
                        inventory: opts.inventory.clone(),
                        ..super::UseRequest::default()
                    },
                    sink,
                )
                .map(|r| Answer::Plan(Box::new(r)));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let redacted = redact(text.trim());
        // A reading the requester picks herself is picked among the words' own readings, so
        // she can always correct what an earlier confirmation would have chosen.
        let intent = match self
            .understand_from(text, opts.confirm_reading.is_none())
            .and_then(|i| self.confirmed(text, i, opts.confirm_reading))
        {
            Ok(Ok(i)) => {
                if let Ok(mut last) = self.last_intent.lock() {
                    *last = Some(i.clone());
                }
                iac::with_inventory(i, opts)?
            }
            Ok(Err(unconfirmed)) => {
                // Nothing is planned from a reading nobody confirmed; the trail says why.
                let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
                requested.message = Some(redacted.clone());
                let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
                failed.message = Some(redact(&unconfirmed.to_string()));
                self.append(&[requested, failed])?;
                return Err(Error::NeedsConfirmation(Box::new(unconfirmed)));
            }
            Err(IntentError::Empty) => return Err(intent_error(IntentError::Empty)),
            Err(e) => {
                let mut requested = self.event(&request_id, EventKind::Requested, Status::Pending);
                requested.message = Some(redacted.clone());
                let mut failed = self.event(&request_id, EventKind::Failed, Status::Failed);
                failed.message = Some(redact(&e.to_string()));
                self.append(&[requested, failed])?;
                return Err(intent_error(e));
            }
        };
        // The tenant's own template for this kind of request, when it has one.
        if agents::asks_for_change(&intent)
            && let Some(template) = self.library().template_for(&intent)?
        {
            return self
                .library()
                .plan(
                    &super::UseRequest {
                        entry: template.label(),
                        text: text.to_string(),
                        inventory: opts.inventory.clone(),
                        reading: Some(intent),
                        ..super::UseRequest::default()
                    },
                    sink,
                )
                .map(|r| Answer::Plan(Box::new(r)));
        }
        self.request_read(request_id, redacted, intent, sink)
    }

    /// A request already read (by the parser, or taken from a past plan to re-plan it): the
    /// role checks, its agent, and the stored report or gated plan.
    pub(super) fn request_read(
        &self,
        request_id: String,
        redacted: String,
        intent: Intent,
        sink: Sink<'_>,
    ) -> Result<Answer> {
        // Every role check before any work: a viewer asking for a change is refused before
        // the agent reads anything.
        if agents::asks_for_change(&intent)
            && let Some(refusal) = self.change_refusal(&request_id, &intent)?
        {
            let [requested, classified] = self.request_events(&request_id, &redacted, &intent);
            self.append(&[requested, classified, refusal.event])?;
            return Err(refusal.error);
        }
        // A cancel from here on ends the request, wherever it is (the agent, its dry runs).
        let _working = self.aws.calls().work();
        let reply = self.watching_waits(intent.agent, sink, |sink| {
            agents::handle(
                &AgentRequest {
                    request_id: &request_id,
                    text: &redacted,
                    intent: &intent,
                    tenant: &self.tenant,
                    store: self.store.as_ref(),
                    aws: &self.aws,
                },
                sink,
            )
        });
        match reply {
            Ok(Reply::Report(report)) => self
                .finish_report(request_id, redacted, intent, report, sink)
                .map(|r| Answer::Report(Box::new(r))),
            Ok(Reply::Plan(draft)) => self
                .finish_plan(request_id, redacted, intent, Ok(draft), sink)
                .map(|r| Answer::Plan(Box::new(r))),
            Err(e) => self
                .finish_plan(request_id, redacted, intent, Err(e), sink)
                .map(|r| Answer::Plan(Box::new(r))),
        }
    }

    /// Audits and stores a read-only answer: the report (and its files) become artifacts, the
    /// trail records who asked what and where the answer is.
    pub(super) fn finish_report(
        &self,
        request_id: String,
        text: String,
        intent: Intent,
        report: Report,
        sink: Sink<'_>,
    ) -> Result<ReportRecord> {
        let [requested, classified] = self.request_events(&request_id, &text, &intent);
        let body = serde_json::to_vec_pretty(&report)
            .map_err(|e| Error::input(format!("the report cannot be stored: {e}")))?;
        let redacted_body = redact(&String::from_utf8_lossy(&body));
        let sha = self.store.put_artifact_as(
            &self.tenant.name,
            ArtifactKind::Report,
            redacted_body.as_bytes(),
        )?;
        let mut artifacts = vec![ArtifactRef {
            name: "report.json".into(),
            kind: ArtifactKind::Report,
            sha256: sha,
            size: redacted_body.len() as u64,
        }];
        for f in &report.files {
            let text = redact(&String::from_utf8_lossy(&f.content));
            let sha = self
                .store
                .put_artifact_as(&self.tenant.name, f.kind, text.as_bytes())?;
            artifacts.push(ArtifactRef {
                name: f.name.clone(),
                kind: f.kind,
                sha256: sha,
                size: text.len() as u64,
            });
        }
        let mut answered = self.event(&request_id, EventKind::Answered, Status::Completed);
        answered.agent_type = Some(intent.agent.to_string());
        answered.message = Some(redact(&report.summary));
        answered.artifacts = artifacts
            .iter()
            .map(|a| {
                json!({"name": a.name, "kind": a.kind, "sha256": a.sha256, "size": a.size,
                       "uri": self.store.artifact_uri(&self.tenant.name, &a.sha256)})
            })
            .collect();
        self.append(&[requested, classified, answered])?;
        for output in &report.outputs {
            sink(AgentEvent::Result {
                agent: intent.agent,
                output: output.clone(),
            });
        }
        let uri = self
            .store
            .artifact_uri(&self.tenant.name, &artifacts[0].sha256);
        Ok(ReportRecord {
            request_id,
            agent: intent.agent,
            action: intent.action.clone(),
            intent,
            report,
            artifacts,
            uri,
        })
    }

    /// Submits a hand-written Terraform directory for review and apply as stack `stack`.
    pub fn submit_terraform(&self, dir: &Path, stack: &str, sink: Sink<'_>) -> Result<PlanRecord> {
        self.submit(
            &Submission {
                terraform: Some(dir.to_path_buf()),
                stack: Some(stack.to_string()),
                ..Submission::default()
            },
            sink,
        )
    }

    /// Submits hand-written Terraform, a hand-written playbook, or both as one hybrid plan (the
    /// playbook then runs on the hosts the Terraform creates), through the same gates,
    /// approvals and audit as a generated plan.
    pub fn submit(&self, sub: &Submission, sink: Sink<'_>) -> Result<PlanRecord> {
        self.require_member(
            &[Role::Operator, Role::Approver, Role::Admin],
            "submit Terraform or playbooks",
        )?;
        self.refuse_if_read_only("submit Terraform or playbooks", None)?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let (text, intent, draft) = iac::submission(sub)?;
        self.refuse_credentials(&text)?;
        self.finish_plan(request_id, text, intent, draft, sink)
    }
}

/// The intent with every string that looks like a secret masked, including tag values under
/// secret-sounding keys (`password=...` typed as a tag).
pub(super) fn redact_intent(intent: &Intent) -> Intent {
    fn walk(v: &mut Value, key: Option<&str>) {
        match v {
            Value::String(s) => {
                let secret_key = key.is_some_and(|k| {
                    let k = k.to_lowercase();
                    [
                        "password",
                        "passwd",
                        "secret",
                        "token",
                        "apikey",
                        "api_key",
                        "api-key",
                        "private_key",
                    ]
                    .iter()
                    .any(|w| k.contains(w))
                });
                *s = if secret_key {
                    crate::redact::mask().to_string()
                } else {
                    redact(s)
                };
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, key)),
            Value::Object(o) => o.iter_mut().for_each(|(k, x)| walk(x, Some(k))),
            _ => {}
        }
    }
    let mut out = intent.clone();
    let mut params = out.params.to_json();
    for (k, v) in params.iter_mut() {
        if k != "secret" {
            walk(v, None);
        }
    }
    // Redaction rewrites strings only, and none that a closed set of values holds, so the
    // parameters read back; were they ever not to, none is kept rather than one unmasked.
    out.params = intent::Params::from_json(params).unwrap_or_default();
    for e in &mut out.evidence {
        e.word = redact(&e.word);
        e.meaning = redact(&e.meaning);
    }
    out
}

pub(super) fn intent_error(e: IntentError) -> Error {
    match e {
        IntentError::Credential(_) => Error::Refused(e.to_string()),
        e => Error::Input(e.to_string()),
    }
}
