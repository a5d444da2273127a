//! `hush build` flag grammars, as Docker's: `--secret` (CSV, keys lower-cased, every field
//! `k=v`) and `--build-arg`.

use crate::mount::csv_fields;
use crate::DockerfileError;

/// Where a `--secret` value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A host file, read once per build.
    File(String),
    /// A host environment variable (unset reads as empty, as in Docker).
    Env(String),
    /// A hush provider URI (`src=vault://kv/app#token`, `src=env://X`, ...).
    Uri(String),
}

/// A parsed `--secret` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFlag {
    /// The secret ID the Dockerfile refers to.
    pub id: String,
    /// Its source.
    pub source: SecretSource,
}

fn flag_err(message: impl Into<String>) -> DockerfileError {
    DockerfileError::Flag(message.into())
}

/// Whether `src` is a provider URI: `scheme://...` with a letter-first scheme of letters,
/// digits, `+`, `-` or `.`.
fn is_uri(src: &str) -> bool {
    src.split_once("://").is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// Parses `--secret [type=file|env,]id=ID[,src=PATH|URI][,env=VAR]`. `env_is_set` tells
/// whether a host variable exists (for `--secret id=X`, which reads `$X` if set, else the
/// file `X`).
pub fn parse_secret_flag(
    value: &str,
    env_is_set: &dyn Fn(&str) -> bool,
) -> Result<SecretFlag, DockerfileError> {
    let (mut kind, mut id, mut src, mut env) = (None, None, None, None);
    for field in csv_fields(value).map_err(flag_err)? {
        let (key, val) = field
            .split_once('=')
            .ok_or_else(|| flag_err(format!("invalid field '{field}' must be a key=value pair")))?;
        match key.to_ascii_lowercase().as_str() {
            "type" => match val {
                "file" | "env" => kind = Some(val.to_owned()),
                _ => return Err(flag_err(format!("unsupported secret type \"{val}\""))),
            },
            "id" => id = Some(val.to_owned()),
            "src" | "source" => src = Some(val.to_owned()),
            "env" => env = Some(val.to_owned()),
            k => return Err(flag_err(format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    let id = id
        .filter(|i| !i.is_empty())
        .ok_or_else(|| flag_err("secret missing ID"))?;
    if kind.as_deref() == Some("env") && env.is_none() {
        env = src.take();
    }
    let source = match (src, env) {
        (Some(_), Some(_)) => {
            return Err(flag_err(format!(
                "secret {id}: give either src= or env=, not both"
            )))
        }
        (Some(s), None) if is_uri(&s) => SecretSource::Uri(s),
        (Some(s), None) if s.is_empty() => {
            return Err(flag_err(format!("secret {id}: src= needs a path")))
        }
        (Some(s), None) => SecretSource::File(s),
        (None, Some(e)) if e.is_empty() => {
            return Err(flag_err(format!("secret {id}: env= needs a variable name")))
        }
        (None, Some(e)) => SecretSource::Env(e),
        (None, None) if env_is_set(&id) => SecretSource::Env(id.clone()),
        (None, None) => SecretSource::File(id.clone()),
    };
    Ok(SecretFlag { id, source })
}

/// Parses `--build-arg K=V`, or `--build-arg K` which takes `$K` from the host (and is
/// ignored, as in Docker, when `$K` is unset: `Ok(None)`).
pub fn parse_build_arg(
    value: &str,
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, DockerfileError> {
    let (name, val) = match value.split_once('=') {
        Some((n, v)) => (n, Some(v.to_owned())),
        None => (value, host_env(value)),
    };
    if name.is_empty() {
        return Err(flag_err(format!("--build-arg {value:?} has an empty name")));
    }
    Ok(val.map(|v| (name.to_owned(), v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<SecretFlag, String> {
        parse_secret_flag(v, &|n| n == "SET_VAR").map_err(|e| e.to_string())
    }

    fn ok(v: &str) -> (String, SecretSource) {
        let f = parse(v).unwrap();
        (f.id, f.source)
    }

    #[test]
    fn docker_grammar() {
        use SecretSource::*;
        assert_eq!(
            ok("id=aws,src=/home/a/.aws/credentials"),
            ("aws".into(), File("/home/a/.aws/credentials".into()))
        );
        assert_eq!(
            ok("id=kube,env=KUBECONFIG"),
            ("kube".into(), Env("KUBECONFIG".into()))
        );
        assert_eq!(
            ok("type=env,id=X,src=API_KEY"),
            ("X".into(), Env("API_KEY".into()))
        );
        assert_eq!(ok("ID=x,SOURCE=f"), ("x".into(), File("f".into())));
        assert_eq!(ok("id=SET_VAR"), ("SET_VAR".into(), Env("SET_VAR".into())));
        assert_eq!(
            ok("id=UNSET_VAR"),
            ("UNSET_VAR".into(), File("UNSET_VAR".into()))
        );
        assert_eq!(
            ok("id=aws,src=vault://kv/app#token"),
            ("aws".into(), Uri("vault://kv/app#token".into()))
        );
        assert_eq!(
            ok("type=file,id=t,src=env://TOKEN"),
            ("t".into(), Uri("env://TOKEN".into()))
        );
    }

    #[test]
    fn docker_errors() {
        assert_eq!(
            parse("id=x,type=ssh").unwrap_err(),
            "unsupported secret type \"ssh\""
        );
        assert_eq!(
            parse("id=x,foo=1").unwrap_err(),
            "unexpected key 'foo' in 'foo=1'"
        );
        assert_eq!(
            parse("id=x,src").unwrap_err(),
            "invalid field 'src' must be a key=value pair"
        );
        assert_eq!(parse("src=f").unwrap_err(), "secret missing ID");
        assert_eq!(parse("id=,src=f").unwrap_err(), "secret missing ID");
        assert!(parse("id=x,src=a,env=B").unwrap_err().contains("not both"));
        assert!(parse("id=x,env=").unwrap_err().contains("env= needs"));
    }

    #[test]
    fn build_args() {
        let host = |n: &str| (n == "H").then(|| "from-host".to_owned());
        assert_eq!(
            parse_build_arg("A=1=2", &host).unwrap(),
            Some(("A".into(), "1=2".into()))
        );
        assert_eq!(
            parse_build_arg("H", &host).unwrap(),
            Some(("H".into(), "from-host".into()))
        );
        assert_eq!(parse_build_arg("NOPE", &host).unwrap(), None);
        assert!(parse_build_arg("=x", &host).is_err());
    }
}
