//! `from` with images from hush's image store (a root filesystem tarball imported there).

mod common;

use std::sync::Arc;

use common::*;
use hush_engine::{Container, Engine, EngineError, LocalExecutor, RuntimeChoice};

#[tokio::test]
async fn execs_run_on_images_from_the_image_store() {
    let home = tempfile::tempdir().unwrap();
    let tarball = home.path().join("busybox.tar");
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tarball)
        .arg("-C")
        .arg(busybox_rootfs())
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let store = hush_image::ImageStore::open(&home.path().join("images")).unwrap();
    store.import(&tarball, Some("imported-busybox")).unwrap();
    let executor = LocalExecutor::new(home.path().join("x"), RuntimeChoice::Runc)
        .unwrap()
        .with_shim_exe(TESTBIN.into());
    let engine = Engine::with_executor(
        Arc::new(hush_scrub::Scrubber::new()),
        Arc::new(store),
        Arc::new(executor),
        home.path().join("engine"),
    )
    .unwrap();
    let token = secret("imported", random_value(24).as_bytes());
    let out = Container::new()
        .from("imported-busybox")
        .unwrap()
        .with_secret_variable("MY_SECRET", &token)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "echo this is the secret: $MY_SECRET; rm /bin/yes",
        ])
        .unwrap()
        .with_exec(&["sh", "-c", "test -e /bin/yes || echo removed"])
        .unwrap()
        .stdout(&engine)
        .await
        .unwrap();
    assert_eq!(out, "removed\n");
    let err = Container::new()
        .from("not-imported")
        .unwrap()
        .sync(&engine)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::ImageNotFound(i) if i == "not-imported"),
        "{err}"
    );
}
