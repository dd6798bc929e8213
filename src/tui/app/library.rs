//! The Library pane's jobs and their answers: the entries and the built-in templates read when
//! the pane opens, an entry's versions read when it is opened, two versions compared for the
//! diff viewer, and `:library approve|deprecate`, which call the same core functions as
//! `opsdeck library` with the same checks (approvers only, never whoever added the version).
//! Every read runs off the UI thread; the keys here only move the selection and build requests.

use std::sync::Arc;

use super::msg::{Done, LibraryRead};
use super::state::{LineInput, OpenEntry, Overlay};
use super::tasks::Kind;
use super::{App, JobResult};
use crate::library::VersionDetail;
use crate::tui::action::Pane;
use crate::tui::diff::DiffDoc;
use crate::tui::errors;
use crate::view::library::{BuiltinRowView, required_params, use_request};

impl App {
    /// The pane opened: read the library once (R reads it again).
    pub(super) fn open_library(&mut self) {
        if self.library.loaded || self.library.loading {
            return;
        }
        self.reload_library();
    }

    /// Reads the entries again, and the opened entry's versions.
    pub(super) fn reload_library(&mut self) {
        self.library.loading = true;
        let deck = self.deck.clone();
        let tenant = deck.tenant().name.clone();
        self.spawn_latest(Kind::Library, "reading the library".into(), move || {
            let lib = deck.library();
            let result = lib
                .overview()
                .map(|entries| LibraryRead {
                    entries,
                    builtin: lib.builtin().iter().map(BuiltinRowView::of).collect(),
                })
                .map_err(errors::shared);
            Done::Library { tenant, result }
        });
        if let Some(name) = self.library.open.as_ref().map(|o| o.name.clone()) {
            self.read_versions(name);
        }
    }

    fn read_versions(&mut self, name: String) {
        let deck = self.deck.clone();
        let tenant = deck.tenant().name.clone();
        self.spawn_latest(Kind::LibraryEntry, format!("reading {name}"), move || {
            let result = deck.library().versions_of(&name).map_err(errors::shared);
            Done::LibraryEntry {
                tenant,
                name,
                result,
            }
        });
    }

    /// Enter: the selected entry's versions.
    pub(super) fn open_library_entry(&mut self) {
        if self.library.open.is_some() {
            return;
        }
        let Some(name) = self
            .library
            .selected_entry()
            .map(|e| e.summary.name.clone())
        else {
            self.info("no entry selected");
            return;
        };
        self.library.open = Some(OpenEntry {
            name: name.clone(),
            versions: None,
            selected: 0,
            marked: Vec::new(),
            scroll: 0,
        });
        self.read_versions(name);
    }

    /// Space: marks the selected version (a third mark replaces the oldest).
    pub(super) fn mark_version(&mut self) {
        let Some(open) = self.library.open.as_mut() else {
            self.info("open an entry (enter) to mark its versions");
            return;
        };
        let Some(v) = open.selected_version().map(|d| d.info.version) else {
            return;
        };
        if let Some(i) = open.marked.iter().position(|m| *m == v) {
            open.marked.remove(i);
        } else {
            if open.marked.len() == 2 {
                open.marked.remove(0);
            }
            open.marked.push(v);
        }
    }

    /// `d`: the two marked versions in the diff viewer, the older one first.
    pub(super) fn compare_versions(&mut self) {
        let Some(open) = self.library.open.as_ref() else {
            self.info("open an entry (enter), mark two versions (space), then d");
            return;
        };
        let [a, b] = open.marked[..] else {
            self.info("mark two versions with space, then d compares them");
            return;
        };
        let (a, b) = (a.min(b), a.max(b));
        let (a, b) = (format!("{}@{a}", open.name), format!("{}@{b}", open.name));
        let label = format!("{a} ⇄ {b}");
        self.diff.from = Some(Pane::Library);
        self.diff.loading = Some(label.clone());
        self.diff.error = None;
        self.focus = Pane::Diff;
        self.prompt_active = false;
        let deck = self.deck.clone();
        self.spawn_latest(Kind::Diff, format!("comparing {label}"), move || {
            let against = format!("{a} (opsdeck library diff {a} {b})");
            Done::LibraryDiff(
                deck.library()
                    .diff(&a, &b)
                    .map(|text| Arc::new(DiffDoc::from_unified(&text, &against)))
                    .map_err(errors::shared),
            )
        });
    }

