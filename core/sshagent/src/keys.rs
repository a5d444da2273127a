//! Private keys of an in-memory agent: loading key files and signing.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256, Sha512};
use signature::Signer as _;
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::proto::{put_string, RSA_SHA2_256, RSA_SHA2_512};
use crate::SshError;

/// Largest key file read.
pub(crate) const MAX_KEY_FILE: u64 = 100 * 1024;

/// One private key and its public identity.
pub(crate) struct Key {
    /// The public key blob (wire encoding) clients name the key by.
    pub(crate) blob: Vec<u8>,
    pub(crate) comment: String,
    /// `SHA256:...`, for `Debug`.
    pub(crate) fingerprint: String,
    secret: Secret,
}

/// Both types zeroize their private parts on drop.
enum Secret {
    /// RSA keys sign through `rsa` directly, to pick the hash from the request's flags.
    Rsa(RsaPrivateKey),
    /// Ed25519 and ECDSA keys.
    Ssh(PrivateKey),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("fingerprint", &self.fingerprint)
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// Reads and parses the private key file at `path`: OpenSSH format (Ed25519, ECDSA, RSA), or PEM
    /// PKCS#1 / PKCS#8 RSA. Keys protected by a passphrase are refused. `learn` gets the file's
    /// bytes before they are parsed.
    pub(crate) fn load(path: &Path, learn: &dyn Fn(&[u8])) -> Result<Self, SshError> {
        let parse_err = |reason: &str| SshError::Parse {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let read_err = |source| SshError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        // Allocated once at full size, so no unzeroized copy is left behind by a reallocation.
        let mut buf = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE as usize + 1));
        file.take(MAX_KEY_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(read_err)?;
        if buf.len() as u64 > MAX_KEY_FILE {
            return Err(parse_err("key file larger than 100 KiB"));
        }
        learn(&buf);
        let text = std::str::from_utf8(&buf).map_err(|_| parse_err("not a PEM key file"))?;
        let comment_or_path = |comment: &str| {
            if comment.is_empty() {
                path.display().to_string()
            } else {
                comment.to_owned()
            }
        };
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            // Library errors are replaced by fixed reasons: some quote bytes of the decoded key.
            let key = PrivateKey::from_openssh(text)
                .map_err(|_| parse_err("invalid OpenSSH private key"))?;
            if key.is_encrypted() {
                return Err(parse_err("the key is protected by a passphrase"));
            }
            let comment = comment_or_path(key.comment());
            match key.key_data() {
                KeypairData::Rsa(rsa) => {
                    let big = |m: &ssh_key::Mpint| {
                        BigUint::try_from(m).map_err(|_| parse_err("invalid RSA key"))
                    };
                    let secret = RsaPrivateKey::from_components(
                        big(&rsa.public.n)?,
                        big(&rsa.public.e)?,
                        big(&rsa.private.d)?,
                        vec![big(&rsa.private.p)?, big(&rsa.private.q)?],
                    )
                    .map_err(|_| parse_err("invalid RSA key"))?;
                    Self::rsa(secret, comment).map_err(parse_err)
                }
                KeypairData::Ed25519(_) | KeypairData::Ecdsa(_) => {
                    let public = key.public_key();
                    Ok(Self {
                        blob: public
                            .to_bytes()
                            .map_err(|_| parse_err("invalid public key"))?,
                        comment,
                        fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
                        secret: Secret::Ssh(key),
                    })
                }
                _ => Err(parse_err(&format!(
                    "unsupported key type {}",
                    key.algorithm().as_str()
                ))),
            }
        } else if text.contains("ENCRYPTED") {
            Err(parse_err("the key is protected by a passphrase"))
        } else if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            let secret = RsaPrivateKey::from_pkcs1_pem(text)
                .map_err(|_| parse_err("invalid PEM RSA private key"))?;
            Self::rsa(secret, comment_or_path("")).map_err(parse_err)
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            let secret = RsaPrivateKey::from_pkcs8_pem(text)
                .map_err(|_| parse_err("invalid PKCS#8 RSA private key"))?;
            Self::rsa(secret, comment_or_path("")).map_err(parse_err)
        } else {
            Err(parse_err("not an OpenSSH or PEM private key"))
        }
    }

    fn rsa(secret: RsaPrivateKey, comment: String) -> Result<Self, &'static str> {
        let public = ssh_key::public::RsaPublicKey::try_from(secret.to_public_key())
            .map_err(|_| "invalid RSA public key")?;
        let public = PublicKey::new(KeyData::Rsa(public), comment.clone());
        Ok(Self {
            blob: public.to_bytes().map_err(|_| "invalid RSA public key")?,
            comment,
            fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
            secret: Secret::Rsa(secret),
        })
    }

    /// Signs `data` and returns the SSH signature encoding (algorithm name, signature blob); `flags`
    /// picks the hash of RSA signatures. `None` when signing fails.
    pub(crate) fn sign(&self, data: &[u8], flags: u32) -> Option<Vec<u8>> {
        let (algorithm, blob): (&str, Vec<u8>) = match &self.secret {
            Secret::Rsa(key) => {
                let blob = if flags & RSA_SHA2_512 != 0 {
                    key.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(data))
                        .map(|s| ("rsa-sha2-512", s))
                } else if flags & RSA_SHA2_256 != 0 {
                    key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
                        .map(|s| ("rsa-sha2-256", s))
                } else {
                    key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(data))
                        .map(|s| ("ssh-rsa", s))
                };
                let (algorithm, sig) = blob.ok()?;
                (algorithm, sig)
            }
            Secret::Ssh(key) => {
                let sig = key.try_sign(data).ok()?;
                let mut out = Vec::new();
                put_string(&mut out, sig.algorithm().as_str().as_bytes());
                put_string(&mut out, sig.as_bytes());
                return Some(out);
            }
        };
        let mut out = Vec::new();
        put_string(&mut out, algorithm.as_bytes());
        put_string(&mut out, &blob);
        Some(out)
    }
}
