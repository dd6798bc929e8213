//! Fitting text into cells: display width, visible cuts (an ellipsis, never a silent cut),
//! wrapping, and column widths that give up the least important text first.
//!
//! This is also where the console makes text safe to show: [`safe`] (used by [`fit`], [`pad`],
//! [`wrap`], `ui::styled` and the transcript) turns controls, bidi and invisible characters
//! into visible `\u{..}` escapes, and [`scrub`] checks every drawn frame for anything that
//! still slipped through.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub const ELLIPSIS: char = '…';

/// Text for one row of a pane: [`crate::sanitize::line`], with a tab as a space (a cell has
/// no tab stops).
pub fn safe(s: &str) -> Cow<'_, str> {
    if s.contains('\t') {
        Cow::Owned(crate::sanitize::line(&s.replace('\t', " ")).into_owned())
    } else {
        crate::sanitize::line(s)
    }
}

/// [`safe`] for an owned string, reusing it when it is clean.
pub fn safe_owned(s: String) -> String {
    match safe(&s) {
        Cow::Owned(o) => o,
        Cow::Borrowed(_) => s,
    }
}

/// The last check of every frame: a cell still holding a character that [`safe`] escapes (a
/// component drew text around it) loses that character, and a cell left empty shows `�`, so
/// nothing raw reaches the terminal even when a component forgot [`safe`].
pub fn scrub(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        let symbol = cell.symbol();
        if symbol.bytes().all(|b| (0x20..0x7f).contains(&b))
            || matches!(crate::sanitize::line(symbol), Cow::Borrowed(_))
        {
            continue;
        }
        let kept: String = symbol
            .chars()
            .filter(|c| !crate::sanitize::is_unsafe(*c))
            .collect();
        if kept.is_empty() {
            cell.set_symbol("\u{fffd}");
        } else {
            cell.set_symbol(&kept);
        }
    }
}

/// Display width of `s` as [`safe`] shows it.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(safe(s).as_ref())
}

/// `s` in at most `w` cells; a cut shows as a trailing ellipsis.
pub fn fit(s: &str, w: usize) -> String {
    let s = safe(s);
    let s = s.as_ref();
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > w - 1 {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push(ELLIPSIS);
    out
}

/// `s` padded with spaces or cut (visibly) to exactly `w` cells.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = fit(s, w);
    let n = width(&out);
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(n)));
    out
}

/// Character wrap to `w` cells (terminal output rarely has useful word boundaries).
pub fn wrap(s: &str, w: usize) -> Vec<String> {
    if w == 0 {
        return vec![String::new()];
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut used = 0;
    for c in safe(s).chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw > w {
            lines.push(std::mem::take(&mut cur));
            used = 0;
        }
        cur.push(c);
        used += cw;
    }
    lines.push(cur);
    lines
}

/// Where rows break when `cells` (each character with its display width) are wrapped to `w`
/// cells at word boundaries: rows after the first are `indent` cells narrower (a hanging
/// indent), spaces at a break are dropped, and a word longer than a row is cut where it must.
/// Returns the index ranges of the rows.
pub fn word_rows(cells: &[(char, usize)], w: usize, indent: usize) -> Vec<std::ops::Range<usize>> {
    let mut rows = Vec::new();
    let mut start = 0;
    if w == 0 || cells.is_empty() {
        rows.push(0..cells.len());
        return rows;
    }
    let indent = if indent * 2 > w { 0 } else { indent };
    while start < cells.len() {
        let avail = if rows.is_empty() { w } else { w - indent };
        let mut used = 0;
        let mut end = start;
        while end < cells.len() && used + cells[end].1 <= avail {
            used += cells[end].1;
            end += 1;
        }
        if end == cells.len() {
            rows.push(start..end);
            break;
        }
        // Break after the last space that leaves something on this row, unless the word
        // after it would not fit a row anyway (a hash, a long address): that is cut in place.
        let word_w = |from: usize| -> usize {
            cells[from..]
                .iter()
                .skip_while(|c| c.0 == ' ')
                .take_while(|c| c.0 != ' ')
                .map(|c| c.1)
                .sum()
        };
        let cut = (start + 1..=end)
            .rev()
            .find(|i| cells[*i].0 == ' ' && cells[*i - 1].0 != ' ')
            .filter(|i| word_w(*i + 1) <= w - indent);
        let (row_end, next) = match cut {
            Some(i) => (i, i),
            None => (end.max(start + 1), end.max(start + 1)),
        };
        let mut row_end = row_end;
        while row_end > start && cells[row_end - 1].0 == ' ' {
            row_end -= 1;
        }
        rows.push(start..row_end);
        start = next;
        while start < cells.len() && cells[start].0 == ' ' {
            start += 1;
        }
    }
    rows
}

