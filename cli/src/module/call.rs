//! `hush functions`, `hush call` and `hush __session`: starting an SDK process on a private
//! channel to this session, and serving it.

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use clap::Args;
use hush_console::{Console, Stream};
use hush_session::Session;
use serde_json::{json, Map, Value};
use tokio::net::UnixStream;

use super::describe::{FlagValue, ModuleDesc};
use super::protocol::{read_frame, reply, write_frame, ProtoError};
use super::server::SessionServer;
use crate::exit::Failure;
use crate::output::print;

/// `hush functions [-m DIR]`.
#[derive(Args)]
pub struct FunctionsArgs {
    /// The module directory (holding hush.json).
    #[arg(short = 'm', long = "mod", default_value = ".")]
    module: PathBuf,
}

/// `hush call [-m DIR] FUNCTION [--flag=value ...]`.
#[derive(Args)]
pub struct CallArgs {
    /// The module directory (holding hush.json).
    #[arg(short = 'm', long = "mod", default_value = ".")]
    module: PathBuf,
    /// The function (kebab-case) and its flags; `FUNCTION --help` shows them.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "FUNCTION [FLAGS]"
    )]
    words: Vec<String>,
}

/// `hush __session --fd N`: serves a plain SDK script's session on an inherited socket.
#[derive(Args)]
pub struct SessionArgs {
    /// The inherited socket.
    #[arg(long)]
    fd: i32,
}

/// `hush.json`: what a module is.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Manifest {
    /// The module's name (kebab-case); its main object is the PascalCase form.
    pub name: String,
    /// The SDK: `python`.
    pub sdk: String,
    /// The main source file, relative to the module directory.
    pub source: String,
}

/// `hush functions`.
pub async fn functions(args: FunctionsArgs, session: Arc<Session>) -> Result<u8, Failure> {
    let server = server(&session)?;
    let mut run = ModuleRun::start(&args.module, &session, &BTreeSet::new()).await?;
    let module = run.describe().await?;
    run.answer(Value::Null).await?;
    let status = run.finish(&server, None).await?;
    if !status.success() {
        return Err(Failure::Work(format!(
            "the module process failed ({status})"
        )));
    }
    print(session.console(), module.listing().as_bytes())?;
    Ok(0)
}

/// `hush call`: prints the function's result, scrubbed.
pub async fn call(args: CallArgs, session: Arc<Session>) -> Result<u8, Failure> {
    let server = server(&session)?;
    let (function, flags) = args.words.split_first().expect("clap requires FUNCTION");
    let mut run = ModuleRun::start(&args.module, &session, &consumed_env(flags)).await?;
    let module = run.describe().await?;
    let planned = plan(&module, function, flags, session.console());
    let given = match planned {
        Ok(Some(given)) => given,
        Ok(None) | Err(_) => {
            run.answer(Value::Null).await?;
            run.finish(&server, None).await?;
            return planned.map(|_| 0);
        }
    };
    let name = given.0.clone();
    let args = match resolve_args(&server, &session, given.1).await {
        Ok(args) => args,
        Err(failure) => {
            run.answer(Value::Null).await?;
            run.finish(&server, None).await?;
            return Err(failure);
        }
    };
    run.answer(json!({"function": name, "args": args})).await?;
    let mut returned = None;
    let status = run.finish(&server, Some(&mut returned)).await?;
    let value = match returned {
        Some(value) if status.success() => value,
        _ => {
            return Err(Failure::Work(format!(
                "{} failed ({status}); its output is above",
                super::describe::kebab(&name)
            )))
        }
    };
    let mut text = render(&server, &value);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    print(session.console(), text.as_bytes())?;
    Ok(0)
}

