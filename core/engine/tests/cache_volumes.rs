//! Cache volumes (persistent, shared by execs that mount the same key) and tmpfs mounts.

mod common;

use common::*;
use hush_engine::{CacheMountOptions, CacheVolume, Container, EngineError, Sharing};

fn busybox() -> Container {
    Container::new().from("busybox").unwrap()
}

fn sh(ctr: &Container, script: &str) -> Container {
    ctr.with_exec(&["sh", "-c", script]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_outlives_its_container_and_leaves_no_mount_point() {
    let t = engine();
    let pip = CacheVolume::new("pip").unwrap();
    let options = CacheMountOptions {
        owner: Some("1000:1001".into()),
        mode: 0o750,
        ..CacheMountOptions::default()
    };
    let writer = busybox()
        .with_mounted_cache("/root/.cache/pip", &pip, options.clone())
        .unwrap();
    let wrote = sh(
        &writer,
        "stat -c '%u %g %a' /root/.cache/pip; echo wheel > /root/.cache/pip/w; ls -A /root",
    );
    assert_eq!(
        wrote.stdout(&t.engine).await.unwrap(),
        "1000 1001 750\n.cache\n"
    );
    // Another container mounting the same key elsewhere sees the file; the first exec's layer
    // has nothing of the mount (no stub directory, no file).
    let reader = sh(
        &busybox()
            .with_mounted_cache("/var/cache/x", &pip, CacheMountOptions::default())
            .unwrap(),
        "cat /var/cache/x/w",
    );
    assert_eq!(reader.stdout(&t.engine).await.unwrap(), "wheel\n");
    let after = sh(
        &wrote.without_mount("/root/.cache/pip").unwrap(),
        "ls -A /root",
    );
    assert_eq!(after.stdout(&t.engine).await.unwrap(), "");
    // Other keys are other volumes; a read-only mount refuses writes.
    let other = sh(
        &busybox()
            .with_mounted_cache(
                "/c",
                &CacheVolume::new("npm").unwrap(),
                CacheMountOptions::default(),
            )
            .unwrap(),
        "ls -A /c",
    );
    assert_eq!(other.stdout(&t.engine).await.unwrap(), "");
    let readonly = CacheMountOptions {
        readonly: true,
        ..CacheMountOptions::default()
    };
    let ro = sh(
        &busybox().with_mounted_cache("/c", &pip, readonly).unwrap(),
        "cat /c/w; touch /c/x 2>/dev/null || echo read-only",
    );
    assert_eq!(ro.stdout(&t.engine).await.unwrap(), "wheel\nread-only\n");
    // The volume lives beside the engine's state, so the next engine finds it.
    let volumes = t.home.path().join("engine/volumes");
    let held: Vec<_> = std::fs::read_dir(&volumes).unwrap().flatten().collect();
    assert_eq!(held.len(), 2, "{held:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_into_a_volume_is_removed_and_fails_the_exec() {
    let t = engine();
    let value = random_value(36);
    let token = secret("volume-token", value.as_bytes());
    let vol = CacheVolume::new("deps").unwrap();
    let seed = sh(
        &busybox()
            .with_mounted_cache("/cache", &vol, CacheMountOptions::default())
            .unwrap(),
        "echo kept > /cache/kept",
    );
    seed.sync(&t.engine).await.unwrap();
    let leaky = sh(
        &busybox()
            .with_mounted_cache("/cache", &vol, CacheMountOptions::default())
            .unwrap()
            .with_secret_variable("TOKEN", &token)
            .unwrap(),
        "mkdir -p /cache/auth && printf %s \"$TOKEN\" | base64 > /cache/auth/npmrc; \
         echo fine > /cache/fine",
    );
    let err = leaky.sync(&t.engine).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::SecretInCacheVolume { volume, .. } if volume == "deps"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("secret volume-token was written to /auth/npmrc"),
        "{text}"
    );
    assert!(!text.contains(&value), "{text}");
    // The leaked file is gone from the host; what the exec wrote without a secret, and what
    // was there before, is still there.
    let volumes = t.home.path().join("engine/volumes");
    let roots: Vec<_> = std::fs::read_dir(&volumes)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let roots: Vec<&std::path::Path> = roots.iter().map(|p| p.as_path()).collect();
    assert_eq!(
        files_containing(&roots, value.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    let reader = sh(
        &busybox()
            .with_mounted_cache("/cache", &vol, CacheMountOptions::default())
            .unwrap(),
        "cat /cache/kept /cache/fine; ls /cache/auth",
    );
    assert_eq!(reader.stdout(&t.engine).await.unwrap(), "kept\nfine\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_volumes_are_not_shared_by_running_execs() {
    let t = engine();
    let vol = CacheVolume::new("build").unwrap();
    let private = CacheMountOptions {
        sharing: Sharing::Private,
        ..CacheMountOptions::default()
    };
    // Two execs at once: each waits for the other's marker for a while, so they overlap; a
    // private volume means neither sees the other's marker.
    let run = |me: &str, other: &str| {
        sh(
            &busybox()
                .with_mounted_cache("/v", &vol, private.clone())
                .unwrap(),
            &format!(
                "touch /v/{me}; i=0; while [ $i -lt 20 ]; do \
                 [ -e /v/{other} ] && echo shared && exit 0; sleep 0.1; i=$((i+1)); done; \
                 echo alone"
            ),
        )
    };
    let (a, b) = (run("a", "b"), run("b", "a"));
    let (ea, eb) = (t.engine.clone(), t.engine.clone());
    let (ra, rb) = tokio::join!(a.stdout(&ea), b.stdout(&eb));
    assert_eq!(
        (ra.unwrap(), rb.unwrap()),
        ("alone\n".into(), "alone\n".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmpfs_mounts_are_fresh_sized_and_leave_nothing() {
    let t = engine();
    let ctr = busybox()
        .with_mounted_temp("/scratch", Some(1 << 20))
        .unwrap();
    let first = sh(
        &ctr,
        "grep ' /scratch ' /proc/mounts | cut -d' ' -f3; \
         grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9]*k'; echo x > /scratch/f; \
         dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null || echo full",
    );
    assert_eq!(
        first.stdout(&t.engine).await.unwrap(),
        "tmpfs\nsize=1024k\nfull\n"
    );
    let second = sh(&first, "ls -A /scratch");
    assert_eq!(second.stdout(&t.engine).await.unwrap(), "");
    let unmounted = sh(
        &second.without_mount("/scratch").unwrap(),
        "ls -d /scratch || true",
    );
    assert_eq!(unmounted.stdout(&t.engine).await.unwrap(), "");
    // Bad input is refused before anything runs.
    assert!(matches!(
        busybox().with_mounted_temp("rel", None),
        Err(EngineError::BadPath { .. })
    ));
    assert!(matches!(
        CacheVolume::new(""),
        Err(EngineError::EmptyCacheKey)
    ));
}
