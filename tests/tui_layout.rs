//! The console's layout and keys on small and large screens: the approvals table's column
//! priorities at 80 columns, the hint line that always keeps help, command and quit, help that
//! scrolls to its end and says so, the transcript's scroll indicator, number keys from an empty
//! prompt, Esc+key from every pane, ctrl-u, an approver opening on the queue, bracketed paste
//! as one edit; and, in tmux with the real binary at 80x24, the compact preview while typing
//! and a 3 KB paste submitted with one Enter.

mod common;
#[path = "tui_fixture/mod.rs"]
mod fixture;

use common::Home;
use common::console;
use common::tmux::Tmux;
use fixture::{fixture, render, show};
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, Msg, Notice};
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

fn key(app: &mut App, code: KeyCode, mods: KeyModifiers) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(code, mods))));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    let t = render(app, w, h);
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

#[test]
fn approvals_at_80_columns_keep_summary_and_approval_count_and_shrink_the_requester() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Approvals);
    let rows = screen(&fx.app, 80, 24);
    let row = rows
        .iter()
        .find(|l| l.contains("p-web2demo42"))
        .expect("the plan is listed");
    // The approval count whole, the summary readable, the requester in a few cells.
    assert!(row.contains("pending 0/1"), "{row}");
    assert!(row.contains("create stack web-demo"), "{row}");
    let header = rows.iter().find(|l| l.contains("PLAN")).unwrap();
    let requester = header.find("REQU").unwrap();
    let risk = header.find("RISK").unwrap();
    assert!(
        risk - requester <= 9,
        "requester column is narrow: {header}"
    );
}

#[test]
fn the_hint_line_keeps_help_command_and_quit_at_80_columns_in_every_pane() {
    let mut fx = fixture();
    for pane in Pane::ALL {
        show(&mut fx.app, pane);
        for w in [60u16, 80] {
            let rows = screen(&fx.app, w, 24);
            let hints = rows.last().unwrap();
            for want in ["? help", ": command", "q quit"] {
                assert!(hints.contains(want), "{pane:?} at {w}: {hints}");
            }
        }
    }
    // In the prompt, those keys type: it says how to leave it and quit instead.
    fx.app.update(Action::EnterPrompt);
    let hints = screen(&fx.app, 80, 24).pop().unwrap();
    assert!(
        hints.contains("esc leave the prompt") && hints.contains("ctrl-c quit"),
        "{hints}"
    );
}

#[test]
fn help_scrolls_to_its_end_says_more_and_comes_back_at_once() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Approvals);
    fx.app.update(Action::Help);
    let first = screen(&fx.app, 80, 24).join("\n");
    assert!(first.contains("↓ more ("), "{first}");
    assert!(!first.contains("commands (:)"), "the end is below");
    for _ in 0..40 {
        key(&mut fx.app, KeyCode::PageDown, KeyModifiers::NONE);
        screen(&fx.app, 80, 24);
    }
    let end = screen(&fx.app, 80, 24).join("\n");
    assert!(end.contains("commands (:)"), "the last line shows:\n{end}");
    assert!(end.contains(" end ("), "{end}");
    // One step up leaves the end at once, however far down the keys went.
    key(&mut fx.app, KeyCode::Up, KeyModifiers::NONE);
    let up = screen(&fx.app, 80, 24).join("\n");
    assert!(up.contains("↓ more ("), "{up}");
}

#[test]
fn the_transcript_scroll_indicator_counts_the_rows_really_scrolled() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Conversation);
    screen(&fx.app, 80, 24);
    for _ in 0..50 {
        fx.app.update(Action::PageUp);
        screen(&fx.app, 80, 24);
    }
    let top = screen(&fx.app, 80, 24);
    let title = &top[1];
    let n: usize = title
        .split("↑ ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an indicator: {title}"));
    // At the top: the first line of the transcript shows, and one step down is one row less.
    assert!(
        top.join("\n").contains("Type what you want done"),
        "{top:#?}"
    );
    fx.app.update(Action::Down);
    let title = screen(&fx.app, 80, 24)[1].clone();
    assert!(title.contains(&format!("↑ {} rows up", n - 1)), "{title}");
}

#[test]
fn number_keys_switch_panes_from_an_empty_prompt_and_type_otherwise() {
    let mut fx = fixture();
    fx.app.update(Action::EnterPrompt);
    key(&mut fx.app, KeyCode::Char('3'), KeyModifiers::NONE);
    assert_eq!(fx.app.focus, Pane::Diff);
    key(&mut fx.app, KeyCode::Char('1'), KeyModifiers::NONE);
    assert_eq!(fx.app.focus, Pane::Conversation);
    // As from any pane, i (or enter) gives the prompt the keyboard again.
    key(&mut fx.app, KeyCode::Char('i'), KeyModifiers::NONE);
    typed(&mut fx.app, "make 3");
    assert_eq!(fx.app.prompt_text(), "make 3");
    assert_eq!(fx.app.focus, Pane::Conversation);
}

