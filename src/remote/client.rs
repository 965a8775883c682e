//! Attaching to a training process over its control socket, from any front end.
//!
//! Plain threads and blocking I/O: a reader thread turns the socket's lines into
//! messages on a channel, so a UI polls it without ever waiting on the trainer.
use super::socket_path::with_socket_path;
use super::wire::ServerMessage;
use crate::protocol::Command;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// What comes from the trainer.
// One a line, read once and passed on: boxing the event would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Message(ServerMessage),
    /// The connection ended: the run ended, the trainer died, or it let this client go.
    /// Carries the reason when the connection failed rather than closed.
    Closed(Option<String>),
}

pub struct RemoteRun {
    writer: UnixStream,
    incoming: Receiver<Incoming>,
}

impl RemoteRun {
    /// Connects to a run's `control.sock`.
    pub fn connect(socket: &Path) -> Result<Self, String> {
        let stream =
            with_socket_path(socket, |p| UnixStream::connect(p)).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => format!(
                    "{}: no trainer is serving this run (it has ended or its process died)",
                    socket.display()
                ),
                _ => format!("{}: {e}", socket.display()),
            })?;
        // A trainer that stops reading must not freeze the UI that sends it a command.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let reader = stream
            .try_clone()
            .map_err(|e| format!("{}: {e}", socket.display()))?;
        let (tx, incoming) = channel();
        std::thread::Builder::new()
            .name("rifle-attach".into())
            .spawn(move || {
                let mut lines = BufReader::new(reader);
                let mut line = String::new();
                loop {
                    line.clear();
                    let end = match lines.read_line(&mut line) {
                        Ok(0) => Some(None),
                        Ok(_) => None,
                        Err(e) => Some(Some(e.to_string())),
                    };
                    if let Some(reason) = end {
                        let _ = tx.send(Incoming::Closed(reason));
                        return;
                    }
                    let message =
                        serde_json::from_str(&line).unwrap_or_else(|e| ServerMessage::Error {
                            message: format!("unreadable line from the trainer ({e})"),
                        });
                    if tx.send(Incoming::Message(message)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        Ok(Self {
            writer: stream,
            incoming,
        })
    }

    /// Sends a command; its reply arrives among the incoming messages.
    pub fn send(&mut self, command: &Command) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(command).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)
    }

    /// Sends raw text, for tests of what the trainer does with bad lines.
    pub fn send_raw(&mut self, text: &str) -> std::io::Result<()> {
        self.writer.write_all(text.as_bytes())
    }

    /// The next message, if one is waiting. After `Closed`, always `None`.
    pub fn try_recv(&self) -> Option<Incoming> {
        self.incoming.try_recv().ok()
    }

    /// The next message, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Incoming> {
        self.incoming.recv_timeout(timeout).ok()
    }
}

impl Drop for RemoteRun {
    fn drop(&mut self) {
        // Detaching: the reader thread sees the end and stops; the run goes on.
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}
