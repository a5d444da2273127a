//! The provider URI grammar: `SCHEME://REST[?param=value&...]`.
//!
//! `REST` is percent-decoded where a `%` is followed by two hex digits, so a `?` that belongs
//! to the secret's address (for example inside a `cmd://` command) is written `%3F`, and a
//! literal `%XY` (hex) is written `%25XY`. Any other `%` is kept as it is (`cmd://date +%s`).
//! The query holds the common parameters `cacheKey`, `ttl` and `trim`, plus those a provider
//! declares (such as `timeout` for `cmd://`). Unknown or repeated parameters are errors.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::SecretError;

/// How a resolved value is trimmed before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Bytes are kept as they are.
    None,
    /// Trailing `\n` and `\r\n` are removed, like shell `$(...)`.
    Newline,
    /// Leading and trailing ASCII whitespace is removed.
    Space,
}

impl Trim {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "newline" => Some(Self::Newline),
            "space" => Some(Self::Space),
            _ => None,
        }
    }

    /// Applies the trimming to `bytes`.
    pub fn apply(self, bytes: &[u8]) -> &[u8] {
        match self {
            Self::None => bytes,
            Self::Newline => {
                let mut end = bytes.len();
                while end > 0 && bytes[end - 1] == b'\n' {
                    end -= 1;
                    if end > 0 && bytes[end - 1] == b'\r' {
                        end -= 1;
                    }
                }
                &bytes[..end]
            }
            Self::Space => bytes.trim_ascii(),
        }
    }
}

/// A parsed secret URI.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUri {
    raw: String,
    scheme: String,
    path: String,
    cache_key: Option<String>,
    ttl: Option<Duration>,
    trim: Option<Trim>,
    extra: BTreeMap<String, String>,
}

/// The only query parameters whose values messages show: the common `cacheKey` (a label for
/// caching), `ttl` and `trim`, and `cmd://`'s `timeout`. Their values are durations, trim
/// modes and cache labels, never credentials. Every other value, including those of
/// parameters a provider accepts, is shown as `***`, whatever the parameter is called: a name
/// does not tell whether a value is secret (`key=`, `pwd=`, `session=` ...).
pub const SHOWN_PARAMS: [&str; 4] = ["cacheKey", "ttl", "trim", "timeout"];

