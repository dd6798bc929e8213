//! The one [`Action`] enum between input and state. Keys become actions through the keymap
//! (unit variants have serde names so `keymap.toml` can bind them); actions that carry data are
//! built by the prompt, the command line and the overlays.

use serde::Deserialize;

/// The panes, in the order of their number keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Conversation,
    Preview,
    Diff,
    Approvals,
    Audit,
    Reports,
    Library,
}

impl Pane {
    pub const ALL: [Pane; 7] = [
        Pane::Conversation,
        Pane::Preview,
        Pane::Diff,
        Pane::Approvals,
        Pane::Audit,
        Pane::Reports,
        Pane::Library,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Conversation => "Conversation",
            Pane::Preview => "Preview",
            Pane::Diff => "Diff",
            Pane::Approvals => "Approvals",
            Pane::Audit => "Audit",
            Pane::Reports => "Reports",
            Pane::Library => "Library",
        }
    }

    /// The keymap section whose bindings apply while this pane has focus.
    pub fn context(self) -> &'static str {
        match self {
            Pane::Conversation => "conversation",
            Pane::Preview => "preview",
            Pane::Diff => "diff",
            Pane::Approvals => "approvals",
            Pane::Audit => "audit",
            Pane::Reports => "reports",
            Pane::Library => "library",
        }
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn from_index(i: usize) -> Pane {
        Pane::ALL[i % Pane::ALL.len()]
    }
}

/// Everything that can change the console's state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    FocusNext,
    FocusPrev,
    FocusConversation,
    FocusPreview,
    FocusDiff,
    FocusApprovals,
    FocusAudit,
    FocusReports,
    FocusLibrary,
    /// Give the prompt the keyboard.
    EnterPrompt,
    /// Take the keyboard away from the prompt.
    LeavePrompt,
    /// Close the top overlay or go back to where the current view was opened from.
    Back,
    CommandMode,
    FilterMode,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    /// Enter on a list: open the selected plan's diff or the selected event's detail.
    Open,
    NextHunk,
    PrevHunk,
    ToggleDiffMode,
    NextFile,
    Approve,
    /// Approve as an emergency: one approval stands in for all required (reason + code).
    BreakGlass,
    Reject,
    Apply,
    CancelApply,
    /// The approvals queue: list the failed, cancelled, rejected and expired plans, or the open ones.
    ToggleClosed,
    /// Plan the selected plan's request again (after a failure, a cancel or a rejection).
    Replan,
    Refresh,
    /// The Reports pane: what changed in the selected report since last week's stored run
    /// (pressed again: back to the report).
    CompareReport,
    /// The Library pane: mark the selected version for comparison (or unmark it).
    MarkVersion,
    /// The Library pane: the two marked versions in the diff viewer (`library diff`'s text).
    CompareVersions,
    /// The Library pane: a request using the selected version into the prompt (not sent).
    UseVersion,
    /// The Library pane: `:library approve NAME@V` on the command line, to confirm with Enter.
    ApproveVersion,
    /// The Library pane: `:library deprecate NAME@V ` on the command line, to add a reason.
    DeprecateVersion,
    ExportJson,
    ExportCsv,
    Verify,
    ClearFilter,
    HistoryPrev,
    HistoryNext,
    Newline,
    /// Delete from the cursor back to the start of its line (the prompt's ctrl-u).
    DeleteToLineStart,
    /// Submit what the prompt holds.
    SubmitPrompt,
    /// Select the newest row of an answer's table, for its quick actions.
    SelectRow,
    /// Mouse capture off (the terminal selects text) or on (clicks select panes and rows).
    ToggleMouse,
    // Actions with data: built by the prompt, the command line and the overlays.
    #[serde(skip)]
    Submit(String),
    #[serde(skip)]
    Command(String),
    #[serde(skip)]
    SetFilter(String),
    #[serde(skip)]
    SetTheme(String),
    #[serde(skip)]
    SwitchTenant(String),
    #[serde(skip)]
    ScrollLines(i32),
    #[serde(skip)]
    ConfirmApprove {
        plan_id: String,
        totp: String,
        comment: Option<String>,
        /// The emergency reason when breaking glass.
        break_glass: Option<String>,
    },
    #[serde(skip)]
    ConfirmReject {
        plan_id: String,
        reason: String,
        totp: String,
    },
    #[serde(skip)]
    ConfirmApply {
        plan_id: String,
    },
    /// Puts a quick action's request into the prompt (not sent).
    #[serde(skip)]
    Prefill(String),
    /// Plans `text` as its `reading`-th reading (1-based), as `ask --confirm-reading N` does.
    #[serde(skip)]
    ConfirmReading {
        text: String,
        reading: usize,
    },
}

impl Action {
    /// One line for the help screen and the key hints.
    pub fn describe(&self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::FocusNext => "next pane",
            Action::FocusPrev => "previous pane",
            Action::FocusConversation => "conversation",
            Action::FocusPreview => "preview",
            Action::FocusDiff => "diff",
            Action::FocusApprovals => "approvals",
            Action::FocusAudit => "audit",
            Action::FocusReports => "reports",
            Action::FocusLibrary => "library",
            Action::EnterPrompt => "type a request",
            Action::LeavePrompt => "leave the prompt",
            Action::Back => "back",
            Action::CommandMode => "command",
            Action::FilterMode => "filter / search",
            Action::Help => "help",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Left => "scroll left",
            Action::Right => "scroll right",
            Action::Open => "open",
            Action::NextHunk => "next hunk / match",
            Action::PrevHunk => "previous hunk / match",
            Action::ToggleDiffMode => "unified / side-by-side",
            Action::NextFile => "next file",
            Action::Approve => "approve",
            Action::BreakGlass => "break glass (emergency approval)",
            Action::Reject => "reject",
            Action::Apply => "apply",
            Action::CancelApply => "cancel",
            Action::ToggleClosed => "closed plans",
            Action::Replan => "re-plan the request",
            Action::Refresh => "refresh",
            Action::CompareReport => "compare with last week",
            Action::MarkVersion => "mark a version",
            Action::CompareVersions => "compare the two marked",
            Action::UseVersion => "use it (into the prompt)",
            Action::ApproveVersion => "approve a version",
            Action::DeprecateVersion => "deprecate a version",
            Action::ExportJson => "export JSON",
            Action::ExportCsv => "export CSV",
            Action::Verify => "verify chain",
            Action::ClearFilter => "clear filter",
            Action::HistoryPrev => "earlier request",
            Action::HistoryNext => "later request",
            Action::Newline => "new line",
            Action::DeleteToLineStart => "delete to line start",
            Action::SubmitPrompt => "submit",
            Action::SelectRow => "select a result row (enter: its actions)",
            Action::ToggleMouse => "mouse on/off (off: the terminal selects text)",
            Action::Prefill(_) => "put a request in the prompt",
            Action::Submit(_) => "submit",
            Action::Command(_) => "run command",
            Action::SetFilter(_) => "filter",
            Action::SetTheme(_) => "theme",
            Action::SwitchTenant(_) => "tenant",
            Action::ScrollLines(_) => "scroll",
            Action::ConfirmApprove { .. } => "approve",
            Action::ConfirmReject { .. } => "reject",
            Action::ConfirmApply { .. } => "apply",
            Action::ConfirmReading { .. } => "plan the reading picked",
        }
    }
}
