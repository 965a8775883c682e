//! `rifle-tui train` and `rifle-tui resume`: a run headless, for scripts, job schedulers
//! and CI, often over SSH; in the foreground, or detached into a process of its own.
use super::progress::Progress;
use super::{DetachArgs, ProfileArgs};
use crate::protocol::{Command, Event};
use crate::remote::detach::{self, Detached, Job};
use crate::runs::RunStore;
use crate::train::session::{self, Session};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::Path;

pub fn run(args: &ProfileArgs, mode: DetachArgs, runs_dir: &Path) -> Result<i32, String> {
    // Every mistake in the profile is said here, on the user's terminal.
    let loaded = args.load()?;
    if mode.detach {
        for w in &loaded.warnings {
            say(&format!("warning: {w}"));
        }
        let yaml = loaded.profile.to_yaml();
        let started = detach::launch(
            &this_binary()?,
            Job::Train {
                profile_yaml: &yaml,
            },
            runs_dir,
        )?;
        return Ok(tell_detached(&started));
    }
    // The engine records the loader's warnings in the run and reports them as events.
    let session = session::start(&loaded.profile, &loaded.warnings, runs_dir)?;
    begin(&session, mode)?;
    drive(session)
}

/// `rifle-tui resume RUN`: continues a stopped, failed or interrupted run in its folder.
pub fn resume(run: &str, mode: DetachArgs, runs_dir: &Path) -> Result<i32, String> {
    let path = RunStore::new(runs_dir).resolve(run)?;
    if mode.detach {
        let started = detach::launch(&this_binary()?, Job::Resume { run: &path }, runs_dir)?;
        return Ok(tell_detached(&started));
    }
    let session = session::resume(&path)?;
    begin(&session, mode)?;
    drive(session)
}

fn this_binary() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find this program's own file: {e}"))
}

/// The detached trainer's start: say where the run is, on the pipe its parent reads,
/// and from then on write to the run folder only.
fn begin(session: &Session, mode: DetachArgs) -> Result<(), String> {
    if mode.detached_child {
        detach::report_ready(&session.dir.path)
    } else {
        say(&format!("run folder: {}", session.dir.path.display()));
        Ok(())
    }
}

fn tell_detached(started: &Detached) -> i32 {
    let name = started
        .run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Standard output carries the folder alone, for scripts: `dir=$(rifle-tui train --detach p.yaml)`.
    println!("{}", started.run_dir.display());
    say(&format!(
        "training in the background (pid {}), detached from this terminal\n  \
         watch:  rifle-tui attach {name}\n  \
         log:    {}\n  \
         stop:   kill -TERM {} (checkpoints, then ends as stopped)",
        started.pid,
        started.run_dir.join(detach::LOG_FILE).display(),
        started.pid,
    ));
    0
}

/// Shows the run's progress until it ends; the exit code is 0 only when it finished.
///
/// SIGINT (Ctrl-C) or SIGTERM: stop after the current step with a checkpoint and the
/// summary; a second one quits at once (the files stay readable). SIGHUP is ignored, so a
/// run survives the SSH session that started it.
fn drive(session: Session) -> Result<i32, String> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let commands = session.engine.commands.clone();
    std::thread::Builder::new()
        .name("rifle-signals".into())
        .spawn(move || {
            let mut stops = 0;
            for signal in signals.forever() {
                if signal == SIGHUP {
                    continue;
                }
                stops += 1;
                if stops == 1 {
                    let how = if signal == SIGINT {
                        "Ctrl-C"
                    } else {
                        "SIGTERM"
                    };
                    say(&format!(
                        "\nstopping after this step ({how} again to quit at once)"
                    ));
                    let _ = commands.send(Command::Stop);
                } else {
                    // _exit, not exit: exit runs libtorch's static destructors while the
                    // engine thread is still inside a kernel, which can crash the process
                    // (SIGSEGV/SIGABRT instead of 130). Every file is already written
                    // line by line or atomically, so nothing is lost by skipping them.
                    unsafe { libc::_exit(128 + signal) };
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;

    let mut progress = Progress::new();
    let mut code = 1;
    for event in session.engine.events.iter() {
        progress.show(&event);
        if event.is_terminal() {
            code = i32::from(!matches!(event, Event::Finished { .. }));
            break;
        }
    }
    session.join();
    Ok(code)
}

/// A line on stderr that never panics: after SIGHUP the terminal may be gone.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
