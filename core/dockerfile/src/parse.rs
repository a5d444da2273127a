//! The Dockerfile parser: parser directives (`# syntax=` is ignored, `# escape=` honoured),
//! comments, line continuations, JSON exec form, and instructions with their line numbers.
//! Values stay raw (quotes and variables in place); the frontend expands them with the ARG
//! and ENV values in scope.

use crate::error::{parse_err, DockerfileError, Result};
use crate::expand::split_words;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// `ARG` instructions before the first `FROM` (usable in `FROM`).
    pub meta_args: Vec<(usize, Vec<ArgDecl>)>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One `FROM` and its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Line of the `FROM`.
    pub line: usize,
    /// The base (an image or an earlier stage's name), raw.
    pub base: String,
    /// The name given with `AS`, lower-cased.
    pub name: Option<String>,
    /// The instructions after `FROM`.
    pub instructions: Vec<Instruction>,
}

/// An instruction and its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Line where the instruction starts.
    pub line: usize,
    /// What it does.
    pub command: Command,
}

/// A command line in shell form (run with `/bin/sh -c`) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form, the text as written.
    Shell(String),
    /// Exec form, the arguments.
    Exec(Vec<String>),
}

impl ShellOrExec {
    /// The argument vector (`SHELL... TEXT` for the shell form, `shell` being e.g.
    /// `["/bin/sh", "-c"]`).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Self::Shell(text) => shell.iter().cloned().chain([text.clone()]).collect(),
            Self::Exec(args) => args.clone(),
        }
    }
}

/// An `ARG` declaration: a name and its raw default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name.
    pub name: String,
    /// The default, raw.
    pub default: Option<String>,
}

/// The instructions hush supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN [--mount=...]... COMMAND`: the raw `--mount` values and the command.
    Run {
        /// Raw `--mount` values.
        mounts: Vec<String>,
        /// The command.
        cmd: ShellOrExec,
    },
    /// `ENV k=v ...` (or `ENV k v`), raw values.
    Env(Vec<(String, String)>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`, raw.
    Workdir(String),
    /// `USER user[:group]`, raw.
    User(String),
    /// `COPY [--from=..] [--chown=..] [--chmod=..] SRC... DEST` (raw words).
    Copy(CopyArgs),
    /// `ADD [--chown=..] [--chmod=..] [--checksum=..] SRC... DEST` (raw words).
    Add(CopyArgs),
    /// `LABEL k=v ...`, raw.
    Label(Vec<(String, String)>),
    /// `CMD`.
    Cmd(ShellOrExec),
    /// `ENTRYPOINT`.
    Entrypoint(ShellOrExec),
    /// `EXPOSE port[/protocol] ...`, raw words.
    Expose(Vec<String>),
    /// `VOLUME ["/a", ...]` or `VOLUME /a /b`, raw.
    Volume(Vec<String>),
    /// `STOPSIGNAL signal`, raw.
    StopSignal(String),
    /// `SHELL ["executable", "parameters"...]`: the shell of later shell forms.
    Shell(Vec<String>),
    /// `MAINTAINER name` (deprecated): the image's author.
    Maintainer(String),
}

/// The arguments of `COPY` and `ADD`, raw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyArgs {
    /// `--from` (COPY only): a stage name or index, or an image.
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod` (octal).
    pub chmod: Option<String>,
    /// `--checksum` (ADD of a URL only): `sha256:<hex>`.
    pub checksum: Option<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// Destination.
    pub dest: String,
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile> {
    let mut escape = '\\';
    let mut lines = text.lines().enumerate().peekable();
    // Parser directives: only at the very top, before any blank line, comment or instruction.
    while let Some((n, line)) = lines.peek() {
        let Some((key, value)) = directive(line) else {
            break;
        };
        // `syntax` names a frontend image; hush is its own frontend, so it is ignored.
        if key == "escape" {
            escape = match value.as_str() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(parse_err(
                        n + 1,
                        format!("invalid escape character {other:?}: use \\ or `"),
                    ))
                }
            }
        }
        lines.next();
    }
    let mut file = Dockerfile {
        escape,
        meta_args: Vec::new(),
        stages: Vec::new(),
    };
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let start = n + 1;
        let mut logical = String::new();
        let mut cur = line.to_owned();
        loop {
            let t = cur.trim_end();
            if let Some(body) = t.strip_suffix(escape) {
                logical.push_str(body);
                // The next non-comment line continues this one.
                let mut next = None;
                for (_, l) in lines.by_ref() {
                    if l.trim_start().starts_with('#') {
                        continue;
                    }
                    next = Some(l.to_owned());
                    break;
                }
                match next {
                    Some(l) => cur = l,
                    None => break,
                }
            } else {
                logical.push_str(t);
                break;
            }
        }
        instruction(&mut file, start, logical.trim())?;
    }
    if file.stages.is_empty() {
        return Err(parse_err(1, "the Dockerfile has no FROM instruction"));
    }
    Ok(file)
}

