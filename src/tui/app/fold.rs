//! Job answers → state. An answer to a request that a newer one superseded is dropped here
//! (see [`super::tasks::Latest`]); errors are kept as errors for the pane, the overlay or the
//! status line that shows them.

use std::time::Instant;

use super::audit_row::AuditRow;
use super::msg::Done;
use super::state::{ApprovalsState, AuditState, DiffState, Overlay, PreviewState};
use super::tasks::Kind;
use super::{App, AskResult, JobResult, Msg, POLL_EVERY};
use crate::approval::{PlanRecord, State};
use crate::events::AgentEvent;
use crate::pipeline::ApplyReport;
use crate::tui::action::Pane;
use crate::tui::jobs;
use crate::tui::theme::Meaning;

impl App {
    pub(super) fn fold(&mut self, msg: Msg) {
        match msg {
            Msg::Term(_) => {}
            Msg::JobEnded(job) => {
                self.jobs.remove(&job);
                for kind in self.latest.ended(job) {
                    self.reload_again(kind);
                }
            }
            Msg::Agent { job, event } => self.agent_event(job, event),
            Msg::Phrases(book) => {
                self.phrases = book;
                self.suggested_for.clear();
                self.refresh_suggestion();
            }
            Msg::Done { job, answer } => {
                if let Some(kind) = replaces(&answer)
                    && !self.latest.is_newest(kind, job)
                {
                    return; // superseded: the latest request wins
                }
                self.done(job, answer);
            }
        }
    }

    fn done(&mut self, job: u64, answer: Done) {
        match answer {
            Done::Asked(result) => self.asked(job, result),
            Done::Plans(result) => {
                self.next_poll = Instant::now() + POLL_EVERY;
                // The poll's job also read the trail's new records: what is typed may now
                // have similar past requests.
                if let Some(Ok(intent)) = &self.preview.live {
                    let text = self.prompt_text();
                    self.preview.similar = self.deck.requests().similar_known(intent, &text);
                }
                match result {
                    Ok(plans) => self.set_plans(plans),
                    Err(e) => self.approvals.error = Some(e),
                }
            }
            Done::AuditRows(after, result) => {
                self.audit.loading = false;
                match result {
                    Ok(rows) => match after {
                        None => self.set_audit_rows(rows),
                        // Read on from the newest row held: appended, unless the rows changed
                        // meanwhile (then the whole trail is read again).
                        Some(seq) if self.audit.rows.last().map(|r| r.seq) == Some(seq) => {
                            if !rows.is_empty() {
                                self.change_audit_rows(|held| held.extend(rows));
                            }
                        }
                        Some(_) => self.reload_audit_rows(),
                    },
                    Err(e) => self.audit.error = Some(e),
                }
            }
            Done::Verified(result) => self.audit.verify = Some(result),
            Done::AuditDetail(result) => {
                if let Some(Overlay::Detail { lines, .. }) = self.overlays.last_mut() {
                    *lines = match result {
                        Ok((rec, before)) => jobs::detail_lines(&rec, before),
                        Err(e) => vec![crate::tui::errors::line("", &e).1],
                    };
                }
            }
            Done::Diff(result) => self.diff_read(result.map(|(rec, doc)| (Some(*rec), doc))),
            Done::Approved { plan_id, result } => {
                self.decided(plan_id, result, ("approve", "approved"))
            }
            Done::Rejected { plan_id, result } => {
                self.decided(plan_id, result, ("reject", "rejected"))
            }
            Done::Applied(result) => self.applied(job, result),
            Done::Receipt { plan_id, result } => {
                if let Some(Overlay::Confirm(c)) = self.overlays.last_mut()
                    && c.plan.plan.plan_id == plan_id
                {
                    c.receipt = Some(result);
                }
            }
            Done::Intro(result) | Done::Said(result) => self.said(result),
            Done::Exported(r) => match r {
                Ok(p) => self.success(format!("exported to {}", p.display())),
                Err(e) => self.fail(e),
            },
            Done::Reports { tenant, result } => self.reports_read(tenant, result),
            Done::ReportRefreshed {
                tenant,
                name,
                result,
            } => self.report_refreshed(tenant, name, result),
            Done::ReportCompared { name, result } => self.report_compared(name, result),
            Done::Library { tenant, result } => self.library_read(tenant, result),
            Done::LibraryEntry {
                tenant,
                name,
                result,
            } => self.library_entry_read(tenant, name, result),
            Done::LibraryDiff(result) => self.library_diff_read(result),
            Done::LibraryChanged(result) => self.library_changed(result),
            Done::TenantSwitched(result) => match result {
                Ok(deck) => {
                    let name = deck.tenant().name.clone();
                    self.deck = deck;
                    let reports_open = self.reports.loaded || self.reports.loading;
                    self.reports = Default::default();
                    if reports_open {
                        self.open_reports();
                    }
                    let library_open = self.library.loaded || self.library.loading;
                    self.library = Default::default();
                    if library_open {
                        self.open_library();
                    }
                    self.approvals = ApprovalsState::default();
                    self.audit = AuditState::default();
                    self.diff = DiffState::default();
                    self.preview = PreviewState::default();
                    // What the old tenant's jobs still answer is not this tenant's.
                    self.latest.forget_all();
                    self.say(Meaning::Progress, format!("· now acting in tenant {name}"));
                    self.success(format!("tenant {name}"));
                    self.start();
                }
                Err(e) => self.fail(e),
            },
        }
    }

