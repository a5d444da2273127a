//! The built-in providers.

mod cmd;
mod env;
mod file;
mod http;
mod json;
mod op;
mod process;
mod vault;

pub use cmd::CmdProvider;
pub use env::EnvProvider;
pub use file::FileProvider;
pub use op::{OpConfig, OpProvider};
pub use vault::{AppRole, VaultConfig, VaultProvider};

use tokio::io::{AsyncRead, AsyncReadExt};
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::value::{SecretBuf, SecretBytes};

/// Reads `reader` to its end into secret memory, failing with `TooLarge` past `limit`.
pub(crate) async fn read_limited(
    mut reader: impl AsyncRead + Unpin,
    limit: usize,
    what: &str,
) -> Result<SecretBytes, Failure> {
    let mut buf = SecretBuf::new(limit);
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = reader
            .read(&mut chunk[..])
            .await
            .map_err(|e| Failure::from_io(what, &e))?;
        if n == 0 {
            return Ok(buf.freeze());
        }
        buf.push(&chunk[..n]).map_err(|_| Failure::TooLarge)?;
    }
}
