//! The full-screen console (`opsdeck` without a subcommand). The only module that uses ratatui.
//!
//! How it fits together:
//! - [`action`]: the one [`action::Action`] enum between input and state, and the panes.
//! - [`keymap`]: keys → actions per context, from `keymap.toml` plus the user's overrides.
//! - [`app`]: the state, [`app::App::update`] (the only place state changes) and the
//!   [`app::Msg`] channel on which terminal input and background results arrive; split by
//!   concern (state, input, update, confirm, command, tasks, fold), its header maps them.
//!   Every [`crate::pipeline::Deck`] call that reads the store, reaches AWS or asks a model runs
//!   in a job that keeps only the latest request; the live preview is the core's pure offline
//!   reading ([`crate::pipeline::Deck::preview`]).
//! - [`jobs`]: the work those jobs do, and result formatting.
//! - [`errors`]: how an error from the core is shown (message, code, colour by kind); errors
//!   reach it as errors.
//! - [`diff`], [`highlight`]: the diff model and syntect highlighting, computed by jobs, cached.
//! - [`ui`], [`components`]: drawing from `&App`, one file per pane or overlay.
//! - [`theme`], [`text`]: styles by meaning; fitting text into cells without silent cuts.
//!
//! Start-up draws the frame's shell first, then opens the store (policies compile there), so
//! something is on screen at once. The loop: a reader thread turns terminal input into `Msg::Term`; the loop waits for the
//! next message or the next deadline (preview debounce, spinner frame while an agent runs,
//! the 2 s queue poll), folds it and everything else already queued, and draws once, only if
//! something changed. Idle, nothing is drawn.

pub mod action;
pub mod app;
pub mod commands;
pub mod components;
pub mod diff;
pub mod errors;
pub mod highlight;
pub mod jobs;
pub mod keymap;
pub mod text;
pub mod theme;
pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;

use ratatui::crossterm::event::{
    self, DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;

use crate::error::{Error, Result};
use crate::pipeline::{Deck, OpenOptions};
use app::{App, AppOptions, Msg, Reopen};
use keymap::Keymap;
use theme::Theme;

pub fn run(open: OpenOptions) -> Result<u8> {
    let started = std::time::Instant::now();
    let OpenOptions {
        home,
        identity_dir,
        tenant,
        user,
        user_env,
        backend,
        clock,
        endpoint_url,
        aws_config,
        read_only,
        ..
    } = open;
    // Theme and keymap first: a broken file is reported before the screen is taken over.
    let paths = crate::config::Paths::resolve(home.as_deref(), identity_dir.as_deref())?;
    let config_dir: Option<PathBuf> = paths.config_file.parent().map(|p| p.to_path_buf());
    let no_color = theme::no_color_from_env();
    let theme_name = std::env::var("OPSDECK_THEME").unwrap_or_else(|_| "dark".into());
    let theme = Theme::load(&theme_name, config_dir.as_deref(), no_color)
        .map_err(|e| Error::input(e.to_string()))?;
    let keymap = Keymap::load(config_dir.as_deref()).map_err(|e| Error::input(e.to_string()))?;
    let reopen: Reopen = {
        let (home, identity_dir, user, user_env, backend, clock, endpoint_url) = (
            home.clone(),
            identity_dir.clone(),
            user.clone(),
            user_env.clone(),
            backend.clone(),
            clock.clone(),
            endpoint_url.clone(),
        );
        // Another tenant (or a new configuration selection) opens with the user's selection.
        Arc::new(move |tenant: &str| {
            Deck::open(OpenOptions {
                home: home.clone(),
                identity_dir: identity_dir.clone(),
                tenant: Some(tenant.to_string()),
                user: user.clone(),
                user_env: user_env.clone(),
                backend: backend.clone(),
                clock: clock.clone(),
                endpoint_url: endpoint_url.clone(),
                read_only,
                ..OpenOptions::default()
            })
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;

    let mut terminal = ratatui::try_init().map_err(|e| Error::io("opening the terminal", e))?;
    // ratatui's hook restores the screen on panic; mouse capture must be released too.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste
        );
        hook(info);
    }));
    // Bracketed paste: a pasted text arrives as one event, newlines and all, not as keys
    // (a newline would submit half of it).
    let _ = execute!(std::io::stdout(), EnableMouseCapture, EnableBracketedPaste);
    let restore = || {
        let _ = execute!(
            std::io::stdout(),
            DisableMouseCapture,
            DisableBracketedPaste
        );
        ratatui::restore();
    };
    // The frame's shell is on screen while the store opens and the policies compile.
    let who = user.clone().or(user_env.clone()).unwrap_or_default();
    if let Err(e) = terminal.draw(|f| ui::draw_splash(f, &theme, tenant.as_deref(), &who)) {
        restore();
        return Err(Error::io("drawing", e));
    }
    // Read by benches/tui.rs: time from entering the console to the first frame on screen.
    tracing::info!(
        first_frame_us = started.elapsed().as_micros() as u64,
        "first frame drawn"
    );
    let deck = match Deck::open(OpenOptions {
        home,
        identity_dir,
        tenant,
        user,
        user_env,
        backend,
        clock,
        endpoint_url,
        aws_config,
        read_only,
        ..OpenOptions::default()
    }) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            // Opening errors print as usual, on the restored terminal.
            restore();
            return Err(e);
        }
    };
    let mut app = App::new(
        deck,
        AppOptions {
            theme,
            keymap,
            config_dir,
            handle: rt.handle().clone(),
            reopen: Some(reopen),
        },
    );
    tracing::info!(tenant = %app.deck.tenant().name, user = %app.deck.identity().user, "console started");

    let tx = app.sender();
    std::thread::Builder::new()
        .name("opsdeck-input".into())
        .spawn(move || {
            // Blocks in read(); ends when the app is gone (send fails) or input closes.
            while let Ok(ev) = event::read() {
                if tx.send(Msg::Term(ev)).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::io("starting the input thread", e))?;

    let result = rt.block_on(async {
        terminal
            .draw(|f| ui::draw(f, &app))
            .map_err(|e| Error::io("drawing", e))?;
        app.frames += 1;
        tracing::info!(
            interactive_us = started.elapsed().as_micros() as u64,
            "first interactive frame drawn"
        );
        app.start();
        let mut captured = true;
        while !app.should_quit {
            if app.step().await && !app.should_quit {
                terminal
                    .draw(|f| ui::draw(f, &app))
                    .map_err(|e| Error::io("drawing", e))?;
                app.frames += 1;
            }
            // `m` asked for the terminal's own text selection (or the console's clicks again).
            if app.mouse_capture != captured {
                captured = app.mouse_capture;
                let _ = if captured {
                    execute!(std::io::stdout(), EnableMouseCapture)
                } else {
                    execute!(std::io::stdout(), DisableMouseCapture)
                };
            }
        }
        Ok::<(), Error>(())
    });

    restore();
    tracing::info!(frames = app.frames, "console closed");
    // Background jobs (a blocked store call) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    result.map(|_| 0)
}
