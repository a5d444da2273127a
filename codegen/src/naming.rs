//! Spelling of API names in each SDK language, with keyword escaping. The description uses
//! snake_case for fields and arguments and PascalCase for types.

use heck::{ToLowerCamelCase, ToPascalCase, ToSnakeCase};

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
}
