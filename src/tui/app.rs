//! The console's state and the one place it changes: [`App::update`]. Keys and mouse events
//! are turned into [`Action`]s (overlays first, then the prompt, then the focused pane's keymap);
//! work that touches the store or runs agents is *sent* to background tasks, never awaited here;
//! their results come back as [`Msg`]s on the channel and are folded in by [`App::handle_msg`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use ratatui_textarea::TextArea;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use super::action::{Action, Pane};
use super::diff::DiffDoc;
use super::highlight::Highlighter;
use super::jobs;
use super::keymap::{Key, Keymap};
use super::theme::{Meaning, Theme};
use crate::approval::{PlanRecord, State};
use crate::audit::{AuditRecord, EventKind, Status, VerifyReport};
use crate::events::AgentEvent;
use crate::intent::Intent;
use crate::pipeline::{ApplyReport, Deck};

/// How often the approvals queue is re-read, so other consoles' changes appear.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// Typing pause before the live preview re-classifies (latest input wins).
pub const DEBOUNCE: Duration = Duration::from_millis(120);
/// Spinner frame time, only while something runs.
pub const SPIN_EVERY: Duration = Duration::from_millis(100);
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// The transcript keeps this many lines; older ones scroll away for good.
const TRANSCRIPT_MAX: usize = 10_000;

/// A planned request: the record (boxed: it is large) and its artifacts as text.
/// What a request came back as: a plan with its files (for the diff viewer), or a report whose
/// results already streamed into the conversation.
pub enum AskResult {
    Plan(Box<PlanRecord>, Vec<(String, String)>),
    Report(Box<crate::pipeline::ReportRecord>),
}
/// A full audit record and the (seq, hash) of the record before it in the list.
pub type AuditDetail = (Box<AuditRecord>, Option<(u64, [u8; 32])>);

/// Everything that arrives on the console's channel.
pub enum Msg {
    Term(Event),
    Agent {
        job: u64,
        event: AgentEvent,
    },
    AskDone {
        job: u64,
        result: Result<AskResult, String>,
    },
    Plans(Result<Vec<PlanRecord>, String>),
    AuditLoaded(Result<Vec<AuditRow>, String>),
    Verified(Result<VerifyReport, String>),
    /// The full record and the (seq, hash) of the one before it in the list.
    AuditDetail(Result<AuditDetail, String>),
    DiffReady {
        plan_id: String,
        result: Result<(Box<PlanRecord>, Arc<DiffDoc>), String>,
    },
    Approved {
        plan_id: String,
        result: Result<Box<PlanRecord>, String>,
    },
    Rejected {
        plan_id: String,
        result: Result<Box<PlanRecord>, String>,
    },
    ApplyDone {
        job: u64,
        result: Result<ApplyReport, String>,
    },
    Exported(Result<PathBuf, String>),
    TenantSwitched(Result<Arc<Deck>, String>),
    /// Lines for the conversation from the core: the console's intro, `:init`'s set-up.
    Said(Result<Vec<String>, String>),
    /// A job ended (success or not); removes it from the running list.
    JobEnded(u64),
}

/// An audit event as the browser lists it: small enough for 100k in memory (users and agents
/// shared, the hash as bytes, the message capped). The detail view reloads the full record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: u64,
    pub timestamp: crate::time::Stamp,
    pub user: Arc<str>,
    pub event: EventKind,
    pub status: Status,
    pub agent: Option<Arc<str>>,
    pub plan_id: Option<Box<str>>,
    pub message: Box<str>,
    pub hash: [u8; 32],
}

/// Shares the few distinct user and agent names among all rows.
#[derive(Default)]
pub struct Interner(std::collections::HashMap<String, Arc<str>>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

/// Longest message kept per row; the detail view shows all of it.
const ROW_MESSAGE: usize = 160;

impl AuditRow {
    pub fn from_record(r: &AuditRecord, names: &mut Interner) -> AuditRow {
        let e = &r.event;
        let message = e.message.as_deref().unwrap_or_default();
        let message = if message.len() > ROW_MESSAGE {
            super::text::fit(message, ROW_MESSAGE - 1)
        } else {
            message.to_string()
        };
        AuditRow {
            seq: r.seq,
            timestamp: e.timestamp.clone(),
            user: names.get(&e.user_id),
            event: e.event,
            status: e.status,
            agent: e.agent_type.as_deref().map(|a| names.get(a)),
            plan_id: e.plan_id.as_deref().map(Box::from),
            message: message.into(),
            hash: hash_bytes(&r.hash),
        }
    }

    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// A chain hash as bytes (zeros when it is not 64 hex digits: verify reports that record).
pub fn hash_bytes(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let _ = hex::decode_to_slice(h, &mut out);
    out
}

/// One line of the transcript, as styled segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TLine {
    pub segments: Vec<(Meaning, String)>,
}

impl TLine {
    pub fn plain(m: Meaning, text: impl Into<String>) -> TLine {
        TLine {
            segments: vec![(m, text.into())],
        }
    }
    pub fn text(&self) -> String {
        self.segments.iter().map(|(_, s)| s.as_str()).collect()
    }
}

#[derive(Debug, Default)]
pub struct Transcript {
    pub lines: Vec<TLine>,
    /// Display rows scrolled up from the bottom (0 = following the newest output).
    pub scroll: usize,
}

impl Transcript {
    pub fn push(&mut self, l: TLine) {
        self.lines.push(l);
        if self.lines.len() > TRANSCRIPT_MAX {
            self.lines.drain(..self.lines.len() - TRANSCRIPT_MAX);
        }
    }
}

#[derive(Debug, Default)]
pub struct PreviewState {
    /// Classification of what is typed now.
    pub live: Option<Result<Intent, String>>,
    /// The plan of the last submitted request (or the one opened from the queue).
    pub plan: Option<PlanRecord>,
    pub planning: Option<String>,
    pub scroll: u16,
    pub due: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct DiffState {
    pub plan: Option<PlanRecord>,
    pub doc: Option<Arc<DiffDoc>>,
    pub loading: Option<String>,
    pub error: Option<String>,
    pub side_by_side: bool,
    /// First visible row (unified) or pair (side by side).
    pub scroll: usize,
    pub hscroll: usize,
    pub search: String,
    pub matches: Vec<usize>,
    /// Where Esc goes back to.
    pub from: Option<Pane>,
}

#[derive(Debug, Default)]
pub struct ApprovalsState {
    /// Pending, approved and executing plans, newest first.
    pub plans: Vec<PlanRecord>,
    pub filter: String,
    pub selected: usize,
    pub loaded: bool,
    pub error: Option<String>,
    fingerprint: u64,
}

impl ApprovalsState {
    pub fn visible(&self) -> Vec<&PlanRecord> {
        let f = self.filter.to_lowercase();
        self.plans
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.plan.plan_id.contains(&f)
                    || r.plan.requester.to_lowercase().contains(&f)
                    || r.plan.summary.to_lowercase().contains(&f)
                    || r.state.as_str().contains(&f)
                    || r.plan.risk.as_str().contains(&f)
            })
            .collect()
    }

    pub fn selected_plan(&self) -> Option<&PlanRecord> {
        self.visible().get(self.selected).copied()
    }
}

