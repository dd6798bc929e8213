//! Everything that arrives on the console's channel: terminal input from the reader thread,
//! agents' progress, and the background jobs' answers, errors still as errors. An answer names
//! the job that made it, so one that a newer request superseded can be dropped (see
//! [`super::tasks`]).

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::Event;

use super::audit_row::AuditRow;
use crate::approval::PlanRecord;
use crate::audit::{AuditRecord, VerifyReport};
use crate::events::AgentEvent;
use crate::pipeline::{ApplyReport, Deck, ReportRecord};
use crate::tui::diff::DiffDoc;
use crate::tui::errors::SharedError;

pub enum Msg {
    Term(Event),
    /// Progress of the agent a job runs (a request, an apply).
    Agent {
        job: u64,
        event: AgentEvent,
    },
    /// A job's answer.
    Done {
        job: u64,
        answer: Done,
    },
    /// A job ended (answered or not); removes it from the running list.
    JobEnded(u64),
    /// What the prompt can suggest, rebuilt from the index of past requests.
    Phrases(Arc<crate::view::phrase::PhraseBook>),
}

/// A job's result: `Ok`, or the core's error as it was raised.
pub type JobResult<T> = Result<T, SharedError>;

/// What a job answers, by the request it was sent for.
pub enum Done {
    /// A request: a plan, or a report.
    Asked(JobResult<AskResult>),
    /// The approvals queue.
    Plans(JobResult<Vec<PlanRecord>>),
    /// The audit browser's rows.
    /// The browser's rows: all of them (`None`), or those after the newest row it held.
    AuditRows(Option<u64>, JobResult<Vec<AuditRow>>),
    /// The chain check.
    Verified(JobResult<VerifyReport>),
    /// One audit record in full.
    AuditDetail(JobResult<AuditDetail>),
    /// A plan and its diff against what its stack last applied.
    Diff(JobResult<(Box<PlanRecord>, Arc<DiffDoc>)>),
    Approved {
        plan_id: String,
        result: JobResult<Box<PlanRecord>>,
    },
    Rejected {
        plan_id: String,
        result: JobResult<Box<PlanRecord>>,
    },
    Applied(JobResult<ApplyReport>),
    /// The identity receipt an apply confirmation waits for.
    Receipt {
        plan_id: String,
        result: JobResult<crate::view::ReceiptView>,
    },
    Exported(JobResult<PathBuf>),
    /// The deck of another tenant or configuration.
    TenantSwitched(JobResult<Arc<Deck>>),
    /// The console's intro for the tenant: the demo's welcome, or how to set it up.
    Intro(JobResult<Vec<String>>),
    /// Lines for the conversation from the core (`:init`'s set-up).
    Said(JobResult<Vec<String>>),
    /// The Reports pane's first read: the latest stored run of each report with its report,
    /// and each stack's latest drift check (for `tenant`).
    Reports {
        tenant: String,
        result: JobResult<ReportsRead>,
    },
    /// One report built and stored again (or why it could not be).
    ReportRefreshed {
        tenant: String,
        name: crate::reports::ReportName,
        result: JobResult<Box<(crate::reports::ReportDoc, crate::pipeline::StoredRun)>>,
    },
    /// What changed in a report since last week's stored run.
    ReportCompared {
        name: crate::reports::ReportName,
        result: JobResult<Box<crate::pipeline::ReportComparison>>,
    },
    /// The Library pane's entries and the built-in templates (for `tenant`).
    Library {
        tenant: String,
        result: JobResult<LibraryRead>,
    },
    /// Every version of the entry opened in the Library pane.
    LibraryEntry {
        tenant: String,
        name: String,
        result: JobResult<Vec<crate::library::VersionDetail>>,
    },
    /// Two versions compared (`library diff`'s text), for the diff viewer.
    LibraryDiff(JobResult<Arc<DiffDoc>>),
    /// A version approved or deprecated from the console: what to say.
    LibraryChanged(JobResult<String>),
}

/// What the Library pane reads when it opens.
pub struct LibraryRead {
    pub entries: Vec<crate::pipeline::EntryOverview>,
    pub builtin: Vec<crate::view::library::BuiltinRowView>,
}

/// What the Reports pane reads when it opens.
pub struct ReportsRead {
    pub latest: Vec<(crate::pipeline::StoredRun, crate::reports::ReportDoc)>,
    pub drift: Vec<crate::pipeline::StackDriftStatus>,
}

/// What a request came back as: a plan with its files (for the diff viewer), or a report whose
/// results already streamed into the conversation.
pub enum AskResult {
    /// The record (boxed: it is large) and its artifacts as text.
    Plan(Box<PlanRecord>, Vec<(String, String)>),
    Report(Box<ReportRecord>),
}

/// A full audit record and the (seq, hash) of the record before it in the list.
pub type AuditDetail = (Box<AuditRecord>, Option<(u64, [u8; 32])>);
