//! The console's state machine. [`App`] holds the state; it changes only by folding a [`Msg`]
//! (terminal input or a background job's answer) and by [`App::update`] applying an
//! [`Action`](super::action::Action). Nothing here draws (`ui`, `components` draw from `&App`) and nothing here does
//! I/O on the UI thread: work that touches the store, AWS or a model is *sent* to a job and its
//! answer comes back on the channel.
//!
//! By concern:
//! - [`state`]: the panes' and overlays' data; [`audit_row`]: the audit browser's compact row;
//! - [`msg`]: the channel's messages, errors carried as errors;
//! - [`input`]: keys and mouse → actions (overlays first, then the prompt, then the keymap);
//! - [`update`]: actions → state (focus, scrolling, filters, the diff viewer's moves);
//! - [`confirm`]: approve, reject, break-glass and apply, asked through the approval rules;
//! - [`command`]: the `:` commands' effects (theme, tenant, configuration, set-up);
//! - [`tasks`]: the jobs, each kind keeping only its latest request;
//! - [`fold`]: job answers → state; [`news`]: what happened to this user's plans, told as the
//!   poll reads it, and the preview following the selected plan.
//!
//! This file: the [`App`] itself and the loop's timing (debounced preview, spinner, queue poll).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui_textarea::TextArea;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::action::Pane;
use super::errors::{self, SharedError};
use super::highlight::Highlighter;
use super::keymap::Keymap;
use super::theme::{Meaning, Theme};
use crate::intent::Intent;
use crate::pipeline::Deck;

mod audit_row;
mod command;
mod confirm;
mod fold;
mod input;
mod library;
mod mouse;
mod msg;
mod news;
mod reports;
mod rows;
mod state;
mod tasks;
mod update;

pub use audit_row::{AuditQuery, AuditRow, Interner, hash_bytes};
pub use mouse::{Click, ClickMap, mark};
pub use msg::{AskResult, AuditDetail, Done, JobResult, LibraryRead, Msg, ReportsRead};
pub use state::{
    ApplyRun, ApprovalsState, AuditState, Confirm, ConfirmKind, DiffState, LibraryState, LineInput,
    Notice, OpenEntry, Overlay, PreviewState, ReadingPick, ReportsState, RowActions, RunningJob,
    TLine, TableRow, Transcript,
};
use tasks::Latest;

/// How often the approvals queue is re-read, so other consoles' changes appear.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// Typing pause before the live preview re-reads the prompt (latest input wins).
pub const DEBOUNCE: Duration = Duration::from_millis(120);
/// Spinner frame time, only while something runs.
pub const SPIN_EVERY: Duration = Duration::from_millis(100);
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Opens a deck for another tenant (`:tenant NAME`), with the same home, user and backend.
pub type Reopen = Arc<dyn Fn(&str) -> crate::Result<Deck> + Send + Sync>;

pub struct App {
    pub deck: Arc<Deck>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub config_dir: Option<PathBuf>,
    pub focus: Pane,
    pub prompt_active: bool,
    pub prompt: TextArea<'static>,
    pub history: Vec<String>,
    history_pos: Option<usize>,
    pub transcript: Transcript,
    /// How this session's last request was understood: follow-ups refine it.
    pub last_intent: Option<Intent>,
    pub preview: PreviewState,
    pub diff: DiffState,
    pub approvals: ApprovalsState,
    pub audit: AuditState,
    pub reports: ReportsState,
    pub library: LibraryState,
    pub overlays: Vec<Overlay>,
    pub notice: Option<Notice>,
    pub jobs: BTreeMap<u64, RunningJob>,
    pub apply: Option<ApplyRun>,
    /// Ctrl-C cancelled what ran; the next Ctrl-C quits.
    cancel_asked: bool,
    pub spinner: usize,
    last_spin: Instant,
    pub should_quit: bool,
    next_poll: Instant,
    /// Which job's answer counts, per kind of request.
    latest: Latest,
    next_job: u64,
    pub highlighter: Arc<Highlighter>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    handle: Handle,
    reopen: Option<Reopen>,
    /// Frames drawn, for tests and the benchmark.
    pub frames: u64,
    /// How far the top overlay (help, a detail) can scroll at the size it was last drawn:
    /// written by the drawing, read by the keys so scrolling stops at the end.
    pub overlay_scroll_max: std::sync::atomic::AtomicU16,
    /// Whether the first load of the queue has happened (an approver with plans waiting for
    /// them then starts on the approvals pane).
    pub(crate) first_queue_seen: bool,
    /// What can be suggested while typing (the tenant's past requests that went well, the
    /// known phrases), built by the queue poll's job from the index in memory.
    pub phrases: Arc<crate::view::phrase::PhraseBook>,
    /// The suggestion for what the prompt holds now: its rest shows as ghost text; Tab (or
    /// Right at the end of the line) takes it.
    pub suggestion: Option<crate::view::phrase::PhraseSuggestion>,
    /// The prompt text the suggestion was made for.
    suggested_for: String,
    /// Where the last frame drew what a click can select (written by the drawing).
    pub clicks: std::sync::Mutex<ClickMap>,
    /// Whether the console takes the mouse (`m` toggles; off, the terminal selects text).
    pub mouse_capture: bool,
}

