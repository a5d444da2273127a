//! `file://PATH`: a file's raw bytes. `~` is the home directory; relative paths start at the
//! current directory; `file:///abs` is absolute.

use std::path::PathBuf;

use async_trait::async_trait;

use super::read_limited;
use crate::error::Failure;
use crate::provider::{Provider, ResolveContext};
use crate::uri::SecretUri;
use crate::value::SecretBytes;

/// Reads files on the host.
#[derive(Debug, Default)]
pub struct FileProvider;

/// Expands a leading `~` or `~/` to `$HOME`.
fn expand(path: &str) -> Result<PathBuf, Failure> {
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .ok_or_else(|| Failure::Provider("cannot expand '~': HOME is not set".into()))
    };
    match path.strip_prefix('~') {
        Some("") => home(),
        Some(rest) if rest.starts_with('/') => Ok(home()?.join(&rest[1..])),
        _ => Ok(PathBuf::from(path)),
    }
}

#[async_trait]
impl Provider for FileProvider {
    fn scheme(&self) -> &str {
        "file"
    }

    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure> {
        let path = expand(uri.path())?;
        let what = format!("file {:?}", path.display().to_string());
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Failure::from_io(&what, &e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| Failure::from_io(&what, &e))?;
        if meta.is_dir() {
            return Err(Failure::Provider(format!("{what} is a directory")));
        }
        if meta.len() > ctx.limit as u64 {
            return Err(Failure::TooLarge);
        }
        read_limited(file, ctx.limit, &what).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolve(raw: &str, limit: usize) -> Result<SecretBytes, Failure> {
        let uri = SecretUri::parse(raw).unwrap();
        FileProvider
            .resolve(&uri, &ResolveContext::unobserved(limit))
            .await
    }

    #[tokio::test]
    async fn reads_raw_bytes_without_trimming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, b"line1\nline2\n\xff").unwrap();
        let v = resolve(&format!("file://{}", path.display()), 100)
            .await
            .unwrap();
        assert_eq!(v.expose(), b"line1\nline2\n\xff");
    }

    #[tokio::test]
    async fn expands_home() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t"), b"home-secret").unwrap();
        assert_eq!(
            expand("~/t").unwrap(),
            PathBuf::from(std::env::var("HOME").unwrap()).join("t")
        );
        assert_eq!(expand("rel/t").unwrap(), PathBuf::from("rel/t"));
    }

    #[tokio::test]
    async fn missing_file_is_not_found() {
        let err = resolve("file:///nonexistent/hush-token", 100)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Failure::NotFound("file \"/nonexistent/hush-token\": no such file or directory".into())
        );
    }

    #[test]
    fn access_errors_map_to_permission_denied() {
        let e = std::io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(
            Failure::from_io("file \"f\"", &e),
            Failure::PermissionDenied("file \"f\": permission denied".into())
        );
    }

    #[tokio::test]
    async fn too_large_and_directory_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 101]).unwrap();
        let raw = format!("file://{}", path.display());
        assert_eq!(resolve(&raw, 100).await.unwrap_err(), Failure::TooLarge);
        assert_eq!(resolve(&raw, 101).await.unwrap().len(), 101);
        let err = resolve(&format!("file://{}", dir.path().display()), 100)
            .await
            .unwrap_err();
        assert!(matches!(err, Failure::Provider(ref r) if r.contains("is a directory")));
    }
}
