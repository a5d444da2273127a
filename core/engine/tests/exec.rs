//! Execs on a real OCI runtime with a real busybox root filesystem (needs root, runc, crun and
//! busybox-static).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use hush_engine::{
    Container, DirImages, Directory, Engine, EngineError, ExecOutput, ExecSpec, Executor,
    ImageConfig, LocalExecutor, RuntimeChoice,
};
use hush_scrub::Scrubber;

fn busybox() -> Container {
    Container::new().from("busybox").unwrap()
}

#[tokio::test]
async fn seed_example_prints_scrubbed_secret() {
    let t = engine();
    let token = secret("seed", random_value(24).as_bytes());
    let out = busybox()
        .with_secret_variable("MY_SECRET", &token)
        .unwrap()
        .with_exec(&["sh", "-c", "echo this is the secret: $MY_SECRET"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "this is the secret: ***\n");
}

#[tokio::test]
async fn the_process_sees_the_real_value() {
    let t = engine();
    let value = random_value(33);
    let token = secret("real", value.as_bytes());
    let out = busybox()
        .with_secret_variable("MY_SECRET", &token)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "printf %s \"$MY_SECRET\" | sha256sum; echo ${#MY_SECRET}; echo $MY_SECRET",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    let expected = format!("{}  -\n33\n***\n", sha256_hex(value.as_bytes()));
    assert_eq!(out, expected);
}

#[tokio::test]
async fn without_secret_variable_removes_it_from_later_execs() {
    let t = engine();
    let token = secret("removed", random_value(20).as_bytes());
    let with = busybox().with_secret_variable("TOKEN", &token).unwrap();
    let show = ["sh", "-c", "echo \"[${TOKEN:-unset}]\""];
    let before = with.with_exec(&show).unwrap();
    assert_eq!(before.stdout(&t.engine).await.unwrap(), "[***]\n");
    let after = before
        .without_secret_variable("TOKEN")
        .unwrap()
        .with_exec(&show)
        .unwrap();
    assert_eq!(after.stdout(&t.engine).await.unwrap(), "[unset]\n");
    // Plain variables of the same name are unaffected by secret ones and the other way round.
    let plain = with
        .with_env_variable("OTHER", "visible")
        .unwrap()
        .with_exec(&["sh", "-c", "echo $OTHER $TOKEN"])
        .unwrap();
    assert_eq!(plain.stdout(&t.engine).await.unwrap(), "visible ***\n");
}

#[tokio::test]
async fn exec_chains_see_earlier_changes() {
    let t = engine();
    let ctr = busybox()
        .with_exec(&["sh", "-c", "mkdir -p /data && echo one > /data/a"])
        .unwrap()
        .with_new_file("/data/b", "two\n")
        .unwrap()
        .with_new_file_mode("/tmp/tool.sh", "#!/bin/sh\necho tool ran\n", 0o755)
        .unwrap()
        .with_workdir("/data")
        .unwrap()
        .with_env_variable("GREETING", "hi")
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat a b; echo $GREETING; pwd; /tmp/tool.sh; rm a",
        ])
        .unwrap();
    assert_eq!(
        ctr.stdout(&t.engine).await.unwrap(),
        "one\ntwo\nhi\n/data\ntool ran\n"
    );
    // /tmp keeps its mode although a layer wrote a file into it.
    let next = ctr
        .with_exec(&["sh", "-c", "ls /data; stat -c %a /tmp"])
        .unwrap();
    assert_eq!(next.stdout(&t.engine).await.unwrap(), "b\n1777\n");
    let file = next.file(&t.engine, "/data/b").await.unwrap();
    assert_eq!(file.contents().unwrap(), b"two\n");
    let dir = next.directory(&t.engine, "/data").await.unwrap();
    assert_eq!(dir.entries().unwrap(), vec!["b"]);
    assert!(matches!(
        next.file(&t.engine, "/data/a").await,
        Err(EngineError::NotFound { .. })
    ));
}

#[tokio::test]
async fn with_user_runs_as_that_user() {
    let t = engine();
    let ctr = busybox()
        .with_new_file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/tmp:/bin/sh\n",
        )
        .unwrap()
        .with_new_file("/etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:\n")
        .unwrap();
    let id = ["sh", "-c", "id -u; id -g"];
    let app = ctr.with_user("app").unwrap().with_exec(&id).unwrap();
    assert_eq!(app.stdout(&t.engine).await.unwrap(), "1000\n1001\n");
    let staff = ctr.with_user("app:staff").unwrap().with_exec(&id).unwrap();
    assert_eq!(staff.stdout(&t.engine).await.unwrap(), "1000\n50\n");
    let numeric = ctr.with_user("4242:4343").unwrap().with_exec(&id).unwrap();
    assert_eq!(numeric.stdout(&t.engine).await.unwrap(), "4242\n4343\n");
    let unknown = ctr.with_user("nobody").unwrap().with_exec(&id).unwrap();
    let err = unknown.stdout(&t.engine).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::UnknownUser(u) if u == "nobody"),
        "{err}"
    );
}

