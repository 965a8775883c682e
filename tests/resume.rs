//! `resume` continues a run exactly: a run stopped at an epoch end and resumed ends with
//! the same weights and the same epoch metrics as the run trained straight through.
//! In its own test binary: libtorch's random generator is global to the process, and this
//! test needs no other test drawing from it at the same time.
mod common;

use rifle_tui::profile::parse_profile;
use rifle_tui::protocol::{Command, EpochMetrics, Event};
use rifle_tui::runs::events_file::read_events;
use rifle_tui::runs::{Recorder, RunDir};
use rifle_tui::train::engine::EventSink;
use rifle_tui::train::{session, spawn, RunSpec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use tch::Tensor;

/// Records into the run folder and, on the engine thread itself, queues commands when an
/// epoch ends: the engine finds them at its next step, whatever the scheduler does.
struct Hook {
    inner: Recorder,
    commands: Arc<Mutex<Option<Sender<Command>>>>,
    at_epoch: Vec<(u32, Command)>,
}

impl EventSink for Hook {
    fn record(&mut self, event: &Event) -> std::io::Result<()> {
        self.inner.record(event)?;
        if let Event::Epoch(m) = event {
            for (at, c) in &self.at_epoch {
                if *at == m.epoch {
                    // The test thread sets the sender right after spawning.
                    loop {
                        if let Some(tx) = self.commands.lock().unwrap().as_ref() {
                            tx.send(c.clone()).unwrap();
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            }
        }
        Ok(())
    }
}

/// SGD with momentum, augmentation and dropout.
fn sgd_profile() -> String {
    common::tiny_profile(6, "  period_epochs: 1.5")
        .replace("  image_size: 16\n", "  image_size: 16\n  augment: true\n")
        + "regularization:\n  dropout: 0.3\n"
}

/// AdamW's moments, the head's LR cycle, head state reset at re-inits, L2-SP anchors.
fn adamw_profile() -> String {
    common::tiny_profile(
        6,
        "  period_epochs: 1.5\n  head_lr_cycle: true\n  reset_optimizer_state: true",
    )
    .replace("    lr: 0.05\n", "    kind: adamw\n    lr: 0.005\n")
        + "regularization:\n  dropout: 0.2\n  l2sp_alpha: 0.01\n  l2sp_beta: 0.01\n"
}

/// Trains into a new run folder under `runs`, sending `at_epoch`'s commands; returns the
/// run folder once the engine has ended.
fn train(text: &str, runs: &Path, at_epoch: Vec<(u32, Command)>) -> PathBuf {
    let profile = parse_profile(text, Path::new("tiny.yaml"), &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .profile;
    let dir = RunDir::create(runs, &profile.name, &profile.to_yaml()).unwrap();
    let inner = Recorder::new(&dir, &profile.name, profile.train.epochs).unwrap();
    let commands = Arc::new(Mutex::new(None));
    let hook = Hook {
        inner,
        commands: commands.clone(),
        at_epoch,
    };
    let spec = RunSpec {
        profile,
        run_name: dir.name.clone(),
        checkpoint_dir: Some(dir.checkpoints()),
        warnings: Vec::new(),
    };
    let engine = spawn(spec, Box::new(hook));
    *commands.lock().unwrap() = Some(engine.commands.clone());
    drain(engine);
    dir.path
}

fn drain(engine: rifle_tui::train::EngineHandle) -> Event {
    let mut last = None;
    for e in engine.events.iter() {
        let end = e.is_terminal();
        last = Some(e);
        if end {
            break;
        }
    }
    engine.join();
    last.expect("the engine said something")
}

fn events(run: &Path) -> Vec<Event> {
    let log = read_events(&run.join("events.jsonl")).unwrap();
    assert!(log.problems.is_empty(), "{:?}", log.problems);
    log.events
}

fn epochs(events: &[Event]) -> Vec<EpochMetrics> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn reinits(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reinit { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .collect()
}

fn weights(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect()
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_stopped_run_resumed_matches_the_run_trained_straight() {
    // One test, not two: they would draw from the one generator at the same time.
    for text in [sgd_profile(), adamw_profile()] {
        resumed_matches_straight(&text);
    }
}

fn resumed_matches_straight(text: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    // Both runs change the RIFLE period while training, after epoch 1.
    let change = || {
        (
            1,
            Command::SetRiflePeriod {
                period_epochs: 1.25,
            },
        )
    };
    let straight = train(text, &runs, vec![change()]);
    let stopped = train(text, &runs, vec![change(), (3, Command::Stop)]);
    assert_eq!(summary(&stopped)["status"], "stopped");
    assert_eq!(summary(&stopped)["epochs_done"], 3);

    let session = session::resume(&stopped).unwrap();
    assert_eq!(session.dir.path, stopped);
    let end = drain(session.engine);
    assert!(matches!(end, Event::Finished { epochs: 6, .. }), "{end:?}");

    let s = summary(&stopped);
    assert_eq!(s["status"], "finished");
    assert_eq!(s["epochs_done"], 6);
    assert_eq!(s["pid"], std::process::id());

    let a = events(&straight);
    let b = events(&stopped);
    // Period 1.25 from epoch 1, on the first step (0.2 epochs) at or past each boundary:
    // 1.25, 2.5, 3.75 (mid-epoch, after the resume), 5.0.
    assert_eq!(reinits(&a), vec![1.4, 2.6, 3.8, 5.0]);
    assert_eq!(reinits(&b), reinits(&a));
    assert!(b.iter().any(|e| matches!(
        e,
        Event::RunResumed { from_epoch: 3, step: 15, period_epochs: Some(p), .. } if *p == 1.25
    )));
    assert_eq!(
        b.iter()
            .filter(|e| matches!(e, Event::Started { .. }))
            .count(),
        1
    );

    let (ea, eb) = (epochs(&a), epochs(&b));
    assert_eq!(ea.len(), 6);
    assert_eq!(eb.len(), 6);
    for (x, y) in ea.iter().zip(&eb) {
        assert_eq!(x.epoch, y.epoch);
        for (what, u, v) in [
            ("train_loss", x.train_loss, y.train_loss),
            ("train_acc", x.train_acc, y.train_acc),
            ("val_loss", x.val_loss, y.val_loss),
            ("val_acc", x.val_acc, y.val_acc),
            ("lr", x.lr, y.lr),
        ] {
            assert!(
                (u - v).abs() <= 1e-6,
                "epoch {}: {what} {u} straight vs {v} resumed",
                x.epoch
            );
        }
        assert_eq!(x.best, y.best, "epoch {}", x.epoch);
    }

    let wa = weights(&straight.join("checkpoints/last.safetensors"));
    let wb = weights(&stopped.join("checkpoints/last.safetensors"));
    assert_eq!(
        wa.keys().collect::<std::collections::BTreeSet<_>>(),
        wb.keys().collect()
    );
    for (name, t) in &wa {
        let diff = (t - &wb[name]).abs().max().double_value(&[]);
        assert!(diff <= 1e-6, "{name} differs by {diff}");
    }
    // The runs really trained: the comparison is not of two untouched models.
    assert_ne!(ea[0].train_loss, ea[5].train_loss);
    // Only the newest epoch-end state is kept.
    let names: Vec<String> = std::fs::read_dir(stopped.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("resume"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // A finished run cannot be resumed, and says so.
    let err = session::resume(&stopped)
        .err()
        .expect("finished runs do not resume");
    assert!(err.contains("finished"), "{err}");
}
