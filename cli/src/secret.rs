//! `hush secret get`: resolve a secret and describe it, or print its plaintext on request.

use clap::{Args, Subcommand};
use hush_session::Session;

use crate::exit::Failure;
use crate::output::{print, stdout_failed};

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
    if args.plaintext {
        return session
            .console()
            .reveal(secret.expose())
            .map_err(stdout_failed);
    }
    let key = session
        .mac_key()
        .map_err(|e| Failure::Work(e.to_string()))?;
    let digest = key.digest(&secret).to_string();
    let text = if args.json {
        let object = serde_json::json!({
            "uri": secret.uri().map(|u| u.redacted()),
            "provider": secret.provider(),
            "name": secret.name(),
            "length": secret.len(),
            "digest": digest,
        });
        format!("{object}\n")
    } else {
        format!(
            "{} secret {}: {} bytes, cache digest {digest}\n",
            secret.provider(),
            secret.label(),
            secret.len()
        )
    };
    print(session.console(), text.as_bytes())
}
