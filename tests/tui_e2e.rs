//! The app driving a real (tiny) training run: launched from Profiles with Enter, the
//! period changed with `+` while paused, the next re-init moving accordingly, the Monitor
//! showing the markers and every conv layer, and the run folder complete afterwards.
mod common;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rifle_tui::protocol::Event;
use rifle_tui::runs::store::read_log;
use rifle_tui::runs::{RunDir, RunStore, Status};
use rifle_tui::tui::keys::ScreenId;
use rifle_tui::tui::monitor_state::RunPhase;
use rifle_tui::tui::theme::{ColorMode, Theme};
use rifle_tui::tui::{App, Config};
use std::time::{Duration, Instant};

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Ticks until `done` holds (or fails after a generous timeout).
fn tick_until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(app) {
        app.tick();
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_real_run_from_launch_to_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let profiles = tmp.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    // 5 steps an epoch, 6 epochs, re-init every epoch: planned at 1, 2, 3, 4, 5.
    let path = common::write(
        &profiles,
        "tiny.yaml",
        &common::tiny_profile(6, "  period_epochs: 1"),
    );
    let runs = tmp.path().join("runs");
    let mut app = App::new(Config {
        runs_dir: runs.clone(),
        profile_dirs: vec![(profiles.clone(), false)],
        initial_profile: Some(path),
        theme: Theme::new(ColorMode::None),
    });
    assert!(app.profiles.is_valid(), "{:?}", app.profiles.problems);
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(app.screen, ScreenId::Monitor, "{:?}", app.status);
    assert!(app.has_engine());

    // Pause first so the period change lands at a known place, whatever the speed.
    tick_until(&mut app, "Started", |a| a.live.has_run());
    app.handle_key(key(' '));
    tick_until(&mut app, "Paused", |a| a.live.phase == RunPhase::Paused);
    let before = app.live.period;
    assert_eq!(before, Some(1.0));
    app.handle_key(key('+'));
    tick_until(&mut app, "PeriodChanged", |a| a.live.pending.is_none());
    assert_eq!(app.live.period, Some(1.25));
    let next = app.live.next_reinit().expect("a re-init is still to come");
    app.handle_key(key(' '));
    tick_until(&mut app, "the end", |a| a.live.phase.is_over());
    assert_eq!(app.live.phase, RunPhase::Finished, "{:?}", app.live.log);

    // What the engine recorded: the change, and re-inits that follow it.
    let run_dir = RunStore::new(&runs).resolve("last").unwrap();
    let events = read_log(&RunDir::open(&run_dir)).unwrap().events;
    let changed = events
        .iter()
        .position(|e| matches!(e, Event::PeriodChanged { .. }))
        .expect("PeriodChanged recorded");
    let Event::PeriodChanged {
        period_epochs,
        next_reinit,
        epoch: changed_at,
        ..
    } = &events[changed]
    else {
        unreachable!()
    };
    assert_eq!(*period_epochs, 1.25);
    assert_eq!(*next_reinit, Some(next));
    let later: Vec<f64> = events[changed..]
        .iter()
        .filter_map(|e| match e {
            Event::Reinit { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect();
    assert!(!later.is_empty(), "a re-init after the change");
    // The schedule continues from the planned position every 1.25 epochs; each re-init
    // lands on the first step boundary (0.2 ep) at or past its planned position.
    for (k, at) in later.iter().enumerate() {
        let planned = next + k as f64 * 1.25;
        assert!(
            *at >= planned - 1e-9 && *at < planned + 0.2 + 1e-9,
            "re-init {k} planned at {planned} (changed at {changed_at}), happened at {at}: {later:?}"
        );
    }
    assert_eq!(
        app.live.reinits.len(),
        events
            .iter()
            .filter(|e| matches!(e, Event::Reinit { .. }))
            .count()
    );

    // The Monitor: re-init markers, and one row per conv layer grouped by stage.
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    let screen = format!("{}", t.backend());
    let strip = screen
        .lines()
        .find(|l| l.contains("RIFLE"))
        .expect("the RIFLE strip");
    assert!(
        strip.matches('█').count() >= 2,
        "re-init markers on the strip: {strip}"
    );
    for name in ["conv1", "conv2", "conv3", "conv4", "block1", "block2", "fc"] {
        assert!(screen.contains(name), "{name} missing:\n{screen}");
    }
    assert_eq!(app.live.layers.len(), 4);
    assert!(app.live.layers.iter().all(|l| !l.changes.is_empty()));

    // The run folder is complete.
    for f in [
        "profile.yaml",
        "events.jsonl",
        "summary.json",
        "checkpoints/last.safetensors",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    let summary = rifle_tui::runs::store::read_run(&run_dir).unwrap().summary;
    assert_eq!(summary.status, Status::Finished);
    // The Runs screen has it.
    assert!(app.runs.rows.iter().any(|r| r.status == Status::Finished));
}
