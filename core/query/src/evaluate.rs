//! Walks a chain of selections: each field of the API description is resolved here, once, for
//! the CLI and every SDK.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use hush_api::query::{Input, Output, Selection};
use hush_api::{Field, Scalar, TypeRef};
use hush_engine::{CacheMountOptions, CacheVolume, Container, Directory, Sharing};

use crate::client::{Args, Client, Object};
use crate::error::QueryError;

/// Where a chain ended.
pub(crate) enum Value {
    Object(Object),
    Output(Output),
}

type Walk<'a> = Pin<Box<dyn Future<Output = Result<Value, QueryError>> + Send + 'a>>;

/// Evaluates `chain` from `root`.
pub(crate) fn walk<'a>(client: &'a Client, root: Object, chain: &'a [Selection]) -> Walk<'a> {
    Box::pin(async move {
        let mut current = root;
        for (i, selection) in chain.iter().enumerate() {
            let ty = client
                .api()
                .object(current.type_name())
                .expect("every object is in the API");
            let field = ty.field(&selection.field).ok_or_else(|| {
                QueryError::Invalid(format!("{} has no field {:?}", ty.name, selection.field))
            })?;
            let args = check_args(field, &ty.name, &selection.args)?;
            match resolve(client, current, field, &args).await? {
                Value::Object(next) if !field.eager || i + 1 < chain.len() => current = next,
                value => {
                    if i + 1 < chain.len() {
                        return Err(QueryError::Invalid(format!(
                            "{}.{} returns a value; nothing can follow it",
                            ty.name, field.name
                        )));
                    }
                    return Ok(value);
                }
            }
        }
        Ok(Value::Object(current))
    })
}

/// Checks names and types of the given arguments and fills in defaults.
fn check_args(field: &Field, on: &str, given: &Args) -> Result<Args, QueryError> {
    let at = |arg: &str| format!("{on}.{}({arg})", field.name);
    if let Some(unknown) = given.keys().find(|k| field.arg(k).is_none()) {
        return Err(QueryError::Invalid(format!(
            "{} is not an argument",
            at(unknown)
        )));
    }
    let mut args = Args::new();
    for arg in &field.args {
        match given.get(&arg.name).filter(|v| **v != Input::Null) {
            Some(value) => {
                if !fits(&arg.ty, value) {
                    return Err(QueryError::Invalid(format!(
                        "{} must be a {}",
                        at(&arg.name),
                        arg.ty
                    )));
                }
                args.insert(arg.name.clone(), value.clone());
            }
            None => match hush_api::query::default_input(arg) {
                Some(value) => {
                    args.insert(arg.name.clone(), value);
                }
                None if arg.is_required() => {
                    return Err(QueryError::Invalid(format!(
                        "{} is required",
                        at(&arg.name)
                    )))
                }
                None => {}
            },
        }
    }
    Ok(args)
}

fn fits(ty: &TypeRef, value: &Input) -> bool {
    match (ty, value) {
        (TypeRef::Scalar(Scalar::String), Input::String(_)) => true,
        (TypeRef::Scalar(Scalar::Int), Input::Int(_)) => true,
        (TypeRef::Scalar(Scalar::Boolean), Input::Boolean(_)) => true,
        (TypeRef::List(inner), Input::List(items)) => items.iter().all(|i| fits(inner, i)),
        (TypeRef::Map(inner), Input::Map { map }) => map.values().all(|v| fits(inner, v)),
        (TypeRef::Object(_), Input::Chain { .. } | Input::Id { .. }) => true,
        _ => false,
    }
}

fn string<'a>(args: &'a Args, name: &str) -> &'a str {
    match args.get(name) {
        Some(Input::String(s)) => s,
        _ => unreachable!("checked against the description"),
    }
}

fn opt_string<'a>(args: &'a Args, name: &str) -> Option<&'a str> {
    args.contains_key(name).then(|| string(args, name))
}

fn int(args: &Args, name: &str) -> Result<u32, QueryError> {
    match args.get(name) {
        Some(Input::Int(i)) => u32::try_from(*i)
            .map_err(|_| QueryError::Invalid(format!("{name} {i} is out of range"))),
        _ => unreachable!("checked against the description"),
    }
}

