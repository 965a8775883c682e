//! Entering and leaving the full-screen terminal, safely: restored on quit, on error and on
//! panic (before the panic message is printed, so it is not lost on the alternate screen).
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{
    cursor, execute,
    terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::Terminal;
use std::io::{stdout, Stdout};
use std::path::Path;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub fn enter() -> std::io::Result<Term> {
    install_panic_hook();
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, cursor::Hide)?;
    let mut t = Terminal::new(CrosstermBackend::new(stdout()))?;
    t.clear()?;
    Ok(t)
}

/// Never fails: called on every way out, some of which already are failures.
pub fn leave() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, cursor::Show);
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The engine catches its own panics and reports them as a Failed event: printing
        // them over the screen would only garble it.
        if std::thread::current().name() == Some("rifle-engine") {
            return;
        }
        leave();
        previous(info);
    }));
}

/// Runs `$EDITOR` (or `vi`) on `path` with the terminal handed over, then takes it back.
pub fn run_editor(term: &mut Term, path: &Path) -> Result<(), String> {
    leave();
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    // $EDITOR may carry arguments (`code -w`).
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(path)
        .status();
    let back = enable_raw_mode()
        .and_then(|_| execute!(stdout(), EnterAlternateScreen, cursor::Hide))
        .and_then(|_| term.clear());
    back.map_err(|e| format!("cannot restore the terminal: {e}"))?;
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{editor} exited with {s}")),
        Err(e) => Err(format!("cannot run {editor}: {e}")),
    }
}
