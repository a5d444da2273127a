//! Cache digests: a keyed MAC of a secret's plaintext (or of its `cacheKey`), so a cache key
//! changes with the value and reveals nothing without the MAC key.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::home::{ensure_private_dir, inspect, HomeProblem, Kind};
use crate::secret::Secret;

pub(crate) const KEY_FILE: &str = "mac.key";
const KEY_LEN: usize = 32;

/// The MAC key: 32 random bytes in `<hush home>/mac.key`, mode 0600, created on first use.
pub struct MacKey(Zeroizing<[u8; KEY_LEN]>);

/// Why the MAC key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MacKeyError {
    #[error("cannot use the MAC key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the MAC key {path} is corrupt: expected {KEY_LEN} bytes, found {found}")]
    Corrupt { path: PathBuf, found: usize },
    #[error("the MAC key {path} is readable by others (mode {mode:o}); it must be 0600")]
    Exposed { path: PathBuf, mode: u32 },
    #[error("refusing the MAC key {path}: it is {problem}")]
    Untrusted { path: PathBuf, problem: HomeProblem },
    #[error(transparent)]
    Home(#[from] crate::home::HomeError),
}

impl MacKey {
    /// Loads the key from `home`, creating the directory and the key if missing. Concurrent
    /// first uses agree on one key. A key that is a symbolic link, not a regular file, owned
    /// by another user or readable by others is refused.
    pub fn load_or_create(home: &Path) -> Result<Self, MacKeyError> {
        let path = home.join(KEY_FILE);
        let io = |source| MacKeyError::Io {
            path: path.clone(),
            source,
        };
        ensure_private_dir(home).map_err(io)?;
        match Self::read(&path) {
            Err(MacKeyError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::fill(&mut key[..]);
        // Write to a private temporary file, then link it into place: the key appears whole or
        // not at all, and a concurrent creator's key wins if it got there first.
        let tmp = home.join(format!(".{KEY_FILE}.{:016x}", rand::random::<u64>()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&key[..]).and_then(|()| f.sync_all()));
        let linked = written.and_then(|()| fs::hard_link(&tmp, &path));
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Self(key)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::read(&path),
            Err(e) => Err(io(e)),
        }
    }

    fn read(path: &Path) -> Result<Self, MacKeyError> {
        let io = |source| MacKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let untrusted = |problem| match problem {
            HomeProblem::Exposed { mode } => MacKeyError::Exposed {
                path: path.to_owned(),
                mode,
            },
            problem => MacKeyError::Untrusted {
                path: path.to_owned(),
                problem,
            },
        };
        let mut file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(untrusted(HomeProblem::Symlink))
            }
            opened => opened.map_err(io)?,
        };
        inspect(&file.metadata().map_err(io)?, Kind::Key).map_err(untrusted)?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
        Read::by_ref(&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        let key: [u8; KEY_LEN] = bytes[..].try_into().map_err(|_| MacKeyError::Corrupt {
            path: path.to_owned(),
            found: bytes.len(),
        })?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The cache digest of a secret: of its `cacheKey` when it has one, else of its value.
    pub fn digest(&self, secret: &Secret) -> CacheDigest {
        match secret.cache_key() {
            Some(key) => self.mac(b"cache-key", key.as_bytes()),
            None => self.mac(b"value", secret.expose()),
        }
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> CacheDigest {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("any key length works");
        mac.update(b"hush-secret-v1\0");
        mac.update(domain);
        mac.update(b"\0");
        mac.update(data);
        CacheDigest(hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(redacted)")
    }
}

/// A secret's contribution to cache keys: `hmac-sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheDigest(String);

impl CacheDigest {
    /// The hex MAC without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CacheDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hmac-sha256:{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Origin;
    use crate::value::SecretBytes;
    use crate::SecretUri;
    use std::os::unix::fs::PermissionsExt;

    fn secret(value: &[u8], cache_key: Option<&str>) -> Secret {
        let uri = SecretUri::parse("env://X").unwrap();
        Secret::new(
            Origin::Uri(uri),
            cache_key.map(Into::into),
            SecretBytes::new(value),
        )
    }

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("nested/hush");
        let a = MacKey::load_or_create(&home).unwrap();
        let b = MacKey::load_or_create(&home).unwrap();
        let s = secret(b"value-1", None);
        assert_eq!(a.digest(&s), b.digest(&s));
        let meta = fs::metadata(home.join(KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        assert_eq!(
            fs::metadata(&home).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn concurrent_first_use_agrees_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = secret(b"value-1", None);
        let digests: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| MacKey::load_or_create(dir.path()).unwrap().digest(&s)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(digests.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn digest_follows_value_or_cache_key_and_hides_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let key = MacKey::load_or_create(dir.path()).unwrap();
        let a = key.digest(&secret(b"value-1", None));
        assert_ne!(a, key.digest(&secret(b"value-2", None)));
        assert_eq!(
            key.digest(&secret(b"value-1", Some("ck"))),
            key.digest(&secret(b"value-2", Some("ck")))
        );
        assert_ne!(
            key.digest(&secret(b"ck", None)),
            key.digest(&secret(b"x", Some("ck")))
        );
        assert!(a.to_string().starts_with("hmac-sha256:"));
        assert_eq!(a.hex().len(), 64);
        let other = tempfile::tempdir().unwrap();
        let key2 = MacKey::load_or_create(other.path()).unwrap();
        assert_ne!(
            a,
            key2.digest(&secret(b"value-1", None)),
            "keyed, not a plain hash"
        );
    }

    #[test]
    fn bad_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        fs::write(&path, b"short").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            MacKey::load_or_create(dir.path()),
            Err(MacKeyError::Corrupt { found: 5, .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MacKey::load_or_create(dir.path()),
            Err(MacKeyError::Exposed { mode: 0o644, .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"short", "nothing stored is lost");
    }

    #[test]
    fn a_key_another_user_could_control_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let real = dir.path().join("elsewhere");
        fs::write(&real, [7u8; KEY_LEN]).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        let err = MacKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                MacKeyError::Untrusted {
                    problem: HomeProblem::Symlink,
                    ..
                }
            ),
            "{err}"
        );
        fs::remove_file(&path).unwrap();
        fs::rename(&real, &path).unwrap();
        assert!(MacKey::load_or_create(dir.path()).is_ok(), "control");
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = MacKey::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                MacKeyError::Untrusted {
                    problem: HomeProblem::Owner { uid: 65534, .. },
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            fs::read(&path).unwrap(),
            [7u8; KEY_LEN],
            "nothing stored is lost"
        );
    }
}
