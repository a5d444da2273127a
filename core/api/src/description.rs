//! The typed form of `hush-api.json`, checked on load.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::ApiError;

/// The API description shipped with this build.
pub const SOURCE: &str = include_str!("../hush-api.json");

/// The whole API: object types and their fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Format version of the description.
    pub version: u32,
    /// What the API is.
    pub doc: String,
    /// Object types; `Query` is the root.
    pub types: Vec<ObjectType>,
}

/// An object type such as `Container`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectType {
    /// PascalCase name.
    pub name: String,
    /// Doc string.
    pub doc: String,
    /// Fields (methods), in declaration order.
    pub fields: Vec<Field>,
    /// How command-line text (a URI, a path) names an object of this type.
    #[serde(default)]
    pub from_text: Option<FromText>,
}

/// A chain from `Query` that turns one piece of text into an object, e.g. a Secret from
/// `secret(uri=TEXT)` or a Directory from `host.directory(path=TEXT)`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromText {
    /// What the text is, for help and errors ("a provider URI").
    pub doc: String,
    /// The steps; exactly one of them takes the text, as the argument named.
    pub chain: Vec<TextStep>,
}

/// One step of a [`FromText`] chain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextStep {
    /// The field called.
    pub field: String,
    /// The argument that receives the text, if this step takes it.
    #[serde(default)]
    pub arg: Option<String>,
}

/// A field (method) of an object type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// snake_case name.
    pub name: String,
    /// Doc string.
    pub doc: String,
    /// Arguments, required ones first by convention.
    #[serde(default)]
    pub args: Vec<Arg>,
    /// The returned type.
    pub returns: TypeRef,
    /// Evaluates even though it returns an object (e.g. `sync`).
    #[serde(default)]
    pub eager: bool,
    /// The result carries a secret value (e.g. `Secret.plaintext`).
    #[serde(default)]
    pub sensitive: bool,
}

/// An argument of a field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    /// snake_case name.
    pub name: String,
    /// The argument's type.
    #[serde(rename = "type")]
    pub ty: TypeRef,
    /// Doc string.
    pub doc: String,
    /// May be left out (implied by a default).
    #[serde(default)]
    pub optional: bool,
    /// Value used when left out.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// The value is a secret's plaintext (e.g. `set_secret.plaintext`).
    #[serde(default)]
    pub sensitive: bool,
}

/// A type reference: `String`, `Int`, `Boolean`, an object type name, `[T]` (a list) or
/// `{String:T}` (a map with string keys, e.g. `{String:Secret}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TypeRef {
    /// A scalar.
    Scalar(Scalar),
    /// An object type, by name.
    Object(String),
    /// A list.
    List(Box<TypeRef>),
    /// A map from strings to values of the inner type.
    Map(Box<TypeRef>),
}

/// Scalar types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Int,
    Boolean,
}

impl TryFrom<String> for TypeRef {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).map_err(|reason| format!("{text:?} is not a type: {reason}"))
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scalar(s) => write!(f, "{s:?}"),
            Self::Object(name) => f.write_str(name),
            Self::List(inner) => write!(f, "[{inner}]"),
            Self::Map(inner) => write!(f, "{{String:{inner}}}"),
        }
    }
}

