//! The control socket's lines: one JSON object a line each way.
//!
//! In: a [`Command`] exactly as the engine takes it (`{"type":"pause"}`,
//! `{"type":"set_rifle_period","period_epochs":2}`). Out: [`ServerMessage`]s: first the
//! run's whole history from `events.jsonl`, then `live`, then every new event as it is
//! recorded, with a reply to each command line in between.
use crate::protocol::{Command, Event};
use serde::{Deserialize, Serialize};

/// What the trainer says to an attached front end.
// One a line, made once and passed on: boxing the event would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The first line: which run this is and who trains it.
    Hello { run: String, pid: u32 },
    /// One event, from the history or live.
    Event { event: Event },
    /// The history is over: what follows happens now.
    Live,
    /// A command line was taken and passed to the engine, in arrival order. What it did
    /// arrives as an event (`paused`, `period_changed`, `command_rejected`...).
    Accepted { command: Command },
    /// A line was refused; nothing was passed to the engine.
    Error { message: String },
}

impl ServerMessage {
    /// The message as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","message":"cannot encode a message: {e}"}}"#)
        });
        line.push('\n');
        line
    }
}

const KNOWN: &str = "pause, resume, stop, checkpoint, set_rifle_period {period_epochs}";

/// Reads one command line, refusing what the engine must never see: anything that is
/// not a known command, and a RIFLE period that is not a number of epochs above 0.
pub fn parse_command(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let command: Command = serde_json::from_str(line).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            format!(
                "malformed JSON ({e}); send one JSON object a line, e.g. {{\"type\":\"pause\"}}"
            )
        } else {
            format!("not a command ({e}); the commands are: {KNOWN}")
        }
    })?;
    // serde lets unit variants (`pause`) carry stray keys; a typo must not pass unseen.
    if let (Ok(serde_json::Value::Object(given)), Ok(serde_json::Value::Object(known))) = (
        serde_json::from_str::<serde_json::Value>(line),
        serde_json::to_value(&command),
    ) {
        if let Some(extra) = given.keys().find(|k| !known.contains_key(*k)) {
            return Err(format!(
                "not a command (unknown field `{extra}`); the commands are: {KNOWN}"
            ));
        }
    }
    if let Command::SetRiflePeriod { period_epochs } = command {
        if !(period_epochs.is_finite() && period_epochs > 0.0) {
            return Err(format!(
                "set_rifle_period: period_epochs must be a number of epochs greater than 0, \
                 not {period_epochs}"
            ));
        }
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_as_the_engine_takes_them() {
        assert_eq!(parse_command(r#"{"type":"pause"}"#), Ok(Command::Pause));
        assert_eq!(
            parse_command(" {\"type\":\"set_rifle_period\",\"period_epochs\":1.5}\n"),
            Ok(Command::SetRiflePeriod { period_epochs: 1.5 })
        );
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        let malformed = parse_command("{\"type\":").unwrap_err();
        assert!(malformed.starts_with("malformed JSON"), "{malformed}");
        let unknown = parse_command(r#"{"type":"explode"}"#).unwrap_err();
        assert!(unknown.contains("unknown variant `explode`"), "{unknown}");
        assert!(unknown.contains("set_rifle_period"), "{unknown}");
        for p in ["0", "-2", "-0.0"] {
            let line = format!(r#"{{"type":"set_rifle_period","period_epochs":{p}}}"#);
            let e = parse_command(&line).unwrap_err();
            assert!(e.contains("greater than 0"), "{p}: {e}");
        }
        let extra = parse_command(r#"{"type":"pause","now":true}"#).unwrap_err();
        assert!(extra.contains("unknown field `now`"), "{extra}");
    }

    #[test]
    fn messages_are_single_lines_that_read_back() {
        let m = ServerMessage::Event {
            event: Event::Warning {
                message: "two\nlines".into(),
            },
        };
        let line = m.to_line();
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.starts_with(r#"{"type":"event","event":{"type":"warning""#));
        let back: ServerMessage = serde_json::from_str(&line).unwrap();
        assert_eq!(back, m);
    }
}
