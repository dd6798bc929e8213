//! [`Action`] → state: [`App::update`], the one place an action changes the console. It never
//! blocks: what needs the store, AWS or a model is handed to a job ([`super::tasks`]). Here too
//! the moves that are only state: focus, scrolling, filters, the diff viewer's jumps.

use super::App;
use super::audit_row::AuditQuery;
use super::state::{ConfirmKind, LineInput, Overlay};
use crate::tui::action::{Action, Pane};
use crate::tui::errors;
use crate::tui::theme::Meaning;

impl App {
    /// Cancels what runs: the apply (its tool is signalled, its AWS call in flight abandoned)
    /// and the requests (the AWS call in flight abandoned, a dry run's tool signalled). Each
    /// ends with the one outcome "cancelled".
    pub(super) fn cancel_running(&mut self) {
        let mut said = false;
        if let Some(run) = &self.apply {
            let _ = run.cancel.send(true);
            let text = format!(
                "cancelling apply of {}… (an AWS call in flight is abandoned; a tool stops safely, SIGKILL after 30 s)",
                run.plan_id
            );
            self.say(Meaning::Progress, text);
            said = true;
        }
        let requests: Vec<String> = self.running_requests().map(|j| j.label.clone()).collect();
        if !requests.is_empty() {
            self.deck.requests().cancel_running();
            self.say(
                Meaning::Progress,
                format!("cancelling {}…", requests.join(", ")),
            );
            said = true;
        }
        if !said {
            self.info("nothing is running");
        }
    }

    /// Requests being answered (agent jobs other than the apply).
    pub(super) fn running_requests(&self) -> impl Iterator<Item = &super::state::RunningJob> {
        let apply = self.apply.as_ref().map(|a| a.job);
        self.jobs
            .iter()
            .filter(move |(id, j)| j.agent && Some(**id) != apply)
            .map(|(_, j)| j)
    }

