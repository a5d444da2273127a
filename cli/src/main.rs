//! The `hush` command-line interface.

mod exit;
mod image;
mod run;
mod secret;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hush: secrets for container pipelines.
#[derive(Parser)]
#[command(name = "hush", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Resolve and inspect secrets.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Run a host command with secrets injected and its output scrubbed.
    Run(run::RunArgs),
    /// Manage the local image store.
    #[command(subcommand)]
    Image(image::ImageCommand),
}

fn main() -> ExitCode {
    exit::harden_process();
    // Hidden: the engine's exec shim (`hush __shim`), entered before any thread starts.
    if std::env::args_os().nth(1).is_some_and(|a| a == "__shim") {
        hush_engine::shim_main();
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    let session = match exit::session() {
        Ok(session) => session,
        Err(failure) => return exit::finish(Err(failure), None),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Secret(cmd) => secret::run(cmd, &session).await.map(|()| 0),
            Command::Run(args) => run::run(args, session.clone()).await,
            Command::Image(cmd) => image::run(cmd).map(|()| 0),
        }
    });
    exit::finish(result, Some(&session))
}
