//! The running engine as the UI sees it: send commands, poll events. A trait so tests can
//! inject events and capture commands without training anything.
use crate::protocol::{Command, Event};
use crate::remote::{Incoming, RemoteRun, ServerMessage};
use crate::train::engine::EngineHandle;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};

pub trait EngineLink {
    /// False when the engine has gone.
    fn send(&mut self, command: Command) -> bool;
    /// The next pending event, never blocking.
    fn try_recv(&mut self) -> Option<Event>;
    /// Why the link ended without the run's last event (a trainer that died, a dropped
    /// connection); checked once the events are drained.
    fn lost(&self) -> Option<String> {
        None
    }
    /// Whether the run goes on without this app (a separate trainer process).
    fn detachable(&self) -> bool {
        false
    }
    /// Whether the last event came from the run's recorded history: an end in there (a
    /// run stopped, then resumed) is not the end of the run now training.
    fn replaying(&self) -> bool {
        false
    }
}

/// A trainer process reached on its control socket (see `remote`).
pub struct SocketLink {
    remote: RemoteRun,
    /// The history, held until it is whole so what a resume superseded can be left out.
    history: Option<Vec<Event>>,
    ready: VecDeque<Event>,
    /// How many of the events at the front of `ready` are history.
    history_left: usize,
    last_was_history: bool,
    history_ends: bool,
    ended: bool,
    lost: Option<String>,
}

impl SocketLink {
    pub fn connect(socket: &Path) -> Result<Self, String> {
        Ok(Self {
            remote: RemoteRun::connect(socket)?,
            history: Some(Vec::new()),
            ready: VecDeque::new(),
            history_left: 0,
            last_was_history: false,
            history_ends: false,
            ended: false,
            lost: None,
        })
    }

    fn take(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Message(ServerMessage::Event { event }) => match &mut self.history {
                Some(h) => h.push(event),
                None => {
                    self.ended |= event.is_terminal();
                    self.ready.push_back(event)
                }
            },
            Incoming::Message(ServerMessage::Live) => {
                if let Some(h) = self.history.take() {
                    let current = crate::runs::export::current_history(&h);
                    // An end in the history is not this run's end (a run stopped, then
                    // resumed, whose `run_resumed` is still to come): only live events end
                    // it. Attached just as a run ended, the trainer closes the feed.
                    self.history_ends = current.last().is_some_and(|e| e.is_terminal());
                    self.history_left = current.len();
                    self.ready.extend(current.into_iter().cloned());
                }
            }
            Incoming::Message(ServerMessage::Error { message }) => {
                self.ready.push_back(Event::Warning {
                    message: format!("trainer: {message}"),
                })
            }
            Incoming::Message(ServerMessage::Hello { .. } | ServerMessage::Accepted { .. }) => {}
            Incoming::Closed(reason) => {
                self.lost = Some(match reason {
                    _ if self.ended || self.history_ends => {
                        "the run has ended and its trainer with it".into()
                    }
                    Some(r) => format!("lost the connection to the trainer ({r})"),
                    None => "the trainer went away before the run ended".into(),
                });
            }
        }
    }
}

impl EngineLink for SocketLink {
    fn send(&mut self, command: Command) -> bool {
        self.lost.is_none() && !self.ended && self.remote.send(&command).is_ok()
    }

    fn try_recv(&mut self) -> Option<Event> {
        while self.ready.is_empty() {
            let incoming = self.remote.try_recv()?;
            self.take(incoming);
        }
        self.last_was_history = self.history_left > 0;
        self.history_left = self.history_left.saturating_sub(1);
        self.ready.pop_front()
    }

    fn lost(&self) -> Option<String> {
        if self.ready.is_empty() {
            self.lost.clone()
        } else {
            None
        }
    }

    fn detachable(&self) -> bool {
        true
    }

    fn replaying(&self) -> bool {
        self.last_was_history
    }
}

/// A real engine thread started by `train::session::start`.
pub struct HandleLink {
    handle: Option<EngineHandle>,
}

impl HandleLink {
    pub fn new(handle: EngineHandle) -> Self {
        Self {
            handle: Some(handle),
        }
    }
}

impl EngineLink for HandleLink {
    fn send(&mut self, command: Command) -> bool {
        self.handle.as_ref().is_some_and(|h| h.send(command))
    }

    fn try_recv(&mut self) -> Option<Event> {
        let h = self.handle.as_ref()?;
        match h.events.try_recv() {
            Ok(e) => Some(e),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                // The thread has ended: reap it so it does not linger.
                if let Some(h) = self.handle.take() {
                    h.join();
                }
                None
            }
        }
    }
}

/// A scripted engine for tests: events pushed in come out in order; commands are kept.
#[derive(Clone, Default)]
pub struct FakeLink {
    pub sent: Arc<Mutex<Vec<Command>>>,
    pub pending: Arc<Mutex<VecDeque<Event>>>,
    /// Acts as a detached trainer (the run goes on without the app).
    pub detachable: bool,
}

impl FakeLink {
    pub fn push(&self, event: Event) {
        self.pending.lock().expect("not poisoned").push_back(event);
    }
    pub fn sent(&self) -> Vec<Command> {
        self.sent.lock().expect("not poisoned").clone()
    }
}

impl EngineLink for FakeLink {
    fn send(&mut self, command: Command) -> bool {
        self.sent.lock().expect("not poisoned").push(command);
        true
    }
    fn try_recv(&mut self) -> Option<Event> {
        self.pending.lock().expect("not poisoned").pop_front()
    }
    fn detachable(&self) -> bool {
        self.detachable
    }
}
