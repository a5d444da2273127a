//! Evaluates query chains of the API description (`hush-api`) against a hush session and
//! engine: the single entry point behind `hush core` and every SDK binding.

mod client;
mod error;
mod evaluate;
mod prefetch;

pub use client::{persistent_cache, Client, Object};
pub use error::{QueryError, QueryErrorKind};
