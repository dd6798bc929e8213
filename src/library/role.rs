//! Ansible roles as library entries (`--kind role`): which files of a role directory are kept
//! (the standard layout), the relative names they are stored under (`tasks/main.yml`), where a
//! use places them (`roles/DIR/…` beside a wrapper playbook opsdeck writes), and the typed
//! defaults a role's `defaults/main.yml` gives its parameters.
//!
//! Names with `/` exist only for this kind, and every one is checked component by component
//! wherever it is read, stored or written: no `..`, no absolute path, no leading dot, only
//! plain characters, a bounded depth. Nothing here follows a symlink.

use std::path::Path;

use serde_json::Value;

use super::files::NamedFiles;
use super::params::Param;
use crate::error::{Error, Result};

/// The directories of a role's layout that are kept.
pub const ROLE_DIRS: &[&str] = &[
    "tasks",
    "handlers",
    "defaults",
    "vars",
    "meta",
    "templates",
    "files",
];
/// The directories whose files Ansible reads as YAML (`.yml`/`.yaml` only).
const YAML_DIRS: &[&str] = &["tasks", "handlers", "defaults", "vars", "meta"];
/// The playbook opsdeck writes to apply a role: fixed text, never from a request.
pub const ROLE_PLAYBOOK: &str = "opsdeck_role.yml";
/// The most files a role keeps.
pub const MAX_ROLE_FILES: usize = 200;
/// The most path components of a stored name (`templates/a/b/c.j2` is 4).
pub const MAX_DEPTH: usize = 8;
/// The longest path component.
const MAX_COMPONENT: usize = 100;
/// How many problems or ignored names a message lists before it counts the rest.
const LISTED: usize = 10;

/// A role read from a directory: the files kept (relative names, in name order) and what was
/// left out, said as notes.
#[derive(Debug, Clone, Default)]
pub struct RoleDir {
    pub files: NamedFiles,
    pub notes: Vec<String>,
}

/// One component of a stored name: plain characters, no leading dot (so never `.` or `..`).
fn component_problem(c: &str) -> Option<&'static str> {
    if c.is_empty() {
        return Some("an empty path component");
    }
    if c.starts_with('.') {
        return Some("a component starting with '.' (hidden, or leaving the directory)");
    }
    if c.len() > MAX_COMPONENT {
        return Some("a component longer than 100 characters");
    }
    if !c
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'))
    {
        return Some("characters other than letters, digits and . _ - + @");
    }
    None
}

/// A stored role file name (`tasks/main.yml`): relative, in one of the layout's directories,
/// each component plain, at most [`MAX_DEPTH`] deep; YAML directories hold `.yml`/`.yaml`.
pub fn check_role_path(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::input(format!(
            "{} cannot be a role file name: {why}",
            crate::sanitize::line(name)
        )))
    };
    let parts: Vec<&str> = name.split('/').collect();
    if let Some(why) = parts.iter().find_map(|c| component_problem(c)) {
        return bad(why);
    }
    if parts.len() < 2 || !ROLE_DIRS.contains(&parts[0]) {
        return bad(&format!(
            "a role's files are in {} (a file inside one of them)",
            ROLE_DIRS.join(", ")
        ));
    }
    if parts.len() > MAX_DEPTH {
        return bad(&format!("more than {MAX_DEPTH} path components"));
    }
    if YAML_DIRS.contains(&parts[0]) && !is_yaml(name) {
        return bad("files in tasks, handlers, defaults, vars and meta are .yml or .yaml");
    }
    Ok(())
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// A role's stored files as a set: each name checked, at most [`MAX_ROLE_FILES`] of them and
/// 4 MiB together, and one `tasks/main.yml` (or `.yaml`).
pub fn check_role_files(files: &[(String, Vec<u8>)]) -> Result<()> {
    if files.len() > MAX_ROLE_FILES {
        return Err(Error::input(format!(
            "a role keeps at most {MAX_ROLE_FILES} files; this one has {}",
            files.len()
        )));
    }
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    if total > super::MAX_ENTRY_BYTES {
        return Err(Error::input(
            "the role's files exceed 4 MiB together: add a smaller role",
        ));
    }
    for (name, _) in files {
        check_role_path(name)?;
    }
    let mains = files
        .iter()
        .filter(|(n, _)| n == "tasks/main.yml" || n == "tasks/main.yaml")
        .count();
    check_no_dependencies(files)?;
    match mains {
        1 => Ok(()),
        0 => Err(Error::input(
            "a role needs tasks/main.yml (its tasks): there is none",
        )),
        _ => Err(Error::input(
            "the role has both tasks/main.yml and tasks/main.yaml: keep one",
        )),
    }
}

