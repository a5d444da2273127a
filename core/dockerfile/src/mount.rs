//! The `RUN --mount` option grammar (`bind`, `cache`, `tmpfs`, `secret` and `ssh`), with
//! BuildKit's defaults and error strings (`frontend/dockerfile/instructions/commands_runmount.go`;
//! see `reference/buildkit-secrets.md` §1.2 for secrets) and these improvements:
//!
//! - option order does not matter (`required,type=secret` works; BuildKit reads `required`
//!   before it has seen the type);
//! - an empty `env=` name is an error;
//! - a mount type refuses every key it does not use instead of ignoring it (`id` on a bind
//!   mount, `from` on a tmpfs, ...), and a read-only tmpfs is refused;
//! - a bind, cache or tmpfs mount without a target says so (BuildKit's error is vaguer).
//!
//! This module only parses; what the mounts do is up to the build.

use hush_engine::Sharing;

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

/// A `RUN --mount=type=bind,...` (the default type) after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Where the mount goes (`target`, `dst` or `destination`; required). A relative target
    /// is relative to WORKDIR.
    pub target: String,
    /// The path inside the build context, or inside `from` when given (`source` or `src`;
    /// default `""`, the root of either).
    pub source: String,
    /// The stage, image or named context to mount from; `None` is the build context.
    pub from: Option<String>,
    /// Whether the step may write to the mount (`rw`/`readwrite`; default false, read-only).
    /// Writes are not kept after the step.
    pub readwrite: bool,
}

/// A `RUN --mount=type=cache,...` after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// The cache ID (default: the target). Mounts with the same ID share a cache.
    pub id: String,
    /// Where the cache goes (`target`, `dst` or `destination`; required). A relative target
    /// is relative to WORKDIR.
    pub target: String,
    /// How concurrent builds share the cache (default [`Sharing::Shared`]).
    pub sharing: Sharing,
    /// A stage or image whose `source` directory seeds an empty cache (default: none, the
    /// cache starts empty).
    pub from: Option<String>,
    /// The directory inside `from` (`source` or `src`; `None` is its root).
    pub source: Option<String>,
    /// Whether the step may not write to the cache (`ro`/`readonly`; default false).
    pub readonly: bool,
    /// Mode of the cache directory when it is created (octal in the Dockerfile, default 0755).
    pub mode: u32,
    /// Owner uid of the cache directory when it is created (default 0).
    pub uid: u32,
    /// Owner gid of the cache directory when it is created (default 0).
    pub gid: u32,
}

/// A `RUN --mount=type=tmpfs,...` after defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Where the tmpfs goes (`target`, `dst` or `destination`; required). A relative target
    /// is relative to WORKDIR.
    pub target: String,
    /// The size limit in bytes (`size=`, e.g. `64m`); `None` is no limit (also what `size=0`
    /// means, as in BuildKit).
    pub size: Option<u64>,
}

/// One `RUN --mount` hush supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// `type=bind` (the default type): a directory of the build context, a stage or an image.
    Bind(BindMount),
    /// `type=cache`: a directory kept between builds.
    Cache(CacheMount),
    /// `type=tmpfs`: an empty in-memory directory for the step.
    Tmpfs(TmpfsMount),
    /// `type=secret`.
    Secret(SecretMount),
    /// `type=ssh`.
    Ssh(SshMount),
}

/// The keys of a `--mount` value (`type` aside), each standing for its aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Source,
    Target,
    Env,
    Required,
    /// `ro`, `readonly`, `rw` or `readwrite`.
    Access,
    Mode,
    Uid,
    Gid,
    From,
    Sharing,
    Size,
}

/// One key given in a `--mount` value.
struct Given {
    key: Key,
    /// The key as written, lowercased (`dst`, `readonly`, ...).
    name: String,
    /// The value, if the field has an `=`.
    value: Option<String>,
    /// The whole field, as written.
    field: String,
}

/// The fields of a `--mount` value, before the type's defaults. A repeated key: the last wins.
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
    from: Option<String>,
    /// As written; only cache mounts read it.
    sharing: Option<String>,
    /// As written; only tmpfs mounts read it.
    size: Option<String>,
    /// Every key given but `type`, in order (`ro`/`rw` are only read from here).
    given: Vec<Given>,
}

