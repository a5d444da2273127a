//! Execs on a real OCI runtime with a real busybox root filesystem (needs root, runc, crun and
//! busybox-static).

mod common;

use common::*;
use hush_engine::Container;

#[tokio::test]
async fn seed_example_prints_scrubbed_secret() {
    let t = engine();
    let token = secret("seed", random_value(24).as_bytes());
    let out = Container::new()
        .from("busybox")
        .unwrap()
        .with_secret_variable("MY_SECRET", &token)
        .unwrap()
        .with_exec(&["sh", "-c", "echo this is the secret: $MY_SECRET"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "this is the secret: ***\n");
}