    fn applied(&mut self, job: u64, result: JobResult<ApplyReport>) {
        if self.apply.as_ref().is_some_and(|a| a.job == job) {
            self.apply = None;
        }
        match result {
            Ok(rep) => {
                let m = if rep.success {
                    Meaning::Success
                } else {
                    Meaning::Error
                };
                self.say(
                    m,
                    format!(
                        "{} {}: {}{}",
                        if rep.success { "✓" } else { "✗" },
                        rep.plan_id,
                        rep.state.as_str(),
                        rep.exit_code
                            .map(|c| format!(" (exit {c})"))
                            .unwrap_or_default()
                    ),
                );
                // What the trail says of it beyond the state: a cancel's abandoned call.
                if rep.message != rep.state.as_str() {
                    self.say(Meaning::Muted, format!("  {}", rep.message));
                }
                if let Some(uri) = rep.log_uri {
                    self.say(Meaning::Muted, format!("  log: {uri}"));
                }
            }
            Err(e) => self.say_error("apply", &e),
        }
        self.poll_plans();
        self.load_audit();
    }

    fn agent_event(&mut self, job: u64, event: AgentEvent) {
        match event {
            AgentEvent::Progress { agent, message } => {
                self.say(Meaning::Progress, format!("· [{agent}] {message}"))
            }
            AgentEvent::Output { line, .. } => self.say(Meaning::Output, format!("  {line}")),
            AgentEvent::PlanReady { plan_id } => {
                self.say(Meaning::Progress, format!("· plan {plan_id} ready"))
            }
            AgentEvent::Finished {
                plan_id,
                success,
                cancelled,
            } => self.say(
                if success {
                    Meaning::Success
                } else {
                    Meaning::Error
                },
                format!(
                    "· {plan_id} finished: {}",
                    match (success, cancelled) {
                        (true, _) => "success",
                        (false, true) => "cancelled",
                        (false, false) => "failed",
                    }
                ),
            ),
            AgentEvent::Waiting {
                call, elapsed_secs, ..
            } => self.waiting_for(job, call, elapsed_secs),
            // The core reports tool phases as waits (above).
            AgentEvent::ToolPhase { .. } => {}
            AgentEvent::Failed { agent, error } => {
                self.say(Meaning::Error, format!("✗ [{agent}] {error}"))
            }
            AgentEvent::Result { agent, output } => {
                for l in jobs::output_lines(agent, &output) {
                    self.transcript.push(l);
                }
            }
        }
    }

