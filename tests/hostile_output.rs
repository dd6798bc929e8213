//! Request text is data: escape sequences, C1 controls, bidi overrides and line separators in a
//! request never reach a terminal, a spreadsheet or a console frame raw. They show as visible
//! `\u{..}` escapes, so an approver sees that something odd was there. Also: a batch file with
//! a line that is not UTF-8 still gets every other line answered.

mod common;

use std::time::Duration;

use common::{Home, plan_id};
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, Msg, Overlay};
use opsdeck::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

/// Clear screen, OSC window title, cursor move, the one-byte C1 CSI, NEL, a carriage return
/// (overwrites the line), DEL, line and paragraph separators, bidi override/isolates/marks,
/// the Arabic letter mark and a byte order mark.
const HOSTILE: &str = "\x1b[2J\x1b]0;owned\x07\x1b[10;1H\u{9b}31m\u{85}\r\x7f\u{2028}\u{2029}\u{202e}\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}\u{feff}";

fn request() -> String {
    format!("Create 3 t3.medium instances in ap-south-1 with ALB {HOSTILE} tagged Env=staging")
}

/// What must never reach a terminal raw (an oracle of its own, not the sanitiser's table).
fn forbidden(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x08'
            | '\x0b'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{61c}'
            | '\u{feff}'
    )
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Some(c) = text.chars().find(|c| forbidden(*c)) {
        panic!(
            "{what}: raw U+{:04X} reached the output:\n{}",
            c as u32,
            text.escape_debug()
        );
    }
}

/// Stdout and stderr of a finished command, both checked.
fn run_clean(what: &str, out: &std::process::Output) -> String {
    assert_clean(&format!("{what} (stdout)"), &out.stdout);
    assert_clean(&format!("{what} (stderr)"), &out.stderr);
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn home() -> Home {
    let home = Home::new();
    // No dry run: these tests are about what is printed, not about terraform.
    home.configure("[exec]\nterraform = \"opsdeck-tests-have-no-terraform\"\n");
    home
}

#[test]
fn ask_plans_audit_and_explain_print_escapes_never_controls() {
    let home = home();
    let ask = home.cmd().args(["ask", &request()]).output().unwrap();
    assert!(ask.status.success(), "{ask:?}");
    let printed = run_clean("ask", &ask);
    assert!(
        printed.contains(r"\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}[10;1H\u{9b}31m"),
        "the approver sees the sequences as text:\n{printed}"
    );
    assert!(printed.contains(r"\u{202e}\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}\u{feff}"));
    assert!(printed.contains(r"\u{d}\u{7f}\u{2028}\u{2029}"));

    let json = home
        .cmd()
        .args(["--json", "ask", &request()])
        .output()
        .unwrap();
    let stdout = run_clean("ask --json", &json);
    let id = plan_id(stdout.as_bytes());
    // JSON keeps the value exactly: the escapes are JSON's own.
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["request"], request());
    assert!(stdout.contains(r"\u001b[2J") && stdout.contains(r"\u202e"));

    for args in [
        vec!["plans", "show", &id],
        vec!["plans", "list"],
        vec!["--json", "plans", "show", &id],
        vec!["--json", "plans", "list"],
        vec!["plans", "show", &id, "--artifact"],
        vec!["audit", "list"],
        vec!["--json", "audit", "list"],
        vec!["audit", "show", "1"],
        vec!["explain", &id],
        vec!["--json", "explain", &id],
    ] {
        let out = home.cmd().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        run_clean(&args.join(" "), &out);
    }
    let shown = home.cmd().args(["plans", "show", &id]).output().unwrap();
    let shown = run_clean("plans show", &shown);
    let line = shown.lines().find(|l| l.starts_with("request")).unwrap();
    assert!(line.contains(r"\u{1b}[2J"), "{line}");
    let listed = home.cmd().args(["audit", "list"]).output().unwrap();
    assert!(run_clean("audit list", &listed).contains(r"\u{1b}]0;owned\u{7}"));

    // Explaining the text itself (its words and values quote the request).
    let explained = home.cmd().args(["explain", &request()]).output().unwrap();
    run_clean("explain TEXT", &explained);
    let classified = home.cmd().args(["classify", &request()]).output().unwrap();
    run_clean("classify TEXT", &classified);
}

