//! `hush build`: Dockerfile builds with Docker's flag grammar. Secret values come from
//! files, environment variables or any provider URI (`--secret id=aws,src=vault://...`);
//! `--ssh` agents reach `RUN --mount=type=ssh` steps and SSH git sources, read-only; steps and their output are shown on stderr through the session scrubber. Steps go through
//! the persistent cache like every exec.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use hush_dockerfile::flags::{parse_build_arg, parse_secret_flag, SecretSource};
use hush_dockerfile::{BuildOptions, DockerfileError};
use hush_engine::Engine;
use hush_image::ImageStore;
use hush_session::Session;
use hush_sshagent::SshSources;

use crate::exit::Failure;
use crate::output::print;

/// Arguments of `hush build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// A secret: `id=ID[,src=PATH|URI][,env=VAR][,type=file|env]`; `id=X` alone reads $X if
    /// set, else the file X. `src=` may be any provider URI, e.g. `src=vault://kv/app#token`.
    #[arg(long = "secret", value_name = "SPEC")]
    secrets: Vec<String>,
    /// An SSH agent for `RUN --mount=type=ssh` and git sources over SSH: `default` or `ID`
    /// ($SSH_AUTH_SOCK), or `ID=SOCKET` or `ID=KEY[,KEY...]` (private key files, loaded into an
    /// in-memory agent). Forwarded agents are read-only: adding, removing and locking keys are
    /// refused.
    #[arg(long = "ssh", value_name = "ID[=SOCKET|KEY,...]")]
    ssh: Vec<String>,
    /// A build argument `NAME=VALUE` (or `NAME`, taken from the environment).
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    build_args: Vec<String>,
    /// The stage to build (default: the last one).
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Store the result in the local image store under this tag.
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    tag: Option<String>,
    /// The build context: a directory, or a git repository URL (`https://host/repo.git[#ref]`,
    /// fetched with the `GIT_AUTH_TOKEN`/`GIT_AUTH_HEADER` secrets; `ssh://` or `git@host:path`,
    /// fetched through the `default` SSH agent).
    context: String,
}

impl From<DockerfileError> for Failure {
    fn from(err: DockerfileError) -> Self {
        match err {
            DockerfileError::Flag(_) => Self::Usage(err.to_string()),
            _ => Self::Work(err.to_string()),
        }
    }
}

/// Reads every `--secret` (last one wins per ID) into session secrets. Every value is read,
/// and known to the scrubber, before a failure is reported: a failing source's message (a
/// `cmd://` secret's stderr) may quote another secret's value.
async fn secrets(
    specs: &[String],
    session: &Session,
) -> Result<HashMap<String, hush_secrets::Secret>, Failure> {
    let flags = specs
        .iter()
        .map(|spec| parse_secret_flag(spec, &|name| std::env::var_os(name).is_some()))
        .collect::<Result<Vec<_>, _>>()?;
    let uris: Vec<&str> = flags
        .iter()
        .filter_map(|flag| match &flag.source {
            SecretSource::Uri(uri) => Some(uri.as_str()),
            SecretSource::Env(_) | SecretSource::File(_) => None,
        })
        .collect();
    let mut local = Vec::new();
    for flag in &flags {
        let id = &flag.id;
        local.push(match &flag.source {
            SecretSource::Uri(_) => None,
            SecretSource::Env(var) => Some(match std::env::var_os(var) {
                Some(value) => session
                    .set_secret(id, value.as_encoded_bytes())
                    .map_err(Failure::from),
                None => Err(Failure::Work(format!(
                    "secret {id}: the environment variable {var} is not set"
                ))),
            }),
            SecretSource::File(path) => Some(match std::fs::read(path) {
                Ok(value) => session.set_secret(id, &value).map_err(Failure::from),
                Err(e) => Err(Failure::Work(format!(
                    "secret {id}: cannot read the file {path}: {e}"
                ))),
            }),
        });
    }
    let mut resolved = session.store().resolve_all(&uris).await.into_iter();
    let mut out = HashMap::new();
    for (flag, local) in flags.into_iter().zip(local) {
        let secret = match local {
            Some(result) => result?,
            None => resolved.next().expect("one result per URI")?,
        };
        out.insert(flag.id, secret);
    }
    Ok(out)
}

/// Runs the build; prints the image digest on stdout when a tag is given.
pub async fn run(args: BuildArgs, session: Arc<Session>) -> Result<u8, Failure> {
    let secrets = secrets(&args.secrets, &session).await?;
    let mut ssh = SshSources::default();
    let auth_sock = std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from);
    let credentials = session.store().credentials();
    for spec in &args.ssh {
        let learn = |key: &[u8]| credentials.register(&format!("the SSH key of --ssh {spec}"), key);
        ssh.add(spec, auth_sock.as_deref(), &learn)
            .map_err(|e| Failure::Usage(format!("--ssh {spec}: {e}")))?;
    }
    let mut _clone = None;
    let context = if hush_dockerfile::git::is_git_url(&args.context) {
        let dir = tempfile::Builder::new()
            .prefix("hush-git-context-")
            .tempdir()
            .map_err(|e| Failure::Work(format!("cannot make a directory for the clone: {e}")))?;
        let checkout = dir.path().join("src");
        hush_dockerfile::git::clone(&args.context, &checkout, &secrets, &ssh, &credentials)?;
        _clone = Some(dir);
        checkout
    } else {
        PathBuf::from(&args.context)
    };
    if !context.is_dir() {
        return Err(Failure::Usage(format!(
            "the build context {} is not a directory",
            context.display()
        )));
    }
    let dockerfile_path = args
        .file
        .clone()
        .unwrap_or_else(|| context.join("Dockerfile"));
    let dockerfile = std::fs::read_to_string(&dockerfile_path).map_err(|e| {
        Failure::Usage(format!(
            "cannot read the Dockerfile {}: {e}",
            dockerfile_path.display()
        ))
    })?;
    let mut build_args = Vec::new();
    for a in &args.build_args {
        build_args.extend(parse_build_arg(a, &|n| std::env::var(n).ok())?);
    }
    let opts = BuildOptions {
        dockerfile,
        context,
        build_args,
        target: args.target.clone(),
        secrets,
        ssh,
        tag: args.tag.clone(),
        credentials,
    };
    let failure = |e: &dyn std::fmt::Display| Failure::Work(e.to_string());
    let home = session.home().map_err(|e| failure(&e))?;
    let store = ImageStore::open(&home.join("images")).map_err(|e| failure(&e))?;
    // Steps are cached like execs: keyed by the op chain, the context's contents and the
    // secrets' keyed MACs, never their values.
    let engine = Engine::with_images(
        session.scrubber().clone(),
        Arc::new(store.clone()),
        home.join("engine"),
        hush_query::persistent_cache(&session).map_err(|e| failure(&e))?,
    )
    .map_err(|e| failure(&e))?;
    let console = session.console();
    let mut progress = |line: &str| console.note(line);
    let built = hush_dockerfile::build(&engine, &store, &opts, &mut progress).await?;
    if let Some(image) = built.image {
        progress(&format!("naming to {image}"));
        print(console, format!("{}\n", image.digest).as_bytes())?;
    }
    Ok(0)
}