    /// The core says which AWS call a running job waits for (or that it answered): the
    /// status bar counts the seconds, the conversation names the call once.
    fn waiting_for(&mut self, job: u64, call: Option<String>, elapsed_secs: u64) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        match call {
            Some(call) => {
                if j.waiting.as_ref().is_some_and(|(c, _)| *c == call) {
                    return;
                }
                let since = Instant::now() - std::time::Duration::from_secs(elapsed_secs);
                j.waiting = Some((call.clone(), since));
                // A tool phase (`terraform plan`) is said without the cancel hint: a dry run
                // runs to its own timeout.
                let tool = call.starts_with("terraform ") || call.starts_with("ansible-playbook");
                self.say(
                    Meaning::Progress,
                    if tool {
                        format!("· {call} running")
                    } else {
                        format!("· waiting for {call} (C or Ctrl-C cancels)")
                    },
                );
            }
            None => j.waiting = None,
        }
    }

    /// A request's answer: always in the conversation; in the preview (and as what the next
    /// follow-up refines) only when it answers the newest request.
    fn asked(&mut self, job: u64, result: JobResult<AskResult>) {
        let newest = self.latest.is_newest(Kind::Ask, job);
        let asked_text = self.preview.planning.clone();
        if newest {
            self.preview.planning = None;
            // What the next follow-up ("now the same in eu-west-1") refines.
            match &result {
                Ok(AskResult::Report(r)) => self.last_intent = Some(r.intent.clone()),
                Ok(AskResult::Plan(rec, _)) => self.last_intent = Some(rec.plan.intent.clone()),
                Err(_) => {}
            }
        }
        match result {
            Ok(AskResult::Report(r)) => {
                for l in jobs::report_transcript(&r) {
                    self.transcript.push(l);
                }
            }
            Ok(AskResult::Plan(rec, files)) => {
                for l in jobs::plan_transcript(&rec, &files, self.deck.identity().user.as_str()) {
                    self.transcript.push(l);
                }
                if newest {
                    self.preview.plan = Some(*rec);
                    self.preview.scroll = 0;
                }
                self.poll_plans();
            }
            Err(e) => {
                self.say_error("", &e);
                // A change understood with low confidence: the requester picks the reading
                // she means (the newest request only; an older one was superseded).
                if let (crate::Error::NeedsConfirmation(c), true, Some(text)) =
                    (&*e, newest, asked_text)
                {
                    self.overlays
                        .push(Overlay::Readings(super::state::ReadingPick {
                            text,
                            choice: crate::view::reading::ReadingChoiceView::of(c),
                            selected: 0,
                        }));
                }
            }
        }
        self.load_audit();
    }

    /// A diff to show: a plan's (the plan it reviews), or two library versions' (none).
    pub(super) fn diff_read(
        &mut self,
        result: JobResult<(
            Option<PlanRecord>,
            std::sync::Arc<crate::tui::diff::DiffDoc>,
        )>,
    ) {
        self.diff.loading = None;
        match result {
            Ok((plan, doc)) => {
                self.diff.plan = plan;
                self.diff.doc = Some(doc);
                self.diff.scroll = 0;
                self.diff.hscroll = 0;
                let s = std::mem::take(&mut self.diff.search);
                self.set_filter(Pane::Diff, s);
            }
            Err(e) => self.diff.error = Some(e),
        }
    }

    fn said(&mut self, result: JobResult<Vec<String>>) {
        match result {
            Ok(lines) => {
                for l in lines {
                    self.say(Meaning::Text, l);
                }
            }
            Err(e) => self.say_error("", &e),
        }
    }

    /// The core's answer to an approval or rejection sent from the confirm overlay.
    fn decided(
        &mut self,
        plan_id: String,
        result: JobResult<Box<PlanRecord>>,
        (verb, done): (&str, &str),
    ) {
        let overlay_is_ours = matches!(self.overlays.last(),
            Some(Overlay::Confirm(c)) if c.plan.plan.plan_id == plan_id);
        match result {
            Ok(rec) => {
                if overlay_is_ours {
                    self.overlays.pop();
                }
                let state = rec.state.as_str();
                self.say(
                    Meaning::Success,
                    format!(
                        "✓ {plan_id} {done} by {} (now {state})",
                        self.deck.identity().user
                    ),
                );
                self.success(format!("{plan_id} {done}"));
                if self
                    .diff
                    .plan
                    .as_ref()
                    .is_some_and(|p| p.plan.plan_id == plan_id)
                {
                    self.diff.plan = Some((*rec).clone());
                }
                if self
                    .preview
                    .plan
                    .as_ref()
                    .is_some_and(|p| p.plan.plan_id == plan_id)
                {
                    self.preview.plan = Some(*rec);
                }
                self.poll_plans();
                self.load_audit();
            }
            Err(e) => {
                if overlay_is_ours && let Some(Overlay::Confirm(c)) = self.overlays.last_mut() {
                    c.busy = false;
                    c.error = Some(e.clone());
                    c.totp.text.clear();
                } else {
                    self.fail(e.clone());
                }
                self.say_error(&format!("{verb} {plan_id}"), &e);
                // A refusal is audited too.
                self.load_audit();
            }
        }
    }

    /// Replaces the queue with the open plans (pending, approved, executing), newest first;
    /// the selection follows the plan it was on.
    pub fn set_plans(&mut self, mut plans: Vec<PlanRecord>) {
        use std::hash::{Hash, Hasher};
        self.tell_requester(&plans);
        let mut closed: Vec<PlanRecord> = plans
            .iter()
            .filter(|p| {
                matches!(
                    p.state,
                    State::Failed | State::Cancelled | State::Rejected | State::Expired
                )
            })
            .cloned()
            .collect();
        closed.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.plan.plan_id.cmp(&b.plan.plan_id))
        });
        self.approvals.closed = closed;
        plans.retain(|p| matches!(p.state, State::Pending | State::Approved | State::Executing));
        plans.sort_by(|a, b| {
            b.plan
                .created_at
                .cmp(&a.plan.created_at)
                .then_with(|| a.plan.plan_id.cmp(&b.plan.plan_id))
        });
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for p in &plans {
            p.plan.plan_id.hash(&mut h);
            p.state.as_str().hash(&mut h);
            p.approvals.len().hash(&mut h);
            p.updated_at.hash(&mut h);
        }
        let fp = h.finish();
        let changed = fp != self.approvals.fingerprint || !self.approvals.loaded;
        let keep = self
            .approvals
            .selected_plan()
            .map(|r| r.plan.plan_id.clone());
        self.approvals.plans = plans;
        self.approvals.loaded = true;
        self.approvals.error = None;
        if let Some(id) = keep
            && let Some(i) = self
                .approvals
                .visible()
                .iter()
                .position(|r| r.plan.plan_id == id)
        {
            self.approvals.selected = i;
        }
        let n = self.approvals.visible().len();
        self.approvals.selected = self.approvals.selected.min(n.saturating_sub(1));
        if changed && self.approvals.fingerprint != 0 && self.audit.loaded {
            // Someone else acted: their events are in the trail now.
            self.load_audit();
        }
        self.approvals.fingerprint = fp;
        self.follow_selection();
        if !self.first_queue_seen {
            self.first_queue_seen = true;
            self.open_on_waiting_approvals();
        }
    }

    /// An approver who starts the console with plans waiting for them starts on the queue
    /// (unless they already began typing or moved): that is what they came for.
    fn open_on_waiting_approvals(&mut self) {
        if self.focus != Pane::Conversation
            || !self.prompt_text().is_empty()
            || !self.overlays.is_empty()
            || self.approvals.show_closed
        {
            return;
        }
        let me = self.deck.identity().user.clone();
        let waiting = self
            .approvals
            .plans
            .iter()
            .filter(|r| r.state == State::Pending)
            .filter(|r| crate::view::ApprovalView::of(r).blocker_for(&me).is_none())
            .count();
        if waiting == 0 {
            return;
        }
        self.focus_pane(Pane::Approvals);
        self.info(format!(
            "{waiting} plan{} wait{} for your approval · i goes to the prompt",
            if waiting == 1 { "" } else { "s" },
            if waiting == 1 { "s" } else { "" },
        ));
    }

    /// New rows go on top. At the top, the selection stays there and they show; further down,
    /// the selection stays on its row and the title counts the new rows above the view.
    pub fn set_audit_rows(&mut self, rows: Vec<AuditRow>) {
        self.change_audit_rows(|held| *held = rows);
    }

    /// Changes the browser's rows, keeping the selection on the same record and counting the
    /// rows that arrived above it.
    fn change_audit_rows(&mut self, change: impl FnOnce(&mut Vec<AuditRow>)) {
        let keep = self
            .audit
            .filtered
            .get(self.audit.selected)
            .and_then(|i| self.audit.rows.get(*i))
            .map(|r| r.seq);
        let at_top = self.audit.selected == 0;
        let newest = self.audit.rows.last().map(|r| r.seq);
        let had_rows = self.audit.loaded;
        change(&mut self.audit.rows);
        self.audit.loaded = true;
        self.audit.error = None;
        self.refilter_audit();
        let arrived = match newest {
            Some(seq) => self
                .audit
                .filtered
                .iter()
                .take_while(|i| self.audit.rows[**i].seq > seq)
                .count(),
            None => 0,
        };
        if had_rows && self.audit.rows.last().map(|r| r.seq) != newest {
            // The chain grew: check its recent links again.
            self.verify(false);
        }
        if at_top {
            self.audit.selected = 0;
            self.audit.new_above = 0;
        } else if let Some(seq) = keep
            && let Some(pos) = self
                .audit
                .filtered
                .iter()
                .position(|i| self.audit.rows[*i].seq == seq)
        {
            self.audit.selected = pos;
            self.audit.new_above += arrived;
        }
        self.follow_selection();
    }
}

/// The kind of request whose newest answer alone replaces what is on screen; None for answers
/// that each count (decisions, exports, a request's report in the conversation).
fn replaces(answer: &Done) -> Option<Kind> {
    Some(match answer {
        Done::Plans(_) => Kind::Plans,
        Done::AuditRows(..) => Kind::AuditRows,
        Done::Verified(_) => Kind::Verify,
        Done::AuditDetail(_) => Kind::AuditDetail,
        Done::Diff(_) => Kind::Diff,
        Done::Intro(_) => Kind::Intro,
        Done::TenantSwitched(_) => Kind::Tenant,
        Done::Reports { .. } => Kind::Reports,
        Done::ReportCompared { .. } => Kind::ReportCompare,
        Done::Library { .. } => Kind::Library,
        Done::LibraryEntry { .. } => Kind::LibraryEntry,
        Done::LibraryDiff(_) => Kind::Diff,
        Done::Asked(_)
        | Done::Approved { .. }
        | Done::Rejected { .. }
        | Done::Applied(_)
        | Done::Receipt { .. }
        | Done::Exported(_)
        | Done::ReportRefreshed { .. }
        | Done::LibraryChanged(_)
        | Done::Said(_) => return None,
    })
}