#[test]
fn error_messages_quoting_hostile_text_are_escaped() {
    let home = home();
    let id = format!("p-{HOSTILE}");
    let out = home.cmd().args(["plans", "show", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    run_clean("plans show (not found)", &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r"p-\u{1b}[2J"), "{err}");
    let out = home
        .cmd()
        .args(["--json", "plans", "show", &id])
        .output()
        .unwrap();
    run_clean("--json plans show (not found)", &out);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(v["error"].as_str().unwrap().contains(&id));
    // Usage errors quote what was typed too: an unknown subcommand, an unknown flag's value,
    // a value a flag does not take.
    for args in [
        vec![format!("plan{HOSTILE}")],
        vec!["ask".into(), format!("--{HOSTILE}")],
        vec!["report".into(), format!("cost{HOSTILE}")],
    ] {
        let out = home.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        run_clean(&format!("usage error for {args:?}"), &out);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(r"\u{202e}"), "{err}");
    }
}

#[test]
fn csv_export_cells_are_text_for_terminals_and_spreadsheets() {
    let home = home();
    let formula = "=HYPERLINK(\"http://127.0.0.1:1/x\") create an s3 bucket called logs-demo in eu-west-1 stack logs-demo";
    for text in [request(), formula.to_string()] {
        let out = home.cmd().args(["ask", &text]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let out = home
        .cmd()
        .args(["audit", "export", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv_text = run_clean("audit export --format csv", &out);
    let file = home.path().join("export.csv");
    let written = home
        .cmd()
        .args(["audit", "export", "--format", "csv", "--output"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(written.status.success());
    let on_disk = std::fs::read(&file).unwrap();
    assert_clean("audit export --format csv --output", &on_disk);
    assert_eq!(on_disk, csv_text.as_bytes());

    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let message = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "message")
        .unwrap();
    let messages: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[message].to_string())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(r"\u{1b}[2J\u{1b}]0;owned\u{7}") && m.contains(r"\u{202e}")),
        "{messages:?}"
    );
    // A would-be formula is a text cell; no cell a spreadsheet would evaluate.
    assert!(messages.iter().any(|m| m == &format!("'{formula}")));
    for r in csv::Reader::from_reader(csv_text.as_bytes()).records() {
        for cell in r.unwrap().iter() {
            let is_number = cell.parse::<f64>().is_ok();
            assert!(
                is_number || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell}"
            );
        }
    }

    // The JSON export is exact.
    let out = home
        .cmd()
        .args(["audit", "export", "--format", "json"])
        .output()
        .unwrap();
    let json_text = run_clean("audit export --format json", &out);
    let v: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|r| r["event"]["message"] == request().as_str())
    );
}

#[test]
fn batch_answers_every_line_around_one_that_is_not_utf8() {
    let home = home();
    let mut input = b"Restart EC2 instances tagged Env=staging\n".to_vec();
    input.extend_from_slice(b"Scan all S3 buckets \xff\xfe for public access\r\n");
    input.extend_from_slice(b"What is my daily EC2 spend in ap-south-1?\r\n");
    input.extend_from_slice(b"Scan all S3 buckets for public access");
    let out = home
        .cmd()
        .args(["classify", "--json", "--batch", "-"])
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = run_clean("classify --batch", &out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0]["agent"], "ops");
    assert_eq!(lines[1]["line"], 2);
    let err = lines[1]["error"].as_str().unwrap();
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    assert_eq!(lines[2]["agent"], "cost");
    assert_eq!(lines[3]["agent"], "security");

    // The same from a file, in human form: one line out per line in.
    let file = home.path().join("batch.txt");
    std::fs::write(&file, &input).unwrap();
    let out = home
        .cmd()
        .args(["classify", "--batch"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = run_clean("classify --batch FILE", &out);
    let human: Vec<&str> = text.lines().collect();
    assert_eq!(human.len(), 4, "{text}");
    assert!(human[1].contains("error") && human[1].contains("UTF-8"));
    assert!(human[2].starts_with("cost"), "{}", human[2]);
}

#[test]
fn hostile_batch_lines_print_as_text() {
    let home = home();
    let input = format!("{}\n{HOSTILE}\n", request());
    for args in [
        vec!["classify", "--batch", "-"],
        vec!["classify", "--json", "--batch", "-"],
    ] {
        let out = home
            .cmd()
            .args(&args)
            .write_stdin(input.clone())
            .output()
            .unwrap();
        let text = run_clean(&args.join(" "), &out);
        // One output line per input line: no data line break split them.
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}

#[test]
fn mcp_text_content_holds_escapes_not_controls() {
    let home = home();
    let ask = home
        .cmd()
        .args(["--json", "ask", &request()])
        .output()
        .unwrap();
    let id = plan_id(&ask.stdout);
    let call = |n: u64, tool: &str, args: serde_json::Value| {
        serde_json::json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                           "params": {"name": tool, "arguments": args}})
    };
    let messages = [
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "hostile-output-test", "version": "1"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        call(
            2,
            "show_plan",
            serde_json::json!({"plan_id": id, "artifacts": true}),
        ),
        call(3, "audit_search", serde_json::json!({})),
        call(4, "explain", serde_json::json!({"text": request()})),
        call(
            5,
            "show_plan",
            serde_json::json!({"plan_id": format!("p-{HOSTILE}")}),
        ),
    ];
    let input: String = messages.iter().map(|m| format!("{m}\n")).collect();
    let out = home.cmd().arg("mcp").write_stdin(input).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut answered = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(n) = v["id"].as_u64().filter(|n| *n >= 2) else {
            continue;
        };
        // What an MCP client shows a person: the decoded text of each content block.
        for block in v["result"]["content"].as_array().unwrap() {
            let text = block["text"].as_str().unwrap();
            assert_clean(&format!("MCP answer {n}"), text.as_bytes());
            if n != 4 {
                assert!(
                    text.contains(r"\u001b[2J") || text.contains(r"\u{1b}[2J"),
                    "{n}: {text}"
                );
            }
        }
        answered += 1;
    }
    assert_eq!(answered, 4);
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

