//! The language-neutral intermediate representation: what every SDK must offer, with each
//! method classified by how an SDK implements it. Names stay in the description's snake_case;
//! backends spell them through [`crate::naming`].

use hush_api::{Api, Scalar, TypeRef};

use crate::CodegenError;

/// The whole API, ready for a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Ir {
    /// What the API is.
    pub doc: String,
    /// Object types, `Query` (the root) first.
    pub objects: Vec<Object>,
}

/// An object type.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// PascalCase name as in the description.
    pub name: String,
    /// Doc string.
    pub doc: String,
    /// Whether this is the root (`Query`), which SDKs expose as `dag`.
    pub is_root: bool,
    /// Methods in declaration order.
    pub methods: Vec<Method>,
}

/// A method of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    /// snake_case name on the wire.
    pub name: String,
    /// Doc string.
    pub doc: String,
    /// Required parameters, positional in SDKs that have positions.
    pub required: Vec<Param>,
    /// Optional parameters (keyword-only / options object / option struct).
    pub optional: Vec<Param>,
    /// The returned type.
    pub returns: Type,
    /// How an SDK implements the method.
    pub kind: MethodKind,
}

/// How a method is implemented by an SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// Appends a selection and returns a new object; nothing runs.
    Chain,
    /// Appends a selection and evaluates the chain, returning an object handle (`sync`).
    Eager,
    /// Appends a selection and evaluates the chain, returning a value.
    Value,
    /// Evaluates the receiver to a secret handle and reads its value through the binding's
    /// dedicated call (`Secret.plaintext`): the only way to a secret's value.
    Plaintext,
    /// Hands a value to the core through the binding's dedicated call, never inside a chain
    /// (`Query.set_secret`): returns a secret handle at once.
    SetSecret,
}

/// A parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// snake_case name on the wire.
    pub name: String,
    /// Doc string.
    pub doc: String,
    /// Its type.
    pub ty: Type,
    /// The value used when left out, if the description gives one.
    pub default: Option<Literal>,
}

/// A type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    String,
    Int,
    Boolean,
    /// An object type by name.
    Object(String),
    List(Box<Type>),
    /// A map with string keys (`{String:T}` in the description).
    Map(Box<Type>),
}

/// A default value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    String(String),
    Int(i64),
    Boolean(bool),
    List(Vec<Literal>),
}

impl Ir {
    /// Lowers a checked API description.
    pub fn lower(api: &Api) -> Result<Self, CodegenError> {
        let mut objects = Vec::new();
        let root = api.query();
        for ty in std::iter::once(root).chain(api.types.iter().filter(|t| t.name != root.name)) {
            let methods = ty
                .fields
                .iter()
                .map(|field| lower_method(&ty.name, field))
                .collect::<Result<_, _>>()?;
            objects.push(Object {
                name: ty.name.clone(),
                doc: ty.doc.clone(),
                is_root: ty.name == root.name,
                methods,
            });
        }
        Ok(Self {
            doc: api.doc.clone(),
            objects,
        })
    }
}

fn lower_method(on: &str, field: &hush_api::Field) -> Result<Method, CodegenError> {
    let at = format!("{on}.{}", field.name);
    let unsupported = |reason: &str| CodegenError::Unsupported {
        at: at.clone(),
        reason: reason.into(),
    };
    let returns = lower_type(&field.returns);
    let sensitive_args: Vec<_> = field.args.iter().filter(|a| a.sensitive).collect();
    let kind = if !sensitive_args.is_empty() {
        let [value] = sensitive_args[..] else {
            return Err(unsupported("more than one sensitive argument"));
        };
        let shape_ok = field.args.len() == 2
            && field
                .args
                .iter()
                .all(|a| a.ty == TypeRef::Scalar(Scalar::String))
            && field.args[1].name == value.name
            && returns == Type::Object("Secret".into());
        if !shape_ok {
            return Err(unsupported(
                "a sensitive argument is only supported as (name: String, value: String) -> Secret",
            ));
        }
        MethodKind::SetSecret
    } else if field.sensitive {
        if on != "Secret" || !field.args.is_empty() || returns != Type::String {
            return Err(unsupported(
                "a sensitive result is only supported as an argument-less Secret field returning String",
            ));
        }
        MethodKind::Plaintext
    } else if field.eager {
        MethodKind::Eager
    } else if field.returns.object().is_some() {
        MethodKind::Chain
    } else {
        MethodKind::Value
    };
    let mut required = Vec::new();
    let mut optional = Vec::new();
    for arg in &field.args {
        let param = Param {
            name: arg.name.clone(),
            doc: arg.doc.clone(),
            ty: lower_type(&arg.ty),
            default: arg
                .default
                .as_ref()
                .map(lower_literal)
                .transpose()
                .map_err(|reason: String| CodegenError::Unsupported {
                    at: format!("{at}({})", arg.name),
                    reason,
                })?,
        };
        if arg.is_required() {
            if !optional.is_empty() {
                return Err(unsupported("a required argument follows an optional one"));
            }
            required.push(param);
        } else {
            optional.push(param);
        }
    }
    Ok(Method {
        name: field.name.clone(),
        doc: field.doc.clone(),
        required,
        optional,
        returns,
        kind,
    })
}

