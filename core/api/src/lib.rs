//! The hush API description (`hush-api.json`): the single source of truth for the `hush core`
//! chain and the generated SDKs, with the parser of command-line call chains.

pub mod chain;
mod description;
mod error;
pub mod query;

pub use description::{Api, Arg, Field, FromText, ObjectType, Scalar, TextStep, TypeRef, SOURCE};
pub use error::ApiError;