impl TypeRef {
    /// Parses a type string; the error says what is wrong with it (the caller names it).
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix('[') {
            let inner = rest.strip_suffix(']').ok_or("a list type is written [T]")?;
            return Ok(Self::List(Box::new(Self::parse(inner)?)));
        }
        if let Some(rest) = text.strip_prefix('{') {
            let body = rest
                .strip_suffix('}')
                .ok_or("a map type is written {String:T}")?;
            let (key, value) = body
                .split_once(':')
                .ok_or("a map type is written {String:T}")?;
            if key != "String" {
                return Err(format!("map keys must be String, not {key:?}"));
            }
            return Ok(Self::Map(Box::new(Self::parse(value)?)));
        }
        Ok(match text {
            "String" => Self::Scalar(Scalar::String),
            "Int" => Self::Scalar(Scalar::Int),
            "Boolean" => Self::Scalar(Scalar::Boolean),
            "" => return Err("the type is empty".into()),
            name if name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Self::Object(name.to_owned())
            }
            name => {
                return Err(format!(
                    "{name:?} is neither a scalar, an object type name, [T] nor {{String:T}}"
                ))
            }
        })
    }

    /// Whether this is or holds a map.
    pub fn has_map(&self) -> bool {
        match self {
            Self::Map(_) => true,
            Self::List(inner) => inner.has_map(),
            Self::Scalar(_) | Self::Object(_) => false,
        }
    }

    /// The object type named, if this is an object.
    pub fn object(&self) -> Option<&str> {
        match self {
            Self::Object(name) => Some(name),
            _ => None,
        }
    }
}

impl Field {
    /// Whether asking for this field evaluates (ends a chain) rather than building one.
    pub fn is_terminal(&self) -> bool {
        self.eager || self.returns.object().is_none()
    }

    /// The argument named `name`.
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.name == name)
    }
}

impl Arg {
    /// Whether the argument must be given.
    pub fn is_required(&self) -> bool {
        !self.optional && self.default.is_none()
    }
}

impl ObjectType {
    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Api {
    /// The description shipped with this build, parsed and checked once.
    pub fn get() -> &'static Api {
        static API: OnceLock<Api> = OnceLock::new();
        API.get_or_init(|| Self::parse(SOURCE).expect("the shipped API description is valid"))
    }

