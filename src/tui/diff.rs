//! The diff model: unified rows (with line numbers and highlight spans) and side-by-side pairs,
//! hunk starts and search matches, all computed once by a background job. Drawing picks the
//! visible rows and copies them.

use similar::{ChangeTag, TextDiff};

use super::highlight::{Highlighter, HlSpan};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    File,
    Hunk,
    Context,
    Add,
    Remove,
    /// A target an AWS API call changes in place (`~`).
    Change,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub kind: RowKind,
    pub old_no: Option<u32>,
    pub new_no: Option<u32>,
    pub text: String,
    pub spans: Vec<HlSpan>,
}

/// One file to compare; `old` is None for a new file, `new` None for a removed one.
pub struct FileInput {
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DiffDoc {
    pub rows: Vec<Row>,
    /// Side by side: (left row, right row); headers appear on both sides.
    pub pairs: Vec<(Option<usize>, Option<usize>)>,
    /// Row indexes where hunks (and file headers) start.
    pub hunks: Vec<usize>,
    pub files: Vec<usize>,
    pub added: usize,
    pub removed: usize,
    /// What the new version is compared with, for the header.
    pub against: String,
    /// AWS API calls listed before the files, and the targets they touch.
    pub calls: usize,
    pub targets: usize,
}

impl DiffDoc {
    pub fn build(inputs: &[FileInput], against: &str, hl: Option<(&Highlighter, &str)>) -> DiffDoc {
        let mut d = DiffDoc {
            against: against.to_string(),
            ..DiffDoc::default()
        };
        for f in inputs {
            // Escaped before highlighting and diffing, so spans and columns match what is drawn.
            let old = crate::sanitize::terminal(f.old.as_deref().unwrap_or(""));
            let new = crate::sanitize::terminal(f.new.as_deref().unwrap_or(""));
            let (old, new) = (old.as_ref(), new.as_ref());
            let (old_hl, new_hl) = match hl {
                Some((h, theme)) => (
                    Some(h.lines(old, &f.name, theme)),
                    Some(h.lines(new, &f.name, theme)),
                ),
                None => (None, None),
            };
            let spans_of = |side: &Option<super::highlight::Lines>, no: usize| -> Vec<HlSpan> {
                side.as_ref()
                    .and_then(|s| s.get(no).cloned())
                    .unwrap_or_default()
            };
            let state = match (&f.old, &f.new) {
                (None, Some(_)) => "new file",
                (Some(_), None) => "removed",
                _ if old == new => "unchanged",
                _ => "changed",
            };
            d.files.push(d.rows.len());
            d.hunks.push(d.rows.len());
            d.rows.push(Row {
                kind: RowKind::File,
                old_no: None,
                new_no: None,
                text: format!("{} ({state})", f.name),
                spans: Vec::new(),
            });
            let diff = TextDiff::from_lines(old, new);
            let groups = if old == new {
                // Unchanged files still show in full, so a reviewer sees the whole plan.
                vec![vec![similar::DiffOp::Equal {
                    old_index: 0,
                    new_index: 0,
                    len: new.lines().count(),
                }]]
            } else {
                diff.grouped_ops(3)
            };
            for group in groups {
                let (Some(first), Some(last)) = (group.first(), group.last()) else {
                    continue;
                };
                let o = first.old_range().start;
                let n = first.new_range().start;
                let ol = last.old_range().end - o;
                let nl = last.new_range().end - n;
                d.hunks.push(d.rows.len());
                d.rows.push(Row {
                    kind: RowKind::Hunk,
                    old_no: None,
                    new_no: None,
                    text: format!("@@ -{},{ol} +{},{nl} @@", o + 1, n + 1),
                    spans: Vec::new(),
                });
                for op in &group {
                    for change in diff.iter_changes(op) {
                        let text = change.value().trim_end_matches(['\n', '\r']).to_string();
                        let (kind, spans) = match change.tag() {
                            ChangeTag::Equal => (
                                RowKind::Context,
                                spans_of(&new_hl, change.new_index().unwrap_or(0)),
                            ),
                            ChangeTag::Insert => {
                                d.added += 1;
                                (
                                    RowKind::Add,
                                    spans_of(&new_hl, change.new_index().unwrap_or(0)),
                                )
                            }
                            ChangeTag::Delete => {
                                d.removed += 1;
                                (
                                    RowKind::Remove,
                                    spans_of(&old_hl, change.old_index().unwrap_or(0)),
                                )
                            }
                        };
                        d.rows.push(Row {
                            kind,
                            old_no: change.old_index().map(|i| i as u32 + 1),
                            new_no: change.new_index().map(|i| i as u32 + 1),
                            text,
                            spans,
                        });
                    }
                }
            }
        }
        d.pairs = pair_rows(&d.rows);
        d
    }

