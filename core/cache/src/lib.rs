//! hush's persistent operation cache (SPEC section 5): the results of container execs, keyed
//! by their operation chain, kept under `$HUSH_HOME/cache` across processes.
//!
//! ```text
//! $HUSH_HOME/cache/
//!   index.db       SQLite (WAL): one row per entry: key, what (scrubbed command), created,
//!                  last used, exit code, scrubbed stdout and stderr, layer size
//!   index.db.corrupt-<unix seconds>  a corrupt index, moved aside (see `IndexRecovery`)
//!   layers/<key>/  the exec's filesystem changes (overlayfs upper directory form)
//!   index.lock     flock: held shared to open the index, exclusively to replace a corrupt one
//!   layers.lock    flock: held while entries and layer directories change together
//!   locks/<key>    flock: one evaluation of a key at a time across processes
//!   trash/         layers being deleted (emptied on open)
//! ```
//!
//! Nothing here holds secret plaintext: keys are SHA-256 chain digests in which a secret
//! contributes only its keyed MAC (or its `cacheKey`'s), outputs are stored scrubbed, and
//! layers are committed only after a [`LeakScanner`] found none of the exec's secrets in them.
//!
//! # Why SQLite
//!
//! The index needs atomic multi-row changes, safe sharing between unrelated processes, crash
//! safety at any instant and a file format that outlives this code. SQLite (through rusqlite,
//! compiled in with the `bundled` feature so no system library is needed) gives all four and is
//! the most tested embedded database there is; in WAL mode readers never block the writer, and
//! a writer waits (busy timeout) instead of failing. Pure-Rust stores (sled, redb) are younger,
//! and sled's on-disk format is unstable; a directory of files per entry would need its own
//! locking and recovery protocol, which is what SQLite already is.
//!
//! # Crash safety
//!
//! A commit flushes the layer's filesystem (`syncfs`), then, holding `layers.lock` and an
//! immediate SQLite transaction, checks that the key is new, renames the layer directory into
//! `layers/<key>` (atomic: the directory is the engine's upper directory on the same
//! filesystem) and inserts the row; the transaction commits last. A SIGKILL at any point
//! leaves either no entry or a complete one: at worst a directory without a row, which the next
//! commit of that key or any prune removes. A prune deletes the row before the directory, so
//! an entry never outlives its layer.
//!
//! # Sharing
//!
//! Processes that use a committed layer hold a shared `flock` on its directory (a [`Lease`],
//! released when dropped or when the process dies); prune takes an exclusive lock without
//! waiting and skips layers in use. Evaluations of one key are serialised with
//! [`Cache::lock_key`], so two processes racing on a key run it once and both get the one
//! stored result.

mod error;
mod index;
mod scan;
mod store;

pub use error::{CacheError, Result};
pub use index::IndexRecovery;
pub use scan::{Leak, LeakPlace, LeakScanner};
pub use store::{
    Cache, CheckReport, Commit, EntryInfo, Hit, Key, KeyLock, Lease, NewEntry, Prune, PruneReport,
};
