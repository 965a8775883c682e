//! Detached trainers on the real binary: `train --detach` in a session of its own,
//! served on `control.sock` to any number of clients, refusing bad lines and going on,
//! ignoring SIGHUP, locked against a second writer, and resumed detached after kill -9.
mod common;

use common::{rifle, stderr, stdout, tiny_profile, write, Reaper};
use rifle_tui::protocol::{Command, Event};
use rifle_tui::remote::{Incoming, RemoteRun, ServerMessage};
use rifle_tui::runs::events_file::read_events;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(120);

/// A temporary folder with a runs folder and a tiny profile in it.
fn setup(epochs: u32, rifle: &str) -> (Reaper, tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let profile = write(tmp.path(), "p.yaml", &tiny_profile(epochs, rifle));
    (Reaper(runs.clone()), tmp, runs, profile)
}

fn train_detached(profile: &Path, runs: &Path) -> std::process::Output {
    rifle(&[
        "--runs-dir",
        runs.to_str().unwrap(),
        "train",
        profile.to_str().unwrap(),
        "--detach",
    ])
}

/// `train --detach`: returns at once with the run folder on stdout.
fn detach(profile: &Path, runs: &Path) -> PathBuf {
    let out = train_detached(profile, runs);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rifle-tui attach"),
        "{}",
        stderr(&out)
    );
    PathBuf::from(stdout(&out).trim())
}

