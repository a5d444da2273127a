//! The address of a `vault://` URI: `PATH#FIELD`, or Dagger's `PATH.FIELD`.

/// A secret's path and the field read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Address<'a> {
    /// The path, possibly starting with a mount, without leading or trailing `/`.
    pub path: &'a str,
    /// The field of the secret's data.
    pub field: &'a str,
}

/// Splits `PATH#FIELD` at the first `#`, else `PATH.FIELD` at the last `.` after the last
/// `/`. The reason is shown to the user when the address is invalid.
pub(super) fn parse(address: &str) -> Result<Address<'_>, String> {
    let (path, field) = match address.split_once('#') {
        Some(split) => split,
        None => {
            let name_start = address.rfind('/').map_or(0, |i| i + 1);
            match address[name_start..].rfind('.') {
                Some(dot) => {
                    let at = name_start + dot;
                    (&address[..at], &address[at + 1..])
                }
                None => {
                    return Err(format!(
                        "{address:?} names no field: write vault://PATH#FIELD \
                         (or Dagger's vault://PATH.FIELD)"
                    ))
                }
            }
        }
    };
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Err("the secret's path is empty".into());
    }
    if field.is_empty() {
        return Err("the field name is empty".into());
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(format!("path {path:?} has an empty, '.' or '..' segment"));
    }
    Ok(Address { path, field })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(address: &str) -> (&str, &str) {
        let a = parse(address).unwrap();
        (a.path, a.field)
    }

    #[test]
    fn hash_form_splits_at_the_first_hash_and_allows_dots() {
        assert_eq!(split("kv/app#token"), ("kv/app", "token"));
        assert_eq!(
            split("kv/app.v2/db.prod#pass.word"),
            ("kv/app.v2/db.prod", "pass.word")
        );
        assert_eq!(split("app#a#b"), ("app", "a#b"));
        assert_eq!(split("app#.hidden"), ("app", ".hidden"));
    }

    #[test]
    fn dot_form_splits_at_the_last_dot_of_the_last_segment() {
        assert_eq!(split("credentials.github"), ("credentials", "github"));
        assert_eq!(split("team.a/app.cfg.token"), ("team.a/app.cfg", "token"));
        assert_eq!(split("/kv/app.token"), ("kv/app", "token"));
    }

    #[test]
    fn missing_or_empty_parts_are_invalid() {
        assert!(parse("kv/app").unwrap_err().contains("names no field"));
        assert!(parse("team.a/app").unwrap_err().contains("names no field"));
        assert!(parse("kv/app#")
            .unwrap_err()
            .contains("field name is empty"));
        assert!(parse("kv/app.")
            .unwrap_err()
            .contains("field name is empty"));
        assert!(parse("#token").unwrap_err().contains("path is empty"));
        assert!(parse(".token").unwrap_err().contains("path is empty"));
        assert!(parse("kv//app#x")
            .unwrap_err()
            .contains("empty, '.' or '..'"));
        assert!(parse("kv/../sys#x")
            .unwrap_err()
            .contains("empty, '.' or '..'"));
    }
}
