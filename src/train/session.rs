//! A run with a home: its folder is made and the engine started with the folder's
//! recorder as its event sink. The CLI and the TUI both start runs through here.
use super::engine::{spawn, EngineHandle, RunSpec};
use crate::profile::Profile;
use crate::runs::{Recorder, RunDir};
use std::path::Path;

pub struct Session {
    pub dir: RunDir,
    pub engine: EngineHandle,
}

/// Creates the run folder under `runs_dir` and starts training `profile` into it.
/// Fails before any training if the folder cannot be written.
pub fn start(profile: &Profile, warnings: &[String], runs_dir: &Path) -> Result<Session, String> {
    let cannot = |e: std::io::Error| format!("cannot create the run folder: {e}");
    let dir = RunDir::create(runs_dir, &profile.name, &profile.to_yaml()).map_err(cannot)?;
    let recorder = Recorder::new(&dir, &profile.name, profile.train.epochs).map_err(cannot)?;
    let spec = RunSpec {
        profile: profile.clone(),
        run_name: dir.name.clone(),
        checkpoint_dir: Some(dir.checkpoints()),
        warnings: warnings.to_vec(),
    };
    let engine = spawn(spec, Box::new(recorder));
    Ok(Session { dir, engine })
}