/// The status `runs show --json` gives.
fn status_of(runs: &str, name: &str) -> String {
    let out = rifle(&["--runs-dir", runs, "runs", "show", name, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    v["summary"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn pid_of(run: &Path) -> i32 {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    s["pid"].as_i64().unwrap() as i32
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn wait_gone(pid: i32) {
    let start = Instant::now();
    while alive(pid) {
        assert!(start.elapsed() < DEADLINE, "process {pid} did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client and every event it has been sent, history and live alike.
struct Client {
    remote: RemoteRun,
    events: Vec<Event>,
    errors: Vec<String>,
    accepted: Vec<Command>,
    closed: bool,
}

impl Client {
    fn attach(run: &Path) -> Self {
        let remote = RemoteRun::connect(&run.join("control.sock")).unwrap();
        let mut c = Client {
            remote,
            events: vec![],
            errors: vec![],
            accepted: vec![],
            closed: false,
        };
        let hello = c.next();
        assert!(
            matches!(&hello, Some(ServerMessage::Hello { run: r, .. }) if run.ends_with(r)),
            "{hello:?}"
        );
        c.until("live", |m| *m == ServerMessage::Live);
        c
    }

    fn next(&mut self) -> Option<ServerMessage> {
        match self.remote.recv_timeout(DEADLINE)? {
            Incoming::Message(m) => {
                match &m {
                    ServerMessage::Event { event } => self.events.push(event.clone()),
                    ServerMessage::Error { message } => self.errors.push(message.clone()),
                    ServerMessage::Accepted { command } => self.accepted.push(command.clone()),
                    _ => {}
                }
                Some(m)
            }
            Incoming::Closed(_) => {
                self.closed = true;
                None
            }
        }
    }

    /// Reads until a message matches.
    fn until(&mut self, what: &str, f: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
        loop {
            match self.next() {
                Some(m) if f(&m) => return m,
                Some(_) => {}
                None => panic!(
                    "connection ended waiting for {what}; errors {:?}",
                    self.errors
                ),
            }
        }
    }

    fn until_event(&mut self, what: &str, f: impl Fn(&Event) -> bool) -> Event {
        match self.until(
            what,
            |m| matches!(m, ServerMessage::Event { event } if f(event)),
        ) {
            ServerMessage::Event { event } => event,
            _ => unreachable!(),
        }
    }

    fn error_for(&mut self, line: &str) -> String {
        self.remote.send_raw(line).unwrap();
        match self.until("an error reply", |m| {
            matches!(m, ServerMessage::Error { .. })
        }) {
            ServerMessage::Error { message } => message,
            _ => unreachable!(),
        }
    }

    fn drain_to_end(&mut self) {
        while self.next().is_some() {}
        assert!(self.closed);
    }
}

#[test]
fn a_detached_run_serves_two_clients_in_order_refuses_bad_lines_and_ignores_sighup() {
    // Long enough that it never ends on its own here: the test stops it.
    let (_reaper, _tmp, runs, profile) = setup(500, "  period_epochs: 2");
    let run = detach(&profile, &runs);
    let socket = run.join("control.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is the user's alone");
    let pid = pid_of(&run);
    assert_ne!(pid as u32, std::process::id());
    // Its own session: no terminal or SSH hang-up of ours reaches it.
    assert_eq!(unsafe { libc::getsid(pid) }, pid);
    assert_ne!(unsafe { libc::getsid(0) }, pid);

    let mut a = Client::attach(&run);
    a.remote.send(&Command::Pause).unwrap();
    a.until("accepted", |m| matches!(m, ServerMessage::Accepted { .. }));
    a.until_event("paused", |e| matches!(e, Event::Paused { .. }));

    // B joins later: the history so far, then live, with no gap and no repeat.
    let mut b = Client::attach(&run);
    assert!(b.events.iter().any(|e| matches!(e, Event::Paused { .. })));
    assert!(b.events.iter().any(|e| matches!(e, Event::Started { .. })));

    // Bad lines: each refused with a reason, nothing reaches the engine.
    let e = b.error_for("{\"type\": pause}\n");
    assert!(e.contains("malformed JSON"), "{e}");
    let e = b.error_for("{\"type\":\"explode\"}\n");
    assert!(e.contains("unknown variant `explode`"), "{e}");
    let e = b.error_for("{\"type\":\"set_rifle_period\",\"period_epochs\":0}\n");
    assert!(e.contains("greater than 0"), "{e}");
    let e = b.error_for("{\"type\":\"set_rifle_period\",\"period_epochs\":-1.5}\n");
    assert!(e.contains("greater than 0"), "{e}");

    // Commands from both, applied in the order they came, seen by both.
    b.remote
        .send(&Command::SetRiflePeriod { period_epochs: 3.0 })
        .unwrap();
    b.until_event(
        "period changed",
        |e| matches!(e, Event::PeriodChanged { period_epochs, .. } if *period_epochs == 3.0),
    );
    a.remote
        .send(&Command::SetRiflePeriod { period_epochs: 4.0 })
        .unwrap();
    for c in [&mut a, &mut b] {
        c.until_event(
            "the second change",
            |e| matches!(e, Event::PeriodChanged { period_epochs, .. } if *period_epochs == 4.0),
        );
    }

    // A dropped SSH connection: SIGHUP reaches nothing that matters.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(pid), "SIGHUP ended the trainer");

    // The run goes on after all that: it trains again when resumed.
    a.remote.send(&Command::Resume).unwrap();
    let steps_before = b.events.len();
    b.until_event("steps after resume", |e| matches!(e, Event::Step(_)));
    assert!(b.events.len() > steps_before);

    // A client that detaches leaves the run training.
    drop(b);
    a.until_event("more steps", |e| matches!(e, Event::Step(_)));
    assert!(alive(pid));

    let mut b = Client::attach(&run);
    b.remote.send(&Command::Stop).unwrap();
    for c in [&mut a, &mut b] {
        c.until_event("stopped", |e| matches!(e, Event::Stopped { .. }));
        c.drain_to_end();
    }
    wait_gone(pid);
    assert!(!socket.exists(), "the socket goes with its trainer");

    // Both saw exactly what the run folder holds, in the same order.
    let on_disk = read_events(&run.join("events.jsonl")).unwrap();
    assert!(on_disk.problems.is_empty(), "{:?}", on_disk.problems);
    assert_eq!(a.events, on_disk.events);
    assert_eq!(b.events, on_disk.events);
    let changes: Vec<f64> = on_disk
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PeriodChanged { period_epochs, .. } => Some(*period_epochs),
            _ => None,
        })
        .collect();
    assert_eq!(changes, vec![3.0, 4.0]);
    let list = stdout(&rifle(&[
        "--runs-dir",
        runs.to_str().unwrap(),
        "runs",
        "list",
        "--json",
    ]));
    assert!(
        list.contains("\"status\": \"stopped\"") || list.contains("\"status\":\"stopped\""),
        "{list}"
    );
    let log = std::fs::read_to_string(run.join("trainer.log")).unwrap();
    assert!(
        log.contains("stopped"),
        "the trainer's own output is kept: {log}"
    );
}

#[test]
fn one_writer_per_run_and_a_killed_detached_trainer_resumes_detached() {
    let (_reaper, _tmp, runs, profile) = setup(500, "  period_epochs: 2");
    let runs_arg = runs.to_str().unwrap().to_string();
    let run = detach(&profile, &runs);
    let name = run.file_name().unwrap().to_str().unwrap().to_string();
    let pid = pid_of(&run);
    let mut a = Client::attach(&run);
    a.until_event("an epoch", |e| matches!(e, Event::Epoch(m) if m.epoch >= 2));
    a.remote.send(&Command::Pause).unwrap();
    a.until_event("paused", |e| matches!(e, Event::Paused { .. }));

    // A second writer is refused while the first lives.
    let out = rifle(&["--runs-dir", &runs_arg, "resume", &name]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("process {pid}")),
        "{}",
        stderr(&out)
    );

    // kill -9: the lock goes with the process, so the run reads as interrupted.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    a.drain_to_end();
    wait_gone(pid);
    assert_eq!(status_of(&runs_arg, &name), "interrupted");
    assert!(
        run.join("control.sock").exists(),
        "a killed trainer leaves its socket behind; the lock, not the socket, tells"
    );

    let out = rifle(&["--runs-dir", &runs_arg, "resume", &name, "--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new_pid = pid_of(&run);
    assert_ne!(new_pid, pid);
    let mut b = Client::attach(&run);
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e, Event::RunResumed { .. })));
    // Resuming a run that trains again is refused, the trainer untouched.
    let out = rifle(&["--runs-dir", &runs_arg, "resume", &name, "--detach"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("being written by process"),
        "{}",
        stderr(&out)
    );
    assert!(alive(new_pid));
    b.remote.send(&Command::Stop).unwrap();
    b.until_event("stopped", |e| matches!(e, Event::Stopped { .. }));
    b.drain_to_end();
    wait_gone(new_pid);
    assert_eq!(status_of(&runs_arg, &name), "stopped");
}

#[test]
fn a_bad_profile_is_refused_before_anything_detaches() {
    let (_reaper, _tmp, runs, profile) = setup(2, "  period_epochs: 0");
    let out = train_detached(&profile, &runs);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("period_epochs"), "{}", stderr(&out));
    assert!(!runs.exists() || std::fs::read_dir(&runs).unwrap().next().is_none());
}

#[test]
fn a_run_folder_too_deep_for_a_socket_path_is_still_attached_to() {
    let (_reaper, tmp, _, profile) = setup(1000, "  enabled: false");
    // Deeper than a Unix socket path may be (107 bytes), as a long home folder and a long
    // profile name make it.
    let runs = tmp.path().join("r".repeat(50)).join("s".repeat(50));
    let _deep_reaper = Reaper(runs.clone());
    let run = detach(&profile, &runs);
    let socket = run.join("control.sock");
    assert!(socket.as_os_str().len() > 107, "{}", socket.display());
    let log = std::fs::read_to_string(run.join("trainer.log")).unwrap_or_default();
    assert!(!log.contains("cannot open the control socket"), "{log}");
    let mut a = Client::attach(&run);
    a.until_event("a step", |e| matches!(e, Event::Step(_)));
    a.remote.send(&Command::Stop).unwrap();
    a.until_event("stopped", |e| matches!(e, Event::Stopped { .. }));
    a.drain_to_end();
    wait_gone(pid_of(&run));
}
