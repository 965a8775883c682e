//! Every screen at 80x24 and 120x40, from a fixed event stream: a RIFLE run whose period
//! changes mid-run, a baseline, and a stopped run. Names and times are fixed so the
//! snapshots are stable.
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rifle_tui::protocol::{EpochMetrics, Event, LayerInfo, LayerUpdate, StepMetrics};
use rifle_tui::runs::Summary;
use rifle_tui::tui::engine_link::FakeLink;
use rifle_tui::tui::theme::{ColorMode, Theme};
use rifle_tui::tui::{App, Config};
use std::path::Path;

const STEPS_PER_EPOCH: u64 = 10;

fn profile_yaml(name: &str, rifle: bool, epochs: u32) -> String {
    let rifle = if rifle {
        "rifle:\n  enabled: true\n  period_epochs: 2\n"
    } else {
        "rifle:\n  enabled: false\n"
    };
    format!(
        "name: {name}\nmodel:\n  arch: small_cnn\ndata:\n  source: synthetic\n  classes: 4\n  image_size: 16\n\
         train:\n  epochs: {epochs}\n  batch_size: 8\n  optimizer:\n    lr: 0.05\n  seed: 1\n  device: cpu\n{rifle}"
    )
}

fn layers() -> Vec<LayerInfo> {
    ["conv1", "conv2", "conv3", "conv4"]
        .iter()
        .enumerate()
        .map(|(i, n)| LayerInfo {
            name: n.to_string(),
            stage: if i < 2 { "block1" } else { "block2" }.into(),
            params: 1000 * (i as u64 + 1),
        })
        .collect()
}

/// A deterministic run. `rifle`: re-inits at 2, then the period changes from 2 to 1.5 at
/// 2.5, so the next re-inits move to 3.5 and 5. `stop_at`: the run is stopped there.
fn run_events(
    name: &str,
    rifle: bool,
    epochs: u32,
    stop_at: Option<u64>,
    skill: f64,
) -> Vec<Event> {
    let total = epochs as u64 * STEPS_PER_EPOCH;
    let mut ev = vec![Event::Started {
        run: name.into(),
        profile_yaml: profile_yaml(name.split('-').next_back().unwrap(), rifle, epochs),
        device: "cpu".into(),
        classes: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        train_images: 80,
        val_images: 20,
        steps_per_epoch: STEPS_PER_EPOCH,
        total_steps: total,
        params_total: 10_000,
        params_trainable: 10_000,
        conv_layers: layers(),
        head: LayerInfo {
            name: "fc".into(),
            stage: "head".into(),
            params: 260,
        },
        planned_reinits: if rifle { vec![2.0, 4.0] } else { vec![] },
        period_epochs: rifle.then_some(2.0),
    }];
    ev.push(Event::Warning {
        message: "no pretrained weights: the model starts from random init".into(),
    });
    let mut since_reinit = 0.0;
    for step in 1..=total {
        let pos = step as f64 / STEPS_PER_EPOCH as f64;
        since_reinit += 0.1;
        let bump = if rifle {
            0.6 * (-since_reinit * 2.0_f64).exp()
        } else {
            0.0
        };
        let wiggle = ((step * 7919) % 13) as f64 / 60.0;
        ev.push(Event::Step(StepMetrics {
            step,
            epoch: pos,
            loss: 1.4 * (-pos / 2.5).exp() + 0.2 + bump + wiggle,
            lr: 0.05,
            images_per_sec: 100.0,
        }));
        if step % 5 == 0 {
            let boost = if rifle { 1.5 } else { 1.0 };
            ev.push(Event::LayerUpdate {
                epoch: pos,
                step,
                layers: (0..4)
                    .map(|i| LayerUpdate {
                        name: format!("conv{}", i + 1),
                        rel_distance: pos
                            * 0.02
                            * (4 - i) as f64
                            * if i >= 2 { boost } else { 1.0 },
                        rel_change: 0.01 * (4 - i) as f64 * (1.0 + (step % 15) as f64 / 15.0),
                    })
                    .collect(),
                head: LayerUpdate {
                    name: "fc".into(),
                    rel_distance: 1.0 + pos * 0.1,
                    rel_change: 0.2 / (1.0 + since_reinit),
                },
            });
        }
        if step % STEPS_PER_EPOCH == 0 {
            let e = (step / STEPS_PER_EPOCH) as u32;
            let acc = skill * (1.0 - (-(e as f64) / 2.0).exp());
            ev.push(Event::Epoch(EpochMetrics {
                epoch: e,
                train_loss: 1.0 / e as f64,
                train_acc: (acc + 0.08).min(1.0),
                val_loss: 1.2 / e as f64 + 0.1,
                val_acc: acc,
                lr: 0.05,
                seconds: 2.0,
                best: true,
            }));
            ev.push(Event::Checkpoint {
                kind: "last".into(),
                epoch: e as f64,
                path: format!("/tmp/x/{name}/checkpoints/last.safetensors"),
            });
        }
        if rifle {
            let reinit = |index: u32, period: f64| Event::Reinit {
                epoch: pos,
                step,
                index,
                period_epochs: period,
                head_change: 1.41,
            };
            match step {
                20 => {
                    ev.push(reinit(1, 2.0));
                    since_reinit = 0.0;
                }
                25 => ev.push(Event::PeriodChanged {
                    epoch: pos,
                    step,
                    old_period_epochs: Some(2.0),
                    period_epochs: 1.5,
                    next_reinit: Some(3.5),
                }),
                35 => {
                    ev.push(reinit(2, 1.5));
                    since_reinit = 0.0;
                }
                50 => {
                    ev.push(reinit(3, 1.5));
                    since_reinit = 0.0;
                }
                _ => {}
            }
        }
        if step == 30 {
            ev.push(Event::Paused { epoch: pos, step });
            ev.push(Event::Resumed { epoch: pos, step });
            ev.push(Event::CommandRejected {
                command: "resume".into(),
                reason: "not paused".into(),
            });
        }
        if Some(step) == stop_at {
            ev.push(Event::Stopped {
                epochs: (step / STEPS_PER_EPOCH) as u32,
                reason: "stopped by request".into(),
                seconds: step as f64 * 0.2,
            });
            return ev;
        }
    }
    let best = ev
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some(m.val_acc),
            _ => None,
        })
        .fold(0.0, f64::max);
    ev.push(Event::Finished {
        epochs,
        best_val_acc: best,
        final_val_acc: best,
        seconds: total as f64 * 0.2,
    });
    ev
}