    /// The version the pane points at: the selected one of an opened entry, or the selected
    /// entry's latest.
    fn pointed_version(&self) -> Option<String> {
        match &self.library.open {
            Some(open) => open.selected_version().map(|d| d.info.label()),
            None => self
                .library
                .selected_entry()
                .map(|e| format!("{}@{}", e.summary.name, e.summary.latest)),
        }
    }

    /// `u`: a request using the version into the prompt, to read and send (planned, gated and
    /// approved like any request). An entry from the list: its latest version not deprecated.
    pub(super) fn use_version(&mut self) {
        let (request, detail) = match &self.library.open {
            Some(open) => match open.selected_version() {
                Some(d) => (use_request(&d.info.label()), Some(d.clone())),
                None => return self.info("no version selected"),
            },
            None => match self.library.selected_entry() {
                Some(e) => (use_request(&e.summary.name), None),
                None => return self.info("no entry selected"),
            },
        };
        self.prefill(request);
        if let Some(d) = detail {
            let needed = required_params(&d);
            if !needed.is_empty() {
                self.info(format!(
                    "in the prompt; {} needs a value for {}: the console gives none, so use opsdeck ask --use {} --set NAME=VALUE",
                    d.info.label(),
                    needed.join(", "),
                    d.info.label()
                ));
            }
        }
    }

    /// `a` / `x`: the command that approves or deprecates the version, on the command line to
    /// confirm with Enter (a deprecation's reason typed after it).
    pub(super) fn library_decision(&mut self, verb: &str) {
        let Some(label) = self.pointed_version() else {
            self.info("no version selected");
            return;
        };
        self.overlays.push(Overlay::Command(LineInput {
            text: format!("library {verb} {label} "),
        }));
    }

    /// `:library [WORDS | approve NAME@V | deprecate NAME@V [REASON]]`.
    pub(super) fn library_command(&mut self, arg: Option<String>) {
        let arg = arg.unwrap_or_default();
        let (verb, rest) = arg.split_once(' ').unwrap_or((arg.as_str(), ""));
        let rest = rest.trim().to_string();
        match verb {
            "approve" | "deprecate" => {
                let (entry, reason) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
                let (entry, reason) = (entry.to_string(), reason.trim().to_string());
                if entry.is_empty() {
                    return self.mistake(format!(":library {verb} NAME@VERSION"));
                }
                let deck = self.deck.clone();
                let verb = verb.to_string();
                self.spawn_blocking(format!("{verb} {entry}"), false, move |_| {
                    let lib = deck.library();
                    let done = if verb == "approve" {
                        lib.approve(&entry)
                            .map(|v| format!("{} approved for use", v.label()))
                    } else {
                        lib.deprecate(&entry, &reason).map(|v| {
                            format!("{} deprecated: it is used only when named", v.label())
                        })
                    };
                    Done::LibraryChanged(done.map_err(errors::shared))
                });
            }
            words => {
                self.focus_pane(Pane::Library);
                if !words.is_empty() {
                    self.set_filter(Pane::Library, arg.trim().to_string());
                }
            }
        }
    }

    pub(super) fn library_read(&mut self, tenant: String, result: JobResult<LibraryRead>) {
        if tenant != self.deck.tenant().name {
            return;
        }
        self.library.loading = false;
        match result {
            Ok(read) => {
                self.library.error = None;
                self.library.entries = read.entries;
                self.library.builtin = read.builtin;
                self.library.loaded = true;
                let last = self.library.visible().len().saturating_sub(1);
                self.library.selected = self.library.selected.min(last);
            }
            Err(e) => self.library.error = Some(e),
        }
    }

    pub(super) fn library_entry_read(
        &mut self,
        tenant: String,
        name: String,
        result: JobResult<Vec<VersionDetail>>,
    ) {
        if tenant != self.deck.tenant().name {
            return;
        }
        if let Some(open) = self.library.open.as_mut()
            && open.name == name
        {
            if let Ok(v) = &result {
                open.selected = open.selected.min(v.len().saturating_sub(1));
            }
            open.versions = Some(result);
        }
    }

    pub(super) fn library_diff_read(&mut self, result: JobResult<Arc<DiffDoc>>) {
        // No plan is open: approve, reject and apply have nothing to act on.
        self.diff_read(result.map(|doc| (None, doc)));
    }

    pub(super) fn library_changed(&mut self, result: JobResult<String>) {
        match result {
            Ok(said) => {
                self.success(said);
                self.reload_library();
            }
            Err(e) => self.fail(e),
        }
    }
}