#[tokio::test]
async fn non_zero_exit_fails_results_but_not_exit_code() {
    let t = engine();
    let value = random_value(28);
    let token = secret("failing", value.as_bytes());
    let ctr = busybox()
        .with_secret_variable("TOKEN", &token)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "echo out; echo \"bad token $TOKEN\" >&2; exit 3",
        ])
        .unwrap();
    assert_eq!(ctr.exit_code(&t.engine).await.unwrap(), 3);
    for err in [
        ctr.stdout(&t.engine).await.unwrap_err(),
        ctr.stderr(&t.engine).await.unwrap_err(),
        ctr.sync(&t.engine).await.unwrap_err(),
    ] {
        match &err {
            EngineError::ExecFailed {
                exit_code,
                stderr_tail,
                ..
            } => {
                assert_eq!(*exit_code, 3);
                assert_eq!(stderr_tail, "bad token ***");
            }
            other => panic!("unexpected {other}"),
        }
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("code 3"), "{shown}");
        assert!(!shown.contains(&value), "{shown}");
    }
    // Later execs do not run on top of a failed one.
    let later = ctr.with_exec(&["echo", "never"]).unwrap();
    let err = later.exit_code(&t.engine).await.unwrap_err();
    assert!(
        matches!(err, EngineError::ExecFailed { exit_code: 3, .. }),
        "{err}"
    );
}

/// Counts execs and delegates to the real executor.
struct Counting {
    inner: LocalExecutor,
    count: AtomicUsize,
}

#[async_trait::async_trait]
impl Executor for Counting {
    async fn exec(&self, spec: &ExecSpec, scrubber: &Scrubber) -> hush_engine::Result<ExecOutput> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.exec(spec, scrubber).await
    }
}

#[tokio::test]
async fn each_exec_runs_once_per_engine() {
    let home = tempfile::tempdir().unwrap();
    let images = Arc::new(DirImages::new());
    images.insert(
        "busybox",
        busybox_rootfs().to_path_buf(),
        ImageConfig::default(),
    );
    let counting = Arc::new(Counting {
        inner: LocalExecutor::new(home.path().join("x"), RuntimeChoice::Runc)
            .unwrap()
            .with_shim_exe(TESTBIN.into()),
        count: AtomicUsize::new(0),
    });
    let engine = Engine::with_executor(
        Arc::new(Scrubber::new()),
        images,
        counting.clone(),
        home.path().join("engine"),
    )
    .unwrap();
    let first = busybox()
        .with_exec(&["sh", "-c", "echo out; echo err >&2"])
        .unwrap();
    let second = first.with_exec(&["echo", "second"]).unwrap();
    assert_eq!(first.stdout(&engine).await.unwrap(), "out\n");
    assert_eq!(first.stderr(&engine).await.unwrap(), "err\n");
    assert_eq!(first.exit_code(&engine).await.unwrap(), 0);
    assert_eq!(second.stdout(&engine).await.unwrap(), "second\n");
    // The same chain built again is the same work.
    let again = busybox()
        .with_exec(&["sh", "-c", "echo out; echo err >&2"])
        .unwrap();
    again.sync(&engine).await.unwrap();
    assert_eq!(counting.count.load(Ordering::SeqCst), 2);
    // Exec layers live under the engine's state directory until the engine goes.
    let state = engine.state_dir().to_path_buf();
    assert!(std::fs::read_dir(state.join("l")).unwrap().count() >= 2);
    drop(engine);
    assert!(!state.exists(), "{} left behind", state.display());
}

#[tokio::test]
async fn mounted_directories_from_host_and_container() {
    let t = engine();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("input.txt"), "from the host\n").unwrap();
    let built = busybox()
        .with_exec(&["sh", "-c", "mkdir /out && echo built > /out/artifact"])
        .unwrap();
    let out_dir = built.directory(&t.engine, "/out").await.unwrap();
    let ctr = busybox()
        .with_mounted_directory("/src", &Directory::host(host.path()).unwrap())
        .unwrap()
        .with_mounted_directory("/art", &out_dir)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /src/input.txt /art/artifact; echo scribble > /src/new",
        ])
        .unwrap();
    assert_eq!(
        ctr.stdout(&t.engine).await.unwrap(),
        "from the host\nbuilt\n"
    );
    assert!(
        !host.path().join("new").exists(),
        "writes must not reach the host"
    );
    let after = ctr
        .without_mount("/src")
        .unwrap()
        .with_exec(&["sh", "-c", "ls /src 2>&1 || echo gone"])
        .unwrap();
    let shown = after.stdout(&t.engine).await.unwrap();
    assert!(shown.ends_with("gone\n"), "{shown}");
    assert_eq!(
        Directory::host(host.path())
            .unwrap()
            .file("input.txt")
            .unwrap()
            .contents()
            .unwrap(),
        b"from the host\n"
    );
}