/// Writes a run folder as the recorder would.
fn write_run(root: &Path, name: &str, events: &[Event]) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    let Event::Started { profile_yaml, .. } = &events[0] else {
        panic!("starts with Started")
    };
    std::fs::write(dir.join("profile.yaml"), profile_yaml).unwrap();
    let lines: String = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join("events.jsonl"), lines).unwrap();
    let profile = name.split('-').next_back().unwrap();
    let start = format!("2026-12-04T{}:{}:00+00:00", &name[9..11], &name[11..13]);
    let mut s = Summary::new(name, profile, 6, start);
    s.pid = 0;
    for e in events {
        s.apply(e);
    }
    s.ended_at = None;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(&s).unwrap(),
    )
    .unwrap();
}

/// A profile of its own (not profiles/demo.yaml, which may change) so snapshots hold.
const DEMO_PROFILE: &str = "# RIFLE on generated data
name: demo
description: small CNN on synthetic shapes, RIFLE with K = 3 cycles
model:
  arch: small_cnn
data:
  source: synthetic
  classes: 10
  train_per_class: 200
  val_per_class: 50
  image_size: 48
train:
  epochs: 24
  batch_size: 32
  optimizer:
    kind: sgd
    lr: 0.05
  schedule:
    kind: cosine
  seed: 1
  device: auto
rifle:
  enabled: true
  cycles: 3          # re-init after epochs 8 and 16
";

struct Fixture {
    _tmp: tempfile::TempDir,
    app: App,
    live: FakeLink,
}

const RIFLE_RUN: &str = "20261204-120000-demo";
const BASELINE_RUN: &str = "20261204-130000-baseline";
const STOPPED_RUN: &str = "20261204-140000-demo";

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_run(&runs, RIFLE_RUN, &run_events(RIFLE_RUN, true, 6, None, 0.9));
    write_run(
        &runs,
        BASELINE_RUN,
        &run_events(BASELINE_RUN, false, 6, None, 0.8),
    );
    write_run(
        &runs,
        STOPPED_RUN,
        &run_events(STOPPED_RUN, true, 6, Some(33), 0.85),
    );
    let profiles = tmp.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("demo.yaml"), DEMO_PROFILE).unwrap();
    std::fs::write(
        profiles.join("broken.yaml"),
        "model:\n  arch: small_cnn\ndata:\n  source: synthetic\n  image_size: 0\ntrain:\n  epochs: 6\n  batch_size: 8\n  optimizer:\n    lr: -1\n  shuffle: true\n",
    )
    .unwrap();
    let app = App::new(Config {
        runs_dir: runs,
        profile_dirs: vec![(profiles.clone(), false)],
        initial_profile: Some(profiles.join("demo.yaml")),
        theme: Theme::new(ColorMode::Ansi16),
        trainer_exe: env!("CARGO_BIN_EXE_rifle-tui").into(),
    });
    Fixture {
        _tmp: tmp,
        app,
        live: FakeLink::default(),
    }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// The app with a live run 42 steps in (after a re-init and the period change).