impl Fields {
    /// The first key given that `kind` does not take, as an error: BuildKit's words where
    /// BuildKit refuses it too.
    fn refuse_others(&self, kind: &str, takes: &[Key]) -> Result<(), String> {
        let Some(g) = self.given.iter().find(|g| !takes.contains(&g.key)) else {
            return Ok(());
        };
        Err(match g.key {
            Key::Mode | Key::Uid | Key::Gid => {
                format!("{} not allowed for \"{kind}\" type mounts", g.name)
            }
            Key::Sharing => format!("invalid cache sharing set for {kind} mount"),
            _ => format!("unexpected key '{}' for mount type '{kind}'", g.name),
        })
    }

    /// Whether the mount is read-only per the last `ro`/`rw` key, if any.
    fn readonly(&self) -> Result<Option<bool>, String> {
        let mut readonly = None;
        for g in self.given.iter().filter(|g| g.key == Key::Access) {
            let set = match g.value.as_deref() {
                None => true,
                Some(v) => {
                    parse_bool(v).ok_or_else(|| format!("invalid value for {}: {v}", g.name))?
                }
            };
            let writable = matches!(g.name.as_str(), "rw" | "readwrite");
            readonly = Some(set != writable);
        }
        Ok(readonly)
    }

    /// The target, which bind, cache and tmpfs mounts need.
    fn needed_target(&mut self, kind: &str) -> Result<String, String> {
        match self.target.take() {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(format!(
                "mount type \"{kind}\" needs a target (target=<path in the container>)"
            )),
        }
    }
}

