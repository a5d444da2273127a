//! The `RUN --mount` option grammar for secrets and SSH agent sockets, with BuildKit's defaults and error strings
//! (see `reference/buildkit-secrets.md` §1.2) and two improvements: option order does not
//! matter (`required,type=secret` works) and an empty `env=` name is an error.

/// A `RUN --mount=type=secret,...` after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// The secret ID (default: the basename of the target).
    pub id: String,
    /// Where the file goes (default `/run/secrets/<basename(id)>` unless only `env` is
    /// given, in which case no file is mounted). A relative target is relative to WORKDIR.
    pub target: Option<String>,
    /// The variable that receives the value, if any.
    pub env: Option<String>,
    /// Whether a missing secret fails the step (default false).
    pub required: bool,
    /// File mode (octal in the Dockerfile, default 0400).
    pub mode: u32,
    /// File owner uid (default 0).
    pub uid: u32,
    /// File owner gid (default 0).
    pub gid: u32,
}

/// Splits a CSV line into fields (`"..."` quotes a field, `""` is a quote inside one).
pub(crate) fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "failed to parse csv mounts: unterminated quote in {text:?}"
        ));
    }
    fields.push(cur);
    Ok(fields)
}

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

fn number(key: &str, value: &str, radix: u32) -> Result<u32, String> {
    u32::from_str_radix(value, radix).map_err(|_| format!("invalid value {value} for {key}"))
}

/// A `RUN --mount=type=ssh,...` after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    /// The `--ssh` ID (default `default`).
    pub id: String,
    /// Where the agent socket goes; `None` means `/run/buildkit/ssh_agent.<N>`, N being the
    /// index among the step's ssh mounts. A relative target is relative to WORKDIR.
    pub target: Option<String>,
    /// Whether a missing agent fails the step (default false).
    pub required: bool,
    /// Socket mode (octal in the Dockerfile, default 0600).
    pub mode: u32,
    /// Socket owner uid (default 0).
    pub uid: u32,
    /// Socket owner gid (default 0).
    pub gid: u32,
}

/// One `RUN --mount` hush supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// `type=secret`.
    Secret(SecretMount),
    /// `type=ssh`.
    Ssh(SshMount),
}

/// The fields of a `--mount` value, before the type's defaults.
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    id: Option<String>,
    source: Option<String>,
    target: Option<String>,
    env: Option<String>,
    required: bool,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    /// BuildKit's complaint about a key these types refuse (`from`, `sharing`).
    refused: Option<&'static str>,
}

fn fields(value: &str) -> Result<Fields, String> {
    let mut f = Fields::default();
    for field in csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_owned())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let val_or_err = || {
            val.clone()
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "type" => f.kind = Some(val_or_err()?.to_ascii_lowercase()),
            "id" => f.id = Some(val_or_err()?),
            "source" | "src" => f.source = Some(val_or_err()?),
            "target" | "dst" | "destination" => f.target = Some(val_or_err()?),
            "env" => {
                let name = val_or_err()?;
                if name.is_empty() {
                    return Err("env= needs a variable name".into());
                }
                f.env = Some(name);
            }
            "required" => {
                f.required = match val.as_deref() {
                    None => true,
                    Some(v) => {
                        parse_bool(v).ok_or_else(|| format!("invalid value for required: {v}"))?
                    }
                }
            }
            "mode" => f.mode = Some(number("mode", &val_or_err()?, 8)?),
            "uid" => f.uid = Some(number("uid", &val_or_err()?, 10)?),
            "gid" => f.gid = Some(number("gid", &val_or_err()?, 10)?),
            // Secrets and agent sockets are always read-only; BuildKit accepts and ignores these.
            "ro" | "readonly" | "rw" | "readwrite" => {}
            "from" => f.refused = Some("should not have a from"),
            "sharing" => f.refused = Some("should not define sharing"),
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    Ok(f)
}

/// Parses an (already expanded) `--mount` value. `type=secret` and `type=ssh` are supported;
/// other types are refused with a clear error.
pub fn parse_mount(value: &str) -> Result<RunMount, String> {
    let f = fields(value)?;
    let kind = f.kind.as_deref().unwrap_or("bind");
    if let (Some(complaint), "secret" | "ssh") = (f.refused, kind) {
        return Err(format!("{kind} mount {complaint}"));
    }
    match kind {
        "secret" => secret_mount(f).map(RunMount::Secret),
        "ssh" => ssh_mount(f).map(RunMount::Ssh),
        kind @ ("bind" | "cache" | "tmpfs") => {
            Err(format!("mount type \"{kind}\" is not supported by hush"))
        }
        other => Err(format!("unsupported mount type \"{other}\"")),
    }
}

fn secret_mount(f: Fields) -> Result<SecretMount, String> {
    if f.id.is_some() && f.source.is_some() {
        return Err("both source and id can't be set".into());
    }
    let id = match f.id.or(f.source) {
        Some(id) if !id.is_empty() => id,
        _ => match &f.target {
            Some(t) if !t.is_empty() => basename(t).to_owned(),
            _ => return Err("invalid secret mount. one of source, target required".into()),
        },
    };
    let target = match (f.target, &f.env) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => Some(format!("/run/secrets/{}", basename(&id))),
    };
    Ok(SecretMount {
        id,
        target,
        env: f.env,
        required: f.required,
        mode: f.mode.unwrap_or(0o400) & 0o777,
        uid: f.uid.unwrap_or(0),
        gid: f.gid.unwrap_or(0),
    })
}

