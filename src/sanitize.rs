//! Text from requests, plans, the store or AWS never reaches a terminal, a spreadsheet or a JSON
//! reader as anything but text: one output sanitiser that every front end's output goes through.
//!
//! A character that could act on a terminal or hide what an approver reads is replaced with a
//! visible escape, `\u{HEX}` (lower-case hex of the code point, as Rust writes it), so
//! `\x1b[2J` prints as `\u{1b}[2J` and a right-to-left override as `\u{202e}`. Such
//! characters are:
//! - C0 controls (U+0000–U+001F; `\n` and `\t` stay in [`terminal`], multi-line text, and so
//!   does the `\r` of a `\r\n` line end), DEL and the C1 controls (U+007F–U+009F, which
//!   include the one-character CSI U+009B and NEL U+0085);
//! - the line and paragraph separators U+2028 and U+2029;
//! - every format (Cf) character: bidi embeddings, overrides, isolates and marks (U+202A–U+202E,
//!   U+2066–U+2069, U+200E, U+200F, U+061C), zero-width space and joiners, word joiner and
//!   invisible operators, the byte order mark U+FEFF, soft hyphen, interlinear annotations,
//!   tag characters (U+E0000 block), and the rest of the category;
//! - the invisible Hangul fillers (U+115F, U+1160, U+3164, U+FFA0).
//!
//! One exception keeps other scripts and emoji readable: the zero-width joiner and non-joiner
//! (U+200D, U+200C) stay when both neighbours are visible non-ASCII characters (as in emoji
//! sequences or Persian and Indic words); next to ASCII they can only hide something.
//!
//! Clean text is returned borrowed: sanitising costs one scan and no allocation.
//! A literal backslash is left alone, so typing `\u{1b}` yourself shows the same six
//! characters; that can mislead nobody into seeing less than was there.

use std::borrow::Cow;

/// Text that may span lines (a plan, a report, an artifact): `\n`, `\t` and `\r\n` stay.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape(s, Lines::Kept)
}

/// One line (a table cell, a field, an error message): line breaks and tabs are escaped too,
/// so data cannot start a line of its own that looks like part of the output.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, Lines::Escaped)
}

/// Whether `c` is never shown raw (the ZWJ/ZWNJ exception aside, which needs context).
pub fn is_unsafe(c: char) -> bool {
    is_control(c) || is_invisible(c) || is_joiner(c)
}

/// A CSV cell that a spreadsheet shows as text: [`terminal`] escapes, and a cell that a
/// spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return, or their full-width forms) gets a leading `'`, as OWASP recommends. Plain numbers
/// such as `-12.50` stay numbers.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let starts_formula = s.starts_with([
        '=', '+', '-', '@', '\t', '\r', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
    ]);
    if starts_formula && !is_plain_number(s) {
        return Cow::Owned(format!("'{}", terminal(s)));
    }
    terminal(s)
}

/// JSON text (as serde_json writes it) with every character [`is_unsafe`] as a `\uXXXX`
/// escape: the same JSON value, but nothing in it acts on a terminal that shows it.
/// serde_json already escapes C0 controls; DEL, C1 controls, U+2028/2029 and format
/// characters it writes raw. Outside strings JSON is ASCII, so only string contents change.
pub fn json(text: &str) -> Cow<'_, str> {
    use std::fmt::Write;
    // Raw C0 characters in serde_json's output are its own line breaks and indentation.
    let escaped = |c: char| c == '\u{7f}' || (!c.is_ascii() && is_unsafe(c));
    let Some(first) = text.find(escaped) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if escaped(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `v` as pretty JSON text passed through [`json`].
pub fn to_json_pretty<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    serde_json::to_string_pretty(v).map(|s| json(&s).into_owned())
}

/// `v` as one line of JSON text passed through [`json`].
pub fn to_json_line<T: serde::Serialize + ?Sized>(v: &T) -> serde_json::Result<String> {
    serde_json::to_string(v).map(|s| json(&s).into_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    Kept,
    Escaped,
}

fn escape(s: &str, lines: Lines) -> Cow<'_, str> {
    // Fast path: printable ASCII (and, for multi-line text, \n and \t) needs no look at all.
    let needs_look = |b: &u8| match *b {
        0x20..=0x7e => false,
        b'\n' | b'\t' => lines == Lines::Escaped,
        _ => true,
    };
    let Some(start) = s.as_bytes().iter().position(needs_look) else {
        return Cow::Borrowed(s);
    };
    let mut out: Option<String> = None;
    let mut prev = s[..start].chars().next_back();
    let mut chars = s[start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        let keep = shown_raw(c, prev, next, lines);
        match (&mut out, keep) {
            (None, true) => {}
            (None, false) => {
                let mut o = String::with_capacity(s.len() + 16);
                o.push_str(&s[..start + i]);
                push_escape(&mut o, c);
                out = Some(o);
            }
            (Some(o), true) => o.push(c),
            (Some(o), false) => push_escape(o, c),
        }
        prev = Some(c);
    }
    out.map_or(Cow::Borrowed(s), Cow::Owned)
}

/// Whether `c`, between `prev` and `next`, may be printed as it is.
fn shown_raw(c: char, prev: Option<char>, next: Option<char>, lines: Lines) -> bool {
    match c {
        '\n' | '\t' => lines == Lines::Kept,
        '\r' => lines == Lines::Kept && next == Some('\n'),
        c if is_joiner(c) => {
            let visible_non_ascii =
                |c: char| !c.is_ascii() && !is_control(c) && !is_invisible(c) && !is_joiner(c);
            prev.is_some_and(visible_non_ascii) && next.is_some_and(visible_non_ascii)
        }
        c => !is_control(c) && !is_invisible(c),
    }
}

