//! The engine over the persistent cache: each test "process" is a fresh engine (empty
//! in-memory memo) on the same cache directory and MAC key. Evidence of a hit is an exec
//! output that contains a fresh random UUID, identical on a hit (needs root, runc and
//! busybox-static).

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use hush_cache::Cache;
use hush_engine::{
    Container, DirImages, Directory, Engine, ImageConfig, LocalExecutor, PersistentCache,
    RuntimeChoice,
};
use hush_secrets::{MacKey, Registry, Secret, SecretStore, DEFAULT_LIMIT};

/// A command printing a fresh UUID (so a re-run shows) and then the secret variable `$S`.
const PRINT: &str = "cat /proc/sys/kernel/random/uuid; echo \"S=$S\"";

struct Process {
    engine: Engine,
    warnings: Arc<Mutex<Vec<String>>>,
}

/// A new engine, as a new hush process would build it, over the cache in `home`.
fn process(home: &Path) -> Process {
    let images = Arc::new(DirImages::new());
    images.insert(
        "busybox",
        busybox_rootfs().to_path_buf(),
        ImageConfig::default(),
    );
    let executor = LocalExecutor::new(
        home.join(format!("scratch-{}", random_value(6))),
        RuntimeChoice::Runc,
    )
    .unwrap()
    .with_shim_exe(PathBuf::from(TESTBIN));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = warnings.clone();
    let cache = PersistentCache::new(
        Arc::new(Cache::open(&home.join("cache")).unwrap()),
        Arc::new(MacKey::load_or_create(home).unwrap()),
        Arc::new(move |w: &str| sink.lock().unwrap().push(w.to_owned())),
    );
    let engine = Engine::with_executor_and_cache(
        Arc::new(hush_scrub::Scrubber::new()),
        images,
        Arc::new(executor),
        home.join("engine"),
        cache,
    )
    .unwrap();
    Process { engine, warnings }
}

fn home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hush-cache-engine")
        .tempdir()
        .unwrap()
}

fn store() -> SecretStore {
    SecretStore::new(Registry::builtin(), DEFAULT_LIMIT)
}

async fn run(p: &Process, secret: &Secret, cmd: &str) -> String {
    Container::new()
        .from("busybox")
        .unwrap()
        .with_secret_variable("S", secret)
        .unwrap()
        .with_exec(&["sh", "-c", cmd])
        .unwrap()
        .stdout(&p.engine)
        .await
        .unwrap()
}

fn entries(home: &Path) -> usize {
    Cache::open(&home.join("cache"))
        .unwrap()
        .entries()
        .unwrap()
        .len()
}

#[tokio::test]
async fn set_secret_values_key_the_cache() {
    let home = home();
    let first = run(
        &process(home.path()),
        &store().set_secret("tok", b"value-one-AAAA").unwrap(),
        PRINT,
    )
    .await;
    assert!(first.ends_with("S=***\n"), "{first}");
    // Same name and value in a new process: a hit.
    let again = run(
        &process(home.path()),
        &store().set_secret("tok", b"value-one-AAAA").unwrap(),
        PRINT,
    )
    .await;
    assert_eq!(again, first);
    // set_secret with a new value: re-runs (unlike Dagger, dagger#9354).
    let changed = run(
        &process(home.path()),
        &store().set_secret("tok", b"value-two-BBBB").unwrap(),
        PRINT,
    )
    .await;
    assert_ne!(changed, first);
    assert_eq!(entries(home.path()), 2);
}

#[tokio::test]
async fn a_shared_cache_key_hits_whatever_the_values() {
    let home = home();
    let files = tempfile::tempdir().unwrap();
    let a = files.path().join("a");
    let b = files.path().join("b");
    std::fs::write(&a, "file-secret-one").unwrap();
    std::fs::write(&b, "file-secret-two").unwrap();
    let uri = |p: &Path, key: &str| format!("file://{}{key}", p.display());
    let with_key = store()
        .resolve(&uri(&a, "?cacheKey=deploy-token"))
        .await
        .unwrap();
    let first = run(&process(home.path()), &with_key, PRINT).await;
    let other = store()
        .resolve(&uri(&b, "?cacheKey=deploy-token"))
        .await
        .unwrap();
    assert_eq!(run(&process(home.path()), &other, PRINT).await, first);
    let plain = store().resolve(&uri(&b, "")).await.unwrap();
    assert_ne!(run(&process(home.path()), &plain, PRINT).await, first);
}

