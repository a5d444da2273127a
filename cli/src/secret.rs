//! `hush secret get`: resolve a secret and describe it, or print its plaintext on request.

use std::io::Write;

use clap::{Args, Subcommand};
use hush_session::Session;

use crate::exit::Failure;

/// Secret subcommands.
#[derive(Subcommand)]
pub enum SecretCommand {
    /// Resolve a secret URI and describe it: provider, name, length, cache digest.
    Get(GetArgs),
}

/// Arguments of `hush secret get`.
#[derive(Args)]
pub struct GetArgs {
    /// The secret's provider URI, e.g. env://API_TOKEN or vault://kv/app#token.
    uri: String,
    /// Write exactly the secret's bytes to stdout and nothing else.
    #[arg(long, conflicts_with = "json")]
    plaintext: bool,
    /// Print one JSON object with keys uri, provider, name, length, digest.
    #[arg(long)]
    json: bool,
}

/// Runs a secret subcommand.
pub async fn run(cmd: SecretCommand, session: &Session) -> Result<(), Failure> {
    match cmd {
        SecretCommand::Get(args) => get(args, session).await,
    }
}

async fn get(args: GetArgs, session: &Session) -> Result<(), Failure> {
    session.store().check(&args.uri)?;
    let secret = session.resolve(&args.uri).await?;
    let mut stdout = std::io::stdout().lock();
    let written = if args.plaintext {
        stdout.write_all(secret.expose())
    } else {
        let key = session
            .mac_key()
            .map_err(|e| Failure::Work(e.to_string()))?;
        let digest = key.digest(&secret).to_string();
        let uri = secret.uri().map(|u| u.redacted());
        if args.json {
            let object = serde_json::json!({
                "uri": uri,
                "provider": secret.provider(),
                "name": secret.name(),
                "length": secret.len(),
                "digest": digest,
            });
            writeln!(stdout, "{object}")
        } else {
            writeln!(
                stdout,
                "{} secret {}: {} bytes, cache digest {digest}",
                secret.provider(),
                secret.label(),
                secret.len()
            )
        }
    };
    written
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Work(format!("cannot write to stdout: {e}")))
}
