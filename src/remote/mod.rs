//! Runs reached from other processes: a trainer serves its run on a Unix socket in the
//! run folder, and front ends attach to it, detach, and attach again.
//!
//! The socket speaks the engine's own `protocol` types, one JSON object a line (see
//! `wire`), so a detached trainer is driven exactly like an in-process engine.
pub mod client;
pub mod detach;
pub mod hub;
pub mod lock;
pub mod server;
pub mod socket_path;
pub mod wire;

pub use client::{Incoming, RemoteRun};
pub use wire::ServerMessage;
