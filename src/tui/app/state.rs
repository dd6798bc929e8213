//! What the console holds, pane by pane, and the overlays over them: plain data that
//! [`super::App::update`] and the message fold change and `ui`/`components` draw. Nothing here
//! does I/O or knows about the channel.

use std::sync::Arc;
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::watch;

use super::audit_row::AuditRow;
use crate::approval::PlanRecord;
use crate::audit::VerifyReport;
use crate::intent::Intent;
use crate::tui::action::Pane;
use crate::tui::diff::DiffDoc;
use crate::tui::errors::SharedError;
use crate::tui::theme::Meaning;

/// The transcript keeps this many lines; older ones scroll away for good.
const TRANSCRIPT_MAX: usize = 10_000;

/// One line of the transcript, as styled segments.
#[derive(Debug, Clone, PartialEq)]
pub struct TLine {
    pub segments: Vec<(Meaning, String)>,
    /// A result table's row: laid out by the pane at its width (the widest columns shrink,
    /// cut visibly) instead of wrapping; `segments` hold the same row as plain aligned text.
    pub table: Option<TableRow>,
}

/// One row of a result table with the needs of its columns (shared by the table's rows).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub cells: Vec<String>,
    /// The table's column headings (shared by its rows): what a row's quick actions read.
    pub columns: Arc<[String]>,
    pub cols: Arc<[crate::tui::text::Col]>,
    pub header: bool,
}

