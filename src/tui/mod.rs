//! The terminal UI: `rifle-tui` with no arguments, or `rifle-tui tui [PROFILE]`.
//!
//! Pure state (`monitor_state`, the screens' state structs) is folded from engine events
//! and key actions; views are rebuilt each frame from it. The engine is reached only
//! through `protocol` messages (`engine_link`), never tch.
pub mod app;
pub mod engine_link;
pub mod keys;
pub mod monitor_state;
pub mod profile_edit;
pub mod screens;
pub mod series;
pub mod terminal;
pub mod theme;

pub use app::{App, Config, Effect};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// At most this many frames a second.
const FRAME: Duration = Duration::from_millis(100);
/// With no run training, wake this rarely (nothing changes without a key).
const IDLE: Duration = Duration::from_secs(2);

/// The profile folders: ./profiles, then the user's config folder.
pub fn default_profile_dirs() -> Vec<(PathBuf, bool)> {
    let mut dirs = vec![(PathBuf::from("profiles"), false)];
    if let Some(d) = directories::ProjectDirs::from("", "", "rifle-tui") {
        dirs.push((d.config_dir().join("profiles"), true));
    }
    dirs
}

/// `rifle-tui attach [RUN]`: the app, attached to a live run (the newest by default).
pub fn attach(runs_dir: &Path, run: Option<&str>) -> Result<i32, String> {
    let store = crate::runs::RunStore::new(runs_dir);
    let path = match run {
        Some(q) => store.resolve(q)?,
        None => store
            .list()
            .map_err(|e| e.to_string())?
            .into_iter()
            .rev()
            .find(crate::runs::store::StoredRun::is_live)
            .map(|r| r.dir.path)
            .ok_or_else(|| format!("no run in {} is training now", runs_dir.display()))?,
    };
    open(runs_dir, None, Some(path))
}

/// Runs the app until the user quits; returns the exit code.
pub fn run(runs_dir: &Path, profile: Option<PathBuf>) -> Result<i32, String> {
    open(runs_dir, profile, None)
}

fn open(
    runs_dir: &Path,
    profile: Option<PathBuf>,
    attach_to: Option<PathBuf>,
) -> Result<i32, String> {
    if let Some(p) = &profile {
        if !p.is_file() {
            return Err(format!("{}: no such profile", p.display()));
        }
    }
    let config = Config {
        runs_dir: runs_dir.to_path_buf(),
        profile_dirs: default_profile_dirs(),
        initial_profile: profile,
        theme: theme::Theme::new(theme::ColorMode::from_env()),
        trainer_exe: std::env::current_exe()
            .map_err(|e| format!("cannot find this program's own file: {e}"))?,
    };
    let mut app = App::new(config);
    match &attach_to {
        // Opened again after a dropped connection: back to the run that trains on.
        None => app.attach_newest_live(),
        Some(run) => app.attach_run(run)?,
    }
    let mut term = terminal::enter().map_err(|e| format!("cannot open the terminal: {e}"))?;
    let result = event_loop(&mut term, &mut app);
    terminal::leave();
    result.map(|_| 0).map_err(|e| e.to_string())
}

fn event_loop(term: &mut terminal::Term, app: &mut App) -> std::io::Result<()> {
    let mut last_draw = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    while !app.should_quit() {
        app.tick();
        let since = last_draw.elapsed();
        if app.take_dirty() {
            if since >= FRAME {
                term.draw(|f| app.draw(f))?;
                last_draw = Instant::now();
            } else {
                // Too soon: keep the flag and draw on the next frame.
                app.mark_dirty();
            }
        }
        let wait = if app.has_engine() || since < FRAME {
            FRAME
                .saturating_sub(last_draw.elapsed())
                .max(Duration::from_millis(10))
        } else {
            IDLE
        };
        if event::poll(wait)? {
            match event::read()? {
                TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
                    if let Effect::OpenEditor(path) = app.handle_key(k) {
                        let r = terminal::run_editor(term, &path);
                        app.editor_done(r);
                    }
                }
                TermEvent::Resize(..) => app.mark_dirty(),
                _ => {}
            }
        }
    }
    Ok(())
}
