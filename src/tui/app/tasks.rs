//! The console's background jobs. Every [`crate::pipeline::Deck`] call that reads the store,
//! reaches AWS or asks a model runs on tokio's blocking pool, never on the UI thread; its
//! answer comes back as a [`Msg`] naming the job. Jobs whose answer replaces something on
//! screen keep only the latest request, as gitui's `AsyncSingleJob` does ([`Latest`]): a newer
//! request supersedes an older one's answer, and a reload asked for while one runs waits for
//! it (only the newest waits) instead of piling up scans of the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::msg::Done;
use super::state::{ApplyRun, Overlay, RunningJob, TLine};
use super::{App, AskResult, Msg, POLL_EVERY};
use crate::audit::export::Format;
use crate::events::AgentEvent;
use crate::pipeline::Answer;
use crate::tui::errors;
use crate::tui::jobs;
use crate::tui::theme::Meaning;

/// Kinds of request whose answer replaces something on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// The approvals queue (polled, and after every decision).
    Plans,
    /// The audit browser's rows.
    AuditRows,
    /// The chain check in the audit pane's title.
    Verify,
    /// The record in the audit detail overlay.
    AuditDetail,
    /// The plan in the diff viewer.
    Diff,
    /// The plan in the preview (every request still reports in the conversation).
    Ask,
    /// The tenant's intro in the conversation.
    Intro,
    /// A tenant or configuration switch.
    Tenant,
    /// The Reports pane's first read.
    Reports,
    /// The Reports pane's comparison with last week.
    ReportCompare,
    /// The Library pane's entries.
    Library,
    /// The versions of the entry opened in the Library pane.
    LibraryEntry,
}

/// Which job's answer counts, per [`Kind`].
#[derive(Debug, Default)]
pub(super) struct Latest {
    /// The newest job of each kind, and whether it still runs.
    newest: HashMap<Kind, (u64, bool)>,
    /// Reloads asked for while one of their kind ran: each runs once more when it ends.
    again: HashSet<Kind>,
}

impl Latest {
    fn started(&mut self, kind: Kind, job: u64) {
        self.newest.insert(kind, (job, true));
    }

    /// Whether `job` answers the newest request of `kind` (else its answer is dropped).
    pub(super) fn is_newest(&self, kind: Kind, job: u64) -> bool {
        self.newest.get(&kind).is_some_and(|(j, _)| *j == job)
    }

    pub(super) fn running(&self, kind: Kind) -> bool {
        self.newest.get(&kind).is_some_and(|(_, running)| *running)
    }

    /// `job` ended (answered or not): the reloads that waited for it.
    pub(super) fn ended(&mut self, job: u64) -> Vec<Kind> {
        let Latest { newest, again } = self;
        let mut waiting = Vec::new();
        for (kind, (j, running)) in newest.iter_mut() {
            if *j == job {
                *running = false;
                if again.remove(kind) {
                    waiting.push(*kind);
                }
            }
        }
        waiting
    }

    /// Forgets every request, so answers to those already sent are dropped (the tenant changed).
    pub(super) fn forget_all(&mut self) {
        self.newest.clear();
        self.again.clear();
    }
}

/// Sends `JobEnded` when the job's closure is done, even if it panicked.
struct Ends {
    tx: mpsc::UnboundedSender<Msg>,
    job: u64,
}

impl Drop for Ends {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::JobEnded(self.job));
    }
}

impl App {
    /// Runs `f` (given its job number) on the blocking pool; its answer (and then `JobEnded`)
    /// comes back on the channel.
    pub(super) fn spawn_blocking(
        &mut self,
        label: String,
        agent: bool,
        f: impl FnOnce(u64) -> Done + Send + 'static,
    ) -> u64 {
        self.spawn_job(label, agent, move |job| Some(f(job)))
    }

