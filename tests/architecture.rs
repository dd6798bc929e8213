//! The shape the code keeps (issue 15): front ends never reach the store, the runners never
//! import the agents, and no source file grows past ~800 lines without saying why. Read from
//! the source tree, so a change that breaks the shape fails here with the place to look.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn tree(sub: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let start = root.join(sub);
    if start.is_dir() {
        sources(&start, &mut files);
    } else {
        files.push(start.with_extension("rs"));
    }
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.strip_prefix(&root).unwrap().display().to_string();
            (name, text)
        })
        .collect()
}

/// Lines that are code, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(n, l)| (n + 1, l))
}

#[test]
fn front_ends_never_reach_the_store() {
    let mut found = Vec::new();
    for front in ["cli", "tui", "mcp"] {
        for (name, text) in tree(front) {
            for (n, line) in code_lines(&text) {
                if line.contains("raw_store") || line.contains("dyn Store") {
                    found.push(format!("src/{name}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "front ends go through Deck, never the store:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_tests_use_the_raw_store() {
    let mut found = Vec::new();
    for (name, text) in tree("") {
        if name == "pipeline/session.rs" {
            continue;
        }
        for (n, line) in code_lines(&text) {
            if line.contains("raw_store(") {
                found.push(format!("src/{name}:{n}"));
            }
        }
    }
    assert!(found.is_empty(), "raw_store is for tests: {found:?}");
}

#[test]
fn runners_never_import_the_agents() {
    let mut found = Vec::new();
    for (name, text) in tree("exec") {
        for (n, line) in code_lines(&text) {
            if line.contains("crate::agents") {
                found.push(format!("src/{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "exec/ runs tools for whoever asks; its event types live in events/:\n{}",
        found.join("\n")
    );
}

#[test]
fn long_files_say_why_they_stay_whole() {
    let mut long = Vec::new();
    for (name, text) in tree("") {
        let lines = text.lines().count();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!") || l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        if lines > 800 && !header.to_lowercase().contains("kept whole") {
            long.push(format!("src/{name}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern, or give the //! header a `Kept whole: <reason>` line:\n{}",
        long.join("\n")
    );
}
