//! Reading `events.jsonl` back, tolerant of a run killed mid-write.
use crate::protocol::Event;
use std::path::Path;

pub struct EventLog {
    pub events: Vec<Event>,
    /// Lines that could not be read, said plainly.
    pub problems: Vec<String>,
}

/// Reads every event of `path`. A truncated or unknown line is skipped and reported,
/// never fatal: the rest of the run is still worth reading.
pub fn read_events(path: &Path) -> std::io::Result<EventLog> {
    let text = std::fs::read_to_string(path)?;
    let mut events = Vec::new();
    let mut problems = Vec::new();
    let ends_cleanly = text.is_empty() || text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(e) => events.push(e),
            Err(e) => {
                let last = i + 1 == lines.len();
                problems.push(if last && !ends_cleanly {
                    format!(
                        "{}:{}: incomplete last line skipped (the writer was probably killed \
                         mid-write)",
                        path.display(),
                        i + 1
                    )
                } else {
                    format!(
                        "{}:{}: unreadable event skipped ({e})",
                        path.display(),
                        i + 1
                    )
                });
            }
        }
    }
    Ok(EventLog { events, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_a_truncated_last_line_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        std::fs::write(
            &p,
            "{\"type\":\"warning\",\"message\":\"a\"}\n{\"type\":\"reinit\",\"epoch\":2.0,\"st",
        )
        .unwrap();
        let log = read_events(&p).unwrap();
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.problems.len(), 1);
        assert!(
            log.problems[0].contains(":2: incomplete last line"),
            "{:?}",
            log.problems
        );
    }
}