    /// A plan's AWS API calls as rows: a header per call, each target with what it was and what
    /// it becomes (`-` destroyed, `+` created, `~` changed in place), then the call's parameters.
    /// Targets' names and tags come from AWS: escaped like file text.
    pub fn calls(view: &crate::view::AwsChangeView<'_>, against: &str) -> DiffDoc {
        use crate::plan::ChangeAction;
        let mut d = DiffDoc {
            against: against.to_string(),
            calls: view.calls.len(),
            targets: view.target_count(),
            ..DiffDoc::default()
        };
        let safe = |t: &str| crate::sanitize::terminal(t).into_owned();
        let push = |d: &mut DiffDoc, kind: RowKind, text: String| d.push(kind, (None, None), text);
        let header = format!(
            "AWS API calls ({} call{}, {} target{})",
            d.calls,
            if d.calls == 1 { "" } else { "s" },
            d.targets,
            if d.targets == 1 { "" } else { "s" }
        );
        push(&mut d, RowKind::File, header);
        for c in &view.calls {
            push(&mut d, RowKind::Hunk, safe(&c.header()));
            push(&mut d, RowKind::Context, safe(c.description));
            let kind = match c.action {
                ChangeAction::Delete => RowKind::Remove,
                ChangeAction::Create => RowKind::Add,
                _ => RowKind::Change,
            };
            for t in &c.targets {
                match kind {
                    RowKind::Remove => d.removed += 1,
                    RowKind::Add => d.added += 1,
                    _ => {}
                }
                push(&mut d, kind, safe(&t.line()));
            }
            for (k, v) in &c.params {
                push(&mut d, RowKind::Context, safe(&format!("  {k} = {v}")));
            }
        }
        d.pairs = pair_rows(&d.rows);
        d
    }

    /// A unified diff given as text (`opsdeck library diff`: the manifest's words that differ,
    /// then each file's `---`/`+++` header and hunks), as rows: the words are changes under a
    /// "manifest" header, each file a file header. Hunk lengths are counted, so a removed line
    /// that itself starts with `--` is never read as a header.
    pub fn from_unified(text: &str, against: &str) -> DiffDoc {
        let mut d = DiffDoc {
            against: against.to_string(),
            ..DiffDoc::default()
        };
        let text = crate::sanitize::terminal(text);
        let lines: Vec<&str> = text.lines().collect();
        let push = |d: &mut DiffDoc, kind: RowKind, nos: (Option<u32>, Option<u32>), text: &str| {
            d.push(kind, nos, text.to_string())
        };
        // Lines of the current hunk still to read, and the next line numbers.
        let (mut old_left, mut new_left, mut old_no, mut new_no) = (0u32, 0u32, 0u32, 0u32);
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            i += 1;
            if old_left > 0 || new_left > 0 {
                let (kind, nos) = match l.as_bytes().first() {
                    Some(b'+') => {
                        new_left = new_left.saturating_sub(1);
                        new_no += 1;
                        d.added += 1;
                        (RowKind::Add, (None, Some(new_no - 1)))
                    }
                    Some(b'-') => {
                        old_left = old_left.saturating_sub(1);
                        old_no += 1;
                        d.removed += 1;
                        (RowKind::Remove, (Some(old_no - 1), None))
                    }
                    // "\ No newline at end of file" belongs to the line before.
                    Some(b'\\') => (RowKind::Context, (None, None)),
                    _ => {
                        old_left = old_left.saturating_sub(1);
                        new_left = new_left.saturating_sub(1);
                        old_no += 1;
                        new_no += 1;
                        (RowKind::Context, (Some(old_no - 1), Some(new_no - 1)))
                    }
                };
                push(&mut d, kind, nos, l.get(1..).unwrap_or(""));
                continue;
            }
            if let (Some(from), Some(to)) = (
                l.strip_prefix("--- "),
                lines.get(i).and_then(|n| n.strip_prefix("+++ ")),
            ) {
                i += 1;
                let header = match (from, to) {
                    (f, "/dev/null") => format!("{f} (removed)"),
                    ("/dev/null", t) => format!("{t} (new file)"),
                    (f, t) => format!("{f} → {t}"),
                };
                push(&mut d, RowKind::File, (None, None), &header);
                continue;
            }
            if let Some((o, n)) = hunk_ranges(l) {
                (old_no, old_left) = o;
                (new_no, new_left) = n;
                old_no = old_no.max(1);
                new_no = new_no.max(1);
                push(&mut d, RowKind::Hunk, (None, None), l);
                continue;
            }
            // The manifest's words that differ (or "no differences"), before any file.
            if d.rows.is_empty() {
                push(&mut d, RowKind::File, (None, None), "manifest");
            }
            push(&mut d, RowKind::Change, (None, None), l);
        }
        d.pairs = pair_rows(&d.rows);
        d
    }

    /// A row without highlighting, counted as a hunk or file start when it is one.
    fn push(&mut self, kind: RowKind, (old_no, new_no): (Option<u32>, Option<u32>), text: String) {
        if matches!(kind, RowKind::File | RowKind::Hunk) {
            self.hunks.push(self.rows.len());
        }
        if kind == RowKind::File {
            self.files.push(self.rows.len());
        }
        self.rows.push(Row {
            kind,
            old_no,
            new_no,
            text,
            spans: Vec::new(),
        });
    }

