//! The Library pane: the tenant's entries (name@latest, kind, versions, uses, owner, state,
//! tags, description), filtered by `/` as `opsdeck library search` filters, with the built-in
//! templates apart under them; Enter opens an entry: its versions (marks for `d`), and the
//! selected version's parameters, files, approvals and the plans that used it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::tui::action::Pane;
use crate::tui::app::{App, OpenEntry};
use crate::tui::components::approvals::{cells, clip, loaded_or_say, row};
use crate::tui::text::{Col, allocate, safe_owned};
use crate::tui::theme::Meaning;
use crate::tui::ui::{pane_block, styled, title_line};
use crate::view::library::{BuiltinRowView, EntryRowView, Tone, VersionRowView, version_lines};

const ENTRY_HEADERS: [&str; 8] = [
    "ENTRY",
    "KIND",
    "VERS",
    "USES",
    "OWNER",
    "STATE",
    "TAGS",
    "DESCRIPTION",
];
const VERSION_HEADERS: [&str; 7] = [
    "", "VERSION", "ADDED BY", "ADDED AT", "STATE", "USES", "SHA256",
];
const BUILTIN_HEADERS: [&str; 4] = ["BUILT-IN", "KIND", "FILE", "DESCRIPTION"];

fn tone(t: Tone) -> Meaning {
    match t {
        Tone::Title => Meaning::Title,
        Tone::Text => Meaning::Text,
        Tone::Muted => Meaning::Muted,
        Tone::Warn => Meaning::GateWarn,
        Tone::Good => Meaning::Success,
    }
}

fn col(min: u16, want: u16, priority: u8) -> Col {
    Col {
        min,
        want,
        priority,
    }
}

/// The first row shown of a list of `len` with `selected` in `room` rows.
fn window(len: usize, selected: usize, room: usize) -> usize {
    if room == 0 || len <= room {
        0
    } else {
        (selected + 1).saturating_sub(room).min(len - room)
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.library;
    let mut extra = vec![styled(
        app,
        Meaning::Muted,
        format!(
            "{} entr{} · {} built-in ",
            st.entries.len(),
            if st.entries.len() == 1 { "y" } else { "ies" },
            st.builtin.len()
        ),
    )];
    if !st.filter.is_empty() {
        extra.push(styled(
            app,
            Meaning::StatusKey,
            format!("/{} ({} match) ", st.filter, st.visible().len()),
        ));
    }
    if st.loading {
        extra.push(styled(app, Meaning::Spinner, "reading… "));
    }
    let block = pane_block(app, Pane::Library, title_line(app, Pane::Library, extra));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height < 2 {
        return;
    }
    if !loaded_or_say(
        f,
        app,
        inner,
        st.error.as_ref(),
        st.loaded,
        "reading the library…",
    ) {
        return;
    }
    match &st.open {
        Some(open) => draw_entry(f, inner, app, open),
        None => draw_list(f, inner, app),
    }
}

fn header(app: &App, widths: &[u16], names: &[&str]) -> Line<'static> {
    Line::from(cells(
        widths,
        names
            .iter()
            .map(|h| (h.to_string(), app.theme.get(Meaning::Muted)))
            .collect(),
    ))
}

fn draw_list(f: &mut Frame, inner: Rect, app: &App) {
    let st = &app.library;
    let t = &app.theme;
    let visible = st.visible();
    let widths = allocate(
        inner.width,
        &[
            col(12, 24, 9),
            col(9, 9, 6),
            col(4, 4, 5),
            col(4, 4, 4),
            col(5, 10, 3),
            col(8, 17, 7),
            col(4, 16, 2),
            col(10, 200, 1),
        ],
    );
    f.render_widget(header(app, &widths, &ENTRY_HEADERS), row(inner, 0));
    let mut y: u16 = 1;
    // The tenant's entries take what the built-in list (a header and a few rows) leaves.
    let builtin_room = if st.builtin.is_empty() {
        0
    } else {
        (inner.height / 3).clamp(2, 8)
    };
    let room = (inner.height.saturating_sub(1 + builtin_room) as usize).max(1);
    if visible.is_empty() {
        let said = if st.entries.is_empty() {
            "no library entries (add one with `opsdeck library add NAME --kind terraform --from DIR`)"
                .to_string()
        } else {
            format!("no entry matches /{} (esc clears)", st.filter)
        };
        f.render_widget(
            clip(Line::styled(said, t.get(Meaning::Muted)), inner.width),
            row(inner, y),
        );
        y += 1;
    } else {
        let first = window(visible.len(), st.selected, room);
        for (i, e) in visible.iter().enumerate().skip(first).take(room) {
            let r = EntryRowView::of(e);
            let mut line = Line::from(cells(
                &widths,
                vec![
                    (r.label.clone(), t.get(Meaning::Title)),
                    (r.kind.clone(), t.get(Meaning::Text)),
                    (r.versions.clone(), t.get(Meaning::Text)),
                    (r.uses.clone(), t.get(Meaning::Text)),
                    (r.owner.clone(), t.get(Meaning::Text)),
                    (r.state.clone(), t.get(tone(r.tone()))),
                    (r.tags.clone(), t.get(Meaning::Muted)),
                    (r.description.clone(), t.get(Meaning::Text)),
                ],
            ));
            if i == st.selected {
                line = line.patch_style(t.get(Meaning::Selection));
            }
            f.render_widget(line, row(inner, y));
            y += 1;
        }
    }
    if builtin_room == 0 || y + 3 > inner.height {
        return;
    }
    // The built-in catalogue, apart: what `library list --built-in` lists.
    y = y.max(inner.height - builtin_room);
    f.render_widget(
        clip(
            Line::styled(
                "── built-in templates (opsdeck library list --built-in) ──",
                t.get(Meaning::Muted),
            ),
            inner.width,
        ),
        row(inner, y),
    );
    y += 1;
    // A file name shows whole or not at all (narrow screens drop it first).
    let file_w = st
        .builtin
        .iter()
        .map(|b| crate::tui::text::width(&b.file) as u16)
        .max()
        .unwrap_or(4);
    let widths = allocate(
        inner.width,
        &[
            col(12, 22, 9),
            col(9, 9, 5),
            col(file_w, file_w, 1),
            col(10, 200, 7),
        ],
    );
    f.render_widget(header(app, &widths, &BUILTIN_HEADERS), row(inner, y));
    y += 1;
    let left = (inner.height - y) as usize;
    let more = st.builtin.len().saturating_sub(left);
    let shown = if more > 0 {
        left.saturating_sub(1)
    } else {
        left
    };
    for b in st.builtin.iter().take(shown) {
        let BuiltinRowView {
            name,
            kind,
            file,
            description,
        } = b.clone();
        f.render_widget(
            Line::from(cells(
                &widths,
                vec![
                    (name, t.get(Meaning::Text)),
                    (kind, t.get(Meaning::Muted)),
                    (file, t.get(Meaning::Muted)),
                    (description, t.get(Meaning::Muted)),
                ],
            )),
            row(inner, y),
        );
        y += 1;
    }
    if more > 0 {
        f.render_widget(
            Line::styled(
                format!("  … {} more (opsdeck library list --built-in)", more + 1),
                t.get(Meaning::Muted),
            ),
            row(inner, y),
        );
    }
}

