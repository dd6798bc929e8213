//! Everything that arrives on the console's channel: terminal input from the reader thread,
//! and the answers of background jobs, errors still as errors. An answer names the job that
//! made it, so one that a newer request superseded can be dropped (see [`super::tasks`]).

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::Event;

use super::audit_row::AuditRow;
use crate::agents::AgentEvent;
use crate::approval::PlanRecord;
use crate::audit::{AuditRecord, VerifyReport};
use crate::pipeline::{ApplyReport, Deck, ReportRecord};
use crate::tui::diff::DiffDoc;
use crate::tui::errors::SharedError;

/// What a request came back as: a plan with its files (for the diff viewer), or a report whose
/// results already streamed into the conversation.
pub enum AskResult {
    /// The record (boxed: it is large) and its artifacts as text.
    Plan(Box<PlanRecord>, Vec<(String, String)>),
    Report(Box<ReportRecord>),
}

/// A full audit record and the (seq, hash) of the record before it in the list.
pub type AuditDetail = (Box<AuditRecord>, Option<(u64, [u8; 32])>);

/// A job's answer: `Ok`, or the core's error as it was raised.
pub type Answer<T> = Result<T, SharedError>;

pub enum Msg {
    Term(Event),
    Agent {
        job: u64,
        event: AgentEvent,
    },
    AskDone {
        job: u64,
        result: Answer<AskResult>,
    },
    Plans {
        job: u64,
        result: Answer<Vec<PlanRecord>>,
    },
    AuditLoaded {
        job: u64,
        result: Answer<Vec<AuditRow>>,
    },
    Verified {
        job: u64,
        result: Answer<VerifyReport>,
    },
    /// The full record and the (seq, hash) of the one before it in the list.
    AuditDetail {
        job: u64,
        result: Answer<AuditDetail>,
    },
    DiffReady {
        job: u64,
        result: Answer<(Box<PlanRecord>, Arc<DiffDoc>)>,
    },
    Approved {
        plan_id: String,
        result: Answer<Box<PlanRecord>>,
    },
    Rejected {
        plan_id: String,
        result: Answer<Box<PlanRecord>>,
    },
    ApplyDone {
        job: u64,
        result: Answer<ApplyReport>,
    },
    Exported(Answer<PathBuf>),
    TenantSwitched {
        job: u64,
        result: Answer<Arc<Deck>>,
    },
    /// The console's intro for the tenant: the demo's welcome, or how to set it up.
    Intro {
        job: u64,
        result: Answer<Vec<String>>,
    },
    /// Lines for the conversation from the core (`:init`'s set-up).
    Said(Answer<Vec<String>>),
    /// A job ended (success or not); removes it from the running list.
    JobEnded(u64),
}
