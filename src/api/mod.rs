//! The HTTP layer: poem-openapi operations, their request and response objects, and the JSON
//! shape of every error. Domain errors are mapped to statuses here and nowhere else.
mod account;
mod activity;
mod address;
mod errors;
mod fields;
mod health;
pub mod keys;
mod objects;
mod optional_body;
mod parse;
mod session;
mod sessions;
mod sign_in;
pub mod spec;

pub use errors::{json_error, panic_response};
pub use objects::ApiMessage;
pub use spec::{openapi_service, spec, spec_json, spec_yaml};
