//! What the engine reports. Every event is one JSON object with a `"type"`, and every one
//! is appended to the run's `events.jsonl`, so a run can be replayed from disk alone.
//!
//! Positions in training are given in epochs as `f64`: epoch `e` (numbered from 1) ends
//! at position `e`, so a re-init with `"epoch": 2.0` follows epoch 2.
use serde::{Deserialize, Serialize};

/// One convolution (or the head) as the engine measures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Variable path of the weight's owner, e.g. `layer2.0.conv1`.
    pub name: String,
    /// Group for display, e.g. `layer2` or `stem`.
    pub stage: String,
    pub params: u64,
}

/// Relative figures for one layer at one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerUpdate {
    pub name: String,
    /// ||W - W0|| / ||W0||, W0 the weights the run started from.
    pub rel_distance: f64,
    /// ||W - W_prev|| / ||W_prev||, W_prev the weights at the previous measurement.
    pub rel_change: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Global step, counted from 1.
    pub step: u64,
    /// Position in epochs (e.g. 1.5 = half-way through epoch 2).
    pub epoch: f64,
    /// Mean training loss over the steps since the previous step event.
    pub loss: f64,
    pub lr: f64,
    pub images_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Numbered from 1.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub lr: f64,
    pub seconds: f64,
    /// Whether this epoch's val accuracy is the best so far.
    pub best: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Started {
        run: String,
        /// The resolved profile, as YAML, so the event stream is self-describing.
        profile_yaml: String,
        device: String,
        classes: Vec<String>,
        train_images: u64,
        val_images: u64,
        steps_per_epoch: u64,
        total_steps: u64,
        params_total: u64,
        params_trainable: u64,
        conv_layers: Vec<LayerInfo>,
        head: LayerInfo,
        /// The re-init positions (in epochs) the schedule plans at the start.
        planned_reinits: Vec<f64>,
        period_epochs: Option<f64>,
    },
    Step(StepMetrics),
    Epoch(EpochMetrics),
    Reinit {
        /// Position in epochs; `2.0` follows epoch 2.
        epoch: f64,
        step: u64,
        /// 1 for the first re-init.
        index: u32,
        period_epochs: f64,
        /// ||W_new - W_old|| / ||W_old|| of the head's weight: proof the head was redrawn.
        head_change: f64,
    },
    PeriodChanged {
        epoch: f64,
        step: u64,
        old_period_epochs: Option<f64>,
        period_epochs: f64,
        next_reinit: Option<f64>,
    },
    LayerUpdate {
        epoch: f64,
        step: u64,
        layers: Vec<LayerUpdate>,
        head: LayerUpdate,
    },
    /// A stopped, failed or interrupted run continued (`rifle-tui resume`) from the
    /// epoch-end checkpoint after epoch `from_epoch`. It takes the place of `started` for
    /// the resumed part; everything after it continues the same history.
    RunResumed {
        run: String,
        from_epoch: u32,
        step: u64,
        epochs: u32,
        total_steps: u64,
        device: String,
        period_epochs: Option<f64>,
        next_reinit: Option<f64>,
    },
    Paused {
        epoch: f64,
        step: u64,
    },
    Resumed {
        epoch: f64,
        step: u64,
    },
    Checkpoint {
        /// `last`, `best`.
        kind: String,
        epoch: f64,
        path: String,
    },
    /// Something the user should know that does not stop the run.
    Warning {
        message: String,
    },
    /// A command that could not be applied; the run goes on.
    CommandRejected {
        command: String,
        reason: String,
    },
    Finished {
        epochs: u32,
        best_val_acc: f64,
        final_val_acc: f64,
        seconds: f64,
    },
    Stopped {
        epochs: u32,
        reason: String,
        seconds: f64,
    },
    Failed {
        reason: String,
        seconds: f64,
    },
}

impl Event {
    /// Whether the engine ends after this event.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Event::Finished { .. } | Event::Stopped { .. } | Event::Failed { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_objects() {
        let e = Event::Reinit {
            epoch: 2.0,
            step: 40,
            index: 1,
            period_epochs: 2.0,
            head_change: 1.4,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"type":"reinit","epoch":2.0,"step":40,"index":1,"period_epochs":2.0,"head_change":1.4}"#
        );
        let epoch = Event::Epoch(EpochMetrics {
            epoch: 3,
            train_loss: 0.5,
            train_acc: 0.8,
            val_loss: 0.6,
            val_acc: 0.75,
            lr: 0.01,
            seconds: 1.0,
            best: true,
        });
        let v: serde_json::Value = serde_json::to_value(&epoch).unwrap();
        assert_eq!(v["type"], "epoch");
        assert_eq!(v["epoch"], 3);
        assert_eq!(v["val_acc"], 0.75);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, epoch);
    }

    #[test]
    fn commands_round_trip_and_reject_unknown() {
        let c: crate::protocol::Command =
            serde_json::from_str(r#"{"type":"set_rifle_period","period_epochs":1.5}"#).unwrap();
        assert_eq!(
            c,
            crate::protocol::Command::SetRiflePeriod { period_epochs: 1.5 }
        );
        assert!(serde_json::from_str::<crate::protocol::Command>(r#"{"type":"explode"}"#).is_err());
    }
}
