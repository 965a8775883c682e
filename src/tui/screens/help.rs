//! `?`: every key of the current screen, read from the one binding table.
use crate::tui::keys::{bindings, Action, ScreenId};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, screen: ScreenId, theme: &Theme) {
    let [own, global] = bindings(screen);
    let mut lines = vec![Line::styled(
        format!("{} keys", screen.title()),
        theme.title(),
    )];
    let key_w = 14;
    for b in own {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>key_w$}  ", b.keys_label()), theme.accent()),
            Span::raw(b.help),
        ]));
    }
    lines.push(Line::styled("everywhere", theme.title()));
    let mut screens_done = false;
    for b in global {
        // The four screen keys take one line.
        if matches!(b.action, Action::Goto(_)) {
            if !screens_done {
                screens_done = true;
                let names: Vec<&str> = ScreenId::ALL.iter().map(|s| s.title()).collect();
                lines.push(Line::from(vec![
                    Span::styled(format!("{:>key_w$}  ", "1/2/3/4"), theme.accent()),
                    Span::raw(names.join(" / ")),
                ]));
            }
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("{:>key_w$}  ", b.keys_label()), theme.accent()),
            Span::raw(b.help),
        ]));
    }
    let w = area.width.min(60);
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title("help (? or Esc closes)")),
        r,
    );
}
