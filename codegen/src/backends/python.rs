//! The Python backend: `sdk-python/hush/_generated.py`, the typed async client.

use askama::Template;

use crate::ir::{Ir, Literal, Method, MethodKind, Object, Param, Type};
use crate::naming::Lang;
use crate::{CodegenError, GeneratedFile};

/// Where the generated client goes, relative to the repository root.
pub const OUTPUT: &str = "sdk-python/hush/_generated.py";

const LANG: Lang = Lang::Python;

#[derive(Template)]
#[template(path = "python/client.py.j2", escape = "none")]
struct ClientTemplate {
    doc: String,
    /// Names imported from `collections.abc` for parameter types, sorted.
    abc: Vec<String>,
    /// `__all__`, sorted.
    exported: Vec<String>,
    objects: Vec<PyObject>,
}

struct PyObject {
    name: String,
    doc: String,
    methods: Vec<PyMethod>,
}

struct PyMethod {
    name: String,
    wire: String,
    /// The parameter list after `self`, with annotations and defaults.
    signature: String,
    /// The return annotation.
    returns: String,
    /// Docstring lines (summary, then an `Args:` section).
    doc: Vec<String>,
    kind: &'static str,
    /// `("wire_name", "conversion expression")` for required parameters.
    required: Vec<(String, String)>,
    /// Optional parameters: wire name, conversion expression, Python name, whether the
    /// parameter is sent only when given (`None` means left out).
    optional: Vec<(String, String, String, bool)>,
    /// The object class returned (chain and eager methods).
    object: String,
    /// The result conversion (value methods).
    result: String,
}

/// Renders the Python client.
pub fn generate(ir: &Ir) -> Result<Vec<GeneratedFile>, CodegenError> {
    let objects: Vec<PyObject> = ir.objects.iter().map(object).collect();
    let mut exported: Vec<String> = objects.iter().map(|o| o.name.clone()).collect();
    exported.sort();
    let signatures: Vec<&str> = objects
        .iter()
        .flat_map(|o| &o.methods)
        .map(|m| m.signature.as_str())
        .collect();
    let abc = ["Mapping", "Sequence"]
        .into_iter()
        .filter(|name| signatures.iter().any(|s| s.contains(&format!("{name}["))))
        .map(String::from)
        .collect();
    let template = ClientTemplate {
        doc: docstring(&ir.doc),
        abc,
        exported,
        objects,
    };
    let mut contents = template.render()?;
    if !contents.ends_with('\n') {
        contents.push('\n');
    }
    Ok(vec![GeneratedFile {
        path: OUTPUT.into(),
        contents,
    }])
}

fn object(obj: &Object) -> PyObject {
    PyObject {
        name: LANG.type_name(&obj.name),
        doc: docstring(&obj.doc),
        methods: obj.methods.iter().map(method).collect(),
    }
}

fn method(m: &Method) -> PyMethod {
    let mut params = Vec::new();
    for p in &m.required {
        params.push(format!(
            "{}: {}",
            LANG.param(&p.name),
            LANG.param_type(&p.ty)
        ));
    }
    if !m.optional.is_empty() {
        params.push("*".into());
    }
    for p in &m.optional {
        params.push(match &p.default {
            Some(value) => format!(
                "{}: {} = {}",
                LANG.param(&p.name),
                LANG.param_type(&p.ty),
                literal(value)
            ),
            None => format!(
                "{}: {} | None = None",
                LANG.param(&p.name),
                LANG.param_type(&p.ty)
            ),
        });
    }
    let signature = params.iter().map(|p| format!(", {p}")).collect::<String>();
    let mut doc = vec![docstring(&m.doc)];
    let all: Vec<&Param> = m.required.iter().chain(&m.optional).collect();
    if !all.is_empty() {
        doc.push(String::new());
        doc.push("Args:".into());
        for p in all {
            doc.push(format!(
                "    {}: {}",
                LANG.param(&p.name),
                docstring(&p.doc)
            ));
        }
    }
    let object = match &m.returns {
        Type::Object(name) => LANG.type_name(name),
        _ => String::new(),
    };
    PyMethod {
        name: LANG.method(&m.name),
        wire: m.name.clone(),
        signature,
        returns: LANG.value_type(&m.returns),
        doc,
        kind: match m.kind {
            MethodKind::Chain => "chain",
            MethodKind::Eager => "eager",
            MethodKind::Value => "value",
            MethodKind::Plaintext => "plaintext",
            MethodKind::SetSecret => "set_secret",
        },
        required: m
            .required
            .iter()
            .map(|p| (p.name.clone(), convert_in(p)))
            .collect(),
        optional: m
            .optional
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    convert_in(p),
                    LANG.param(&p.name),
                    p.default.is_none(),
                )
            })
            .collect(),
        object,
        result: convert_out(&m.returns),
    }
}

/// Text safe inside a triple-quoted docstring.
fn docstring(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\"\"")
}

/// A Python literal for a default value.
fn literal(value: &Literal) -> String {
    match value {
        Literal::String(s) => serde_json::to_string(s).expect("strings serialize"),
        Literal::Int(i) => i.to_string(),
        Literal::Boolean(true) => "True".into(),
        Literal::Boolean(false) => "False".into(),
        Literal::List(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The expression that checks and converts parameter `p` into a protocol input.
fn convert_in(p: &Param) -> String {
    format!(
        "{}({}, {:?})",
        input_converter(&p.ty),
        LANG.param(&p.name),
        p.name
    )
}

fn input_converter(ty: &Type) -> String {
    match ty {
        Type::String => "_core.in_str".into(),
        Type::Int => "_core.in_int".into(),
        Type::Boolean => "_core.in_bool".into(),
        Type::Object(name) => format!("_core.in_object({})", LANG.type_name(name)),
        Type::List(inner) => format!("_core.in_list({})", input_converter(inner)),
        Type::Map(inner) => format!("_core.in_map({})", input_converter(inner)),
    }
}

/// The converter of a result value.
fn convert_out(ty: &Type) -> String {
    match ty {
        Type::String => "_core.out_str".into(),
        Type::Int => "_core.out_int".into(),
        Type::Boolean => "_core.out_bool".into(),
        Type::Object(name) => format!("_core.out_object({})", LANG.type_name(name)),
        Type::List(inner) => format!("_core.out_list({})", convert_out(inner)),
        Type::Map(_) => unreachable!("the API description has no map results"),
    }
}