fn push_escape(out: &mut String, c: char) {
    use std::fmt::Write;
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

/// C0, DEL, C1.
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200c}' | '\u{200d}')
}

/// Line/paragraph separators, format (Cf) characters other than the joiners, and the
/// invisible fillers. The Cf list is Unicode 16's.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{180e}'
            | '\u{200b}'
            | '\u{200e}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{3164}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// `-12.50`, `+3`: a sign, digits, at most one decimal point, nothing else.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_borrowed(c: Cow<'_, str>) -> bool {
        matches!(c, Cow::Borrowed(_))
    }

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in [
            "Create 3 t3.medium instances in ap-south-1 with ALB",
            "",
            "naïve café · 東京 → ✓ 👍",
            "a\tb",
        ] {
            assert!(is_borrowed(terminal(s)), "{s:?}");
            assert_eq!(terminal(s), s);
        }
        assert!(is_borrowed(terminal("two\nlines\r\n")));
        assert!(is_borrowed(line("one line, ünïcode")));
        assert!(is_borrowed(csv_cell("web-demo")));
        assert!(is_borrowed(json(r#"{"a":"b ü"}"#)));
    }

    #[test]
    fn terminal_sequences_become_visible_escapes() {
        let out = terminal("ok\x1b[2Jcleared\x1b]0;owned\x07\x1b[1;1H\u{9b}31m");
        assert_eq!(
            out,
            "ok\\u{1b}[2Jcleared\\u{1b}]0;owned\\u{7}\\u{1b}[1;1H\\u{9b}31m"
        );
        assert!(!out.bytes().any(|b| b == 0x1b || b == 0x07));
        // U+009B is C2 9B in UTF-8.
        assert!(!out.as_bytes().windows(2).any(|w| w == [0xc2, 0x9b]));
        assert_eq!(terminal("\x7f\0\u{85}"), "\\u{7f}\\u{0}\\u{85}");
    }

    #[test]
    fn bidi_separators_and_invisibles_are_escaped() {
        let cases = [
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{61c}', "\\u{61c}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{e0041}', "\\u{e0041}"),
            ('\u{3164}', "\\u{3164}"),
        ];
        for (c, want) in cases {
            let s = format!("a{c}b");
            let out = terminal(&s);
            assert_eq!(out, format!("a{want}b"), "U+{:04X}", c as u32);
            assert!(!out.contains(c));
            assert!(is_unsafe(c));
        }
    }

    #[test]
    fn lines_and_tabs_depend_on_the_variant() {
        assert_eq!(terminal("a\nb\tc\r\nd"), "a\nb\tc\r\nd");
        assert_eq!(terminal("a\rb"), "a\\u{d}b");
        assert_eq!(terminal("a\r"), "a\\u{d}");
        assert_eq!(line("a\nb\tc\r\n"), "a\\u{a}b\\u{9}c\\u{d}\\u{a}");
        assert_eq!(
            line("req\nrisk      low").as_bytes(),
            b"req\\u{a}risk      low"
        );
    }

    #[test]
    fn joiners_stay_only_between_visible_non_ascii() {
        let family = "👨\u{200d}👩\u{200d}👧";
        assert!(is_borrowed(terminal(family)));
        let persian = "می\u{200c}خواهم";
        assert!(is_borrowed(terminal(persian)));
        assert_eq!(terminal("p-ab\u{200d}cd"), "p-ab\\u{200d}cd");
        assert_eq!(terminal("\u{200c}"), "\\u{200c}");
        assert_eq!(terminal("é\u{200d}"), "é\\u{200d}");
        assert_eq!(terminal("é\u{200d}\u{202e}x"), "é\\u{200d}\\u{202e}x");
    }

    #[test]
    fn escape_starting_after_clean_prefix_keeps_the_prefix() {
        assert_eq!(terminal("héllo\u{1b}"), "héllo\\u{1b}");
        assert_eq!(terminal("\u{1b}"), "\\u{1b}");
    }

    #[test]
    fn csv_cells_cannot_become_formulas() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+1+2"), "'+1+2");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "'\\u{d}x");
        assert_eq!(csv_cell("＝1+1"), "'＝1+1");
        assert_eq!(csv_cell("=\x1b[2J"), "'=\\u{1b}[2J");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell("ok\u{202e}"), "ok\\u{202e}");
        for n in ["-12.50", "+3", "0.25", "-7"] {
            assert!(is_borrowed(csv_cell(n)), "{n}");
        }
        for not_number in ["-", "-.5", "-1.", "-1e5", "-1.2.3"] {
            assert!(csv_cell(not_number).starts_with('\''), "{not_number}");
        }
    }

    #[test]
    fn json_keeps_the_value_and_escapes_what_serde_leaves_raw() {
        let value = serde_json::json!({
            "m": "x\u{1b}[2J\u{9b}1m\u{2028}\u{202e}\u{7f}\u{e0041}ü"
        });
        let text = to_json_pretty(&value).unwrap();
        for bad in [
            '\u{1b}',
            '\u{9b}',
            '\u{2028}',
            '\u{202e}',
            '\u{7f}',
            '\u{e0041}',
        ] {
            assert!(!text.contains(bad), "U+{:04X} in {text}", bad as u32);
        }
        assert!(text.contains("\\u2028") && text.contains("\\u009b"));
        // Astral characters as a surrogate pair.
        assert!(text.contains("\\udb40\\udc41"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
        let one = to_json_line(&value).unwrap();
        assert!(!one.contains('\n'));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&one).unwrap(),
            value
        );
    }
}
