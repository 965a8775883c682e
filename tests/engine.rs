//! The engine really trains: in-process runs of `small_cnn` on generated data.
mod common;

use common::val_accs;
use rifle_tui::protocol::{Command, Event};
use rifle_tui::train::{engine::NoSink, spawn, RunSpec};

/// Runs to the end, answering events with `react`, and returns every event.
fn run_with(text: &str, react: impl FnMut(&Event) -> Option<Command>) -> Vec<Event> {
    common::train_in_process(text, None, react)
}

fn reinits(events: &[Event]) -> Vec<(f64, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reinit {
                epoch, head_change, ..
            } => Some((*epoch, *head_change)),
            _ => None,
        })
        .collect()
}

#[test]
fn small_cnn_learns_the_synthetic_classes() {
    let text = common::tiny_profile(8, "  enabled: false")
        .replace("train_per_class: 40", "train_per_class: 64");
    let events = run_with(&text, |_| None);
    assert!(
        matches!(events.last(), Some(Event::Finished { .. })),
        "{:?}",
        events.last()
    );
    let accs = val_accs(&events);
    assert_eq!(accs.len(), 8);
    let best = accs.iter().cloned().fold(0.0, f64::max);
    // Three classes: chance is 33%.
    assert!(best >= 0.75, "val accuracy per epoch: {accs:?}");
    let started = events
        .iter()
        .find_map(|e| match e {
            Event::Started { conv_layers, .. } => Some(conv_layers.len()),
            _ => None,
        })
        .unwrap();
    assert_eq!(started, 4);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::LayerUpdate { layers, .. } if layers.len() == 4)));
}

#[test]
fn reinits_land_where_the_schedule_says_and_redraw_the_head() {
    let events = run_with(&common::tiny_profile(6, "  period_epochs: 2"), |_| None);
    let r = reinits(&events);
    assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2.0, 4.0]);
    for (at, change) in &r {
        // A fresh uniform draw is about as far from the old head as the head is long.
        assert!(*change > 0.5, "head barely changed at {at}: {change}");
    }
    // Each re-init follows its epoch's evaluation: epoch 2's event comes first.
    let pos_epoch2 = events
        .iter()
        .position(|e| matches!(e, Event::Epoch(m) if m.epoch == 2))
        .unwrap();
    let pos_reinit = events
        .iter()
        .position(|e| matches!(e, Event::Reinit { .. }))
        .unwrap();
    assert!(pos_epoch2 < pos_reinit);
    let planned = events
        .iter()
        .find_map(|e| match e {
            Event::Started {
                planned_reinits, ..
            } => Some(planned_reinits.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(planned, vec![2.0, 4.0]);
}

#[test]
fn a_live_period_change_moves_the_next_reinit() {
    let mut sent = false;
    let events = run_with(
        &common::tiny_profile(6, "  period_epochs: 2"),
        |e| match e {
            Event::Reinit { index: 1, .. } if !sent => {
                sent = true;
                Some(Command::SetRiflePeriod { period_epochs: 3.0 })
            }
            _ => None,
        },
    );
    // Re-init at 2, then the period becomes 3: the next is at 2 + 3 = 5, not 4.
    assert_eq!(
        reinits(&events).iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![2.0, 5.0]
    );
    let changed = events
        .iter()
        .find_map(|e| match e {
            Event::PeriodChanged {
                old_period_epochs,
                period_epochs,
                next_reinit,
                ..
            } => Some((*old_period_epochs, *period_epochs, *next_reinit)),
            _ => None,
        })
        .expect("the change is recorded as an event");
    assert_eq!(changed, (Some(2.0), 3.0, Some(5.0)));
}

#[test]
fn bad_commands_are_refused_and_the_run_goes_on() {
    let mut sent = false;
    let events = run_with(&common::tiny_profile(2, "  enabled: false"), |e| match e {
        Event::Step(_) if !sent => {
            sent = true;
            Some(Command::SetRiflePeriod { period_epochs: 0.0 })
        }
        _ => None,
    });
    assert!(events.iter().any(
        |e| matches!(e, Event::CommandRejected { reason, .. } if reason.contains("greater than 0"))
    ));
    assert!(matches!(events.last(), Some(Event::Finished { .. })));
}

#[test]
fn divergence_fails_the_run_with_the_reason() {
    let text = common::tiny_profile(2, "  enabled: false").replace("lr: 0.05", "lr: 1.0e12");
    let events = run_with(&text, |_| None);
    match events.last() {
        Some(Event::Failed { reason, .. }) => {
            assert!(reason.contains("diverged"), "{reason}");
            assert!(reason.contains("train.optimizer.lr"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn stop_ends_the_run_as_stopped() {
    let events = run_with(&common::tiny_profile(50, "  enabled: false"), |e| match e {
        Event::Epoch(m) if m.epoch == 1 => Some(Command::Stop),
        _ => None,
    });
    match events.last() {
        Some(Event::Stopped { epochs, .. }) => assert!(*epochs >= 1 && *epochs < 50),
        other => panic!("expected stopped, got {other:?}"),
    }
}

#[test]
fn pause_resume_and_checkpoint_now_are_applied_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = RunSpec {
        profile: common::profile(&common::tiny_profile(2, "  enabled: false")),
        run_name: "test".into(),
        checkpoint_dir: Some(tmp.path().to_path_buf()),
        warnings: vec!["from the loader".into()],
    };
    let engine = spawn(spec, Box::new(NoSink));
    let mut events = Vec::new();
    let mut asked = false;
    for e in engine.events.iter() {
        match &e {
            Event::Step(_) if !asked => {
                asked = true;
                engine.send(Command::Pause);
                engine.send(Command::Checkpoint);
                engine.send(Command::Resume);
            }
            _ => {}
        }
        let end = e.is_terminal();
        events.push(e);
        if end {
            break;
        }
    }
    engine.join();
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Paused { .. } => Some("paused"),
            Event::Resumed { .. } => Some("resumed"),
            Event::Checkpoint { kind, epoch, .. } if *epoch < 1.0 => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec!["paused", "last", "resumed"]);
    assert!(tmp.path().join("last.safetensors").is_file());
    assert!(tmp.path().join("best.safetensors").is_file());
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Warning { message } if message == "from the loader")));
    assert!(matches!(events.last(), Some(Event::Finished { .. })));
}
