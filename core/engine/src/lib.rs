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
//! # Design
//!
//! - **Model.** A [`Container`] is an immutable linked list of operations behind `Arc`s;
//!   every `with_*` returns a new value after validating its input (paths, names, owner
//!   specs, modes). [`Container::digest`] is a stable SHA-256 of the chain in which secrets
//!   contribute only their label, and a host unix socket mounted with
//!   [`Container::with_unix_socket`] only its [`Socket`]'s key (not its host path).
//! - **Evaluation.** An [`Engine`] walks a chain and memoises the state after every operation
//!   under a key that also covers what the public digest leaves out: the image's identity
//!   (its layers and config), a host directory's contents, and secret values (through their
//!   keyed MAC, [`hush_secrets::MacKey::digest`], which follows a `cacheKey` instead when one
//!   is set; an engine without a persistent cache uses a random in-memory salt). Every exec
//!   runs at most once per engine, concurrent callers included.
//!   Image layers come from an [`ImageSource`] (hush's image store, or [`DirImages`]); each
//!   exec's changes land in a new layer directory under the engine's state directory,
//!   stacked on the earlier ones with overlayfs; `with_new_file` writes a layer too. Layers
//!   are removed when no result refers to them any more.
//! - **Persistent cache.** With a [`PersistentCache`] (as `hush` and the SDK sessions use)
//!   that key is stable across processes: an exec first looks its key up in `hush-cache`
//!   (a hit returns the stored scrubbed output and stacks the stored layer); on a miss it
//!   claims the key across processes (so racing processes run it once), runs, and if it
//!   exited 0, scans its filesystem changes for every secret it could see (variables and
//!   mounted secrets, with their encoded variants) and commits output and layer. A leak is
//!   not committed: the result is still returned, and a warning names the secret and the
//!   file, never the value. Failed execs are not stored (they are retried next time).
//! - **Execution.** Behind the [`Executor`] trait. [`LocalExecutor`] runs runc or crun (crun
//!   when a probe shows it works here; `HUSH_RUNTIME` overrides) through a shim process: the
//!   hidden `hush __shim` mode ([`shim_main`]). The engine sends the exec description and the
//!   secret plaintexts over the shim's stdin (length-prefixed frames, zeroizing buffers; never
//!   argv, environment or disk). The shim unshares a private mount namespace, mounts a tmpfs
//!   there for the runtime bundle (whose `config.json` holds secret variables), the runtime's
//!   state and the secret files, mounts the overlay root, runs the runtime with the
//!   container's stdout and stderr going straight back to the engine (which scrubs each
//!   separately), removes the mount points the runtime created, and reports the exit code.
//!   Mounts: secret files (read-only, on that tmpfs), directories (an overlay with a
//!   throwaway upper layer, so writes are discarded) and host unix sockets (the socket file
//!   bind-mounted read-only: connecting works, changing the host file does not; checked to
//!   be a socket before the exec). None of their mount points stays in the layer.
//!   Nothing of this appears in the host's mount table; it all vanishes with the namespace.
//! - **Kill safety.** The engine keeps the shim's stdin open while the exec runs. If the
//!   engine dies (even by SIGKILL) or drops the exec's future, the shim reads EOF, kills and
//!   deletes the container, and exits, taking its mounts with it. The shim runs in its own
//!   session so terminal signals meant for hush do not cut that cleanup short.

mod engine;
mod error;
mod executor;
mod export;
mod images;
mod model;
mod owner;
mod proto;
mod rootfs;
mod shim;
mod spec;
mod volume;

pub use engine::{Engine, PersistentCache, Warnings};
pub use error::{EngineError, Result};
pub use executor::{
    ExecCacheMount, ExecDirMount, ExecFileMount, ExecOutput, ExecSecretMount, ExecSocketMount,
    ExecSpec, ExecTmpfsMount, Executor, LocalExecutor, RuntimeChoice,
};
pub use images::{DirImages, ImageConfig, ImageSource, ResolvedImage};
pub use model::{
    CacheMountOptions, CacheVolume, Container, Digest, Directory, File, Sharing, Socket,
    DEFAULT_FILE_MODE, DEFAULT_SECRET_MODE,
};
pub use shim::shim_main;
