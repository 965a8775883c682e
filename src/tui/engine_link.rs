//! The running engine as the UI sees it: send commands, poll events. A trait so tests can
//! inject events and capture commands without training anything.
use crate::protocol::{Command, Event};
use crate::train::engine::EngineHandle;
use std::collections::VecDeque;
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};

pub trait EngineLink {
    /// False when the engine has gone.
    fn send(&mut self, command: Command) -> bool;
    /// The next pending event, never blocking.
    fn try_recv(&mut self) -> Option<Event>;
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
}