    /// Applies an action. Never blocks: store and agent work is sent to background jobs.
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
            Action::FocusPrev => {
                self.focus_pane(Pane::from_index(self.focus.index() + Pane::ALL.len() - 1))
            }
            Action::FocusConversation => self.focus_pane(Pane::Conversation),
            Action::FocusPreview => self.focus_pane(Pane::Preview),
            Action::FocusDiff => self.focus_pane(Pane::Diff),
            Action::FocusApprovals => self.focus_pane(Pane::Approvals),
            Action::FocusAudit => self.focus_pane(Pane::Audit),
            Action::FocusReports => self.focus_pane(Pane::Reports),
            Action::FocusLibrary => self.focus_pane(Pane::Library),
            Action::EnterPrompt => {
                self.transcript.selected = None;
                self.focus = Pane::Conversation;
                self.prompt_active = true;
            }
            Action::LeavePrompt => self.prompt_active = false,
            Action::Back => {
                if !self.overlays.is_empty() {
                    self.overlays.pop();
                } else if self.focus == Pane::Conversation && self.transcript.selected.is_some() {
                    self.transcript.selected = None;
                } else if self.focus == Pane::Library && self.library.open.is_some() {
                    self.library.open = None;
                } else if self.focus == Pane::Library && !self.library.filter.is_empty() {
                    self.set_filter(Pane::Library, String::new());
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
                    Pane::Library => self.library.filter.clone(),
                    _ => {
                        self.info(
                            "/ filters the approvals, audit and library lists and searches the diff",
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
            Action::Up => {
                if self.focus != Pane::Conversation || !self.move_row(-1) {
                    self.scroll(-1);
                }
            }
            Action::Down => {
                if self.focus != Pane::Conversation || !self.move_row(1) {
                    self.scroll(1);
                }
            }
            Action::SelectRow => self.select_row(),
            Action::ToggleMouse => self.toggle_mouse(),
            Action::Prefill(request) => self.prefill(request),
            Action::PageUp => self.scroll(-20),
            Action::PageDown => self.scroll(20),
            Action::ScrollLines(n) => {
                if let Some(Overlay::Help { scroll } | Overlay::Detail { scroll, .. }) =
                    self.overlays.last_mut()
                {
                    let max = self
                        .overlay_scroll_max
                        .load(std::sync::atomic::Ordering::Relaxed);
                    *scroll = ((*scroll as i32 + n).max(0) as u16).min(max);
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
            Action::NextFile => self.next_file(),
            Action::Approve => self.ask_confirm(ConfirmKind::Approve),
            Action::Reject => self.ask_confirm(ConfirmKind::Reject),
            Action::BreakGlass => self.ask_confirm(ConfirmKind::BreakGlass),
            Action::Apply => self.ask_confirm(ConfirmKind::Apply),
            Action::CancelApply => self.cancel_running(),
            Action::ToggleClosed => {
                self.approvals.show_closed = !self.approvals.show_closed;
                self.approvals.selected = 0;
                self.follow_selection();
            }
            Action::Replan => self.replan(),
            Action::Refresh if self.focus == Pane::Reports => {
                let name = self.reports.selected_name();
                self.refresh_reports(vec![name]);
                self.info(format!("building the {name} report"));
            }
            Action::CompareReport if self.focus == Pane::Reports => self.toggle_comparison(),
            Action::CompareReport => {}
            Action::Refresh if self.focus == Pane::Library => {
                self.reload_library();
                self.info("reading the library");
            }
            Action::MarkVersion => self.mark_version(),
            Action::CompareVersions => self.compare_versions(),
            Action::UseVersion => self.use_version(),
            Action::ApproveVersion => self.library_decision("approve"),
            Action::DeprecateVersion => self.library_decision("deprecate"),
            Action::Refresh => {
                self.poll_plans();
                self.load_audit();
                self.info("refreshing");
            }
            Action::ExportJson => self.export(crate::audit::export::Format::Json),
            Action::ExportCsv => self.export(crate::audit::export::Format::Csv),
            Action::Verify => self.verify(true),
            Action::ClearFilter => self.set_filter(self.focus, String::new()),
            Action::DeleteToLineStart => {
                if self.prompt.delete_line_by_head() {
                    self.preview.due = Some(std::time::Instant::now() + super::DEBOUNCE);
                }
            }
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
            } => self.send_approval(plan_id, totp, comment, break_glass),
            Action::ConfirmReject {
                plan_id,
                reason,
                totp,
            } => self.send_rejection(plan_id, reason, totp),
            Action::ConfirmApply { plan_id } => self.start_apply(plan_id),
            Action::ConfirmReading { text, reading } => self.submit_reading(text, reading),
        }
    }

    pub(super) fn focus_pane(&mut self, p: Pane) {
        self.focus = p;
        self.follow_selection();
        self.prompt_active = p == Pane::Conversation && self.prompt_active;
        if p == Pane::Audit && !self.audit.loaded && !self.audit.loading {
            self.load_audit();
        }
        if p == Pane::Reports {
            self.open_reports();
        }
        if p == Pane::Library {
            self.open_library();
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

    pub(super) fn set_filter(&mut self, pane: Pane, f: String) {
        match pane {
            Pane::Approvals => {
                self.approvals.filter = f;
                self.approvals.selected = 0;
                self.follow_selection();
            }
            Pane::Audit => {
                self.audit.filter = f;
                self.refilter_audit();
                self.follow_selection();
            }
            Pane::Library => {
                self.library.filter = f;
                self.library.selected = 0;
                self.library.open = None;
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

    pub(super) fn refilter_audit(&mut self) {
        match AuditQuery::parse(&self.audit.filter, self.deck.clock()) {
            Ok(q) => {
                self.audit.filter_error = None;
                self.audit.filtered = (0..self.audit.rows.len())
                    .rev()
                    .filter(|i| q.matches(&self.audit.rows[*i].fields()))
                    .collect();
            }
            Err(e) => self.audit.filter_error = Some(errors::shared(e)),
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
                let max = (self.transcript.lines.len() * 4).min(
                    self.transcript
                        .max_scroll
                        .load(std::sync::atomic::Ordering::Relaxed),
                );
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
            Pane::Reports => {
                // j/k choose the report; the page keys scroll its outputs.
                if n.abs() == 1 {
                    let last = crate::reports::ReportName::ALL.len() - 1;
                    let before = self.reports.selected;
                    self.reports.selected = clamp(before, n, last);
                    if self.reports.selected != before {
                        self.reports.scroll = 0;
                        self.reports.comparing = false;
                    }
                } else {
                    self.reports.scroll = clamp(self.reports.scroll, n, 10_000);
                }
            }
            Pane::Library => match self.library.open.as_mut() {
                // j/k choose the version; the page keys scroll its account.
                Some(open) if n.abs() == 1 => {
                    let last = open.versions().len().saturating_sub(1);
                    let before = open.selected;
                    open.selected = clamp(before, n, last);
                    if open.selected != before {
                        open.scroll = 0;
                    }
                }
                Some(open) => open.scroll = clamp(open.scroll, n, 10_000),
                None => {
                    let last = self.library.visible().len().saturating_sub(1);
                    self.library.selected = clamp(self.library.selected, n, last);
                }
            },
            Pane::Audit => {
                let len = self.audit.filtered.len();
                self.audit.selected = clamp(self.audit.selected, n, len.saturating_sub(1));
                if self.audit.selected == 0 {
                    self.audit.new_above = 0;
                }
            }
        }
        self.follow_selection();
    }

    /// The selected plan's request, planned again as a new request of this user's (the plan
    /// itself stays as it ended: failed, cancelled or rejected).
    fn replan(&mut self) {
        let Some(rec) = (match self.focus {
            Pane::Approvals => self.approvals.selected_plan(),
            _ => self.preview.plan.as_ref(),
        }) else {
            self.info("no plan selected");
            return;
        };
        let (id, request) = (rec.plan.plan_id.clone(), rec.plan.request.clone());
        self.say(Meaning::Muted, format!("re-planning the request of {id}"));
        self.focus_pane(Pane::Conversation);
        self.submit(request);
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

    fn next_file(&mut self) {
        let Some(doc) = self.diff.doc.clone() else {
            return;
        };
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
            None => self.info(if forward {
                "no more below"
            } else {
                "no more above"
            }),
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
            Pane::Library => self.open_library_entry(),
            // A selected answer row: what to ask about it; else Enter types a request.
            Pane::Conversation => {
                let listed = self.open_row_actions();
                if !listed {
                    self.update(Action::EnterPrompt);
                }
            }
            _ => {}
        }
    }
}
