//! The Library pane (issue 18 part 1 in the console) with its real jobs: `7` reads the tenant's
//! entries off the UI thread, Enter reads an entry's versions, two marked versions open in the
//! diff viewer with `opsdeck library diff`'s text, `:library approve` calls the core's approval
//! with its checks (the one who added a version is refused). Then the real binary in tmux: an
//! entry added with the CLI, found in the pane, its versions opened and compared.

mod common;

use std::time::Duration;

use common::library::{MODULE_V1, MODULE_V2};
use common::tmux::Tmux;
use common::{Home, team};
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, Msg};
use opsdeck::tui::diff::RowKind;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const WAIT: Duration = Duration::from_secs(60);

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

/// `opsdeck --user olga library add web-tier …` from `main_tf`, through the binary.
fn add_with_cli(home: &Home, main_tf: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
    let out = home
        .cmd()
        .args([
            "--user",
            "olga",
            "library",
            "add",
            "web-tier",
            "--kind",
            "terraform",
        ])
        .arg("--from")
        .arg(dir.path())
        .args(["--description", "the web tier", "--tag", "web"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "library add: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn two_versions(home: &Home) {
    add_with_cli(home, MODULE_V1, &[]);
    add_with_cli(home, MODULE_V2, &["--param", "greeting:string=hello"]);
}

#[test]
fn the_library_pane_reads_opens_compares_and_approves_through_the_core() {
    if common::terraform().is_none() {
        return;
    }
    let home = Home::new();
    let t = team(&home);
    two_versions(&home);
    let (rt, mut app) = common::console(t.deck("olga"));
    rt.block_on(async {
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('7'));
        assert_eq!(app.focus, Pane::Library);
        assert!(app.library.loading, "read in a job, not on the UI thread");
        assert!(app.run_until(WAIT, |a| a.library.loaded).await);
    });
    let e = app.library.selected_entry().expect("web-tier listed");
    assert_eq!(
        (
            e.summary.name.as_str(),
            e.summary.latest,
            e.summary.versions
        ),
        ("web-tier", 2, 2)
    );
    assert_eq!(
        app.library.builtin.len(),
        opsdeck::library::builtin::builtin_templates().len()
    );

    key(&mut app, KeyCode::Enter);
    rt.block_on(async {
        assert!(
            app.run_until(WAIT, |a| a
                .library
                .open
                .as_ref()
                .is_some_and(|o| o.versions.is_some()))
                .await
        );
    });
    let open = app.library.open.as_ref().unwrap();
    assert_eq!(open.versions().len(), 2);
    assert_eq!(open.versions()[1].manifest.params[0].name, "greeting");

    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('d'));
    assert_eq!(app.focus, Pane::Diff);
    rt.block_on(async {
        assert!(app.run_until(WAIT, |a| a.diff.loading.is_none()).await);
    });
    let doc = app.diff.doc.clone().expect("the comparison");
    assert!(
        app.diff.plan.is_none(),
        "no plan to approve in a comparison"
    );
    // The rows are `library diff`'s text: its +/- lines, in its order.
    let text = app.deck.library().diff("web-tier@1", "web-tier@2").unwrap();
    let added: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .map(|l| &l[1..])
        .collect();
    let rows: Vec<&str> = doc
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Add)
        .map(|r| r.text.as_str())
        .collect();
    assert_eq!(rows, added);
    assert!(rows.contains(&"  default = \"hello\""), "{rows:?}");
    assert!(
        doc.against
            .contains("opsdeck library diff web-tier@1 web-tier@2")
    );
    // Esc goes back to the pane it was opened from.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, Pane::Library);

    // olga is an operator: the core refuses her approval, and the pane says so.
    app.update(Action::Command("library approve web-tier@2".into()));
    rt.block_on(async {
        assert!(app.run_until(WAIT, |a| a.notice.is_some()).await);
    });
    let said = app.notice.as_ref().unwrap().text();
    assert!(
        said.contains("olga (operator) may not approve library entries"),
        "{said}"
    );
    let v2 = app.deck.library().show("web-tier@2").unwrap().version.info;
    assert!(v2.approvals.is_empty());
    // She may deprecate: the core records it with her reason, and the pane reads it again.
    app.notice = None;
    app.update(Action::Command(
        "library deprecate web-tier@1 replaced by 2".into(),
    ));
    rt.block_on(async {
        assert!(
            app.run_until(WAIT, |a| a.library.open.as_ref().is_some_and(|o| o
                .versions()
                .first()
                .is_some_and(|v| v.info.deprecated.is_some())))
                .await
        );
    });
    assert_eq!(
        app.notice.as_ref().unwrap().text(),
        "web-tier@1 deprecated: it is used only when named"
    );
    let v1 = app.deck.library().show("web-tier@1").unwrap().version.info;
    let dep = v1.deprecated.unwrap();
    assert_eq!(
        (dep.user.as_str(), dep.reason.as_deref()),
        ("olga", Some("replaced by 2"))
    );
}

/// The real binary at 80x24: an entry added with the CLI; `7` lists it, `/` finds it, Enter
/// opens its versions, space and `d` compare two of them, and `a` then Enter approves one as
/// alice (an admin who did not add it).
#[test]
fn pane_7_finds_opens_and_compares_an_entry_in_tmux() {
    if common::terraform().is_none() {
        return;
    }
    let Some(tm) = Tmux::new("library") else {
        return;
    };
    let home = Home::new();
    let _t = team(&home);
    two_versions(&home);
    let env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
        ("TF_CLI_CONFIG_FILE", "/dev/null".to_string()),
    ];
    tm.start("alice", (80, 24), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    tm.wait("alice", "the console", |s| s.contains("1 Conversation"));
    tm.keys("alice", &["7"]);
    tm.wait("alice", "the Library pane", |s| {
        s.contains("7 Library") && s.contains("web-tier@2") && s.contains("built-in templates")
    });
    tm.keys("alice", &["/"]);
    tm.text("alice", "web terraform");
    tm.keys("alice", &["Enter"]);
    tm.wait("alice", "the entry found", |s| {
        s.contains("/web terraform (1 match)") && s.contains("web-tier@2")
    });
    tm.keys("alice", &["Enter"]);
    let s = tm.wait("alice", "its versions", |s| {
        s.contains("web-tier@1") && s.contains("ADDED AT") && s.contains("parameters: none")
    });
    println!("{s}");
    tm.keys("alice", &["Space", "j", "Space", "d"]);
    let s = tm.wait("alice", "the two versions compared", |s| {
        s.contains("compared with web-tier@1") && s.contains("default = \"hello\"")
    });
    println!("{s}");
    tm.keys("alice", &["Escape"]);
    tm.wait("alice", "back in the pane", |s| s.contains("ADDED AT"));
    tm.keys("alice", &["a"]);
    tm.wait("alice", "the command to confirm", |s| {
        s.contains(":library approve web-tier@2")
    });
    tm.keys("alice", &["Enter"]);
    let s = tm.wait("alice", "the approval", |s| s.contains("approved by alice"));
    println!("{s}");
    tm.keys("alice", &["C-c"]);
}
