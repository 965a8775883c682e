//! `trainer.lock`: held (flock) by the one process that trains a run, for as long as it
//! lives. The kernel lets go when the process dies however it dies, so a lock nobody
//! holds means nobody trains the run: never `running` forever, never two writers.
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

pub const LOCK_FILE: &str = "trainer.lock";

#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the run's lock, or says who has it. A reader's probe holds a shared lock for
    /// an instant, so a few tries tell a probe from a trainer.
    pub fn acquire(run_dir: &Path) -> Result<Self, String> {
        let path = run_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for _ in 0..20 {
            match file.try_lock() {
                Ok(()) => {
                    // Who holds it, for messages; the lock itself is what counts.
                    let _ = file.set_len(0);
                    let _ = file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0);
                    return Ok(Self { _file: file });
                }
                Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(25)),
                Err(TryLockError::Error(e)) => return Err(format!("{}: {e}", path.display())),
            }
        }
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        Err(format!(
            "the run in {} is being trained by another process{}; attach to it or stop it \
             first",
            run_dir.display(),
            match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            }
        ))
    }
}

/// Whether a live process trains the run; `None` when the run has no lock file (runs
/// written before locks existed, or a process that died before taking it).
pub fn is_held(run_dir: &Path) -> Option<bool> {
    let file = File::open(run_dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => Some(false),
        Err(TryLockError::WouldBlock) => Some(true),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_free_again_when_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(is_held(tmp.path()), None);
        let lock = RunLock::acquire(tmp.path()).unwrap();
        assert_eq!(is_held(tmp.path()), Some(true));
        let second = RunLock::acquire(tmp.path()).unwrap_err();
        assert!(second.contains("another process"), "{second}");
        assert!(
            second.contains(&format!("pid {}", std::process::id())),
            "{second}"
        );
        drop(lock);
        assert_eq!(is_held(tmp.path()), Some(false));
        assert!(RunLock::acquire(tmp.path()).is_ok());
    }
}