/// Every cell of the frame, row by row: tall enough that the transcript still shows the request
/// above the plan's resource table (a stack behind an ALB lists 27 resources).
fn frame_text(app: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(160, 64)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn console_frames_hold_no_controls_or_bidi_after_a_hostile_request() {
    const WAIT: Duration = Duration::from_secs(20);
    let home = home();
    let (rt, mut app) = common::console(home.deck("alice"));
    rt.block_on(async {
        app.start();
        // Pasted, as a request copied from a chat or a ticket would arrive.
        app.handle_msg(Msg::Term(Event::Paste(request())));
        let typing = frame_text(&app);
        assert_clean("console while typing", typing.as_bytes());
        key(&mut app, KeyCode::Enter);
        assert!(app.run_until(WAIT, |a| a.preview.plan.is_some()).await);
        let id = app.preview.plan.as_ref().unwrap().plan.plan_id.clone();

        let conversation = frame_text(&app);
        assert_clean("conversation and preview", conversation.as_bytes());
        assert!(
            conversation.contains(r"\u{1b}[2J"),
            "the transcript shows the escape:\n{conversation}"
        );

        app.update(Action::FocusApprovals);
        assert!(
            app.run_until(WAIT, |a| a
                .approvals
                .plans
                .iter()
                .any(|r| r.plan.plan_id == id))
                .await
        );
        assert_eq!(app.focus, Pane::Approvals);
        let approvals = frame_text(&app);
        assert_clean("approvals queue", approvals.as_bytes());
        assert!(approvals.contains(r"\u{1b}"), "{approvals}");

        key(&mut app, KeyCode::Enter);
        assert!(app.run_until(WAIT, |a| a.diff.doc.is_some()).await);
        assert_clean("diff view", frame_text(&app).as_bytes());

        app.update(Action::FocusAudit);
        assert!(
            app.run_until(WAIT, |a| a
                .audit
                .rows
                .iter()
                .any(|r| r.message.contains("Create 3")))
                .await
        );
        let audit = frame_text(&app);
        assert_clean("audit pane", audit.as_bytes());
        assert!(audit.contains(r"\u{1b}"), "{audit}");
        // The detail of the request event, which quotes the request in full.
        let pos = app
            .audit
            .filtered
            .iter()
            .position(|i| app.audit.rows[*i].message.contains("Create 3"))
            .unwrap();
        app.audit.selected = pos;
        app.update(Action::Open);
        assert!(
            app.run_until(WAIT, |a| matches!(
                a.overlays.last(),
                Some(Overlay::Detail { lines, .. }) if lines.len() > 1
            ))
            .await
        );
        let detail = frame_text(&app);
        assert_clean("audit detail", detail.as_bytes());
    });
}