#[tokio::test]
async fn leaks_are_not_cached_and_are_reported_by_name() {
    let home = home();
    let value = random_value(28);
    let leak = |p: &Process| {
        let secret = store().set_secret("deploy-key", value.as_bytes()).unwrap();
        let ctr = Container::new()
            .from("busybox")
            .unwrap()
            .with_mounted_secret("/run/secrets/x", &secret, None, None)
            .unwrap()
            .with_exec(&[
                "sh",
                "-c",
                "mkdir -p /app && cp /run/secrets/x /app/x && cat /proc/sys/kernel/random/uuid",
            ])
            .unwrap();
        let engine = p.engine.clone();
        async move {
            let out = ctr.stdout(&engine).await.unwrap();
            let copied = ctr
                .file(&engine, "/app/x")
                .await
                .unwrap()
                .contents()
                .unwrap();
            (out, copied)
        }
    };
    let p = process(home.path());
    let (first, copied) = leak(&p).await;
    assert_eq!(copied, value.as_bytes(), "the result is still returned");
    let warnings = p.warnings.lock().unwrap().clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("not cached: secret deploy-key was written to /app/x (contents)"),
        "{warnings:?}"
    );
    assert!(!warnings[0].contains(&value));
    assert_eq!(entries(home.path()), 0);
    let (second, _) = leak(&process(home.path())).await;
    assert_ne!(second, first, "not cached, so it runs again");
    assert!(files_containing(&[&home.path().join("cache")], value.as_bytes()).is_empty());
}

#[tokio::test]
async fn cached_outputs_and_layers_hold_no_plaintext() {
    let home = home();
    let value = random_value(30);
    let p = process(home.path());
    let secret = store().set_secret("tok", value.as_bytes()).unwrap();
    let out = run(
        &p,
        &secret,
        "echo $S; echo $S >&2; echo $S | base64; echo derived > /derived; printf %s $S | wc -c",
    )
    .await;
    assert!(!out.contains(&value), "{out}");
    assert_eq!(entries(home.path()), 1);
    assert!(p.warnings.lock().unwrap().is_empty());
    drop(p);
    let cache = home.path().join("cache");
    assert!(files_containing(&[&cache], value.as_bytes()).is_empty());
    let encoded = std::process::Command::new("sh")
        .args(["-c", "echo \"$V\" | base64"])
        .env("V", &value)
        .output()
        .unwrap()
        .stdout;
    let encoded = encoded.trim_ascii();
    assert!(!encoded.is_empty());
    assert!(files_containing(&[&cache], encoded).is_empty());
}

#[tokio::test]
async fn host_directory_contents_are_part_of_the_key() {
    let home = home();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("input"), "version 1").unwrap();
    let read = |p: &Process| {
        let ctr = Container::new()
            .from("busybox")
            .unwrap()
            .with_mounted_directory("/src", &Directory::host(src.path()).unwrap())
            .unwrap()
            .with_exec(&["cat", "/src/input"])
            .unwrap();
        let engine = p.engine.clone();
        async move { ctr.stdout(&engine).await.unwrap() }
    };
    assert_eq!(read(&process(home.path())).await, "version 1");
    std::fs::write(src.path().join("input"), "version 2").unwrap();
    assert_eq!(read(&process(home.path())).await, "version 2");
}

#[tokio::test]
async fn execs_on_cached_layers_see_their_files() {
    let home = home();
    let build = |p: &Process| {
        let ctr = Container::new()
            .from("busybox")
            .unwrap()
            .with_exec(&["sh", "-c", "cat /proc/sys/kernel/random/uuid > /built"])
            .unwrap()
            .with_exec(&["cat", "/built"])
            .unwrap();
        let engine = p.engine.clone();
        async move { ctr.stdout(&engine).await.unwrap() }
    };
    let first = build(&process(home.path())).await;
    assert_eq!(first.len(), 37, "{first}");
    assert_eq!(build(&process(home.path())).await, first);
    assert_eq!(entries(home.path()), 2);
    let cache = Cache::open(&home.path().join("cache")).unwrap();
    assert_eq!(cache.prune(hush_cache::Prune::All).unwrap().removed, 2);
    assert_ne!(build(&process(home.path())).await, first);
}
