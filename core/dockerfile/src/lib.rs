//! hush's Dockerfile frontend.
//!
//! - [`parse`](mod@parse): the Dockerfile parser (directives, continuations, exec form, line
//!   numbers).
//! - [`expand`]: Docker's word processing and `$VAR`/`${VAR:-x}`/`${VAR:+x}` expansion.
//! - [`mount`]: the `RUN --mount=type=secret` grammar with BuildKit's defaults.
//! - [`flags`]: the `--secret` and `--build-arg` flag grammars of `docker build`.

pub mod error;
pub mod expand;
pub mod flags;
pub mod mount;
pub mod parse;

pub use error::{DockerfileError, Result};
pub use parse::{parse, Command, Dockerfile, Instruction, ShellOrExec, Stage};