/// A library role is self-contained: its `meta/main.yml` lists no `dependencies` (other roles
/// would run that the entry does not hold and nobody reviewed with it).
fn check_no_dependencies(files: &[(String, Vec<u8>)]) -> Result<()> {
    let Some((name, bytes)) = files
        .iter()
        .find(|(n, _)| n == "meta/main.yml" || n == "meta/main.yaml")
    else {
        return Ok(());
    };
    let doc: serde_norway::Value = serde_norway::from_slice(bytes)
        .map_err(|e| Error::input(format!("{name} does not read as YAML: {e}")))?;
    let listed = match doc.get("dependencies") {
        None | Some(serde_norway::Value::Null) => false,
        Some(serde_norway::Value::Sequence(s)) => !s.is_empty(),
        Some(_) => true,
    };
    if listed {
        return Err(Error::input(format!(
            "{name} lists dependencies: a library role is self-contained (the roles it depends on are not part of it and would run unreviewed); add them to this role or as entries of their own"
        )));
    }
    Ok(())
}

/// The files of a role directory: those in its layout's directories, read without following
/// a symlink. A symlink or an unusable name inside them refuses the role (listed); a hidden
/// file there, a non-YAML file where Ansible reads YAML, and anything outside the layout
/// (README.md, tests/, .git) are left out, each named in a note.
pub fn read_role_dir(from: &Path) -> Result<RoleDir> {
    let io = |p: &Path, e| Error::io(format!("reading {}", p.display()), e);
    let meta = std::fs::metadata(from).map_err(|e| io(from, e))?;
    if !meta.is_dir() {
        return Err(Error::input(format!(
            "{} is not a directory: a role is added from its directory (tasks/main.yml, handlers/, defaults/, …)",
            from.display()
        )));
    }
    let mut walk = Walk::default();
    let mut top: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| io(from, e))?
        .flatten()
        .collect();
    top.sort_by_key(|e| e.file_name());
    for e in top {
        let name = e.file_name().to_string_lossy().to_string();
        let ft = e.file_type().map_err(|err| io(&e.path(), err))?;
        if !ROLE_DIRS.contains(&name.as_str()) {
            walk.ignored
                .push(format!("{name}{}", if ft.is_dir() { "/" } else { "" }));
            continue;
        }
        if ft.is_symlink() {
            walk.problems.push(format!(
                "{name} is a symlink (it could lead out of the role)"
            ));
        } else if !ft.is_dir() {
            walk.problems.push(format!("{name} is not a directory"));
        } else {
            walk.dir(&e.path(), &name, 1)?;
        }
    }
    if !walk.problems.is_empty() {
        return Err(Error::input(format!(
            "{} cannot be added as a role: {}. nothing was added",
            from.display(),
            listed(&walk.problems)
        )));
    }
    let mut notes = Vec::new();
    if !walk.ignored.is_empty() {
        notes.push(format!(
            "left out (not part of a role's layout, hidden, or not YAML where Ansible reads YAML): {}",
            listed(&walk.ignored)
        ));
    }
    walk.files.sort_by(|a, b| a.0.cmp(&b.0));
    check_role_files(&walk.files)?;
    Ok(RoleDir {
        files: walk.files,
        notes,
    })
}

