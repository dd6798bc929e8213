//! Smart input in the console (issue 17 part 4 and the console's confirm step): the reading
//! pick for a change understood with low confidence, suggestions as you type from the tenant's
//! past requests, and quick actions on a selected answer row. Headless (the app driven by keys,
//! its frames drawn on ratatui's TestBackend) and in tmux with the real binary.

mod common;
#[path = "ops_cost_support/mod.rs"]
mod support;

use std::time::Duration;

use common::moto::Moto;
use common::tmux::Tmux;
use common::{Home, Team};
use opsdeck::intent::Settled;
use opsdeck::tenant::Role;
use opsdeck::tui::app::{App, Msg, Overlay};
use opsdeck::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

const WAIT: Duration = Duration::from_secs(20);
/// Understood with low confidence: infra/create or ops/list (tests/learning.rs).
const UNSURE: &str = "get me 2 boxes for the web tier";

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn typ(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Ctrl-U: the prompt's line deleted to its start.
fn clear_prompt(app: &mut App) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    ))));
    assert_eq!(app.prompt_text(), "");
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `needle` starts on a `w`x`h` frame of the app: (column, row).
fn find(app: &App, w: u16, h: u16, needle: &str) -> (u16, u16) {
    let s = screen(app, w, h);
    for (y, line) in s.lines().enumerate() {
        let cells: Vec<char> = line.chars().collect();
        let n: Vec<char> = needle.chars().collect();
        if let Some(x) = cells.windows(n.len()).position(|win| win == n.as_slice()) {
            return (x as u16, y as u16);
        }
    }
    panic!("{needle:?} not on screen:\n{s}");
}

fn click(app: &mut App, (column, row): (u16, u16)) {
    app.handle_msg(Msg::Term(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })));
}

/// A click on where `needle` shows on a 120x40 frame.
fn click_on(app: &mut App, needle: &str) {
    let at = find(app, 120, 40, needle);
    click(app, at);
}

fn no_terraform(home: &Home) {
    // The plan is the same whether or not this machine has terraform: no dry run here.
    home.configure("[exec]\nterraform = \"opsdeck-tests-have-no-terraform\"\n");
}

#[test]
fn a_low_confidence_change_asks_for_its_reading_and_the_pick_plans_it_settled() {
    let home = Home::new();
    no_terraform(&home);
    let team = Team::new(&home, None, &[("alice", &[Role::Admin])]);
    let (rt, mut app) = common::console(team.deck("alice"));
    rt.block_on(async {
        app.start();
        assert!(app.prompt_active, "the console opens on the prompt");
        typ(&mut app, UNSURE);
        key(&mut app, KeyCode::Enter);
        assert!(
            app.run_until(WAIT, |a| matches!(
                a.overlays.last(),
                Some(Overlay::Readings(_))
            ))
            .await,
            "no reading pick: {:?}",
            app.transcript
                .lines
                .iter()
                .map(|l| l.text())
                .collect::<Vec<_>>()
        );
        assert!(
            app.preview.plan.is_none(),
            "nothing planned before the pick"
        );
        let s = screen(&app, 120, 40);
        assert!(s.contains("Which did you mean?"), "{s}");
        assert!(s.contains("1) infra/create"), "{s}");
        assert!(s.contains("2) ops/list"), "{s}");

        // Down moves, Up comes back; a number out of the list does nothing; Enter plans the
        // selected reading.
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Up);
        key(&mut app, KeyCode::Char('7'));
        assert!(matches!(app.overlays.last(), Some(Overlay::Readings(p)) if p.selected == 0));
        key(&mut app, KeyCode::Enter);
        assert!(app.overlays.is_empty());
        assert!(app.run_until(WAIT, |a| a.preview.plan.is_some()).await);
        let rec = app.preview.plan.clone().unwrap();
        assert_eq!(rec.plan.intent.agent.as_str(), "infra");
        assert_eq!(
            rec.plan.intent.settled,
            Some(Settled::Confirmation { reading: 1, of: 2 }),
            "planned as `ask --confirm-reading 1` plans it"
        );

        // Esc plans nothing.
        assert!(app.prompt_active);
        typ(&mut app, "get me 3 boxes for the web tier please now");
        key(&mut app, KeyCode::Enter);
        assert!(
            app.run_until(WAIT, |a| matches!(
                a.overlays.last(),
                Some(Overlay::Readings(_))
            ))
            .await
        );
        {
            let before = app.preview.plan.clone();
            key(&mut app, KeyCode::Esc);
            assert!(app.overlays.is_empty());
            assert!(app.preview.planning.is_none(), "nothing was sent");
            assert_eq!(
                app.preview.plan.as_ref().map(|r| &r.plan.plan_id),
                before.as_ref().map(|r| &r.plan.plan_id)
            );
        }
    });
}