fn draw_entry(f: &mut Frame, inner: Rect, app: &App, open: &OpenEntry) {
    let t = &app.theme;
    let summary = app
        .library
        .entries
        .iter()
        .find(|e| e.summary.name == open.name);
    let mut head = vec![styled(app, Meaning::Title, open.name.clone())];
    if let Some(e) = summary {
        let s = &e.summary;
        head.push(styled(
            app,
            Meaning::Muted,
            format!(
                " ({}) · owner {} · {} version{} · {} use{}",
                s.kind,
                s.owner,
                s.versions,
                if s.versions == 1 { "" } else { "s" },
                s.uses,
                if s.uses == 1 { "" } else { "s" }
            ),
        ));
        if !s.description.is_empty() {
            head.push(styled(app, Meaning::Text, format!(" — {}", s.description)));
        }
    }
    f.render_widget(clip(Line::from(head), inner.width), row(inner, 0));
    let versions = match &open.versions {
        None => {
            f.render_widget(
                Line::styled("reading its versions…", t.get(Meaning::Muted)),
                row(inner, 1),
            );
            return;
        }
        Some(Err(e)) => {
            let (m, text) = crate::tui::errors::line("", e);
            f.render_widget(
                clip(Line::styled(text, t.get(m)), inner.width),
                row(inner, 1),
            );
            return;
        }
        Some(Ok(v)) => v,
    };
    if inner.height < 3 {
        return;
    }
    let widths = allocate(
        inner.width,
        &[
            col(1, 1, 9),
            col(10, 20, 9),
            col(5, 10, 6),
            col(16, 16, 3),
            col(8, 24, 7),
            col(4, 4, 4),
            col(12, 12, 2),
        ],
    );
    f.render_widget(header(app, &widths, &VERSION_HEADERS), row(inner, 1));
    let room = (inner.height.saturating_sub(4) as usize / 2).clamp(1, versions.len().max(1));
    let first = window(versions.len(), open.selected, room);
    let mut y: u16 = 2;
    for (i, d) in versions.iter().enumerate().skip(first).take(room) {
        let r = VersionRowView::of(&d.info);
        let mark = if open.marked.contains(&d.info.version) {
            "●"
        } else {
            " "
        };
        let mut line = Line::from(cells(
            &widths,
            vec![
                (mark.to_string(), t.get(Meaning::StatusKey)),
                (r.label.clone(), t.get(Meaning::Title)),
                (r.added_by.clone(), t.get(Meaning::Text)),
                (r.added_at.clone(), t.get(Meaning::Text)),
                (r.state.clone(), t.get(tone(r.tone()))),
                (r.uses.clone(), t.get(Meaning::Text)),
                (r.sha.clone(), t.get(Meaning::Muted)),
            ],
        ));
        if i == open.selected {
            line = line.patch_style(t.get(Meaning::Selection));
        }
        f.render_widget(line, row(inner, y));
        y += 1;
    }
    let Some(d) = open.selected_version() else {
        return;
    };
    if y + 1 >= inner.height {
        return;
    }
    let marked = match open.marked.len() {
        2 => "d compares the marked".to_string(),
        n => format!("space marks ({n}/2)"),
    };
    f.render_widget(
        clip(
            Line::styled(
                format!(
                    "── {} ({}) · {marked} · u uses it ──",
                    d.info.label(),
                    d.manifest.kind
                ),
                t.get(Meaning::Muted),
            ),
            inner.width,
        ),
        row(inner, y),
    );
    y += 1;
    for (tn, text) in version_lines(d)
        .into_iter()
        .skip(open.scroll)
        .take((inner.height - y) as usize)
    {
        f.render_widget(
            clip(Line::styled(safe_owned(text), t.get(tone(tn))), inner.width),
            row(inner, y),
        );
        y += 1;
    }
}
