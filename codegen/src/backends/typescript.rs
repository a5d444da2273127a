//! The TypeScript backend: `sdk-typescript/src/generated.ts`, the typed Promise client.
//!
//! camelCase methods and parameters, required arguments positional, optional ones in one
//! options object per method (`<Type><Method>Opts`, every property `readonly` and optional),
//! JSDoc from the description's docs.

use askama::Template;

use crate::ir::{Ir, Literal, Method, MethodKind, Object, Param, Type};
use crate::naming::Lang;
use crate::{CodegenError, GeneratedFile};

/// Where the generated client goes, relative to the repository root.
pub const OUTPUT: &str = "sdk-typescript/src/generated.ts";

const LANG: Lang = Lang::TypeScript;

#[derive(Template)]
#[template(path = "typescript/client.ts.j2", escape = "none")]
struct ClientTemplate {
    doc: String,
    objects: Vec<TsObject>,
}

struct TsObject {
    name: String,
    doc: String,
    methods: Vec<TsMethod>,
}

struct TsMethod {
    name: String,
    wire: String,
    /// The parameter list, with types (and `opts` last when there are optional arguments).
    signature: String,
    /// The return type (`Promise<...>` for methods that evaluate).
    returns: String,
    is_async: bool,
    /// JSDoc lines (summary, then `@param` tags).
    doc: Vec<String>,
    kind: &'static str,
    /// `(wire name, conversion expression)` for required parameters.
    required: Vec<(String, String)>,
    /// The options interface's name, when the method has optional arguments.
    options_type: String,
    options: Vec<TsOption>,
    /// The object class returned (chain and eager methods).
    object: String,
    /// The result conversion (value methods).
    result: String,
}

struct TsOption {
    /// camelCase property name.
    name: String,
    wire: String,
    ty: String,
    doc: Vec<String>,
    /// The conversion of `o.<name>`, with the default filled in when there is one.
    conv: String,
    /// Sent only when given (no default).
    only_given: bool,
}

/// Renders the TypeScript client.
pub fn generate(ir: &Ir) -> Result<Vec<GeneratedFile>, CodegenError> {
    let template = ClientTemplate {
        doc: jsdoc(&ir.doc),
        objects: ir.objects.iter().map(object).collect(),
    };
    let mut contents = template.render()?;
    if !contents.ends_with('\n') {
        contents.push('\n');
    }
    while contents.ends_with("\n\n") {
        contents.pop();
    }
    Ok(vec![GeneratedFile {
        path: OUTPUT.into(),
        contents,
    }])
}

fn object(obj: &Object) -> TsObject {
    let name = LANG.type_name(&obj.name);
    TsObject {
        doc: jsdoc(&obj.doc),
        methods: obj.methods.iter().map(|m| method(&name, m)).collect(),
        name,
    }
}