fn strings(args: &Args, name: &str) -> Vec<String> {
    match args.get(name) {
        Some(Input::List(items)) => items
            .iter()
            .map(|i| match i {
                Input::String(s) => s.clone(),
                _ => unreachable!("checked against the description"),
            })
            .collect(),
        _ => unreachable!("checked against the description"),
    }
}

/// The object an object-typed argument names.
async fn object(client: &Client, args: &Args, name: &str, ty: &str) -> Result<Object, QueryError> {
    match args.get(name) {
        Some(value) => object_of(client, value, name, ty).await,
        None => unreachable!("checked against the description"),
    }
}

/// The object an object input (`{"id": ...}` or `{"chain": [...]}`) names; `what` names the
/// argument (or its item) in errors.
async fn object_of(
    client: &Client,
    value: &Input,
    what: &str,
    ty: &str,
) -> Result<Object, QueryError> {
    let object = match value {
        Input::Id { id } => client.object(id)?,
        Input::Chain { chain } => match walk(client, Object::Query, chain).await? {
            Value::Object(object) => object,
            Value::Output(_) => {
                return Err(QueryError::Invalid(format!(
                    "argument {what} must name a {ty}"
                )))
            }
        },
        _ => unreachable!("checked against the description"),
    };
    if object.type_name() != ty {
        return Err(QueryError::Invalid(format!(
            "argument {what} must be a {ty}, not a {}",
            object.type_name()
        )));
    }
    Ok(object)
}

async fn secret(
    client: &Client,
    args: &Args,
    name: &str,
) -> Result<hush_secrets::Secret, QueryError> {
    match object(client, args, name, "Secret").await? {
        Object::Secret(s) => Ok(s),
        _ => unreachable!("type checked"),
    }
}

async fn secret_of(
    client: &Client,
    value: &Input,
    what: &str,
) -> Result<hush_secrets::Secret, QueryError> {
    match object_of(client, value, what, "Secret").await? {
        Object::Secret(s) => Ok(s),
        _ => unreachable!("type checked"),
    }
}

/// The secrets of a `[Secret]` argument, in order (none when left out).
async fn secret_list(
    client: &Client,
    args: &Args,
    name: &str,
) -> Result<Vec<hush_secrets::Secret>, QueryError> {
    let mut secrets = Vec::new();
    match args.get(name) {
        None => {}
        Some(Input::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                secrets.push(secret_of(client, item, &format!("{name}[{i}]")).await?);
            }
        }
        Some(_) => unreachable!("checked against the description"),
    }
    Ok(secrets)
}

/// The secrets of a `{String:Secret}` argument, by key (none when left out).
async fn secret_map(
    client: &Client,
    args: &Args,
    name: &str,
) -> Result<Vec<(String, hush_secrets::Secret)>, QueryError> {
    let mut secrets = Vec::new();
    match args.get(name) {
        None => {}
        Some(Input::Map { map }) => {
            for (key, item) in map {
                let s = secret_of(client, item, &format!("{name}[{key:?}]")).await?;
                secrets.push((key.clone(), s));
            }
        }
        Some(_) => unreachable!("checked against the description"),
    }
    Ok(secrets)
}

async fn directory(client: &Client, args: &Args, name: &str) -> Result<Directory, QueryError> {
    match object(client, args, name, "Directory").await? {
        Object::Directory(d) => Ok(d),
        _ => unreachable!("type checked"),
    }
}

fn text(client: &Client, bytes: Vec<u8>) -> Value {
    let text = String::from_utf8_lossy(&client.session().scrubber().scrub(&bytes)).into_owned();
    Value::Output(Output::String(text))
}

