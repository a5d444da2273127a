//! Pulls images from OCI registries into hush's image store, with the distribution protocol.
//!
//! ```no_run
//! # fn main() -> Result<(), hush_registry::RegistryError> {
//! use hush_image::ImageStore;
//! use hush_registry::Puller;
//! use hush_secrets::{Registry, SecretStore, DEFAULT_LIMIT};
//!
//! let store = ImageStore::open("/var/lib/hush/images".as_ref())?;
//! // The passwords and tokens it uses become secrets of this store (a session's, normally).
//! let secrets = SecretStore::new(Registry::builtin(), DEFAULT_LIMIT);
//! // HUSH_REGISTRY_MIRROR and Docker's config.json ($DOCKER_CONFIG or ~/.docker).
//! let puller = Puller::from_env(secrets.credentials())?;
//! let pulled = puller.pull(&store, "busybox", None)?;
//! println!("{pulled}"); // busybox:latest (sha256:...)
//! # Ok(()) }
//! ```
//!
//! For the engine, [`PullingImages`] is an image source that resolves from the store and
//! pulls what is missing.

mod auth;
mod client;
mod error;
mod progress;
mod source;

pub use auth::Credentials;
pub use client::{host_architecture, Puller, DEFAULT_CONNECT_TIMEOUT, MIRROR_ENV};
pub use error::RegistryError;
pub use source::PullingImages;
