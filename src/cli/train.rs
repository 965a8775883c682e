//! `rifle-tui train`: a run headless, for scripts, job schedulers and CI.
use super::progress::Progress;
use super::ProfileArgs;
use crate::profile::load_profile;
use crate::protocol::{Command, Event};
use crate::train::session;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

pub fn run(args: &ProfileArgs, runs_dir: &Path) -> Result<i32, String> {
    let loaded = load_profile(&args.profile, &args.overrides).map_err(|e| e.to_string())?;
    // The engine records the loader's warnings in the run and reports them as events.
    let session = session::start(&loaded.profile, &loaded.warnings, runs_dir)?;
    eprintln!("run folder: {}", session.dir.path.display());

    // First Ctrl-C: stop after the current step with a checkpoint. Second: now.
    let commands = Mutex::new(session.engine.commands.clone());
    let presses = AtomicU32::new(0);
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\nstopping after this step (Ctrl-C again to quit at once)");
            if let Ok(tx) = commands.lock() {
                let _ = tx.send(Command::Stop);
            }
        } else {
            std::process::exit(130);
        }
    });

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
