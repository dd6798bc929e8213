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

/// How many rows `s` takes when wrapped to `w` cells.
pub fn wrapped_rows(s: &str, w: usize) -> usize {
    if w == 0 {
        return 1;
    }
    width(s).div_ceil(w).max(1)
}

/// A table column's needs: `min` is what it never goes below (identifiers: their full length),
/// `want` what it would like, `priority` who gives up space first (lowest first).
#[derive(Debug, Clone, Copy)]
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

    #[test]
    fn wraps_by_width() {
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrapped_rows("abcdef", 4), 2);
    }
}
