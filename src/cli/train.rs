//! `rifle-tui train` and `rifle-tui resume`: a run headless, for scripts, job schedulers
//! and CI, often over SSH.
use super::progress::Progress;
use super::ProfileArgs;
use crate::profile::load_profile;
use crate::protocol::{Command, Event};
use crate::runs::RunStore;
use crate::train::session::{self, Session};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::Path;

pub fn run(args: &ProfileArgs, runs_dir: &Path) -> Result<i32, String> {
    let loaded = load_profile(&args.profile, &args.overrides).map_err(|e| e.to_string())?;
    // The engine records the loader's warnings in the run and reports them as events.
    let session = session::start(&loaded.profile, &loaded.warnings, runs_dir)?;
    say(&format!("run folder: {}", session.dir.path.display()));
    drive(session)
}

/// `rifle-tui resume RUN`: continues a stopped, failed or interrupted run in its folder.
pub fn resume(run: &str, runs_dir: &Path) -> Result<i32, String> {
    let path = RunStore::new(runs_dir).resolve(run)?;
    let session = session::resume(&path)?;
    say(&format!("run folder: {}", session.dir.path.display()));
    drive(session)
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
                    std::process::exit(128 + signal);
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
    session.engine.join();
    Ok(code)
}

/// A line on stderr that never panics: after SIGHUP the terminal may be gone.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