#[test]
fn the_console_picks_a_reading_by_its_number_in_tmux() {
    let Some(t) = Tmux::new("reading") else {
        return;
    };
    let home = Home::new();
    no_terraform(&home);
    common::enrol_cli(&home);
    let env = vec![
        ("OPSDECK_HOME", home.path().display().to_string()),
        ("USER", "alice".to_string()),
        ("OPSDECK_USER", String::new()),
        ("NO_COLOR", String::new()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string()),
    ];
    t.start("alice", (120, 40), &env, env!("CARGO_BIN_EXE_opsdeck"), &[]);
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));
    t.text("alice", UNSURE);
    t.keys("alice", &["Enter"]);
    let s = t.wait("alice", "the reading pick", |s| {
        s.contains("Which did you mean?") && s.contains("2) ops/list")
    });
    println!("{s}");
    t.keys("alice", &["1"]);
    let s = t.wait("alice", "the plan of reading 1", |s| {
        s.contains("confirmed reading 1 of 2") || s.contains("PENDING")
    });
    println!("{s}");
    // m hands the mouse to the terminal (its own text selection works) and takes it back: the
    // terminal is told, as tmux's record of what the program asked for shows.
    let mouse = || t.run(&["display", "-p", "-t", "alice", "#{mouse_any_flag}"]);
    let until = |want: &str| {
        let end = std::time::Instant::now() + Duration::from_secs(15);
        while mouse().trim() != want {
            assert!(std::time::Instant::now() < end, "mouse flag never {want}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("1");
    t.keys("alice", &["Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    t.keys("alice", &["m"]);
    t.wait("alice", "mouse off", |s| s.contains("mouse off"));
    until("0");
    t.keys("alice", &["m"]);
    until("1");

    // Recorded as confirmed: a later similar request is read like it, and says whose it was.
    let v = home.json(
        [("AWS_ENDPOINT_URL", "http://127.0.0.1:1")],
        &[
            "--user",
            "alice",
            "explain",
            "get me 5 boxes for the web tier",
        ],
    );
    assert_eq!(v["settled"]["by"], "example", "{v}");
    assert_eq!(v["settled"]["who"], "alice", "{v}");
    assert_eq!(v["agent"], "infra", "{v}");
}

#[test]
fn typing_the_start_of_a_past_answered_request_suggests_it_and_tab_takes_it() {
    let Some(moto) = Moto::get("suggest_past_request") else {
        return;
    };
    let _held = moto.exclusive();
    support::seed::fleet(&moto.endpoint, "us-east-1");
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    // olga's question was answered; her bucket plan waits for approval (not a success yet).
    let asked = "list instances tagged Env=staging in us-east-1";
    let answered = team
        .deck("olga")
        .requests()
        .request(asked, &common::quiet)
        .unwrap();
    assert!(matches!(answered, opsdeck::pipeline::Answer::Report(_)));
    team.deck("olga")
        .requests()
        .ask(
            "create an s3 bucket called zz-waiting-bucket in us-east-1",
            &common::quiet,
        )
        .unwrap();

    let (rt, mut app) = common::console(team.deck("alice"));
    rt.block_on(async {
        app.start();
        // The queue poll's job reads the trail and builds what can be suggested.
        assert!(
            app.run_until(WAIT, |a| a
                .phrases
                .suggest("list inst", 1)
                .first()
                .is_some_and(|s| matches!(
                    s.source,
                    opsdeck::view::phrase::PhraseSource::Past { .. }
                )))
            .await
        );
        // alice may approve olga's plan, so her console opened on the queue: `i` types.
        if !app.prompt_active || app.focus != opsdeck::tui::action::Pane::Conversation {
            key(&mut app, KeyCode::Char('i'));
        }
        typ(&mut app, "list inst");
        let s = app.suggestion.clone().expect("a suggestion");
        assert_eq!(s.text, asked);
        let screen = screen(&app, 120, 40);
        assert!(
            screen.contains(&format!("│{asked}")),
            "the rest shows after what is typed:\n{screen}"
        );
        assert!(screen.contains("tab takes the suggestion"), "{screen}");
        key(&mut app, KeyCode::Tab);
        assert_eq!(app.prompt_text(), asked);
        assert!(
            app.suggestion.is_none(),
            "a whole request suggests nothing more"
        );

        // A plan still waiting is no success: it is not suggested.
        clear_prompt(&mut app);
        typ(&mut app, "create an s3 bucket called zz");
        assert!(app.suggestion.is_none(), "{:?}", app.suggestion);
        // Right at the end of the line takes a known phrase.
        clear_prompt(&mut app);
        typ(&mut app, "tail log");
        key(&mut app, KeyCode::Right);
        assert_eq!(app.prompt_text(), "tail log group ");
    });
}

#[test]
fn a_selected_instance_row_puts_a_restart_request_in_the_prompt_without_sending_it() {
    let Some(moto) = Moto::get("row_quick_actions") else {
        return;
    };
    let _held = moto.exclusive();
    let fleet = support::seed::fleet(&moto.endpoint, "us-east-1");
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    let (rt, mut app) = common::console(team.deck("olga"));
    rt.block_on(async {
        app.start();
        assert!(app.prompt_active);
        typ(&mut app, "list instances tagged Env=staging in us-east-1");
        key(&mut app, KeyCode::Enter);
        assert!(
            app.run_until(WAIT, |a| a
                .transcript
                .lines
                .iter()
                .any(|l| l.table.as_ref().is_some_and(|t| !t.header)))
                .await
        );
        assert!(app.run_until(WAIT, |a| !a.agents_running()).await);

        // Esc leaves the prompt; `s` selects the newest row, Up the one above it.
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('s'));
        let newest = app.transcript.selected.expect("a row selected");
        key(&mut app, KeyCode::Up);
        let above = app.transcript.selected.unwrap();
        assert!(above < newest, "{above} {newest}");
        let row = app.transcript.lines[above].table.clone().unwrap();
        let id = row.cells[0].clone();
        assert!(
            fleet.staging_web.contains(&id),
            "{id} not one of {:?}",
            fleet.staging_web
        );

        // A click on the newest row selects it too (and back with Up).
        let newest_id = app.transcript.lines[newest].table.as_ref().unwrap().cells[0].clone();
        click_on(&mut app, &newest_id);
        assert_eq!(app.transcript.selected, Some(newest));
        key(&mut app, KeyCode::Up);
        assert_eq!(app.transcript.selected, Some(above));

        // Enter lists what to ask about it.
        key(&mut app, KeyCode::Enter);
        let Some(Overlay::RowActions(list)) = app.overlays.last() else {
            panic!("no quick actions: {:?}", app.notice.map(|n| n.text()));
        };
        let verbs: Vec<&str> = list.actions.iter().map(|a| a.verb).collect();
        assert_eq!(verbs, vec!["restart", "stop"]);
        let s = screen(&app, 120, 40);
        assert!(s.contains("Ask about this row"), "{s}");
        assert!(
            s.contains(&format!("restart instance {id} in us-east-1")),
            "{s}"
        );

        // 1: the request is in the prompt, to read and send; nothing was sent.
        let answers = app.transcript.lines.len();
        key(&mut app, KeyCode::Char('1'));
        assert!(app.overlays.is_empty());
        assert!(app.prompt_active);
        assert_eq!(
            app.prompt_text(),
            format!("restart instance {id} in us-east-1")
        );
        assert!(app.preview.planning.is_none(), "not sent");
        assert!(!app.agents_running(), "not sent");
        assert_eq!(app.transcript.selected, None);
        assert!(app.transcript.lines.len() <= answers + 1);
        // It goes through the usual path when sent: a pending plan for that instance.
        key(&mut app, KeyCode::Enter);
        assert!(app.run_until(WAIT, |a| a.preview.plan.is_some()).await);
        let rec = app.preview.plan.clone().unwrap();
        assert_eq!(rec.plan.intent.action, "restart");
        assert_eq!(rec.plan.intent.params.instance_ids, vec![id]);
        assert_eq!(rec.state, opsdeck::approval::State::Pending);
    });
}

#[test]
fn clicks_focus_tabs_and_panes_and_select_queue_rows_and_m_lets_the_terminal_select_text() {
    let home = Home::new();
    no_terraform(&home);
    let team = Team::new(
        &home,
        None,
        &[("alice", &[Role::Admin]), ("olga", &[Role::Operator])],
    );
    let olga = team.deck("olga");
    let first = olga
        .requests()
        .ask(
            "create an s3 bucket called first-click in us-east-1",
            &common::quiet,
        )
        .unwrap();
    let second = olga
        .requests()
        .ask(
            "create an s3 bucket called second-click in us-east-1",
            &common::quiet,
        )
        .unwrap();
    let (rt, mut app) = common::console(team.deck("alice"));
    rt.block_on(async {
        app.start();
        assert!(app.run_until(WAIT, |a| a.approvals.plans.len() == 2).await);
        click_on(&mut app, "5 Audit");
        assert_eq!(app.focus, opsdeck::tui::action::Pane::Audit);
        click_on(&mut app, "4 Approvals");
        assert_eq!(app.focus, opsdeck::tui::action::Pane::Approvals);
        // Newest first: the first plan is the second row.
        let (x, y) = find(&app, 120, 40, &first.plan.plan_id);
        click(&mut app, (x + 2, y));
        assert_eq!(
            app.approvals
                .selected_plan()
                .map(|r| r.plan.plan_id.clone()),
            Some(first.plan.plan_id.clone())
        );
        click_on(&mut app, &second.plan.plan_id);
        assert_eq!(
            app.approvals
                .selected_plan()
                .map(|r| r.plan.plan_id.clone()),
            Some(second.plan.plan_id.clone())
        );
        click_on(&mut app, "1 Conversation");
        assert_eq!(app.focus, opsdeck::tui::action::Pane::Conversation);

        // m: the terminal selects text (the loop releases the mouse); m again takes it back.
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('m'));
        assert!(!app.mouse_capture);
        assert!(app.notice.as_ref().unwrap().text().contains("mouse off"));
        key(&mut app, KeyCode::Char('m'));
        assert!(app.mouse_capture);
        // An overlay takes no clicks.
        key(&mut app, KeyCode::Char('?'));
        click_on(&mut app, "5 Audit");
        assert_eq!(app.focus, opsdeck::tui::action::Pane::Conversation);
    });
}

#[test]
fn a_listed_log_group_offers_tail_and_a_row_above_the_view_is_scrolled_into_it() {
    let Some(moto) = Moto::get("row_log_groups") else {
        return;
    };
    let _held = moto.exclusive();
    // More groups than an 80x24 conversation shows at once.
    let groups: Vec<String> = (0..30).map(|k| format!("/tui-test/app-{k:02}")).collect();
    support::seed::runtime().block_on(async {
        let logs =
            aws_sdk_cloudwatchlogs::Client::new(&support::seed::conf(&moto.endpoint, "us-east-1"));
        for g in &groups {
            logs.create_log_group()
                .log_group_name(g)
                .send()
                .await
                .unwrap();
        }
    });
    let home = Home::new();
    home.use_endpoint(&moto.endpoint);
    let team = Team::new(&home, None, &[("alice", &[Role::Admin])]);
    let (rt, mut app) = common::console(team.deck("alice"));
    rt.block_on(async {
        app.start();
        typ(&mut app, "list log groups in us-east-1");
        key(&mut app, KeyCode::Enter);
        assert!(app.run_until(WAIT, |a| !a.agents_running()).await);
        let rows: Vec<usize> = (0..app.transcript.lines.len())
            .filter(|&i| {
                app.transcript.lines[i]
                    .table
                    .as_ref()
                    .is_some_and(|t| !t.header && t.columns[0] == "LOG GROUP")
            })
            .collect();
        assert!(
            rows.len() >= groups.len(),
            "{:?}",
            app.notice.map(|n| n.text())
        );
        let name_of =
            |app: &App, i: usize| app.transcript.lines[i].table.as_ref().unwrap().cells[0].clone();
        // Drawn once at 80x24: the first groups are above the view.
        let s = screen(&app, 80, 24);
        let first = name_of(&app, rows[0]);
        assert!(!s.contains(&first), "{first} already on screen:\n{s}");

        // `s` selects the newest row; Up to the first one scrolls each into view.
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('s'));
        assert_eq!(app.transcript.selected, rows.last().copied());
        for _ in 1..rows.len() {
            key(&mut app, KeyCode::Up);
            let at = app.transcript.selected.unwrap();
            let s = screen(&app, 80, 24);
            assert!(
                s.contains(&name_of(&app, at)),
                "row {at} not on screen:\n{s}"
            );
        }
        assert_eq!(app.transcript.selected, Some(rows[0]));
        // The view is at the first rows now: `s` brings the newest row back into it.
        let newest = name_of(&app, *rows.last().unwrap());
        assert!(!screen(&app, 80, 24).contains(&newest));
        key(&mut app, KeyCode::Char('s'));
        let s = screen(&app, 80, 24);
        assert!(s.contains(&newest), "{newest} not on screen:\n{s}");

        // The row's action: tail that log group, in its region, put in the prompt.
        key(&mut app, KeyCode::Up);
        let picked = name_of(&app, app.transcript.selected.unwrap());
        key(&mut app, KeyCode::Enter);
        let Some(Overlay::RowActions(list)) = app.overlays.last() else {
            panic!("no quick actions: {:?}", app.notice.map(|n| n.text()));
        };
        let offered: Vec<(&str, &str)> = list
            .actions
            .iter()
            .map(|a| (a.verb, a.request.as_str()))
            .collect();
        let request = format!("tail log group {picked} in us-east-1");
        assert_eq!(offered, vec![("tail", request.as_str())]);
        key(&mut app, KeyCode::Char('1'));
        assert_eq!(app.prompt_text(), request);
        // Sent, it reads that group's events (none yet).
        key(&mut app, KeyCode::Enter);
        assert!(app.run_until(WAIT, |a| !a.agents_running()).await);
        let said: Vec<String> = app.transcript.lines.iter().map(|l| l.text()).collect();
        assert!(
            said.iter()
                .any(|l| l.contains(&format!("log events in {picked}"))),
            "{said:#?}"
        );
    });
}
