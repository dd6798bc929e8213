//! The reading pick: a change understood with low confidence lists its readings, numbered as
//! `ask --confirm-reading N` counts them; the requester picks one (its number, or the arrows and
//! Enter) or plans nothing (Esc).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, ReadingPick};
use crate::tui::text::wrap;
use crate::tui::theme::Meaning;
use crate::tui::ui::{centered, overlay_block, styled};

pub fn draw(f: &mut Frame, area: Rect, app: &App, pick: &ReadingPick) {
    let width = area.width.min(76);
    let inner_w = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'static>> = wrap(&pick.choice.question, inner_w)
        .into_iter()
        .map(|l| Line::from(styled(app, Meaning::Text, l)))
        .collect();
    lines.push(Line::default());
    for (i, row) in pick.choice.rows.iter().enumerate() {
        let selected = i == pick.selected;
        let m = if selected {
            Meaning::Selection
        } else {
            Meaning::Text
        };
        lines.push(Line::from(vec![
            styled(
                app,
                m,
                format!("{} {}) ", if selected { "›" } else { " " }, row.number),
            ),
            styled(app, m, format!("{:<24}", row.reading)),
            styled(
                app,
                Meaning::Muted,
                format!("{:>3} % of the evidence", row.percent),
            ),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(styled(
        app,
        Meaning::Muted,
        format!(
            "1-{} or ↑↓ enter: plan that reading · esc: plan nothing (rephrase instead)",
            pick.choice.rows.len()
        ),
    )));
    let height = (lines.len() as u16 + 2).min(area.height);
    let r = centered(area, width, height);
    let inner = overlay_block(f, app, r, "Which did you mean?");
    f.render_widget(Paragraph::new(lines), inner);
}
