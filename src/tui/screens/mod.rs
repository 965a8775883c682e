//! One file a screen: each draws from its state and keeps no terminal state of its own.
pub mod chart;
pub mod compare;
pub mod help;
pub mod monitor;
pub mod profiles;
pub mod runs;