impl TLine {
    pub fn plain(m: Meaning, text: impl Into<String>) -> TLine {
        TLine {
            segments: vec![(m, text.into())],
            table: None,
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
    /// How far up the transcript can scroll at the width it was last drawn: written by the
    /// drawing, read by the keys so scrolling stops at the oldest row.
    pub max_scroll: std::sync::atomic::AtomicUsize,
    /// The size (width, height in cells) the transcript was last drawn at: written by the
    /// drawing, read by the keys so a selected row can be scrolled into view.
    pub drawn_width: std::sync::atomic::AtomicUsize,
    pub drawn_height: std::sync::atomic::AtomicUsize,
    /// The table row selected for its quick actions (an index into `lines`).
    pub selected: Option<usize>,
}

impl Transcript {
    pub fn push(&mut self, l: TLine) {
        self.lines.push(l);
        if self.lines.len() > TRANSCRIPT_MAX {
            let gone = self.lines.len() - TRANSCRIPT_MAX;
            self.lines.drain(..gone);
            self.selected = self.selected.and_then(|i| i.checked_sub(gone));
        }
    }
}

#[derive(Debug, Default)]
pub struct PreviewState {
    /// How what is typed now reads to the offline parser.
    pub live: Option<Result<Intent, SharedError>>,
    /// The tenant's past requests closest to what is typed (from the index in memory).
    pub similar: Vec<crate::knowledge::Similar>,
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
    pub error: Option<SharedError>,
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
    /// Failed, cancelled, rejected and expired plans, the latest change first: still findable,
    /// to re-plan.
    pub closed: Vec<PlanRecord>,
    /// Whether the queue lists the closed plans instead of the open ones.
    pub show_closed: bool,
    /// This user's plans as last read, to tell them what changed.
    pub(super) mine: std::collections::HashMap<String, PlanRecord>,
    /// Plans this console applied: their runs already report in the conversation.
    pub(super) applied_here: std::collections::HashSet<String>,
    pub filter: String,
    pub selected: usize,
    pub loaded: bool,
    pub error: Option<SharedError>,
    /// What the queue looked like at the last load, to notice others' changes.
    pub(super) fingerprint: u64,
}

impl ApprovalsState {
    pub fn visible(&self) -> Vec<&PlanRecord> {
        let f = self.filter.to_lowercase();
        let listed = if self.show_closed {
            &self.closed
        } else {
            &self.plans
        };
        listed
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

    /// A plan the last read listed, open or closed.
    pub fn find(&self, id: &str) -> Option<&PlanRecord> {
        self.plans
            .iter()
            .chain(&self.closed)
            .find(|r| r.plan.plan_id == id)
    }
}

#[derive(Debug, Default)]
pub struct AuditState {
    pub rows: Vec<AuditRow>,
    /// Indexes into `rows` matching the filter, newest first.
    pub filtered: Vec<usize>,
    pub filter: String,
    pub filter_error: Option<SharedError>,
    pub selected: usize,
    pub loaded: bool,
    pub loading: bool,
    pub error: Option<SharedError>,
    pub verify: Option<Result<VerifyReport, SharedError>>,
    /// Rows that arrived above the view since the selection was last at the top.
    pub new_above: usize,
}

/// The Reports pane: each report's latest stored run and built report, the last build's
/// error, and the latest drift check of each stack.
#[derive(Debug, Default)]
pub struct ReportsState {
    /// The latest stored run per report (read from the trail when the pane first opens).
    pub runs: std::collections::HashMap<crate::reports::ReportName, crate::pipeline::StoredRun>,
    /// The report each latest run holds, as built.
    pub docs: std::collections::HashMap<crate::reports::ReportName, crate::reports::ReportDoc>,
    /// Why the last build of a report failed (cleared when one succeeds).
    pub errors: std::collections::HashMap<crate::reports::ReportName, SharedError>,
    /// Reports being built now.
    pub building: std::collections::HashSet<crate::reports::ReportName>,
    pub drift: Vec<crate::pipeline::StackDriftStatus>,
    /// The selected report, by its place in [`crate::reports::ReportName::ALL`].
    pub selected: usize,
    /// Rows of the selected report's outputs scrolled past.
    pub scroll: usize,
    /// Whether the selected report shows what changed since last week instead of itself.
    pub comparing: bool,
    /// The comparison for the report named, once it arrived.
    pub comparison: Option<(
        crate::reports::ReportName,
        Result<crate::pipeline::ReportComparison, SharedError>,
    )>,
    pub loaded: bool,
    pub loading: bool,
    pub error: Option<SharedError>,
    /// When the reports are next built again in the background (after the first open).
    pub next_refresh: Option<Instant>,
}

impl ReportsState {
    pub fn selected_name(&self) -> crate::reports::ReportName {
        crate::reports::ReportName::ALL
            [self.selected.min(crate::reports::ReportName::ALL.len() - 1)]
    }
}

/// The Library pane: the tenant's entries and the built-in templates, filtered by `/` as
/// `library search` does, and the entry opened with Enter (every version with its manifest).
#[derive(Debug, Default)]
pub struct LibraryState {
    pub entries: Vec<crate::pipeline::EntryOverview>,
    pub builtin: Vec<crate::view::library::BuiltinRowView>,
    /// Search words: an entry shows when every word is in its name, description, tags or kind.
    pub filter: String,
    /// Index into [`LibraryState::visible`].
    pub selected: usize,
    pub open: Option<OpenEntry>,
    pub loaded: bool,
    pub loading: bool,
    pub error: Option<SharedError>,
}

/// An entry opened in the Library pane.
#[derive(Debug)]
pub struct OpenEntry {
    pub name: String,
    /// Every version, oldest first; None while they are read.
    pub versions: Option<Result<Vec<crate::library::VersionDetail>, SharedError>>,
    /// Index into the versions.
    pub selected: usize,
    /// Versions marked for comparison (numbers, at most two, in the order marked).
    pub marked: Vec<u32>,
    /// Rows of the selected version's account scrolled past.
    pub scroll: usize,
}

impl OpenEntry {
    pub fn versions(&self) -> &[crate::library::VersionDetail] {
        match &self.versions {
            Some(Ok(v)) => v,
            _ => &[],
        }
    }

    pub fn selected_version(&self) -> Option<&crate::library::VersionDetail> {
        self.versions().get(self.selected)
    }
}

impl LibraryState {
    /// The entries the filter lets through, by name.
    pub fn visible(&self) -> Vec<&crate::pipeline::EntryOverview> {
        self.entries
            .iter()
            .filter(|e| crate::library::matches(&e.summary, &self.filter))
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&crate::pipeline::EntryOverview> {
        self.visible().get(self.selected).copied()
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

/// The decision an overlay confirms: the approval rules' own [`crate::approval::Decision`].
pub type ConfirmKind = crate::approval::Decision;

#[derive(Debug, Clone)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub plan: Box<PlanRecord>,
    pub reason: LineInput,
    pub totp: LineInput,
    /// 0 = reason (reject only), 1 = TOTP code.
    pub field: usize,
    pub busy: bool,
    pub error: Option<SharedError>,
    /// Who the apply will act as and where, asked of AWS when the overlay opens (approve and
    /// apply); None while it is on its way (an apply's Enter waits for it).
    pub receipt: Option<Result<crate::view::ReceiptView, SharedError>>,
}

/// A change understood with low confidence: the readings to pick from before anything is
/// planned (what `ask --confirm-reading N` picks on the command line).
#[derive(Debug, Clone)]
pub struct ReadingPick {
    /// The request's words, sent again with the pick.
    pub text: String,
    pub choice: crate::view::reading::ReadingChoiceView,
    /// Index into `choice.rows`.
    pub selected: usize,
}

/// The quick actions of the selected table row, to pick one for the prompt.
#[derive(Debug, Clone)]
pub struct RowActions {
    pub actions: Vec<crate::view::quick_action::QuickAction>,
    pub selected: usize,
}

#[derive(Debug, Clone)]
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
    Readings(ReadingPick),
    RowActions(RowActions),
    Detail {
        title: String,
        lines: Vec<String>,
        scroll: u16,
    },
}

/// The status line's message until the next key: what happened, or what went wrong.
#[derive(Debug, Clone)]
pub enum Notice {
    Info(String),
    Success(String),
    /// Bad news that is not an error of this console's (a plan of yours was rejected, failed).
    Bad(String),
    Failed(SharedError),
}

impl Notice {
    /// The words shown, without colour (tests, logs).
    pub fn text(&self) -> String {
        match self {
            Notice::Info(t) | Notice::Success(t) | Notice::Bad(t) => t.clone(),
            Notice::Failed(e) => crate::tui::errors::line("", e).1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunningJob {
    pub label: String,
    pub started: Instant,
    /// Agents (ask, apply) show in the status bar with a spinner; housekeeping does not.
    pub agent: bool,
    /// The AWS call it waits for (`ec2 DescribeInstances`) and since when, as the core said.
    pub waiting: Option<(String, Instant)>,
}

impl RunningJob {
    /// `ec2 DescribeInstances… 11 s · planning: list instances` (the call it waits for first,
    /// so a narrow status bar keeps it), or `planning: list instances · 3 s`.
    pub fn status(&self, now: Instant) -> String {
        if let Some((call, since)) = &self.waiting {
            let waited = now.saturating_duration_since(*since).as_secs();
            return format!("{call}… {waited} s · {}", self.label);
        }
        match now.saturating_duration_since(self.started).as_secs() {
            0 => self.label.clone(),
            secs => format!("{} · {secs} s", self.label),
        }
    }
}

pub struct ApplyRun {
    pub job: u64,
    pub plan_id: String,
    pub cancel: watch::Sender<bool>,
}