/// The hanging indent of a line: its leading spaces, plus a list marker and its space
/// ("▸ ", "› ", "✓ ", "· "…) so continued rows line up with the text.
pub fn hanging_indent(s: &str) -> usize {
    let lead = s.chars().take_while(|c| *c == ' ').count();
    let mut rest = s[lead..].chars();
    match (rest.next(), rest.next()) {
        (Some(m), Some(' ')) if "▸›✓✗·•-+~!*".contains(m) => {
            lead + 1 + m.width().unwrap_or(1)
        }
        _ => lead,
    }
}

/// The hanging indent of a labelled line ("  summary    create stack…"): continued rows line
/// up with the value after the label column (a gap of two or more spaces ending within the
/// first 16 cells); otherwise [`hanging_indent`].
pub fn label_indent(s: &str) -> usize {
    let cells: Vec<char> = s.chars().take(17).collect();
    let lead = cells.iter().take_while(|c| **c == ' ').count();
    let mut i = lead;
    while i + 2 < cells.len() {
        if cells[i] == ' ' && cells[i + 1] == ' ' {
            let end = (i..cells.len()).find(|j| cells[*j] != ' ');
            return match end {
                Some(e) if e <= 16 => e,
                _ => hanging_indent(s),
            };
        }
        i += 1;
    }
    hanging_indent(s)
}

/// A styled line in rows of `w` cells, wrapped at word boundaries, rows after the first
/// indented by `indent` cells.
pub fn wrap_line(
    line: &ratatui::text::Line<'static>,
    w: usize,
    indent: usize,
) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    let mut cells: Vec<(char, usize)> = Vec::new();
    let mut styles = Vec::new();
    for span in &line.spans {
        for c in safe(&span.content).chars() {
            cells.push((c, c.width().unwrap_or(0)));
            styles.push(span.style);
        }
    }
    let ranges = word_rows(&cells, w, indent);
    let indent = if indent * 2 > w { 0 } else { indent };
    ranges
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let mut spans: Vec<Span<'static>> = Vec::new();
            if n > 0 && indent > 0 {
                spans.push(Span::raw(" ".repeat(indent)));
            }
            let mut cur = String::new();
            let mut style = None;
            for i in r {
                if style.is_some_and(|st| st != styles[i]) {
                    spans.push(Span::styled(
                        std::mem::take(&mut cur),
                        style.unwrap_or_default(),
                    ));
                }
                style = Some(styles[i]);
                cur.push(cells[i].0);
            }
            if !cur.is_empty() {
                spans.push(Span::styled(cur, style.unwrap_or_default()));
            }
            Line::from(spans).style(line.style)
        })
        .collect()
}

/// Column needs of a result table: every column wants its widest cell; the first (usually an
/// identifier) keeps its full width up to 24 cells; the others give way widest first, down to
/// their header's width (at least 3, at most 8), so one long cell (an error message) is cut
/// instead of pushing every row past the pane.
pub fn table_cols(header: &[String], rows: &[Vec<String>]) -> Vec<Col> {
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let want = rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| width(c))
                .chain([width(h)])
                .max()
                .unwrap_or(1)
                .min(u16::MAX as usize / 4) as u16;
            if i == 0 {
                Col {
                    min: want.min(24),
                    want,
                    priority: u8::MAX,
                }
            } else {
                Col {
                    min: want.min((width(h) as u16).clamp(3, 8)),
                    want,
                    priority: (254 - want.min(254)) as u8,
                }
            }
        })
        .collect()
}

/// How many rows `s` takes when wrapped to `w` cells.
pub fn wrapped_rows(s: &str, w: usize) -> usize {
    if w == 0 {
        return 1;
    }
    width(s).div_ceil(w).max(1)
}

/// A table column's needs: `min` is what it never goes below (identifiers: their full length),
/// `want` what it would like, `priority` who gives up space first (lowest first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Col {
    pub min: u16,
    pub want: u16,
    pub priority: u8,
}

