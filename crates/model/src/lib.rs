//! The pure domain model of linkplane: typed fields parsed at the edge, every resource of
//! the product documents with its spec and status, validation rules that name the field and
//! the rule, and the status machines as pure transition functions. No I/O, no async.

#![forbid(unsafe_code)]

pub mod error;
pub mod fields;
pub mod id;
pub mod requests;
pub mod resources;
mod schema;
pub mod status;

pub use error::{FieldError, ValidationErrors, Validator};
pub use fields::*;
pub use id::{ID_RANDOM_BYTES, ResourceId, ResourceKind};
pub use requests::*;
pub use resources::*;
pub use status::*;

#[cfg(test)]
mod tests;