impl SecretUri {
    /// Parses the grammar; scheme-specific checks are the registry's.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let invalid = |reason: String| SecretError::InvalidUri {
            uri: redact(raw),
            reason,
        };
        let Some((scheme, after)) = raw.split_once("://") else {
            return Err(invalid(
                "expected SCHEME://ADDRESS, e.g. env://API_TOKEN".into(),
            ));
        };
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_lowercase())
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
        if !valid_scheme {
            return Err(invalid(format!(
                "scheme {scheme:?} must be lower-case letters, digits, '+', '.' or '-'"
            )));
        }
        let (rest, query) = match after.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (after, None),
        };
        let path = decode(rest).map_err(|e| invalid(format!("address {e}")))?;
        if path.is_empty() {
            return Err(invalid("the address after '://' is empty".into()));
        }
        let mut uri = Self {
            raw: raw.to_owned(),
            scheme: scheme.to_owned(),
            path,
            cache_key: None,
            ttl: None,
            trim: None,
            extra: BTreeMap::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let Some((key, value)) = pair.split_once('=') else {
                // A bare word may be a value pasted without its name: it is named only if it
                // is one of the shown parameters.
                return Err(invalid(if SHOWN_PARAMS.contains(&pair) {
                    format!("parameter {pair:?} has no '=value'")
                } else {
                    "a parameter has no '=value'".into()
                }));
            };
            let value = decode(value).map_err(|e| invalid(format!("parameter {key:?} {e}")))?;
            if !seen.insert(key.to_owned()) {
                return Err(invalid(format!("parameter {key:?} is given twice")));
            }
            match key {
                "cacheKey" => {
                    if value.is_empty() {
                        return Err(invalid("parameter \"cacheKey\" is empty".into()));
                    }
                    uri.cache_key = Some(value);
                }
                "ttl" => uri.ttl = Some(parse_duration(key, &value).map_err(invalid)?),
                "trim" => {
                    uri.trim = Some(Trim::parse(&value).ok_or_else(|| {
                        invalid(format!(
                            "parameter \"trim\" must be none, newline or space, not {value:?}"
                        ))
                    })?)
                }
                _ => {
                    uri.extra.insert(key.to_owned(), value);
                }
            }
        }
        Ok(uri)
    }

    /// The scheme, e.g. `env`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The decoded address after `://`, without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `cacheKey` parameter.
    pub fn cache_key(&self) -> Option<&str> {
        self.cache_key.as_deref()
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The `trim` parameter, if given.
    pub fn trim(&self) -> Option<Trim> {
        self.trim
    }

    /// Provider-specific parameters (all parameters but `cacheKey`, `ttl` and `trim`).
    pub fn extra(&self) -> &BTreeMap<String, String> {
        &self.extra
    }

    /// A provider-specific duration parameter such as `timeout`.
    pub fn duration_param(&self, key: &str) -> Result<Option<Duration>, SecretError> {
        self.extra
            .get(key)
            .map(|v| parse_duration(key, v))
            .transpose()
            .map_err(|reason| self.invalid(reason))
    }

    /// The URI as typed.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URI for messages: every query value but those of [`SHOWN_PARAMS`] replaced by
    /// `***`.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// The identity under which the session resolves this URI once: everything but
    /// `cacheKey`, which changes caching, not the value.
    pub(crate) fn resolution_key(&self) -> String {
        let mut key = format!("{}://{}", self.scheme, self.path);
        for (k, v) in &self.extra {
            key.push_str(&format!("\0{k}={v}"));
        }
        key.push_str(&format!("\0ttl={:?}\0trim={:?}", self.ttl, self.trim));
        key
    }

    /// An `InvalidUri` error for this URI.
    pub fn invalid(&self, reason: impl Into<String>) -> SecretError {
        SecretError::InvalidUri {
            uri: self.redacted(),
            reason: reason.into(),
        }
    }
}

impl fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUri({:?})", self.redacted())
    }
}

impl fmt::Display for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn parse_duration(key: &str, value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|_| format!("parameter {key:?} must be a duration like 30s or 5m, not {value:?}"))
}

/// Decodes `%XX` (hex) escapes; any other `%` stays as it is.
fn decode(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "is not valid UTF-8 once percent-decoded")
}

