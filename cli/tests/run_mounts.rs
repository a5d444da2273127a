//! `hush build`: `RUN --mount=type=cache|bind|tmpfs`, with secrets kept out of cache volumes.

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

mod common;

use common::{context, hush as hush_env, import_busybox, text};

/// A HUSH_HOME with the busybox image imported, shared by the tests of this file.
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().unwrap();
        import_busybox(home.path());
        home
    })
    .path()
}

fn build(ctx: &Path, tag: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["build", "-t", tag];
    args.extend_from_slice(extra);
    args.push(ctx.to_str().unwrap());
    hush_env(home(), &args, env)
}

/// `cat` of `files` in the image `tag`.
fn cat(tag: &str, files: &str) -> String {
    let out = hush_env(
        home(),
        &[
            "core",
            "container",
            "from",
            &format!("--address={tag}"),
            "with-exec",
            &format!("--args=cat,{files}"),
            "stdout",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

const MOUNTS: &str = r#"FROM busybox AS tools
RUN mkdir -p /opt/tool && echo tool-v1 > /opt/tool/version && echo single > /one
FROM busybox
ARG RUN_ID
WORKDIR /app
# A cache volume: created with uid/gid/mode, kept across builds (and steps).
RUN --mount=type=cache,target=/cache,id=deps,uid=1000,gid=1000,mode=0750 \
    stat -c '%u %g %a' /cache > /stat && echo "$RUN_ID" >> /cache/runs && cp /cache/runs /runs
# Binds: a context directory (writes discarded) and file (read-only, relative target), a
# stage's directory and file.
RUN --mount=type=bind,source=src,target=/mnt/src,rw \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,from=tools,source=/opt/tool,target=/tool \
    --mount=type=bind,from=tools,source=one,target=/one \
    cat /mnt/src/a.txt go.sum /tool/version /one > /bound && echo x > /mnt/src/new && \
    { echo y >> go.sum 2>/dev/null || echo read-only >> /bound; }
# A tmpfs of a given size.
RUN --mount=type=tmpfs,target=/scratch,size=1m \
    grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /tmpfs && \
    grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9]*k' >> /tmpfs && echo x > /scratch/f
# No mount leaves anything behind.
RUN [ ! -e /cache ] && [ ! -e /mnt ] && [ ! -e /app/go.sum ] && [ ! -e /tool ] && \
    [ ! -e /one ] && [ ! -e /scratch ] && [ ! -e /src ]
"#;

#[test]
fn cache_bind_and_tmpfs_mounts() {
    let ctx = context(
        MOUNTS,
        &[("src/a.txt", "from-context\n"), ("go.sum", "sums\n")],
    );
    let first = build(ctx.path(), "mounts:1", &["--build-arg", "RUN_ID=one"], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(
        cat("mounts:1", "/stat,/runs,/bound,/tmpfs"),
        "1000 1000 750\none\nfrom-context\nsums\ntool-v1\nsingle\nread-only\ntmpfs\nsize=1024k\n"
    );
    // The next build (another RUN_ID, so the step runs again) finds what the first left.
    let second = build(ctx.path(), "mounts:2", &["--build-arg", "RUN_ID=two"], &[]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(cat("mounts:2", "/runs"), "one\ntwo\n");
    // Writes to the bound context never reach it.
    assert!(!ctx.path().join("src/new").exists());
    // A changed bound file is a new key: the step runs again (its output changes).
    std::fs::write(ctx.path().join("go.sum"), "new sums\n").unwrap();
    let third = build(ctx.path(), "mounts:3", &["--build-arg", "RUN_ID=two"], &[]);
    assert!(third.status.success(), "{}", text(&third.stderr));
    assert!(cat("mounts:3", "/bound").contains("new sums\n"));
}

#[test]
fn a_secret_copied_into_a_cache_mount_fails_the_step_and_is_removed() {
    let value = "cache-mount-secret-Qv81";
    let ctx = context(
        "FROM busybox\n\
         RUN --mount=type=cache,target=/root/.npm,id=npm \\\n\
             --mount=type=secret,id=npmrc,target=/run/secrets/npmrc \\\n\
             cp /run/secrets/npmrc /root/.npm/npmrc && echo fine > /root/.npm/fine\n",
        &[],
    );
    let out = build(
        ctx.path(),
        "leaky:1",
        &["--secret", "id=npmrc,env=NPMRC_VALUE"],
        &[("NPMRC_VALUE", value)],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("cache volume \"npm\"") && err.contains("/npmrc"),
        "{err}"
    );
    assert!(!err.contains(value), "{err}");
    // The value is nowhere under HUSH_HOME (volumes included); the rest of the volume stays.
    let stored = std::process::Command::new("grep")
        .args(["-rl", value])
        .arg(home())
        .output()
        .unwrap();
    assert_eq!(text(&stored.stdout), "");
    let reader = context(
        "FROM busybox\nRUN --mount=type=cache,target=/c,id=npm cat /c/fine > /fine && ls /c > /ls\n",
        &[],
    );
    let out = build(reader.path(), "leaky:2", &[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cat("leaky:2", "/fine,/ls"), "fine\nfine\n");
}

#[test]
fn mount_errors_name_the_line() {
    let cases = [
        (
            "RUN --mount=type=cache,from=x,target=/c true",
            "cache mounts seeded from another stage",
        ),
        (
            "RUN --mount=type=bind,source=missing,target=/m true",
            "lstat missing: no such file or directory",
        ),
        (
            "RUN --mount=type=tmpfs,size=lots,target=/t true",
            "invalid size",
        ),
        ("RUN --mount=type=cache true", "needs a target"),
    ];
    for (run, want) in cases {
        let ctx = context(&format!("FROM busybox\n{run}\n"), &[]);
        let out = build(ctx.path(), "bad:1", &[], &[]);
        assert!(!out.status.success(), "{run}");
        let err = text(&out.stderr);
        assert!(err.contains("line 2") && err.contains(want), "{run}: {err}");
    }
}
