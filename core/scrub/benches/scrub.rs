//! Scrubber throughput (SPEC section 10): ours vs a bare aho-corasick search vs memcpy, on the
//! data sets of `shared/bench/gen_scrub_data.py`, at 1, 100, 1,000 and 10,000 secrets.
//!
//! `cargo bench -p hush-scrub --bench scrub` (or `scripts/bench-scrub.sh`, which also prints a
//! table). Data is read from `$HUSH_SCRUB_BENCH_DATA`, by default `<target dir>/bench-data`,
//! and generated there with the python script (`$HUSH_SCRUB_GEN`, by default
//! `../shared/bench/gen_scrub_data.py` next to the workspace) when missing.
//!
//! Before measuring, every case is checked: no secret may be left in the output and every
//! inserted secret must have become `***`. The heap used by a 10,000-secret scrubber is
//! measured with a counting global allocator.
//!
//! Times are thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other
//! processes sharing the machine's cores do not inflate them; for this single-threaded work
//! on an idle machine the two agree.
// A test tool: prints its own figures, never a secret (hush output goes through hush_console).
#![allow(clippy::disallowed_macros)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aho_corasick::AhoCorasick;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use hush_scrub::{Added, Scrubber};

/// Writes are fed to the scrubber in pipe-sized chunks.
const CHUNK: usize = 64 * 1024;
const COUNTS: [usize; 4] = [1, 100, 1000, 10000];
const KINDS: [&str; 2] = ["adversarial", "log"];

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged and only updates counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Criterion measurement: CPU time of the benchmarking thread.
struct ThreadCpuTime(WallTime);

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, started: Duration) -> Duration {
        thread_cpu_time() - started
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time.
        self.0.formatter()
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HUSH_SCRUB_BENCH_DATA") {
        return dir.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || workspace().join("target"),
        |t| workspace().join(PathBuf::from(t)),
    );
    target.join("bench-data")
}

fn ensure_data(dir: &Path) {
    if dir.join("log_10000.count").exists() {
        return;
    }
    let script = std::env::var_os("HUSH_SCRUB_GEN").map_or_else(
        || workspace().join("../shared/bench/gen_scrub_data.py"),
        PathBuf::from,
    );
    eprintln!("generating bench data into {}", dir.display());
    let status = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(status.success(), "{} failed", script.display());
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn secrets(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    read(dir, &format!("secrets_{n}.txt"))
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn scrubber(secrets: &[Vec<u8>]) -> Scrubber {
    let scrubber = Scrubber::new();
    for s in secrets {
        assert_eq!(scrubber.add_secret(s), Added::Registered);
    }
    scrubber
}

fn scrub_chunked(scrubber: &Scrubber, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut stream = scrubber.stream();
    for chunk in data.chunks(CHUNK) {
        stream.write(chunk, out);
    }
    stream.finish(out);
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Heap held by a 10,000-secret scrubber, and the peak while building it.
fn report_memory(dir: &Path) {
    let secrets = secrets(dir, 10000);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let scrubber = scrubber(&secrets);
    let took = started.elapsed();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    println!(
        "memory: {} secrets -> {scrubber:?}: heap {:.1} MiB (peak while adding {:.1} MiB), added in {:.0} ms",
        secrets.len(),
        mib(live),
        mib(peak),
        took.as_secs_f64() * 1e3,
    );
    drop(scrubber);
}

/// Checks that no secret is left and every inserted one became `***`.
fn verify(kind: &str, n: usize, secrets: &[Vec<u8>], scrubber: &Scrubber, data: &[u8], dir: &Path) {
    let inserted: usize = String::from_utf8(read(dir, &format!("{kind}_{n}.count")))
        .expect("count file")
        .trim()
        .parse()
        .expect("count");
    let mut out = Vec::new();
    scrub_chunked(scrubber, data, &mut out);
    let left = AhoCorasick::new(secrets)
        .expect("aho-corasick")
        .find_overlapping_iter(&out)
        .count();
    let stars = out.windows(3).filter(|w| w == b"***").count();
    let whole = scrubber.scrub(data);
    println!(
        "verify {kind} {n}: inserted {inserted}, replaced {stars}, secrets left {left}, chunked == whole: {}",
        out == whole
    );
    assert_eq!(left, 0, "{kind} {n}: secrets left in the output");
    assert_eq!(
        stars, inserted,
        "{kind} {n}: every inserted secret becomes ***"
    );
    assert_eq!(
        out, whole,
        "{kind} {n}: chunked and whole-buffer output differ"
    );
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let dir = data_dir();
    ensure_data(&dir);
    report_memory(&dir);
    for kind in KINDS {
        for n in COUNTS {
            let secrets = secrets(&dir, n);
            let data = read(&dir, &format!("{kind}_{n}.txt"));
            let ours = scrubber(&secrets);
            verify(kind, n, &secrets, &ours, &data, &dir);
            let ac = AhoCorasick::new(&secrets).expect("aho-corasick");
            let mut out = Vec::with_capacity(data.len() + CHUNK);

            let mut group = c.benchmark_group(format!("scrub/{kind}/{n}"));
            group
                .throughput(Throughput::Bytes(data.len() as u64))
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2));
            group.bench_function("ours", |b| {
                b.iter(|| {
                    scrub_chunked(&ours, &data, &mut out);
                    black_box(out.len())
                })
            });
            group.bench_function("aho-corasick", |b| {
                b.iter(|| black_box(ac.find_iter(black_box(&data)).count()))
            });
            group.bench_function("memcpy", |b| {
                b.iter(|| {
                    out.clear();
                    out.extend_from_slice(black_box(&data));
                    black_box(out.len())
                })
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime(WallTime));
    targets = bench
}
criterion_main!(benches);
