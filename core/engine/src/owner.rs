//! Owner and user specs (`uid`, `uid:gid`, `user`, `user:group`) and their resolution through
//! a container's `/etc/passwd` and `/etc/group`.

use crate::error::{EngineError, Result};

/// A user or group given by number or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Id {
    Num(u32),
    Name(String),
}

/// A parsed owner spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    spec: String,
    user: Id,
    group: Option<Id>,
}

/// A numeric owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ids {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn parse_id(part: &str) -> Option<Id> {
    if part.is_empty() {
        return None;
    }
    if part.bytes().all(|b| b.is_ascii_digit()) {
        return part.parse().ok().map(Id::Num);
    }
    let ok = part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'));
    ok.then(|| Id::Name(part.to_owned()))
}

impl Owner {
    /// Parses `spec`; `what` names it in errors ("the owner", "the user").
    pub(crate) fn parse(spec: &str, what: &'static str) -> Result<Self> {
        let bad = || EngineError::BadOwner {
            what,
            spec: spec.to_owned(),
        };
        let mut parts = spec.split(':');
        let user = parts.next().and_then(parse_id).ok_or_else(bad)?;
        let group = match parts.next() {
            None => None,
            Some(g) => Some(parse_id(g).ok_or_else(bad)?),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self {
            spec: spec.to_owned(),
            user,
            group,
        })
    }

    /// The spec as given.
    pub(crate) fn spec(&self) -> &str {
        &self.spec
    }

    /// Resolves names with the container's `/etc/passwd` and `/etc/group` contents (either
    /// may be missing). Without a group, the user's primary group is used (or the uid's number
    /// when the user is not in passwd).
    pub(crate) fn resolve(&self, passwd: Option<&str>, group: Option<&str>) -> Result<Ids> {
        let entry = |name: &str| {
            passwd.and_then(|p| {
                p.lines().find_map(|line| {
                    let f: Vec<&str> = line.split(':').collect();
                    (f.len() >= 4 && f[0] == name).then_some((f[2], f[3]))
                })
            })
        };
        let by_uid = |uid: u32| {
            passwd.and_then(|p| {
                p.lines().find_map(|line| {
                    let f: Vec<&str> = line.split(':').collect();
                    (f.len() >= 4 && f[2].parse() == Ok(uid)).then(|| f[3].parse().ok())?
                })
            })
        };
        let (uid, primary) = match &self.user {
            Id::Num(uid) => (*uid, by_uid(*uid).unwrap_or(*uid)),
            Id::Name(name) => {
                let (u, g) = entry(name).ok_or_else(|| EngineError::UnknownUser(name.clone()))?;
                let bad = || EngineError::UnknownUser(name.clone());
                (u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?)
            }
        };
        let gid = match &self.group {
            None => primary,
            Some(Id::Num(gid)) => *gid,
            Some(Id::Name(name)) => group
                .and_then(|g| {
                    g.lines().find_map(|line| {
                        let f: Vec<&str> = line.split(':').collect();
                        (f.len() >= 3 && f[0] == name).then(|| f[2].parse().ok())?
                    })
                })
                .ok_or_else(|| EngineError::UnknownGroup(name.clone()))?,
        };
        Ok(Ids { uid, gid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:app\napp:x:1001:\n";

    fn ids(spec: &str) -> Result<Ids> {
        Owner::parse(spec, "the owner")?.resolve(Some(PASSWD), Some(GROUP))
    }

    #[test]
    fn forms_resolve() {
        assert_eq!(ids("0").unwrap(), Ids { uid: 0, gid: 0 });
        assert_eq!(
            ids("1000").unwrap(),
            Ids {
                uid: 1000,
                gid: 1001
            }
        );
        assert_eq!(
            ids("4242").unwrap(),
            Ids {
                uid: 4242,
                gid: 4242
            }
        );
        assert_eq!(ids("12:34").unwrap(), Ids { uid: 12, gid: 34 });
        assert_eq!(
            ids("app").unwrap(),
            Ids {
                uid: 1000,
                gid: 1001
            }
        );
        assert_eq!(ids("app:staff").unwrap(), Ids { uid: 1000, gid: 50 });
        assert_eq!(ids("1000:staff").unwrap(), Ids { uid: 1000, gid: 50 });
    }

    #[test]
    fn errors_name_the_bad_part() {
        for bad in ["", ":", "a:", ":b", "a:b:c", "a b", "a/b", "-1:x/"] {
            let err = Owner::parse(bad, "the owner").unwrap_err();
            assert!(matches!(err, EngineError::BadOwner { .. }), "{bad}");
        }
        assert!(matches!(ids("nobody"), Err(EngineError::UnknownUser(u)) if u == "nobody"));
        assert!(matches!(ids("app:wheel"), Err(EngineError::UnknownGroup(g)) if g == "wheel"));
        assert!(matches!(
            Owner::parse("app", "the owner")
                .unwrap()
                .resolve(None, None),
            Err(EngineError::UnknownUser(_))
        ));
    }
}
