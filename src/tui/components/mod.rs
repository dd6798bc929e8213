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
pub mod preview;
pub mod status_bar;