fn method(on: &str, m: &Method) -> TsMethod {
    let name = LANG.method(&m.name);
    let options_type = format!(
        "{on}{}Opts",
        heck::ToPascalCase::to_pascal_case(m.name.as_str())
    );
    let mut params: Vec<String> = m
        .required
        .iter()
        .map(|p| format!("{}: {}", LANG.param(&p.name), LANG.param_type(&p.ty)))
        .collect();
    if !m.optional.is_empty() {
        params.push(format!("opts: {options_type} = {{}}"));
    }
    let mut doc = vec![jsdoc(&m.doc)];
    if !m.required.is_empty() || !m.optional.is_empty() {
        doc.push(String::new());
    }
    for p in &m.required {
        doc.push(format!(
            "@param {} - {}",
            LANG.param(&p.name),
            jsdoc(&p.doc)
        ));
    }
    if !m.optional.is_empty() {
        doc.push(format!(
            "@param opts - Optional arguments: {}.",
            m.optional
                .iter()
                .map(|p| format!("`{}`", LANG.param(&p.name)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let object = match &m.returns {
        Type::Object(name) => LANG.type_name(name),
        _ => String::new(),
    };
    let is_async = matches!(
        m.kind,
        MethodKind::Eager | MethodKind::Value | MethodKind::Plaintext
    );
    let returns = if is_async {
        format!("Promise<{}>", LANG.value_type(&m.returns))
    } else {
        LANG.value_type(&m.returns)
    };
    TsMethod {
        signature: params.join(", "),
        returns,
        is_async,
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
            .map(|p| (p.name.clone(), convert_in(p, &LANG.param(&p.name))))
            .collect(),
        options: m.optional.iter().map(option).collect(),
        options_type,
        object,
        result: convert_out(&m.returns),
        wire: m.name.clone(),
        name,
    }
}

fn option(p: &Param) -> TsOption {
    let name = LANG.param(&p.name);
    let mut doc = vec![jsdoc(&p.doc)];
    let value = match &p.default {
        Some(default) => {
            doc.push(String::new());
            doc.push(format!("@defaultValue `{}`", literal(default)));
            format!("o.{name} ?? {}", literal(default))
        }
        None => format!("o.{name}"),
    };
    TsOption {
        wire: p.name.clone(),
        ty: LANG.param_type(&p.ty),
        doc,
        conv: convert_in(p, &value),
        only_given: p.default.is_none(),
        name,
    }
}

/// Text safe inside a `/** ... */` comment, on one line.
fn jsdoc(text: &str) -> String {
    text.replace("*/", "*\\/").replace('\n', " ")
}

/// A TypeScript literal for a default value.
fn literal(value: &Literal) -> String {
    match value {
        Literal::String(s) => serde_json::to_string(s).expect("strings serialize"),
        Literal::Int(i) => i.to_string(),
        Literal::Boolean(b) => b.to_string(),
        Literal::List(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The expression that checks and converts `value` (parameter `p`) into a protocol input;
/// errors name the parameter as the caller spells it.
fn convert_in(p: &Param, value: &str) -> String {
    format!(
        "{}({value}, {:?})",
        input_converter(&p.ty),
        LANG.param(&p.name)
    )
}

fn input_converter(ty: &Type) -> String {
    match ty {
        Type::String => "core.inStr".into(),
        Type::Int => "core.inInt".into(),
        Type::Boolean => "core.inBool".into(),
        Type::Object(name) => format!("core.inObject({})", LANG.type_name(name)),
        Type::List(inner) => format!("core.inList({})", input_converter(inner)),
        Type::Map(inner) => format!("core.inMap({})", input_converter(inner)),
    }
}

/// The converter of a result value.
fn convert_out(ty: &Type) -> String {
    match ty {
        Type::String => "core.outStr".into(),
        Type::Int => "core.outInt".into(),
        Type::Boolean => "core.outBool".into(),
        Type::Object(name) => format!("core.outObject({})", LANG.type_name(name)),
        Type::List(inner) => format!("core.outList({})", convert_out(inner)),
        Type::Map(_) => unreachable!("the API description has no map results"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(api: &str) -> String {
        let api = hush_api::Api::parse(api).unwrap();
        let ir = Ir::lower(&api).unwrap();
        generate(&ir).unwrap().remove(0).contents
    }

    #[test]
    fn a_new_field_reaches_the_client_with_no_hand_written_code() {
        let out = render(
            r#"{"version":1,"doc":"d","types":[
                {"name":"Query","doc":"q","fields":[
                    {"name":"container","doc":"c","returns":"Container"}]},
                {"name":"Container","doc":"k","fields":[
                    {"name":"with_label","doc":"Adds a label.","args":[
                        {"name":"name","type":"String","doc":"Label name."},
                        {"name":"value","type":"String","optional":true,"doc":"Its value."},
                        {"name":"weight","type":"Int","default":3,"doc":"How heavy."}],
                     "returns":"Container"},
                    {"name":"label_count","doc":"How many.","returns":"Int"}]}]}"#,
        );
        assert!(
            out.contains("withLabel(name: string, opts: ContainerWithLabelOpts = {}): Container {"),
            "{out}"
        );
        assert!(out.contains("readonly value?: string;"), "{out}");
        assert!(
            out.contains(r#"a["weight"] = core.inInt(o.weight ?? 3, "weight");"#),
            "{out}"
        );
        assert!(out.contains("@param name - Label name."), "{out}");
        assert!(
            out.contains("async labelCount(): Promise<number> {"),
            "{out}"
        );
        assert!(out.contains(r#"this._evaluate("label_count", a)"#), "{out}");
    }

    #[test]
    fn doc_comments_cannot_be_closed_early() {
        assert_eq!(jsdoc("a */ b"), "a *\\/ b");
    }
}
