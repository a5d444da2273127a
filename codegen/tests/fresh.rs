//! The committed generated sources match a fresh generation from the API description.

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
