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

impl EventSink for Recorder {
    fn record(&mut self, event: &Event) -> std::io::Result<()> {
        // One write per line: a kill leaves at most the last line cut short.
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.events.write_all(&line)?;
        if self.summary.apply(event) {
            if !event.is_terminal() {
                self.summary.wall_seconds = self.started.elapsed().as_secs_f64();
            }
            self.write_summary()?;
        }
        if event.is_terminal() {
            self.events.sync_all()?;
        }
        Ok(())
    }
}
