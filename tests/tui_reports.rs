//! The Reports pane driven headless with its real jobs: `6` opens it, the stored reports are
//! read and the stale ones built and stored in the background; a report that fails shows its
//! error in its row; `r` builds the selected one again, the timer builds the stale ones after
//! `[reports] refresh_minutes`, `w` shows what changed since last week's run. Then the real
//! binary in tmux at 80x24 opening pane 6.

mod common;

use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{Home, team};
use opsdeck::reports::ReportName;
use opsdeck::tui::action::Pane;
use opsdeck::tui::app::{App, Msg};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const WAIT: Duration = Duration::from_secs(60);

fn key(app: &mut App, code: KeyCode) {
    app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| opsdeck::tui::ui::draw(f, app)).unwrap();
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

fn settled(a: &App) -> bool {
    a.reports.loaded && a.reports.building.is_empty()
}

fn runs(app: &App, name: ReportName) -> usize {
    app.deck.reports().history(name).unwrap().len()
}

#[test]
fn the_reports_pane_builds_stores_refreshes_and_compares_in_the_background() {
    let home = Home::new();
    let t = team(&home);
    let (rt, mut app) = common::console(t.deck("bob"));
    rt.block_on(async {
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('6'));
        assert_eq!(app.focus, Pane::Reports);
        assert!(app.run_until(WAIT, settled).await, "reports built");
    });
    // Every report either built (stored, fresh) or says why not in its row: no crash, no gap.
    for name in ReportName::ALL {
        assert!(
            app.reports.docs.contains_key(&name) || app.reports.errors.contains_key(&name),
            "{name}"
        );
    }
    assert!(app.reports.docs.contains_key(&ReportName::Operations));
    assert_eq!(runs(&app, ReportName::Operations), 1);
    let s = screen(&app, 200, 60);
    println!("{s}");
    let row = |s: &str, name: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{name} ")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{s}"))
            .to_string()
    };
    assert!(row(&s, "operations").contains("fresh"), "{s}");
    for (name, e) in &app.reports.errors {
        let r = row(&s, name.as_str());
        assert!(r.contains("error"), "{r}");
        let said = opsdeck::tui::errors::line("", e).1;
        let head: String = said.chars().take(20).collect();
        assert!(r.contains(&head), "{r} / {said}");
    }
    assert!(s.contains("drift no stack checked yet"), "{s}");

    // r: the selected report again (the list starts at cost; operations is the fourth).
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.reports.selected_name(), ReportName::Operations);
    let s = screen(&app, 80, 24);
    assert!(s.contains("▸ [operations]"), "the report's outputs:\n{s}");
    key(&mut app, KeyCode::Char('r'));
    rt.block_on(async {
        assert!(app.run_until(WAIT, settled).await);
    });
    assert_eq!(runs(&app, ReportName::Operations), 2);

    // The interval passes (the tenant's 60 minutes): the timer builds the stale ones again.
    t.clock.advance_secs(61 * 60);
    assert!(row(&screen(&app, 200, 60), "operations").contains("stale"));
    app.on_timers(Instant::now() + Duration::from_secs(3601));
    rt.block_on(async {
        assert!(app.run_until(WAIT, settled).await);
    });
    assert_eq!(runs(&app, ReportName::Operations), 3);
    assert!(row(&screen(&app, 200, 60), "operations").contains("fresh"));

    // w: what changed since last week's run (the first one is the nearest).
    key(&mut app, KeyCode::Char('w'));
    rt.block_on(async {
        assert!(
            app.run_until(WAIT, |a| a.reports.comparison.is_some())
                .await
        );
    });
    let (name, c) = app.reports.comparison.as_ref().unwrap();
    assert_eq!(*name, ReportName::Operations);
    assert!(c.is_ok(), "{c:?}");
    let s = screen(&app, 200, 60);
    assert!(
        s.contains("operations: what changed since last week")
            && s.contains("operations report: latest"),
        "{s}"
    );
    key(&mut app, KeyCode::Char('w'));
    assert!(screen(&app, 200, 60).contains("▸ [operations]"));
}

/// The real binary at 80x24: `6` from an empty prompt opens the Reports pane, whose reports
/// are built in the background.
#[test]
fn pane_6_opens_the_reports_in_tmux() {
    let Some(t) = Tmux::new("reports") else {
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
    t.wait("alice", "the console", |s| s.contains("1 Conversation"));
    t.keys("alice", &["6"]);
    let s = t.wait("alice", "the Reports pane with operations built", |s| {
        s.contains("6 Reports stored again every 60 min")
            && s.lines()
                .any(|l| l.contains("operations") && l.contains("fresh"))
            && s.contains("drift")
    });
    println!("{s}");
    t.keys("alice", &["C-c"]);
}
