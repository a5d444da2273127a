//! The frontend: translates a parsed Dockerfile into the engine's [`Container`] model,
//! evaluates the stages the target needs step by step (reporting each step's scrubbed
//! output), and exports the result into the image store.
//!
//! - Secrets of a `RUN --mount=type=secret` are attached for that one exec only (file:
//!   `with_mounted_secret` then `without_mount`; env: `with_secret_variable` then
//!   `without_secret_variable`), so later steps, layers and the image config never see them.
//!   An optional secret that is missing leaves no file and no variable (BuildKit sets the
//!   variable to the empty string; hush leaves it unset so a missing secret is detectable).
//! - An agent of a `RUN --mount=type=ssh` is served on a new socket in a private directory
//!   for that one step (read-only forward or in-memory keys, see `hush-sshagent`), mounted
//!   with the mount's owner and mode, and named by `SSH_AUTH_SOCK` unless the step already
//!   has one; a missing optional agent mounts nothing and sets nothing.
//! - `COPY`/`ADD` mount the source (the build context, a git clone or URL downloads made on
//!   the host, or the root of a stage or image) and copy as root with the host's static
//!   busybox (`sh`, `cp`, `tar`, ...), mounted for that one exec, so the stage's image needs
//!   no shell or tools of its own.
//! - ARG values reach `RUN` as environment variables, never the image config.
//! - Heredocs as BuildKit runs them: `RUN <<EOF` alone runs the body with the stage's shell
//!   (`SHELL ... BODY`), or, if the body starts with `#!`, mounts it read-only as the
//!   executable file `/dev/pipes/EOF` for that one exec and runs `SHELL ... /dev/pipes/EOF`;
//!   any other line with heredocs (`python3 <<EOF`, `<<A cat > a && <<B cat > b`) is given
//!   to the shell whole, each body followed by its terminator, so the shell feeds them to the
//!   redirections. `COPY`/`ADD <<EOF DEST` copy a file (mode 0644, root's) named after the
//!   heredoc whose content is the body, its variables expanded unless the name was quoted.
//!   The body is in the exec's arguments or a mounted directory, so it is part of the step's
//!   cache key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use hush_cache::LeakScanner;
use hush_engine::{CacheMountOptions, CacheVolume, Container, Directory, Engine, Socket};
use hush_image::{Descriptor, ImageStore, MediaType};
use hush_secrets::{CredentialSink, Secret};
use hush_sshagent::{AgentListener, SshSources};
use oci_spec::image::{Config, History, HistoryBuilder};

use crate::context::Context;
use crate::error::{DockerfileError, Result};
use crate::expand::{process, process_raw};
use crate::layer::write_layer_tar;
use crate::mount::{parse_mount, BindMount, CacheMount, RunMount, SecretMount, SshMount};
use crate::parse::{heredoc_word, ArgDecl, Command, CopyArgs, Dockerfile, Heredoc, ShellOrExec};

/// The shell of shell forms until a `SHELL` instruction.
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Where the build context is mounted for a copy.
const CONTEXT_MOUNT: &str = "/.hush-build-context";
/// Where a clone of a git repository is mounted for `ADD <git URL>`.
const GIT_MOUNT: &str = "/.hush-build-git";
/// Where downloads are mounted for `ADD <URL>`.
const HTTP_MOUNT: &str = "/.hush-build-http";
/// Where a stage's or image's root is mounted for `COPY --from`.
const FROM_MOUNT: &str = "/.hush-build-from";
/// Where the files of `COPY <<EOF` heredocs are mounted for a copy.
const HEREDOC_MOUNT: &str = "/.hush-build-heredoc";
/// Where BuildKit mounts the script of `RUN <<EOF` with a `#!` line (and hush too).
const PIPES_MOUNT: &str = "/dev/pipes";

/// Where the copy tools (a static busybox and its applet links) are mounted for a copy.
const TOOLS_MOUNT: &str = "/.hush-build-tools";
/// The applets the copy script uses.
const TOOLS: [&str; 8] = [
    "sh", "cp", "mkdir", "chown", "chmod", "tar", "dirname", "true",
];

/// The copy script: `sh -c SCRIPT copy OWNER MODE DEST MULTI ADD SRC...` (`ADD` = 1 unpacks
/// tar archives), run by the tools' `sh` with only the tools on PATH.
const COPY_SCRIPT: &str = r#"set -e
PATH=/.hush-build-tools
own=$1 mode=$2 dest=$3 multi=$4 add=$5; shift 5
fix() { if [ -n "$own" ]; then chown -R "$own" "$1"; fi; if [ -n "$mode" ]; then chmod -R "$mode" "$1"; fi; }
for src in "$@"; do
  if [ -d "$src" ] && [ ! -L "$src" ]; then
    mkdir -p "$dest"
    for e in "$src"/* "$src"/.[!.]* "$src"/..?*; do
      if [ -e "$e" ] || [ -L "$e" ]; then cp -a "$e" "$dest/"; fix "$dest/${e##*/}"; fi
    done
  elif [ "$add" = 1 ] && case "$src" in /.hush-build-heredoc/*) false;; *.tar|*.tar.gz|*.tgz|*.tar.bz2|*.tar.xz) true;; *) false;; esac; then
    mkdir -p "$dest"; tar -xf "$src" -C "$dest"
  else
    d=$multi
    case "$dest" in */) d=1;; esac
    if [ -d "$dest" ]; then d=1; fi
    if [ "$d" = 1 ]; then mkdir -p "$dest"; t="$dest/${src##*/}"; else mkdir -p "$(dirname "$dest")"; t=$dest; fi
    cp -a "$src" "$t"; fix "$t"
  fi
done
"#;

/// What to build.
pub struct BuildOptions {
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The build context directory on the host.
    pub context: PathBuf,
    /// `--build-arg` values.
    pub build_args: Vec<(String, String)>,
    /// The stage to build (default: the last one).
    pub target: Option<String>,
    /// Secrets by ID, for `RUN --mount=type=secret`.
    pub secrets: HashMap<String, Secret>,
    /// SSH agents by ID, for `RUN --mount=type=ssh` and git sources over SSH.
    pub ssh: SshSources,
    /// Tag of the image to store, if any.
    pub tag: Option<String>,
    /// Where credentials written into source URLs are registered before they are used.
    pub credentials: CredentialSink,
}

