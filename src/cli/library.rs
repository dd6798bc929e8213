//! `library`: the core adds, saves, lists and compares entries; this reads the flags and lays
//! out what it returns.

use super::args::{LibraryCommand, LibraryWords};
use super::print::{print_block, print_json};
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::library::{self, EntryKind, EntrySummary, EntryWords};
use crate::pipeline::{Added, Deck, NewEntry};

pub fn run(deck: &Deck, cmd: LibraryCommand, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    let lib = deck.library();
    match cmd {
        LibraryCommand::Add {
            name,
            kind,
            from,
            words,
        } => {
            let added = lib.add(
                &NewEntry {
                    name,
                    kind: EntryKind::parse(&kind)?,
                    from,
                    words: entry_words(&words)?,
                },
                progress,
            )?;
            print_added(&added, json_out)
        }
        LibraryCommand::Save {
            plan_id,
            name,
            words,
        } => {
            let added = lib.save(&plan_id, &name, &entry_words(&words)?, progress)?;
            print_added(&added, json_out)
        }
        LibraryCommand::List { built_in: true } => {
            let templates = lib.builtin();
            if json_out {
                print_json(templates)?;
                return Ok(0);
            }
            for v in templates {
                let t = &v.template;
                outln!(
                    "{} ({}, {}, sha256 {})",
                    v.label,
                    t.kind,
                    t.file,
                    &v.sha256[..12]
                );
                outln!("    {}", t.description);
                if !t.reads.is_empty() {
                    outln!("    reads: {}", t.reads.join(", "));
                }
                if !t.safety.is_empty() {
                    outln!("    safety: {}", t.safety.join("; "));
                }
                if !t.limits.is_empty() {
                    outln!("    limits: {}", t.limits.join("; "));
                }
                match &v.stack_part {
                    Some(when) if when.is_empty() => outln!("    in every stack"),
                    Some(when) => outln!("    in a stack when: {}", when.join(" or ")),
                    None => {}
                }
            }
            Ok(0)
        }
        LibraryCommand::Show { entry } if library::builtin::is_builtin_name(&entry) => {
            let d = lib.show_builtin(&entry)?;
            if json_out {
                print_json(&d)?;
                return Ok(0);
            }
            let v = &d.version;
            outln!(
                "{} ({}, built-in: {}){}",
                v.label,
                v.template.kind,
                v.template.file,
                if d.current {
                    ""
                } else {
                    ", not this binary's version"
                }
            );
            outln!("  {}", v.template.description);
            outln!("  sha256 {}", v.sha256);
            outln!(
                "  template sha256 {} ({} bytes)",
                v.file_sha256,
                v.file_size
            );
            if d.used_by.is_empty() {
                outln!("  used by no plan yet");
            } else {
                outln!("  used by:");
                for u in &d.used_by {
                    outln!("    plan {} by {} at {}", u.plan_id, u.user, u.at);
                }
            }
            if d.versions.len() > 1 {
                outln!("  versions (plans rendered from each; show or compare one by SHA):");
                for s in &d.versions {
                    outln!(
                        "    {}@{}  {} plan{}{}{}{}",
                        v.label,
                        crate::approval::short(&s.sha256),
                        s.plans,
                        if s.plans == 1 { "" } else { "s" },
                        match (&s.first_used, &s.last_used) {
                            (Some(a), Some(b)) if a != b => format!(", {a} to {b}"),
                            (Some(a), _) => format!(", {a}"),
                            _ => String::new(),
                        },
                        if s.current { ", this binary's" } else { "" },
                        if s.kept { "" } else { ", template not kept" }
                    );
                }
            }
            Ok(0)
        }
        LibraryCommand::List { built_in: false } => print_entries(&lib.list()?, json_out),
        LibraryCommand::Search { words } => print_entries(&lib.search(&words.join(" "))?, json_out),
        LibraryCommand::Show { entry } => {
            let d = lib.show(&entry)?;
            if json_out {
                print_json(&d)?;
                return Ok(0);
            }
            let m = &d.version.manifest;
            let v = &d.version.info;
            outln!("{} ({})", v.label(), m.kind);
            for (_, line) in crate::view::library::version_lines(&d.version) {
                outln!("{line}");
            }
            if let Some(text) = &d.script {
                outln!("  script:");
                for line in crate::view::library::script_lines(text) {
                    outln!("{line}");
                }
            }
            outln!("versions:");
            for o in &d.versions {
                outln!(
                    "  {}  added by {} at {}{}{}, {} use{}",
                    o.label(),
                    o.added.user,
                    o.added.at,
                    if o.deprecated.is_some() {
                        ", deprecated"
                    } else {
                        ""
                    },
                    if o.approvals.is_empty() {
                        ""
                    } else {
                        ", approved"
                    },
                    o.used_by.len(),
                    if o.used_by.len() == 1 { "" } else { "s" }
                );
            }
            Ok(0)
        }
        LibraryCommand::Diff { a, b } => {
            let text = match (
                library::builtin::is_builtin_name(&a),
                library::builtin::is_builtin_name(&b),
            ) {
                (true, true) => lib.diff_builtin(&a, &b)?,
                (false, false) => lib.diff(&a, &b)?,
                _ => {
                    return Err(Error::input(
                        "compare built-in versions with each other (builtin/NAME@SHA builtin/NAME) and a tenant's versions with each other",
                    ));
                }
            };
            if json_out {
                print_json(&serde_json::json!({"a": a, "b": b, "diff": text}))?;
            } else {
                print_block(&text);
            }
            Ok(0)
        }
        LibraryCommand::Deprecate { entry, reason } => {
            let v = lib.deprecate(&entry, &reason)?;
            if json_out {
                print_json(&v)?;
            } else {
                outln!("{} deprecated: it is used only when named", v.label());
            }
            Ok(0)
        }
        LibraryCommand::Approve { entry } => {
            let v = lib.approve(&entry)?;
            if json_out {
                print_json(&v)?;
            } else {
                outln!("{} approved for use", v.label());
            }
            Ok(0)
        }
    }
}