#[test]
fn esc_then_a_key_works_from_every_pane_and_from_the_prompt() {
    let mut fx = fixture();
    for pane in Pane::ALL {
        show(&mut fx.app, pane);
        // Esc and 4 arriving together read as alt-4.
        key(&mut fx.app, KeyCode::Char('4'), KeyModifiers::ALT);
        assert_eq!(fx.app.focus, Pane::Approvals, "from {pane:?}");
    }
    fx.app.update(Action::EnterPrompt);
    typed(&mut fx.app, "restart web");
    key(&mut fx.app, KeyCode::Char('5'), KeyModifiers::ALT);
    assert_eq!(fx.app.focus, Pane::Audit);
    assert_eq!(fx.app.prompt_text(), "restart web", "the typed text stays");
}

#[test]
fn ctrl_u_deletes_to_the_start_of_the_line() {
    let mut fx = fixture();
    fx.app.update(Action::EnterPrompt);
    typed(&mut fx.app, "restart the web servers");
    for _ in 0.."servers".len() {
        key(&mut fx.app, KeyCode::Left, KeyModifiers::NONE);
    }
    key(&mut fx.app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(fx.app.prompt_text(), "servers");
    key(&mut fx.app, KeyCode::End, KeyModifiers::NONE);
    key(&mut fx.app, KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(fx.app.prompt_text(), "");
}

#[test]
fn an_approver_with_plans_waiting_opens_on_the_queue() {
    let fx = fixture();
    let home: &Home = &fx._home;
    let (_rt, mut bob) = console(home.deck_with("bob", None, None));
    bob.set_plans(vec![fx.web.clone()]);
    assert_eq!(bob.focus, Pane::Approvals);
    match &bob.notice {
        Some(Notice::Info(t)) => assert!(t.contains("1 plan waits for your approval"), "{t}"),
        other => panic!("{other:?}"),
    }
    // Only on the first load: going back to the conversation stays there.
    bob.update(Action::FocusConversation);
    bob.set_plans(vec![fx.web.clone()]);
    assert_eq!(bob.focus, Pane::Conversation);

    // The requester has nothing to approve; someone already typing is left alone.
    let (_rt2, mut olga) = console(home.deck_with("olga", None, None));
    olga.set_plans(vec![fx.web.clone()]);
    assert_eq!(olga.focus, Pane::Conversation);
    let (_rt3, mut busy) = console(home.deck_with("bob", None, None));
    typed(&mut busy, "list");
    busy.set_plans(vec![fx.web.clone()]);
    assert_eq!(busy.focus, Pane::Conversation);
    assert_eq!(busy.prompt_text(), "list");
}

#[test]
fn a_large_paste_is_one_edit_and_one_enter_submits_it() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Approvals);
    let lines_before = fx.app.transcript.lines.len();
    let paste = big_paste();
    fx.app.handle_msg(Msg::Term(Event::Paste(paste.clone())));
    // From any pane the paste goes to the prompt, whole, and nothing is submitted yet.
    assert_eq!(fx.app.focus, Pane::Conversation);
    assert_eq!(fx.app.prompt_text(), paste.trim_end_matches('\n'));
    assert_eq!(fx.app.transcript.lines.len(), lines_before);
    key(&mut fx.app, KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(fx.app.prompt_text(), "", "submitted with one Enter");
    assert!(
        fx.app.transcript.lines[lines_before..]
            .iter()
            .any(|l| l.text().contains("list the s3 buckets in eu-west-1")),
        "the request is in the conversation"
    );
}

/// About 3 KB over several lines, ending with a newline as copied text often does.
fn big_paste() -> String {
    let mut s = String::from("list the s3 buckets in eu-west-1\n");
    for n in 0..36 {
        s.push_str(&format!(
            "context line {n}: the audit team asks for every bucket with its region and tags\n"
        ));
    }
    assert!(s.len() > 2500 && s.len() < 4000, "{}", s.len());
    s
}

/// The real binary at 80x24 in tmux: typing shows the compact preview under the conversation;
/// a 3 KB bracketed paste lands in the prompt whole and one Enter submits it.
#[test]
fn typing_at_80x24_shows_the_compact_preview_and_a_paste_needs_one_enter_in_tmux() {
    let Some(t) = Tmux::new("layout") else {
        return;
    };
    let home = Home::new();
    let env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
    ];
    t.start("alice", (80, 24), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    t.wait("alice", "the console with its compact preview", |s| {
        s.contains("1 Conversation") && s.contains("2 Preview compact")
    });
    t.text("alice", "restart ec2 instances tagged Env=staging");
    let s = t.wait("alice", "the preview while typing", |s| {
        s.contains("understood as ops") && s.contains("action=restart")
    });
    println!("{s}");
    // Clear the line (ctrl-u), then paste.
    t.keys("alice", &["C-u"]);
    t.wait("alice", "an empty prompt", |s| {
        s.contains("Ask for something")
    });
    t.run(&["set-buffer", "-b", "big", "--", &big_paste()]);
    t.run(&["paste-buffer", "-p", "-b", "big", "-t", "alice"]);
    let s = t.wait("alice", "the paste in the prompt", |s| {
        s.contains("line 35: the audit team") && !s.contains("› list the s3 buckets")
    });
    println!("{s}");
    t.keys("alice", &["Enter"]);
    // Submitting empties the prompt (its placeholder shows again) and echoes the request.
    let s = t.wait("alice", "the request submitted with one Enter", |s| {
        s.contains("Ask for something") && s.contains("  context line ")
    });
    println!("{s}");
    t.keys("alice", &["C-c"]);
}