#[derive(Debug, Default)]
pub struct AuditState {
    pub rows: Vec<AuditRow>,
    /// Indexes into `rows` matching the filter, newest first.
    pub filtered: Vec<usize>,
    pub filter: String,
    pub filter_error: Option<String>,
    pub selected: usize,
    pub loaded: bool,
    pub loading: bool,
    pub error: Option<String>,
    pub verify: Option<Result<VerifyReport, String>>,
}

pub use crate::audit::query::AuditQuery;

impl AuditRow {
    /// The fields an audit filter compares (a row keeps no request or event id).
    pub fn fields(&self) -> crate::audit::query::Fields<'_> {
        crate::audit::query::Fields {
            user: &self.user,
            agent: self.agent.as_deref(),
            status: self.status.as_str(),
            event: self.event.as_str(),
            plan_id: self.plan_id.as_deref(),
            request_id: None,
            event_id: None,
            timestamp: self.timestamp.timestamp(),
            message: &self.message,
        }
    }
}

/// A one-line text input (command line, filter, overlay fields).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineInput {
    pub text: String,
}

impl LineInput {
    /// Applies an editing key; returns whether the text changed.
    pub fn key(&mut self, k: &KeyEvent) -> bool {
        match k.code {
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.push(c);
                true
            }
            KeyCode::Char('u') => {
                self.text.clear();
                true
            }
            KeyCode::Backspace => self.text.pop().is_some(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmKind {
    Approve,
    BreakGlass,
    Reject,
    Apply,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub plan: Box<PlanRecord>,
    pub reason: LineInput,
    pub totp: LineInput,
    /// 0 = reason (reject only), 1 = TOTP code.
    pub field: usize,
    pub busy: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Command(LineInput),
    Filter {
        pane: Pane,
        input: LineInput,
        before: String,
    },
    Confirm(Confirm),
    Detail {
        title: String,
        lines: Vec<String>,
        scroll: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Success,
    Error,
}

#[derive(Debug, Clone)]
pub struct RunningJob {
    pub label: String,
    pub started: Instant,
    /// Agents (ask, apply) show in the status bar with a spinner; housekeeping does not.
    pub agent: bool,
}

pub struct ApplyRun {
    pub job: u64,
    pub plan_id: String,
    pub cancel: watch::Sender<bool>,
}

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
    pub overlays: Vec<Overlay>,
    pub notice: Option<(NoticeLevel, String)>,
    pub jobs: BTreeMap<u64, RunningJob>,
    pub apply: Option<ApplyRun>,
    pub spinner: usize,
    last_spin: Instant,
    pub should_quit: bool,
    next_poll: Instant,
    poll_in_flight: bool,
    next_job: u64,
    pub highlighter: Arc<Highlighter>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    handle: Handle,
    reopen: Option<Reopen>,
    /// Frames drawn, for tests and the benchmark.
    pub frames: u64,
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
            overlays: Vec::new(),
            notice: None,
            jobs: BTreeMap::new(),
            apply: None,
            spinner: 0,
            last_spin: Instant::now(),
            should_quit: false,
            next_poll: Instant::now() + POLL_EVERY,
            poll_in_flight: false,
            next_job: 1,
            highlighter: Arc::new(Highlighter::new()),
            tx,
            rx,
            handle: opts.handle,
            reopen: opts.reopen,
            frames: 0,
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

    /// The demo's welcome, or how to set up a tenant nobody is registered in.
    fn load_intro(&mut self) {
        let deck = self.deck.clone();
        self.spawn_blocking("reading the tenant".into(), false, move |_| {
            Msg::Said(deck.console_intro().map_err(|e| e.to_string()))
        });
    }

    /// `:init`: the same set-up as `opsdeck init`, its secret shown in the conversation.
    fn init_tenant(&mut self) {
        let deck = self.deck.clone();
        self.spawn_blocking("setting up the tenant".into(), false, move |_| {
            Msg::Said(deck.init().map(|s| s.lines()).map_err(|e| e.to_string()))
        });
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

    // ---------------------------------------------------------------- input → Action

    /// Folds one message into the state; returns whether the screen must be redrawn.
    pub fn handle_msg(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Term(Event::Key(k)) => {
                if k.kind == KeyEventKind::Release {
                    return false;
                }
                if let Some(a) = self.key_to_action(&k) {
                    self.update(a);
                }
                true
            }
            Msg::Term(Event::Mouse(m)) => match m.kind {
                MouseEventKind::ScrollUp => {
                    self.update(Action::ScrollLines(-3));
                    true
                }
                MouseEventKind::ScrollDown => {
                    self.update(Action::ScrollLines(3));
                    true
                }
                _ => false,
            },
            Msg::Term(Event::Resize(..)) => true,
            Msg::Term(Event::Paste(s)) => {
                if self.prompt_active && self.overlays.is_empty() {
                    self.prompt.insert_str(s);
                    self.preview.due = Some(Instant::now() + DEBOUNCE);
                }
                true
            }
            Msg::Term(_) => false,
            other => {
                self.fold(other);
                true
            }
        }
    }

    /// Overlays first (top of the stack), then the prompt, then the focused pane's keymap.
    pub fn key_to_action(&mut self, k: &KeyEvent) -> Option<Action> {
        self.notice = None;
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Action::Quit);
        }
        let key = Key::from_event(k);
        if let Some(top) = self.overlays.last_mut() {
            let (close, action) = overlay_key(top, k);
            if close {
                self.overlays.pop();
            }
            return action;
        }
        if self.prompt_active && self.focus == Pane::Conversation {
            if let Some(a) = key
                .as_ref()
                .and_then(|key| self.keymap.lookup("prompt", key))
            {
                return Some(a);
            }
            // Esc then a key, arriving together (slow links, pasted input), reads as alt-key:
            // treat it as leaving the prompt and pressing that key.
            if let (KeyCode::Char(_), true) = (k.code, k.modifiers.contains(KeyModifiers::ALT)) {
                self.prompt_active = false;
                let plain = KeyEvent::new(k.code, k.modifiers - KeyModifiers::ALT);
                return Key::from_event(&plain)
                    .and_then(|key| self.keymap.lookup(self.focus.context(), &key));
            }
            if self.prompt.input(*k) {
                self.preview.due = Some(Instant::now() + DEBOUNCE);
            }
            return None;
        }
        key.and_then(|key| self.keymap.lookup(self.focus.context(), &key))
    }

    // ---------------------------------------------------------------- Action → state

    /// Applies an action. Never blocks: store and agent work is sent to background tasks.
    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => {
                if let Some(run) = &self.apply {
                    // Leaving must not orphan a terraform process.
                    let _ = run.cancel.send(true);
                }
                self.should_quit = true;
            }
            Action::FocusNext => self.focus_pane(Pane::from_index(self.focus.index() + 1)),
            Action::FocusPrev => self.focus_pane(Pane::from_index(self.focus.index() + 4)),
            Action::FocusConversation => self.focus_pane(Pane::Conversation),
            Action::FocusPreview => self.focus_pane(Pane::Preview),
            Action::FocusDiff => self.focus_pane(Pane::Diff),
            Action::FocusApprovals => self.focus_pane(Pane::Approvals),
            Action::FocusAudit => self.focus_pane(Pane::Audit),
            Action::EnterPrompt => {
                self.focus = Pane::Conversation;
                self.prompt_active = true;
            }
            Action::LeavePrompt => self.prompt_active = false,
            Action::Back => {
                if !self.overlays.is_empty() {
                    self.overlays.pop();
                } else if self.focus == Pane::Diff {
                    let to = self.diff.from.take().unwrap_or(Pane::Approvals);
                    self.focus_pane(to);
                } else if self.focus == Pane::Audit && !self.audit.filter.is_empty() {
                    self.set_filter(Pane::Audit, String::new());
                } else if self.focus == Pane::Approvals && !self.approvals.filter.is_empty() {
                    self.set_filter(Pane::Approvals, String::new());
                }
            }
            Action::CommandMode => self.overlays.push(Overlay::Command(LineInput::default())),
            Action::FilterMode => {
                let before = match self.focus {
                    Pane::Approvals => self.approvals.filter.clone(),
                    Pane::Audit => self.audit.filter.clone(),
                    Pane::Diff => self.diff.search.clone(),
                    _ => {
                        self.notice(
                            NoticeLevel::Info,
                            "/ filters the approvals and audit lists and searches the diff",
                        );
                        return;
                    }
                };
                self.overlays.push(Overlay::Filter {
                    pane: self.focus,
                    input: LineInput {
                        text: before.clone(),
                    },
                    before,
                });
            }
            Action::Help => self.overlays.push(Overlay::Help { scroll: 0 }),
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-20),
            Action::PageDown => self.scroll(20),
            Action::ScrollLines(n) => {
                if let Some(Overlay::Help { scroll } | Overlay::Detail { scroll, .. }) =
                    self.overlays.last_mut()
                {
                    *scroll = (*scroll as i32 + n).max(0) as u16;
                } else {
                    self.scroll(n);
                }
            }
            Action::Top => self.scroll(i32::MIN / 2),
            Action::Bottom => self.scroll(i32::MAX / 2),
            Action::Left => self.diff.hscroll = self.diff.hscroll.saturating_sub(8),
            Action::Right => self.diff.hscroll += 8,
            Action::Open => self.open_selected(),
            Action::NextHunk => self.jump(true),
            Action::PrevHunk => self.jump(false),
            Action::ToggleDiffMode => {
                let row = self.diff_row_at_scroll();
                self.diff.side_by_side = !self.diff.side_by_side;
                self.diff_scroll_to_row(row);
            }
            Action::NextFile => {
                if let Some(doc) = self.diff.doc.clone() {
                    let cur = self.diff_row_at_scroll();
                    let next = doc
                        .files
                        .iter()
                        .copied()
                        .find(|f| *f > cur)
                        .or(doc.files.first().copied());
                    if let Some(r) = next {
                        self.diff_scroll_to_row(r);
                    }
                }
            }
            Action::Approve => self.ask_confirm(ConfirmKind::Approve),
            Action::Reject => self.ask_confirm(ConfirmKind::Reject),
            Action::BreakGlass => self.ask_confirm(ConfirmKind::BreakGlass),
            Action::Apply => self.ask_confirm(ConfirmKind::Apply),
            Action::CancelApply => match &self.apply {
                Some(run) => {
                    let _ = run.cancel.send(true);
                    self.say(
                        Meaning::Progress,
                        format!("cancelling apply of {}…", run.plan_id),
                    );
                }
                None => self.notice(NoticeLevel::Info, "nothing is being applied"),
            },
            Action::Refresh => {
                self.poll_plans();
                self.load_audit();
                self.notice(NoticeLevel::Info, "refreshing");
            }
            Action::ExportJson => self.export(crate::audit::export::Format::Json),
            Action::ExportCsv => self.export(crate::audit::export::Format::Csv),
            Action::Verify => self.verify(true),
            Action::ClearFilter => self.set_filter(self.focus, String::new()),
            Action::HistoryPrev => self.history_step(-1),
            Action::HistoryNext => self.history_step(1),
            Action::Newline => self.prompt.insert_newline(),
            Action::SubmitPrompt => {
                let text = self.prompt_text();
                if !text.trim().is_empty() {
                    self.update(Action::Submit(text));
                }
            }
            Action::Submit(text) => self.submit(text),
            Action::Command(cmd) => self.command(&cmd),
            Action::SetFilter(f) => self.set_filter(self.focus, f),
            Action::SetTheme(name) => self.set_theme(&name),
            Action::SwitchTenant(name) => self.switch_tenant(name),
            Action::ConfirmApprove {
                plan_id,
                totp,
                comment,
                break_glass,
            } => {
                let deck = self.deck.clone();
                let id = plan_id.clone();
                self.spawn_blocking(format!("approving {plan_id}"), false, move |_job| {
                    Msg::Approved {
                        result: deck
                            .approvals()
                            .approve(&id, comment, Some(&totp), break_glass)
                            .map(Box::new)
                            .map_err(|e| e.to_string()),
                        plan_id: id,
                    }
                });
            }
            Action::ConfirmReject {
                plan_id,
                reason,
                totp,
            } => {
                let deck = self.deck.clone();
                let id = plan_id.clone();
                self.spawn_blocking(format!("rejecting {plan_id}"), false, move |_job| {
                    Msg::Rejected {
                        result: deck
                            .approvals()
                            .reject(&id, &reason, Some(&totp))
                            .map(Box::new)
                            .map_err(|e| e.to_string()),
                        plan_id: id,
                    }
                });
            }
            Action::ConfirmApply { plan_id } => self.start_apply(plan_id),
        }
    }

    fn focus_pane(&mut self, p: Pane) {
        self.focus = p;
        self.prompt_active = p == Pane::Conversation && self.prompt_active;
        if p == Pane::Audit && !self.audit.loaded && !self.audit.loading {
            self.load_audit();
        }
        if p == Pane::Diff && self.diff.doc.is_none() && self.diff.loading.is_none() {
            // Show the plan in the preview, else the selected queued plan.
            let id = self
                .preview
                .plan
                .as_ref()
                .filter(|r| !r.plan.artifacts.is_empty())
                .or(self.approvals.selected_plan())
                .map(|r| r.plan.plan_id.clone());
            if let Some(id) = id {
                self.open_diff(id, None);
            }
        }
    }

    fn notice(&mut self, level: NoticeLevel, text: impl Into<String>) {
        self.notice = Some((level, text.into()));
    }

    pub fn say(&mut self, m: Meaning, text: impl Into<String>) {
        self.transcript.push(TLine::plain(m, text));
    }

    fn history_step(&mut self, dir: i32) {
        if self.prompt.lines().len() > 1 {
            // Multi-line input: arrows move the cursor, as in any editor.
            self.prompt.move_cursor(if dir < 0 {
                ratatui_textarea::CursorMove::Up
            } else {
                ratatui_textarea::CursorMove::Down
            });
            return;
        }
        if self.history.is_empty() {
            return;
        }
        let pos = match (self.history_pos, dir < 0) {
            (None, true) => Some(self.history.len() - 1),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p + 1 < self.history.len() => Some(p + 1),
            (Some(_), false) => None,
        };
        self.history_pos = pos;
        let text = pos.map(|p| self.history[p].clone()).unwrap_or_default();
        self.set_prompt(&text);
        self.preview.due = Some(Instant::now() + DEBOUNCE);
    }

    fn set_prompt(&mut self, text: &str) {
        self.prompt = TextArea::new(text.lines().map(str::to_string).collect());
        self.prompt
            .move_cursor(ratatui_textarea::CursorMove::Bottom);
        self.prompt.move_cursor(ratatui_textarea::CursorMove::End);
        self.style_prompt();
    }

    fn submit(&mut self, text: String) {
        let text = text.trim().to_string();
        // A request holding a credential goes nowhere: the prompt keeps it to edit, and neither
        // the history nor the transcript gets a copy.
        if let Err(e) = self.deck.requests().refuse_credentials(&text) {
            self.say(Meaning::Error, format!("✗ {e}"));
            self.preview.live = Some(Err(e.to_string()));
            self.preview.due = None;
            return;
        }
        if self.history.last() != Some(&text) {
            self.history.push(text.clone());
        }
        self.history_pos = None;
        self.set_prompt("");
        self.transcript.scroll = 0;
        for (i, l) in text.lines().enumerate() {
            self.transcript.push(TLine {
                segments: vec![
                    (
                        Meaning::Prompt,
                        if i == 0 { "› " } else { "  " }.to_string(),
                    ),
                    (Meaning::Request, l.to_string()),
                ],
            });
        }
        self.preview.live = Some(
            self.deck
                .requests()
                .preview(&text, self.last_intent.as_ref())
                .map_err(|e| e.to_string()),
        );
        self.preview.due = None;
        self.preview.plan = None;
        self.preview.planning = Some(text.clone());
        let deck = self.deck.clone();
        let tx = self.tx.clone();
        let label = format!("planning: {}", super::text::fit(&text, 40));
        self.spawn_blocking(label, true, move |job| {
            let sink = move |e: AgentEvent| {
                let _ = tx.send(Msg::Agent { job, event: e });
            };
            let result = deck
                .requests()
                .request(&text, &sink)
                .map_err(|e| e.to_string())
                .map(|answer| match answer {
                    crate::pipeline::Answer::Plan(rec) => {
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
                    crate::pipeline::Answer::Report(r) => AskResult::Report(r),
                });
            Msg::AskDone { job, result }
        });
    }

    fn command(&mut self, cmd: &str) {
        use super::commands::Command;
        let command = match super::commands::parse(cmd) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => return self.notice(NoticeLevel::Error, e),
        };
        match command {
            Command::Quit => self.update(Action::Quit),
            Command::Focus(pane) => self.focus_pane(pane),
            Command::Prompt => self.update(Action::EnterPrompt),
            Command::Help => self.update(Action::Help),
            Command::Refresh => self.update(Action::Refresh),
            Command::Cancel => self.update(Action::CancelApply),
            Command::Verify => self.update(Action::Verify),
            Command::Init => self.init_tenant(),
            Command::Export(arg) => match arg.as_deref() {
                Some("csv") => self.update(Action::ExportCsv),
                None | Some("json") => self.update(Action::ExportJson),
                Some(other) => {
                    self.notice(NoticeLevel::Error, format!(":export {other}: use json or csv"))
                }
            },
            Command::Theme(None) => self.notice(
                NoticeLevel::Info,
                format!("theme {} (built in: dark, light, high-contrast)", self.theme.name),
            ),
            Command::Theme(Some(name)) => self.update(Action::SetTheme(name)),
            Command::Tenant(None) => self.notice(
                NoticeLevel::Info,
                format!("tenant {}; :tenant NAME switches", self.deck.tenant().name),
            ),
            Command::Tenant(Some(name)) => self.update(Action::SwitchTenant(name)),
            Command::Config(None) => self.notice(
                NoticeLevel::Info,
                match self.deck.aws_configuration() {
                    Some(c) => format!(
                        "AWS configuration {} (account {}, {}); :config NAME switches, :config none uses the base credentials",
                        c.name,
                        c.account(),
                        c.role_arn
                    ),
                    None => "no AWS configuration (base credentials); :config NAME selects one".into(),
                },
            ),
            Command::Config(Some(name)) => self.switch_config(name),
        }
    }

    fn set_theme(&mut self, name: &str) {
        match Theme::load(name, self.config_dir.as_deref(), self.theme.no_color) {
            Ok(t) => {
                let resyntax = t.syntax_theme != self.theme.syntax_theme;
                self.theme = t;
                self.style_prompt();
                if resyntax && let Some(r) = self.diff.plan.as_ref() {
                    let id = r.plan.plan_id.clone();
                    self.open_diff(id, self.diff.from);
                }
                self.notice(NoticeLevel::Success, format!("theme {name}"));
            }
            Err(e) => self.notice(NoticeLevel::Error, e.to_string()),
        }
    }

    fn switch_tenant(&mut self, name: String) {
        let Some(reopen) = self.reopen.clone() else {
            self.notice(
                NoticeLevel::Error,
                "switching tenants is not available here",
            );
            return;
        };
        self.spawn_blocking(format!("opening tenant {name}"), false, move |_| {
            Msg::TenantSwitched(reopen(&name).map(Arc::new).map_err(|e| e.to_string()))
        });
    }

    /// Selects the AWS configuration the user acts through (audited, kept for next time) and
    /// reopens the tenant with it.
    fn switch_config(&mut self, name: String) {
        let Some(reopen) = self.reopen.clone() else {
            self.notice(
                NoticeLevel::Error,
                "switching configurations is not available here",
            );
            return;
        };
        let deck = self.deck.clone();
        self.spawn_blocking(
            format!("selecting configuration {name}"),
            false,
            move |_| {
                let chosen = (name != "none").then_some(name.as_str());
                Msg::TenantSwitched(
                    deck.select_config(chosen)
                        .and_then(|_| reopen(&deck.tenant().name))
                        .map(Arc::new)
                        .map_err(|e| e.to_string()),
                )
            },
        );
    }

    fn set_filter(&mut self, pane: Pane, f: String) {
        match pane {
            Pane::Approvals => {
                self.approvals.filter = f;
                self.approvals.selected = 0;
            }
            Pane::Audit => {
                self.audit.filter = f;
                self.refilter_audit();
            }
            Pane::Diff => {
                self.diff.search = f;
                self.diff.matches = self
                    .diff
                    .doc
                    .as_ref()
                    .map(|d| d.find(&self.diff.search))
                    .unwrap_or_default();
                if let Some(first) = self.diff.matches.first().copied() {
                    self.diff_scroll_to_row(first);
                }
            }
            _ => {}
        }
    }

    fn refilter_audit(&mut self) {
        match AuditQuery::parse(&self.audit.filter, self.deck.clock()) {
            Ok(q) => {
                self.audit.filter_error = None;
                self.audit.filtered = (0..self.audit.rows.len())
                    .rev()
                    .filter(|i| q.matches(&self.audit.rows[*i].fields()))
                    .collect();
            }
            Err(e) => self.audit.filter_error = Some(e.to_string()),
        }
        self.audit.selected = self
            .audit
            .selected
            .min(self.audit.filtered.len().saturating_sub(1));
    }

    fn scroll(&mut self, n: i32) {
        let clamp = |v: usize, n: i32, max: usize| -> usize {
            (v as i64 + n as i64).clamp(0, max as i64) as usize
        };
        match self.focus {
            Pane::Conversation => {
                // Scrolling is counted from the bottom: up means further back.
                let max = self.transcript.lines.len() * 4;
                self.transcript.scroll = clamp(self.transcript.scroll, -n, max);
            }
            Pane::Preview => {
                self.preview.scroll = clamp(self.preview.scroll as usize, n, 500) as u16;
            }
            Pane::Diff => {
                let len = self
                    .diff
                    .doc
                    .as_ref()
                    .map(|d| {
                        if self.diff.side_by_side {
                            d.pairs.len()
                        } else {
                            d.rows.len()
                        }
                    })
                    .unwrap_or(0);
                self.diff.scroll = clamp(self.diff.scroll, n, len.saturating_sub(1));
            }
            Pane::Approvals => {
                let len = self.approvals.visible().len();
                self.approvals.selected = clamp(self.approvals.selected, n, len.saturating_sub(1));
            }
            Pane::Audit => {
                let len = self.audit.filtered.len();
                self.audit.selected = clamp(self.audit.selected, n, len.saturating_sub(1));
            }
        }
    }

    fn diff_row_at_scroll(&self) -> usize {
        match &self.diff.doc {
            Some(d) if self.diff.side_by_side => d
                .pairs
                .get(self.diff.scroll)
                .and_then(|(l, r)| l.or(*r))
                .unwrap_or(0),
            _ => self.diff.scroll,
        }
    }

    fn diff_scroll_to_row(&mut self, row: usize) {
        self.diff.scroll = match &self.diff.doc {
            Some(d) if self.diff.side_by_side => d.pair_of(row),
            _ => row,
        };
    }

    /// `n`/`N`: next match while a search is active, else next hunk.
    fn jump(&mut self, forward: bool) {
        let Some(doc) = self.diff.doc.clone() else {
            return;
        };
        let cur = self.diff_row_at_scroll();
        let targets: &[usize] = if self.diff.search.is_empty() {
            &doc.hunks
        } else {
            &self.diff.matches
        };
        let next = if forward {
            targets.iter().copied().find(|r| *r > cur)
        } else {
            targets.iter().rev().copied().find(|r| *r < cur)
        };
        match next {
            Some(r) => self.diff_scroll_to_row(r),
            None => self.notice(
                NoticeLevel::Info,
                if forward {
                    "no more below"
                } else {
                    "no more above"
                },
            ),
        }
    }

    fn open_selected(&mut self) {
        match self.focus {
            Pane::Approvals => {
                if let Some(id) = self
                    .approvals
                    .selected_plan()
                    .map(|r| r.plan.plan_id.clone())
                {
                    self.open_diff(id, Some(Pane::Approvals));
                }
            }
            Pane::Preview => {
                if let Some(id) = self.preview.plan.as_ref().map(|r| r.plan.plan_id.clone()) {
                    self.open_diff(id, Some(Pane::Preview));
                }
            }
            Pane::Audit => self.open_audit_detail(),
            _ => {}
        }
    }

    pub fn open_diff(&mut self, plan_id: String, from: Option<Pane>) {
        self.diff.from = from;
        self.diff.loading = Some(plan_id.clone());
        self.diff.error = None;
        self.focus = Pane::Diff;
        self.prompt_active = false;
        let deck = self.deck.clone();
        let hl = self.highlighter.clone();
        let theme = (!self.theme.no_color).then(|| self.theme.syntax_theme.clone());
        self.spawn_blocking(format!("diff {plan_id}"), false, move |_| {
            let result = jobs::load_diff(&deck, &plan_id, &hl, theme.as_deref());
            Msg::DiffReady { plan_id, result }
        });
    }

    fn open_audit_detail(&mut self) {
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
        self.spawn_blocking(format!("audit #{seq}"), false, move |_| {
            Msg::AuditDetail(jobs::audit_detail(&deck, seq).map(|r| (r, before)))
        });
    }

    fn target_plan(&self) -> Option<PlanRecord> {
        match self.focus {
            Pane::Approvals => self.approvals.selected_plan().cloned(),
            Pane::Diff => self.diff.plan.clone(),
            _ => self.preview.plan.clone(),
        }
    }

    fn ask_confirm(&mut self, kind: ConfirmKind) {
        let Some(rec) = self.target_plan() else {
            self.notice(NoticeLevel::Info, "no plan selected");
            return;
        };
        let me = &self.deck.identity().user;
        let id = &rec.plan.plan_id;
        let refuse = match kind {
            ConfirmKind::Approve | ConfirmKind::BreakGlass if rec.plan.requester == *me => {
                Some(format!(
                    "{id} is your own request: another person must approve it (no self-approval)"
                ))
            }
            ConfirmKind::BreakGlass if !self.deck.tenant().approvals.break_glass => Some(format!(
                "break-glass is disabled for tenant {}",
                self.deck.tenant().name
            )),
            ConfirmKind::BreakGlass if rec.state != State::Pending => Some(format!(
                "{id} is {}: only pending plans can be approved",
                rec.state.as_str()
            )),
            ConfirmKind::Approve | ConfirmKind::Reject
                if !matches!(rec.state, State::Pending | State::Approved) =>
            {
                Some(format!(
                    "{id} is {} and cannot be decided any more",
                    rec.state.as_str()
                ))
            }
            ConfirmKind::Approve if rec.state == State::Approved => {
                Some(format!("{id} is already approved"))
            }
            ConfirmKind::Apply if rec.state != State::Approved => Some(format!(
                "{id} is {}: only approved plans can be applied",
                rec.state.as_str()
            )),
            ConfirmKind::Apply if self.apply.is_some() => {
                Some("an apply is already running (C cancels it)".to_string())
            }
            _ => None,
        };
        if let Some(why) = refuse {
            self.notice(NoticeLevel::Error, why);
            return;
        }
        self.overlays.push(Overlay::Confirm(Confirm {
            kind,
            plan: Box::new(rec),
            reason: LineInput::default(),
            totp: LineInput::default(),
            field: if matches!(kind, ConfirmKind::Reject | ConfirmKind::BreakGlass) {
                0
            } else {
                1
            },
            busy: false,
            error: None,
        }));
    }

    fn start_apply(&mut self, plan_id: String) {
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
            let result = handle
                .block_on(deck.runs().apply(&id, &sink, cancel_rx))
                .map_err(|e| e.to_string());
            Msg::ApplyDone { job, result }
        });
        self.apply = Some(ApplyRun {
            job,
            plan_id,
            cancel,
        });
    }

    fn export(&mut self, format: crate::audit::export::Format) {
        let q = match AuditQuery::parse(&self.audit.filter, self.deck.clock()) {
            Ok(q) => q,
            Err(e) => {
                self.notice(NoticeLevel::Error, e.to_string());
                return;
            }
        };
        let deck = self.deck.clone();
        self.spawn_blocking("exporting audit".into(), false, move |_| {
            Msg::Exported(jobs::export(&deck, &q, format))
        });
    }

    fn verify(&mut self, full: bool) {
        let deck = self.deck.clone();
        self.spawn_blocking("verifying chain".into(), false, move |_| {
            Msg::Verified(deck.trail().verify(full).map_err(|e| e.to_string()))
        });
    }

    pub fn poll_plans(&mut self) {
        if self.poll_in_flight {
            return;
        }
        self.poll_in_flight = true;
        self.next_poll = Instant::now() + POLL_EVERY;
        let deck = self.deck.clone();
        self.spawn_blocking("refresh".into(), false, move |_| {
            // The shared backend: flush audit events queued during an outage once it is back.
            let h = deck.backend_health();
            if h.queued > 0 || !h.reachable {
                let _ = deck.sync_backend();
            }
            Msg::Plans(deck.approvals().plans(None).map_err(|e| e.to_string()))
        });
    }

    pub fn load_audit(&mut self) {
        self.audit.loading = true;
        let deck = self.deck.clone();
        self.spawn_blocking("loading audit".into(), false, move |_| {
            Msg::AuditLoaded(jobs::audit_rows(&deck))
        });
        self.verify(false);
    }

    /// Runs `f` on the blocking pool; its message (and then `JobEnded`) comes back on the channel.
    fn spawn_blocking(
        &mut self,
        label: String,
        agent: bool,
        f: impl FnOnce(u64) -> Msg + Send + 'static,
    ) -> u64 {
        let job = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            job,
            RunningJob {
                label,
                started: Instant::now(),
                agent,
            },
        );
        let tx = self.tx.clone();
        self.handle.spawn_blocking(move || {
            background_priority();
            let msg = f(job);
            let _ = tx.send(msg);
            let _ = tx.send(Msg::JobEnded(job));
        });
        job
    }

    // ---------------------------------------------------------------- results → state

    fn fold(&mut self, msg: Msg) {
        match msg {
            Msg::Term(_) => {}
            Msg::JobEnded(job) => {
                self.jobs.remove(&job);
            }
            Msg::Agent { event, .. } => match event {
                AgentEvent::Progress { agent, message } => {
                    self.say(Meaning::Progress, format!("· [{agent}] {message}"))
                }
                AgentEvent::Output { line, .. } => self.say(Meaning::Output, format!("  {line}")),
                AgentEvent::PlanReady { plan_id } => {
                    self.say(Meaning::Progress, format!("· plan {plan_id} ready"))
                }
                AgentEvent::Finished { plan_id, success } => self.say(
                    if success {
                        Meaning::Success
                    } else {
                        Meaning::Error
                    },
                    format!(
                        "· {plan_id} finished: {}",
                        if success { "success" } else { "failed" }
                    ),
                ),
                AgentEvent::Failed { agent, error } => {
                    self.say(Meaning::Error, format!("✗ [{agent}] {error}"))
                }
                AgentEvent::Result { agent, output } => {
                    for l in jobs::output_lines(agent, &output) {
                        self.transcript.push(l);
                    }
                }
            },
            Msg::AskDone { result, .. } => {
                self.preview.planning = None;
                // What the next follow-up ("now the same in eu-west-1") refines.
                match &result {
                    Ok(AskResult::Report(r)) => self.last_intent = Some(r.intent.clone()),
                    Ok(AskResult::Plan(rec, _)) => self.last_intent = Some(rec.plan.intent.clone()),
                    Err(_) => {}
                }
                match result {
                    Ok(AskResult::Report(r)) => {
                        for l in jobs::report_transcript(&r) {
                            self.transcript.push(l);
                        }
                        self.load_audit();
                    }
                    Ok(AskResult::Plan(rec, files)) => {
                        for l in
                            jobs::plan_transcript(&rec, &files, self.deck.identity().user.as_str())
                        {
                            self.transcript.push(l);
                        }
                        self.preview.plan = Some(*rec);
                        self.preview.scroll = 0;
                        self.poll_plans();
                        self.load_audit();
                    }
                    Err(e) => {
                        self.say(Meaning::Error, format!("✗ {e}"));
                        self.load_audit();
                    }
                }
            }
            Msg::Plans(r) => {
                self.poll_in_flight = false;
                self.next_poll = Instant::now() + POLL_EVERY;
                match r {
                    Ok(mut plans) => {
                        plans.retain(|p| {
                            matches!(p.state, State::Pending | State::Approved | State::Executing)
                        });
                        plans.sort_by(|a, b| {
                            b.plan
                                .created_at
                                .cmp(&a.plan.created_at)
                                .then_with(|| a.plan.plan_id.cmp(&b.plan.plan_id))
                        });
                        self.set_plans(plans);
                    }
                    Err(e) => self.approvals.error = Some(e),
                }
            }
            Msg::AuditLoaded(r) => {
                self.audit.loading = false;
                match r {
                    Ok(rows) => self.set_audit_rows(rows),
                    Err(e) => self.audit.error = Some(e),
                }
            }
            Msg::Verified(r) => self.audit.verify = Some(r),
            Msg::AuditDetail(r) => {
                if let Some(Overlay::Detail { lines, .. }) = self.overlays.last_mut() {
                    *lines = match r {
                        Ok((rec, before)) => jobs::detail_lines(&rec, before),
                        Err(e) => vec![format!("✗ {e}")],
                    };
                }
            }
            Msg::DiffReady { plan_id, result } => {
                if self.diff.loading.as_deref() != Some(plan_id.as_str()) {
                    return; // superseded: the latest request wins
                }
                self.diff.loading = None;
                match result {
                    Ok((rec, doc)) => {
                        self.diff.plan = Some(*rec);
                        self.diff.doc = Some(doc);
                        self.diff.scroll = 0;
                        self.diff.hscroll = 0;
                        let s = std::mem::take(&mut self.diff.search);
                        self.set_filter(Pane::Diff, s);
                    }
                    Err(e) => self.diff.error = Some(e),
                }
            }
            Msg::Approved { plan_id, result } => self.decided(plan_id, result, "approved"),
            Msg::Rejected { plan_id, result } => self.decided(plan_id, result, "rejected"),
            Msg::ApplyDone { job, result } => {
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
                        if let Some(uri) = rep.log_uri {
                            self.say(Meaning::Muted, format!("  log: {uri}"));
                        }
                    }
                    Err(e) => self.say(Meaning::Error, format!("✗ apply: {e}")),
                }
                self.poll_plans();
                self.load_audit();
            }
            Msg::Said(r) => match r {
                Ok(lines) => {
                    for l in lines {
                        self.say(Meaning::Text, l);
                    }
                }
                Err(e) => self.say(Meaning::Error, format!("✗ {e}")),
            },
            Msg::Exported(r) => match r {
                Ok(p) => self.notice(NoticeLevel::Success, format!("exported to {}", p.display())),
                Err(e) => self.notice(NoticeLevel::Error, format!("export failed: {e}")),
            },
            Msg::TenantSwitched(r) => match r {
                Ok(deck) => {
                    let name = deck.tenant().name.clone();
                    self.deck = deck;
                    self.approvals = ApprovalsState::default();
                    self.audit = AuditState::default();
                    self.diff = DiffState::default();
                    self.preview = PreviewState::default();
                    self.say(Meaning::Progress, format!("· now acting in tenant {name}"));
                    self.load_intro();
                    self.notice(NoticeLevel::Success, format!("tenant {name}"));
                    self.start();
                }
                Err(e) => self.notice(NoticeLevel::Error, e),
            },
        }
    }

    fn decided(&mut self, plan_id: String, result: Result<Box<PlanRecord>, String>, what: &str) {
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
                        "✓ {plan_id} {what} by {} (now {state})",
                        self.deck.identity().user
                    ),
                );
                self.notice(NoticeLevel::Success, format!("{plan_id} {what}"));
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
                    self.notice(NoticeLevel::Error, e.clone());
                }
                self.say(Meaning::Error, format!("✗ {what} {plan_id}: {e}"));
                // A refusal is audited too.
                self.load_audit();
            }
        }
    }

    /// Replaces the queue; the selection follows the plan it was on.
    pub fn set_plans(&mut self, plans: Vec<PlanRecord>) {
        use std::hash::{Hash, Hasher};
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
    }

    pub fn set_audit_rows(&mut self, rows: Vec<AuditRow>) {
        let keep = self
            .audit
            .filtered
            .get(self.audit.selected)
            .and_then(|i| self.audit.rows.get(*i))
            .map(|r| r.seq);
        self.audit.rows = rows;
        self.audit.loaded = true;
        self.audit.error = None;
        self.refilter_audit();
        if let Some(seq) = keep
            && let Some(pos) = self
                .audit
                .filtered
                .iter()
                .position(|i| self.audit.rows[*i].seq == seq)
        {
            self.audit.selected = pos;
        }
    }

    // ---------------------------------------------------------------- timers

    /// When the loop must wake up even if nothing arrives (None: sleep until an event).
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d = Some(self.next_poll);
        if let Some(due) = self.preview.due {
            d = d.map(|x| x.min(due));
        }
        if self.agents_running() {
            d = d.map(|x| x.min(self.last_spin + SPIN_EVERY));
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
                // The offline parser alone takes microseconds: fine on this thread. The tenant's
                // model (network) reads the request only once it is submitted, in a job.
                Some(
                    self.deck
                        .requests()
                        .preview(&text, self.last_intent.as_ref())
                        .map_err(|e| e.to_string()),
                )
            };
            dirty = true;
        }
        if self.agents_running() && now >= self.last_spin + SPIN_EVERY {
            self.spinner = self.spinner.wrapping_add(1);
            self.last_spin = now;
            dirty = true;
        }
        if now >= self.next_poll {
            self.poll_plans();
        }
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