    /// The same for a job that may have nothing to say.
    pub(super) fn spawn_job(
        &mut self,
        label: String,
        agent: bool,
        f: impl FnOnce(u64) -> Option<Done> + Send + 'static,
    ) -> u64 {
        let job = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            job,
            RunningJob {
                label,
                started: Instant::now(),
                agent,
                waiting: None,
            },
        );
        let tx = self.tx.clone();
        self.handle.spawn_blocking(move || {
            let _ends = Ends {
                tx: tx.clone(),
                job,
            };
            background_priority();
            if let Some(answer) = f(job) {
                let _ = tx.send(Msg::Done { job, answer });
            }
        });
        job
    }

    /// A job whose answer counts only while it answers the newest request of `kind`.
    pub(super) fn spawn_latest(
        &mut self,
        kind: Kind,
        label: String,
        f: impl FnOnce() -> Done + Send + 'static,
    ) -> u64 {
        let job = self.spawn_blocking(label, false, move |_| f());
        self.latest.started(kind, job);
        job
    }

    /// A reload of `kind`: now, or once the one running ends.
    fn reload(&mut self, kind: Kind, label: &str, f: impl FnOnce() -> Done + Send + 'static) {
        if self.latest.running(kind) {
            self.latest.again.insert(kind);
            return;
        }
        self.spawn_latest(kind, label.to_string(), f);
    }

    /// Runs a reload that waited for the previous one of its kind.
    pub(super) fn reload_again(&mut self, kind: Kind) {
        match kind {
            Kind::Plans => self.poll_plans(),
            Kind::AuditRows => self.load_audit(),
            _ => {}
        }
    }

    /// The demo's welcome, or how to set up a tenant nobody is registered in.
    pub(super) fn load_intro(&mut self) {
        let deck = self.deck.clone();
        self.spawn_latest(Kind::Intro, "reading the tenant".into(), move || {
            Done::Intro(deck.console_intro().map_err(errors::shared))
        });
    }

    /// Sends a request to the core: the model (when the tenant has one), the agent and the
    /// store all run in the job; the live reading the preview shows is the offline one.
    pub(super) fn submit(&mut self, text: String) {
        let text = text.trim().to_string();
        let read = self
            .deck
            .requests()
            .preview(&text, self.last_intent.as_ref())
            .map_err(errors::shared);
        self.preview.due = None;
        // A request holding a credential goes nowhere: the prompt keeps it to edit, and neither
        // the history nor the transcript gets a copy. The core audits the refusal (what was
        // found, masked); that writes to the trail, so it runs as a job.
        if let (Err(e), Err(_)) = (&read, crate::secrets::check(&text)) {
            self.say_error("", e);
            self.preview.live = Some(read);
            let deck = self.deck.clone();
            self.spawn_job("recording a refusal".into(), false, move |_| {
                let _ = deck.requests().refuse_credentials(&text);
                None
            });
            return;
        }
        self.remember(&text);
        self.set_prompt("");
        self.transcript.scroll = 0;
        for (i, l) in text.lines().enumerate() {
            self.transcript.push(TLine {
                table: None,
                segments: vec![
                    (
                        Meaning::Prompt,
                        if i == 0 { "› " } else { "  " }.to_string(),
                    ),
                    (Meaning::Request, l.to_string()),
                ],
            });
        }
        self.preview.live = Some(read);
        self.plan_request(text.clone(), move |deck, sink| {
            deck.requests().request(&text, sink)
        });
    }

    /// The reading the requester picked for a change understood with low confidence: planned
    /// exactly as `ask --confirm-reading N` plans it (recorded as settled, and learned from).
    pub(super) fn submit_reading(&mut self, text: String, reading: usize) {
        self.say(
            Meaning::Progress,
            format!("planning reading {reading}, as you confirmed it"),
        );
        let opts = crate::pipeline::RequestOptions {
            confirm_reading: Some(reading),
            ..crate::pipeline::RequestOptions::default()
        };
        self.plan_request(text.clone(), move |deck, sink| {
            deck.requests().request_with(&text, &opts, sink)
        });
    }

    /// `:like PLAN_ID`: the past plan's request planned again against today's state, shown
    /// as any request's plan.
    pub(super) fn submit_like(&mut self, plan_id: String) {
        self.say(
            Meaning::Progress,
            format!("planning {plan_id} again against today's state"),
        );
        self.plan_request(format!("like {plan_id}"), move |deck, sink| {
            deck.requests().replan(&plan_id, sink)
        });
    }

    /// Runs a request to its answer in a job; the preview shows its plan when it has one.
    fn plan_request(
        &mut self,
        text: String,
        ask: impl FnOnce(&crate::pipeline::Deck, crate::events::Sink<'_>) -> crate::Result<Answer>
        + Send
        + 'static,
    ) {
        self.preview.plan = None;
        self.preview.planning = Some(text.clone());
        let deck = self.deck.clone();
        let tx = self.tx.clone();
        let label = format!("planning: {}", crate::tui::text::fit(&text, 40));
        let job = self.spawn_blocking(label, true, move |job| {
            let sink = move |e: AgentEvent| {
                let _ = tx.send(Msg::Agent { job, event: e });
            };
            let result = ask(&deck, &sink)
                .map(|answer| match answer {
                    Answer::Plan(rec) => {
                        let files = deck
                            .approvals()
                            .artifacts(&rec.plan)
                            .map(|v| {
                                v.into_iter()
                                    .map(|(a, b)| (a.name, String::from_utf8_lossy(&b).to_string()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        AskResult::Plan(rec, files)
                    }
                    Answer::Report(r) => AskResult::Report(r),
                })
                .map_err(errors::shared);
            Done::Asked(result)
        });
        self.latest.started(Kind::Ask, job);
    }

    pub(super) fn start_apply(&mut self, plan_id: String) {
        let (cancel, cancel_rx) = watch::channel(false);
        let deck = self.deck.clone();
        let tx = self.tx.clone();
        let handle = self.handle.clone();
        let id = plan_id.clone();
        self.say(Meaning::Progress, format!("applying {plan_id} (C cancels)"));
        let job = self.spawn_blocking(format!("applying {plan_id}"), true, move |job| {
            let sink = move |e: AgentEvent| {
                let _ = tx.send(Msg::Agent { job, event: e });
            };
            // A blocking-pool thread may wait on the runtime: the run's store calls block, so
            // it stays off the runtime's workers.
            let result = handle
                .block_on(deck.runs().apply_or_hand_over(&id, &sink, cancel_rx))
                .map_err(errors::shared);
            Done::Applied(result)
        });
        self.approvals.applied_here.insert(plan_id.clone());
        self.apply = Some(ApplyRun {
            job,
            plan_id,
            cancel,
        });
    }

    /// The plan's files against what its stack last applied, highlighted, in the diff viewer.
    pub fn open_diff(&mut self, plan_id: String, from: Option<crate::tui::action::Pane>) {
        self.diff.from = from;
        self.diff.loading = Some(plan_id.clone());
        self.diff.error = None;
        self.focus = crate::tui::action::Pane::Diff;
        self.prompt_active = false;
        let deck = self.deck.clone();
        let hl = self.highlighter.clone();
        let theme = (!self.theme.no_color).then(|| self.theme.syntax_theme.clone());
        self.spawn_latest(Kind::Diff, format!("diff {plan_id}"), move || {
            Done::Diff(
                jobs::load_diff(&deck, &plan_id, &hl, theme.as_deref()).map_err(errors::shared),
            )
        });
    }

    pub(super) fn open_audit_detail(&mut self) {
        let Some(row) = self
            .audit
            .filtered
            .get(self.audit.selected)
            .and_then(|i| self.audit.rows.get(*i))
            .cloned()
        else {
            return;
        };
        // The link is checked when the record arrives: its prev must be the hash before it.
        let before = self
            .audit
            .rows
            .iter()
            .position(|r| r.seq == row.seq)
            .and_then(|i| i.checked_sub(1))
            .map(|i| (self.audit.rows[i].seq, self.audit.rows[i].hash));
        self.overlays.push(Overlay::Detail {
            title: format!("audit event #{}", row.seq),
            lines: vec!["loading the full record…".into()],
            scroll: 0,
        });
        let deck = self.deck.clone();
        let seq = row.seq;
        self.spawn_latest(Kind::AuditDetail, format!("audit #{seq}"), move || {
            Done::AuditDetail(
                jobs::audit_detail(&deck, seq)
                    .map(|r| (r, before))
                    .map_err(errors::shared),
            )
        });
    }

    pub(super) fn export(&mut self, format: Format) {
        let q = match super::AuditQuery::parse(&self.audit.filter, self.deck.clock()) {
            Ok(q) => q,
            Err(e) => return self.fail(errors::shared(e)),
        };
        let deck = self.deck.clone();
        self.spawn_blocking("exporting audit".into(), false, move |_| {
            Done::Exported(jobs::export(&deck, &q, format).map_err(errors::shared))
        });
    }

    pub(super) fn verify(&mut self, full: bool) {
        let deck = self.deck.clone();
        self.spawn_latest(Kind::Verify, "verifying chain".into(), move || {
            Done::Verified(deck.trail().verify(full).map_err(errors::shared))
        });
    }

    /// Re-reads the approvals queue (now, or after the read already running).
    pub fn poll_plans(&mut self) {
        self.next_poll = Instant::now() + POLL_EVERY;
        let deck = self.deck.clone();
        let tx = self.tx.clone();
        self.reload(Kind::Plans, "refresh", move || {
            // The index of past requests (the preview's similar ones, the prompt's suggestions)
            // reads what is new.
            let _ = deck.requests().refresh_knowledge();
            let _ = tx.send(Msg::Phrases(Arc::new(deck.requests().phrase_book())));
            // The shared backend: flush audit events queued during an outage once it is back.
            let h = deck.backend_health();
            if h.queued > 0 || !h.reachable {
                let _ = deck.sync_backend();
            }
            Done::Plans(deck.approvals().plans(None).map_err(errors::shared))
        });
    }

    /// Re-reads the audit trail for the browser and checks the chain's recent links.
    pub fn load_audit(&mut self) {
        self.reload_audit_rows();
        self.verify(false);
    }

    /// Re-reads the audit trail for the browser (the chain is checked again when it grew).
    pub(super) fn reload_audit_rows(&mut self) {
        self.read_audit_rows(None);
    }

    /// Reads what was appended after the browser's newest row (the periodic refresh).
    pub(super) fn read_on_audit_rows(&mut self) {
        let newest = self.audit.rows.last().map(|r| r.seq);
        self.read_audit_rows(newest);
    }

    fn read_audit_rows(&mut self, after: Option<u64>) {
        self.audit.loading = true;
        let deck = self.deck.clone();
        self.reload(Kind::AuditRows, "loading audit", move || {
            Done::AuditRows(
                after,
                jobs::audit_rows(&deck, after).map_err(errors::shared),
            )
        });
    }
}

/// Background jobs run a little below the UI thread's priority, so typing and scrolling stay
/// smooth on a small machine while agents plan and apply (children such as terraform inherit it).
fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        thread_local!(static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if !DONE.with(|d| d.replace(true)) {
            // SAFETY: gettid has no preconditions; setpriority on our own thread id only
            // changes this thread's nice value (Linux schedules threads individually).
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, 5);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, Latest};

    #[test]
    fn the_newest_request_counts_and_one_reload_waits() {
        let mut l = Latest::default();
        l.started(Kind::Diff, 1);
        l.started(Kind::Diff, 2);
        assert!(!l.is_newest(Kind::Diff, 1), "superseded");
        assert!(l.is_newest(Kind::Diff, 2));
        assert!(!l.is_newest(Kind::Plans, 2), "kinds are apart");

        l.started(Kind::Plans, 3);
        assert!(l.running(Kind::Plans));
        l.again.insert(Kind::Plans);
        assert_eq!(l.ended(1), vec![], "a superseded job frees nothing");
        assert_eq!(l.ended(3), vec![Kind::Plans], "the waiting reload runs");
        assert!(!l.running(Kind::Plans));
        assert!(
            l.is_newest(Kind::Plans, 3),
            "its answer, already sent, still counts"
        );
        assert_eq!(l.ended(3), vec![], "it waited once");

        l.forget_all();
        assert!(
            !l.is_newest(Kind::Diff, 2),
            "another tenant: old answers are dropped"
        );
    }
}
