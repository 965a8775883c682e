//! Colours that degrade: truecolor/256 only when COLORTERM says so, the 16 named ANSI
//! colours otherwise, none at all under NO_COLOR (any value).
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    None,
    Ansi16,
    Rich,
}

impl ColorMode {
    pub fn from_env() -> Self {
        if std::env::var_os("NO_COLOR").is_some() {
            return ColorMode::None;
        }
        match std::env::var("COLORTERM") {
            Ok(v) if v.contains("truecolor") || v.contains("24bit") || v.contains("256") => {
                ColorMode::Rich
            }
            _ => ColorMode::Ansi16,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub mode: ColorMode,
}

/// Run colours in a fixed order, so a run keeps its colour on every chart and legend.
const RUN_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::Blue,
    Color::Red,
];

impl Theme {
    pub fn new(mode: ColorMode) -> Self {
        Self { mode }
    }

    fn fg(&self, c: Color) -> Style {
        match self.mode {
            ColorMode::None => Style::default(),
            _ => Style::default().fg(c),
        }
    }

    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn reinit(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        match self.mode {
            ColorMode::None => Style::default(),
            _ => Style::default().fg(Color::DarkGray),
        }
    }
    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    /// Selection works without colour too: reversed video.
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn run(&self, i: usize) -> Style {
        self.fg(RUN_COLORS[i % RUN_COLORS.len()])
    }
    /// Second series of a chart (e.g. val next to train).
    pub fn series(&self, i: usize) -> Style {
        self.fg([Color::Cyan, Color::Yellow, Color::Green][i % 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_no_colour_but_selection_still_shows() {
        let t = Theme::new(ColorMode::None);
        assert_eq!(t.bad(), Style::default());
        assert_eq!(t.run(3), Style::default());
        assert!(t.selected().add_modifier.contains(Modifier::REVERSED));
        let t = Theme::new(ColorMode::Ansi16);
        assert_eq!(t.bad().fg, Some(Color::Red));
    }
}
