//! Every key binding, in one table: dispatch and the `?` help both read it, so the help
//! can never disagree with what a key does.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScreenId {
    Profiles,
    Monitor,
    Runs,
    Compare,
}

impl ScreenId {
    pub const ALL: [ScreenId; 4] = [
        ScreenId::Profiles,
        ScreenId::Monitor,
        ScreenId::Runs,
        ScreenId::Compare,
    ];
    pub fn title(self) -> &'static str {
        match self {
            ScreenId::Profiles => "Profiles",
            ScreenId::Monitor => "Monitor",
            ScreenId::Runs => "Runs",
            ScreenId::Compare => "Compare",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextScreen,
    PrevScreen,
    Goto(ScreenId),
    Up,
    Down,
    PageUp,
    PageDown,
    // Monitor
    PeriodUp,
    PeriodDown,
    PeriodExact,
    PauseResume,
    CheckpointNow,
    Stop,
    ToggleRawLoss,
    ToggleMarker,
    Detach,
    // Runs
    Open,
    ResumeRun,
    Delete,
    Mark,
    Compare,
    CycleSort,
    ReverseSort,
    Filter,
    Reload,
    Export,
    // Profiles
    Launch,
    ExternalEdit,
    EditField,
    SwitchFocus,
    Duplicate,
    Rename,
    Save,
    Revert,
}

/// A key as written in the table and shown in the help.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    fn matches(&self, ev: &KeyEvent) -> bool {
        match *self {
            Key::Ctrl(c) => {
                ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char(c)
            }
            Key::Char(c) => {
                !ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char(c)
            }
            Key::Code(code) => ev.code == code,
        }
    }

    pub fn label(&self) -> String {
        match *self {
            Key::Char(' ') => "space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{c}"),
            Key::Code(KeyCode::Enter) => "Enter".into(),
            Key::Code(KeyCode::Tab) => "Tab".into(),
            Key::Code(KeyCode::BackTab) => "S-Tab".into(),
            Key::Code(KeyCode::Up) => "↑".into(),
            Key::Code(KeyCode::Down) => "↓".into(),
            Key::Code(KeyCode::PageUp) => "PgUp".into(),
            Key::Code(KeyCode::PageDown) => "PgDn".into(),
            Key::Code(KeyCode::Esc) => "Esc".into(),
            Key::Code(other) => format!("{other:?}"),
        }
    }
}

pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
}

impl Binding {
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(Key::label)
            .collect::<Vec<_>>()
            .join("/")
    }
}

use Action as A;
use Key::{Char as C, Code, Ctrl};

#[rustfmt::skip]
const GLOBAL: &[Binding] = &[
    Binding { keys: &[C('q'), Ctrl('c')], action: A::Quit, help: "quit (asks first if a run trains)" },
    Binding { keys: &[C('?')], action: A::Help, help: "show / hide this help" },
    Binding { keys: &[Code(KeyCode::Tab)], action: A::NextScreen, help: "next screen" },
    Binding { keys: &[Code(KeyCode::BackTab)], action: A::PrevScreen, help: "previous screen" },
    Binding { keys: &[C('1')], action: A::Goto(ScreenId::Profiles), help: "Profiles" },
    Binding { keys: &[C('2')], action: A::Goto(ScreenId::Monitor), help: "Monitor" },
    Binding { keys: &[C('3')], action: A::Goto(ScreenId::Runs), help: "Runs" },
    Binding { keys: &[C('4')], action: A::Goto(ScreenId::Compare), help: "Compare" },
];

#[rustfmt::skip]
const MONITOR: &[Binding] = &[
    Binding { keys: &[C('+'), C('=')], action: A::PeriodUp, help: "period ×1.25 (re-init later)" },
    Binding { keys: &[C('-')], action: A::PeriodDown, help: "period ÷1.25 (re-init sooner)" },
    Binding { keys: &[C('p')], action: A::PeriodExact, help: "set period (type epochs)" },
    Binding { keys: &[C(' ')], action: A::PauseResume, help: "pause / resume" },
    Binding { keys: &[C('c')], action: A::CheckpointNow, help: "checkpoint now" },
    Binding { keys: &[C('s')], action: A::Stop, help: "stop (asks y/n)" },
    Binding { keys: &[C('d')], action: A::Detach, help: "detach (the run trains on)" },
    Binding { keys: &[C('r')], action: A::ToggleRawLoss, help: "raw/EMA loss" },
    Binding { keys: &[C('m')], action: A::ToggleMarker, help: "half-block/braille charts" },
    Binding { keys: &[C('j'), Code(KeyCode::Down)], action: A::Down, help: "scroll layers down" },
    Binding { keys: &[C('k'), Code(KeyCode::Up)], action: A::Up, help: "scroll layers up" },
    Binding { keys: &[Code(KeyCode::PageDown)], action: A::PageDown, help: "scroll log back" },
    Binding { keys: &[Code(KeyCode::PageUp)], action: A::PageUp, help: "scroll log forward" },
];