fn fields(value: &str) -> Result<Fields, String> {
    let mut f = Fields::default();
    for field in csv_fields(value)? {
        let (name, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.to_owned())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let val_or_err = || {
            val.clone()
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        let key = match name.as_str() {
            "type" => {
                f.kind = Some(val_or_err()?.to_ascii_lowercase());
                continue;
            }
            "id" => {
                f.id = Some(val_or_err()?);
                Key::Id
            }
            "source" | "src" => {
                f.source = Some(val_or_err()?);
                Key::Source
            }
            "target" | "dst" | "destination" => {
                f.target = Some(val_or_err()?);
                Key::Target
            }
            "env" => {
                let name = val_or_err()?;
                if name.is_empty() {
                    return Err("env= needs a variable name".into());
                }
                f.env = Some(name);
                Key::Env
            }
            "required" => {
                f.required = match val.as_deref() {
                    None => true,
                    Some(v) => {
                        parse_bool(v).ok_or_else(|| format!("invalid value for required: {v}"))?
                    }
                };
                Key::Required
            }
            "mode" => {
                f.mode = Some(number("mode", &val_or_err()?, 8)?);
                Key::Mode
            }
            "uid" => {
                f.uid = Some(number("uid", &val_or_err()?, 10)?);
                Key::Uid
            }
            "gid" => {
                f.gid = Some(number("gid", &val_or_err()?, 10)?);
                Key::Gid
            }
            // Read by bind, cache and tmpfs mounts (`Fields::readonly`). Secrets and agent
            // sockets are always read-only and ignore them, whatever the value, as BuildKit does.
            "ro" | "readonly" | "rw" | "readwrite" => Key::Access,
            "from" => {
                f.from = Some(val_or_err()?);
                Key::From
            }
            "sharing" => {
                f.sharing = Some(val_or_err()?);
                Key::Sharing
            }
            "size" => {
                f.size = Some(val_or_err()?);
                Key::Size
            }
            _ => return Err(format!("unexpected key '{name}' in '{field}'")),
        };
        f.given.push(Given {
            key,
            name,
            value: val,
            field,
        });
    }
    Ok(f)
}

/// Parses an (already expanded) `--mount` value: `type=bind` (the default), `cache`, `tmpfs`,
/// `secret` or `ssh`.
pub fn parse_mount(value: &str) -> Result<RunMount, String> {
    let f = fields(value)?;
    let kind = f.kind.clone().unwrap_or_else(|| "bind".into());
    match kind.as_str() {
        "bind" => bind_mount(f).map(RunMount::Bind),
        "cache" => cache_mount(f).map(RunMount::Cache),
        "tmpfs" => tmpfs_mount(f).map(RunMount::Tmpfs),
        "secret" | "ssh" => {
            if let Some(g) = f.given.iter().find(|g| g.key == Key::Size) {
                return Err(format!("unexpected key '{}' in '{}'", g.name, g.field));
            }
            let refused = f.given.iter().rev().find_map(|g| match g.key {
                Key::From => Some("should not have a from"),
                Key::Sharing => Some("should not define sharing"),
                _ => None,
            });
            if let Some(complaint) = refused {
                return Err(format!("{kind} mount {complaint}"));
            }
            if kind == "secret" {
                secret_mount(f).map(RunMount::Secret)
            } else {
                ssh_mount(f).map(RunMount::Ssh)
            }
        }
        other => Err(format!("unsupported mount type \"{other}\"")),
    }
}

fn bind_mount(mut f: Fields) -> Result<BindMount, String> {
    f.refuse_others("bind", &[Key::Target, Key::Source, Key::From, Key::Access])?;
    let target = f.needed_target("bind")?;
    Ok(BindMount {
        target,
        source: f.source.take().unwrap_or_default(),
        from: f.from.take().filter(|s| !s.is_empty()),
        readwrite: f.readonly()? == Some(false),
    })
}

fn cache_mount(mut f: Fields) -> Result<CacheMount, String> {
    f.refuse_others(
        "cache",
        &[
            Key::Target,
            Key::Id,
            Key::Sharing,
            Key::From,
            Key::Source,
            Key::Access,
            Key::Mode,
            Key::Uid,
            Key::Gid,
        ],
    )?;
    let target = f.needed_target("cache")?;
    let sharing = match f.sharing.as_deref() {
        None => Sharing::Shared,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "shared" => Sharing::Shared,
            "private" => Sharing::Private,
            "locked" => Sharing::Locked,
            _ => return Err(format!("unsupported sharing value {v:?}")),
        },
    };
    Ok(CacheMount {
        id: f
            .id
            .take()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| target.clone()),
        sharing,
        from: f.from.take().filter(|s| !s.is_empty()),
        source: f.source.take().filter(|s| !s.is_empty()),
        readonly: f.readonly()?.unwrap_or(false),
        mode: f.mode.unwrap_or(0o755) & 0o777,
        uid: f.uid.unwrap_or(0),
        gid: f.gid.unwrap_or(0),
        target,
    })
}

fn tmpfs_mount(mut f: Fields) -> Result<TmpfsMount, String> {
    f.refuse_others("tmpfs", &[Key::Target, Key::Size, Key::Access])?;
    let target = f.needed_target("tmpfs")?;
    // BuildKit would mount an empty read-only tmpfs, of no use to the step.
    if f.readonly()? == Some(true) {
        return Err("a tmpfs mount cannot be read-only".into());
    }
    let size = match f.size.as_deref() {
        None => None,
        Some(v) => Some(ram_in_bytes(v).ok_or_else(|| format!("invalid size: '{v}'"))?),
    };
    Ok(TmpfsMount {
        target,
        size: size.filter(|&n| n != 0),
    })
}

