//! Writes a run folder as events arrive: every event appended to `events.jsonl` and
//! flushed, `summary.json` rewritten atomically whenever it changes.
use super::atomic::write_atomically;
use super::run_dir::{RunDir, EVENTS_FILE, SUMMARY_FILE};
use super::summary::{now_rfc3339, Summary};
use crate::protocol::Event;
use crate::train::EventSink;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::Instant;

pub struct Recorder {
    events: File,
    summary: Summary,
    dir: RunDir,
    started: Instant,
    /// Wall time of the run before this process took it over (`resume`).
    earlier_seconds: f64,
}

impl Recorder {
    pub fn new(dir: &RunDir, profile_name: &str, epochs_total: u32) -> std::io::Result<Self> {
        let path = dir.file(EVENTS_FILE);
        let events = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| super::run_dir::with_path(e, &path))?;
        let summary = Summary::new(&dir.name, profile_name, epochs_total, now_rfc3339());
        let r = Self {
            events,
            summary,
            dir: dir.clone(),
            started: Instant::now(),
            earlier_seconds: 0.0,
        };
        r.write_summary()?;
        Ok(r)
    }

    /// Continues writing an existing run (`rifle-tui resume`): events are appended to its
    /// `events.jsonl`, and its summary, read back, is now this process's.
    pub fn reopen(dir: &RunDir, mut summary: Summary) -> std::io::Result<Self> {
        let path = dir.file(EVENTS_FILE);
        let mut events = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| super::run_dir::with_path(e, &path))?;
        // A line the killed writer left cut short must not swallow the next event.
        if !ends_with_newline(&path)? {
            events.write_all(b"\n")?;
        }
        summary.pid = std::process::id();
        let r = Self {
            events,
            earlier_seconds: summary.wall_seconds,
            summary,
            dir: dir.clone(),
            started: Instant::now(),
        };
        r.write_summary()?;
        Ok(r)
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    fn write_summary(&self) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(&self.summary).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.file(SUMMARY_FILE), &json)
    }
}

/// Whether a file is empty or ends with a newline.
fn ends_with_newline(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    if f.metadata()?.len() == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

impl EventSink for Recorder {
    fn record(&mut self, event: &Event) -> std::io::Result<()> {
        // One write per line: a kill leaves at most the last line cut short.
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.events.write_all(&line)?;
        if self.summary.apply(event) {
            if event.is_terminal() {
                // The event's own seconds count from this process's start.
                self.summary.wall_seconds += self.earlier_seconds;
            } else {
                self.summary.wall_seconds =
                    self.earlier_seconds + self.started.elapsed().as_secs_f64();
            }
            self.write_summary()?;
        }
        if event.is_terminal() {
            self.events.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::events_file::read_events;
    use crate::runs::Status;

    #[test]
    fn reopening_continues_after_a_cut_line_and_takes_the_run_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::create(tmp.path(), "p", "a: 1\n").unwrap();
        let mut summary = Summary::new(&dir.name, "p", 3, "t".into());
        summary.pid = 4_999_999;
        summary.status = Status::Running;
        summary.wall_seconds = 100.0;
        std::fs::write(
            dir.file(EVENTS_FILE),
            "{\"type\":\"warning\",\"message\":\"a\"}\n{\"type\":\"warn",
        )
        .unwrap();
        let mut r = Recorder::reopen(&dir, summary).unwrap();
        assert_eq!(r.summary().pid, std::process::id());
        r.record(&Event::Failed {
            reason: "x".into(),
            seconds: 5.0,
        })
        .unwrap();
        let log = read_events(&dir.file(EVENTS_FILE)).unwrap();
        assert_eq!(log.events.len(), 2, "{:?}", log.problems);
        assert_eq!(log.problems.len(), 1);
        let s: Summary =
            serde_json::from_slice(&std::fs::read(dir.file(SUMMARY_FILE)).unwrap()).unwrap();
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.wall_seconds, 105.0);
    }
}
