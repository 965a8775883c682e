//! Runs on disk: one folder a run, with the resolved profile, every event, a summary and
//! checkpoints. Everything here is plain files so a run can be read without this program.
pub mod atomic;
pub mod compare;
pub mod events_file;
pub mod export;
pub mod recorder;
pub mod run_dir;
pub mod store;
pub mod summary;
pub mod tensorboard;
pub mod tfevents;

pub use recorder::Recorder;
pub use run_dir::RunDir;
pub use store::{default_runs_dir, RunStore};
pub use summary::{Status, Summary};
