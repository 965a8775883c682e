//! rifle-tui: fine-tune pretrained CNNs with RIFLE from the terminal.
//!
//! The engine (`train`, `model`, `data`) owns every tch object on one thread and speaks
//! the serde messages of `protocol`; the front ends (`cli`, `tui`, or another process through `remote`) only ever see
//! plain numbers.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator;
pub mod cli;
pub mod data;
pub mod model;
pub mod profile;
pub mod protocol;
pub mod remote;
pub mod runs;
pub mod train;
pub mod tui;
