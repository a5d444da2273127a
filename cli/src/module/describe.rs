//! A module's description as its SDK runtime reports it, `--help` text, and the parsing of
//! `hush call` flags against it.

use serde::Deserialize;
use serde_json::{json, Value};

/// A module: its main object's functions.
#[derive(Debug, Deserialize)]
pub struct ModuleDesc {
    /// The main object's name.
    pub name: String,
    /// The main object's doc.
    #[serde(default)]
    pub doc: String,
    /// The functions.
    pub functions: Vec<FunctionDesc>,
}

/// A function of a module.
#[derive(Debug, Deserialize)]
pub struct FunctionDesc {
    /// The name in the module's language convention, snake_case for Python.
    pub name: String,
    /// Docstring.
    #[serde(default)]
    pub doc: String,
    /// Arguments in declaration order.
    pub args: Vec<ArgDesc>,
    /// The API type returned.
    pub returns: String,
}

/// An argument of a function.
#[derive(Debug, Deserialize)]
pub struct ArgDesc {
    /// Its name, snake_case.
    pub name: String,
    /// Its API type (`String`, `Int`, `Boolean`, `[String]`, `Secret`, `Directory` ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Help text from `Doc(...)`.
    #[serde(default)]
    pub doc: String,
    /// May be left out.
    #[serde(default)]
    pub optional: bool,
    /// Its default, when it has a JSON form.
    #[serde(default)]
    pub default: Value,
}

/// A flag's value once parsed: a JSON value, or text naming an object still to be made.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    /// A scalar or list, as sent.
    Json(Value),
    /// A provider URI for a `Secret` argument, resolved by the session.
    Secret(String),
    /// A list of provider URIs for a `[Secret]` argument.
    Secrets(Vec<String>),
}

/// `with_exec` → `with-exec`.
pub fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

impl ModuleDesc {
    /// The function called `name` (kebab-case or as declared).
    pub fn function(&self, name: &str) -> Option<&FunctionDesc> {
        let name = name.replace('-', "_");
        self.functions.iter().find(|f| f.name == name)
    }

    /// `hush functions`: one line per function with the first line of its doc.
    pub fn listing(&self) -> String {
        let width = self
            .functions
            .iter()
            .map(|f| f.name.len())
            .max()
            .unwrap_or(0)
            .max(4);
        let mut out = match self.doc.lines().next() {
            Some(summary) => format!("{}: {summary}\n\n", self.name),
            None => format!("{}\n\n", self.name),
        };
        out.push_str(&format!("{:width$}   Description\n", "Name"));
        for f in &self.functions {
            let summary = f.doc.lines().next().unwrap_or("");
            out.push_str(format!("{:width$}   {summary}", kebab(&f.name)).trim_end());
            out.push('\n');
        }
        out
    }
}

impl FunctionDesc {
    /// `hush call FUNCTION --help`.
    pub fn help(&self) -> String {
        let mut out = String::new();
        if !self.doc.is_empty() {
            out.push_str(&self.doc);
            out.push_str("\n\n");
        }
        out.push_str(&format!(
            "Usage: hush call {} [flags]\n\nReturns: {}\n",
            kebab(&self.name),
            self.returns
        ));
        if !self.args.is_empty() {
            out.push_str("\nFlags:\n");
            let width = self
                .args
                .iter()
                .map(|a| a.name.len() + a.ty.len() + 3)
                .max()
                .unwrap_or(0);
            for a in &self.args {
                let head = format!("--{} {}", kebab(&a.name), a.ty);
                let mut line = format!("  {head:width$}   {}", a.doc);
                if !a.optional {
                    line.push_str(" (required)");
                } else if !a.default.is_null() {
                    line.push_str(&format!(" (default {})", a.default));
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        out
    }

    /// Parses `--flag=value` / `--flag value` words; `Ok(None)` when `--help` is asked for.
    pub fn parse_flags(
        &self,
        words: &[String],
    ) -> Result<Option<Vec<(String, FlagValue)>>, String> {
        let mut given: Vec<(String, FlagValue)> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            if word == "--help" || word == "-h" {
                return Ok(None);
            }
            let Some(flag) = word.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument {word:?}: flags are --name=value"
                ));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            let arg = self
                .args
                .iter()
                .find(|a| kebab(&a.name) == name)
                .ok_or_else(|| {
                    let flags: Vec<String> = self
                        .args
                        .iter()
                        .map(|a| format!("--{}", kebab(&a.name)))
                        .collect();
                    format!(
                        "{} has no flag --{name} (flags: {})",
                        kebab(&self.name),
                        if flags.is_empty() {
                            "none".into()
                        } else {
                            flags.join(", ")
                        }
                    )
                })?;
            if given.iter().any(|(n, _)| *n == arg.name) {
                return Err(format!("--{name} is given twice"));
            }
            let text = match inline {
                Some(v) => v,
                None if arg.ty == "Boolean" => "true".into(),
                None => {
                    i += 1;
                    words
                        .get(i)
                        .cloned()
                        .ok_or_else(|| format!("--{name} needs a value"))?
                }
            };
            let value = parse_value(&arg.ty, &text).map_err(|why| format!("--{name}: {why}"))?;
            given.push((arg.name.clone(), value));
            i += 1;
        }
        for arg in &self.args {
            if !arg.optional && !given.iter().any(|(n, _)| *n == arg.name) {
                return Err(format!(
                    "{} needs --{} ({})",
                    kebab(&self.name),
                    kebab(&arg.name),
                    arg.ty
                ));
            }
        }
        Ok(Some(given))
    }
}

