//! The query protocol shared by the CLI and every SDK: a chain of selections from `Query`,
//! evaluated by the core into a value. It travels as JSON across the language bindings:
//!
//! ```json
//! [{"field": "container"}, {"field": "from", "args": {"address": "busybox"}},
//!  {"field": "with_secret_variable",
//!   "args": {"name": "T", "secret": {"chain": [{"field": "secret", "args": {"uri": "env://T"}}]}}},
//!  {"field": "stdout"}]
//! ```
//!
//! An object argument is either a nested chain (`{"chain": [...]}`) or the id of an object
//! the core handed out earlier (`{"id": "..."}`, e.g. a secret made by `set_secret`). A list is
//! a JSON array; a map (`{String:T}`) is wrapped, `{"map": {"KEY": value, ...}}`, so that its
//! keys can never be taken for `chain` or `id`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chain::{ArgValue, Call};
use crate::description::{Api, Arg};
use crate::error::ApiError;

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// The snake_case field name.
    pub field: String,
    /// Arguments by snake_case name; left-out optional arguments take their defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Input>,
}

/// An argument value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Null,
    Boolean(bool),
    Int(i64),
    String(String),
    List(Vec<Input>),
    /// An object given by the chain that makes it.
    Chain {
        chain: Vec<Selection>,
    },
    /// An object the core handed out before.
    Id {
        id: String,
    },
    /// A map with string keys.
    Map {
        map: BTreeMap<String, Input>,
    },
}

/// A result value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    Null,
    Boolean(bool),
    Int(i64),
    String(String),
    List(Vec<Output>),
    /// An object, by the id the core gave it, with its type name.
    Object {
        #[serde(rename = "type")]
        ty: String,
        id: String,
    },
}

/// The default of an argument as an input, if it has one.
pub fn default_input(arg: &Arg) -> Option<Input> {
    arg.default.as_ref().map(from_json)
}

fn from_json(value: &serde_json::Value) -> Input {
    use serde_json::Value as V;
    match value {
        V::Null => Input::Null,
        V::Bool(b) => Input::Boolean(*b),
        V::Number(n) => Input::Int(n.as_i64().expect("defaults are checked on load")),
        V::String(s) => Input::String(s.clone()),
        V::Array(items) => Input::List(items.iter().map(from_json).collect()),
        V::Object(_) => unreachable!("defaults are checked on load"),
    }
}

/// Turns a parsed command-line chain into a protocol chain, expanding object arguments given
/// as text through their type's `from_text` chain.
pub fn from_calls(api: &Api, calls: &[Call]) -> Result<Vec<Selection>, ApiError> {
    calls
        .iter()
        .map(|call| {
            let args = call
                .args
                .iter()
                .map(|(name, value)| Ok((name.clone(), input(api, value)?)))
                .collect::<Result<_, ApiError>>()?;
            Ok(Selection {
                field: call.field.clone(),
                args,
            })
        })
        .collect()
}

fn input(api: &Api, value: &ArgValue) -> Result<Input, ApiError> {
    Ok(match value {
        ArgValue::String(s) => Input::String(s.clone()),
        ArgValue::Int(i) => Input::Int(*i),
        ArgValue::Boolean(b) => Input::Boolean(*b),
        ArgValue::List(items) => Input::List(
            items
                .iter()
                .map(|i| input(api, i))
                .collect::<Result<_, _>>()?,
        ),
        ArgValue::Map(entries) => Input::Map {
            map: entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), input(api, v)?)))
                .collect::<Result<_, ApiError>>()?,
        },
        ArgValue::Object { ty, text } => {
            let from_text = api
                .object(ty)
                .and_then(|t| t.from_text.as_ref())
                .ok_or_else(|| {
                    ApiError::Chain(format!("a {ty} cannot be given on the command line"))
                })?;
            let chain = from_text
                .chain
                .iter()
                .map(|step| Selection {
                    field: step.field.clone(),
                    args: step
                        .arg
                        .iter()
                        .map(|a| (a.clone(), Input::String(text.clone())))
                        .collect(),
                })
                .collect();
            Input::Chain { chain }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{parse, Parsed};

    #[test]
    fn command_line_objects_expand_through_from_text() {
        let words: Vec<String> = [
            "container",
            "with-secret-variable",
            "--name=T",
            "--secret=env://T",
            "with-mounted-directory",
            "--path=/src",
            "--source=.",
            "stdout",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let Parsed::Chain(calls) = parse(Api::get(), &words).unwrap() else {
            panic!()
        };
        let chain = from_calls(Api::get(), &calls).unwrap();
        let json = serde_json::to_value(&chain).unwrap();
        assert_eq!(
            json[1]["args"]["secret"],
            serde_json::json!({"chain": [{"field": "secret", "args": {"uri": "env://T"}}]})
        );
        assert_eq!(
            json[2]["args"]["source"],
            serde_json::json!({"chain": [{"field": "host"}, {"field": "directory", "args": {"path": "."}}]})
        );
        let back: Vec<Selection> = serde_json::from_value(json).unwrap();
        assert_eq!(back, chain);
    }

    #[test]
    fn maps_and_lists_of_objects_expand_item_by_item() {
        let words: Vec<String> = [
            "host",
            "directory",
            "--path=.",
            "docker-build",
            "--secret-map=id=env://T",
            "--secrets=env://U",
            "sync",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let Parsed::Chain(calls) = parse(Api::get(), &words).unwrap() else {
            panic!()
        };
        let chain = from_calls(Api::get(), &calls).unwrap();
        let json = serde_json::to_value(&chain).unwrap();
        let secret =
            |uri: &str| serde_json::json!({"chain": [{"field": "secret", "args": {"uri": uri}}]});
        assert_eq!(
            json[2]["args"]["secret_map"],
            serde_json::json!({"map": {"id": secret("env://T")}})
        );
        assert_eq!(
            json[2]["args"]["secrets"],
            serde_json::json!([secret("env://U")])
        );
        let back: Vec<Selection> = serde_json::from_value(json).unwrap();
        assert_eq!(back, chain);
    }

    #[test]
    fn map_keys_named_like_object_inputs_stay_keys() {
        let text = r#"{"map":{"chain":{"id":"secret:1"},"id":{"id":"secret:2"},"map":"x"}}"#;
        let input: Input = serde_json::from_str(text).unwrap();
        let Input::Map { map } = &input else {
            panic!("{input:?}")
        };
        assert_eq!(
            map["id"],
            Input::Id {
                id: "secret:2".into()
            }
        );
        assert_eq!(map["map"], Input::String("x".into()));
        assert_eq!(serde_json::to_string(&input).unwrap(), text);
    }

    #[test]
    fn inputs_and_outputs_round_trip_as_plain_json() {
        let text = r#"{"a":null,"b":true,"c":3,"d":"x","e":[1,"y"],"f":{"id":"secret:1"},"g":{"chain":[{"field":"host"}]}}"#;
        let args: BTreeMap<String, Input> = serde_json::from_str(text).unwrap();
        assert_eq!(
            args["f"],
            Input::Id {
                id: "secret:1".into()
            }
        );
        assert_eq!(serde_json::to_string(&args).unwrap(), text);
        let out = Output::Object {
            ty: "Secret".into(),
            id: "secret:1".into(),
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"type":"Secret","id":"secret:1"}"#
        );
    }
}