/// `# key=value` with a known directive key, lower-cased.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim().to_ascii_lowercase();
    ["syntax", "escape", "check"]
        .contains(&key.as_str())
        .then(|| (key, value.trim().to_owned()))
}

/// The byte index where the first word of `text` ends (quotes and escapes honoured).
fn word_end(text: &str, escape: char) -> usize {
    let mut quote: Option<char> = None;
    let mut it = text.char_indices();
    while let Some((i, c)) = it.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == escape => {
                it.next();
            }
            Some(_) => {}
            None if c.is_whitespace() => return i,
            None if c == escape => {
                it.next();
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            None => {}
        }
    }
    text.len()
}

/// Splits leading `--name=value` flags off `args`.
fn flags(line: usize, mut args: &str, escape: char) -> Result<(Vec<(String, String)>, &str)> {
    let mut out = Vec::new();
    while args.starts_with("--") {
        let end = word_end(args, escape);
        let word = &args[2..end];
        let (name, value) = word.split_once('=').ok_or_else(|| {
            parse_err(line, format!("flag --{word} needs a value (--{word}=...)"))
        })?;
        out.push((name.to_ascii_lowercase(), value.to_owned()));
        args = args[end..].trim_start();
    }
    Ok((out, args))
}

fn heredoc(line: usize, args: &str) -> Result<()> {
    let bytes = args.as_bytes();
    for i in 0..bytes.len().saturating_sub(2) {
        if &bytes[i..i + 2] == b"<<" {
            let mut j = i + 2;
            if bytes.get(j) == Some(&b'-') {
                j += 1;
            }
            if bytes
                .get(j)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'"' || *b == b'\'' || *b == b'_')
            {
                return Err(parse_err(
                    line,
                    "heredocs (<<EOF) are not supported by hush",
                ));
            }
        }
    }
    Ok(())
}

/// A JSON array of strings (the exec form), if `args` is one.
fn json_list(args: &str) -> Option<Vec<String>> {
    args.starts_with('[')
        .then(|| serde_json::from_str::<Vec<String>>(args).ok())
        .flatten()
}

fn shell_or_exec(line: usize, args: &str, what: &str) -> Result<ShellOrExec> {
    if let Some(list) = json_list(args) {
        if list.is_empty() {
            return Err(parse_err(line, format!("{what} needs a command")));
        }
        return Ok(ShellOrExec::Exec(list));
    }
    if args.is_empty() {
        return Err(parse_err(line, format!("{what} needs a command")));
    }
    Ok(ShellOrExec::Shell(args.to_owned()))
}

