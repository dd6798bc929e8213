//! What the `:` commands do. Their names, arguments and help come from the one table in
//! [`crate::tui::commands`]; here each parsed [`Command`] becomes an action or a job.

use std::sync::Arc;

use super::App;
use super::msg::Done;
use super::tasks::Kind;
use crate::tui::action::Action;
use crate::tui::commands::{self, Command};
use crate::tui::errors;
use crate::tui::theme::Theme;

/// Suggestions `:suggest` shows in the conversation; the rest are counted.
const SUGGESTIONS_SHOWN: usize = 8;

impl App {
    pub(super) fn command(&mut self, line: &str) {
        let command = match commands::parse(line) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => return self.mistake(e),
        };
        match command {
            Command::Quit => self.update(Action::Quit),
            Command::Focus(pane) => self.focus_pane(pane),
            Command::Prompt => self.update(Action::EnterPrompt),
            Command::Help => self.update(Action::Help),
            Command::Refresh => self.update(Action::Refresh),
            Command::Cancel => self.update(Action::CancelApply),
            Command::Verify => self.update(Action::Verify),
            Command::Init => self.init_tenant(),
            Command::Export(arg) => match arg.as_deref() {
                Some("csv") => self.update(Action::ExportCsv),
                None | Some("json") => self.update(Action::ExportJson),
                Some(other) => self.mistake(format!(":export {other}: use json or csv")),
            },
            Command::Theme(None) => self.info(format!(
                "theme {} (built in: dark, light, high-contrast)",
                self.theme.name
            )),
            Command::Theme(Some(name)) => self.update(Action::SetTheme(name)),
            Command::Tenant(None) => self.info(format!(
                "tenant {}; :tenant NAME switches",
                self.deck.tenant().name
            )),
            Command::Tenant(Some(name)) => self.update(Action::SwitchTenant(name)),
            Command::Config(None) => self.info(match self.deck.aws_configuration() {
                Some(c) => format!(
                    "AWS configuration {} (account {}, {}); :config NAME switches, :config none uses the base credentials",
                    c.name,
                    c.account(),
                    c.role_arn
                ),
                None => "no AWS configuration (base credentials); :config NAME selects one".into(),
            }),
            Command::Config(Some(name)) => self.switch_config(name),
            Command::Like(None) => self.info(
                "give the plan id: the preview lists similar past requests as you type".to_string(),
            ),
            Command::Like(Some(plan_id)) => self.submit_like(plan_id),
            Command::Library(arg) => self.library_command(arg),
            Command::Suggest => self.suggest(),
        }
    }

    /// `:suggest`: the first suggestions in the conversation, read off the UI thread.
    fn suggest(&mut self) {
        let deck = self.deck.clone();
        self.spawn_blocking("reading the tenant's past".into(), false, move |_| {
            let opts = crate::knowledge::SuggestOptions::default();
            Done::Said(
                deck.requests()
                    .suggest(&opts)
                    .map(|found| {
                        crate::view::suggestions::lines(&found, opts.min_repeats, SUGGESTIONS_SHOWN)
                    })
                    .map_err(errors::shared),
            )
        });
    }

    /// A built-in theme, or the user's from the config directory (a small local file, read
    /// here so the switch shows at once).
    pub(super) fn set_theme(&mut self, name: &str) {
        match Theme::load(name, self.config_dir.as_deref(), self.theme.no_color) {
            Ok(t) => {
                let resyntax = t.syntax_theme != self.theme.syntax_theme;
                self.theme = t;
                self.style_prompt();
                if resyntax && let Some(r) = self.diff.plan.as_ref() {
                    let id = r.plan.plan_id.clone();
                    self.open_diff(id, self.diff.from);
                }
                self.success(format!("theme {name}"));
            }
            Err(e) => self.mistake(e.to_string()),
        }
    }

    /// `:init`: the same set-up as `opsdeck init`, its secret shown in the conversation.
    fn init_tenant(&mut self) {
        let deck = self.deck.clone();
        self.spawn_blocking("setting up the tenant".into(), false, move |_| {
            Done::Said(deck.init().map(|s| s.lines()).map_err(errors::shared))
        });
    }

    pub(super) fn switch_tenant(&mut self, name: String) {
        let Some(reopen) = self.reopen.clone() else {
            return self.mistake("switching tenants is not available here");
        };
        self.spawn_latest(Kind::Tenant, format!("opening tenant {name}"), move || {
            Done::TenantSwitched(reopen(&name).map(Arc::new).map_err(errors::shared))
        });
    }

    /// Selects the AWS configuration the user acts through (audited, kept for next time) and
    /// reopens the tenant with it.
    fn switch_config(&mut self, name: String) {
        let Some(reopen) = self.reopen.clone() else {
            return self.mistake("switching configurations is not available here");
        };
        let deck = self.deck.clone();
        self.spawn_latest(
            Kind::Tenant,
            format!("selecting configuration {name}"),
            move || {
                let chosen = (name != "none").then_some(name.as_str());
                Done::TenantSwitched(
                    deck.select_config(chosen)
                        .and_then(|_| reopen(&deck.tenant().name))
                        .map(Arc::new)
                        .map_err(errors::shared),
                )
            },
        );
    }
}
