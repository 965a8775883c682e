//! The engine's language: commands in, events out.
//!
//! Plain serde types with no tch in sight, so the TUI, the headless CLI and a detached
//! trainer process can all drive the same engine, in-process or over a socket.
pub mod command;
pub mod event;

pub use command::Command;
pub use event::{EpochMetrics, Event, LayerInfo, LayerUpdate, StepMetrics};