/// The result of a build.
pub struct Built {
    /// The target stage as a container.
    pub container: Container,
    /// The stored image, if a tag was given.
    pub image: Option<hush_image::ImageRef>,
    /// Clones of git sources the container's chain refers to (removed when dropped).
    _sources: Vec<tempfile::TempDir>,
}

/// The image config a stage carries.
#[derive(Clone)]
struct Stage {
    ctr: Container,
    root: hush_image::Image,
    env: Vec<(String, String)>,
    workdir: String,
    user: Option<String>,
    labels: BTreeMap<String, String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    /// The shell of shell forms (`SHELL`; not stored in an OCI image).
    shell: Vec<String>,
    exposed: BTreeSet<String>,
    volumes: BTreeSet<String>,
    stop_signal: Option<String>,
    author: Option<String>,
    /// History entries, with the index of the layer each step made (if any).
    history: Vec<(History, Option<usize>)>,
    layers: usize,
}

impl Stage {
    fn from_image(name: &str, root: hush_image::Image) -> Result<Self> {
        let ctr = Container::new().from(name).map_err(build_err)?;
        let cfg = root.config.config().clone().unwrap_or_default();
        let env = root
            .env()
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (e.clone(), String::new()),
            })
            .collect();
        Ok(Self {
            ctr,
            env,
            workdir: root.working_dir().unwrap_or("/").to_owned(),
            user: root.user().map(str::to_owned),
            labels: cfg
                .labels()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            cmd: cfg.cmd().clone(),
            entrypoint: cfg.entrypoint().clone(),
            shell: DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
            exposed: cfg.exposed_ports().iter().flatten().cloned().collect(),
            volumes: cfg.volumes().iter().flatten().cloned().collect(),
            stop_signal: cfg.stop_signal().clone(),
            author: root.config.author().clone(),
            history: root
                .config
                .history()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h, None))
                .collect(),
            layers: root.manifest.layers().len(),
            root,
        })
    }

    fn var(&self, args: &[(String, String)], name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .or_else(|| args.iter().rev().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
    }
}

fn build_err(e: impl std::fmt::Display) -> DockerfileError {
    DockerfileError::Build(e.to_string())
}

fn at(line: usize) -> impl Fn(String) -> DockerfileError {
    move |message| DockerfileError::Parse { line, message }
}

/// `path` (absolute, or relative to `workdir`) normalised, without leaving `/`.
fn absolute(workdir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new(workdir).join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if path.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// The `port/protocol` entries of one `EXPOSE` word: `80`, `53/udp`, `8000-8002/tcp`.
fn ports(word: &str) -> std::result::Result<Vec<String>, String> {
    let bad = || format!("invalid port {word:?} in EXPOSE");
    let (range, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let port = |p: &str| p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(bad);
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(range)?, port(range)?),
    };
    if first > last {
        return Err(bad());
    }
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

/// A step as shown in progress and image history.
fn describe(cmd: &Command) -> String {
    let form = |s: &ShellOrExec| match s {
        ShellOrExec::Shell(t) => t.clone(),
        ShellOrExec::Exec(a) => serde_json::to_string(a).unwrap_or_default(),
    };
    let pairs = |p: &[(String, String)]| {
        p.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let copy = |c: &CopyArgs| {
        let docs = c.heredocs.iter().map(|h| format!("<<{}", h.name));
        let words: Vec<String> = c.sources.iter().cloned().chain(docs).collect();
        format!("{} {}", words.join(" "), c.dest)
    };
    match cmd {
        // As BuildKit shows it: `RUN <<EOF (first line...)` for a lone heredoc.
        Command::Run {
            cmd: ShellOrExec::Shell(text),
            heredocs,
            ..
        } if heredocs.len() == 1 && heredoc_word(text).is_some() => {
            format!("RUN {text} ({})", summarize(&heredocs[0].content))
        }
        Command::Run { cmd, .. } => format!("RUN {}", form(cmd)),
        Command::Env(p) => format!("ENV {}", pairs(p)),
        Command::Arg(d) => format!(
            "ARG {}",
            d.iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Command::Workdir(p) => format!("WORKDIR {p}"),
        Command::User(u) => format!("USER {u}"),
        Command::Copy(c) => match &c.from {
            Some(f) => format!("COPY --from={f} {}", copy(c)),
            None => format!("COPY {}", copy(c)),
        },
        Command::Add(c) => {
            let sources: Vec<String> = c.sources.iter().map(|s| crate::http::redact(s)).collect();
            format!("ADD {} {}", sources.join(" "), c.dest)
        }
        Command::Label(p) => format!("LABEL {}", pairs(p)),
        Command::Cmd(c) => format!("CMD {}", form(c)),
        Command::Entrypoint(c) => format!("ENTRYPOINT {}", form(c)),
        Command::Expose(w) => format!("EXPOSE {}", w.join(" ")),
        Command::Volume(w) => format!("VOLUME {}", serde_json::to_string(w).unwrap_or_default()),
        Command::StopSignal(s) => format!("STOPSIGNAL {s}"),
        Command::Shell(s) => format!("SHELL {}", serde_json::to_string(s).unwrap_or_default()),
        Command::Maintainer(m) => format!("MAINTAINER {m}"),
    }
}

/// The first line of a heredoc's body, with `...` if there are more (BuildKit's summary).
fn summarize(body: &str) -> String {
    let body = body.trim();
    let mut lines = body.lines();
    let first = lines.next().unwrap_or_default();
    if lines.next().is_some() {
        format!("{first}...")
    } else {
        first.to_owned()
    }
}

/// What a `RUN` with heredocs runs.
#[derive(Debug, PartialEq, Eq)]
enum HeredocRun {
    /// The shell runs this text (`SHELL... TEXT`).
    Shell(String),
    /// A lone heredoc with a `#!` line: the file `/dev/pipes/NAME` with this body, run as
    /// `SHELL... /dev/pipes/NAME`.
    Script { name: String, body: String },
}

/// BuildKit's `dispatchRun` for heredocs: a command that is only a heredoc word runs its body
/// (as a script file if it starts with `#!`); anything else is reassembled for the shell, each
/// body followed by its terminator.
fn heredoc_run(text: &str, heredocs: &[Heredoc]) -> HeredocRun {
    match heredocs {
        [doc] if heredoc_word(text).is_some() => {
            if doc.content.starts_with("#!") {
                HeredocRun::Script {
                    name: doc.name.clone(),
                    body: doc.body(),
                }
            } else {
                HeredocRun::Shell(doc.body())
            }
        }
        _ => {
            let mut full = text.to_owned();
            for doc in heredocs {
                full.push('\n');
                full.push_str(&doc.content);
                full.push_str(&doc.name);
            }
            HeredocRun::Shell(full)
        }
    }
}

/// A heredoc name as a file name (`COPY <<NAME`, `RUN <<NAME` with `#!`): one path component.
fn heredoc_file_name(line: usize, name: &str) -> Result<&str> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(at(line)(format!(
            "heredoc name {name:?} cannot be used as a file name"
        )));
    }
    Ok(name)
}

/// A new private directory for heredoc files, readable by any user of the container.
fn heredoc_dir(prefix: &str) -> Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| build_err(format!("cannot make a directory for a heredoc: {e}"));
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(io)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    Ok(dir)
}

