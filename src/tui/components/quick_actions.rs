//! A selected answer row's quick actions: numbered requests to put in the prompt (not sent).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, RowActions};
use crate::tui::text::fit;
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, overlay_block, styled};

pub fn draw(f: &mut Frame, area: Rect, app: &App, list: &RowActions) {
    let width = area.width.min(90);
    let inner_w = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (i, a) in list.actions.iter().enumerate() {
        let selected = i == list.selected;
        let m = if selected {
            Meaning::Selection
        } else {
            Meaning::Text
        };
        let head = format!(
            "{} {}) {:<9} ",
            if selected { "›" } else { " " },
            i + 1,
            a.verb
        );
        let room = inner_w.saturating_sub(head.chars().count());
        lines.push(Line::from(vec![
            styled(app, m, head),
            styled(app, Meaning::Request, fit(&a.request, room)),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(styled(
        app,
        Meaning::Muted,
        "number or enter: into the prompt, to read and send · esc: nothing",
    )));
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    let inner = overlay_block(f, app, r, "Ask about this row");
    f.render_widget(Paragraph::new(lines), inner);
}
