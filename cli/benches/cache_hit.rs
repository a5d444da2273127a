//! Cache-hit latency (SPEC section 10: a cache hit returns in <= 10 ms), measured two ways in
//! one run:
//!
//! - **end to end**: a whole `hush core container from --address=busybox with-secret-variable
//!   ... with-exec ... stdout` process whose exec is in the persistent cache (process start,
//!   session, image store, cache open, secret resolution, key, lookup, output), next to
//!   `hush --version` (bare process start) and a chain without an exec;
//! - **engine alone**: in one process, a fresh engine (empty in-memory memo, as a new process
//!   has) over the same cache evaluating the same chain's `stdout`, with and without the
//!   engine's construction (cache open and MAC key load).
//!
//! `cargo bench -p hush-cli --bench cache_hit` (needs root, runc and busybox-static).
// A test tool: prints its own figures, never a secret (hush output goes through hush_console).
#![allow(clippy::disallowed_macros)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hush_cache::Cache;
use hush_engine::{
    Container, DirImages, Engine, ImageConfig, LocalExecutor, PersistentCache, RuntimeChoice,
};
use hush_secrets::{MacKey, Registry, SecretStore, DEFAULT_LIMIT};

const ROUNDS: usize = 200;
const HUSH: &str = env!("CARGO_BIN_EXE_hush");
const SCRIPT: &str = "echo this is the secret: $S; echo built > /built";

fn chain() -> Vec<String> {
    [
        "core",
        "container",
        "from",
        "--address=busybox",
        "with-secret-variable",
        "--name=S",
        "--secret=env://BENCH_TOKEN",
        "with-exec",
        &format!("--args=sh,-c,{SCRIPT}"),
        "stdout",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn hush(home: &Path, args: &[String]) -> Duration {
    let started = Instant::now();
    let out = Command::new(HUSH)
        .args(args)
        .env("HUSH_HOME", home)
        .env("BENCH_TOKEN", "bench-token-value-0123")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

struct Stats {
    median: Duration,
    p90: Duration,
    min: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: samples[samples.len() / 2],
        p90: samples[samples.len() * 9 / 10],
        min: samples[0],
    }
}

fn row(what: &str, s: &Stats) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {what} | {:.2} | {:.2} | {:.2} |",
        ms(s.median),
        ms(s.p90),
        ms(s.min)
    );
}

fn main() {
    let home = tempfile::Builder::new()
        .prefix("hush-bench-cache")
        .tempdir()
        .unwrap();
    let home = home.path();
    let tarball = home.join("busybox.tar.gz");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/busybox-rootfs.sh");
    assert!(Command::new(script)
        .arg(&tarball)
        .status()
        .unwrap()
        .success());
    let import: Vec<String> = ["image", "import", "--tag", "busybox"]
        .map(str::to_owned)
        .into_iter()
        .chain([tarball.display().to_string()])
        .collect();
    hush(home, &import);

    // End to end, in new processes.
    let chain = chain();
    let miss = hush(home, &chain);
    let mut hits = Vec::new();
    let mut bare = Vec::new();
    let mut no_exec = Vec::new();
    let version = vec!["--version".to_owned()];
    let set_secret: Vec<String> = [
        "core",
        "set-secret",
        "--name=a",
        "--plaintext=abcdefgh",
        "name",
    ]
    .map(str::to_owned)
    .to_vec();
    for _ in 0..ROUNDS {
        hits.push(hush(home, &chain));
        bare.push(hush(home, &version));
        no_exec.push(hush(home, &set_secret));
    }

    // The engine alone, in this process, over the same cache.
    let rootfs = home.join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    assert!(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&rootfs)
        .status()
        .unwrap()
        .success());
    // The image store's busybox and this directory differ in identity, so this chain has
    // its own entry: the first evaluation below is its miss.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = SecretStore::new(Registry::builtin(), DEFAULT_LIMIT);
    let secret = store
        .set_secret("token", b"bench-token-value-0123")
        .unwrap();
    let ctr = Container::new()
        .from("busybox")
        .unwrap()
        .with_secret_variable("S", &secret)
        .unwrap()
        .with_exec(&["sh", "-c", SCRIPT])
        .unwrap();
    let build = || {
        let images = Arc::new(DirImages::new());
        images.insert("busybox", rootfs.clone(), ImageConfig::default());
        let executor = LocalExecutor::new(home.join("scratch"), RuntimeChoice::from_env().unwrap())
            .unwrap()
            .with_shim_exe(HUSH.into());
        let cache = PersistentCache::new(
            Arc::new(Cache::open(&home.join("cache")).unwrap()),
            Arc::new(MacKey::load_or_create(home).unwrap()),
            Arc::new(|w: &str| panic!("unexpected warning: {w}")),
        );
        Engine::with_executor_and_cache(
            Arc::new(hush_scrub::Scrubber::new()),
            images,
            Arc::new(executor),
            home.join("engine"),
            cache,
        )
        .unwrap()
    };
    let engine_miss = {
        let engine = build();
        let started = Instant::now();
        runtime.block_on(ctr.stdout(&engine)).unwrap();
        started.elapsed()
    };
    let mut evaluate = Vec::new();
    let mut with_build = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let engine = build();
        let built = started.elapsed();
        let out = runtime.block_on(ctr.stdout(&engine)).unwrap();
        let total = started.elapsed();
        assert_eq!(out, "this is the secret: ***\n");
        evaluate.push(total - built);
        with_build.push(total);
    }

    println!("cache hit latency, {ROUNDS} rounds each (ms); target: a hit returns in <= 10 ms");
    println!();
    println!("| what | median | p90 | min |");
    println!("|---|---|---|---|");
    row(
        "`hush core ... with-exec ... stdout`, hit (new process)",
        &stats(hits),
    );
    row("`hush core set-secret ... name` (no exec)", &stats(no_exec));
    row("`hush --version` (process start)", &stats(bare));
    row("engine: fresh engine + `stdout`, hit", &stats(with_build));
    row("engine: `stdout` on a fresh engine, hit", &stats(evaluate));
    println!();
    println!(
        "for scale, the misses: end to end {:.1} ms, engine {:.1} ms",
        miss.as_secs_f64() * 1000.0,
        engine_miss.as_secs_f64() * 1000.0
    );
}
