//! Spelling of API names and types in each SDK language, with keyword escaping. The
//! description uses snake_case for fields and arguments and PascalCase for types.

use heck::{ToLowerCamelCase, ToPascalCase, ToSnakeCase};

use crate::ir::Type;

/// An SDK language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    TypeScript,
    Go,
}

/// Python keywords and soft keywords, plus builtins a method must not shadow in generated code.
const PYTHON_RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "match", "case", "type", "id",
];

/// TypeScript/JavaScript reserved words.
const TYPESCRIPT_RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
    "yield",
    "await",
];

/// Go keywords and predeclared identifiers that would shadow in generated code.
const GO_RESERVED: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "fallthrough",
    "for",
    "func",
    "go",
    "goto",
    "if",
    "import",
    "interface",
    "map",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "type",
    "var",
    "ctx",
    "string",
    "int",
    "bool",
    "error",
];

impl Lang {
    fn reserved(self) -> &'static [&'static str] {
        match self {
            Self::Python => PYTHON_RESERVED,
            Self::TypeScript => TYPESCRIPT_RESERVED,
            Self::Go => GO_RESERVED,
        }
    }

    /// Escapes a reserved word: `from` → `from_` (Python, TypeScript), `type` → `type_` (Go).
    fn escape(self, name: String) -> String {
        if self.reserved().contains(&name.as_str()) {
            format!("{name}_")
        } else {
            name
        }
    }

    /// A method name: `with_exec` → `with_exec` / `withExec` / `WithExec`.
    pub fn method(self, name: &str) -> String {
        match self {
            Self::Python => self.escape(name.to_snake_case()),
            Self::TypeScript => self.escape(name.to_lower_camel_case()),
            // Exported Go names are never keywords.
            Self::Go => name.to_pascal_case(),
        }
    }

    /// A parameter name: `cache_key` → `cache_key` / `cacheKey` / `cacheKey`.
    pub fn param(self, name: &str) -> String {
        match self {
            Self::Python => self.escape(name.to_snake_case()),
            Self::TypeScript | Self::Go => self.escape(name.to_lower_camel_case()),
        }
    }

    /// A type name: `Container` in every language.
    pub fn type_name(self, name: &str) -> String {
        name.to_pascal_case()
    }

    /// The type of a parameter. Python takes any sequence or mapping (a `list[str]` stays a
    /// list, since a `str` is itself a sequence of `str`); TypeScript takes readonly arrays
    /// and records too (`as const` values); objects are pointers in Go.
    ///
    /// | IR | Python | TypeScript | Go |
    /// |---|---|---|---|
    /// | `[String]` | `list[str]` | `readonly string[]` | `[]string` |
    /// | `[Secret]` | `Sequence[Secret]` | `readonly Secret[]` | `[]*Secret` |
    /// | `{String:Secret}` | `Mapping[str, Secret]` | `Readonly<Record<string, Secret>>` | `map[string]*Secret` |
    pub fn param_type(self, ty: &Type) -> String {
        match (self, ty) {
            (Self::Python, Type::List(inner)) if **inner != Type::String => {
                format!("Sequence[{}]", self.param_type(inner))
            }
            (Self::Python, Type::Map(inner)) => format!("Mapping[str, {}]", self.param_type(inner)),
            (Self::TypeScript, Type::List(inner)) => match **inner {
                Type::List(_) => format!("readonly ({})[]", self.param_type(inner)),
                _ => format!("readonly {}[]", self.param_type(inner)),
            },
            (Self::TypeScript, Type::Map(inner)) => {
                format!("Readonly<Record<string, {}>>", self.param_type(inner))
            }
            _ => self.value_type(ty),
        }
    }

    /// The type of a result (or of a value held): concrete `list`/`dict` in Python.
    pub fn value_type(self, ty: &Type) -> String {
        match (self, ty) {
            (Self::Python, Type::String) => "str".into(),
            (Self::Python, Type::Int) => "int".into(),
            (Self::Python, Type::Boolean) => "bool".into(),
            (Self::Python, Type::List(inner)) => format!("list[{}]", self.value_type(inner)),
            (Self::Python, Type::Map(inner)) => format!("dict[str, {}]", self.value_type(inner)),
            (Self::TypeScript, Type::String) => "string".into(),
            (Self::TypeScript, Type::Int) => "number".into(),
            (Self::TypeScript, Type::Boolean) => "boolean".into(),
            (Self::TypeScript, Type::List(inner)) => format!("{}[]", self.value_type(inner)),
            (Self::TypeScript, Type::Map(inner)) => {
                format!("Record<string, {}>", self.value_type(inner))
            }
            (Self::Go, Type::String) => "string".into(),
            (Self::Go, Type::Int) => "int".into(),
            (Self::Go, Type::Boolean) => "bool".into(),
            (Self::Go, Type::Object(name)) => format!("*{}", self.type_name(name)),
            (Self::Go, Type::List(inner)) => format!("[]{}", self.value_type(inner)),
            (Self::Go, Type::Map(inner)) => format!("map[string]{}", self.value_type(inner)),
            (Self::Python | Self::TypeScript, Type::Object(name)) => self.type_name(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_per_language() {
        assert_eq!(Lang::Python.method("from"), "from_");
        assert_eq!(
            Lang::Python.method("with_secret_variable"),
            "with_secret_variable"
        );
        assert_eq!(Lang::Python.param("cache_key"), "cache_key");
        assert_eq!(Lang::TypeScript.method("with_exec"), "withExec");
        assert_eq!(Lang::TypeScript.method("from"), "from");
        assert_eq!(Lang::TypeScript.param("default"), "default_");
        assert_eq!(Lang::Go.method("from"), "From");
        assert_eq!(Lang::Go.param("type"), "type_");
        assert_eq!(Lang::Go.param("cache_key"), "cacheKey");
        assert_eq!(Lang::Go.type_name("Container"), "Container");
    }

    #[test]
    fn types_per_language() {
        let secret = || Box::new(Type::Object("Secret".into()));
        let map = Type::Map(secret());
        let list = Type::List(secret());
        let strings = Type::List(Box::new(Type::String));
        assert_eq!(Lang::Python.param_type(&map), "Mapping[str, Secret]");
        assert_eq!(Lang::Python.param_type(&list), "Sequence[Secret]");
        assert_eq!(Lang::Python.param_type(&strings), "list[str]");
        assert_eq!(Lang::Python.value_type(&map), "dict[str, Secret]");
        assert_eq!(
            Lang::TypeScript.param_type(&map),
            "Readonly<Record<string, Secret>>"
        );
        assert_eq!(Lang::TypeScript.param_type(&list), "readonly Secret[]");
        assert_eq!(Lang::TypeScript.value_type(&list), "Secret[]");
        let nested = Type::List(Box::new(strings.clone()));
        assert_eq!(
            Lang::TypeScript.param_type(&nested),
            "readonly (readonly string[])[]"
        );
        assert_eq!(Lang::TypeScript.param_type(&Type::Int), "number");
        assert_eq!(Lang::Go.param_type(&map), "map[string]*Secret");
        assert_eq!(Lang::Go.param_type(&list), "[]*Secret");
        assert_eq!(Lang::Go.param_type(&strings), "[]string");
    }
}