/// Writes `contents` to `path` with `mode`.
fn write_heredoc_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| build_err(format!("cannot write a heredoc file: {e}"));
    std::fs::write(path, contents).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

/// Runs a build: evaluates the stages the target needs, reports each step through
/// `progress` (the caller scrubs and prints it), and stores the image if a tag is given.
pub async fn build(
    engine: &Engine,
    store: &ImageStore,
    opts: &BuildOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Built> {
    let file = crate::parse::parse(&opts.dockerfile)?;
    for warning in crate::lint::secrets_used_in_arg_or_env(&file) {
        progress(&format!("WARN: {warning}"));
    }
    let esc = file.escape;
    let build_arg = |name: &str| {
        opts.build_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Meta ARGs (before the first FROM): usable in FROM, and by `ARG NAME` in stages.
    let mut meta: Vec<(String, String)> = Vec::new();
    for (line, decls) in &file.meta_args {
        for d in decls {
            let value = match build_arg(&d.name) {
                Some(v) => Some(v),
                None => d
                    .default
                    .as_deref()
                    .map(|raw| process(raw, esc, &|n| lookup(&meta, n)).map_err(at(*line)))
                    .transpose()?,
            };
            if let Some(v) = value {
                meta.push((d.name.clone(), v));
            }
        }
    }
    let names: Vec<Option<String>> = file.stages.iter().map(|s| s.name.clone()).collect();
    let stage_index = |name: &str, before: usize| -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        names[..before]
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|&i| i < before))
    };
    let target = match &opts.target {
        None => file.stages.len() - 1,
        Some(t) => stage_index(t, file.stages.len())
            .ok_or_else(|| build_err(format!("target stage {t:?} could not be found")))?,
    };
    let needed = reachable(&file, target, &meta, &stage_index)?;
    let mut built: Vec<Option<Stage>> = vec![None; file.stages.len()];
    let mut step_no = 0usize;
    let mut keep = Vec::new();
    let agents = AgentDir::new()?;
    let context = Context::open(&opts.context).map_err(build_err)?;
    let mut tools = None;
    for (si, stage_ast) in file.stages.iter().enumerate() {
        if !needed[si] {
            continue;
        }
        let base =
            process(&stage_ast.base, esc, &|n| lookup(&meta, n)).map_err(at(stage_ast.line))?;
        let mut st = match stage_index(&base, si).and_then(|i| built[i].clone()) {
            Some(parent) => parent,
            None => {
                let image = store
                    .resolve(&base)
                    .map_err(build_err)?
                    .ok_or_else(|| {
                        build_err(format!(
                            "Dockerfile line {}: image {base} is not in the local store (hush image import or pull it first)",
                            stage_ast.line
                        ))
                    })?;
                Stage::from_image(&base, image)?
            }
        };
        let label = stage_ast
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{si}"));
        let total = stage_ast.instructions.len() + 1;
        step_no += 1;
        progress(&format!("#{step_no} [{label} 1/{total}] FROM {base}"));
        let mut args: Vec<(String, String)> = Vec::new();
        for (ii, ins) in stage_ast.instructions.iter().enumerate() {
            let line = ins.line;
            step_no += 1;
            let shown = describe(&ins.command);
            progress(&format!("#{step_no} [{label} {}/{total}] {shown}", ii + 2));
            let word = |st: &Stage, args: &[(String, String)], raw: &str| {
                process(raw, esc, &|n| st.var(args, n)).map_err(at(line))
            };
            let mut layer_step = false;
            let mut step_agents = Vec::new();
            match &ins.command {
                Command::Arg(decls) => {
                    for ArgDecl { name, default } in decls {
                        let value = match (build_arg(name), default) {
                            (Some(v), _) => Some(v),
                            (None, Some(raw)) => Some(word(&st, &args, raw)?),
                            (None, None) => lookup(&meta, name),
                        };
                        args.retain(|(k, _)| k != name);
                        if let Some(v) = value {
                            st.ctr = st.ctr.with_env_variable(name, &v).map_err(build_err)?;
                            args.push((name.clone(), v));
                        }
                    }
                }
                Command::Env(pairs) => {
                    for (k, raw) in pairs {
                        let v = word(&st, &args, raw)?;
                        st.ctr = st.ctr.with_env_variable(k, &v).map_err(build_err)?;
                        st.env.retain(|(n, _)| n != k);
                        st.env.push((k.clone(), v));
                    }
                }
                Command::Label(pairs) => {
                    for (k, raw) in pairs {
                        let k = word(&st, &args, k)?;
                        let v = word(&st, &args, raw)?;
                        st.labels.insert(k, v);
                    }
                }
                Command::Workdir(raw) => {
                    let w = absolute(&st.workdir, &word(&st, &args, raw)?);
                    st.workdir = w.trim_end_matches('/').to_owned();
                    if st.workdir.is_empty() {
                        st.workdir.push('/');
                    }
                    st.ctr = st.ctr.with_workdir(&st.workdir).map_err(build_err)?;
                }
                Command::User(raw) => {
                    let u = word(&st, &args, raw)?;
                    st.ctr = st.ctr.with_user(&u).map_err(build_err)?;
                    st.user = Some(u);
                }
                Command::Cmd(c) => st.cmd = Some(c.argv(&st.shell)),
                Command::Entrypoint(c) => {
                    st.entrypoint = Some(c.argv(&st.shell));
                    st.cmd = None;
                }
                Command::Expose(words) => {
                    for w in words {
                        st.exposed
                            .extend(ports(&word(&st, &args, w)?).map_err(at(line))?);
                    }
                }
                Command::Volume(words) => {
                    for w in words {
                        st.volumes.insert(word(&st, &args, w)?);
                    }
                }
                Command::StopSignal(raw) => st.stop_signal = Some(word(&st, &args, raw)?),
                Command::Shell(list) => st.shell = list.clone(),
                Command::Maintainer(raw) => st.author = Some(word(&st, &args, raw)?),
                Command::Run {
                    mounts,
                    cmd,
                    heredocs,
                } => {
                    layer_step = true;
                    let step = RunStep {
                        st: &st,
                        args: &args,
                        line,
                        opts,
                        agents: &agents,
                        engine,
                        context: &context,
                        built: &built,
                        stage_index: &stage_index,
                        si,
                    };
                    let (ctr, served) = step.run(esc, mounts, cmd, heredocs, &mut keep).await?;
                    st.ctr = ctr;
                    // The step's agents serve until it has run (the sync below).
                    step_agents = served;
                }
                Command::Copy(c) | Command::Add(c) => {
                    layer_step = true;
                    let add = matches!(ins.command, Command::Add(_));
                    st.ctr = copy_step(
                        engine,
                        &st,
                        &args,
                        line,
                        esc,
                        c,
                        add,
                        opts,
                        &built,
                        &stage_index,
                        si,
                        &mut keep,
                        &mut tools,
                        &context,
                    )
                    .await?;
                }
            }
            let entry = HistoryBuilder::default()
                .created_by(shown)
                .empty_layer(!layer_step);
            let mut layer = None;
            if layer_step {
                st.ctr
                    .sync(engine)
                    .await
                    .map_err(|e| build_err(format!("Dockerfile line {line}: {e}")))?;
                for out in [st.ctr.stdout(engine).await, st.ctr.stderr(engine).await] {
                    for l in out.map_err(build_err)?.lines() {
                        progress(&format!("#{step_no} {l}"));
                    }
                }
                let n = st.ctr.layer_dirs(engine).await.map_err(build_err)?.len();
                layer = (n > st.layers).then(|| n - 1);
                st.layers = n;
            }
            drop(step_agents);
            st.history.push((entry.build().map_err(build_err)?, layer));
            progress(&format!("#{step_no} DONE"));
        }
        st.ctr = st.ctr.sync(engine).await.map_err(build_err)?;
        built[si] = Some(st);
    }
    let st = built[target]
        .take()
        .ok_or_else(|| build_err("the target stage was not built"))?;
    let image = match &opts.tag {
        Some(tag) => Some(export(engine, store, &st, tag, &opts.secrets).await?),
        None => None,
    };
    Ok(Built {
        container: st.ctr,
        image,
        _sources: keep,
    })
}

