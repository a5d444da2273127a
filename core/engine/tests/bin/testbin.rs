//! Test helper executable: `__shim` runs the engine's shim; `run STATE_ROOT ROOTFS SECONDS`
//! reads a secret from stdin and runs `sleep SECONDS` with it as a secret variable and a
//! mounted secret, so a test can SIGKILL this process mid-exec. The shim is this executable
//! unless `HUSH_SHIM_EXE` names another (e.g. the `hush` binary).
// A test tool: prints its own figures, never a secret (hush output goes through hush_console).
#![allow(clippy::disallowed_macros)]

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use hush_engine::{Container, DirImages, Engine, ImageConfig, LocalExecutor, RuntimeChoice};
use hush_secrets::{Registry, SecretStore, DEFAULT_LIMIT};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("__shim") => hush_engine::shim_main(),
        Some("run") => run(&args[2], &args[3], &args[4]),
        _ => {
            eprintln!("usage: hush-engine-testbin __shim | run STATE_ROOT ROOTFS SLEEP_SECONDS");
            std::process::exit(2);
        }
    }
}

fn run(state_root: &str, rootfs: &str, seconds: &str) {
    let mut value = Vec::new();
    std::io::stdin().read_to_end(&mut value).unwrap();
    let store = SecretStore::new(Registry::builtin(), DEFAULT_LIMIT);
    let secret = store.set_secret("token", &value).unwrap();
    let images = Arc::new(DirImages::new());
    images.insert("busybox", PathBuf::from(rootfs), ImageConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let state = PathBuf::from(state_root);
        let mut executor =
            LocalExecutor::new(state.join("x"), RuntimeChoice::from_env().unwrap()).unwrap();
        if std::env::var_os("HUSH_SHIM_EXE").is_none() {
            executor = executor.with_shim_exe(std::env::current_exe().unwrap());
        }
        let engine = Engine::with_executor(
            std::sync::Arc::new(hush_scrub::Scrubber::new()),
            images,
            Arc::new(executor),
            state,
        )
        .unwrap();
        let out = Container::new()
            .from("busybox")
            .unwrap()
            .with_secret_variable("TOKEN", &secret)
            .unwrap()
            .with_mounted_secret("/run/secrets/token", &secret, None, None)
            .unwrap()
            .with_exec(&["sleep", seconds])
            .unwrap()
            .stdout(&engine)
            .await;
        println!("{out:?}");
    });
}
