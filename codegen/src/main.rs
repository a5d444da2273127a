//! `hush-codegen [--check] [ROOT]`: writes the generated SDK sources under ROOT (default: the
//! repository root), or with `--check` fails when any committed file differs.
// A build tool that never sees a secret: it prints directly, not through hush's console.
#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: hush-codegen [--check] [ROOT]");
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => {
                eprintln!("hush-codegen: unknown flag {arg:?}");
                return ExitCode::from(2);
            }
            _ => root = PathBuf::from(arg),
        }
    }
    let files = match hush_codegen::generate_all() {
        Ok(files) => files,
        Err(err) => {
            eprintln!("hush-codegen: {err}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let stale = hush_codegen::stale(&root, &files);
        for path in &stale {
            eprintln!("hush-codegen: {} is out of date", path.display());
        }
        return if stale.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match hush_codegen::write(&root, &files) {
        Ok(changed) => {
            for path in changed {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("hush-codegen: {err}");
            ExitCode::FAILURE
        }
    }
}
