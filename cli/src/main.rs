//! The `hush` command-line interface.

mod build;
mod cache;
mod core_chain;
mod exit;
mod image;
mod module;
mod output;
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
    /// Evaluate an API chain, e.g. `hush core container from --address=busybox with-exec --args=ls stdout`.
    Core(core_chain::CoreArgs),
    /// Build a Dockerfile, with secrets for `RUN --mount=type=secret`.
    Build(build::BuildArgs),
    /// Manage the local image store.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Inspect and prune the persistent cache of exec results.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Scaffold a module.
    Init(module::init::InitArgs),
    /// List a module's functions.
    Functions(module::call::FunctionsArgs),
    /// Call a module's function; `hush call FUNCTION --help` shows its flags.
    Call(module::call::CallArgs),
    /// Serve an SDK script's session on an inherited socket (started by the SDKs).
    #[command(name = "__session", hide = true)]
    Session(module::call::SessionArgs),
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
        // No secret is known yet: the console has nothing to scrub.
        Err(failure) => {
            let console = hush_console::Console::new(Default::default());
            return exit::finish(Err(failure), &console);
        }
    };
    let console = session.console().clone();
    std::panic::set_hook(Box::new(move |info| {
        console.error(&format!("internal error: {info}"));
    }));
    let result = runtime.block_on(async {
        match cli.command {
            Command::Secret(cmd) => secret::run(cmd, &session).await.map(|()| 0),
            Command::Run(args) => run::run(args, session.clone()).await,
            Command::Core(args) => core_chain::run(args, session.clone()).await,
            Command::Build(args) => build::run(args, session.clone()).await,
            Command::Image(cmd) => image::run(cmd, &session).map(|()| 0),
            Command::Cache(cmd) => cache::run(cmd, &session).map(|()| 0),
            Command::Init(args) => module::init::run(args, session.console()),
            Command::Functions(args) => module::call::functions(args, session.clone()).await,
            Command::Call(args) => module::call::call(args, session.clone()).await,
            Command::Session(args) => module::call::session(args, session.clone()).await,
        }
    });
    exit::finish(result, session.console())
}