    /// Parses and checks a description.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let api: Api = serde_json::from_str(text).map_err(|e| ApiError::Syntax(e.to_string()))?;
        api.check()?;
        Ok(api)
    }

    /// The object type named `name`.
    pub fn object(&self, name: &str) -> Option<&ObjectType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The root type.
    pub fn query(&self) -> &ObjectType {
        self.object("Query").expect("checked on load")
    }

    fn check(&self) -> Result<(), ApiError> {
        let bad = |at: String, reason: &str| ApiError::Invalid(format!("{at}: {reason}"));
        if self.object("Query").is_none() {
            return Err(bad("types".into(), "there is no Query type"));
        }
        let mut type_names = HashSet::new();
        for ty in &self.types {
            if !type_names.insert(&ty.name) {
                return Err(bad(ty.name.clone(), "type is declared twice"));
            }
            if !is_pascal(&ty.name) || ty.doc.is_empty() {
                return Err(bad(ty.name.clone(), "needs a PascalCase name and a doc"));
            }
            if let Some(from_text) = &ty.from_text {
                self.check_from_text(ty, from_text)
                    .map_err(|r| bad(format!("{}.from_text", ty.name), &r))?;
            }
            let mut fields = HashSet::new();
            for field in &ty.fields {
                let at = format!("{}.{}", ty.name, field.name);
                if !fields.insert(&field.name) {
                    return Err(bad(at, "field is declared twice"));
                }
                if !is_snake(&field.name) || field.doc.is_empty() {
                    return Err(bad(at, "needs a snake_case name and a doc"));
                }
                self.check_type(&field.returns)
                    .map_err(|r| bad(at.clone(), &r))?;
                if field.returns.has_map() {
                    return Err(bad(at, "map types are for arguments only, not results"));
                }
                if field.eager && field.returns.object().is_none() {
                    return Err(bad(at, "only object-returning fields can be eager"));
                }
                let mut args = HashSet::new();
                for arg in &field.args {
                    let at = format!("{at}({})", arg.name);
                    if !args.insert(&arg.name) {
                        return Err(bad(at, "argument is declared twice"));
                    }
                    if !is_snake(&arg.name) || arg.doc.is_empty() {
                        return Err(bad(at, "needs a snake_case name and a doc"));
                    }
                    self.check_type(&arg.ty).map_err(|r| bad(at.clone(), &r))?;
                    if let Some(default) = &arg.default {
                        check_default(&arg.ty, default).map_err(|r| bad(at.clone(), &r))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn check_from_text(&self, ty: &ObjectType, from_text: &FromText) -> Result<(), String> {
        let mut on = self.query();
        let mut takes_text = 0;
        for step in &from_text.chain {
            let field = on
                .field(&step.field)
                .ok_or_else(|| format!("{} has no field {:?}", on.name, step.field))?;
            for arg in field.args.iter().filter(|a| a.is_required()) {
                if step.arg.as_deref() != Some(arg.name.as_str()) {
                    return Err(format!("{}.{} needs {:?}", on.name, field.name, arg.name));
                }
            }
            if let Some(name) = &step.arg {
                let arg = field.arg(name).ok_or_else(|| {
                    format!("{}.{} has no argument {name:?}", on.name, field.name)
                })?;
                if arg.ty != TypeRef::Scalar(Scalar::String) {
                    return Err(format!(
                        "{}.{}({name}) is not a String",
                        on.name, field.name
                    ));
                }
                takes_text += 1;
            }
            let next = field
                .returns
                .object()
                .ok_or_else(|| format!("{} returns no object", field.name))?;
            on = self
                .object(next)
                .ok_or_else(|| format!("unknown type {next:?}"))?;
        }
        if on.name != ty.name || takes_text != 1 {
            return Err(format!(
                "must end at {} and take the text exactly once",
                ty.name
            ));
        }
        Ok(())
    }

    fn check_type(&self, ty: &TypeRef) -> Result<(), String> {
        match ty {
            TypeRef::Scalar(_) => Ok(()),
            TypeRef::List(inner) | TypeRef::Map(inner) => self.check_type(inner),
            TypeRef::Object(name) if self.object(name).is_some() => Ok(()),
            TypeRef::Object(name) => Err(format!("unknown type {name:?}")),
        }
    }
}

fn check_default(ty: &TypeRef, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value as V;
    let ok = match (ty, value) {
        (TypeRef::Scalar(Scalar::String), V::String(_)) => true,
        (TypeRef::Scalar(Scalar::Int), V::Number(n)) => n.is_i64(),
        (TypeRef::Scalar(Scalar::Boolean), V::Bool(_)) => true,
        (TypeRef::List(inner), V::Array(items)) => {
            return items.iter().try_for_each(|i| check_default(inner, i))
        }
        (TypeRef::Map(_), _) => {
            return Err("a map argument has no default; make it optional instead".into())
        }
        _ => false,
    };
    ok.then_some(())
        .ok_or_else(|| format!("default {value} is not a {ty}"))
}

fn is_snake(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_pascal(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_description_is_valid_and_complete() {
        let api = Api::get();
        let container = api.object("Container").unwrap();
        for name in [
            "from",
            "with_exec",
            "with_env_variable",
            "with_secret_variable",
            "without_secret_variable",
            "with_mounted_secret",
            "with_workdir",
            "with_new_file",
            "with_mounted_directory",
            "with_user",
            "stdout",
            "stderr",
            "exit_code",
            "file",
            "directory",
            "sync",
        ] {
            assert!(container.field(name).is_some(), "Container.{name}");
        }
        for name in ["container", "directory", "host", "secret", "set_secret"] {
            assert!(api.query().field(name).is_some(), "Query.{name}");
        }
        let mount = container.field("with_mounted_secret").unwrap();
        assert_eq!(
            mount.arg("source").unwrap().ty,
            TypeRef::Object("Secret".into())
        );
        assert_eq!(
            mount.arg("mode").unwrap().default,
            Some(serde_json::json!(0o400))
        );
        assert!(
            api.query()
                .field("set_secret")
                .unwrap()
                .arg("plaintext")
                .unwrap()
                .sensitive
        );
        assert!(container.field("sync").unwrap().is_terminal());
        assert!(!container.field("with_exec").unwrap().is_terminal());
        let build = api
            .object("Directory")
            .unwrap()
            .field("docker_build")
            .unwrap();
        let secret = || Box::new(TypeRef::Object("Secret".into()));
        assert_eq!(build.arg("secrets").unwrap().ty, TypeRef::List(secret()));
        assert_eq!(build.arg("secret_map").unwrap().ty, TypeRef::Map(secret()));
        assert_eq!(
            build.arg("secret_map").unwrap().ty.to_string(),
            "{String:Secret}"
        );
    }

    #[test]
    fn map_types_parse_and_print() {
        let parse = |t: &str| TypeRef::try_from(t.to_owned());
        assert_eq!(
            parse("{String:Secret}"),
            Ok(TypeRef::Map(Box::new(TypeRef::Object("Secret".into()))))
        );
        assert_eq!(
            parse("{String:[Int]}"),
            Ok(TypeRef::Map(Box::new(TypeRef::List(Box::new(
                TypeRef::Scalar(Scalar::Int)
            )))))
        );
        assert_eq!(
            parse("[{String:String}]").unwrap().to_string(),
            "[{String:String}]"
        );
        let err = |t: &str| parse(t).unwrap_err();
        assert_eq!(
            err("{Int:Secret}"),
            "\"{Int:Secret}\" is not a type: map keys must be String, not \"Int\""
        );
        assert!(err("{String:Secret")
            .contains("\"{String:Secret\" is not a type: a map type is written {String:T}"));
        assert!(err("{Secret}").contains("{String:T}"));
        assert!(err("[String").contains("\"[String\" is not a type: a list type is written [T]"));
        assert!(err("{String:}").contains("the type is empty"));
        assert!(err("map<String,Secret>").contains("\"map<String,Secret>\" is not a type"));
    }

    #[test]
    fn checks_name_the_bad_part() {
        let err = |text: &str| Api::parse(text).unwrap_err().to_string();
        let wrap = |fields: &str| {
            format!(
                r#"{{"version":1,"doc":"d","types":[{{"name":"Query","doc":"q","fields":[{fields}]}}]}}"#
            )
        };
        assert!(err(&wrap(r#"{"name":"x","doc":"d","returns":"Nope"}"#))
            .contains("Query.x: unknown type \"Nope\""));
        assert!(
            err(&wrap(r#"{"name":"withExec","doc":"d","returns":"String"}"#))
                .contains("snake_case")
        );
        assert!(err(&wrap(
            r#"{"name":"x","doc":"d","returns":"String","args":[{"name":"m","type":"Int","doc":"d","default":"a"}]}"#
        ))
        .contains("Query.x(m): default \"a\" is not a Int"));
        assert!(err(&wrap(
            r#"{"name":"x","doc":"d","returns":"String","eager":true}"#
        ))
        .contains("eager"));
        assert!(err(r#"{"version":1,"doc":"d","types":[]}"#).contains("no Query"));
        let typed = |ty: &str| {
            err(&wrap(&format!(
                r#"{{"name":"x","doc":"d","returns":"String","args":[{{"name":"m","type":"{ty}","doc":"d"}}]}}"#
            )))
        };
        assert!(typed("{String:Nope}").contains("Query.x(m): unknown type \"Nope\""));
        let bad = typed("{Int:String}");
        assert!(
            bad.contains("\"{Int:String}\" is not a type: map keys must be String"),
            "{bad}"
        );
        assert!(err(&wrap(
            r#"{"name":"x","doc":"d","returns":"String","args":[{"name":"m","type":"{String:String}","doc":"d","default":{}}]}"#
        ))
        .contains("Query.x(m): a map argument has no default"));
        assert!(err(&wrap(
            r#"{"name":"x","doc":"d","returns":"[{String:Int}]"}"#
        ))
        .contains("Query.x: map types are for arguments only"));
        assert!(err(&wrap(
            r#"{"name":"x","doc":"d","returns":"String","bogus":1}"#
        ))
        .contains("bogus"));
    }
}