fn entry_words(words: &LibraryWords) -> Result<EntryWords> {
    Ok(EntryWords {
        description: words.description.clone(),
        tags: words.tags.clone(),
        params: words
            .params
            .iter()
            .map(|p| library::parse_param(p))
            .collect::<Result<Vec<_>>>()?,
        serves: words.serves.clone(),
    })
}

fn print_added(a: &Added, json_out: bool) -> Result<u8> {
    if json_out {
        print_json(a)?;
        return Ok(0);
    }
    if a.new {
        outln!(
            "added {} (sha256 {})",
            a.version.label(),
            &a.version.sha256[..12]
        );
    } else {
        outln!(
            "{} has these contents already: nothing was added",
            a.version.label()
        );
    }
    if !a.checks.is_empty() {
        outln!("checked with: {}", a.checks.join(", "));
    }
    for n in &a.notes {
        outln!("note: {n}");
    }
    outln!(
        "use it with: opsdeck ask --use {} \"...\"",
        a.version.label()
    );
    Ok(0)
}

fn print_entries(entries: &[EntrySummary], json_out: bool) -> Result<u8> {
    if json_out {
        print_json(entries)?;
        return Ok(0);
    }
    if entries.is_empty() {
        outln!(
            "no library entries (add one with `opsdeck library add NAME --kind terraform --from DIR`)"
        );
        return Ok(0);
    }
    for e in entries {
        outln!(
            "{}@{}  {}  {} version{}, {} use{}, owner {}{}{}",
            e.name,
            e.latest,
            e.kind,
            e.versions,
            if e.versions == 1 { "" } else { "s" },
            e.uses,
            if e.uses == 1 { "" } else { "s" },
            e.owner,
            if e.deprecated { ", deprecated" } else { "" },
            if e.tags.is_empty() {
                String::new()
            } else {
                format!(", tags {}", e.tags.join(","))
            }
        );
        if !e.description.is_empty() {
            outln!("    {}", e.description);
        }
    }
    Ok(0)
}
