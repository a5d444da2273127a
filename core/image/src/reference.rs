//! Docker-style image references: `busybox`, `busybox:1.36`, `localhost:5000/team/app:v1`,
//! `alpine@sha256:...`.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::{Digest, DigestAlgorithm};

use crate::ImageError;

/// The registry that names without a domain refer to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed image reference, `[domain/]path[:tag][@digest]`, with Docker's defaults: a bare
/// `busybox` means `busybox:latest` on `docker.io` (repository `library/busybox`).
///
/// It displays in the short "familiar" form (`busybox:latest`, `localhost:5000/x:1`), which is
/// also how the store names tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: Option<String>,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes a reference; `docker.io/library/busybox` and `busybox` are equal.
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let bad = |reason: &str| ImageError::InvalidReference {
            reference: text.to_string(),
            reason: reason.to_string(),
        };
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(
                    parse_digest(digest)
                        .map_err(|_| bad("the part after @ is not a valid sha256 digest"))?,
                ),
            ),
            None => (text, None),
        };
        // A tag follows the last ':' that comes after the last '/' (a port comes before it).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(bad(
                    "a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
                ));
            }
        }
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(bad("the name is longer than 255 characters"));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (Some(first), rest)
            }
            _ => (None, name),
        };
        if let Some(domain) = domain {
            if !valid_domain(domain) {
                return Err(bad("the registry host is not a valid host[:port]"));
            }
        }
        if !path.split('/').all(valid_path_component) {
            return Err(bad(
                "name components are lowercase letters and digits, separated by '.', '_', '__' or '-'",
            ));
        }
        let (domain, path) = match domain {
            Some("docker.io" | "index.docker.io") | None => (
                None,
                path.strip_prefix("library/")
                    .filter(|p| !p.contains('/'))
                    .unwrap_or(path),
            ),
            Some(domain) => (Some(domain), path),
        };
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Self {
            domain: domain.map(str::to_string),
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host (and port): `docker.io` unless the reference names one.
    pub fn registry(&self) -> &str {
        self.domain.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// The repository within the registry, e.g. `library/busybox` for `busybox`.
    pub fn repository(&self) -> String {
        if self.domain.is_none() && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// The short repository name: `busybox`, `localhost:5000/team/app`.
    pub fn name(&self) -> String {
        match &self.domain {
            Some(domain) => format!("{domain}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// The tag: as given, `latest` when neither tag nor digest was given, none for `name@digest`.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest given after `@`, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `name:tag` as the store records it, or `None` for a digest-only reference.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|tag| format!("{}:{tag}", self.name()))
    }
}

impl FromStr for Reference {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Parses `sha256:<64 lowercase hex>`, the only digest algorithm the store keeps.
pub(crate) fn parse_digest(text: &str) -> Result<Digest, ImageError> {
    let digest = Digest::from_str(text).map_err(|e| ImageError::InvalidReference {
        reference: text.to_string(),
        reason: e.to_string(),
    })?;
    if *digest.algorithm() != DigestAlgorithm::Sha256 {
        return Err(ImageError::Unsupported {
            what: "digest algorithm",
            value: digest.algorithm().to_string(),
        });
    }
    Ok(digest)
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= MAX_TAG_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(|&b| alnum(b)) || !bytes.last().is_some_and(|&b| alnum(b)) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn familiar(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn bare_names_get_latest_and_docker_hub() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "busybox:latest");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(familiar("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(
            familiar("index.docker.io/library/busybox"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/team/app"), "team/app:latest");
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = Reference::parse("localhost:5000/x:1").unwrap();
        assert_eq!(
            (r.registry(), r.repository().as_str(), r.tag()),
            ("localhost:5000", "x", Some("1"))
        );
        assert_eq!(familiar("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(familiar("ghcr.io/a/b/c:v1.2_3"), "ghcr.io/a/b/c:v1.2_3");
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("alpine@sha256:{hex}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.tagged_name(), None);
        assert_eq!(r.digest().unwrap().digest(), hex);
        assert_eq!(r.to_string(), format!("alpine@sha256:{hex}"));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            ":tag",
            "Busybox",
            "a//b",
            "a/",
            "-a",
            "a:",
            "a:.x",
            "a@sha256:zz",
            "a b",
            "host:port/x",
            "a__-b",
            "a___b",
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(err.is_usage(), "{bad}: {err}");
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(Reference::parse(&format!("a:{}", "t".repeat(129))).is_err());
    }
}