#[tokio::test]
async fn mounted_files_from_host_and_container_are_read_only() {
    let t = engine();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("go.sum"), "sums\n").unwrap();
    let built = busybox()
        .with_exec(&["sh", "-c", "echo built > /artifact"])
        .unwrap();
    let artifact = built.file(&t.engine, "/artifact").await.unwrap();
    let ctr = busybox()
        .with_mounted_file(
            "/src/go.sum",
            &Directory::host(host.path())
                .unwrap()
                .file("go.sum")
                .unwrap(),
        )
        .unwrap()
        .with_mounted_file("/art", &artifact)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /src/go.sum /art; echo x >> /src/go.sum 2>/dev/null || echo read-only; \
             echo x >> /art 2>/dev/null || echo read-only",
        ])
        .unwrap();
    assert_eq!(
        ctr.stdout(&t.engine).await.unwrap(),
        "sums\nbuilt\nread-only\nread-only\n"
    );
    // Nothing of the mount points reaches the container's filesystem.
    let after = ctr
        .without_mount("/src/go.sum")
        .unwrap()
        .without_mount("/art")
        .unwrap()
        .with_exec(&["sh", "-c", "ls /src /art 2>&1 | wc -l"])
        .unwrap();
    assert_eq!(after.stdout(&t.engine).await.unwrap().trim(), "2");
    let missing = busybox()
        .with_mounted_file(
            "/x",
            &Directory::host(host.path()).unwrap().file("nope").unwrap(),
        )
        .unwrap()
        .with_exec(&["true"])
        .unwrap();
    assert!(matches!(
        missing.sync(&t.engine).await,
        Err(EngineError::NotFound { .. })
    ));
}

#[tokio::test]
async fn clear_errors() {
    let t = engine();
    let token = secret("errors", b"errors-secret-value");
    let missing = Container::new()
        .from("no-such-image:1.0")
        .unwrap()
        .with_exec(&["true"])
        .unwrap();
    let err = missing.sync(&t.engine).await.unwrap_err();
    assert!(matches!(&err, EngineError::ImageNotFound(i) if i == "no-such-image:1.0"));
    assert!(err.to_string().contains("\"no-such-image:1.0\""), "{err}");

    let err = busybox()
        .with_mounted_secret("run/secrets/x", &token, None, None)
        .unwrap_err();
    assert!(matches!(err, EngineError::BadPath { .. }));
    assert!(err.to_string().contains("\"run/secrets/x\""), "{err}");

    let err = busybox()
        .with_mounted_secret("/run/x", &token, Some("root:wheel:x"), None)
        .unwrap_err();
    assert!(matches!(err, EngineError::BadOwner { .. }));
    assert!(err.to_string().contains("root:wheel:x"), "{err}");

    let unknown_group = busybox()
        .with_mounted_secret("/run/x", &token, Some("root:wheel"), None)
        .unwrap()
        .with_exec(&["true"])
        .unwrap();
    let err = unknown_group.sync(&t.engine).await.unwrap_err();
    assert!(
        matches!(&err, EngineError::UnknownGroup(g) if g == "wheel"),
        "{err}"
    );

    let err = busybox().with_secret_variable("", &token).unwrap_err();
    assert!(matches!(err, EngineError::EmptyEnvName { .. }));

    let err = busybox().stdout(&t.engine).await.unwrap_err();
    assert!(matches!(err, EngineError::NoExec(_)));

    let err = busybox()
        .with_exec(&["no-such-command"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-command"), "{err}");
}

#[tokio::test]
async fn crun_runs_execs_too() {
    let t = engine_with(RuntimeChoice::Crun);
    let token = secret("crun", random_value(24).as_bytes());
    let out = busybox()
        .with_secret_variable("MY_SECRET", &token)
        .unwrap()
        .with_mounted_secret("/run/secrets/token", &token, None, None)
        .unwrap()
        .with_exec(&["sh", "-c", "echo $MY_SECRET; cat /run/secrets/token; echo"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "***\n***\n");
}

#[tokio::test]
async fn auto_detection_picks_a_working_runtime() {
    let home = tempfile::tempdir().unwrap();
    let executor = LocalExecutor::new(home.path().join("x"), RuntimeChoice::Auto)
        .unwrap()
        .with_shim_exe(TESTBIN.into());
    // crun works on this host once cgroup2 is hidden in the private namespace.
    assert_eq!(executor.runtime_name().await.unwrap(), "crun");
}

#[tokio::test]
async fn image_config_applies_and_can_be_overridden() {
    let t = engine();
    let ctr = Container::new().from("busybox-configured").unwrap();
    let show = ["sh", "-c", "echo $FROM_IMAGE $PATH; pwd; id -u; id -g"];
    let out = ctr
        .with_exec(&show)
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "yes /bin\n/tmp\n4242\n4343\n");
    let out = ctr
        .with_env_variable("FROM_IMAGE", "overridden")
        .unwrap()
        .with_workdir("/")
        .unwrap()
        .with_user("0")
        .unwrap()
        .with_exec(&show)
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "overridden /bin\n/\n0\n0\n");
    // without_env_variable removes a variable whether the image or the chain set it.
    let show = ["sh", "-c", "echo [$FROM_IMAGE] [$MINE] $PATH"];
    let out = ctr
        .with_env_variable("MINE", "x")
        .unwrap()
        .without_env_variable("FROM_IMAGE")
        .unwrap()
        .without_env_variable("MINE")
        .unwrap()
        .with_exec(&show)
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "[] [] /bin\n");
    assert!(ctr.without_env_variable("A=B").is_err());
}

