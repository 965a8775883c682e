//! Keys -> engine commands, with a fake engine that records what it is sent.
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rifle_tui::protocol::{Command, Event, LayerInfo};
use rifle_tui::tui::engine_link::FakeLink;
use rifle_tui::tui::keys::ScreenId;
use rifle_tui::tui::theme::{ColorMode, Theme};
use rifle_tui::tui::{App, Config};

fn started(period: Option<f64>) -> Event {
    Event::Started {
        run: "20261204-120000-keys".into(),
        profile_yaml: "name: keys\n".into(),
        device: "cpu".into(),
        classes: vec!["a".into()],
        train_images: 10,
        val_images: 2,
        steps_per_epoch: 10,
        total_steps: 100,
        params_total: 1,
        params_trainable: 1,
        conv_layers: vec![],
        head: LayerInfo {
            name: "fc".into(),
            stage: "head".into(),
            params: 1,
        },
        planned_reinits: vec![2.0, 4.0],
        period_epochs: period,
    }
}

/// The engine's answer to a stop.
fn stopped() -> Event {
    Event::Stopped {
        epochs: 0,
        reason: "stopped by request".into(),
        seconds: 1.0,
    }
}

struct Rig {
    _tmp: tempfile::TempDir,
    app: App,
    engine: FakeLink,
}

impl Rig {
    fn new() -> Self {
        Self::with(FakeLink::default())
    }

    /// Attached to a detached trainer's run.
    fn detached() -> Self {
        Self::with(FakeLink {
            detachable: true,
            ..FakeLink::default()
        })
    }

    fn with(engine: FakeLink) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut app = App::new(Config {
            runs_dir: tmp.path().join("runs"),
            profile_dirs: vec![],
            initial_profile: None,
            theme: Theme::new(ColorMode::None),
            trainer_exe: env!("CARGO_BIN_EXE_rifle-tui").into(),
        });
        app.attach_engine(Box::new(engine.clone()));
        engine.push(started(Some(2.0)));
        app.tick();
        app.screen = ScreenId::Monitor;
        Rig {
            _tmp: tmp,
            app,
            engine,
        }
    }

    fn press(&mut self, c: char) {
        self.app
            .handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }

    fn code(&mut self, c: KeyCode) {
        self.app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
    }

    /// Feeds an event as the engine would, then folds it in.
    fn event(&mut self, e: Event) {
        self.engine.push(e);
        self.app.tick();
    }
}

#[test]
fn plus_and_minus_change_the_period_by_the_step_shown() {
    let mut r = Rig::new();
    r.press('+');
    assert_eq!(
        r.engine.sent(),
        vec![Command::SetRiflePeriod { period_epochs: 2.5 }]
    );
    r.event(Event::PeriodChanged {
        epoch: 1.0,
        step: 10,
        old_period_epochs: Some(2.0),
        period_epochs: 2.5,
        next_reinit: Some(2.5),
    });
    assert_eq!(r.app.live.period, Some(2.5));
    assert_eq!(r.app.live.next_reinit(), Some(2.5));
    r.press('-');
    assert_eq!(
        r.engine.sent().last(),
        Some(&Command::SetRiflePeriod { period_epochs: 2.0 })
    );
}

#[test]
fn p_types_an_exact_period_and_rejects_nonsense() {
    let mut r = Rig::new();
    r.press('p');
    for c in "3.5".chars() {
        r.press(c);
    }
    r.code(KeyCode::Enter);
    assert_eq!(
        r.engine.sent(),
        vec![Command::SetRiflePeriod { period_epochs: 3.5 }]
    );
    r.press('p');
    for c in "abc".chars() {
        r.press(c);
    }
    r.code(KeyCode::Enter);
    r.press('p');
    r.press('0');
    r.code(KeyCode::Enter);
    assert_eq!(r.engine.sent().len(), 1, "{:?}", r.engine.sent());
    assert!(r.app.status.as_ref().is_some_and(|s| s.1));
}

#[test]
fn space_toggles_pause_from_the_engine_state() {
    let mut r = Rig::new();
    r.press(' ');
    assert_eq!(r.engine.sent(), vec![Command::Pause]);
    r.event(Event::Paused {
        epoch: 0.5,
        step: 5,
    });
    r.press(' ');
    assert_eq!(r.engine.sent(), vec![Command::Pause, Command::Resume]);
    r.event(Event::Resumed {
        epoch: 0.5,
        step: 5,
    });
    r.press(' ');
    assert_eq!(r.engine.sent().last(), Some(&Command::Pause));
}

#[test]
fn stop_needs_confirmation() {
    let mut r = Rig::new();
    r.press('s');
    assert!(r.engine.sent().is_empty());
    // A stray key leaves the question up; n cancels.
    r.press('x');
    assert!(r.app.confirm.is_some());
    r.press('n');
    assert!(r.app.confirm.is_none());
    assert!(r.engine.sent().is_empty());
    r.press('s');
    r.press('y');
    assert_eq!(r.engine.sent(), vec![Command::Stop]);
}

#[test]
fn c_checkpoints_now() {
    let mut r = Rig::new();
    r.press('c');
    assert_eq!(r.engine.sent(), vec![Command::Checkpoint]);
}