/// `k=v` pairs (or the legacy `k v` form when `legacy`).
fn pairs(
    line: usize,
    args: &str,
    escape: char,
    what: &str,
    legacy: bool,
) -> Result<Vec<(String, String)>> {
    let words = split_words(args, escape);
    let Some(first) = words.first() else {
        return Err(parse_err(
            line,
            format!("{what} needs at least one argument"),
        ));
    };
    if legacy && !first.contains('=') {
        let value = args[word_end(args, escape)..].trim();
        if value.is_empty() {
            return Err(parse_err(line, format!("{what} {first} needs a value")));
        }
        return Ok(vec![(first.clone(), value.to_owned())]);
    }
    words
        .iter()
        .map(|w| {
            let (k, v) = w.split_once('=').ok_or_else(|| {
                parse_err(
                    line,
                    format!("{what} arguments must be key=value, not {w:?}"),
                )
            })?;
            if k.is_empty() {
                return Err(parse_err(line, format!("{what} has an empty name")));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Raw words of a `COPY`/`ADD` source list (the JSON form becomes double-quoted words).
fn copy_words(line: usize, args: &str, escape: char, what: &str) -> Result<Vec<String>> {
    let words = match serde_json::from_str::<Vec<String>>(args) {
        Ok(list) if args.starts_with('[') => list
            .iter()
            .map(|s| {
                let e = escape.to_string();
                format!(
                    "\"{}\"",
                    s.replace(escape, &(e.clone() + &e))
                        .replace('"', &(e + "\""))
                )
            })
            .collect(),
        _ => split_words(args, escape),
    };
    if words.len() < 2 {
        return Err(parse_err(
            line,
            format!("{what} needs at least one source and a destination"),
        ));
    }
    Ok(words)
}

fn copy_args(
    line: usize,
    args: &str,
    escape: char,
    what: &str,
    allowed: &[&str],
) -> Result<CopyArgs> {
    let (flags, rest) = flags(line, args, escape)?;
    heredoc(line, rest)?;
    let mut words = copy_words(line, rest, escape, what)?;
    let dest = words.pop().unwrap_or_default();
    let mut out = CopyArgs {
        sources: words,
        dest,
        ..CopyArgs::default()
    };
    for (name, value) in flags {
        if !allowed.contains(&name.as_str()) {
            return Err(parse_err(
                line,
                format!("{what} --{name} is not supported by hush"),
            ));
        }
        match name.as_str() {
            "from" => out.from = Some(value),
            "chown" => out.chown = Some(value),
            "checksum" => out.checksum = Some(value),
            _ => out.chmod = Some(value),
        }
    }
    Ok(out)
}

fn instruction(file: &mut Dockerfile, line: usize, text: &str) -> Result<()> {
    let escape = file.escape;
    let end = word_end(text, escape);
    let keyword = text[..end].to_ascii_uppercase();
    let args = text[end..].trim();
    let command = match keyword.as_str() {
        "FROM" => {
            let (flags, rest) = flags(line, args, escape)?;
            if let Some((name, _)) = flags.first() {
                return Err(parse_err(
                    line,
                    format!("FROM --{name} is not supported by hush"),
                ));
            }
            let words = split_words(rest, escape);
            let (base, name) = match words.as_slice() {
                [base] => (base.clone(), None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (base.clone(), Some(name.to_ascii_lowercase()))
                }
                _ => return Err(parse_err(line, "FROM takes IMAGE [AS NAME]")),
            };
            file.stages.push(Stage {
                line,
                base,
                name,
                instructions: Vec::new(),
            });
            return Ok(());
        }
        "ARG" => {
            let words = split_words(args, escape);
            if words.is_empty() {
                return Err(parse_err(line, "ARG needs a name"));
            }
            let decls = words
                .into_iter()
                .map(|w| match w.split_once('=') {
                    Some((n, d)) => ArgDecl {
                        name: n.to_owned(),
                        default: Some(d.to_owned()),
                    },
                    None => ArgDecl {
                        name: w,
                        default: None,
                    },
                })
                .collect::<Vec<_>>();
            if decls.iter().any(|d| d.name.is_empty()) {
                return Err(parse_err(line, "ARG has an empty name"));
            }
            if file.stages.is_empty() {
                file.meta_args.push((line, decls));
                return Ok(());
            }
            Command::Arg(decls)
        }
        "RUN" => {
            let (flags, rest) = flags(line, args, escape)?;
            let mut mounts = Vec::new();
            for (name, value) in flags {
                if name != "mount" {
                    return Err(parse_err(
                        line,
                        format!("RUN --{name} is not supported by hush"),
                    ));
                }
                mounts.push(value);
            }
            heredoc(line, rest)?;
            Command::Run {
                mounts,
                cmd: shell_or_exec(line, rest, "RUN")?,
            }
        }
        "ENV" => Command::Env(pairs(line, args, escape, "ENV", true)?),
        "LABEL" => Command::Label(pairs(line, args, escape, "LABEL", false)?),
        "WORKDIR" | "USER" => {
            if args.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "USER" {
                Command::User(args.to_owned())
            } else {
                Command::Workdir(args.to_owned())
            }
        }
        "COPY" => Command::Copy(copy_args(
            line,
            args,
            escape,
            "COPY",
            &["from", "chown", "chmod"],
        )?),
        "ADD" => Command::Add(copy_args(
            line,
            args,
            escape,
            "ADD",
            &["chown", "chmod", "checksum"],
        )?),
        "CMD" => Command::Cmd(shell_or_exec(line, args, "CMD")?),
        "ENTRYPOINT" => Command::Entrypoint(shell_or_exec(line, args, "ENTRYPOINT")?),
        "EXPOSE" | "VOLUME" => {
            let words = match json_list(args) {
                Some(list) if keyword == "VOLUME" => list,
                _ => split_words(args, escape),
            };
            if words.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "EXPOSE" {
                Command::Expose(words)
            } else {
                Command::Volume(words)
            }
        }
        "STOPSIGNAL" | "MAINTAINER" => {
            if args.is_empty() {
                return Err(parse_err(line, format!("{keyword} needs an argument")));
            }
            if keyword == "STOPSIGNAL" {
                Command::StopSignal(args.to_owned())
            } else {
                Command::Maintainer(args.to_owned())
            }
        }
        "SHELL" => match json_list(args) {
            Some(list) if !list.is_empty() => Command::Shell(list),
            _ => {
                return Err(parse_err(
                    line,
                    "SHELL requires the arguments to be in JSON form",
                ))
            }
        },
        "HEALTHCHECK" | "ONBUILD" => {
            return Err(DockerfileError::Unsupported {
                line,
                instruction: keyword,
            })
        }
        _ => {
            return Err(parse_err(
                line,
                format!("unknown instruction {}", &text[..end]),
            ))
        }
    };
    let stage = file.stages.last_mut().ok_or_else(|| {
        parse_err(
            line,
            format!("{keyword} before the first FROM (only ARG may come first)"),
        )
    })?;
    stage.instructions.push(Instruction { line, command });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages_directives_continuations_and_forms() {
        let df = parse(
            "# syntax=docker/dockerfile:1\n\
             ARG BASE=busybox\n\
             FROM ${BASE} AS Build\n\
             # a comment\n\
             RUN --mount=type=secret,id=a \\\n\
             # comment inside\n\
                 echo hi \\\n\
                 there\n\
             ENV A=1 B=\"two words\"\n\
             ENV LEGACY some value\n\
             from busybox\n\
             COPY --from=build /a /b/\n\
             CMD [\"sh\", \"-c\", \"echo\"]\n\
             ENTRYPOINT echo x\n",
        )
        .unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.meta_args[0].1[0].default.as_deref(), Some("busybox"));
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        let run = &df.stages[0].instructions[0];
        assert_eq!(run.line, 5);
        assert_eq!(
            run.command,
            Command::Run {
                mounts: vec!["type=secret,id=a".into()],
                cmd: ShellOrExec::Shell("echo hi there".into()),
            }
        );
        assert_eq!(
            df.stages[0].instructions[1].command,
            Command::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ])
        );
        assert_eq!(
            df.stages[0].instructions[2].command,
            Command::Env(vec![("LEGACY".into(), "some value".into())])
        );
        assert_eq!(df.stages[1].line, 11);
        let Command::Copy(c) = &df.stages[1].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(
            (c.sources.clone(), c.dest.as_str()),
            (vec!["/a".into()], "/b/")
        );
        assert_eq!(
            df.stages[1].instructions[1].command,
            Command::Cmd(ShellOrExec::Exec(vec![
                "sh".into(),
                "-c".into(),
                "echo".into()
            ]))
        );
        let sh = ["/bin/sh".to_owned(), "-c".to_owned()];
        assert_eq!(
            ShellOrExec::Shell("echo x".into()).argv(&sh),
            vec!["/bin/sh", "-c", "echo x"]
        );
    }

    #[test]
    fn escape_directive_and_errors_name_the_line() {
        let df = parse("# escape=`\nFROM busybox\nRUN echo a `\n  b\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(
            df.stages[0].instructions[0].command,
            Command::Run {
                mounts: vec![],
                cmd: ShellOrExec::Shell("echo a   b".into())
            }
        );
        let e = parse("FROM busybox\n\nONBUILD RUN true\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 3: unsupported instruction ONBUILD"
        );
        let e = parse("FROM busybox\nFROBNICATE x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dockerfile line 2: unknown instruction FROBNICATE"
        );
        let e = parse("FROM busybox\nRUN cat <<EOF\nx\nEOF\n").unwrap_err();
        assert!(e.to_string().contains("line 2: heredocs"), "{e}");
        let e = parse("RUN x\n").unwrap_err();
        assert!(
            e.to_string().contains("line 1: RUN before the first FROM"),
            "{e}"
        );
        assert!(parse("# just a comment\n").is_err());
        let e = parse("FROM busybox\nRUN --network=none true\n").unwrap_err();
        assert!(
            e.to_string().contains("RUN --network is not supported"),
            "{e}"
        );
    }

    #[test]
    fn copy_json_form_keeps_words_literal() {
        let df = parse("FROM busybox\nCOPY [\"a b\", \"/d\"]\n").unwrap();
        let Command::Copy(c) = &df.stages[0].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.sources, vec!["\"a b\""]);
        assert_eq!(c.dest, "\"/d\"");
    }

    #[test]
    fn add_takes_a_checksum_and_copy_does_not() {
        let df = parse("FROM busybox\nADD --checksum=sha256:ab https://h/f /d/\n").unwrap();
        let Command::Add(c) = &df.stages[0].instructions[0].command else {
            panic!()
        };
        assert_eq!(c.checksum.as_deref(), Some("sha256:ab"));
        let e = parse("FROM busybox\nCOPY --checksum=sha256:ab f /d\n").unwrap_err();
        assert!(
            e.to_string().contains("COPY --checksum is not supported"),
            "{e}"
        );
    }
}
