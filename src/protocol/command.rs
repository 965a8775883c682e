//! What a front end may ask of a running engine.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Pause,
    Resume,
    /// Finish the current step, write a checkpoint and the summary, end as `stopped`.
    Stop,
    /// Change the RIFLE period; it takes effect for the next re-init.
    SetRiflePeriod {
        period_epochs: f64,
    },
    /// Write the `last` checkpoint now.
    Checkpoint,
}
