//! `hush build` with heredocs (`RUN <<EOF`, `COPY <<EOF`), as BuildKit's `dockerfile:1`
//! syntax has them: the plain, `#!`, quoted, `<<-` and stdin forms of RUN, heredocs with a
//! secret mount (output scrubbed, the value nowhere in the store), COPY/ADD files with
//! expansion, `--chmod` and `--chown`, the cache key, and line numbers in errors.

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

mod common;

use common::{context, files_containing, hush as hush_env, import_busybox, text};

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

fn hush(args: &[&str]) -> Output {
    hush_env(home(), args, &[])
}

/// Builds `ctx` as `tag`; the build must succeed. Returns its progress (stderr).
fn build(ctx: &Path, tag: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["build"];
    args.extend(extra);
    args.extend(["-t", tag, ctx.to_str().unwrap()]);
    let out = hush_env(home(), &args, env);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// `sh -c SCRIPT` in the image `tag`: its stdout.
fn sh(tag: &str, script: &str) -> String {
    let out = hush(&[
        "core",
        "container",
        "from",
        &format!("--address={tag}"),
        "with-exec",
        &format!("--args=sh,-c,{script}"),
        "stdout",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

const RUN_FORMS: &str = "# syntax=docker/dockerfile:1
FROM busybox
ARG WHO=world
# The body is the script: comments, blank lines and a trailing backslash stay as written.
RUN <<EOF
set -e
# a shell comment, not a Dockerfile one
mkdir -p /out

echo \"plain $WHO\" \\
  > /out/plain
EOF
# A #! body becomes the executable /dev/pipes/NAME, run by the shell.
RUN <<script
#!/bin/sh
echo \"shebang $0 $WHO $(stat -c %a \"$0\")\" > /out/shebang
script
# The shell handles the heredoc itself: a quoted name means no expansion.
RUN cat <<'EOF' > /out/quoted
quoted $WHO
EOF
RUN cat <<EOF > /out/expanded
expanded $WHO
EOF
# A command with a heredoc as its stdin.
RUN tr a-z A-Z <<EOF > /out/upper
stdin $WHO
EOF
RUN sh -s first <<'EOF'
echo \"sh -s $1 $WHO\" > /out/sh-s
EOF
# <<- strips leading tabs, also from the terminator line.
RUN <<-EOF
\t\techo chomped > /out/chomped
\tEOF
# Two heredocs feed two redirections.
RUN <<FILE1 cat > /out/file1 && <<FILE2 cat > /out/file2
one
FILE1
two
FILE2
# A non-root user runs a #! script too.
RUN mkdir -m 777 /shared
USER 1000
RUN <<EOF
#!/bin/sh
id -u > /shared/uid
EOF
USER 0
RUN cp /shared/uid /out/uid
";

#[test]
fn run_heredocs_in_every_form() {
    let ctx = context(RUN_FORMS, &[]);
    let stderr = build(ctx.path(), "heredoc-run:v1", &[], &[]);
    // Progress shows a lone heredoc as BuildKit does: the word and the body's first line.
    assert!(stderr.contains("] RUN <<EOF (set -e...)"), "{stderr}");
    assert!(stderr.contains("] RUN <<script (#!/bin/sh...)"), "{stderr}");
    assert!(
        stderr.contains("] RUN tr a-z A-Z <<EOF > /out/upper"),
        "{stderr}"
    );
    let files = [
        "plain", "shebang", "quoted", "expanded", "upper", "sh-s", "chomped", "file1", "file2",
        "uid",
    ];
    let script = files
        .iter()
        .map(|f| format!("cat /out/{f}"))
        .collect::<Vec<_>>()
        .join("; ");
    assert_eq!(
        sh("heredoc-run:v1", &script),
        "plain world\n\
         shebang /dev/pipes/script world 755\n\
         quoted $WHO\n\
         expanded world\n\
         STDIN WORLD\n\
         sh -s first world\n\
         chomped\n\
         one\n\
         two\n\
         1000\n"
    );
    // Nothing of the script mount is left in the image.
    let root = sh("heredoc-run:v1", "ls -a /");
    assert!(!root.contains(".hush-build"), "{root}");
}

#[test]
fn a_secret_mount_with_a_heredoc_is_scrubbed_and_stored_nowhere() {
    const VALUE: &str = "heredoc-secret-value-Qx7";
    let ctx = context(
        "FROM busybox
RUN --mount=type=secret,id=tok <<EOF
set -e
[ -f /run/secrets/tok ]
echo \"file: $(cat /run/secrets/tok)\"
EOF
RUN --mount=type=secret,id=tok,env=TOK sh <<'EOF'
echo \"env: $TOK\"
EOF
RUN --mount=type=secret,id=tok <<EOF
#!/bin/sh
echo \"script: $(cat /run/secrets/tok)\"
EOF
RUN [ ! -e /run/secrets/tok ] && [ -z \"${TOK+set}\" ] && echo gone > /gone
",
        &[],
    );
    let stderr = build(
        ctx.path(),
        "heredoc-secret:v1",
        &["--secret", "id=tok,env=HEREDOC_SECRET"],
        &[("HEREDOC_SECRET", VALUE)],
    );
    for form in ["file: ***", "env: ***", "script: ***"] {
        assert!(stderr.contains(form), "{form}: {stderr}");
    }
    assert!(!stderr.contains(VALUE), "{stderr}");
    assert_eq!(sh("heredoc-secret:v1", "cat /gone"), "gone\n");
    assert_eq!(
        files_containing(home(), VALUE.as_bytes()),
        Vec::<String>::new()
    );
}

#[test]
fn copy_heredocs_make_files() {
    let ctx = context(
        "FROM busybox
ARG WHO=world
ENV GREETING=hello
# Expanded as BuildKit does: variables (in quotes too, which stay), \\ escapes.
COPY --chmod=755 <<EOF /usr/local/bin/greet
#!/bin/sh
echo \"$GREETING $WHO\" '$WHO in quotes' \\${GREETING}
EOF
COPY <<a.txt <<'b.txt' /dir/
a: $WHO ${GREETING:-x}
a.txt
b: $WHO
b.txt
WORKDIR /work
COPY --chown=1000:1001 --chmod=600 ctx.txt <<-EOF rel/
\tinline
\tEOF
COPY <<EOF /file-named-by-dest
dest
EOF
ADD <<pack.tar /added/
not a tarball
pack.tar
",
        &[("ctx.txt", "from the context\n")],
    );
    build(
        ctx.path(),
        "heredoc-copy:v1",
        &["--build-arg", "WHO=you"],
        &[],
    );
    assert_eq!(
        sh(
            "heredoc-copy:v1",
            "cat /usr/local/bin/greet; /usr/local/bin/greet; stat -c '%a %u:%g' /usr/local/bin/greet; \
             cat /dir/a.txt /dir/b.txt; stat -c '%a %u:%g %n' /dir/*; \
             cat /work/rel/ctx.txt /work/rel/EOF; stat -c '%a %u:%g %n' /work/rel/*; \
             cat /file-named-by-dest; cat /added/pack.tar"
        ),
        "#!/bin/sh\n\
         echo \"hello you\" 'you in quotes' ${GREETING}\n\
         hello you you in quotes hello\n\
         755 0:0\n\
         a: you hello\n\
         b: $WHO\n\
         644 0:0 /dir/a.txt\n\
         644 0:0 /dir/b.txt\n\
         from the context\n\
         inline\n\
         600 1000:1001 /work/rel/EOF\n\
         600 1000:1001 /work/rel/ctx.txt\n\
         dest\n\
         not a tarball\n"
    );
}

#[test]
fn heredoc_bodies_are_part_of_the_cache_key() {
    let dockerfile = |comment: &str, content: &str| {
        format!(
            "FROM busybox
RUN <<EOF
# {comment}
cat /proc/sys/kernel/random/uuid > /stamp
EOF
COPY <<EOF /content
{content}
EOF
"
        )
    };
    let ctx = context(&dockerfile("one", "first"), &[]);
    let state = |tag: &str| {
        build(ctx.path(), tag, &[], &[]);
        sh(tag, "cat /stamp /content")
    };
    let first = state("heredoc-cache:a");
    assert_eq!(state("heredoc-cache:b"), first, "a rebuild is a hit");
    // Another COPY body: the RUN before it stays cached, the file changes.
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile("one", "second")).unwrap();
    let copied = state("heredoc-cache:c");
    assert_eq!(copied.lines().next(), first.lines().next());
    assert!(copied.ends_with("second\n"), "{copied}");
    // Another RUN body (only a comment differs): the step runs again.
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile("two", "first")).unwrap();
    let rerun = state("heredoc-cache:d");
    assert_ne!(rerun.lines().next(), first.lines().next());
}

#[test]
fn errors_name_the_right_lines() {
    // Lines after heredocs keep their numbers: the failing RUN is on line 9.
    let ctx = context(
        "FROM busybox
RUN <<EOF
true
EOF
COPY <<EOF /f
RUN false
EOF
# the next line fails
RUN exit 3
",
        &[],
    );
    let out = hush(&["build", ctx.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Dockerfile line 9:"), "{stderr}");
    // A heredoc without its terminator names the line of its instruction.
    let ctx = context("FROM busybox\n\nRUN <<EOF\necho hi\n EOF\n", &[]);
    let out = hush(&["build", ctx.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "Dockerfile line 3: unterminated heredoc <<EOF: no line \"EOF\" ends it before the end of the Dockerfile"
        ),
        "{stderr}"
    );
    // A heredoc as the destination of a COPY.
    let ctx = context("FROM busybox\nCOPY a <<EOF\nx\nEOF\n", &[("a", "")]);
    let out = hush(&["build", ctx.path().to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Dockerfile line 2: COPY cannot accept a heredoc as a destination"),
        "{stderr}"
    );
}