pub struct AppOptions {
    pub theme: Theme,
    pub keymap: Keymap,
    pub config_dir: Option<PathBuf>,
    pub handle: Handle,
    pub reopen: Option<Reopen>,
}

impl App {
    pub fn new(deck: Arc<Deck>, opts: AppOptions) -> App {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut app = App {
            deck,
            theme: opts.theme,
            keymap: opts.keymap,
            config_dir: opts.config_dir,
            focus: Pane::Conversation,
            prompt_active: true,
            prompt: TextArea::default(),
            history: Vec::new(),
            history_pos: None,
            transcript: Transcript::default(),
            last_intent: None,
            preview: PreviewState::default(),
            diff: DiffState::default(),
            approvals: ApprovalsState::default(),
            audit: AuditState::default(),
            reports: ReportsState::default(),
            library: LibraryState::default(),
            overlays: Vec::new(),
            notice: None,
            jobs: BTreeMap::new(),
            apply: None,
            cancel_asked: false,
            spinner: 0,
            last_spin: Instant::now(),
            should_quit: false,
            next_poll: Instant::now() + POLL_EVERY,
            latest: Latest::default(),
            next_job: 1,
            highlighter: Arc::new(Highlighter::new()),
            tx,
            rx,
            handle: opts.handle,
            reopen: opts.reopen,
            frames: 0,
            overlay_scroll_max: std::sync::atomic::AtomicU16::new(u16::MAX),
            first_queue_seen: false,
            phrases: Arc::new(crate::view::phrase::PhraseBook::build(
                std::iter::empty(),
                crate::view::phrase::KNOWN_PHRASES,
            )),
            suggestion: None,
            suggested_for: String::new(),
            clicks: std::sync::Mutex::new(ClickMap::default()),
            mouse_capture: true,
        };
        app.style_prompt();
        app.transcript.push(TLine::plain(
            Meaning::Muted,
            "Type what you want done, e.g. \"Create 3 t3.medium instances in ap-south-1 with ALB\". Enter submits; Esc leaves the prompt; ? shows every key.",
        ));
        app
    }

    /// A sender for events from outside (the terminal reader thread, tests).
    pub fn sender(&self) -> mpsc::UnboundedSender<Msg> {
        self.tx.clone()
    }

    /// First loads, started once the screen is up.
    pub fn start(&mut self) {
        self.poll_plans();
        self.load_audit();
        self.load_intro();
    }

    fn style_prompt(&mut self) {
        self.prompt
            .set_cursor_line_style(ratatui::style::Style::default());
        self.prompt
            .set_placeholder_text("Ask for something: \"restart the staging web servers\"");
        self.prompt
            .set_placeholder_style(self.theme.get(Meaning::Muted));
        self.prompt.set_style(self.theme.get(Meaning::Text));
    }

    pub fn prompt_text(&self) -> String {
        self.prompt.lines().join("\n")
    }

