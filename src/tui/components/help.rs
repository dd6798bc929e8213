//! Help, generated from the keymap: what each key does, per context.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::keymap::CONTEXTS;
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, overlay_block, overlay_scroll, styled};

pub fn lines(app: &App) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in CONTEXTS {
        let binds = app.keymap.bindings(ctx);
        if binds.is_empty() {
            continue;
        }
        out.push(Line::from(styled(app, Meaning::Title, ctx.to_string())));
        for (key, action) in binds {
            out.push(Line::from(vec![
                styled(app, Meaning::StatusKey, format!("  {key:<12}")),
                styled(app, Meaning::Text, action.describe()),
            ]));
        }
        out.push(Line::default());
    }
    out.push(Line::from(styled(
        app,
        Meaning::Muted,
        format!("commands (:) {}", crate::tui::commands::summary()),
    )));
    out
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, scroll: u16) {
    let r = centered(area, 72.min(area.width), area.height);
    let inner = overlay_block(f, app, r, "keys (esc closes; from keymap.toml)");
    let lines = lines(app);
    let scroll = overlay_scroll(f, app, r, lines.len(), inner.height, scroll);
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}
