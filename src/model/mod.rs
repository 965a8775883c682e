//! Networks as the engine sees them: a backbone that yields pooled features, an optional
//! dropout, and a final fully-connected head that RIFLE re-initialises.
pub mod efficientnet;
pub mod import;
pub mod layers;
pub mod network;
pub mod resnet;
pub mod small_cnn;
pub mod weights;

pub use network::{build, Network};
pub use weights::{load_weights, WeightsError, WeightsReport};