fn parse_value(ty: &str, text: &str) -> Result<FlagValue, String> {
    Ok(FlagValue::Json(match ty {
        "String" => json!(text),
        "Int" => json!(text
            .parse::<i64>()
            .map_err(|_| format!("{text:?} is not an integer"))?),
        "Boolean" => json!(match text {
            "true" => true,
            "false" => false,
            _ => return Err(format!("{text:?} is not true or false")),
        }),
        "Secret" => return Ok(FlagValue::Secret(text.to_owned())),
        "[Secret]" => {
            return Ok(FlagValue::Secrets(
                split_list(text).into_iter().map(str::to_owned).collect(),
            ))
        }
        "[String]" => json!(split_list(text)),
        "[Int]" => json!(split_list(text)
            .into_iter()
            .map(|t| t
                .parse::<i64>()
                .map_err(|_| format!("{t:?} is not an integer")))
            .collect::<Result<Vec<_>, _>>()?),
        other => match hush_api::Api::get()
            .object(other)
            .and_then(|o| o.from_text.as_ref())
        {
            Some(from_text) => {
                let chain: Vec<Value> = from_text
                    .chain
                    .iter()
                    .map(|step| match &step.arg {
                        Some(arg) => json!({"field": step.field, "args": {arg: text}}),
                        None => json!({"field": step.field}),
                    })
                    .collect();
                json!({"type": other, "chain": chain})
            }
            None => return Err(format!("a {other} cannot be given on the command line")),
        },
    }))
}

fn split_list(text: &str) -> Vec<&str> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module() -> ModuleDesc {
        serde_json::from_value(json!({
            "name": "MyModule",
            "functions": [{
                "name": "github_api", "doc": "Query the GitHub API\n\nMore.", "returns": "String",
                "args": [
                    {"name": "token", "type": "Secret", "doc": "GitHub API token"},
                    {"name": "per_page", "type": "Int", "doc": "Page size", "optional": true, "default": 30},
                    {"name": "verbose", "type": "Boolean", "doc": "", "optional": true, "default": false},
                    {"name": "src", "type": "Directory", "doc": "", "optional": true}
                ]
            }]
        }))
        .unwrap()
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_kebab_case_and_typed() {
        let m = module();
        let f = m.function("github-api").unwrap();
        let parsed = f
            .parse_flags(&words(&[
                "--token=env://T?cacheKey=k",
                "--per-page",
                "5",
                "--verbose",
                "--src=.",
            ]))
            .unwrap()
            .unwrap();
        assert_eq!(
            parsed[0],
            (
                "token".into(),
                FlagValue::Secret("env://T?cacheKey=k".into())
            )
        );
        assert_eq!(parsed[1], ("per_page".into(), FlagValue::Json(json!(5))));
        assert_eq!(parsed[2], ("verbose".into(), FlagValue::Json(json!(true))));
        assert_eq!(
            parsed[3].1,
            FlagValue::Json(
                json!({"type": "Directory", "chain": [{"field": "host"}, {"field": "directory", "args": {"path": "."}}]})
            )
        );
        assert!(f.parse_flags(&words(&["--help"])).unwrap().is_none());
    }

    #[test]
    fn usage_errors_name_the_flag() {
        let m = module();
        let f = m.function("github_api").unwrap();
        assert!(f.parse_flags(&[]).unwrap_err().contains("needs --token"));
        assert!(f
            .parse_flags(&words(&["--tokn=x"]))
            .unwrap_err()
            .contains("no flag --tokn"));
        assert!(f
            .parse_flags(&words(&["--token=a", "--per-page=x"]))
            .unwrap_err()
            .contains("not an integer"));
    }

    #[test]
    fn help_and_listing_show_docs() {
        let m = module();
        assert!(m.listing().contains("github-api   Query the GitHub API"));
        let help = m.function("github-api").unwrap().help();
        assert!(help.contains("--token Secret"), "{help}");
        assert!(help.contains("GitHub API token (required)"));
        assert!(help.contains("Page size (default 30)"));
    }
}
