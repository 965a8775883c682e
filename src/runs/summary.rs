//! `summary.json`: a run at a glance, folded from its events.
use crate::protocol::Event;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Finished,
    Stopped,
    Failed,
    /// The process died without saying so (killed, power loss).
    Interrupted,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        };
        f.write_str(s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub run: String,
    pub profile: String,
    pub status: Status,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub wall_seconds: f64,
    pub device: Option<String>,
    pub epochs_done: u32,
    pub epochs_total: u32,
    pub best_val_acc: Option<f64>,
    pub best_epoch: Option<u32>,
    pub final_val_acc: Option<f64>,
    /// Where the head was re-initialised, in epochs (`2.0` follows epoch 2).
    pub reinit_epochs: Vec<f64>,
    pub period_epochs: Option<f64>,
    /// Why the run stopped or failed.
    pub reason: Option<String>,
    /// Process that writes the run, to tell a live run from a dead one.
    pub pid: u32,
}

impl Summary {
    pub fn new(run: &str, profile: &str, epochs_total: u32, started_at: String) -> Self {
        Self {
            run: run.into(),
            profile: profile.into(),
            status: Status::Running,
            started_at,
            ended_at: None,
            wall_seconds: 0.0,
            device: None,
            epochs_done: 0,
            epochs_total,
            best_val_acc: None,
            best_epoch: None,
            final_val_acc: None,
            reinit_epochs: Vec::new(),
            period_epochs: None,
            reason: None,
            pid: std::process::id(),
        }
    }

    /// Folds one event in. Returns whether the summary changed in a way worth writing.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::Started {
                device,
                period_epochs,
                ..
            } => {
                self.device = Some(device.clone());
                self.period_epochs = *period_epochs;
            }
            Event::Epoch(m) => {
                self.epochs_done = m.epoch;
                self.final_val_acc = Some(m.val_acc);
                if self.best_val_acc.is_none_or(|b| m.val_acc > b) {
                    self.best_val_acc = Some(m.val_acc);
                    self.best_epoch = Some(m.epoch);
                }
            }
            Event::RunResumed {
                device,
                period_epochs,
                ..
            } => {
                self.status = Status::Running;
                self.reason = None;
                self.ended_at = None;
                self.device = Some(device.clone());
                self.period_epochs = *period_epochs;
            }
            Event::Reinit { epoch, .. } => self.reinit_epochs.push(*epoch),
            Event::PeriodChanged { period_epochs, .. } => self.period_epochs = Some(*period_epochs),
            Event::Finished { seconds, .. } => self.end(Status::Finished, None, *seconds),
            Event::Stopped {
                reason, seconds, ..
            } => self.end(Status::Stopped, Some(reason.clone()), *seconds),
            Event::Failed { reason, seconds } => {
                self.end(Status::Failed, Some(reason.clone()), *seconds)
            }
            _ => return false,
        }
        true
    }

    fn end(&mut self, status: Status, reason: Option<String>, seconds: f64) {
        self.status = status;
        self.reason = reason;
        self.wall_seconds = seconds;
        self.ended_at = Some(now_rfc3339());
    }
}

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::EpochMetrics;

    fn epoch(n: u32, acc: f64) -> Event {
        Event::Epoch(EpochMetrics {
            epoch: n,
            train_loss: 1.0,
            train_acc: 0.5,
            val_loss: 1.0,
            val_acc: acc,
            lr: 0.1,
            seconds: 1.0,
            best: false,
        })
    }

    #[test]
    fn folds_best_final_and_reinits() {
        let mut s = Summary::new("r", "p", 3, "t".into());
        s.apply(&epoch(1, 0.5));
        s.apply(&epoch(2, 0.8));
        s.apply(&Event::Reinit {
            epoch: 2.0,
            step: 10,
            index: 1,
            period_epochs: 2.0,
            head_change: 1.0,
        });
        s.apply(&epoch(3, 0.7));
        assert_eq!(s.best_val_acc, Some(0.8));
        assert_eq!(s.best_epoch, Some(2));
        assert_eq!(s.final_val_acc, Some(0.7));
        assert_eq!(s.reinit_epochs, vec![2.0]);
        assert_eq!(s.status, Status::Running);
        s.apply(&Event::Failed {
            reason: "boom".into(),
            seconds: 4.0,
        });
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.reason.as_deref(), Some("boom"));
        assert!(!s.apply(&Event::Warning {
            message: "x".into()
        }));
    }
}
