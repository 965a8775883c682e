//! The engine thread: the one place tch objects live.
//!
//! A front end gets an `EngineHandle`: a command sender and an event receiver, both of
//! plain serde types. Every event goes first to the `EventSink` (the run folder's
//! recorder), then to the channel, so what is on disk is never behind what a screen shows.
use crate::profile::Profile;
use crate::protocol::{Command, Event};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

/// Where events are kept (the run folder, in practice).
pub trait EventSink: Send {
    fn record(&mut self, event: &Event) -> std::io::Result<()>;
}

/// A sink that keeps nothing, for benchmarks and tests that need no run folder.
pub struct NoSink;

impl EventSink for NoSink {
    fn record(&mut self, _: &Event) -> std::io::Result<()> {
        Ok(())
    }
}

/// What to train.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub profile: Profile,
    pub run_name: String,
    /// Where `last` and `best` are written; none for throwaway runs.
    pub checkpoint_dir: Option<PathBuf>,
    /// What loading the profile found worth saying; recorded with the run.
    pub warnings: Vec<String>,
}

pub struct EngineHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Sends a command; false if the engine has already ended.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Passes events to the sink and the channel, remembering a sink failure.
pub struct Emitter {
    sink: Box<dyn EventSink>,
    tx: Sender<Event>,
    pub started: Instant,
}

impl Emitter {
    /// Records and forwards `event`. A sink that cannot write ends the run: a run whose
    /// history cannot be kept is not worth the GPU hours.
    pub fn emit(&mut self, event: Event) -> Result<(), String> {
        let recorded = self.sink.record(&event);
        let _ = self.tx.send(event);
        recorded.map_err(|e| format!("cannot write the run folder: {e}"))
    }

    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Starts training `spec` on a new thread.
pub fn spawn(spec: RunSpec, sink: Box<dyn EventSink>) -> EngineHandle {
    spawn_with(spec, sink, None)
}

/// Continues a run from its epoch-end state (`rifle-tui resume`); `spec.checkpoint_dir`
/// is the run's checkpoints folder.
pub fn spawn_resumed(
    spec: RunSpec,
    sink: Box<dyn EventSink>,
    resume: super::resume::ResumeState,
) -> EngineHandle {
    spawn_with(spec, sink, Some(resume))
}

fn spawn_with(
    spec: RunSpec,
    sink: Box<dyn EventSink>,
    resume: Option<super::resume::ResumeState>,
) -> EngineHandle {
    let (cmd_tx, cmd_rx) = channel();
    let (ev_tx, ev_rx) = channel();
    let thread = std::thread::Builder::new()
        .name("rifle-engine".into())
        .spawn(move || {
            let mut out = Emitter {
                sink,
                tx: ev_tx,
                started: Instant::now(),
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                super::trainer::run(&spec, &mut out, &cmd_rx, resume.as_ref())
            }));
            let reason = match result {
                Ok(Ok(())) => return,
                Ok(Err(reason)) => reason,
                Err(panic) => format!("internal error: {}", first_lines(&panic_message(&*panic))),
            };
            let seconds = out.seconds();
            let _ = out.emit(Event::Failed { reason, seconds });
        })
        .expect("the OS refused to start the engine thread");
    EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        thread: Some(thread),
    }
}

/// libtorch errors carry a C++ backtrace after their message: keep the message.
fn first_lines(message: &str) -> String {
    let cut = message
        .find("\nException raised from")
        .or_else(|| message.find("\nFrame"))
        .unwrap_or(message.len());
    let text = message[..cut].trim();
    let mut out: String = text.chars().take(600).collect();
    if out.len() < text.len() {
        out.push_str(" ...");
    }
    out
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}
