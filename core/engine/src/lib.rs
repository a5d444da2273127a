//! hush's container engine: the immutable, lazy [`Container`] model and its evaluation on a
//! real OCI runtime (runc or crun).
//!
//! ```no_run
//! # async fn demo(engine: &hush_engine::Engine, token: &hush_secrets::Secret) -> hush_engine::Result<()> {
//! use hush_engine::Container;
//! let out = Container::new()
//!     .from("busybox")?
//!     .with_secret_variable("MY_SECRET", token)?
//!     .with_exec(&["sh", "-c", "echo this is the secret: $MY_SECRET"])?
//!     .stdout(engine)
//!     .await?;
//! assert_eq!(out, "this is the secret: ***\n");
//! # Ok(()) }
//! ```
//!
//! Secrets never touch persistent disk: each exec runs through a shim process (the hidden
//! `hush __shim` mode, see [`shim_main`]) that keeps the runtime bundle, the runtime state and
//! the secret files on a tmpfs inside its own private mount namespace.

mod engine;
mod error;
mod executor;
mod images;
mod model;
mod owner;
mod proto;
mod rootfs;
mod shim;
mod spec;

pub use engine::Engine;
pub use error::{EngineError, Result};
pub use executor::{
    ExecDirMount, ExecOutput, ExecSecretMount, ExecSpec, Executor, LocalExecutor, RuntimeChoice,
};
pub use images::{DirImages, ImageConfig, ImageSource, ResolvedImage};
pub use model::{Container, Digest, Directory, File, DEFAULT_FILE_MODE, DEFAULT_SECRET_MODE};
pub use rootfs::Layer;
pub use shim::shim_main;
