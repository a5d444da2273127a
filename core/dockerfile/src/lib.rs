//! hush's Dockerfile frontend.
//!
//! - [`parse`](mod@parse): the Dockerfile parser (directives, continuations, exec form, line
//!   numbers).
//! - [`expand`]: Docker's word processing and `$VAR`/`${VAR:-x}`/`${VAR:+x}` expansion.
//! - [`mount`]: the `RUN --mount` grammar (secret, ssh, cache, bind, tmpfs) with BuildKit's
//!   defaults.
//! - [`flags`]: the `--secret` and `--build-arg` flag grammars of `docker build`.
//! - [`build`]: the frontend on the container engine, exporting into the image store.
//! - [`git`]: git contexts and `ADD <git URL>` with `GIT_AUTH_TOKEN`/`GIT_AUTH_HEADER`.
//! - [`http`]: `ADD <http(s) URL>` with `HTTP_AUTH_HEADER_<host>`/`HTTP_AUTH_TOKEN_<host>`.
//! - [`layer`]: overlayfs layer directories as OCI layer tars.
//! - [`context`]: the build context filtered by `.dockerignore`, and wildcard COPY/ADD sources.
//! - [`lint`]: BuildKit's `SecretsUsedInArgOrEnv` check (a warning, not an error).

pub mod build;
pub mod context;
pub mod error;
pub mod expand;
pub mod flags;
pub mod git;
pub mod http;
pub mod layer;
pub mod lint;
pub mod mount;
pub mod parse;

pub use build::{build, BuildOptions, Built};
pub use error::{DockerfileError, Result};
pub use parse::{parse, Command, Dockerfile, Instruction, ShellOrExec, Stage};