fn live_app() -> Fixture {
    let mut fx = fixture();
    fx.app.attach_engine(Box::new(fx.live.clone()));
    for e in run_events("20261204-150000-demo", true, 6, None, 0.9)
        .into_iter()
        .take_while(|e| !matches!(e, Event::Step(m) if m.step > 42))
    {
        fx.live.push(e);
    }
    fx.app.tick();
    fx.app.handle_key(key('2'));
    fx
}

fn render(app: &App, w: u16, h: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    t.backend().clone()
}

fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), render(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_120x40"), render(app, 120, 40));
}

#[test]
fn monitor_live_run() {
    let fx = live_app();
    snap("monitor_live", &fx.app);
}

#[test]
fn monitor_replayed_run() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    // Newest first: the stopped run, the baseline, then the RIFLE run.
    fx.app.handle_key(key('j'));
    fx.app.handle_key(key('j'));
    fx.app.handle_key(code(KeyCode::Enter));
    assert_eq!(fx.app.shown().run, RIFLE_RUN);
    snap("monitor_replay", &fx.app);
}

#[test]
fn runs_table() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    fx.app.handle_key(key(' '));
    snap("runs", &fx.app);
}

#[test]
fn runs_marks_a_live_run_that_enter_attaches_to() {
    let mut fx = fixture();
    let runs = fx._tmp.path().join("runs");
    let name = "20261204-160000-demo";
    let events: Vec<Event> = run_events(name, true, 6, None, 0.9)
        .into_iter()
        .take_while(|e| !matches!(e, Event::Step(m) if m.step > 42))
        .collect();
    write_run(&runs, name, &events);
    // Trained by a live process (this one) that serves it.
    let path = runs.join(name).join("summary.json");
    let mut s: Summary = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    s.pid = std::process::id();
    std::fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
    std::fs::write(runs.join(name).join("control.sock"), "").unwrap();
    fx.app.handle_key(key('3'));
    fx.app.handle_key(key('R'));
    let row = fx.app.runs.selected_row().unwrap().clone();
    assert_eq!(row.name, name);
    assert!(row.live);
    snap("runs_live", &fx.app);
    // Enter attaches; the socket here is a plain file, so it says why it cannot.
    fx.app.handle_key(code(KeyCode::Enter));
    assert!(!fx.app.has_engine());
    let (text, error) = fx.app.status.clone().unwrap();
    assert!(error && text.contains("control.sock"), "{text}");
}

#[test]
fn runs_filtered_and_sorted_by_best() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    for c in "/demo".chars() {
        fx.app.handle_key(key(c));
    }
    fx.app.handle_key(code(KeyCode::Enter));
    fx.app.handle_key(key('o'));
    fx.app.handle_key(key('o'));
    insta::assert_snapshot!("runs_filtered_80x24", render(&fx.app, 80, 24));
}

#[test]
fn x_exports_the_selected_or_marked_runs_into_their_folders() {
    let mut fx = fixture();
    let runs = fx._tmp.path().join("runs");
    fx.app.handle_key(key('3'));
    let selected = fx.app.runs.selected_row().unwrap().path.clone();
    fx.app.handle_key(key('x'));
    let (text, error) = fx.app.status.clone().unwrap();
    assert!(!error && text.starts_with("exported 2026"), "{text}");
    let csv = std::fs::read_to_string(selected.join("epochs.csv")).unwrap();
    let epochs = std::fs::read_to_string(selected.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"epoch\""))
        .count();
    assert!(epochs > 0);
    assert_eq!(csv.lines().count(), 1 + epochs, "{csv}");
    let logs: Vec<_> = std::fs::read_dir(selected.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.len() == 1 && logs[0].starts_with("events.out.tfevents."),
        "{logs:?}"
    );
    // Marked runs are exported together; the others are left alone.
    fx.app.handle_key(key('j'));
    fx.app.handle_key(key(' '));
    fx.app.handle_key(key('j'));
    fx.app.handle_key(key(' '));
    fx.app.handle_key(key('x'));
    let (text, _) = fx.app.status.clone().unwrap();
    assert!(text.starts_with("exported 2 runs"), "{text}");
    let exported = std::fs::read_dir(&runs)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("epochs.csv").is_file())
        .count();
    assert_eq!(exported, 3);
}