#[test]
fn quitting_while_training_asks_and_stops_first() {
    let mut r = Rig::new();
    r.press('q');
    assert!(!r.app.should_quit());
    r.press('n');
    assert!(!r.app.should_quit());
    assert!(r.engine.sent().is_empty());
    // Ctrl-C is q.
    r.app
        .handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(r.app.confirm.is_some());
    r.press('y');
    assert_eq!(r.engine.sent(), vec![Command::Stop]);
    assert!(!r.app.should_quit(), "waits for the engine's last event");
    r.event(stopped());
    assert!(r.app.should_quit());
}

#[test]
fn no_commands_once_the_run_is_over() {
    let mut r = Rig::new();
    r.event(Event::Finished {
        epochs: 10,
        best_val_acc: 0.5,
        final_val_acc: 0.5,
        seconds: 1.0,
    });
    for c in ['+', '-', ' ', 'c', 's'] {
        r.press(c);
    }
    assert!(r.engine.sent().is_empty());
    r.press('q');
    assert!(r.app.should_quit(), "nothing to stop: quits at once");
}

#[test]
fn help_lists_every_monitor_key() {
    use rifle_tui::tui::keys::bindings;
    let mut r = Rig::new();
    r.press('?');
    assert!(r.app.show_help);
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    t.draw(|f| r.app.draw(f)).unwrap();
    let screen = format!("{}", t.backend());
    for b in bindings(ScreenId::Monitor)[0] {
        assert!(screen.contains(b.help), "help lacks `{}`", b.help);
    }
    r.code(KeyCode::Esc);
    assert!(!r.app.show_help);
}

#[test]
fn d_detaches_from_a_detached_run_without_a_command() {
    let mut r = Rig::detached();
    r.press('d');
    assert!(!r.app.has_engine());
    assert_eq!(r.app.screen, ScreenId::Runs);
    assert!(
        r.engine.sent().is_empty(),
        "detaching sends nothing: the run trains on"
    );
    let (text, error) = r.app.status.clone().unwrap();
    assert!(!error && text.contains("goes on training"), "{text}");
    // A run inside the app cannot be left behind.
    let mut r = Rig::new();
    r.press('d');
    assert!(r.app.has_engine());
    assert!(r.app.status.as_ref().is_some_and(|s| s.1));
}

#[test]
fn quitting_while_attached_leaves_the_run_or_stops_it() {
    let mut r = Rig::detached();
    r.press('q');
    let q = r.app.confirm.as_ref().expect("asks").question.clone();
    assert!(q.contains("s: stop it first"), "{q}");
    r.press('y');
    assert!(r.app.should_quit());
    assert!(r.engine.sent().is_empty(), "y leaves it training");

    let mut r = Rig::detached();
    r.press('q');
    r.press('s');
    assert_eq!(r.engine.sent(), vec![Command::Stop]);
    assert!(!r.app.should_quit(), "waits for the run to stop");
    r.event(stopped());
    assert!(r.app.should_quit());
}

/// A scripted trainer on a real socket: a run stopped, then resumed, then lost.
#[test]
fn an_attached_run_survives_an_old_end_in_its_history_and_says_when_the_trainer_is_lost() {
    use rifle_tui::protocol::StepMetrics;
    use rifle_tui::remote::ServerMessage;
    use std::io::Write;
    use std::os::unix::net::UnixListener;

    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("20261204-120000-keys");
    std::fs::create_dir_all(&run).unwrap();
    let listener = UnixListener::bind(run.join("control.sock")).unwrap();
    let (go_on, wait) = std::sync::mpsc::channel::<()>();
    let trainer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let step = |n: u64| {
            Event::Step(StepMetrics {
                step: n,
                epoch: n as f64 / 10.0,
                loss: 1.0,
                lr: 0.1,
                images_per_sec: 100.0,
            })
        };
        let event = |e: Event| ServerMessage::Event { event: e };
        let mut say = |m: ServerMessage| s.write_all(m.to_line().as_bytes()).unwrap();
        say(ServerMessage::Hello {
            run: "20261204-120000-keys".into(),
            pid: 1,
        });
        say(event(started(Some(2.0))));
        say(event(step(10)));
        say(event(Event::Stopped {
            epochs: 1,
            reason: "stopped by request".into(),
            seconds: 1.0,
        }));
        say(event(Event::RunResumed {
            run: "20261204-120000-keys".into(),
            from_epoch: 1,
            step: 10,
            epochs: 10,
            total_steps: 100,
            device: "cpu".into(),
            period_epochs: Some(2.0),
            next_reinit: Some(2.0),
        }));
        say(ServerMessage::Live);
        say(event(step(20)));
        // Then the trainer dies without a last event.
        wait.recv().unwrap();
    });
    let mut app = App::new(Config {
        runs_dir: tmp.path().to_path_buf(),
        profile_dirs: vec![],
        initial_profile: None,
        theme: Theme::new(ColorMode::None),
        trainer_exe: env!("CARGO_BIN_EXE_rifle-tui").into(),
    });
    app.attach_run(&run).unwrap();
    let start = std::time::Instant::now();
    while app.live.step < 20 {
        app.tick();
        assert!(start.elapsed().as_secs() < 30, "no live step");
    }
    assert!(
        app.has_engine(),
        "the history's old end did not end the attachment"
    );
    assert!(app.live.controllable());
    go_on.send(()).unwrap();
    trainer.join().unwrap();
    while app.has_engine() {
        app.tick();
        assert!(start.elapsed().as_secs() < 30, "the loss went unnoticed");
    }
    let (text, error) = app.status.clone().unwrap();
    assert!(
        error && text.contains("went away before the run ended"),
        "{text}"
    );
}
