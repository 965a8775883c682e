//! Creating a run's folder.
use super::atomic::write_atomically;
use std::path::{Path, PathBuf};

pub const PROFILE_FILE: &str = "profile.yaml";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The trainer's control socket, there while a process trains the run (see `remote`).
pub const SOCKET_FILE: &str = "control.sock";

/// A run's folder and the names of what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDir {
    pub path: PathBuf,
    pub name: String,
}

impl RunDir {
    /// Makes `runs_dir/<time>-<profile>` (with a suffix if taken) and writes the resolved
    /// profile into it, so the run keeps its own copy whatever happens to the original.
    pub fn create(
        runs_dir: &Path,
        profile_name: &str,
        profile_yaml: &str,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(runs_dir).map_err(|e| with_path(e, runs_dir))?;
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let base = format!("{stamp}-{}", sanitise(profile_name));
        let mut n = 1;
        let (name, path) = loop {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = runs_dir.join(&name);
            match std::fs::create_dir(&path) {
                Ok(()) => break (name, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(with_path(e, &path)),
            }
        };
        let dir = Self { path, name };
        std::fs::create_dir_all(dir.checkpoints()).map_err(|e| with_path(e, &dir.checkpoints()))?;
        write_atomically(&dir.file(PROFILE_FILE), profile_yaml.as_bytes())
            .map_err(|e| with_path(e, &dir.file(PROFILE_FILE)))?;
        Ok(dir)
    }

    pub fn open(path: &Path) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            path: path.to_path_buf(),
            name,
        }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.path.join(CHECKPOINTS_DIR)
    }
}

/// Adds the path to an I/O error, which otherwise only says "permission denied".
pub fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Keeps a profile name usable as part of a folder name.
fn sanitise(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "run".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_safe() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunDir::create(dir.path(), "my profile/x", "a: 1\n").unwrap();
        let b = RunDir::create(dir.path(), "my profile/x", "a: 1\n").unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.name.ends_with("my_profile_x"), "{}", a.name);
        assert!(b.name.ends_with("-2") || b.name != a.name);
        assert!(a.checkpoints().is_dir());
        assert_eq!(
            std::fs::read_to_string(a.file(PROFILE_FILE)).unwrap(),
            "a: 1\n"
        );
    }
}