#[test]
fn compare_two_runs() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    fx.app.handle_key(key('j'));
    fx.app.handle_key(key(' '));
    fx.app.handle_key(key('j'));
    fx.app.handle_key(key(' '));
    fx.app.handle_key(key('C'));
    assert_eq!(fx.app.compare.runs.len(), 2);
    snap("compare", &fx.app);
}

#[test]
fn profiles_valid_and_broken() {
    let mut fx = fixture();
    snap("profiles_demo", &fx.app);
    fx.app.handle_key(key('k'));
    assert!(!fx.app.profiles.is_valid());
    snap("profiles_broken", &fx.app);
}

#[test]
fn profiles_validation_as_you_type() {
    let mut fx = fixture();
    fx.app.handle_key(key('f'));
    for _ in 0..5 {
        fx.app.handle_key(key('j'));
    }
    fx.app.handle_key(key('i'));
    // train.epochs: clear it and type 0, an error while typing.
    fx.app.handle_key(code(KeyCode::Backspace));
    fx.app.handle_key(code(KeyCode::Backspace));
    fx.app.handle_key(key('0'));
    assert!(!fx.app.profiles.is_valid());
    insta::assert_snapshot!("profiles_typing_80x24", render(&fx.app, 80, 24));
    fx.app.handle_key(code(KeyCode::Esc));
    assert!(fx.app.profiles.is_valid());
}

#[test]
fn help_overlays() {
    let mut fx = live_app();
    fx.app.handle_key(key('?'));
    snap("help_monitor", &fx.app);
    fx.app.handle_key(code(KeyCode::Esc));
    fx.app.handle_key(key('3'));
    fx.app.handle_key(key('?'));
    insta::assert_snapshot!("help_runs_80x24", render(&fx.app, 80, 24));
}

#[test]
fn tiny_and_odd_sizes_render_without_panicking() {
    let mut fx = live_app();
    for screen in ['1', '2', '3', '4'] {
        fx.app.handle_key(key(screen));
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 10),
            (60, 15),
            (79, 23),
            (200, 60),
        ] {
            render(&fx.app, w, h);
        }
    }
    insta::assert_snapshot!("monitor_40x10", {
        fx.app.handle_key(key('2'));
        render(&fx.app, 40, 10)
    });
}

#[test]
fn deleting_a_run_asks_then_removes_its_folder() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    let path = fx.app.runs.selected_row().unwrap().path.clone();
    assert!(path.ends_with(STOPPED_RUN));
    fx.app.handle_key(key('d'));
    fx.app.handle_key(key('n'));
    assert!(path.is_dir());
    fx.app.handle_key(key('d'));
    fx.app.handle_key(key('y'));
    assert!(!path.exists());
    assert_eq!(fx.app.runs.rows.len(), 2);
}

#[test]
fn compare_needs_two_marked_runs() {
    let mut fx = fixture();
    fx.app.handle_key(key('3'));
    fx.app.handle_key(key(' '));
    fx.app.handle_key(key('C'));
    assert_ne!(fx.app.screen, rifle_tui::tui::keys::ScreenId::Compare);
    assert!(fx.app.status.as_ref().is_some_and(|s| s.1));
}

#[test]
fn a_replayed_run_takes_no_commands() {
    let mut fx = live_app();
    fx.app.handle_key(key('3'));
    fx.app.handle_key(code(KeyCode::Enter));
    assert!(fx.app.replay.is_some());
    fx.app.handle_key(key('+'));
    fx.app.handle_key(key(' '));
    assert!(fx.live.sent().is_empty());
    // 2 on the Monitor brings the live run back, which does take them.
    fx.app.handle_key(key('2'));
    assert!(fx.app.replay.is_none());
    fx.app.handle_key(key('+'));
    assert_eq!(
        fx.live.sent(),
        vec![rifle_tui::protocol::Command::SetRiflePeriod {
            period_epochs: 1.88
        }]
    );
}
