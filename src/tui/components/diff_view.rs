//! The diff viewer: the plan's generated code against the stack's applied version, unified or
//! side by side, syntax-highlighted from the cached spans. Only visible rows are built.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::tui::action::Pane;
use crate::tui::app::App;
use crate::tui::components::approvals::{clip, row};
use crate::tui::diff::{DiffDoc, Row, RowKind};
use crate::tui::text::fit;
use crate::tui::theme::{Meaning, Theme};
use crate::tui::ui::{pane_block, risk_meaning, styled, title_line};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.diff;
    let t = &app.theme;
    let mut extra = Vec::new();
    if let Some(p) = &st.plan {
        extra.push(styled(app, Meaning::Text, format!("{} ", p.plan.plan_id)));
        extra.push(styled(
            app,
            risk_meaning(p.plan.risk),
            format!(" {} ", p.plan.risk.as_str().to_uppercase()),
        ));
        extra.push(Span::raw(" "));
    }
    if let Some(d) = &st.doc
        && d.calls > 0
    {
        extra.push(styled(
            app,
            Meaning::Text,
            format!(
                "{} AWS call{} · {} target{} ",
                d.calls,
                if d.calls == 1 { "" } else { "s" },
                d.targets,
                if d.targets == 1 { "" } else { "s" }
            ),
        ));
    }
    if let Some(d) = &st.doc {
        extra.push(styled(app, Meaning::DiffAdd, format!("+{}", d.added)));
        extra.push(Span::raw(" "));
        extra.push(styled(app, Meaning::DiffRemove, format!("-{}", d.removed)));
        extra.push(styled(
            app,
            Meaning::Muted,
            if st.side_by_side {
                " side by side "
            } else {
                " unified "
            },
        ));
    }
    if !st.search.is_empty() {
        extra.push(styled(
            app,
            Meaning::StatusKey,
            format!("/{} ({} matches) ", st.search, st.matches.len()),
        ));
    }
    let block = pane_block(app, Pane::Diff, title_line(app, Pane::Diff, extra));
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let w = inner.width as usize;
    if let Some(id) = &st.loading {
        f.render_widget(
            Line::styled(
                fit(&format!("loading and highlighting {id}…"), w),
                t.get(Meaning::Muted),
            ),
            row(inner, 0),
        );
        return;
    }
    if let Some(e) = &st.error {
        let (m, text) = crate::tui::errors::line("", e);
        f.render_widget(Line::styled(fit(&text, w), t.get(m)), row(inner, 0));
        return;
    }
    let Some(doc) = &st.doc else {
        f.render_widget(
            Line::styled(
                fit("no plan open: press enter on a plan in the approvals queue (4) or the preview (2)", w),
                t.get(Meaning::Muted),
            ),
            row(inner, 0),
        );
        return;
    };
    f.render_widget(
        clip(
            Line::from(vec![
                styled(app, Meaning::Muted, "compared with "),
                styled(app, Meaning::Text, doc.against.clone()),
            ]),
            inner.width,
        ),
        row(inner, 0),
    );
    let body = Rect {
        y: inner.y + 1,
        height: inner.height - 1,
        ..inner
    };
    if st.side_by_side {
        draw_side_by_side(f, body, app, doc);
    } else {
        draw_unified(f, body, app, doc);
    }
}

fn kind_style(t: &Theme, k: RowKind) -> Style {
    t.get(match k {
        RowKind::Add => Meaning::DiffAdd,
        RowKind::Remove => Meaning::DiffRemove,
        RowKind::Context => Meaning::DiffContext,
        RowKind::Hunk => Meaning::DiffHunk,
        RowKind::File => Meaning::DiffFile,
        RowKind::Change => Meaning::DiffHunk,
    })
}

fn sign(k: RowKind) -> &'static str {
    match k {
        RowKind::Add => "+",
        RowKind::Remove => "-",
        RowKind::Change => "~",
        _ => " ",
    }
}

fn num(n: Option<u32>, w: usize) -> String {
    n.map(|n| format!("{n:>w$}"))
        .unwrap_or_else(|| " ".repeat(w))
}

