//! Words about the library: which entry a request names ("deploy our web-tier module"), and
//! what changed between two versions (a unified diff per file, and the manifest's words).

use similar::TextDiff;

use super::{EntryRef, Manifest};

/// Words that, after an entry's name, say the request means the library entry.
const ENTRY_NOUNS: &[&str] = &["module", "playbook", "template", "entry", "script"];

/// Whether the words could name an entry at all (an entry noun or an `@`): only then is the
/// library read, so other requests cost nothing.
pub fn may_name_entry(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains('@')
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| ENTRY_NOUNS.contains(&w))
}

/// The library entry a request names, among `names` (the tenant's entries): `NAME@V` anywhere,
/// or the name followed by "module", "playbook", "template", "entry" or "script" ("deploy our
/// web-tier module", "run our disk-cleanup script on …"), or "library entry NAME". Words only select an entry: nothing of the text enters
/// an artifact.
pub fn referenced_entry<'a>(
    text: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<EntryRef> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '@'))
        .filter(|w| !w.is_empty())
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    for (i, w) in words.iter().enumerate() {
        let (head, version) = match w.split_once('@') {
            Some((h, v)) => (h, v.strip_prefix('v').unwrap_or(v).parse::<u32>().ok()),
            None => (*w, None),
        };
        if !names.contains(&head) {
            continue;
        }
        let named = version.is_some_and(|v| v >= 1)
            || words.get(i + 1).is_some_and(|n| ENTRY_NOUNS.contains(n))
            || (i >= 2 && words[i - 2] == "library" && words[i - 1] == "entry");
        if named {
            return Some(EntryRef {
                name: head.to_string(),
                version: version.filter(|v| *v >= 1),
            });
        }
    }
    None
}

/// Two versions compared: the manifest's words that differ, then each file as a unified diff
/// (files only in one version shown whole as added or removed). `a_files` and `b_files` are
/// (name, text) pairs.
pub fn diff_versions(
    a_label: &str,
    a: &Manifest,
    a_files: &[(String, String)],
    b_label: &str,
    b: &Manifest,
    b_files: &[(String, String)],
) -> String {
    let mut out = String::new();
    let field = |out: &mut String, what: &str, x: String, y: String| {
        if x != y {
            out.push_str(&format!("{what}: {x} -> {y}\n"));
        }
    };
    field(&mut out, "kind", a.kind.to_string(), b.kind.to_string());
    field(
        &mut out,
        "description",
        format!("{:?}", a.description),
        format!("{:?}", b.description),
    );
    field(&mut out, "tags", a.tags.join(","), b.tags.join(","));
    let params = |m: &Manifest| {
        m.params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{}:{}={d}", p.name, p.kind.as_str()),
                None => format!("{}:{}", p.name, p.kind.as_str()),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    field(&mut out, "parameters", params(a), params(b));
    diff_files(&mut out, a_label, a_files, b_label, b_files);
    if out.is_empty() {
        out.push_str("no differences\n");
    }
    out
}

/// Each file that differs as a unified diff (a file only on one side shown whole, against
/// `/dev/null`), appended to `out`.
pub fn diff_files(
    out: &mut String,
    a_label: &str,
    a_files: &[(String, String)],
    b_label: &str,
    b_files: &[(String, String)],
) {
    let mut names: Vec<&str> = a_files
        .iter()
        .chain(b_files)
        .map(|(n, _)| n.as_str())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let old = a_files.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        let new = b_files.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        if old == new {
            continue;
        }
        let empty = String::new();
        let diff = TextDiff::from_lines(old.unwrap_or(&empty), new.unwrap_or(&empty));
        let from = match old {
            Some(_) => format!("{a_label}/{name}"),
            None => "/dev/null".to_string(),
        };
        let to = match new {
            Some(_) => format!("{b_label}/{name}"),
            None => "/dev/null".to_string(),
        };
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&from, &to)
                .to_string(),
        );
    }
}
