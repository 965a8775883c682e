//! Exporting a run's history for spreadsheets and other tools.
use crate::protocol::{EpochMetrics, Event};
use std::path::Path;

/// Where in training an event happened, in epochs, for those that say.
pub fn position(e: &Event) -> Option<f64> {
    match e {
        Event::Step(m) => Some(m.epoch),
        Event::Epoch(m) => Some(f64::from(m.epoch)),
        Event::Reinit { epoch, .. }
        | Event::PeriodChanged { epoch, .. }
        | Event::LayerUpdate { epoch, .. }
        | Event::Paused { epoch, .. }
        | Event::Resumed { epoch, .. }
        | Event::Checkpoint { epoch, .. } => Some(*epoch),
        _ => None,
    }
}

/// The run's history as it stands. A run resumed after epoch N (`run_resumed`) trains
/// from position N afresh, so what the dead process recorded past N (steps, a re-init, an
/// epoch it finished without saving its state) is superseded by what follows.
pub fn current_history(events: &[Event]) -> Vec<&Event> {
    let mut out: Vec<&Event> = Vec::new();
    for e in events {
        if let Event::RunResumed { from_epoch, .. } = e {
            let from = f64::from(*from_epoch) + 1e-9;
            out.retain(|x| position(x).is_none_or(|p| p <= from));
        }
        out.push(e);
    }
    out
}

/// Each epoch's metrics once (see `current_history`).
pub fn epoch_metrics(events: &[Event]) -> Vec<&EpochMetrics> {
    current_history(events)
        .into_iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// One row an epoch: its metrics and how many re-inits happened during it or at its end
/// (a re-init at position 2.0 follows epoch 2, one at 1.5 falls in epoch 2).
pub fn epochs_csv(events: &[Event]) -> Result<String, String> {
    let history = current_history(events);
    let reinits_in = |epoch: u32| {
        history
            .iter()
            .filter(|e| matches!(e, Event::Reinit { epoch: at, .. } if at.ceil() as u32 == epoch))
            .count()
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
        "best",
        "reinits",
    ];
    w.write_record(header).map_err(|e| e.to_string())?;
    for m in epoch_metrics(events) {
        w.write_record([
            m.epoch.to_string(),
            m.train_loss.to_string(),
            m.train_acc.to_string(),
            m.val_loss.to_string(),
            m.val_acc.to_string(),
            m.lr.to_string(),
            format!("{:.3}", m.seconds),
            m.best.to_string(),
            reinits_in(m.epoch).to_string(),
        ])
        .map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The events, one JSON object a line, as the run folder keeps them (minus any line that
/// could not be read).
pub fn events_jsonl(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The run folder's own exports, as the TUI's `x` writes them: `epochs.csv` and
/// `tensorboard/`, so `tensorboard --logdir RUNS_DIR` finds every exported run.
pub fn export_into_run_folder(run: &Path) -> Result<(), String> {
    let stored = super::store::read_run(run)?;
    let log = super::store::read_log(&stored.dir)?;
    let csv_path = stored.dir.file(EPOCHS_CSV);
    super::atomic::write_atomically(&csv_path, epochs_csv(&log.events)?.as_bytes())
        .map_err(|e| format!("{}: {e}", csv_path.display()))?;
    super::tensorboard::write_log(
        &log.events,
        &stored.summary.started_at,
        &stored.dir.file(TENSORBOARD_DIR),
    )?;
    Ok(())
}

/// Where `export_into_run_folder` writes, inside the run folder.
pub const EPOCHS_CSV: &str = "epochs.csv";
pub const TENSORBOARD_DIR: &str = "tensorboard";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 3-epoch run of 5 steps an epoch, resumed from its state after epoch 1.
    pub(crate) fn resumed_after_epoch_1() -> Event {
        Event::RunResumed {
            run: "r".into(),
            from_epoch: 1,
            step: 5,
            epochs: 3,
            total_steps: 15,
            device: "cpu".into(),
            period_epochs: None,
            next_reinit: None,
        }
    }

    fn epoch(n: u32, loss: f64) -> Event {
        Event::Epoch(EpochMetrics {
            epoch: n,
            train_loss: loss,
            train_acc: 0.5,
            val_loss: 1.0,
            val_acc: 0.5,
            lr: 0.1,
            seconds: 1.0,
            best: false,
        })
    }

    #[test]
    fn epochs_recorded_before_a_resume_point_are_superseded() {
        let resumed = resumed_after_epoch_1();
        let reinit = |at: f64| Event::Reinit {
            epoch: at,
            step: 1,
            index: 1,
            period_epochs: 1.5,
            head_change: 1.0,
        };
        let events = [
            epoch(1, 1.0),
            reinit(1.5),
            epoch(2, 9.0),
            resumed,
            reinit(1.5),
            epoch(2, 2.0),
            epoch(3, 3.0),
        ];
        let losses: Vec<f64> = epoch_metrics(&events)
            .iter()
            .map(|m| m.train_loss)
            .collect();
        assert_eq!(losses, vec![1.0, 2.0, 3.0]);
        let csv = epochs_csv(&events).unwrap();
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(!csv.contains(",9,"), "{csv}");
        // Epoch 2's re-init is counted once.
        assert!(csv.lines().nth(2).unwrap().ends_with(",1"), "{csv}");
        assert_eq!(current_history(&events).len(), 5);
    }
}