fn lookup(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Which stages the target needs (through `FROM <stage>` and `COPY --from=<stage>`).
fn reachable(
    file: &Dockerfile,
    target: usize,
    meta: &[(String, String)],
    stage_index: &(dyn Fn(&str, usize) -> Option<usize> + Sync),
) -> Result<Vec<bool>> {
    let mut needed = vec![false; file.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut needed[i], true) {
            continue;
        }
        let stage = &file.stages[i];
        let base =
            process(&stage.base, file.escape, &|n| lookup(meta, n)).map_err(at(stage.line))?;
        todo.extend(stage_index(&base, i));
        for ins in &stage.instructions {
            match &ins.command {
                Command::Copy(CopyArgs { from: Some(f), .. }) => {
                    let f = process(f, file.escape, &|n| lookup(meta, n)).map_err(at(ins.line))?;
                    todo.extend(stage_index(&f, i));
                }
                // A bad mount is reported when its step runs.
                Command::Run { mounts, .. } => {
                    for raw in mounts {
                        let value = process(raw, file.escape, &|n| lookup(meta, n));
                        if let Ok(RunMount::Bind(BindMount { from: Some(f), .. })) =
                            value.and_then(|v| parse_mount(&v))
                        {
                            todo.extend(stage_index(&f, i));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(needed)
}

/// The default target of the `n`th ssh mount of a step, as BuildKit has it.
fn default_agent_target(n: usize) -> String {
    format!("/run/buildkit/ssh_agent.{n}")
}

/// A RUN: the secrets and SSH agent sockets attached for this exec only.
struct RunStep<'a> {
    st: &'a Stage,
    args: &'a [(String, String)],
    line: usize,
    opts: &'a BuildOptions,
    /// A private (0700) directory for the step's agent sockets.
    agents: &'a AgentDir,
    engine: &'a Engine,
    context: &'a Context,
    /// The stages built so far, for `--mount=type=bind,from=<stage>`.
    built: &'a [Option<Stage>],
    stage_index: &'a (dyn Fn(&str, usize) -> Option<usize> + Sync),
    /// This stage's index.
    si: usize,
}

impl RunStep<'_> {
    /// The step's container, and the agent sockets it needs served while it runs; staged bind
    /// sources go to `keep`.
    async fn run(
        &self,
        esc: char,
        mounts: &[String],
        cmd: &ShellOrExec,
        heredocs: &[Heredoc],
        keep: &mut Vec<tempfile::TempDir>,
    ) -> Result<(Container, Vec<AgentListener>)> {
        let (st, line) = (self.st, self.line);
        let mut ctr = st.ctr.clone();
        let mut undo: Vec<Undo> = Vec::new();
        let mut served = Vec::new();
        let mut ssh_index = 0;
        for raw in mounts {
            let value = process(raw, esc, &|n| st.var(self.args, n)).map_err(at(line))?;
            match parse_mount(&value).map_err(|message| DockerfileError::Mount { line, message })? {
                RunMount::Secret(m) => ctr = self.secret(ctr, &m, &mut undo)?,
                RunMount::Bind(m) => {
                    let target = self.target(&m.target);
                    ctr = self.bind(ctr, &target, &m, keep).await?;
                    undo.push(Undo::Mount(target));
                }
                RunMount::Cache(m) => {
                    let target = self.target(&m.target);
                    ctr = self.cache(ctr, &target, &m)?;
                    undo.push(Undo::Mount(target));
                }
                RunMount::Tmpfs(m) => {
                    let target = self.target(&m.target);
                    ctr = ctr
                        .with_mounted_temp(&target, m.size)
                        .map_err(self.mount_err())?;
                    undo.push(Undo::Mount(target));
                }
                RunMount::Ssh(m) => {
                    let n = ssh_index;
                    ssh_index += 1;
                    if let Some(listener) = self.ssh(&mut ctr, &m, n, &mut undo)? {
                        served.push(listener);
                    }
                }
            }
        }
        let argv = match cmd {
            ShellOrExec::Shell(text) if !heredocs.is_empty() => match heredoc_run(text, heredocs) {
                HeredocRun::Shell(script) => ShellOrExec::Shell(script).argv(&st.shell),
                HeredocRun::Script { name, body } => {
                    let name = heredoc_file_name(line, &name)?;
                    let dir = heredoc_dir("hush-heredoc-")?;
                    write_heredoc_file(&dir.path().join(name), &body, 0o755)?;
                    let pipes = Directory::host(dir.path()).map_err(build_err)?;
                    keep.push(dir);
                    ctr = ctr
                        .with_mounted_directory(PIPES_MOUNT, &pipes)
                        .map_err(build_err)?;
                    undo.push(Undo::Mount(PIPES_MOUNT.to_owned()));
                    ShellOrExec::Shell(format!("{PIPES_MOUNT}/{name}")).argv(&st.shell)
                }
            },
            _ => cmd.argv(&st.shell),
        };
        ctr = ctr.with_exec(&argv).map_err(build_err)?;
        for u in undo {
            ctr = match u {
                Undo::Mount(p) => ctr.without_mount(&p),
                Undo::SecretEnv(n) => ctr.without_secret_variable(&n),
                Undo::Env(n) => ctr.without_env_variable(&n),
            }
            .map_err(build_err)?;
        }
        Ok((ctr, served))
    }

    fn mount_err(&self) -> impl Fn(hush_engine::EngineError) -> DockerfileError {
        let line = self.line;
        move |e| DockerfileError::Mount {
            line,
            message: e.to_string(),
        }
    }

    /// A mount target, absolute (relative ones start at WORKDIR).
    fn target(&self, target: &str) -> String {
        let path = absolute(&self.st.workdir, target);
        path.trim_end_matches('/').to_owned()
    }

    /// A bind mount of the build context (filtered by `.dockerignore`; only the source is
    /// staged, so the step's key covers exactly it) or of a stage or image: a directory is
    /// writable with writes discarded, a file is read-only.
    async fn bind(
        &self,
        ctr: Container,
        target: &str,
        m: &BindMount,
        keep: &mut Vec<tempfile::TempDir>,
    ) -> Result<Container> {
        let line = self.line;
        let Some(from) = &m.from else {
            let rels = self.context.expand(&m.source).map_err(at(line))?;
            let [rel] = &rels[..] else {
                return Err(at(line)(format!(
                    "bind mount source {} names {} files; it must name one",
                    m.source,
                    rels.len()
                )));
            };
            let staged = tempfile::Builder::new()
                .prefix("hush-bind-")
                .tempdir()
                .map_err(|e| build_err(format!("cannot make a directory for a bind: {e}")))?;
            self.context
                .stage(rel, staged.path())
                .map_err(|e| at(line)(format!("cannot read {rel} of the build context: {e}")))?;
            let dir = Directory::host(staged.path()).map_err(build_err)?;
            let source = staged.path().join(rel);
            keep.push(staged);
            return if source.is_dir() {
                let dir = Directory::host(&source).map_err(build_err)?;
                ctr.with_mounted_directory(target, &dir)
            } else {
                ctr.with_mounted_file(target, &dir.file(rel).map_err(build_err)?)
            }
            .map_err(self.mount_err());
        };
        let stage = (self.stage_index)(from, self.si).and_then(|i| self.built[i].as_ref());
        let base = match stage {
            Some(stage) => stage.ctr.clone(),
            None => Container::new().from(from).map_err(build_err)?,
        };
        let source = absolute("/", &m.source);
        let failed = |e: hush_engine::EngineError| {
            build_err(format!(
                "Dockerfile line {line}: bind mount from={from} source={source}: {e}"
            ))
        };
        match base.directory(self.engine, &source).await {
            Ok(dir) => ctr.with_mounted_directory(target, &dir),
            Err(hush_engine::EngineError::WrongKind { .. }) => {
                let file = base.file(self.engine, &source).await.map_err(failed)?;
                ctr.with_mounted_file(target, &file)
            }
            Err(e) => return Err(failed(e)),
        }
        .map_err(self.mount_err())
    }

    /// A cache mount: the engine's cache volume named by the mount's ID.
    fn cache(&self, ctr: Container, target: &str, m: &CacheMount) -> Result<Container> {
        if m.from.is_some() || m.source.is_some() {
            return Err(DockerfileError::Mount {
                line: self.line,
                message: "cache mounts seeded from another stage (from=, source=) are not \
                          supported by hush"
                    .into(),
            });
        }
        let volume = CacheVolume::new(&m.id).map_err(self.mount_err())?;
        let options = CacheMountOptions {
            sharing: m.sharing,
            owner: Some(format!("{}:{}", m.uid, m.gid)),
            mode: m.mode,
            readonly: m.readonly,
        };
        ctr.with_mounted_cache(target, &volume, options)
            .map_err(self.mount_err())
    }

    fn secret(&self, ctr: Container, m: &SecretMount, undo: &mut Vec<Undo>) -> Result<Container> {
        let Some(secret) = self.opts.secrets.get(&m.id) else {
            if m.required {
                return Err(DockerfileError::SecretNotFound {
                    line: self.line,
                    id: m.id.clone(),
                });
            }
            return Ok(ctr);
        };
        let mut ctr = ctr;
        if let Some(target) = &m.target {
            let path = absolute(&self.st.workdir, target);
            let path = path.trim_end_matches('/');
            let owner = format!("{}:{}", m.uid, m.gid);
            ctr = ctr
                .with_mounted_secret(path, secret, Some(&owner), Some(m.mode))
                .map_err(self.mount_err())?;
            undo.push(Undo::Mount(path.to_owned()));
        }
        if let Some(name) = &m.env {
            ctr = ctr
                .with_secret_variable(name, secret)
                .map_err(self.mount_err())?;
            undo.push(Undo::SecretEnv(name.clone()));
        }
        Ok(ctr)
    }

    /// Serves the agent `m` names on a new socket and mounts it; the first mounted agent
    /// becomes `SSH_AUTH_SOCK` unless the step's environment already has one. A missing
    /// optional agent mounts nothing and sets nothing.
    fn ssh(
        &self,
        ctr: &mut Container,
        m: &SshMount,
        n: usize,
        undo: &mut Vec<Undo>,
    ) -> Result<Option<AgentListener>> {
        let Some(agent) = self.opts.ssh.get(&m.id) else {
            if m.required {
                return Err(DockerfileError::SshNotFound {
                    line: self.line,
                    id: m.id.clone(),
                    none_forwarded: self.opts.ssh.is_empty(),
                });
            }
            return Ok(None);
        };
        let target = m.target.clone().unwrap_or_else(|| default_agent_target(n));
        let target = absolute(&self.st.workdir, &target);
        let target = target.trim_end_matches('/').to_owned();
        let listener = agent
            .serve(&self.agents.next_path(), m.uid, m.gid, m.mode)
            .map_err(|e| DockerfileError::Mount {
                line: self.line,
                message: format!("ssh {}: {e}", m.id),
            })?;
        // The key names the agent and the socket's owner and mode, never its host path, so a
        // step with the same agent ID hits the cache across builds (as in BuildKit).
        let key = format!("ssh {} {}:{} {:o}", m.id, m.uid, m.gid, m.mode);
        let socket = Socket::new(key, listener.path());
        *ctr = ctr
            .with_unix_socket(&target, &socket)
            .map_err(self.mount_err())?;
        undo.push(Undo::Mount(target.clone()));
        let has_sock = undo.iter().any(|u| matches!(u, Undo::Env(_)))
            || self.st.var(self.args, SSH_AUTH_SOCK).is_some();
        if !has_sock {
            *ctr = ctr
                .with_env_variable(SSH_AUTH_SOCK, &target)
                .map_err(self.mount_err())?;
            undo.push(Undo::Env(SSH_AUTH_SOCK.to_owned()));
        }
        Ok(Some(listener))
    }
}

/// The variable that names the agent socket.
const SSH_AUTH_SOCK: &str = "SSH_AUTH_SOCK";

enum Undo {
    Mount(String),
    SecretEnv(String),
    Env(String),
}

/// A private directory (0700) holding the agent sockets a build serves.
struct AgentDir {
    dir: tempfile::TempDir,
    count: std::sync::atomic::AtomicUsize,
}

impl AgentDir {
    fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("hush-ssh-")
            .tempdir()
            .map_err(|e| build_err(format!("cannot make a directory for agent sockets: {e}")))?;
        Ok(Self {
            dir,
            count: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn next_path(&self) -> PathBuf {
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.dir.path().join(format!("agent.{n}"))
    }
}

/// A COPY or ADD: the source and the copy tools mounted, copied as root, the mounts removed.
#[allow(clippy::too_many_arguments)]
async fn copy_step(
    engine: &Engine,
    st: &Stage,
    args: &[(String, String)],
    line: usize,
    esc: char,
    c: &CopyArgs,
    add: bool,
    opts: &BuildOptions,
    built: &[Option<Stage>],
    stage_index: &(dyn Fn(&str, usize) -> Option<usize> + Sync),
    si: usize,
    keep: &mut Vec<tempfile::TempDir>,
    tools: &mut Option<Directory>,
    context: &Context,
) -> Result<Container> {
    let word = |raw: &str| process(raw, esc, &|n| st.var(args, n)).map_err(at(line));
    let mut sources = Vec::new();
    for raw in &c.sources {
        let s = word(raw)?;
        if c.from.is_some() && s.contains(['*', '?', '[']) {
            return Err(at(line)(format!(
                "wildcards in --from sources ({s}) are not supported by hush"
            )));
        }
        if add && crate::git::is_git_url(&s) {
            if c.sources.len() != 1 {
                return Err(at(line)("ADD of a git repository takes one source".into()));
            }
        } else if add && s.contains("://") && !crate::http::is_http_url(&s) {
            return Err(at(line)(format!(
                "ADD of remote sources other than git and http(s) ({}) is not supported by hush",
                crate::http::redact(&s)
            )));
        }
        sources.push(s);
    }
    let dest = absolute(&st.workdir, &word(&c.dest)?);
    let git = sources.first().filter(|s| add && crate::git::is_git_url(s));
    // URLs (not git): downloaded on the host, copied as they are (never unpacked).
    let urls = if git.is_none() && add {
        sources
            .iter()
            .filter(|s| crate::http::is_http_url(s))
            .count()
    } else {
        0
    };
    if urls > 0 && urls != sources.len() {
        return Err(at(line)(
            "ADD of URLs and local files in one instruction is not supported by hush; use two"
                .into(),
        ));
    }
    let checksum = c.checksum.as_deref().map(word).transpose()?;
    if checksum.is_some() && urls == 0 {
        return Err(at(line)(format!(
            "checksum can't be specified for non-HTTP(S) sources ({})",
            sources.join(" ")
        )));
    }
    let (mount, dir, owner_default) = match &c.from {
        None if urls > 0 => {
            let downloads = tempfile::Builder::new()
                .prefix("hush-http-")
                .tempdir()
                .map_err(|e| build_err(format!("cannot make a directory for a download: {e}")))?;
            let mut in_ctr = Vec::new();
            for (i, url) in sources.iter().enumerate() {
                let into = downloads.path().join(i.to_string());
                std::fs::create_dir(&into).map_err(|e| {
                    build_err(format!("cannot make a directory for a download: {e}"))
                })?;
                let name = crate::http::download(url, &into, checksum.as_deref(), &opts.secrets)
                    .await
                    .map_err(|e| build_err(format!("Dockerfile line {line}: {e}")))?;
                in_ctr.push(format!("{HTTP_MOUNT}/{i}/{name}"));
            }
            sources = in_ctr;
            let dir = Directory::host(downloads.path()).map_err(build_err)?;
            keep.push(downloads);
            (HTTP_MOUNT, dir, Some("0:0"))
        }
        None if git.is_some() => {
            let clone = tempfile::Builder::new()
                .prefix("hush-git-")
                .tempdir()
                .map_err(|e| build_err(format!("cannot make a directory for a clone: {e}")))?;
            let checkout = clone.path().join("src");
            crate::git::clone(
                &sources[0],
                &checkout,
                &opts.secrets,
                &opts.ssh,
                &opts.credentials,
            )
            .map_err(|e| build_err(format!("Dockerfile line {line}: {e}")))?;
            let dir = Directory::host(&checkout).map_err(build_err)?;
            keep.push(clone);
            sources = vec![GIT_MOUNT.to_owned()];
            (GIT_MOUNT, dir, Some("0:0"))
        }
        None => {
            // Only the sources, filtered by .dockerignore, are mounted: the step's cache key
            // covers exactly what it copies.
            let staged = tempfile::Builder::new()
                .prefix("hush-context-")
                .tempdir()
                .map_err(|e| build_err(format!("cannot make a directory for a copy: {e}")))?;
            let mut in_ctr = Vec::new();
            for s in &sources {
                for rel in context.expand(s).map_err(at(line))? {
                    context.stage(&rel, staged.path()).map_err(|e| {
                        at(line)(format!("cannot read {rel} of the build context: {e}"))
                    })?;
                    in_ctr.push(if rel.is_empty() {
                        CONTEXT_MOUNT.to_owned()
                    } else {
                        format!("{CONTEXT_MOUNT}/{rel}")
                    });
                }
            }
            sources = in_ctr;
            let dir = Directory::host(staged.path()).map_err(build_err)?;
            keep.push(staged);
            (CONTEXT_MOUNT, dir, Some("0:0"))
        }
        Some(f) => {
            let f = word(f)?;
            let from = match stage_index(&f, si).and_then(|i| built[i].as_ref()) {
                Some(stage) => stage.ctr.clone(),
                None => Container::new().from(&f).map_err(build_err)?,
            };
            let dir = from
                .directory(engine, "/")
                .await
                .map_err(|e| build_err(format!("Dockerfile line {line}: COPY --from={f}: {e}")))?;
            sources = sources
                .iter()
                .map(|s| format!("{FROM_MOUNT}{}", absolute("/", s).trim_end_matches('/')))
                .collect();
            (FROM_MOUNT, dir, None)
        }
    };
    // Heredoc sources: files named after the heredoc (one directory each, names may repeat),
    // mode 0644, the body's variables expanded unless the name was quoted.
    let mut heredocs = None;
    if !c.heredocs.is_empty() {
        let staged = heredoc_dir("hush-heredoc-")?;
        for (i, doc) in c.heredocs.iter().enumerate() {
            let name = heredoc_file_name(line, &doc.name)?;
            let body = if doc.expand {
                process_raw(&doc.body(), '\\', &|n| st.var(args, n)).map_err(at(line))?
            } else {
                doc.body()
            };
            let sub = staged.path().join(i.to_string());
            std::fs::create_dir(&sub)
                .map_err(|e| build_err(format!("cannot make a directory for a heredoc: {e}")))?;
            write_heredoc_file(&sub.join(name), &body, 0o644)?;
            sources.push(format!("{HEREDOC_MOUNT}/{i}/{name}"));
        }
        heredocs = Some(Directory::host(staged.path()).map_err(build_err)?);
        keep.push(staged);
    }
    let owner = match &c.chown {
        Some(o) => Some(word(o)?),
        None => owner_default.map(str::to_owned),
    };
    let mode = c
        .chmod
        .as_deref()
        .map(word)
        .transpose()?
        .unwrap_or_default();
    let mut argv: Vec<String> = vec![
        format!("{TOOLS_MOUNT}/sh"),
        "-c".into(),
        COPY_SCRIPT.into(),
        "copy".into(),
        owner.unwrap_or_default(),
        mode,
        dest,
        if sources.len() > 1 { "1" } else { "0" }.into(),
        if add && urls == 0 { "1" } else { "0" }.into(),
    ];
    argv.extend(sources);
    let restore = st.user.clone().unwrap_or_else(|| "0".into());
    let tools = match tools {
        Some(t) => t.clone(),
        None => tools.insert(copy_tools(keep)?).clone(),
    };
    let mut ctr = st
        .ctr
        .with_user("0")
        .and_then(|x| x.with_mounted_directory(mount, &dir))
        .map_err(build_err)?;
    if let Some(h) = &heredocs {
        ctr = ctr
            .with_mounted_directory(HEREDOC_MOUNT, h)
            .map_err(build_err)?;
    }
    ctr = ctr
        .with_mounted_directory(TOOLS_MOUNT, &tools)
        .and_then(|x| x.with_exec(&argv))
        .and_then(|x| x.without_mount(TOOLS_MOUNT))
        .map_err(build_err)?;
    if heredocs.is_some() {
        ctr = ctr.without_mount(HEREDOC_MOUNT).map_err(build_err)?;
    }
    ctr.without_mount(mount)
        .and_then(|x| x.with_user(&restore))
        .map_err(build_err)
}

/// The host's busybox: Debian's busybox-static installs a static `/bin/busybox`, which runs in
/// any root filesystem.
const HOST_BUSYBOX: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

/// A directory with a copy of the host's static busybox and a link per applet the copy script
/// uses (kept alive by `keep`).
fn copy_tools(keep: &mut Vec<tempfile::TempDir>) -> Result<Directory> {
    let busybox = HOST_BUSYBOX
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            build_err("COPY and ADD need a static busybox on the host (Debian: busybox-static)")
        })?;
    let dir = tempfile::Builder::new()
        .prefix("hush-copy-tools-")
        .tempdir()
        .map_err(|e| build_err(format!("cannot make a directory for the copy tools: {e}")))?;
    let io = |e: std::io::Error| build_err(format!("cannot set up the copy tools: {e}"));
    std::fs::copy(busybox, dir.path().join("busybox")).map_err(io)?;
    for applet in TOOLS {
        std::os::unix::fs::symlink("busybox", dir.path().join(applet)).map_err(io)?;
    }
    let tools = Directory::host(dir.path()).map_err(build_err)?;
    keep.push(dir);
    Ok(tools)
}

/// Stores the stage as an image: the root image's layers as they are, one new layer per
/// step that changed the filesystem, and a config with ENV/WORKDIR/USER/LABEL/CMD/
/// ENTRYPOINT and history (never a secret value: secrets only ever reach single execs).
async fn export(
    engine: &Engine,
    store: &ImageStore,
    st: &Stage,
    tag: &str,
    secrets: &HashMap<String, Secret>,
) -> Result<hush_image::ImageRef> {
    let scanner = LeakScanner::new(secrets.iter().map(|(id, s)| (id.clone(), s.expose())));
    let dirs = st.ctr.layer_dirs(engine).await.map_err(build_err)?;
    let base = st.root.manifest.layers().len();
    let ingest = store.ingest().map_err(build_err)?;
    let mut layers: Vec<Descriptor> = st.root.manifest.layers().to_vec();
    let mut config = st.root.config.clone();
    // Steps that changed nothing are not exported (their history says so).
    let mut changed = vec![false; dirs.len()];
    for (i, dir) in dirs.iter().enumerate().skip(base) {
        // A step that wrote a secret into its filesystem would put it in a stored layer.
        let leaks = scanner.scan(dir, None).map_err(build_err)?;
        if let Some(leak) = leaks.first() {
            let step = st
                .history
                .iter()
                .find(|(_, layer)| *layer == Some(i))
                .and_then(|(h, _)| h.created_by().clone())
                .unwrap_or_default();
            return Err(DockerfileError::SecretInImage {
                secret: leak.secret.clone(),
                place: format!("file {}, written by `{step}`", leak.path),
            });
        }
        let lowers: Vec<PathBuf> = dirs[..i].iter().rev().cloned().collect();
        let mut bytes = Vec::new();
        let entries = write_layer_tar(dir, &lowers, &mut bytes)
            .map_err(|e| build_err(format!("cannot write a layer: {e}")))?;
        if entries == 0 {
            continue;
        }
        let blob = ingest.write_blob(&bytes[..], None).map_err(build_err)?;
        // Two steps can make byte-identical layers (same changes within one second). Right
        // after each other the second changes nothing, so it is left out; further apart they
        // would have to be stacked as one shared layer directory twice, which overlayfs
        // refuses, so the build says so instead of storing an image that cannot run.
        if layers.last().is_some_and(|l| l.digest() == &blob.digest) {
            continue;
        }
        if layers.iter().any(|l| l.digest() == &blob.digest) {
            return Err(build_err(format!(
                "two non-adjacent steps made the identical layer {}; change one of them",
                blob.digest
            )));
        }
        changed[i] = true;
        config
            .rootfs_mut()
            .diff_ids_mut()
            .push(blob.digest.to_string());
        layers.push(Descriptor::new(
            MediaType::ImageLayer,
            blob.size,
            blob.digest,
        ));
    }
    let history = st
        .history
        .iter()
        .map(|(h, layer)| {
            let mut h = h.clone();
            if let Some(i) = layer {
                h.set_empty_layer(Some(!changed.get(*i).copied().unwrap_or(false)));
            }
            h
        })
        .collect();
    let mut cfg: Config = config.config().clone().unwrap_or_default();
    cfg.set_env(Some(
        st.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    ));
    cfg.set_working_dir(Some(st.workdir.clone()));
    cfg.set_user(st.user.clone());
    cfg.set_labels((!st.labels.is_empty()).then(|| st.labels.clone().into_iter().collect()));
    cfg.set_cmd(st.cmd.clone());
    cfg.set_entrypoint(st.entrypoint.clone());
    let set = |s: &BTreeSet<String>| (!s.is_empty()).then(|| s.iter().cloned().collect());
    cfg.set_exposed_ports(set(&st.exposed));
    cfg.set_volumes(set(&st.volumes));
    cfg.set_stop_signal(st.stop_signal.clone());
    config.set_author(st.author.clone());
    config.set_config(Some(cfg));
    config.set_history(Some(history));
    // ENV, ARG-derived values, labels and history are stored in the clear: none may hold a
    // secret (e.g. `--build-arg TOKEN=...` with the value of a `--secret`).
    let json = serde_json::to_vec(&config).map_err(build_err)?;
    if let Some(secret) = scanner.find_in(&json).into_iter().next() {
        return Err(DockerfileError::SecretInImage {
            secret,
            place: "config: ENV, LABEL, CMD, ENTRYPOINT, USER, WORKDIR or history".into(),
        });
    }
    ingest
        .put_image(&config, &layers, Some(tag))
        .map_err(build_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_words_become_port_entries() {
        assert_eq!(ports("80").unwrap(), ["80/tcp"]);
        assert_eq!(ports("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            ports("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        for bad in ["0", "http", "80/icmp", "9-3", "70000", "80/"] {
            assert!(ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_resolve_against_workdir() {
        assert_eq!(absolute("/app", "x/y"), "/app/x/y");
        assert_eq!(absolute("/app", "../etc/"), "/etc/");
        assert_eq!(absolute("/", "/a/./b"), "/a/b");
    }

    #[test]
    fn steps_are_described_without_mount_flags() {
        let df = crate::parse::parse(
            "FROM busybox\nRUN --mount=type=secret,id=s cat /run/secrets/s\nCOPY --from=a x /y\n",
        )
        .unwrap();
        let shown: Vec<String> = df.stages[0]
            .instructions
            .iter()
            .map(|i| describe(&i.command))
            .collect();
        assert_eq!(shown, vec!["RUN cat /run/secrets/s", "COPY --from=a x /y"]);
    }

    #[test]
    fn heredoc_runs_follow_buildkits_dispatch() {
        let df = crate::parse::parse(
            "FROM busybox\n\
             RUN <<EOF\n\tset -e\necho $A\nEOF\n\
             RUN <<-EOF\n\t\techo tabs\nEOF\n\
             RUN <<script\n#!/bin/sh\necho hi\nscript\n\
             RUN python3 <<'PY'\nprint(1)\nPY\n\
             RUN <<A cat > /a && <<-B cat > /b\na\nA\n\tb\n\tB\n\
             COPY x <<f1 <<f2 /d/\nf1\nf2\n",
        )
        .unwrap();
        let runs: Vec<HeredocRun> = df.stages[0]
            .instructions
            .iter()
            .filter_map(|i| match &i.command {
                Command::Run {
                    cmd: ShellOrExec::Shell(t),
                    heredocs,
                    ..
                } => Some(heredoc_run(t, heredocs)),
                _ => None,
            })
            .collect();
        assert_eq!(
            runs,
            [
                HeredocRun::Shell("\tset -e\necho $A\n".into()),
                HeredocRun::Shell("echo tabs\n".into()),
                HeredocRun::Script {
                    name: "script".into(),
                    body: "#!/bin/sh\necho hi\n".into()
                },
                HeredocRun::Shell("python3 <<'PY'\nprint(1)\nPY".into()),
                HeredocRun::Shell("<<A cat > /a && <<-B cat > /b\na\nA\n\tb\nB".into()),
            ]
        );
        let shown: Vec<String> = df.stages[0]
            .instructions
            .iter()
            .map(|i| describe(&i.command))
            .collect();
        assert_eq!(
            shown,
            [
                "RUN <<EOF (set -e...)",
                "RUN <<-EOF (echo tabs)",
                "RUN <<script (#!/bin/sh...)",
                "RUN python3 <<'PY'",
                "RUN <<A cat > /a && <<-B cat > /b",
                "COPY x <<f1 <<f2 /d/",
            ]
        );
        assert!(heredoc_file_name(3, "a.txt").is_ok());
        for bad in ["", ".", "..", "a/b"] {
            let e = heredoc_file_name(3, bad).unwrap_err().to_string();
            assert!(e.starts_with("Dockerfile line 3: heredoc name"), "{e}");
        }
    }
}