fn listed(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(LISTED)
        .map(|i| crate::sanitize::line(i))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LISTED {
        s.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    s
}

/// A directory walk's findings.
#[derive(Default)]
struct Walk {
    files: NamedFiles,
    problems: Vec<String>,
    ignored: Vec<String>,
    bytes: u64,
}

impl Walk {
    fn dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<()> {
        let io = |p: &Path, e| Error::io(format!("reading {}", p.display()), e);
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let path = format!("{rel}/{name}");
            let ft = e.file_type().map_err(|err| io(&e.path(), err))?;
            if ft.is_symlink() {
                self.problems.push(format!(
                    "{path} is a symlink (it could lead out of the role)"
                ));
                continue;
            }
            if name.starts_with('.') {
                self.ignored
                    .push(format!("{path}{}", if ft.is_dir() { "/" } else { "" }));
                continue;
            }
            if let Some(why) = component_problem(&name) {
                self.problems.push(format!("{path} has {why}"));
                continue;
            }
            if ft.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    self.problems
                        .push(format!("{path}/ is deeper than {MAX_DEPTH} levels"));
                    continue;
                }
                self.dir(&e.path(), &path, depth + 1)?;
            } else if !ft.is_file() {
                self.problems.push(format!("{path} is not a regular file"));
            } else if YAML_DIRS.contains(&rel.split('/').next().unwrap_or_default())
                && !is_yaml(&name)
            {
                self.ignored.push(path);
            } else {
                let len = e.metadata().map_err(|err| io(&e.path(), err))?.len();
                self.bytes += len;
                if self.bytes > super::MAX_ENTRY_BYTES as u64 {
                    return Err(Error::input(
                        "the role's files exceed 4 MiB together: add a smaller role",
                    ));
                }
                if self.files.len() >= MAX_ROLE_FILES {
                    return Err(Error::input(format!(
                        "a role keeps at most {MAX_ROLE_FILES} files"
                    )));
                }
                let bytes = std::fs::read(e.path()).map_err(|err| io(&e.path(), err))?;
                self.files.push((path, bytes));
            }
        }
        Ok(())
    }
}

/// The directory a role is placed in (`roles/DIR`): the entry's name with `-` as `_`, the
/// spelling Ansible's role names take.
pub fn role_dir_name(entry: &str) -> String {
    entry.replace('-', "_")
}

/// The wrapper playbook opsdeck writes to apply role `dir`: one play on every host of the
/// inventory. Its text is fixed; the name is an entry name (checked: letters, digits, `_`).
pub fn wrapper_playbook(entry: &str) -> String {
    let dir = role_dir_name(entry);
    format!(
        "---\n# Written by opsdeck: applies the library role {entry}\n# (roles/{dir}) to every host of the inventory.\n- name: Apply role {dir}\n  hosts: all\n  roles:\n    - role: {dir}\n"
    )
}

/// A role's files as a run reads them: the wrapper playbook, then each file under
/// `roles/DIR/`. Returns the files and the playbook to run.
pub fn placed(entry: &str, files: Vec<(String, Vec<u8>)>) -> (NamedFiles, String) {
    let dir = role_dir_name(entry);
    let mut out = vec![(
        ROLE_PLAYBOOK.to_string(),
        wrapper_playbook(entry).into_bytes(),
    )];
    out.extend(
        files
            .into_iter()
            .map(|(name, bytes)| (format!("roles/{dir}/{name}"), bytes)),
    );
    (out, ROLE_PLAYBOOK.to_string())
}