/// Docker's `units.RAMInBytes`: a decimal number, an optional space, then an optional unit
/// `k`, `m`, `g`, `t` or `p` (binary multiples: k is 1024), an optional `i` and an optional
/// `b`, all case-insensitive (`64m`, `1G`, `512kb`, `1.5gib`, `100`). A fractional byte count
/// is truncated, as in Docker.
fn ram_in_bytes(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut end = digits(0);
    if end == 0 {
        return None;
    }
    if b.get(end) == Some(&b'.') {
        let frac_end = digits(end + 1);
        if frac_end == end + 1 {
            return None;
        }
        end = frac_end;
    }
    let number: f64 = s[..end].parse().ok()?;
    let mut rest = &b[end..];
    if let [b' ', tail @ ..] = rest {
        rest = tail;
    }
    let mut shift = 0;
    if let [c, tail @ ..] = rest {
        if let Some(i) = b"kmgtp".iter().position(|u| u == &c.to_ascii_lowercase()) {
            shift = 10 * (i as i32 + 1);
            rest = tail;
        }
    }
    if let [b'i' | b'I', tail @ ..] = rest {
        rest = tail;
    }
    if let [b'b' | b'B', tail @ ..] = rest {
        rest = tail;
    }
    if !rest.is_empty() {
        return None;
    }
    let bytes = number * 2f64.powi(shift);
    // 2^64 and above do not fit (`as` would saturate).
    (bytes.is_finite() && bytes < 18_446_744_073_709_551_616.0).then_some(bytes as u64)
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
        assert_eq!(e("id=x"), "unexpected key 'id' for mount type 'bind'");
        assert!(e("type=secret,\"id=x").contains("failed to parse csv mounts"));
    }

    fn bind(v: &str) -> BindMount {
        match parse_mount(v).unwrap() {
            RunMount::Bind(b) => b,
            other => panic!("not a bind mount: {other:?}"),
        }
    }

    fn cache(v: &str) -> CacheMount {
        match parse_mount(v).unwrap() {
            RunMount::Cache(c) => c,
            other => panic!("not a cache mount: {other:?}"),
        }
    }

    fn tmpfs(v: &str) -> TmpfsMount {
        match parse_mount(v).unwrap() {
            RunMount::Tmpfs(t) => t,
            other => panic!("not a tmpfs mount: {other:?}"),
        }
    }

    #[test]
    fn bind_defaults_and_options() {
        let d = BindMount {
            target: "/src".into(),
            source: String::new(),
            from: None,
            readwrite: false,
        };
        assert_eq!(bind("target=/src"), d);
        assert_eq!(bind("type=bind,target=/src"), d);
        assert_eq!(bind("TYPE=Bind,DST=/src"), d);
        assert_eq!(bind("destination=/src,from="), d);
        assert_eq!(
            bind("rw,src=sub/dir,from=builder,type=bind,dst=/src"),
            BindMount {
                target: "/src".into(),
                source: "sub/dir".into(),
                from: Some("builder".into()),
                readwrite: true,
            }
        );
        assert_eq!(bind("target=/s,source=/x").source, "/x");
        assert!(bind("target=/s,readwrite").readwrite);
        assert!(bind("target=/s,rw=true").readwrite);
        assert!(!bind("target=/s,rw=false").readwrite);
        assert!(bind("target=/s,ro=false").readwrite);
        assert!(bind("target=/s,readonly=0").readwrite);
        assert!(!bind("target=/s,ro").readwrite);
        assert!(!bind("target=/s,readonly=true").readwrite);
        // The last of ro/rw wins.
        assert!(bind("target=/s,ro,rw").readwrite);
        assert!(!bind("target=/s,rw,ro").readwrite);
    }

    #[test]
    fn bind_errors() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        let no_target = "mount type \"bind\" needs a target (target=<path in the container>)";
        assert_eq!(e("type=bind"), no_target);
        assert_eq!(e("source=x"), no_target);
        assert_eq!(e("target="), no_target);
        assert_eq!(e("target=/s,ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(
            e("target=/s,readwrite=yes"),
            "invalid value for readwrite: yes"
        );
        assert_eq!(
            e("target=/s,id=x"),
            "unexpected key 'id' for mount type 'bind'"
        );
        assert_eq!(
            e("target=/s,sharing=locked"),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(
            e("target=/s,size=1m"),
            "unexpected key 'size' for mount type 'bind'"
        );
        assert_eq!(
            e("target=/s,mode=0644"),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("target=/s,uid=1"),
            "uid not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("target=/s,gid=1"),
            "gid not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            e("target=/s,env=X"),
            "unexpected key 'env' for mount type 'bind'"
        );
        assert_eq!(
            e("target=/s,required"),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(e("target=/s,mode=9"), "invalid value 9 for mode");
        assert_eq!(
            e("target=/s,from"),
            "invalid field 'from' must be a key=value pair"
        );
        assert_eq!(
            e("target=/s,bogus=1"),
            "unexpected key 'bogus' in 'bogus=1'"
        );
        // A refused key is reported before a missing target.
        assert_eq!(e("id=x"), "unexpected key 'id' for mount type 'bind'");
    }

    #[test]
    fn cache_defaults_and_options() {
        assert_eq!(
            cache("type=cache,target=/root/.cache"),
            CacheMount {
                id: "/root/.cache".into(),
                target: "/root/.cache".into(),
                sharing: Sharing::Shared,
                from: None,
                source: None,
                readonly: false,
                mode: 0o755,
                uid: 0,
                gid: 0,
            }
        );
        assert_eq!(
            cache(
                "uid=1000,gid=1001,mode=0700,type=cache,id=go,dst=/go,sharing=locked,\
                 from=base,src=/seed,ro"
            ),
            CacheMount {
                id: "go".into(),
                target: "/go".into(),
                sharing: Sharing::Locked,
                from: Some("base".into()),
                source: Some("/seed".into()),
                readonly: true,
                mode: 0o700,
                uid: 1000,
                gid: 1001,
            }
        );
        assert_eq!(cache("type=cache,target=/c,id=").id, "/c");
        assert_eq!(cache("type=cache,target=/c,from=,source=").from, None);
        assert_eq!(cache("type=cache,target=/c,source=").source, None);
        assert_eq!(
            cache("type=cache,target=/c,sharing=shared").sharing,
            Sharing::Shared
        );
        assert_eq!(
            cache("type=cache,target=/c,sharing=private").sharing,
            Sharing::Private
        );
        assert_eq!(
            cache("type=cache,target=/c,sharing=LOCKED").sharing,
            Sharing::Locked
        );
        assert!(cache("type=cache,target=/c,readonly").readonly);
        assert!(cache("type=cache,target=/c,ro=true").readonly);
        assert!(!cache("type=cache,target=/c,ro=false").readonly);
        assert!(!cache("type=cache,target=/c,rw").readonly);
        assert!(cache("type=cache,target=/c,readwrite=false").readonly);
        assert_eq!(cache("type=cache,target=/c,mode=1777").mode, 0o777);
    }

    #[test]
    fn cache_errors() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        let no_target = "mount type \"cache\" needs a target (target=<path in the container>)";
        assert_eq!(e("type=cache"), no_target);
        assert_eq!(e("type=cache,id=x"), no_target);
        assert_eq!(e("type=cache,dst="), no_target);
        assert_eq!(
            e("type=cache,target=/c,sharing=x"),
            "unsupported sharing value \"x\""
        );
        assert_eq!(
            e("type=cache,target=/c,sharing="),
            "unsupported sharing value \"\""
        );
        assert_eq!(e("type=cache,target=/c,ro=2"), "invalid value for ro: 2");
        assert_eq!(
            e("type=cache,target=/c,size=1g"),
            "unexpected key 'size' for mount type 'cache'"
        );
        assert_eq!(
            e("type=cache,target=/c,env=X"),
            "unexpected key 'env' for mount type 'cache'"
        );
        assert_eq!(
            e("type=cache,target=/c,required"),
            "unexpected key 'required' for mount type 'cache'"
        );
        assert_eq!(e("type=cache,target=/c,uid=-1"), "invalid value -1 for uid");
        assert_eq!(e("type=cache,target=/c,gid=x"), "invalid value x for gid");
        assert_eq!(e("type=cache,target=/c,mode=8"), "invalid value 8 for mode");
    }

    #[test]
    fn tmpfs_defaults_and_options() {
        let t = tmpfs("type=tmpfs,target=/tmp");
        assert_eq!(
            t,
            TmpfsMount {
                target: "/tmp".into(),
                size: None,
            }
        );
        assert_eq!(tmpfs("size=64m,dst=/t,type=TMPFS").size, Some(64 << 20));
        assert_eq!(tmpfs("type=tmpfs,target=/t,size=0").size, None);
        // A tmpfs is writable: rw is accepted.
        assert_eq!(tmpfs("type=tmpfs,target=/tmp,rw"), t);
        assert_eq!(tmpfs("type=tmpfs,target=/tmp,ro=false"), t);
    }

    #[test]
    fn tmpfs_errors() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        let no_target = "mount type \"tmpfs\" needs a target (target=<path in the container>)";
        assert_eq!(e("type=tmpfs"), no_target);
        assert_eq!(e("type=tmpfs,size=1m"), no_target);
        assert_eq!(e("type=tmpfs,target="), no_target);
        assert_eq!(e("type=tmpfs,target=/t,size=lots"), "invalid size: 'lots'");
        assert_eq!(e("type=tmpfs,target=/t,size="), "invalid size: ''");
        assert_eq!(
            e("type=tmpfs,target=/t,ro"),
            "a tmpfs mount cannot be read-only"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,readwrite=false"),
            "a tmpfs mount cannot be read-only"
        );
        assert_eq!(e("type=tmpfs,target=/t,rw=x"), "invalid value for rw: x");
        assert_eq!(
            e("type=tmpfs,target=/t,from=base"),
            "unexpected key 'from' for mount type 'tmpfs'"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,src=x"),
            "unexpected key 'src' for mount type 'tmpfs'"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,id=x"),
            "unexpected key 'id' for mount type 'tmpfs'"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,sharing=shared"),
            "invalid cache sharing set for tmpfs mount"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,mode=1777"),
            "mode not allowed for \"tmpfs\" type mounts"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,uid=0"),
            "uid not allowed for \"tmpfs\" type mounts"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,gid=0"),
            "gid not allowed for \"tmpfs\" type mounts"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,env=X"),
            "unexpected key 'env' for mount type 'tmpfs'"
        );
        assert_eq!(
            e("type=tmpfs,target=/t,required=true"),
            "unexpected key 'required' for mount type 'tmpfs'"
        );
    }

    #[test]
    fn sizes_follow_docker_units() {
        const K: u64 = 1024;
        for (text, bytes) in [
            ("0", 0),
            ("32", 32),
            ("32b", 32),
            ("32B", 32),
            ("32 b", 32),
            ("1k", K),
            ("1K", K),
            ("1kb", K),
            ("1KiB", K),
            ("512kb", 512 * K),
            ("64m", 64 * K * K),
            ("64 MB", 64 * K * K),
            ("1g", K * K * K),
            ("1G", K * K * K),
            ("1gib", K * K * K),
            ("1.5gib", 3 * K * K * K / 2),
            ("0.5k", 512),
            ("1.1k", 1126), // 1126.4, truncated
            ("2t", 2 * K.pow(4)),
            ("3p", 3 * K.pow(5)),
            ("15360P", 15 * K.pow(6)),
            ("1i", 1), // Docker's grammar allows a bare `i` too
            ("007m", 7 * K * K),
            ("1 ", 1),
        ] {
            assert_eq!(ram_in_bytes(text), Some(bytes), "{text:?}");
        }
        for bad in [
            "", "m", "-1", "+1", "1.", ".5", "1.2.3", "1e3", "1 k b", "1  m", " 1", "1x", "1kk",
            "1mbb", "1bi", "0x10", "16384p", "1k ",
        ] {
            assert_eq!(ram_in_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn secret_and_ssh_keep_refusing_other_keys() {
        let e = |v: &str| parse_mount(v).unwrap_err();
        assert_eq!(
            e("type=secret,id=x,sharing=shared"),
            "secret mount should not define sharing"
        );
        assert_eq!(
            e("type=ssh,sharing=locked"),
            "ssh mount should not define sharing"
        );
        assert_eq!(e("type=ssh,size=1"), "unexpected key 'size' in 'size=1'");
        assert_eq!(
            e("type=secret,from=y,id=x,size=1"),
            "unexpected key 'size' in 'size=1'"
        );
        // ro/rw are ignored on secrets and agent sockets, whatever their value.
        assert_eq!(m("type=secret,id=x,rw=maybe"), m("type=secret,id=x"));
        assert_eq!(ssh("type=ssh,ro,readwrite"), ssh("type=ssh"));
    }
}