#[tokio::test]
async fn same_label_different_values_are_different_work() {
    let t = engine();
    let (v1, v2) = (random_value(20), random_value(20));
    let hash_of = |s: &hush_secrets::Secret| {
        busybox()
            .with_secret_variable("TOKEN", s)
            .unwrap()
            .with_exec(&["sh", "-c", "printf %s \"$TOKEN\" | sha256sum"])
            .unwrap()
    };
    let first = hash_of(&secret("same-label", v1.as_bytes()));
    let second = hash_of(&secret("same-label", v2.as_bytes()));
    assert_eq!(first.digest(), second.digest());
    assert_eq!(
        first.stdout(&t.engine).await.unwrap(),
        format!("{}  -\n", sha256_hex(v1.as_bytes()))
    );
    assert_eq!(
        second.stdout(&t.engine).await.unwrap(),
        format!("{}  -\n", sha256_hex(v2.as_bytes()))
    );
}

#[tokio::test]
async fn long_chains_stack_many_layers() {
    let t = engine();
    // Each new file is a layer; 150 layers' paths would not fit in one page of mount options.
    let mut ctr = busybox();
    for i in 0..150 {
        ctr = ctr
            .with_new_file(&format!("/layers/{i}"), i.to_string())
            .unwrap();
    }
    let out = ctr
        .with_exec(&["sh", "-c", "cat /layers/0 /layers/149; ls /layers | wc -l"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "0149150\n");
}

#[tokio::test]
async fn isolation_namespaces_loopback_only_and_no_new_privileges() {
    for choice in [RuntimeChoice::Runc, RuntimeChoice::Crun] {
        let t = engine_with(choice);
        let out = busybox()
            .with_exec(&[
                "sh",
                "-c",
                "ls /sys/class/net; cat /sys/class/net/lo/flags; hostname; echo $$; \
                 grep -E '^(NoNewPrivs|CapEff)' /proc/self/status | tr -s '\\t' ' '",
            ])
            .unwrap()
            .stdout(&t.engine)
            .await
            .unwrap();
        // Docker's default capabilities without NET_RAW: 0xa00425fb minus bit 13.
        assert_eq!(
            out, "lo\n0x9\nhush\n1\nCapEff: 00000000a80405fb\nNoNewPrivs: 1\n",
            "{choice:?}"
        );
    }
}

#[test]
fn state_of_dead_engines_is_removed() {
    let root = tempfile::tempdir().unwrap();
    // pid_max is at most 2^22, so this engine's process cannot exist.
    let stale = root.path().join("4194305-deadbeef");
    std::fs::create_dir_all(stale.join("l/0")).unwrap();
    let alive = root.path().join(format!("{}-cafe", std::process::id()));
    std::fs::create_dir_all(&alive).unwrap();
    let images = Arc::new(DirImages::new());
    let executor = LocalExecutor::new(root.path().join("x"), RuntimeChoice::Runc).unwrap();
    let engine = Engine::with_executor(
        Arc::new(Scrubber::new()),
        images,
        Arc::new(executor),
        root.path().to_path_buf(),
    )
    .unwrap();
    assert!(!stale.exists());
    assert!(alive.exists());
    assert!(engine.state_dir().starts_with(root.path()));
}
