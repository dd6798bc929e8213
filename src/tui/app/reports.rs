//! The Reports pane's jobs and their answers: the first read when the pane opens (each report's
//! latest stored run, each stack's latest drift check), building and storing reports again in
//! the background (the stale ones on open, then every `[reports] refresh_minutes`; the selected
//! one on `r`), and the comparison with last week's run. Every build runs off the UI thread and
//! a report that fails shows its error in its row.

use std::time::{Duration, Instant};

use super::msg::{Done, ReportsRead};
use super::tasks::Kind;
use super::{App, JobResult};
use crate::pipeline::{CompareWith, Deck, ReportComparison, StoredRun};
use crate::reports::{ReportDoc, ReportName, ReportOptions};
use crate::tui::errors;

impl App {
    /// How long a stored report stays fresh: the tenant's `[reports] refresh_minutes`.
    fn refresh_every(&self) -> Duration {
        Duration::from_secs(self.deck.tenant().reports.refresh_secs().max(60) as u64)
    }

    /// The pane opened: read what is stored, once (then the timer keeps it current).
    pub(super) fn open_reports(&mut self) {
        if self.reports.loaded || self.reports.loading {
            return;
        }
        self.reports.loading = true;
        let deck = self.deck.clone();
        let tenant = deck.tenant().name.clone();
        self.spawn_latest(Kind::Reports, "reading reports".into(), move || {
            Done::Reports {
                tenant,
                result: read_reports(&deck).map_err(errors::shared),
            }
        });
    }

    /// Builds and stores the reports named, each answering as it is done: those that ask AWS
    /// in one job and those that read only the trail and store in another, so a slow or
    /// unreachable endpoint never holds up the operations or compliance report.
    pub(super) fn refresh_reports(&mut self, names: Vec<ReportName>) {
        let names: Vec<ReportName> = names
            .into_iter()
            .filter(|n| !self.reports.building.contains(n))
            .collect();
        let (remote, local): (Vec<ReportName>, Vec<ReportName>) =
            names.into_iter().partition(|n| n.asks_aws());
        for names in [local, remote] {
            if !names.is_empty() {
                self.build_reports(names);
            }
        }
    }

    /// One job building `names` one after another.
    fn build_reports(&mut self, names: Vec<ReportName>) {
        self.reports.building.extend(names.iter().copied());
        let deck = self.deck.clone();
        let tenant = deck.tenant().name.clone();
        let tx = self.tx.clone();
        let label = format!(
            "building {}",
            names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.spawn_job(label, false, move |job| {
            for name in names {
                let result = deck
                    .reports()
                    .refresh(name, &ReportOptions::default())
                    .map(Box::new)
                    .map_err(errors::shared);
                let answer = Done::ReportRefreshed {
                    tenant: tenant.clone(),
                    name,
                    result,
                };
                let _ = tx.send(super::Msg::Done { job, answer });
            }
            None
        });
    }

    /// `w`: what changed in the selected report since last week's stored run, or back.
    pub(super) fn toggle_comparison(&mut self) {
        self.reports.comparing = !self.reports.comparing;
        self.reports.scroll = 0;
        if !self.reports.comparing {
            return;
        }
        let name = self.reports.selected_name();
        if self
            .reports
            .comparison
            .as_ref()
            .is_some_and(|(n, r)| *n == name && r.is_ok())
        {
            return;
        }
        self.reports.comparison = None;
        let deck = self.deck.clone();
        self.spawn_latest(
            Kind::ReportCompare,
            format!("comparing {name}"),
            move || {
                let week = CompareWith::parse("7d", deck.clock());
                Done::ReportCompared {
                    name,
                    result: deck
                        .reports()
                        .compare(name, &week)
                        .map(Box::new)
                        .map_err(errors::shared),
                }
            },
        );
    }

    /// The reports whose latest run is older than the interval (or missing), not failing now.
    fn stale_reports(&self) -> Vec<ReportName> {
        let now = self.deck.clock().unix();
        let every = self.deck.tenant().reports.refresh_secs();
        ReportName::ALL
            .into_iter()
            .filter(|n| {
                self.reports
                    .runs
                    .get(n)
                    .is_none_or(|r| now - r.stored_unix >= every)
            })
            .collect()
    }

    /// Builds the stale reports again when their time comes.
    pub(super) fn reports_timer(&mut self, now: Instant) -> bool {
        let Some(due) = self.reports.next_refresh else {
            return false;
        };
        if now < due {
            return false;
        }
        self.reports.next_refresh = Some(now + self.refresh_every());
        let stale = self.stale_reports();
        let dirty = !stale.is_empty();
        self.refresh_reports(stale);
        dirty
    }

    pub(super) fn reports_read(&mut self, tenant: String, result: JobResult<ReportsRead>) {
        if tenant != self.deck.tenant().name {
            return;
        }
        self.reports.loading = false;
        match result {
            Ok(read) => {
                self.reports.error = None;
                for (run, doc) in read.latest {
                    self.reports.docs.insert(run.name, doc);
                    self.reports.runs.insert(run.name, run);
                }
                self.reports.drift = read.drift;
                self.reports.loaded = true;
                // What is stale is built now; the timer does the rest.
                self.reports.next_refresh = Some(Instant::now() + self.refresh_every());
                let stale = self.stale_reports();
                self.refresh_reports(stale);
            }
            Err(e) => self.reports.error = Some(e),
        }
    }

    pub(super) fn report_refreshed(
        &mut self,
        tenant: String,
        name: ReportName,
        result: JobResult<Box<(ReportDoc, StoredRun)>>,
    ) {
        if tenant != self.deck.tenant().name {
            return;
        }
        self.reports.building.remove(&name);
        match result {
            Ok(built) => {
                let (doc, run) = *built;
                self.reports.errors.remove(&name);
                self.reports.docs.insert(name, doc);
                self.reports.runs.insert(name, run);
                // A comparison made before this run is out of date.
                if self
                    .reports
                    .comparison
                    .as_ref()
                    .is_some_and(|(n, _)| *n == name)
                {
                    self.reports.comparison = None;
                    if self.reports.comparing && self.reports.selected_name() == name {
                        self.reports.comparing = false;
                        self.toggle_comparison();
                    }
                }
            }
            Err(e) => {
                self.reports.errors.insert(name, e);
            }
        }
    }

    pub(super) fn report_compared(
        &mut self,
        name: ReportName,
        result: JobResult<Box<ReportComparison>>,
    ) {
        self.reports.comparison = Some((name, result.map(|c| *c)));
    }
}

/// Each report's latest stored run with its report, and each stack's latest drift check.
fn read_reports(deck: &Deck) -> crate::Result<ReportsRead> {
    let runs = deck.reports().all_runs()?;
    let mut latest = Vec::new();
    for name in ReportName::ALL {
        if let Some(run) = runs.iter().rev().find(|r| r.name == name) {
            // A stored run that no longer reads is built again rather than shown.
            if let Ok(doc) = deck.reports().stored(run) {
                latest.push((run.clone(), doc));
            }
        }
    }
    Ok(ReportsRead {
        latest,
        drift: deck.drift().latest_by_stack()?,
    })
}