fn ssh_mount(f: Fields) -> Result<SshMount, String> {
    if f.source.is_some() {
        return Err("ssh does not support source".into());
    }
    // BuildKit parses and ignores `env` on ssh mounts; hush refuses it, since the step would
    // not get what the Dockerfile asks for (the socket path is in `SSH_AUTH_SOCK`).
    if f.env.is_some() {
        return Err("ssh mounts do not support env (the socket path is in SSH_AUTH_SOCK)".into());
    }
    Ok(SshMount {
        id: f
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| "default".into()),
        target: f.target.filter(|t| !t.is_empty()),
        required: f.required,
        mode: f.mode.unwrap_or(0o600) & 0o777,
        uid: f.uid.unwrap_or(0),
        gid: f.gid.unwrap_or(0),
    })
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &str) -> SecretMount {
        match parse_mount(v).unwrap() {
            RunMount::Secret(s) => s,
            other => panic!("not a secret mount: {other:?}"),
        }
    }

    fn ssh(v: &str) -> SshMount {
        match parse_mount(v).unwrap() {
            RunMount::Ssh(s) => s,
            other => panic!("not an ssh mount: {other:?}"),
        }
    }

    #[test]
    fn ssh_defaults_follow_buildkit() {
        let d = ssh("type=ssh");
        assert_eq!(
            d,
            SshMount {
                id: "default".into(),
                target: None,
                required: false,
                mode: 0o600,
                uid: 0,
                gid: 0,
            }
        );
        let p = ssh("mode=741,uid=100,gid=102,type=ssh,id=key,target=/agent,required");
        assert_eq!(
            (p.id.as_str(), p.target.as_deref(), p.required),
            ("key", Some("/agent"), true)
        );
        assert_eq!((p.mode, p.uid, p.gid), (0o741, 100, 102));
        assert!(ssh("required,type=ssh").required);
        assert_eq!(ssh("type=ssh,id=").id, "default");
    }

    #[test]
    fn ssh_errors() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        assert_eq!(e("type=ssh,src=/x"), "ssh does not support source");
        assert!(e("type=ssh,env=X").contains("do not support env"));
        assert_eq!(e("type=ssh,from=x"), "ssh mount should not have a from");
        assert_eq!(e("type=ssh,mode=8"), "invalid value 8 for mode");
    }

    #[test]
    fn defaults_follow_buildkit() {
        let s = m("type=secret,id=mysecret");
        assert_eq!(s.target.as_deref(), Some("/run/secrets/mysecret"));
        assert_eq!(
            (s.env, s.required, s.mode, s.uid, s.gid),
            (None, false, 0o400, 0, 0)
        );
        assert_eq!(
            m("type=secret,id=a/b").target.as_deref(),
            Some("/run/secrets/b")
        );
        assert_eq!(m("type=secret,target=/etc/passwd").id, "passwd");
        assert_eq!(m("type=secret,src=x").id, "x");
        // env alone: no file; env and target: both.
        let e = m("type=secret,id=mysecret,env=SECRET_ENV");
        assert_eq!((e.target, e.env.as_deref()), (None, Some("SECRET_ENV")));
        let b = m("type=secret,id=mysecret,target=/run/secrets/secret,env=SECRET_ENV");
        assert_eq!(b.target.as_deref(), Some("/run/secrets/secret"));
        assert_eq!(b.env.as_deref(), Some("SECRET_ENV"));
        let p = m("type=secret,required=false,mode=741,uid=100,gid=102,target=/mysecret");
        assert_eq!((p.mode, p.uid, p.gid, p.required), (0o741, 100, 102, false));
        assert!(m("type=secret,id=x,required").required);
        assert!(m("TYPE=SECRET,ID=x,Required=true").required);
        assert_eq!(
            m("type=secret,\"target=/a,b\"").target.as_deref(),
            Some("/a,b")
        );
        assert_eq!(
            m("type=secret,id=x,target=~/x").target.as_deref(),
            Some("~/x")
        );
    }

    #[test]
    fn option_order_is_free() {
        assert_eq!(
            m("required,id=x,type=secret"),
            m("type=secret,id=x,required")
        );
        assert_eq!(m("mode=0440,type=secret,id=x").mode, 0o440);
    }

    #[test]
    fn errors_use_buildkit_wording() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        assert_eq!(e("type=secret,id=x,env="), "env= needs a variable name");
        assert_eq!(
            e("type=secret,id=x,env"),
            "invalid field 'env' must be a key=value pair"
        );
        assert_eq!(
            e("type=secret,id=a,src=b"),
            "both source and id can't be set"
        );
        assert_eq!(
            e("type=secret"),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            e("type=secret,id=x,required=maybe"),
            "invalid value for required: maybe"
        );
        assert_eq!(e("type=secret,id=x,mode=9"), "invalid value 9 for mode");
        assert_eq!(e("type=secret,id=x,uid=a"), "invalid value a for uid");
        assert_eq!(
            e("type=secret,id=x,from=y"),
            "secret mount should not have a from"
        );
        assert_eq!(
            e("type=secret,id=x,size=1"),
            "unexpected key 'size' in 'size=1'"
        );
        assert_eq!(e("type=wat,id=x"), "unsupported mount type \"wat\"");
        assert_eq!(e("id=x"), "mount type \"bind\" is not supported by hush");
        assert!(e("type=secret,\"id=x").contains("failed to parse csv mounts"));
    }
}
