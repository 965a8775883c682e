//! A run with a home: its folder is made (or, resuming, taken over) under its lock, the
//! engine started with the folder's recorder as its event sink, and the run served on
//! its control socket for front ends to attach to. Every trainer starts runs here.
use super::engine::{spawn, spawn_resumed, EngineHandle, RunSpec};
use super::resume::ResumeState;
use crate::profile::{parse_profile, Profile};
use crate::remote::hub::{Hub, ServedSink};
use crate::remote::lock::RunLock;
use crate::remote::server::{self, Server};
use crate::remote::ServerMessage;
use crate::runs::run_dir::{EVENTS_FILE, PROFILE_FILE, SOCKET_FILE};
use crate::runs::store::read_run;
use crate::runs::{Recorder, RunDir, Status};
use std::path::Path;

pub struct Session {
    pub dir: RunDir,
    pub engine: EngineHandle,
    server: Option<Server>,
    /// Held until the session ends: the run's one writer.
    _lock: RunLock,
}

impl Session {
    /// Waits for the engine to end, lets attached front ends take the last events, then
    /// closes the socket and lets go of the run.
    pub fn join(self) {
        self.engine.join();
        if let Some(s) = self.server {
            s.shutdown();
        }
    }
}

/// Records into `dir` and serves it: binds the socket first, so a run that cannot be
/// served says so among its first events, and still trains.
fn serve_and_spawn(
    dir: RunDir,
    lock: RunLock,
    recorder: Recorder,
    mut spec: RunSpec,
    resume: Option<ResumeState>,
) -> Session {
    let socket = dir.file(SOCKET_FILE);
    let listener = match server::bind(&socket) {
        Ok(l) => Some(l),
        Err(e) => {
            spec.warnings.push(format!(
                "cannot open the control socket ({e}); the run trains and is recorded as \
                 usual, but no front end can attach to it"
            ));
            None
        }
    };
    let hub = Hub::new(dir.file(EVENTS_FILE));
    let sink = Box::new(ServedSink {
        recorder,
        hub: hub.clone(),
    });
    let engine = match resume {
        Some(state) => spawn_resumed(spec, sink, state),
        None => spawn(spec, sink),
    };
    let hello = ServerMessage::Hello {
        run: dir.name.clone(),
        pid: std::process::id(),
    };
    let server = listener.and_then(|l| {
        Server::start(l, socket.clone(), hub, engine.commands.clone(), hello)
            // No thread to serve it: no socket to promise an attachable run.
            .inspect_err(|_| drop(std::fs::remove_file(&socket)))
            .ok()
    });
    Session {
        dir,
        engine,
        server,
        _lock: lock,
    }
}

/// Creates the run folder under `runs_dir` and starts training `profile` into it.
/// Fails before any training if the folder cannot be written.
pub fn start(profile: &Profile, warnings: &[String], runs_dir: &Path) -> Result<Session, String> {
    let cannot = |e: std::io::Error| format!("cannot create the run folder: {e}");
    let dir = RunDir::create(runs_dir, &profile.name, &profile.to_yaml()).map_err(cannot)?;
    let lock = RunLock::acquire(&dir.path)?;
    let recorder = Recorder::new(&dir, &profile.name, profile.train.epochs).map_err(cannot)?;
    let spec = RunSpec {
        profile: profile.clone(),
        run_name: dir.name.clone(),
        checkpoint_dir: Some(dir.checkpoints()),
        warnings: warnings.to_vec(),
    };
    Ok(serve_and_spawn(dir, lock, recorder, spec, None))
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
    // Two resumes at once: the second finds the first's lock.
    let lock = RunLock::acquire(&dir.path)?;
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
    Ok(serve_and_spawn(dir, lock, recorder, spec, Some(state)))
}