/// Keys for the top overlay, which consumes every key (helix-style layers). Returns whether
/// the overlay closes, and the action to apply after it has.
fn overlay_key(top: &mut Overlay, k: &KeyEvent) -> (bool, Option<Action>) {
    let keep = |a: Option<Action>| (false, a);
    match top {
        Overlay::Help { scroll } | Overlay::Detail { scroll, .. } => match k.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => (true, None),
            KeyCode::Down | KeyCode::Char('j') => {
                *scroll = scroll.saturating_add(1);
                keep(None)
            }
            KeyCode::Up | KeyCode::Char('k') => {
                *scroll = scroll.saturating_sub(1);
                keep(None)
            }
            KeyCode::PageDown => {
                *scroll = scroll.saturating_add(10);
                keep(None)
            }
            KeyCode::PageUp => {
                *scroll = scroll.saturating_sub(10);
                keep(None)
            }
            _ => keep(None),
        },
        Overlay::Command(input) => match k.code {
            KeyCode::Esc => (true, None),
            KeyCode::Enter => (true, Some(Action::Command(input.text.trim().to_string()))),
            _ => {
                input.key(k);
                keep(None)
            }
        },
        Overlay::Filter { input, before, .. } => match k.code {
            KeyCode::Esc => (true, Some(Action::SetFilter(before.clone()))),
            KeyCode::Enter => (true, None),
            _ => keep(input.key(k).then(|| Action::SetFilter(input.text.clone()))),
        },
        Overlay::Confirm(c) => {
            if c.busy {
                return keep(None);
            }
            confirm_key(c, k)
        }
    }
}