    pub fn spinner_frame(&self) -> &'static str {
        SPINNER[self.spinner % SPINNER.len()]
    }

    pub fn agents_running(&self) -> bool {
        self.jobs.values().any(|j| j.agent)
    }

    fn info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice::Info(text.into()));
    }

    fn success(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice::Success(text.into()));
    }

    fn fail(&mut self, e: SharedError) {
        self.notice = Some(Notice::Failed(e));
    }

    /// Something typed at the console that it cannot take (an unknown command, a bad filter).
    fn mistake(&mut self, text: impl Into<String>) {
        self.fail(errors::shared(crate::Error::input(text)));
    }

    pub fn say(&mut self, m: Meaning, text: impl Into<String>) {
        self.transcript.push(TLine::plain(m, text));
    }

    /// An error in the conversation, after what it was about (`context`, may be empty).
    fn say_error(&mut self, context: &str, e: &crate::Error) {
        let (m, text) = errors::line(context, e);
        self.say(m, text);
    }

    // ---------------------------------------------------------------- timers and the loop

    /// When the loop must wake up even if nothing arrives (None: sleep until an event).
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d = Some(self.next_poll);
        if let Some(due) = self.preview.due {
            d = d.map(|x| x.min(due));
        }
        if self.agents_running() {
            d = d.map(|x| x.min(self.last_spin + SPIN_EVERY));
        }
        if let Some(r) = self.reports.next_refresh {
            d = d.map(|x| x.min(r));
        }
        d
    }

    /// Runs what is due; returns whether the screen changed.
    pub fn on_timers(&mut self, now: Instant) -> bool {
        let mut dirty = false;
        if let Some(due) = self.preview.due
            && now >= due
        {
            self.preview.due = None;
            let text = self.prompt_text();
            self.preview.live = if text.trim().is_empty() {
                None
            } else {
                // The offline reading only: pure and quick, so the newest keystroke is read at
                // once on this thread. The tenant's model (network) and the follow-up lookup
                // read the request when it is submitted, in a job.
                Some(
                    self.deck
                        .requests()
                        .preview(&text, self.last_intent.as_ref())
                        .map_err(errors::shared),
                )
            };
            // Similar past requests from the index in memory (refreshed by the queue poll's
            // job): no I/O here (`cargo bench --bench similar`).
            self.preview.similar = match &self.preview.live {
                Some(Ok(intent)) => self.deck.requests().similar_known(intent, &text),
                _ => Vec::new(),
            };
            dirty = true;
        }
        if self.agents_running() && now >= self.last_spin + SPIN_EVERY {
            self.spinner = self.spinner.wrapping_add(1);
            self.last_spin = now;
            dirty = true;
        }
        if now >= self.next_poll {
            if self.latest.running(tasks::Kind::Plans) {
                // Still reading: the next poll is due a full period after it answers.
                self.next_poll = now + POLL_EVERY;
            } else {
                self.poll_plans();
            }
            // The audit browser in view re-reads the trail: events that touch no plan too.
            if self.focus == Pane::Audit && self.audit.loaded && !self.audit.loading {
                self.read_on_audit_rows();
            }
        }
        dirty |= self.reports_timer(now);
        dirty
    }

    /// Waits for the next message (or deadline) and folds it plus everything already queued.
    /// Returns whether the screen must be redrawn.
    pub async fn step(&mut self) -> bool {
        let deadline = self.next_deadline();
        let first = match deadline {
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                tokio::time::timeout(wait, self.rx.recv())
                    .await
                    .ok()
                    .flatten()
            }
            None => self.rx.recv().await,
        };
        let mut dirty = false;
        if let Some(m) = first {
            dirty |= self.handle_msg(m);
            // Drain everything queued, then draw once.
            while let Ok(m) = self.rx.try_recv() {
                dirty |= self.handle_msg(m);
            }
        }
        dirty | self.on_timers(Instant::now())
    }

    /// For tests: steps until `pred` holds or `timeout` passes.
    pub async fn run_until(&mut self, timeout: Duration, pred: impl Fn(&App) -> bool) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if pred(self) {
                return true;
            }
            let _ = tokio::time::timeout(end - Instant::now(), self.step()).await;
        }
        pred(self)
    }
}