fn lower_type(ty: &TypeRef) -> Type {
    match ty {
        TypeRef::Scalar(Scalar::String) => Type::String,
        TypeRef::Scalar(Scalar::Int) => Type::Int,
        TypeRef::Scalar(Scalar::Boolean) => Type::Boolean,
        TypeRef::Object(name) => Type::Object(name.clone()),
        TypeRef::List(inner) => Type::List(Box::new(lower_type(inner))),
        TypeRef::Map(inner) => Type::Map(Box::new(lower_type(inner))),
    }
}

fn lower_literal(value: &serde_json::Value) -> Result<Literal, String> {
    use serde_json::Value as V;
    Ok(match value {
        V::String(s) => Literal::String(s.clone()),
        V::Bool(b) => Literal::Boolean(*b),
        V::Number(n) => Literal::Int(n.as_i64().ok_or("a default number must be an integer")?),
        V::Array(items) => {
            Literal::List(items.iter().map(lower_literal).collect::<Result<_, _>>()?)
        }
        other => return Err(format!("default {other} has no SDK form")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_api_lowers_with_kinds() {
        let ir = Ir::lower(Api::get()).unwrap();
        assert!(ir.objects[0].is_root && ir.objects[0].name == "Query");
        let method = |ty: &str, name: &str| {
            ir.objects
                .iter()
                .find(|o| o.name == ty)
                .and_then(|o| o.methods.iter().find(|m| m.name == name))
                .unwrap()
                .clone()
        };
        assert_eq!(method("Query", "set_secret").kind, MethodKind::SetSecret);
        assert_eq!(method("Secret", "plaintext").kind, MethodKind::Plaintext);
        assert_eq!(method("Container", "sync").kind, MethodKind::Eager);
        assert_eq!(method("Container", "stdout").kind, MethodKind::Value);
        let mount = method("Container", "with_mounted_secret");
        assert_eq!(mount.kind, MethodKind::Chain);
        assert_eq!(mount.required.len(), 2);
        assert_eq!(mount.optional[1].default, Some(Literal::Int(0o400)));
        let build = method("Directory", "docker_build");
        let secret_type = || Box::new(Type::Object("Secret".into()));
        let optional: Vec<_> = build
            .optional
            .iter()
            .map(|p| (p.name.as_str(), p.ty.clone()))
            .collect();
        assert_eq!(
            optional[3..],
            [
                ("secrets", Type::List(secret_type())),
                ("secret_map", Type::Map(secret_type()))
            ]
        );
        let secret = method("Query", "secret");
        assert_eq!(secret.optional[0].name, "cache_key");
        assert_eq!(secret.optional[0].default, None);
    }

    #[test]
    fn unsupported_shapes_are_named() {
        let api = Api::parse(
            r#"{"version":1,"doc":"d","types":[{"name":"Query","doc":"q","fields":[
                {"name":"leak","doc":"d","returns":"String","sensitive":true}]}]}"#,
        )
        .unwrap();
        let err = Ir::lower(&api).unwrap_err().to_string();
        assert!(err.contains("Query.leak"), "{err}");
    }
}