/// Widths for `cols` within `total` cells (one cell of spacing between columns). Columns shrink
/// from the least important up; when even their minimums do not fit, the least important
/// columns are dropped (width 0) so identifiers stay whole.
pub fn allocate(total: u16, cols: &[Col]) -> Vec<u16> {
    let mut w: Vec<u16> = cols.iter().map(|c| c.want.max(c.min)).collect();
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|i| cols[*i].priority);
    let used = |w: &[u16]| -> u16 {
        let shown = w.iter().filter(|x| **x > 0).count() as u16;
        w.iter().sum::<u16>() + shown.saturating_sub(1)
    };
    for &i in &order {
        let over = used(&w).saturating_sub(total);
        if over == 0 {
            break;
        }
        let give = (w[i] - cols[i].min).min(over);
        w[i] -= give;
    }
    for &i in &order {
        if used(&w) <= total {
            break;
        }
        w[i] = 0;
    }
    // Spare room goes to the least constrained (last, usually free text) column.
    let spare = total.saturating_sub(used(&w));
    if spare > 0
        && let Some(last) = w.iter().rposition(|x| *x > 0)
    {
        w[last] += spare;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_show_an_ellipsis() {
        assert_eq!(fit("p-abcdefghij", 12), "p-abcdefghij");
        assert_eq!(fit("p-abcdefghij", 6), "p-abc…");
        assert_eq!(pad("ab", 4), "ab  ");
    }

    #[test]
    fn least_important_columns_give_way_first() {
        let cols = [
            Col {
                min: 12,
                want: 12,
                priority: 9,
            },
            Col {
                min: 4,
                want: 10,
                priority: 5,
            },
            Col {
                min: 5,
                want: 40,
                priority: 1,
            },
        ];
        assert_eq!(allocate(80, &cols), vec![12, 10, 56]);
        assert_eq!(allocate(30, &cols), vec![12, 10, 6]);
        assert_eq!(allocate(20, &cols), vec![12, 7, 0]);
    }

    #[test]
    fn hostile_text_shows_as_visible_escapes() {
        let hostile = "ok\x1b[2J\u{9b}1m\u{202e}txt\u{2028}";
        let shown = "ok\\u{1b}[2J\\u{9b}1m\\u{202e}txt\\u{2028}";
        assert_eq!(safe(hostile), shown);
        assert_eq!(fit(hostile, 80), shown);
        assert_eq!(width(hostile), shown.len());
        assert_eq!(wrap(hostile, 200), vec![shown.to_string()]);
        assert_eq!(safe("a\tb"), "a b");
        assert!(matches!(safe("plain ✓ text"), Cow::Borrowed(_)));
    }

    #[test]
    fn scrub_leaves_no_unsafe_character_in_a_frame() {
        let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, 4, 1));
        buf[(0, 0)].set_symbol("a\u{202e}");
        buf[(1, 0)].set_symbol("\u{1b}");
        buf[(2, 0)].set_symbol("👨\u{200d}👩");
        buf[(3, 0)].set_symbol("b");
        scrub(&mut buf);
        let symbols: Vec<&str> = buf.content.iter().map(|c| c.symbol()).collect();
        assert_eq!(symbols, vec!["a", "\u{fffd}", "👨\u{200d}👩", "b"]);
    }

    fn words(s: &str, w: usize) -> Vec<String> {
        let cells: Vec<(char, usize)> = s.chars().map(|c| (c, c.width().unwrap_or(0))).collect();
        let indent = hanging_indent(s);
        word_rows(&cells, w, indent)
            .into_iter()
            .enumerate()
            .map(|(n, r)| {
                let text: String = cells[r].iter().map(|c| c.0).collect();
                if n == 0 {
                    text
                } else {
                    format!("{}{text}", " ".repeat(indent))
                }
            })
            .collect()
    }

    #[test]
    fn wraps_at_word_boundaries_with_a_hanging_indent() {
        assert_eq!(
            words("  queued for approval: another person approves it", 20),
            vec![
                "  queued for",
                "  approval: another",
                "  person approves it"
            ]
        );
        assert_eq!(
            words("▸ [ops] instances tagged Env=staging", 16),
            vec!["▸ [ops]", "  instances", "  tagged", "  Env=staging"]
        );
        // A word longer than a row is cut where it must; nothing is lost.
        assert_eq!(words("abcdefghij xy", 4), vec!["abcd", "efgh", "ij", "xy"]);
        assert_eq!(
            words("hash 0123456789abcdef", 10),
            vec!["hash 01234", "56789abcde", "f"]
        );
        assert_eq!(
            words("hash   0123456789abcdef", 12),
            vec!["hash   01234", "56789abcdef"]
        );
        assert_eq!(words("short", 80), vec!["short"]);
        assert_eq!(words("", 10), vec![""]);
    }

    #[test]
    fn labelled_lines_continue_under_their_value() {
        assert_eq!(label_indent("  summary    create stack"), 13);
        assert_eq!(label_indent("             INFO dry_run"), 13);
        assert_eq!(label_indent("Plan p-logs7demo3  [PENDING]"), 0);
        assert_eq!(label_indent("▸ [ops] x"), 2);
        let line = ratatui::text::Line::from("  summary    create stack logs-demo in eu-west-1");
        let rows: Vec<String> = wrap_line(&line, 30, 13)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            rows,
            vec![
                "  summary    create stack",
                "             logs-demo in",
                "             eu-west-1"
            ]
        );
    }

    #[test]
    fn a_long_cell_gives_way_before_the_identifier() {
        let header = vec!["INSTANCE".to_string(), "STATE".into(), "ERROR".into()];
        let rows = vec![vec![
            "i-0abc12345def67890".to_string(),
            "failed".into(),
            "x".repeat(300),
        ]];
        let cols = table_cols(&header, &rows);
        let w = allocate(60, &cols);
        assert_eq!(w[0], 19);
        assert_eq!(w[1], 6);
        assert_eq!(w.iter().sum::<u16>() + 2, 60);
    }

    #[test]
    fn wraps_by_width() {
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrapped_rows("abcdef", 4), 2);
    }
}
