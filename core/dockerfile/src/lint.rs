//! Build checks that do not fail the build, after BuildKit's: `SecretsUsedInArgOrEnv` warns
//! when an `ARG` or `ENV` name looks like it carries a secret, since both end up stored in
//! the image (use `RUN --mount=type=secret` instead).

use crate::parse::{Command, Dockerfile};

/// `_`-separated words that make a name look sensitive (BuildKit's deny pattern).
const SENSITIVE: [&str; 10] = [
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
    "token",
];
/// Words that make it harmless again (BuildKit's allow pattern).
const HARMLESS: [&str; 3] = ["public", "file", "version"];

/// Whether `name` looks like it holds a secret: one of its `_`-separated words (any case) is
/// sensitive and none is harmless.
fn looks_sensitive(name: &str) -> bool {
    let words: Vec<String> = name.split('_').map(str::to_ascii_lowercase).collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    has(&SENSITIVE) && !has(&HARMLESS)
}

/// The `SecretsUsedInArgOrEnv` warnings of `file`, in line order, worded as BuildKit's.
pub fn secrets_used_in_arg_or_env(file: &Dockerfile) -> Vec<String> {
    let mut names: Vec<(usize, &str, &str)> = Vec::new();
    for (line, decls) in &file.meta_args {
        names.extend(decls.iter().map(|d| (*line, "ARG", d.name.as_str())));
    }
    for stage in &file.stages {
        for ins in &stage.instructions {
            match &ins.command {
                Command::Arg(decls) => {
                    names.extend(decls.iter().map(|d| (ins.line, "ARG", d.name.as_str())))
                }
                Command::Env(pairs) => {
                    names.extend(pairs.iter().map(|(k, _)| (ins.line, "ENV", k.as_str())))
                }
                _ => {}
            }
        }
    }
    names
        .into_iter()
        .filter(|(_, _, name)| looks_sensitive(name))
        .map(|(line, kind, name)| {
            format!(
                "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data \
                 ({kind} \"{name}\") (line {line})"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_judged_by_whole_words() {
        for name in [
            "API_TOKEN",
            "token",
            "aws_secret_access_key",
            "Password",
            "GH_AUTH",
        ] {
            assert!(looks_sensitive(name), "{name}");
        }
        for name in [
            "TOKENIZER",
            "MONKEY",
            "PUBLIC_KEY",
            "KEY_FILE",
            "TOKEN_VERSION",
            "PATH",
        ] {
            assert!(!looks_sensitive(name), "{name}");
        }
    }

    #[test]
    fn warnings_name_the_instruction_and_line() {
        let file = crate::parse(
            "ARG BASE_TOKEN\nFROM busybox\nARG VERSION API_KEY=x\nENV DB_PASSWORD=y MODE=z\n",
        )
        .unwrap();
        assert_eq!(
            secrets_used_in_arg_or_env(&file),
            [
                "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"BASE_TOKEN\") (line 1)",
                "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"API_KEY\") (line 3)",
                "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\") (line 4)",
            ]
        );
    }
}
