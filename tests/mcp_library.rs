//! The library's MCP tools driven by the official Python SDK over stdio: list, search, show and
//! compare the tenant's entries (read-only tools, answers equal to `opsdeck library … --json`),
//! another tenant's entry invisible, and `ask` with `use` and `set` planned like
//! `opsdeck ask --use … --set …` and refused in the CLI's words when a value is wrong.

mod common;

use common::library::{MODULE_V1, MODULE_V2};
use common::{Home, Team, quiet, team};
use opsdeck::approval::State;
use opsdeck::audit::AuditFilter;
use opsdeck::library::{EntryKind, EntryWords, parse_param};
use opsdeck::pipeline::NewEntry;
use opsdeck::tenant::Role;
use serde_json::Value;

fn add(deck: &opsdeck::pipeline::Deck, name: &str, main_tf: &str, params: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
    deck.library()
        .add(
            &NewEntry {
                name: name.into(),
                kind: EntryKind::Terraform,
                from: dir.path().to_path_buf(),
                words: EntryWords {
                    description: format!("the {name}"),
                    tags: vec!["web".into()],
                    params: params.iter().map(|p| parse_param(p).unwrap()).collect(),
                    serves: None,
                },
            },
            &quiet,
        )
        .unwrap();
}

/// `opsdeck --user olga ARGS` through the binary: (success, stdout, stderr).
fn cli(home: &Home, args: &[&str]) -> (bool, String, String) {
    let out = home
        .cmd()
        .args(["--user", "olga"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn error_text(v: &Value) -> &str {
    assert_eq!(v[0], true, "expected a tool error: {v}");
    v[1].as_str().unwrap()
}

#[test]
fn python_sdk_reads_and_uses_the_tenants_library_only() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    if common::terraform().is_none() {
        return;
    }
    let home = Home::new();
    let t = team(&home);
    let olga = t.deck("olga");
    add(&olga, "web-tier", MODULE_V1, &[]);
    add(&olga, "web-tier", MODULE_V2, &["greeting:string=hello"]);
    // Another tenant's entry, named nowhere in this tenant.
    t.deck("alice").admin().add_tenant("other").unwrap();
    let other = Team::new(&home, Some("other"), &[("bob", &[Role::Admin])]);
    add(&other.deck("bob"), "hidden-net", MODULE_V1, &[]);

    let v: Value = common::python_json(
        &python,
        "mcp_library_client.py",
        &[
            env!("CARGO_BIN_EXE_opsdeck").as_ref(),
            home.path().as_os_str(),
            "olga".as_ref(),
        ],
        |_| {},
    );
    assert_eq!(
        v["tools"],
        serde_json::json!([
            "library_diff",
            "library_list",
            "library_search",
            "library_show"
        ])
    );
    for tool in [
        "library_diff",
        "library_list",
        "library_search",
        "library_show",
    ] {
        assert_eq!(v["read_only"][tool], true, "{tool}");
    }
    let props: Vec<&str> = v["ask_properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        props.contains(&"use") && props.contains(&"set"),
        "{props:?}"
    );

    // The answers are the CLI's JSON.
    assert_eq!(v["list"][0], false, "{}", v["list"]);
    let (ok, stdout, _) = cli(&home, &["--json", "library", "list"]);
    assert!(ok);
    let mut cli_list: Value = serde_json::from_str(&stdout).unwrap();
    // The client listed before its ask used version 2 once.
    assert_eq!(cli_list[0]["uses"], 1);
    cli_list[0]["uses"] = 0.into();
    assert_eq!(v["list"][1]["entries"], cli_list);
    let names: Vec<&str> = cli_list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["web-tier"],
        "the other tenant's entry is not listed"
    );
    assert_eq!(v["list"][1]["entries"][0]["latest"], 2);
    assert!(v["list"][1].get("built_in").is_none());
    assert_eq!(
        v["list_built_in"][1]["built_in"].as_array().unwrap().len(),
        opsdeck::library::builtin::builtin_templates().len()
    );
    assert_eq!(v["search"][1]["entries"][0]["name"], "web-tier");
    assert_eq!(v["search_none"][1]["entries"], serde_json::json!([]));

    let (ok, stdout, _) = cli(&home, &["--json", "library", "show", "web-tier@2"]);
    assert!(ok);
    let mut cli_show: Value = serde_json::from_str(&stdout).unwrap();
    // Shown before the client's ask used it.
    assert_eq!(cli_show["version"]["used_by"].as_array().unwrap().len(), 1);
    cli_show["version"]
        .as_object_mut()
        .unwrap()
        .remove("used_by");
    cli_show["versions"][1]
        .as_object_mut()
        .unwrap()
        .remove("used_by");
    assert_eq!(v["show"][1], cli_show);
    assert_eq!(
        v["show"][1]["version"]["manifest"]["params"][0]["name"],
        "greeting"
    );
    let (ok, stdout, _) = cli(
        &home,
        &["--json", "library", "diff", "web-tier@1", "web-tier@2"],
    );
    assert!(ok);
    assert_eq!(
        v["diff"][1],
        serde_json::from_str::<Value>(&stdout).unwrap()
    );
    assert!(
        v["diff"][1]["diff"]
            .as_str()
            .unwrap()
            .contains("+  default = \"hello\"")
    );

    // Another tenant's entry: not found, in the CLI's words.
    let said = error_text(&v["show_other_tenant"]);
    let (ok, _, stderr) = cli(&home, &["library", "show", "hidden-net"]);
    assert!(!ok);
    assert!(
        said.contains("hidden-net") && said.contains("not_found"),
        "{said}"
    );
    assert!(
        stderr.contains("library entry") && said.contains("library entry"),
        "{stderr}"
    );
    assert!(error_text(&v["diff_other_tenant"]).contains("not_found"));
    assert!(error_text(&v["use_other_tenant"]).contains("hidden-net"));
    assert!(error_text(&v["show_missing_version"]).contains("web-tier has versions 1 to 2"));

    // ask with use and set: a plan, pending a person's approval, that used version 2.
    assert_eq!(v["use"][0], false, "{}", v["use"]);
    let plan_id = v["use"][1]["plan_id"].as_str().unwrap();
    assert_eq!(v["use"][1]["state"], "pending");
    assert_eq!(v["use"][1]["requester"], "olga");
    let rec = olga.approvals().plan(plan_id).unwrap();
    assert_eq!(rec.state, State::Pending);
    let used = olga
        .library()
        .show("web-tier@2")
        .unwrap()
        .version
        .info
        .used_by;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].plan_id, plan_id);
    let events = olga
        .trail()
        .audit(&AuditFilter {
            subject: Some(plan_id.to_string()),
            event: Some("library_entry_used".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(events[0].event.user_source, "mcp");
    let tfvars = olga
        .approvals()
        .artifacts(&rec.plan)
        .unwrap()
        .into_iter()
        .find(|(a, _)| a.name == opsdeck::library::TFVARS_FILE)
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .unwrap();
    assert!(tfvars.contains("greeting = \"hi\""), "{tfvars}");

    // A bad value is refused as the command line refuses it, and nothing is planned.
    let said = error_text(&v["bad_set"]);
    let (ok, _, stderr) = cli(
        &home,
        &["ask", "--use", "web-tier@2", "--set", "colour=red", "x"],
    );
    assert!(!ok);
    println!("refused over MCP: {said}");
    let core_words = said.rsplit_once(" (").unwrap().0;
    assert!(core_words.contains("colour"), "{said}");
    assert!(stderr.contains(core_words), "CLI: {stderr}\nMCP: {said}");
    assert!(error_text(&v["set_without_use"]).contains("name the entry with use"));
    assert!(error_text(&v["use_with_reading"]).contains("leave out confirm_reading"));
    assert_eq!(
        olga.library()
            .show("web-tier@2")
            .unwrap()
            .version
            .info
            .used_by
            .len(),
        1,
        "refused uses plan nothing"
    );
}
