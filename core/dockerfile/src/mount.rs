//! The `RUN --mount` option grammar for secrets, with BuildKit's defaults and error strings
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

/// Parses an (already expanded) `--mount` value. Only `type=secret` is supported; other
/// types are refused with a clear error.
pub fn parse_mount(value: &str) -> Result<SecretMount, String> {
    let mut kind = "bind".to_owned();
    let (mut id, mut source, mut target, mut env) = (None, None, None, None);
    let mut required = false;
    let (mut mode, mut uid, mut gid) = (None, None, None);
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
            "type" => kind = val_or_err()?.to_ascii_lowercase(),
            "id" => id = Some(val_or_err()?),
            "source" | "src" => source = Some(val_or_err()?),
            "target" | "dst" | "destination" => target = Some(val_or_err()?),
            "env" => {
                let name = val_or_err()?;
                if name.is_empty() {
                    return Err("env= needs a variable name".into());
                }
                env = Some(name);
            }
            "required" => {
                required = match val.as_deref() {
                    None => true,
                    Some(v) => {
                        parse_bool(v).ok_or_else(|| format!("invalid value for required: {v}"))?
                    }
                }
            }
            "mode" => mode = Some(number("mode", &val_or_err()?, 8)?),
            "uid" => uid = Some(number("uid", &val_or_err()?, 10)?),
            "gid" => gid = Some(number("gid", &val_or_err()?, 10)?),
            // Secrets are always read-only; BuildKit accepts and ignores these.
            "ro" | "readonly" | "rw" | "readwrite" => {}
            "from" => return Err("secret mount should not have a from".into()),
            "sharing" => return Err("secret mount should not define sharing".into()),
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    match kind.as_str() {
        "secret" => {}
        "bind" | "cache" | "tmpfs" | "ssh" => {
            return Err(format!("mount type \"{kind}\" is not supported by hush"))
        }
        other => return Err(format!("unsupported mount type \"{other}\"")),
    }
    if id.is_some() && source.is_some() {
        return Err("both source and id can't be set".into());
    }
    let id = match id.or(source) {
        Some(id) if !id.is_empty() => id,
        _ => match &target {
            Some(t) if !t.is_empty() => basename(t).to_owned(),
            _ => return Err("invalid secret mount. one of source, target required".into()),
        },
    };
    let target = match (target, &env) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => Some(format!("/run/secrets/{}", basename(&id))),
    };
    Ok(SecretMount {
        id,
        target,
        env,
        required,
        mode: mode.unwrap_or(0o400) & 0o777,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
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
        parse_mount(v).unwrap()
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
