//! The committed generated sources (the Python and the TypeScript client) match a fresh
//! generation from the API description.

use std::path::Path;

#[test]
fn committed_sources_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = hush_codegen::generate_all().expect("generation succeeds");
    let stale = hush_codegen::stale(&root, &files);
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run `cargo run -p hush-codegen`"
    );
}

#[test]
fn every_sdk_client_is_covered() {
    let files = hush_codegen::generate_all().unwrap();
    let paths: Vec<_> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            hush_codegen::backends::python::OUTPUT,
            hush_codegen::backends::typescript::OUTPUT
        ]
    );
}

#[test]
fn a_changed_typescript_client_is_stale() {
    // Not under `tempdir()`, which `write_then_check_round_trips` removes concurrently.
    let dir = std::env::temp_dir().join(format!("hush-codegen-ts-test-{}", std::process::id()));
    let files = hush_codegen::generate_all().unwrap();
    hush_codegen::write(&dir, &files).unwrap();
    let ts = dir.join(hush_codegen::backends::typescript::OUTPUT);
    let edited = std::fs::read_to_string(&ts)
        .unwrap()
        .replace("withExec", "withExecute");
    std::fs::write(&ts, edited).unwrap();
    assert_eq!(
        hush_codegen::stale(&dir, &files),
        [std::path::PathBuf::from(
            hush_codegen::backends::typescript::OUTPUT
        )]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_then_check_round_trips() {
    let dir = tempdir();
    let files = hush_codegen::generate_all().unwrap();
    assert_eq!(hush_codegen::stale(&dir, &files).len(), files.len());
    let written = hush_codegen::write(&dir, &files).unwrap();
    assert_eq!(written.len(), files.len());
    assert!(hush_codegen::stale(&dir, &files).is_empty());
    assert!(hush_codegen::write(&dir, &files).unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hush-codegen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