fn confirm_key(c: &mut Confirm, k: &KeyEvent) -> (bool, Option<Action>) {
    match k.code {
        KeyCode::Esc => (true, None),
        KeyCode::Tab | KeyCode::BackTab
            if matches!(c.kind, ConfirmKind::Reject | ConfirmKind::BreakGlass) =>
        {
            c.field = 1 - c.field;
            (false, None)
        }
        KeyCode::Enter => {
            let id = c.plan.plan.plan_id.clone();
            let a = match c.kind {
                ConfirmKind::Apply => {
                    return (true, Some(Action::ConfirmApply { plan_id: id }));
                }
                ConfirmKind::Reject | ConfirmKind::BreakGlass
                    if c.reason.text.trim().is_empty() =>
                {
                    c.error = Some(if c.kind == ConfirmKind::Reject {
                        "a reason is required to reject".into()
                    } else {
                        "breaking glass needs a reason (it is flagged in the audit trail)".into()
                    });
                    c.field = 0;
                    None
                }
                ConfirmKind::Reject | ConfirmKind::BreakGlass if c.field == 0 => {
                    c.field = 1;
                    None
                }
                _ if c.totp.text.len() != 6 => {
                    c.error = Some("type the 6-digit code from your authenticator".into());
                    None
                }
                ConfirmKind::Approve => {
                    c.busy = true;
                    c.error = None;
                    Some(Action::ConfirmApprove {
                        plan_id: id,
                        totp: c.totp.text.clone(),
                        comment: None,
                        break_glass: None,
                    })
                }
                ConfirmKind::BreakGlass => {
                    c.busy = true;
                    c.error = None;
                    Some(Action::ConfirmApprove {
                        plan_id: id,
                        totp: c.totp.text.clone(),
                        comment: None,
                        break_glass: Some(c.reason.text.clone()),
                    })
                }
                ConfirmKind::Reject => {
                    c.busy = true;
                    c.error = None;
                    Some(Action::ConfirmReject {
                        plan_id: id,
                        reason: c.reason.text.clone(),
                        totp: c.totp.text.clone(),
                    })
                }
            };
            (false, a)
        }
        _ => {
            if c.field == 0 {
                c.reason.key(k);
            } else if let KeyCode::Char(ch) = k.code {
                if ch.is_ascii_digit() && c.totp.text.len() < 6 {
                    c.totp.text.push(ch);
                }
            } else if k.code == KeyCode::Backspace {
                c.totp.text.pop();
            }
            (false, None)
        }
    }
}
