//! Fixtures shared by the cache's test binaries.

use std::fs;
use std::path::{Path, PathBuf};

use hush_cache::{Key, NewEntry};

pub fn key(n: u8) -> Key {
    [n; 32]
}

/// A layer directory with one file of `size` bytes, next to the cache (same filesystem).
pub fn layer(base: &Path, name: &str, size: usize) -> PathBuf {
    let dir = base.join("upper").join(name);
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("app/data"), vec![b'x'; size]).unwrap();
    dir
}

pub fn entry<'a>(what: &'a str, layer: Option<&'a Path>) -> NewEntry<'a> {
    NewEntry {
        what,
        exit_code: 0,
        stdout: b"out\n",
        stderr: b"",
        layer,
    }
}