/// The text of a URI for messages: the value of every query parameter not in
/// [`SHOWN_PARAMS`] replaced by `***`, and so is a bare word without `=` that is not one of
/// them. Text without `://` is not a URI and may be a value pasted by mistake: it is shown as
/// `***` entirely.
pub(crate) fn redact(raw: &str) -> String {
    if !raw.contains("://") {
        return "***".into();
    }
    let Some((head, query)) = raw.split_once('?') else {
        return raw.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SHOWN_PARAMS.contains(&k) => pair.to_owned(),
            Some((k, _)) => format!("{k}=***"),
            None if pair.is_empty() || SHOWN_PARAMS.contains(&pair) => pair.to_owned(),
            None => "***".to_owned(),
        })
        .collect();
    format!("{head}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SecretUri {
        SecretUri::parse(s).unwrap()
    }

    fn reason(s: &str) -> String {
        SecretUri::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn splits_scheme_path_and_common_params() {
        let u = parse("env://API_TOKEN?cacheKey=gh&ttl=5m&trim=space");
        assert_eq!(u.scheme(), "env");
        assert_eq!(u.path(), "API_TOKEN");
        assert_eq!(u.cache_key(), Some("gh"));
        assert_eq!(u.ttl(), Some(Duration::from_secs(300)));
        assert_eq!(u.trim(), Some(Trim::Space));
        assert!(u.extra().is_empty());
    }

    #[test]
    fn percent_escapes_allow_question_marks_and_keep_other_percents() {
        let u = parse("cmd://echo%20a%3Fb%20$(date +%s)%25?timeout=5s");
        assert_eq!(u.path(), "echo a?b $(date +%s)%");
        assert_eq!(
            u.duration_param("timeout").unwrap(),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn file_uris_keep_absolute_paths() {
        assert_eq!(parse("file:///etc/hostname").path(), "/etc/hostname");
        assert_eq!(parse("file://~/token").path(), "~/token");
    }

    #[test]
    fn vault_fragment_is_part_of_the_address() {
        assert_eq!(parse("vault://kv/app#token?ttl=1m").path(), "kv/app#token");
    }

    #[test]
    fn grammar_errors_name_the_bad_part() {
        assert!(reason("API_TOKEN").contains("expected SCHEME://ADDRESS"));
        assert!(reason("Env://X").contains("scheme \"Env\""));
        assert!(reason("env://").contains("empty"));
        assert!(reason("env://X?ttl").contains("\"ttl\" has no '=value'"));
        assert!(reason("env://X?ttl=soon").contains("duration"));
        assert!(reason("env://X?trim=all").contains("none, newline or space"));
        assert!(reason("env://X?ttl=1s&ttl=2s").contains("twice"));
        assert!(reason("env://X?cacheKey=").contains("empty"));
    }

    #[test]
    fn credential_looking_values_are_redacted_in_errors() {
        let err = reason("vault://a#b?token=s3cr3t-value&ttl=bad");
        assert!(!err.contains("s3cr3t-value"), "{err}");
        assert!(err.contains("token=***"), "{err}");
        assert_eq!(
            parse("env://X?cacheKey=k").redacted(),
            "env://X?cacheKey=k",
            "cacheKey is a label, not a credential"
        );
    }

    /// Every way a URI reaches a message: its redacted form and a parse error.
    fn shown(raw: &str) -> String {
        let err = SecretUri::parse(&format!("{raw}&ttl=soon"))
            .unwrap_err()
            .to_string();
        format!("{} {err}", redact(raw))
    }

    #[test]
    fn every_query_value_but_the_shown_parameters_is_masked() {
        let value = "AIzaCanary123";
        for key in [
            "key",
            "pwd",
            "private_key",
            "session",
            "password",
            "token",
            "apikey",
            "sig",
            "access",
            "X-Amz-Credential",
            "client_secret",
            "code",
            "version",
            "field",
            "user",
            "id",
            "p",
            "q",
            "Token",
            "TTL",
            "cachekey",
            "ti%6De",
        ] {
            let raw = format!("env://HOME?{key}={value}");
            let text = shown(&raw);
            assert!(!text.contains(value), "{key}: {text}");
            assert!(text.contains(&format!("{key}=***")), "{key}: {text}");
        }
        // A bare word may be a pasted value, and so may text that is not a URI at all.
        assert!(!shown(&format!("env://HOME?{value}")).contains(value));
        assert_eq!(
            reason(&format!("env://HOME?{value}")),
            "invalid secret URI \"env://HOME?***\": a parameter has no '=value'"
        );
        assert!(!reason(value).contains(value), "{}", reason(value));
        // Control: the same check sees a value in a parameter that is shown.
        for key in SHOWN_PARAMS {
            let text = shown(&format!("cmd://true?{key}={value}"));
            assert!(text.contains(&format!("{key}={value}")), "{key}: {text}");
        }
    }

    #[test]
    fn trims() {
        assert_eq!(Trim::Newline.apply(b"tok\r\n\n"), b"tok");
        assert_eq!(Trim::Newline.apply(b" tok \n"), b" tok ");
        assert_eq!(Trim::Space.apply(b" \ttok \n"), b"tok");
        assert_eq!(Trim::None.apply(b"tok\n"), b"tok\n");
    }

    #[test]
    fn resolution_key_ignores_cache_key() {
        assert_eq!(
            parse("env://A?cacheKey=x").resolution_key(),
            parse("env://A").resolution_key()
        );
        assert_ne!(
            parse("env://A?trim=space").resolution_key(),
            parse("env://A").resolution_key()
        );
    }
}
