//! `env://NAME`: an environment variable of the hush process.

use async_trait::async_trait;
use zeroize::Zeroize;

use crate::error::Failure;
use crate::provider::{Provider, ResolveContext};
use crate::uri::SecretUri;
use crate::value::SecretBytes;

/// Reads environment variables of the current process.
#[derive(Debug, Default)]
pub struct EnvProvider;

#[async_trait]
impl Provider for EnvProvider {
    fn scheme(&self) -> &str {
        "env"
    }

    fn check(&self, uri: &SecretUri) -> Result<(), String> {
        if uri.path().contains(['=', '\0']) {
            return Err("an environment variable name cannot contain '=' or NUL".into());
        }
        Ok(())
    }

    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure> {
        use std::os::unix::ffi::OsStringExt;
        let name = uri.path();
        let Some(value) = std::env::var_os(name) else {
            return Err(Failure::NotFound(format!(
                "environment variable {name:?} is not set"
            )));
        };
        let mut bytes = value.into_vec();
        let result = if bytes.len() > ctx.limit {
            Err(Failure::TooLarge)
        } else {
            Ok(SecretBytes::new(&bytes))
        };
        bytes.zeroize();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolve(raw: &str) -> Result<SecretBytes, Failure> {
        EnvProvider
            .resolve(
                &SecretUri::parse(raw).unwrap(),
                &ResolveContext::unobserved(64),
            )
            .await
    }

    #[tokio::test]
    async fn reads_the_variable_raw() {
        std::env::set_var("HUSH_TEST_ENV_PRESENT", "value with\nnewline\n");
        let v = resolve("env://HUSH_TEST_ENV_PRESENT").await.unwrap();
        assert_eq!(v.expose(), b"value with\nnewline\n");
    }

    #[tokio::test]
    async fn missing_variable_is_not_found_and_named() {
        let err = resolve("env://HUSH_TEST_ENV_MISSING").await.unwrap_err();
        assert_eq!(
            err,
            Failure::NotFound("environment variable \"HUSH_TEST_ENV_MISSING\" is not set".into())
        );
    }

    #[tokio::test]
    async fn too_large_value_is_refused() {
        std::env::set_var("HUSH_TEST_ENV_BIG", "x".repeat(65));
        assert_eq!(
            resolve("env://HUSH_TEST_ENV_BIG").await.unwrap_err(),
            Failure::TooLarge
        );
    }

    #[test]
    fn names_with_equals_are_invalid() {
        let uri = SecretUri::parse("env://A=B").unwrap();
        assert!(EnvProvider.check(&uri).is_err());
    }
}
