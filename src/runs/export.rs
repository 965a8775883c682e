//! Exporting a run's history for spreadsheets and other tools.
use crate::protocol::Event;

/// One row an epoch: its metrics and how many re-inits happened during it or at its end
/// (a re-init at position 2.0 follows epoch 2, one at 1.5 falls in epoch 2).
pub fn epochs_csv(events: &[Event]) -> Result<String, String> {
    let reinits_in = |epoch: u32| {
        events
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
    for e in events {
        if let Event::Epoch(m) = e {
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
