//! `hush core ...`: the whole API as a chain on the command line, driven by the API
//! description; every result is printed through the session scrubber.

use std::sync::Arc;

use clap::Args;
use hush_api::chain::{self, Parsed};
use hush_api::query::{self, Output};
use hush_api::Api;
use hush_query::{Client, QueryError, QueryErrorKind};
use hush_session::Session;

use crate::exit::Failure;
use crate::output::print;

/// Arguments of `hush core`.
#[derive(Args)]
#[command(disable_help_flag = true)]
pub struct CoreArgs {
    /// The chain: fields in kebab-case, each followed by its --flag=value arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CHAIN"
    )]
    words: Vec<String>,
}

impl From<QueryError> for Failure {
    fn from(err: QueryError) -> Self {
        match err.kind() {
            QueryErrorKind::Invalid => Self::Usage(err.to_string()),
            _ => Self::Work(err.to_string()),
        }
    }
}

/// Evaluates the chain and prints its result.
pub async fn run(args: CoreArgs, session: Arc<Session>) -> Result<u8, Failure> {
    let api = Api::get();
    let words = if args.words.is_empty() {
        vec!["--help".to_owned()]
    } else {
        args.words
    };
    let calls = match chain::parse(api, &words).map_err(|e| Failure::Usage(e.to_string()))? {
        Parsed::Help { on, field } => {
            print(session.console(), chain::help(on, field).as_bytes())?;
            return Ok(0);
        }
        Parsed::Chain(calls) => calls,
    };
    let selections = query::from_calls(api, &calls).map_err(|e| Failure::Usage(e.to_string()))?;
    let client = Client::new(session.clone())?;
    let output = client.evaluate(&selections).await?;
    let mut text = String::new();
    render(&output, &mut text);
    print(session.console(), text.as_bytes())?;
    Ok(0)
}

/// Strings as they are, numbers and booleans on a line, lists one item per line, objects as
/// their type and id.
fn render(output: &Output, out: &mut String) {
    match output {
        Output::Null => {}
        Output::String(s) => out.push_str(s),
        Output::Int(i) => out.push_str(&format!("{i}\n")),
        Output::Boolean(b) => out.push_str(&format!("{b}\n")),
        Output::List(items) => {
            for item in items {
                render(item, out);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        Output::Object { ty, id } => out.push_str(&format!("{ty} {id}\n")),
    }
}