/// A name in a run's workspace with a `/`: only a placed role's file, `roles/DIR/PATH`, with
/// DIR a role name (a lowercase letter, then lowercase letters, digits or `_`) and PATH a
/// stored role file name.
pub fn check_placed_path(name: &str) -> Result<()> {
    let bad = || {
        Error::input(format!(
            "{} cannot be a file of a run: only a role's files (roles/NAME/…) have a directory",
            crate::sanitize::line(name)
        ))
    };
    let rest = name.strip_prefix("roles/").ok_or_else(bad)?;
    let (dir, path) = rest.split_once('/').ok_or_else(bad)?;
    let dir_ok = dir.len() <= 64
        && dir.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && dir
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !dir_ok {
        return Err(bad());
    }
    check_role_path(path)
}

/// The role an applied plan ran, if it ran one through the wrapper: its files under their
/// stored names (`roles/DIR/` taken off).
pub fn from_plan_files(playbook: &str, files: &[(String, Vec<u8>)]) -> Option<NamedFiles> {
    if playbook != ROLE_PLAYBOOK {
        return None;
    }
    let out: NamedFiles = files
        .iter()
        .filter_map(|(name, bytes)| {
            let rest = name.strip_prefix("roles/")?;
            let (_, path) = rest.split_once('/')?;
            Some((path.to_string(), bytes.clone()))
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The role's `defaults/main.yml` (or `.yaml`) as a mapping; empty without one.
fn role_defaults(files: &[(String, Vec<u8>)]) -> Result<serde_json::Map<String, Value>> {
    let Some((name, bytes)) = files
        .iter()
        .find(|(n, _)| n == "defaults/main.yml" || n == "defaults/main.yaml")
    else {
        return Ok(Default::default());
    };
    let doc: serde_norway::Value = serde_norway::from_slice(bytes)
        .map_err(|e| Error::input(format!("{name} does not read as YAML: {e}")))?;
    match serde_json::to_value(&doc) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Default::default()),
        _ => Err(Error::input(format!(
            "{name} is not a mapping of variable names to values"
        ))),
    }
}

/// Each parameter declared without a default takes the value the role's `defaults/main.yml`
/// gives it, checked against the parameter's type, so the version shows it and a use passes it
/// as a typed extra var. A value that is a template expression, a list or a mapping is refused:
/// give the parameter a default of its type instead. Returns what was taken, as notes.
pub fn defaults_from_role(
    params: &mut [Param],
    files: &[(String, Vec<u8>)],
) -> Result<Vec<String>> {
    let defaults = role_defaults(files)?;
    let mut taken = Vec::new();
    for p in params.iter_mut().filter(|p| p.default.is_none()) {
        let Some(v) = defaults.get(&p.name) else {
            continue;
        };
        let text = match v {
            Value::String(s) if s.contains("{{") || s.contains("{%") => {
                return Err(Error::input(format!(
                    "defaults/main.yml gives {} a template expression: a parameter's default is a plain {}; declare one with --param {}:{}=VALUE",
                    p.name,
                    p.kind.as_str(),
                    p.name,
                    p.kind.as_str()
                )));
            }
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Error::input(format!(
                    "defaults/main.yml gives {} a value that is not a string, number or bool: declare its default with --param {}:{}=VALUE",
                    p.name,
                    p.name,
                    p.kind.as_str()
                )));
            }
        };
        let value = p
            .kind
            .value(&p.name, &text)
            .map_err(|e| Error::input(format!("defaults/main.yml gives {}: {e}", p.name)))?;
        taken.push(format!("{}={value}", p.name));
        p.default = Some(value);
    }
    Ok(if taken.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "defaults from the role's defaults/main.yml: {}",
            taken.join(", ")
        )]
    })
}

/// Whether a request's words could name a role ("apply our nginx role"): the word `role`.
pub fn may_name_role(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "role")
}

/// The entry a request names as a role: one of `names` followed by the word `role` ("apply
/// our nginx role to …"). Whether it is a role is the caller's to check.
pub fn role_named<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    words
        .windows(2)
        .find(|w| w[1] == "role" && names.contains(&w[0]))
        .map(|w| w[0].to_string())
}

#[cfg(test)]
mod tests;
