//! The fine-tuning engine: one thread owns every tch object and speaks `protocol`.
pub mod device;
pub mod engine;
pub mod layer_monitor;
pub mod lr_schedule;
pub mod metrics;
pub mod optimizer;
pub mod precision;
pub mod resume;
pub mod rifle_schedule;
pub mod session;
pub mod trainer;

pub use engine::{spawn, EngineHandle, EventSink, RunSpec};
pub use rifle_schedule::RifleSchedule;
