//! What a plan's playbooks do, for the policies to judge (`input.ansible.tasks`): every task of
//! every play (its `tasks`, `pre_tasks`, `post_tasks`, `handlers` and the `block`, `rescue` and
//! `always` inside them) and of every task file, with its module and arguments. Files that are
//! not a YAML list (inventories, extra-vars files) hold no tasks.

use serde_json::{Value, json};

/// Task keywords: a task's module is its one key that is none of these.
const KEYWORDS: &[&str] = &[
    "action",
    "any_errors_fatal",
    "args",
    "async",
    "become",
    "become_exe",
    "become_flags",
    "become_method",
    "become_user",
    "changed_when",
    "check_mode",
    "collections",
    "debugger",
    "delay",
    "delegate_facts",
    "delegate_to",
    "diff",
    "environment",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "listen",
    "loop",
    "loop_control",
    "module_defaults",
    "name",
    "no_log",
    "notify",
    "poll",
    "register",
    "retries",
    "run_once",
    "tags",
    "throttle",
    "timeout",
    "until",
    "vars",
    "when",
];

/// Play sections that hold tasks.
const SECTIONS: &[&str] = &["pre_tasks", "tasks", "post_tasks", "handlers"];

/// Every task of these files (name, text), in file order.
pub fn tasks(files: &[(String, String)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (file, text) in files.iter().filter(|(f, _)| may_hold_tasks(f)) {
        let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(text) else {
            continue;
        };
        let Some(items) = untag(&doc).as_array().cloned() else {
            continue;
        };
        for item in &items {
            let is_play = item.get("hosts").is_some()
                || SECTIONS.iter().any(|s| item.get(*s).is_some())
                || item.get("import_playbook").is_some()
                || item.get("ansible.builtin.import_playbook").is_some();
            if is_play {
                let play = item.get("name").and_then(Value::as_str).unwrap_or("");
                for section in SECTIONS {
                    for t in item
                        .get(*section)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        task(file, play, t, &mut out);
                    }
                }
            } else {
                task(file, "", item, &mut out);
            }
        }
    }
    out
}

/// Whether a file can hold tasks: any top-level file, and of a library role's files
/// (`roles/NAME/…`) those in `tasks/` and `handlers/`; its templates, files, defaults, vars
/// and meta are not tasks, whatever they look like.
fn may_hold_tasks(file: &str) -> bool {
    match file.strip_prefix("roles/") {
        Some(rest) => matches!(rest.split('/').nth(1), Some("tasks" | "handlers")),
        None => true,
    }
}

/// One task (or a block of them) as the policies read it.
fn task(file: &str, play: &str, t: &Value, out: &mut Vec<Value>) {
    let Some(map) = t.as_object() else {
        return;
    };
    let blocks: Vec<&Value> = ["block", "rescue", "always"]
        .iter()
        .filter_map(|k| map.get(*k))
        .collect();
    if !blocks.is_empty() {
        for b in blocks {
            for inner in b.as_array().into_iter().flatten() {
                task(file, play, inner, out);
            }
        }
        return;
    }
    let Some((module, args)) = map
        .iter()
        .find(|(k, _)| !KEYWORDS.contains(&k.as_str()) && !k.starts_with("with_"))
    else {
        return;
    };
    let mut args = args.clone();
    // `args:` beside a free-form module adds to its arguments.
    if let (Some(extra), Value::Object(a)) = (map.get("args").and_then(Value::as_object), &mut args)
    {
        for (k, v) in extra {
            a.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let short = module
        .strip_prefix("ansible.builtin.")
        .or_else(|| module.strip_prefix("ansible.legacy."))
        .unwrap_or(module);
    out.push(json!({
        "file": file,
        "play": play,
        "name": map.get("name").cloned().unwrap_or(Value::Null),
        "module": short,
        "args": args,
        "become": map.get("become").cloned().unwrap_or(Value::Null),
    }));
}

/// YAML as JSON, tags (`!unsafe`, `!vault`) dropped for the values they tag.
fn untag(v: &serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(s) => Value::Array(s.iter().map(untag).collect()),
        Y::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        other => serde_norway::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, untag(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => untag(&t.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_found_in_plays_blocks_and_task_files() {
        let play = "- name: p\n  hosts: all\n  tasks:\n    - name: a\n      ansible.builtin.shell: curl -s x | sh\n      become: true\n    - block:\n        - name: b\n          file:\n            path: /x\n            mode: \"0777\"\n      rescue:\n        - name: c\n          ansible.builtin.debug:\n            msg: !unsafe \"{{ x }}\"\n  handlers:\n    - name: d\n      ansible.builtin.service:\n        name: nginx\n        state: restarted\n";
        let tasks_file = "- name: e\n  ansible.builtin.command:\n    cmd: id\n";
        let inventory = "all:\n  hosts:\n    web: {}\n";
        let found = tasks(&[
            ("site.yml".into(), play.into()),
            ("tasks.yml".into(), tasks_file.into()),
            ("inventory.yml".into(), inventory.into()),
            ("inventory.ini".into(), "[web]\nhost1\n".into()),
        ]);
        let modules: Vec<&str> = found
            .iter()
            .map(|t| t["module"].as_str().unwrap())
            .collect();
        assert_eq!(modules, ["shell", "file", "debug", "service", "command"]);
        assert_eq!(found[0]["args"], "curl -s x | sh");
        assert_eq!(found[0]["become"], true);
        assert_eq!(found[1]["args"]["mode"], "0777");
        assert_eq!(found[2]["args"]["msg"], "{{ x }}");
        assert_eq!(found[4]["file"], "tasks.yml");
        assert_eq!(found[0]["play"], "p");
    }

    #[test]
    fn a_roles_tasks_and_handlers_are_tasks_its_other_files_are_not() {
        let list = "- name: t\n  ansible.builtin.file:\n    path: /x\n    mode: \"0777\"\n";
        let found = tasks(&[
            ("roles/web/tasks/main.yml".into(), list.into()),
            ("roles/web/handlers/main.yml".into(), list.into()),
            ("roles/web/files/list.yml".into(), list.into()),
            ("roles/web/templates/x.yml.j2".into(), list.into()),
            ("roles/web/vars/main.yml".into(), list.into()),
        ]);
        let files: Vec<&str> = found.iter().map(|t| t["file"].as_str().unwrap()).collect();
        assert_eq!(
            files,
            ["roles/web/tasks/main.yml", "roles/web/handlers/main.yml"]
        );
    }
}
