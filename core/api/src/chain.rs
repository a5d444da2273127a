//! Call chains written on the command line, checked against the API description:
//! `container from --address=busybox with-exec --args=sh,-c,'echo hi' stdout`.
//!
//! A word names a field of the current type in kebab-case; `--arg=value` (or `--arg value`)
//! words after it are its arguments. Lists are comma-separated, with double quotes around an
//! item that holds a comma (`--args=sh,-c,"echo a, b"`); maps are comma-separated `KEY=VALUE`
//! pairs, split at the first `=` (`--secret-map=npm=env://NPM,gh=env://GH`). Object-typed arguments take text the
//! caller turns into an object: a provider URI for a `Secret`, a host path for a `Directory` or
//! `File`. The chain ends with a field that returns a value.

use crate::description::{Api, Field, ObjectType, Scalar, TypeRef};
use crate::error::ApiError;

/// An argument value, typed by the description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    String(String),
    Int(i64),
    Boolean(bool),
    List(Vec<ArgValue>),
    /// A map with string keys, in the order given.
    Map(Vec<(String, ArgValue)>),
    /// Text naming an object of the given type (a secret URI, a host path).
    Object {
        ty: String,
        text: String,
    },
}

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The type the field belongs to.
    pub on: String,
    /// The field's snake_case name.
    pub field: String,
    /// Arguments given or defaulted, in the description's order.
    pub args: Vec<(String, ArgValue)>,
}

impl Call {
    /// The value of argument `name`, if given or defaulted.
    pub fn arg(&self, name: &str) -> Option<&ArgValue> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// What asking for `help` at some point of a chain should show.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A complete chain.
    Chain(Vec<Call>),
    /// `--help` was asked for, on a type or on a field.
    Help {
        on: &'a ObjectType,
        field: Option<&'a Field>,
    },
}