/// Resolves one field on one object.
async fn resolve(
    client: &Client,
    on: Object,
    field: &Field,
    args: &Args,
) -> Result<Value, QueryError> {
    let obj = |o| Ok(Value::Object(o));
    match (on, field.name.as_str()) {
        (Object::Query, "container") => obj(Object::Container(Container::new())),
        (Object::Query, "directory") => {
            obj(Object::Directory(Directory::host(client.empty_dir())?))
        }
        (Object::Query, "host") => obj(Object::Host),
        (Object::Query, "secret") => {
            let uri = with_cache_key(string(args, "uri"), opt_string(args, "cache_key"));
            obj(Object::Secret(client.session().resolve(&uri).await?))
        }
        (Object::Query, "set_secret") => {
            let plaintext = string(args, "plaintext");
            let s = client
                .session()
                .set_secret(string(args, "name"), plaintext.as_bytes())?;
            obj(Object::Secret(s))
        }
        (Object::Query, "cache_volume") => {
            obj(Object::CacheVolume(CacheVolume::new(string(args, "key"))?))
        }
        (Object::CacheVolume(v), "key") => Ok(Value::Output(Output::String(v.key().to_owned()))),
        (Object::Host, "directory") => {
            obj(Object::Directory(Directory::host(string(args, "path"))?))
        }
        (Object::Host, "file") => {
            let path = std::path::Path::new(string(args, "path"));
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(".".as_ref());
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            obj(Object::File(Directory::host(dir)?.file(&name)?))
        }
        (Object::Container(c), name) => container(client, c, name, args).await,
        (Object::Directory(d), "entries") => Ok(Value::Output(Output::List(
            d.entries()?.into_iter().map(Output::String).collect(),
        ))),
        (Object::Directory(d), "file") => obj(Object::File(d.file(string(args, "path"))?)),
        (Object::Directory(d), "docker_build") => {
            obj(Object::Container(docker_build(client, &d, args).await?))
        }
        (Object::File(f), "contents") => Ok(text(client, f.contents()?)),
        (Object::File(f), "size") => Ok(Value::Output(Output::Int(f.contents()?.len() as i64))),
        (Object::Secret(s), "name") => Ok(Value::Output(Output::String(s.label()))),
        (Object::Secret(s), "plaintext") => match std::str::from_utf8(s.expose()) {
            Ok(text) => Ok(Value::Output(Output::String(text.to_owned()))),
            Err(_) => Err(QueryError::Invalid(format!(
                "secret {} is not UTF-8 text",
                s.label()
            ))),
        },
        (on, name) => unreachable!(
            "{}.{name} is in the API description but not resolved",
            on.type_name()
        ),
    }
}

async fn container(
    client: &Client,
    c: Container,
    field: &str,
    args: &Args,
) -> Result<Value, QueryError> {
    let engine = client.engine();
    let next = |c: Container| Ok(Value::Object(Object::Container(c)));
    match field {
        "from" => next(c.from(string(args, "address"))?),
        "with_exec" => next(c.with_exec(&strings(args, "args"))?),
        "with_env_variable" => {
            next(c.with_env_variable(string(args, "name"), string(args, "value"))?)
        }
        "with_secret_variable" => {
            let s = secret(client, args, "secret").await?;
            next(c.with_secret_variable(string(args, "name"), &s)?)
        }
        "without_secret_variable" => next(c.without_secret_variable(string(args, "name"))?),
        "with_mounted_secret" => {
            let s = secret(client, args, "source").await?;
            next(c.with_mounted_secret(
                string(args, "path"),
                &s,
                opt_string(args, "owner"),
                Some(int(args, "mode")?),
            )?)
        }
        "with_workdir" => next(c.with_workdir(string(args, "path"))?),
        "with_new_file" => next(c.with_new_file_mode(
            string(args, "path"),
            string(args, "contents"),
            int(args, "permissions")?,
        )?),
        "with_mounted_directory" => {
            let d = directory(client, args, "source").await?;
            next(c.with_mounted_directory(string(args, "path"), &d)?)
        }
        "with_mounted_file" => {
            let f = match object(client, args, "source", "File").await? {
                Object::File(f) => f,
                _ => unreachable!("type checked"),
            };
            next(c.with_mounted_file(string(args, "path"), &f)?)
        }
        "with_mounted_cache" => {
            let cache = match object(client, args, "cache", "CacheVolume").await? {
                Object::CacheVolume(v) => v,
                _ => unreachable!("type checked"),
            };
            let sharing = match string(args, "sharing").to_ascii_lowercase().as_str() {
                "shared" => Sharing::Shared,
                "private" => Sharing::Private,
                "locked" => Sharing::Locked,
                other => {
                    return Err(QueryError::Invalid(format!(
                        "Container.with_mounted_cache(sharing) must be shared, private or \
                         locked, not {other:?}"
                    )))
                }
            };
            let options = CacheMountOptions {
                sharing,
                owner: opt_string(args, "owner").map(str::to_owned),
                ..CacheMountOptions::default()
            };
            next(c.with_mounted_cache(string(args, "path"), &cache, options)?)
        }
        "with_mounted_temp" => {
            let size = match args.get("size") {
                None => None,
                Some(Input::Int(i)) => Some(u64::try_from(*i).map_err(|_| {
                    QueryError::Invalid(format!(
                        "Container.with_mounted_temp(size) {i} is out of range"
                    ))
                })?),
                Some(_) => unreachable!("checked against the description"),
            };
            next(c.with_mounted_temp(string(args, "path"), size)?)
        }
        "with_user" => next(c.with_user(string(args, "name"))?),
        "with_registry_auth" => {
            let s = secret(client, args, "secret").await?;
            client.set_registry_auth(string(args, "address"), string(args, "username"), s)?;
            next(c)
        }
        "stdout" => Ok(Value::Output(Output::String(c.stdout(engine).await?))),
        "stderr" => Ok(Value::Output(Output::String(c.stderr(engine).await?))),
        "exit_code" => Ok(Value::Output(Output::Int(
            c.exit_code(engine).await?.into(),
        ))),
        "file" => Ok(Value::Object(Object::File(
            c.file(engine, string(args, "path")).await?,
        ))),
        "directory" => Ok(Value::Object(Object::Directory(
            c.directory(engine, string(args, "path")).await?,
        ))),
        "sync" => next(c.sync(engine).await?),
        other => unreachable!("Container.{other} is in the API description but not resolved"),
    }
}