    /// `other`'s rows after these (the files after the calls).
    pub fn append(&mut self, other: DiffDoc) {
        let base = self.rows.len();
        self.hunks.extend(other.hunks.iter().map(|i| i + base));
        self.files.extend(other.files.iter().map(|i| i + base));
        self.rows.extend(other.rows);
        self.added += other.added;
        self.removed += other.removed;
        self.calls += other.calls;
        self.targets += other.targets;
        self.pairs = pair_rows(&self.rows);
    }

    /// Rows containing `query` (case-insensitive).
    pub fn find(&self, query: &str) -> Vec<usize> {
        if query.is_empty() {
            return Vec::new();
        }
        let q = query.to_lowercase();
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.text.to_lowercase().contains(&q))
            .map(|(i, _)| i)
            .collect()
    }

    /// Index into `pairs` showing row `row`, for jumping in side-by-side mode.
    pub fn pair_of(&self, row: usize) -> usize {
        self.pairs
            .iter()
            .position(|(l, r)| *l == Some(row) || *r == Some(row))
            .unwrap_or(0)
    }
}

/// `@@ -A,B +C,D @@`: ((A, B), (C, D)), a missing count being 1.
fn hunk_ranges(line: &str) -> Option<((u32, u32), (u32, u32))> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    Some((range(old)?, range(new)?))
}

/// Removes and adds that follow each other sit on the same line, as reviewers expect.
fn pair_rows(rows: &[Row]) -> Vec<(Option<usize>, Option<usize>)> {
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    while i < rows.len() {
        match rows[i].kind {
            RowKind::File | RowKind::Hunk | RowKind::Context | RowKind::Change => {
                out.push((Some(i), Some(i)));
                i += 1;
            }
            RowKind::Remove | RowKind::Add => {
                let mut dels = Vec::new();
                while i < rows.len() && rows[i].kind == RowKind::Remove {
                    dels.push(i);
                    i += 1;
                }
                let mut adds = Vec::new();
                while i < rows.len() && rows[i].kind == RowKind::Add {
                    adds.push(i);
                    i += 1;
                }
                for k in 0..dels.len().max(adds.len()) {
                    out.push((dels.get(k).copied(), adds.get(k).copied()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_file_is_all_additions_and_changes_pair_up() {
        let d = DiffDoc::build(
            &[FileInput {
                name: "main.tf".into(),
                old: None,
                new: Some("a\nb\n".into()),
            }],
            "empty",
            None,
        );
        assert_eq!(d.added, 2);
        assert_eq!(d.rows[0].kind, RowKind::File);
        let d = DiffDoc::build(
            &[FileInput {
                name: "main.tf".into(),
                old: Some("a\nb\nc\n".into()),
                new: Some("a\nB\nc\n".into()),
            }],
            "previous",
            None,
        );
        assert_eq!((d.added, d.removed), (1, 1));
        let changed = d.pairs.iter().find(|(l, r)| l != r).copied().unwrap();
        assert_eq!(d.rows[changed.0.unwrap()].text, "b");
        assert_eq!(d.rows[changed.1.unwrap()].text, "B");
        assert_eq!(d.find("B").len(), 2);
    }

    #[test]
    fn a_unified_diff_text_reads_back_as_rows_with_counted_hunks() {
        let text = "tags: web -> web,net\n--- web-tier@1/main.tf\n+++ web-tier@2/main.tf\n@@ -1,3 +1,3 @@\n a\n--- not a header\n+++ nor this\n c\n--- /dev/null\n+++ web-tier@2/extra.tf\n@@ -0,0 +1 @@\n+x\n";
        let d = DiffDoc::from_unified(text, "web-tier@1");
        let kinds: Vec<(RowKind, &str)> =
            d.rows.iter().map(|r| (r.kind, r.text.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (RowKind::File, "manifest"),
                (RowKind::Change, "tags: web -> web,net"),
                (RowKind::File, "web-tier@1/main.tf → web-tier@2/main.tf"),
                (RowKind::Hunk, "@@ -1,3 +1,3 @@"),
                (RowKind::Context, "a"),
                (RowKind::Remove, "-- not a header"),
                (RowKind::Add, "++ nor this"),
                (RowKind::Context, "c"),
                (RowKind::File, "web-tier@2/extra.tf (new file)"),
                (RowKind::Hunk, "@@ -0,0 +1 @@"),
                (RowKind::Add, "x"),
            ]
        );
        assert_eq!((d.added, d.removed), (2, 1));
        assert_eq!(d.rows[7].old_no, Some(3));
        assert_eq!(d.rows[10].new_no, Some(1));
        assert_eq!(d.files.len(), 3);
    }

    #[test]
    fn artifact_text_is_escaped_before_it_becomes_rows() {
        let d = DiffDoc::build(
            &[FileInput {
                name: "main.tf".into(),
                old: None,
                new: Some("tags = \"\u{1b}]0;x\u{7}\u{202e}\"\r\n\tok\n".into()),
            }],
            "empty",
            None,
        );
        let texts: Vec<&str> = d.rows[1..].iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "@@ -1,0 +1,2 @@",
                "tags = \"\\u{1b}]0;x\\u{7}\\u{202e}\"",
                "\tok"
            ]
        );
    }
}