#[rustfmt::skip]
const RUNS: &[Binding] = &[
    Binding { keys: &[C('j'), Code(KeyCode::Down)], action: A::Down, help: "next run" },
    Binding { keys: &[C('k'), Code(KeyCode::Up)], action: A::Up, help: "previous run" },
    Binding { keys: &[Code(KeyCode::Enter)], action: A::Open, help: "open (a live run: attach)" },
    Binding { keys: &[C('r')], action: A::ResumeRun, help: "resume (a stopped run)" },
    Binding { keys: &[C(' ')], action: A::Mark, help: "mark (for comparison)" },
    Binding { keys: &[C('C')], action: A::Compare, help: "compare (the marked runs)" },
    Binding { keys: &[C('o')], action: A::CycleSort, help: "sort (next column)" },
    Binding { keys: &[C('O')], action: A::ReverseSort, help: "reverse (the sort)" },
    Binding { keys: &[C('/')], action: A::Filter, help: "filter (Enter keeps, Esc clears)" },
    Binding { keys: &[C('d')], action: A::Delete, help: "delete (asks y/n)" },
    Binding { keys: &[C('R')], action: A::Reload, help: "reload from disk" },
    Binding { keys: &[C('x')], action: A::Export, help: "export (CSV + TensorBoard log)" },
];

#[rustfmt::skip]
const COMPARE: &[Binding] = &[
    Binding { keys: &[C('j'), Code(KeyCode::Down)], action: A::Down, help: "scroll down" },
    Binding { keys: &[C('k'), Code(KeyCode::Up)], action: A::Up, help: "scroll up" },
    Binding { keys: &[C('m')], action: A::ToggleMarker, help: "half-block/braille charts" },
];

#[rustfmt::skip]
const PROFILES: &[Binding] = &[
    Binding { keys: &[C('j'), Code(KeyCode::Down)], action: A::Down, help: "next profile / field" },
    Binding { keys: &[C('k'), Code(KeyCode::Up)], action: A::Up, help: "previous profile / field" },
    Binding { keys: &[C('f'), Code(KeyCode::Right), Code(KeyCode::Left)], action: A::SwitchFocus, help: "list/form (focus)" },
    Binding { keys: &[C('i')], action: A::EditField, help: "edit (the selected field)" },
    Binding { keys: &[Code(KeyCode::Enter), C('l')], action: A::Launch, help: "launch (a run, when valid)" },
    Binding { keys: &[C('e')], action: A::ExternalEdit, help: "$EDITOR (edit the file)" },
    Binding { keys: &[C('w')], action: A::Save, help: "save (the edits)" },
    Binding { keys: &[C('u')], action: A::Revert, help: "undo (unsaved edits)" },
    Binding { keys: &[C('D')], action: A::Duplicate, help: "duplicate (the profile)" },
    Binding { keys: &[C('n')], action: A::Rename, help: "rename (the file)" },
    Binding { keys: &[C('R')], action: A::Reload, help: "rescan the profile folders" },
];

/// The screen's own bindings (looked up first), then the global ones.
pub fn bindings(screen: ScreenId) -> [&'static [Binding]; 2] {
    let own = match screen {
        ScreenId::Profiles => PROFILES,
        ScreenId::Monitor => MONITOR,
        ScreenId::Runs => RUNS,
        ScreenId::Compare => COMPARE,
    };
    [own, GLOBAL]
}

pub fn lookup(screen: ScreenId, ev: &KeyEvent) -> Option<Action> {
    bindings(screen)
        .iter()
        .flat_map(|b| b.iter())
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// A short hint line for the footer: the first few bindings of a screen.
pub fn hint(screen: ScreenId, width: usize) -> String {
    let mut out = String::from("? help  q quit");
    // Scrolling keys are obvious; the hint line is for actions.
    for b in bindings(screen)[0].iter().filter(|b| {
        !matches!(
            b.action,
            Action::Up | Action::Down | Action::PageUp | Action::PageDown
        )
    }) {
        let piece = format!("  {} {}", b.keys[0].label(), short(b.help));
        if out.chars().count() + piece.chars().count() > width {
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// The help text before its parenthesis: `period ×1.25 (re-init later)` -> `period ×1.25`.
fn short(help: &str) -> &str {
    help.split(" (").next().unwrap_or(help)
}
