//! YAML training profiles: their schema, loading with precise errors, overrides, validation.
pub mod error;
pub mod load;
pub mod locate;
pub mod rifle_period;
pub mod schema;
mod sources;
mod validate;

pub use error::{FieldError, Origin, ProfileError};
pub use load::{load_profile, parse_profile, LoadedProfile};
pub use schema::*;
