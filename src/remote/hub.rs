//! Where the engine's events meet the attached front ends.
//!
//! The engine records every event in the run folder and passes it to each attached
//! client under one lock, and a client joins under that same lock after reading the
//! history from `events.jsonl`: so a client sees every event exactly once, in order,
//! whenever it attaches.
use super::wire::ServerMessage;
use crate::protocol::Event;
use crate::runs::events_file::read_events;
use crate::train::EventSink;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::{channel, Receiver, Sender};

/// Lines a client may fall behind by before it is let go (it can attach again). The
/// engine never waits for a slow client.
pub const CLIENT_BACKLOG: usize = 4096;

pub struct Hub {
    inner: Mutex<Inner>,
    events_path: PathBuf,
}

struct Inner {
    clients: Vec<Sender<String>>,
    /// The run has ended: no more events, no new clients.
    closed: bool,
}

/// A new client's start: the history to send first, and its live feed.
pub struct Subscription {
    pub history: Vec<Event>,
    /// Lines `events.jsonl` holds that could not be read (a cut last line).
    pub problems: Vec<String>,
    pub live: Receiver<String>,
}

impl Hub {
    pub fn new(events_path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                clients: Vec::new(),
                closed: false,
            }),
            events_path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a list of senders, still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins a client: its history from disk, then every event after it.
    pub fn subscribe(&self) -> Subscription {
        let mut inner = self.lock();
        let (tx, live) = channel(CLIENT_BACKLOG);
        let (history, problems) = match read_events(&self.events_path) {
            Ok(log) => (log.events, log.problems),
            Err(e) => (
                Vec::new(),
                vec![format!("{}: {e}", self.events_path.display())],
            ),
        };
        if !inner.closed {
            inner.clients.push(tx);
        }
        Subscription {
            history,
            problems,
            live,
        }
    }

    /// Passes an event to every client; drops those too far behind to take it.
    fn broadcast(inner: &mut Inner, event: &Event) {
        if inner.clients.is_empty() {
            return;
        }
        let line = ServerMessage::Event {
            event: event.clone(),
        }
        .to_line();
        inner.clients.retain(|c| match c.try_send(line.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Closed(_)) => false,
        });
        if event.is_terminal() {
            Self::close_inner(inner);
        }
    }

    fn close_inner(inner: &mut Inner) {
        inner.closed = true;
        // Dropping the senders ends each client's feed once it has sent what is queued.
        inner.clients.clear();
    }

    /// No more events will come (the engine has ended).
    pub fn close(&self) {
        Self::close_inner(&mut self.lock());
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }
}

/// The run folder's recorder, with the hub passed every event it records.
pub struct ServedSink<S: EventSink> {
    pub recorder: S,
    pub hub: Arc<Hub>,
}

impl<S: EventSink> EventSink for ServedSink<S> {
    fn record(&mut self, event: &Event) -> std::io::Result<()> {
        let mut inner = self.hub.lock();
        let recorded = self.recorder.record(event);
        Hub::broadcast(&mut inner, event);
        recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::engine::NoSink;

    fn warning(n: usize) -> Event {
        Event::Warning {
            message: format!("w{n}"),
        }
    }

    #[test]
    fn a_client_gets_the_history_then_every_later_event_once() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events.jsonl");
        std::fs::write(&path, "{\"type\":\"warning\",\"message\":\"old\"}\n").unwrap();
        let hub = Hub::new(path);
        let mut sink = ServedSink {
            recorder: NoSink,
            hub: hub.clone(),
        };
        let mut sub = hub.subscribe();
        assert_eq!(sub.history.len(), 1);
        sink.record(&warning(1)).unwrap();
        let line = sub.live.try_recv().unwrap();
        assert!(line.contains("\"w1\""), "{line}");
        assert!(sub.live.try_recv().is_err());
    }

    #[test]
    fn a_client_that_falls_too_far_behind_is_let_go_and_the_run_goes_on() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(tmp.path().join("none.jsonl"));
        let mut sink = ServedSink {
            recorder: NoSink,
            hub: hub.clone(),
        };
        let sub = hub.subscribe();
        assert_eq!(sub.problems.len(), 1, "a missing file is said");
        for n in 0..CLIENT_BACKLOG {
            sink.record(&warning(n)).unwrap();
        }
        assert_eq!(hub.client_count(), 1);
        sink.record(&warning(0)).unwrap();
        assert_eq!(hub.client_count(), 0);
        drop(sub);
    }

    #[test]
    fn the_end_of_the_run_closes_every_feed() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Hub::new(tmp.path().join("e.jsonl"));
        let mut sink = ServedSink {
            recorder: NoSink,
            hub: hub.clone(),
        };
        let mut sub = hub.subscribe();
        sink.record(&Event::Failed {
            reason: "x".into(),
            seconds: 1.0,
        })
        .unwrap();
        assert!(sub.live.try_recv().unwrap().contains("failed"));
        assert!(matches!(
            sub.live.try_recv(),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(hub.is_closed());
        // A client that comes after the end gets the history and an ended feed.
        let mut late = hub.subscribe();
        assert!(matches!(
            late.live.try_recv(),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
        ));
    }
}
