//! The app driving a real (tiny) training run in a detached trainer process: launched
//! from Profiles with Enter, the period changed with `+` while paused, detached and
//! attached again, the next re-init moving accordingly, the Monitor showing the markers
//! and every conv layer, and the run folder complete afterwards. Quitting leaves a run
//! training.
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
    let _reaper = common::Reaper(runs.clone());
    let mut app = App::new(Config {
        runs_dir: runs.clone(),
        profile_dirs: vec![(profiles.clone(), false)],
        initial_profile: Some(path),
        theme: Theme::new(ColorMode::None),
        trainer_exe: env!("CARGO_BIN_EXE_rifle-tui").into(),
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

    // Detach: the run trains on in its own process; the Runs screen marks it live.
    let name = app.live.run.clone();
    app.handle_key(key('d'));
    assert!(!app.has_engine());
    assert_eq!(app.screen, ScreenId::Runs, "{:?}", app.status);
    let row = app.runs.selected_row().expect("the run is listed").clone();
    assert_eq!(row.name, name);
    assert!(row.live, "{row:?}");
    assert_eq!(row.status, Status::Running);
    let pid = rifle_tui::runs::store::read_run(&row.path)
        .unwrap()
        .summary
        .pid;
    assert_ne!(
        pid,
        std::process::id(),
        "the run trains in a process of its own"
    );
    // Enter attaches again: the whole history, then the live tail.
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.has_engine(), "{:?}", app.status);
    assert_eq!(app.screen, ScreenId::Monitor);
    tick_until(&mut app, "the history", |a| {
        a.live.phase == RunPhase::Paused && a.live.period == Some(1.25)
    });
    assert_eq!(app.live.next_reinit(), Some(next));
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

#[test]
fn quitting_leaves_a_detached_run_training() {
    let tmp = tempfile::tempdir().unwrap();
    let profiles = tmp.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let path = common::write(
        &profiles,
        "long.yaml",
        &common::tiny_profile(500, "  period_epochs: 2"),
    );
    let runs = tmp.path().join("runs");
    let _reaper = common::Reaper(runs.clone());
    let config = Config {
        runs_dir: runs.clone(),
        profile_dirs: vec![(profiles.clone(), false)],
        initial_profile: Some(path),
        theme: Theme::new(ColorMode::None),
        trainer_exe: env!("CARGO_BIN_EXE_rifle-tui").into(),
    };
    let mut app = App::new(config.clone());
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    tick_until(&mut app, "Started", |a| a.live.has_run());
    app.handle_key(key('q'));
    assert!(!app.should_quit(), "quitting asks first");
    let question = app.confirm.as_ref().expect("a question").question.clone();
    assert!(question.contains("The run trains on"), "{question}");
    app.handle_key(key('y'));
    assert!(app.should_quit());
    drop(app);

    // A new app (the user back after a dropped connection) finds it and attaches.
    let run = RunStore::new(&runs).resolve("last").unwrap();
    let pid = rifle_tui::runs::store::read_run(&run).unwrap().summary.pid;
    let mut again = App::new(config.clone());
    again.attach_newest_live();
    assert!(again.has_engine(), "{:?}", again.status);
    tick_until(&mut again, "an epoch after re-attaching", |a| {
        a.live.epochs_done >= 1
    });
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    // `q`, then `s`: stop it, then quit once it has stopped.
    again.handle_key(key('q'));
    again.handle_key(key('s'));
    tick_until(&mut again, "the stop", |a| a.should_quit());
    assert_eq!(again.live.phase, RunPhase::Stopped);
    let summary = rifle_tui::runs::store::read_run(&run).unwrap().summary;
    assert_eq!(summary.status, Status::Stopped);
    drop(again);

    // `r` on the Runs screen resumes it, detached, and attaches.
    let mut third = App::new(config);
    third.handle_key(key('3'));
    assert_eq!(third.runs.selected_row().unwrap().status, Status::Stopped);
    third.handle_key(key('r'));
    assert!(third.has_engine(), "{:?}", third.status);
    tick_until(&mut third, "the resumed run", |a| {
        a.live.phase == RunPhase::Running && a.live.step > summary.epochs_done as u64 * 5
    });
    let resumed = rifle_tui::runs::store::read_run(&run).unwrap().summary;
    assert_eq!(resumed.status, Status::Running);
    assert_ne!(resumed.pid, pid, "a new trainer process");
    third.handle_key(key('s'));
    third.handle_key(key('y'));
    tick_until(&mut third, "the second stop", |a| {
        a.live.phase == RunPhase::Stopped
    });
    tick_until(&mut third, "the trainer's end", |a| !a.has_engine());
    let end = rifle_tui::runs::store::read_run(&run).unwrap().summary;
    assert_eq!(end.status, Status::Stopped);
}
