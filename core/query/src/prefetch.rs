//! The secrets a chain names, made known to the session before the chain is evaluated.
//!
//! A message may quote any secret of the chain (a failing `cmd://` secret's stderr, an exec's
//! error), and it is scrubbed against the secrets the session knows when it is shown. So every
//! `secret(uri)` of a chain, nested chains included, is resolved (concurrently, once per URI)
//! and every `set_secret` plaintext is taught to the scrubber before the first field is
//! evaluated; a failure is reported only once all of them were tried. Evaluation then finds
//! the URIs resolved in the session's store.

use hush_api::query::{Input, Selection};

use crate::client::Client;
use crate::error::QueryError;

/// What a chain names: provider URIs (as the evaluation resolves them) and plaintexts.
#[derive(Default)]
struct Named<'a> {
    uris: Vec<String>,
    plaintexts: Vec<&'a str>,
}

/// Resolves every secret `chain` names (a chain from `Query` when `from_query`), then reports
/// the first failure in chain order (a field's arguments by name), if any.
pub(crate) async fn secrets(
    client: &Client,
    chain: &[Selection],
    from_query: bool,
) -> Result<(), QueryError> {
    let mut named = Named::default();
    collect(chain, from_query, &mut named);
    let session = client.session();
    for plaintext in named.plaintexts {
        // The evaluation's set_secret warns about a value too short to scrub.
        let _ = session.scrubber().add_secret(plaintext.as_bytes());
    }
    for result in session.store().resolve_all(&named.uris).await {
        result?;
    }
    Ok(())
}

fn collect<'a>(chain: &'a [Selection], from_query: bool, named: &mut Named<'a>) {
    for (i, selection) in chain.iter().enumerate() {
        let text = |name: &str| match selection.args.get(name) {
            Some(Input::String(s)) => Some(s.as_str()),
            _ => None,
        };
        if from_query && i == 0 {
            match (selection.field.as_str(), text("uri"), text("plaintext")) {
                ("secret", Some(uri), _) => named
                    .uris
                    .push(crate::evaluate::with_cache_key(uri, text("cache_key"))),
                ("set_secret", _, Some(plaintext)) => named.plaintexts.push(plaintext),
                _ => {}
            }
        }
        for input in selection.args.values() {
            collect_input(input, named);
        }
    }
}

fn collect_input<'a>(input: &'a Input, named: &mut Named<'a>) {
    match input {
        Input::Chain { chain } => collect(chain, true, named),
        Input::List(items) => items.iter().for_each(|i| collect_input(i, named)),
        Input::Map { map } => map.values().for_each(|i| collect_input(i, named)),
        Input::Null | Input::Boolean(_) | Input::Int(_) | Input::String(_) | Input::Id { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(json: &str) -> Vec<Selection> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn finds_secrets_in_nested_chains_lists_and_maps() {
        let chain = chain(
            r#"[{"field":"container"},
                {"field":"with_secret_variable","args":{"name":"B","secret":{"chain":[
                    {"field":"secret","args":{"uri":"cmd://false"}}]}}},
                {"field":"with_registry_auth","args":{"secret":{"chain":[
                    {"field":"set_secret","args":{"name":"p","plaintext":"set-value"}}]}}},
                {"field":"docker_build","args":{
                    "secrets":[{"chain":[{"field":"secret","args":{"uri":"env://A","cache_key":"k k"}}]}],
                    "secret_map":{"map":{"x":{"chain":[{"field":"secret","args":{"uri":"file:///x"}}]}}}}}]"#,
        );
        let mut named = Named::default();
        collect(&chain, true, &mut named);
        // Arguments of one field come by name: secret_map before secrets.
        assert_eq!(
            named.uris,
            ["cmd://false", "file:///x", "env://A?cacheKey=k%20k"]
        );
        assert_eq!(named.plaintexts, ["set-value"]);
        // `secret` is a Query field: elsewhere in a chain it names nothing.
        for (json, from_query) in [
            (r#"[{"field":"secret","args":{"uri":"env://N"}}]"#, false),
            (
                r#"[{"field":"container"},{"field":"secret","args":{"uri":"env://N"}}]"#,
                true,
            ),
        ] {
            let chain = self::chain(json);
            let mut named = Named::default();
            collect(&chain, from_query, &mut named);
            assert!(named.uris.is_empty(), "{json}");
        }
    }
}