/// The code of a row from column `skip`, in `w` cells, coloured by the cached highlight spans
/// over the row's diff style; a `›` at the edge shows that the line goes on.
fn code_spans(app: &App, r: &Row, base: Style, skip: usize, w: usize) -> Vec<Span<'static>> {
    let cell = |c: char| if c == '\t' { 1 } else { c.width().unwrap_or(0) };
    let total: usize = r.text.chars().map(cell).sum();
    let cut = total.saturating_sub(skip) > w;
    let room = if cut { w.saturating_sub(1) } else { w };
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut cur = String::new();
    let mut cur_style = base;
    let mut col = 0usize;
    let mut used = 0usize;
    let mut span_i = 0usize;
    for (bi, c) in r.text.char_indices() {
        let cw = cell(c);
        if col < skip {
            col += cw;
            continue;
        }
        if used + cw > room {
            break;
        }
        while span_i < r.spans.len() && (r.spans[span_i].end as usize) <= bi {
            span_i += 1;
        }
        let style = match r.spans.get(span_i) {
            Some(s) if (s.start as usize) <= bi && !app.theme.no_color => base.fg(s.fg),
            _ => base,
        };
        if style != cur_style && !cur.is_empty() {
            out.push(Span::styled(std::mem::take(&mut cur), cur_style));
        }
        cur_style = style;
        cur.push(if c == '\t' { ' ' } else { c });
        col += cw;
        used += cw;
    }
    if !cur.is_empty() {
        out.push(Span::styled(cur, cur_style));
    }
    let pad = room.saturating_sub(used);
    if pad > 0 {
        out.push(Span::styled(" ".repeat(pad), base));
    }
    if cut {
        out.push(Span::styled("›", base.patch(app.theme.get(Meaning::Muted))));
    }
    out
}

fn header_line(app: &App, r: &Row, w: usize) -> Line<'static> {
    let style = kind_style(&app.theme, r.kind);
    let text = if r.kind == RowKind::File {
        format!("── {} ", r.text)
    } else {
        r.text.clone()
    };
    Line::styled(crate::tui::text::pad(&text, w), style)
}

fn draw_unified(f: &mut Frame, area: Rect, app: &App, doc: &DiffDoc) {
    let st = &app.diff;
    let t = &app.theme;
    let w = area.width as usize;
    let nw = doc
        .rows
        .iter()
        .filter_map(|r| r.new_no.max(r.old_no))
        .max()
        .unwrap_or(1)
        .to_string()
        .len()
        .max(3);
    let gutter = nw * 2 + 4;
    for (i, r) in doc
        .rows
        .iter()
        .enumerate()
        .skip(st.scroll)
        .take(area.height as usize)
    {
        let y = (i - st.scroll) as u16;
        let line = match r.kind {
            RowKind::File | RowKind::Hunk => header_line(app, r, w),
            _ => {
                let base = kind_style(t, r.kind);
                let lno = if st.matches.binary_search(&i).is_ok() {
                    t.get(Meaning::SearchMatch)
                } else {
                    t.get(Meaning::DiffLineNo)
                };
                let mut spans = vec![
                    Span::styled(format!("{} {} ", num(r.old_no, nw), num(r.new_no, nw)), lno),
                    Span::styled(format!("{} ", sign(r.kind)), base),
                ];
                spans.extend(code_spans(
                    app,
                    r,
                    base,
                    st.hscroll,
                    w.saturating_sub(gutter),
                ));
                Line::from(spans)
            }
        };
        f.render_widget(line, row(area, y));
    }
}

fn draw_side_by_side(f: &mut Frame, area: Rect, app: &App, doc: &DiffDoc) {
    let st = &app.diff;
    let t = &app.theme;
    let half = (area.width.saturating_sub(1) / 2) as usize;
    let nw = 4;
    for (i, (l, r)) in doc
        .pairs
        .iter()
        .enumerate()
        .skip(st.scroll)
        .take(area.height as usize)
    {
        let y = (i - st.scroll) as u16;
        let header = l
            .and_then(|x| doc.rows.get(x))
            .filter(|x| matches!(x.kind, RowKind::File | RowKind::Hunk));
        if let Some(h) = header {
            f.render_widget(header_line(app, h, area.width as usize), row(area, y));
            continue;
        }
        let side = |idx: &Option<usize>, old: bool| -> Vec<Span<'static>> {
            match idx.and_then(|x| doc.rows.get(x)) {
                Some(r) => {
                    let base = kind_style(t, r.kind);
                    let is_match = idx.is_some_and(|x| st.matches.binary_search(&x).is_ok());
                    let lno = if is_match {
                        t.get(Meaning::SearchMatch)
                    } else {
                        t.get(Meaning::DiffLineNo)
                    };
                    let mut v = vec![
                        Span::styled(
                            format!("{} ", num(if old { r.old_no } else { r.new_no }, nw)),
                            lno,
                        ),
                        Span::styled(sign(r.kind).to_string(), base),
                    ];
                    v.extend(code_spans(
                        app,
                        r,
                        base,
                        st.hscroll,
                        half.saturating_sub(nw + 2),
                    ));
                    v
                }
                None => vec![Span::styled(" ".repeat(half), t.get(Meaning::Muted))],
            }
        };
        let mut spans = side(l, true);
        spans.push(Span::styled("│", t.get(Meaning::Border)));
        spans.extend(side(r, false));
        f.render_widget(Line::from(spans), row(area, y));
    }
}