/// Parses `words` starting at `Query`.
pub fn parse<'a>(api: &'a Api, words: &[String]) -> Result<Parsed<'a>, ApiError> {
    let err = |m: String| ApiError::Chain(m);
    let mut on = api.query();
    let mut calls = Vec::new();
    let mut i = 0;
    let mut ended = false;
    while i < words.len() {
        let word = &words[i];
        if word == "--help" || word == "-h" {
            return Ok(Parsed::Help { on, field: None });
        }
        if ended {
            return Err(err(format!(
                "{:?} follows {}, which returns a value, not an object",
                word,
                kebab(
                    &calls
                        .last()
                        .map(|c: &Call| c.field.clone())
                        .unwrap_or_default()
                )
            )));
        }
        if word.starts_with('-') {
            return Err(err(format!("{word:?} must follow a field name")));
        }
        let name = word.replace('-', "_");
        let Some(field) = on.field(&name) else {
            return Err(err(format!(
                "{} has no field {word:?} (fields: {})",
                on.name,
                on.fields
                    .iter()
                    .map(|f| kebab(&f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        i += 1;
        let mut given: Vec<(String, ArgValue)> = Vec::new();
        while i < words.len() && words[i].starts_with("--") {
            let flag = &words[i][2..];
            if flag == "help" {
                // A field without arguments that returns an object: show that object's fields.
                return Ok(match (field.args.is_empty(), field.returns.object()) {
                    (true, Some(next)) => Parsed::Help {
                        on: api.object(next).expect("checked on load"),
                        field: None,
                    },
                    _ => Parsed::Help {
                        on,
                        field: Some(field),
                    },
                });
            }
            let (flag_name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            let arg_name = flag_name.replace('-', "_");
            let Some(arg) = field.arg(&arg_name) else {
                return Err(err(format!(
                    "{} has no flag --{flag_name} (flags: {})",
                    kebab(&field.name),
                    flags(field)
                )));
            };
            if given.iter().any(|(n, _)| *n == arg_name) {
                return Err(err(format!("--{flag_name} is given twice")));
            }
            let text = match inline {
                Some(v) => v,
                None if arg.ty == TypeRef::Scalar(Scalar::Boolean) => "true".into(),
                None => {
                    i += 1;
                    words.get(i).cloned().ok_or_else(|| {
                        err(format!(
                            "--{flag_name} of {} needs a value",
                            kebab(&field.name)
                        ))
                    })?
                }
            };
            let value = convert(&arg.ty, &text).map_err(|reason| {
                err(format!("--{flag_name} of {}: {reason}", kebab(&field.name)))
            })?;
            given.push((arg_name, value));
            i += 1;
        }
        let mut args = Vec::new();
        for arg in &field.args {
            if let Some(pos) = given.iter().position(|(n, _)| *n == arg.name) {
                args.push(given.swap_remove(pos));
            } else if let Some(default) = &arg.default {
                args.push((arg.name.clone(), from_json(&arg.ty, default)));
            } else if arg.is_required() {
                return Err(err(format!(
                    "{} needs --{} ({})",
                    kebab(&field.name),
                    kebab(&arg.name),
                    arg.doc
                )));
            }
        }
        calls.push(Call {
            on: on.name.clone(),
            field: field.name.clone(),
            args,
        });
        match field.returns.object() {
            Some(next) if !field.eager => on = api.object(next).expect("checked on load"),
            _ => ended = true,
        }
    }
    if !ended {
        let values: Vec<_> = on
            .fields
            .iter()
            .filter(|f| f.is_terminal())
            .map(|f| kebab(&f.name))
            .collect();
        return Err(err(format!(
            "the chain ends at a {}; finish it with a field that returns a value ({})",
            on.name,
            values.join(", ")
        )));
    }
    Ok(Parsed::Chain(calls))
}

/// Help text for a type or a field, from the description's docs.
pub fn help(on: &ObjectType, field: Option<&Field>) -> String {
    match field {
        None => {
            let mut out = format!("{}: {}\n\nFields:\n", on.name, on.doc);
            for f in &on.fields {
                out.push_str(&format!("  {:<26} {}\n", kebab(&f.name), f.doc));
            }
            out
        }
        Some(f) => {
            let mut out = format!(
                "{} {} -> {}\n{}\n",
                on.name,
                kebab(&f.name),
                f.returns,
                f.doc
            );
            if !f.args.is_empty() {
                out.push_str("\nFlags:\n");
            }
            for a in &f.args {
                let mut note = String::new();
                if let Some(d) = &a.default {
                    note = format!(" (default {d})");
                } else if a.is_required() {
                    note = " (required)".into();
                }
                let flag = format!("--{} {}", kebab(&a.name), a.ty);
                out.push_str(&format!("  {flag:<26} {}{note}\n", a.doc));
            }
            out
        }
    }
}

/// `with_exec` -> `with-exec`.
pub fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

fn flags(field: &Field) -> String {
    field
        .args
        .iter()
        .map(|a| format!("--{}", kebab(&a.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn convert(ty: &TypeRef, text: &str) -> Result<ArgValue, String> {
    Ok(match ty {
        TypeRef::Scalar(Scalar::String) => ArgValue::String(text.to_owned()),
        TypeRef::Scalar(Scalar::Int) => ArgValue::Int(parse_int(text)?),
        TypeRef::Scalar(Scalar::Boolean) => ArgValue::Boolean(match text {
            "true" => true,
            "false" => false,
            _ => return Err(format!("expected true or false, not {text:?}")),
        }),
        TypeRef::Object(name) => ArgValue::Object {
            ty: name.clone(),
            text: text.to_owned(),
        },
        TypeRef::List(inner) => ArgValue::List(
            split_list(text)?
                .iter()
                .map(|item| convert(inner, item))
                .collect::<Result<_, _>>()?,
        ),
        TypeRef::Map(inner) => {
            let mut entries: Vec<(String, ArgValue)> = Vec::new();
            for item in split_list(text)? {
                let (key, value) = item
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("expected KEY=VALUE pairs, not {item:?}"))?;
                if entries.iter().any(|(k, _)| k == key) {
                    return Err(format!("key {key:?} is given twice"));
                }
                entries.push((key.to_owned(), convert(inner, value)?));
            }
            ArgValue::Map(entries)
        }
    })
}

/// Integers in decimal, or octal with `0o` (modes: `0o400`).
fn parse_int(text: &str) -> Result<i64, String> {
    let parsed = match text.strip_prefix("0o") {
        Some(octal) => i64::from_str_radix(octal, 8),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("expected an integer (or 0o octal), not {text:?}"))
}

/// Splits on commas; double quotes group an item, `""` inside quotes is a literal quote.
fn split_list(text: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut item = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                item.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if item.is_empty() => quoted = true,
            (',', false) => items.push(std::mem::take(&mut item)),
            _ => item.push(c),
        }
    }
    if quoted {
        return Err("a quoted list item is not closed".into());
    }
    items.push(item);
    Ok(items)
}

fn from_json(ty: &TypeRef, value: &serde_json::Value) -> ArgValue {
    use serde_json::Value as V;
    match (ty, value) {
        (TypeRef::List(inner), V::Array(items)) => {
            ArgValue::List(items.iter().map(|v| from_json(inner, v)).collect())
        }
        (_, V::Bool(b)) => ArgValue::Boolean(*b),
        (_, V::Number(n)) => ArgValue::Int(n.as_i64().expect("checked on load")),
        (_, V::String(s)) => ArgValue::String(s.clone()),
        _ => unreachable!("defaults are checked on load"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    fn chain(text: &[&str]) -> Vec<Call> {
        match parse(Api::get(), &words(text)).unwrap() {
            Parsed::Chain(calls) => calls,
            Parsed::Help { .. } => panic!("help"),
        }
    }

    fn error(text: &[&str]) -> String {
        parse(Api::get(), &words(text)).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_seed_example() {
        let calls = chain(&[
            "container",
            "from",
            "--address=busybox",
            "with-secret-variable",
            "--name=MY_SECRET",
            "--secret=env://API_TOKEN",
            "with-exec",
            "--args=sh,-c,echo this is the secret: $MY_SECRET",
            "stdout",
        ]);
        let fields: Vec<_> = calls.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "container",
                "from",
                "with_secret_variable",
                "with_exec",
                "stdout"
            ]
        );
        assert_eq!(
            calls[2].arg("secret"),
            Some(&ArgValue::Object {
                ty: "Secret".into(),
                text: "env://API_TOKEN".into()
            })
        );
        assert_eq!(
            calls[3].arg("args"),
            Some(&ArgValue::List(vec![
                ArgValue::String("sh".into()),
                ArgValue::String("-c".into()),
                ArgValue::String("echo this is the secret: $MY_SECRET".into()),
            ]))
        );
    }

    #[test]
    fn defaults_octal_quoted_lists_and_separate_values() {
        let calls = chain(&[
            "container",
            "with-mounted-secret",
            "--path",
            "/run/secrets/t",
            "--source=env://T",
            "with-new-file",
            "--path=/f",
            "--contents=x",
            "--permissions=0o600",
            "with-exec",
            "--args=sh,-c,\"echo a, \"\"b\"\"\"",
            "exit-code",
        ]);
        assert_eq!(calls[1].arg("mode"), Some(&ArgValue::Int(0o400)));
        assert_eq!(calls[1].arg("owner"), None);
        assert_eq!(calls[2].arg("permissions"), Some(&ArgValue::Int(0o600)));
        let ArgValue::List(items) = calls[3].arg("args").unwrap() else {
            panic!()
        };
        assert_eq!(items[2], ArgValue::String("echo a, \"b\"".into()));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(error(&["container", "frm"])
            .contains("Container has no field \"frm\" (fields: from, with-exec"));
        assert!(error(&["container", "from"]).contains("from needs --address"));
        assert!(error(&["container", "from", "--adress=x"])
            .contains("from has no flag --adress (flags: --address)"));
        assert!(error(&["container", "from", "--address=x"]).contains("ends at a Container"));
        assert!(error(&["container", "stdout", "stderr"]).contains("returns a value"));
        assert!(error(&[
            "container",
            "with-mounted-secret",
            "--path=/a",
            "--source=env://X",
            "--mode=rw",
            "sync"
        ])
        .contains("--mode of with-mounted-secret: expected an integer"));
        assert!(error(&["container", "with-exec", "--args=\"sh", "sync"]).contains("not closed"));
        assert!(
            error(&["container", "from", "--address=a", "--address=b", "sync"]).contains("twice")
        );
    }

    #[test]
    fn maps_are_key_value_pairs_and_lists_of_objects_are_texts() {
        let calls = chain(&[
            "host",
            "directory",
            "--path=.",
            "docker-build",
            "--secret-map=gh-secret=env://GH,\"b=cmd://echo a,b\"",
            "--secrets=env://A,env://B",
            "sync",
        ]);
        let secret = |text: &str| ArgValue::Object {
            ty: "Secret".into(),
            text: text.into(),
        };
        assert_eq!(
            calls[2].arg("secret_map"),
            Some(&ArgValue::Map(vec![
                ("gh-secret".into(), secret("env://GH")),
                ("b".into(), secret("cmd://echo a,b")),
            ]))
        );
        assert_eq!(
            calls[2].arg("secrets"),
            Some(&ArgValue::List(vec![secret("env://A"), secret("env://B")]))
        );
        let build = |flag: &str| {
            error(&[
                "host",
                "directory",
                "--path=.",
                "docker-build",
                flag,
                "sync",
            ])
        };
        assert!(build("--secret-map=env://GH")
            .contains("--secret-map of docker-build: expected KEY=VALUE pairs, not \"env://GH\""));
        assert!(build("--secret-map==env://GH").contains("expected KEY=VALUE pairs"));
        assert!(build("--secret-map=a=env://A,a=env://B").contains("key \"a\" is given twice"));
    }

    #[test]
    fn help_comes_from_the_description() {
        let Parsed::Help { on, field } = parse(
            Api::get(),
            &words(&["container", "with-mounted-secret", "--help"]),
        )
        .unwrap() else {
            panic!()
        };
        let text = help(on, field);
        assert!(text.contains("--mode Int"), "{text}");
        assert!(text.contains("(default 256)"), "{text}");
        assert!(text.contains("--path String"), "{text}");
        let Parsed::Help { on, field } =
            parse(Api::get(), &words(&["container", "--help"])).unwrap()
        else {
            panic!()
        };
        assert!(help(on, field).contains("with-secret-variable"));
    }
}