/// `hush __session`: serves a plain SDK script until it closes the channel.
pub async fn session(args: SessionArgs, session: Arc<Session>) -> Result<u8, Failure> {
    if args.fd < 3 {
        return Err(Failure::Usage("--fd must name an inherited socket".into()));
    }
    // SAFETY: the fd was inherited from the SDK process for this purpose only.
    let owned = unsafe { OwnedFd::from_raw_fd(args.fd) };
    let mut stream = stream(std::os::unix::net::UnixStream::from(owned))?;
    server(&session)?
        .serve(&mut stream, None)
        .await
        .map_err(|e| Failure::Work(format!("the session channel failed: {e}")))?;
    Ok(0)
}

fn server(session: &Arc<Session>) -> Result<Arc<SessionServer>, Failure> {
    SessionServer::new(session.clone())
        .map(Arc::new)
        .map_err(|e| Failure::Work(format!("cannot start the engine: {}", e.message)))
}

/// The function to call and its flags, or `None` after printing `--help`.
type Given = (String, Vec<(String, FlagValue)>);

fn plan(
    module: &ModuleDesc,
    function: &str,
    flags: &[String],
    console: &Console,
) -> Result<Option<Given>, Failure> {
    let f = module.function(function).ok_or_else(|| {
        Failure::Usage(format!(
            "the module has no function {function:?} (functions: {})",
            module
                .functions
                .iter()
                .map(|f| super::describe::kebab(&f.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    match f.parse_flags(flags).map_err(Failure::Usage)? {
        None => {
            print(console, f.help().as_bytes())?;
            Ok(None)
        }
        Some(given) => Ok(Some((f.name.clone(), given))),
    }
}

/// Resolves the secret flags in the session (concurrently, once per URI) and hands out
/// handles; other values pass as they are.
async fn resolve_args(
    server: &SessionServer,
    session: &Session,
    given: Vec<(String, FlagValue)>,
) -> Result<Map<String, Value>, Failure> {
    let uris: Vec<String> = given
        .iter()
        .flat_map(|(_, v)| match v {
            FlagValue::Secret(uri) => vec![uri.clone()],
            FlagValue::Secrets(uris) => uris.clone(),
            FlagValue::Json(_) => Vec::new(),
        })
        .collect();
    let mut resolved = session.store().resolve_all(&uris).await.into_iter();
    let mut handle = || -> Result<Value, Failure> {
        let secret = resolved.next().expect("one result per URI")?;
        Ok(server.adopt(secret))
    };
    let mut args = Map::new();
    for (name, value) in given {
        let value = match value {
            FlagValue::Json(v) => v,
            FlagValue::Secret(_) => handle()?,
            FlagValue::Secrets(uris) => {
                Value::Array(uris.iter().map(|_| handle()).collect::<Result<_, _>>()?)
            }
        };
        args.insert(name, value);
    }
    Ok(args)
}

/// The environment variables that `env://` flags name: the module process does not get them.
fn consumed_env(flags: &[String]) -> BTreeSet<String> {
    flags
        .iter()
        .filter_map(|w| w.split_once("=").map(|(_, v)| v).or(Some(w.as_str())))
        .filter_map(|v| v.strip_prefix("env://"))
        .map(|rest| rest.split(['?', '#']).next().unwrap_or_default().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// How a result prints: values as text, a secret by its name or URI, never its value.
fn render(server: &SessionServer, value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| render(server, v))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(o) if o.get("type") == Some(&json!("Secret")) => o["id"]
            .as_str()
            .and_then(|id| server.secret(id).ok())
            .map(|s| s.label())
            .unwrap_or_default(),
        Value::Object(o) => format!(
            "{} {}",
            o.get("type").and_then(Value::as_str).unwrap_or("object"),
            o.get("id").and_then(Value::as_str).unwrap_or("")
        ),
        other => other.to_string(),
    }
}

/// A module process on its channel, with its output relayed through the scrubber.
struct ModuleRun {
    child: tokio::process::Child,
    stream: UnixStream,
    relays: Vec<tokio::task::JoinHandle<()>>,
    /// The `seq` of the describe request, which the answer echoes.
    describe_seq: Value,
}

impl ModuleRun {
    /// Starts the module in `dir` with fd 3 its end of a fresh socketpair.
    async fn start(
        dir: &Path,
        session: &Arc<Session>,
        consumed: &BTreeSet<String>,
    ) -> Result<Self, Failure> {
        let manifest_path = dir.join("hush.json");
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(&manifest_path).map_err(|e| {
                Failure::Usage(format!("cannot read {}: {e}", manifest_path.display()))
            })?)
            .map_err(|e| {
                Failure::Usage(format!("{} is not valid: {e}", manifest_path.display()))
            })?;
        if manifest.sdk != "python" {
            return Err(Failure::Usage(format!(
                "this hush runs python modules, not {:?} ones",
                manifest.sdk
            )));
        }
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| Failure::Work(format!("cannot make the module channel: {e}")))?;
        let mut command = tokio::process::Command::new(python(dir));
        command
            .args(["-m", "hush", &manifest.source, &main_object(&manifest.name)])
            .current_dir(dir)
            .env("HUSH_SESSION_FD", "3")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for name in consumed {
            command.env_remove(name);
        }
        let fd = theirs.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if fd == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| {
            Failure::Work(format!(
                "cannot start the module's Python ({}): {e}",
                python(dir).display()
            ))
        })?;
        drop(theirs);
        let pipe = |fd: std::io::Result<std::os::fd::OwnedFd>| {
            fd.map(std::fs::File::from)
                .map_err(|e| Failure::Work(format!("cannot read the module's output: {e}")))
        };
        let console = session.console();
        let relays = vec![
            console.relay(
                pipe(child.stdout.take().expect("piped").into_owned_fd())?,
                Stream::Out,
            ),
            console.relay(
                pipe(child.stderr.take().expect("piped").into_owned_fd())?,
                Stream::Err,
            ),
        ];
        Ok(Self {
            child,
            stream: stream(ours)?,
            relays,
            describe_seq: Value::Null,
        })
    }

    /// Waits for the module's description.
    async fn describe(&mut self) -> Result<ModuleDesc, Failure> {
        let failed =
            |why: String| Failure::Work(format!("the module did not describe itself: {why}"));
        let frame = read_frame(&mut self.stream)
            .await
            .map_err(|e| failed(e.to_string()))?
            .ok_or_else(|| failed("it exited first (see its output above)".into()))?;
        if frame["op"] != json!("describe") {
            return Err(failed(format!("it sent {} first", frame["op"])));
        }
        self.describe_seq = frame["seq"].clone();
        serde_json::from_value(frame["module"].clone()).map_err(|e| failed(e.to_string()))
    }

    /// Answers the description with the call to make, or `null`.
    async fn answer(&mut self, call: Value) -> Result<(), Failure> {
        write_frame(
            &mut self.stream,
            &reply(&self.describe_seq, Ok::<_, ProtoError>(call)),
        )
        .await
        .map_err(|e| Failure::Work(format!("the module channel failed: {e}")))
    }

    /// Serves the module until it exits; its output is fully relayed on return.
    async fn finish(
        mut self,
        server: &Arc<SessionServer>,
        returned: Option<&mut Option<Value>>,
    ) -> Result<ExitStatus, Failure> {
        let served = server.serve(&mut self.stream, returned).await;
        drop(self.stream);
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| Failure::Work(format!("cannot wait for the module: {e}")))?;
        for relay in self.relays {
            let _ = relay.await;
        }
        served.map_err(|e| Failure::Work(format!("the module channel failed: {e}")))?;
        Ok(status)
    }
}

/// The module's interpreter: its `.venv`, else `$HUSH_PYTHON`, else `python3`.
fn python(dir: &Path) -> PathBuf {
    let venv = dir.join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("HUSH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `my-module` → `MyModule`.
pub fn main_object(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn stream(std: std::os::unix::net::UnixStream) -> Result<UnixStream, Failure> {
    std.set_nonblocking(true)
        .and_then(|()| UnixStream::from_std(std))
        .map_err(|e| Failure::Work(format!("cannot use the module channel: {e}")))
}
