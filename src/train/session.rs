//! A run with a home: its folder is made and the engine started with the folder's
//! recorder as its event sink. The CLI and the TUI both start runs through here.
use super::engine::{spawn, spawn_resumed, EngineHandle, RunSpec};
use super::resume::ResumeState;
use crate::profile::{parse_profile, Profile};
use crate::runs::run_dir::PROFILE_FILE;
use crate::runs::store::read_run;
use crate::runs::{Recorder, RunDir, Status};
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

/// Continues the run in `run_path` (stopped, failed or interrupted) from its last
/// epoch-end state, in the same folder, with the run's own copy of its profile.
pub fn resume(run_path: &Path) -> Result<Session, String> {
    let run = read_run(run_path)?;
    let name = run.dir.name.clone();
    match run.summary.status {
        Status::Finished => return Err(format!("run {name} has finished; nothing to resume")),
        Status::Running => {
            return Err(format!(
                "run {name} is still being written by process {}; stop it first",
                run.summary.pid
            ))
        }
        Status::Stopped | Status::Failed | Status::Interrupted => {}
    }
    let dir = run.dir;
    let state = ResumeState::read(&dir.checkpoints())?.ok_or_else(|| {
        format!(
            "run {name} has no epoch-end checkpoint to resume from (it never finished an epoch)"
        )
    })?;
    let profile_path = dir.file(PROFILE_FILE);
    let text = std::fs::read_to_string(&profile_path)
        .map_err(|e| format!("{}: {e}", profile_path.display()))?;
    let profile = parse_profile(&text, &profile_path, &[])
        .map_err(|e| e.to_string())?
        .profile;
    let mut summary = run.summary;
    summary.status = Status::Running;
    // What the dead process recorded past the saved state is trained again: fold the
    // summary's history from the events up to it.
    if let Ok(log) = crate::runs::store::read_log(&dir) {
        let upto = f64::from(state.epoch) + 1e-9;
        let history = crate::runs::export::current_history(&log.events);
        let mut folded = crate::runs::Summary::new(&dir.name, &summary.profile, 0, String::new());
        for e in history
            .into_iter()
            .filter(|e| crate::runs::export::position(e).is_some_and(|p| p <= upto))
        {
            folded.apply(e);
        }
        summary.epochs_done = folded.epochs_done;
        summary.best_val_acc = folded.best_val_acc;
        summary.best_epoch = folded.best_epoch;
        summary.final_val_acc = folded.final_val_acc;
        summary.reinit_epochs = folded.reinit_epochs;
    }
    let recorder =
        Recorder::reopen(&dir, summary).map_err(|e| format!("cannot write the run folder: {e}"))?;
    let spec = RunSpec {
        profile,
        run_name: dir.name.clone(),
        checkpoint_dir: Some(dir.checkpoints()),
        warnings: Vec::new(),
    };
    let engine = spawn_resumed(spec, Box::new(recorder), state);
    Ok(Session { dir, engine })
}