/// Adds `cacheKey=` to a URI's query.
/// `Directory.docker_build`: the directory (of the host) is the build context.
async fn docker_build(
    client: &Client,
    dir: &Directory,
    args: &Args,
) -> Result<Container, QueryError> {
    let invalid = |m: String| QueryError::Invalid(m);
    let context = dir
        .host_path()
        .ok_or_else(|| invalid("docker_build needs a directory of the host as its context".into()))?
        .to_path_buf();
    let name = opt_string(args, "dockerfile").unwrap_or("Dockerfile");
    let dockerfile = std::fs::read_to_string(context.join(name))
        .map_err(|e| invalid(format!("cannot read the Dockerfile {name}: {e}")))?;
    let pair = |s: &str, what: &str| -> Result<(String, String), QueryError> {
        s.split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .ok_or_else(|| invalid(format!("{what} must be NAME=VALUE, not {s:?}")))
    };
    let list = |name: &str| {
        if args.contains_key(name) {
            strings(args, name)
        } else {
            Vec::new()
        }
    };
    let build_args = list("build_args")
        .iter()
        .map(|a| pair(a, "a build argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let secrets = build_secrets(
        secret_list(client, args, "secrets").await?,
        secret_map(client, args, "secret_map").await?,
    )?;
    let opts = hush_dockerfile::BuildOptions {
        dockerfile,
        context,
        build_args,
        target: opt_string(args, "target").map(str::to_owned),
        secrets,
        ssh: Default::default(),
        tag: None,
        credentials: client.session().store().credentials(),
    };
    let built = hush_dockerfile::build(client.engine(), client.store(), &opts, &mut |_| {}).await?;
    Ok(built.container)
}

/// The secrets of a Dockerfile build by mount ID: each named secret under its name, then the
/// explicit map (whose keys are unique). An unnamed secret in `secrets`, an empty ID or an ID
/// given twice is an error naming the secret by its name or (redacted) URI, never by value.
fn build_secrets(
    named: Vec<hush_secrets::Secret>,
    mapped: Vec<(String, hush_secrets::Secret)>,
) -> Result<HashMap<String, hush_secrets::Secret>, QueryError> {
    let invalid = |m: String| Err(QueryError::Invalid(m));
    let mut secrets = HashMap::new();
    for s in named {
        let Some(id) = s.name().map(str::to_owned) else {
            return invalid(format!(
                "docker_build: secret {} in secrets has no name to mount it by; give it an ID \
                 in secret_map instead ({{\"ID\": secret}}, --secret-map=ID=URI)",
                s.label()
            ));
        };
        if secrets.insert(id.clone(), s).is_some() {
            return invalid(format!(
                "docker_build: secret ID {id:?} is given twice in secrets"
            ));
        }
    }
    for (id, s) in mapped {
        if id.is_empty() {
            return invalid(format!(
                "docker_build: secret_map gives secret {} an empty ID",
                s.label()
            ));
        }
        if secrets.contains_key(&id) {
            return invalid(format!(
                "docker_build: secret ID {id:?} is given in both secrets and secret_map"
            ));
        }
        secrets.insert(id, s);
    }
    Ok(secrets)
}

/// `uri` with its `cacheKey` parameter, as the session resolves it.
pub(crate) fn with_cache_key(uri: &str, cache_key: Option<&str>) -> String {
    let Some(key) = cache_key else {
        return uri.to_owned();
    };
    let key = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}cacheKey={key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_api::Api;

    fn field(ty: &str, name: &str) -> &'static Field {
        Api::get().object(ty).unwrap().field(name).unwrap()
    }

    fn args(json: &str) -> Args {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn arguments_are_checked_and_defaulted() {
        let mount = field("Container", "with_mounted_secret");
        let checked = check_args(
            mount,
            "Container",
            &args(r#"{"path":"/s","source":{"id":"secret:1"}}"#),
        )
        .unwrap();
        assert_eq!(checked["mode"], Input::Int(0o400));
        assert!(!checked.contains_key("owner"));
        let err = |json: &str| {
            check_args(mount, "Container", &args(json))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(r#"{"path":"/s"}"#),
            "Container.with_mounted_secret(source) is required"
        );
        assert_eq!(
            err(r#"{"path":1,"source":{"id":"x"}}"#),
            "Container.with_mounted_secret(path) must be a String"
        );
        assert_eq!(
            err(r#"{"path":"/s","source":{"id":"x"},"colour":"red"}"#),
            "Container.with_mounted_secret(colour) is not an argument"
        );
        let exec = field("Container", "with_exec");
        assert!(check_args(exec, "Container", &args(r#"{"args":["sh",1]}"#)).is_err());
    }

    #[test]
    fn map_and_list_arguments_are_checked_item_by_item() {
        let build = field("Directory", "docker_build");
        let check = |json: &str| check_args(build, "Directory", &args(json));
        let ok = check(
            r#"{"secrets":[{"id":"secret:1"},{"chain":[{"field":"secret","args":{"uri":"env://A"}}]}],
                "secret_map":{"map":{"gh-secret":{"id":"secret:2"}}}}"#,
        )
        .unwrap();
        assert!(matches!(&ok["secret_map"], Input::Map { map } if map.len() == 1));
        let err = |json: &str| check(json).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"secret_map":{"map":{"gh-secret":"env://A"}}}"#),
            "Directory.docker_build(secret_map) must be a {String:Secret}"
        );
        assert_eq!(
            err(r#"{"secret_map":[{"id":"secret:1"}]}"#),
            "Directory.docker_build(secret_map) must be a {String:Secret}"
        );
        assert_eq!(
            err(r#"{"secrets":["gh-secret=env://A"]}"#),
            "Directory.docker_build(secrets) must be a [Secret]"
        );
    }

    /// A client on a private home, and a `file://` URI of `TEST_VALUE` in it.
    fn client() -> (Client, tempfile::TempDir, String) {
        let home = tempfile::tempdir().unwrap();
        let session = hush_session::Session::new(hush_session::SessionConfig {
            home: home.path().to_owned(),
            ..Default::default()
        });
        let file = home.path().join("value");
        std::fs::write(&file, TEST_VALUE).unwrap();
        let uri = format!("file://{}", file.display());
        (Client::new(session).unwrap(), home, uri)
    }

    const TEST_VALUE: &str = "evaluate-test-secret-5150";

    #[tokio::test]
    async fn docker_build_takes_named_secrets_and_an_id_map() {
        let (client, _home, uri) = client();
        let named = client
            .session()
            .set_secret("gh-secret", TEST_VALUE.as_bytes())
            .unwrap();
        let id = match client.hand_out(Object::Secret(named)) {
            Output::Object { id, .. } => id,
            other => panic!("{other:?}"),
        };
        let given = args(&format!(
            r#"{{"secrets":[{{"id":"{id}"}}],
                "secret_map":{{"map":{{"tok":{{"chain":[{{"field":"secret","args":{{"uri":"{uri}"}}}}]}},
                                     "again":{{"id":"{id}"}}}}}}}}"#
        ));
        let checked = check_args(field("Directory", "docker_build"), "Directory", &given).unwrap();
        let secrets = build_secrets(
            secret_list(&client, &checked, "secrets").await.unwrap(),
            secret_map(&client, &checked, "secret_map").await.unwrap(),
        )
        .unwrap();
        let mut ids: Vec<_> = secrets.keys().map(String::as_str).collect();
        ids.sort();
        assert_eq!(ids, ["again", "gh-secret", "tok"]);
        for s in secrets.values() {
            assert_eq!(s.expose(), TEST_VALUE.as_bytes());
        }
        assert_eq!(secrets["tok"].name(), None);
        // Left out, both are empty.
        let none = Args::new();
        assert!(secret_list(&client, &none, "secrets")
            .await
            .unwrap()
            .is_empty());
        assert!(secret_map(&client, &none, "secret_map")
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn docker_build_secret_errors_name_ids_and_uris_never_values() {
        let (client, _home, uri) = client();
        let context = tempfile::tempdir().unwrap();
        std::fs::write(context.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        let session = client.session();
        let named = session
            .set_secret("gh-secret", TEST_VALUE.as_bytes())
            .unwrap();
        let Output::Object { id, .. } = client.hand_out(Object::Secret(named)) else {
            panic!()
        };
        let by_uri = format!(r#"{{"chain":[{{"field":"secret","args":{{"uri":"{uri}"}}}}]}}"#);
        let build = |build_args: String| {
            let chain = format!(
                r#"[{{"field":"host"}},{{"field":"directory","args":{{"path":{}}}}},
                    {{"field":"docker_build","args":{build_args}}},{{"field":"sync"}}]"#,
                serde_json::to_string(&context.path().to_string_lossy()).unwrap()
            );
            serde_json::from_str::<Vec<Selection>>(&chain).unwrap()
        };
        let error = |build_args: String| {
            let chain = build(build_args);
            let client = &client;
            async move {
                let err = client.evaluate(&chain).await.unwrap_err();
                assert_eq!(err.kind(), crate::QueryErrorKind::Invalid, "{err}");
                let text = err.to_string();
                assert!(!text.contains(TEST_VALUE), "{text}");
                text
            }
        };
        let unnamed = error(format!(r#"{{"secrets":[{by_uri}]}}"#)).await;
        assert!(
            unnamed.starts_with(&format!(
                "docker_build: secret {uri} in secrets has no name to mount it by; give it an ID in secret_map"
            )),
            "{unnamed}"
        );
        let twice = error(format!(
            r#"{{"secrets":[{{"id":"{id}"}}],"secret_map":{{"map":{{"gh-secret":{by_uri}}}}}}}"#
        ))
        .await;
        assert_eq!(
            twice,
            "docker_build: secret ID \"gh-secret\" is given in both secrets and secret_map"
        );
        let same_name = error(format!(
            r#"{{"secrets":[{{"id":"{id}"}},{{"id":"{id}"}}]}}"#
        ))
        .await;
        assert!(
            same_name.contains("\"gh-secret\" is given twice in secrets"),
            "{same_name}"
        );
        let empty = error(format!(r#"{{"secret_map":{{"map":{{"":{by_uri}}}}}}}"#)).await;
        assert!(empty.contains("an empty ID"), "{empty}");
        let not_secret =
            error(r#"{"secret_map":{"map":{"x":{"chain":[{"field":"host"}]}}}}"#.into()).await;
        assert_eq!(
            not_secret,
            "argument secret_map[\"x\"] must be a Secret, not a Host"
        );
    }

    #[test]
    fn cache_keys_are_added_to_uris_encoded() {
        assert_eq!(
            with_cache_key("env://A", Some("k 1&x")),
            "env://A?cacheKey=k%201%26x"
        );
        assert_eq!(
            with_cache_key("env://A?ttl=1m", Some("k")),
            "env://A?ttl=1m&cacheKey=k"
        );
        assert_eq!(with_cache_key("env://A", None), "env://A");
    }
}
