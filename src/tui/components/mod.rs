/*!
The panes and overlays, one file each. Every `draw` takes the area and `&App` and renders what
fits: no component keeps state of its own or changes the app's; keys are turned into actions by
the keymap before they reach [`crate::tui::app::App::update`]. Lists and the diff build only the
rows inside their area, so a frame costs the same with 10 or 100,000 items.
*/

pub mod approvals;
pub mod audit;
pub mod confirm;
pub mod conversation;
pub mod diff_view;
pub mod help;
pub mod library;
pub mod preview;
pub mod quick_actions;
pub mod readings;
pub mod reports;
pub mod status_bar;

use crate::plan::ChangeAction;
use crate::tui::theme::Meaning;

/// The colour of a resource change, wherever the console lists one: a replacement destroys the
/// resource first, so it is as alarming as a policy deny.
pub fn change_meaning(action: ChangeAction) -> Meaning {
    match action {
        ChangeAction::Create => Meaning::DiffAdd,
        ChangeAction::Update => Meaning::GateWarn,
        ChangeAction::Delete => Meaning::DiffRemove,
        ChangeAction::Replace => Meaning::GateDeny,
    }
}
