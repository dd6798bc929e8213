use super::*;
use crate::library::parse_param;

fn file(name: &str, text: &str) -> (String, Vec<u8>) {
    (name.to_string(), text.as_bytes().to_vec())
}

#[test]
fn stored_names_stay_inside_the_roles_layout() {
    for ok in [
        "tasks/main.yml",
        "handlers/main.yaml",
        "templates/nginx.conf.j2",
        "templates/sites/default.conf.j2",
        "files/motd",
    ] {
        assert!(check_role_path(ok).is_ok(), "{ok}");
    }
    for bad in [
        "../x",
        "tasks/../../x",
        "/etc/passwd",
        "tasks//main.yml",
        "tasks/.hidden.yml",
        ".git/config",
        "main.yml",
        "library/x.py",
        "tasks/main.txt",
        "templates/a b.j2",
        "templates/a\u{202e}b.j2",
        "templates/a\\b.j2",
        "files/a/b/c/d/e/f/g/h",
        "tasks/",
    ] {
        assert!(check_role_path(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_role_has_one_main_task_file() {
    assert!(check_role_files(&[file("tasks/main.yml", "[]")]).is_ok());
    let e = check_role_files(&[file("handlers/main.yml", "[]")]).unwrap_err();
    assert!(e.to_string().contains("tasks/main.yml"), "{e}");
    let e = check_role_files(&[file("tasks/main.yml", "[]"), file("tasks/main.yaml", "[]")])
        .unwrap_err();
    assert!(e.to_string().contains("keep one"), "{e}");
    let many: Vec<_> = (0..=MAX_ROLE_FILES)
        .map(|i| file(&format!("files/f{i}"), "x"))
        .collect();
    assert!(check_role_files(&many).is_err());
    let main = file("tasks/main.yml", "[]");
    let meta = |text: &str| check_role_files(&[main.clone(), file("meta/main.yml", text)]);
    assert!(meta("galaxy_info:\n  author: x\ndependencies: []\n").is_ok());
    let e = meta("dependencies:\n  - role: /usr/share/ansible/roles/x\n").unwrap_err();
    assert!(e.to_string().contains("self-contained"), "{e}");
}

#[test]
fn placed_paths_are_a_roles_files_only() {
    assert!(check_placed_path("roles/web_motd/tasks/main.yml").is_ok());
    for bad in [
        "roles/web-motd/tasks/main.yml",
        "roles/../tasks/main.yml",
        "roles/web/../../x",
        "other/web/tasks/main.yml",
        "roles/web",
        "roles/Web/tasks/main.yml",
    ] {
        assert!(check_placed_path(bad).is_err(), "{bad}");
    }
    let (files, playbook) = placed("web-motd", vec![file("tasks/main.yml", "[]")]);
    assert_eq!(playbook, ROLE_PLAYBOOK);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [ROLE_PLAYBOOK, "roles/web_motd/tasks/main.yml"]);
    let wrapper = String::from_utf8_lossy(&files[0].1).into_owned();
    assert!(wrapper.contains("    - role: web_motd\n"), "{wrapper}");
    // Saved back: the stored names again.
    assert_eq!(
        from_plan_files(ROLE_PLAYBOOK, &files).unwrap(),
        vec![file("tasks/main.yml", "[]")]
    );
    assert!(from_plan_files("site.yml", &files).is_none());
}

#[test]
fn role_defaults_become_typed_defaults() {
    let files = [
        file("tasks/main.yml", "[]"),
        file(
            "defaults/main.yml",
            "web_port: 8080\nweb_greeting: hello\nweb_on: true\nweb_list: [1]\nweb_tpl: \"{{ x }}\"\n",
        ),
    ];
    let mut params = vec![
        parse_param("web_port:number").unwrap(),
        parse_param("web_greeting:string=given").unwrap(),
        parse_param("web_on:bool").unwrap(),
        parse_param("web_other:string").unwrap(),
    ];
    let notes = defaults_from_role(&mut params, &files).unwrap();
    assert_eq!(params[0].default, Some(serde_json::json!(8080)));
    assert_eq!(params[1].default, Some(serde_json::json!("given")));
    assert_eq!(params[2].default, Some(serde_json::json!(true)));
    assert_eq!(params[3].default, None);
    assert!(notes[0].contains("web_port=8080"), "{notes:?}");
    for (param, why) in [
        ("web_list:string", "not a string, number or bool"),
        ("web_tpl:string", "template expression"),
        ("web_greeting:number", "is a number"),
    ] {
        let e = defaults_from_role(&mut [parse_param(param).unwrap()], &files).unwrap_err();
        assert!(e.to_string().contains(why), "{param}: {e}");
    }
}

#[test]
fn a_role_is_named_by_the_word_role() {
    assert!(may_name_role("apply our nginx role to the hosts"));
    assert!(!may_name_role("apply the roles"));
    assert_eq!(
        role_named(
            "Apply our nginx role to the hosts in inventory.yml",
            ["nginx", "web"]
        ),
        Some("nginx".into())
    );
    assert_eq!(role_named("create an iam role", ["nginx"]), None);
}

#[test]
fn a_directory_keeps_its_layout_and_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (name, text) in [
        (
            "tasks/main.yml",
            "- name: t\n  ansible.builtin.debug:\n    msg: hi\n",
        ),
        ("templates/motd.j2", "{{ greeting }}\n"),
        ("templates/.gitkeep", ""),
        ("tasks/README.md", "notes"),
        ("README.md", "readme"),
        ("tests/test.yml", "- hosts: all\n"),
    ] {
        std::fs::create_dir_all(p.join(name).parent().unwrap()).unwrap();
        std::fs::write(p.join(name), text).unwrap();
    }
    let role = read_role_dir(p).unwrap();
    let names: Vec<&str> = role.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tasks/main.yml", "templates/motd.j2"]);
    let note = role.notes.join(" ");
    for left in [
        "README.md",
        "tests/",
        "templates/.gitkeep",
        "tasks/README.md",
    ] {
        assert!(note.contains(left), "{left} in {note}");
    }
    // A symlink inside the layout refuses the role, wherever it points.
    std::os::unix::fs::symlink("/etc/hostname", p.join("files")).unwrap();
    let e = read_role_dir(p).unwrap_err().to_string();
    assert!(e.contains("files is a symlink"), "{e}");
}
