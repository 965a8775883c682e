//! Starting a trainer that outlives whoever started it: a child process of this same
//! binary in a session of its own (setsid), so no terminal, SSH connection or SIGHUP of
//! ours reaches it. It reports its run folder on a pipe once the folder, its lock and
//! its socket exist, then writes only to `trainer.log` in that folder.
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The child's line on its stdout that names the run folder.
const READY: &str = "rifle-tui-run-folder\t";
/// The file a detached trainer's own output goes to, in its run folder.
pub const LOG_FILE: &str = "trainer.log";

/// What to run detached.
pub enum Job<'a> {
    /// A resolved profile (YAML), fed to `train -` on the child's stdin.
    Train { profile_yaml: &'a str },
    /// `resume RUN`.
    Resume { run: &'a Path },
}

/// A detached trainer, started and serving.
#[derive(Debug, Clone, PartialEq)]
pub struct Detached {
    pub run_dir: PathBuf,
    pub pid: u32,
}

/// Starts `job` as a detached trainer with `exe` (this binary) and waits until it
/// serves its run, or says why it could not start.
pub fn launch(exe: &Path, job: Job<'_>, runs_dir: &Path) -> Result<Detached, String> {
    let mut cmd = Command::new(exe);
    cmd.arg("--runs-dir").arg(runs_dir);
    let stdin_text = match job {
        Job::Train { profile_yaml } => {
            cmd.args(["train", "-", "--detached-child"]);
            Some(profile_yaml.to_string())
        }
        Job::Resume { run } => {
            cmd.arg("resume").arg(run).arg("--detached-child");
            None
        }
    };
    cmd.stdin(if stdin_text.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe, the one thing allowed between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the trainer {}: {e}", exe.display()))?;
    if let (Some(text), Some(mut stdin)) = (stdin_text, child.stdin.take()) {
        // A child that failed early closes the pipe; its stderr says why, below.
        let _ = stdin.write_all(text.as_bytes());
    }
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // Loading the profile and making the folder is quick; the dataset loads later.
    let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    let pid = child.id();
    if let Some(dir) = line.trim_end_matches('\n').strip_prefix(READY) {
        // Reap it when it ends, so it never lingers as a zombie of a long-lived TUI.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        return Ok(Detached {
            run_dir: PathBuf::from(dir),
            pid,
        });
    }
    let mut why = String::new();
    let _ = child.kill();
    let _ = stderr.read_to_string(&mut why);
    let _ = child.wait();
    let why = why.trim().trim_start_matches("error: ").to_string();
    Err(if why.is_empty() {
        "the trainer ended before it started its run".into()
    } else {
        why
    })
}

/// In the child: says where the run is, then sends its own stdout and stderr to the run
/// folder's `trainer.log` (the pipe's reader is gone by then).
pub fn report_ready(run_dir: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let log_path = run_dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}{}", run_dir.display()).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
        // SAFETY: both descriptors are valid; dup2 replaces fd atomically.
        if unsafe { libc::dup2(log.as_raw_fd(), fd) } == -1 {
            return Err(format!(
                "cannot write {}: {}",
                log_path.display(),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
