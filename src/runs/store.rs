//! The runs folder: finding runs, naming them on the command line, reading them.
use super::events_file::{read_events, EventLog};
use super::run_dir::{RunDir, EVENTS_FILE, PROFILE_FILE, SUMMARY_FILE};
use super::summary::{Status, Summary};
use std::path::{Path, PathBuf};

/// `$XDG_DATA_HOME/rifle-tui/runs` or the platform's equivalent.
pub fn default_runs_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "rifle-tui")
        .map(|d| d.data_dir().join("runs"))
        .unwrap_or_else(|| PathBuf::from("runs"))
}

pub struct RunStore {
    pub root: PathBuf,
}

/// A run as read from disk.
pub struct StoredRun {
    pub dir: RunDir,
    pub summary: Summary,
}

impl StoredRun {
    /// A process trains it now and serves it on its socket: a front end can attach.
    pub fn is_live(&self) -> bool {
        self.summary.status == Status::Running
            && self.dir.file(super::run_dir::SOCKET_FILE).exists()
    }
}

impl RunStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Every run folder, oldest first (names start with their time).
    pub fn list(&self) -> std::io::Result<Vec<StoredRun>> {
        let mut runs = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
            Err(e) => return Err(super::run_dir::with_path(e, &self.root)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.join(SUMMARY_FILE).is_file() || path.join(EVENTS_FILE).is_file() {
                if let Ok(run) = read_run(&path) {
                    runs.push(run);
                }
            }
        }
        runs.sort_by(|a, b| a.dir.name.cmp(&b.dir.name));
        Ok(runs)
    }

    /// Finds a run from what a user typed: a path, a folder name, a unique part of one,
    /// or `last` for the newest.
    pub fn resolve(&self, query: &str) -> Result<PathBuf, String> {
        let as_path = Path::new(query);
        if as_path.join(SUMMARY_FILE).is_file() || as_path.join(EVENTS_FILE).is_file() {
            return Ok(as_path.to_path_buf());
        }
        let runs = self.list().map_err(|e| e.to_string())?;
        if runs.is_empty() {
            return Err(format!("no runs in {}", self.root.display()));
        }
        if query == "last" {
            return Ok(runs.last().expect("not empty").dir.path.clone());
        }
        if let Some(r) = runs.iter().find(|r| r.dir.name == query) {
            return Ok(r.dir.path.clone());
        }
        let matches: Vec<&StoredRun> = runs.iter().filter(|r| r.dir.name.contains(query)).collect();
        match matches.as_slice() {
            [one] => Ok(one.dir.path.clone()),
            [] => Err(format!(
                "no run matches `{query}` in {} (see `rifle-tui runs list`)",
                self.root.display()
            )),
            many => Err(format!(
                "`{query}` matches {} runs: {}; give more of the name",
                many.len(),
                many.iter()
                    .map(|r| r.dir.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Reads a run's summary (rebuilt from its events if the summary is missing or
/// unreadable), marking a run whose writer has died as interrupted.
pub fn read_run(path: &Path) -> Result<StoredRun, String> {
    let dir = RunDir::open(path);
    let from_file = std::fs::read(dir.file(SUMMARY_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Summary>(&b).ok());
    let mut summary = match from_file {
        Some(s) => s,
        None => {
            let log = read_events(&dir.file(EVENTS_FILE))
                .map_err(|e| format!("{}: {e}", dir.file(EVENTS_FILE).display()))?;
            let mut s = Summary::new(&dir.name, "?", 0, String::new());
            s.pid = 0;
            log.events.iter().for_each(|e| {
                s.apply(e);
            });
            s
        }
    };
    // The trainer's lock says whether it lives; the pid, for runs without a lock file.
    let alive =
        || crate::remote::lock::is_held(&dir.path).unwrap_or_else(|| process_alive(summary.pid));
    if summary.status == Status::Running && !alive() {
        summary.status = Status::Interrupted;
    }
    Ok(StoredRun { dir, summary })
}

pub fn read_log(dir: &RunDir) -> Result<EventLog, String> {
    let path = dir.file(EVENTS_FILE);
    read_events(&path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn read_profile_yaml(dir: &RunDir) -> Result<String, String> {
    let path = dir.file(PROFILE_FILE);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether a process with this pid still exists (Linux: its /proc entry).
fn process_alive(pid: u32) -> bool {
    pid != 0 && (pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::atomic::write_atomically;

    fn make_run(root: &Path, name: &str, pid: u32, status: Status) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Summary::new(name, "p", 3, "t".into());
        s.pid = pid;
        s.status = status;
        write_atomically(&dir.join(SUMMARY_FILE), &serde_json::to_vec(&s).unwrap()).unwrap();
        dir
    }

    #[test]
    fn a_running_run_whose_process_is_gone_is_interrupted() {
        let tmp = tempfile::tempdir().unwrap();
        // PIDs above the kernel's pid_max (4194304 at most) never exist.
        let dead = make_run(tmp.path(), "20260101-000000-a", 4_999_999, Status::Running);
        let alive = make_run(
            tmp.path(),
            "20260101-000001-b",
            std::process::id(),
            Status::Running,
        );
        assert_eq!(read_run(&dead).unwrap().summary.status, Status::Interrupted);
        assert_eq!(read_run(&alive).unwrap().summary.status, Status::Running);
        // A lock file nobody holds outranks a pid that happens to be alive (reused).
        let stale = make_run(
            tmp.path(),
            "20260101-000002-c",
            std::process::id(),
            Status::Running,
        );
        std::fs::write(stale.join(crate::remote::lock::LOCK_FILE), "1\n").unwrap();
        assert_eq!(
            read_run(&stale).unwrap().summary.status,
            Status::Interrupted
        );
        let held = crate::remote::lock::RunLock::acquire(&stale).unwrap();
        assert_eq!(read_run(&stale).unwrap().summary.status, Status::Running);
        drop(held);
    }

    #[test]
    fn runs_resolve_by_name_part_and_last() {
        let tmp = tempfile::tempdir().unwrap();
        make_run(tmp.path(), "20260101-000000-demo", 0, Status::Finished);
        make_run(tmp.path(), "20260102-000000-baseline", 0, Status::Finished);
        let store = RunStore::new(tmp.path());
        assert!(store
            .resolve("last")
            .unwrap()
            .ends_with("20260102-000000-baseline"));
        assert!(store
            .resolve("demo")
            .unwrap()
            .ends_with("20260101-000000-demo"));
        let err = store.resolve("2026").unwrap_err();
        assert!(err.contains("matches 2 runs"), "{err}");
        let err = store.resolve("nothing").unwrap_err();
        assert!(err.contains("runs list"), "{err}");
    }
}
